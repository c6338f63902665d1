!! OML_Model: an exported pyolcaoml model (descriptor settings plus one
!! neural network per element) read from its text file, and the forward
!! pass that turns an atom's bispectrum into its potential coefficients.
!!
!! The file is written by "olcaoml export MODEL -o model.oml" (see
!! pyolcaoml/export.py, where every keyword is documented).  In short:
!!
!!    OLCAOML_MODEL 1                      magic word and format version
!!    CREATOR ...                          free text (ignored)
!!    LENGTH_UNIT angstrom                 unit of the descriptor radii
!!    DESCRIPTOR_ELEMENTS n                then n lines: symbol radius weight
!!    DESCRIPTOR_BLOCKS m                  then m lines: BISPECTRUM twoJMax
!!                                         rCutFac rFac0 rMin0 switch bZero
!!                                         bNorm wSelfAll chem
!!    NUM_FEATURES K
!!    NUM_NETWORKS p                       then p NETWORK ... END_NETWORK
!!    END
!!
!! and in each NETWORK block: NUM_ALPHAS, ALPHAS, ISOLATED_COEFFS,
!! CHARGE_COLUMNS, "NORMALIZATION name eps", MEAN, VARIANCE, NUM_LAYERS and
!! the layers, each either "DENSE name input numIn numOut activation" with
!! WEIGHTS and BIAS, or "ADD name width numInputs input1 input2 ...".  Lines
!! that start with '#' and blank lines are comments wherever a keyword is
!! expected.  Numbers are read with list-directed input, so they may be
!! spread over as many lines as the writer likes.
!!
!! Units.  The descriptor settings are in Angstrom, as the network was
!! trained in Python; the caller gives OLCAO's Bohr, and computeDescriptors
!! converts with the same factor (bohrRad of OML_Kinds) and the same
!! multiplication as the Python readers, so the descriptors are identical
!! to the last bit.  Exponents are in Bohr^-2, coefficients in Hartree.
!!
!! The network of one element (the Keras layout of pyolcaoml.model.network)
!! is a small graph evaluated layer by layer in file order:
!!    u = (x - mean) / max(sqrt(variance), eps)      Keras Normalization
!!    DENSE:  out = act(W in + b)                     Keras Dense
!!    ADD:    out = in_1 + in_2 + ...                 Keras Add
!! Each layer reads u or the output of an earlier layer; the last layer
!! gives A_i.  pyolcaoml's networks are a chain of Dense layers, optionally
!! with a linear Dense branch from u (the ridge model) added to the latent
!! layer, and end with the fixed linear output map A = A_iso + mu + B z of
!! the model's well-conditioned output basis.
!!
!! Ensembles (format version 2).  "NUM_MEMBERS M" after NUM_FEATURES says
!! that every element has M networks (the members, trained on bootstrap
!! resamples with different seeds); NUM_NETWORKS counts them all, and the
!! k-th NETWORK block of an element is its member k.  After the networks,
!! one block per element gives what the uncertainty needs:
!!    UNCERTAINTY symbol
!!    SIGMA_SCALE s                        calibration of the spread
!!    SIGMA_FLOOR f                        (Hartree)
!!    GRAM                                 N x N: the V(r) metric
!! (see OML_Ensemble).  The prediction of an ensemble is the members' mean;
!! ensemblePredict also gives each atom's sigma.  Version 1 files (one
!! network per element, no UNCERTAINTY) are read as ensembles of one.
!!
!! Environment variants (format version 3).  An element may have a second
!! set of networks, its variant, for those of its atoms that see another
!! kind of neighbourhood: in a Si + C model, the Si atoms with a C atom
!! within the cutoff.  Which atoms these are is read off the descriptor
!! itself: the components that involve the other element (the chem
!! blocks with a C index) are exactly 0.0 for a Si atom with no C
!! neighbour, so "any of these columns is nonzero" is the switch.  A
!! version 3 file is a version 1 or 2 file (NUM_MEMBERS present or not)
!! with, right after the last ordinary NETWORK block,
!!    NUM_VARIANTS v                       v >= 1 blocks follow
!!    VARIANT symbol                       an element with networks
!!    SWITCH_COLUMNS n                     then n column numbers 1..K,
!!                                         strictly increasing
!!    NETWORK symbol ... END_NETWORK       one per member (NUM_MEMBERS of
!!    ...                                  them, 1 without NUM_MEMBERS)
!!    END_VARIANT
!! and then, for an ensemble, the UNCERTAINTY blocks as in version 2, one
!! per element.  The variant's atoms see other neighbourhoods, so their
!! errors and the members' spread there behave differently: the block of
!! an element with a variant ends with their own calibration,
!!    UNCERTAINTY symbol
!!    SIGMA_SCALE s                        the element's other atoms
!!    SIGMA_FLOOR f
!!    GRAM                                 shared by both kinds of atoms
!!    VARIANT_SIGMA_SCALE sv               the atoms the variant predicts
!!    VARIANT_SIGMA_FLOOR fv               (Hartree)
!! These two records are required exactly when the element has a variant
!! (and forbidden otherwise); the same checks as SIGMA_SCALE and
!! SIGMA_FLOOR apply.  The mean is the members' mean either way.
!! NUM_NETWORKS counts the ordinary networks only; a variant's networks
!! have the same exponents as the element's ordinary ones, so the two
!! kinds of atoms of one element fill the same rows of the output.
!! Atom i of element e is predicted by the variant when e has one and
!! any(descriptors(switchColumns, i) /= 0), else by e's ordinary network;
!! its sigma then uses (sv, fv), else (s, f).
!!
!! The handover threshold (format version 7).  The bundled default Si
!! model hands the structures it has not learnt, amorphous Si, to a
!! second model (pyolcaoml.model.handover): a structure of Si alone whose
!! median sigma over its atoms exceeds a threshold chosen with the model
!! is predicted by the a-Si model instead.  The threshold belongs to the
!! model (its sigma is calibrated when it is trained, so another model
!! needs another threshold), hence it travels in the file: a version 7
!! file is a version 1-6 file of an ensemble with, as its last record,
!!    HANDOVER_MEDIAN_SIGMA t              Hartree, finite and > 0
!! before END.  The reader stores t (handoverMedianSigma; 0 in older
!! files: none recorded) and applies no rule itself: the caller predicts
!! with the model it chose and compares (omlHandoverThreshold).
!!
!! The expected OLCAO iterations (format version 8).  A model whose
!! directory holds reference OLCAO runs started from its predictions
!! carries the fit that "olcaoml predict" prints its expected iterations
!! from (OML_Iterations explains the numbers): a version 8 file is a
!! version 1-7 file of an ensemble, HANDOVER_MEDIAN_SIGMA optional, with
!! as its last records before END
!!    EXPECTED_ITERATIONS predictor numCells numNotConverged convergence
!!    ITERATIONS_FIT a b c qLow qHigh
!!    DEFAULT_ITERATIONS_FIT a b c qLow qHigh      (optional)
!!    ITERATIONS_DOMAIN sigmaMin sigmaMax atomsMin atomsMax sigmaApplies
!!          atomsApplies                           (on one line)
!! predictor: log_max_sigma, log_max_sigma_log_atoms or constant; the
!! counts >= 0, numNotConverged <= numCells, 0 < convergence < 1; the
!! fits finite with qLow <= qHigh (b = c = 0 for constant, c = 0 for
!! log_max_sigma); 0 < sigmaMin <= sigmaMax < 1 (Hartree), 1 <= atomsMin
!! <= atomsMax; the sigma flag 1 for the two sigma predictors and 0 for
!! constant, the atoms flag 1 for log_max_sigma_log_atoms and 0 or 1 for
!! the others (1 since stop 42: every fit was measured on cells of those
!! sizes only).  The reader stores them (iterations; present false in
!! older files) and omlExpectedIterations evaluates them.
!!
!! Iteration groups (format version 9).  A reference may split its cells
!! into groups that the geometry recognises (OML_Iterations explains the
!! rule; the first is the Si vacancy in SiC), each with its own fit: a
!! version 9 file is a version 8 file with, right after the
!! ITERATIONS_DOMAIN record of the general fit (group 0),
!!    ITERATION_GROUPS n                           1 <= n <= 8
!! and n times
!!    ITERATION_GROUP name element neighbours cutoff minAtoms requires
!!          numCells numNotConverged               (on one line)
!!    ITERATIONS_FIT a b c qLow qHigh
!!    DEFAULT_ITERATIONS_FIT a b c qLow qHigh      (optional)
!!    ITERATIONS_DOMAIN sigmaMin sigmaMax atomsMin atomsMax sigmaApplies
!!          atomsApplies                           (on one line)
!! e.g. "ITERATION_GROUP si_vacancy C 3 2.4500000000000002e+00 3 Si 28 0".
!! name: a word of at most 32 letters, digits or _ that does not begin
!! with a digit, not "general" (the name of group 0) and not given twice;
!! element: a descriptor element; neighbours >= 0; cutoff a length in
!! (0, 10] (LENGTH_UNIT, Angstrom); minAtoms >= 1; requires: a descriptor
!! element, or "-" for none; 1 <= numCells and 0 <= numNotConverged <=
!! numCells.  The three records after it are checked as in version 8,
!! with the predictor and convergence value of EXPECTED_ITERATIONS, which
!! every group shares.  The reader stores the groups (iterationGroups);
!! omlIterationGroup finds a structure's group and
!! omlExpectedIterationsInGroup evaluates its fit.
!!
!! A loaded model is never changed afterwards, so any number of threads
!! may share one model; all scratch space is local to each call.
module OML_Model

   use OML_Kinds, only: double, bohrRad
   use OML_Status
   use OML_Lattice
   use OML_Bispectrum
   use OML_Ensemble, only: ensembleMoments
   use OML_NeighbourMean, only: computeNeighbourMean, neighbourhoodOf
   use OML_CellList, only: checkCentres, checkElementIndices
   use OML_Iterations, only: OML_IterationsType, OML_IterationFitType, &
         & predictorCode, predictorLogMaxSigma, predictorConstant, &
         & predictorLogMaxSigmaLogAtoms, predictorName, &
         & OML_IterationGroupType, omlMaxIterationGroups, omlGroupNameLen, &
         & omlGeneralGroupName, omlMaxGroupCutoff, findIterationGroup

   implicit none
   private

   !> The newest file format version this reader understands (it reads
   !> every version from 1 on).
   integer, parameter, public :: omlModelFormatVersion = 9
   !> Most neighbour-mean hops a model may ask for (as pyolcaoml's
   !> MAX_HOPS).
   integer, parameter :: maxHops = 4

   !> Length of element symbols and layer names.
   integer, parameter, public :: omlSymbolLen = 16

   !> Activation functions (Keras names in the file).
   integer, parameter, public :: actLinear = 0
   integer, parameter, public :: actTanh = 1
   integer, parameter, public :: actRelu = 2
   integer, parameter, public :: actSilu = 3
   integer, parameter, public :: actSigmoid = 4
   integer, parameter, public :: actSoftplus = 5
   integer, parameter, public :: actGelu = 6

   !> Atoms pushed through the network together by one thread: enough to
   !> share out the work, few enough for the scratch space (every layer's
   !> output for these atoms) to stay in cache.
   integer, parameter :: blockAtoms = 128

   !> Layer kinds.
   integer, parameter, public :: layerDense = 1
   integer, parameter, public :: layerAdd = 2

   !> Length of layer names.
   integer, parameter, public :: omlNameLen = 64

   !> One layer of a network.
   type, public :: OML_LayerType
      integer :: kind = layerDense
      character (len=omlNameLen) :: name = ''
      !> Layers it reads (0: the normalised input u), in file order.
      integer, allocatable :: inputs(:)
      integer :: numIn = 0
      integer :: numOut = 0
      integer :: activation = actLinear
      !> Its output occupies rows rowOffset+1..rowOffset+numOut of the
      !> scratch space of the forward pass (u occupies rows 1..K).
      integer :: rowOffset = 0
      !> Dense only: weights(numOut, numIn) (the Keras kernel (numIn,
      !> numOut) as stored row by row, seen column by column), and bias.
      real (kind=double), allocatable :: weights(:,:)
      real (kind=double), allocatable :: bias(:)
   end type OML_LayerType

   !> The network of one element and what the element needs besides.
   type, public :: OML_NetworkType
      character (len=omlSymbolLen) :: symbol = ''
      !> Number of Gaussian terms N (NUM_ALPHAS of OLCAO).
      integer :: numAlphas = 0
      !> Exponents alpha_i (Bohr^-2), the isolated-atom coefficients
      !> (Hartree), and the charge columns 3-5 of scfV.dat (3, numAlphas).
      real (kind=double), allocatable :: alphas(:)
      real (kind=double), allocatable :: isolated(:)
      real (kind=double), allocatable :: charges(:,:)
      !> Normalisation: u = (x - normMean) / normScale.
      character (len=omlNameLen) :: normName = ''
      real (kind=double) :: normEpsilon = 0.0_double
      real (kind=double), allocatable :: normMean(:)
      real (kind=double), allocatable :: normVariance(:)
      real (kind=double), allocatable :: normScale(:)
      integer :: numLayers = 0
      type (OML_LayerType), allocatable :: layers(:)
      !> Rows of scratch space per atom: u and every layer's output.
      integer :: numRows = 0
   end type OML_NetworkType

   !> What sigma needs for one element (OML_Ensemble): the Gram matrix of
   !> the V(r) metric (numAlphas, numAlphas) and the calibration; for an
   !> element with a variant (version 3) also the calibration of the
   !> atoms that the variant predicts (VARIANT_SIGMA_SCALE and _FLOOR).
   type, public :: OML_UncertaintyType
      logical :: present = .false.
      real (kind=double) :: scale = 1.0_double
      real (kind=double) :: floor = 0.0_double
      real (kind=double), allocatable :: gram(:,:)
      real (kind=double) :: variantScale = 1.0_double
      real (kind=double) :: variantFloor = 0.0_double
   end type OML_UncertaintyType

   !> The switch of an element's environment variant (version 3): the
   !> descriptor columns (1..numFeatures, increasing) of which any nonzero
   !> value sends an atom to the variant's networks.
   type, public :: OML_SwitchType
      integer, allocatable :: columns(:)
   end type OML_SwitchType

   type, public :: OML_ModelType
      integer :: formatVersion = 0
      !> Descriptor elements, in the order of the descriptor (chem blocks).
      integer :: numElements = 0
      character (len=omlSymbolLen), allocatable :: symbols(:)
      !> Descriptor radius (Angstrom) and weight of each element.
      real (kind=double), allocatable :: radius(:)
      real (kind=double), allocatable :: weight(:)
      !> Bispectrum blocks stacked into the descriptor (one per scale).
      integer :: numBlocks = 0
      type (OML_SnapType), allocatable :: snaps(:)
      !> Neighbour mean (version 4, OML_NeighbourMean): the blocks'
      !> columns of every atom averaged over its neighbours, switched off
      !> between nbrInner(a,b) and nbrOuter(a,b) (Angstrom) for a centre
      !> of element a and a neighbour of element b (one range for every
      !> pair in version 4; version 5 may set pairs apart), appended to
      !> its own; version 6 may repeat the averaging numHops times (the
      !> means of the means: what atoms two bonds away see).
      logical :: hasNeighbourMean = .false.
      real (kind=double), allocatable :: nbrInner(:,:)
      real (kind=double), allocatable :: nbrOuter(:,:)
      integer :: numHops = 0
      !> Descriptor length K (the blocks' columns; numHops + 1 times that
      !> with a neighbour mean).
      integer :: numFeatures = 0
      !> Network of each descriptor element (0: the model has none).
      integer, allocatable :: networkOf(:)
      !> All networks: the file's NUM_NETWORKS ordinary ones first, then
      !> those of the variants (version 3), in file order.
      integer :: numNetworks = 0
      type (OML_NetworkType), allocatable :: networks(:)
      !> Largest NUM_ALPHAS of all networks.
      integer :: maxAlphas = 0
      logical :: ready = .false.
      !> Ensemble: members per element, memberOf(k, e) the network of
      !> member k of element e, and each element's uncertainty data.
      integer :: numMembers = 1
      integer, allocatable :: memberOf(:,:)
      type (OML_UncertaintyType), allocatable :: uncertainty(:)
      !> Environment variants (version 3; every entry 0 without): the
      !> variant network of element e (0: e has no variant), the network
      !> of member k of that variant, and the switch columns of e.  Like
      !> networkOf, variantOf is what the forward pass uses; ensemble
      !> members point it at their own variant network.
      integer, allocatable :: variantOf(:)
      integer, allocatable :: variantMemberOf(:,:)
      type (OML_SwitchType), allocatable :: switches(:)
      !> The handover threshold (version 7, Hartree): a structure of Si
      !> alone whose median sigma exceeds it goes to the a-Si model.
      !> 0 when the file records none (versions 1-6).
      real (kind=double) :: handoverMedianSigma = 0.0_double
      !> The expected OLCAO iterations (version 8; OML_Iterations):
      !> present false when the file carries none.
      type (OML_IterationsType) :: iterations
      !> The iteration groups (version 9; OML_Iterations), in file order:
      !> group g is iterationGroups(g); group 0, the cells of no group,
      !> has the estimate above.  None in older files.
      integer :: numIterationGroups = 0
      type (OML_IterationGroupType), allocatable :: iterationGroups(:)
   end type OML_ModelType

   !> Where the reader is in the file (for messages).  One record may be
   !> read ahead and handed back (peekRecord): it is then held here and
   !> the next nextRecord returns it again.
   type :: ModelReaderType
      integer :: unit = -1
      integer :: lineNo = 0
      character (len=:), allocatable :: path
      logical :: holding = .false.
      character (len=:), allocatable :: heldLine
   end type ModelReaderType

   interface
      !> log(1 + x) from the C library, accurate for small x.
      pure function c_log1p (x) bind(C, name='log1p')
         use, intrinsic :: iso_c_binding, only: c_double
         real (c_double), value :: x
         real (c_double) :: c_log1p
      end function c_log1p
   end interface

   interface readReals
      module procedure readReals1, readReals2
   end interface readReals

   public :: readModel
   public :: clearModel
   public :: canonicalSymbol
   public :: elementIndex
   public :: computeDescriptors
   public :: iterationGroupOf
   public :: predictFromDescriptors
   public :: ensemblePredict
   public :: activationCode
   public :: applyActivation

