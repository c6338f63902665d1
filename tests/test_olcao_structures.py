"""olcao.skl and structure.dat: reading, writing, ASE round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.olcao import (
    OlcaoFormatError,
    Skeleton,
    read_skeleton,
    read_skeleton_file,
    read_structure_dat,
    write_skeleton,
)
from pyolcaoml.structure import BOHR_IN_ANGSTROM, Structure, read_structure

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "olcao"
SHARED_RUNS = SHARED / "olcao-runs"
RUNS = ["si8", "si8_types", "si8_r0.10_seed1100"]
#: makeinput converts Å to Bohr with 0.529177218 Å (5.431 Å -> 10.2631024452
#: Bohr in the real files); pyolcaoml uses 0.52917721 Å: 1.5e-8 relative.
OLCAO_BOHR = 0.529177218
BOHR_RTOL = 2e-8


def _min_image(delta: np.ndarray, cell: np.ndarray) -> np.ndarray:
    frac = delta @ np.linalg.inv(cell)
    return (frac - np.round(frac)) @ cell


def test_read_skeleton_values() -> None:
    skl = read_skeleton_file(DATA / "si8_r0.10_seed1100" / "olcao.skl")
    assert skl.title == "Si8 rattled sigma=0.1 seed=1100"
    assert skl.cellpar == (5.431, 5.431, 5.431, 90.0, 90.0, 90.0)
    assert skl.coordinates == "fract" and skl.labels == ("Si",) * 8
    np.testing.assert_array_equal(skl.coords[0], [0.99063191, 0.01637923, 0.01968496])
    assert (skl.space_group, skl.supercell, skl.cell_kind) == ("1_a", (1, 1, 1), "full")
    s = skl.to_structure()
    np.testing.assert_allclose(s.cell, np.diag([5.431] * 3), atol=1e-12)
    np.testing.assert_allclose(s.positions[0], 5.431 * skl.coords[0], rtol=1e-14)
    assert s.symbols == ("Si",) * 8 and s.species == ("si1",) * 8


@pytest.mark.parametrize("run", RUNS)
def test_structure_dat_matches_skeleton(run: str) -> None:
    """structure.dat (Bohr) holds the skeleton's atoms (Å) in the same order."""
    skl = read_skeleton(DATA / run / "olcao.skl")
    sd = read_structure_dat(DATA / run / "inputs" / "structure.dat")
    np.testing.assert_allclose(
        sd.cell_bohr * BOHR_IN_ANGSTROM, skl.cell, rtol=BOHR_RTOL, atol=1e-12
    )
    delta = sd.atom_positions_bohr * OLCAO_BOHR - skl.positions
    assert np.abs(_min_image(delta, skl.cell)).max() < 1e-12  # Å
    np.testing.assert_array_equal(sd.atom_positions_bohr, sd.pot_positions_bohr)
    assert sd.atom_elements == ("si",) * 8
    s = sd.structure
    np.testing.assert_allclose(s.positions, sd.atom_positions_bohr * BOHR_IN_ANGSTROM)


def test_structure_dat_values() -> None:
    sd = read_structure_dat(DATA / "si8_types" / "inputs" / "structure.dat")
    # a0 = 5.43070 Å in the skeleton -> 10.2625355... Bohr in the file
    assert sd.cell_bohr[0, 0] == 10.262535527370342692
    assert sd.cell_bohr[0, 0] * OLCAO_BOHR == pytest.approx(5.4307, rel=1e-12)
    np.testing.assert_array_equal(sd.atom_types, np.arange(1, 9))
    np.testing.assert_array_equal(sd.pot_types, np.arange(1, 9))
    np.testing.assert_array_equal(sd.atom_pot_types(), np.arange(1, 9))
    np.testing.assert_array_equal(
        sd.atom_positions_bohr[5],
        [2.56563388184259, 7.69690164552776, 7.69690164552776],
    )
    shared = read_structure_dat(DATA / "si8" / "inputs" / "structure.dat")
    np.testing.assert_array_equal(shared.atom_pot_types(), np.ones(8, dtype=int))


