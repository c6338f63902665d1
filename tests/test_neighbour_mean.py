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
from pyolcaoml.structure import Structure

SIC_RADII = {"Si": 2.35, "C": 1.609}


def slow_mean(
    atoms: Atoms,
    base: np.ndarray,
    r_in: float,
    r_out: float,
    pairs: dict[frozenset, tuple[float, float]] | None = None,
) -> np.ndarray:
    """sum_j w(r_ij) b_j / sum_j w(r_ij) with ASE's neighbour list, one
    neighbour at a time; ``pairs``: {frozenset of the pair's elements:
    (r_in, r_out)} for the pairs with a range of their own."""
    pairs = pairs or {}
    reach = max([r_out, *(r for _, r in pairs.values())])
    i, j, d = neighbor_list("ijd", atoms, reach)
    sym = atoms.get_chemical_symbols()
    out = np.zeros_like(base)
    for k in range(len(atoms)):
        total = np.zeros(base.shape[1])
        w_sum = 0.0
        for jj, dd in zip(j[i == k], d[i == k], strict=True):
            lo, hi = pairs.get(frozenset((sym[k], sym[jj])), (r_in, r_out))
            if dd >= hi:
                continue
            w = 1.0 if dd <= lo else 0.5 * (1.0 + np.cos(np.pi * (dd - lo) / (hi - lo)))
            total += w * base[jj]
            w_sum += w
        if w_sum > 0:
            out[k] = total / w_sum
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


def test_per_pair_ranges_match_a_slow_implementation():
    """A range for each element pair (Si-Si 2.66-2.89, Si-C 2.24-2.43, C-C
    1.82-1.98 Å: 1.2-1.3 x the covalent radii) on rattled SiC with an
    antisite, so that every pair occurs inside its switch."""
    inner = Bispectrum(twojmax=4, radii=SIC_RADII, chem=True)
    ranges = {"Si-C": (2.24, 2.43), "C-C": (1.82, 1.98)}
    calc = NeighbourMean(inner, 2.66, 2.89, pairs=ranges)
    table = {frozenset(k.split("-")): v for k, v in ranges.items()}
    for seed in (5, 6):
        atoms = sic_cell(seed, sigma=0.25)
        symbols = atoms.get_chemical_symbols()
        symbols[1] = "Si" if symbols[1] == "C" else "C"  # an antisite
        atoms.set_chemical_symbols(symbols)
        x = calc.compute(atoms)
        base = inner.compute(atoms)
        want = slow_mean(atoms, base, 2.66, 2.89, table)
        k = inner.n_features
        np.testing.assert_allclose(
            x[:, k:], want, rtol=1e-12, atol=1e-12 * np.abs(want).max()
        )
        # the pairs matter: one range for all gives other means
        uniform = NeighbourMean(inner, 2.66, 2.89).compute(atoms)
        assert np.abs(uniform[:, k:] - x[:, k:]).max() > 1e-3 * np.abs(want).max()


def test_pair_ranges_reach_only_their_pair():
    """A C-C range of its own changes the means of the C centres with a C
    neighbour and of no other atom; Si-C and C-Si are one pair."""
    pos = [[0, 0, 0], [1.6, 0, 0], [0, 2.0, 0], [10, 10, 10], [10, 10, 12.2]]
    atoms = Atoms("CCSiSiSi", positions=pos, cell=[30.0] * 3, pbc=True)
    inner = Bispectrum(twojmax=4, radii=SIC_RADII)
    base = inner.compute(atoms)
    k = inner.n_features
    wide = NeighbourMean(inner, 2.5, 2.7).compute(atoms)
    # C-C cut below 1.6 Å: each C keeps only the Si (at 2.0 and 2.56 Å)
    short = NeighbourMean(inner, 2.5, 2.7, pairs={"C-C": (1.2, 1.4)}).compute(atoms)
    np.testing.assert_allclose(short[0, k:], base[2], rtol=1e-12)
    np.testing.assert_allclose(short[1, k:], base[2], rtol=1e-12)
    assert np.abs(wide[1, k:] - base[2]).max() > 1e-3 * np.abs(base[2]).max()
    np.testing.assert_array_equal(short[2:], wide[2:])
    a = NeighbourMean(inner, 2.5, 2.7, pairs={"Si-C": (1.0, 1.5)})
    b = NeighbourMean(inner, 2.5, 2.7, pairs={("C", "Si"): (1.0, 1.5)})
    assert a == b and a.range_of("C", "Si") == a.range_of("Si", "C") == (1.0, 1.5)
    np.testing.assert_array_equal(a.compute(atoms), b.compute(atoms))
    # atom 2 (Si) loses its C neighbours at 2.0 and 2.56 Å
    assert np.all(a.compute(atoms)[2, k:] == 0.0)


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        ({"Si-Ge": (2.0, 2.5)}, "Ge is not an element"),
        ({"SiC": (2.0, 2.5)}, "two elements"),
        ({"Si-C": (2.0, 2.5), "C-Si": (2.0, 2.6)}, "given twice"),
        ({"Si-C": (2.6, 2.5)}, "r_outer"),
        ({"Si-C": (float("nan"), 2.5)}, "r_inner"),
        ({"Si-C": (2.0, 1e6)}, "r_outer"),
        ({"Si-C": 2.5}, "expected"),
    ],
)
def test_bad_pairs_are_refused_by_name(pairs, words):
    with pytest.raises(ValueError, match=words):
        NeighbourMean(Bispectrum(radii=SIC_RADII), 2.4, 2.8, pairs=pairs)


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


