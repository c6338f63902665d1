!! OML_Lattice: the periodic cell.
!!
!! The lattice is stored as OLCAO stores it: realVectors(xyz, abc), i.e. the
!! columns are the lattice vectors a, b and c in Cartesian coordinates.  Any
!! triclinic cell is allowed, also strongly skewed, non-reduced ones: nothing
!! here assumes that the vectors are short or nearly orthogonal.
!!
!! Fractional coordinates s of a Cartesian point r follow from the
!! reciprocal vectors (without the 2 pi): s_abc = recipVectors(:,abc) . r.
!! The perpendicular height of the cell along a (the distance between the
!! two faces spanned by b and c) is h_a = volume / |b x c| = 1 / |recip_a|.
!! The heights decide how many periodic images a cutoff sphere can reach.
module OML_Lattice

   use OML_Kinds, only: double
   use OML_Status

   implicit none
   private

   type, public :: OML_LatticeType
      !> Lattice vectors as columns (Cartesian, length unit of the caller).
      real (kind=double) :: realVectors(3,3) = 0.0_double
      !> Reciprocal vectors as columns, realVectors^T recipVectors = I.
      real (kind=double) :: recipVectors(3,3) = 0.0_double
      !> Signed cell volume (negative for a left-handed cell).
      real (kind=double) :: volume = 0.0_double
      !> Perpendicular heights of the cell along a, b and c.
      real (kind=double) :: heights(3) = 0.0_double
   end type OML_LatticeType

   public :: initLattice
   public :: cartToFract

contains

   !> Set up a lattice from its vectors; fails for non-finite or (nearly)
   !> singular cells.  The singularity test is relative: the volume is
   !> compared with the product of the vector lengths, so that the test does
   !> not depend on the unit of length.
   subroutine initLattice (lattice, realVectors, status, message)

      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite

      implicit none

      type (OML_LatticeType), intent(out) :: lattice
      real (kind=double), intent(in) :: realVectors(3,3)
      integer, intent(out) :: status
      character (len=*), intent(out) :: message

      real (kind=double) :: crossBC(3), crossCA(3), crossAB(3)
      real (kind=double) :: lengthProduct
      integer :: abc

      status = omlSuccess
      message = ''

      if (.not. all(ieee_is_finite(realVectors))) then
         call setStatus (status, message, omlErrNonFinite, &
               & 'cell: lattice vectors contain NaN or Inf')
         return
      endif

      lattice%realVectors(:,:) = realVectors(:,:)

      ! The cross products of pairs of lattice vectors give the reciprocal
      ! vectors once divided by the volume a . (b x c).
      crossBC = cross(realVectors(:,2), realVectors(:,3))
      crossCA = cross(realVectors(:,3), realVectors(:,1))
      crossAB = cross(realVectors(:,1), realVectors(:,2))
      lattice%volume = dot_product(realVectors(:,1), crossBC)

      lengthProduct = 1.0_double
      do abc = 1, 3
         lengthProduct = lengthProduct * norm2(realVectors(:,abc))
      enddo
      if (lengthProduct <= 0.0_double .or. &
            & abs(lattice%volume) <= 1.0e-10_double * lengthProduct) then
         call setStatus (status, message, omlErrLattice, &
               & 'cell: the lattice vectors are linearly dependent ' // &
               & '(singular cell, volume ~ 0)')
         return
      endif

      lattice%recipVectors(:,1) = crossBC / lattice%volume
      lattice%recipVectors(:,2) = crossCA / lattice%volume
      lattice%recipVectors(:,3) = crossAB / lattice%volume

      do abc = 1, 3
         lattice%heights(abc) = 1.0_double / &
               & norm2(lattice%recipVectors(:,abc))
      enddo

   end subroutine initLattice

   !> Fractional coordinates of a Cartesian point (not wrapped).
   pure function cartToFract (lattice, cartPos) result (fractPos)

      implicit none

      type (OML_LatticeType), intent(in) :: lattice
      real (kind=double), intent(in) :: cartPos(3)
      real (kind=double) :: fractPos(3)

      fractPos = matmul(cartPos, lattice%recipVectors)

   end function cartToFract

   pure function cross (u, v) result (w)

      implicit none

      real (kind=double), intent(in) :: u(3), v(3)
      real (kind=double) :: w(3)

      w(1) = u(2)*v(3) - u(3)*v(2)
      w(2) = u(3)*v(1) - u(1)*v(3)
      w(3) = u(1)*v(2) - u(2)*v(1)

   end function cross

end module OML_Lattice
