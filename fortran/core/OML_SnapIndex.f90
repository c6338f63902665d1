!! OML_SnapIndex: the bookkeeping of the SO(4) bispectrum for one twoJMax.
!!
!! Everything that depends only on twoJMax is computed once here and then
!! shared (read-only) by all threads:
!!
!!  - where each Wigner matrix U^j lives in a flat array: element
!!    (mb, ma) of U^j (ladder indices 0..j, j = 2J doubled) is at
!!    uStart(j) + mb*(j+1) + ma;
!!  - sqrt(p/q) for the recursion of U^j;
!!  - the kept (j1, j2, j) triples in the order LAMMPS writes them
!!    (for j1 in 0..jMax, j2 in 0..j1, j in j1-j2..min(jMax,j1+j2) step 2,
!!    keep j >= j1), which is also our column order;
!!  - for every kept triple the Clebsch-Gordan block
!!    C(j1 m1; j2 m2 | j m1+m2) as a (j1+1) x (j2+1) table.
!!
!! Only triples with j >= j1 are needed: B_{j1 j2 j}/(j+1) is symmetric
!! under any permutation of (j1, j2, j), so the others carry no new
!! information (and LAMMPS does not output them either).
module OML_SnapIndex

   use OML_Kinds, only: double
   use OML_Status
   use OML_ClebschGordan

   implicit none
   private

   !> Largest twoJMax accepted (cost grows as twoJMax^5 or so; LAMMPS users
   !> rarely go past 12).
   integer, parameter, public :: maxTwoJMax = 20

   type, public :: OML_SnapIndexType
      integer :: twoJMax = -1
      !> Number of stored U elements (sum of (j+1)^2).
      integer :: numU = 0
      !> Number of kept triples K (bispectrum components per element set).
      integer :: numTriples = 0
      integer, allocatable :: uStart(:)        ! (0:twoJMax)
      real (kind=double), allocatable :: rootPQ(:,:)   ! sqrt(p/q)
      integer, allocatable :: triple(:,:)      ! (3, numTriples): j1 j2 j
      integer, allocatable :: cgStart(:)       ! (numTriples)
      real (kind=double), allocatable :: cgTable(:)
   end type OML_SnapIndexType

   public :: initSnapIndex
   public :: uIndex

contains

   !> Position of U^j(mb, ma) in the flat arrays.
   pure integer function uIndex (index, j, mb, ma)

      implicit none

      type (OML_SnapIndexType), intent(in) :: index
      integer, intent(in) :: j, mb, ma

      uIndex = index%uStart(j) + mb*(j+1) + ma

   end function uIndex

   subroutine initSnapIndex (index, twoJMax, status, message)

      implicit none

      type (OML_SnapIndexType), intent(out) :: index
      integer, intent(in) :: twoJMax
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: j, j1, j2, p, q, t, numCG, m1, m2

      status = omlSuccess
      message = ''
      if (twoJMax < 0 .or. twoJMax > maxTwoJMax) then
         call setStatus (status, message, omlErrArgument, &
               & 'twojmax: must be between 0 and ' // &
               & intToChar(maxTwoJMax) // ', got ' // intToChar(twoJMax))
         return
      endif
      index%twoJMax = twoJMax

      allocate (index%uStart(0:twoJMax))
      index%numU = 0
      do j = 0, twoJMax
         index%uStart(j) = index%numU + 1
         index%numU = index%numU + (j+1)**2
      enddo

      allocate (index%rootPQ(0:twoJMax+1, 1:twoJMax+1))
      do q = 1, twoJMax + 1
         do p = 0, twoJMax + 1
            index%rootPQ(p, q) = sqrt(real(p, double) / q)
         enddo
      enddo

      ! Count, then list, the kept triples in LAMMPS order.
      do p = 1, 2
         t = 0
         numCG = 0
         do j1 = 0, twoJMax
            do j2 = 0, j1
               do j = j1 - j2, min(twoJMax, j1 + j2), 2
                  if (j < j1) cycle
                  t = t + 1
                  if (p == 2) then
                     index%triple(:, t) = (/ j1, j2, j /)
                     index%cgStart(t) = numCG + 1
                     do m1 = 0, j1
                        do m2 = 0, j2
                           index%cgTable(numCG + 1 + m1*(j2+1) + m2) = &
                                 & clebschGordan(j1, j2, j, m1, m2)
                        enddo
                     enddo
                  endif
                  numCG = numCG + (j1+1)*(j2+1)
               enddo
            enddo
         enddo
         if (p == 1) then
            index%numTriples = t
            allocate (index%triple(3, t), index%cgStart(t), &
                  & index%cgTable(numCG))
         endif
      enddo

   end subroutine initSnapIndex

end module OML_SnapIndex
