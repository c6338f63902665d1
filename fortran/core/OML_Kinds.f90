!! OML_Kinds: numerical kinds and constants shared by every pyolcaoml module.
!!
!! As in OLCAO's O_Kinds, all floating-point work is done in
!! real (kind=double).  The constants are kept here so that every module
!! agrees on the last digit of pi and of the Bohr radius.
module OML_Kinds

   implicit none
   private

   !> Double precision, exactly as OLCAO defines it.
   integer, parameter, public :: double = kind(0.0d0)

   !> pi to the last digit a double can hold.
   real (kind=double), parameter, public :: pi = &
         & 3.14159265358979323846264338327950288_double

   !> One Bohr radius in Angstrom, the value OLCAO uses for its conversions.
   real (kind=double), parameter, public :: bohrRad = 0.52917721_double

end module OML_Kinds
