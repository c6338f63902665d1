!! The thin layer that f2py wraps (module pyolcaoml._core).
!!
!! f2py sees only these plain subroutines: explicit-shape arrays, scalar
!! arguments, logical flags as integers (0/1), and a status code with a
!! message instead of any exception.  "threadsafe" releases the GIL.
!! Kinds: f2py maps real (kind=double) to C double through .f2py_f2cmap.

!> Bispectrum components of the atoms in centres (1-based).
!> cell(xyz, abc): lattice vectors as columns; positions(xyz, atom).
subroutine oml_bispectrum (numAtoms, numElements, numCentres, numColumns, &
      & cell, positions, elementOf, radius, weight, centres, twoJMax, &
      & rCutFac, rFac0, rMin0, switchFlag, bZeroFlag, bNormFlag, &
      & wSelfAllFlag, chemFlag, numThreads, bispectrum, status, message)

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice
   use OML_Bispectrum

   implicit none

   !f2py threadsafe
   integer, intent(in) :: numAtoms, numElements, numCentres, numColumns
   real (kind=double), intent(in) :: cell(3,3)
   real (kind=double), intent(in) :: positions(3,numAtoms)
   integer, intent(in) :: elementOf(numAtoms)
   real (kind=double), intent(in) :: radius(numElements)
   real (kind=double), intent(in) :: weight(numElements)
   integer, intent(in) :: centres(numCentres)
   integer, intent(in) :: twoJMax
   real (kind=double), intent(in) :: rCutFac, rFac0, rMin0
   integer, intent(in) :: switchFlag, bZeroFlag, bNormFlag
   integer, intent(in) :: wSelfAllFlag, chemFlag, numThreads
   real (kind=double), intent(out) :: bispectrum(numColumns, numCentres)
   integer, intent(out) :: status
   character (len=512), intent(out) :: message

   type (OML_SnapParamsType) :: params
   type (OML_SnapType) :: snap
   type (OML_LatticeType) :: lattice

   bispectrum(:,:) = 0.0_double
   params%twoJMax = twoJMax
   params%rCutFac = rCutFac
   params%rFac0 = rFac0
   params%rMin0 = rMin0
   params%switchFlag = switchFlag /= 0
   params%bZeroFlag = bZeroFlag /= 0
   params%bNormFlag = bNormFlag /= 0
   params%wSelfAllFlag = wSelfAllFlag /= 0
   params%chemFlag = chemFlag /= 0
   params%numElements = numElements
   params%radius = radius
   params%weight = weight

   call initSnap (snap, params, status, message)
   if (status /= omlSuccess) return
   if (snap%numColumns /= numColumns) then
      call setStatus (status, message, omlErrArgument, &
            & 'bispectrum: numColumns does not match the parameters')
      return
   endif
   call initLattice (lattice, cell, status, message)
   if (status /= omlSuccess) return
   call computeBispectrum (snap, lattice, positions, elementOf, centres, &
         & numThreads, bispectrum, status, message)

end subroutine oml_bispectrum

!> The kept (2j1, 2j2, 2j) triples in column order.
subroutine oml_triples (twoJMax, capacity, numTriples, triples, status, &
      & message)

   use OML_Status
   use OML_SnapIndex

   implicit none

   integer, intent(in) :: twoJMax, capacity
   integer, intent(out) :: numTriples
   integer, intent(out) :: triples(3, capacity)
   integer, intent(out) :: status
   character (len=512), intent(out) :: message

   type (OML_SnapIndexType) :: index

   numTriples = 0
   triples(:,:) = 0
   call initSnapIndex (index, twoJMax, status, message)
   if (status /= omlSuccess) return
   numTriples = index%numTriples
   if (numTriples <= capacity) triples(:, 1:numTriples) = index%triple

end subroutine oml_triples

!> Largest twoJMax the core accepts.
subroutine oml_max_twojmax (value)

   use OML_SnapIndex, only: maxTwoJMax

   implicit none

   integer, intent(out) :: value

   value = maxTwoJMax

end subroutine oml_max_twojmax

!> One Clebsch-Gordan coefficient (doubled momenta, ladder indices).
subroutine oml_clebsch_gordan (twoJ1, twoJ2, twoJ, m1Idx, m2Idx, coeff)

   use OML_Kinds, only: double
   use OML_ClebschGordan

   implicit none

   integer, intent(in) :: twoJ1, twoJ2, twoJ, m1Idx, m2Idx
   real (kind=double), intent(out) :: coeff

   coeff = clebschGordan(twoJ1, twoJ2, twoJ, m1Idx, m2Idx)

end subroutine oml_clebsch_gordan

