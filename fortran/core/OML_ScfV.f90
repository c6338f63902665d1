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
!! The bytes go out through write(2) (oml_posix_io.c), not Fortran's
!! buffered WRITE: every write, the fsync and the close are checked, so a
!! full disk (ENOSPC) or a file-size limit (EFBIG) is an omlErrIO status
!! and the old file stays as it was.  Lines are formatted in memory with
!! internal WRITEs and sent in chunks of bufferLen bytes.
module OML_ScfV

   use, intrinsic :: iso_c_binding, only: c_int, c_char, c_long, &
         & c_null_char
   use OML_Kinds, only: double
   use OML_Status

   implicit none
   private

   !> Number of columns of a row.
   integer, parameter, public :: scfVColumns = 5

   !> Bytes collected before they are handed to write(2).
   integer, parameter :: bufferLen = 65536

   !> The open temporary file and the bytes not yet written to it.
   type :: FileSink
      integer (c_int) :: fd = -1
      integer :: used = 0
      integer :: errNo = 0
      character (len=omlMessageLen) :: errText = ''
      character (len=bufferLen) :: buffer
   end type FileSink

   ! The few POSIX C functions needed for the temporary file.
   interface
      function c_mkstemp (template) bind(C, name='mkstemp')
         import :: c_int, c_char
         character (kind=c_char), intent(inout) :: template(*)
         integer (c_int) :: c_mkstemp
      end function c_mkstemp

      function oml_write_all (fd, buffer, n, message, messageLen) &
            & bind(C, name='oml_write_all')
         import :: c_int, c_char, c_long
         integer (c_int), value :: fd
         character (kind=c_char), intent(in) :: buffer(*)
         integer (c_long), value :: n
         character (kind=c_char), intent(inout) :: message(*)
         integer (c_int), value :: messageLen
         integer (c_int) :: oml_write_all
      end function oml_write_all

      function oml_sync_close (fd, message, messageLen) &
            & bind(C, name='oml_sync_close')
         import :: c_int, c_char
         integer (c_int), value :: fd
         character (kind=c_char), intent(inout) :: message(*)
         integer (c_int), value :: messageLen
         integer (c_int) :: oml_sync_close
      end function oml_sync_close

      subroutine oml_close_quietly (fd) bind(C, name='oml_close_quietly')
         import :: c_int
         integer (c_int), value :: fd
      end subroutine oml_close_quietly

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
      character (len=128) :: line
      type (FileSink), allocatable :: sink
      integer :: numTypes, numRows, ioStat, t, badRow

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

      allocate (sink, stat=ioStat)
      if (ioStat /= 0) then
         call setStatus (status, message, omlErrMemory, &
               & 'scfV: out of memory')
         return
      endif
      call makeTempFile (trim(path), tmpName, sink%fd, status, message)
      if (status /= omlSuccess) return

      write (line, '(a9,i5)') 'NUM_TYPES', numTypes
      call putLine (sink, line)
      call writeChannel (sink, 'TOTAL__OR__SPIN_UP', numTerms, tableUp)
      if (present(tableDn)) then
         call writeChannel (sink, 'SPIN_DN', numTerms, tableDn)
      else
         call writeChannel (sink, 'SPIN_DN', numTerms, tableUp)
      endif
      ! The +U/J section, required by OLCAO's reader, with no terms.
      call putLine (sink, 'NUM__PLUSUJ__TERMS')
      write (line, '(i5)') 0
      call putLine (sink, line)
      call putLine (sink, 'TOTAL__OR__SPIN_UP')
      call putLine (sink, 'SPIN_DN')
      call flushSink (sink)
      if (sink%errNo /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot write ' &
               & // tmpName // ': ' // trim(sink%errText) // &
               & ' (' // trim(path) // ' was left unchanged)')
         call oml_close_quietly (sink%fd)
         call removeFile (tmpName)
         return
      endif
      sink%errText = ''
      sink%errNo = oml_sync_close(sink%fd, sink%errText, &
            & int(len(sink%errText), c_int))
      if (sink%errNo /= 0) then
         call setStatus (status, message, omlErrIO, 'scfV: cannot close ' &
               & // tmpName // ': ' // cText(sink%errText) // &
               & ' (' // trim(path) // ' was left unchanged)')
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
   subroutine writeChannel (sink, key, numTerms, table)

      implicit none

      type (FileSink), intent(inout) :: sink
      character (len=*), intent(in) :: key
      integer, intent(in) :: numTerms(:)
      real (kind=double), intent(in) :: table(:,:)

      character (len=128) :: line
      integer :: t, row, last

      call putLine (sink, key)
      last = 0
      do t = 1, size(numTerms)
         write (line, '(i5)') numTerms(t)
         call putLine (sink, line)
         do row = last + 1, last + numTerms(t)
            write (line, '(2(1x,e17.10),3(1x,e13.6))') table(:, row)
            call putLine (sink, line)
         enddo
         last = last + numTerms(t)
      enddo

   end subroutine writeChannel

   !> Append one line (trailing blanks dropped) and a newline; full
   !> buffers go to the file.  After the first failure nothing more is
   !> written and sink%errNo keeps the reason.
   subroutine putLine (sink, text)

      implicit none

      type (FileSink), intent(inout) :: sink
      character (len=*), intent(in) :: text

      integer :: n

      if (sink%errNo /= 0) return
      n = len_trim(text)
      if (sink%used + n + 1 > bufferLen) call flushSink (sink)
      if (sink%errNo /= 0) return
      sink%buffer(sink%used + 1:sink%used + n) = text(1:n)
      sink%buffer(sink%used + n + 1:sink%used + n + 1) = achar(10)
      sink%used = sink%used + n + 1

   end subroutine putLine

   !> Hand the collected bytes to write(2).
   subroutine flushSink (sink)

      implicit none

      type (FileSink), intent(inout) :: sink

      character (kind=c_char) :: cMessage(omlMessageLen)
      integer :: i

      if (sink%errNo /= 0 .or. sink%used == 0) return
      cMessage = c_null_char
      sink%errNo = oml_write_all(sink%fd, sink%buffer(1:sink%used), &
            & int(sink%used, c_long), cMessage, int(omlMessageLen, c_int))
      sink%used = 0
      if (sink%errNo /= 0) then
         sink%errText = ''
         do i = 1, omlMessageLen
            if (cMessage(i) == c_null_char) exit
            sink%errText(i:i) = cMessage(i)
         enddo
      endif

   end subroutine flushSink

   !> The text of a NUL-terminated C string held in a Fortran string.
   function cText (text) result (clean)

      implicit none

      character (len=*), intent(in) :: text
      character (len=:), allocatable :: clean

      integer :: n

      n = index(text, c_null_char)
      if (n == 0) then
         clean = trim(text)
      else
         clean = text(1:n - 1)
      endif

   end function cText

   !> A new, empty, uniquely named file beside path (path.XXXXXX), left
   !> open for writing on descriptor fd.
   subroutine makeTempFile (path, tmpName, fd, status, message)

      implicit none

      character (len=*), intent(in) :: path
      character (len=:), allocatable, intent(out) :: tmpName
      integer (c_int), intent(out) :: fd
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      character (kind=c_char), allocatable :: template(:)
      character (len=*), parameter :: suffix = '.olcaoml-XXXXXX'
      integer :: n, i, allocStat

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
