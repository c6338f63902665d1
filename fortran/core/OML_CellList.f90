!! OML_CellList: an O(N) periodic neighbour search for any triclinic cell.
!!
!! The cell is cut into numBins(abc) slices along each fractional axis.  Two
!! points closer than a cutoff rc differ in the fractional coordinate s_abc
!! by at most rc * |recip_abc| = rc / h_abc (h_abc = perpendicular height of
!! the cell), whatever the shape of the cell.  A slice is 1/numBins(abc)
!! wide in s_abc, so all neighbours of a point lie within
!!    stencil(abc) = ceiling(rc * numBins(abc) / h_abc)
!! slices of its own.  Walking those slices (with periodic wrap-around, and
!! counting how many times we wrapped to know which image of an atom we
!! meet) finds every neighbour, including many images of the same atom and
!! images of the central atom itself when rc exceeds the cell.  Each
!! (slice, image) pair is visited once, so nothing is counted twice, and
!! the cost per atom depends only on the density and rc, not on N.
!!
!! Two ways to use it: gatherNeighbours returns the neighbours of one atom
!! into caller-owned arrays (used inside the OpenMP loop of the bispectrum,
!! so that no global neighbour list is ever stored), and
!! buildNeighbourList returns a compact (CSR) list of all atoms.
module OML_CellList

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice

   implicit none
   private

   !> Upper bound for the number of slices along one axis, and in total
   !> relative to the number of atoms (keeps memory O(N) for tiny cutoffs).
   integer, parameter :: maxBinsPerAxis = 1024

   !> The most atoms a cell list takes (the bin arithmetic is 32-bit).
   integer, parameter, public :: omlMaxAtoms = 2**27

   !> The most candidate neighbours (atoms and periodic images in the
   !> stencil of slices) the search of one atom may visit.  A cutoff far
   !> larger than the cell (1e4 Angstrom in a 5 Angstrom cell) would visit
   !> some 1e11 images per atom and run for hours; 1e11 images of a cutoff
   !> of 1e20 would not even fit the integer stencil.  Such a request is
   !> refused (omlErrArgument) before anything is allocated.  Physical
   !> cutoffs (a few Angstrom to a few tens) visit hundreds to thousands;
   !> the limit is met near 80 Angstrom in crystalline Si, where the
   !> bispectrum's per-thread work arrays (neighbours x (2J+1)-terms)
   !> would already take some 0.5 GB.
   integer (kind=8), parameter, public :: omlMaxCandidates = 200000_8

   type, public :: OML_CellListType
      integer :: numAtoms = 0
      integer :: numBins(3) = 1
      integer :: stencil(3) = 0
      real (kind=double) :: cutoff = 0.0_double
      type (OML_LatticeType) :: lattice
      !> Wrapped Cartesian positions, stored in bin order (3, numAtoms).
      real (kind=double), allocatable :: binPos(:,:)
      !> Original index of the atom in each sorted slot.
      integer, allocatable :: binAtom(:)
      !> First slot of each bin; binStart(numBinsTotal+1) = numAtoms+1.
      integer, allocatable :: binStart(:)
      !> Bin coordinates (0-based) of each atom, (3, numAtoms).
      integer, allocatable :: atomBin(:,:)
      !> Slot of each atom in the sorted arrays.
      integer, allocatable :: atomSlot(:)
   end type OML_CellListType

   public :: initCellList
   public :: gatherNeighbours
   public :: buildNeighbourList
   public :: checkCentres
   public :: checkElementIndices

