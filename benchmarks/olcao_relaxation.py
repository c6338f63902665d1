#!/usr/bin/env python3
"""OLCAO's iterations to 1e-4 against its mixing factor, from OLCAO's default
start and from a model's start (needs OLCAO; not a test).

Usage::

    source $HOME/olcao-work/olcao-env.sh
    python benchmarks/olcao_relaxation.py RUN_DIR... --model default \\
        --factors 0.2 0.4 0.7 [--starts default network] [--json out.json]

OLCAO mixes the output and input potentials of each iteration by Anderson's
method (potentialUpdate.F90) with the ``RELAXATION_FACTOR`` of olcao.dat
(makeinput writes 0.2). A start much closer to self-consistency might bear
a larger factor. For each run directory and factor, the run's inputs are
copied with only that number changed (and, for the model's start, only
inputs/scfV.dat replaced), and OLCAO runs to 1e-4 (at most 60
iterations). Printed per run: iterations to 1e-4 and the first value; "–"
where OLCAO did not reach 1e-4 or stopped. Without OLCAO it prints why and
exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_scf  # noqa: E402

TO_1E4 = ("--conv", "1e-4", "--maxiter", "60")


def with_factor(run_dir: str, factor: float, into: str) -> str:
    """A copy of ``run_dir`` whose olcao.dat has RELAXATION_FACTOR ``factor``."""
    copy = os.path.join(into, os.path.basename(os.path.normpath(run_dir)))
    shutil.copytree(run_dir, copy)
    from pyolcaoml.olcao.olcao_dat import edit_setting

    dat = os.path.join(copy, "inputs", "olcao.dat")
    edit_setting(dat, "RELAXATION_FACTOR", lambda _: f"{factor}")
    return copy


def main() -> int:
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--model", default="default")
    p.add_argument("--factors", type=float, nargs="+", default=[0.2, 0.4, 0.7])
    p.add_argument("--starts", nargs="+", default=["default", "network"])
    p.add_argument("--json")
    args = bench_scf.parse_or_skip(p)
    if args is None:
        return 0
    model = load_model(args.model)
    rows = []
    print("| cell | start | relaxation factor | iterations to 1e-4 | first value |")
    print("|---|---|---|---|---|")
    for run_dir in args.runs:
        for factor in args.factors:
            work = tempfile.mkdtemp(prefix="olcaoml-relax-")
            try:
                run = read_run(with_factor(run_dir, factor, work))
                for start in args.starts:
                    text = None
                    if start != "default":
                        coeffs = bench_scf.start_coefficients(run, model, start)
                        text = bench_scf.start_text(run, coeffs)
                    row = {"run": run.name, "start": start, "factor": factor}
                    try:
                        values = bench_scf.run_olcao(
                            args.runner, run, text, work, run.kpoints, start, TO_1E4
                        )["values"]
                    except RuntimeError as exc:  # OLCAO stopped
                        row.update(error=str(exc)[-300:], first_value=None)
                        values = []
                    else:
                        row["first_value"] = values[0] if values else None
                    row["iterations_to_1e-4"] = next(
                        (k + 1 for k, v in enumerate(values) if v < 1e-4), None
                    )
                    rows.append(row)
                    first = row["first_value"]
                    print(
                        f"| {run.name} | {start} | {factor:g} | "
                        f"{row['iterations_to_1e-4'] or '–'} | "
                        f"{'stopped' if first is None else f'{first:.3g}'} |",
                        flush=True,
                    )
                    if args.json:
                        bench_scf.write_json(args.json, rows)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
