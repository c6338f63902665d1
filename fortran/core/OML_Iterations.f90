!! OML_Iterations: how many SCF iterations OLCAO is expected to need from
!! a predicted start (format version 8 of the model file).
!!
!! What a user of the model wants to know is whether OLCAO will be quick
!! from the potential just predicted.  The ensemble's sigma (each atom's
!! predicted RMS error of V(r), Hartree; OML_Ensemble) says how large the
!! error of the start is; this module turns it into OLCAO's own unit:
!! iterations until OLCAO's convergence value falls below its
!! CONVERGENCE_TEST (1e-4 by default).  The numbers come from real OLCAO
!! runs started from the same model's predictions on cells it never
!! trained on, fitted in Python (pyolcaoml/model/olcao_iterations.py)
!! and written by "olcaoml export" (pyolcaoml/export.py, version 8).
!!
!! Why the largest sigma of the structure: OLCAO's convergence value is
!! the largest, over the potential sites, of each site's radially
!! weighted RMS change of the potential, so the worst-predicted atom sets
!! the first value, and each factor of about 3 in the first value costs
!! one iteration on a crystal-like Si cell.  maxSigma below is therefore
!! the largest over the atoms of the sigma of omlPredictEnsemble.
!!
!! The predictor names the form of the fit (the file's words):
!!    log_max_sigma             iterations = a + b ln(maxSigma)
!!    log_max_sigma_log_atoms   the same + c ln(number of atoms): small
!!                              cells level off while larger defect
!!                              cells keep rising
!!    constant                  a = the median of the reference runs
!!                              (b = c = 0): where sigma does not rank
!!                              the cells (amorphous Si, SiC)
!! and qLow, qHigh (the 10th and 90th percentiles of the reference
!! residuals) give an 80 % range around it.  A second fit, where enough
!! reference runs from OLCAO's default start converged, says the same for
!! that start, for comparison.
!!
!! Each count is evaluated exactly as Python's IterationFit.evaluate,
!!    point = (a + b ln(maxSigma)) + c ln(numAtoms)
!!    expected = round(point), low = round(point + qLow),
!!    high = round(point + qHigh),   round(x) = max(1, floor(x + 0.5)),
!! operation by operation in the same order on the same doubles (the file
!! holds 17 significant digits), with the C library's log as Python's
!! math.log, so a Fortran or C caller gets the integers "olcaoml predict"
!! prints.  Outside the reference runs' range of maxSigma (for the two
!! sigma predictors) or of the number of atoms (the file says which
!! ranges apply; for every predictor since stop 42) the estimate is
!! extrapolated: a rough guide.
!!
!! Iteration groups (format version 9).  One fit for every cell of a
!! model can be far off for one kind of cell that OLCAO treats
!! differently: on near-crystalline SiC the Si vacancy took 27-33
!! iterations where the fit of all defects said 12, because the level of
!! its far atoms is set by the charge over the whole cell, which no model
!! of a neighbourhood sees (docs/uncertainty.md).  Such cells are
!! recognised from the geometry alone, so a reference may split its cells
!! into groups, each with its own fit (same predictor, same convergence
!! value); the cells of no group keep the model's general fit (group 0).
!! The rule of a group (Python's IterationGroup.matches):
!!    the structure holds at least one atom of "requires" (unless none is
!!    named), and at least minAtoms atoms of "element" have exactly
!!    "neighbours" neighbours: atoms of any element, every periodic image
!!    included, strictly closer than "cutoff" (Angstrom).
!! A structure takes the first group (1, 2, ...) whose rule it matches,
!! else group 0.  The Si vacancy: three or more C atoms with exactly three
!! neighbours within 2.45 Angstrom in a structure with Si (its four C
!! neighbours lose one bond each; no other point defect of a rattled
!! crystal leaves more than two).  The neighbours are counted with the
!! cell list of OML_CellList, the code that Python's neighbour_list
!! wraps, so the two count the same pairs (a cell thinner than the cutoff
!! too: the cell list walks as many images as the cutoff reaches).
module OML_Iterations

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice, only: OML_LatticeType
   use OML_CellList, only: buildNeighbourList

   implicit none
   private

   !> The predictors (0: none, or a name this library does not know).
   integer, parameter, public :: predictorLogMaxSigma = 1
   integer, parameter, public :: predictorLogMaxSigmaLogAtoms = 2
   integer, parameter, public :: predictorConstant = 3

   !> One fitted column of iterations (one start): the expected count is
   !> (a + b ln(maxSigma / Hartree)) + c ln(numAtoms), its 80 % range
   !> that plus qLow and plus qHigh (qLow <= qHigh).
   type, public :: OML_IterationFitType
      logical :: present = .false.
      real (kind=double) :: a = 0.0_double
      real (kind=double) :: b = 0.0_double
      real (kind=double) :: c = 0.0_double
      real (kind=double) :: qLow = 0.0_double
      real (kind=double) :: qHigh = 0.0_double
   end type OML_IterationFitType

   !> The expected OLCAO iterations of a model (absent: present false).
   type, public :: OML_IterationsType
      logical :: present = .false.
      !> predictorLogMaxSigma, ...LogAtoms or predictorConstant.
      integer :: predictor = 0
      !> Reference OLCAO runs, and how many of them never reached the
      !> convergence value (OLCAO's CONVERGENCE_TEST, e.g. 1e-4).
      integer :: numCells = 0
      integer :: numNotConverged = 0
      real (kind=double) :: convergence = 0.0_double
      !> From the model's start, and from OLCAO's default start (its
      !> present false where too few of those runs converged).
      type (OML_IterationFitType) :: fit
      type (OML_IterationFitType) :: defaultFit
      !> The converged reference runs' largest sigma (Hartree) and
      !> numbers of atoms, and whether each range applies: sigma for the
      !> two sigma predictors, atoms as the file says (OML_Model).
      real (kind=double) :: sigmaMin = 0.0_double
      real (kind=double) :: sigmaMax = 0.0_double
      integer :: atomsMin = 0
      integer :: atomsMax = 0
      logical :: sigmaRangeApplies = .false.
      logical :: atomsRangeApplies = .false.
   end type OML_IterationsType

   !> The most groups a model may declare, and the longest group name.
   integer, parameter, public :: omlMaxIterationGroups = 8
   integer, parameter, public :: omlGroupNameLen = 32

   !> The longest neighbour cutoff of a group's rule (Angstrom), the bound
   !> pyolcaoml's IterationGroup sets: a rule counts bonded neighbours, and
   !> a longer cutoff only makes the neighbour search dearer.
   real (kind=double), parameter, public :: omlMaxGroupCutoff = 10.0_double

   !> The name of group 0, the cells of no group.
   character (len=*), parameter, public :: omlGeneralGroupName = 'general'

   !> One iteration group (format version 9): its rule, and its own
   !> estimate (the predictor and convergence value are the model's).
   type, public :: OML_IterationGroupType
      character (len=omlGroupNameLen) :: name = ''
      !> Descriptor element index of the atoms counted, and of the element
      !> the structure must hold (0: none required).
      integer :: element = 0
      integer :: requires = 0
      !> The exact number of neighbours, closer than cutoff (Angstrom),
      !> that at least minAtoms atoms of element must have.
      integer :: neighbours = 0
      real (kind=double) :: cutoff = 0.0_double
      integer :: minAtoms = 1
      !> Its reference runs' fits, counts and ranges.
      type (OML_IterationsType) :: iterations
   end type OML_IterationGroupType

   public :: predictorCode
   public :: predictorName
   public :: findIterationGroup
   public :: roundIterations
   public :: evaluateFit
   public :: outsideReference
   public :: expectedIterations

contains

   !> The code of a predictor's name in the file; 0 when unknown.
   pure integer function predictorCode (name)

      implicit none

      character (len=*), intent(in) :: name

      select case (trim(name))
      case ('log_max_sigma')
         predictorCode = predictorLogMaxSigma
      case ('log_max_sigma_log_atoms')
         predictorCode = predictorLogMaxSigmaLogAtoms
      case ('constant')
         predictorCode = predictorConstant
      case default
         predictorCode = 0
      end select

   end function predictorCode

   !> The file's name of a predictor code (blank when unknown).
   pure function predictorName (code) result (name)

      implicit none

      integer, intent(in) :: code
      character (len=:), allocatable :: name

      select case (code)
      case (predictorLogMaxSigma)
         name = 'log_max_sigma'
      case (predictorLogMaxSigmaLogAtoms)
         name = 'log_max_sigma_log_atoms'
      case (predictorConstant)
         name = 'constant'
      case default
         name = ''
      end select

   end function predictorName

   !> A count of iterations: max(1, floor(x + 0.5)), as Python's _round
   !> (at least one iteration; halves round up).  Beyond the largest
   !> integer (a fit far outside its runs) the largest integer.
   pure integer function roundIterations (x)

      implicit none

      real (kind=double), intent(in) :: x

      real (kind=double) :: y

      y = x + 0.5_double
      if (.not. (y >= 1.0_double)) then
         roundIterations = 1
      elseif (y >= real(huge(0), double)) then
         roundIterations = huge(0)
      else
         roundIterations = max(1, floor(y))
      endif

   end function roundIterations

   !> (expected, low, high) of one fit for a structure of numAtoms atoms
   !> whose largest sigma is maxSigma (Hartree, > 0).
   pure subroutine evaluateFit (fit, maxSigma, numAtoms, counts)

      implicit none

      type (OML_IterationFitType), intent(in) :: fit
      real (kind=double), intent(in) :: maxSigma
      integer, intent(in) :: numAtoms
      integer, intent(out) :: counts(3)

      real (kind=double) :: point

      ! Python's order of operations.  The parentheses around each
      ! product are not decoration: without them the compiler may fuse a
      ! multiply and the following add into one instruction (FMA), which
      ! rounds once where Python rounds twice, and a point near a half
      ! would then round to another count.
      point = (fit%a + (fit%b * log(maxSigma))) + &
            & (fit%c * log(real(numAtoms, double)))
      counts(1) = roundIterations(point)
      counts(2) = roundIterations(point + fit%qLow)
      counts(3) = roundIterations(point + fit%qHigh)

   end subroutine evaluateFit

   !> Does the structure lie outside the reference runs, where the
   !> estimate is extrapolated (Python's IterationEstimate.extrapolated)?
   pure logical function outsideReference (iterations, maxSigma, numAtoms)

      implicit none

      type (OML_IterationsType), intent(in) :: iterations
      real (kind=double), intent(in) :: maxSigma
      integer, intent(in) :: numAtoms

      outsideReference = .false.
      if (iterations%sigmaRangeApplies) then
         if (.not. (iterations%sigmaMin <= maxSigma .and. &
               & maxSigma <= iterations%sigmaMax)) outsideReference = .true.
      endif
      if (iterations%atomsRangeApplies) then
         if (numAtoms < iterations%atomsMin .or. &
               & numAtoms > iterations%atomsMax) outsideReference = .true.
      endif

   end function outsideReference

   !> The estimate for one structure: expected(1:3) and defaultExpected
   !> (1:3) are (expected, low, high) from the model's start and from
   !> OLCAO's default start, -1 each where there is no such fit; outside
   !> is true when the estimate is extrapolated.  The caller has checked
   !> numAtoms >= 1 and maxSigma finite and > 0.
   pure subroutine expectedIterations (iterations, numAtoms, maxSigma, &
         & expected, defaultExpected, outside)

      implicit none

      type (OML_IterationsType), intent(in) :: iterations
      integer, intent(in) :: numAtoms
      real (kind=double), intent(in) :: maxSigma
      integer, intent(out) :: expected(3)
      integer, intent(out) :: defaultExpected(3)
      logical, intent(out) :: outside

      expected(:) = -1
      defaultExpected(:) = -1
      outside = .false.
      if (.not. iterations%present) return
      if (iterations%fit%present) call evaluateFit (iterations%fit, &
            & maxSigma, numAtoms, expected)
      if (iterations%defaultFit%present) call evaluateFit ( &
            & iterations%defaultFit, maxSigma, numAtoms, defaultExpected)
      outside = outsideReference(iterations, maxSigma, numAtoms)

   end subroutine expectedIterations

   !> The group of a structure: the first g whose rule matches (see the
   !> top of this module), 0 when none does.
   !>   lattice, positions(xyz, atom)  the structure, Angstrom
   !>   elementOf(atom)                descriptor element index (checked
   !>                                  by the caller)
   !>   numThreads                     OpenMP threads of the neighbour
   !>                                  search (chosen by the caller, > 0)
   !> On failure (a cutoff the cell list refuses, no memory) group is -1
   !> and status says why.
   subroutine findIterationGroup (groups, lattice, positions, elementOf, &
         & numThreads, group, status, message)

      implicit none

      type (OML_IterationGroupType), intent(in) :: groups(:)
      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      integer, intent(out) :: group
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      logical :: matches
      integer :: g

      status = omlSuccess
      message = ''
      group = 0
      do g = 1, size(groups)
         call matchesGroup (groups(g), lattice, positions, elementOf, &
               & numThreads, matches, status, message)
         if (status /= omlSuccess) then
            group = -1
            return
         endif
         if (matches) then
            group = g
            return
         endif
      enddo

   end subroutine findIterationGroup

   !> Does the structure match one group's rule?  The element counts are
   !> looked at first: a structure without the required element, or with
   !> too few atoms of the counted one, needs no neighbour search.
   subroutine matchesGroup (rule, lattice, positions, elementOf, &
         & numThreads, matches, status, message)

      implicit none

      type (OML_IterationGroupType), intent(in) :: rule
      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: positions(:,:)
      integer, intent(in) :: elementOf(:)
      integer, intent(in) :: numThreads
      logical, intent(out) :: matches
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      integer, allocatable :: nbrStart(:), nbrAtom(:)
      real (kind=double), allocatable :: nbrVec(:,:)
      integer :: atom, numFound

      status = omlSuccess
      message = ''
      matches = .false.
      if (rule%requires /= 0) then
         if (.not. any(elementOf == rule%requires)) return
      endif
      if (count(elementOf == rule%element) < rule%minAtoms) return

      ! Every atom's neighbours within the cutoff (a pair at exactly the
      ! cutoff is not one), the images of every atom included; an atom's
      ! count is the length of its slice of the list.
      call buildNeighbourList (lattice, positions, rule%cutoff, nbrStart, &
            & nbrAtom, nbrVec, status, message, numThreads)
      if (status /= omlSuccess) return
      numFound = 0
      do atom = 1, size(elementOf)
         if (elementOf(atom) /= rule%element) cycle
         if (nbrStart(atom + 1) - nbrStart(atom) == rule%neighbours) &
               & numFound = numFound + 1
      enddo
      matches = numFound >= rule%minAtoms

   end subroutine matchesGroup

end module OML_Iterations
