#!/usr/bin/env python3
"""How much would more amorphous SiC runs help (docs/model.md, "Stop 37")?
Measured on the amorphous SiC model's *training* cells only.

Usage (the dataset that ``data/make_default_model.py --sicam --dataset
DATA.h5`` converts)::

    python benchmarks/sicam_learning_curve.py DATA.h5 [--fraction 0.25]
        [--seed 7] [--repeats 3]

The split of benchmarks/sicam_settings.py (a seeded random ``--fraction``
of the amorphous training cells held apart as a test) is kept; ridge in
the V(r) metric (the package's ``fit_ridge``, strength by grouped
cross-validation) is fitted per element on random subsets of a quarter,
a half, three quarters and all of the other cells (``--repeats`` subsets
each) and tested on the held-apart atoms: the mean and spread of the RMS
V(r) in mHa, and the exponent b of error ∝ N^b between the smallest and
the full set.

Then the full fit's error on the held-apart atoms is split, per element,
into each cell's mean coefficient error (the part common to the cell's
atoms) and the rest (atom to atom), and the common part is averaged over
the cells of one composition (what a composition feature could remove).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))

from sicam_settings import held_apart, ridge_held_apart  # noqa: E402

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def composition_of(name: str) -> str:
    """The composition tag of an amorphous SiC cell (make_sic_runs.py)."""
    for tag in ("si10c6", "si6c10"):
        if tag in name:
            return tag
    return "si8c8"


def main() -> int:
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    metric = RadialMetric()
    pool, test = held_apart(ds.names, args.fraction, args.seed)
    rest = sorted(set(pool) - set(test))
    elements = [el for el in ("C", "Si") if el in ds.elements]
    print(f"{len(rest)} training cells, {len(test)} held apart")
    print("| training cells | " + " | ".join(elements) + " |")
    print("|---|" + "---|" * len(elements))
    curve: dict[str, list[float]] = {el: [] for el in elements}
    for frac in FRACTIONS:
        n = int(round(frac * len(rest)))
        repeats = 1 if n == len(rest) else args.repeats
        rms: dict[str, list[float]] = {el: [] for el in elements}
        for r in range(repeats):
            rng = np.random.default_rng(100 + r)
            train = sorted(rng.choice(rest, size=n, replace=False))
            for el in elements:
                pred, true, _ = ridge_held_apart(ds, metric, el, train, test)
                alphas = ds.elements[el].alphas
                rms[el].append(1e3 * metric.rms(pred, true, alphas))
        cells = []
        for el in elements:
            curve[el].append(float(np.mean(rms[el])))
            spread = f" ± {np.std(rms[el]):.2f}" if repeats > 1 else ""
            cells.append(f"{np.mean(rms[el]):.2f}{spread}")
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    n0, n1 = round(FRACTIONS[0] * len(rest)), len(rest)
    for el in elements:
        b = np.log(curve[el][-1] / curve[el][0]) / np.log(n1 / n0)
        print(f"{el}: error ∝ N^{b:.3f}")
    print("| element | total | cell-common | atom-to-atom | by composition |")
    print("|---|---|---|---|---|")
    for el in elements:
        pred, true, cell = ridge_held_apart(ds, metric, el, rest, test)
        alphas = ds.elements[el].alphas
        err = pred - true
        common = np.zeros_like(err)
        by_comp: dict[str, list[int]] = {}
        for c in np.unique(cell):
            common[cell == c] = err[cell == c].mean(axis=0)
            by_comp.setdefault(composition_of(ds.names[c]), []).append(c)
        parts = []
        for tag, cs in sorted(by_comp.items()):
            sel = np.isin(cell, cs)
            mean = err[sel].mean(axis=0)
            v = 1e3 * metric.rms(true[sel] + mean, true[sel], alphas)
            parts.append(f"{tag} {v:.2f} ({len(cs)})")
        print(
            f"| {el} | {1e3 * metric.rms(pred, true, alphas):.2f} | "
            f"{1e3 * metric.rms(true + common, true, alphas):.2f} | "
            f"{1e3 * metric.rms(true + err - common, true, alphas):.2f} | "
            + ", ".join(parts)
            + " |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