contains

   ! ------------------------------------------------------------------
   ! Element symbols
   ! ------------------------------------------------------------------

   !> 'si', 'SI', 'si1' and 'Si' all become 'Si': the letters only, the
   !> first one upper case (OLCAO writes lower case and species digits).
   pure function canonicalSymbol (text) result (symbol)

      implicit none

      character (len=*), intent(in) :: text
      character (len=omlSymbolLen) :: symbol

      integer :: i, n, code
      character :: ch

      symbol = ''
      n = 0
      do i = 1, len_trim(text)
         ch = text(i:i)
         code = iachar(ch)
         if (code >= iachar('A') .and. code <= iachar('Z')) then
            if (n > 0) ch = achar(code + 32)
         elseif (code >= iachar('a') .and. code <= iachar('z')) then
            if (n == 0) ch = achar(code - 32)
         else
            cycle
         endif
         n = n + 1
         if (n > omlSymbolLen) exit
         symbol(n:n) = ch
      enddo

   end function canonicalSymbol

   !> Descriptor element index (1..numElements) of an element symbol in
   !> any of OLCAO's spellings; 0 when the model does not know it.
   pure integer function elementIndex (model, text)

      implicit none

      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: text

      character (len=omlSymbolLen) :: symbol
      integer :: e

      elementIndex = 0
      symbol = canonicalSymbol(text)
      if (len_trim(symbol) == 0) return
      do e = 1, model%numElements
         if (model%symbols(e) == symbol) then
            elementIndex = e
            return
         endif
      enddo

   end function elementIndex

   ! ------------------------------------------------------------------
   ! Activations
   ! ------------------------------------------------------------------

   !> The code of a Keras activation name; -1 when it is not supported.
   integer function activationCode (name)

      implicit none

      character (len=*), intent(in) :: name

      select case (trim(name))
      case ('linear')
         activationCode = actLinear
      case ('tanh')
         activationCode = actTanh
      case ('relu')
         activationCode = actRelu
      case ('silu', 'swish')
         activationCode = actSilu
      case ('sigmoid')
         activationCode = actSigmoid
      case ('softplus')
         activationCode = actSoftplus
      case ('gelu')
         activationCode = actGelu
      case default
         activationCode = -1
      end select

   end function activationCode

   !> Apply an activation in place, as Keras defines it:
   !>   sigmoid(x)  = 1 / (1 + exp(-x))
   !>   silu(x)     = x sigmoid(x)
   !>   softplus(x) = log(1 + exp(x)), written max(x,0) + log1p(exp(-|x|))
   !>                 so that it neither overflows nor loses digits
   !>   gelu(x)     = x/2 (1 + erf(x/sqrt(2)))   (Keras' default, the exact
   !>                 form, approximate=False)
   subroutine applyActivation (code, values)

      implicit none

      integer, intent(in) :: code
      real (kind=double), intent(inout) :: values(:,:)

      real (kind=double), parameter :: invSqrt2 = &
            & 0.70710678118654752440084436210484903_double
      integer :: i, j

      ! Column by column (one atom each): the compiler vectorises along
      ! the column only, so an element takes the same path (SIMD lane or
      ! remainder) whatever the number of atoms in the block.
      do j = 1, size(values, 2)
         select case (code)
         case (actTanh)
            values(:,j) = tanh(values(:,j))
         case (actRelu)
            values(:,j) = max(values(:,j), 0.0_double)
         case (actSigmoid)
            values(:,j) = 1.0_double / (1.0_double + exp(-values(:,j)))
         case (actSilu)
            values(:,j) = values(:,j) / (1.0_double + exp(-values(:,j)))
         case (actSoftplus)
            do i = 1, size(values, 1)
               values(i,j) = max(values(i,j), 0.0_double) + &
                     & c_log1p(exp(-abs(values(i,j))))
            enddo
         case (actGelu)
            values(:,j) = 0.5_double * values(:,j) * &
                  & (1.0_double + erf(values(:,j) * invSqrt2))
         case default
            ! linear: nothing to do
         end select
      enddo

   end subroutine applyActivation

   ! ------------------------------------------------------------------
   ! Reading the model file
   ! ------------------------------------------------------------------

   !> Read an exported model file.  On failure the model is left empty
   !> (ready = .false.) and the message names the file and the line.
   subroutine readModel (model, path, status, message)

      implicit none

      type (OML_ModelType), intent(out) :: model
      character (len=*), intent(in) :: path
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      type (ModelReaderType) :: reader
      character (len=256) :: ioMsg
      integer :: ioStat

      status = omlSuccess
      message = ''
      model%ready = .false.
      if (len_trim(path) == 0) then
         call setStatus (status, message, omlErrArgument, &
               & 'model: the file name is empty')
         return
      endif

      open (newunit=reader%unit, file=trim(path), status='old', &
            & action='read', form='formatted', access='sequential', &
            & iostat=ioStat, iomsg=ioMsg)
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrIO, &
               & 'model: ' // ioFailureText('open', path, ioMsg))
         return
      endif
      reader%path = trim(path)
      reader%lineNo = 0

      call readBody (reader, model, status, message)
      close (reader%unit, iostat=ioStat)
      if (status /= omlSuccess) then
         call clearModel (model)
         return
      endif
      model%ready = .true.

   end subroutine readModel

   !> Forget everything (after a failed read).
   subroutine clearModel (model)

      implicit none

      type (OML_ModelType), intent(inout) :: model

      type (OML_ModelType) :: empty

      model = empty

   end subroutine clearModel

   subroutine readBody (reader, model, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest, line
      character (len=omlSymbolLen) :: word
      type (OML_SnapParamsType) :: params
      integer :: e, b, n, flags(5), ioStat, allocStat, numColumns
      logical :: hasMembers, hasUncertainty, hasVariants

      ! Magic word and version.
      call expectKey (reader, 'OLCAOML_MODEL', rest, status, message)
      if (status /= omlSuccess) then
         call setStatus (status, message, omlErrFormat, 'model: ' // &
               & reader%path // ' is not an olcaoml model file ' // &
               & '(it must begin with "OLCAOML_MODEL <version>")')
         return
      endif
      read (rest, *, iostat=ioStat) model%formatVersion
      if (ioStat /= 0) then
         call formatError (reader, 'expected the format version after ' // &
               & 'OLCAOML_MODEL', status, message)
         return
      endif
      if (model%formatVersion < 1 .or. &
            & model%formatVersion > omlModelFormatVersion) then
         call formatError (reader, 'format version ' // &
               & intToChar(model%formatVersion) // ' is not supported ' // &
               & '(this library reads versions 1 to ' // &
               & intToChar(omlModelFormatVersion) // ')', status, message)
         return
      endif

      call expectKey (reader, 'CREATOR', rest, status, message)
      if (status /= omlSuccess) return

      call expectKey (reader, 'LENGTH_UNIT', rest, status, message)
      if (status /= omlSuccess) return
      if (trim(adjustl(rest)) /= 'angstrom') then
         call formatError (reader, 'LENGTH_UNIT must be angstrom', status, &
               & message)
         return
      endif

      ! Descriptor elements: symbol, radius (Angstrom), weight.
      call expectKey (reader, 'DESCRIPTOR_ELEMENTS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'DESCRIPTOR_ELEMENTS', 1, n, status, &
            & message)
      if (status /= omlSuccess) return
      model%numElements = n
      allocate (model%symbols(n), model%radius(n), model%weight(n), &
            & model%networkOf(n), model%variantOf(n), model%switches(n), &
            & stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      model%networkOf(:) = 0
      model%variantOf(:) = 0
      do e = 1, n
         call nextRecord (reader, rest, 'an element line (symbol ' // &
               & 'radius weight)', status, message)
         if (status /= omlSuccess) return
         read (rest, *, iostat=ioStat) word, model%radius(e), &
               & model%weight(e)
         if (ioStat /= 0) then
            call formatError (reader, 'expected "symbol radius weight"', &
                  & status, message)
            return
         endif
         model%symbols(e) = canonicalSymbol(word)
         if (len_trim(model%symbols(e)) == 0) then
            call formatError (reader, 'bad element symbol "' // &
                  & trim(word) // '"', status, message)
            return
         endif
         if (elementIndex(model, model%symbols(e)) /= e) then
            call formatError (reader, 'element ' // trim(model%symbols(e)) &
                  & // ' is listed twice', status, message)
            return
         endif
      enddo

      ! Bispectrum blocks (one per scale of a multi-scale descriptor).
      call expectKey (reader, 'DESCRIPTOR_BLOCKS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'DESCRIPTOR_BLOCKS', 1, n, status, &
            & message)
      if (status /= omlSuccess) return
      model%numBlocks = n
      allocate (model%snaps(n), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      numColumns = 0
      do b = 1, n
         call expectKey (reader, 'BISPECTRUM', rest, status, message)
         if (status /= omlSuccess) return
         read (rest, *, iostat=ioStat) params%twoJMax, params%rCutFac, &
               & params%rFac0, params%rMin0, flags
         if (ioStat /= 0) then
            call formatError (reader, 'expected "BISPECTRUM twojmax ' // &
                  & 'rcutfac rfac0 rmin0 switch bzero bnorm wselfall ' // &
                  & 'chem"', status, message)
            return
         endif
         params%switchFlag = flags(1) /= 0
         params%bZeroFlag = flags(2) /= 0
         params%bNormFlag = flags(3) /= 0
         params%wSelfAllFlag = flags(4) /= 0
         params%chemFlag = flags(5) /= 0
         params%numElements = model%numElements
         params%radius = model%radius
         params%weight = model%weight
         call initSnap (model%snaps(b), params, status, message)
         if (status /= omlSuccess) then
            call formatError (reader, 'bad descriptor settings: ' // &
                  & trim(message), status, message)
            return
         endif
         numColumns = numColumns + model%snaps(b)%numColumns
      enddo

      ! Version 4: the neighbour mean, when present, adds the blocks'
      ! columns once per hop (one hop before version 6).
      if (model%formatVersion >= 4) then
         call peekRecord (reader, line, 'NEIGHBOUR_MEAN or NUM_FEATURES', &
               & status, message)
         if (status /= omlSuccess) return
         if (firstWord(line) == 'NEIGHBOUR_MEAN') then
            call readNeighbourMean (reader, model, status, message)
            if (status /= omlSuccess) return
            numColumns = (model%numHops + 1) * numColumns
         endif
      endif

      call expectKey (reader, 'NUM_FEATURES', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NUM_FEATURES', 1, n, status, message)
      if (status /= omlSuccess) return
      if (n /= numColumns) then
         call formatError (reader, 'NUM_FEATURES is ' // intToChar(n) // &
               & ' but the descriptor settings give ' // &
               & intToChar(numColumns), status, message)
         return
      endif
      model%numFeatures = n

      ! Members per element: version 2 always says, version 3 says for an
      ! ensemble only, version 1 never (one network each).
      model%numMembers = 1
      hasMembers = model%formatVersion == 2
      if (model%formatVersion >= 3) then
         call peekRecord (reader, line, 'NUM_MEMBERS or NUM_NETWORKS', &
               & status, message)
         if (status /= omlSuccess) return
         hasMembers = firstWord(line) == 'NUM_MEMBERS'
      endif
      if (hasMembers) then
         call expectKey (reader, 'NUM_MEMBERS', rest, status, message)
         if (status /= omlSuccess) return
         call readCount (reader, rest, 'NUM_MEMBERS', 1, n, status, &
               & message)
         if (status /= omlSuccess) return
         model%numMembers = n
      endif
      allocate (model%memberOf(model%numMembers, model%numElements), &
            & model%variantMemberOf(model%numMembers, model%numElements), &
            & model%uncertainty(model%numElements), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      model%memberOf(:,:) = 0
      model%variantMemberOf(:,:) = 0

      ! The networks.
      call expectKey (reader, 'NUM_NETWORKS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NUM_NETWORKS', 1, n, status, message)
      if (status /= omlSuccess) return
      model%numNetworks = n
      allocate (model%networks(n), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      do b = 1, n
         call readNetwork (reader, model, model%networks(b), status, &
               & message)
         if (status /= omlSuccess) return
         e = elementIndex(model, model%networks(b)%symbol)
         call addMember (reader, model, e, b, status, message)
         if (status /= omlSuccess) return
         model%maxAlphas = max(model%maxAlphas, &
               & model%networks(b)%numAlphas)
      enddo
      do e = 1, model%numElements
         if (model%networkOf(e) /= 0 .and. &
               & model%memberOf(model%numMembers, e) == 0) then
            call formatError (reader, trim(model%symbols(e)) // ' has ' // &
                  & 'fewer networks than NUM_MEMBERS = ' // &
                  & intToChar(model%numMembers), status, message)
            return
         endif
      enddo

      ! Variants: always in version 3, when present in version 4.
      hasVariants = model%formatVersion == 3
      if (model%formatVersion >= 4) then
         call peekRecord (reader, line, 'NUM_VARIANTS, UNCERTAINTY or END', &
               & status, message)
         if (status /= omlSuccess) return
         hasVariants = firstWord(line) == 'NUM_VARIANTS'
      endif
      if (hasVariants) then
         call readVariants (reader, model, status, message)
         if (status /= omlSuccess) return
      endif

      ! Uncertainty: always in version 2; in version 3 for an ensemble
      ! (and accepted, as in version 2, after NUM_MEMBERS 1).
      hasUncertainty = model%formatVersion == 2
      if (model%formatVersion >= 3) then
         call peekRecord (reader, line, 'UNCERTAINTY or END', status, &
               & message)
         if (status /= omlSuccess) return
         hasUncertainty = model%numMembers > 1 .or. &
               & firstWord(line) == 'UNCERTAINTY'
      endif
      if (hasUncertainty) then
         call readUncertainty (reader, model, status, message)
         if (status /= omlSuccess) return
      endif

      ! Version 7: the handover threshold, required there (a version 7
      ! file exists only to carry it); optional in version 8.
      if (model%formatVersion == 7) then
         call readHandover (reader, model, status, message)
         if (status /= omlSuccess) return
      elseif (model%formatVersion >= 8) then
         call peekRecord (reader, line, 'HANDOVER_MEDIAN_SIGMA or ' // &
               & 'EXPECTED_ITERATIONS', status, message)
         if (status /= omlSuccess) return
         if (firstWord(line) == 'HANDOVER_MEDIAN_SIGMA') then
            call readHandover (reader, model, status, message)
            if (status /= omlSuccess) return
         endif
      endif

      ! Version 8: the expected OLCAO iterations, required there, and the
      ! last records; version 9 adds the iteration groups after them,
      ! required there (a version 9 file exists only to carry them).  An
      ! older file that carries either is named as such (an older library
      ! would stop at them too).
      if (model%formatVersion >= 8) then
         call readIterations (reader, model, status, message)
         if (status /= omlSuccess) return
      endif
      if (model%formatVersion >= 9) then
         call readIterationGroups (reader, model, status, message)
         if (status /= omlSuccess) return
      else
         call peekRecord (reader, line, 'END', status, message)
         if (status /= omlSuccess) return
         if (firstWord(line) == 'EXPECTED_ITERATIONS' .and. &
               & model%formatVersion < 8) then
            call formatError (reader, 'EXPECTED_ITERATIONS needs ' // &
                  & 'format version 8, the file says ' // &
                  & intToChar(model%formatVersion), status, message)
            return
         endif
         if (firstWord(line) == 'ITERATION_GROUPS') then
            call formatError (reader, 'ITERATION_GROUPS needs format ' // &
                  & 'version 9, the file says ' // &
                  & intToChar(model%formatVersion), status, message)
            return
         endif
      endif

      call expectKey (reader, 'END', rest, status, message)

   end subroutine readBody

   !> "NEIGHBOUR_MEAN rInner rOuter" (Angstrom, 0 < rInner <= rOuter),
   !> the range of every element pair; from version 5 it may be followed
   !> by "NEIGHBOUR_MEAN_PAIRS n" and n records "A B rInner rOuter" that
   !> set the range of the pair A-B (and B-A) apart; from version 6 the
   !> optional "NEIGHBOUR_MEAN_HOPS h" (1 <= h <= 4) comes last.
   subroutine readNeighbourMean (reader, model, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest, line
      real (kind=double) :: rIn, rOut
      integer :: ioStat, allocStat, n, k, a, b, numElements
      logical, allocatable :: set(:,:)

      call expectKey (reader, 'NEIGHBOUR_MEAN', rest, status, message)
      if (status /= omlSuccess) return
      read (rest, *, iostat=ioStat) rIn, rOut
      if (ioStat /= 0) then
         call formatError (reader, 'expected "NEIGHBOUR_MEAN r_inner ' // &
               & 'r_outer" (Angstrom)', status, message)
         return
      endif
      if (.not. validRange(rIn, rOut)) then
         call formatError (reader, 'NEIGHBOUR_MEAN needs 0 < r_inner ' // &
               & '<= r_outer <= 20 Angstrom', status, message)
         return
      endif
      numElements = model%numElements
      allocate (model%nbrInner(numElements, numElements), &
            & model%nbrOuter(numElements, numElements), &
            & set(numElements, numElements), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      model%nbrInner(:,:) = rIn
      model%nbrOuter(:,:) = rOut
      set(:,:) = .false.
      model%hasNeighbourMean = .true.
      model%numHops = 1
      if (model%formatVersion < 5) return

      call peekRecord (reader, line, 'NEIGHBOUR_MEAN_PAIRS, ' // &
            & 'NEIGHBOUR_MEAN_HOPS or NUM_FEATURES', status, message)
      if (status /= omlSuccess) return
      if (firstWord(line) == 'NEIGHBOUR_MEAN_PAIRS') then
         call readPairs (status, message)
         if (status /= omlSuccess) return
         call peekRecord (reader, line, 'NEIGHBOUR_MEAN_HOPS or ' // &
               & 'NUM_FEATURES', status, message)
         if (status /= omlSuccess) return
      endif
      if (model%formatVersion < 6) return
      if (firstWord(line) /= 'NEIGHBOUR_MEAN_HOPS') return
      call expectKey (reader, 'NEIGHBOUR_MEAN_HOPS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NEIGHBOUR_MEAN_HOPS', 1, &
            & model%numHops, status, message)
      if (status /= omlSuccess) return
      if (model%numHops > maxHops) then
         call formatError (reader, 'NEIGHBOUR_MEAN_HOPS must be at most ' &
               & // intToChar(maxHops) // ', got ' // &
               & intToChar(model%numHops), status, message)
         return
      endif

   contains

      ! "NEIGHBOUR_MEAN_PAIRS n" and its n records.
      subroutine readPairs (status, message)
         integer, intent(out) :: status
         character (len=*), intent(out) :: message
         character (len=*), parameter :: key = 'NEIGHBOUR_MEAN_PAIRS'
         integer :: maxPairs
         call expectKey (reader, key, rest, status, message)
         if (status /= omlSuccess) return
         call readCount (reader, rest, key, 1, n, status, message)
         if (status /= omlSuccess) return
         maxPairs = numElements * (numElements + 1) / 2
         if (n > maxPairs) then
            call formatError (reader, key // ': ' // intToChar(n) // &
                  & ' pairs, but ' // intToChar(numElements) // &
                  & ' elements have only ' // intToChar(maxPairs), &
                  & status, message)
            return
         endif
         do k = 1, n
            call nextRecord (reader, line, 'a ' // key // ' record', &
                  & status, message)
            if (status /= omlSuccess) return
            call readPair (line, a, b, rIn, rOut, ioStat)
            if (ioStat /= 0) then
               call formatError (reader, 'expected "A B r_inner ' // &
                     & 'r_outer" (two descriptor elements, Angstrom), ' &
                     & // 'got "' // line(1:min(len(line), 40)) // '"', &
                     & status, message)
               return
            endif
            if (.not. validRange(rIn, rOut)) then
               call formatError (reader, key // ' needs 0 < r_inner ' // &
                     & '<= r_outer <= 20 Angstrom', status, message)
               return
            endif
            if (set(a, b)) then
               call formatError (reader, key // ': the pair ' // &
                     & trim(model%symbols(a)) // '-' // &
                     & trim(model%symbols(b)) // ' is given twice', &
                     & status, message)
               return
            endif
            set(a, b) = .true.
            set(b, a) = .true.
            model%nbrInner(a, b) = rIn
            model%nbrInner(b, a) = rIn
            model%nbrOuter(a, b) = rOut
            model%nbrOuter(b, a) = rOut
         enddo
      end subroutine readPairs

      logical function validRange (rInner, rOuter)
         real (kind=double), intent(in) :: rInner, rOuter
         validRange = ieee_is_finite(rInner) .and. &
               & ieee_is_finite(rOuter)
         if (validRange) validRange = rInner > 0.0_double .and. &
               & rOuter >= rInner .and. rOuter <= 20.0_double
      end function validRange

      ! "A B rInner rOuter": two element symbols the model knows and two
      ! reals; ioStat /= 0 when the record is anything else.
      subroutine readPair (record, a, b, rInner, rOuter, ioStat)
         character (len=*), intent(in) :: record
         integer, intent(out) :: a, b, ioStat
         real (kind=double), intent(out) :: rInner, rOuter
         character (len=omlSymbolLen) :: symA, symB
         a = 0
         b = 0
         rInner = 0.0_double
         rOuter = 0.0_double
         if (countTokens(record) /= 4) then
            ioStat = 1
            return
         endif
         read (record, *, iostat=ioStat) symA, symB, rInner, rOuter
         if (ioStat /= 0) return
         a = elementIndex(model, symA)
         b = elementIndex(model, symB)
         if (a == 0 .or. b == 0) ioStat = 1
      end subroutine readPair

   end subroutine readNeighbourMean

   !> Network b is the next member of element e; members of one element
   !> must agree on the exponents.
   subroutine addMember (reader, model, e, b, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(in) :: e, b
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: k, first

      status = omlSuccess
      message = ''
      k = count(model%memberOf(:, e) /= 0) + 1
      if (k > model%numMembers) then
         call formatError (reader, 'more than NUM_MEMBERS = ' // &
               & intToChar(model%numMembers) // ' networks for ' // &
               & trim(model%networks(b)%symbol), status, message)
         return
      endif
      model%memberOf(k, e) = b
      if (k == 1) then
         model%networkOf(e) = b
         return
      endif
      first = model%networkOf(e)
      if (model%networks(b)%numAlphas /= &
            & model%networks(first)%numAlphas) then
         call formatError (reader, 'member ' // intToChar(k) // ' of ' // &
               & trim(model%networks(b)%symbol) // ' has another ' // &
               & 'NUM_ALPHAS than member 1', status, message)
         return
      endif
      if (any(model%networks(b)%alphas /= model%networks(first)%alphas)) &
            & then
         call formatError (reader, 'member ' // intToChar(k) // ' of ' // &
               & trim(model%networks(b)%symbol) // ' has other ' // &
               & 'exponents than member 1', status, message)
      endif

   end subroutine addMember

   !> The NUM_VARIANTS section (version 3): per variant its element, its
   !> switch columns and one network per member, stored after the
   !> ordinary networks.  The checks name what is wrong, since a variant
   !> that silently fell back to the ordinary networks (or the reverse)
   !> would still give plausible numbers.
   subroutine readVariants (reader, model, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      type (OML_NetworkType), allocatable :: grown(:)
      character (len=:), allocatable :: rest, line, expected
      character (len=omlSymbolLen) :: word, symbol
      integer :: numVariants, v, k, e, b, ioStat, allocStat

      call expectKey (reader, 'NUM_VARIANTS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NUM_VARIANTS', 1, numVariants, &
            & status, message)
      if (status /= omlSuccess) return
      if (numVariants > count(model%networkOf /= 0)) then
         call formatError (reader, 'NUM_VARIANTS is ' // &
               & intToChar(numVariants) // ', but only ' // &
               & intToChar(count(model%networkOf /= 0)) // ' elements ' // &
               & 'have networks (at most one variant each)', status, &
               & message)
         return
      endif

      ! Room for the variants' networks after the ordinary ones (copying
      ! the ordinary networks once is cheap next to reading them).
      b = model%numNetworks
      allocate (grown(b + numVariants * model%numMembers), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      grown(1:b) = model%networks
      call move_alloc (grown, model%networks)
      model%numNetworks = size(model%networks)
      if (model%numMembers == 1) then
         expected = '1 (a single-network model)'
      else
         expected = intToChar(model%numMembers) // ' (NUM_MEMBERS)'
      endif

      do v = 1, numVariants
         call expectKey (reader, 'VARIANT', rest, status, message)
         if (status /= omlSuccess) return
         read (rest, *, iostat=ioStat) word
         if (ioStat /= 0) then
            call formatError (reader, 'expected "VARIANT symbol"', status, &
                  & message)
            return
         endif
         e = elementIndex(model, word)
         if (e == 0) then
            call formatError (reader, 'VARIANT ' // trim(word) // &
                  & ': not a descriptor element', status, message)
            return
         endif
         symbol = model%symbols(e)
         if (model%networkOf(e) == 0) then
            call formatError (reader, 'VARIANT ' // trim(symbol) // &
                  & ': the model has no networks for ' // trim(symbol), &
                  & status, message)
            return
         endif
         if (model%variantOf(e) /= 0) then
            call formatError (reader, 'a second VARIANT for ' // &
                  & trim(symbol) // ' (at most one per element)', status, &
                  & message)
            return
         endif

         call readSwitchColumns (reader, model, symbol, &
               & model%switches(e)%columns, status, message)
         if (status /= omlSuccess) return

         ! Member k of the variant is its k-th NETWORK block.
         do k = 1, model%numMembers
            call peekRecord (reader, line, 'NETWORK (VARIANT ' // &
                  & trim(symbol) // ')', status, message)
            if (status /= omlSuccess) return
            if (firstWord(line) == 'END_VARIANT') then
               call formatError (reader, 'VARIANT ' // trim(symbol) // &
                     & ' has ' // intToChar(k - 1) // ' NETWORK blocks, ' &
                     & // 'expected ' // expected, status, message)
               return
            endif
            b = b + 1
            call readNetwork (reader, model, model%networks(b), status, &
                  & message)
            if (status /= omlSuccess) return
            call checkVariantNetwork (reader, model, e, k, b, status, &
                  & message)
            if (status /= omlSuccess) return
            model%variantMemberOf(k, e) = b
         enddo

         call nextRecord (reader, line, 'END_VARIANT', status, message)
         if (status /= omlSuccess) return
         if (firstWord(line) == 'NETWORK') then
            call formatError (reader, 'VARIANT ' // trim(symbol) // &
                  & ' has more NETWORK blocks than the expected ' // &
                  & expected, status, message)
            return
         elseif (firstWord(line) /= 'END_VARIANT') then
            call formatError (reader, 'expected END_VARIANT (the end of ' &
                  & // 'VARIANT ' // trim(symbol) // '), got "' // &
                  & line(1:min(len(line), 40)) // '"', status, message)
            return
         endif
         model%variantOf(e) = model%variantMemberOf(1, e)
      enddo

   end subroutine readVariants

   !> "SWITCH_COLUMNS n" and the n column numbers after it, any number per
   !> line.  Each is checked as its line is read, so that a message names
   !> the line of the bad number.
   subroutine readSwitchColumns (reader, model, symbol, columns, status, &
         & message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: symbol
      integer, allocatable, intent(out) :: columns(:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest, line, what
      integer :: n, i, filled, numTokens, previous, ioStat, allocStat

      what = 'SWITCH_COLUMNS of VARIANT ' // trim(symbol)
      call expectKey (reader, 'SWITCH_COLUMNS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'SWITCH_COLUMNS', 1, n, status, &
            & message)
      if (status /= omlSuccess) return
      if (n > model%numFeatures) then
         call formatError (reader, what // ': ' // intToChar(n) // &
               & ' columns, but the descriptor has only NUM_FEATURES = ' &
               & // intToChar(model%numFeatures), status, message)
         return
      endif
      allocate (columns(n), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif

      filled = 0
      previous = 0
      do while (filled < n)
         call nextRecord (reader, line, 'the column numbers of ' // what, &
               & status, message)
         if (status /= omlSuccess) return
         ! Read no more than are still missing, so that a keyword line
         ! (the list ended early) reads as what it is: not numbers.
         numTokens = min(countTokens(line), n - filled)
         read (line, *, iostat=ioStat) columns(filled+1 : filled+numTokens)
         if (ioStat /= 0) then
            call formatError (reader, what // ': expected ' // &
                  & intToChar(n) // ' integer column numbers, got "' // &
                  & line(1:min(len(line), 40)) // '"', status, message)
            return
         endif
         if (countTokens(line) > numTokens) then
            call formatError (reader, 'more numbers than the ' // &
                  & intToChar(n) // ' expected for ' // what, status, &
                  & message)
            return
         endif
         do i = filled + 1, filled + numTokens
            if (columns(i) < 1 .or. columns(i) > model%numFeatures) then
               call formatError (reader, what // ': column ' // &
                     & intToChar(columns(i)) // ' is outside 1..' // &
                     & intToChar(model%numFeatures) // ' (NUM_FEATURES)', &
                     & status, message)
               return
            endif
            if (columns(i) <= previous) then
               call formatError (reader, what // ': the columns must ' // &
                     & 'increase strictly, but ' // intToChar(columns(i)) &
                     & // ' follows ' // intToChar(previous), status, &
                     & message)
               return
            endif
            previous = columns(i)
         enddo
         filled = filled + numTokens
      enddo

   end subroutine readSwitchColumns

   !> Network b, member k of the variant of element e, just read: it must
   !> be for e and have the exponents of e's ordinary networks (so that
   !> both kinds of atoms fill the same output rows and share GRAM).
   subroutine checkVariantNetwork (reader, model, e, k, b, status, message)

      implicit none

      type (ModelReaderType), intent(in) :: reader
      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: e, k, b
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: which
      integer :: first

      status = omlSuccess
      message = ''
      which = 'network ' // intToChar(k) // ' of VARIANT ' // &
            & trim(model%symbols(e))
      first = model%networkOf(e)
      associate (net => model%networks(b), &
            & ordinary => model%networks(first))
         if (net%symbol /= model%symbols(e)) then
            call formatError (reader, which // ' is a NETWORK ' // &
                  & trim(net%symbol) // ' block', status, message)
         elseif (net%numAlphas /= ordinary%numAlphas) then
            call formatError (reader, which // ' has NUM_ALPHAS ' // &
                  & intToChar(net%numAlphas) // ', the element''s ' // &
                  & 'networks ' // intToChar(ordinary%numAlphas), status, &
                  & message)
         elseif (any(net%alphas /= ordinary%alphas)) then
            call formatError (reader, which // ' has other ALPHAS ' // &
                  & 'than the element''s networks', status, message)
         endif
      end associate

   end subroutine checkVariantNetwork

   !> One UNCERTAINTY block per element that has networks (version 2);
   !> in version 3, the block of an element with a variant ends with the
   !> variant's calibration (VARIANT_SIGMA_SCALE, VARIANT_SIGMA_FLOOR).
   !> The variants are read before, so variantOf says which blocks must
   !> have it.
   subroutine readUncertainty (reader, model, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest, line
      character (len=omlSymbolLen) :: word
      integer :: i, e, n, ioStat, allocStat
      logical :: hasVariant

      status = omlSuccess
      message = ''
      do i = 1, count(model%networkOf /= 0)
         call expectKey (reader, 'UNCERTAINTY', rest, status, message)
         if (status /= omlSuccess) return
         read (rest, *, iostat=ioStat) word
         e = 0
         if (ioStat == 0) e = elementIndex(model, word)
         if (e == 0) then
            call formatError (reader, 'expected "UNCERTAINTY symbol" ' // &
                  & 'of an element with networks', status, message)
            return
         endif
         if (model%networkOf(e) == 0 .or. model%uncertainty(e)%present) &
               & then
            call formatError (reader, 'UNCERTAINTY ' // trim(word) // &
                  & ' is repeated or has no networks', status, message)
            return
         endif
         word = model%symbols(e)
         hasVariant = .false.
         if (allocated(model%variantOf)) hasVariant = model%variantOf(e) /= 0
         associate (u => model%uncertainty(e))
            call readCalibration (reader, 'SIGMA_SCALE', '', u%scale, &
                  & status, message)
            if (status /= omlSuccess) return
            call readCalibration (reader, 'SIGMA_FLOOR', ' (Hartree)', &
                  & u%floor, status, message)
            if (status /= omlSuccess) return
            n = model%networks(model%networkOf(e))%numAlphas
            allocate (u%gram(n, n), stat=allocStat)
            if (allocStat /= 0) then
               call memoryError (status, message)
               return
            endif
            call expectKey (reader, 'GRAM', rest, status, message)
            if (status == omlSuccess) call readReals (reader, u%gram, &
                  & 'GRAM', status, message)
            if (status /= omlSuccess) return

            ! The variant's calibration: there exactly when the element
            ! has a variant.  A missing or stray record is named, since
            ! the wrong calibration would still give plausible sigmas.
            call peekRecord (reader, line, 'UNCERTAINTY or END', status, &
                  & message)
            if (status /= omlSuccess) return
            if (hasVariant) then
               if (firstWord(line) /= 'VARIANT_SIGMA_SCALE') then
                  call formatError (reader, 'expected ' // &
                        & 'VARIANT_SIGMA_SCALE (UNCERTAINTY ' // &
                        & trim(word) // ': ' // trim(word) // ' has a ' // &
                        & 'variant), got "' // line(1:min(len(line), 40)) &
                        & // '"', status, message)
                  return
               endif
               call readCalibration (reader, 'VARIANT_SIGMA_SCALE', '', &
                     & u%variantScale, status, message)
               if (status /= omlSuccess) return
               call readCalibration (reader, 'VARIANT_SIGMA_FLOOR', &
                     & ' (Hartree)', u%variantFloor, status, message)
               if (status /= omlSuccess) return
            elseif (firstWord(line) == 'VARIANT_SIGMA_SCALE' .or. &
                  & firstWord(line) == 'VARIANT_SIGMA_FLOOR') then
               call formatError (reader, firstWord(line) // ' in ' // &
                     & 'UNCERTAINTY ' // trim(word) // ', but ' // &
                     & trim(word) // ' has no variant', status, message)
               return
            endif
            u%present = .true.
         end associate
      enddo

   end subroutine readUncertainty

   !> "key value": one number of a calibration, finite and >= 0 (a scale
   !> of 0 or a floor of 0 is allowed: the spread or the floor alone).
   !> unit is appended to the message, e.g. ' (Hartree)'.
   subroutine readCalibration (reader, key, unit, value, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      character (len=*), intent(in) :: key
      character (len=*), intent(in) :: unit
      real (kind=double), intent(out) :: value
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest
      integer :: ioStat

      value = 0.0_double
      call expectKey (reader, key, rest, status, message)
      if (status /= omlSuccess) return
      read (rest, *, iostat=ioStat) value
      if (ioStat == 0) then
         if (.not. ieee_is_finite(value)) ioStat = 1
      endif
      if (ioStat /= 0 .or. .not. (value >= 0.0_double)) then
         call formatError (reader, key // ' must be a finite number ' // &
               & '>= 0' // unit, status, message)
      endif

   end subroutine readCalibration

   !> "HANDOVER_MEDIAN_SIGMA t" (version 7): the median sigma (Hartree)
   !> above which a structure of Si alone is handed to the a-Si model.
   !> The threshold compares with sigma, so only an ensemble may carry it;
   !> it must be one finite number > 0 (a threshold of 0 would send every
   !> structure away, a NaN none, and both would still look like a rule).
   subroutine readHandover (reader, model, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=*), parameter :: key = 'HANDOVER_MEDIAN_SIGMA'
      character (len=:), allocatable :: rest
      real (kind=double) :: value
      integer :: ioStat

      call expectKey (reader, key, rest, status, message)
      if (status /= omlSuccess) return
      call requireEnsemble (reader, model, key, status, message)
      if (status /= omlSuccess) return

      ! One number and nothing else: list-directed input would skip
      ! whatever follows it, and would leave value as it was at a '/'.
      value = 0.0_double
      ioStat = 1
      if (countTokens(rest) == 1) read (rest, *, iostat=ioStat) value
      if (ioStat == 0) then
         if (.not. ieee_is_finite(value)) ioStat = 1
      endif
      if (ioStat /= 0 .or. .not. (value > 0.0_double)) then
         call formatError (reader, key // ' must be one finite number ' // &
               & '> 0 (Hartree), got "' // clip(rest) // '"', status, &
               & message)
         return
      endif
      model%handoverMedianSigma = value

   end subroutine readHandover

   !> A record that compares with sigma (the handover threshold, the
   !> expected iterations) belongs to an ensemble: a single network has
   !> no sigma.
   subroutine requireEnsemble (reader, model, key, status, message)

      implicit none

      type (ModelReaderType), intent(in) :: reader
      type (OML_ModelType), intent(in) :: model
      character (len=*), intent(in) :: key
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      status = omlSuccess
      message = ''
      if (model%numMembers < 2) call formatError (reader, key // &
            & ' needs an ensemble (NUM_MEMBERS > 1): a single network ' // &
            & 'has no sigma', status, message)

   end subroutine requireEnsemble

   !> The expected OLCAO iterations (version 8): EXPECTED_ITERATIONS,
   !> ITERATIONS_FIT, the optional DEFAULT_ITERATIONS_FIT and
   !> ITERATIONS_DOMAIN, each checked as the top of this file says.  The
   !> numbers compare with an ensemble's sigma, so a single network may
   !> not carry them.
   subroutine readIterations (reader, model, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, &
            & ieee_value, ieee_quiet_nan

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=*), parameter :: key = 'EXPECTED_ITERATIONS'
      character (len=:), allocatable :: rest
      character (len=32) :: word
      type (OML_IterationsType) :: iterations
      real (kind=double) :: nan
      integer :: ioStat

      nan = ieee_value(nan, ieee_quiet_nan)
      call expectKey (reader, key, rest, status, message)
      if (status /= omlSuccess) return
      call requireEnsemble (reader, model, key, status, message)
      if (status /= omlSuccess) return

      ! "predictor numCells numNotConverged convergence"
      word = ''
      iterations%numCells = -1
      iterations%numNotConverged = -1
      iterations%convergence = nan
      ioStat = 1
      if (plainNumbers(rest, 4)) read (rest, *, iostat=ioStat) word, &
            & iterations%numCells, iterations%numNotConverged, &
            & iterations%convergence
      if (ioStat /= 0) then
         call formatError (reader, 'expected "' // key // ' predictor ' &
               & // 'numCells numNotConverged convergence", got "' // &
               & clip(rest) // '"', status, message)
         return
      endif
      iterations%predictor = predictorCode(word)
      if (iterations%predictor == 0) then
         call formatError (reader, key // ': unknown predictor "' // &
               & trim(word) // '" (log_max_sigma, ' // &
               & 'log_max_sigma_log_atoms or constant)', status, message)
         return
      endif
      if (iterations%numCells < 0 .or. iterations%numNotConverged < 0 &
            & .or. iterations%numNotConverged > iterations%numCells) then
         call formatError (reader, key // ': need 0 <= ' // &
               & 'numNotConverged <= numCells, got ' // &
               & intToChar(iterations%numNotConverged) // ' and ' // &
               & intToChar(iterations%numCells), status, message)
         return
      endif
      if (.not. (ieee_is_finite(iterations%convergence) .and. &
            & iterations%convergence > 0.0_double .and. &
            & iterations%convergence < 1.0_double)) then
         call formatError (reader, key // ': the convergence value ' // &
               & 'must be a finite number in (0, 1)', status, message)
         return
      endif

      ! The fits and the ranges of the general cells.
      call readIterationFits (reader, iterations, status, message)
      if (status /= omlSuccess) return
      model%iterations = iterations

   end subroutine readIterations

   !> What follows EXPECTED_ITERATIONS (version 8) and each ITERATION_GROUP
   !> (version 9): ITERATIONS_FIT, the optional DEFAULT_ITERATIONS_FIT and
   !> ITERATIONS_DOMAIN, checked for the predictor already in iterations
   !> (the top of this file says how).  On success iterations is present.
   subroutine readIterationFits (reader, iterations, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, &
            & ieee_value, ieee_quiet_nan

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_IterationsType), intent(inout) :: iterations
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=*), parameter :: domainKey = 'ITERATIONS_DOMAIN'
      character (len=:), allocatable :: rest, line
      real (kind=double) :: nan
      character (len=:), allocatable :: atomsWords
      integer :: ioStat, flags(2), wantSigma
      logical :: sizeFit

      nan = ieee_value(nan, ieee_quiet_nan)

      ! The fits: from the model's start, then (optional) from OLCAO's
      ! default start.
      call readFit ('ITERATIONS_FIT', iterations%fit)
      if (status /= omlSuccess) return
      call peekRecord (reader, line, 'DEFAULT_ITERATIONS_FIT or ' // &
            & domainKey, status, message)
      if (status /= omlSuccess) return
      if (firstWord(line) == 'DEFAULT_ITERATIONS_FIT') then
         call readFit ('DEFAULT_ITERATIONS_FIT', iterations%defaultFit)
         if (status /= omlSuccess) return
      endif

      ! "sigmaMin sigmaMax atomsMin atomsMax sigmaApplies atomsApplies"
      call expectKey (reader, domainKey, rest, status, message)
      if (status /= omlSuccess) return
      iterations%sigmaMin = nan
      iterations%sigmaMax = nan
      iterations%atomsMin = 0
      iterations%atomsMax = 0
      flags(:) = -1
      ioStat = 1
      if (plainNumbers(rest, 6)) read (rest, *, iostat=ioStat) &
            & iterations%sigmaMin, iterations%sigmaMax, &
            & iterations%atomsMin, iterations%atomsMax, flags
      if (ioStat /= 0) then
         call formatError (reader, 'expected "' // domainKey // &
               & ' sigmaMin sigmaMax atomsMin atomsMax sigmaApplies ' // &
               & 'atomsApplies", got "' // clip(rest) // '"', status, &
               & message)
         return
      endif
      if (.not. (ieee_is_finite(iterations%sigmaMin) .and. &
            & ieee_is_finite(iterations%sigmaMax) .and. &
            & iterations%sigmaMin > 0.0_double .and. &
            & iterations%sigmaMin <= iterations%sigmaMax .and. &
            & iterations%sigmaMax < 1.0_double)) then
         call formatError (reader, domainKey // ': need 0 < sigmaMin ' &
               & // '<= sigmaMax < 1 (Hartree)', status, message)
         return
      endif
      if (iterations%atomsMin < 1 .or. &
            & iterations%atomsMin > iterations%atomsMax) then
         call formatError (reader, domainKey // ': need 1 <= ' // &
               & 'atomsMin <= atomsMax, got ' // &
               & intToChar(iterations%atomsMin) // ' and ' // &
               & intToChar(iterations%atomsMax), status, message)
         return
      endif
      ! The sigma range applies to the two sigma predictors only.  The
      ! atoms range always applies to log_max_sigma_log_atoms; to the
      ! others where the file says 1 (written since stop 42: every fit was
      ! measured on cells of those sizes only) or not where it says 0
      ! (files written before).
      sizeFit = iterations%predictor == predictorLogMaxSigmaLogAtoms
      wantSigma = merge(0, 1, iterations%predictor == predictorConstant)
      if (flags(1) /= wantSigma .or. flags(2) < merge(1, 0, sizeFit) &
            & .or. flags(2) > 1) then
         if (sizeFit) then
            atomsWords = ' 1'
         else
            atomsWords = ' and 0 or 1'
         endif
         call formatError (reader, domainKey // ': the ranges that ' // &
               & 'apply (the last two numbers) must be ' // &
               & intToChar(wantSigma) // atomsWords // ' for predictor ' &
               & // predictorName(iterations%predictor), status, message)
         return
      endif
      iterations%sigmaRangeApplies = flags(1) == 1
      iterations%atomsRangeApplies = flags(2) == 1
      iterations%present = .true.

   contains

      !> "fitKey a b c qLow qHigh": finite, qLow <= qHigh, and the terms
      !> the predictor does not have zero.
      subroutine readFit (fitKey, fit)

         implicit none

         character (len=*), intent(in) :: fitKey
         type (OML_IterationFitType), intent(out) :: fit

         real (kind=double) :: values(5)

         call expectKey (reader, fitKey, rest, status, message)
         if (status /= omlSuccess) return
         values(:) = nan
         ioStat = 1
         if (plainNumbers(rest, 5)) read (rest, *, iostat=ioStat) values
         if (ioStat == 0) then
            if (.not. all(ieee_is_finite(values))) ioStat = 1
         endif
         if (ioStat /= 0) then
            call formatError (reader, fitKey // ' must be five finite ' &
                  & // 'numbers "a b c qLow qHigh", got "' // clip(rest) &
                  & // '"', status, message)
            return
         endif
         fit%a = values(1)
         fit%b = values(2)
         fit%c = values(3)
         fit%qLow = values(4)
         fit%qHigh = values(5)
         if (.not. (fit%qLow <= fit%qHigh)) then
            call formatError (reader, fitKey // ': need qLow <= qHigh', &
                  & status, message)
         elseif (iterations%predictor == predictorConstant .and. &
               & (fit%b /= 0.0_double .or. fit%c /= 0.0_double)) then
            call formatError (reader, fitKey // ': predictor constant ' &
                  & // 'needs b = c = 0', status, message)
         elseif (iterations%predictor == predictorLogMaxSigma .and. &
               & fit%c /= 0.0_double) then
            call formatError (reader, fitKey // ': predictor ' // &
                  & 'log_max_sigma needs c = 0', status, message)
         else
            fit%present = .true.
         endif

      end subroutine readFit

   end subroutine readIterationFits

   !> The iteration groups (version 9): "ITERATION_GROUPS n", then n times
   !> an ITERATION_GROUP record (the group's rule and its reference runs'
   !> counts) followed by the group's fits and ranges, each checked as the
   !> top of this file says.  They share the predictor and convergence
   !> value of the general fit, read before them (readIterations).
   subroutine readIterationGroups (reader, model, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, &
            & ieee_value, ieee_quiet_nan

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(inout) :: model
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=*), parameter :: key = 'ITERATION_GROUPS'
      character (len=*), parameter :: groupKey = 'ITERATION_GROUP'
      character (len=:), allocatable :: rest
      character (len=64) :: name, elementWord, requiresWord
      character (len=len(groupKey) + omlGroupNameLen + 2) :: what
      type (OML_IterationGroupType), allocatable :: groups(:)
      real (kind=double) :: cutoff
      integer :: n, g, k, ioStat, allocStat
      integer :: neighbours, minAtoms, numCells, numNotConverged

      call expectKey (reader, key, rest, status, message)
      if (status /= omlSuccess) return
      if (.not. plainNumbers(rest, 1)) then
         call formatError (reader, 'expected "' // key // ' n" (1 to ' // &
               & intToChar(omlMaxIterationGroups) // ' groups), got "' // &
               & clip(rest) // '"', status, message)
         return
      endif
      call readCount (reader, rest, key, 1, n, status, message)
      if (status /= omlSuccess) return
      if (n > omlMaxIterationGroups) then
         call formatError (reader, key // ' must be at most ' // &
               & intToChar(omlMaxIterationGroups) // ', got ' // &
               & intToChar(n), status, message)
         return
      endif
      allocate (groups(n), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif

      do g = 1, n
         ! "name element neighbours cutoff minAtoms requires numCells
         ! numNotConverged": eight words, then each checked on its own.
         call expectKey (reader, groupKey, rest, status, message)
         if (status /= omlSuccess) return
         name = ''
         elementWord = ''
         requiresWord = ''
         neighbours = -1
         cutoff = ieee_value(cutoff, ieee_quiet_nan)
         minAtoms = 0
         numCells = -1
         numNotConverged = -1
         ioStat = 1
         if (plainNumbers(rest, 8)) read (rest, *, iostat=ioStat) name, &
               & elementWord, neighbours, cutoff, minAtoms, requiresWord, &
               & numCells, numNotConverged
         if (ioStat /= 0) then
            call formatError (reader, 'expected "' // groupKey // ' name ' &
                  & // 'element neighbours cutoff minAtoms requires ' // &
                  & 'numCells numNotConverged", got "' // clip(rest) // &
                  & '"', status, message)
            return
         endif
         if (.not. validName(name)) then
            call formatError (reader, groupKey // ': the name "' // &
                  & trim(name(1:40)) // '" must be a word of at most ' // &
                  & intToChar(omlGroupNameLen) // ' letters, digits or ' &
                  & // '_, not beginning with a digit, and not "' // &
                  & omlGeneralGroupName // '"', status, message)
            return
         endif
         do k = 1, g - 1
            if (groups(k)%name == name) then
               call formatError (reader, groupKey // ': the name "' // &
                     & trim(name) // '" is given twice', status, message)
               return
            endif
         enddo
         ! "ITERATION_GROUP name:" begins every message below.
         what = groupKey // ' ' // trim(name) // ':'
         groups(g)%name = name(1:omlGroupNameLen)
         groups(g)%element = elementIndex(model, elementWord)
         if (groups(g)%element == 0) then
            call formatError (reader, trim(what) // ' element "' // &
                  & trim(elementWord(1:40)) // '" is not a descriptor ' // &
                  & 'element', status, message)
            return
         endif
         if (neighbours < 0) then
            call formatError (reader, trim(what) // ' neighbours must ' // &
                  & 'be an integer >= 0, got ' // intToChar(neighbours), &
                  & status, message)
            return
         endif
         if (.not. (ieee_is_finite(cutoff) .and. cutoff > 0.0_double &
               & .and. cutoff <= omlMaxGroupCutoff)) then
            call formatError (reader, trim(what) // ' the cutoff must ' // &
                  & 'be a length in (0, 10] (Angstrom)', status, message)
            return
         endif
         if (minAtoms < 1) then
            call formatError (reader, trim(what) // ' minAtoms must be an ' // &
                  & 'integer >= 1, got ' // intToChar(minAtoms), status, &
                  & message)
            return
         endif
         groups(g)%requires = 0
         if (trim(requiresWord) /= '-') then
            groups(g)%requires = elementIndex(model, requiresWord)
            if (groups(g)%requires == 0) then
               call formatError (reader, trim(what) // ' requires "' // &
                     & trim(requiresWord(1:40)) // '" is neither a ' // &
                     & 'descriptor element nor "-" (none)', status, &
                     & message)
               return
            endif
         endif
         if (numCells < 1 .or. numNotConverged < 0 .or. &
               & numNotConverged > numCells) then
            call formatError (reader, trim(what) // ' need 1 <= ' // &
                  & 'numCells and 0 <= numNotConverged <= numCells, got ' // &
                  & intToChar(numCells) // ' and ' // &
                  & intToChar(numNotConverged), status, message)
            return
         endif
         groups(g)%neighbours = neighbours
         groups(g)%cutoff = cutoff
         groups(g)%minAtoms = minAtoms

         ! The group's own estimate, in the model's predictor.
         groups(g)%iterations%predictor = model%iterations%predictor
         groups(g)%iterations%convergence = model%iterations%convergence
         groups(g)%iterations%numCells = numCells
         groups(g)%iterations%numNotConverged = numNotConverged
         call readIterationFits (reader, groups(g)%iterations, status, &
               & message)
         if (status /= omlSuccess) return
      enddo
      call move_alloc (groups, model%iterationGroups)
      model%numIterationGroups = n

   contains

      !> A word of 1 to omlGroupNameLen letters, digits and underscores
      !> that does not begin with a digit (Python's str.isidentifier on
      !> ASCII), and not the name of group 0.
      logical function validName (text)
         character (len=*), intent(in) :: text
         integer :: i, code
         validName = len_trim(text) >= 1 .and. &
               & len_trim(text) <= omlGroupNameLen .and. &
               & trim(text) /= omlGeneralGroupName
         if (.not. validName) return
         do i = 1, len_trim(text)
            code = iachar(text(i:i))
            if (text(i:i) == '_' .or. (code >= iachar('a') .and. &
                  & code <= iachar('z')) .or. (code >= iachar('A') .and. &
                  & code <= iachar('Z'))) cycle
            if (i > 1 .and. code >= iachar('0') .and. &
                  & code <= iachar('9')) cycle
            validName = .false.
            return
         enddo
      end function validName

   end subroutine readIterationGroups

   !> Does a record's rest hold exactly count plain words: no '/' (which
   !> would end list-directed input early and leave the values as they
   !> were) and no '*' (a repeat count, one word for several values)?
   pure logical function plainNumbers (rest, count)

      implicit none

      character (len=*), intent(in) :: rest
      integer, intent(in) :: count

      plainNumbers = countTokens(rest) == count .and. &
            & index(rest, '/') == 0 .and. index(rest, '*') == 0

   end function plainNumbers

   !> At most 40 characters of a record, trimmed, for messages.
   pure function clip (text) result (short)

      implicit none

      character (len=*), intent(in) :: text
      character (len=:), allocatable :: short

      short = trim(adjustl(text))
      short = short(1:min(len(short), 40))

   end function clip

   !> One NETWORK ... END_NETWORK block.
   subroutine readNetwork (reader, model, network, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_ModelType), intent(in) :: model
      type (OML_NetworkType), intent(inout) :: network
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: rest
      character (len=omlSymbolLen) :: word
      integer :: n, k, l, ioStat, allocStat

      call expectKey (reader, 'NETWORK', rest, status, message)
      if (status /= omlSuccess) return
      read (rest, *, iostat=ioStat) word
      if (ioStat /= 0) then
         call formatError (reader, 'expected "NETWORK symbol"', status, &
               & message)
         return
      endif
      network%symbol = canonicalSymbol(word)
      if (elementIndex(model, network%symbol) == 0) then
         call formatError (reader, 'network for ' // trim(word) // &
               & ', which is not a descriptor element', status, message)
         return
      endif

      call expectKey (reader, 'NUM_ALPHAS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NUM_ALPHAS', 1, n, status, message)
      if (status /= omlSuccess) return
      network%numAlphas = n
      k = model%numFeatures
      allocate (network%alphas(n), network%isolated(n), &
            & network%charges(3, n), network%normMean(k), &
            & network%normVariance(k), network%normScale(k), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif

      call expectKey (reader, 'ALPHAS', rest, status, message)
      if (status == omlSuccess) call readReals (reader, network%alphas, &
            & 'ALPHAS', status, message)
      if (status /= omlSuccess) return
      if (any(network%alphas <= 0.0_double)) then
         call formatError (reader, 'ALPHAS must be positive', status, &
               & message)
         return
      endif
      call expectKey (reader, 'ISOLATED_COEFFS', rest, status, message)
      if (status == omlSuccess) call readReals (reader, network%isolated, &
            & 'ISOLATED_COEFFS', status, message)
      if (status /= omlSuccess) return
      call expectKey (reader, 'CHARGE_COLUMNS', rest, status, message)
      if (status == omlSuccess) call readReals (reader, &
            & network%charges, 'CHARGE_COLUMNS', status, message)
      if (status /= omlSuccess) return

      ! Keras Normalization: (x - mean) / max(sqrt(variance), epsilon).
      call expectKey (reader, 'NORMALIZATION', rest, status, message)
      if (status /= omlSuccess) return
      read (rest, *, iostat=ioStat) network%normName, network%normEpsilon
      if (ioStat /= 0 .or. .not. (network%normEpsilon >= 0.0_double)) then
         call formatError (reader, 'expected "NORMALIZATION name ' // &
               & 'epsilon" (epsilon >= 0)', status, message)
         return
      endif
      call expectKey (reader, 'MEAN', rest, status, message)
      if (status == omlSuccess) call readReals (reader, network%normMean, &
            & 'MEAN', status, message)
      if (status /= omlSuccess) return
      call expectKey (reader, 'VARIANCE', rest, status, message)
      if (status == omlSuccess) call readReals (reader, &
            & network%normVariance, 'VARIANCE', status, message)
      if (status /= omlSuccess) return
      if (any(network%normVariance < 0.0_double)) then
         call formatError (reader, 'VARIANCE must not be negative', &
               & status, message)
         return
      endif
      network%normScale = max(sqrt(network%normVariance), &
            & network%normEpsilon)
      if (any(network%normScale <= 0.0_double)) then
         call formatError (reader, 'zero variance with epsilon 0 would ' // &
               & 'divide by zero', status, message)
         return
      endif

      call expectKey (reader, 'NUM_LAYERS', rest, status, message)
      if (status /= omlSuccess) return
      call readCount (reader, rest, 'NUM_LAYERS', 1, n, status, message)
      if (status /= omlSuccess) return
      network%numLayers = n
      allocate (network%layers(n), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      network%numRows = model%numFeatures
      do l = 1, n
         call readLayer (reader, network, l, status, message)
         if (status /= omlSuccess) return
         network%layers(l)%rowOffset = network%numRows
         network%numRows = network%numRows + network%layers(l)%numOut
      enddo
      if (network%layers(n)%numOut /= network%numAlphas) then
         call formatError (reader, 'the last layer of ' // &
               & trim(network%symbol) // ' gives ' // &
               & intToChar(network%layers(n)%numOut) // &
               & ' outputs, but NUM_ALPHAS is ' // &
               & intToChar(network%numAlphas), status, message)
         return
      endif

      call expectKey (reader, 'END_NETWORK', rest, status, message)

   end subroutine readNetwork

   !> Layer l of a network: "DENSE name input numIn numOut activation"
   !> followed by WEIGHTS and BIAS, or "ADD name width numInputs inputs".
   subroutine readLayer (reader, network, l, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      type (OML_NetworkType), intent(inout) :: network
      integer, intent(in) :: l
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: line, rest
      character (len=omlNameLen) :: actName
      character (len=omlNameLen), allocatable :: names(:)
      integer :: split, ioStat, allocStat, numInputs, i, width

      call nextRecord (reader, line, 'DENSE or ADD (layer ' // &
            & intToChar(l) // ')', status, message)
      if (status /= omlSuccess) return
      split = index(line, ' ')
      if (split == 0) split = len(line) + 1
      rest = line(split:)

      associate (layer => network%layers(l))
         select case (line(1:split-1))
         case ('DENSE')
            layer%kind = layerDense
            allocate (names(1))
            read (rest, *, iostat=ioStat) layer%name, names(1), &
                  & layer%numIn, layer%numOut, actName
            if (ioStat /= 0) then
               call formatError (reader, 'expected "DENSE name input ' // &
                     & 'numIn numOut activation"', status, message)
               return
            endif
            layer%activation = activationCode(actName)
            if (layer%activation < 0) then
               call formatError (reader, 'unsupported activation "' // &
                     & trim(actName) // '" (supported: linear, tanh, ' // &
                     & 'relu, silu, sigmoid, softplus, gelu)', status, &
                     & message)
               return
            endif
         case ('ADD')
            layer%kind = layerAdd
            read (rest, *, iostat=ioStat) layer%name, layer%numOut, &
                  & numInputs
            if (ioStat == 0 .and. numInputs >= 1) then
               allocate (names(numInputs))
               read (rest, *, iostat=ioStat) layer%name, layer%numOut, &
                     & numInputs, names
            endif
            if (ioStat /= 0 .or. numInputs < 1) then
               call formatError (reader, 'expected "ADD name width ' // &
                     & 'numInputs input1 input2 ..."', status, message)
               return
            endif
            layer%numIn = layer%numOut
         case default
            call formatError (reader, 'expected DENSE or ADD (layer ' // &
                  & intToChar(l) // '), got "' // &
                  & line(1:min(len(line), 40)) // '"', status, message)
            return
         end select
         if (layer%numOut < 1) then
            call formatError (reader, 'layer ' // trim(layer%name) // &
                  & ' has no outputs', status, message)
            return
         endif
         if (layerIndex(network, l - 1, layer%name) >= 0) then
            call formatError (reader, 'layer name ' // trim(layer%name) // &
                  & ' is used twice', status, message)
            return
         endif

         ! Find the inputs among the layers before this one.
         allocate (layer%inputs(size(names)), stat=allocStat)
         if (allocStat /= 0) then
            call memoryError (status, message)
            return
         endif
         do i = 1, size(names)
            layer%inputs(i) = layerIndex(network, l - 1, names(i))
            if (layer%inputs(i) < 0) then
               call formatError (reader, 'layer ' // trim(layer%name) // &
                     & ' reads "' // trim(names(i)) // '", which is not ' // &
                     & 'an earlier layer', status, message)
               return
            endif
            if (layer%inputs(i) == 0) then
               width = size(network%normMean)
            else
               width = network%layers(layer%inputs(i))%numOut
            endif
            if (width /= layer%numIn) then
               call formatError (reader, 'layer ' // trim(layer%name) // &
                     & ' takes ' // intToChar(layer%numIn) // ' inputs, ' &
                     & // 'but ' // trim(names(i)) // ' gives ' // &
                     & intToChar(width), status, message)
               return
            endif
         enddo

         if (layer%kind == layerDense) then
            allocate (layer%weights(layer%numOut, layer%numIn), &
                  & layer%bias(layer%numOut), stat=allocStat)
            if (allocStat /= 0) then
               call memoryError (status, message)
               return
            endif
            call expectKey (reader, 'WEIGHTS', rest, status, message)
            if (status == omlSuccess) call readReals (reader, &
                  & layer%weights, 'WEIGHTS', status, message)
            if (status /= omlSuccess) return
            call expectKey (reader, 'BIAS', rest, status, message)
            if (status == omlSuccess) call readReals (reader, layer%bias, &
                  & 'BIAS', status, message)
            if (status /= omlSuccess) return
         endif
      end associate

   end subroutine readLayer

   !> Index of a layer name among the first numLayers layers; 0 for the
   !> normalised input, -1 when there is no such name.
   pure integer function layerIndex (network, numLayers, name)

      implicit none

      type (OML_NetworkType), intent(in) :: network
      integer, intent(in) :: numLayers
      character (len=*), intent(in) :: name

      integer :: l

      layerIndex = -1
      if (name == network%normName) then
         layerIndex = 0
         return
      endif
      do l = 1, numLayers
         if (network%layers(l)%name == name) then
            layerIndex = l
            return
         endif
      enddo

   end function layerIndex

   !> The next line that is not blank and not a '#' comment.
   subroutine nextRecord (reader, line, what, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      character (len=:), allocatable, intent(out) :: line
      character (len=*), intent(in) :: what
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: ioStat
      character (len=:), allocatable :: text

      status = omlSuccess
      message = ''
      if (reader%holding) then
         line = reader%heldLine
         reader%holding = .false.
         return
      endif
      do
         call readLine (reader%unit, text, ioStat)
         if (ioStat /= 0) then
            call setStatus (status, message, omlErrFormat, 'model file ' // &
                  & reader%path // ': unexpected end of file, expected ' // &
                  & what)
            return
         endif
         reader%lineNo = reader%lineNo + 1
         ! A file that went through Windows ends its lines with CR LF.
         if (len(text) > 0) then
            if (text(len(text):len(text)) == achar(13)) &
                  & text = text(1:len(text)-1)
         endif
         line = trim(adjustl(text))
         if (len(line) == 0) cycle
         if (line(1:1) == '#') cycle
         return
      enddo

   end subroutine nextRecord

   !> Look at the next record without taking it: the next nextRecord (or
   !> expectKey) returns it again.  For the places where the format lets
   !> the writer choose what comes next (version 3: NUM_MEMBERS or not).
   subroutine peekRecord (reader, line, what, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      character (len=:), allocatable, intent(out) :: line
      character (len=*), intent(in) :: what
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call nextRecord (reader, line, what, status, message)
      if (status /= omlSuccess) return
      reader%heldLine = line
      reader%holding = .true.

   end subroutine peekRecord

   !> The keyword of a record: everything before the first blank.
   pure function firstWord (line) result (word)

      implicit none

      character (len=*), intent(in) :: line
      character (len=:), allocatable :: word

      integer :: split

      split = index(line, ' ')
      if (split == 0) split = len(line) + 1
      word = line(1:split-1)

   end function firstWord

   !> Read the next record, which must begin with the keyword key; rest is
   !> what follows the keyword on that line.
   subroutine expectKey (reader, key, rest, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      character (len=*), intent(in) :: key
      character (len=:), allocatable, intent(out) :: rest
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: line
      integer :: split

      rest = ''
      call nextRecord (reader, line, key, status, message)
      if (status /= omlSuccess) return
      split = index(line, ' ')
      if (split == 0) split = len(line) + 1
      if (line(1:split-1) /= key) then
         call formatError (reader, 'expected ' // key // ', got "' // &
               & line(1:min(len(line), 40)) // '"', status, message)
         return
      endif
      rest = line(split:)

   end subroutine expectKey

   !> A positive count after a keyword.
   subroutine readCount (reader, rest, key, minimum, count, status, message)

      implicit none

      type (ModelReaderType), intent(in) :: reader
      character (len=*), intent(in) :: rest
      character (len=*), intent(in) :: key
      integer, intent(in) :: minimum
      integer, intent(out) :: count
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: ioStat

      status = omlSuccess
      message = ''
      read (rest, *, iostat=ioStat) count
      if (ioStat /= 0) then
         call formatError (reader, 'expected an integer after ' // key, &
               & status, message)
      elseif (count < minimum) then
         call formatError (reader, key // ' must be at least ' // &
               & intToChar(minimum) // ', got ' // intToChar(count), &
               & status, message)
      endif

   end subroutine readCount

   !> Fill values from the following records, as many numbers per line as
   !> the writer put there.  Every number must be finite.
   subroutine readReals1 (reader, values, what, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      real (kind=double), intent(out) :: values(:)
      character (len=*), intent(in) :: what
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (len=:), allocatable :: line
      integer :: total, filled, numTokens, ioStat

      status = omlSuccess
      message = ''
      total = size(values)
      filled = 0
      do while (filled < total)
         call nextRecord (reader, line, intToChar(total) // ' numbers ' // &
               & 'for ' // what, status, message)
         if (status /= omlSuccess) return
         numTokens = countTokens(line)
         if (filled + numTokens > total) then
            call formatError (reader, 'more numbers than the ' // &
                  & intToChar(total) // ' expected for ' // what, status, &
                  & message)
            return
         endif
         read (line, *, iostat=ioStat) values(filled+1 : filled+numTokens)
         if (ioStat /= 0) then
            call formatError (reader, 'not a list of numbers (' // &
                  & what // ')', status, message)
            return
         endif
         if (.not. all(ieee_is_finite(values(filled+1 : &
               & filled+numTokens)))) then
            call formatError (reader, 'NaN or Inf in ' // what, status, &
                  & message)
            return
         endif
         filled = filled + numTokens
      enddo

   end subroutine readReals1

   !> The same for a matrix, filled in array element order (column by
   !> column, i.e. the first index runs fastest).
   subroutine readReals2 (reader, values, what, status, message)

      implicit none

      type (ModelReaderType), intent(inout) :: reader
      real (kind=double), intent(out) :: values(:,:)
      character (len=*), intent(in) :: what
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      real (kind=double), allocatable :: flat(:)
      integer :: allocStat

      allocate (flat(size(values)), stat=allocStat)
      if (allocStat /= 0) then
         call memoryError (status, message)
         return
      endif
      call readReals1 (reader, flat, what, status, message)
      if (status /= omlSuccess) return
      values = reshape(flat, shape(values))

   end subroutine readReals2

   !> Number of blank-separated words of a line.
   pure integer function countTokens (line)

      implicit none

      character (len=*), intent(in) :: line

      integer :: i
      logical :: inWord

      countTokens = 0
      inWord = .false.
      do i = 1, len(line)
         if (line(i:i) == ' ' .or. line(i:i) == ',' .or. &
               & iachar(line(i:i)) == 9) then
            inWord = .false.
         elseif (.not. inWord) then
            inWord = .true.
            countTokens = countTokens + 1
         endif
      enddo

   end function countTokens

   !> One whole line of any length (non-advancing reads in chunks).
   subroutine readLine (unit, line, ioStat)

      use, intrinsic :: iso_fortran_env, only: iostat_eor

      implicit none

      integer, intent(in) :: unit
      character (len=:), allocatable, intent(out) :: line
      integer, intent(out) :: ioStat

      character (len=256) :: chunk
      integer :: chunkLen

      line = ''
      do
         read (unit, '(a)', advance='no', size=chunkLen, iostat=ioStat) &
               & chunk
         line = line // chunk(1:chunkLen)
         if (ioStat == iostat_eor) then
            ioStat = 0
            exit
         endif
         if (ioStat /= 0) exit
      enddo
      ! A last line without a newline still counts as a line.
      if (ioStat /= 0 .and. len(line) > 0) ioStat = 0

   end subroutine readLine

   subroutine formatError (reader, text, status, message)

      implicit none

      type (ModelReaderType), intent(in) :: reader
      character (len=*), intent(in) :: text
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call setStatus (status, message, omlErrFormat, 'model file ' // &
            & reader%path // ', line ' // intToChar(reader%lineNo) // ': ' &
            & // text)

   end subroutine formatError

   subroutine memoryError (status, message)

      implicit none

      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      call setStatus (status, message, omlErrMemory, &
            & 'model: out of memory while reading the model file')

   end subroutine memoryError

   ! ------------------------------------------------------------------
   ! Descriptors
   ! ------------------------------------------------------------------

   !> The structure in Angstrom, the unit of the descriptor radii and of
   !> the iteration groups' cutoffs: the lattice and the positions each
   !> times bohrRad, one multiplication, exactly as the Python readers
   !> convert, so that both see the same distances to the last bit.
   !>   what   names the caller in the out-of-memory message
   subroutine structureInAngstrom (realVectors, positions, what, lattice, &
         & positionsAng, status, message)

      implicit none

      real (kind=double), intent(in) :: realVectors(3,3)
      real (kind=double), intent(in) :: positions(:,:)
      character (len=*), intent(in) :: what
      type (OML_LatticeType), intent(out) :: lattice
      real (kind=double), allocatable, intent(out) :: positionsAng(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: allocStat

      call initLattice (lattice, realVectors * bohrRad, status, message)
      if (status /= omlSuccess) return
      allocate (positionsAng(3, size(positions, 2)), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & what // ': out of memory')
         return
      endif
      positionsAng(:,:) = positions(:,:) * bohrRad

   end subroutine structureInAngstrom

   !> The model's descriptors of the atoms listed in centres.
   !>   realVectors(xyz, abc)  lattice vectors as columns, Bohr
   !>   positions(xyz, atom)   Cartesian positions, Bohr
   !>   elementOf(atom)        descriptor element index 1..numElements
   !>   centres(i)             atoms (1..N) whose descriptors are wanted
   !>   numThreads             OpenMP threads; <= 0 uses the default
   !>   descriptors(K, i)      one column per centre (K = numFeatures):
   !>                          the blocks, then (neighbour mean) their
   !>                          means over the centre's neighbours, and
   !>                          the means of those means (each hop)
   subroutine computeDescriptors (model, realVectors, positions, elementOf, &
         & centres, numThreads, descriptors, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=double), intent(in) :: realVectors(3,3)
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: centres(:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: descriptors(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      type (OML_LatticeType) :: lattice
      real (kind=double), allocatable :: positionsAng(:,:), level(:,:)
      real (kind=double), allocatable :: work(:,:)
      integer, allocatable :: needed(:), reach(:), depth(:), atoms(:)
      integer :: allocStat, numBase, numAtoms, numHops, hop, i

      status = omlSuccess
      message = ''
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      if (size(descriptors, 1) /= model%numFeatures .or. &
            & size(descriptors, 2) /= size(centres)) then
         call setStatus (status, message, omlErrArgument, &
               & 'descriptors: the output array must be (' // &
               & intToChar(model%numFeatures) // ', number of centres = ' &
               & // intToChar(size(centres)) // ')')
         return
      endif
      if (size(positions, 1) /= 3) then
         call setStatus (status, message, omlErrArgument, &
               & 'positions: must have shape (3, N)')
         return
      endif
      ! Bohr -> Angstrom (NaN/Inf survive the scaling and are rejected by
      ! computeBispectrum).
      call structureInAngstrom (realVectors, positions, 'descriptors', &
            & lattice, positionsAng, status, message)
      if (status /= omlSuccess) return

      if (.not. model%hasNeighbourMean) then
         ! Each block is written straight into its rows of the output.
         call computeBlocks (model, lattice, positionsAng, elementOf, &
               & centres, numThreads, descriptors, status, message)
         return
      endif

      ! With a neighbour mean the centres' neighbours need their own
      ! blocks too, and with h hops the atoms up to h hops from a centre:
      ! depth(atom) is the fewest hops from a centre (numHops + 1: out of
      ! reach; those columns stay zero and are never read).  The blocks
      ! of the atoms within reach, then hop by hop the means of the atoms
      ! that the next hop (or the centres' rows) reads.  An atom's values
      ! do not depend on which other atoms are computed, so the bits are
      ! those of a whole-cell call.
      numHops = model%numHops
      numBase = model%numFeatures / (numHops + 1)
      numAtoms = size(positions, 2)
      call checkCentres (centres, numAtoms, status, message)
      if (status /= omlSuccess) return
      allocate (depth(numAtoms), level(numBase, numAtoms), &
            & stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'descriptors: out of memory')
         return
      endif
      depth(:) = numHops + 1
      depth(centres) = 0
      needed = centres
      do hop = 1, numHops
         call neighbourhoodOf (lattice, positionsAng, &
               & maxval(model%nbrOuter), needed, reach, status, message)
         if (status /= omlSuccess) return
         depth(reach) = min(depth(reach), hop)
         call move_alloc (reach, needed)
      enddo

      ! Level 0 is the blocks of every atom within reach; level h the
      ! means of level h-1 over the atoms at most numHops - h hops from a
      ! centre.  Each level's rows of the centres are their descriptors'
      ! h-th block.
      do hop = 0, numHops
         atoms = pack((/ (i, i = 1, numAtoms) /), depth <= numHops - hop)
         allocate (work(numBase, size(atoms)), stat=allocStat)
         if (allocStat /= 0) then
            call setStatus (status, message, omlErrMemory, &
                  & 'descriptors: out of memory')
            return
         endif
         if (hop == 0) then
            call computeBlocks (model, lattice, positionsAng, elementOf, &
                  & atoms, numThreads, work, status, message)
         else
            call computeNeighbourMean (lattice, positionsAng, elementOf, &
                  & model%nbrInner, model%nbrOuter, level, atoms, &
                  & numThreads, work, status, message)
         endif
         if (status /= omlSuccess) return
         level(:,:) = 0.0_double
         level(:, atoms) = work(:,:)
         deallocate (work)
         do i = 1, size(centres)
            descriptors(hop*numBase+1:(hop+1)*numBase, i) = &
                  & level(:, centres(i))
         enddo
      enddo

   end subroutine computeDescriptors

   !> The bispectrum blocks of the given atoms, stacked: rows of block b
   !> of out(:, i) hold atom atoms(i)'s components of that block.
   subroutine computeBlocks (model, lattice, positionsAng, elementOf, &
         & atoms, numThreads, out, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positionsAng(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: atoms(:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: out(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer :: b, first, last

      status = omlSuccess
      message = ''
      last = 0
      do b = 1, model%numBlocks
         first = last + 1
         last = last + model%snaps(b)%numColumns
         call computeBispectrum (model%snaps(b), lattice, positionsAng, &
               & elementOf, atoms, numThreads, out(first:last, :), &
               & status, message)
         if (status /= omlSuccess) return
      enddo

   end subroutine computeBlocks

   ! ------------------------------------------------------------------
   ! Iteration groups
   ! ------------------------------------------------------------------

   !> The iteration group (version 9; OML_Iterations) of a structure:
   !> the first group g = 1..numIterationGroups whose rule it matches,
   !> else 0 (the general cells; always 0 for a model without groups).
   !>   realVectors(xyz, abc)  lattice vectors as columns, Bohr
   !>   positions(xyz, atom)   Cartesian positions, Bohr
   !>   elementOf(atom)        descriptor element index 1..numElements
   !>   numThreads             OpenMP threads; <= 0 uses the default
   !> The arguments are checked whether the model has groups or not.  The
   !> rule's cutoff is in Angstrom, so the structure is converted exactly
   !> as computeDescriptors converts it (the same factor, the same
   !> multiplication), and the neighbours are those Python counts.  On
   !> failure group is -1 (no group: a caller that passes it on without
   !> looking at the status is refused there) and status says why.
   subroutine iterationGroupOf (model, realVectors, positions, elementOf, &
         & numThreads, group, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
      use OML_Threads, only: chooseThreads

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=double), intent(in) :: realVectors(3,3)
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      integer, intent(out) :: group
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      type (OML_LatticeType) :: lattice
      real (kind=double), allocatable :: positionsAng(:,:)
      integer :: numAtoms, useThreads

      status = omlSuccess
      message = ''
      group = -1
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      numAtoms = size(positions, 2)
      if (size(positions, 1) /= 3 .or. numAtoms < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'positions: must have shape (3, N), N >= 1')
         return
      endif
      if (size(elementOf) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'element_of: need one element per atom (' // &
               & intToChar(numAtoms) // '), got ' // &
               & intToChar(size(elementOf)))
         return
      endif
      call checkElementIndices (elementOf, model%numElements, &
            & 'element_of', status, message)
      if (status /= omlSuccess) return
      call chooseThreads (numThreads, useThreads, status, message)
      if (status /= omlSuccess) return

      ! Bohr -> Angstrom, as computeDescriptors and the Python readers.
      call structureInAngstrom (realVectors, positions, 'iteration group', &
            & lattice, positionsAng, status, message)
      if (status /= omlSuccess) return
      if (.not. all(ieee_is_finite(positionsAng))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'positions: contain NaN or Inf')
         return
      endif
      if (model%numIterationGroups == 0) then
         group = 0
         return
      endif

      call findIterationGroup (model%iterationGroups, lattice, &
            & positionsAng, elementOf, useThreads, group, status, message)

   end subroutine iterationGroupOf

   ! ------------------------------------------------------------------
   ! The forward pass
   ! ------------------------------------------------------------------

   !> Coefficients A_i (Hartree) of M atoms from their descriptors.
   !>   elementOf(i)       descriptor element index of atom i (1..M)
   !>   descriptors(K, i)  its descriptors
   !>   coeffs(ld, i)      A_1..A_N of atom i in rows 1..N (N = NUM_ALPHAS
   !>                      of its element); rows N+1..ld are set to zero
   !> Each atom goes through the network atomNetwork chooses (its
   !> element's, or that element's variant: version 3).
   recursive subroutine predictFromDescriptors (model, elementOf, &
         & descriptors, numThreads, coeffs, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
      use OML_Threads, only: chooseThreads

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: elementOf(:)
      real (kind=double), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: coeffs(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer, allocatable :: order(:), blockNet(:), blockFirst(:)
      integer, allocatable :: blockLast(:), countOf(:), startOf(:), netOf(:)
      integer :: numAtoms, i, e, net, numBlocks, b, useThreads, allocStat
      integer :: neededRows

      status = omlSuccess
      message = ''
      numAtoms = size(elementOf)
      if (model%ready .and. model%numMembers > 1) then
         ! An ensemble predicts the mean of its members.
         call ensemblePredict (model, elementOf, descriptors, numThreads, &
               & coeffs, status, message)
         return
      endif
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      if (size(descriptors, 1) /= model%numFeatures .or. &
            & size(descriptors, 2) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'descriptors: must be (' // intToChar(model%numFeatures) &
               & // ', number of atoms = ' // intToChar(numAtoms) // ')')
         return
      endif
      if (size(coeffs, 2) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'coeffs: need one column per atom (' // &
               & intToChar(numAtoms) // ')')
         return
      endif
      neededRows = 0
      do i = 1, numAtoms
         e = elementOf(i)
         if (e < 1 .or. e > model%numElements) then
            call setStatus (status, message, omlErrElement, &
                  & 'elements: atom ' // intToChar(i) // ' has element ' // &
                  & 'index ' // intToChar(e) // ', outside 1..' // &
                  & intToChar(model%numElements))
            return
         endif
         if (model%networkOf(e) == 0) then
            call setStatus (status, message, omlErrElement, &
                  & 'elements: the model has no network for ' // &
                  & trim(model%symbols(e)) // ' (atom ' // intToChar(i) // &
                  & ')')
            return
         endif
         neededRows = max(neededRows, &
               & model%networks(model%networkOf(e))%numAlphas)
      enddo
      if (size(coeffs, 1) < neededRows) then
         call setStatus (status, message, omlErrArgument, &
               & 'coeffs: need at least ' // intToChar(neededRows) // &
               & ' rows (the largest NUM_ALPHAS of these atoms), got ' // &
               & intToChar(size(coeffs, 1)))
         return
      endif
      if (.not. all(ieee_is_finite(descriptors))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'descriptors: contain NaN or Inf')
         return
      endif
      coeffs(:,:) = 0.0_double
      if (numAtoms == 0) return

      ! Sort the atoms by network (counting sort, atom order kept within
      ! each network) and cut each network's list into blocks.  An atom's
      ! network depends on nothing but its element and descriptors, so
      ! the choice is the same however the atoms are shared out.
      allocate (order(numAtoms), netOf(numAtoms), &
            & countOf(model%numNetworks), startOf(model%numNetworks), &
            & stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'predict: out of memory')
         return
      endif
      countOf(:) = 0
      do i = 1, numAtoms
         net = atomNetwork(model, elementOf(i), descriptors(:, i))
         netOf(i) = net
         countOf(net) = countOf(net) + 1
      enddo
      numBlocks = 0
      startOf(1) = 1
      do net = 1, model%numNetworks
         if (net > 1) startOf(net) = startOf(net-1) + countOf(net-1)
         numBlocks = numBlocks + (countOf(net) + blockAtoms - 1) / blockAtoms
      enddo
      allocate (blockNet(numBlocks), blockFirst(numBlocks), &
            & blockLast(numBlocks), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'predict: out of memory')
         return
      endif
      b = 0
      do net = 1, model%numNetworks
         do i = startOf(net), startOf(net) + countOf(net) - 1, blockAtoms
            b = b + 1
            blockNet(b) = net
            blockFirst(b) = i
            blockLast(b) = min(i + blockAtoms - 1, &
                  & startOf(net) + countOf(net) - 1)
         enddo
      enddo
      countOf(:) = 0
      do i = 1, numAtoms
         net = netOf(i)
         order(startOf(net) + countOf(net)) = i
         countOf(net) = countOf(net) + 1
      enddo

      call chooseThreads (numThreads, useThreads, status, message)
      if (status /= omlSuccess) return
      useThreads = max(1, min(useThreads, numBlocks))

      !$omp parallel num_threads(useThreads) default(shared)
      call runNetworkBlocks (model, descriptors, order, blockNet, &
            & blockFirst, blockLast, coeffs, status, message)
      !$omp end parallel
      if (status /= omlSuccess) return

      ! A network is finite for finite input, but input far outside the
      ! training range (descriptors of 1e308) overflows its sums: Inf or
      ! NaN coefficients are an error, never a result.
      do i = 1, numAtoms
         if (.not. all(ieee_is_finite(coeffs(:, i)))) then
            call setStatus (status, message, omlErrNonFinite, &
                  & 'prediction: atom ' // intToChar(i) // ' gives ' // &
                  & 'non-finite coefficients (its descriptors are far ' // &
                  & 'outside the range the model was trained on)')
            return
         endif
      enddo

   end subroutine predictFromDescriptors

   !> The network that predicts an atom of element e with descriptors x:
   !> the element's variant when takesVariant, else the element's
   !> ordinary network.
   pure integer function atomNetwork (model, e, x)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: e
      real (kind=double), intent(in) :: x(:)

      if (takesVariant(model, e, x)) then
         atomNetwork = model%variantOf(e)
      else
         atomNetwork = model%networkOf(e)
      endif

   end function atomNetwork

   !> Whether an atom of element e with descriptors x belongs to the
   !> element's variant: e has one and x is nonzero in any of its switch
   !> columns (the atom has a neighbour of the kind the variant is for).
   !> A component of -0.0 counts as zero, as it compares equal to it.
   pure logical function takesVariant (model, e, x)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: e
      real (kind=double), intent(in) :: x(:)

      integer :: j

      takesVariant = .false.
      if (.not. allocated(model%variantOf)) return
      if (model%variantOf(e) == 0) return
      associate (columns => model%switches(e)%columns)
         do j = 1, size(columns)
            if (x(columns(j)) /= 0.0_double) then
               takesVariant = .true.
               return
            endif
         enddo
      end associate

   end function takesVariant

   !> Ensemble mean A_i (Hartree) and, if sigma is present, each atom's
   !> sigma: the calibrated spread of the members in the V(r) metric, the
   !> predicted RMS error of V(r) (Hartree; see OML_Ensemble).  Arguments
   !> as predictFromDescriptors.  Each member runs the single-network
   !> forward pass; the mean and sigma come from ensembleMoments, the
   !> routine the Python package calls, so both agree to the bit.  The
   !> atoms that an element's variant predicts get the variant's
   !> calibration (version 3).  A model of one network has no sigma
   !> (omlErrState if sigma is asked for).
   recursive subroutine ensemblePredict (model, elementOf, descriptors, &
         & numThreads, coeffs, status, message, sigma)

      implicit none

      type (OML_ModelType), intent(in) :: model
      integer, intent(in) :: elementOf(:)
      real (kind=double), intent(in) :: descriptors(:,:)
      integer, intent(in) :: numThreads
      real (kind=double), intent(out) :: coeffs(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      real (kind=double), intent(out), optional :: sigma(:)

      type (OML_ModelType) :: member
      real (kind=double), allocatable :: members(:,:,:), work(:,:,:)
      real (kind=double), allocatable :: mean(:,:), spread(:)
      integer, allocatable :: atoms(:)
      logical, allocatable :: inVariant(:)
      integer :: numAtoms, k, e, n, m, g, allocStat

      status = omlSuccess
      message = ''
      numAtoms = size(elementOf)
      if (.not. model%ready) then
         call setStatus (status, message, omlErrState, &
               & 'model: no model has been loaded')
         return
      endif
      if (present(sigma)) then
         if (model%numMembers < 2) then
            call setStatus (status, message, omlErrState, &
                  & 'sigma: the model is a single network; export an ' // &
                  & 'ensemble (olcaoml train --ensemble M) for sigma')
            return
         endif
         if (size(sigma) /= numAtoms) then
            call setStatus (status, message, omlErrArgument, &
                  & 'sigma: need one value per atom (' // &
                  & intToChar(numAtoms) // ')')
            return
         endif
      endif
      if (model%numMembers == 1) then
         call predictFromDescriptors (model, elementOf, descriptors, &
               & numThreads, coeffs, status, message)
         return
      endif
      if (size(coeffs, 2) /= numAtoms) then
         call setStatus (status, message, omlErrArgument, &
               & 'coeffs: need one column per atom (' // &
               & intToChar(numAtoms) // ')')
         return
      endif

      ! Each member: a copy of the model whose networkOf (and variantOf,
      ! for an element with a variant) points at the member's networks
      ! (the networks are small; the copy is cheap).  An atom that takes
      ! the variant does so in every member: the switch reads only its
      ! descriptors.
      allocate (members(size(coeffs, 1), numAtoms, model%numMembers), &
            & inVariant(numAtoms), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'ensemble: out of memory')
         return
      endif
      member = model
      member%numMembers = 1
      do k = 1, model%numMembers
         do e = 1, model%numElements
            if (model%networkOf(e) /= 0) &
                  & member%networkOf(e) = model%memberOf(k, e)
            if (model%variantOf(e) /= 0) &
                  & member%variantOf(e) = model%variantMemberOf(k, e)
         enddo
         call predictFromDescriptors (member, elementOf, descriptors, &
               & numThreads, members(:,:,k), status, message)
         if (status /= omlSuccess) return
      enddo

      ! Mean and sigma, element by element (the checks above passed, so
      ! every atom's element has networks), and within an element with a
      ! variant in two groups: group 1 the atoms of the ordinary networks
      ! with the calibration (scale, floor), group 2 those of the variant
      ! with (variantScale, variantFloor).  Both share the GRAM matrix.
      ! ensembleMoments treats each atom on its own, so splitting the
      ! atoms gives every atom the bits it would get alone.
      coeffs(:,:) = 0.0_double
      do e = 1, model%numElements
         if (model%networkOf(e) == 0) cycle
         if (count(elementOf == e) == 0) cycle
         if (.not. model%uncertainty(e)%present) then
            call setStatus (status, message, omlErrFormat, &
                  & 'ensemble: no UNCERTAINTY block for ' // &
                  & trim(model%symbols(e)))
            return
         endif
         n = model%networks(model%networkOf(e))%numAlphas
         inVariant = .false.
         do k = 1, numAtoms
            if (elementOf(k) == e) &
                  & inVariant(k) = takesVariant(model, e, descriptors(:, k))
         enddo
         do g = 1, 2
            if (g == 1) then
               atoms = pack((/ (k, k = 1, numAtoms) /), &
                     & elementOf == e .and. .not. inVariant)
            else
               atoms = pack((/ (k, k = 1, numAtoms) /), &
                     & elementOf == e .and. inVariant)
            endif
            m = size(atoms)
            if (m == 0) cycle
            allocate (work(n, m, model%numMembers), mean(n, m), &
                  & spread(m), stat=allocStat)
            if (allocStat /= 0) then
               call setStatus (status, message, omlErrMemory, &
                     & 'ensemble: out of memory')
               return
            endif
            work(:,:,:) = members(1:n, atoms, :)
            associate (u => model%uncertainty(e))
               if (g == 1) then
                  call ensembleMoments (work, u%gram, u%scale, u%floor, &
                        & mean, spread, status, message)
               else
                  call ensembleMoments (work, u%gram, u%variantScale, &
                        & u%variantFloor, mean, spread, status, message)
               endif
            end associate
            if (status /= omlSuccess) return
            coeffs(1:n, atoms) = mean
            if (present(sigma)) sigma(atoms) = spread
            deallocate (work, mean, spread)
         enddo
      enddo

   end subroutine ensemblePredict

   !> The share of one thread: its own scratch space (local, hence
   !> private), then its blocks.  Each block writes only its own columns.
   subroutine runNetworkBlocks (model, descriptors, order, blockNet, &
         & blockFirst, blockLast, coeffs, status, message)

      implicit none

      type (OML_ModelType), intent(in) :: model
      real (kind=double), intent(in) :: descriptors(:,:)
      integer, intent(in) :: order(:), blockNet(:)
      integer, intent(in) :: blockFirst(:), blockLast(:)
      real (kind=double), intent(inout) :: coeffs(:,:)
      integer, intent(inout) :: status
      character (len=*), intent(inout) :: message

      real (kind=double), allocatable :: scratch(:,:)
      integer :: b, rows, allocStat

      rows = 0
      do b = 1, model%numNetworks
         rows = max(rows, model%networks(b)%numRows)
      enddo
      allocate (scratch(rows, blockAtoms), stat=allocStat)
      if (allocStat /= 0) then
         !$omp critical (omlModelError)
         call setStatus (status, message, omlErrMemory, &
               & 'predict: out of memory for the network scratch space')
         !$omp end critical (omlModelError)
      endif

      !$omp do schedule(dynamic, 1)
      do b = 1, size(blockNet)
         if (allocStat /= 0) cycle
         call forwardBlock (model%networks(blockNet(b)), descriptors, &
               & order(blockFirst(b):blockLast(b)), scratch, coeffs)
      enddo
      !$omp end do

   end subroutine runNetworkBlocks

   !> The network of one element for a block of its atoms (one column
   !> each).  Rows 1..K of scratch hold u, then each layer's output.
   subroutine forwardBlock (network, descriptors, atoms, scratch, coeffs)

      implicit none

      type (OML_NetworkType), intent(in) :: network
      real (kind=double), intent(in) :: descriptors(:,:)
      integer, intent(in) :: atoms(:)
      real (kind=double), intent(inout) :: scratch(:,:)
      real (kind=double), intent(inout) :: coeffs(:,:)

      integer :: n, j, l, i, numIn, numOut, inRow, outRow

      n = size(atoms)
      numIn = size(descriptors, 1)
      do j = 1, n
         scratch(1:numIn, j) = (descriptors(:, atoms(j)) - &
               & network%normMean) / network%normScale
      enddo
      do l = 1, network%numLayers
         associate (layer => network%layers(l))
            numIn = layer%numIn
            numOut = layer%numOut
            outRow = layer%rowOffset
            select case (layer%kind)
            case (layerDense)
               inRow = rowOffsetOf(network, layer%inputs(1))
               call denseLayer (layer, scratch(inRow+1:inRow+numIn, 1:n), &
                     & scratch(outRow+1:outRow+numOut, 1:n))
            case (layerAdd)
               inRow = rowOffsetOf(network, layer%inputs(1))
               scratch(outRow+1:outRow+numOut, 1:n) = &
                     & scratch(inRow+1:inRow+numOut, 1:n)
               do i = 2, size(layer%inputs)
                  inRow = rowOffsetOf(network, layer%inputs(i))
                  scratch(outRow+1:outRow+numOut, 1:n) = &
                        & scratch(outRow+1:outRow+numOut, 1:n) + &
                        & scratch(inRow+1:inRow+numOut, 1:n)
               enddo
            end select
         end associate
      enddo

      ! The last layer's output is A_1..A_N of each atom.
      outRow = network%layers(network%numLayers)%rowOffset
      numOut = network%numAlphas
      do j = 1, n
         coeffs(1:numOut, atoms(j)) = scratch(outRow+1:outRow+numOut, j)
      enddo

   end subroutine forwardBlock

   !> Scratch row offset of layer l (0: the normalised input).
   pure integer function rowOffsetOf (network, l)

      implicit none

      type (OML_NetworkType), intent(in) :: network
      integer, intent(in) :: l

      if (l == 0) then
         rowOffsetOf = 0
      else
         rowOffsetOf = network%layers(l)%rowOffset
      endif

   end function rowOffsetOf

   !> out = act(W in + b) for a block of atoms (one column each).
   !> Each atom's column is summed in the same order whatever the size of
   !> the block, so that an atom gets the same bits whether it is
   !> predicted alone, with a subset (an MPI rank's share) or with the whole
   !> structure, and with any number of threads.  (A general matrix
   !> product would choose its summation order by the matrix sizes.)  The
   !> inner loop runs over the outputs, in SIMD lanes.
   subroutine denseLayer (layer, input, output)

      implicit none

      type (OML_LayerType), intent(in) :: layer
      real (kind=double), intent(in) :: input(:,:)
      real (kind=double), intent(out) :: output(:,:)

      integer :: i, j

      do j = 1, size(output, 2)
         output(:, j) = 0.0_double
         do i = 1, layer%numIn
            output(:, j) = output(:, j) + layer%weights(:, i) * input(i, j)
         enddo
         output(:, j) = output(:, j) + layer%bias
      enddo
      call applyActivation (layer%activation, output)

   end subroutine denseLayer

end module OML_Model
