"""olcaoml evaluate: errors of a model and of the baselines on a dataset."""

from __future__ import annotations

import argparse
import json
import os

HELP = "compare a model with the baselines on a dataset (tables and plots)"
DESCRIPTION = """\
Evaluate MODEL on the structures of DATA.h5 and print, per element, the mean
absolute error of the coefficients A_i and the RMS error of the site potential
V(r) (Hartree) for the network and three baselines:

  isolated atom  OLCAO's default start (atomicPDB coeff1)
  average atom   mean A_i of the model's training atoms
  ridge          linear model on the same descriptors, fitted on the model's
                 training structures (stored in the model)

V(r) RMS: r in [0.05, 6] Bohr, weight r^2 dr (volume average over the shell);
'unif' is the same range with weight dr, which stresses the region near the
nucleus. 'ratio' = baseline error / network error: above 1 the network wins.

Solver-aligned error: OLCAO's SCF convergence measure applied to (start -
converged): the crystal potential of the coefficient error (all sites, all
periodic images), weighted RMS on each site's exchange-correlation mesh;
per structure its worst site (what OLCAO's test prints) and mean, per element
the mean and worst atom. It follows OLCAO's first-iteration convergence value
(docs/model.md) where RMS V(r) does not.

By default only structures the model never saw (neither training nor
validation) are evaluated; --which selects other sets. After the pooled
table per element comes a table per structure (V(r) RMS of every method,
mHa), so that one structure the network gets wrong (an interstitial, say)
shows up; a warning is printed when the network does not beat a baseline.
--json writes all of it (key "per_structure" for the second table).
--plots draws, per element, potentials_<El>.png (V(r) of the atoms
nearest to, at median distance from and farthest from the model's average
atom, relative to that fixed average, with the isolated-atom start, and the
errors Delta V(r) with their RMS) and parity_<El>.png (coefficients on a
robust range with error figures, and each atom's error against its
distance from the average atom, coloured by structure).

Arguments and output paths are checked before the dataset's descriptors are
computed or TensorFlow is imported.

After the tables, the uncertainty against the actual per-atom error:
Spearman rank correlation of sigma and error, the fractions of atoms within
1 and 2 sigma, and a per-structure table (with --plots: error_vs_sigma.png).
"""

WHICH = ("unseen", "all", "train", "validation", "holdout")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model directory (from 'olcaoml train')")
    p.add_argument("dataset", help="dataset file (from 'olcaoml convert')")
    p.add_argument(
        "--which",
        choices=WHICH,
        default="unseen",
        help="structures to evaluate (default: unseen = not used "
        "for training or validation)",
    )
    p.add_argument(
        "--structures",
        nargs="+",
        metavar="NAME",
        help="evaluate exactly these structures",
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="write parity_<El>.png and potentials_<El>.png here",
    )
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.add_argument(
        "--no-solver-metric",
        action="store_true",
        help="skip the solver-aligned error (OLCAO's convergence measure of "
        "start - converged on each site's XC mesh; a few seconds per structure)",
    )


def select_structures(model, dataset, which: str, names) -> list[str]:
    from pyolcaoml.cli import CLIError

    if names:
        missing = [n for n in names if n not in dataset.names]
        if missing:
            raise CLIError(f"not in {dataset.path}: {', '.join(missing)}")
        return list(names)
    tr = model.training
    seen = set(tr.get("train_structures", [])) | set(
        tr.get("validation_structures", [])
    )
    if which == "all":
        return list(dataset.names)
    if which == "unseen":
        chosen = [n for n in dataset.names if n not in seen]
        if not chosen:
            raise CLIError(
                "every structure of the dataset was used to train or validate "
                "the model; use --which all (or train/validation) to evaluate "
                "them anyway"
            )
        return chosen
    key = {
        "train": "train_structures",
        "validation": "validation_structures",
        "holdout": "holdout_structures",
    }[which]
    chosen = [n for n in dataset.names if n in set(tr.get(key, []))]
    if not chosen:
        raise CLIError(f"the dataset has none of the model's {which} structures")
    return chosen


