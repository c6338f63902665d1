"""Fault injection and fuzzing before a release (issue 11's long run).

Run:  python benchmarks/fuzz_faults.py [--seeds 3] [--quick] [--runs DIR ...]

The CI suite (tests/test_faults_*.py) runs a bounded, seeded sample of
the same attacks in seconds; this script runs all of them and prints the
figures the release target is judged by (all zero except ``clean``,
``harmless``, ``flagged`` and ``undetectable``):

readers
    every file of every run directory (the bundled runs, and
    ../shared/olcao-runs when present) truncated after every line and in
    the middle of lines, byte-level damage, non-UTF-8 bytes, NaN/Inf/huge
    numbers, wrong counts, dropped lines (tests/faults/mutate.py), read by
    ``read_run`` in child processes, so that a crash counts as a crash and
    the next case goes on in a new child;
datasets
    a valid HDF5 training set with random bytes overwritten, read by
    ``pyolcaoml.model.load_dataset`` in child processes;
signals
    SIGINT, SIGTERM and SIGHUP sent at several delays to ``olcaoml
    convert``, ``bispectrum`` and ``predict``: the status must be 0 or
    128 + the signal with one line on stderr, and no file may be left
    behind or damaged;
full disk
    a 256 KiB tmpfs this script mounts (root on Linux) or, where it cannot,
    a file-size limit (RLIMIT_FSIZE: EFBIG at the point where a full disk
    gives ENOSPC), under the library's and Python's scfV writers, convert,
    bispectrum -o and predict: one clear error, the old file unchanged,
    nothing left behind;
C API
    tests/faults/capi_faults.c compiled with cc against libolcaoml and run
    in its own process.

Outcomes: clean (our error type, naming the file), wrong_type (another
exception), silent (a harmful change accepted), crash (killed by a signal,
or a traceback where one line was due), leftover (temporary files left, or
an existing output damaged), and the benign harmless / flagged /
undetectable of tests/faults/mutate.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TESTS = REPO / "tests"
sys.path.insert(0, str(TESTS))
from faults.mutate import (  # noqa: E402
    copy_run,
    mutations,
    run_files,
)

BUNDLED = [
    TESTS / "data" / "olcao" / "si8_types",
    TESTS / "data" / "olcao" / "si8_r0.10_seed1100",
]
SHARED_RUNS = REPO.parent / "shared" / "olcao-runs"
COLUMNS = (
    "cases",
    "clean",
    "wrong_type",
    "silent",
    "crash",
    "leftover",
    "harmless",
    "flagged",
    "undetectable",
)
PY = sys.executable

# -- child processes ------------------------------------------------------------
_READER_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from faults.mutate import classify_read, fingerprint, outcome
from pyolcaoml.olcao import read_run
src, work, cases = Path(sys.argv[2]), Path(sys.argv[3]), json.load(open(sys.argv[4]))
ref = fingerprint(read_run(src))
for i, (kind, rel, data_path) in enumerate(cases):
    print("START", i, flush=True)
    original = (src / rel).read_bytes()
    (work / rel).write_bytes(Path(data_path).read_bytes())
    result, text = classify_read(work, ref)
    (work / rel).write_bytes(original)
    print("DONE", i, outcome(kind, result), json.dumps(text[:300]), flush=True)
"""

_DATASET_CHILD = r"""
import hashlib, sys
import numpy as np
from pyolcaoml.model import ModelError, load_dataset

def digest(ds):
    h = hashlib.sha256()
    for a in (ds.cells, ds.positions, ds.descriptors, ds.n_atoms, ds.atom_start):
        h.update(np.ascontiguousarray(a).tobytes())
    for e in sorted(ds.elements):
        el = ds.elements[e]
        for a in (el.alphas, el.isolated, el.atom_index, el.coeffs):
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((ds.names, ds.symbols, ds.descriptor)).encode())
    return h.hexdigest()

good = digest(load_dataset(sys.argv[1]))
for i, path in enumerate(sys.argv[2:]):
    print("START", i, flush=True)
    try:
        same = digest(load_dataset(path)) == good
        # HDF5 keeps no checksums by default: a changed byte inside a
        # number is another valid number, which no reader can notice.
        result = "harmless" if same else "undetectable"
    except ModelError:
        result = "clean"
    except Exception as exc:
        result = "wrong_type"
        print("NOTE", type(exc).__name__, str(exc)[:200], flush=True)
    print("DONE", i, result, flush=True)
"""


