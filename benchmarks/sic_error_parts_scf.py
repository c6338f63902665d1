#!/usr/bin/env python3
"""Which part of a model's error sets OLCAO's first value and iterations on
a SiC cell (docs/model.md, "Stop 37")? Needs OLCAO; spent cells only.

Usage (from the repository root, OLCAO's environment sourced)::

    python benchmarks/sic_error_parts_scf.py RUN_DIR ... [--model DIR]
        [--json FILE] [--scales S ...]

For each run, the model's network start minus OLCAO's converged potential
(per potential type, Hartree) is the error e. OLCAO is run (its own
inputs, to 1e-4, at most 40 iterations) from the converged potential
plus: all of e (the model's own start), e on the C sites only, on the Si
sites only, on the terms with alpha < 10 Bohr^-2 only, the mean of e over
each element's sites (the part common to the cell) and e minus that mean
(atom to atom). Printed per start: OLCAO's first-iteration value,
iterations to 1e-4 and our solver-aligned error of the start.

With ``--scales``, the starts are instead the converged potential plus
s times all of e for each s given (how the iterations depend on the size
of an error of the model's own shape).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_scf  # noqa: E402


def scaled_errors(err, scales) -> dict[str, list[np.ndarray]]:
    """The model's whole error ``err`` times each of ``scales``."""
    return {f"all x {s:g}": [s * e for e in err] for s in scales}


def error_parts(err, symbols, alphas) -> dict[str, list[np.ndarray]]:
    """The parts of the per-type error ``err`` that are added back."""
    types = range(len(err))
    mean = {
        el: np.mean([err[t] for t in types if symbols[t] == el], axis=0)
        for el in set(symbols)
    }
    return {
        "all (the model's start)": list(err),
        "C sites only": [err[t] * (symbols[t] == "C") for t in types],
        "Si sites only": [err[t] * (symbols[t] == "Si") for t in types],
        "alpha < 10 only": [np.where(alphas[t] < 10, err[t], 0.0) for t in types],
        "cell mean per element": [mean[symbols[t]] for t in types],
        "atom to atom": [err[t] - mean[symbols[t]] for t in types],
    }


#: to 1e-4, at most 40 iterations: enough to count iterations to 1e-4
TO_1E4 = ("--conv", "1e-4", "--maxiter", "40")


def main() -> int:
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.workflow import check_run
    from pyolcaoml.olcao import read_run

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--model", default="sicam")
    p.add_argument("--json")
    p.add_argument("--scales", type=float, nargs="+")
    bench_scf.add_runner_option(p)
    args = p.parse_args()
    reason = bench_scf.skip_reason(args.runner)
    if reason:
        print(f"skipped: {reason}")
        return 0
    model = load_model(args.model)
    rows = []
    print("| cell | start | first value | iterations to 1e-4 | solver error (Ha) |")
    print("|---|---|---|---|---|")
    for run_dir in args.runs:
        run = read_run(run_dir)
        plan = check_run(model, run.path)
        pred = bench_scf.start_coefficients(run, model, "network")
        conv = [np.asarray(c) for c in run.converged_potential.coeffs()]
        types = range(len(conv))
        symbols = [run.structure.symbols[plan.atom_of_type[t]] for t in types]
        alphas = [np.asarray(run.potential_types[t].alphas) for t in types]
        err = [np.asarray(pred[t]) - conv[t] for t in types]
        work = tempfile.mkdtemp(prefix="olcaoml-parts-")
        try:
            parts = (
                scaled_errors(err, args.scales)
                if args.scales
                else error_parts(err, symbols, alphas)
            )
            for i, (label, part) in enumerate(parts.items()):
                coeffs = [conv[t] + part[t] for t in types]
                text = bench_scf.start_text(run, coeffs)
                values = bench_scf.run_olcao(
                    args.runner, run, text, work, run.kpoints, f"start{i}", TO_1E4
                )["values"]
                first = values[0]
                n = next((k + 1 for k, v in enumerate(values) if v < 1e-4), None)
                row = {
                    "run": run.name,
                    "start": label,
                    "first_value": first,
                    "iterations_to_1e-4": n,
                    "solver_error_hartree": bench_scf.solver_error(run, coeffs),
                }
                rows.append(row)
                print(
                    f"| {run.name} | {label} | {first:.3g} | {n or '–'} | "
                    f"{row['solver_error_hartree']:.3g} |",
                    flush=True,
                )
                if args.json:
                    with open(args.json, "w") as fh:
                        json.dump(rows, fh, indent=1)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
