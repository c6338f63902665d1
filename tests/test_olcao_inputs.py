"""olcao.dat potential section, gs_iter log, atomicPDB entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.olcao import (
    OlcaoFormatError,
    bundled_elements,
    geometric_alphas,
    isolated_atom_potential,
    load_atomic_potential,
    read_atomic_potential,
    read_coeff1,
    read_iterations,
    read_olcao_dat,
    read_pot1,
    read_run,
    read_scfv,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "olcao"
SHARED_PDB = SHARED / "olcao-samples" / "atomicPDB"
PACKAGE_PDB = REPO / "pyolcaoml" / "olcao" / "atomicpdb"


def test_geometric_alphas_analytic() -> None:
    a = geometric_alphas(0.15, 1e6, 16)
    assert a[0] == pytest.approx(0.15, rel=1e-15)
    assert a[-1] == pytest.approx(1e6, rel=1e-14)
    ratios = a[1:] / a[:-1]
    np.testing.assert_allclose(ratios, (1e6 / 0.15) ** (1 / 15), rtol=1e-13)
    np.testing.assert_array_equal(geometric_alphas(2.0, 2.0, 1), [2.0])
    with pytest.raises(ValueError):
        geometric_alphas(1.0, 0.5, 4)


def test_olcao_dat_potential_section() -> None:
    od = read_olcao_dat(DATA / "si8_types" / "inputs" / "olcao.dat")
    assert od.n_types == 8
    assert [t.label for t in od.potential_types] == [f"si1_{i}" for i in range(1, 9)]
    t3 = od.potential_types[2]
    assert (t3.element_id, t3.species_id, t3.type_id, t3.sequence) == (1, 1, 3, 3)
    assert t3.element == "Si" and t3.species == "si1"
    p = t3.params
    assert (p.nuclear_charge, p.nuclear_alpha, p.covalent_radius) == (14.0, 20.0, 1.0)
    assert (p.n_alphas, p.alpha_min, p.alpha_max) == (16, 0.15, 1e6)
    assert (od.convergence_test, od.last_iteration) == (1e-4, 50)
    assert od.settings["xc_code"] == 100 and od.settings["num_electrons"] == 32


def test_olcao_dat_edited_settings() -> None:
    od = read_olcao_dat(DATA / "si8_r0.10_seed1100" / "inputs" / "olcao.dat")
    assert (od.convergence_test, od.last_iteration) == (1e-6, 60)


OLCAO_DAT = (
    (DATA / "si8" / "inputs" / "olcao.dat").read_text().splitlines(keepends=True)
)


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(OLCAO_DAT) if line.strip() == text) + 1


@pytest.mark.parametrize(
    ("key", "offset", "replacement", "message"),
    [
        ("NUM_ALPHAS", 1, "sixteen\n", "expected integer"),
        ("NUCLEAR_CHARGE__ALPHA", 1, "14.0\n", r"expected 2 numbers \(nuclear charge"),
        ("COVALENT_RADIUS", 0, "RADIUS\n", "expected 'COVALENT_RADIUS'"),
        ("NUM_POTENTIAL_TYPES", 1, "0\n", "NUM_POTENTIAL_TYPES must be positive"),
    ],
)
def test_malformed_olcao_dat(
    tmp_path: Path, key: str, offset: int, replacement: str, message: str
) -> None:
    lineno = _line_of(key) + offset
    lines = list(OLCAO_DAT)
    lines[lineno - 1] = replacement
    path = tmp_path / "olcao.dat"
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match=f"olcao.dat, line {lineno}: {message}"):
        read_olcao_dat(path)


def test_olcao_dat_truncated_in_potential_section(tmp_path: Path) -> None:
    cut = _line_of("NUM_POTENTIAL_TYPES") + 8  # inside the first type
    path = tmp_path / "olcao.dat"
    path.write_text("".join(OLCAO_DAT[:cut]))
    with pytest.raises(
        OlcaoFormatError, match=f"line {cut + 1}: unexpected end of file"
    ):
        read_olcao_dat(path)


def test_iterations_values() -> None:
    h = read_iterations(DATA / "si8_r0.10_seed1100" / "gs_iter-fb.dat")
    assert len(h) == 13 and h.n_iterations == 13
    # first and last rows of the file
    assert h.occupied_energy[0] == -0.53989180
    assert h.electron_error[0] == -0.48038301
    assert h.convergence[0] == 0.38628446
    assert h.total_energy[0] == -30.94318710
    assert h.final_convergence == 0.00000062
    assert h.final_total_energy == -31.03850226
    assert h.converged(1e-6) and not h.converged(1e-7)


def test_iterations_touching_columns(tmp_path: Path) -> None:
    """(i5,3f13.8,f17.8): wide numbers can fill their field."""
    path = tmp_path / "gs_iter-fb.dat"
    path.write_text(
        " Iter. Occ. Energy   El. Error    Convergence     Total Energy\n"
        "    1-100.12345678  -0.48038301   0.38628446-1234567.12345678\n"
    )
    h = read_iterations(path)
    assert h.occupied_energy[0] == -100.12345678
    assert h.total_energy[0] == -1234567.12345678


def test_iterations_malformed(tmp_path: Path) -> None:
    path = tmp_path / "gs_iter-fb.dat"
    path.write_text(" Iter. Occ. Energy\n    1  -0.5  -0.4\n")
    with pytest.raises(
        OlcaoFormatError, match="gs_iter-fb.dat, line 2: expected 5 numbers, got 3"
    ):
        read_iterations(path)
    row = "{:5d}{:13.8f}{:13.8f}{:13.8f}{:17.8f}\n"
    path.write_text(
        " Iter.\n" + row.format(1, -0.5, -0.4, 0.3, -30.0)
        + row.format(3, -0.5, -0.4, 0.3, -30.0)
    )  # fmt: skip
    with pytest.raises(OlcaoFormatError, match="line 3: expected iteration 2, got 3"):
        read_iterations(path)
    # rows are fixed-width (i5,3f13.8,f17.8): free-format rows are refused
    path.write_text(" Iter.\n    1  -0.5  -0.4  0.3  -30.0\n")
    with pytest.raises(OlcaoFormatError, match="line 2: expected a row of 61"):
        read_iterations(path)


def test_bundled_atomic_pdb_is_a_verbatim_copy() -> None:
    assert bundled_elements() == ("C", "Si")
    if not SHARED_PDB.is_dir():
        pytest.skip(f"{SHARED_PDB} not present")
    for el in ("si", "c"):
        for name in ("pot1", "coeff1"):
            assert (PACKAGE_PDB / el / name).read_bytes() == (
                SHARED_PDB / el / name
            ).read_bytes()


def test_atomic_pdb_values() -> None:
    si = load_atomic_potential("si1")
    assert si.element == "Si"
    assert si.params.nuclear_charge == 14.0 and si.params.n_alphas == 16
    c = load_atomic_potential("C")
    assert (c.params.nuclear_charge, c.params.alpha_min, c.params.alpha_max) == (
        6.0,
        0.2,
        1e6,
    )
    alphas, coeffs = isolated_atom_potential("Si")
    # first and last rows of atomicPDB/si/coeff1
    assert coeffs[0] == -1.337080128 and coeffs[-1] == 23.20468663
    np.testing.assert_allclose(alphas, geometric_alphas(0.15, 1e6, 16), rtol=1e-15)
    block = read_coeff1(PACKAGE_PDB / "si" / "coeff1")
    np.testing.assert_allclose(block.alphas, alphas, rtol=1e-9)
    assert read_pot1(PACKAGE_PDB / "si" / "pot1") == si.params


def test_isolated_atom_equals_makeinput_start() -> None:
    """makeinput's inputs/scfV.dat starts every Si type from atomicPDB coeff1."""
    alphas, coeffs = isolated_atom_potential("Si")
    for run in ("si8", "si8_types", "si8_r0.10_seed1100"):
        start = read_scfv(DATA / run / "inputs" / "scfV.dat")
        for block in start.spin_up + start.spin_dn:
            np.testing.assert_array_equal(block.coeffs, coeffs)
            np.testing.assert_allclose(block.alphas, alphas, rtol=1e-9)


