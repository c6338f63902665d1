!! predict_scfv: write an OLCAO run's starting potential (scfV.dat) from a
!! pyolcaoml model, through libolcaoml only (no Python).
!!
!!    predict_scfv MODEL_FILE RUN_DIR [OUTPUT [NUM_PARTS
!!                 [DOMAIN_FILE AMORPHOUS_MODEL_FILE]]]
!!
!! MODEL_FILE  a model exported by "olcaoml export MODEL -o model.oml"
!! RUN_DIR     an OLCAO run directory: RUN_DIR/inputs/structure.dat and
!!             RUN_DIR/inputs/olcao.dat are read; every atom must be its
!!             own potential type (makeinput ... -target -atom 1 -sphere 50
!!             -operand types -relate diff)
!! OUTPUT      the scfV.dat to write (default: scfV.dat here); OLCAO reads
!!             RUN_DIR/inputs/scfV.dat when the run has no gs_scfV yet
!! NUM_PARTS   split the atoms into this many parts and predict each part
!!             with its own call, as the ranks of an MPI program would
!!             (default 1; the result is the same)
!! DOMAIN_FILE, AMORPHOUS_MODEL_FILE
!!             the amorphous SiC handover of "olcaoml predict": the domain
!!             file exported with MODEL_FILE ("olcaoml export sic -o
!!             sic.oml --domain sic.omld") and the model that takes over
!!             ("olcaoml export sicam -o sicam.oml").  A structure with a C
!!             atom whose median applicability ratio (omlDomainRatio) is
!!             above the threshold the domain records is predicted with
!!             AMORPHOUS_MODEL_FILE instead, and the program says so.
!!
!! What OLCAO itself would do is the same sequence of library calls:
!!    omlLoadModel -> omlElementIndex (per element) -> omlPredictCoeffs
!!    (for the atoms of this rank) -> rows of scfV.dat -> omlWriteScfV,
!! and, for a model that carries them, the SCF iterations to expect from
!! this start (omlPredictEnsemble's largest sigma -> omlExpectedIterations),
!! printed as "OLCAO from this start: about N iterations (80 % range L-H)".
!! Everything is in OLCAO's units and layouts: Bohr, Hartree,
!! realVectors(xyz, abc), positions(xyz, atom).
!!
!! The readers below are deliberately minimal (they assume well-formed
!! files as makeinput writes them); OLCAO has its own.  Exit status: 0 on
!! success, 1 on any error (with a message on standard error).
program predict_scfv

   use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
   use OML_Library

   implicit none

   type (OML_ModelType) :: model
   character (len=4096) :: modelFile, runDir, outFile, word
   character (len=omlMessageLen) :: message
   integer :: status, numParts

   ! The structure (structure.dat) and the potential types (olcao.dat).
   real (kind=omlDouble) :: realVectors(3,3)
   integer :: numAtoms, numPotSites, numPotTypes
   real (kind=omlDouble), allocatable :: atomPos(:,:), potPos(:,:)
   character (len=8), allocatable :: atomElem(:), potElem(:)
   integer, allocatable :: potSiteType(:)
   character (len=32), allocatable :: typeLabel(:)
   integer, allocatable :: typeNumAlphas(:)
   real (kind=omlDouble), allocatable :: typeAlphaRange(:,:)

   ! What is computed from them.
   integer, allocatable :: atomOfType(:), elementOf(:), centres(:)
   real (kind=omlDouble), allocatable :: coeffs(:,:), table(:,:)
   integer, allocatable :: numTerms(:)

   if (command_argument_count() < 2 .or. command_argument_count() == 5) &
         & then
      write (error_unit, '(a)') 'usage: predict_scfv MODEL_FILE RUN_DIR ' &
            & // '[OUTPUT [NUM_PARTS [DOMAIN_FILE AMORPHOUS_MODEL_FILE]]]'
      stop 1, quiet=.true.  ! F2018: no "ERROR STOP" line or backtrace
   endif
   call get_command_argument (1, modelFile)
   call get_command_argument (2, runDir)
   outFile = 'scfV.dat'
   if (command_argument_count() >= 3) call get_command_argument (3, outFile)
   numParts = 1
   if (command_argument_count() >= 4) then
      call get_command_argument (4, word)
      read (word, *, iostat=status) numParts
      if (status /= 0 .or. numParts < 1) call fail ('NUM_PARTS: expected ' &
            & // 'a positive integer')
   endif

   write (output_unit, '(a,i0)') 'libolcaoml API version ', omlApiVersion()
   call omlLoadModel (model, trim(modelFile), status, message)
   if (status /= omlSuccess) call fail (message)

   call readStructureDat (trim(runDir) // '/inputs/structure.dat')
   call readOlcaoDat (trim(runDir) // '/inputs/olcao.dat')
   call assignTypes ()
   if (command_argument_count() >= 6) call applyHandover ()
   call predictAll ()
   call buildTable ()

   call omlWriteScfV (trim(outFile), numTerms, table, status, message)
   if (status /= omlSuccess) call fail (message)
   write (output_unit, '(a,i0,a,i0,a)') 'wrote ' // trim(outFile) // ': ', &
         & numPotTypes, ' potential types, ', numAtoms, ' atoms'
   call reportIterations ()
   call omlFreeModel (model)

contains

   !> Stop with a message (the example may stop; the library never does).
   subroutine fail (text)

      implicit none

      character (len=*), intent(in) :: text

      write (error_unit, '(a)') 'predict_scfv: error: ' // trim(text)
      stop 1, quiet=.true.  ! F2018: no "ERROR STOP" line or backtrace

   end subroutine fail

   !> Read lines until one whose text is key (leading blanks ignored).
   subroutine skipToKey (unit, key, fileName)

      implicit none

      integer, intent(in) :: unit
      character (len=*), intent(in) :: key, fileName

      character (len=512) :: line
      integer :: ioStat

      do
         read (unit, '(a)', iostat=ioStat) line
         if (ioStat /= 0) call fail (fileName // ': no ' // key)
         if (trim(adjustl(line)) == key) return
      enddo

   end subroutine skipToKey

   !> CELL_VECTORS (rows a, b, c in the file, columns in realVectors), the
   !> atom sites and the potential sites with their potential types.
   subroutine readStructureDat (fileName)

      implicit none

      character (len=*), intent(in) :: fileName

      integer :: unit, ioStat, i, index, siteType

      open (newunit=unit, file=fileName, status='old', action='read', &
            & iostat=ioStat)
      if (ioStat /= 0) call fail ('cannot open ' // fileName)
      call skipToKey (unit, 'CELL_VECTORS', fileName)
      do i = 1, 3
         read (unit, *, iostat=ioStat) realVectors(:, i)
         if (ioStat /= 0) call fail (fileName // ': bad CELL_VECTORS')
      enddo

      call skipToKey (unit, 'NUM_ATOM_SITES', fileName)
      read (unit, *, iostat=ioStat) numAtoms
      if (ioStat /= 0 .or. numAtoms < 1) call fail (fileName // &
            & ': bad NUM_ATOM_SITES')
      allocate (atomPos(3, numAtoms), atomElem(numAtoms))
      call skipToKey (unit, 'NUM_TYPE_X_Y_Z_ELEM', fileName)
      do i = 1, numAtoms
         read (unit, *, iostat=ioStat) index, siteType, atomPos(:, i), &
               & atomElem(i)
         if (ioStat /= 0) call fail (fileName // ': bad atom site line')
      enddo

      call skipToKey (unit, 'NUM_POTENTIAL_SITES', fileName)
      read (unit, *, iostat=ioStat) numPotSites
      if (ioStat /= 0 .or. numPotSites < 1) call fail (fileName // &
            & ': bad NUM_POTENTIAL_SITES')
      allocate (potPos(3, numPotSites), potElem(numPotSites), &
            & potSiteType(numPotSites))
      call skipToKey (unit, 'NUM_TYPE_X_Y_Z_ELEM', fileName)
      do i = 1, numPotSites
         read (unit, *, iostat=ioStat) index, potSiteType(i), &
               & potPos(:, i), potElem(i)
         if (ioStat /= 0) call fail (fileName // &
               & ': bad potential site line')
      enddo
      close (unit)

   end subroutine readStructureDat

   !> The potential section of olcao.dat: label, NUM_ALPHAS and the
   !> ALPHAS range of every potential type.
   subroutine readOlcaoDat (fileName)

      implicit none

      character (len=*), intent(in) :: fileName

      integer :: unit, ioStat, t, ids(4)

      open (newunit=unit, file=fileName, status='old', action='read', &
            & iostat=ioStat)
      if (ioStat /= 0) call fail ('cannot open ' // fileName)
      call skipToKey (unit, 'NUM_POTENTIAL_TYPES', fileName)
      read (unit, *, iostat=ioStat) numPotTypes
      if (ioStat /= 0 .or. numPotTypes < 1) call fail (fileName // &
            & ': bad NUM_POTENTIAL_TYPES')
      allocate (typeLabel(numPotTypes), typeNumAlphas(numPotTypes), &
            & typeAlphaRange(2, numPotTypes))
      do t = 1, numPotTypes
         call skipToKey (unit, 'POTENTIAL_TYPE_ID__SEQUENTIAL_NUMBER', &
               & fileName)
         read (unit, *, iostat=ioStat) ids
         if (ioStat /= 0 .or. ids(4) /= t) call fail (fileName // &
               & ': potential types out of order')
         call skipToKey (unit, 'POTENTIAL_TYPE_LABEL', fileName)
         read (unit, *, iostat=ioStat) typeLabel(t)
         call skipToKey (unit, 'NUM_ALPHAS', fileName)
         read (unit, *, iostat=ioStat) typeNumAlphas(t)
         call skipToKey (unit, 'ALPHAS', fileName)
         read (unit, *, iostat=ioStat) typeAlphaRange(:, t)
         if (ioStat /= 0) call fail (fileName // ': bad potential type')
      enddo
      close (unit)

   end subroutine readOlcaoDat

   !> The element of a label such as 'si1_3': what comes before the '_'.
   function labelElement (label) result (element)

      implicit none

      character (len=*), intent(in) :: label
      character (len=len(label)) :: element

      integer :: cut

      cut = index(label, '_')
      if (cut == 0) cut = len_trim(label) + 1
      element = label(1:cut-1)

   end function labelElement

   !> Each atom's potential type is that of the potential site at its
   !> place (periodic images count); every type must have exactly one atom.
   subroutine assignTypes ()

      implicit none

      real (kind=omlDouble), parameter :: tolerance = 1.0e-4_omlDouble  ! Bohr
      real (kind=omlDouble) :: inverse(3,3), fract(3)
      integer :: i, s, t, hits, found

      call invert3 (realVectors, inverse)
      allocate (atomOfType(numPotTypes), elementOf(numAtoms))
      atomOfType(:) = 0
      do i = 1, numAtoms
         hits = 0
         found = 0
         do s = 1, numPotSites
            fract = matmul(inverse, potPos(:, s) - atomPos(:, i))
            fract = fract - anint(fract)
            if (norm2(matmul(realVectors, fract)) < tolerance) then
               hits = hits + 1
               found = s
            endif
         enddo
         if (hits /= 1) call fail ('an atom does not sit on exactly one ' &
               & // 'potential site')
         t = potSiteType(found)
         if (t < 1 .or. t > numPotTypes) call fail ('potential type out ' &
               & // 'of range')
         if (atomOfType(t) /= 0) call fail ('potential type shared by ' // &
               & 'several atoms: the model predicts one potential per atom')
         atomOfType(t) = i

         ! The model's index of the atom's element ('si' -> Si).
         elementOf(i) = omlElementIndex(model, atomElem(i))
         if (elementOf(i) == 0) call fail ('element ' // trim(atomElem(i)) &
               & // ' is not in the model')
      enddo
      if (any(atomOfType == 0)) call fail ('a potential type has no atom')

   end subroutine assignTypes

   !> The amorphous SiC handover: the applicability ratio of every atom
   !> with the model's domain, and the amorphous model in place of the
   !> model when the structure has C and the median ratio is above the
   !> domain's threshold (the rule of pyolcaoml.model.handover).
   subroutine applyHandover ()

      implicit none

      type (OML_DomainType) :: domain
      character (len=4096) :: domainFile, amorphousFile
      real (kind=omlDouble), allocatable :: descriptors(:,:), ratio(:)
      real (kind=omlDouble) :: median, threshold
      logical :: hasCarbon
      integer :: i

      call get_command_argument (5, domainFile)
      call get_command_argument (6, amorphousFile)
      call omlLoadDomain (domain, model, trim(domainFile), status, message)
      if (status /= omlSuccess) call fail (message)
      allocate (descriptors(omlNumFeatures(model), numAtoms), &
            & ratio(numAtoms))
      call omlComputeDescriptors (model, realVectors, atomPos, elementOf, &
            & 0, descriptors, status, message)
      if (status /= omlSuccess) call fail (message)
      call omlDomainRatio (domain, elementOf, descriptors, 0, ratio, &
            & status, message)
      if (status /= omlSuccess) call fail (message)
      median = omlMedianDomain(ratio)
      threshold = omlDomainHandoverThreshold(domain)
      call omlFreeDomain (domain)
      hasCarbon = .false.
      do i = 1, numAtoms
         if (omlElementSymbol(model, elementOf(i)) == 'C') hasCarbon = .true.
      enddo
      write (output_unit, '(a,f8.4,a,f8.4)') 'median applicability ratio ', &
            & median, ', handover threshold ', threshold
      if (.not. (hasCarbon .and. threshold > 0.0_omlDouble .and. &
            & median > threshold)) return
      write (output_unit, '(a)') 'amorphous SiC: predicted with ' // &
            & trim(amorphousFile)
      call omlFreeModel (model)
      call omlLoadModel (model, trim(amorphousFile), status, message)
      if (status /= omlSuccess) call fail (message)
      do i = 1, numAtoms
         elementOf(i) = omlElementIndex(model, atomElem(i))
         if (elementOf(i) == 0) call fail ('element ' // &
               & trim(atomElem(i)) // ' is not in ' // trim(amorphousFile))
      enddo

   end subroutine applyHandover

   !> The SCF iterations OLCAO should need from this start (a model of
   !> format 8 carries them), the numbers "olcaoml predict" prints: from
   !> the largest sigma over the atoms, since OLCAO's convergence value is
   !> a maximum over its potential sites, and the number of atoms.  A
   !> model of format 9 has groups of reference runs recognised from the
   !> geometry (a Si vacancy in SiC takes two to three times the
   !> iterations of other defects): the structure's group picks the fit.
   subroutine reportIterations ()

      implicit none

      real (kind=omlDouble), allocatable :: meanCoeffs(:,:), sigma(:)
      integer :: expected(3), defaultExpected(3), group
      logical :: outside
      character (len=200) :: line

      if (.not. omlHasExpectedIterations(model)) return
      allocate (meanCoeffs(omlMaxAlphas(model), numAtoms), sigma(numAtoms))
      call omlPredictEnsemble (model, realVectors, atomPos, elementOf, 0, &
            & meanCoeffs, sigma, status, message)
      if (status /= omlSuccess) call fail (message)
      call omlIterationGroup (model, realVectors, atomPos, elementOf, 0, &
            & group, status, message)
      if (status /= omlSuccess) call fail (message)
      call omlExpectedIterationsInGroup (model, group, numAtoms, &
            & maxval(sigma), expected, defaultExpected, outside, status, &
            & message)
      if (status /= omlSuccess) call fail (message)
      write (line, '(a,i0,a)') 'OLCAO from this start: about ', &
            & expected(1), ' iterations (80 % range ' // &
            & rangeText(expected(2), expected(3)) // ')'
      if (defaultExpected(1) > 0) then
         write (line, '(a,i0,a)') trim(line) // &
               & '; from OLCAO''s default start about ', &
               & defaultExpected(1), ' (' // &
               & rangeText(defaultExpected(2), defaultExpected(3)) // ')'
      endif
      write (output_unit, '(a)') trim(line)
      if (group > 0) write (output_unit, '(a)') '  from the reference ' // &
            & 'runs of group ' // trim(omlIterationGroupName(model, group))
      if (outside) write (output_unit, '(a)') '  outside the reference ' // &
            & 'runs of the model: a rough guide'

   end subroutine reportIterations

   !> "lo-hi", or "lo" alone when the two are the same.
   function rangeText (low, high) result (text)

      implicit none

      integer, intent(in) :: low, high
      character (len=:), allocatable :: text

      character (len=24) :: buffer

      if (high > low) then
         write (buffer, '(i0,a,i0)') low, '-', high
      else
         write (buffer, '(i0)') low
      endif
      text = trim(buffer)

   end function rangeText

   !> Coefficients of every atom.  With NUM_PARTS > 1 the atoms are split
   !> into parts and each part is a separate call with its own centres, as
   !> the ranks of an MPI program would do; the whole structure is passed
   !> each time, because every atom is somebody's neighbour.
   subroutine predictAll ()

      implicit none

      real (kind=omlDouble), allocatable :: partCoeffs(:,:)
      integer :: part, first, last, i

      allocate (coeffs(omlMaxAlphas(model), numAtoms))
      do part = 1, numParts
         first = ((part - 1) * numAtoms) / numParts + 1
         last = (part * numAtoms) / numParts
         if (last < first) cycle
         centres = (/ (i, i = first, last) /)
         allocate (partCoeffs(omlMaxAlphas(model), size(centres)))
         call omlPredictCoeffs (model, realVectors, atomPos, elementOf, 0, &
               & partCoeffs, status, message, centres)
         if (status /= omlSuccess) call fail (message)
         coeffs(:, first:last) = partCoeffs
         deallocate (partCoeffs)
      enddo

   end subroutine predictAll

   !> The rows of scfV.dat in potential-type order: A_i (predicted),
   !> alpha_i and the charge columns (the model's isolated atom's, which
   !> is what pyolcaoml writes too).
   subroutine buildTable ()

      implicit none

      real (kind=omlDouble), allocatable :: alphas(:), charges(:,:)
      integer :: t, i, n, row, k

      allocate (numTerms(numPotTypes))
      do t = 1, numPotTypes
         numTerms(t) = omlNumAlphas(model, elementOf(atomOfType(t)))
         if (omlElementIndex(model, labelElement(typeLabel(t))) /= &
               & elementOf(atomOfType(t))) call fail ('potential type ' // &
               & trim(typeLabel(t)) // ' is not the element of its atom')
         if (numTerms(t) /= typeNumAlphas(t)) call fail ('NUM_ALPHAS of ' &
               & // trim(typeLabel(t)) // ' differs from the model''s')
      enddo
      allocate (table(5, sum(numTerms)))
      row = 0
      do t = 1, numPotTypes
         i = atomOfType(t)
         n = numTerms(t)
         allocate (alphas(n), charges(3, n))
         call omlModelAlphas (model, elementOf(i), alphas, status, message)
         if (status /= omlSuccess) call fail (message)
         if (abs(alphas(1) - typeAlphaRange(1, t)) > 1.0e-6_omlDouble * &
               & alphas(1) .or. abs(alphas(n) - typeAlphaRange(2, t)) > &
               & 1.0e-6_omlDouble * alphas(n)) call fail ('ALPHAS of ' // &
               & trim(typeLabel(t)) // ' differ from the model''s')
         call omlModelChargeColumns (model, elementOf(i), charges, status, &
               & message)
         if (status /= omlSuccess) call fail (message)
         do k = 1, n
            table(1, row + k) = coeffs(k, i)
            table(2, row + k) = alphas(k)
            table(3:5, row + k) = charges(:, k)
         enddo
         row = row + n
         deallocate (alphas, charges)
      enddo

   end subroutine buildTable

   !> Inverse of a 3x3 matrix (the cell is known to be regular).
   subroutine invert3 (a, inverse)

      implicit none

      real (kind=omlDouble), intent(in) :: a(3,3)
      real (kind=omlDouble), intent(out) :: inverse(3,3)

      real (kind=omlDouble) :: det

      inverse(1,1) = a(2,2)*a(3,3) - a(2,3)*a(3,2)
      inverse(1,2) = a(1,3)*a(3,2) - a(1,2)*a(3,3)
      inverse(1,3) = a(1,2)*a(2,3) - a(1,3)*a(2,2)
      inverse(2,1) = a(2,3)*a(3,1) - a(2,1)*a(3,3)
      inverse(2,2) = a(1,1)*a(3,3) - a(1,3)*a(3,1)
      inverse(2,3) = a(1,3)*a(2,1) - a(1,1)*a(2,3)
      inverse(3,1) = a(2,1)*a(3,2) - a(2,2)*a(3,1)
      inverse(3,2) = a(1,2)*a(3,1) - a(1,1)*a(3,2)
      inverse(3,3) = a(1,1)*a(2,2) - a(1,2)*a(2,1)
      det = a(1,1)*inverse(1,1) + a(1,2)*inverse(2,1) + a(1,3)*inverse(3,1)
      if (abs(det) <= 0.0_omlDouble) call fail ('singular cell')
      inverse = inverse / det

   end subroutine invert3

end program predict_scfv
