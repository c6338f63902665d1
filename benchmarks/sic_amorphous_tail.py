#!/usr/bin/env python3
"""What first value would halve OLCAO's iterations on amorphous SiC
(docs/model.md, "Stop 37")? From the stored bench results only (no runs).

Usage (from the repository root)::

    python benchmarks/sic_amorphous_tail.py [JSON ...]

(default: every ``data/sic/test_runs*/bench*.json``). Of the amorphous SiC
cells (``*_rr*``) in them: the predicted starts grouped by OLCAO's
first-iteration value, with their iterations to 1e-4 (a run that never
got there counts 61); and on OLCAO's default-start runs, the iteration
at which the convergence value first falls below v and how many more it
takes from there to 1e-4 (a start as good as that state would need about
as many).
"""

from __future__ import annotations

import glob
import json
import sys

import numpy as np

BINS = (0.0, 0.03, 0.06, 0.1, 0.2, 0.4, 10.0)
LEVELS = (0.3, 0.1, 0.03, 0.01, 1e-3)


def amorphous_rows(paths: list[str]) -> list[dict]:
    """The rows of amorphous SiC cells, each (cell, start, first value) once."""
    rows, seen = [], set()
    for path in paths:
        with open(path) as fh:
            for row in json.load(fh)["rows"]:
                key = (row["run"], row["start"], row["first_value"])
                if "_rr" in row["run"] and key not in seen:
                    seen.add(key)
                    rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    paths = argv or sorted(glob.glob("data/sic/test_runs*/bench*.json"))
    rows = amorphous_rows(paths)
    pred = [r for r in rows if r["start"] != "default"]
    default = {r["run"]: r for r in rows if r["start"] == "default"}
    cells = len({r["run"] for r in pred})
    print(f"{len(pred)} predicted starts on {cells} amorphous SiC cells")
    print("| first value | starts | iterations to 1e-4: median (range) |")
    print("|---|---|---|")
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        its = [
            r["iterations_to_1e-4"] or 61 for r in pred if lo <= r["first_value"] < hi
        ]
        if its:
            print(
                f"| {lo:g} – {hi:g} | {len(its)} | "
                f"{np.median(its):.0f} ({min(its)}–{max(its)}) |"
            )
    done = [
        r
        for r in default.values()
        if r["iterations_to_1e-4"] and isinstance(r.get("convergence"), list)
    ]
    total = np.median([r["iterations_to_1e-4"] for r in done])
    print(f"\n{len(done)} default-start runs that reached 1e-4 (median {total:.0f})")
    print("| value below | at iteration (median) | more to 1e-4 (median) |")
    print("|---|---|---|")
    for v in LEVELS:
        at, left = [], []
        for r in done:
            k = next((i for i, x in enumerate(r["convergence"]) if x < v), None)
            if k is not None:
                at.append(k + 1)
                left.append(r["iterations_to_1e-4"] - k)
        print(f"| {v:g} | {np.median(at):.0f} | {np.median(left):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
