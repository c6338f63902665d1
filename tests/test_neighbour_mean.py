"""The neighbour mean (pyolcaoml.neighbour_mean, fortran/core/OML_NeighbourMean.f90).

The reference is a slow, independent implementation here: ASE's neighbour
list and the documented weights in NumPy, applied to the base descriptors
(whose own correctness the LAMMPS tests cover).  Analytic cases: a perfect
crystal (every neighbour equivalent: the mean is the atom's own), a cluster
with neighbours at chosen distances (weights 1, 1/2 and 0), an isolated
atom (no neighbour: zero).  The library (libolcaoml, model format 4) must
give the same bits as Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list
from hypothesis import given, settings
from hypothesis import strategies as st

from pyolcaoml import Bispectrum, MultiScaleBispectrum
from pyolcaoml._fortran import check, core, fortran_cell, fortran_positions
from pyolcaoml.bispectrum import descriptor_from_dict
from pyolcaoml.neighbour_mean import NeighbourMean

SIC_RADII = {"Si": 2.35, "C": 1.609}


def slow_mean(atoms: Atoms, base: np.ndarray, r_in: float, r_out: float) -> np.ndarray:
    """sum_j w(r_ij) b_j / sum_j w(r_ij) with ASE's neighbour list."""
    i, j, d = neighbor_list("ijd", atoms, r_out)
    out = np.zeros_like(base)
    for k in range(len(atoms)):
        m = (i == k) & (d < r_out)
        if r_out > r_in:
            t = np.clip((d[m] - r_in) / (r_out - r_in), 0.0, 1.0)
            w = 0.5 * (1.0 + np.cos(np.pi * t))
        else:
            w = np.ones(m.sum())
        if w.sum() > 0:
            out[k] = (w[:, None] * base[j[m]]).sum(0) / w.sum()
    return out


def sic_cell(seed: int, sigma: float = 0.15) -> Atoms:
    a = bulk("SiC", "zincblende", a=4.36, cubic=True).repeat((2, 1, 1))
    a.rattle(sigma, seed=seed)
    return a


def test_matches_a_slow_implementation_on_rattled_sic():
    inner = MultiScaleBispectrum(
        scales=[0.75, 1.5], twojmax=4, radii=SIC_RADII, chem=True
    )
    calc = NeighbourMean(inner, 2.0, 2.6)
    for seed in (1, 2):
        atoms = sic_cell(seed)
        x = calc.compute(atoms)
        base = inner.compute(atoms)
        k = inner.n_features
        np.testing.assert_array_equal(x[:, :k], base)
        want = slow_mean(atoms, base, 2.0, 2.6)
        np.testing.assert_allclose(
            x[:, k:], want, rtol=1e-12, atol=1e-12 * np.abs(want).max()
        )


def test_triclinic_cell_with_hard_cutoff():
    """A skewed cell and r_inner = r_outer (a hard cutoff)."""
    cell = [[5.1, 0.0, 0.0], [1.9, 4.7, 0.0], [-1.2, 0.8, 5.3]]
    rng = np.random.default_rng(4)
    atoms = Atoms("Si10", scaled_positions=rng.random((10, 3)), cell=cell, pbc=True)
    inner = Bispectrum(twojmax=4, radii={"Si": 2.35})
    x = NeighbourMean(inner, 2.9, 2.9).compute(atoms)
    base = inner.compute(atoms)
    want = slow_mean(atoms, base, 2.9, 2.9)
    np.testing.assert_allclose(
        x[:, 14:], want, rtol=1e-12, atol=1e-12 * np.abs(want).max()
    )


def test_perfect_crystal_mean_is_the_atom_itself():
    atoms = bulk("Si", cubic=True)
    x = NeighbourMean(Bispectrum(twojmax=6, radii={"Si": 2.35}), 2.4, 2.8).compute(
        atoms
    )
    np.testing.assert_allclose(x[:, 30:], x[:, :30], rtol=1e-12)


def test_weights_one_half_and_zero():
    """Centre at the origin, neighbours at 2.0 (w 1), 2.6 (w 1/2, the middle
    of the switch) and 3.5 Å (w 0) along different axes, in a box large
    enough that no image is near."""
    pos = [[0, 0, 0], [2.0, 0, 0], [0, 2.6, 0], [0, 0, -3.5]]
    atoms = Atoms("Si4", positions=pos, cell=[30.0] * 3, pbc=True)
    inner = Bispectrum(twojmax=4, radii={"Si": 2.35})
    base = inner.compute(atoms)
    x = NeighbourMean(inner, 2.2, 3.0).compute(atoms, centers=[0])
    want = (1.0 * base[1] + 0.5 * base[2]) / 1.5
    np.testing.assert_allclose(x[0, 14:], want, rtol=1e-12)