def slow_hops(atoms, base, hops, r_in, r_out, pairs=None):
    """[b, m(b), m(m(b)), ...]: slow_mean applied hops times."""
    levels = [base]
    for _ in range(hops):
        levels.append(slow_mean(atoms, levels[-1], r_in, r_out, pairs))
    return np.hstack(levels)


@pytest.mark.parametrize("hops", [2, 3])
def test_hops_match_repeated_slow_means(hops):
    """hops = h: the slow mean of the slow mean ... (h times), every hop a
    block of K after the atom's own, per-pair ranges included."""
    inner = Bispectrum(twojmax=4, radii=SIC_RADII, chem=True)
    pairs = {"C-C": (1.9, 2.2)}
    calc = NeighbourMean(inner, 2.0, 2.6, pairs=pairs, hops=hops)
    atoms = sic_cell(11)
    del atoms[[3]]  # a vacancy: the hops see it two bonds away
    x = calc.compute(atoms)
    assert x.shape == (len(atoms), (hops + 1) * inner.n_features)
    want = slow_hops(
        atoms, inner.compute(atoms), hops, 2.0, 2.6, {frozenset(("C",)): (1.9, 2.2)}
    )
    np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    # the first hop is the one-hop descriptor's, bit for bit
    one = NeighbourMean(inner, 2.0, 2.6, pairs=pairs).compute(atoms)
    np.testing.assert_array_equal(x[:, : 2 * inner.n_features], one)


def test_hops_with_centre_subsets_threads_and_clusters_give_identical_bits():
    """A few centres read the atoms within two hops only (two rounds of
    ASE's neighbour list) and give the whole-cell bits, for any threads."""
    atoms = sic_cell(5).repeat((2, 2, 2))
    calc = NeighbourMean(Bispectrum(twojmax=4, radii=SIC_RADII), 2.4, 2.6, hops=2)
    full = calc.compute(atoms, n_threads=1)
    np.testing.assert_array_equal(calc.compute(atoms, n_threads=3), full)
    i, j = neighbor_list("ij", atoms, 2.6)
    for centres in ([0], [9, 40, 41], [len(atoms) - 1, 2]):
        reach = calc._neighbourhoods(Structure.coerce(atoms), np.array(centres), None)
        one = np.union1d(centres, j[np.isin(i, centres)])
        two = np.union1d(one, j[np.isin(i, one)])
        np.testing.assert_array_equal(reach[1], one)
        np.testing.assert_array_equal(reach[2], two)
        assert len(two) < len(atoms)
        np.testing.assert_array_equal(
            calc.compute(atoms, centers=centres, n_threads=2), full[centres]
        )
    cluster = Atoms("Si3C2", positions=np.random.default_rng(4).random((5, 3)) * 4)
    whole = calc.compute(cluster)
    np.testing.assert_array_equal(calc.compute(cluster, centers=[3, 0]), whole[[3, 0]])


def test_mean_of_given_values_is_one_hop_of_compute():
    """mean_of(values) on the inner descriptors is compute's first hop, and
    on those means its second, bit for bit; bad shapes are refused."""
    inner = Bispectrum(twojmax=4, radii=SIC_RADII)
    calc = NeighbourMean(inner, 2.2, 2.6, hops=2)
    atoms = sic_cell(13)
    x = calc.compute(atoms)
    k = inner.n_features
    np.testing.assert_array_equal(calc.mean_of(atoms, x[:, :k]), x[:, k : 2 * k])
    np.testing.assert_array_equal(calc.mean_of(atoms, x[:, k : 2 * k]), x[:, 2 * k :])
    with pytest.raises(ValueError, match="values"):
        calc.mean_of(atoms, x[:3])


@pytest.mark.parametrize("hops", [0, 5, 1.5, "2", True, -1])
def test_bad_hops_are_refused_by_name(hops):
    with pytest.raises(ValueError, match="hops"):
        NeighbourMean(Bispectrum(radii={"Si": 2.35}), 2.4, 2.8, hops=hops)