@pytest.mark.parametrize("run", RUNS)
def test_skeleton_ase_round_trip(run: str, tmp_path: Path) -> None:
    """skl -> Structure -> ase.Atoms -> Structure -> skl keeps the structure."""
    original = read_skeleton_file(DATA / run / "olcao.skl")
    atoms = original.to_structure().to_ase()
    out = tmp_path / "olcao.skl"
    write_skeleton(out, Structure.from_ase(atoms), title=original.title)
    again = read_skeleton_file(out)
    assert again.title == original.title
    np.testing.assert_allclose(again.cellpar, original.cellpar, rtol=1e-12)
    np.testing.assert_allclose(again.coords, original.coords, atol=1e-10)
    assert again.labels == original.labels
    s1, s2 = original.to_structure(), again.to_structure()
    np.testing.assert_allclose(s2.positions, s1.positions, atol=1e-9)
    assert s2.species == s1.species


def test_species_tags_round_trip(tmp_path: Path) -> None:
    text = (
        "title\ntwo species\nend\ncell\n   4.0 5.0 6.0 90.0 90.0 90.0\n"
        "cart 3\nSi 0 0 0\nsi2 1.0 1.0 1.0\nC3 2.0 2.0 2.0\n"
        "space 1_a\nsupercell 1 1 1\nprim\n"
    )
    path = tmp_path / "in.skl"
    path.write_text(text)
    s = read_skeleton(path)
    assert s.symbols == ("Si", "Si", "C")
    assert s.species == ("si1", "si2", "c3")
    np.testing.assert_array_equal(s.positions[1], [1.0, 1.0, 1.0])  # cart: Å
    atoms = s.to_ase()
    assert list(atoms.get_tags()) == [1, 2, 3]
    write_skeleton(tmp_path / "out.skl", atoms)
    skl = read_skeleton_file(tmp_path / "out.skl")
    assert skl.labels == ("Si", "si2", "c3")
    np.testing.assert_allclose(skl.coords[2], [0.5, 0.4, 2.0 / 6.0], atol=1e-12)


def test_cell_convention_a_along_x_b_in_xy(tmp_path: Path) -> None:
    """Triclinic parameters: a ∥ x, b in the xy plane, lengths and angles kept
    (analytic: b = b(cos γ, sin γ, 0), c·a = ac cos β, c·b = bc cos α)."""
    a, b, c, al, be, ga = 4.0, 5.0, 6.0, 80.0, 70.0, 110.0
    path = tmp_path / "tri.skl"
    path.write_text(
        f"title\ntri\nend\ncell\n{a} {b} {c} {al} {be} {ga}\n"
        "fract 1\nSi 0.5 0.5 0.5\nspace 1_a\nsupercell 1 1 1\nfull\n"
    )
    cell = read_skeleton(path).cell
    rad = np.radians
    np.testing.assert_allclose(cell[0], [a, 0, 0], atol=1e-12)
    np.testing.assert_allclose(
        cell[1], [b * np.cos(rad(ga)), b * np.sin(rad(ga)), 0], atol=1e-12
    )
    assert np.linalg.norm(cell[2]) == pytest.approx(c)
    assert cell[2] @ cell[0] == pytest.approx(a * c * np.cos(rad(be)))
    assert cell[2] @ cell[1] == pytest.approx(b * c * np.cos(rad(al)))
    assert cell[2, 2] > 0


def test_write_from_any_ase_structure(tmp_path: Path) -> None:
    """Any ASE structure becomes a P1 skeleton, even one not in OLCAO's
    orientation (the structure is rotated, distances kept)."""
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.431)  # fcc primitive cell, 2 atoms
    atoms.rotate(30, "z", rotate_cell=True)
    path = tmp_path / "si2.skl"
    write_skeleton(path, atoms)
    s = read_skeleton(path)
    assert len(s) == 2
    d_ase = atoms.get_distance(0, 1, mic=True)
    delta = _min_image(s.positions[1] - s.positions[0], s.cell)
    assert np.linalg.norm(delta) == pytest.approx(d_ase, rel=1e-9)
    assert s.volume == pytest.approx(atoms.get_volume(), rel=1e-9)
    assert s.cell[0, 1] == 0 and s.cell[0, 2] == 0 and s.cell[1, 2] == 0


def test_supercell_expands(tmp_path: Path) -> None:
    text = (
        (DATA / "si8" / "olcao.skl")
        .read_text()
        .replace("supercell 1 1 1", "supercell 2 1 1")
    )
    path = tmp_path / "sc.skl"
    path.write_text(text)
    s = read_skeleton(path)
    assert len(s) == 16
    assert s.cell[0, 0] == pytest.approx(2 * 5.4307)