contains

   !> Sort the atoms into bins.  positions(xyz, atom) are Cartesian, in the
   !> same length unit as the lattice and the cutoff.
   subroutine initCellList (cellList, lattice, positions, cutoff, &
         & status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (OML_CellListType), intent(out) :: cellList
      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      real (kind=double), intent(in) :: cutoff
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      real (kind=double) :: fractPos(3), reach(3), candidates
      integer :: numAtoms, numBinsTotal, atom, abc, bin, allocStat
      integer, allocatable :: binCount(:), binFill(:)

      status = omlSuccess
      message = ''
      numAtoms = size(positions, 2)

      if (.not. (cutoff > 0.0_double) .or. .not. ieee_is_finite(cutoff)) then
         call setStatus (status, message, omlErrArgument, &
               & 'cutoff: must be a positive finite length')
         return
      endif
      if (.not. all(ieee_is_finite(positions))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'positions: contain NaN or Inf')
         return
      endif

      if (numAtoms > omlMaxAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'positions: ' // intToChar(numAtoms) // ' atoms, more ' // &
               & 'than the limit of ' // intToChar(omlMaxAtoms))
         return
      endif

      cellList%numAtoms = numAtoms
      cellList%lattice = lattice
      cellList%cutoff = cutoff

      ! Slices at least one cutoff thick, so that the stencil is +-1 slice
      ! whenever the cell is thicker than the cutoff.
      do abc = 1, 3
         cellList%numBins(abc) = max(1, min(maxBinsPerAxis, &
               & int(lattice%heights(abc) / cutoff)))
      enddo
      ! Never more bins than about eight per atom.
      do while (product(int(cellList%numBins, kind=8)) > &
            & 8_8 * max(numAtoms, 1) + 27_8)
         abc = maxloc(cellList%numBins, 1)
         cellList%numBins(abc) = max(1, cellList%numBins(abc) / 2)
      enddo
      ! The stencil in real arithmetic first: cutoff / height may be far
      ! beyond the integer range.  The search of one atom visits
      ! prod(2 stencil + 1) slices of numAtoms / numBinsTotal atoms each.
      do abc = 1, 3
         reach(abc) = cutoff * cellList%numBins(abc) / lattice%heights(abc) &
               & * (1.0_double + 1.0e-12_double)
      enddo
      candidates = product(2.0_double * real(ceiling(min(reach, 1.0e6_double)) &
            & , double) + 1.0_double) * real(numAtoms, double) &
            & / product(real(cellList%numBins, double))
      if (any(reach > 1.0e6_double) .or. &
            & candidates > real(omlMaxCandidates, double)) then
         call setStatus (status, message, omlErrArgument, &
               & 'cutoff: ' // realToChar(cutoff) // ' is too large for ' // &
               & 'this cell (heights ' // realToChar(minval( &
               & lattice%heights)) // ' and up): the neighbour search ' // &
               & 'of one atom would visit about ' // realToChar(max( &
               & candidates, maxval(reach))) // ' atoms and images, ' // &
               & 'more than the limit of ' // intToChar(int( &
               & omlMaxCandidates)))
         return
      endif
      do abc = 1, 3
         cellList%stencil(abc) = ceiling(reach(abc))
      enddo
      numBinsTotal = product(cellList%numBins)

      allocate (cellList%binPos(3, numAtoms), cellList%binAtom(numAtoms), &
            & cellList%binStart(numBinsTotal + 1), &
            & cellList%atomBin(3, numAtoms), cellList%atomSlot(numAtoms), &
            & binCount(numBinsTotal), binFill(numBinsTotal), &
            & stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'cell list: out of memory')
         return
      endif

      ! Wrap every atom into the cell and find its bin.
      binCount(:) = 0
      do atom = 1, numAtoms
         fractPos = cartToFract(lattice, positions(:,atom))
         fractPos = fractPos - floor(fractPos)
         ! Rounding can give exactly 1 for a tiny negative coordinate.
         where (fractPos >= 1.0_double) fractPos = 0.0_double
         do abc = 1, 3
            cellList%atomBin(abc, atom) = min(cellList%numBins(abc) - 1, &
                  & int(fractPos(abc) * cellList%numBins(abc)))
         enddo
         bin = binIndex(cellList%numBins, cellList%atomBin(:,atom))
         binCount(bin) = binCount(bin) + 1
         cellList%binPos(:,atom) = matmul(lattice%realVectors, fractPos)
      enddo

      ! Counting sort: atoms of one bin become contiguous (better caching).
      cellList%binStart(1) = 1
      do bin = 1, numBinsTotal
         cellList%binStart(bin + 1) = cellList%binStart(bin) + binCount(bin)
      enddo
      binFill(:) = cellList%binStart(1:numBinsTotal)
      do atom = 1, numAtoms
         bin = binIndex(cellList%numBins, cellList%atomBin(:,atom))
         cellList%atomSlot(atom) = binFill(bin)
         binFill(bin) = binFill(bin) + 1
      enddo
      ! binPos holds the wrapped positions in atom order: sort them.
      call reorder (cellList, allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'cell list: out of memory')
         return
      endif

   end subroutine initCellList

   subroutine reorder (cellList, allocStat)

      implicit none

      type (OML_CellListType), intent(inout) :: cellList
      integer, intent(out) :: allocStat
      real (kind=double), allocatable :: sortedPos(:,:)
      integer :: atom

      allocate (sortedPos(3, cellList%numAtoms), stat=allocStat)
      if (allocStat /= 0) return
      do atom = 1, cellList%numAtoms
         sortedPos(:, cellList%atomSlot(atom)) = cellList%binPos(:, atom)
         cellList%binAtom(cellList%atomSlot(atom)) = atom
      enddo
      call move_alloc (sortedPos, cellList%binPos)

   end subroutine reorder

   !> A real number as short text (3 significant digits), for messages.
   function realToChar (value) result (text)

      implicit none

      real (kind=double), intent(in) :: value
      character (len=:), allocatable :: text
      character (len=24) :: buffer

      write (buffer, '(es10.3)') value
      text = trim(adjustl(buffer))

   end function realToChar

   pure function binIndex (numBins, binCoord) result (bin)

      implicit none

      integer, intent(in) :: numBins(3), binCoord(3)
      integer :: bin

      bin = 1 + binCoord(1) + numBins(1) * (binCoord(2) + &
            & numBins(2) * binCoord(3))

   end function binIndex

   !> All neighbours of atom centre: every atom j and every periodic image
   !> of it (images of the centre included, the centre itself excluded)
   !> closer than the pair cutoff: |r| < cutoff(el(centre), el(j)), with
   !> r = x_j + T - x_centre.  The pair cutoffs must not exceed the cutoff
   !> the cell list was built with.  If more than size(nbrAtom) neighbours
   !> exist, numNbr returns their number and the arrays hold the first
   !> size(nbrAtom): the caller grows its arrays and calls again.
   !> Two atoms closer than minDist give status omlErrOverlap.
   subroutine gatherNeighbours (cellList, centre, elementOf, pairCutSq, &
         & minDist, numNbr, nbrAtom, nbrVec, nbrDistSq, status, message)

      implicit none

      type (OML_CellListType), intent(in) :: cellList
      integer, intent(in) :: centre
      integer, intent(in) :: elementOf(:)
      real (kind=double), intent(in) :: pairCutSq(:,:)
      real (kind=double), intent(in) :: minDist
      integer, intent(out) :: numNbr
      integer, intent(out) :: nbrAtom(:)
      real (kind=double), intent(out) :: nbrVec(:,:)
      real (kind=double), intent(out) :: nbrDistSq(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      real (kind=double) :: centrePos(3), shift(3), shiftB(3), shiftC(3)
      real (kind=double) :: delta(3), distSq, maxCutSq, minDistSq
      integer :: capacity, centreElem, centreBin(3), image(3), binCoord(3)
      integer :: offA, offB, offC, raw, bin, slot, atom

      status = omlSuccess
      numNbr = 0
      capacity = size(nbrAtom)
      centreElem = elementOf(centre)
      centrePos = cellList%binPos(:, cellList%atomSlot(centre))
      centreBin = cellList%atomBin(:, centre)
      maxCutSq = maxval(pairCutSq(:, centreElem))
      minDistSq = minDist * minDist

      do offC = -cellList%stencil(3), cellList%stencil(3)
         raw = centreBin(3) + offC
         binCoord(3) = modulo(raw, cellList%numBins(3))
         image(3) = (raw - binCoord(3)) / cellList%numBins(3)
         shiftC = image(3) * cellList%lattice%realVectors(:,3)
         do offB = -cellList%stencil(2), cellList%stencil(2)
            raw = centreBin(2) + offB
            binCoord(2) = modulo(raw, cellList%numBins(2))
            image(2) = (raw - binCoord(2)) / cellList%numBins(2)
            shiftB = shiftC + image(2) * cellList%lattice%realVectors(:,2)
            do offA = -cellList%stencil(1), cellList%stencil(1)
               raw = centreBin(1) + offA
               binCoord(1) = modulo(raw, cellList%numBins(1))
               image(1) = (raw - binCoord(1)) / cellList%numBins(1)
               shift = shiftB + image(1) * cellList%lattice%realVectors(:,1)
               bin = binIndex(cellList%numBins, binCoord)
               do slot = cellList%binStart(bin), cellList%binStart(bin+1) - 1
                  delta = cellList%binPos(:,slot) + shift - centrePos
                  distSq = delta(1)**2 + delta(2)**2 + delta(3)**2
                  if (distSq >= maxCutSq) cycle
                  atom = cellList%binAtom(slot)
                  if (atom == centre .and. all(image == 0)) cycle
                  if (distSq >= pairCutSq(elementOf(atom), centreElem)) cycle
                  if (distSq < minDistSq) then
                     call setStatus (status, message, omlErrOverlap, &
                           & 'positions: atoms ' // intToChar(centre) // &
                           & ' and ' // intToChar(atom) // &
                           & ' (or a periodic image) are at the same point')
                     return
                  endif
                  numNbr = numNbr + 1
                  if (numNbr > capacity) cycle
                  nbrAtom(numNbr) = atom
                  nbrVec(:,numNbr) = delta
                  nbrDistSq(numNbr) = distSq
               enddo
            enddo
         enddo
      enddo

   end subroutine gatherNeighbours

   !> Compact neighbour list of all atoms (CSR layout): the neighbours of
   !> atom i are nbrAtom(nbrStart(i):nbrStart(i+1)-1) with Cartesian
   !> vectors nbrVec(:, same range) = x_j + T - x_i.  One cutoff for all
   !> pairs.  Two passes (count, then fill), both parallel over atoms, on
   !> numThreads threads when it is given and > 0 (the caller has checked
   !> it: OML_Threads), else on the OpenMP default.
   subroutine buildNeighbourList (lattice, positions, cutoff, nbrStart, &
         & nbrAtom, nbrVec, status, message, numThreads)

      !$ use omp_lib, only: omp_get_max_threads

      implicit none

      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      real (kind=double), intent(in) :: cutoff
      integer, allocatable, intent(out) :: nbrStart(:)
      integer, allocatable, intent(out) :: nbrAtom(:)
      real (kind=double), allocatable, intent(out) :: nbrVec(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in), optional :: numThreads

      type (OML_CellListType) :: cellList
      integer, allocatable :: elementOf(:), numOf(:)
      real (kind=double) :: pairCutSq(1,1)
      integer :: numAtoms, atom, numNbr, first, localStat, useThreads
      character (len=omlMessageLen) :: localMsg
      integer :: dummyAtom(1)
      real (kind=double) :: dummyVec(3,1), dummyDist(1)
      real (kind=double), allocatable :: distSqList(:)

      numAtoms = size(positions, 2)
      useThreads = 1
      !$ useThreads = omp_get_max_threads()
      if (present(numThreads)) then
         if (numThreads > 0) useThreads = numThreads
      endif
      call initCellList (cellList, lattice, positions, cutoff, status, &
            & message)
      if (status /= omlSuccess) return

      allocate (elementOf(numAtoms), numOf(numAtoms), nbrStart(numAtoms+1), &
            & stat=localStat)
      if (localStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'neighbour list: out of memory')
         return
      endif
      elementOf(:) = 1
      pairCutSq(1,1) = cutoff * cutoff

      ! Pass 1: count.  Coincident atoms are not an error for a plain
      ! neighbour list (minimum distance 0).
      !$omp parallel do num_threads(useThreads) schedule(dynamic, 64) &
      !$omp& private(numNbr, dummyAtom, dummyVec, dummyDist, localStat, &
      !$omp& localMsg)
      do atom = 1, numAtoms
         call gatherNeighbours (cellList, atom, elementOf, pairCutSq, &
               & 0.0_double, numNbr, dummyAtom(1:0), dummyVec(:,1:0), &
               & dummyDist(1:0), localStat, localMsg)
         numOf(atom) = numNbr
      enddo
      !$omp end parallel do

      if (sum(int(numOf, kind=8)) >= int(huge(numAtoms), kind=8)) then
         call setStatus (status, message, omlErrArgument, &
               & 'neighbour list: more than ' // intToChar(huge(numAtoms)) &
               & // ' pairs (cutoff too large)')
         return
      endif
      nbrStart(1) = 1
      do atom = 1, numAtoms
         nbrStart(atom + 1) = nbrStart(atom) + numOf(atom)
      enddo
      allocate (nbrAtom(nbrStart(numAtoms+1) - 1), &
            & nbrVec(3, nbrStart(numAtoms+1) - 1), &
            & distSqList(nbrStart(numAtoms+1) - 1), stat=localStat)
      if (localStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'neighbour list: out of memory')
         return
      endif

      ! Pass 2: fill each atom's own slice of the arrays.
      !$omp parallel do num_threads(useThreads) schedule(dynamic, 64) &
      !$omp& private(numNbr, first, localStat, localMsg)
      do atom = 1, numAtoms
         first = nbrStart(atom)
         call gatherNeighbours (cellList, atom, elementOf, pairCutSq, &
               & 0.0_double, numNbr, nbrAtom(first:nbrStart(atom+1)-1), &
               & nbrVec(:, first:nbrStart(atom+1)-1), &
               & distSqList(first:nbrStart(atom+1)-1), localStat, &
               & localMsg)
      enddo
      !$omp end parallel do

      status = omlSuccess
      message = ''

   end subroutine buildNeighbourList

   !> Every entry of centres is an atom 1..numAtoms (else omlErrArgument,
   !> naming the first entry that is not).
   subroutine checkCentres (centres, numAtoms, status, message)

      implicit none

      integer, intent(in) :: centres(:)
      integer, intent(in) :: numAtoms
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: i

      status = omlSuccess
      message = ''
      do i = 1, size(centres)
         if (centres(i) < 1 .or. centres(i) > numAtoms) then
            call setStatus (status, message, omlErrArgument, &
                  & 'centers: entry ' // intToChar(i) // ' is atom ' // &
                  & intToChar(centres(i)) // ', outside 1..' // &
                  & intToChar(numAtoms))
            return
         endif
      enddo

   end subroutine checkCentres

   !> Every entry of elementOf is an element index 1..numElements (else
   !> omlErrElement, naming the argument (name) and the first atom whose
   !> index is not).
   subroutine checkElementIndices (elementOf, numElements, name, status, &
         & message)

      implicit none

      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numElements
      character (len=*), intent(in) :: name
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: i

      status = omlSuccess
      message = ''
      do i = 1, size(elementOf)
         if (elementOf(i) < 1 .or. elementOf(i) > numElements) then
            call setStatus (status, message, omlErrElement, &
                  & name // ': atom ' // intToChar(i) // &
                  & ' has element index ' // intToChar(elementOf(i)) // &
                  & ', outside 1..' // intToChar(numElements))
            return
         endif
      enddo

   end subroutine checkElementIndices

end module OML_CellList
