!! OML_ScfV: write a potential as OLCAO's scfV.dat.
!!
!! The layout is the one OLCAO's own Fortran writes (gs_scfV-*.dat) and
!! pyolcaoml.olcao.scfv writes for new files (its OLCAO_STYLE), so that the
!! two give the same bytes for the same numbers:
!!
!!    NUM_TYPES    8                          (a9,i5)
!!    TOTAL__OR__SPIN_UP
!!       16                                   (i5): terms of type 1
!!     A_i  alpha_i  rhoTot  rhoVal  rhoSpin  (2(1x,e17.10),3(1x,e13.6))
!!    ...                                     then type 2, 3, ...
!!    SPIN_DN
!!    (the same blocks for the spin-down channel)
!!    NUM__PLUSUJ__TERMS
!!        0                                   (i5): no +U/J terms
!!    TOTAL__OR__SPIN_UP
!!    SPIN_DN
!!
!! Columns: A_i (Hartree), alpha_i (Bohr^-2; informational, OLCAO takes the
!! exponents from olcao.dat), the total and valence charge-density
!! coefficients and the spin difference.
!!
!! The terms of all types are stored one after the other, as OLCAO keeps
!! its potCoeffs: the rows of type t start after the numTerms of types
!! 1..t-1 (OLCAO's cumulAlphaSum).  table(1:5, row) holds the five columns.
!!
!! The file is written to a new temporary file in the same directory,
!! which then replaces path in one step (rename), so that a reader never
!! sees half a file and a failure leaves an existing file untouched.
module OML_ScfV

   use, intrinsic :: iso_c_binding, only: c_int, c_char, c_null_char
   use OML_Kinds, only: double
   use OML_Status

   implicit none
   private

   !> Number of columns of a row.
   integer, parameter, public :: scfVColumns = 5

   ! The few POSIX C functions needed for the temporary file.
   interface
      function c_mkstemp (template) bind(C, name='mkstemp')
         import :: c_int, c_char
         character (kind=c_char), intent(inout) :: template(*)
         integer (c_int) :: c_mkstemp
      end function c_mkstemp

      function c_close (fd) bind(C, name='close')
         import :: c_int
         integer (c_int), value :: fd
         integer (c_int) :: c_close
      end function c_close

      function c_rename (oldName, newName) bind(C, name='rename')
         import :: c_int, c_char
         character (kind=c_char), intent(in) :: oldName(*), newName(*)
         integer (c_int) :: c_rename
      end function c_rename

      function c_remove (name) bind(C, name='remove')
         import :: c_int, c_char
         character (kind=c_char), intent(in) :: name(*)
         integer (c_int) :: c_remove
      end function c_remove
   end interface

   public :: writeScfV

contains

   !> Write scfV.dat.
   !>   path               the file to (re)place
   !>   numTerms(t)        number of Gaussian terms of potential type t
   !>   tableUp(5, rows)   the TOTAL__OR__SPIN_UP rows of all types
   !>   tableDn(5, rows)   the SPIN_DN rows (optional: without it the
   !>                      spin-up rows are written again, as for a run
   !>                      that is not spin polarised)
   !> Non-finite numbers are refused (OLCAO cannot read them); nothing is
   !> written then.
   subroutine writeScfV (path, numTerms, tableUp, status, message, tableDn)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      character (len=*), intent(in) :: path
      integer, intent(in) :: numTerms(:)
      real (kind=double), intent(in) :: tableUp(:,:)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      real (kind=double), intent(in), optional :: tableDn(:,:)

      character (len=:), allocatable :: tmpName
      character (len=256) :: ioMsg
      integer :: numTypes, numRows, unit, ioStat, t, badRow

      status = omlSuccess
      message = ''
      numTypes = size(numTerms)

      ! Check everything before touching the disk.
      if (len_trim(path) == 0) then
         call setStatus (status, message, omlErrArgument, &
               & 'scfV: the file name is empty')
         return
      endif
      if (numTypes < 1) then
         call setStatus (status, message, omlErrArgument, &
               & 'scfV: need at least one potential type')
         return
      endif
      do t = 1, numTypes
         if (numTerms(t) < 1) then
            call setStatus (status, message, omlErrArgument, &
                  & 'scfV: potential type ' // intToChar(t) // ' has ' // &
                  & intToChar(numTerms(t)) // ' terms (must be positive)')
            return
         endif
      enddo
      numRows = sum(numTerms)
      if (size(tableUp, 1) /= scfVColumns .or. &
            & size(tableUp, 2) /= numRows) then
         call setStatus (status, message, omlErrArgument, &
               & 'scfV: the table must be (5, ' // intToChar(numRows) // &
               & '), the sum of the term counts')
         return
      endif
      badRow = firstBadRow(tableUp)
      if (badRow > 0) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'scfV: NaN or Inf in row ' // intToChar(badRow) // &
               & ' (type ' // intToChar(typeOfRow(numTerms, badRow)) // ')')
         return
      endif
      if (present(tableDn)) then
         if (size(tableDn, 1) /= scfVColumns .or. &
               & size(tableDn, 2) /= numRows) then
            call setStatus (status, message, omlErrArgument, &
                  & 'scfV: the spin-down table must be (5, ' // &
                  & intToChar(numRows) // ')')
            return
         endif
         badRow = firstBadRow(tableDn)
         if (badRow > 0) then
            call setStatus (status, message, omlErrNonFinite, &
                  & 'scfV: NaN or Inf in spin-down row ' // &
                  & intToChar(badRow) // ' (type ' // &
                  & intToChar(typeOfRow(numTerms, badRow)) // ')')
            return
         endif
      endif

      call makeTempFile (trim(path), tmpName, status, message)
      if (status /= omlSuccess) return

      open (newunit=unit, file=tmpName, status='old', action='write', &
            & form='formatted', access='sequential', position='rewind', &
            & iostat=ioStat, iomsg=ioMsg)
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot open ' &
               & // tmpName // ': ' // trim(ioMsg))
         call removeFile (tmpName)
         return
      endif

      write (unit, '(a9,i5)', iostat=ioStat, iomsg=ioMsg) 'NUM_TYPES', &
            & numTypes
      if (ioStat == 0) call writeChannel (unit, 'TOTAL__OR__SPIN_UP', &
            & numTerms, tableUp, ioStat, ioMsg)
      if (ioStat == 0) then
         if (present(tableDn)) then
            call writeChannel (unit, 'SPIN_DN', numTerms, tableDn, &
                  & ioStat, ioMsg)
         else
            call writeChannel (unit, 'SPIN_DN', numTerms, tableUp, &
                  & ioStat, ioMsg)
         endif
      endif
      ! The +U/J section, required by OLCAO's reader, with no terms.
      if (ioStat == 0) write (unit, '(a)', iostat=ioStat, iomsg=ioMsg) &
            & 'NUM__PLUSUJ__TERMS'
      if (ioStat == 0) write (unit, '(i5)', iostat=ioStat, iomsg=ioMsg) 0
      if (ioStat == 0) write (unit, '(a)', iostat=ioStat, iomsg=ioMsg) &
            & 'TOTAL__OR__SPIN_UP'
      if (ioStat == 0) write (unit, '(a)', iostat=ioStat, iomsg=ioMsg) &
            & 'SPIN_DN'
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot write ' &
               & // tmpName // ': ' // trim(ioMsg))
         close (unit, status='delete', iostat=ioStat)
         return
      endif
      close (unit, iostat=ioStat, iomsg=ioMsg)
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot close ' &
               & // tmpName // ': ' // trim(ioMsg))
         call removeFile (tmpName)
         return
      endif

      if (c_rename(tmpName // c_null_char, trim(path) // c_null_char) &
            & /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot ' // &
               & 'rename ' // tmpName // ' to ' // trim(path))
         call removeFile (tmpName)
         return
      endif

   end subroutine writeScfV

   !> One spin channel: the key line, then every type's count and rows.
   subroutine writeChannel (unit, key, numTerms, table, ioStat, ioMsg)

      implicit none

      integer, intent(in) :: unit
      character (len=*), intent(in) :: key
      integer, intent(in) :: numTerms(:)
      real (kind=double), intent(in) :: table(:,:)
      integer, intent(out) :: ioStat
      character (len=*), intent(inout) :: ioMsg

      integer :: t, row, last

      write (unit, '(a)', iostat=ioStat, iomsg=ioMsg) key
      last = 0
      do t = 1, size(numTerms)
         if (ioStat /= 0) return
         write (unit, '(i5)', iostat=ioStat, iomsg=ioMsg) numTerms(t)
         do row = last + 1, last + numTerms(t)
            if (ioStat /= 0) return
            write (unit, '(2(1x,e17.10),3(1x,e13.6))', iostat=ioStat, &
                  & iomsg=ioMsg) table(:, row)
         enddo
         last = last + numTerms(t)
      enddo

   end subroutine writeChannel

   !> A new, empty, uniquely named file beside path (path.XXXXXX).
   subroutine makeTempFile (path, tmpName, status, message)

      implicit none

      character (len=*), intent(in) :: path
      character (len=:), allocatable, intent(out) :: tmpName
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (kind=c_char), allocatable :: template(:)
      character (len=*), parameter :: suffix = '.olcaoml-XXXXXX'
      integer :: n, i, fd, allocStat

      status = omlSuccess
      message = ''
      tmpName = path // suffix
      n = len(tmpName)
      allocate (template(n + 1), stat=allocStat)
      if (allocStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'scfV: out of memory')
         return
      endif
      do i = 1, n
         template(i) = tmpName(i:i)
      enddo
      template(n + 1) = c_null_char

      fd = c_mkstemp(template)
      if (fd < 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot ' // &
               & 'create a temporary file ' // tmpName // ' (does the ' // &
               & 'directory exist and is it writable?)')
         return
      endif
      fd = c_close(fd)
      do i = 1, n
         tmpName(i:i) = template(i)
      enddo

   end subroutine makeTempFile

   subroutine removeFile (name)

      implicit none

      character (len=*), intent(in) :: name

      integer (c_int) :: ignored

      ignored = c_remove(name // c_null_char)

   end subroutine removeFile

   !> First row (1-based) with a NaN or Inf; 0 when all are finite.
   integer function firstBadRow (table)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      real (kind=double), intent(in) :: table(:,:)

      integer :: row

      firstBadRow = 0
      do row = 1, size(table, 2)
         if (.not. all(ieee_is_finite(table(:, row)))) then
            firstBadRow = row
            return
         endif
      enddo

   end function firstBadRow

   !> The potential type a row belongs to.
   pure integer function typeOfRow (numTerms, row)

      implicit none

      integer, intent(in) :: numTerms(:)
      integer, intent(in) :: row

      integer :: last

      last = 0
      do typeOfRow = 1, size(numTerms)
         last = last + numTerms(typeOfRow)
         if (row <= last) return
      enddo

   end function typeOfRow

end module OML_ScfV
