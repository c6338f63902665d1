"""Deterministic a-Si-like test cells for the benchmarks.

Random sequential addition at the density of crystalline Si (0.04994 Å⁻³)
with a 2.2 Å minimum distance gives an amorphous-like cell with about 23
neighbours per atom within 4.8 Å, the setting of the LAMMPS reference
timings.  Larger cells are replicas of a base cell (the cost per atom of a
descriptor does not care that environments repeat).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

SI_DENSITY = 8 / 5.431**3  # atoms per Å³


def random_asi(n_atoms: int, seed: int = 0, min_dist: float = 2.2) -> Atoms:
    length = (n_atoms / SI_DENSITY) ** (1 / 3)
    rng = np.random.default_rng(seed)
    pos = np.empty((n_atoms, 3))
    count = 0
    while count < n_atoms:
        trial = rng.uniform(0, length, 3)
        d = pos[:count] - trial
        d -= length * np.round(d / length)
        if count == 0 or np.einsum("ij,ij->i", d, d).min() > min_dist**2:
            pos[count] = trial
            count += 1
    return Atoms(f"Si{n_atoms}", positions=pos, cell=length * np.eye(3), pbc=True)


def replicated(base: Atoms, reps: int) -> Atoms:
    return base.repeat((reps, reps, reps))
