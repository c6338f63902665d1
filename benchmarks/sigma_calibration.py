#!/usr/bin/env python3
"""Where a model's sigma calibration comes from (not a test).

Re-forms the out-of-bag (error, spread) pairs that training fitted sigma's
``scale`` and ``floor`` on, with the function training uses
(pyolcaoml.model.uncertainty.out_of_bag_pairs: every training atom that at
least two members did not draw; the mean of those members against the
converged potential, their spread in the V(r) metric), from the saved
members and their bootstrap samples (model.json) and the training
dataset, and refits the calibration on parts of them: by the
number k of out-of-bag members, without chosen structures, and per
structure (RMS error against RMS spread). Uses no held-out structure.

    python benchmarks/sigma_calibration.py MODEL DATASET.h5 [--element Si]
        [--drop NAME ...] [--worst 12]

DATASET.h5 is the file the model was trained on (its sha256 is checked
against model.json's ``training.dataset_sha256``).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def oob_pairs(model, meta: dict, dataset, symbol: str):
    """Per atom of ``symbol``: structure name, number of out-of-bag members,
    squared error of their mean and their spread s² (Hartree²), NaN where
    fewer than two members left the atom's structure out or the structure
    was not a training structure."""
    from pyolcaoml.model.uncertainty import out_of_bag_atoms, out_of_bag_pairs

    ed = dataset.elements[symbol]
    members = model.predict_members(symbol, dataset.descriptors[ed.atom_index])
    names = np.asarray(dataset.names)[dataset.structure_index[ed.atom_index]]
    bags = [set(m["in_bag"]) for m in meta["training"]["members"]]
    rest = meta["training"]["train_structures"]
    oob, usable = out_of_bag_atoms(names, bags, rest)
    k = oob.sum(axis=1)
    e2, s2 = out_of_bag_pairs(members, oob, usable, ed.coeffs, ed.alphas, model.metric)
    return names, k, usable, e2, s2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("dataset")
    p.add_argument("--element", default="Si")
    p.add_argument("--drop", nargs="*", default=[], metavar="NAME")
    p.add_argument("--worst", type=int, default=12)
    args = p.parse_args()

    from pyolcaoml.model.data import file_sha256, load_dataset
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.uncertainty import fit_calibration

    with open(os.path.join(args.model, "model.json")) as fh:
        meta = json.load(fh)
    want = meta["training"].get("dataset_sha256")
    if want and file_sha256(args.dataset) != want:
        raise SystemExit(f"{args.dataset} is not the dataset {args.model} trained on")
    model = load_model(args.model)
    dataset = load_dataset(args.dataset)
    if dataset.descriptor != model.descriptor:
        raise SystemExit(f"{args.dataset}: descriptors differ from the model's")
    names, k, usable, e2, s2 = oob_pairs(model, meta, dataset, args.element)
    cal = model.elements[args.element].calibration
    print(
        f"{args.model}, {args.element}: shipped scale {cal.scale:.3g}, floor "
        f"{cal.floor_hartree * 1e3:.3g} mHa ({cal.n_atoms} atoms)"
    )
    print()
    print(
        "| out-of-bag atoms | atoms | structures | scale | floor (mHa) "
        "| RMS error (mHa) | RMS spread (mHa) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    dropped = ~np.isin(names, args.drop)
    parts = [
        ("all (what training fits)", usable),
        ("k = 2 members", usable & (k == 2)),
        ("k >= 3 members", usable & (k >= 3)),
    ]
    if args.drop:
        parts.append((f"all without {', '.join(args.drop)}", usable & dropped))
    for label, sel in parts:
        if sel.sum() < 10:
            continue
        c = fit_calibration(e2[sel], s2[sel])
        print(
            f"| {label} | {sel.sum()} | {len(set(names[sel]))} | {c.scale:.2f} | "
            f"{c.floor_hartree * 1e3:.2f} | {np.sqrt(np.mean(e2[sel])) * 1e3:.2f} | "
            f"{np.sqrt(np.mean(s2[sel])) * 1e3:.2f} |"
        )
    print()
    rows = []
    for name in sorted(set(names[usable])):
        sel = usable & (names == name)
        err = np.sqrt(np.mean(e2[sel])) * 1e3
        spread = np.sqrt(np.mean(s2[sel])) * 1e3
        rows.append((err, name, int(k[sel][0]), int(sel.sum()), spread))
    print(f"worst {args.worst} structures by out-of-bag RMS error:")
    print("| structure | k | atoms | RMS error (mHa) | RMS spread (mHa) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for err, name, kk, n, spread in sorted(rows, reverse=True)[: args.worst]:
        ratio = err / spread
        print(f"| {name} | {kk} | {n} | {err:.2f} | {spread:.2f} | {ratio:.1f} |")
    ratio = np.array([r[0] / r[4] for r in rows])
    print()
    print(
        f"per-structure error / spread over {len(rows)} structures: median "
        f"{np.median(ratio):.2f}, 90th percentile {np.percentile(ratio, 90):.2f}"
    )


if __name__ == "__main__":
    main()
