"""Signals and closed pipes for every command (issue 10 item 8, issue 11
items 4, 5 and the SIGINT part of 11): one line on stderr, the shell's
status (130, 143, 129), temporaries removed, no 'Broken pipe' traceback,
and convert on a full disk ending in one clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from pyolcaoml.cli import main
from pyolcaoml.cli.signals import Interrupted, run_guarded

RUNS = [DATA / "olcao" / "si8_r0.10_seed1100", DATA / "olcao" / "si8_types"]
SIGNALS = [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "stopped by SIGTERM"),
    (signal.SIGHUP, 129, "stopped by SIGHUP"),
]


def _leftovers(directory: Path) -> list[str]:
    return sorted(
        p.name for p in directory.iterdir() if p.name.endswith(".tmp") or
        ".olcaoml-" in p.name or p.name.startswith("tmp")
    )  # fmt: skip


@pytest.mark.parametrize(("signum", "status", "text"), SIGNALS)
def test_signal_during_convert_removes_the_temporary(
    signum, status, text, tmp_path, monkeypatch, capsys
):
    """The signal arrives while the dataset's temporary file is open (it
    is sent from inside the write).  Before: SIGTERM and SIGHUP killed the
    process and left .tmp files behind."""
    import pyolcaoml.dataset as dataset

    real = dataset.write_bytes_atomic

    def write_then_signal(path, data):
        def fsync(fd):
            os.kill(os.getpid(), signum)

        monkeypatch.setattr(dataset.os, "fsync", fsync)
        real(path, data)

    monkeypatch.setattr(dataset, "write_bytes_atomic", write_then_signal)
    out = tmp_path / "set.h5"
    code = main(["convert", *map(str, RUNS), "-o", str(out), "-q", "--twojmax", "2"])
    assert code == status
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"olcaoml convert: {text}"]
    assert not out.exists()
    assert _leftovers(tmp_path) == []
    # the handlers are restored afterwards
    assert signal.getsignal(signum) is not dataset.os.kill


def test_run_guarded_ignores_a_second_signal_during_cleanup(tmp_path):
    tmp = tmp_path / "x.tmp"

    def work() -> int:
        tmp.write_text("half")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            return 0
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: clean-up runs
            tmp.unlink()

    assert run_guarded("x", work) == 143
    assert not tmp.exists()


def test_signal_turned_into_another_exception_still_counts(tmp_path):
    """numpy's import turns any exception into ImportError; a signal that
    arrives there must still end the command as interrupted."""

    def work() -> int:
        try:
            os.kill(os.getpid(), signal.SIGHUP)
        except BaseException as exc:
            raise ImportError("numpy: Original error was ...") from exc
        return 0

    assert run_guarded("x", work) == 129


def test_interrupted_is_a_keyboard_interrupt():
    exc = Interrupted(signal.SIGTERM)
    assert isinstance(exc, KeyboardInterrupt)
    assert exc.status == 143


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """The state letter and the user + system CPU seconds (all threads) of
    process ``pid`` from /proc/PID/stat; None without /proc (not Linux) or
    once the process has been reaped."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is the state (field 3); utime and stime are fields 14, 15
    return fields[0], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_at_exit(pid: int, timeout: float) -> float | None:
    """The CPU seconds of a child once it has exited but before it is
    reaped (a zombie keeps its totals), or None."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stat = _proc_stat(pid)
        if stat is None:
            return None
        if stat[0] == "Z":
            return stat[1]
        time.sleep(0.05)
    return None


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    # not from the repository's root, whose pyolcaoml/ (no compiled parts in
    # a non-editable install) would shadow the installed package
    kwargs.setdefault("cwd", tempfile.gettempdir())
    return subprocess.Popen(
        [sys.executable, "-m", "pyolcaoml", *args], env=env, **kwargs
    )


def test_closed_pipe_ends_quietly(tmp_path):
    """`olcaoml bispectrum ... | head`: the reader is gone before the
    command writes.  Before: '[Errno 32] Broken pipe' or an 'Exception
    ignored ... BrokenPipeError' from the interpreter."""
    from pyolcaoml.olcao import read_structure_dat

    structure = RUNS[0] / "inputs" / "structure.dat"
    assert read_structure_dat(structure).n_atoms == 8
    xyz = tmp_path / "si.xyz"
    read_structure_dat(structure).structure.to_ase().write(str(xyz))
    r, w = os.pipe()
    os.close(r)  # the reader has gone
    try:
        proc = _cli("bispectrum", str(xyz), "--twojmax", "8", stdout=w,
                    stderr=subprocess.PIPE)  # fmt: skip
    finally:
        os.close(w)
    _, err = proc.communicate(timeout=120)
    assert b"Broken pipe" not in err and b"BrokenPipeError" not in err, err
    assert b"Traceback" not in err, err
    assert proc.returncode == 141


