"""Faults against the Fortran core and libolcaoml (issue 11, items 1, 2, 3, 7
and the ctypes part of 11): a full disk under the library's scfV writer,
absurd thread counts, cutoffs far beyond the cell, non-finite results, and
C ints that ctypes would wrap.  Every case must end in an error status or
exception naming the argument, never a crash, a silent success, or a
damaged file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_library_support import cached_model

from pyolcaoml import Bispectrum, library
from pyolcaoml.library import LibraryError, LibraryModel, write_scfv
from pyolcaoml.structure import Structure

HERE = Path(__file__).resolve().parent
ARGUMENT, NON_FINITE, IO = 1, 2, 6


def _table(seed: int = 0) -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    up = rng.normal(size=(128, 5))
    up[:, 1] = np.abs(up[:, 1]) + 0.1
    return [16] * 8, up


def _temporaries(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".olcaoml-" in p.name]


# -- item 1: the library's scfV writer on a full disk ---------------------------
_LIMITED_WRITE = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from pyolcaoml.library import LibraryError, write_scfv
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    rng = np.random.default_rng(1)
    up = rng.normal(size=(128, 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    try:
        write_scfv(sys.argv[1], [16] * 8, up)
    except LibraryError as exc:
        print("STATUS", exc.status, exc)
        sys.exit(0)
    print("NO ERROR")
    sys.exit(3)
    """
)


def test_library_scfv_writer_refuses_a_full_file_system(tmp_path):
    """A file-size limit makes write(2) fail with EFBIG at the point where a
    full disk gives ENOSPC (same code path).  Before the fix the writer
    returned OK and left a short file in place of the old one."""
    path = tmp_path / "scfV.dat"
    counts, up = _table()
    write_scfv(path, counts, up)
    old = path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED_WRITE, str(path)],
        cwd=tmp_path,  # not the repository: import the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"STATUS {IO}" in done.stdout
    assert "left unchanged" in done.stdout
    assert path.read_bytes() == old
    assert _temporaries(tmp_path) == []


