#!/usr/bin/env python3
"""Does another descriptor help on amorphous SiC (docs/model.md, "Stop 36")?

Usage (from the repository root)::

    python benchmarks/sicam_descriptors.py [--fraction 0.25] [--seed 7]

The amorphous SiC runs that ``data/make_default_model.py --sicam`` trains
on are converted with each descriptor variant below (a temporary folder;
~30 s each), and ridge in the V(r) metric (the package's ``fit_ridge``,
strength by grouped cross-validation) is fitted per element on the cells
that are not held apart and tested on a seeded random part of them (the
split of benchmarks/sicam_settings.py). On these cells the networks of
``sicam`` are within 1 % of their ridge for C, so ridge is the measure.
RMS V(r) in mHa.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))

import make_default_model as mdm  # noqa: E402
from sicam_settings import held_apart, ridge_held_apart  # noqa: E402


def _args(
    twojmax: int = 8,
    c_radius: float = 1.609,
    hops: int | None = 1,
    scales: str = "0.75,1.0,1.5",
) -> list[str]:
    """convert's descriptor arguments: the sic descriptor with one change;
    ``hops`` None: no neighbour mean."""
    out = ["--twojmax", str(twojmax), "--scales", scales, "--chem"]
    out += ["--radius", "Si=2.35", "--radius", f"C={c_radius}"]
    if hops is not None:
        out += ["--neighbour-mean", "2.5,2.7", "--neighbour-hops", str(hops)]
    return out


#: (label, convert arguments); the first is the shipped sic/sicam descriptor
VARIANTS = [
    ("shipped: 2J 8, C 1.609 Å, one hop", _args()),
    ("no neighbour mean", _args(hops=None)),
    ("two hops", _args(hops=2)),
    ("C radius 1.3 Å", _args(c_radius=1.3)),
    ("C radius 2.0 Å", _args(c_radius=2.0)),
    ("C radius 2.35 Å (as Si)", _args(c_radius=2.35)),
    ("C radius 2.0 Å, two hops", _args(c_radius=2.0, hops=2)),
    ("2J 6", _args(twojmax=6)),
    ("four scales (0.6 more)", _args(scales="0.6,0.75,1.0,1.5")),
]


def main() -> int:
    from pyolcaoml.cli import main as olcaoml
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    runs = mdm.sicam_run_dirs()
    metric = RadialMetric()
    print(f"{len(runs)} amorphous SiC runs")
    print("| descriptor | K | C | Si |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in VARIANTS:
            data = os.path.join(tmp, "d.h5")
            argv = ["convert", *runs, "-o", data, "--force", "--quiet"]
            argv += ["--include-unconverged", mdm.MAX_FINAL_CONVERGENCE, *settings]
            if olcaoml(argv):
                return 1
            ds = load_dataset(data)
            pool, test = held_apart(ds.names, args.fraction, args.seed)
            train = sorted(set(pool) - set(test))
            cells = []
            for el in ("C", "Si"):
                pred, true, _ = ridge_held_apart(ds, metric, el, train, test)
                rms = metric.rms(pred, true, ds.elements[el].alphas)
                cells.append(f"{1e3 * rms:.2f}")
            k = ds.descriptors.shape[1]
            print(f"| {label} | {k} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
