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

With ``--splits``, e is instead cut in two, in one or both of two ways
(docs/model.md, "Stop 46"), and each part is run alone:

- ``response``: OLCAO first runs one iteration from the model's start.
  With its first output potential y0 (from the mixed potential it writes,
  x1 = x0 + f (y0 - x0), f = olcao.dat's RELAXATION_FACTOR), J e = y0 - x*
  is the error of OLCAO's first output. The part of e along J e (least
  squares in the solver measure's inner product: e_J = J e / lambda,
  lambda = <Je, Je> / <Je, e>) is the part that OLCAO's response
  amplifies; the rest, e - e_J, is what it hardly answers.
- ``waves``: the part of e that the cell's longest waves carry (fitted per
  coefficient over each element's atoms: the constant and cos, sin of
  G . r for the reciprocal vectors G of the shortest length), and the rest
  (the shorter, atom-to-atom waves). Geometry only.

Every potential type must be one atom (the protocol's runs are).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_scf  # noqa: E402


def scaled_errors(err, scales) -> dict[str, list[np.ndarray]]:
    """The model's whole error ``err`` times each of ``scales``."""
    return {f"all x {s:g}": [s * e for e in err] for s in scales}


def element_means(err, symbols) -> list[np.ndarray]:
    """Per type, the mean of ``err`` over the cell's types of its element
    (``symbols``, per type): the part of the error that is a level per
    element; ``err`` less it is the atom-to-atom part."""
    mean = {
        el: np.mean([e for e, s in zip(err, symbols, strict=True) if s == el], axis=0)
        for el in set(symbols)
    }
    return [mean[s] for s in symbols]


def error_parts(err, symbols, alphas) -> dict[str, list[np.ndarray]]:
    """The parts of the per-type error ``err`` that are added back."""
    types = range(len(err))
    means = element_means(err, symbols)
    return {
        "all (the model's start)": list(err),
        "C sites only": [err[t] * (symbols[t] == "C") for t in types],
        "Si sites only": [err[t] * (symbols[t] == "Si") for t in types],
        "alpha < 10 only": [np.where(alphas[t] < 10, err[t], 0.0) for t in types],
        "cell mean per element": means,
        "atom to atom": [err[t] - means[t] for t in types],
    }


def lowest_plane_waves(cell: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n, m): the constant and cos, sin of G . r at each position for the
    reciprocal vectors G of the cell's shortest length (one of each pair
    +-G). ``cell`` rows and ``positions`` in the same length unit."""
    rec = 2.0 * np.pi * np.linalg.inv(np.asarray(cell, dtype=np.float64)).T
    vectors = [
        np.asarray(m) @ rec for m in itertools.product(range(-1, 2), repeat=3) if any(m)
    ]
    shortest = min(float(np.linalg.norm(g)) for g in vectors)
    columns = [np.ones(len(positions))]
    kept: list[np.ndarray] = []
    for g in vectors:
        if np.linalg.norm(g) > shortest * (1 + 1e-9):
            continue
        if any(np.allclose(g, -h) for h in kept):
            continue
        kept.append(g)
        phase = np.asarray(positions, dtype=np.float64) @ g
        columns += [np.cos(phase), np.sin(phase)]
    return np.stack(columns, axis=1)


def wave_parts(err, symbols, waves: np.ndarray) -> dict[str, list[np.ndarray]]:
    """``err`` (one array per site) split into what the columns of ``waves``
    (n sites x m) carry, fitted by least squares over each element's sites
    coefficient by coefficient, and the rest."""
    long: list[np.ndarray | None] = [None] * len(err)
    for el in sorted(set(symbols)):
        idx = [t for t, s in enumerate(symbols) if s == el]
        block = np.array([err[t] for t in idx])
        coef, *_ = np.linalg.lstsq(waves[idx], block, rcond=None)
        for row, t in zip(waves[idx] @ coef, idx, strict=True):
            long[t] = row
    return {
        "longest waves of the cell": long,
        "shorter waves (the rest)": [e - g for e, g in zip(err, long, strict=True)],
    }


def response_parts(
    err, response, gram: np.ndarray
) -> tuple[float, dict[str, list[np.ndarray]]]:
    """``err`` (e, one array per site) split into its part along
    ``response`` (J e, the error of OLCAO's first output), least squares in
    the inner product ``gram`` (the solver measure's K, flattened site
    order), and the rest. Returns (lambda, parts); J e = lambda e_J."""
    e = np.concatenate(err)
    je = np.concatenate(response)
    along = float(je @ gram @ e)
    if not np.isfinite(along) or abs(along) <= 1e-300:
        raise ValueError("OLCAO's first output error is orthogonal to the start's")
    lam = float(je @ gram @ je) / along
    cuts = np.cumsum([len(a) for a in err])[:-1]
    fast = np.split(je / lam, cuts)
    return lam, {
        "along OLCAO's first response": fast,
        "the rest (hardly answered)": [a - b for a, b in zip(err, fast, strict=True)],
    }


#: to 1e-4, at most 40 iterations: enough to count iterations to 1e-4
TO_1E4 = ("--conv", "1e-4", "--maxiter", "40")
#: OLCAO's first iteration only (its mixed potential gives the first output)
FIRST_ONLY = ("--maxiter", "1")


@dataclass
class ModelError:
    """A model's start error on one run, per potential type (olcao.dat
    order): e = network start - OLCAO's converged potential (Hartree)."""

    err: list[np.ndarray]
    conv: list[np.ndarray]
    symbols: list[str]
    alphas: list[np.ndarray]
    atom_of_type: np.ndarray  # the atom of each type


