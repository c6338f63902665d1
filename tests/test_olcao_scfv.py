"""scfV.dat: byte-exact round trips of every real file, units, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.olcao import (
    MAKEINPUT_STYLE,
    OLCAO_STYLE,
    OlcaoFormatError,
    ScfV,
    ScfVBlock,
    geometric_alphas,
    parse_scfv,
    read_olcao_dat,
    read_scfv,
    write_scfv,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "olcao"
SCFV_NAME = re.compile(r"^(gs_)?scfV(-\w+)?\.dat$")


def _scfv_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if SCFV_NAME.match(p.name))


LOCAL_FILES = _scfv_files(DATA)
SHARED_FILES = _scfv_files(SHARED)


def _ids(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in paths]


def test_local_copies_present() -> None:
    # 3 runs, each with inputs/scfV.dat and gs_scfV-fb.dat
    assert len(LOCAL_FILES) == 6


@pytest.mark.parametrize("path", LOCAL_FILES, ids=_ids(LOCAL_FILES, DATA))
def test_round_trip_bytes_local(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "scfV.dat"
    write_scfv(out, read_scfv(path))
    assert out.read_bytes() == path.read_bytes()


@pytest.mark.skipif(not SHARED_FILES, reason=f"no scfV files under {SHARED}")
@pytest.mark.parametrize("path", SHARED_FILES, ids=_ids(SHARED_FILES, SHARED))
def test_round_trip_bytes_shared(path: Path) -> None:
    scfv = read_scfv(path)
    assert scfv.to_text().encode() == path.read_bytes()


def test_styles_detected() -> None:
    converged = read_scfv(DATA / "si8_types" / "gs_scfV-fb.dat")
    start = read_scfv(DATA / "si8_types" / "inputs" / "scfV.dat")
    assert converged.style == OLCAO_STYLE
    assert start.style == MAKEINPUT_STYLE
    # the same data written in the other style has the other layout
    text = ScfV(start.spin_up, start.spin_dn, OLCAO_STYLE).to_text()
    assert text.splitlines()[0] == "NUM_TYPES    8"
    assert text.splitlines()[3].startswith(" -0.1337080128E+01  0.1500000000E+00")


def test_values_parsed() -> None:
    scfv = read_scfv(DATA / "si8" / "gs_scfV-fb.dat")
    assert scfv.n_types == 1 and scfv.term_counts == (16,)
    # first and last rows of the file
    np.testing.assert_array_equal(
        scfv.spin_up[0].table[0],
        [-0.5858865209, 0.15, 0.126879e-01, 0.158316e-01, 0.0],
    )
    np.testing.assert_array_equal(
        scfv.spin_up[0].table[-1],
        [0.7249236107e01, 0.1e07, 0.541393e01, 0.847156, 0.0],
    )
    np.testing.assert_array_equal(scfv.spin_dn[0].table, scfv.spin_up[0].table)


CONVERGED = sorted(DATA.glob("*/gs_scfV-fb.dat"))
if SHARED.is_dir():
    CONVERGED += sorted(SHARED.rglob("gs_scfV-fb.dat"))
#: Charges from the 7-significant-digit columns 3-4 are good to ~1e-4 e.
CHARGE_TOL = 1e-4


def _charges(block: ScfVBlock) -> tuple[float, float]:
    """Σ c_i (π/α_i)^{3/2}: the charge (e) of a Gaussian density expansion,
    for column 3 (total) and column 4 (valence)."""
    volume = (np.pi / block.alphas) ** 1.5
    return (
        float(np.sum(block.total_charge * volume)),
        float(np.sum(block.valence_charge * volume)),
    )


@pytest.mark.parametrize("path", CONVERGED, ids=[str(p) for p in CONVERGED])
def test_charge_columns_in_electrons(path: Path) -> None:
    """Units of columns 3-4: every Si type holds 10 core electrons (total −
    valence), and the cell is neutral: on average over the types (one atom
    each, or all atoms for si8) the total charge is Z = 14 and the valence
    charge 4. Single types differ from 14 by the charge transferred between
    inequivalent atoms (up to ~0.7 e in the defect cells)."""
    scfv = read_scfv(path)
    charges = np.array([_charges(b) for b in scfv.spin_up])
    np.testing.assert_allclose(charges[:, 0] - charges[:, 1], 10.0, atol=CHARGE_TOL)
    assert charges[:, 0].mean() == pytest.approx(14.0, abs=CHARGE_TOL)
    assert charges[:, 1].mean() == pytest.approx(4.0, abs=CHARGE_TOL)


@pytest.mark.parametrize(
    "path",
    [DATA / "si8" / "gs_scfV-fb.dat", *sorted(DATA.glob("*/inputs/scfV.dat"))],
)
def test_charge_per_type_when_atoms_are_equivalent(path: Path) -> None:
    """One type for all 8 equivalent atoms, or isolated atoms (makeinput's
    start): each type holds exactly Z = 14 and 4 valence electrons."""
    for block in read_scfv(path).spin_up:
        total, valence = _charges(block)
        assert total == pytest.approx(14.0, abs=CHARGE_TOL)
        assert valence == pytest.approx(4.0, abs=CHARGE_TOL)


@pytest.mark.parametrize("run", ["si8", "si8_types", "si8_r0.10_seed1100"])
def test_alphas_from_olcao_dat_match_column_2(run: str) -> None:
    od = read_olcao_dat(DATA / run / "inputs" / "olcao.dat")
    for name in ("gs_scfV-fb.dat", "inputs/scfV.dat"):
        scfv = read_scfv(DATA / run / name)
        for ptype, block in zip(od.potential_types, scfv.spin_up, strict=True):
            alphas = geometric_alphas(
                ptype.params.alpha_min, ptype.params.alpha_max, ptype.n_alphas
            )
            # column 2 has 10 significant digits
            np.testing.assert_allclose(block.alphas, alphas, rtol=1e-9)


def test_new_file_default_style_and_trailer(tmp_path: Path) -> None:
    block = ScfVBlock.from_columns([-1.5, 2.25], [0.15, 1e6])
    scfv = ScfV.from_blocks([block])
    path = tmp_path / "scfV.dat"
    write_scfv(path, scfv)
    assert path.read_text() == (
        "NUM_TYPES    1\n"
        "TOTAL__OR__SPIN_UP\n"
        "    2\n"
        " -0.1500000000E+01  0.1500000000E+00  0.000000E+00  0.000000E+00"
        "  0.000000E+00\n"
        "  0.2250000000E+01  0.1000000000E+07  0.000000E+00  0.000000E+00"
        "  0.000000E+00\n"
        "SPIN_DN\n"
        "    2\n"
        " -0.1500000000E+01  0.1500000000E+00  0.000000E+00  0.000000E+00"
        "  0.000000E+00\n"
        "  0.2250000000E+01  0.1000000000E+07  0.000000E+00  0.000000E+00"
        "  0.000000E+00\n"
        "NUM__PLUSUJ__TERMS\n"
        "    0\n"
        "TOTAL__OR__SPIN_UP\n"
        "SPIN_DN\n"
    )
    again = read_scfv(path)
    assert again == scfv


def test_with_coeffs_keeps_other_columns() -> None:
    start = read_scfv(DATA / "si8" / "inputs" / "scfV.dat")
    new = start.with_coeffs([np.arange(16.0)])
    np.testing.assert_array_equal(new.spin_up[0].coeffs, np.arange(16.0))
    np.testing.assert_array_equal(new.spin_dn[0].coeffs, np.arange(16.0))
    np.testing.assert_array_equal(
        new.spin_up[0].table[:, 1:], start.spin_up[0].table[:, 1:]
    )
    assert new.style == start.style
    with pytest.raises(ValueError, match="need 16 coefficients"):
        start.with_coeffs([np.zeros(15)])


def test_refuses_to_write_nan(tmp_path: Path) -> None:
    scfv = ScfV.from_blocks([ScfVBlock.from_columns([np.nan], [0.15])])
    path = tmp_path / "scfV.dat"
    with pytest.raises(ValueError, match="non-finite"):
        write_scfv(path, scfv)
    assert not path.exists()


# -- malformed files ----------------------------------------------------------

GOOD = (DATA / "si8" / "gs_scfV-fb.dat").read_text().splitlines(keepends=True)


def _broken(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "scfV.dat"
    path.write_text("".join(lines))
    return path


def test_short_row_names_file_and_line(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[16] = " -0.1066370498E+02  0.3508106349E+06  0.169587E+02\n"
    path = _broken(tmp_path, lines)
    with pytest.raises(OlcaoFormatError) as info:
        read_scfv(path)
    assert str(info.value) == f"{path}, line 17: expected 5 numbers, got 3"
    assert info.value.line == 17 and info.value.path == str(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = _broken(tmp_path, GOOD[:10])
    with pytest.raises(OlcaoFormatError, match=r"line 11: unexpected end of file"):
        read_scfv(path)


def test_bad_number(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[5] = lines[5].replace("E+00", "X+00", 1)
    with pytest.raises(OlcaoFormatError, match=r"line 6: expected numbers"):
        read_scfv(_broken(tmp_path, lines))


def test_wrong_term_count_and_header(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[0] = "NUM_TYPES    x\n"
    with pytest.raises(OlcaoFormatError, match=r"line 1: expected 'NUM_TYPES n'"):
        read_scfv(_broken(tmp_path, lines))
    lines = list(GOOD)
    lines[1] = "SPIN_UP\n"
    with pytest.raises(
        OlcaoFormatError, match=r"line 2: expected 'TOTAL__OR__SPIN_UP'"
    ):
        read_scfv(_broken(tmp_path, lines))


def test_plus_u_terms_rejected(tmp_path: Path) -> None:
    lines = list(GOOD)
    idx = lines.index("NUM__PLUSUJ__TERMS\n")
    lines[idx + 1] = "    2\n"
    with pytest.raises(OlcaoFormatError, match=rf"line {idx + 2}: 2 \+U/J terms"):
        read_scfv(_broken(tmp_path, lines))


def test_parse_text_without_path() -> None:
    with pytest.raises(OlcaoFormatError, match=r"^line 1: expected 'NUM_TYPES n'"):
        parse_scfv("garbage\n")
