#!/usr/bin/env python3
"""Does a SiC model's own sigma, or its applicability distance, tell
amorphous cells apart (docs/model.md, "Stop 31" and "Stop 35")?

Usage (from the repository root)::

    python benchmarks/sic_sigma_ranges.py [MODEL ...] [--json FILE]

Every ``olcao.skl`` under ``data/sic/test_runs*`` (the spent fresh SiC
sets) is predicted by each MODEL (default: the bundled ``sic``); the
median of its atoms' sigma (mHa) is a structure's number, as for the Si
handover (:mod:`pyolcaoml.model.handover`); so is the median of its atoms'
applicability distance (descriptor distance to the training set over the
model's threshold, :mod:`pyolcaoml.model.report`; > 1 flags an atom
novel), a second candidate signal. Cells named ``*_rr*`` (the
large random rattles, "amorphous") are one group, the rattled and
point-defect cells the other; the table gives each group's range.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = os.path.join(HERE, "..", "data", "sic", "test_runs*")


def median_sigmas(model_paths: list[str], unseen: bool = False) -> list[dict]:
    """One row per cell: its folder, whether it is amorphous, and each
    model's median sigma (mHa) and median applicability distance; with
    ``unseen``, only the cells that no MODEL trained on."""
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.predict import predict
    from pyolcaoml.structure import read_structure

    models = {path: load_model(path) for path in model_paths}
    trained = set()
    if unseen:
        for model in models.values():
            trained.update(model.training.get("train_structures", ()))
    rows = []
    pattern = os.path.join(SETS, "**", "olcao.skl")
    for skl in sorted(glob.glob(pattern, recursive=True)):
        folder = os.path.dirname(skl)
        name = os.path.basename(folder)
        if name in trained:
            continue
        structure = read_structure(skl)
        row = {"cell": os.path.relpath(folder), "amorphous": "_rr" in name}
        for path, model in models.items():
            pred = predict(structure, model)
            row[path] = 1e3 * float(np.median(pred.sigma))
            row[path + " domain"] = float(np.median(pred.report.domain))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=["sic"], metavar="MODEL")
    p.add_argument("--json", help="write every cell's numbers here")
    p.add_argument(
        "--unseen",
        action="store_true",
        help="only the cells that no MODEL trained on (the spent sets that "
        "later models train on read as in-domain)",
    )
    args = p.parse_args(argv)
    rows = median_sigmas(args.models, args.unseen)
    if not rows:
        raise SystemExit(f"no olcao.skl under {SETS}")
    print(
        "| model | group | cells | median sigma, mHa: min | max "
        "| median domain: min | max |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in args.models:
        for amorphous in (False, True):
            group_rows = [r for r in rows if r["amorphous"] == amorphous]
            if group_rows:
                v = [r[path] for r in group_rows]
                d = [r[path + " domain"] for r in group_rows]
                group = "amorphous" if amorphous else "rattled + defects"
                print(
                    f"| {path} | {group} | {len(v)} | {min(v):.2f} | {max(v):.2f} "
                    f"| {min(d):.2f} | {max(d):.2f} |"
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
