#!/usr/bin/env python3
"""SCF iterations of real OLCAO from predicted starts (needs OLCAO; not a test).

For each OLCAO run directory given (a curated run: inputs/, olcao.skl,
gs_scfV-fb.dat, gs_iter-fb.dat, meta.json with its k-points, e.g. from
../shared/olcao-runs), run OLCAO's SCF with exactly that run's inputs from
several starts and print one table: iterations to 1e-4 (OLCAO's default
tolerance) and to 1e-6, the first-iteration convergence value, |ΔE| against
the run's stored converged energy, OLCAO's wall and CPU time, the
prediction's time (descriptors, network, scfV text; model loaded once) and
the total (wall). Starts:

  default    OLCAO's own start (makeinput's isolated atoms; inputs/scfV.dat)
  isolated   the model's isolated atom: atomicPDB's coeff1 as V(r), projected
             onto the run's exponents where they differ (C with -modpot,
             whose default start puts coeff1 on exponents it was not fitted
             to); the same as default for Si
  average    the model's average training atom
  ridge      the model's ridge baseline
  network    the model's network
  NAME=DIR   the network of any other model directory (repeatable --model)
  memberK    with --members: member K of the base model's ensemble alone

``--members`` measures the noise of any comparison between models: each
member is a model of its own, about as accurate as the others (its V(r)
error within ~20 % of theirs), so the spread of the iteration counts over
the members is how far a count moves between equally good models
(docs/model.md, "Stop 25").

and the solver-aligned error of each start (pyolcaoml.model.solver_metric:
OLCAO's convergence measure applied to start - converged; max over sites).

    source $HOME/olcao-work/olcao-env.sh   # OLCAO_DIR; ../shared/tools/olcao
    python benchmarks/bench_scf.py ../shared/olcao-runs/rattle/si8_r0.10_seed1101 \\
        --starts default average ridge network --json bench_scf.json

Without OLCAO_DIR (or without run_olcao.py) it prints why and exits 0:
OLCAO is a measuring instrument, never a dependency. One SCF runs at a time
(OMP_NUM_THREADS=1, as in the stored runs) unless ``--jobs N`` runs N at
once (one per core: the starts of a cell then share the machine's state
side by side, which suits CPU-time ratios on a machine whose speed drifts
by the hour; the table keeps its order). ``--reuse-default`` takes the
default start's numbers from the run's own stored log instead of re-running
it (same inputs, same program; its wall time is then the stored one).

A run directory that holds OLCAO's inputs but no finished SCF (makeinput's
output, say) is measured too when ``default`` is among the starts and is
run here: |ΔE| is then taken against that default start's energy, and the
solver error (which needs the converged potential) is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RUNNER = os.path.join(
    HERE, "..", "..", "shared", "tools", "olcao", "run_olcao.py"
)
BUILTIN = ("default", "isolated", "average", "ridge", "network")
#: the starts run when --starts is not given
DEFAULT_STARTS = ("default", "average", "ridge", "network")


def skip_reason(runner: str) -> str | None:
    """Why OLCAO cannot be run here, or None."""
    if not os.environ.get("OLCAO_DIR"):
        return "OLCAO_DIR is not set (source olcao-env.sh; see ../shared/tools/olcao)"
    if not os.path.isdir(os.environ["OLCAO_DIR"]):
        return f"OLCAO_DIR={os.environ['OLCAO_DIR']} is not a directory"
    if not os.path.isfile(runner):
        return f"run_olcao.py not found at {runner} (give --runner)"
    return None


def add_runner_option(p: argparse.ArgumentParser) -> None:
    """``--runner``: the run_olcao.py every OLCAO-running benchmark uses."""
    p.add_argument(
        "--runner",
        default=os.environ.get("OLCAO_RUNNER", DEFAULT_RUNNER),
        help="run_olcao.py (default: $OLCAO_RUNNER or ../shared/tools/olcao/)",
    )


def parse_or_skip(p: argparse.ArgumentParser) -> argparse.Namespace | None:
    """Add ``--runner``, parse, and return None (after printing why) where
    OLCAO cannot run here: the start of every OLCAO-running benchmark."""
    add_runner_option(p)
    args = p.parse_args()
    reason = skip_reason(args.runner)
    if reason:
        print(f"skipped: {reason}")
        return None
    return args


def start_text(run, coeffs: list[np.ndarray]) -> str:
    """The run's inputs/scfV.dat with column 1 replaced by ``coeffs`` (per
    potential type, Hartree), in OLCAO's own layout."""
    from pyolcaoml.olcao import OLCAO_STYLE, format_scfv

    scfv = run.start_potential.with_coeffs(coeffs)
    return format_scfv(replace(scfv, style=OLCAO_STYLE))


