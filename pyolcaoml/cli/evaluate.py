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
validation) are evaluated; --which selects other sets.
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


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_dataset, load_model
    from pyolcaoml.model.evaluation import (
        format_table,
        method_errors,
        pick_atoms,
        plot_parity,
        plot_potentials,
    )
    from pyolcaoml.model.workflow import dataset_descriptors

    try:
        model = load_model(args.model)
        dataset = load_dataset(args.dataset)
        names = select_structures(model, dataset, args.which, args.structures)
        x_all = dataset_descriptors(dataset, model.descriptor)
        if x_all.shape[1] != model.n_features:
            raise ModelError(
                f"dataset descriptors have {x_all.shape[1]} features, the model "
                f"{model.n_features}"
            )
        ids = dataset.structure_ids(names)
        report: dict = {
            "model": model.path,
            "dataset": dataset.path,
            "structures": names,
            "metric": model.metric.description,
            "elements": {},
        }
        print(
            f"model {model.path}\ndataset {dataset.path}: {len(names)} "
            f"structure(s): {', '.join(names[:8])}" + (" ..." if len(names) > 8 else "")
        )
        if args.plots:
            os.makedirs(args.plots, exist_ok=True)
        for symbol in sorted(dataset.elements):
            ed = dataset.elements[symbol]
            rows = dataset.element_rows(symbol, ids)
            if rows.size == 0:
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
            x = x_all[ed.atom_index[rows]]
            true = ed.coeffs[rows]
            table = method_errors(model, symbol, x, true)
            report["elements"][symbol] = table
            print()
            print(format_table(symbol, table, model.metric.description))
            if args.plots:
                net = model.predict_element(symbol, x, "network")
                plot_parity(
                    os.path.join(args.plots, f"parity_{symbol}.png"), symbol, net, true
                )
                pick = pick_atoms(true, em.average, em.alphas, model.metric)
                atom_rows = ed.atom_index[rows[pick]]
                labels = []
                for a in atom_rows:
                    s = int(dataset.structure_index[a])
                    labels.append(
                        f"{dataset.names[s]} atom {int(a - dataset.atom_start[s]) + 1}"
                    )
                curves = {
                    m: model.predict_element(symbol, x[pick], m)
                    for m in ("network", "ridge", "average")
                }
                plot_potentials(
                    os.path.join(args.plots, f"potentials_{symbol}.png"),
                    symbol,
                    em.alphas,
                    curves,
                    true[pick],
                    labels,
                    model.metric,
                )
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
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    if args.plots:
        print(f"\nplots written to {os.path.abspath(args.plots)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0
