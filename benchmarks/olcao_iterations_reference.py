#!/usr/bin/env python3
"""Build or check a model's expected-iterations reference (olcao_iterations.json;
docs/uncertainty.md, "Expected OLCAO iterations in every prediction").

Usage::

    python benchmarks/olcao_iterations_reference.py build --model M \\
        --predictor log_max_sigma|log_max_sigma_log_atoms|constant [--match P...] \\
        [--default-from BENCH.json...] [--groups si_vacancy [large_cell]] [-o FILE] \\
        BENCH.json[:START]...
    python benchmarks/olcao_iterations_reference.py check --model M \\
        [--reference FILE] [--match P...] [--default-from BENCH.json...] \\
        BENCH.json[:START]...

``build`` predicts every cell of the stored ``bench_scf.py`` results again
with M (the rows of START, ``network`` unless given, must be M's own start
on cells M never trained on; the run directory is found under the JSON's
folder) and writes each cell's largest and mean sigma with OLCAO's
iterations to 1e-4 from M's start and from OLCAO's default start (the
``default`` row of the same JSON or of a --default-from file) to
M/olcao_iterations.json, or FILE.  ``--groups`` declares iteration
groups (:data:`GROUPS`; the Si vacancy in SiC) and puts each cell in the
first whose rule its structure matches: each group gets its own fit.

``check`` predicts the cells of BENCH the same way and compares each with
the estimate of the reference: whether the stated range holds the real
count, and the absolute error of the expected count beside that of one
constant (the reference cells' median). Needs no OLCAO.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sigma_vs_olcao import bench_cells, bench_rows  # noqa: E402


def default_rows(paths: list[str]) -> dict[str, int | None]:
    """Run name -> iterations to 1e-4 from OLCAO's default start."""
    return {
        r["run"]: r["iterations_to_1e-4"]
        for path in paths
        for r in bench_rows(path)
        if r["start"] == "default"
    }


def known_groups():
    """The iteration groups ``--groups`` can name."""
    from pyolcaoml.model.sic_vacancy import LARGE_CELL_GROUP, SI_VACANCY_GROUP

    return {g.name: g for g in (SI_VACANCY_GROUP, LARGE_CELL_GROUP)}


def reference_cells(model, benches, match, default_from, groups=()):
    from pyolcaoml.model.olcao_iterations import ReferenceCell

    defaults = default_rows([b.partition(":")[0] for b in benches] + default_from)
    for bench in benches:
        path, _, start = bench.partition(":")
        source = f"{os.path.relpath(path)}:{start or 'network'}"
        for r, run, pred, _ in bench_cells(model, [bench], match):
            sigma = np.asarray(pred.sigma, dtype=float)
            group = next((g.name for g in groups if g.matches(run.structure)), None)
            yield ReferenceCell(
                run=r["run"],
                source=source,
                atoms=int(r["atoms"]),
                max_sigma_hartree=float(sigma.max()),
                mean_sigma_hartree=float(sigma.mean()),
                iterations=r["iterations_to_1e-4"],
                default_iterations=defaults.get(r["run"]),
                group=group,
            )


def main() -> int:
    from pyolcaoml.model.olcao_iterations import (
        PREDICTORS,
        load_reference,
        write_reference,
    )
    from pyolcaoml.model.saved import load_model

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("build", "check"))
    p.add_argument("benches", nargs="+", metavar="BENCH.json[:START]")
    p.add_argument("--model", required=True)
    p.add_argument("--predictor", choices=PREDICTORS)
    p.add_argument("--match", nargs="+", default=[""], help="run name prefixes")
    p.add_argument("--default-from", nargs="+", default=[], metavar="BENCH.json")
    p.add_argument("-o", "--output", help="build: file to write")
    p.add_argument("--reference", help="check: reference file (default: M's)")
    p.add_argument(
        "--groups",
        nargs="+",
        default=[],
        choices=sorted(known_groups()),
        help="build: iteration groups, each with its own fit",
    )
    args = p.parse_args()
    model = load_model(args.model)
    if args.mode == "build":
        groups = tuple(known_groups()[g] for g in args.groups)
    else:
        ref = load_reference(model.path, args.reference)
        if ref is None:
            raise SystemExit(f"{model.path} has no reference file")
        groups = ref.groups
    cells = list(
        reference_cells(
            model, args.benches, tuple(args.match), args.default_from, groups
        )
    )
    if args.mode == "build":
        if args.predictor is None:
            p.error("build needs --predictor")
        command = "python " + " ".join(
            shlex.quote(a)
            for a in ["benchmarks/olcao_iterations_reference.py"] + sys.argv[1:]
        )
        path = write_reference(
            model.path,
            cells,
            args.predictor,
            command=command,
            path=args.output,
            groups=groups,
        )
        n_in = {g.name: sum(c.group == g.name for c in cells) for g in groups}
        print(f"wrote {path}: {len(cells)} cells; in groups {n_in}")
        return 0
    const = float(np.median([c.iterations for c in ref.cells if c.iterations]))
    print(
        "| cell | group | largest sigma (mHa) | iterations | expected (range) "
        "| default | expected (range) |"
    )
    print("|---|---|---|---|---|---|---|")
    hit = hit_d = n = n_d = 0
    err, err_c, err_d = [], [], []
    for c in cells:
        e = ref.estimate(c.max_sigma_hartree, c.atoms, c.group)
        d = e.default if e.default else (None, None, None)
        print(
            f"| {c.run} | {c.group or 'general'} | {1e3 * c.max_sigma_hartree:.2f} "
            f"| {c.iterations} | "
            f"{e.iterations} ({e.low}-{e.high}) | {c.default_iterations} | "
            f"{d[0]} ({d[1]}-{d[2]}) |"
        )
        if c.iterations is not None:
            n += 1
            hit += e.low <= c.iterations <= e.high
            err.append(abs(e.iterations - c.iterations))
            err_c.append(abs(const - c.iterations))
        if c.default_iterations is not None and e.default:
            n_d += 1
            hit_d += d[1] <= c.default_iterations <= d[2]
            err_d.append(abs(d[0] - c.default_iterations))
    print(
        f"\n{len(cells)} cells against {len(ref.cells)} reference cells "
        f"({ref.predictor}):\n"
        f"- model's start: range holds {hit} of {n} ({100 * hit / max(n, 1):.0f} %); "
        f"mean |error| {np.mean(err):.2f} iterations, constant {const:g}: "
        f"{np.mean(err_c):.2f}"
    )
    if n_d:
        print(
            f"- default start: range holds {hit_d} of {n_d} "
            f"({100 * hit_d / n_d:.0f} %); mean |error| {np.mean(err_d):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