def test_unknown_element() -> None:
    with pytest.raises(KeyError, match="no atomicPDB entry bundled for element 'Fe'"):
        isolated_atom_potential("Fe")


def test_atomic_pdb_mismatch(tmp_path: Path) -> None:
    entry = tmp_path / "si"
    shutil.copytree(PACKAGE_PDB / "si", entry)
    pot1 = entry / "pot1"
    pot1.write_text(pot1.read_text().replace("16", "15"))
    with pytest.raises(
        OlcaoFormatError, match="coeff1: 16 terms, but .*pot1 has NUM_ALPHAS 15"
    ):
        read_atomic_potential(entry)


def test_final_value_printed_as_the_test_is_converged() -> None:
    """OLCAO compares the unrounded value (potentialUpdate.F90: testableDelta
    < convgTest) and prints f13.8: this real run (data/sic/runs, made by
    data/sic/make_sic_runs.py) stopped at iteration 21 of 60 with its last
    value printed as 0.00000100, its CONVERGENCE_TEST."""
    run = read_run(
        Path(__file__).resolve().parents[1]
        / "data/sic/runs/disorder/sic8_r0.20_seed10210"
    )
    h = run.history
    assert h.final_convergence == 0.00000100 and h.n_iterations == 21
    assert run.convergence_test == 1e-6 and run.last_iteration == 60
    assert run.converged and not run.log_truncated
    assert not h.converged(1e-6)  # without the limit the printed value decides
    assert h.converged(1e-6, last_iteration=60)
    # at the limit OLCAO stops whatever the value: then it must be below
    assert not h.converged(1e-6, last_iteration=21)
    assert not h.converged(0.99e-6, last_iteration=60)


