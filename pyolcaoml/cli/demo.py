"""olcaoml demo: the bundled model on a bundled structure it never saw."""

from __future__ import annotations

import argparse
import json
import os
import time

HELP = "predict a bundled held-out structure with the bundled model (no training)"
DESCRIPTION = """\
Run the whole pipeline with the model shipped in pyolcaoml (trained on real
OLCAO silicon runs, see data/make_default_model.py): read a bundled structure
that was held out of training, compute its bispectrum descriptors, predict
every atom's potential coefficients, and compare with the real converged
OLCAO potential of that structure, beside the baselines (isolated-atom start,
average atom, ridge regression).

Writes into the output directory (default ./olcaoml-demo):
  scfV.dat          the predicted potential in OLCAO's format (type i = atom i)
  potentials.png    V(r) of three atoms: OLCAO vs network vs baselines
  parity.png        predicted vs OLCAO coefficients
  summary.json      the numbers printed
"""

OUTPUT_FILES = ("scfV.dat", "potentials.png", "parity.png", "summary.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        default="olcaoml-demo",
        metavar="DIR",
        help="output directory (default ./olcaoml-demo)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the demo's files in DIR if present",
    )
    p.add_argument(
        "--model",
        metavar="MODEL",
        help="use this model directory instead of the bundled one",
    )
    p.add_argument(
        "--case",
        metavar="NAME",
        help="bundled case to run (default: the first; see --list)",
    )
    p.add_argument("--list", action="store_true", help="list the bundled cases")


def load_cases() -> tuple[str, list[dict]]:
    from pyolcaoml.model.workflow import data_path

    manifest = data_path("demo", "manifest.json")
    with open(manifest) as fh:
        cases = json.load(fh)["cases"]
    return os.path.dirname(manifest), cases


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.evaluation import (
        errors,
        format_table,
        pick_atoms,
        plot_parity,
        plot_potentials,
    )
    from pyolcaoml.model.workflow import (
        data_path,
        predict_structure,
        scfv_for_atoms,
        write_text_atomically,
    )
    from pyolcaoml.olcao import format_scfv, read_scfv
    from pyolcaoml.structure import read_structure

    t0 = time.perf_counter()
    try:
        root, cases = load_cases()
        if args.list:
            for c in cases:
                print(f"{c['name']}: {c['description']}")
            return 0
        if args.case:
            chosen = [c for c in cases if c["name"] == args.case]
            if not chosen:
                raise CLIError(f"no bundled case {args.case!r} (see --list)")
            case = chosen[0]
        else:
            case = cases[0]
        out = os.path.abspath(args.output)
        if os.path.exists(out) and not os.path.isdir(out):
            raise CLIError(f"{out} exists and is not a directory")
        present = [f for f in OUTPUT_FILES if os.path.exists(os.path.join(out, f))]
        if present and not args.force:
            raise CLIError(
                f"{out} already holds {', '.join(present)}; use --force to "
                "replace them or -o to choose another directory"
            )
        # a case names the bundled model it is for ("sic_model" for SiC)
        model_dir = args.model or data_path(case.get("model", "default_model"))
        model = load_model(model_dir)
        structure = read_structure(os.path.join(root, case["structure"]))
        reference = read_scfv(os.path.join(root, case["reference"]))
        ref_types = np.asarray(case.get("atom_types") or range(1, len(structure) + 1))
        true_all = [reference.coeffs("up")[t - 1] for t in ref_types]
        seen = set(model.training.get("train_structures", [])) | set(
            model.training.get("validation_structures", [])
        )
        print(f"case {case['name']}: {case['description']}")
        print(f"model {model.path}")
        if case["name"] in seen:
            print(
                "WARNING: this structure was used to train this model; the "
                "comparison below is not a test on unseen data"
            )
        else:
            print("this structure was not used to train or validate the model")
        pred = predict_structure(model, structure)
        print(
            f"{len(structure)} atoms: descriptors {pred.descriptor_seconds:.2f} s,"
            f" network {pred.network_seconds:.2f} s"
        )
        summary: dict = {"case": case, "model": model.path, "elements": {}}
        sym = np.asarray(pred.symbols)
        for symbol in sorted(set(pred.symbols)):
            rows = np.nonzero(sym == symbol)[0]
            em = model.elements[symbol]
            true = np.array([true_all[i] for i in rows])
            x = None
            table = {}
            curves = {}
            for m in ("network", "isolated", "average", "ridge"):
                if m == "network":
                    p = np.array([pred.coeffs[i] for i in rows])
                else:
                    if x is None:
                        from pyolcaoml.model.workflow import compute_descriptors

                        x = compute_descriptors(model, structure)[rows]
                    p = model.predict_element(symbol, x, m)
                curves[m] = p
                table[m] = errors(p, true, em.alphas, model.metric)
            summary["elements"][symbol] = table
            print()
            print(format_table(symbol, table, model.metric.description))
            os.makedirs(out, exist_ok=True)
            pick = pick_atoms(true, em.average, em.alphas, model.metric)
            plot_potentials(
                os.path.join(out, "potentials.png"),
                symbol,
                em.alphas,
                {m: curves[m][pick] for m in ("network", "ridge", "average")},
                true[pick],
                [
                    f"{case['name']} atom {i + 1}\n({why} the average atom)"
                    for i, why in zip(
                        rows[pick],
                        ("farthest from", "median distance to", "nearest to"),
                        strict=False,
                    )
                ],
                model.metric,
                average=em.average,
                isolated=em.isolated,
                title=f"{symbol}: V(r) relative to the model's average atom "
                f"({case['name']}, never seen by the model)",
            )
            plot_parity(
                os.path.join(out, "parity.png"),
                symbol,
                curves["network"],
                true,
                title=f"{case['name']}: network vs OLCAO",
                alphas=em.alphas,
                metric=model.metric,
                baselines={m: curves[m] for m in ("ridge", "average")},
            )
        if pred.report is not None:
            from pyolcaoml.model.uncertainty import calibration_summary

            err = np.array(
                [
                    model.metric.rms_per_atom(
                        pred.coeffs[i][None],
                        np.asarray(true_all[i])[None],
                        model.elements[pred.symbols[i]].alphas,
                    )[0]
                    for i in range(len(pred.symbols))
                ]
            )
            print()
            for line in pred.report.summary():
                print(line)
            cal = calibration_summary(err, pred.report.sigma)
            summary["uncertainty"] = cal
            if cal["n_atoms"]:
                print(
                    f"actual errors: {cal['within_1_sigma']:.0%} of the atoms "
                    f"within 1 sigma, {cal['within_2_sigma']:.0%} within 2 "
                    f"sigma; rank correlation {cal['spearman']:.2f}"
                )
            from pyolcaoml.model.olcao_iterations import estimate_or_note

            estimate, note = estimate_or_note(model, pred.report.sigma, structure)
            if note is not None:
                print(f"warning: {note}")
            if estimate is not None:
                for line in estimate.summary():
                    print(line)
                summary["olcao_iterations_to_1e-4"] = {
                    "expected": estimate.iterations,
                    "range_80": [estimate.low, estimate.high],
                    "default_start": estimate.default,
                    "reference_cells": estimate.n_cells,
                }
        scfv = scfv_for_atoms(model, pred.symbols, pred.coeffs)
        write_text_atomically(
            os.path.join(out, "scfV.dat"), format_scfv(scfv), force=True
        )
        from pyolcaoml.outputs import write_text

        write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=1))
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    print(
        f"\nwrote {', '.join(OUTPUT_FILES)} to {out} ({time.perf_counter() - t0:.1f} s)"
    )
    return 0
