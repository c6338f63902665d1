"""The bispectrum agrees with LAMMPS `compute sna/atom` (tests/data/snap-lammps).

Every run of the reference set (copied from shared/reference/snap-lammps) is
recomputed from its structure and its exact LAMMPS compute line and must
agree to 1e-10 relative (max|dB| / max|B| over the run).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA

from pyolcaoml import Bispectrum, Structure

REF = DATA / "snap-lammps"
MANIFEST = json.loads((REF / "manifest.json").read_text())


def load_structure(entry: dict) -> tuple[Structure, np.ndarray]:
    npz = np.load(REF / entry["structure_file"])
    types = np.asarray(npz["types"])
    by_type = [str(s) for s in npz["symbols"]]  # one symbol per LAMMPS type
    symbols = [by_type[t - 1] for t in types]
    return Structure(npz["cell"], npz["positions"], symbols), types


def descriptor_from_lammps(line: str, symbols_by_type: list[str]) -> Bispectrum:
    """Parse 'compute ID group sna/atom rcutfac rfac0 twojmax R... w... kw v...'."""
    tokens = line.split()
    args = tokens[tokens.index("sna/atom") + 1 :]
    ntypes = len(symbols_by_type)
    rcutfac, rfac0, twojmax = float(args[0]), float(args[1]), int(args[2])
    radii = [float(v) for v in args[3 : 3 + ntypes]]
    weights = [float(v) for v in args[3 + ntypes : 3 + 2 * ntypes]]
    rest = args[3 + 2 * ntypes :]
    kw: dict[str, str] = {}
    chem = False
    i = 0
    while i < len(rest):
        if rest[i] == "chem":
            chem = True
            nelem = int(rest[i + 1])
            mapping = [int(v) for v in rest[i + 2 : i + 2 + ntypes]]
            # Element order of the chem blocks = LAMMPS element index.
            assert sorted(mapping) == list(range(nelem))
            i += 2 + ntypes
        else:
            kw[rest[i]] = rest[i + 1]
            i += 2
    assert kw.get("quadraticflag", "0") == "0"
    order = list(range(ntypes))
    return Bispectrum(
        twojmax=twojmax,
        rcutfac=rcutfac,
        rfac0=rfac0,
        rmin0=float(kw.get("rmin0", 0.0)),
        radii={symbols_by_type[t]: radii[t] for t in order},
        weights={symbols_by_type[t]: weights[t] for t in order},
        switch=kw.get("switchflag", "1") == "1",
        bzero=kw.get("bzeroflag", "0") == "1",
        bnorm=kw.get("bnormflag", "0") == "1",
        wselfall=kw.get("wselfallflag", "0") == "1",
        chem=chem,
    )


@pytest.mark.parametrize(
    "entry", MANIFEST, ids=[f"{e['structure']}-{e['tag']}" for e in MANIFEST]
)
def test_matches_lammps(entry: dict) -> None:
    structure, types = load_structure(entry)
    by_type = {}
    for t, s in zip(types, structure.symbols, strict=True):
        by_type[int(t)] = s
    symbols_by_type = [by_type[t] for t in sorted(by_type)]
    desc = descriptor_from_lammps(entry["compute"], symbols_by_type)
    reference = np.load(REF / entry["files"][0])
    assert desc.n_features == entry["ncols"] == reference.shape[1]
    b = desc.compute(structure)
    assert b.shape == reference.shape
    rel = np.abs(b - reference).max() / np.abs(reference).max()
    assert rel <= 1e-10, f"max relative deviation {rel:.2e}"


@pytest.mark.parametrize("twojmax", [6, 8, 10])
def test_column_order_matches_lammps_index_file(twojmax: int) -> None:
    rows = [
        line.split()
        for line in (REF / f"indices_twojmax{twojmax}.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    expected = np.array([[int(r[1]), int(r[2]), int(r[3])] for r in rows])
    np.testing.assert_array_equal(Bispectrum(twojmax=twojmax).triples, expected)


def test_b000_sanity_value_for_diamond() -> None:
    """README: B_000 = (1 + sum f_c w)^3 = 64.640319736728... for diamond Si."""
    structure, _ = load_structure(MANIFEST[0])
    b = Bispectrum(twojmax=2, radii={"Si": 2.35}).compute(structure)
    np.testing.assert_allclose(b[:, 0], 64.640319736728, rtol=1e-12)


def test_same_crystal_in_three_cells_gives_same_bispectrum() -> None:
    """Conventional cubic, primitive triclinic and skewed non-reduced cells."""
    desc = Bispectrum(twojmax=8, radii={"Si": 2.35})
    by_name = {e["structure"]: e for e in MANIFEST}
    results = [
        desc.compute(load_structure(by_name[name])[0])
        for name in (
            "a_si_diamond",
            "d_si_primitive_triclinic",
            "d2_si_primitive_skewed",
        )
    ]
    np.testing.assert_allclose(results[1], results[2], rtol=1e-12)
    np.testing.assert_allclose(results[0][:2], results[1], rtol=1e-12)
