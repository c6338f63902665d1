!! OML_Bispectrum: the SO(4) bispectrum (SNAP descriptor) of every atom.
!!
!! Physics.  The neighbour density of atom i,
!!    rho(r) = w_self delta(r) + sum_k f_c(r_k) w_k delta(r - r_k),
!! is mapped onto the 3-sphere: a neighbour at r (|r| < R) becomes the
!! rotation by the angle 2 theta0, theta0 = rfac0 pi (r - rmin0)/(R - rmin0),
!! about the axis r/|r|.  Its Cayley-Klein parameters are
!!    a = (z0 - i z)/r0,  b = (y - i x)/r0,  z0 = r / tan(theta0),
!!    r0 = sqrt(r^2 + z0^2),
!! and the hyperspherical harmonics are the Wigner matrices U^j(a, b) of
!! SU(2), j = 0, 1/2, 1, ...  (we label them with the integer j = 2J).
!! The density has the expansion coefficients
!!    u^j = w_self I + sum_k f_c(r_k) w_k U^j(r_k),
!! which rotate like U^j.  Coupling two of them with Clebsch-Gordan
!! coefficients gives Z^{j1 j2 j}, which rotates like U^j again, so that
!!    B_{j1 j2 j} = sum_{mb,ma} Re( conj(u^j[mb][ma]) Z^{j1 j2 j}[mb][ma] )
!! is invariant under rotations: the bispectrum.  The conventions (cutoff
!! function, weights, order of components, bzero/bnorm, the multi-element
!! "chem" form) are those of LAMMPS compute sna/atom, to the last digit.
!!
!! Speed.  Two things make this fast:
!!  - U^j of all neighbours of an atom is computed at once by the
!!    recursion in j, with the neighbour index innermost (SIMD lanes);
!!  - Z and B are computed for a block of blockSize atoms at once, the atom
!!    index innermost: the loop structure (which m's couple, which
!!    Clebsch-Gordan coefficient) depends only on (j1, j2, j), so it is
!!    paid once per block and the arithmetic runs in SIMD lanes.
!! Only the kept triples (j >= j1) are coupled, and only half of Z is
!! needed, because u^j, and hence Z and conj(u)Z, satisfy
!!    X[j-mb][j-ma] = (-1)^(ma-mb) conj(X[mb][ma]).
!! OpenMP runs over blocks; each thread writes only its own atoms' columns
!! and every atom is computed with the same operations whatever the number
!! of threads, so results do not depend on it at all.
module OML_Bispectrum

   use OML_Kinds, only: double, pi
   use OML_Status
   use OML_Lattice
   use OML_CellList
   use OML_SnapIndex

   implicit none
   private

   !> Atoms handled together in the Z/B stage (SIMD lanes).
   integer, parameter :: blockSize = 16

   !> Two atoms closer than this (length unit of the caller) are an error.
   real (kind=double), parameter, public :: minAtomDistance = 1.0e-6_double

   !> The knobs of LAMMPS compute sna/atom.
   type, public :: OML_SnapParamsType
      integer :: twoJMax = 8
      real (kind=double) :: rCutFac = 1.0_double
      real (kind=double) :: rFac0 = 0.99363_double
      real (kind=double) :: rMin0 = 0.0_double
      logical :: switchFlag = .true.
      logical :: bZeroFlag = .false.
      logical :: bNormFlag = .false.
      logical :: wSelfAllFlag = .false.
      logical :: chemFlag = .false.
      integer :: numElements = 1
      !> Per-element radius R_e (pair cutoff rCutFac (R_e + R_f)), weight.
      real (kind=double), allocatable :: radius(:)
      real (kind=double), allocatable :: weight(:)
   end type OML_SnapParamsType

   !> Parameters plus the tables derived from them; read-only once set up.
   type, public :: OML_SnapType
      type (OML_SnapParamsType) :: params
      type (OML_SnapIndexType) :: index
      !> Squared pair cutoffs (numElements, numElements).
      real (kind=double), allocatable :: pairCutSq(:,:)
      real (kind=double), allocatable :: pairCut(:,:)
      real (kind=double) :: maxCutoff = 0.0_double
      !> Number of u^j density sets: numElements with chem, else 1.
      integer :: numDensities = 1
      !> Output columns: K, or K numElements^3 with chem.
      integer :: numColumns = 0
      logical :: ready = .false.
   end type OML_SnapType

   !> Per-thread scratch space.
   type :: SnapWorkType
      integer :: capacity = 0
      integer, allocatable :: nbrAtom(:)
      real (kind=double), allocatable :: nbrVec(:,:), nbrDistSq(:)
      real (kind=double), allocatable :: aRe(:), aIm(:), bRe(:), bIm(:)
      real (kind=double), allocatable :: weightedCut(:,:)
      real (kind=double), allocatable :: uRe(:,:), uIm(:,:)
      real (kind=double), allocatable :: uTotRe(:,:,:), uTotIm(:,:,:)
      real (kind=double), allocatable :: bBlock(:,:)
   end type SnapWorkType

   public :: initSnap
   public :: computeBispectrum