def _run_children(argv_for: callable, n_cases: int, timeout: float) -> list[str]:
    """Run cases start..n in children, restarting after a crash; the case
    a child died in is a crash.  Returns one outcome per case."""
    results: list[str | None] = [None] * n_cases
    start = 0
    while start < n_cases:
        proc = subprocess.run(
            argv_for(start), capture_output=True, text=True, timeout=timeout
        )
        last_started = None
        for line in proc.stdout.splitlines():
            parts = line.split(maxsplit=3)
            if parts[:1] == ["START"]:
                last_started = start + int(parts[1])
            elif parts[:1] == ["DONE"]:
                results[start + int(parts[1])] = parts[2]
        if proc.returncode == 0:
            break
        crashed = last_started if last_started is not None else start
        results[crashed] = "crash"
        print(
            f"  crash (status {proc.returncode}) at case {crashed}: "
            f"{proc.stderr.strip().splitlines()[-1:]}",
            file=sys.stderr,
        )
        start = crashed + 1
    return [r or "crash" for r in results]


# -- sections -------------------------------------------------------------------
def readers(
    runs: list[Path], seeds: int, quick: bool, work: Path, max_cuts: int
) -> Counter:
    total: Counter = Counter()
    for src in runs:
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            cases = []
            blobs = work / f"blobs-{src.name}-{seed}"
            blobs.mkdir(parents=True, exist_ok=True)
            for rel in run_files(src):
                if rel.endswith(".gz"):
                    continue
                data = (src / rel).read_bytes()
                every = not quick and seed == 0
                for m in mutations(
                    rel, data, rng, every_line=every, per_kind=6, max_cuts=max_cuts
                ):
                    p = blobs / f"{len(cases)}.bin"
                    p.write_bytes(m.data)
                    cases.append((m.kind, rel, str(p)))
            run_copy = copy_run(src, work / f"run-{src.name}")

            def argv(start: int, cases=cases, run_copy=run_copy, src=src) -> list:
                listing = work / "cases.json"
                listing.write_text(json.dumps(cases[start:]))
                return [
                    PY,
                    "-c",
                    _READER_CHILD,
                    str(TESTS),
                    str(src),
                    str(run_copy),
                    str(listing),
                ]

            results = _run_children(argv, len(cases), timeout=3600)
            total.update(results)
            total["cases"] += len(cases)
            shutil.rmtree(blobs)
            print(
                f"  readers {src.name} seed {seed}: {len(cases)} cases, "
                f"{dict(Counter(results))}",
                file=sys.stderr,
            )
    return total


def datasets(work: Path, n: int) -> Counter:
    good = work / "good.h5"
    _cli(["convert", *map(str, BUNDLED), "-o", str(good), "-q", "--twojmax", "2"])
    data = good.read_bytes()
    rng = np.random.default_rng(7)
    paths = []
    for i in range(n):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 8))):
            pos = int(rng.integers(0, len(buf)))
            buf[pos] = int(rng.integers(0, 256))
        p = work / f"bad-{i}.h5"
        p.write_bytes(bytes(buf))
        paths.append(str(p))

    def argv(start: int) -> list:
        return [PY, "-c", _DATASET_CHILD, str(good), *paths[start:]]

    results = _run_children(argv, n, timeout=3600)
    out = Counter(results)
    out["cases"] = n
    return out


def _cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "pyolcaoml", *args], capture_output=True, text=True, **kw
    )


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _judge(
    rc: int,
    err: str,
    signum: int | None,
    before: dict,
    after: dict,
    expected_new: set[str],
) -> str:
    """One signalled or disk-full command: crash / leftover / clean."""
    if signum is not None and rc == -signum and "run_guarded" not in err:
        # Killed by the very signal during interpreter start-up, before the
        # command installed its handlers (the editable install's import hook
        # takes ~0.2 s): nothing was started; the shell sees 128 + signum.
        changed = [k for k in before if after.get(k) != before[k]]
        extra = set(after) - set(before) - expected_new
        return "leftover" if changed or extra else "clean"
    if rc < 0 or rc in (134, 139) or "Segmentation" in err:
        return "crash"
    if "Traceback" in err:
        return "wrong_type"  # one line was due
    changed = [k for k in before if after.get(k) != before[k]]
    extra = set(after) - set(before) - expected_new
    if changed or extra:
        return "leftover"
    if signum is not None and rc not in (0, 128 + signum):
        return "wrong_type"
    if rc != 0 and len(err.strip().splitlines()) != 1:
        return "wrong_type"
    return "clean"


