#!/usr/bin/env python3
"""What a model's sigma says about OLCAO's iterations from its start
(docs/uncertainty.md, "sigma and OLCAO's iterations").

Usage::

    python benchmarks/sigma_vs_olcao.py --model M BENCH.json[:START]... [--match P...]

For every cell of the stored ``bench_scf.py`` results (the rows of START,
``network`` unless given, which must be MODEL's own start; the run
directory is found under the JSON's folder), the model predicts the cell
again and reports the mean and largest sigma over its atoms (predicted
RMS V(r) error, mHa) beside the real RMS V(r) error against OLCAO's
converged potential, the first OLCAO value and the iterations to 1e-4.
Printed: one row per cell, then the rank correlations of mean sigma with
the three. The cells must be ones the model never trained on.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def find_run(root: str, name: str) -> str:
    for dirpath, dirnames, _ in os.walk(root):
        if name in dirnames:
            return os.path.join(dirpath, name)
    raise FileNotFoundError(f"no run directory {name} under {root}")


def bench_rows(path: str) -> list[dict]:
    """The rows of a stored ``bench_scf.py`` result (older files are a bare
    list of rows)."""
    with open(path) as fh:
        rows = json.load(fh)
    return rows["rows"] if isinstance(rows, dict) else rows


def bench_cells(model, benches: list[str], match: tuple[str, ...] = ("",)):
    """For each row of the stored benches (``BENCH.json[:START]``; START's
    rows, ``network`` unless given) whose run name starts with one of
    ``match``: (row, run, the model's prediction, its RMS V(r) error in
    Hartree against OLCAO's converged potential)."""
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.workflow import predict_structure
    from pyolcaoml.olcao import read_run

    radial = RadialMetric()
    for item in benches:
        path, _, start = item.partition(":")
        for r in bench_rows(path):
            if r["start"] != (start or "network") or not r["run"].startswith(match):
                continue
            run = read_run(find_run(os.path.dirname(os.path.abspath(path)), r["run"]))
            pred = predict_structure(model, run.structure, method="network")
            conv = run.converged_potential.coeffs()
            types = np.asarray(run.atom_pot_types) - 1
            per_atom = [
                radial.rms_per_atom(
                    np.asarray(pred.coeffs[a])[None],
                    np.asarray(conv[t])[None],
                    run.potential_types[t].alphas,
                )[0]
                for a, t in enumerate(types)
            ]
            yield r, run, pred, float(np.sqrt(np.mean(np.square(per_atom))))


def main() -> int:
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.uncertainty import spearman

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("benches", nargs="+", metavar="BENCH.json[:START]")
    p.add_argument("--model", required=True)
    p.add_argument(
        "--match", nargs="+", default=[""], help="only runs whose names start so"
    )
    args = p.parse_args()
    model = load_model(args.model)
    table = []
    print("| cell | mean sigma | max sigma | RMS V | first value | iterations |")
    print("|---|---|---|---|---|---|")
    for r, _, pred, err in bench_cells(model, args.benches, tuple(args.match)):
        sigma = np.asarray(pred.sigma, dtype=float)
        row = (
            sigma.mean(),
            sigma.max(),
            err,
            r["first_value"],
            r["iterations_to_1e-4"],
        )
        table.append(row)
        print(
            f"| {r['run']} | {1e3 * row[0]:.3f} | {1e3 * row[1]:.3f} | "
            f"{1e3 * err:.3f} | {row[3]:.3g} | {row[4] or '–'} |",
            flush=True,
        )
    a = np.array(table, dtype=float)
    a[np.isnan(a[:, 4]), 4] = np.inf  # never reached 1e-4: last in rank
    names = ("RMS V", "first value", "iterations")
    print(f"\n{len(a)} cells; rank correlation of mean sigma with:")
    print(
        ", ".join(
            f"{n} {spearman(a[:, 0], a[:, k]):.2f}"
            for n, k in zip(names, (2, 3, 4), strict=True)
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