@pytest.mark.parametrize(("signum", "status", "text"), SIGNALS[:2])
def test_signal_to_a_long_bispectrum_command(signum, status, text, tmp_path):
    """A real process, signalled while the Fortran computes (some 10 s of
    work): it must stop within seconds (the work is chunked) with one line
    and the signal's status, never a traceback, a crash or a stray file.
    Before: the single Fortran call ignored Ctrl-C until it had finished."""
    import time

    from ase.build import bulk

    xyz = tmp_path / "big.xyz"
    bulk("Si", cubic=True).repeat((12, 12, 12)).write(str(xyz))  # 13824 atoms
    proc = _cli("bispectrum", str(xyz), "--twojmax", "8", "--rcutfac", "4",
                "-o", str(tmp_path / "b.npy"), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)  # fmt: skip
    cpu_before = cpu_after = None
    try:
        proc.wait(timeout=3.0)
    except subprocess.TimeoutExpired:
        stat = _proc_stat(proc.pid)
        proc.send_signal(signum)
        sent = time.monotonic()
        if stat is not None:
            cpu_before = stat[1]
            cpu_after = _cpu_at_exit(proc.pid, timeout=120)
    else:
        sent = time.monotonic()
    out, err = proc.communicate(timeout=120)
    stopped_after = time.monotonic() - sent
    lines = err.decode().strip().splitlines()
    if proc.returncode == 0:
        pytest.skip("the command finished before the signal")
    assert proc.returncode == status, err
    assert lines == [f"olcaoml bispectrum: {text}"], err
    if cpu_before is not None and cpu_after is not None:
        # the CPU time the process spent after the signal (all its threads):
        # what the chunking bounds, whatever else runs on the machine (the
        # wall time was 8.4 s on two cores shared with two OLCAO runs)
        assert cpu_after - cpu_before < 8.0, (cpu_before, cpu_after)
    else:
        assert stopped_after < 8.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.xyz"]


def test_chunked_bispectrum_is_bitwise_identical(monkeypatch):
    """The chunks that make the Fortran interruptible do not change a bit."""
    from ase.build import bulk

    import pyolcaoml.bispectrum as bispectrum

    atoms = bulk("Si", cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=3)
    b = bispectrum.Bispectrum(twojmax=6)
    whole = b.compute(atoms)
    monkeypatch.setattr(bispectrum, "CHUNK_CENTRES", 16)
    chunked = b.compute(atoms)
    assert np.array_equal(whole, chunked)
    some = b.compute(atoms, centers=[63, 0, 17, 40])
    assert np.array_equal(some, whole[[63, 0, 17, 40]])


# -- item 4: convert on a full disk -------------------------------------------------
_CONVERT_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))
from pyolcaoml.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_convert_on_a_full_disk_gives_one_clear_error(tmp_path):
    """A file-size limit (EFBIG where a full disk gives ENOSPC).  Before:
    ~1,100 lines of h5py traceback, then a segfault."""
    out = tmp_path / "set.h5"
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT_LIMITED, "convert", *map(str, RUNS),
         "-o", str(out), "-q", "--twojmax", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("olcaoml convert: error:")
    assert f"cannot write {out}" in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


_EXPORT_LIMITED = _CONVERT_LIMITED.replace("(2048,", "(1 << 20,")


def test_export_domain_on_a_full_disk_keeps_both_old_files(tmp_path):
    """export --domain under a 1 MiB file-size limit (the default model's
    domain is ~7 MB): one clear error naming the domain file, the old model
    and domain files as they were, no temporaries (the domain is written
    first, so the model file is not replaced either)."""
    oml, omld = tmp_path / "m.oml", tmp_path / "m.omld"
    oml.write_bytes(b"old model")
    omld.write_bytes(b"old domain")
    done = subprocess.run(
        [sys.executable, "-c", _EXPORT_LIMITED, "export", "default",
         "-o", str(oml), "--domain", str(omld), "--force"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("olcaoml export: error:")
    assert f"cannot write {omld}" in lines[0]
    assert oml.read_bytes() == b"old model" and omld.read_bytes() == b"old domain"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.oml", "m.omld"]
