#!/usr/bin/env python3
"""What a start's first OLCAO value buys in iterations, from the stored
measurements (no OLCAO needed; docs/model.md, stop 57).

    python benchmarks/scf_tail.py [BENCH.json ...] [--start NAME ...]
        [--markdown] [--json FILE]

Reads every stored ``bench_scf.py`` / ``bench_two_level.py`` result (all
``data/**/bench_*.json`` unless files are given) that keeps OLCAO's
convergence value of every iteration, for the cells where OLCAO's default
start and another start both ran and both reached 1e-4. Per family of
cells (the run name up to its first '_': ``asi64``, ``sic32``, ...) and
start, one row:

- **tail**: the iterations OLCAO's default run still needed to reach 1e-4
  after its value first fell to the start's first value, summed over the
  cells, beside the start's own iterations to 1e-4, and their ratio. Near
  1, OLCAO's count from a start is what its own run needs from the same
  value: the first value, not the kind of start, sets the count;
- **needed for half**: the default run's value at half its iterations to
  1e-4 (median over the cells), the start's first value (median), and on
  how many cells the first value was at or below it, beside how many
  reached 1e-4 in at most half the default's iterations.

A cell measured in several files counts once per file (the files are the
record of each measurement).
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_scf import iterations_to  # noqa: E402
from fresh_sets import render_table, write_rows_json  # noqa: E402
from sigma_vs_olcao import bench_rows  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: OLCAO's default CONVERGENCE_TEST: the tolerance the counts are taken to
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Cell:
    """One cell's default run and one other start, from one file."""

    family: str
    start: str
    first_value: float  # the start's first OLCAO value
    start_iterations: int  # the start's iterations to 1e-4
    default_iterations: int  # the default run's iterations to 1e-4
    default_tail: int  # the default's iterations to 1e-4 after it reached first_value
    needed_for_half: float  # the default's value at half its iterations


@dataclass(frozen=True)
class Row:
    family: str
    start: str
    cells: int
    default_tail: int
    start_iterations: int
    ratio: float
    median_needed_for_half: float
    median_first_value: float
    first_at_or_below_needed: int
    at_half: int


def cells_of(rows: list[dict]) -> tuple[list[Cell], int]:
    """The cells of one file's rows, and how many (cell, start) pairs were
    left out because a run kept no values or did not reach 1e-4."""
    by_run: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_run.setdefault(r["run"], {})[r["start"]] = r
    out, skipped = [], 0
    for run, starts in by_run.items():
        default = starts.get("default")
        others = [s for s in starts if s != "default"]
        dv = (default or {}).get("convergence") or []
        nd = iterations_to(dv, TOLERANCE)
        for start in others:
            v = starts[start].get("convergence") or []
            ns = iterations_to(v, TOLERANCE)
            if nd is None or ns is None:
                skipped += 1
                continue
            # the default's first iteration at or below the start's first value
            k = next(i + 1 for i, x in enumerate(dv) if x <= v[0] or i + 1 == nd)
            out.append(
                Cell(
                    run.split("_")[0],
                    start,
                    float(v[0]),
                    ns,
                    nd,
                    nd - k,
                    float(dv[max(nd // 2, 1) - 1]),
                )
            )
    return out, skipped


def summarise(cells: list[Cell]) -> list[Row]:
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.family, c.start), []).append(c)
    rows = []
    for (family, start), cs in sorted(groups.items()):
        tail = sum(c.default_tail for c in cs)
        own = sum(c.start_iterations for c in cs)
        rows.append(
            Row(
                family,
                start,
                len(cs),
                tail,
                own,
                own / tail if tail else float("nan"),
                statistics.median(c.needed_for_half for c in cs),
                statistics.median(c.first_value for c in cs),
                sum(c.first_value <= c.needed_for_half for c in cs),
                sum(2 * c.start_iterations <= c.default_iterations for c in cs),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "files", nargs="*", help="bench JSONs (default: data/**/bench_*.json)"
    )
    p.add_argument(
        "--start",
        action="append",
        default=[],
        metavar="NAME",
        help="only this start's rows (repeatable; e.g. network, two-level)",
    )
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args(argv)
    files = args.files or sorted(
        glob.glob(os.path.join(ROOT, "data", "**", "bench_*.json"), recursive=True)
    )
    cells, skipped = [], 0
    for f in files:
        try:
            rows = bench_rows(f)
            kept = any("convergence" in r for r in rows)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            p.error(f"cannot read {f}: {exc}")
        if not kept:
            continue  # older results kept no per-iteration values
        got, n = cells_of(rows)
        cells += got
        skipped += n
    rows = [r for r in summarise(cells) if not args.start or r.start in args.start]
    head = (
        "family",
        "start",
        "cells",
        "default's tail",
        "start's own",
        "ratio",
        "needed for half (median)",
        "first value (median)",
        "first <= needed",
        "<= half",
    )
    lines = []
    for r in rows:
        lines.append(
            (
                r.family,
                r.start,
                str(r.cells),
                str(r.default_tail),
                str(r.start_iterations),
                f"{r.ratio:.2f}",
                f"{r.median_needed_for_half:.1e}",
                f"{r.median_first_value:.1e}",
                f"{r.first_at_or_below_needed} of {r.cells}",
                f"{r.at_half} of {r.cells}",
            )
        )
    print(render_table(head, lines, args.markdown))
    print(
        f"{len(cells)} (cell, start) pairs from {len(files)} files; {skipped} left "
        f"out (a run that did not reach {TOLERANCE:g})"
    )
    if args.json:
        write_rows_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
