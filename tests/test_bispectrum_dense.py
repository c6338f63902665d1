"""Fortran core against a slow independent NumPy/SymPy implementation.

Covers what the LAMMPS set does not: odd and small twojmax, rmin0 > 0,
bnorm without chem, several elements without chem, random environments;
and the permutation symmetry B_{j1 j2 j}/(j+1) = B_{j j2 j1}/(j1+1) on
components computed independently by the dense code (the core only outputs
j >= j1).
"""

from __future__ import annotations

import numpy as np
import pytest
from snap_dense import all_triples, bispectrum_component, density, kept_triples

from pyolcaoml import Bispectrum, Structure
from pyolcaoml.neighbours import neighbour_list


def random_structure(seed: int, n: int = 5, symbols=("Si",)) -> Structure:
    rng = np.random.default_rng(seed)
    cell = np.diag([6.0, 6.5, 7.0]) + rng.uniform(-1.0, 1.0, (3, 3))
    frac = rng.uniform(0, 1, (n, 3))
    syms = [symbols[i % len(symbols)] for i in range(n)]
    return Structure(cell, frac @ cell, syms)


def dense_bispectrum(s: Structure, desc: Bispectrum) -> np.ndarray:
    i, j, d = neighbour_list(s, desc.max_cutoff)
    rows = []
    for atom in range(len(s)):
        nbrs = []
        for jj, dd in zip(j[i == atom], d[i == atom], strict=True):
            rcut = desc.rcutfac * (
                desc.radii[s.symbols[atom]] + desc.radii[s.symbols[jj]]
            )
            if np.sqrt(dd @ dd) < rcut:
                nbrs.append((dd, rcut, desc.weights[s.symbols[jj]]))
        u = density(nbrs, desc.twojmax, desc.rfac0, desc.rmin0, desc.switch)
        row = []
        for t in kept_triples(desc.twojmax):
            value = bispectrum_component(u, *t)
            if desc.bnorm:
                value /= t[2] + 1
            if desc.bzero:
                value -= 1.0 if desc.bnorm else t[2] + 1
            row.append(value)
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(twojmax=0),
        dict(twojmax=1),
        dict(twojmax=3, rmin0=0.8),
        dict(twojmax=4, bnorm=True, bzero=True),
        dict(twojmax=5, switch=False, rfac0=0.7),
        dict(twojmax=4, radii={"Si": 2.3, "C": 1.9}, weights={"Si": 1.0, "C": 0.4}),
    ],
    ids=["tjm0", "tjm1", "tjm3-rmin0", "tjm4-bnorm-bzero", "tjm5-switch0", "tjm4-SiC"],
)
def test_core_matches_dense_reference(kwargs: dict) -> None:
    desc = Bispectrum(**kwargs)
    s = random_structure(7, n=5, symbols=desc.elements)
    expected = dense_bispectrum(s, desc)
    got = desc.compute(s)
    assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max()


def test_permutation_symmetry_of_independent_components() -> None:
    """B_{j1 j2 j}/(j+1) is the same for all orderings of (j1, j2, j)."""
    s = random_structure(11, n=4)
    desc = Bispectrum(twojmax=5)
    i, j, d = neighbour_list(s, desc.max_cutoff)
    nbrs = [(dd, 4.7, 1.0) for dd in d[i == 0] if np.sqrt(dd @ dd) < 4.7]
    assert len(nbrs) > 3
    u = density(nbrs, 5)
    checked = 0
    for j1, j2, j in all_triples(5):
        left = bispectrum_component(u, j1, j2, j) / (j + 1)
        for a, b, c in ((j, j2, j1), (j1, j, j2), (j2, j1, j)):
            if c <= 5 and a <= 5 and b <= 5:
                right = bispectrum_component(u, a, b, c) / (c + 1)
                assert left == pytest.approx(right, rel=1e-10, abs=1e-10)
                checked += 1
    assert checked > 50
