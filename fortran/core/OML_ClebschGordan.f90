!! OML_ClebschGordan: Clebsch-Gordan coefficients <j1 m1 j2 m2 | j m>.
!!
!! Angular momenta are passed doubled, as integers (twoJ = 2j), and
!! projections as "ladder indices" mj = j + m = 0 .. twoJ, the labels the
!! bispectrum code uses for the rows and columns of the Wigner matrices.
!! The coefficients follow the Condon-Shortley phase convention and are
!! evaluated with Racah's closed formula
!!
!!   C = delta(m, m1+m2) sqrt[(2j+1) D(j1 j2 j)]
!!       sqrt[(j1+m1)!(j1-m1)!(j2+m2)!(j2-m2)!(j+m)!(j-m)!]
!!       sum_k (-1)^k / [k! (j1+j2-j-k)! (j1-m1-k)! (j2+m2-k)!
!!                       (j-j2+m1+k)! (j-j1-m2+k)!]
!!
!! with the triangle coefficient D = (j1+j2-j)!(j1-j2+j)!(-j1+j2+j)! /
!! (j1+j2+j+1)!.  Every factorial argument is an integer once the doubled
!! labels are used, so the factorials come from one table.  For 2j <= 40 the
!! alternating sum loses at most a few digits, far below the 1e-10 the
!! bispectrum needs (the tests check orthonormality to 1e-12).
module OML_ClebschGordan

   use OML_Kinds, only: double

   implicit none
   private

   !> Largest doubled angular momentum the factorial table supports.
   integer, parameter, public :: maxTwoJCG = 40

   public :: clebschGordan

contains

   !> <j1 m1 j2 m2 | j m> with m = m1 + m2, from doubled momenta twoJ1,
   !> twoJ2, twoJ and ladder indices m1Idx = j1+m1, m2Idx = j2+m2.  Zero
   !> when the triangle or parity rule fails or m is out of range.
   pure function clebschGordan (twoJ1, twoJ2, twoJ, m1Idx, m2Idx) &
         & result (coeff)

      implicit none

      integer, intent(in) :: twoJ1, twoJ2, twoJ, m1Idx, m2Idx
      real (kind=double) :: coeff

      real (kind=double) :: factorial(0:3*maxTwoJCG/2 + 1)
      real (kind=double) :: prefactor, series, term
      integer :: mIdx, sumJ, k, kMin, kMax, i

      coeff = 0.0_double

      ! Triangle rule |j1-j2| <= j <= j1+j2 and integer j1+j2+j.
      if (twoJ < abs(twoJ1 - twoJ2) .or. twoJ > twoJ1 + twoJ2) return
      if (mod(twoJ1 + twoJ2 + twoJ, 2) /= 0) return
      if (m1Idx < 0 .or. m1Idx > twoJ1 .or. m2Idx < 0 .or. &
            & m2Idx > twoJ2) return

      ! m = m1 + m2  <=>  mIdx = m1Idx + m2Idx - (j1 + j2 - j).
      sumJ = (twoJ1 + twoJ2 - twoJ) / 2
      mIdx = m1Idx + m2Idx - sumJ
      if (mIdx < 0 .or. mIdx > twoJ) return

      factorial(0) = 1.0_double
      do i = 1, ubound(factorial, 1)
         factorial(i) = factorial(i-1) * i
      enddo

      prefactor = sqrt((twoJ + 1) * factorial(sumJ) &
            & * factorial((twoJ1 - twoJ2 + twoJ) / 2) &
            & * factorial((-twoJ1 + twoJ2 + twoJ) / 2) &
            & / factorial((twoJ1 + twoJ2 + twoJ) / 2 + 1)) &
            & * sqrt(factorial(m1Idx) * factorial(twoJ1 - m1Idx) &
            & * factorial(m2Idx) * factorial(twoJ2 - m2Idx) &
            & * factorial(mIdx) * factorial(twoJ - mIdx))

      ! In ladder indices: j1-m1 = twoJ1-m1Idx, j2+m2 = m2Idx,
      ! j-j2+m1 = m1Idx-sumJ, j-j1-m2 = (twoJ-twoJ1+twoJ2)/2 - m2Idx.
      kMin = max(0, sumJ - m1Idx, m2Idx - (twoJ - twoJ1 + twoJ2) / 2)
      kMax = min(sumJ, twoJ1 - m1Idx, m2Idx)
      series = 0.0_double
      do k = kMin, kMax
         term = 1.0_double / (factorial(k) * factorial(sumJ - k) &
               & * factorial(twoJ1 - m1Idx - k) * factorial(m2Idx - k) &
               & * factorial(m1Idx - sumJ + k) &
               & * factorial((twoJ - twoJ1 + twoJ2) / 2 - m2Idx + k))
         if (mod(k, 2) == 1) term = -term
         series = series + term
      enddo

      coeff = prefactor * series

   end function clebschGordan

end module OML_ClebschGordan
