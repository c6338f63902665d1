!! OML_Ensemble: the prediction of an ensemble of networks and its
!! uncertainty, atom by atom.
!!
!! An ensemble holds M networks per element, trained on different
!! bootstrap resamples of the training structures with different seeds.
!! For one atom, member m predicts the coefficients A_m (Hartree) of the
!! site potential V(r) = sum_i A_i exp(-alpha_i r^2).  The prediction is
!! the mean
!!    Abar = (A_1 + ... + A_M) / M
!! and the spread of the members, measured in the same function-space
!! metric in which every error of pyolcaoml is reported (the RMS of V(r)
!! over the shell 0.05 <= r <= 6 Bohr, weight r^2 dr), is
!!    s2 = sum_m (A_m - Abar)^T G (A_m - Abar) / (M - 1)
!! where G is the Gram matrix of the Gaussians on that radial grid, so
!! that dA^T G dA is the squared RMS error of V(r) of a coefficient error
!! dA.  Members that disagree signal an environment the training data do
!! not pin down.  The raw spread of a few networks underestimates the
!! error, so it is calibrated on out-of-bag atoms when the ensemble is
!! trained (pyolcaoml/model/uncertainty.py):
!!    sigma = sqrt(scale^2 s2 + floor^2)      (Hartree)
!! sigma is the predicted RMS error of V(r) of the mean.
!!
!! Same bits everywhere: the Python package (through f2py) and libolcaoml
!! call this one routine, and each atom's numbers are summed in a fixed
!! order (members in order, then terms in order) that does not depend on
!! how many atoms are passed, so an atom gets the same bits alone, in a
!! block, or in an MPI rank's subset.
module OML_Ensemble

   use OML_Kinds, only: double
   use OML_Status

   implicit none
   private

   public :: ensembleMoments

contains

   !> Mean and calibrated spread of the members' coefficients.
   !>   members(N, atom, m)   A_1..A_N of each atom from member m (Hartree)
   !>   gram(N, N)            the V(r) metric of the element's exponents
   !>   scale, floor          calibration (dimensionless, Hartree)
   !>   mean(N, atom)         the ensemble mean (Hartree)
   !>   sigma(atom)           predicted RMS error of V(r) (Hartree); with a
   !>                         single member the spread is unknown: floor
   subroutine ensembleMoments (members, gram, scale, floor, mean, sigma, &
         & status, message)

      implicit none

      real (kind=double), intent(in) :: members(:,:,:)
      real (kind=double), intent(in) :: gram(:,:)
      real (kind=double), intent(in) :: scale, floor
      real (kind=double), intent(out) :: mean(:,:)
      real (kind=double), intent(out) :: sigma(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      real (kind=double), allocatable :: diff(:)
      real (kind=double) :: spread, row, quad
      integer :: numTerms, numAtoms, numMembers, a, m, i, j, allocStat

      status = omlSuccess
      message = ''
      numTerms = size(members, 1)
      numAtoms = size(members, 2)
      numMembers = size(members, 3)
      if (numMembers < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'ensemble: no members')
         return
      endif
      if (size(gram, 1) /= numTerms .or. size(gram, 2) /= numTerms .or. &
            & size(mean, 1) /= numTerms .or. size(mean, 2) /= numAtoms .or. &
            & size(sigma) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'ensemble: array shapes do not agree')
         return
      endif
      if (.not. (scale >= 0.0_double .and. floor >= 0.0_double)) then
         call setStatus (status, message, omlErrArgument, &
               & 'ensemble: scale and floor must be >= 0')
         return
      endif
      allocate (diff(numTerms), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'ensemble: out of memory')
         return
      endif

      do a = 1, numAtoms
         ! The mean: members added in order, then divided by M.
         mean(:, a) = members(:, a, 1)
         do m = 2, numMembers
            mean(:, a) = mean(:, a) + members(:, a, m)
         enddo
         mean(:, a) = mean(:, a) / real(numMembers, double)

         ! The spread in the V(r) metric: sum over members of
         ! d^T G d = sum_i d_i (sum_j G_ji d_j), G symmetric.
         spread = 0.0_double
         do m = 1, numMembers
            diff(:) = members(:, a, m) - mean(:, a)
            quad = 0.0_double
            do i = 1, numTerms
               row = 0.0_double
               do j = 1, numTerms
                  row = row + gram(j, i) * diff(j)
               enddo
               quad = quad + diff(i) * row
            enddo
            spread = spread + max(quad, 0.0_double)
         enddo
         if (numMembers > 1) then
            spread = spread / real(numMembers - 1, double)
            sigma(a) = sqrt(scale * scale * spread + floor * floor)
         else
            sigma(a) = floor
         endif
      enddo

   end subroutine ensembleMoments

end module OML_Ensemble