def iteration_values(path: str) -> list[float]:
    """Column 4 (convergence) of a gs_iter-fb.dat."""
    from pyolcaoml.olcao import read_iterations

    return [float(v) for v in read_iterations(path).convergence]


def iterations_to(values: list[float], tol: float) -> int | None:
    """The 1-based iteration whose convergence value is first below ``tol``
    (None: never)."""
    return next((i + 1 for i, v in enumerate(values) if v < tol), None)


def summarise(
    values: list[float],
    energy: float | None,
    ref_energy: float | None,
    last_iteration: int | None = None,
) -> dict:
    """Iterations to 1e-4 and 1e-6, the first value and |dE| of one run.
    ``last_iteration``: the run's LAST_ITERATION (meta.json's
    ``last_iteration_limit``), where known."""
    from pyolcaoml.olcao.iterations import PRINT_HALF_UNIT

    to_final = iterations_to(values, 1e-6)
    stopped_by_limit = last_iteration is not None and len(values) >= last_iteration
    if (
        to_final is None
        and values
        and values[-1] <= 1e-6 + PRINT_HALF_UNIT
        and not stopped_by_limit
    ):
        # OLCAO stops on its unrounded value: a run (to 1e-6, as bench_scf
        # makes them) whose last printed value is 0.00000100 stopped there
        # because it had converged (stop 40: si8_r0.05_seed74012). At
        # LAST_ITERATION it may as well have stopped on the limit with an
        # unrounded value just above 1e-6: not counted.
        to_final = len(values)
    return {
        "iterations_to_1e-4": iterations_to(values, 1e-4),
        "iterations_to_1e-6": to_final,
        "first_value": values[0] if values else None,
        "abs_dE_hartree": (
            abs(energy - ref_energy)
            if energy is not None and ref_energy is not None
            else None
        ),
        "energy_hartree": energy,
    }


def start_coefficients(run, model, method: str) -> list[np.ndarray]:
    """Predicted coefficients per potential type (olcao.dat order), Hartree."""
    from pyolcaoml.model.workflow import check_run, predict_structure

    plan = check_run(model, run.path)
    pred = predict_structure(model, run.structure, method=method)
    return [pred.coeffs[i] for i in plan.atom_of_type]


def member_coefficients(run, model) -> list[list[np.ndarray]]:
    """Per member of the model's ensemble: its coefficients per potential
    type (olcao.dat order), Hartree. Their mean is the network's start."""
    from pyolcaoml.model.workflow import check_run, compute_descriptors

    plan = check_run(model, run.path)
    x = compute_descriptors(model, run.structure)
    members = model.predict_members_per_atom(run.structure.symbols, x)
    return [[atoms[i] for i in plan.atom_of_type] for atoms in members]


def run_olcao(
    runner: str,
    run,
    scfv_text: str | None,
    work: str,
    kp,
    label: str,
    extra: tuple[str, ...] = (),
) -> dict:
    """One SCF with the run's own inputs (``extra``: more run_olcao.py
    options, e.g. ``--conv``); returns the parsed results."""
    wd = os.path.join(work, label, "work")
    od = os.path.join(work, label, "out")
    os.makedirs(wd)
    shutil.copy(os.path.join(run.path, "olcao.skl"), wd)
    cmd = [sys.executable, runner, wd, od, "--kp", *map(str, kp)]
    cmd += ["--skip-makeinput-from", run.path]
    if scfv_text is not None:
        start = os.path.join(work, label, "start_scfV.dat")
        with open(start, "w") as fh:
            fh.write(scfv_text)
        cmd += ["--initpot", start]
    r = subprocess.run([*cmd, *extra], capture_output=True, text=True)
    meta_path = os.path.join(od, "meta.json")
    if r.returncode != 0 or not os.path.isfile(meta_path):
        raise RuntimeError(f"OLCAO failed for {label}: {r.stderr[-2000:]}")
    with open(meta_path) as fh:
        meta = json.load(fh)
    iter_path = os.path.join(od, "gs_iter-fb.dat")
    if not os.path.isfile(iter_path):  # OLCAO stopped: no log was copied out
        tail = ""
        log = os.path.join(od, "uolcao.log")
        if os.path.isfile(log):
            with open(log, errors="replace") as fh:
                tail = fh.read()[-1000:]
        raise RuntimeError(
            f"OLCAO stopped for {label} without an iteration log "
            f"(status {meta.get('status')!r}): {tail}"
        )
    values = iteration_values(iter_path)
    return {"values": values, "meta": meta, "cpu_s": olcao_cpu_seconds(od)}