def per_structure_errors(model, dataset, x_all, ids, symbol) -> dict[str, dict]:
    """{structure name: method_errors} for the atoms of one element."""
    from pyolcaoml.model.evaluation import method_errors

    ed = dataset.elements[symbol]
    out = {}
    for sid in ids:
        rows = dataset.element_rows(symbol, [sid])
        if rows.size:
            out[dataset.names[int(sid)]] = method_errors(
                model, symbol, x_all[ed.atom_index[rows]], ed.coeffs[rows]
            )
    return out


def format_structure_table(per: dict[str, dict[str, dict]]) -> str:
    """Rows: structure, element, atoms, V(r) RMS (mHa) of every method and
    the best baseline / network ratio (below 1: the network loses there)."""
    from pyolcaoml.model.evaluation import METHOD_LABELS

    methods = list(next(iter(next(iter(per.values())).values())))
    width = max(24, *(len(n) for n in per))
    head = f"  {'structure':<{width}} {'El':<3}{'atoms':>6}" + "".join(
        f"{METHOD_LABELS.get(m, m).split(' (')[0]:>15}" for m in methods
    )
    lines = ["per structure: V(r) RMS error (mHa)", head + f"{'best base/net':>15}"]
    for name, elements in per.items():
        for symbol, table in elements.items():
            net = table["network"]["rms_v_hartree"]
            best = min(e["rms_v_hartree"] for m, e in table.items() if m != "network")
            flag = "  <- network worse" if best <= net else ""
            lines.append(
                f"  {name:<{width}} {symbol:<3}{table['network']['n_atoms']:>6}"
                + "".join(f"{table[m]['rms_v_hartree'] * 1e3:>15.4g}" for m in methods)
                + f"{best / max(net, 1e-300):>14.2f}x{flag}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_dataset, load_model
    from pyolcaoml.model.evaluation import (
        baseline_warnings,
        format_table,
        method_errors,
    )
    from pyolcaoml.model.workflow import dataset_descriptors
    from pyolcaoml.outputs import OutputPathError, check_output, write_text

    try:  # output paths first: nothing is computed for a bad one
        if args.json:
            check_output(args.json, option="--json", may_exist=True)
        if args.plots:
            check_output(args.plots, option="--plots", directory=True, may_exist=True)
    except OutputPathError as exc:
        raise CLIError(str(exc)) from None
    try:
        model = load_model(args.model, networks=False)  # metadata: no TensorFlow
        dataset = load_dataset(args.dataset)
        names = select_structures(model, dataset, args.which, args.structures)
        ids = dataset.structure_ids(names)
        symbols = []
        for symbol in sorted(dataset.elements):
            ed = dataset.elements[symbol]
            if dataset.element_rows(symbol, ids).size == 0:
                continue
            if symbol not in model.elements:
                raise ModelError(
                    f"element {symbol} is in the dataset but not in the model"
                )
            em = model.elements[symbol]
            if ed.alphas.shape != em.alphas.shape or not np.allclose(
                ed.alphas, em.alphas, rtol=1e-6
            ):
                raise ModelError(
                    f"{symbol}: the dataset's exponents differ from the model's"
                )
            symbols.append(symbol)
        if not symbols:
            raise ModelError("no atoms of the model's elements in those structures")
        x_all = dataset_descriptors(dataset, model.descriptor)
        if x_all.shape[1] != model.n_features:
            raise ModelError(
                f"dataset descriptors have {x_all.shape[1]} features, the model "
                f"{model.n_features}"
            )
        model = load_model(model.path)  # the networks (TensorFlow)
        report: dict = {
            "model": model.path,
            "dataset": dataset.path,
            "structures": names,
            "metric": model.metric.description,
            "elements": {},
            "per_structure": {},
            "warnings": [],
        }
        print(
            f"model {model.path}\ndataset {dataset.path}: {len(names)} "
            f"structure(s): {', '.join(names[:8])}" + (" ..." if len(names) > 8 else "")
        )
        if args.plots:
            os.makedirs(args.plots, exist_ok=True)
        split = (
            "unseen"
            if args.which == "unseen" and not args.structures
            else ("the given" if args.structures else args.which)
        )
        for symbol in symbols:
            ed = dataset.elements[symbol]
            rows = dataset.element_rows(symbol, ids)
            em = model.elements[symbol]
            x = x_all[ed.atom_index[rows]]
            true = ed.coeffs[rows]
            table = method_errors(model, symbol, x, true)
            report["elements"][symbol] = table
            print()
            print(format_table(symbol, table, model.metric.description))
            for text in baseline_warnings(symbol, table, f"the {split} structures"):
                report["warnings"].append(text)
                print(f"warning: {text}", file=sys.stderr)
            for key, label, sel in _environments(em, x):
                sub = method_errors(model, symbol, x[sel], true[sel])
                report.setdefault("environments", {}).setdefault(symbol, {})[key] = sub
                print()
                print(format_table(f"{symbol} {label}", sub, model.metric.description))
            for name, t in per_structure_errors(
                model, dataset, x_all, ids, symbol
            ).items():
                report["per_structure"].setdefault(name, {})[symbol] = t
            if args.plots:
                _plots(args.plots, model, dataset, symbol, em, rows, x, true, split)
        if not report["elements"]:
            raise ModelError("no atoms of the model's elements in those structures")
        if not args.no_solver_metric:
            from pyolcaoml.model.evaluation import METHOD_LABELS, METHODS
            from pyolcaoml.model.solver_metric import (
                dataset_solver_errors,
                format_solver_table,
            )

            solver = dataset_solver_errors(model, dataset, names, x_all, METHODS)
            report["solver_metric"] = solver
            print()
            print(format_solver_table(solver, METHOD_LABELS))
        from pyolcaoml.model.calibration import (
            atom_errors,
            format_uncertainty,
            plot_error_vs_sigma,
            uncertainty_report,
        )

        ae = atom_errors(model, dataset, names, x_all)
        report["uncertainty"] = uncertainty_report(ae)
        print()
        print(format_uncertainty(report["uncertainty"]))
        if args.plots:
            plot_error_vs_sigma(os.path.join(args.plots, "error_vs_sigma.png"), ae)
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    print()
    print(format_structure_table(report["per_structure"]))
    if args.plots:
        print(f"\nplots written to {os.path.abspath(args.plots)}")
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
        print(f"wrote {os.path.abspath(args.json)}")
    return 0


def _environments(em, x):
    """For an element with an environment variant: (key, label, rows) of
    its atoms that the variant networks predict and of the others."""
    if em.variant_columns is None or not em.variant_members:
        return []
    switched = em.uses_variant(x)
    near = "/".join(em.variant_elements) or "new-element"
    parts = [
        ("variant", f"with a {near} neighbour (variant networks)", switched),
        ("own", f"without a {near} neighbour (own networks)", ~switched),
    ]
    return [p for p in parts if p[2].any()]


def _plots(folder, model, dataset, symbol, em, rows, x, true, split) -> None:
    """parity_<El>.png and potentials_<El>.png (see the module description)."""
    from pyolcaoml.model.evaluation import pick_atoms, plot_parity, plot_potentials

    ed = dataset.elements[symbol]
    atoms = ed.atom_index[rows]
    structure_of = [dataset.names[int(dataset.structure_index[a])] for a in atoms]
    curves_all = {
        m: model.predict_element(symbol, x, m) for m in ("network", "ridge", "average")
    }
    where = f"model {os.path.basename(model.path)}, {split} structures"
    plot_parity(
        os.path.join(folder, f"parity_{symbol}.png"),
        symbol,
        curves_all["network"],
        true,
        title=f"{symbol}: network vs OLCAO ({where})",
        alphas=em.alphas,
        metric=model.metric,
        baselines={"ridge": curves_all["ridge"], "average": curves_all["average"]},
        structure_of_atom=structure_of,
    )
    pick = pick_atoms(true, em.average, em.alphas, model.metric)
    why = ("farthest from", "median distance to", "nearest to")
    labels = []
    for k, p in enumerate(pick):
        a = int(atoms[p])
        s = int(dataset.structure_index[a])
        reason = f"\n({why[k]} the average atom)" if len(pick) == len(why) else ""
        labels.append(
            f"{dataset.names[s]} atom {int(a - dataset.atom_start[s]) + 1}{reason}"
        )
    plot_potentials(
        os.path.join(folder, f"potentials_{symbol}.png"),
        symbol,
        em.alphas,
        {m: c[pick] for m, c in curves_all.items()},
        true[pick],
        labels,
        model.metric,
        average=em.average,
        isolated=em.isolated,
        title=f"{symbol}: V(r) relative to the model's average atom ({where})",
    )
