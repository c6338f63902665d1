#!/usr/bin/env python3
"""Settings of the bundled Si + C model, checked on SiC *training* runs only.

Usage (a dataset converted as data/make_default_model.py --sic-runs does,
e.g. with its ``--dataset DATA.h5``)::

    python benchmarks/sic_settings.py DATA.h5 [--base-model data/sic_base_model]

Two validation splits of the SiC runs that are not held out (SIC_HOLDOUT and
the Si HOLDOUT of data/make_default_model.py stay untouched):

``families``
    every run of the C interstitial, random-packing and Si-vacancy families
    (new kinds of environment: extrapolation);
``random``
    a seeded random quarter of the SiC training runs.

Printed, RMS V(r) in mHa on the validation atoms:

1. the C network (one network, seed 0) for several sizes and L2 strengths,
   beside ridge and the average atom;
2. the extension of the Si network (``train --extend``, member 1 of the
   base model) for several L2 strengths on its new weights, with and
   without a difference tower (``--extend-tower``), on the Si atoms with a
   C neighbour, beside ridge on all Si atoms and on the SiC Si atoms;
3. the Si variant (``train --extend-variant``): the base network kept for
   pure Si, a new network for the Si atoms with a C neighbour
   (``--parts variant``: this part alone).

Takes ~25 min on 2 cores. Results: docs/model.md, "The bundled Si + C
model".
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))

import make_default_model as mdm  # noqa: E402

NETWORKS = [((64, 64), 1e-4), ((64, 64), 1e-2), ((32, 32), 1e-3), ((16,), 1e-3)]
#: (L2 on the new weights, widths of the difference tower; () for none)
EXTENSIONS = [
    (1e-4, ()),
    (1e-2, ()),
    (1.0, ()),
    (1e-2, (32, 32)),
    (1e-3, (32, 32)),
    (1e-2, (64, 64)),
]


def splits(names: list[str]) -> dict[str, list[str]]:
    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    sic = [n for n in names if n.startswith("sic") and n not in held]
    families = ("sic16_Ci_", "sic16_rr_", "sic16_vacSi_")
    rng = np.random.default_rng(5)
    return {
        "families": sorted(n for n in sic if n.startswith(families)),
        "random": sorted(rng.choice(sic, size=len(sic) // 4, replace=False).tolist()),
    }


def c_networks(ds, val: list[str], label: str) -> None:
    from pyolcaoml.model.training import TrainConfig, train_model

    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    pure = {n for n in ds.names if not n.startswith("sic")}
    for hidden, l2 in NETWORKS:
        cfg = TrainConfig(
            hidden=hidden,
            l2=l2,
            validation=tuple(val),
            holdout=tuple(sorted(pure | held)),
            include_unconverged=True,
            seed=0,
        )
        v = train_model(ds, cfg).metrics["C"]["validation"]
        rms = {k: v[k]["rms_v_hartree"] * 1e3 for k in ("network", "ridge", "average")}
        print(
            f"{label:9s} C network {hidden} L2 {l2:g}: {rms['network']:.2f}  "
            f"ridge {rms['ridge']:.2f}  average atom {rms['average']:.2f}",
            flush=True,
        )


def extensions(ds, val: list[str], label: str, base_model: str) -> None:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.extend import (
        base_network,
        embedding_columns,
        fit_extension,
        read_extension,
    )
    from pyolcaoml.model.network import import_keras, predict_batched
    from pyolcaoml.model.training import TrainConfig

    keras = import_keras()
    keras.config.set_floatx("float64")
    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    train = [n for n in ds.names if n not in held and n not in set(val)]
    ext = read_extension(base_model)
    cols = embedding_columns(ext.descriptor, ds.descriptor, ext.elements)
    ed = ds.elements["Si"]
    rows = {
        k: ds.element_rows("Si", ds.structure_ids(v))
        for k, v in (("train", train), ("validation", val))
    }
    x = {k: ds.descriptors[ed.atom_index[r]] for k, r in rows.items()}
    y = {k: ed.coeffs[r] for k, r in rows.items()}
    rest = np.setdiff1d(np.arange(ds.descriptors.shape[1]), cols)
    near_c = {k: np.any(v[:, rest] != 0, axis=1) for k, v in x.items()}
    metric = TrainConfig().metric

    def rms(pred: np.ndarray) -> float:
        s = near_c["validation"]
        return metric.rms(pred[s], y["validation"][s], ed.alphas) * 1e3

    base = base_network(ext, "Si", 0)
    for l2, tower in EXTENSIONS:
        cfg = replace(
            TrainConfig(), l2=l2, extend_tower=tower, patience=100, max_epochs=1000
        )
        keras.utils.set_random_seed(0)
        net, info, _ = fit_extension("Si", base, cols, x, y, ed.isolated, cfg)
        print(
            f"{label:9s} Si extension L2 {l2:g} tower {tower or 'none'}: "
            f"{rms(predict_batched(net, x['validation'])):.2f} "
            f"(best epoch {info['best_epoch']})",
            flush=True,
        )
    gram = metric.gram(ed.alphas)
    groups = ds.structure_index[ed.atom_index[rows["train"]]]
    joint = fit_ridge(x["train"], y["train"], groups, gram)
    t = near_c["train"]
    sic_only = fit_ridge(x["train"][t], y["train"][t], groups[t], gram)
    print(
        f"{label:9s} Si ridge, all Si atoms: {rms(joint.predict(x['validation'])):.2f}"
        f"  ridge, SiC Si atoms only: {rms(sic_only.predict(x['validation'])):.2f}",
        flush=True,
    )


def variant(
    ds,
    val: list[str],
    label: str,
    base_model: str,
    learning_rates: list[float] | None = None,
) -> None:
    """The Si variant (``train --extend --extend-variant``): the base
    network kept for pure-Si atoms, a new network for the Si atoms with a
    C neighbour: 64 x 64 (the shipped size) and 32 x 32 at TrainConfig's
    default learning rate, or, with ``learning_rates``, 64 x 64 at each of
    them (the shipped recipe uses 1.5e-4: SIC_EXTEND_ARGS)."""
    from pyolcaoml.model.training import TrainConfig, train_model

    held = set(mdm.HOLDOUT + mdm.SIC_HOLDOUT)
    default_lr = TrainConfig().learning_rate
    runs = (
        [((64, 64), 1e-4, lr) for lr in learning_rates]
        if learning_rates
        else [((64, 64), 1e-4, default_lr), ((32, 32), 1e-3, default_lr)]
    )
    for hidden, l2, lr in runs:
        cfg = TrainConfig(
            hidden=hidden,
            l2=l2,
            learning_rate=lr,
            validation=tuple(val),
            holdout=tuple(sorted(held & set(ds.names))),
            include_unconverged=True,
            extend_from=os.path.abspath(base_model),
            extend_variant=True,
            seed=0,
        )
        model = train_model(ds, cfg, member=0)
        v = model.metrics["Si"]["validation"]
        best = model.training["per_element"]["Si"].get("best_epoch")
        print(
            f"{label:9s} Si variant {hidden} L2 {l2:g} learning rate {lr:g}: "
            f"{v['network']['rms_v_hartree'] * 1e3:.2f} (best epoch {best})  "
            f"(ridge on all Si atoms {v['ridge']['rms_v_hartree'] * 1e3:.2f})",
            flush=True,
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset")
    default = os.path.join(HERE, "..", "data", "sic_base_model")
    p.add_argument("--base-model", default=default)
    p.add_argument(
        "--parts",
        default="c,extension,variant",
        help="comma-separated: c (C networks), extension (Si first-layer "
        "extensions and towers), variant (Si variant networks); default all",
    )
    p.add_argument(
        "--variant-learning-rates",
        help="comma-separated learning rates: the 64 x 64 Si variant at each "
        "(instead of the two sizes at the default rate)",
    )
    p.add_argument(
        "--splits",
        default="families,random",
        help="comma-separated: families, random (default both)",
    )
    args = p.parse_args()
    parts = set(args.parts.split(","))
    rates = (
        [float(v) for v in args.variant_learning_rates.split(",")]
        if args.variant_learning_rates
        else None
    )
    wanted = set(args.splits.split(","))
    from pyolcaoml.model.data import load_dataset

    ds = load_dataset(args.dataset)
    for label, val in splits(ds.names).items():
        if label not in wanted:
            continue
        print(f"{label}: {len(val)} validation runs: {', '.join(val)}", flush=True)
        if "c" in parts:
            c_networks(ds, val, label)
        if "extension" in parts:
            extensions(ds, val, label, args.base_model)
        if "variant" in parts:
            variant(ds, val, label, args.base_model, rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
