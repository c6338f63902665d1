#!/usr/bin/env python3
"""Is a ridge fitted only on rattled 8-atom Si cells better on rattled cells
than one fitted on everything (docs/model.md, "Stop 38")? Training cells
only.

Usage (the Si model's training set, as ``data/make_default_model.py
--dataset DATA.h5`` converts it)::

    python benchmarks/si_rattled_specialist_ridge.py DATA.h5 [--seed 7]

A seeded quarter of the rattled 8-atom cells (``si8_r*``) is held apart.
Ridge in the V(r) metric (the package's ``fit_ridge``) is fitted once on
all the other structures and once on the other rattled and strained
8-atom cells only (``si8_r*``, ``si8_s*``). Printed: RMS V(r) in mHa on
the held-apart atoms, overall and by rattle amplitude σ (Å), beside the
rattled training cells' average atom.
"""

from __future__ import annotations

import argparse

import numpy as np
from rattled_split import held_apart_rattled, rattled_cells, sigma_of


def main() -> int:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    metric = RadialMetric()
    rattled = rattled_cells(ds.names)
    test = held_apart_rattled(ds.names, args.seed)
    every = sorted(set(ds.names) - set(test))
    own = sorted(set(rattled) - set(test)) + [
        n for n in ds.names if n.startswith("si8_s")
    ]
    ed = ds.elements["Si"]
    gram = metric.gram(ed.alphas)
    rs = ds.element_rows("Si", ds.structure_ids(test))
    true = ed.coeffs[rs]
    cell = ds.structure_index[ed.atom_index[rs]]
    sig = np.array([sigma_of(ds.names[c]) for c in cell])
    print(
        f"{len(test)} rattled cells held apart; ridge on {len(every)} "
        f"structures (all) or {len(own)} (rattled and strained 8-atom only)"
    )
    levels = sorted(set(sig))
    print(
        "| training set | strength | all | "
        + " | ".join(f"σ {s:g}" for s in levels)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(levels))
    for label, train in (("all", every), ("rattled only", own)):
        rt = ds.element_rows("Si", ds.structure_ids(train))
        fit = fit_ridge(
            ds.descriptors[ed.atom_index[rt]],
            ed.coeffs[rt],
            ds.structure_index[ed.atom_index[rt]],
            gram,
        )
        pred = fit.predict(ds.descriptors[ed.atom_index[rs]])
        cells = [f"{1e3 * metric.rms(pred, true, ed.alphas):.3f}"]
        for s in levels:
            m = sig == s
            cells.append(f"{1e3 * metric.rms(pred[m], true[m], ed.alphas):.3f}")
        print(f"| {label} | {fit.strength:.3g} | " + " | ".join(cells) + " |")
    avg = ed.coeffs[ds.element_rows("Si", ds.structure_ids(own))].mean(axis=0)
    rms = 1e3 * metric.rms(np.tile(avg, (len(rs), 1)), true, ed.alphas)
    print(f"average rattled training atom: {rms:.3f} mHa")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
