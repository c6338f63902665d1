!! OML_NeighbourMean: the descriptors of an atom's bonded neighbours,
!! averaged, as a second block of that atom's descriptors.
!!
!! Why.  An atom's bispectrum sees the positions of the atoms within its
!! cutoff, but the potential at a site also depends on how those
!! neighbours are themselves bonded: a C atom whose Si neighbour has lost
!! one of its own C neighbours (a vacancy two bonds away) sits at another
!! potential level, although its own neighbour density barely changes.
!! Averaging the neighbours' descriptors passes that information one bond
!! further, the way one step of a message-passing network does, while the
!! result stays a fixed function of the geometry.
!!
!! What.  For centre i with neighbours j (every periodic image within
!! rOuter, the centre's own images included, the centre itself excluded)
!!
!!    m_i = sum_j w(r_ij) b_j / sum_j w(r_ij),   m_i = 0 when the sum is 0
!!
!! where b_j are the base descriptors of atom j and the weight switches
!! smoothly from 1 to 0 between rInner and rOuter (Angstrom):
!!
!!    w(r) = 1                                  r <= rInner
!!    w(r) = (1 + cos(pi (r - rInner) / (rOuter - rInner))) / 2
!!    w(r) = 0                                  r >= rOuter
!!
!! (rInner = rOuter gives a hard cutoff).  The switching range belongs to
!! the pair of elements, rInner(a,b) and rOuter(a,b) for a centre of
!! element a and a neighbour of element b (a symmetric table): bonds
!! differ in length (C-C 1.54, Si-C 1.89, Si-Si 2.35 Angstrom), so one
!! range either cuts into the long bonds or lets in the second shell of
!! the short ones (C-C and Si-Si at 3.08 Angstrom in 3C-SiC); a range
!! scaled with each pair's bond length takes the first shell of every
!! pair.  Each centre's sums run over its neighbours in the fixed order
!! of the cell list, so the result does not depend on the number of
!! threads.
module OML_NeighbourMean

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice, only: OML_LatticeType
   use OML_CellList, only: buildNeighbourList, checkCentres

   implicit none
   private

   real (kind=double), parameter :: pi = 3.141592653589793238_double

   public :: neighbourWeight, computeNeighbourMean, neighbourhoodOf

contains

   !> The switching weight w(r) of a neighbour at distance r (Angstrom).
   pure function neighbourWeight (r, rInner, rOuter) result (w)

      implicit none

      real (kind=double), intent(in) :: r, rInner, rOuter
      real (kind=double) :: w

      if (r >= rOuter) then
         w = 0.0_double
      elseif (r <= rInner) then
         w = 1.0_double
      else
         w = 0.5_double * (1.0_double + cos(pi * (r - rInner) / &
               & (rOuter - rInner)))
      endif

   end function neighbourWeight

   !> Neighbour means of the base descriptors.
   !>   lattice, positions(3,N)   the structure (Angstrom)
   !>   elementOf(N)              element index (1..E) of every atom
   !>   rInner(E,E), rOuter(E,E)  the switching range of each element
   !>                             pair (Angstrom, symmetric tables)
   !>   base(K,N)                 base descriptors of every atom
   !>   centres(M)                atoms (1..N) whose mean is wanted
   !>   numThreads                OpenMP threads; <= 0 the default
   !>   mean(K,M)                 the neighbour means, one column a centre
   subroutine computeNeighbourMean (lattice, positions, elementOf, rInner, &
         & rOuter, base, centres, numThreads, mean, status, message)

      use OML_Threads, only: chooseThreads

      implicit none

      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      real (kind=double), intent(in) :: rInner(:,:), rOuter(:,:)
      real (kind=double), intent(in) :: base(:,:)
      integer, intent(in) :: centres(:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: mean(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer, allocatable :: nbrStart(:), nbrAtom(:)
      real (kind=double), allocatable :: nbrVec(:,:)
      real (kind=double) :: w, wSum
      integer :: numAtoms, i, atom, k, a, b, useThreads

      status = omlSuccess
      message = ''
      numAtoms = size(positions, 2)
      call checkRanges (rInner, rOuter, status, message)
      if (status /= omlSuccess) return
      if (size(elementOf) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: need the element of every atom')
         return
      endif
      if (numAtoms > 0) then
         if (minval(elementOf) < 1 .or. &
               & maxval(elementOf) > size(rInner, 1)) then
            call setStatus (status, message, omlErrArgument, &
                  & 'neighbour mean: an element index lies outside 1..' &
                  & // intToChar(size(rInner, 1)))
            return
         endif
      endif
      if (size(base, 2) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: need the base descriptors of every atom')
         return
      endif
      if (size(mean, 1) /= size(base, 1) .or. &
            & size(mean, 2) /= size(centres)) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: output array has the wrong shape')
         return
      endif
      call checkCentres (centres, numAtoms, status, message)
      if (status /= omlSuccess) return
      call chooseThreads (numThreads, useThreads, status, message)
      if (status /= omlSuccess) return
      if (size(centres) == 0) return

      call buildNeighbourList (lattice, positions, maxval(rOuter), &
            & nbrStart, nbrAtom, nbrVec, status, message)
      if (status /= omlSuccess) return

      !$omp parallel do num_threads(useThreads) &
      !$omp& schedule(dynamic, 16) private(atom, k, a, b, w, wSum)
      do i = 1, size(centres)
         atom = centres(i)
         a = elementOf(atom)
         mean(:, i) = 0.0_double
         wSum = 0.0_double
         do k = nbrStart(atom), nbrStart(atom + 1) - 1
            b = elementOf(nbrAtom(k))
            w = neighbourWeight(norm2(nbrVec(:, k)), rInner(a, b), &
                  & rOuter(a, b))
            if (w == 0.0_double) cycle
            mean(:, i) = mean(:, i) + w * base(:, nbrAtom(k))
            wSum = wSum + w
         enddo
         if (wSum > 0.0_double) mean(:, i) = mean(:, i) / wSum
      enddo
      !$omp end parallel do

   end subroutine computeNeighbourMean

   !> The atoms whose base descriptors the means of the given centres
   !> read: the centres and every atom within rOuter (Angstrom) of one,
   !> in increasing order.  A caller that wants the means of a few
   !> centres (one MPI rank's share of a large cell) computes the base
   !> descriptors of these atoms only, not of the whole cell.
   subroutine neighbourhoodOf (lattice, positions, rOuter, centres, &
         & needed, status, message)

      implicit none

      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      real (kind=double), intent(in) :: rOuter
      integer, intent(in) :: centres(:)
      integer, allocatable, intent(out) :: needed(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer, allocatable :: nbrStart(:), nbrAtom(:)
      real (kind=double), allocatable :: nbrVec(:,:)
      logical, allocatable :: mark(:)
      integer :: numAtoms, i, k, allocStat

      numAtoms = size(positions, 2)
      call checkCentres (centres, numAtoms, status, message)
      if (status /= omlSuccess) return
      allocate (mark(numAtoms), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'neighbour mean: out of memory')
         return
      endif
      mark(:) = .false.
      mark(centres) = .true.
      ! When the centres are every atom (a whole-cell call) no neighbour
      ! list is needed here: computeNeighbourMean builds its own.
      if (size(centres) > 0 .and. .not. all(mark)) then
         call buildNeighbourList (lattice, positions, rOuter, nbrStart, &
               & nbrAtom, nbrVec, status, message)
         if (status /= omlSuccess) return
         do i = 1, size(centres)
            do k = nbrStart(centres(i)), nbrStart(centres(i) + 1) - 1
               mark(nbrAtom(k)) = .true.
            enddo
         enddo
      endif
      needed = pack((/ (i, i = 1, numAtoms) /), mark)

   end subroutine neighbourhoodOf

   !> Checks a table of switching ranges: square, symmetric, each pair
   !> finite with 0 < rInner <= rOuter (Angstrom).
   subroutine checkRanges (rInner, rOuter, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      real (kind=double), intent(in) :: rInner(:,:), rOuter(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: numElements

      status = omlSuccess
      message = ''
      numElements = size(rInner, 1)
      if (numElements < 1 .or. size(rInner, 2) /= numElements .or. &
            & any(shape(rOuter) /= shape(rInner))) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: the switching ranges must be two ' // &
               & 'square tables of one size (elements x elements)')
         return
      endif
      if (.not. (all(ieee_is_finite(rInner)) .and. &
            & all(ieee_is_finite(rOuter))) .or. &
            & any(rInner <= 0.0_double) .or. any(rOuter < rInner)) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: need 0 < r_inner <= r_outer (finite, ' &
               & // 'Angstrom)')
         return
      endif
      if (any(rInner /= transpose(rInner)) .or. &
            & any(rOuter /= transpose(rOuter))) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour mean: the range of pair (a,b) must equal ' // &
               & 'that of (b,a)')
         return
      endif

   end subroutine checkRanges

end module OML_NeighbourMean