!> Full periodic neighbour list within one cutoff (CSR layout, 1-based).
!> When the list has more than capacity pairs, numPairs says how many and
!> the arrays are left empty: call again with a larger capacity.
subroutine oml_neighbour_list (numAtoms, capacity, cell, positions, cutoff, &
      & numThreads, numPairs, nbrStart, nbrAtom, nbrVec, status, message)

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice
   use OML_CellList
   !$ use omp_lib, only: omp_set_num_threads, omp_get_max_threads

   implicit none

   !f2py threadsafe
   integer, intent(in) :: numAtoms, capacity
   real (kind=double), intent(in) :: cell(3,3)
   real (kind=double), intent(in) :: positions(3, numAtoms)
   real (kind=double), intent(in) :: cutoff
   integer, intent(in) :: numThreads
   integer, intent(out) :: numPairs
   integer, intent(out) :: nbrStart(numAtoms + 1)
   integer, intent(out) :: nbrAtom(capacity)
   real (kind=double), intent(out) :: nbrVec(3, capacity)
   integer, intent(out) :: status
   character (len=512), intent(out) :: message

   type (OML_LatticeType) :: lattice
   integer, allocatable :: start(:), atom(:)
   real (kind=double), allocatable :: vec(:,:)

   numPairs = 0
   nbrStart(:) = 1
   nbrAtom(:) = 0
   nbrVec(:,:) = 0.0_double
   if (numThreads < 0) then
      call setStatus (status, message, omlErrArgument, &
            & 'n_threads: must be >= 0')
      return
   endif
   call initLattice (lattice, cell, status, message)
   if (status /= omlSuccess) return
   call buildNeighbourList (lattice, positions, cutoff, start, atom, vec, &
         & status, message)
   if (status /= omlSuccess) return
   numPairs = size(atom)
   if (numPairs > capacity) return
   nbrStart(:) = start(:)
   nbrAtom(1:numPairs) = atom(:)
   nbrVec(:, 1:numPairs) = vec(:,:)

end subroutine oml_neighbour_list

!> Ensemble mean and calibrated spread (OML_Ensemble) of numAtoms atoms
!> of one element: members(N, atom, member), gram(N, N) the V(r) metric.
subroutine oml_ensemble_moments (numTerms, numAtoms, numMembers, members, &
      & gram, scale, floor, mean, sigma, status, message)

   use OML_Kinds, only: double
   use OML_Ensemble

   implicit none

   !f2py threadsafe
   integer, intent(in) :: numTerms, numAtoms, numMembers
   real (kind=double), intent(in) :: members(numTerms, numAtoms, numMembers)
   real (kind=double), intent(in) :: gram(numTerms, numTerms)
   real (kind=double), intent(in) :: scale, floor
   real (kind=double), intent(out) :: mean(numTerms, numAtoms)
   real (kind=double), intent(out) :: sigma(numAtoms)
   integer, intent(out) :: status
   character (len=512), intent(out) :: message

   call ensembleMoments (members, gram, scale, floor, mean, sigma, status, &
         & message)

end subroutine oml_ensemble_moments

!> Neighbour means (OML_NeighbourMean) of the base descriptors
!> base(K, atom) over the neighbours of the atoms in centres (1-based),
!> switched off between rInner(a,b) and rOuter(a,b) (Angstrom) for a
!> centre of element a and a neighbour of element b (elementOf: 1..E).
subroutine oml_neighbour_mean (numAtoms, numCentres, numColumns, &
      & numElements, cell, positions, elementOf, rInner, rOuter, base, &
      & centres, numThreads, mean, status, message)

   use OML_Kinds, only: double
   use OML_Status
   use OML_Lattice
   use OML_NeighbourMean

   implicit none

   !f2py threadsafe
   integer, intent(in) :: numAtoms, numCentres, numColumns, numElements
   real (kind=double), intent(in) :: cell(3,3)
   real (kind=double), intent(in) :: positions(3, numAtoms)
   integer, intent(in) :: elementOf(numAtoms)
   real (kind=double), intent(in) :: rInner(numElements, numElements)
   real (kind=double), intent(in) :: rOuter(numElements, numElements)
   real (kind=double), intent(in) :: base(numColumns, numAtoms)
   integer, intent(in) :: centres(numCentres)
   integer, intent(in) :: numThreads
   real (kind=double), intent(out) :: mean(numColumns, numCentres)
   integer, intent(out) :: status
   character (len=512), intent(out) :: message

   type (OML_LatticeType) :: lattice

   mean(:,:) = 0.0_double
   call initLattice (lattice, cell, status, message)
   if (status /= omlSuccess) return
   call computeNeighbourMean (lattice, positions, elementOf, rInner, &
         & rOuter, base, centres, numThreads, mean, status, message)

end subroutine oml_neighbour_mean
