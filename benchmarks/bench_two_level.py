#!/usr/bin/env python3
"""OLCAO's full-basis SCF from the two-level start (needs OLCAO; not a test).

For each curated OLCAO run directory (inputs/, olcao.skl, meta.json with
its k-points; gs_iter-fb.dat and gs_scfV-fb.dat of the finished FB run):

  1. OLCAO's own minimal-basis SCF in a copy of the run's inputs, from its
     default start, to the run's tolerance: ``uolcao.py -scf MB``;
  2. ``olcaoml from-mb``: that potential plus the model's correction
     (pyolcaoml.model.mb_delta, docs/model.md stop 49);
  3. OLCAO's FB SCF from it, with the run's own inputs (run_olcao.py).

With ``--also-mb`` the FB SCF is also run from the MB potential alone
(what OLCAO's driver does when a gs_scfV-mb.dat is in the project folder).
One row per start, in bench_scf.py's columns, plus the MB SCF's iterations
and time; ``total cpu s`` (``olcao_cpu_s`` in the JSON) is the MB and FB
SCFs' CPU time together, beside the stored default run's (``default cpu
s``). Starts from OLCAO's default
and from a model alone: bench_scf.py.

    source $HOME/olcao-work/olcao-env.sh
    python benchmarks/bench_two_level.py data/scf_test_runs/asi32_s15000 \\
        --jobs 2 --json two_level.json

Without OLCAO_DIR (or run_olcao.py) it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_scf  # noqa: E402


def run_mb(run, work: str) -> dict:
    """OLCAO's MB SCF in a copy of the run's inputs; its potential file,
    convergence values, wall and CPU seconds."""
    wd = os.path.join(work, f"{run.name}-mb")
    os.makedirs(wd)
    shutil.copytree(os.path.join(run.path, "inputs"), os.path.join(wd, "inputs"))
    shutil.copy(os.path.join(run.path, "olcao.skl"), wd)
    kps = os.path.join(wd, "inputs", "kp-pscf.dat")
    if not os.path.isfile(kps):  # uolcao.py opens it even for an SCF job
        shutil.copy(os.path.join(wd, "inputs", "kp-scf.dat"), kps)
    driver = os.path.join(os.environ["OLCAO_DIR"], "bin", "uolcao.py")
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, driver, "-scf", "MB"], cwd=wd, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    pot = os.path.join(wd, "gs_scfV-mb.dat")
    log = os.path.join(wd, "gs_iter-mb.dat")
    if r.returncode != 0 or not os.path.isfile(pot) or not os.path.isfile(log):
        raise RuntimeError(f"OLCAO's MB SCF failed for {run.name}: {r.stderr[-2000:]}")
    return {
        "potential": pot,
        "values": bench_scf.iteration_values(log),
        "wall_s": wall,
        "cpu_s": bench_scf.olcao_cpu_seconds(wd),
    }


def stored_mb(root: str, name: str) -> dict:
    """A stored MB SCF (``--mb-runs``): what :func:`run_mb` returns."""
    d = os.path.join(root, name)
    with open(os.path.join(d, "meta.json")) as fh:
        meta = json.load(fh)
    return {
        "potential": os.path.join(d, "gs_scfV-mb.dat"),
        "values": bench_scf.iteration_values(os.path.join(d, "gs_iter-mb.dat")),
        "wall_s": meta["wall_time_scf_s"],
        "cpu_s": meta["cpu_time_scf_s"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="curated OLCAO run directories")
    p.add_argument(
        "--model",
        default=None,
        help="model directory holding mb_delta.npz (default: the bundled 'asi')",
    )
    p.add_argument(
        "--also-mb", action="store_true", help="also run FB from the MB potential alone"
    )
    p.add_argument(
        "--mb-runs",
        metavar="DIR|TAR",
        help="take each run's MB SCF from <cell>/gs_scfV-mb.dat, gs_iter-mb.dat "
        "and meta.json here (data/mb_runs.tar.xz) instead of running it",
    )
    p.add_argument("--json", metavar="FILE", help="write the table as JSON")
    p.add_argument("--work", help="keep OLCAO's files here (default: temporary)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once")
    bench_scf.add_runner_option(p)
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")
    reason = bench_scf.skip_reason(os.path.abspath(args.runner))
    if reason:
        print(f"bench_two_level: skipped: {reason}")
        return 0

    from pyolcaoml.model import load_model
    from pyolcaoml.model.mb_delta import load_mb_delta, two_level_start
    from pyolcaoml.olcao import OLCAO_STYLE, format_scfv, read_run

    model = load_model(args.model or "asi", networks=False)
    delta = load_mb_delta(model.path)
    runs = [read_run(d) for d in args.runs]
    for run in runs:  # every run checked before OLCAO starts
        if run.history is None or run.converged_potential is None:
            p.error(f"{run.path}: not a finished OLCAO FB run")
    work = args.work or tempfile.mkdtemp(prefix="bench-two-level-")
    os.makedirs(work, exist_ok=True)

    mb_root = None
    if args.mb_runs:
        mb_root = args.mb_runs
        if mb_root.endswith(".tar.xz"):
            import tarfile

            mb_root = os.path.join(work, "mb_runs")
            with tarfile.open(args.mb_runs) as tar:
                tar.extractall(mb_root, filter="data")

    def chain(run) -> list[dict]:
        mb = stored_mb(mb_root, run.name) if mb_root else run_mb(run, work)
        t0 = time.perf_counter()
        start = two_level_start(model, delta, run.path, mb["potential"], n_threads=1)
        text = format_scfv(replace(start.scfv, style=OLCAO_STYLE))
        t_pred = time.perf_counter() - t0
        starts = [("two-level", text, t_pred)]
        if args.also_mb:
            with open(mb["potential"]) as fh:
                starts.append(("mb-only", fh.read(), 0.0))
        kp = run.kpoints or (2, 2, 2)
        ref = float(run.history.total_energy[-1])
        default_cpu = bench_scf.olcao_cpu_seconds(run.path)
        rows = []
        for label, text_, t in starts:
            res = bench_scf.run_olcao(
                args.runner, run, text_, work, kp, f"{run.name}-{label}"
            )
            wall = float(res["meta"]["wall_time_scf_s"])
            cpu = res["cpu_s"]
            rows.append(
                {
                    "run": run.name,
                    "atoms": run.n_atoms,
                    "start": label,
                    **bench_scf.summarise(
                        res["values"],
                        res["meta"].get("total_energy_Ha"),
                        ref,
                        res["meta"].get("last_iteration_limit"),
                    ),
                    "mb_iterations": len(mb["values"]),
                    "mb_wall_s": mb["wall_s"],
                    "mb_cpu_s": mb["cpu_s"],
                    "fb_wall_s": wall,
                    "fb_cpu_s": cpu,
                    # OLCAO's whole work for this start: the MB SCF and the FB
                    # SCF (what fresh_sets.py compares with the default's run)
                    "olcao_wall_s": wall + mb["wall_s"],
                    "olcao_cpu_s": (cpu + mb["cpu_s"])
                    if cpu is not None and mb["cpu_s"] is not None
                    else None,
                    "predict_s": t,
                    "total_s": wall + mb["wall_s"] + t,
                    "default_iterations_to_1e-4": bench_scf.summarise(
                        [float(v) for v in run.history.convergence], None, None
                    )["iterations_to_1e-4"],
                    "default_cpu_s": default_cpu,
                    "convergence": res["values"],
                    "mb_convergence": mb["values"],
                }
            )
        return rows

    rows: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        jobs = [pool.submit(chain, run) for run in runs]
        for job in jobs:
            for row in job.result():
                rows.append(row)
                print_row(row, header=len(rows) == 1)
                if args.json:
                    bench_scf.write_json(args.json, rows)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_row(row: dict, header: bool = False) -> None:
    f = bench_scf._fmt
    if header:
        print(
            "| run | atoms | start | it->1e-4 | it->1e-6 | first value | abs dE (Ha) "
            "| MB its | MB cpu s | FB cpu s | total cpu s | default it->1e-4 "
            "| default cpu s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {row['run']} | {row['atoms']} | {row['start']} | "
        f"{f(row['iterations_to_1e-4'], 'd')} | {f(row['iterations_to_1e-6'], 'd')} | "
        f"{f(row['first_value'], '.3g')} | {f(row['abs_dE_hartree'], '.1e')} | "
        f"{row['mb_iterations']} | {f(row['mb_cpu_s'], '.1f')} | "
        f"{f(row['fb_cpu_s'], '.1f')} | {f(row['olcao_cpu_s'], '.1f')} | "
        f"{f(row['default_iterations_to_1e-4'], 'd')} | "
        f"{f(row['default_cpu_s'], '.1f')} |",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
