!! OML_Library: the Fortran interface of libolcaoml, for OLCAO (or any
!! Fortran program compiled with the same compiler) to "use".
!!
!!    use OML_Library
!!    type (OML_ModelType) :: model
!!    integer :: status
!!    character (len=omlMessageLen) :: message
!!    call omlLoadModel (model, 'model.oml', status, message)
!!    call omlPredictCoeffs (model, realVectors, positions, elementOf, &
!!          & 0, coeffs, status, message)
!!
!! Conventions (the same as OLCAO's own arrays):
!!  - lengths in Bohr, energies (the coefficients A_i) in Hartree,
!!    exponents alpha_i in Bohr^-2;
!!  - realVectors(xyz, abc): the lattice vectors a, b, c are the columns;
!!  - positions(xyz, atom): Cartesian positions, one column per atom;
!!  - elementOf(atom): the model's element index of each atom, from
!!    omlElementIndex (1-based, the order of the model's descriptor);
!!  - centres(i): the atoms (1-based) to work on; without it, all atoms.
!!    An MPI program gives each rank its own centres and the whole
!!    structure (every atom is needed as a neighbour);
!!  - coeffs(ld, i): A_1..A_N of centre i in rows 1..N, N = NUM_ALPHAS of
!!    its element (omlNumAlphas); any rows below N are set to zero.
!!
!! OLCAO's own layout (one flat coefficient vector per spin, indexed by
!! potential type through cumulative term offsets) is filled by one call,
!! omlFillPotCoeffs; omlCheckPotTypes makes its checks alone, for the
!! moment the input is read (both at the end of this module).
!!
!! Every routine reports failure through status (omlSuccess = 0, the other
!! codes of OML_Status) and a message; none of them stops the program or
!! prints anything.  A loaded model is read-only: several threads may use
!! the same model at once, each with its own arrays.
module OML_Library

   use OML_Kinds, only: omlDouble => double
   use OML_Status
   use OML_Model, only: OML_ModelType, omlModelFormatVersion, &
         & omlSymbolLen, readModel, canonicalSymbol, elementIndex, &
         & computeDescriptors, predictFromDescriptors, clearModel, &
         & ensemblePredict, iterationGroupOf
   use OML_ScfV, only: writeScfV
   use OML_Iterations, only: expectedIterations, omlMaxIterationGroups, &
         & omlGroupNameLen, omlGeneralGroupName
   use OML_Domain, only: OML_DomainType, omlDomainFormatVersion, &
         & readDomain, clearDomain, domainRatio, medianOfFinite

   implicit none
   private

   !> Version of this interface (and of the C interface, olcaoml.h):
   !> a change of the major number breaks callers, a new minor number only
   !> adds routines.  omlApiVersion() = 10000 major + 100 minor + patch.
   !> The major number is the library's SONAME (libolcaoml.so.2), set
   !> from olcaoml_api_version in meson.build.  2.0: the kind is exported
   !> as omlDouble (1.0 exported "double", which clashes with OLCAO's),
   !> omlCheckPotTypes and omlFillPotCoeffs added; 2.1: ensembles
   !> (omlNumMembers, omlPredictEnsemble*); 2.2: omlHandoverThreshold
   !> (model format 7); 2.3: applicability distances from a domain file
   !> (OML_DomainType, omlLoadDomain, omlDomainRatio, omlMedianDomain,
   !> omlDomainHandoverThreshold, omlFreeDomain); 2.4: the expected OLCAO
   !> iterations (model format 8: omlExpectedIterations,
   !> omlHasExpectedIterations); 2.5: iteration groups (model format 9:
   !> omlNumIterationGroups, omlIterationGroupName, omlIterationGroup,
   !> omlExpectedIterationsInGroup).
   integer, parameter, public :: omlApiMajor = 2
   integer, parameter, public :: omlApiMinor = 5
   integer, parameter, public :: omlApiPatch = 0

   ! What a caller needs from the core modules.  Every public name starts
   ! with oml / OML_ (the kind too: omlDouble, the same kind as OLCAO's
   ! double), so that "use OML_Library" beside OLCAO's "use O_Kinds" in
   ! one scope cannot clash.  (The kind is only ever imported under its
   ! new name here: gfortran 12 lets a private "double" leak out of a
   ! module that imports the same entity under two names.)
   public :: omlDouble
   public :: OML_ModelType
   public :: omlModelFormatVersion, omlSymbolLen
   public :: omlMessageLen
   public :: omlSuccess, omlErrArgument, omlErrNonFinite, omlErrLattice
   public :: omlErrOverlap, omlErrMemory, omlErrIO, omlErrFormat
   public :: omlErrElement, omlErrNullPointer, omlErrState

   public :: omlApiVersion
   public :: omlLoadModel
   public :: omlFreeModel
   public :: omlNumElements
   public :: omlNumFeatures
   public :: omlMaxAlphas
   public :: omlElementIndex
   public :: omlElementSymbol
   public :: omlNumAlphas
   public :: omlModelAlphas
   public :: omlModelIsolatedCoeffs
   public :: omlModelChargeColumns
   public :: omlComputeDescriptors
   public :: omlPredictFromDescriptors
   public :: omlPredictCoeffs
   public :: omlWriteScfV
   public :: omlAlphaRelTol
   public :: omlCheckPotTypes
   public :: omlFillPotCoeffs
   public :: omlNumMembers
   public :: omlHandoverThreshold
   public :: omlHasExpectedIterations
   public :: omlExpectedIterations
   public :: omlMaxIterationGroups, omlGroupNameLen
   public :: omlNumIterationGroups
   public :: omlIterationGroupName
   public :: omlIterationGroup
   public :: omlExpectedIterationsInGroup
   public :: omlPredictEnsembleFromDescriptors
   public :: omlPredictEnsemble
   public :: OML_DomainType, omlDomainFormatVersion
   public :: omlLoadDomain
   public :: omlFreeDomain
   public :: omlDomainRatio
   public :: omlMedianDomain
   public :: omlDomainHandoverThreshold

   !> Largest relative difference accepted between a run's exponents and
   !> the model's (|alpha_run - alpha_model| <= this * alpha_model):
   !> olcao.dat stores the exponents' range with 7 digits.
   real (kind=omlDouble), parameter :: omlAlphaRelTol = 1.0e-6_omlDouble

contains

   !> 10000 major + 100 minor + patch.
   pure integer function omlApiVersion ()

      implicit none

      omlApiVersion = 10000 * omlApiMajor + 100 * omlApiMinor + omlApiPatch

   end function omlApiVersion

   !> Read a model exported by "olcaoml export MODEL -o model.oml".
   subroutine omlLoadModel (model, path, status, message)

      implicit none

      type (OML_ModelType), intent(out) :: model
      character (len=*), intent(in) :: path
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call readModel (model, path, status, message)

   end subroutine omlLoadModel

   !> Release the memory of a model (it may be loaded again later).
   subroutine omlFreeModel (model)

      implicit none

      type (OML_ModelType), intent(inout) :: model

      call clearModel (model)

   end subroutine omlFreeModel

   !> Number of descriptor elements (valid element indices: 1..this).
   pure integer function omlNumElements (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlNumElements = model%numElements

   end function omlNumElements

   !> Length K of each atom's descriptor vector.
   pure integer function omlNumFeatures (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlNumFeatures = model%numFeatures

   end function omlNumFeatures

   !> Largest NUM_ALPHAS of the model's elements: enough rows for coeffs.
   pure integer function omlMaxAlphas (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlMaxAlphas = model%maxAlphas

   end function omlMaxAlphas

   !> Element index of a symbol in any of OLCAO's spellings ('si',
   !> 'Si', 'si1'); 0 when the model does not know the element.
   pure integer function omlElementIndex (model, symbol)

      implicit none

      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: symbol

      omlElementIndex = elementIndex(model, symbol)

   end function omlElementIndex

   !> The symbol ('Si') of an element index; blank when out of range.
   pure function omlElementSymbol (model, element) result (symbol)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element
      character (len=omlSymbolLen) :: symbol

      symbol = ''
      if (element >= 1 .and. element <= model%numElements) &
            & symbol = model%symbols(element)

   end function omlElementSymbol

   !> NUM_ALPHAS of an element; 0 when the model has no network for it.
   pure integer function omlNumAlphas (model, element)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element

      omlNumAlphas = 0
      if (element < 1 .or. element > model%numElements) return
      if (model%networkOf(element) == 0) return
      omlNumAlphas = model%networks(model%networkOf(element))%numAlphas

   end function omlNumAlphas

   !> The exponents alpha_i (Bohr^-2) the element's network predicts for;
   !> alphas must have NUM_ALPHAS entries.
   subroutine omlModelAlphas (model, element, alphas, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element
      real (kind=omlDouble), intent(out) :: alphas(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: net

      call networkOfElement (model, element, size(alphas), net, status, &
            & message)
      if (status /= omlSuccess) return
      alphas(:) = model%networks(net)%alphas

   end subroutine omlModelAlphas

   !> The isolated-atom coefficients (Hartree; atomicPDB coeff1, OLCAO's
   !> default SCF start) of an element.
   subroutine omlModelIsolatedCoeffs (model, element, coeffs, status, &
         & message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element
      real (kind=omlDouble), intent(out) :: coeffs(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: net

      call networkOfElement (model, element, size(coeffs), net, status, &
            & message)
      if (status /= omlSuccess) return
      coeffs(:) = model%networks(net)%isolated

   end subroutine omlModelIsolatedCoeffs

   !> Columns 3-5 of scfV.dat (total and valence charge coefficients,
   !> spin difference) that pyolcaoml writes beside predicted A_i: the
   !> isolated atom's.  charges(3, NUM_ALPHAS).
   subroutine omlModelChargeColumns (model, element, charges, status, &
         & message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element
      real (kind=omlDouble), intent(out) :: charges(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: net

      call networkOfElement (model, element, size(charges, 2), net, &
            & status, message)
      if (status /= omlSuccess) return
      if (size(charges, 1) /= 3) then
         call setStatus (status, message, omlErrArgument, &
               & 'charges: must be (3, NUM_ALPHAS)')
         return
      endif
      charges(:,:) = model%networks(net)%charges

   end subroutine omlModelChargeColumns

   !> Bispectrum descriptors (the model's settings) of the centres.
   !>   descriptors(K, numCentres), K = omlNumFeatures(model)
   subroutine omlComputeDescriptors (model, realVectors, positions, &
         & elementOf, numThreads, descriptors, status, message, centres)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: descriptors(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in), optional :: centres(:)

      integer, allocatable :: allAtoms(:)
      integer :: i, allocStat

      if (present(centres)) then
         call computeDescriptors (model, realVectors, positions, &
               & elementOf, centres, numThreads, descriptors, status, &
               & message)
      else
         allocate (allAtoms(size(positions, 2)), stat=allocStat)
         if (allocStat /= 0) then
            call setStatus (status, message, omlErrMemory, &
                  & 'descriptors: out of memory')
            return
         endif
         allAtoms = (/ (i, i = 1, size(positions, 2)) /)
         call computeDescriptors (model, realVectors, positions, &
               & elementOf, allAtoms, numThreads, descriptors, status, &
               & message)
      endif

   end subroutine omlComputeDescriptors

   !> A_i (Hartree) from descriptors already computed.
   !>   elementOf(i)  element index of atom i; descriptors(K, i); coeffs(ld, i)
   subroutine omlPredictFromDescriptors (model, elementOf, descriptors, &
         & numThreads, coeffs, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: elementOf(:)
      real (kind=omlDouble), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: coeffs(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call predictFromDescriptors (model, elementOf, descriptors, &
            & numThreads, coeffs, status, message)

   end subroutine omlPredictFromDescriptors

   !> The whole prediction: descriptors, then the networks.
   !>   coeffs(ld, numCentres), ld >= the largest NUM_ALPHAS of the
   !>   centres' elements (omlMaxAlphas(model) is always enough)
   subroutine omlPredictCoeffs (model, realVectors, positions, elementOf, &
         & numThreads, coeffs, status, message, centres)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: coeffs(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in), optional :: centres(:)

      real (kind=omlDouble), allocatable :: descriptors(:,:)
      integer, allocatable :: centreElements(:)

      if (size(coeffs, 2) /= numCentresOf(positions, centres)) then
         call setStatus (status, message, omlErrArgument, &
               & 'coeffs: need one column per centre (' // &
               & intToChar(numCentresOf(positions, centres)) // ')')
         return
      endif
      call centreDescriptors (model, realVectors, positions, elementOf, &
            & numThreads, descriptors, centreElements, status, message, &
            & centres)
      if (status /= omlSuccess) return
      call predictFromDescriptors (model, centreElements, descriptors, &
            & numThreads, coeffs, status, message)

   end subroutine omlPredictCoeffs

   !> Number of central atoms: the given subset, else every atom.
   pure integer function numCentresOf (positions, centres)

      implicit none

      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in), optional :: centres(:)

      if (present(centres)) then
         numCentresOf = size(centres)
      else
         numCentresOf = size(positions, 2)
      endif

   end function numCentresOf

   !> The descriptors of the central atoms (all atoms, or centres) and the
   !> model element of each centre: the first half of every prediction
   !> from a structure (omlPredictCoeffs, omlPredictEnsemble).
   subroutine centreDescriptors (model, realVectors, positions, elementOf, &
         & numThreads, descriptors, centreElements, status, message, centres)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), allocatable, intent(out) :: descriptors(:,:)
      integer, allocatable, intent(out) :: centreElements(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in), optional :: centres(:)

      integer :: numCentres, i, allocStat

      numCentres = numCentresOf(positions, centres)
      allocate (descriptors(model%numFeatures, numCentres), &
            & centreElements(numCentres), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'predict: out of memory for the descriptors')
         return
      endif
      if (present(centres)) then
         centreElements(:) = centres
      else
         centreElements(:) = (/ (i, i = 1, numCentres) /)
      endif
      call computeDescriptors (model, realVectors, positions, elementOf, &
            & centreElements, numThreads, descriptors, status, message)
      if (status /= omlSuccess) return

      ! The element of each centre (the indices were checked above).
      do i = 1, numCentres
         centreElements(i) = elementOf(centreElements(i))
      enddo

   end subroutine centreDescriptors

   !> Write scfV.dat in OLCAO's layout (see OML_ScfV): numTerms(t) terms
   !> per potential type, tableUp(5, sum(numTerms)) the rows of all types
   !> one after the other; tableDn optional (default: the same rows).
   !> An existing file at path is replaced without asking (through a
   !> temporary file and a rename; on failure it is left as it was).
   subroutine omlWriteScfV (path, numTerms, tableUp, status, message, &
         & tableDn)

      implicit none

      character (len=*), intent(in) :: path
      integer, intent(in) :: numTerms(:)
      real (kind=omlDouble), intent(in) :: tableUp(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      real (kind=omlDouble), intent(in), optional :: tableDn(:,:)

      call writeScfV (path, numTerms, tableUp, status, message, tableDn)

   end subroutine omlWriteScfV

   !> The network of an element, checking that an array of size n fits it.
   subroutine networkOfElement (model, element, n, net, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: element, n
      integer, intent(out) :: net
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      status = omlSuccess
      message = ''
      net = 0
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      if (element < 1 .or. element > model%numElements) then
         call setStatus (status, message, omlErrElement, &
               & 'element: index ' // intToChar(element) // &
               & ' is outside 1..' // intToChar(model%numElements))
         return
      endif
      net = model%networkOf(element)
      if (net == 0) then
         call setStatus (status, message, omlErrElement, &
               & 'element: the model has no network for ' // &
               & trim(model%symbols(element)))
         return
      endif
      if (n /= model%networks(net)%numAlphas) then
         call setStatus (status, message, omlErrArgument, &
               & 'element ' // trim(model%symbols(element)) // ' has ' // &
               & intToChar(model%networks(net)%numAlphas) // &
               & ' terms, the array has room for ' // intToChar(n))
         net = 0
         return
      endif

   end subroutine networkOfElement

   ! ------------------------------------------------------------------
   ! OLCAO's own layout: one flat coefficient vector per spin, indexed
   ! by potential type.
   !
   ! OLCAO keeps the site potential of every potential TYPE t as
   ! numTerms(t) Gaussian terms A_k exp(-alpha_k r^2).  The terms of all
   ! types lie one after the other in a flat vector (length potDim):
   ! type t owns positions typeOffsets(t)+1 .. typeOffsets(t)+numTerms(t)
   ! (OLCAO's potTypes(t)%cumulAlphaSum), the exponents in potAlphas(:)
   ! and the coefficients, one column per spin, in potCoeffs(:, spin).
   ! The network predicts one potential per ATOM, so each type must hold
   ! exactly one atom (a run made with every atom its own type); the
   ! model's exponents must be the run's, or the A_k would multiply
   ! Gaussians of other widths.
   ! ------------------------------------------------------------------

   !> Check that a run's potential types fit the model, before any work:
   !> every atom's type is in 1..numTypes, every type holds exactly one
   !> atom, whose element has a network; the type's terms (from the
   !> offsets) are as many as the network's NUM_ALPHAS and its exponents
   !> equal the model's to omlAlphaRelTol.  The first type that fails is
   !> named in the message (and in badType when given; 0 when all pass).
   !>   elementOf(atom)      model element index of each atom
   !>   potTypeOfAtom(atom)  potential type (1..numTypes) of each atom
   !>   typeOffsets(type)    terms before the type (cumulAlphaSum): 0 for
   !>                        the first type, increasing
   !>   potAlphas(potDim)    exponents (Bohr^-2) of all terms of all types
   subroutine omlCheckPotTypes (model, elementOf, potTypeOfAtom, &
         & typeOffsets, potAlphas, status, message, badType)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: potTypeOfAtom(:)
      integer, intent(in) :: typeOffsets(:)
      real (kind=omlDouble), intent(in) :: potAlphas(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(out), optional :: badType

      integer, allocatable :: atomOfType(:)
      integer :: numAtoms, numTypes, potDim, i, t, k, n, e, net
      integer :: first, allocStat
      real (kind=omlDouble) :: want, got

      status = omlSuccess
      message = ''
      if (present(badType)) badType = 0
      numAtoms = size(elementOf)
      numTypes = size(typeOffsets)
      potDim = size(potAlphas)
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      if (numAtoms < 1 .or. size(potTypeOfAtom) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'potTypeOfAtom: need one type per atom (' // &
               & intToChar(numAtoms) // '), got ' // &
               & intToChar(size(potTypeOfAtom)))
         return
      endif
      if (numTypes < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'typeOffsets: no potential types')
         return
      endif

      ! The offsets must tile 1..potDim: type t owns the terms up to the
      ! next type's offset (the last type: up to potDim).
      do t = 1, numTypes
         first = 0
         if (t > 1) first = typeOffsets(t - 1) + 1
         if (typeOffsets(t) /= 0 .and. t == 1 .or. &
               & typeOffsets(t) < first .or. typeOffsets(t) >= potDim) then
            call setStatus (status, message, omlErrArgument, &
                  & 'typeOffsets: type ' // intToChar(t) // &
                  & ' starts after term ' // intToChar(typeOffsets(t)) // &
                  & '; the offsets must start at 0 and increase, below ' &
                  & // 'the number of terms (' // intToChar(potDim) // ')')
            if (present(badType)) badType = t
            return
         endif
      enddo

      ! One atom per type.
      allocate (atomOfType(numTypes), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'potential types: out of memory')
         return
      endif
      atomOfType(:) = 0
      do i = 1, numAtoms
         t = potTypeOfAtom(i)
         if (t < 1 .or. t > numTypes) then
            call setStatus (status, message, omlErrArgument, &
                  & 'potTypeOfAtom: atom ' // intToChar(i) // ' has type ' &
                  & // intToChar(t) // ', outside 1..' // intToChar(numTypes))
            return
         endif
         if (atomOfType(t) /= 0) then
            call setStatus (status, message, omlErrArgument, &
                  & 'potential type ' // intToChar(t) // ' is shared by ' &
                  & // 'atoms ' // intToChar(atomOfType(t)) // ' and ' // &
                  & intToChar(i) // ': the model predicts one potential ' &
                  & // 'per atom, so every atom needs its own type')
            if (present(badType)) badType = t
            return
         endif
         atomOfType(t) = i
      enddo

      do t = 1, numTypes
         i = atomOfType(t)
         if (i == 0) then
            call setStatus (status, message, omlErrArgument, &
                  & 'potential type ' // intToChar(t) // ' has no atom')
            if (present(badType)) badType = t
            return
         endif
         e = elementOf(i)
         net = 0
         if (e >= 1 .and. e <= model%numElements) net = model%networkOf(e)
         if (net == 0) then
            call setStatus (status, message, omlErrElement, &
                  & 'potential type ' // intToChar(t) // ' (atom ' // &
                  & intToChar(i) // '): element index ' // intToChar(e) // &
                  & ' has no network in the model')
            if (present(badType)) badType = t
            return
         endif
         if (t < numTypes) then
            n = typeOffsets(t + 1) - typeOffsets(t)
         else
            n = potDim - typeOffsets(t)
         endif
         if (n /= model%networks(net)%numAlphas) then
            call setStatus (status, message, omlErrArgument, &
                  & 'potential type ' // intToChar(t) // ' (atom ' // &
                  & intToChar(i) // ', ' // trim(model%symbols(e)) // &
                  & ') has ' // intToChar(n) // ' terms, the model''s ' // &
                  & trim(model%symbols(e)) // ' network ' // &
                  & intToChar(model%networks(net)%numAlphas))
            if (present(badType)) badType = t
            return
         endif
         do k = 1, n
            want = model%networks(net)%alphas(k)
            got = potAlphas(typeOffsets(t) + k)
            if (.not. (abs(got - want) <= omlAlphaRelTol * abs(want))) then
               call setStatus (status, message, omlErrArgument, &
                     & 'potential type ' // intToChar(t) // ' (atom ' // &
                     & intToChar(i) // ', ' // trim(model%symbols(e)) // &
                     & '): exponent ' // intToChar(k) // ' is ' // &
                     & realToChar(got) // ' Bohr^-2, the model''s ' // &
                     & realToChar(want) // ' (relative tolerance 1e-6)')
               if (present(badType)) badType = t
               return
            endif
         enddo
      enddo

   end subroutine omlCheckPotTypes

   !> Fill OLCAO's flat coefficient array from the model: the A_k
   !> (Hartree) of each potential type's atom, at the type's offset, in
   !> every spin column (the model predicts the spin-averaged potential;
   !> a spin-polarised run starts from the same values for both spins).
   !> Everything is checked first (omlCheckPotTypes); on any failure
   !> potCoeffs is left unchanged.
   !>   realVectors(xyz, abc), positions(xyz, atom)   Bohr
   !>   potCoeffs(potDim, numSpins)   potDim = size(potAlphas)
   subroutine omlFillPotCoeffs (model, realVectors, positions, elementOf, &
         & potTypeOfAtom, typeOffsets, potAlphas, numThreads, potCoeffs, &
         & status, message, badType)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: potTypeOfAtom(:)
      integer, intent(in) :: typeOffsets(:)
      real (kind=omlDouble), intent(in) :: potAlphas(:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(inout) :: potCoeffs(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(out), optional :: badType

      real (kind=omlDouble), allocatable :: coeffs(:,:)
      integer :: numAtoms, i, t, n, allocStat

      numAtoms = size(positions, 2)
      if (size(elementOf) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'elementOf: need one element per atom (' // &
               & intToChar(numAtoms) // '), got ' // &
               & intToChar(size(elementOf)))
         if (present(badType)) badType = 0
         return
      endif
      call omlCheckPotTypes (model, elementOf, potTypeOfAtom, &
            & typeOffsets, potAlphas, status, message, badType)
      if (status /= omlSuccess) return
      if (size(potCoeffs, 1) /= size(potAlphas) .or. &
            & size(potCoeffs, 2) < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'potCoeffs: must be (' // intToChar(size(potAlphas)) // &
               & ', number of spins), one row per term of potAlphas')
         return
      endif

      allocate (coeffs(model%maxAlphas, numAtoms), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'potCoeffs: out of memory for the prediction')
         return
      endif
      call omlPredictCoeffs (model, realVectors, positions, elementOf, &
            & numThreads, coeffs, status, message)
      if (status /= omlSuccess) return

      ! Each atom's A_k go to its type's terms, in every spin column
      ! (offsets were checked: they tile 1..potDim).
      do i = 1, numAtoms
         t = potTypeOfAtom(i)
         n = omlNumAlphas(model, elementOf(i))
         potCoeffs(typeOffsets(t) + 1:typeOffsets(t) + n, :) = &
               & spread(coeffs(1:n, i), 2, size(potCoeffs, 2))
      enddo

   end subroutine omlFillPotCoeffs

   !> A real as text for messages (6 significant digits).
   function realToChar (value) result (text)

      implicit none

      real (kind=omlDouble), intent(in) :: value
      character (len=:), allocatable :: text
      character (len=24) :: buffer

      write (buffer, '(es12.5)') value
      text = trim(adjustl(buffer))

   end function realToChar

   ! ------------------------------------------------------------------
   ! Ensembles: the mean and each atom's sigma
   ! ------------------------------------------------------------------

   !> Networks per element (1: a single network, no sigma).
   pure integer function omlNumMembers (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlNumMembers = model%numMembers

   end function omlNumMembers

   !> The model's handover threshold (Hartree; HANDOVER_MEDIAN_SIGMA of a
   !> version 7 file), 0.0 when it records none.  The rule it serves, as
   !> olcaoml predict applies it (pyolcaoml.model.handover): when every
   !> atom of the structure is Si and the median over the atoms of the
   !> sigma from omlPredictEnsemble with this model exceeds the threshold,
   !> the structure is amorphous and is better predicted by the a-Si model
   !> ("olcaoml export asi -o asi.oml": the same descriptors and
   !> exponents).  The library applies no rule itself.
   pure real (kind=omlDouble) function omlHandoverThreshold (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlHandoverThreshold = model%handoverMedianSigma

   end function omlHandoverThreshold

   !> Does the model carry the expected OLCAO iterations (format 8)?
   pure logical function omlHasExpectedIterations (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlHasExpectedIterations = model%iterations%present

   end function omlHasExpectedIterations

   !> How many SCF iterations OLCAO is expected to need from the model's
   !> start, for a structure of numAtoms atoms whose largest sigma over
   !> its atoms (omlPredictEnsemble, Hartree) is maxSigma: the numbers
   !> "olcaoml predict" prints, the same integers (OML_Iterations).
   !> OLCAO's convergence value is a maximum over the potential sites, so
   !> the worst-predicted atom sets it: pass the largest sigma, not the
   !> mean.
   !>   expected(1:3)         iterations to OLCAO's CONVERGENCE_TEST (the
   !>                         reference runs': 1e-4) from the model's
   !>                         start: expected, and the low and high ends
   !>                         of an 80 % range
   !>   defaultExpected(1:3)  the same from OLCAO's default start, -1 each
   !>                         where the model has no such fit
   !>   outside               numAtoms (or, for the sigma fits,
   !>                         maxSigma) lies outside the reference runs'
   !>                         range: the numbers are a rough guide there
   !> A model without the numbers (format 1-7, or a reference that was
   !> left out): omlSuccess, -1 everywhere and outside false.  These are
   !> the numbers of the general cells (group 0): a model with iteration
   !> groups (format 9) has others for the structures of a group
   !> (omlIterationGroup, omlExpectedIterationsInGroup).
   subroutine omlExpectedIterations (model, numAtoms, maxSigma, expected, &
         & defaultExpected, outside, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: numAtoms
      real (kind=omlDouble), intent(in) :: maxSigma
      integer, intent(out) :: expected(3)
      integer, intent(out) :: defaultExpected(3)
      logical, intent(out) :: outside
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call omlExpectedIterationsInGroup (model, 0, numAtoms, maxSigma, &
            & expected, defaultExpected, outside, status, message)

   end subroutine omlExpectedIterations

   ! ------------------------------------------------------------------
   ! Iteration groups (API 2.5, model format 9; OML_Iterations)
   ! ------------------------------------------------------------------

   !> Number of iteration groups n (0 for formats 1-8); valid groups are
   !> 0 (the general cells) to n.
   pure integer function omlNumIterationGroups (model)

      implicit none

      type (OML_ModelType), intent(in) :: model

      omlNumIterationGroups = model%numIterationGroups

   end function omlNumIterationGroups

   !> The name of group g as the model file gives it ('si_vacancy');
   !> 'general' for group 0, blank for a group outside 0..n.
   pure function omlIterationGroupName (model, group) result (name)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: group
      character (len=omlGroupNameLen) :: name

      name = ''
      if (group == 0) then
         name = omlGeneralGroupName
      elseif (group >= 1 .and. group <= model%numIterationGroups) then
         name = model%iterationGroups(group)%name
      endif

   end function omlIterationGroupName

   !> The iteration group of a structure: the first group g = 1..n whose
   !> rule it matches (at least minAtoms atoms of the group's element with
   !> exactly its number of neighbours closer than its cutoff, in a
   !> structure holding the element it requires), else 0.  Always 0 for
   !> a model without groups; the arguments are checked either way.
   !>   realVectors(xyz, abc), positions(xyz, atom)   Bohr
   !>   elementOf(atom)   the model's element index of every atom
   !> On failure group is -1 (which omlExpectedIterationsInGroup refuses)
   !> and status says why.
   subroutine omlIterationGroup (model, realVectors, positions, elementOf, &
         & numThreads, group, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      integer, intent(out) :: group
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call iterationGroupOf (model, realVectors, positions, elementOf, &
            & numThreads, group, status, message)

   end subroutine omlIterationGroup

   !> omlExpectedIterations for the structures of one group: group 0 gives
   !> the general numbers (exactly omlExpectedIterations), group g = 1..n
   !> the fit of that group's reference runs, evaluated the same way.  A
   !> group outside 0..n is omlErrArgument (then -1 and false are
   !> returned), for a model without numbers too.
   subroutine omlExpectedIterationsInGroup (model, group, numAtoms, &
         & maxSigma, expected, defaultExpected, outside, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: group
      integer, intent(in) :: numAtoms
      real (kind=omlDouble), intent(in) :: maxSigma
      integer, intent(out) :: expected(3)
      integer, intent(out) :: defaultExpected(3)
      logical, intent(out) :: outside
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      status = omlSuccess
      message = ''
      expected(:) = -1
      defaultExpected(:) = -1
      outside = .false.
      if (group < 0 .or. group > model%numIterationGroups) then
         call setStatus (status, message, omlErrArgument, &
               & 'group: ' // intToChar(group) // ' is outside 0..' // &
               & intToChar(model%numIterationGroups) // ' (the model''s ' &
               & // 'iteration groups)')
         return
      endif
      if (.not. model%iterations%present) return
      if (numAtoms < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'numAtoms: must be at least 1, got ' // intToChar(numAtoms))
         return
      endif
      if (.not. ieee_is_finite(maxSigma)) then
         call setStatus (status, message, omlErrArgument, &
               & 'maxSigma: must be a finite number > 0 (Hartree)')
         return
      endif
      if (.not. (maxSigma > 0.0_omlDouble)) then
         call setStatus (status, message, omlErrArgument, &
               & 'maxSigma: must be a finite number > 0 (Hartree), got ' &
               & // realToChar(maxSigma))
         return
      endif
      if (group == 0) then
         call expectedIterations (model%iterations, numAtoms, maxSigma, &
               & expected, defaultExpected, outside)
      else
         call expectedIterations (model%iterationGroups(group)%iterations, &
               & numAtoms, maxSigma, expected, defaultExpected, outside)
      endif

   end subroutine omlExpectedIterationsInGroup

   !> Ensemble mean A_i (Hartree) and sigma (Hartree: the predicted RMS
   !> error of V(r), r in [0.05, 6] Bohr, weight r^2 dr, of each atom)
   !> from descriptors already computed.  The same bits as pyolcaoml's
   !> PotentialModel.predict_uncertainty given the same member outputs.
   !>   sigma(i)  one value per atom; a single-network model: omlErrState
   subroutine omlPredictEnsembleFromDescriptors (model, elementOf, &
         & descriptors, numThreads, coeffs, sigma, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: elementOf(:)
      real (kind=omlDouble), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: coeffs(:,:)
      real (kind=omlDouble), intent(out) :: sigma(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call ensemblePredict (model, elementOf, descriptors, numThreads, &
            & coeffs, status, message, sigma)

   end subroutine omlPredictEnsembleFromDescriptors

   !> Descriptors, then the ensemble: mean coeffs(ld, numCentres) and
   !> sigma(numCentres) (Hartree).  Arguments as omlPredictCoeffs.
   subroutine omlPredictEnsemble (model, realVectors, positions, &
         & elementOf, numThreads, coeffs, sigma, status, message, centres)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=omlDouble), intent(in) :: realVectors(3,3)
      real (kind=omlDouble), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: coeffs(:,:)
      real (kind=omlDouble), intent(out) :: sigma(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in), optional :: centres(:)

      real (kind=omlDouble), allocatable :: descriptors(:,:)
      integer, allocatable :: centreElements(:)
      integer :: numCentres

      numCentres = numCentresOf(positions, centres)
      if (size(coeffs, 2) /= numCentres .or. size(sigma) /= numCentres) &
            & then
         call setStatus (status, message, omlErrArgument, &
               & 'coeffs, sigma: need one column/value per centre (' // &
               & intToChar(numCentres) // ')')
         return
      endif
      call centreDescriptors (model, realVectors, positions, elementOf, &
            & numThreads, descriptors, centreElements, status, message, &
            & centres)
      if (status /= omlSuccess) return
      call ensemblePredict (model, centreElements, descriptors, numThreads, &
            & coeffs, status, message, sigma)

   end subroutine omlPredictEnsemble

   ! ------------------------------------------------------------------
   ! Applicability distance (API 2.3; OML_Domain explains the measure)
   ! ------------------------------------------------------------------

   !> Read the domain file written beside the model by "olcaoml export
   !> MODEL -o model.oml --domain model.omld", for that loaded model.
   subroutine omlLoadDomain (domain, model, path, status, message)

      implicit none

      type (OML_DomainType), intent(inout) :: domain
      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: path
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call readDomain (domain, model, path, status, message)

   end subroutine omlLoadDomain

   !> Release a domain's memory.
   subroutine omlFreeDomain (domain)

      implicit none

      type (OML_DomainType), intent(inout) :: domain

      call clearDomain (domain)

   end subroutine omlFreeDomain

   !> Each atom's applicability distance over its element's threshold
   !> (above 1: an environment unlike the training atoms; NaN for an
   !> element the domain lacks), from descriptors(K, n) of
   !> omlComputeDescriptors and the model's elementOf(n).  Independent of
   !> numThreads to the bit.
   subroutine omlDomainRatio (domain, elementOf, descriptors, numThreads, &
         & ratio, status, message)

      implicit none

      type (OML_DomainType), intent(in) :: domain
      integer, intent(in) :: elementOf(:)
      real (kind=omlDouble), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=omlDouble), intent(out) :: ratio(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call domainRatio (domain, elementOf, descriptors, numThreads, ratio, &
            & status, message)

   end subroutine omlDomainRatio

   !> Median of the finite values (NaN when none; numpy.median's rule).
   function omlMedianDomain (ratio) result (median)

      implicit none

      real (kind=omlDouble), intent(in) :: ratio(:)
      real (kind=omlDouble) :: median

      median = medianOfFinite(ratio)

   end function omlMedianDomain

   !> The median applicability distance above which the model hands a
   !> structure with C to the amorphous SiC model, as olcaoml predict
   !> does (pyolcaoml.model.handover), 0.0 when the domain records none.
   !> The rule: the structure has a C atom and omlMedianDomain(ratio)
   !> over all its atoms exceeds this; then predict it with the amorphous
   !> SiC model ("olcaoml export sicam -o sicam.oml") instead.
   pure real (kind=omlDouble) function omlDomainHandoverThreshold (domain)

      implicit none

      type (OML_DomainType), intent(in) :: domain

      omlDomainHandoverThreshold = domain%handoverMedianDomain

   end function omlDomainHandoverThreshold

end module OML_Library