def _small_tmpfs(where: Path) -> Path:
    """A 64 KiB tmpfs the test mounts itself, or a skip saying why not."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mnt = where / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    return mnt


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_library_scfv_writer_on_a_real_full_disk(tmp_path):
    mnt = _small_tmpfs(tmp_path)
    try:
        path = mnt / "scfV.dat"
        counts, up = _table()
        write_scfv(path, counts, up)
        old = path.read_bytes()
        _fill(mnt)
        with pytest.raises(LibraryError) as err:
            write_scfv(path, counts, 2 * up)
        assert err.value.status == IO
        assert "No space left" in str(err.value)
        assert path.read_bytes() == old
        assert _temporaries(mnt) == []
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_c_api_fault_harness(tmp_path):
    """The C API from C, in a process of its own: full disk (file-size
    limit), thread counts INT_MAX and 1e6, descriptors of 1e308."""
    _, oml = cached_model()
    exe = tmp_path / "capi_faults"
    done = subprocess.run(
        ["cc", "-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Werror",
         *library.cflags(), str(HERE / "faults" / "capi_faults.c"),
         "-o", str(exe), *library.libs()],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [str(exe), oml, str(work)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failures 0" in done.stdout
    assert done.stdout.count(" ok |") == 7, done.stdout


# -- item 2: thread counts --------------------------------------------------------
def _diamond() -> Structure:
    a = 5.43
    fract = np.array([[0, 0, 0], [0.25, 0.25, 0.25]])
    return Structure(cell=np.eye(3) * a, positions=fract * a, symbols=["Si", "Si"])


@pytest.mark.parametrize("n", [1025, 1_000_000, 2**31 - 1])
def test_python_refuses_absurd_thread_counts(n):
    with pytest.raises(ValueError, match="n_threads"):
        Bispectrum(twojmax=4).compute(_diamond(), n_threads=n)


def test_fortran_core_refuses_absurd_thread_counts():
    """Past the Python check, the core itself returns a status."""
    from pyolcaoml._fortran import check, core, fortran_cell, fortran_positions

    s = _diamond()
    b = Bispectrum(twojmax=4)
    out = core().oml_bispectrum(
        b.n_features, fortran_cell(s.cell), fortran_positions(s.positions),
        np.ones(2, dtype=np.int32), np.array([2.35]), np.array([1.0]),
        np.arange(1, 3, dtype=np.int32), 4, 1.0, 0.99363, 0.0,
        1, 0, 0, 0, 0, 1_000_000,
    )  # fmt: skip
    with pytest.raises(ValueError, match="more than the limit of 1024"):
        check(out[1], out[2])


@pytest.mark.parametrize("command", ["bispectrum", "predict"])
def test_cli_refuses_absurd_thread_counts(command, tmp_path, capsys):
    from pyolcaoml.cli import main

    with pytest.raises(SystemExit) as exc:
        main([command, "x", "--threads", "1000000"])
    assert exc.value.code == 2
    assert "must be between 1 and 1024" in capsys.readouterr().err


def test_library_refuses_absurd_thread_counts():
    _, oml = cached_model()
    with LibraryModel(oml) as m:
        x = np.zeros((1, m.n_features))
        for n in (1_000_000, 2**31 - 1):
            with pytest.raises(LibraryError) as err:
                m.predict_from_descriptors([1], x, n_threads=n)
            assert err.value.status == ARGUMENT


# -- item 3: huge cutoffs ---------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{"rcutfac": 1e15}, {"radii": {"Si": 1e20}}, {"radii": {"Si": 5e3}}],
    ids=["rcutfac1e15", "radius1e20", "radius5e3"],
)
def test_huge_cutoffs_are_refused_at_once(kwargs):
    """Before: rcutfac 1e15 overflowed the stencil and gave 'no neighbour'
    descriptors; a radius of 5e3 Å ran for minutes."""
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="cutoff: .* too large for this cell"):
        Bispectrum(twojmax=4, **kwargs).compute(_diamond())
    assert time.perf_counter() - t0 < 5.0


def test_neighbour_list_refuses_huge_cutoffs():
    from pyolcaoml.neighbours import neighbour_list

    with pytest.raises(ValueError, match="too large"):
        neighbour_list(_diamond(), 1e20)


# -- item 7: non-finite results ---------------------------------------------------
def test_overflowing_weight_is_an_error_not_inf():
    with pytest.raises(ValueError, match="non-finite"):
        Bispectrum(twojmax=4, weights={"Si": 1e308}).compute(_diamond())


def test_library_prediction_overflow_is_an_error():
    _, oml = cached_model()
    with LibraryModel(oml) as m:
        x = np.full((2, m.n_features), 1e308)
        with pytest.raises(LibraryError) as err:
            m.predict_from_descriptors([1, 1], x)
        assert err.value.status == NON_FINITE


# -- item 11: ctypes must not wrap or truncate --------------------------------------
def test_ctypes_wrapper_refuses_wrapping_and_truncation():
    _, oml = cached_model()
    with LibraryModel(oml) as m:
        with pytest.raises(ValueError, match="does not fit a C int"):
            m.n_alphas(2**32 + 1)
        with pytest.raises(TypeError, match="element"):
            m.n_alphas(1.9)
        x = np.zeros((1, m.n_features))
        with pytest.raises(TypeError, match="element_of"):
            m.predict_from_descriptors(np.array([1.9]), x)
        with pytest.raises(ValueError, match="element_of"):
            m.predict_from_descriptors(np.array([2**32 + 1]), x)
        with pytest.raises(ValueError, match="n_threads"):
            m.predict_from_descriptors([1], x, n_threads=2**32 + 1)
        with pytest.raises(TypeError, match="n_threads"):
            m.predict_from_descriptors([1], x, n_threads=1.9)
        # and the right values still work
        assert m.n_alphas(1) > 0


# -- the Python writers keep the old file too ---------------------------------------
_PY_WRITERS = textwrap.dedent(
    """
    import resource, signal, sys
    from pyolcaoml.olcao import read_scfv, read_skeleton, write_scfv, write_skeleton
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    which, src, out = sys.argv[1:4]
    obj = read_scfv(src) if which == "scfv" else read_skeleton(src)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256, resource.RLIM_INFINITY))
    try:
        (write_scfv if which == "scfv" else write_skeleton)(out, obj)
    except OSError as exc:
        print("ERROR", exc)
        sys.exit(0)
    print("NO ERROR")
    sys.exit(3)
    """
)


@pytest.mark.parametrize(
    ("which", "src"),
    [("scfv", "gs_scfV-fb.dat"), ("skeleton", "olcao.skl")],
)
def test_python_writers_keep_the_old_file_on_a_full_disk(tmp_path, which, src):
    """Before: open(path, 'w') emptied the old file first, so a full disk
    left a 0-byte or cut file in its place (with a clean [Errno 28])."""
    from conftest import DATA

    source = DATA / "olcao" / "si8_types" / src
    out = tmp_path / "out.dat"
    old = b"the previous file\n" * 3
    out.write_bytes(old)
    done = subprocess.run(
        [sys.executable, "-c", _PY_WRITERS, which, str(source), str(out)],
        cwd=out.parent,  # not the repository: import the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"cannot write {out}" in done.stdout
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.dat"]


def test_python_prediction_overflow_is_an_error():
    """Keras gives Inf or NaN for descriptors of 1e308; before, they were
    returned as coefficients."""
    from test_library_support import cached_model

    from pyolcaoml.model import ModelError, load_model

    model = load_model(cached_model()[0])
    x = np.full((2, model.n_features), 1e308)
    with pytest.raises(ModelError, match="atom 0 .* not finite"):
        model.predict(["Si", "Si"], x)


def test_atomic_writer_keeps_file_modes(tmp_path):
    """The temporary file of mkstemp is private (0600); the replaced file
    keeps its mode, a new one gets the mode open() would give it."""
    from pyolcaoml._atomic import write_bytes_atomic

    old = tmp_path / "old.dat"
    old.write_bytes(b"old")
    os.chmod(old, 0o640)
    write_bytes_atomic(old, b"new")
    assert old.read_bytes() == b"new" and (old.stat().st_mode & 0o777) == 0o640
    new = tmp_path / "new.dat"
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(new, b"x")
    finally:
        os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o644


def test_atomic_writer_writes_parts_in_order_or_nothing(tmp_path, monkeypatch):
    """A list of buffers (how predict writes the two identical spin
    channels of scfV.dat without joining them) lands in order; a failure in
    a later part leaves the old file and no temporary file."""
    import numpy as np

    from pyolcaoml import _atomic

    path = tmp_path / "scfV.dat"
    parts = [b"head\n", memoryview(np.frombuffer(b"abc\n" * 3, np.uint8)), b"end\n"]
    _atomic.write_bytes_atomic(path, parts)
    assert path.read_bytes() == b"head\n" + b"abc\n" * 3 + b"end\n"
    calls = []

    def failing(fd, data):
        calls.append(bytes(data))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        os.write(fd, data)

    monkeypatch.setattr(_atomic, "_write_all", failing)
    with pytest.raises(OSError, match=f"cannot write {path}"):
        _atomic.write_bytes_atomic(path, [b"new1\n", b"new2\n", b"new3\n"])
    assert path.read_bytes() == b"head\n" + b"abc\n" * 3 + b"end\n"
    assert os.listdir(tmp_path) == ["scfV.dat"]