def stored_result(run) -> dict:
    """What :func:`run_olcao` returns, from the run's own stored SCF
    (``--reuse-default``: its log, energy, limit, wall and CPU time)."""
    meta = run.meta or {}
    return {
        "values": [float(v) for v in run.history.convergence],
        "meta": {
            "wall_time_scf_s": meta.get("wall_time_scf_s", float("nan")),
            "total_energy_Ha": float(run.history.total_energy[-1]),
            "last_iteration_limit": meta.get("last_iteration_limit"),
        },
        "cpu_s": olcao_cpu_seconds(run.path),
    }


def olcao_cpu_seconds(out_dir: str) -> float | None:
    """User CPU seconds of uOLCAO (the `time` line uolcao.py writes to the
    run's runtime file): less sensitive than wall time to a busy machine."""
    path = os.path.join(out_dir, "runtime")
    if not os.path.isfile(path):
        return None
    with open(path) as fh:
        m = re.search(r"([0-9.]+)user", fh.read())
    return float(m.group(1)) if m else None


def solver_metric(run, sites=None):
    """OLCAO's convergence measure on the run's sites: every atom (default),
    or the atoms ``sites`` in that order (e.g. one per potential type)."""
    from pyolcaoml.model.solver_metric import SolverMetric

    types = np.asarray(run.atom_pot_types) - 1
    sites = np.arange(len(types)) if sites is None else np.asarray(sites)
    ptypes = run.potential_types
    return SolverMetric(
        run.structure.cell,
        run.structure.positions[sites],
        [ptypes[t].alphas for t in types[sites]],
        [ptypes[t].params.covalent_radius for t in types[sites]],
    )


