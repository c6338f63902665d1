!! OML_Threads: how many OpenMP threads a call may start.
!!
!! A thread count comes from a user (Python's n_threads, the CLI's
!! --threads, the C API's num_threads).  OpenMP itself has no useful
!! answer to a wrong one: libgomp aborts the process, or runs out of stack
!! space for a million threads and the host (Python, OLCAO) dies with it.
!! The work is split over atoms, so more threads than the machine has
!! cores never makes it faster; the results do not depend on the count.
!! Counts above omlMaxThreads are therefore refused with a status, not
!! started.
module OML_Threads

   use OML_Status

   implicit none
   private

   !> The largest thread count a call accepts (documented in olcaoml.h,
   !> docs/library.md and pyolcaoml._fortran.MAX_THREADS).
   integer, parameter, public :: omlMaxThreads = 1024

   public :: chooseThreads

contains

   !> The number of threads to start for a request: numThreads > 0 as
   !> asked, <= 0 the OpenMP default (OMP_NUM_THREADS or all cores),
   !> itself capped at omlMaxThreads.  A request above the cap is an
   !> omlErrArgument status.
   subroutine chooseThreads (numThreads, useThreads, status, message)

      !$ use omp_lib, only: omp_get_max_threads

      implicit none

      integer, intent(in) :: numThreads
      integer, intent(out) :: useThreads
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      status = omlSuccess
      message = ''
      useThreads = 1
      if (numThreads > omlMaxThreads) then
         call setStatus (status, message, omlErrArgument, &
               & 'num_threads: ' // intToChar(numThreads) // &
               & ' is more than the limit of ' // intToChar(omlMaxThreads) &
               & // ' threads (use 0 for the OpenMP default)')
         return
      endif
      !$ useThreads = omp_get_max_threads()
      if (numThreads > 0) useThreads = numThreads
      useThreads = max(1, min(useThreads, omlMaxThreads))

   end subroutine chooseThreads

end module OML_Threads
