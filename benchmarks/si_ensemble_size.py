"""Would a larger ensemble lower the default model's error? (stop 42 spike)

For each run directory given (OLCAO runs with a converged potential, e.g.
the spent twentieth and twenty-first fresh Si sets), the RMS V(r) error per
cell (the model's own metric, mHa) of each ensemble member alone and of the
mean of k members (averaged over every subset of size k, k = 1..M). Each
cell's squared error is fitted as b^2 + v/k: b is what no number of members
removes, and the fit gives the error of 10 members and of infinitely many.

    python benchmarks/si_ensemble_size.py RUN_DIR... [--model default]
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

from pyolcaoml.model import load_model
from pyolcaoml.olcao import read_run


def subset_means(members: np.ndarray, error) -> np.ndarray:
    """Error of the mean of k members, averaged over all subsets, k=1..M
    (``error``: prediction -> RMS V(r) over the cell's atoms)."""
    m = members.shape[0]
    return np.array(
        [
            np.mean(
                [
                    error(members[list(c)].mean(0))
                    for c in itertools.combinations(range(m), k)
                ]
            )
            for k in range(1, m + 1)
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    model = load_model(args.model)
    calc = model.descriptor_calculator()
    alphas = model.elements["Si"].alphas
    curves, fits = [], []
    for d in args.runs:
        run = read_run(d)
        if not run.converged:
            print(f"{os.path.basename(d)}: not converged, left out")
            continue
        target = np.asarray(run.converged_coeffs_per_atom)
        members = np.asarray(model.predict_members("Si", calc.compute(run.structure)))

        def error(pred, target=target):
            return model.metric.rms(pred, target, alphas)

        single = [error(p) for p in members]
        curve = subset_means(members, error)
        k = np.arange(1, len(curve) + 1)
        coef, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(k), 1 / k]), curve**2)
        b2, v = max(coef[0], 0.0), max(coef[1], 0.0)
        fits.append((np.sqrt(b2 + v / 10), np.sqrt(b2)))
        curves.append(curve)
        print(
            f"{os.path.basename(d):30s} members "
            + " ".join(f"{1e3 * s:.3f}" for s in single)
            + " | mean of k members "
            + " ".join(f"{1e3 * c:.3f}" for c in curve)
            + f" | fit: 10 {1e3 * fits[-1][0]:.3f}, all {1e3 * fits[-1][1]:.3f}"
        )
    mean = np.mean(curves, axis=0)
    ten, inf = np.mean(fits, axis=0)
    print(
        f"{len(curves)} cells, mean RMS V(r) (mHa): k=1..{len(mean)} "
        + " ".join(f"{1e3 * c:.3f}" for c in mean)
        + f"; fitted: k=10 {1e3 * ten:.3f}, k=inf {1e3 * inf:.3f}"
    )


if __name__ == "__main__":
    main()
