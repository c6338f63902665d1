#!/usr/bin/env python3
"""OLCAO's full-basis SCF from the two-level start (needs OLCAO; not a test).

For each curated OLCAO run directory (inputs/, olcao.skl, meta.json with
its k-points; gs_iter-fb.dat and gs_scfV-fb.dat of the finished FB run):

  1. OLCAO's own minimal-basis SCF in a copy of the run's inputs:
     ``uolcao.py -scf MB``, from OLCAO's default start to the run's
     tolerance, or (``--mb-start model --mb-conv 1e-4``, the README's
     recipe) from the model's prediction to 1e-4, or (``--mb-start
     estimate``) from the model's prediction minus the correction, an
     estimate of the MB potential (``--mb-last-iteration N`` caps it:
     OLCAO's MB SCF oscillates on some cells; docs/model.md, stop 52;
     ``--mb-setting KEY=LINE`` replaces any other olcao.dat setting of the
     MB SCF, e.g. a coarser exchange-correlation mesh, stop 56);
  2. ``olcaoml from-mb``: that potential plus the model's correction
     (pyolcaoml.model.mb_delta, docs/model.md stop 49);
  3. OLCAO's FB SCF from it, with the run's own inputs (run_olcao.py).

With ``--also-mb`` the FB SCF is also run from the MB potential alone
(what OLCAO's driver does when a gs_scfV-mb.dat is in the project folder).
One row per start, in bench_scf.py's columns, plus the MB SCF's iterations
and time; ``total cpu s`` (``olcao_cpu_s`` in the JSON) is the MB and FB
SCFs' CPU time together, beside the default run's (``default cpu s``):
the stored one, or with ``--with-default`` OLCAO's default start run here
beside the chain (one per core: both then share the machine's state, which
a CPU-time ratio needs). A run directory with OLCAO's inputs but no finished
SCF (a fresh cell) needs ``--with-default``: |dE| is then taken against that
run. Starts from OLCAO's default and from a model alone: bench_scf.py.

    source $HOME/olcao-work/olcao-env.sh
    python benchmarks/bench_two_level.py data/scf_test_runs/asi32_s15000 \\
        --jobs 2 --json two_level.json
    python benchmarks/bench_two_level.py FRESH_CELL --with-default \\
        --mb-start model --mb-conv 1e-4 --jobs 2 --json fresh.json
    python benchmarks/bench_two_level.py SIC_RUN... --model sicam \\
        --mb-start model --mb-conv 1e-3 --jobs 2 --json sic.json

(``--model``: a bundled name or a directory whose mb_delta.npz covers the
runs' elements; without it the choice is ``olcaoml from-mb``'s: the
bundled model ``olcaoml predict`` would use, where it carries a
correction, else ``asi`` for Si alone and ``sicam`` where there is C.)

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


def run_mb(
    run,
    work: str,
    start_text: str | None = None,
    conv: float | None = None,
    last_iteration: int | None = None,
    settings: tuple[tuple[str, str], ...] = (),
) -> dict:
    """OLCAO's MB SCF in a copy of the run's inputs (from ``start_text``, an
    scfV.dat, when given, else OLCAO's default start; to ``conv`` when given,
    else the run's own CONVERGENCE_TEST; at most ``last_iteration``
    iterations when given, else the run's LAST_ITERATION; each (key, line)
    of ``settings`` replacing that olcao.dat setting, e.g. a coarser
    exchange-correlation mesh); its potential file, convergence values, wall
    and CPU seconds."""
    from pyolcaoml.cli.two_level import copy_run, fresh_mb_scf_env

    wd = os.path.join(work, f"{run.name}-mb")
    copy_run(run.path, wd)
    if start_text is not None:
        with open(os.path.join(wd, "inputs", "scfV.dat"), "w") as fh:
            fh.write(start_text)
    from pyolcaoml.olcao.olcao_dat import edit_setting

    dat = os.path.join(wd, "inputs", "olcao.dat")
    if conv is not None:
        edit_setting(dat, "CONVERGENCE_TEST", lambda _: f"{conv:g}")
    if last_iteration is not None:
        edit_setting(dat, "LAST_ITERATION", lambda _: str(last_iteration))
    for key, line in settings:
        edit_setting(dat, key, lambda _, line=line: line)
    driver = os.path.join(os.environ["OLCAO_DIR"], "bin", "uolcao.py")
    # one scratch folder per MB SCF, so that two at once (--jobs) do not
    # share it, emptied of what a killed one left (OLCAO's lock file)
    env = fresh_mb_scf_env(
        wd, os.path.join(os.environ.get("DATA_DIR", work), "scratch")
    )
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, driver, "-scf", "MB"],
        cwd=wd,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    pot = os.path.join(wd, "gs_scfV-mb.dat")
    log = os.path.join(wd, "gs_iter-mb.dat")
    # the large scratch files (integrals) go; the potential and log stay
    inter = os.path.realpath(os.path.join(wd, "intermediate"))
    if os.path.isdir(inter):
        shutil.rmtree(inter, ignore_errors=True)
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
        help="model directory holding mb_delta.npz (default: as `olcaoml "
        "from-mb`: predict's model where it has a correction, else 'asi' for "
        "Si alone, 'sicam' with C)",
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
    p.add_argument(
        "--mb-start",
        choices=("default", "model", "estimate"),
        default="default",
        help="the MB SCF's start: OLCAO's default, the model's prediction, or "
        "the model's prediction minus the correction (an estimate of the MB "
        "potential, pyolcaoml.model.mb_delta.minimal_basis_estimate); the "
        "prediction's time is counted in predict_s",
    )
    p.add_argument(
        "--mb-last-iteration",
        type=int,
        metavar="N",
        help="the MB SCF's LAST_ITERATION (default: the run's own)",
    )
    p.add_argument(
        "--mb-conv",
        type=float,
        metavar="TOL",
        help="the MB SCF's CONVERGENCE_TEST (default: the run's own)",
    )
    p.add_argument(
        "--mb-setting",
        action="append",
        default=[],
        metavar="KEY=LINE",
        help="replace the MB SCF's olcao.dat setting KEY by LINE (repeat for "
        "several; e.g. NUM_ANGULAR_SAMPLE_VECTORS=50 for a coarser "
        "exchange-correlation mesh)",
    )
    p.add_argument(
        "--with-default",
        action="store_true",
        help="also run OLCAO's default start (FB) here, beside the chain, and "
        "compare with it instead of the stored run",
    )
    p.add_argument("--json", metavar="FILE", help="write the table as JSON")
    p.add_argument("--work", help="keep OLCAO's files here (default: temporary)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once")
    bench_scf.add_runner_option(p)
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.mb_conv is not None and not 0 < args.mb_conv < 1:
        p.error(f"--mb-conv must be in (0, 1), got {args.mb_conv}")
    if args.mb_last_iteration is not None and args.mb_last_iteration < 1:
        p.error(f"--mb-last-iteration must be at least 1, got {args.mb_last_iteration}")
    mb_settings = []
    for item in args.mb_setting:
        key, eq, line = item.partition("=")
        if not (eq and key.strip() and line.strip()):
            p.error(f"--mb-setting wants KEY=LINE, got {item!r}")
        mb_settings.append((key.strip(), line.strip()))
    if args.mb_runs and (
        args.mb_start != "default"
        or args.mb_conv is not None
        or args.mb_last_iteration is not None
        or mb_settings
    ):
        p.error(
            "--mb-runs takes stored MB SCFs: no --mb-start model or estimate, "
            "--mb-conv, --mb-last-iteration or --mb-setting"
        )
    reason = bench_scf.skip_reason(os.path.abspath(args.runner))
    if reason:
        print(f"bench_two_level: skipped: {reason}")
        return 0

    from pyolcaoml.model import load_model
    from pyolcaoml.model.mb_delta import (
        load_mb_delta,
        minimal_basis_estimate,
        two_level_start,
    )
    from pyolcaoml.olcao import OLCAO_STYLE, format_scfv, read_run
    from pyolcaoml.olcao.errors import OlcaoFormatError
    from pyolcaoml.olcao.olcao_dat import setting_line

    runs = [read_run(d) for d in args.runs]
    model_name = args.model
    if model_name is None:  # as `olcaoml from-mb`: by predict's handover
        from pyolcaoml.cli.from_mb import correction_choice

        chosen = sorted({correction_choice(r.structure, 1)[0] for r in runs})
        if len(chosen) > 1:
            p.error(
                f"the runs want different models ({', '.join(chosen)}): "
                "run them apart or pass --model"
            )
        model_name = chosen[0]
    # the networks only for an MB SCF started from the model
    model = load_model(model_name, networks=args.mb_start != "default")
    delta = load_mb_delta(model.path)
    for run in runs:  # every run checked before OLCAO starts
        for key, _ in mb_settings:  # as run_mb's edit_setting will find it
            try:
                setting_line(os.path.join(run.path, "inputs", "olcao.dat"), key)
            except OlcaoFormatError as exc:
                p.error(f"--mb-setting {key}: {exc}")
        if not args.with_default and (
            run.history is None or run.converged_potential is None
        ):
            p.error(
                f"{run.path}: not a finished OLCAO FB run (to measure a fresh "
                "cell, run its default start here: --with-default)"
            )
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
        """The MB SCF, the two-level start and its FB SCF (and, with
        --also-mb, the FB SCF from the MB potential alone): raw results."""
        mb_text, t_mb_pred = None, 0.0
        if args.mb_start != "default":
            t0 = time.perf_counter()
            if args.mb_start == "model":
                coeffs = bench_scf.start_coefficients(run, model, "network")
            else:
                coeffs = minimal_basis_estimate(model, delta, run.path, n_threads=1)
            mb_text = bench_scf.start_text(run, coeffs)
            t_mb_pred = time.perf_counter() - t0
        if mb_root:
            mb = stored_mb(mb_root, run.name)
        else:
            mb = run_mb(
                run,
                work,
                mb_text,
                args.mb_conv,
                args.mb_last_iteration,
                tuple(mb_settings),
            )
        t0 = time.perf_counter()
        start = two_level_start(model, delta, run.path, mb["potential"], n_threads=1)
        text = format_scfv(replace(start.scfv, style=OLCAO_STYLE))
        starts = [("two-level", text, t_mb_pred + time.perf_counter() - t0)]
        if args.also_mb:
            with open(mb["potential"]) as fh:
                starts.append(("mb-only", fh.read(), t_mb_pred))
        kp = run.kpoints or (2, 2, 2)
        return [
            {
                "start": label,
                "res": bench_scf.run_olcao(
                    args.runner, run, text_, work, kp, f"{run.name}-{label}"
                ),
                "mb": mb,
                "predict_s": t,
            }
            for label, text_, t in starts
        ]

    def default_start(run) -> list[dict]:
        kp = run.kpoints or (2, 2, 2)
        res = bench_scf.run_olcao(
            args.runner, run, None, work, kp, f"{run.name}-default"
        )
        return [{"start": "default", "res": res, "mb": None, "predict_s": 0.0}]

    rows: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        # a cell's default start and its chain side by side, cell by cell
        tasks = []
        for run in runs:
            if args.with_default:
                tasks.append((run, pool.submit(default_start, run)))
            tasks.append((run, pool.submit(chain, run)))
        reference: dict[str, dict] = {}
        for run, job in tasks:
            for raw in job.result():
                if raw["start"] == "default":
                    reference[run.path] = raw["res"]
                row = make_row(run, raw, reference.get(run.path))
                rows.append(row)
                print_row(row, header=len(rows) == 1)
                if args.json:
                    bench_scf.write_json(args.json, rows)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def make_row(run, raw: dict, default: dict | None) -> dict:
    """One table row: a start's FB SCF (and its MB SCF) beside the default
    start's run: ``default`` (run here) or else the run's stored one."""
    res, mb = raw["res"], raw["mb"]
    if default is not None:
        ref = default["meta"].get("total_energy_Ha")
        default_values = default["values"]
        default_cpu = default["cpu_s"]
    else:
        ref = float(run.history.total_energy[-1])
        default_values = [float(v) for v in run.history.convergence]
        default_cpu = bench_scf.olcao_cpu_seconds(run.path)
    wall = float(res["meta"]["wall_time_scf_s"])
    cpu = res["cpu_s"]
    mb_cpu = mb["cpu_s"] if mb else 0.0
    mb_wall = mb["wall_s"] if mb else 0.0
    # OLCAO's whole work for this start: the MB SCF and the FB SCF
    olcao_cpu = cpu + mb_cpu if cpu is not None and mb_cpu is not None else None
    whole = olcao_cpu + raw["predict_s"] if olcao_cpu is not None else None
    return {
        "run": run.name,
        "atoms": run.n_atoms,
        "start": raw["start"],
        **bench_scf.summarise(
            res["values"],
            res["meta"].get("total_energy_Ha"),
            ref,
            res["meta"].get("last_iteration_limit"),
        ),
        "mb_iterations": len(mb["values"]) if mb else None,
        "mb_wall_s": mb["wall_s"] if mb else None,
        "mb_cpu_s": mb["cpu_s"] if mb else None,
        "fb_wall_s": wall,
        "fb_cpu_s": cpu,
        "olcao_wall_s": wall + mb_wall,
        "olcao_cpu_s": olcao_cpu,
        "predict_s": raw["predict_s"],
        "total_s": wall + mb_wall + raw["predict_s"],
        # OLCAO's CPU seconds and the predictions' seconds over the default
        # start's CPU seconds: below 1, the whole run is faster
        "cost_vs_default": (
            whole / default_cpu if whole is not None and default_cpu else None
        ),
        "default_iterations_to_1e-4": bench_scf.summarise(default_values, None, None)[
            "iterations_to_1e-4"
        ],
        "default_cpu_s": default_cpu,
        "convergence": res["values"],
        "mb_convergence": mb["values"] if mb else None,
    }


def print_row(row: dict, header: bool = False) -> None:
    f = bench_scf._fmt
    if header:
        print(
            "| run | atoms | start | it->1e-4 | it->1e-6 | first value | abs dE (Ha) "
            "| MB its | MB cpu s | FB cpu s | total cpu s | predict s "
            "| default it->1e-4 | default cpu s | cost / default |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {row['run']} | {row['atoms']} | {row['start']} | "
        f"{f(row['iterations_to_1e-4'], 'd')} | {f(row['iterations_to_1e-6'], 'd')} | "
        f"{f(row['first_value'], '.3g')} | {f(row['abs_dE_hartree'], '.1e')} | "
        f"{f(row['mb_iterations'], 'd')} | {f(row['mb_cpu_s'], '.1f')} | "
        f"{f(row['fb_cpu_s'], '.1f')} | {f(row['olcao_cpu_s'], '.1f')} | "
        f"{row['predict_s']:.2f} | "
        f"{f(row['default_iterations_to_1e-4'], 'd')} | "
        f"{f(row['default_cpu_s'], '.1f')} | {f(row['cost_vs_default'], '.2f')} |",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