def signals(work: Path, model: str | None, delays: list[float]) -> Counter:
    from ase.build import bulk

    out: Counter = Counter()
    big = work / "big.xyz"
    bulk("Si", cubic=True).repeat((10, 10, 10)).write(str(big))
    runs_tree = work / "runs"
    for i in range(6):
        for src in BUNDLED:
            copy_run(src, runs_tree / f"{src.name}-{i}")
    commands = {
        "convert": lambda d: ["convert", str(runs_tree), "-o", str(d / "set.h5")],
        "bispectrum": lambda d: [
            "bispectrum",
            str(big),
            "--rcutfac",
            "3",
            "-o",
            str(d / "b.npy"),
        ],
    }
    if model:
        commands["predict"] = lambda d: [
            "predict",
            model,
            str(big),
            "-o",
            str(d / "scfV.dat"),
        ]
    for name, make in commands.items():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            for delay in delays:
                d = work / f"sig-{name}-{signum}-{delay}"
                d.mkdir()
                (d / "keep.txt").write_text("an existing file\n")
                before = _files(d)
                proc = subprocess.Popen(
                    [PY, "-m", "pyolcaoml", *make(d)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signum)
                _, err = proc.communicate(timeout=600)
                after = _files(d)
                # outputs are renamed into place whole: present means complete
                outputs = {"set.h5", "b.npy", "scfV.dat"}
                result = _judge(
                    proc.returncode, err, int(signum), before, after, outputs
                )
                out[result] += 1
                out["cases"] += 1
                if result != "clean":
                    print(
                        f"  {name} {signal.Signals(signum).name} at {delay}s: "
                        f"{result} (status {proc.returncode}) {err[-300:]!r}",
                        file=sys.stderr,
                    )
                shutil.rmtree(d)
    return out


def _small_disk(work: Path) -> Path | None:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return None
    mnt = work / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
    )
    return mnt if done.returncode == 0 else None


_LIMIT = r"""
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit, how, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
sys.argv = sys.argv[3:]
if how == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""

_WRITERS = r"""
import sys
import numpy as np
from pyolcaoml import library
from pyolcaoml.olcao import read_scfv, write_scfv
which, src, path = sys.argv[1], sys.argv[2], sys.argv[3]
scfv = read_scfv(src)
try:
    if which == "library":
        rows = np.concatenate([b.table for b in scfv.spin_up])
        library.write_scfv(path, [len(b) for b in scfv.spin_up], rows * 1.5)
    else:
        write_scfv(path, scfv)
except (library.LibraryError, OSError) as exc:
    print(f"{which} write_scfv: error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


def full_disk(work: Path, model: str | None) -> tuple[Counter, str]:
    """Each writer meets a full disk while an older output exists."""
    from ase.build import bulk

    out: Counter = Counter()
    mnt = _small_disk(work)
    how = "tmpfs 256 KiB" if mnt is not None else "RLIMIT_FSIZE 4 KiB (EFBIG)"
    script = work / "writers.py"
    script.write_text(_WRITERS)
    src_scfv = str(BUNDLED[0] / "gs_scfV-fb.dat")
    xyz = work / "si.xyz"
    bulk("Si", cubic=True).repeat((3, 3, 3)).write(str(xyz))
    # name: (how to run, argv before the output path, output file name)
    jobs: dict[str, tuple[str, list[str], str]] = {
        "library write_scfv": (
            "script",
            [str(script), "library", src_scfv],
            "scfV.dat",
        ),
        "python write_scfv": ("script", [str(script), "python", src_scfv], "scfV.dat"),
        "convert": (
            "module",
            [
                "pyolcaoml",
                "convert",
                *map(str, BUNDLED),
                "--force",
                "-q",
                "--twojmax",
                "2",
                "-o",
            ],
            "set.h5",
        ),
        "bispectrum -o": (
            "module",
            ["pyolcaoml", "bispectrum", str(xyz), "--force", "-o"],
            "b.npy",
        ),
    }
    if model:
        jobs["predict"] = (
            "module",
            ["pyolcaoml", "predict", model, str(xyz), "--force", "-o"],
            "scfV.dat",
        )
    for name, (kind, argv, target_name) in jobs.items():
        d = mnt if mnt is not None else work / "disk"
        d.mkdir(exist_ok=True)
        for p in d.iterdir():
            p.unlink()
        target = d / target_name
        target.write_bytes(b"an existing output that must survive\n" * 4)
        before = _files(d)
        if mnt is not None:
            fill = os.open(d / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fill, b"\0" * 4096)
            except OSError:
                os.close(fill)
            head = [PY, "-m"] if kind == "module" else [PY]
            cmd = [*head, *argv, str(target)]
        else:
            cmd = [PY, "-c", _LIMIT, "4096", kind, *argv, str(target)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if mnt is not None:
            (d / "filler").unlink()
        after = _files(d)
        result = _judge(proc.returncode, proc.stderr, None, before, after, set())
        if proc.returncode == 0:
            result = "silent"  # a full disk cannot give success
        out[result] += 1
        out["cases"] += 1
        print(
            f"  full disk {name}: {result} (status {proc.returncode}): "
            f"{proc.stderr.strip()[-300:]}",
            file=sys.stderr,
        )
    if mnt is not None:
        subprocess.run(["umount", str(mnt)], check=False)
    return out, how


def capi(work: Path, model_oml: str) -> Counter:
    from pyolcaoml import library

    out: Counter = Counter()
    if shutil.which("cc") is None:
        print("  C API: no cc, skipped", file=sys.stderr)
        return out
    exe = work / "capi_faults"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-D_DEFAULT_SOURCE",
            *library.cflags(),
            str(TESTS / "faults" / "capi_faults.c"),
            "-o",
            str(exe),
            *library.libs(),
        ],
        check=True,
    )
    d = work / "capi"
    d.mkdir()
    proc = subprocess.run(
        [str(exe), model_oml, str(d)], capture_output=True, text=True, timeout=600
    )
    for line in proc.stdout.splitlines():
        if line.startswith("case "):
            out["cases"] += 1
            out["clean" if " ok " in line else "wrong_type"] += 1
    if proc.returncode < 0:
        out["crash"] += 1
    if any(".olcaoml-" in p.name for p in d.iterdir()):
        out["leftover"] += 1
    return out


