"""The cell-list neighbour search equals ase.neighborlist.neighbor_list."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list

from pyolcaoml.neighbours import neighbour_list


def random_cell(rng: np.random.Generator, skew: float) -> np.ndarray:
    """A triclinic cell; skew > 0.5 makes it non-reduced (tilt > half box)."""
    a = rng.uniform(4.0, 7.0)
    b = rng.uniform(4.0, 7.0)
    c = rng.uniform(4.0, 7.0)
    return (
        np.array(
            [
                [a, 0.0, 0.0],
                [skew * a * rng.uniform(0.5, 1.0), b, 0.0],
                [
                    skew * a * rng.uniform(-1.0, 1.0),
                    skew * b * rng.uniform(0.5, 1.0),
                    c,
                ],
            ]
        )
        @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    )


def as_set(i, j, d) -> set:
    return {
        (int(a), int(b), *np.round(v, 6).tolist())
        for a, b, v in zip(i, j, d, strict=True)
    }


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cutoff", [2.5, 4.7, 11.0])
def test_equals_ase(seed: int, cutoff: float) -> None:
    rng = np.random.default_rng(seed)
    cell = random_cell(rng, skew=[0.0, 0.3, 1.7][seed % 3])
    n = int(rng.integers(1, 12))
    atoms = Atoms(
        f"Si{n}", scaled_positions=rng.uniform(-0.5, 1.5, (n, 3)), cell=cell, pbc=True
    )
    i, j, d = neighbour_list(atoms, cutoff)
    ai, aj, ad = ase_neighbor_list("ijD", atoms, cutoff)
    assert len(i) == len(ai)
    assert as_set(i, j, d) == as_set(ai, aj, ad)


def test_cutoff_much_longer_than_cell_counts_self_images() -> None:
    """One atom in a 2 Å cube, cutoff 5 Å: all lattice points 0 < |T| < 5."""
    atoms = Atoms("Si", positions=[[0.3, 0.1, 0.2]], cell=2.0 * np.eye(3), pbc=True)
    i, j, d = neighbour_list(atoms, 5.0)
    r = np.arange(-3, 4)
    t = 2.0 * np.array(np.meshgrid(r, r, r)).reshape(3, -1).T
    norms = np.linalg.norm(t, axis=1)
    assert len(i) == np.count_nonzero((norms > 0) & (norms < 5.0))
    assert set(j) == {0}


def test_bad_cutoff_raises() -> None:
    atoms = Atoms("Si", positions=[[0, 0, 0]], cell=3 * np.eye(3), pbc=True)
    with pytest.raises(ValueError, match="cutoff"):
        neighbour_list(atoms, -1.0)
