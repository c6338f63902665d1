#!/usr/bin/env python3
"""What the shipped models save on OLCAO's SCF, from the stored measurements
(no OLCAO needed): one row per fresh test set that a shipped model was
measured on, read from the bench_scf.py JSON files kept in the repository.

    python benchmarks/fresh_sets.py [--markdown] [--json FILE]

A fresh set is made after every choice about the model it measures (its
cells were never trained on, and never used to choose anything before). The
rows are the sets measured with the model shipped now: the set that shipped
it (marked "shipped it") and every set measured after. Where ``olcaoml
predict`` hands a cell to another bundled model (two strongly rattled Si
crystals go to ``asi``), that model's run counts for the cell. Older models and
refused candidates are in docs/model.md. Columns:

- iterations to 1e-4 (OLCAO's default CONVERGENCE_TEST) and to 1e-6,
  summed over the set's cells, from OLCAO's default start and from the
  model's start; a run that never reached a tolerance counts as its
  LAST_ITERATION (60), and ">" marks that sum (a run that reached 1e-4
  but not 1e-6 marks only the 1e-6 sum);
- how many cells reached 1e-4 in at most half the default's iterations
  (issues 8 and 12);
- the largest |ΔE| against the default start's converged energy (Hartree),
  over the cells where both runs reached 1e-6;
- the whole run from the model's start (prediction included) over the run
  from OLCAO's default start: the smallest and largest ratio over the
  cells, of wall time and of CPU time (OLCAO's user seconds plus the
  prediction's wall seconds; where a stored default run kept no CPU time,
  that cell has no CPU ratio). The runs shared a 2-core machine with other
  work part of the time (docs/model.md says what ran beside each set):
  wall time then grows with the load, CPU time much less, so a wall ratio
  above 1 with a CPU ratio below it is the machine, not the start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sigma_vs_olcao import bench_rows  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SI = "data/scf_test_runs"
SIC = "data/sic"
#: the iteration cap of every stored run (meta.json last_iteration_limit)
LIMIT = 60


@dataclass(frozen=True)
class FreshSet:
    """One fresh set's stored measurement of a shipped model."""

    model: str  # the bundled model's name (and the candidate's)
    label: str
    files: tuple[str, ...]  # bench_scf JSONs (relative to the repository)
    start: str  # the row label of the model's start
    default_files: tuple[str, ...] = ()  # where the default rows are, if elsewhere
    amorphous: bool | None = None  # SiC: keep only amorphous (True) or not (False)
    #: rows of the model that ``olcaoml predict`` hands a cell to (start
    #: "asi"): they replace the measured model's row for that cell
    handover_files: tuple[str, ...] = ()


