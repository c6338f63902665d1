#!/usr/bin/env python3
"""Would an amorphous-only SiC model be better on amorphous SiC (docs/model.md,
"Stop 35")?

Usage (from the repository root)::

    python benchmarks/sic_amorphous_ridge.py TRAIN.h5 TEST.h5 [TEST.h5 ...] \\
        [--model data/sic_model]

TRAIN is a SiC dataset converted with the model's descriptor (as
``data/make_default_model.py --sic-runs ... --dataset TRAIN.h5`` writes it);
TEST are more datasets of the same descriptor. The amorphous cells are
those named ``*_rr*``. Ridge in the V(r) metric
(:func:`pyolcaoml.model.baselines.fit_ridge`, strength by grouped
cross-validation) is fitted per element on the SiC cells that MODEL trained
on, once on its amorphous cells only and once on all of them. It is tested
on every amorphous cell of TRAIN and TEST that MODEL never trained on,
beside MODEL's network and ridge and the amorphous training cells' average
atom. RMS V(r) in mHa.
"""

from __future__ import annotations

import argparse

import numpy as np


def _rows(ds, names: set[str], element: str):
    """Descriptors, coefficients (Hartree) and structure index of the
    ``element`` atoms of the structures ``names`` of ``ds``."""
    ed = ds.element_data[element]
    structure = ds.structure_index[ed.atom_index]
    keep = np.isin(structure, [i for i, n in enumerate(ds.names) if n in names])
    return ds.descriptors[ed.atom_index][keep], ed.coeffs[keep], structure[keep]


def _is_sic(ds, i: int) -> bool:
    return {"Si", "C"} <= set(ds.elements[ds.atom_rows(i)])


def main(argv: list[str] | None = None) -> int:
    from pyolcaoml.dataset import load_dataset
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.saved import load_model

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("train")
    p.add_argument("tests", nargs="*")
    p.add_argument("--model", default="sic")
    args = p.parse_args(argv)

    model = load_model(args.model)
    trained = set(model.training["train_structures"])
    train = load_dataset(args.train)
    sic = {n for i, n in enumerate(train.names) if n in trained and _is_sic(train, i)}
    amorphous = {n for n in sic if "_rr" in n}
    tests = [
        (ds, {n for n in ds.names if "_rr" in n and n not in trained})
        for ds in [train, *(load_dataset(t) for t in args.tests)]
    ]
    print(
        f"model {model.path}: trained on {len(sic)} SiC cells, {len(amorphous)} "
        f"amorphous; tested on {sum(len(n) for _, n in tests)} amorphous cells "
        "it never trained on"
    )
    metric = RadialMetric()
    print(
        "| element | atoms | amorphous-only ridge | all-SiC ridge "
        "| model network | model ridge | average atom |"
    )
    print("|---|---|---|---|---|---|---|")
    for el in ("C", "Si"):
        alphas = train.element_data[el].alphas
        gram = metric.gram(alphas)
        fits = {}
        for label, names in (("amorphous", amorphous), ("all", sic)):
            x, y, g = _rows(train, names, el)
            fits[label] = fit_ridge(x, y, g, gram)
        average = _rows(train, amorphous, el)[1].mean(axis=0)
        sq: dict[int, list[np.ndarray]] = {k: [] for k in range(5)}
        for ds, names in tests:
            x, y, g = _rows(ds, names, el)
            for i in np.unique(g):
                rows = ds.atom_rows(int(i))
                symbols = list(ds.elements[rows])
                mine = np.array(symbols) == el
                xs = ds.descriptors[rows]
                net, _ = model.predict_uncertainty(symbols, xs)
                lin = model.predict(symbols, xs, method="ridge")
                yi, xi = y[g == i], x[g == i]
                preds = [
                    fits["amorphous"].predict(xi),
                    fits["all"].predict(xi),
                    np.array([a for a, m in zip(net, mine, strict=True) if m]),
                    np.array([a for a, m in zip(lin, mine, strict=True) if m]),
                    np.broadcast_to(average, yi.shape),
                ]
                for k, pred in enumerate(preds):
                    sq[k].append(metric.rms_per_atom(pred, yi, alphas) ** 2)
        rms = [1e3 * np.sqrt(np.mean(np.concatenate(sq[k]))) for k in range(5)]
        n = len(np.concatenate(sq[0]))
        print(f"| {el} | {n} | " + " | ".join(f"{v:.2f}" for v in rms) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
