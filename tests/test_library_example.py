"""The example programs, compiled against the installed library, against the
Python path: fortran/examples/predict_scfv.f90 (uses OML_Library) must write
the same scfV.dat as 'olcaoml predict MODEL RUN_DIR'; predict_c.c (olcaoml.h)
the same as the Python writer for the same structure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_library_support import (
    cached_model,
    compile_fortran,
    gfortran,
    needs_gfortran,
    run_dirs,
)

from pyolcaoml import library
from pyolcaoml.olcao import read_scfv

EXAMPLES = Path(__file__).resolve().parent.parent / "fortran" / "examples"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    if gfortran() is None:
        pytest.skip("gfortran is not installed: cannot build the example")
    exe = tmp_path_factory.mktemp("example") / "predict_scfv"
    done = compile_fortran(EXAMPLES / "predict_scfv.f90", exe)
    assert done.returncode == 0, done.stderr
    return exe


def copy_run_inputs(run: Path, dest: Path) -> Path:
    (dest / "inputs").mkdir(parents=True)
    for name in ("olcao.dat", "structure.dat", "scfV.dat"):
        shutil.copy(run / "inputs" / name, dest / "inputs" / name)
    return dest


def python_predict(model_dir: str, run: Path) -> bytes:
    """'olcaoml predict MODEL RUN_DIR --force' (the Python path)."""
    from pyolcaoml.cli import COMMANDS, main

    if "predict" in COMMANDS:
        try:
            status = main(["predict", model_dir, str(run), "--force"])
        except SystemExit as exc:  # pragma: no cover - argparse changes
            status = int(exc.code or 0)
        assert status == 0
    else:  # pragma: no cover - older checkouts
        from pyolcaoml.model import load_model
        from pyolcaoml.model.workflow import predict_scfv_for_run

        predict_scfv_for_run(load_model(model_dir), str(run), force=True)
    return (run / "inputs" / "scfV.dat").read_bytes()


def numbers(path: Path) -> np.ndarray:
    s = read_scfv(path)
    return np.concatenate([b.table for b in s.spin_up + s.spin_dn])


@needs_gfortran
@pytest.mark.parametrize("index", range(len(run_dirs())))
def test_fortran_example_equals_olcaoml_predict(example, tmp_path, index):
    run = run_dirs()[index]
    model_dir, oml = cached_model()
    py_run = copy_run_inputs(run, tmp_path / "python")
    want = python_predict(model_dir, py_run)

    f_run = copy_run_inputs(run, tmp_path / "fortran")
    out = f_run / "inputs" / "scfV.dat"
    done = subprocess.run(
        [str(example), oml, str(f_run), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"libolcaoml API version {library.API_VERSION}" in done.stdout
    # numbers to round-off, then the bytes
    np.testing.assert_allclose(
        numbers(out), numbers(py_run / "inputs" / "scfV.dat"), rtol=1e-12, atol=0
    )
    assert out.read_bytes() == want

    # as MPI ranks would: the atoms in three parts, the same file
    parts = tmp_path / "parts.dat"
    done = subprocess.run(
        [str(example), oml, str(f_run), str(parts), "3"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert parts.read_bytes() == want


@needs_gfortran
def test_fortran_example_reports_errors(example, tmp_path):
    _, oml = cached_model()
    run = copy_run_inputs(run_dirs()[0], tmp_path / "run")
    done = subprocess.run(
        [str(example), str(tmp_path / "missing.oml"), str(run)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "missing.oml" in done.stderr
    # one line for the user, not gfortran's ERROR STOP and backtrace
    assert "Backtrace" not in done.stderr and "ERROR STOP" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # a run whose potential types are shared by several atoms (si8 sample)
    from conftest import SHARED

    shared = SHARED / "olcao-samples" / "si8"
    if (shared / "inputs" / "structure.dat").is_file():
        done = subprocess.run(
            [str(example), oml, str(shared), str(tmp_path / "x.dat")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1
        assert "shared" in done.stderr or "type" in done.stderr
        assert not (tmp_path / "x.dat").exists()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_c_example_equals_python_writer(tmp_path):
    """predict_c.c through olcaoml.h; expected: the Python path on the same
    8-atom diamond cell (one potential type per atom)."""
    from pyolcaoml.model import load_model
    from pyolcaoml.model.workflow import predict_scfv_for_structure
    from pyolcaoml.structure import BOHR_IN_ANGSTROM, Structure

    model_dir, oml = cached_model()
    exe = tmp_path / "predict_c"
    done = subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Werror", *library.cflags(),
         str(EXAMPLES / "predict_c.c"), "-o", str(exe), *library.libs()],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "c.dat"
    done = subprocess.run([str(exe), oml, str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    a = 10.263102445200127377
    fract = np.array(
        [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
         [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]]
    )  # fmt: skip
    structure = Structure(
        cell=np.eye(3) * a * BOHR_IN_ANGSTROM,
        positions=(fract * a) * BOHR_IN_ANGSTROM,
        symbols=["Si"] * 8,
    )
    want = tmp_path / "python.dat"
    predict_scfv_for_structure(load_model(model_dir), structure, str(want))
    assert out.read_bytes() == want.read_bytes()


@needs_gfortran
def test_fortran_through_bind_c_only(tmp_path):
    """predict_bindc.f90 declares the C interface itself (no .mod files of
    ours on the include path): what a program built with another compiler
    does.  Same numbers as the library through ctypes, to the last bit."""
    from pyolcaoml.library import LibraryModel

    _, oml = cached_model()
    exe = tmp_path / "predict_bindc"
    done = subprocess.run(
        [gfortran(), str(EXAMPLES / "predict_bindc.f90"), "-o", str(exe),
         *library.libs()],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(exe), oml], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"api {library.API_VERSION}"
    got = np.array([[float(v) for v in line.split()] for line in lines[1:]])

    a = 10.263102445200127377
    fract = np.array(
        [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0],
         [.25, .25, .25], [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]]
    )  # fmt: skip
    with LibraryModel(oml) as m:
        want = m.predict(np.eye(3) * a, fract * a, np.ones(8, np.int32))
    np.testing.assert_array_equal(got, want)

    bad = subprocess.run([str(exe), str(tmp_path / "none.oml")], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 1 and "error 6" in bad.stderr
