"""Periodic neighbour lists from the Fortran cell list (O(N), any cell)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pyolcaoml._fortran import (
    check,
    core,
    fortran_cell,
    fortran_positions,
    thread_count,
)
from pyolcaoml.structure import Structure


def neighbour_list(
    structure: Any, cutoff: float, *, n_threads: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs closer than ``cutoff`` (Å), with every periodic image.

    Returns ``(i, j, D)`` like ``ase.neighborlist.neighbor_list('ijD', ...)``:
    0-based centre and neighbour indices and the vectors D = x_j + T - x_i in
    Å, grouped by centre.  The cell must be periodic in all three directions.
    """
    s = Structure.coerce(structure)
    if not all(s.pbc):
        raise ValueError("neighbour_list: the structure must be periodic (pbc)")
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff: must be a positive length in Å, got {cutoff}")
    n = len(s)
    if n == 0:
        raise ValueError("structure: has no atoms")
    capacity = max(64, 64 * n)
    for _ in range(2):
        num, start, atom, vec, status, message = core().oml_neighbour_list(
            capacity,
            fortran_cell(s.cell),
            fortran_positions(s.positions),
            float(cutoff),
            thread_count(n_threads),
        )
        check(status, message)
        if num <= capacity:
            break
        capacity = num
    counts = np.diff(start)
    i = np.repeat(np.arange(n), counts)
    return i, atom[:num] - 1, np.ascontiguousarray(vec[:, :num].T)