def model_error(run, model) -> ModelError:
    """The model's network start on ``run`` less the run's converged potential."""
    from pyolcaoml.model.workflow import check_run

    plan = check_run(model, run.path)
    pred = bench_scf.start_coefficients(run, model, "network")
    conv = [np.asarray(c) for c in run.converged_potential.coeffs()]
    types = range(len(conv))
    return ModelError(
        err=[np.asarray(pred[t]) - conv[t] for t in types],
        conv=conv,
        symbols=[run.structure.symbols[plan.atom_of_type[t]] for t in types],
        alphas=[np.asarray(run.potential_types[t].alphas) for t in types],
        atom_of_type=plan.atom_of_type,
    )


def model_wave_parts(run, me: ModelError) -> dict[str, list[np.ndarray]]:
    """:func:`wave_parts` of the model's error on the run's own cell."""
    positions = run.structure.positions[me.atom_of_type]
    waves = lowest_plane_waves(run.structure.cell, positions)
    return wave_parts(me.err, me.symbols, waves)


def run_part(runner: str, run, conv, part, work: str, label: str):
    """OLCAO from the converged potential plus ``part`` (per type), to 1e-4:
    (the start's coefficients, the convergence values)."""
    coeffs = [c + e for c, e in zip(conv, part, strict=True)]
    text = bench_scf.start_text(run, coeffs)
    values = bench_scf.run_olcao(runner, run, text, work, run.kpoints, label, TO_1E4)
    return coeffs, values["values"]


def first_response(runner: str, run, err, conv, work: str) -> list[np.ndarray]:
    """J e per potential type: OLCAO's first output potential from the
    model's start x0 = x* + e, less x*."""
    from pyolcaoml.olcao.scfv import read_scfv

    start = [c + e for c, e in zip(conv, err, strict=True)]
    text = bench_scf.start_text(run, start)
    bench_scf.run_olcao(runner, run, text, work, run.kpoints, "first", FIRST_ONLY)
    mixed = read_scfv(os.path.join(work, "first", "out", "gs_scfV-fb.dat")).coeffs()
    f = float(run.settings["relaxation_factor"])
    return [
        (np.asarray(m) - s) / f + s - c
        for m, s, c in zip(mixed, start, conv, strict=True)
    ]


def main() -> int:
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--model", default="sicam")
    p.add_argument("--json")
    p.add_argument("--scales", type=float, nargs="+")
    p.add_argument("--splits", nargs="+", choices=("response", "waves"))
    p.add_argument("--jobs", type=int, default=1, help="OLCAO runs at a time")
    args = bench_scf.parse_or_skip(p)
    if args is None:
        return 0
    if args.scales and args.splits:
        p.error("--scales and --splits are two different experiments: give one")
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")
    model = load_model(args.model)
    rows = []
    print("| cell | start | first value | iterations to 1e-4 | solver error (Ha) |")
    print("|---|---|---|---|---|")
    for run_dir in args.runs:
        run = read_run(run_dir)
        me = model_error(run, model)
        err, conv, symbols = me.err, me.conv, me.symbols
        if args.splits and len(conv) != run.n_atoms:
            p.error(f"{run_dir}: --splits needs one potential type per atom")
        work = tempfile.mkdtemp(prefix="olcaoml-parts-")
        try:
            lam = None
            if args.scales:
                parts = scaled_errors(err, args.scales)
            elif args.splits:
                parts = {"all (the model's start)": list(err)}
                if "response" in args.splits:
                    metric = bench_scf.solver_metric(run, me.atom_of_type)
                    response = first_response(args.runner, run, err, conv, work)
                    lam, more = response_parts(err, response, metric.gram())
                    print(f"{run.name}: J e = lambda e_J with lambda = {lam:.3g}")
                    parts.update(more)
                if "waves" in args.splits:
                    parts.update(model_wave_parts(run, me))
            else:
                parts = error_parts(err, symbols, me.alphas)

            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                jobs = [
                    pool.submit(
                        run_part, args.runner, run, conv, part, work, f"start{i}"
                    )
                    for i, part in enumerate(parts.values())
                ]
                results = [
                    (label, *job.result())
                    for label, job in zip(parts, jobs, strict=True)
                ]
            for label, coeffs, values in results:
                first = values[0]
                n = bench_scf.summarise(values, None, None)["iterations_to_1e-4"]
                row = {
                    "run": run.name,
                    "start": label,
                    "first_value": first,
                    "iterations_to_1e-4": n,
                    "solver_error_hartree": bench_scf.solver_error(run, coeffs),
                    "convergence": values,
                }
                if lam is not None:
                    row["response_lambda"] = lam
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