def solver_error(run, coeffs: list[np.ndarray]) -> float:
    """OLCAO's convergence measure of (start - converged), max over sites."""
    types = np.asarray(run.atom_pot_types) - 1
    conv = run.converged_potential.coeffs()
    return solver_metric(run).value([coeffs[t] - conv[t] for t in types])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="curated OLCAO run directories")
    p.add_argument(
        "--starts",
        nargs="+",
        default=list(DEFAULT_STARTS),
        choices=BUILTIN,
        help="built-in starts (default: " + " ".join(DEFAULT_STARTS) + ")",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also start from this model's network (repeatable)",
    )
    p.add_argument("--base-model", help="model for average/ridge/network (bundled)")
    add_runner_option(p)
    p.add_argument(
        "--members",
        action="store_true",
        help="also start from each member of the base model's ensemble alone "
        "(the spread of their counts: the noise of a comparison between models)",
    )
    p.add_argument("--json", metavar="FILE", help="write the table as JSON")
    p.add_argument("--work", help="keep OLCAO's files here (default: temporary)")
    p.add_argument(
        "--reuse-default",
        action="store_true",
        help="default start: use the run's stored log instead of re-running",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="OLCAO runs at once (each on one core; default 1)",
    )
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")

    reason = skip_reason(os.path.abspath(args.runner))
    if reason:
        print(f"bench_scf: skipped: {reason}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"skipped": reason, "rows": []}, fh, indent=1)
        return 0

    from pyolcaoml.model import load_model
    from pyolcaoml.model.workflow import data_path
    from pyolcaoml.olcao import read_run

    models = {"": load_model(args.base_model or data_path("default_model"))}
    for spec in args.model:
        name, _, path = spec.partition("=")
        if not path:
            p.error(f"--model wants NAME=DIR, got {spec!r}")
        models[name] = load_model(path)
    runs_default_here = "default" in args.starts and not args.reuse_default
    for run_dir in args.runs:  # every run checked before OLCAO starts
        run = read_run(run_dir)
        if not _finished(run) and not runs_default_here:
            p.error(
                f"{run_dir}: no SCF history or converged potential "
                "(gs_iter-<basis>.dat, gs_scfV-<basis>.dat): not a "
                "finished OLCAO run (to measure it all the same, run its "
                "default start here: --starts default ..., without "
                "--reuse-default)"
            )
    work = args.work or tempfile.mkdtemp(prefix="bench-scf-")
    os.makedirs(work, exist_ok=True)
    rows = []
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        # every start's prediction first (timed on a quiet machine), each
        # OLCAO run queued on the pool; then the rows in order
        pending = []
        for run_dir in args.runs:
            run = read_run(run_dir)
            finished = _finished(run)
            made = str((run.meta or {}).get("initial_potential", "makeinput"))
            if finished and not made.startswith("makeinput"):
                print(f"warning: {run.name} was not started from OLCAO's default")
            kp = run.kpoints or (2, 2, 2)
            order = list(args.starts)
            if not finished:  # its |dE| is measured against the default start
                order.sort(key=lambda s: s != "default")
            starts = [(s, "", s) for s in order]
            starts += [(name, name, "network") for name in models if name]
            t0 = time.perf_counter()
            members = member_coefficients(run, models[""]) if args.members else []
            # one descriptor pass and every member: each member's row gets it
            t_members = time.perf_counter() - t0
            starts += [(f"member{m + 1}", "", m) for m in range(len(members))]
            for label, model_key, method in starts:
                t_pred = 0.0
                text = None
                coeffs = None
                if label == "default":
                    coeffs = run.start_potential.coeffs()
                else:
                    t0 = time.perf_counter()
                    if isinstance(method, int):  # one member, computed above
                        coeffs, t_pred = members[method], t_members
                    else:
                        coeffs = start_coefficients(run, models[model_key], method)
                    text = start_text(run, coeffs)
                    t_pred += time.perf_counter() - t0
                err = solver_error(run, coeffs) if finished else None
                if label == "default" and args.reuse_default:
                    task = (stored_result, run)
                else:
                    tag = f"{run.name}-{label}"
                    task = (run_olcao, args.runner, run, text, work, kp, tag)
                pending.append((run, label, err, t_pred, task))
        jobs = [pool.submit(*task) for *_, task in pending]
        ref_energy: dict[str, float | None] = {}
        for (run, label, err, t_pred, _), job in zip(pending, jobs, strict=True):
            res = job.result()
            if run.path not in ref_energy:
                ref_energy[run.path] = (
                    float(run.history.total_energy[-1])
                    if _finished(run)
                    else res["meta"].get("total_energy_Ha")  # the default start
                )
            wall = float(res["meta"]["wall_time_scf_s"])
            row = {
                "run": run.name,
                "atoms": run.n_atoms,
                "start": label,
                **summarise(
                    res["values"],
                    res["meta"].get("total_energy_Ha"),
                    ref_energy[run.path],
                    res["meta"].get("last_iteration_limit"),
                ),
                "solver_error_hartree": err,
                "olcao_wall_s": wall,
                "olcao_cpu_s": res["cpu_s"],
                "predict_s": t_pred,
                "total_s": wall + t_pred,
                "convergence": res["values"],
            }
            rows.append(row)
            print_row(row, header=len(rows) == 1)
            if args.json:  # after every run: a long benchmark cut short
                write_json(args.json, rows)  # keeps what it measured
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _finished(run) -> bool:
    """The run directory holds a finished SCF (its log and potential)."""
    return run.history is not None and run.converged_potential is not None


def write_json(path: str, rows: list[dict]) -> None:
    """The rows so far as JSON, replacing ``path`` atomically."""
    from pyolcaoml._atomic import write_bytes_atomic

    table = {"rows": rows, "command": " ".join(sys.argv)}
    write_bytes_atomic(path, json.dumps(table, indent=1).encode())


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_row(row: dict, header: bool = False) -> None:
    if header:
        print(
            "| run | atoms | start | it->1e-4 | it->1e-6 | first value | "
            "solver error (Ha) | abs dE (Ha) | OLCAO s | OLCAO cpu s | predict s | "
            "total s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {row['run']} | {row['atoms']} | {row['start']} | "
        f"{_fmt(row['iterations_to_1e-4'], 'd')} | "
        f"{_fmt(row['iterations_to_1e-6'], 'd')} | "
        f"{_fmt(row['first_value'], '.3g')} | "
        f"{_fmt(row['solver_error_hartree'], '.3g')} | "
        f"{_fmt(row['abs_dE_hartree'], '.1e')} | {row['olcao_wall_s']:.1f} | "
        f"{_fmt(row['olcao_cpu_s'], '.1f')} | "
        f"{row['predict_s']:.2f} | {row['total_s']:.1f} |",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