def _model(work: Path) -> tuple[str | None, str | None]:
    """The bundled default model and its export for the library."""
    model = REPO / "data" / "default_model"
    if not (model / "model.json").is_file():
        return None, None
    oml = work / "model.oml"
    done = _cli(["export", str(model), "-o", str(oml)])
    return str(model), (str(oml) if done.returncode == 0 else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="reader seeds per run")
    ap.add_argument(
        "--max-cuts",
        type=int,
        default=1000,
        help="truncation points per file (every line of files up to this long)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="sampled lines instead of every line; fewer cases",
    )
    ap.add_argument(
        "--runs",
        nargs="*",
        type=Path,
        default=None,
        help="run directories (default: bundled + 3 shared runs)",
    )
    sections = ("readers", "datasets", "signals", "disk", "capi")
    ap.add_argument(
        "--sections",
        nargs="+",
        choices=sections,
        default=list(sections),
        help="run only these sections",
    )
    args = ap.parse_args()
    runs = args.runs
    if runs is None:
        runs = list(BUNDLED)
        if SHARED_RUNS.is_dir():
            from pyolcaoml.olcao import find_run_dirs

            shared = find_run_dirs([SHARED_RUNS])
            runs += [Path(p) for p in shared[:: max(1, len(shared) // 3)]][:3]
    rows: dict[str, Counter] = {}
    want = set(args.sections)
    how = "not run"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="olcaoml-fuzz-") as tmp:
        work = Path(tmp)
        model, oml = _model(work)
        if "readers" in want:
            print("readers ...", file=sys.stderr)
            rows["readers"] = readers(
                runs,
                1 if args.quick else args.seeds,
                args.quick,
                work / "readers",
                args.max_cuts,
            )
        if "datasets" in want:
            print("datasets ...", file=sys.stderr)
            (work / "ds").mkdir()
            n = 40 if args.quick else 300
            rows["datasets (HDF5 bytes)"] = datasets(work / "ds", n)
        if "signals" in want:
            print("signals ...", file=sys.stderr)
            (work / "sig").mkdir()
            delays = [1.0, 2.5] if args.quick else [0.5, 1.0, 1.5, 2.5, 4.0]
            rows["signals"] = signals(work / "sig", model, delays)
        if "disk" in want:
            print("full disk ...", file=sys.stderr)
            (work / "disk").mkdir()
            try:
                rows["full disk"], how = full_disk(work / "disk", model)
            finally:
                small = work / "disk" / "small"
                if small.is_dir() and os.path.ismount(small):
                    subprocess.run(["umount", "-l", str(small)], check=False)
        if "capi" in want and oml:
            print("C API ...", file=sys.stderr)
            rows["C API (C harness)"] = capi(work, oml)
    print(
        f"\nfault injection and fuzzing ({time.perf_counter() - t0:.0f} s; "
        f"full disk: {how}; runs: {', '.join(p.name for p in runs)})\n"
    )
    print(f"{'section':24}" + "".join(f"{c:>13}" for c in COLUMNS))
    total: Counter = Counter()
    for name, c in rows.items():
        total.update(c)
        print(f"{name:24}" + "".join(f"{c.get(k, 0):>13}" for k in COLUMNS))
    print(f"{'total':24}" + "".join(f"{total.get(k, 0):>13}" for k in COLUMNS))
    bad = sum(total.get(k, 0) for k in ("wrong_type", "silent", "crash", "leftover"))
    print(
        "\ntarget: zero wrong_type, silent, crash and leftover:",
        "met" if bad == 0 else f"NOT met ({bad})",
    )
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
