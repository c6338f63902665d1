#!/usr/bin/env python3
"""Can the amorphous SiC model's networks beat their ridge (docs/model.md,
"Stop 36")? Settings checked on its *training* cells only.

Usage (the dataset that ``data/make_default_model.py --sicam --dataset
DATA.h5`` converts)::

    python benchmarks/sicam_settings.py DATA.h5 [--fraction 0.25] [--seed 7]

A seeded random part (``--fraction``) of the amorphous SiC training cells
is held apart as a test; SIC_HOLDOUT stays held out as in the recipe. For
each setting one network (member 0, seed 0) is trained per element on the
rest the way the recipe does (``--extend data/sic_base_model
--extend-variant``, early stopping on a random fifth of the rest) and
tested on the held-apart cells, beside the same model's ridge and the
training cells' average atom. RMS V(r) in mHa per element, and each
network's best epoch.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))

import make_default_model as mdm  # noqa: E402

#: (label, hidden widths, L2 on the hidden kernels, learning rate)
SETTINGS = [
    ("shipped 64x64 L2 1e-4", (64, 64), 1e-4, 1.5e-4),
    ("64x64 L2 1e-2", (64, 64), 1e-2, 1.5e-4),
    ("64x64 L2 1e-1", (64, 64), 1e-1, 1.5e-4),
    ("16 L2 1e-2", (16,), 1e-2, 1.5e-4),
    ("64x64 L2 1e-4, lr 2e-5", (64, 64), 1e-4, 2e-5),
]


def held_apart(
    names: list[str], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """(the amorphous SiC training cells among ``names``, the seeded random
    ``fraction`` of them held apart as a test); SIC_HOLDOUT and the Si
    HOLDOUT are never in either."""
    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    pool = sorted(n for n in names if mdm.is_amorphous_sic(n) and n not in held)
    rng = np.random.default_rng(seed)
    size = int(round(fraction * len(pool)))
    return pool, sorted(rng.choice(pool, size=size, replace=False))


def ridge_held_apart(ds, metric, el: str, train: list[str], test: list[str]):
    """Ridge in the V(r) metric (the package's ``fit_ridge``, strength by
    grouped cross-validation) fitted on ``el``'s atoms of ``train``: its
    (predicted, true coefficients, cell index) of ``el``'s atoms of
    ``test``."""
    from pyolcaoml.model.baselines import fit_ridge

    ed = ds.elements[el]
    rt = ds.element_rows(el, ds.structure_ids(train))
    rs = ds.element_rows(el, ds.structure_ids(test))
    fit = fit_ridge(
        ds.descriptors[ed.atom_index[rt]],
        ed.coeffs[rt],
        ds.structure_index[ed.atom_index[rt]],
        metric.gram(ed.alphas),
    )
    pred = fit.predict(ds.descriptors[ed.atom_index[rs]])
    return pred, ed.coeffs[rs], ds.structure_index[ed.atom_index[rs]]


def _errors(ds, model, names: list[str]) -> dict[str, np.ndarray]:
    """Per element, the squared RMS V of each atom of the structures
    ``names``: network and ridge (columns). An atom's prediction depends on
    its own descriptors only (the Si variant too), so each element's atoms
    are predicted together."""
    out = {}
    ids = ds.structure_ids(names)
    for el, ed in ds.elements.items():
        r = ds.element_rows(el, ids)
        if r.size == 0:
            continue
        x, true = ds.descriptors[ed.atom_index[r]], ed.coeffs[r]
        symbols = [el] * len(r)
        preds = (model.predict(symbols, x), model.predict(symbols, x, method="ridge"))
        out[el] = np.stack(
            [
                model.metric.rms_per_atom(np.array(p), true, ed.alphas) ** 2
                for p in preds
            ],
            axis=1,
        )
    return out


def main() -> int:
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.training import TrainConfig, train_model

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--base-model", default=mdm.SIC_BASE_MODEL)
    p.add_argument("--fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    pool, test = held_apart(ds.names, args.fraction, args.seed)
    print(f"{len(pool)} amorphous SiC training cells; {len(test)} held apart")
    print(
        "| setting | C network | C ridge | C best epoch | Si network | Si ridge "
        "| Si best epoch |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, hidden, l2, lr in SETTINGS:
        cfg = TrainConfig(
            hidden=hidden,
            l2=l2,
            learning_rate=lr,
            holdout=tuple(sorted((held & set(ds.names)) | set(test))),
            include_unconverged=True,
            extend_from=os.path.abspath(args.base_model),
            extend_variant=True,
            seed=0,
        )
        model = train_model(ds, cfg, member=0)
        err = _errors(ds, model, test)
        per = model.training["per_element"]
        cells = []
        for el in ("C", "Si"):
            rms = 1e3 * np.sqrt(err[el].mean(axis=0))
            best = per.get(el, {}).get("best_epoch")
            cells += [f"{rms[0]:.2f}", f"{rms[1]:.2f}", str(best)]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