def test_edit_setting_rewrites_one_setting_and_keeps_every_other_byte(tmp_path):
    """edit_setting (used to copy a run with another RELAXATION_FACTOR or
    smearing): only the line after the key changes, CRLF endings stay, and
    a key that is missing or repeated is an error naming the file, with
    the file left as it was."""
    from pyolcaoml.olcao.olcao_dat import edit_setting

    dat = tmp_path / "olcao.dat"
    text = "TITLE\r\nx\r\nRELAXATION_FACTOR\r\n0.2\r\nFEEDBACK_LEVEL\r\n2\r\n"
    dat.write_bytes(text.encode())
    edit_setting(dat, "RELAXATION_FACTOR", lambda old: f"{2 * float(old)}")
    assert dat.read_bytes() == text.replace("0.2", "0.4").encode()
    for bad in ("TITLE\nx\n", "RELAXATION_FACTOR\n0.2\nRELAXATION_FACTOR\n0.2\n"):
        dat.write_text(bad)
        with pytest.raises(OlcaoFormatError, match=f"{dat}.*RELAXATION_FACTOR"):
            edit_setting(dat, "RELAXATION_FACTOR", lambda old: "0.4")
        assert dat.read_text() == bad


def test_setting_line_reads_what_edit_setting_would_change(tmp_path):
    """setting_line: the line after the key, without its ending; the same
    error as edit_setting for a key that is missing, repeated or last."""
    from pyolcaoml.olcao.olcao_dat import setting_line

    dat = tmp_path / "olcao.dat"
    dat.write_bytes(b"TITLE\r\nx\r\nRADIAL_SAMPLE-IN_OUT_SPACING\r\n0.1 3.5 0.8\r\n")
    assert setting_line(dat, "RADIAL_SAMPLE-IN_OUT_SPACING") == "0.1 3.5 0.8"
    assert setting_line(dat, "TITLE") == "x"
    for bad in ("TITLE\nx\n", "X\n1\nX\n2\n", "TITLE\nx\nX\n"):
        dat.write_text(bad)
        with pytest.raises(OlcaoFormatError, match=f"{dat}.*one X setting"):
            setting_line(dat, "X")