def test_isolated_atom_has_zero_mean_and_molecules_need_no_cell():
    lone = Atoms("Si", positions=[[0, 0, 0]], cell=[20.0] * 3, pbc=True)
    inner = Bispectrum(twojmax=4, radii={"Si": 2.35})
    x = NeighbourMean(inner, 2.4, 2.8).compute(lone)
    assert np.all(x[0, 14:] == 0.0) and np.any(x[0, :14] != 0.0)
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 2.3]])  # no cell, no pbc
    x = NeighbourMean(inner, 2.4, 2.8).compute(dimer)
    np.testing.assert_allclose(x[0, 14:], x[1, :14], rtol=1e-12)


def test_threads_and_centre_subsets_give_identical_bits():
    atoms = sic_cell(3).repeat((1, 2, 1))
    calc = NeighbourMean(Bispectrum(twojmax=4, radii=SIC_RADII), 2.4, 2.8)
    full = calc.compute(atoms, n_threads=1)
    np.testing.assert_array_equal(calc.compute(atoms, n_threads=2), full)
    np.testing.assert_array_equal(calc.compute(atoms, n_threads=5), full)
    order = np.random.default_rng(0).permutation(len(atoms))[:7]
    np.testing.assert_array_equal(
        calc.compute(atoms, centers=order, n_threads=3), full[order]
    )


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.tuples(*[st.floats(-3, 3)] * 3),
)
def test_permutation_and_translation_invariance(seed, shift):
    atoms = sic_cell(seed, 0.2)
    calc = NeighbourMean(Bispectrum(twojmax=4, radii=SIC_RADII), 2.2, 2.7)
    x = calc.compute(atoms)
    perm = np.random.default_rng(seed).permutation(len(atoms))
    moved = atoms[perm]
    moved.translate(shift)
    y = calc.compute(moved)
    np.testing.assert_allclose(y, x[perm], rtol=1e-10, atol=1e-10 * np.abs(x).max())


def test_round_trip_and_feature_layout():
    inner = MultiScaleBispectrum(
        scales=[0.75, 1.0], twojmax=4, radii=SIC_RADII, chem=True
    )
    calc = NeighbourMean(inner, 2.4, 2.8)
    again = descriptor_from_dict(calc.to_dict())
    assert again == calc and again.n_features == 2 * inner.n_features
    assert calc.labels[inner.n_features] == "nbr:" + inner.labels[0]
    assert calc.max_cutoff == pytest.approx(inner.max_cutoff + 2.8)


@pytest.mark.parametrize(
    ("r_in", "r_out", "words"),
    [
        (2.8, 2.4, "r_outer"),
        (-1.0, 2.4, "r_inner"),
        (float("nan"), 2.4, "r_inner"),
        (2.4, float("inf"), "r_outer"),
        (2.4, 1e6, "r_outer"),
        ("x", 2.4, "r_inner"),
    ],
)
def test_bad_radii_are_refused_by_name(r_in, r_out, words):
    with pytest.raises(ValueError, match=words):
        NeighbourMean(Bispectrum(radii={"Si": 2.35}), r_in, r_out)


def test_fortran_returns_a_status_for_bad_input():
    """The core never stops the process: bad radii, wrong shapes, a centre
    out of range and NaN positions come back as a status and a message."""
    atoms = bulk("Si", cubic=True)
    base = np.ones((5, 8))
    cell = fortran_cell(atoms.cell.array)
    pos = fortran_positions(atoms.positions)

    def call(r_in=2.4, r_out=2.8, centres=(1, 2), positions=pos):
        _, status, message = core().oml_neighbour_mean(
            cell,
            positions,
            r_in,
            r_out,
            np.asfortranarray(base),
            np.asarray(centres, np.int32),
            1,
        )
        check(status, message)

    call()
    with pytest.raises(ValueError, match="r_inner"):
        call(r_in=3.0)
    with pytest.raises(ValueError, match="centers"):
        call(centres=(1, 9))
    bad = pos.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        call(positions=bad)


def test_neighbour_mean_option_of_the_cli():
    import argparse

    from pyolcaoml.cli.descriptor_options import (
        add_descriptor_arguments,
        build_descriptor,
    )

    p = argparse.ArgumentParser()
    add_descriptor_arguments(p)
    calc = build_descriptor(
        p.parse_args(["--neighbour-mean", "2.4,2.8", "--twojmax", "4"])
    )
    assert isinstance(calc, NeighbourMean) and (calc.r_inner, calc.r_outer) == (
        2.4,
        2.8,
    )
    with pytest.raises(SystemExit):
        p.parse_args(["--neighbour-mean", "2.4"])
