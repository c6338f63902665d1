!! OML_Domain: how far each atom's environment lies from the environments a
!! model was trained on (its applicability distance), read from the domain
!! file that "olcaoml export MODEL -o model.oml --domain model.omld" writes
!! beside the model.
!!
!! Why.  A network predicts well only near what it has seen.  pyolcaoml
!! measures "near" per atom (pyolcaoml.model.applicability): standardise
!! the atom's K descriptors with the training mean and spread, take the
!! Euclidean distance to the nearest training atom of the same element,
!! divide by sqrt(K) (an RMS per feature) and by the element's threshold
!! (a high quantile of the training atoms' own distances to other
!! structures).  The ratio is below 1 for a familiar environment and above
!! it for a new one.  Its median over a SiC structure's atoms is what
!! olcaoml predict uses to hand amorphous SiC from the Si + C model to the
!! amorphous SiC model (pyolcaoml.model.handover); the domain file carries
!! that threshold, so a Fortran or C caller can apply the same rule.
!!
!! The file (binary, stream access, the byte order of the machine that
!! wrote it, checked by a marker; every count is checked against the
!! file's size before anything is allocated):
!!
!!    character(16)  'OLCAOML_DOMAIN  '      magic word
!!    int32          1                       format version
!!    int32          16909060                byte-order marker (0x01020304)
!!    int64          numElements             elements with a domain, >= 1
!!    int64          numFeatures             K, the model's descriptor length
!!    real64         handoverMedianDomain    0: no handover rule recorded
!!    per element:
!!       character(16) symbol                 as the model spells it
!!       int64       numReference            R >= 1 training atoms
!!       real64      threshold               > 0 (RMS-per-feature distance)
!!       real64      key(K)                  the MEAN record of the element's
!!                                           network in the model file, to
!!                                           the bit: ties the domain to the
!!                                           model it was exported with
!!       real64      mean(K)                 training mean
!!       real64      scale(K)                training spread, > 0
!!       real32      reference(K, R)         standardised training atoms
!!    character(16)  'END_DOMAIN      '      marks a complete file
!!
!! The reference atoms are single precision, as pyolcaoml stores them; they
!! are promoted to double before the distance is measured, so it is the
!! same number as Python's up to the order of the sums.
!!
!! Finding the nearest of R training atoms costs R K operations per atom.
!! It is done in two steps, exact in the end.  A screen in single
!! precision, one matrix product per block of atoms,
!!    |z - r|^2 = |z|^2 + |r|^2 - 2 z.r,
!! whose error is bounded: rounding z to single precision and summing K
!! products moves z.r by at most (K + 1) u |z| |r| (u the unit round-off
!! of single precision; Cauchy-Schwarz on the sum of the absolute
!! products), whatever order the product sums in.  Every training atom
!! whose screened value, less its bound, is not above the smallest
!! screened value plus its bound may be the nearest; only those are then
!! measured exactly in double precision, one after the other, the sum in
!! feature order.  So the result is the exact minimum over all training
!! atoms, the same bits for any number of threads or atoms per call.
!! (Python screens the same way but measures only the screen's winner:
!! where two training atoms are within single-precision round-off of each
!! other, Python may measure the other one, ~1e-5 relative away.)
!!
!! A loaded domain is read-only, so threads may share it.
module OML_Domain

   use, intrinsic :: iso_fortran_env, only: int32, int64, real32
   use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan, &
         & ieee_is_finite
   use OML_Kinds, only: double
   use OML_Status
   use OML_Threads, only: chooseThreads
   use OML_Model, only: OML_ModelType, elementIndex
   use OML_CellList, only: checkElementIndices

   implicit none
   private

   !> The newest domain file version this reader understands.
   integer, parameter, public :: omlDomainFormatVersion = 1
   character (len=16), parameter :: magicWord = 'OLCAOML_DOMAIN  '
   character (len=16), parameter :: endWord = 'END_DOMAIN      '
   integer (kind=int32), parameter :: byteOrderMark = 16909060_int32

   !> The training atoms of one element.
   type :: ElementDomainType
      logical :: present = .false.
      real (kind=double) :: threshold = 0.0_double
      real (kind=double), allocatable :: mean(:)       ! (K)
      real (kind=double), allocatable :: scale(:)      ! (K)
      real (kind=real32), allocatable :: reference(:,:) ! (K, R)
      real (kind=double), allocatable :: refNorm(:)    ! (R) |r|
   end type ElementDomainType

   !> A model's domain, indexed by the model's element numbers.
   type, public :: OML_DomainType
      logical :: ready = .false.
      integer :: numElements = 0
      integer :: numFeatures = 0
      real (kind=double) :: handoverMedianDomain = 0.0_double
      type (ElementDomainType), allocatable :: elements(:)
   end type OML_DomainType

   public :: readDomain
   public :: clearDomain
   public :: domainRatio
   public :: medianOfFinite

contains

   !> Release a domain's memory (it may be read again).
   subroutine clearDomain (domain)

      implicit none

      type (OML_DomainType), intent(inout) :: domain

      if (allocated(domain%elements)) deallocate (domain%elements)
      domain%ready = .false.
      domain%numElements = 0
      domain%numFeatures = 0
      domain%handoverMedianDomain = 0.0_double

   end subroutine clearDomain

   !> Read the domain file at path for the (loaded) model: its elements
   !> must be the model's and its K the model's descriptor length.
   subroutine readDomain (domain, model, path, status, message)

      implicit none

      type (OML_DomainType), intent(inout) :: domain
      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: path
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: unit, ioStat

      call clearDomain (domain)
      status = omlSuccess
      message = ''
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'domain: the model is not loaded')
         return
      endif
      open (newunit=unit, file=path, access='stream', form='unformatted', &
            & status='old', action='read', iostat=ioStat)
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrIO, &
               & path // ': cannot open the domain file')
         return
      endif
      call readBody (unit, domain, model, path, status, message)
      close (unit)
      if (status == omlSuccess) then
         domain%ready = .true.
      else
         call clearDomain (domain)
      endif

   end subroutine readDomain

   subroutine readBody (unit, domain, model, path, status, message)

      implicit none

      integer, intent(in) :: unit
      type (OML_DomainType), intent(inout) :: domain
      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: path
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      character (len=16) :: word
      integer (kind=int32) :: version, mark
      integer (kind=int64) :: fileSize, numElements, numFeatures, numRef
      integer (kind=int64) :: need, position, left
      real (kind=double) :: handover, threshold
      real (kind=double), allocatable :: key(:)
      integer :: ioStat, allocStat, k, e, n
      character (len=16) :: symbol

      inquire (unit=unit, size=fileSize)
      read (unit, iostat=ioStat) word, version, mark
      if (ioStat /= 0 .or. word /= magicWord) then
         call fail ('not a domain file (no OLCAOML_DOMAIN header)')
         return
      endif
      if (mark /= byteOrderMark) then
         call fail ('written with another byte order')
         return
      endif
      if (version < 1 .or. version > omlDomainFormatVersion) then
         call fail ('format version ' // intToChar(int(version)) // &
               & ' is not supported (this library reads 1 to ' // &
               & intToChar(omlDomainFormatVersion) // ')')
         return
      endif
      read (unit, iostat=ioStat) numElements, numFeatures, handover
      if (ioStat /= 0) then
         call fail ('the file ends inside its header')
         return
      endif
      if (numElements < 1 .or. numElements > model%numElements) then
         call fail ('numElements is ' // intToChar(numElements) // &
               & '; the model has ' // intToChar(model%numElements) // &
               & ' element(s) (a domain of another model?)')
         return
      endif
      if (numFeatures /= model%numFeatures) then
         call fail ('numFeatures is ' // intToChar(numFeatures) // &
               & '; the model has ' // intToChar(model%numFeatures) // &
               & ' descriptors per atom (a domain of another model?)')
         return
      endif
      if (.not. ieee_is_finite(handover) .or. handover < 0.0_double) then
         call fail ('handoverMedianDomain must be finite and >= 0')
         return
      endif
      allocate (domain%elements(model%numElements), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & path // ': out of memory')
         return
      endif
      domain%numElements = model%numElements
      domain%numFeatures = model%numFeatures
      domain%handoverMedianDomain = handover

      do n = 1, int(numElements)
         read (unit, iostat=ioStat) symbol, numRef, threshold
         if (ioStat /= 0) then
            call fail ('the file ends inside the header of element ' // &
                  & intToChar(n))
            return
         endif
         e = elementIndex(model, trim(symbol))
         if (e == 0) then
            call fail ('element ' // intToChar(n) // ' (' // trim(symbol) &
                  & // ') is not one of the model''s')
            return
         endif
         if (domain%elements(e)%present) then
            call fail ('element ' // trim(symbol) // ' appears twice')
            return
         endif
         ! Bytes this element still needs: key, mean and scale (real64),
         ! the reference atoms (real32) and the end word.  Checked against
         ! what the file has left before anything is allocated, so an
         ! absurd count is a message, not an attempt to allocate terabytes.
         if (numRef < 1) then
            call fail (trim(symbol) // ': numReference must be >= 1, got ' &
                  & // intToChar(numRef))
            return
         endif
         inquire (unit=unit, pos=position)
         need = 24_int64 * numFeatures + 16_int64
         left = fileSize - (position - 1_int64) - need
         if (left < 0_int64 .or. numRef > left / (4_int64 * numFeatures)) then
            call fail (trim(symbol) // ': numReference ' // &
                  & intToChar(numRef) // ' needs more bytes than the ' // &
                  & 'file has (truncated or corrupted)')
            return
         endif
         if (.not. ieee_is_finite(threshold) .or. threshold <= 0.0_double) &
               & then
            call fail (trim(symbol) // ': threshold must be finite and > 0')
            return
         endif
         associate (d => domain%elements(e))
            allocate (key(numFeatures), d%mean(numFeatures), &
                  & d%scale(numFeatures), d%reference(numFeatures, numRef), &
                  & stat=allocStat)
            if (allocStat /= 0) then
               call setStatus (status, message, omlErrMemory, &
                     & path // ': out of memory for ' // trim(symbol) // &
                     & '''s ' // intToChar(numRef) // ' reference atoms')
               return
            endif
            ! The key first: the model's own normalisation mean, which
            ! differs between any two trained models.
            read (unit, iostat=ioStat) key
            if (ioStat /= 0) then
               call fail ('the file ends inside element ' // trim(symbol))
               return
            endif
            if (model%networkOf(e) == 0) then
               call fail (trim(symbol) // ': the model has no network for ' &
                     & // 'this element')
               return
            endif
            if (any(key /= model%networks(model%networkOf(e))%normMean)) then
               call fail (trim(symbol) // ': not the domain of this model ' &
                     & // '(its key is not the model''s normalisation; ' &
                     & // 'export both files together)')
               return
            endif
            deallocate (key)
            read (unit, iostat=ioStat) d%mean, d%scale, d%reference
            if (ioStat /= 0) then
               call fail ('the file ends inside element ' // trim(symbol))
               return
            endif
            if (.not. all(ieee_is_finite(d%mean))) then
               call fail (trim(symbol) // ': the mean is not finite')
               return
            endif
            do k = 1, int(numFeatures)
               if (.not. ieee_is_finite(d%scale(k)) .or. &
                     & d%scale(k) <= 0.0_double) then
                  call fail (trim(symbol) // ': scale ' // intToChar(k) // &
                        & ' must be finite and > 0')
                  return
               endif
            enddo
            if (.not. all(ieee_is_finite(d%reference))) then
               call fail (trim(symbol) // ': a reference value is not finite')
               return
            endif
            allocate (d%refNorm(numRef), stat=allocStat)
            if (allocStat /= 0) then
               call setStatus (status, message, omlErrMemory, &
                     & path // ': out of memory')
               return
            endif
            do k = 1, int(numRef)
               d%refNorm(k) = sqrt(sum(real(d%reference(:, k), double)**2))
            enddo
            d%threshold = threshold
            d%present = .true.
         end associate
      enddo

      read (unit, iostat=ioStat) word
      if (ioStat /= 0 .or. word /= endWord) then
         call fail ('no END_DOMAIN after the last element (truncated or ' // &
               & 'corrupted)')
         return
      endif
      inquire (unit=unit, pos=position)
      if (position - 1_int64 /= fileSize) then
         call fail ('bytes after END_DOMAIN (corrupted)')
         return
      endif

   contains

      subroutine fail (text)

         implicit none

         character (len=*), intent(in) :: text

         call setStatus (status, message, omlErrFormat, path // ': ' // text)

      end subroutine fail

   end subroutine readBody

   !> ratio(i) = applicability distance of atom i / its element's
   !> threshold (NaN for an element the domain has no data for):
   !>    z = (x - mean) / scale,  d = min over training atoms r of
   !>    |z - ref_r| / sqrt(K).
   !> descriptors(K, n) in the model's layout (omlComputeDescriptors);
   !> elementOf(n) the model's element index of each atom.  The result is
   !> the exact minimum (module header), so it does not depend on
   !> numThreads (<= 0: the OpenMP default) or on the blocking.
   subroutine domainRatio (domain, elementOf, descriptors, numThreads, &
         & ratio, status, message)

      implicit none

      type (OML_DomainType), intent(in) :: domain
      integer, intent(in) :: elementOf(:)
      real (kind=double), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: ratio(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      !> Atoms per matrix product of the screen.
      integer, parameter :: blockAtoms = 64
      integer, allocatable :: atoms(:)
      integer :: n, i, e, useThreads, numAtoms, first, last, allocStat
      logical :: failed, ok

      status = omlSuccess
      message = ''
      if (.not. domain%ready) then
         call setStatus (status, message, omlErrState, &
               & 'domain: not loaded')
         return
      endif
      n = size(elementOf)
      if (size(descriptors, 1) /= domain%numFeatures) then
         call setStatus (status, message, omlErrArgument, &
               & 'descriptors: need ' // intToChar(domain%numFeatures) // &
               & ' rows per atom, got ' // intToChar(size(descriptors, 1)))
         return
      endif
      if (size(descriptors, 2) /= n .or. size(ratio) /= n) then
         call setStatus (status, message, omlErrArgument, &
               & 'descriptors, ratio: need one column/value per atom (' // &
               & intToChar(n) // ')')
         return
      endif
      call checkElementIndices (elementOf, domain%numElements, 'element_of', &
            & status, message)
      if (status /= omlSuccess) return
      if (.not. all(ieee_is_finite(descriptors))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'descriptors: NaN or Inf')
         return
      endif
      call chooseThreads (numThreads, useThreads, status, message)
      if (status /= omlSuccess) return

      ! Atoms of one element at a time, in blocks that share one matrix
      ! product; the blocks are shared among the threads.
      allocate (atoms(n), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'domain: out of memory')
         return
      endif
      failed = .false.
      do e = 1, domain%numElements
         numAtoms = 0
         do i = 1, n
            if (elementOf(i) == e) then
               numAtoms = numAtoms + 1
               atoms(numAtoms) = i
            endif
         enddo
         if (numAtoms == 0) cycle
         if (.not. domain%elements(e)%present) then
            ratio(atoms(1:numAtoms)) = ieee_value(0.0_double, ieee_quiet_nan)
            cycle
         endif
         !$omp parallel do num_threads(useThreads) default(shared) &
         !$omp    private(first, last, ok) schedule(dynamic, 1)
         do first = 1, numAtoms, blockAtoms
            last = min(first + blockAtoms - 1, numAtoms)
            call blockRatios (domain%elements(e), descriptors, &
                  & atoms(first:last), ratio, ok)
            if (.not. ok) then
               !$omp atomic write
               failed = .true.
            endif
         enddo
         !$omp end parallel do
      enddo
      if (failed) call setStatus (status, message, omlErrMemory, &
            & 'domain: out of memory for the distance screen')

   end subroutine domainRatio

   !> The ratios of the atoms atoms(:) (columns of x, all of element d),
   !> written to ratio(atoms(:)); ok false when out of memory.
   subroutine blockRatios (d, x, atoms, ratio, ok)

      implicit none

      type (ElementDomainType), intent(in) :: d
      real (kind=double), intent(in) :: x(:,:)
      integer, intent(in) :: atoms(:)
      real (kind=double), intent(inout) :: ratio(:)
      logical, intent(out) :: ok

      real (kind=double), allocatable :: z(:,:), screen(:), bound(:)
      real (kind=real32), allocatable :: zt(:,:), dots(:,:)
      real (kind=double) :: zNorm, best, total, diff, cut, factor
      integer :: numFeatures, numRef, numBlock, b, r, k, allocStat

      numFeatures = size(x, 1)
      numRef = size(d%reference, 2)
      numBlock = size(atoms)
      allocate (z(numFeatures, numBlock), zt(numBlock, numFeatures), &
            & dots(numBlock, numRef), screen(numRef), bound(numRef), &
            & stat=allocStat)
      ok = allocStat == 0
      if (.not. ok) return
      do b = 1, numBlock
         z(:, b) = (x(:, atoms(b)) - d%mean) / d%scale
         zt(b, :) = real(z(:, b), real32)
      enddo
      ! z.r for every pair, in single precision.
      dots = matmul(zt, d%reference)
      ! The bound on 2 |z.r - dots| (see the module's header), with room.
      factor = 2.02_double * real(numFeatures + 1, double) * &
            & real(epsilon(1.0_real32), double) / 2.0_double
      do b = 1, numBlock
         zNorm = sqrt(sum(z(:, b)**2))
         ! |z - r|^2 - |z|^2, screened, and its error bound.
         screen = d%refNorm**2 - 2.0_double * real(dots(b, :), double)
         ! (+ a relative 1e-12 for the double-precision round-off of the
         ! screen itself, which matters only when z.r is tiny)
         bound = factor * zNorm * d%refNorm + &
               & 1.0e-12_double * (zNorm**2 + d%refNorm**2)
         cut = minval(screen + bound)
         best = huge(best)
         do r = 1, numRef
            if (screen(r) - bound(r) > cut) cycle
            total = 0.0_double
            do k = 1, numFeatures
               diff = z(k, b) - real(d%reference(k, r), double)
               total = total + diff * diff
            enddo
            best = min(best, total)
         enddo
         ratio(atoms(b)) = sqrt(best) / sqrt(real(numFeatures, double)) / &
               & d%threshold
      enddo

   end subroutine blockRatios

   !> The median of the finite values (NaN when there are none): for an
   !> even count the mean of the two middle ones, as numpy.median.  The
   !> median of the ratios over a structure's atoms is what the handover
   !> rule compares with handoverMedianDomain.  Found by selection (linear
   !> time on average), not by sorting: a structure may have 10^5 atoms.
   function medianOfFinite (values) result (median)

      implicit none

      real (kind=double), intent(in) :: values(:)
      real (kind=double) :: median

      real (kind=double), allocatable :: kept(:)
      integer :: n, upper

      kept = pack(values, ieee_is_finite(values))
      n = size(kept)
      if (n == 0) then
         median = ieee_value(median, ieee_quiet_nan)
         return
      endif
      upper = n / 2 + 1
      call selectInPlace (kept, upper)
      if (mod(n, 2) == 1) then
         median = kept(upper)
      else
         ! kept(1:upper-1) hold the smaller values: the other middle one
         ! is their largest.
         median = (maxval(kept(1:upper - 1)) + kept(upper)) / 2.0_double
      endif

   end function medianOfFinite

   !> Reorder a so that a(k) is its k-th smallest value, a(1:k-1) <= a(k)
   !> <= a(k+1:) (Hoare's selection, middle pivot).
   subroutine selectInPlace (a, k)

      implicit none

      real (kind=double), intent(inout) :: a(:)
      integer, intent(in) :: k

      real (kind=double) :: pivot, swap
      integer :: lo, hi, i, j

      lo = 1
      hi = size(a)
      do while (lo < hi)
         pivot = a((lo + hi) / 2)
         i = lo
         j = hi
         do while (i <= j)
            do while (a(i) < pivot)
               i = i + 1
            enddo
            do while (a(j) > pivot)
               j = j - 1
            enddo
            if (i <= j) then
               swap = a(i)
               a(i) = a(j)
               a(j) = swap
               i = i + 1
               j = j - 1
            endif
         enddo
         ! Now a(lo:j) <= pivot <= a(i:hi), and a(j+1:i-1) == pivot.
         if (k <= j) then
            hi = j
         elseif (k >= i) then
            lo = i
         else
            exit
         endif
      enddo

   end subroutine selectInPlace

end module OML_Domain