def test_read_structure_dispatch() -> None:
    s1 = read_structure(str(DATA / "si8" / "olcao.skl"))
    s2 = read_structure(str(DATA / "si8" / "inputs" / "structure.dat"))
    np.testing.assert_allclose(s1.positions, s2.positions, atol=1e-6)


def test_refusals(tmp_path: Path) -> None:
    from ase import Atoms

    with pytest.raises(ValueError, match="no 3D cell"):
        Skeleton.from_structure(Atoms("Si", positions=[[0, 0, 0]]))
    left = Atoms("Si", positions=[[0, 0, 0]], cell=-np.eye(3) * 5, pbc=True)
    with pytest.raises(ValueError, match="left-handed"):
        Skeleton.from_structure(left)
    text = (DATA / "si8" / "olcao.skl").read_text().replace("space 1_a", "space 227_a")
    path = tmp_path / "fd3m.skl"
    path.write_text(text)
    assert read_skeleton_file(path).space_group == "227_a"
    with pytest.raises(OlcaoFormatError, match="only P1"):
        read_skeleton(path)


# -- malformed files ----------------------------------------------------------

SKL = (DATA / "si8" / "olcao.skl").read_text().splitlines(keepends=True)
SDAT = (DATA / "si8" / "inputs" / "structure.dat").read_text().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("lineno", "replacement", "message"),
    [
        (
            5,
            "   5.4 5.4 5.4 90 90\n",
            r"expected 6 cell parameters \(a b c alpha beta gamma\), got 5",
        ),
        (6, "fract eight\n", "expected an atom count"),
        (8, "Si 0.0 0.5\n", "expected a label and 3 coordinates"),
        (9, "Si 0.5 0.0 x\n", "expected coordinates"),
        (15, "bogus\n", "unknown skeleton keyword"),
    ],
)
def test_malformed_skeleton(
    tmp_path: Path, lineno: int, replacement: str, message: str
) -> None:
    lines = list(SKL)
    lines[lineno - 1] = replacement
    path = tmp_path / "olcao.skl"
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match=f"line {lineno}: {message}") as info:
        read_skeleton(path)
    assert str(info.value).startswith(str(path))


def test_truncated_skeleton(tmp_path: Path) -> None:
    path = tmp_path / "olcao.skl"
    path.write_text("".join(SKL[:10]))
    with pytest.raises(OlcaoFormatError, match=r"line 11: unexpected end of file"):
        read_skeleton(path)


@pytest.mark.parametrize(
    ("lineno", "replacement", "message"),
    [
        (3, "  0.0 10.26\n", r"expected 3 numbers \(lattice vector, Bohr\), got 2"),
        (8, "    1     1     0.0  0.0 si\n", "expected index, type, x, y, z, element"),
        (9, "    3     1     0.0 5.1 5.1 si\n", "expected site index 2, got 3"),
        (16, "NUM_POTENTIAL\n", "expected 'NUM_POTENTIAL_SITES', got 'NUM_POTENTIAL'"),
    ],
)
def test_malformed_structure_dat(
    tmp_path: Path, lineno: int, replacement: str, message: str
) -> None:
    lines = list(SDAT)
    lines[lineno - 1] = replacement
    path = tmp_path / "structure.dat"
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match=f"line {lineno}: {message}"):
        read_structure_dat(path)


@pytest.mark.skipif(not SHARED_RUNS.is_dir(), reason=f"{SHARED_RUNS} not present")
def test_every_shared_run_structure_matches_skeleton() -> None:
    runs = sorted(p.parent for p in SHARED_RUNS.rglob("olcao.skl"))
    assert runs
    for run in runs:
        skl = read_skeleton(run / "olcao.skl")
        sd = read_structure_dat(run / "inputs" / "structure.dat")
        np.testing.assert_allclose(
            sd.cell_bohr * BOHR_IN_ANGSTROM, skl.cell, rtol=BOHR_RTOL, atol=1e-12
        )
        delta = sd.atom_positions_bohr * OLCAO_BOHR - skl.positions
        assert np.abs(_min_image(delta, skl.cell)).max() < 1e-12, run


def test_skeleton_text_round_trip(tmp_path: Path) -> None:
    """A skeleton written and read back is the same skeleton."""
    skl = read_skeleton_file(DATA / "si8_r0.10_seed1100" / "olcao.skl")
    out = tmp_path / "olcao.skl"
    write_skeleton(out, skl)
    again = read_skeleton_file(out)
    assert again == skl and again is not skl