def test_a_few_centres_read_only_their_neighbourhood():
    """A call for a few centres computes the own descriptors of the centres
    and of the atoms within r_outer of one (ASE's neighbour list says
    which), not of the whole cell, and gives the whole-cell call's bits;
    a cluster without a cell too."""
    atoms = sic_cell(7).repeat((2, 2, 2))
    calc = NeighbourMean(
        Bispectrum(twojmax=4, radii=SIC_RADII), 2.4, 2.6, pairs={"C-C": (2.5, 3.2)}
    )
    full = calc.compute(atoms)
    for centres in ([0], [5, 17, 60], [len(atoms) - 1, 3]):
        reach = calc._neighbourhoods(Structure.coerce(atoms), np.array(centres), None)
        rows = reach[-1]
        i, j = neighbor_list("ij", atoms, 3.2)
        want = np.union1d(centres, j[np.isin(i, centres)])
        np.testing.assert_array_equal(rows, want)
        assert len(rows) < len(atoms) // 2
        np.testing.assert_array_equal(
            calc.compute(atoms, centers=centres), full[centres]
        )
    cluster = Atoms("Si3C2", positions=np.random.default_rng(2).random((5, 3)) * 4)
    whole = calc.compute(cluster)
    np.testing.assert_array_equal(calc.compute(cluster, centers=[1, 4]), whole[[1, 4]])


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
    assert "pairs" not in calc.to_dict()  # as written before pairs existed
    paired = NeighbourMean(inner, 2.4, 2.8, pairs={"C-Si": (2.2, 3.1)})
    again = descriptor_from_dict(paired.to_dict())
    assert again == paired and again != calc
    assert again.pairs == {"Si-C": (2.2, 3.1)}  # in the descriptor's order
    assert paired.max_cutoff == pytest.approx(inner.max_cutoff + 3.1)
    with pytest.raises(ValueError, match="unknown"):
        descriptor_from_dict({**calc.to_dict(), "radius": 3})
    assert "hops" not in calc.to_dict()  # as written before hops existed
    two = NeighbourMean(inner, 2.4, 2.8, pairs={"C-Si": (2.2, 3.1)}, hops=2)
    again = descriptor_from_dict(two.to_dict())
    assert again == two and again != paired and again.hops == 2
    assert two.n_features == 3 * inner.n_features
    k = inner.n_features
    assert two.labels[2 * k] == "nbr2:" + inner.labels[0]
    assert two.labels[k : 2 * k] == paired.labels[k:]
    assert two.max_cutoff == pytest.approx(inner.max_cutoff + 2 * 3.1)
    with pytest.raises(ValueError, match="hops"):
        descriptor_from_dict({**calc.to_dict(), "hops": 9})


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

    def call(r_in=2.4, r_out=2.8, centres=(1, 2), positions=pos, elements=None):
        r_in = np.asfortranarray(np.atleast_2d(r_in), dtype=float)
        r_out = np.asfortranarray(np.atleast_2d(r_out), dtype=float)
        if elements is None:
            elements = np.ones(8, np.int32)
        _, status, message = core().oml_neighbour_mean(
            cell,
            positions,
            np.asarray(elements, np.int32),
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
    with pytest.raises(ValueError, match=r"\(b,a\)"):
        call(r_in=[[2.4, 2.0], [2.1, 2.4]], r_out=[[2.8] * 2] * 2)
    with pytest.raises(ValueError, match="router"):  # f2py: not square
        call(r_in=[[2.4, 2.4]], r_out=[[2.8, 2.8]])
    with pytest.raises(ValueError, match="element index"):
        call(elements=[1, 1, 1, 2, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="element index"):
        call(elements=[1, 1, 1, 0, 1, 1, 1, 1])
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
    args = ["--neighbour-mean", "2.66,2.89", "--radius", "Si=2.35"]
    args += ["--neighbour-mean-pair", "C-Si=2.24,2.43"]
    args += ["--neighbour-mean-pair", "C-C=1.82,1.98", "--twojmax", "4"]
    calc = build_descriptor(p.parse_args(args), ["Si"])
    assert calc.elements == ("C", "Si")  # the pairs' elements get radii
    assert calc.range_of("Si", "C") == (2.24, 2.43)
    assert calc.range_of("C", "C") == (1.82, 1.98)
    assert calc.range_of("Si", "Si") == (2.66, 2.89)
    for bad in (["Si-C2.2,2.4"], ["Si=2.2,2.4"], ["Si-C=2.2"]):
        with pytest.raises(SystemExit):
            p.parse_args(["--neighbour-mean-pair", *bad])
    with pytest.raises(ValueError, match="needs --neighbour-mean"):
        build_descriptor(p.parse_args(["--neighbour-mean-pair", "Si-C=2,2.4"]))
    twice = ["--neighbour-mean", "2.4,2.8", "--neighbour-mean-pair", "Si-C=2,2.4"]
    with pytest.raises(ValueError, match="twice"):
        build_descriptor(p.parse_args([*twice, "--neighbour-mean-pair", "C-Si=2,2.5"]))
    hops = ["--neighbour-mean", "2.8,3.0", "--neighbour-hops", "2"]
    calc = build_descriptor(p.parse_args([*hops, "--twojmax", "4"]))
    assert calc.hops == 2 and calc.n_features == 3 * calc.inner.n_features
    with pytest.raises(ValueError, match="--neighbour-hops needs --neighbour-mean"):
        build_descriptor(p.parse_args(["--neighbour-hops", "2"]))
    with pytest.raises(ValueError, match="--neighbour-hops"):
        build_descriptor(p.parse_args([*hops[:2], "--neighbour-hops", "7"]))