SETS = (
    FreshSet(
        "default (T8b)",
        "Si 16th set, stop 33 (shipped it)",
        (f"{SI}/bench_stop33_T8b.json",),
        "T8b",
    ),
    FreshSet(
        "default (T8b)",
        "Si 17th set, stop 34",
        (f"{SI}/bench_stop34_T9.json",),
        "network",
    ),
    FreshSet(
        "default (T8b)",
        "Si 18th set, stop 35",
        (f"{SI}/bench_stop35_T8b.json",),
        "network",
    ),
    FreshSet(
        "default (T8b)",
        "Si 19th set, stop 40",
        (f"{SI}/bench_stop40_T8b.json",),
        "network",
    ),
    FreshSet(
        "default (T8b)",
        "Si 20th set, stop 41",
        (f"{SI}/bench_stop41_T8b.json",),
        "network",
        handover_files=(f"{SI}/bench_stop42_handover.json",),
    ),
    FreshSet(
        "default (T8b)",
        "Si 21st set, stop 42",
        (f"{SI}/bench_stop42_T8b.json",),
        "network",
        handover_files=(f"{SI}/bench_stop42_handover.json",),
    ),
    FreshSet(
        "default (T8b)",
        "Si 22nd set, stop 43",
        (f"{SI}/bench_stop43_T8b.json",),
        "network",
        handover_files=(f"{SI}/bench_stop43_handover.json",),
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si32, 3 cells, stop 30 (shipped it)",
        tuple(f"{SI}/bench_stop30_asi3_asi32_s1075{k}.json" for k in range(3)),
        "asi3",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si32, 3 cells, stop 32",
        (f"{SI}/bench_stop32_asi32.json",),
        "asi",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si32, 3 cells, stop 33",
        (f"{SI}/bench_stop33_asi.json",),
        "asi",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si32, 2 cells, stop 47",
        (f"{SI}/bench_stop47_asi.json",),
        "asi",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 1 cell, stop 35 (by the handover)",
        (f"{SI}/bench_stop35_asi64.json",),
        "asi (handover)",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 2 cells, stop 48",
        (
            f"{SI}/bench_stop48_asi64_s15064.json",
            f"{SI}/bench_stop48_asi64_s15065.json",
        ),
        "asi",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 2 cells, stop 50",
        (f"{SI}/bench_stop50_asi64.json",),
        "asi",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 1 cell, stop 57",
        (f"{SI}/bench_stop57_asi64.json",),
        "network",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 2 cells, stop 58",
        (f"{SI}/bench_stop58_asi64.json",),
        "network",
    ),
    FreshSet(
        "asi (asi3)",
        "a-Si64, 1 cell, stop 59",
        (f"{SI}/bench_stop59_asi64.json",),
        "network",
    ),
    FreshSet(
        "asi + from-mb",
        "a-Si64, 2 cells, stop 50 (two-level: MB SCF from asi to 1e-4)",
        (f"{SI}/bench_stop50_two_level_asi64.json",),
        "two-level",
    ),
    FreshSet(
        "asi + from-mb",
        "a-Si64, 1 cell, stop 56 (two-level: MB SCF from asi to 1e-3, at most 20)",
        (f"{SI}/bench_stop56_two_level_asi64.json",),
        "two-level",
    ),
    FreshSet(
        "asi + from-mb",
        "a-Si64, 2 cells, stop 58 (two-level: MB SCF from asi to 1e-4)",
        (f"{SI}/bench_stop58_two_level_asi64.json",),
        "two-level",
        default_files=(f"{SI}/bench_stop58_asi64.json",),
    ),
    FreshSet(
        "sic (S)",
        "SiC 9th set, near-crystalline, stop 27",
        (f"{SIC}/test_runs_stop29/bench_stop27_S.json",),
        "S",
        amorphous=False,
    ),
    FreshSet(
        "sic (S)",
        "SiC 10th set, near-crystalline, stop 29",
        (f"{SIC}/test_runs_stop30/bench_stop29_S.json",),
        "network",
        amorphous=False,
    ),
    FreshSet(
        "sic (S)",
        "SiC 11th set, near-crystalline, stop 31",
        (f"{SIC}/test_runs_stop32/bench_stop31_S.json",),
        "network",
        amorphous=False,
    ),
    FreshSet(
        "sic (S)",
        "SiC 12th set, near-crystalline, stop 35",
        (f"{SIC}/test_runs_stop34/bench_stop35_S.json",),
        "network",
        amorphous=False,
    ),
    FreshSet(
        "sic (S)",
        "SiC 13th set, near-crystalline, stop 36",
        (f"{SIC}/test_runs_stop36/bench_stop36_S_near.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 17th set, stop 41",
        (f"{SIC}/test_runs_stop41/bench_stop41_S.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 18th set, stop 42",
        (f"{SIC}/test_runs_stop42/bench_stop42_S.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 19th set, stop 43",
        (f"{SIC}/test_runs_stop42b/bench_stop43_S.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 20th set, stop 44",
        (f"{SIC}/test_runs_stop43/bench_stop44_S.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 21st set, stop 47",
        (f"{SIC}/test_runs_stop44/bench_stop47_S.json",),
        "network",
    ),
    FreshSet(
        "sic (S)",
        "SiC 26th set, Si vacancies, stop 52",
        (f"{SIC}/test_runs_stop52/bench_stop52_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic (S)",
        "SiC 27th set, Si vacancies, stop 52",
        (f"{SIC}/test_runs_stop52b/bench_stop52b_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic (S)",
        "SiC 28th set, 31-33 atoms, stop 53",
        (f"{SIC}/test_runs_stop53/bench_stop53_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic + from-mb",
        "SiC 28th set, 31-33 atoms, stop 53 (two-level: MB SCF from mb-start "
        "to 1e-3; shipped its correction)",
        (f"{SIC}/test_runs_stop53/bench_stop53_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop53/bench_stop53_sic.json",),
    ),
    FreshSet(
        "sic (S)",
        "SiC 29th set, 31-32 atoms, stop 53",
        (f"{SIC}/test_runs_stop53b/bench_stop53b_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic + from-mb",
        "SiC 29th set, 31-32 atoms, stop 53 (two-level, shipped recipe)",
        (f"{SIC}/test_runs_stop53b/bench_stop53b_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop53b/bench_stop53b_sic.json",),
    ),
    FreshSet(
        "sic (S)",
        "SiC 31st set, 31-atom Si vacancies, stop 54",
        (f"{SIC}/test_runs_stop54b/bench_stop54b_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic + from-mb",
        "SiC 31st set, 31-atom Si vacancies, stop 54 (two-level, shipped recipe)",
        (f"{SIC}/test_runs_stop54b/bench_stop54b_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop54b/bench_stop54b_sic.json",),
    ),
    FreshSet(
        "sic (S)",
        "SiC 32nd set, 31-33 atoms, stop 55",
        (f"{SIC}/test_runs_stop55/bench_stop55_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic + from-mb",
        "SiC 32nd set, its four Si vacancies, stop 55 (two-level, shipped recipe)",
        (f"{SIC}/test_runs_stop55/bench_stop55_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop55/bench_stop55_sic.json",),
    ),
    FreshSet(
        "sic (S)",
        "SiC 33rd set, 31-33 atoms, stop 55",
        (f"{SIC}/test_runs_stop55b/bench_stop55b_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic (S)",
        "SiC 34th set, 31-33 atoms, stop 56",
        (f"{SIC}/test_runs_stop56/bench_stop56_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic (S)",
        "SiC 35th set, 31-33 atoms without a Si vacancy, stop 59",
        (f"{SIC}/test_runs_stop59/bench_stop59_sic.json",),
        "sic",
    ),
    FreshSet(
        "sic (S)",
        "SiC 36th set, 31-33 atoms, stop 60",
        (f"{SIC}/test_runs_stop60/bench_stop60_sic.json",),
        "sic",
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 14th + 15th sets, stop 37 (shipped it)",
        (
            f"{SIC}/test_runs_stop36b/bench_stop37_A2.json",
            f"{SIC}/test_runs_stop37/bench_stop37_A2.json",
        ),
        "network",
        default_files=(
            f"{SIC}/test_runs_stop36b/bench_stop36_sicam.json",
            f"{SIC}/test_runs_stop37/bench_stop37_sicam.json",
        ),
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 16th set, stop 40",
        (f"{SIC}/test_runs_stop37b/bench_stop40_sicam.json",),
        "network",
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 22nd set, stop 51",
        (f"{SIC}/test_runs_stop51/bench_stop51_sicam.json",),
        "sicam",
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 22nd set, stop 51 (two-level: MB SCF from sicam to "
        "1e-4; shipped its correction)",
        (f"{SIC}/test_runs_stop51/bench_stop51_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop51/bench_stop51_sicam.json",),
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 23rd set, stop 51",
        (f"{SIC}/test_runs_stop51b/bench_stop51_sicam.json",),
        "sicam",
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 23rd set, stop 51 (two-level: MB SCF from sicam to 1e-4)",
        (f"{SIC}/test_runs_stop51b/bench_stop51_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop51b/bench_stop51_sicam.json",),
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 23rd set, stop 51 (two-level, MB SCF to 1e-3: chose "
        "that recipe)",
        (f"{SIC}/test_runs_stop51b/bench_stop51_two_level_mb1e-3.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop51b/bench_stop51_sicam.json",),
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 24th set, stop 51",
        (f"{SIC}/test_runs_stop51c/bench_stop51_sicam.json",),
        "sicam",
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 24th set, stop 51 (two-level, MB SCF to 1e-3)",
        (f"{SIC}/test_runs_stop51c/bench_stop51_two_level_mb1e-3.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop51c/bench_stop51_sicam.json",),
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 25th set, stop 51",
        (f"{SIC}/test_runs_stop51d/bench_stop51_sicam.json",),
        "sicam",
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 25th set, stop 51 (two-level, MB SCF to 1e-3)",
        (f"{SIC}/test_runs_stop51d/bench_stop51_two_level_mb1e-3.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop51d/bench_stop51_sicam.json",),
    ),
    FreshSet(
        "sicam (A2)",
        "amorphous SiC, 30th set, stop 54",
        (f"{SIC}/test_runs_stop54/bench_stop54_sicam.json",),
        "sicam",
    ),
    FreshSet(
        "sicam + from-mb",
        "amorphous SiC, 30th set, stop 54 (two-level, MB SCF to 1e-3)",
        (f"{SIC}/test_runs_stop54/bench_stop54_two_level.json",),
        "two-level",
        default_files=(f"{SIC}/test_runs_stop54/bench_stop54_sicam.json",),
    ),
)


@dataclass(frozen=True)
class Row:
    model: str
    label: str
    cells: int
    default_1e4: int
    default_1e6: int
    model_1e4: int
    model_1e6: int
    #: "default_1e4", ... -> how many of that sum's counts hit LIMIT (the
    #: run never reached that tolerance)
    capped: dict
    half: int
    max_abs_de: float | None
    time_ratio: tuple[float, float] | None
    cpu_ratio: tuple[float, float] | None


def _rows(files: tuple[str, ...]) -> list[dict]:
    return [r for f in files for r in bench_rows(os.path.join(ROOT, f))]


def _count(row: dict, key: str) -> tuple[int, bool]:
    v = row.get(key)
    return (LIMIT, True) if v is None else (int(v), False)


def summarise(s: FreshSet) -> Row | None:
    """The set's row, or None when its files are not all there."""
    if not all(os.path.isfile(os.path.join(ROOT, f)) for f in s.files):
        return None
    rows = _rows(s.files)
    defaults = _rows(s.default_files) if s.default_files else rows
    model = {r["run"]: r for r in rows if r["start"] == s.start}
    handed = {r["run"]: r for r in _rows(s.handover_files) if r["start"] == "asi"}
    model.update({n: r for n, r in handed.items() if n in model})
    default = {r["run"]: r for r in defaults if r["start"] == "default"}
    names = sorted(n for n in model if n in default)
    if s.amorphous is not None:
        names = [n for n in names if ("_rr_" in n) == s.amorphous]
    if not names:
        raise SystemExit(f"{s.label}: no cell with both starts in {s.files}")
    sums = {"default_1e4": 0, "default_1e6": 0, "model_1e4": 0, "model_1e6": 0}
    capped = dict.fromkeys(sums, 0)
    half, des, ratios, cpu = 0, [], [], []
    for n in names:
        for start, row in (("default", default[n]), ("model", model[n])):
            for tol in ("1e4", "1e6"):
                v, hit = _count(row, f"iterations_to_1e-{tol[-1]}")
                sums[f"{start}_{tol}"] += v
                capped[f"{start}_{tol}"] += hit
        m, d = model[n].get("iterations_to_1e-4"), default[n].get("iterations_to_1e-4")
        if m is not None and 2 * m <= (LIMIT if d is None else d):
            half += 1
        de = model[n].get("abs_dE_hartree")
        both = all(
            r.get("iterations_to_1e-6") is not None for r in (model[n], default[n])
        )
        if de is not None and both:  # the same converged state: both converged
            des.append(float(de))
        tm, td = model[n].get("total_s"), default[n].get("total_s")
        if tm and td:
            ratios.append(float(tm) / float(td))
        cm, cd = model[n].get("olcao_cpu_s"), default[n].get("olcao_cpu_s")
        if cm and cd:
            cpu.append((float(cm) + float(model[n].get("predict_s") or 0)) / float(cd))
    return Row(
        s.model,
        s.label,
        len(names),
        half=half,
        capped=capped,
        max_abs_de=max(des) if des else None,
        time_ratio=_span(ratios),
        cpu_ratio=_span(cpu),
        **sums,
    )


def _span(values: list[float]) -> tuple[float, float] | None:
    return (min(values), max(values)) if values else None


def _ratio(span: tuple[float, float] | None) -> str:
    return "-" if span is None else f"{span[0]:.2f}-{span[1]:.2f}"


def _sum(a: int, capped: int) -> str:
    return f">{a}" if capped else f"{a}"


def table(rows: list[Row], markdown: bool) -> str:
    head = (
        "model",
        "fresh set",
        "cells",
        "OLCAO default: 1e-4 / 1e-6",
        "model start: 1e-4 / 1e-6",
        "≤ half",
        "max |ΔE| (Ha)",
        "wall ratio",
        "CPU ratio",
    )
    body = []
    for r in rows:
        body.append(
            (
                r.model,
                r.label,
                str(r.cells),
                f"{_sum(r.default_1e4, r.capped['default_1e4'])} / "
                f"{_sum(r.default_1e6, r.capped['default_1e6'])}",
                f"{_sum(r.model_1e4, r.capped['model_1e4'])} / "
                f"{_sum(r.model_1e6, r.capped['model_1e6'])}",
                f"{r.half} of {r.cells}",
                "-" if r.max_abs_de is None else f"{r.max_abs_de:.1e}",
                _ratio(r.time_ratio),
                _ratio(r.cpu_ratio),
            )
        )
    return render_table(head, body, markdown)


def render_table(head, body, markdown: bool) -> str:
    """A header and rows of strings as a Markdown table, or as columns
    padded to their widest entry."""
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line) for line in (head, *body))


def write_rows_json(path: str, rows: list) -> None:
    """The rows (dataclasses) as a JSON list, written atomically (a
    temporary file renamed over ``path``: an interrupted write leaves the
    old file)."""
    from pyolcaoml.outputs import write_text

    write_text(path, json.dumps([asdict(r) for r in rows], indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    rows, missing = [], []
    for s in SETS:
        r = summarise(s)
        (rows.append(r) if r is not None else missing.append(s.label))
    print(table(rows, args.markdown))
    for label in missing:
        print(f"(not measured yet: {label})", file=sys.stderr)
    if args.json:
        write_rows_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
