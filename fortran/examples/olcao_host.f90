!! olcao_host: libolcaoml inside a Fortran host laid out like OLCAO.
!!
!!    olcao_host MODEL_FILE ARRAYS_FILE [NUM_SPINS]
!!
!! The two moments at which OLCAO would call the library:
!!
!!  1. when the input has been read (potential sites, types and their
!!     exponents are known; nothing expensive has been done yet): load the
!!     model, find the element of every type, and check the run against
!!     the model (omlCheckPotTypes) -- a bad model path, an element the
!!     model lacks, a type shared by two atoms or exponents that differ
!!     from the model's stop the run here, in a fraction of a second,
!!     instead of after the whole setup.  The model is kept for later;
!!  2. where the starting potential is made (instead of reading
!!     scfV.dat): one call, omlFillPotCoeffs, fills the flat coefficient
!!     array potCoeffs(potDim, spin) of all types for all spins.
!!
!! The host's own kind module exports "double", as OLCAO's does; it is used
!! in the same scope as OML_Library, whose names all start with oml / OML_
!! (its kind is omlDouble), so the two do not clash.
!!
!! ARRAYS_FILE stands for what the host has read from its input, as
!! list-directed records: the lattice vectors a, b, c (Bohr, one per line);
!! numPotSites numPotTypes potDim; per site its type and x y z (Bohr); per
!! type its element name and term offset (the terms before it); the potDim
!! exponents (Bohr^-2).  Prints potCoeffs (Hartree), one spin column per
!! line block; exit status 1 on any error, with the library's message.
module Host_Kinds

   implicit none
   private

   !> The host's own double precision kind, under the name OLCAO uses.
   integer, parameter, public :: double = kind(0.0d0)

end module Host_Kinds


module Host_Potential

   use Host_Kinds, only: double

   implicit none
   public

   ! The host's arrays, laid out as OLCAO keeps them.
   real (kind=double) :: realVectors(3,3)   ! (xyz, abc), Bohr
   integer :: numPotSites, numPotTypes, potDim
   integer, allocatable :: siteType(:)      ! potential type of each site
   real (kind=double), allocatable :: sitePos(:,:)   ! (xyz, site), Bohr
   character (len=3), allocatable :: typeElement(:)  ! element of a type
   integer, allocatable :: typeOffset(:)    ! terms before each type
   real (kind=double), allocatable :: potAlphas(:)   ! all exponents
   real (kind=double), allocatable :: potCoeffs(:,:) ! (potDim, spin)

end module Host_Potential


program olcao_host

   use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
   use Host_Kinds
   use Host_Potential
   use OML_Library

   implicit none

   ! Kept from input time to the starting potential.
   type (OML_ModelType) :: model
   integer, allocatable :: elementOfSite(:)

   character (len=4096) :: modelFile, arraysFile, word
   character (len=omlMessageLen) :: message
   real (kind=double) :: check      ! the host's kind beside the library
   real (kind=omlDouble) :: same    ! the library's: the same kind
   integer :: status, badType, numSpins, site, spin, k

   if (command_argument_count() < 2) then
      write (error_unit, '(a)') 'usage: olcao_host MODEL_FILE ARRAYS_FILE ' &
            & // '[NUM_SPINS]'
      error stop 1
   endif
   call get_command_argument (1, modelFile)
   call get_command_argument (2, arraysFile)
   numSpins = 2
   if (command_argument_count() >= 3) then
      call get_command_argument (3, word)
      read (word, *) numSpins
   endif
   check = 1.0_double
   same = check
   if (kind(same) /= kind(check)) call fail ('kinds differ', 0)

   call readHostArrays (trim(arraysFile))

   ! ---- 1. Input time: load, map elements, check, keep the model. ----
   call omlLoadModel (model, trim(modelFile), status, message)
   if (status /= omlSuccess) call fail (message, 0)
   allocate (elementOfSite(numPotSites))
   do site = 1, numPotSites
      elementOfSite(site) = omlElementIndex(model, &
            & typeElement(siteType(site)))
      if (elementOfSite(site) == 0) call fail ('element ' // &
            & trim(typeElement(siteType(site))) // ' is not in the model', &
            & siteType(site))
   enddo
   call omlCheckPotTypes (model, elementOfSite, siteType, typeOffset, &
         & potAlphas, status, message, badType)
   if (status /= omlSuccess) call fail (message, badType)

   ! ---- (the host's setup: integrals, meshes, ...) ----

   ! ---- 2. The starting potential: one call for all types and spins. ----
   allocate (potCoeffs(potDim, numSpins))
   call omlFillPotCoeffs (model, realVectors, sitePos, elementOfSite, &
         & siteType, typeOffset, potAlphas, 0, potCoeffs, status, message, &
         & badType)
   if (status /= omlSuccess) call fail (message, badType)
   call omlFreeModel (model)

   write (output_unit, '(a,i0)') 'libolcaoml API version ', omlApiVersion()
   do spin = 1, numSpins
      do k = 1, potDim
         write (output_unit, '(es25.16e3)') potCoeffs(k, spin)
      enddo
   enddo

contains

   !> Stands for the host's input reader.
   subroutine readHostArrays (fileName)

      implicit none

      character (len=*), intent(in) :: fileName
      integer :: unit, ioStat, i

      open (newunit=unit, file=fileName, status='old', action='read', &
            & iostat=ioStat)
      if (ioStat /= 0) call fail ('cannot open ' // fileName, 0)
      read (unit, *, iostat=ioStat) realVectors
      if (ioStat == 0) read (unit, *, iostat=ioStat) numPotSites, &
            & numPotTypes, potDim
      if (ioStat /= 0) call fail ('bad header in ' // fileName, 0)
      allocate (siteType(numPotSites), sitePos(3, numPotSites), &
            & typeElement(numPotTypes), typeOffset(numPotTypes), &
            & potAlphas(potDim))
      do i = 1, numPotSites
         if (ioStat == 0) read (unit, *, iostat=ioStat) siteType(i), &
               & sitePos(:, i)
      enddo
      do i = 1, numPotTypes
         if (ioStat == 0) read (unit, *, iostat=ioStat) typeElement(i), &
               & typeOffset(i)
      enddo
      if (ioStat == 0) read (unit, *, iostat=ioStat) potAlphas
      if (ioStat /= 0) call fail ('bad arrays in ' // fileName, 0)
      close (unit)

   end subroutine readHostArrays

   !> Report and stop (the host decides how to stop; the library never
   !> does).  badType > 0: the potential type the library names.
   subroutine fail (text, badType)

      implicit none

      character (len=*), intent(in) :: text
      integer, intent(in) :: badType

      if (badType > 0) then
         write (error_unit, '(a,i0,a)') 'olcao_host: potential type ', &
               & badType, ': ' // trim(text)
      else
         write (error_unit, '(a)') 'olcao_host: ' // trim(text)
      endif
      error stop 1

   end subroutine fail

end program olcao_host
