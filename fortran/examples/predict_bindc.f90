!! predict_bindc: libolcaoml from Fortran through its C interface only, for
!! a program built with another compiler than the library (the .mod files
!! of OML_Library are compiler-specific; bind(C) interfaces are not).
!!
!!    predict_bindc MODEL_FILE
!!
!! Predicts the coefficients of an 8-atom diamond silicon cell and prints
!! them, one atom per line (es25.17), for the test suite to compare.
!! Build: gfortran predict_bindc.f90 $(pkg-config --libs olcaoml)

!> The part of olcaoml.h this program needs, as Fortran interfaces.
module OML_ExampleCInterface

   use, intrinsic :: iso_c_binding

   implicit none

   interface
      integer (c_int) function olcaoml_api_version () &
            & bind(C, name='olcaoml_api_version')
         import :: c_int
      end function olcaoml_api_version

      integer (c_int) function olcaoml_model_load (path, model, message, &
            & messageLen) bind(C, name='olcaoml_model_load')
         import :: c_int, c_char, c_ptr
         character (kind=c_char), intent(in) :: path(*)
         type (c_ptr), intent(out) :: model
         character (kind=c_char), intent(out) :: message(*)
         integer (c_int), value :: messageLen
      end function olcaoml_model_load

      integer (c_int) function olcaoml_model_free (model) &
            & bind(C, name='olcaoml_model_free')
         import :: c_int, c_ptr
         type (c_ptr), intent(inout) :: model
      end function olcaoml_model_free

      integer (c_int) function olcaoml_model_element_index (model, &
            & symbol, element, message, messageLen) &
            & bind(C, name='olcaoml_model_element_index')
         import :: c_int, c_char, c_ptr
         type (c_ptr), value :: model
         character (kind=c_char), intent(in) :: symbol(*)
         integer (c_int), intent(out) :: element
         character (kind=c_char), intent(out) :: message(*)
         integer (c_int), value :: messageLen
      end function olcaoml_model_element_index

      integer (c_int) function olcaoml_model_max_alphas (model, n, &
            & message, messageLen) bind(C, name='olcaoml_model_max_alphas')
         import :: c_int, c_char, c_ptr
         type (c_ptr), value :: model
         integer (c_int), intent(out) :: n
         character (kind=c_char), intent(out) :: message(*)
         integer (c_int), value :: messageLen
      end function olcaoml_model_max_alphas

      integer (c_int) function olcaoml_predict (model, realVectors, &
            & numAtoms, positions, elementOf, numCentres, centres, &
            & numThreads, ldCoeffs, coeffs, message, messageLen) &
            & bind(C, name='olcaoml_predict')
         import :: c_int, c_double, c_char, c_ptr
         type (c_ptr), value :: model
         real (c_double), intent(in) :: realVectors(3,3)
         integer (c_int), value :: numAtoms
         real (c_double), intent(in) :: positions(3,*)
         integer (c_int), intent(in) :: elementOf(*)
         integer (c_int), value :: numCentres
         type (c_ptr), value :: centres          ! c_null_ptr: all atoms
         integer (c_int), value :: numThreads, ldCoeffs
         real (c_double), intent(out) :: coeffs(ldCoeffs,*)
         character (kind=c_char), intent(out) :: message(*)
         integer (c_int), value :: messageLen
      end function olcaoml_predict
   end interface

end module OML_ExampleCInterface

program predict_bindc

   use, intrinsic :: iso_c_binding
   use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
   use OML_ExampleCInterface

   implicit none

   integer, parameter :: numAtoms = 8
   real (c_double), parameter :: a = 10.263102445200127377_c_double
   real (c_double) :: realVectors(3,3), positions(3,numAtoms)
   real (c_double) :: fract(3,numAtoms)
   real (c_double), allocatable :: coeffs(:,:)
   integer (c_int) :: elementOf(numAtoms), element, maxAlphas, status
   character (kind=c_char) :: message(512)
   character (len=4096) :: modelFile
   type (c_ptr) :: model
   integer :: i

   call get_command_argument (1, modelFile)
   status = olcaoml_model_load (trim(modelFile) // c_null_char, model, &
         & message, 512_c_int)
   if (status /= 0) call fail ()
   status = olcaoml_model_element_index (model, 'si' // c_null_char, &
         & element, message, 512_c_int)
   if (status /= 0) call fail ()
   status = olcaoml_model_max_alphas (model, maxAlphas, message, 512_c_int)
   if (status /= 0) call fail ()

   realVectors = 0.0_c_double
   do i = 1, 3
      realVectors(i, i) = a
   enddo
   fract = reshape((/ 0.0d0, 0.0d0, 0.0d0,   0.0d0, 0.5d0, 0.5d0, &
         & 0.5d0, 0.0d0, 0.5d0,   0.5d0, 0.5d0, 0.0d0, &
         & 0.25d0, 0.25d0, 0.25d0,   0.25d0, 0.75d0, 0.75d0, &
         & 0.75d0, 0.25d0, 0.75d0,   0.75d0, 0.75d0, 0.25d0 /), &
         & (/ 3, numAtoms /))
   positions = fract * a
   elementOf(:) = element

   allocate (coeffs(maxAlphas, numAtoms))
   status = olcaoml_predict (model, realVectors, numAtoms, positions, &
         & elementOf, numAtoms, c_null_ptr, 0_c_int, maxAlphas, coeffs, &
         & message, 512_c_int)
   if (status /= 0) call fail ()
   write (output_unit, '(a,i0)') 'api ', olcaoml_api_version()
   do i = 1, numAtoms
      write (output_unit, '(*(es25.17))') coeffs(:, i)
   enddo
   status = olcaoml_model_free (model)

contains

   subroutine fail ()

      implicit none

      integer :: n

      n = 0
      do while (n < size(message))
         if (message(n + 1) == c_null_char) exit
         n = n + 1
      enddo
      write (error_unit, '(a,i0,a,512a1)') 'predict_bindc: error ', &
            & status, ': ', message(1:n)
      stop 1, quiet=.true.  ! F2018: no "ERROR STOP" line or backtrace

   end subroutine fail

end program predict_bindc
