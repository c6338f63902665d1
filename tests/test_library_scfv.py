"""scfV.dat written by libolcaoml (OML_ScfV) against the Python writer and
real OLCAO output: the same bytes."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.library import LibraryError, write_scfv
from pyolcaoml.olcao import OLCAO_STYLE, ScfV, ScfVBlock, format_scfv, read_scfv

REAL_SCFV = sorted(glob.glob(str(SHARED / "olcao-runs" / "*" / "*" / "gs_scfV-fb.dat")))


def _python_text(counts, up, dn=None) -> bytes:
    def blocks(table):
        out, row = [], 0
        for n in counts:
            out.append(ScfVBlock(table[row : row + n]))
            row += n
        return tuple(out)

    up_blocks = blocks(up)
    dn_blocks = up_blocks if dn is None else blocks(dn)
    return format_scfv(ScfV(up_blocks, dn_blocks, OLCAO_STYLE)).encode("ascii")


def _awkward_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Numbers that exercise Ew.d: signs, zeros, -0.0, every magnitude,
    3-digit exponents and values that round up to the next power of ten."""
    special = np.array(
        [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            9.99999999995,
            0.99999999999999,
            9.9999995e-3,
            1e-120,
            -3.5e150,
            1e99,
            1e-99,
            123456789.0,
            2.5e-310,
        ]
    )
    mags = 10.0 ** rng.uniform(-40, 40, size=n)
    vals = rng.choice([-1.0, 1.0], size=n) * mags
    vals[: len(special)] = special[: min(n, len(special))]
    return vals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bytes_equal_python_writer(tmp_path, seed):
    rng = np.random.default_rng(seed)
    counts = [int(c) for c in rng.integers(1, 30, size=7)]
    rows = sum(counts)
    up = _awkward_values(rng, rows * 5).reshape(rows, 5)
    rng.shuffle(up.ravel())
    out = tmp_path / "scfV.dat"
    write_scfv(out, counts, up)
    assert out.read_bytes() == _python_text(counts, up)


def test_spin_down_table(tmp_path):
    rng = np.random.default_rng(7)
    counts = [16, 3, 42]
    rows = sum(counts)
    up = rng.normal(scale=20, size=(rows, 5))
    dn = rng.normal(scale=20, size=(rows, 5))
    out = tmp_path / "scfV.dat"
    write_scfv(out, counts, up, dn)
    assert out.read_bytes() == _python_text(counts, up, dn)
    back = read_scfv(out)
    assert back.term_counts == tuple(counts)
    assert back.style == OLCAO_STYLE


@pytest.mark.skipif(not REAL_SCFV, reason="no real OLCAO runs in ../shared")
@pytest.mark.parametrize("path", REAL_SCFV[:6] + REAL_SCFV[-2:])
def test_reproduces_real_olcao_file(tmp_path, path):
    """Real gs_scfV-fb.dat written by OLCAO's Fortran: parse it, write the
    numbers through the library, get the same bytes back."""
    real = read_scfv(path)
    assert real.style == OLCAO_STYLE
    up = np.concatenate([b.table for b in real.spin_up])
    dn = np.concatenate([b.table for b in real.spin_dn])
    out = tmp_path / "scfV.dat"
    write_scfv(out, real.term_counts, up, dn)
    with open(path, "rb") as fh:
        assert out.read_bytes() == fh.read()


def test_replaces_existing_file_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "scfV.dat"
    out.write_text("old\n")
    table = np.ones((2, 5))
    write_scfv(out, [2], table)
    assert out.read_bytes() == _python_text([2], table)
    assert sorted(os.listdir(tmp_path)) == ["scfV.dat"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_refused_and_nothing_written(tmp_path, bad):
    out = tmp_path / "scfV.dat"
    out.write_text("keep me\n")
    table = np.ones((5, 5))
    table[3, 2] = bad
    with pytest.raises(LibraryError) as err:
        write_scfv(out, [2, 3], table)
    assert err.value.status == 2
    assert "type 2" in str(err.value)
    assert out.read_text() == "keep me\n"
    assert sorted(os.listdir(tmp_path)) == ["scfV.dat"]


def test_missing_directory_is_io_error(tmp_path):
    with pytest.raises(LibraryError) as err:
        write_scfv(tmp_path / "no" / "such" / "scfV.dat", [1], np.ones((1, 5)))
    assert err.value.status == 6
    assert "temporary file" in str(err.value)
