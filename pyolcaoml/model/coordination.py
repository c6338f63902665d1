"""How many neighbours each atom has within a short cutoff (Å).

A bond count is the plainest fingerprint of a point defect in a covalent
crystal: in 3C-SiC every atom has four neighbours at 1.89 Å, and the atoms
around a vacancy keep three.  Used by the Si-vacancy mark of
:mod:`pyolcaoml.model.sic_vacancy` and by the iteration groups of
:mod:`pyolcaoml.model.olcao_iterations`; libolcaoml counts the same way
(``olcaoml_iteration_group``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["coordination"]


def coordination(
    structure: Any, cutoff_angstrom: float, n_threads: int | None = None
) -> tuple[Any, np.ndarray]:
    """(the structure as a :class:`~pyolcaoml.structure.Structure`, each
    atom's number of neighbours: atoms of any element, every periodic
    image, strictly closer than ``cutoff_angstrom``)."""
    from pyolcaoml.bispectrum import padded_cell
    from pyolcaoml.neighbours import neighbour_list
    from pyolcaoml.structure import Structure

    s = Structure.coerce(structure)
    if len(s) == 0:
        return s, np.zeros(0, dtype=np.int64)
    # a non-periodic axis (a molecule, a slab) is padded as for the
    # descriptors, so that no atom meets an image along it
    cell, positions = padded_cell(s, cutoff_angstrom)
    padded = Structure(cell=cell, positions=positions, symbols=s.symbols)
    i, _, _ = neighbour_list(padded, cutoff_angstrom, n_threads=n_threads)
    return s, np.bincount(i, minlength=len(s))
