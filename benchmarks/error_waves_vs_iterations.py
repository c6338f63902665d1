#!/usr/bin/env python3
"""Does the short-wave part of a shipped model's error rank OLCAO's
iterations across cells better than the whole error does? (docs/model.md,
"Stop 46"; no OLCAO needed: stored runs and stored benches only.)

Usage (from the repository root)::

    python benchmarks/error_waves_vs_iterations.py [--json FILE]

For every cell of the stored OLCAO benches of the shipped models (the
default Si model on the Si test cells of stops 40-43, `asi` on the a-Si32
cells, `sic` on the near-crystalline SiC cells of stops 27-44), the
model's start is predicted again and its error against the run's converged
potential is measured with OLCAO's convergence measure (max over sites):
whole, its shorter waves (what the cell's longest waves do not carry,
benchmarks/sic_error_parts_scf.py's ``wave_parts``) and its atom-to-atom
part (less each element's mean). Printed: Spearman's rank correlation of
each with the iterations to 1e-4 from that start, and of OLCAO's own
first value, per group, for all cells and for the cells of 15 atoms or
more (in 8-atom cells the longest waves carry nearly everything).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_scf  # noqa: E402
from sic_error_parts_scf import (  # noqa: E402
    error_parts,
    model_error,
    model_wave_parts,
)

DATA = os.path.join(REPO, "data")
SIC = os.path.join(DATA, "sic")
SI = os.path.join(DATA, "scf_test_runs")

#: group: (model directory, [(bench, the start label of that model in it)]);
#: the SiC benches' amorphous cells (sicam's kind) are left out
GROUPS = {
    "Si, default model": (
        "default_model",
        [
            (b, "network")
            for b in sorted(glob.glob(os.path.join(SI, "bench_stop4[0-3]_T8b.json")))
        ],
    ),
    "a-Si32, asi": (
        "asi_model",
        [
            (os.path.join(SI, "bench_stop32_asi32.json"), "asi"),
            (os.path.join(SI, "bench_stop33_asi.json"), "asi"),
        ]
        # stop 30 judged asi3 (shipped as asi then) beside the asi before it
        + [
            (b, "asi3")
            for b in sorted(glob.glob(os.path.join(SI, "bench_stop30_asi3_*.json")))
        ],
    ),
    "SiC near-crystalline, sic": (
        "sic_model",
        [
            (os.path.join(SIC, d, f), start)
            for d, f, start in (
                ("test_runs_stop29", "bench_stop27_S.json", "S"),
                ("test_runs_stop30", "bench_stop29_S.json", "network"),
                ("test_runs_stop32", "bench_stop31_S.json", "network"),
                ("test_runs_stop34", "bench_stop35_S.json", "network"),
                ("test_runs_stop36", "bench_stop36_S_near.json", "network"),
                ("test_runs_stop41", "bench_stop41_S.json", "network"),
                ("test_runs_stop42", "bench_stop42_S.json", "network"),
                ("test_runs_stop42b", "bench_stop43_S.json", "network"),
                ("test_runs_stop43", "bench_stop44_S.json", "network"),
            )
        ],
    ),
}
MEASURES = ("first_value", "whole", "atom_to_atom", "shorter_waves")


def find_run(bench: str, name: str) -> str | None:
    """The run directory of a bench row: beside the bench or one level down."""
    base = os.path.dirname(bench)
    for path in [os.path.join(base, name), *glob.glob(os.path.join(base, "*", name))]:
        if os.path.isdir(path):
            return path
    return None


def measures(run, model) -> dict[str, float]:
    """OLCAO's measure (max over sites, Hartree) of the model's start error."""
    me = model_error(run, model)
    shorter = model_wave_parts(run, me)["shorter waves (the rest)"]
    spread = error_parts(me.err, me.symbols, me.alphas)["atom to atom"]
    metric = bench_scf.solver_metric(run, me.atom_of_type)
    values = metric.per_site_many([me.err, spread, shorter])
    return {
        "whole": float(values[0].max()),
        "atom_to_atom": float(values[1].max()),
        "shorter_waves": float(values[2].max()),
    }


def main(argv: list[str] | None = None) -> int:
    from scipy.stats import spearmanr

    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="write every cell's numbers here")
    args = p.parse_args(argv)
    rows = []
    for group, (model_dir, benches) in GROUPS.items():
        model = load_model(os.path.join(DATA, model_dir))
        seen = set()
        for bench, start in benches:
            with open(bench) as fh:
                stored = json.load(fh)["rows"]
            for r in stored:
                if r["start"] != start or r["run"] in seen:
                    continue
                path = find_run(bench, r["run"])
                if path is None or r["iterations_to_1e-4"] is None:
                    continue
                if os.path.basename(os.path.dirname(path)) == "amorphous":
                    continue
                seen.add(r["run"])
                run = read_run(path)
                row = {
                    "group": group,
                    "run": run.name,
                    "atoms": len(run.structure.symbols),
                    "iterations_to_1e-4": r["iterations_to_1e-4"],
                    "first_value": r["first_value"],
                    **measures(run, model),
                }
                # the bench's start must be the shipped model's own
                was = r.get("solver_error_hartree")
                if was is not None and abs(row["whole"] - was) > 1e-9 * was:
                    raise SystemExit(
                        f"{bench}: {run.name}'s {start!r} start is not "
                        f"{model_dir}'s (measure {was:.6g}, now {row['whole']:.6g})"
                    )
                rows.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    print("Spearman's rank correlation with iterations to 1e-4 from the start")
    print("| group | cells | n | " + " | ".join(MEASURES) + " |")
    print("|---|---|---|" + "---|" * len(MEASURES))
    for group in GROUPS:
        for label, least in (("all", 0), ("15+ atoms", 15)):
            sel = [r for r in rows if r["group"] == group and r["atoms"] >= least]
            if len(sel) < 5:
                continue
            its = [r["iterations_to_1e-4"] for r in sel]
            rho = [spearmanr(its, [r[m] for r in sel])[0] for m in MEASURES]
            print(
                f"| {group} | {label} | {len(sel)} | "
                + " | ".join(f"{v:+.2f}" for v in rho)
                + " |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
