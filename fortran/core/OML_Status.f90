!! OML_Status: status codes and error messages.
!!
!! No routine of the pyolcaoml Fortran core ever executes "stop": it would
!! kill the host program (Python, or OLCAO itself).  Every routine that can
!! fail has an integer "status" argument (omlSuccess = 0 on success) and a
!! character "message" argument that says, in words a user understands,
!! what was wrong with which argument.
module OML_Status

   implicit none
   private

   integer, parameter, public :: omlSuccess = 0
   integer, parameter, public :: omlErrArgument = 1   ! invalid argument
   integer, parameter, public :: omlErrNonFinite = 2  ! NaN or Inf in input
   integer, parameter, public :: omlErrLattice = 3    ! singular cell
   integer, parameter, public :: omlErrOverlap = 4    ! two atoms coincide
   integer, parameter, public :: omlErrMemory = 5     ! allocation failed
   integer, parameter, public :: omlErrIO = 6         ! file could not be
                                                       ! read or written
   integer, parameter, public :: omlErrFormat = 7     ! malformed file
   integer, parameter, public :: omlErrElement = 8    ! unknown element
   integer, parameter, public :: omlErrNullPointer = 9 ! null C pointer
   integer, parameter, public :: omlErrState = 10     ! object not ready

   !> Length of every message buffer.
   integer, parameter, public :: omlMessageLen = 512

   public :: setStatus
   public :: intToChar

   !> An integer of the default kind or of 64 bits (a count read from a
   !> file) as text without padding, for messages.
   interface intToChar
      module procedure intToCharDefault, intToChar64
   end interface intToChar
   public :: ioFailureText

contains

   !> Record a failure: the code and its message.
   subroutine setStatus (status, message, code, text)

      implicit none

      integer, intent(out) :: status
      character (len=*), intent(out) :: message
      integer, intent(in) :: code
      character (len=*), intent(in) :: text

      status = code
      message = text

   end subroutine setStatus

   function intToCharDefault (value) result (text)

      implicit none

      integer, intent(in) :: value
      character (len=:), allocatable :: text
      character (len=24) :: buffer

      write (buffer, '(i0)') value
      text = trim(buffer)

   end function intToCharDefault

   function intToChar64 (value) result (text)

      use, intrinsic :: iso_fortran_env, only: int64

      implicit none

      integer (kind=int64), intent(in) :: value
      character (len=:), allocatable :: text
      character (len=24) :: buffer

      write (buffer, '(i0)') value
      text = trim(buffer)

   end function intToChar64

   !> The message of a failed open/read/write: "cannot open PATH: why".
   !> Compilers' iomsg often names the file itself (gfortran: "Cannot
   !> open file 'PATH': No such file or directory"); then only the reason
   !> after the file name is kept, so the path is not said twice.
   function ioFailureText (action, path, ioMsg) result (text)

      implicit none

      character (len=*), intent(in) :: action, path, ioMsg
      character (len=:), allocatable :: text

      integer :: at, colon

      text = 'cannot ' // action // ' ' // trim(path)
      at = 0
      if (len_trim(path) > 0) at = index(ioMsg, trim(path))
      if (at > 0) then
         ! The reason follows the first ': ' after the file name.
         colon = index(ioMsg(at + len_trim(path):), ': ')
         if (colon > 0) then
            text = text // ': ' // &
                  & trim(adjustl(ioMsg(at + len_trim(path) + colon + 1:)))
         else
            text = 'cannot ' // action // ': ' // trim(ioMsg)
         endif
      elseif (len_trim(ioMsg) > 0) then
         text = text // ': ' // trim(ioMsg)
      endif

   end function ioFailureText

end module OML_Status