contains

   !> Validate the parameters and build the tables.
   subroutine initSnap (snap, params, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (OML_SnapType), intent(out) :: snap
      type (OML_SnapParamsType), intent(in) :: params
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: e, f, numEl

      status = omlSuccess
      message = ''
      snap%ready = .false.
      numEl = params%numElements

      if (.not. (params%rCutFac > 0.0_double) .or. &
            & .not. ieee_is_finite(params%rCutFac)) then
         call setStatus (status, message, omlErrArgument, &
               & 'rcutfac: must be a positive finite number')
         return
      endif
      if (.not. (params%rFac0 > 0.0_double .and. &
            & params%rFac0 <= 1.0_double)) then
         call setStatus (status, message, omlErrArgument, &
               & 'rfac0: must lie in (0, 1]')
         return
      endif
      if (.not. (params%rMin0 >= 0.0_double) .or. &
            & .not. ieee_is_finite(params%rMin0)) then
         call setStatus (status, message, omlErrArgument, &
               & 'rmin0: must be a finite number >= 0')
         return
      endif
      if (numEl < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'elements: at least one element is needed')
         return
      endif
      if (.not. allocated(params%radius) .or. &
            & .not. allocated(params%weight)) then
         call setStatus (status, message, omlErrArgument, &
               & 'radius/weight: not given')
         return
      endif
      if (size(params%radius) /= numEl .or. &
            & size(params%weight) /= numEl) then
         call setStatus (status, message, omlErrArgument, &
               & 'radius/weight: need one value per element (' // &
               & intToChar(numEl) // ')')
         return
      endif
      do e = 1, numEl
         if (.not. (params%radius(e) > 0.0_double) .or. &
               & .not. ieee_is_finite(params%radius(e))) then
            call setStatus (status, message, omlErrArgument, &
                  & 'radius: element ' // intToChar(e) // &
                  & ' needs a positive finite radius')
            return
         endif
         if (.not. ieee_is_finite(params%weight(e))) then
            call setStatus (status, message, omlErrArgument, &
                  & 'weight: element ' // intToChar(e) // &
                  & ' needs a finite weight')
            return
         endif
      enddo

      call initSnapIndex (snap%index, params%twoJMax, status, message)
      if (status /= omlSuccess) return

      snap%params = params
      allocate (snap%pairCut(numEl, numEl), snap%pairCutSq(numEl, numEl))
      do f = 1, numEl
         do e = 1, numEl
            snap%pairCut(e, f) = params%rCutFac * &
                  & (params%radius(e) + params%radius(f))
         enddo
      enddo
      snap%pairCutSq = snap%pairCut**2
      snap%maxCutoff = maxval(snap%pairCut)
      if (params%rMin0 >= minval(snap%pairCut)) then
         call setStatus (status, message, omlErrArgument, &
               & 'rmin0: must be smaller than every pair cutoff ' // &
               & 'rcutfac*(R_i+R_j)')
         return
      endif

      snap%numDensities = 1
      if (params%chemFlag) snap%numDensities = numEl
      snap%numColumns = snap%index%numTriples * snap%numDensities**3
      snap%ready = .true.

   end subroutine initSnap

   !> Bispectrum of the atoms listed in centres.
   !>   lattice          the periodic cell (same length unit as positions)
   !>   positions(3,N)   Cartesian positions
   !>   elementOf(N)     element of each atom, 1..numElements
   !>   centres(M)       atoms (1..N) whose bispectrum is wanted
   !>   numThreads       OpenMP threads; <= 0 uses the OpenMP default
   !>   bispectrum(numColumns, M)  the components, one column per centre
   subroutine computeBispectrum (snap, lattice, positions, elementOf, &
         & centres, numThreads, bispectrum, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
      use OML_Threads, only: chooseThreads

      implicit none

      type (OML_SnapType), intent(in) :: snap
      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centres(:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: bispectrum(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      type (OML_CellListType) :: cellList
      integer :: numAtoms, numCentres, numBlocks
      integer :: useThreads, errorCentre, i

      status = omlSuccess
      message = ''
      numAtoms = size(positions, 2)
      numCentres = size(centres)

      if (.not. snap%ready) then
         call setStatus (status, message, omlErrState, &
               & 'bispectrum: parameters were not initialised')
         return
      endif
      if (size(positions, 1) /= 3) then
         call setStatus (status, message, omlErrArgument, &
               & 'positions: must have shape (3, N)')
         return
      endif
      if (numAtoms < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'positions: the structure has no atoms')
         return
      endif
      if (size(elementOf) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'elements: need one element index per atom')
         return
      endif
      if (size(bispectrum, 1) /= snap%numColumns .or. &
            & size(bispectrum, 2) /= numCentres) then
         call setStatus (status, message, omlErrArgument, &
               & 'bispectrum: output array has the wrong shape')
         return
      endif
      if (.not. all(ieee_is_finite(positions))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'positions: contain NaN or Inf')
         return
      endif
      call checkElementIndices (elementOf(1:numAtoms), &
            & snap%params%numElements, 'elements', status, message)
      if (status /= omlSuccess) return
      call checkCentres (centres, numAtoms, status, message)
      if (status /= omlSuccess) return
      call chooseThreads (numThreads, useThreads, status, message)
      if (status /= omlSuccess) return
      if (numCentres == 0) return

      call initCellList (cellList, lattice, positions, snap%maxCutoff, &
            & status, message)
      if (status /= omlSuccess) return

      numBlocks = (numCentres + blockSize - 1) / blockSize
      errorCentre = huge(errorCentre)

      !$omp parallel num_threads(useThreads) default(shared)
      call runBlocks (snap, cellList, elementOf, centres, numBlocks, &
            & bispectrum, errorCentre, status, message)
      !$omp end parallel
      if (status /= omlSuccess) return

      ! Finite positions and parameters give finite sums, unless a weight
      ! or a density is so large (1e308) that a product overflows: an
      ! Inf or NaN component is then an error, never a result.
      do i = 1, numCentres
         if (.not. all(ieee_is_finite(bispectrum(:, i)))) then
            call setStatus (status, message, omlErrNonFinite, &
                  & 'bispectrum: centre ' // intToChar(i) // ' (atom ' // &
                  & intToChar(centres(i)) // ') has non-finite ' // &
                  & 'components (an element weight or a density too ' // &
                  & 'large for double precision?)')
            return
         endif
      enddo

   end subroutine computeBispectrum

   !> The work of one thread inside the parallel region: its own scratch
   !> space (local, hence private) and its share of the blocks.  Of several
   !> failures the one of the lowest-numbered block is reported, so that the
   !> message does not depend on the number of threads.
   subroutine runBlocks (snap, cellList, elementOf, centres, numBlocks, &
         & bispectrum, errorCentre, status, message)

      implicit none

      type (OML_SnapType), intent(in) :: snap
      type (OML_CellListType), intent(in) :: cellList
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centres(:)
      integer, intent(in) :: numBlocks
      real (kind=double), intent(inout) :: bispectrum(:,:)
      integer, intent(inout) :: errorCentre
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      type (SnapWorkType) :: work
      integer :: block, first, last, localStat, workStat
      character (len=omlMessageLen) :: localMsg

      call initWork (work, snap, 64, workStat)
      !$omp do schedule(dynamic, 1)
      do block = 1, numBlocks
         first = (block - 1) * blockSize + 1
         last = min(block * blockSize, size(centres))
         if (workStat /= 0) then
            call setStatus (localStat, localMsg, omlErrMemory, &
                  & 'bispectrum: out of memory for the work arrays')
         else
            call computeBlock (snap, cellList, elementOf, &
                  & centres(first:last), work, bispectrum(:, first:last), &
                  & localStat, localMsg)
         endif
         if (localStat /= omlSuccess) then
            !$omp critical (omlBispectrumError)
            if (first < errorCentre) then
               errorCentre = first
               status = localStat
               message = localMsg
            endif
            !$omp end critical (omlBispectrumError)
         endif
      enddo
      !$omp end do

   end subroutine runBlocks

   !> (Re)allocate the scratch space for up to capacity neighbours;
   !> allocStat /= 0 when memory ran out.
   subroutine initWork (work, snap, capacity, allocStat)

      implicit none

      type (SnapWorkType), intent(inout) :: work
      type (OML_SnapType), intent(in) :: snap
      integer, intent(in) :: capacity
      integer, intent(out) :: allocStat

      integer :: numU

      numU = snap%index%numU
      work%capacity = capacity
      if (allocated(work%nbrAtom)) then
         deallocate (work%nbrAtom, work%nbrVec, work%nbrDistSq, work%aRe, &
               & work%aIm, work%bRe, work%bIm, work%weightedCut, work%uRe, &
               & work%uIm)
      endif
      allocate (work%nbrAtom(capacity), work%nbrVec(3, capacity), &
            & work%nbrDistSq(capacity), work%aRe(capacity), &
            & work%aIm(capacity), work%bRe(capacity), work%bIm(capacity), &
            & work%weightedCut(capacity, snap%numDensities), &
            & work%uRe(capacity, numU), work%uIm(capacity, numU), &
            & stat=allocStat)
      if (allocStat /= 0) return
      if (.not. allocated(work%uTotRe)) then
         allocate (work%uTotRe(blockSize, numU, snap%numDensities), &
               & work%uTotIm(blockSize, numU, snap%numDensities), &
               & work%bBlock(blockSize, snap%numColumns), stat=allocStat)
      endif

   end subroutine initWork

   !> Bispectrum of up to blockSize centres.
   subroutine computeBlock (snap, cellList, elementOf, centres, work, &
         & bispectrum, status, message)

      implicit none

      type (OML_SnapType), intent(in) :: snap
      type (OML_CellListType), intent(in) :: cellList
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centres(:)
      type (SnapWorkType), intent(inout) :: work
      real (kind=double), intent(out) :: bispectrum(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: lane, numNbr

      status = omlSuccess
      message = ''

      ! Lanes without an atom keep u = 0 and give B = 0 (discarded), so
      ! every lane runs the same instructions whatever the block holds.
      work%uTotRe(:,:,:) = 0.0_double
      work%uTotIm(:,:,:) = 0.0_double

      do lane = 1, size(centres)
         do
            call gatherNeighbours (cellList, centres(lane), elementOf, &
                  & snap%pairCutSq, minAtomDistance, numNbr, &
                  & work%nbrAtom, work%nbrVec, work%nbrDistSq, status, &
                  & message)
            if (status /= omlSuccess) return
            if (numNbr <= work%capacity) exit
            call initWork (work, snap, max(2 * work%capacity, numNbr), &
                  & status)
            if (status /= omlSuccess) then
               call setStatus (status, message, omlErrMemory, &
                     & 'bispectrum: out of memory for ' // &
                     & intToChar(numNbr) // ' neighbours')
               return
            endif
         enddo
         call addDensity (snap, elementOf, elementOf(centres(lane)), &
               & numNbr, work, lane)
      enddo

      call fillSymmetricHalf (snap%index, work%uTotRe, work%uTotIm)
      call couple (snap, work)
      call finish (snap, elementOf, centres, work, bispectrum)

   end subroutine computeBlock

   !> Add the neighbour density of one atom into lane "lane" of uTot:
   !> u^j = w_self I + sum_k f_c(r_k) w_k U^j(r_k).
   subroutine addDensity (snap, elementOf, centreElem, numNbr, work, lane)

      implicit none

      type (OML_SnapType), intent(in) :: snap
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centreElem
      integer, intent(in) :: numNbr
      type (SnapWorkType), intent(inout) :: work
      integer, intent(in) :: lane

      real (kind=double) :: r, rCut, theta0, z0, r0, cutFn, ratio
      integer :: k, d, j, mb, ma, idx, nbrElem
      integer :: n

      n = numNbr
      do k = 1, n
         nbrElem = elementOf(work%nbrAtom(k))
         r = sqrt(work%nbrDistSq(k))
         rCut = snap%pairCut(nbrElem, centreElem)

         ! Map the neighbour onto the 3-sphere (Cayley-Klein parameters).
         ratio = (r - snap%params%rMin0) / (rCut - snap%params%rMin0)
         theta0 = snap%params%rFac0 * pi * ratio
         z0 = r / tan(theta0)
         r0 = sqrt(r * r + z0 * z0)
         work%aRe(k) = z0 / r0
         work%aIm(k) = -work%nbrVec(3,k) / r0
         work%bRe(k) = work%nbrVec(2,k) / r0
         work%bIm(k) = -work%nbrVec(1,k) / r0

         ! Smooth cutoff f_c(r) = (cos(pi (r-rmin0)/(R-rmin0)) + 1)/2.
         if (.not. snap%params%switchFlag) then
            cutFn = 1.0_double
         elseif (r <= snap%params%rMin0) then
            cutFn = 1.0_double
         else
            cutFn = 0.5_double * (cos(pi * ratio) + 1.0_double)
         endif
         cutFn = cutFn * snap%params%weight(nbrElem)

         ! With chem every element has its own density.
         work%weightedCut(k,:) = 0.0_double
         if (snap%numDensities > 1) then
            work%weightedCut(k, nbrElem) = cutFn
         else
            work%weightedCut(k, 1) = cutFn
         endif
      enddo

      call wignerMatrices (snap%index, n, work)

      ! Accumulate the upper half rows (mb <= j/2); the rest follows from
      ! the symmetry later.
      do d = 1, snap%numDensities
         do j = 0, snap%index%twoJMax
            do mb = 0, j / 2
               do ma = 0, j
                  idx = uIndex(snap%index, j, mb, ma)
                  work%uTotRe(lane, idx, d) = dot_product( &
                        & work%weightedCut(1:n, d), work%uRe(1:n, idx))
                  work%uTotIm(lane, idx, d) = dot_product( &
                        & work%weightedCut(1:n, d), work%uIm(1:n, idx))
               enddo
            enddo
         enddo
         ! The central atom itself: w_self I, w_self = 1.  With chem it
         ! belongs to the central atom's element only, unless wselfall.
         if (snap%numDensities == 1 .or. snap%params%wSelfAllFlag .or. &
               & d == centreElem) then
            do j = 0, snap%index%twoJMax
               do ma = 0, j / 2
                  idx = uIndex(snap%index, j, ma, ma)
                  work%uTotRe(lane, idx, d) = work%uTotRe(lane, idx, d) + &
                        & 1.0_double
               enddo
            enddo
         endif
      enddo

   end subroutine addDensity

   !> U^j for all neighbours by the recursion
   !>   U^j[mb][ma] = sqrt((j-ma)/(j-mb)) conj(a) U^{j-1}[mb][ma]
   !>               - sqrt(ma/(j-mb))     conj(b) U^{j-1}[mb][ma-1]
   !> for mb <= j/2, the other rows from
   !>   U^j[j-mb][j-ma] = (-1)^(ma-mb) conj(U^j[mb][ma]).
   subroutine wignerMatrices (index, n, work)

      implicit none

      type (OML_SnapIndexType), intent(in) :: index
      integer, intent(in) :: n
      type (SnapWorkType), intent(inout) :: work

      real (kind=double) :: rootA, rootB, sgn
      integer :: j, mb, ma, idx, prev, src, dst

      idx = uIndex(index, 0, 0, 0)
      work%uRe(1:n, idx) = 1.0_double
      work%uIm(1:n, idx) = 0.0_double

      do j = 1, index%twoJMax
         do mb = 0, j / 2
            do ma = 0, j
               idx = uIndex(index, j, mb, ma)
               work%uRe(1:n, idx) = 0.0_double
               work%uIm(1:n, idx) = 0.0_double
               if (ma < j) then
                  prev = uIndex(index, j-1, mb, ma)
                  rootA = index%rootPQ(j - ma, j - mb)
                  work%uRe(1:n, idx) = rootA * (work%aRe(1:n) * &
                        & work%uRe(1:n, prev) + work%aIm(1:n) * &
                        & work%uIm(1:n, prev))
                  work%uIm(1:n, idx) = rootA * (work%aRe(1:n) * &
                        & work%uIm(1:n, prev) - work%aIm(1:n) * &
                        & work%uRe(1:n, prev))
               endif
               if (ma > 0) then
                  prev = uIndex(index, j-1, mb, ma-1)
                  rootB = index%rootPQ(ma, j - mb)
                  work%uRe(1:n, idx) = work%uRe(1:n, idx) - rootB * &
                        & (work%bRe(1:n) * work%uRe(1:n, prev) + &
                        & work%bIm(1:n) * work%uIm(1:n, prev))
                  work%uIm(1:n, idx) = work%uIm(1:n, idx) - rootB * &
                        & (work%bRe(1:n) * work%uIm(1:n, prev) - &
                        & work%bIm(1:n) * work%uRe(1:n, prev))
               endif
            enddo
         enddo
         ! Mirror rows, needed by the next level of the recursion.
         do mb = 0, (j - 1) / 2
            do ma = 0, j
               src = uIndex(index, j, mb, ma)
               dst = uIndex(index, j, j - mb, j - ma)
               sgn = 1.0_double - 2.0_double * modulo(ma - mb, 2)
               work%uRe(1:n, dst) = sgn * work%uRe(1:n, src)
               work%uIm(1:n, dst) = -sgn * work%uIm(1:n, src)
            enddo
         enddo
      enddo

   end subroutine wignerMatrices

   !> Complete u^j from its upper half rows by the symmetry of U^j.
   subroutine fillSymmetricHalf (index, uTotRe, uTotIm)

      implicit none

      type (OML_SnapIndexType), intent(in) :: index
      real (kind=double), intent(inout) :: uTotRe(:,:,:), uTotIm(:,:,:)

      real (kind=double) :: sgn
      integer :: d, j, mb, ma, src, dst

      do d = 1, size(uTotRe, 3)
         do j = 1, index%twoJMax
            do mb = 0, (j - 1) / 2
               do ma = 0, j
                  src = uIndex(index, j, mb, ma)
                  dst = uIndex(index, j, j - mb, j - ma)
                  sgn = 1.0_double - 2.0_double * modulo(ma - mb, 2)
                  uTotRe(:, dst, d) = sgn * uTotRe(:, src, d)
                  uTotIm(:, dst, d) = -sgn * uTotIm(:, src, d)
               enddo
            enddo
         enddo
      enddo

   end subroutine fillSymmetricHalf

   !> Z^{j1 j2 j} and B_{j1 j2 j} for all kept triples (and, with chem,
   !> all element triples), all lanes at once.
   subroutine couple (snap, work)

      implicit none

      type (OML_SnapType), intent(in) :: snap
      type (SnapWorkType), intent(inout) :: work

      integer :: numEl, k, e1, e2, e3, column

      numEl = snap%numDensities
      do e1 = 1, numEl
         do e2 = 1, numEl
            do e3 = 1, numEl
               do k = 1, snap%index%numTriples
                  column = ((( e1-1) * numEl + (e2-1)) * numEl + (e3-1)) &
                        & * snap%index%numTriples + k
                  call coupleTriple (snap%index, k, &
                        & work%uTotRe(:,:,e1), work%uTotIm(:,:,e1), &
                        & work%uTotRe(:,:,e2), work%uTotIm(:,:,e2), &
                        & work%uTotRe(:,:,e3), work%uTotIm(:,:,e3), &
                        & work%bBlock(:, column))
               enddo
            enddo
         enddo
      enddo

   end subroutine couple

   !> B_{j1 j2 j} = sum over half of (mb, ma), counted twice (the middle
   !> element of an even j once), of Re(conj(u3^j) Z), with
   !>   Z[mb][ma] = sum_{mb1, ma1} C(j1 mb1; j2 mb2 | j mb)
   !>               C(j1 ma1; j2 ma2 | j ma)
   !>               u1^{j1}[mb1][ma1] u2^{j2}[mb2][ma2].
   subroutine coupleTriple (index, k, u1Re, u1Im, u2Re, u2Im, u3Re, u3Im, &
         & bOut)

      implicit none

      type (OML_SnapIndexType), intent(in) :: index
      integer, intent(in) :: k
      real (kind=double), intent(in) :: u1Re(blockSize, *)
      real (kind=double), intent(in) :: u1Im(blockSize, *)
      real (kind=double), intent(in) :: u2Re(blockSize, *)
      real (kind=double), intent(in) :: u2Im(blockSize, *)
      real (kind=double), intent(in) :: u3Re(blockSize, *)
      real (kind=double), intent(in) :: u3Im(blockSize, *)
      real (kind=double), intent(out) :: bOut(blockSize)

      real (kind=double) :: zRe(blockSize), zIm(blockSize)
      real (kind=double) :: cgB, coeff, weight
      integer :: j1, j2, j, shift, cg0, mb, ma, mb1, mb2, ma1, ma2
      integer :: row1, row2, i1, i2, i3

      j1 = index%triple(1, k)
      j2 = index%triple(2, k)
      j = index%triple(3, k)
      ! m = m1 + m2 in ladder indices: ma2 = ma - ma1 + shift.
      shift = (j1 + j2 - j) / 2
      cg0 = index%cgStart(k)

      bOut(:) = 0.0_double
      do mb = 0, j / 2
         do ma = 0, j
            if (2 * mb == j) then
               if (2 * ma > j) exit
               weight = merge(1.0_double, 2.0_double, 2 * ma == j)
            else
               weight = 2.0_double
            endif
            zRe(:) = 0.0_double
            zIm(:) = 0.0_double
            do mb1 = max(0, mb + shift - j2), min(j1, mb + shift)
               mb2 = mb - mb1 + shift
               cgB = index%cgTable(cg0 + mb1 * (j2+1) + mb2)
               row1 = index%uStart(j1) + mb1 * (j1+1)
               row2 = index%uStart(j2) + mb2 * (j2+1)
               do ma1 = max(0, ma + shift - j2), min(j1, ma + shift)
                  ma2 = ma - ma1 + shift
                  coeff = cgB * index%cgTable(cg0 + ma1 * (j2+1) + ma2)
                  i1 = row1 + ma1
                  i2 = row2 + ma2
                  zRe(:) = zRe(:) + coeff * (u1Re(:,i1) * u2Re(:,i2) - &
                        & u1Im(:,i1) * u2Im(:,i2))
                  zIm(:) = zIm(:) + coeff * (u1Re(:,i1) * u2Im(:,i2) + &
                        & u1Im(:,i1) * u2Re(:,i2))
               enddo
            enddo
            i3 = index%uStart(j) + mb * (j+1) + ma
            bOut(:) = bOut(:) + weight * (u3Re(:,i3) * zRe(:) + &
                  & u3Im(:,i3) * zIm(:))
         enddo
      enddo

   end subroutine coupleTriple

   !> bnorm and bzero, then copy the lanes into the output columns.
   subroutine finish (snap, elementOf, centres, work, bispectrum)

      implicit none

      type (OML_SnapType), intent(in) :: snap
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centres(:)
      type (SnapWorkType), intent(inout) :: work
      real (kind=double), intent(out) :: bispectrum(:,:)

      real (kind=double) :: bZero
      integer :: numEl, numK, lane, k, e1, e2, e3, column, centreElem
      logical :: shiftBlock

      numEl = snap%numDensities
      numK = snap%index%numTriples
      do lane = 1, size(centres)
         centreElem = elementOf(centres(lane))
         do e1 = 1, numEl
            do e2 = 1, numEl
               do e3 = 1, numEl
                  ! The isolated-atom value sits only where u = I, i.e.
                  ! in the central atom's own element block (chem).
                  shiftBlock = snap%params%bZeroFlag .and. &
                        & (numEl == 1 .or. snap%params%wSelfAllFlag .or. &
                        & (e1 == centreElem .and. e2 == centreElem .and. &
                        & e3 == centreElem))
                  do k = 1, numK
                     column = (((e1-1) * numEl + (e2-1)) * numEl + (e3-1)) &
                           & * numK + k
                     ! An isolated atom has u^j = I: B = j+1.
                     bZero = real(snap%index%triple(3, k) + 1, double)
                     if (snap%params%bNormFlag) then
                        work%bBlock(lane, column) = work%bBlock(lane, column) &
                              & / bZero
                        bZero = 1.0_double
                     endif
                     if (shiftBlock) work%bBlock(lane, column) = &
                           & work%bBlock(lane, column) - bZero
                     bispectrum(column, lane) = work%bBlock(lane, column)
                  enddo
               enddo
            enddo
         enddo
      enddo

   end subroutine finish

end module OML_Bispectrum
