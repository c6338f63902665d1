#!/usr/bin/env python3
"""How many hops of the neighbour mean for Si: a training-only split.

Usage (from the repository root)::

    python data/make_default_model.py --asi --dataset si.h5 \\
        --output-dir /tmp/trial        # any Si dataset with a 2-hop descriptor
    python benchmarks/si_hops.py si.h5 --hops 2 3 [--seed 0] [--crystalline]

The dataset's descriptor holds H hops of the neighbour mean; further hops
are appended from its last hop's stored columns with
``NeighbourMean.mean_of`` (the core's averaging, the same switching range),
so no bispectrum is recomputed. The first structure's appended hop is
checked against the package's own descriptor with that many hops.
HOLDOUT (the bundled model's held-out runs) stays out; a seeded random
quarter of the other structures validates (the same for every row).
``--crystalline`` leaves out the amorphous structures (names asi*).
One network per row (64 x 64, L2 1e-4, the bundled recipe's settings, one
member), beside ridge and the average atom; RMS V(r) in mHa on the
validation structures, pooled and per kind (rattled 8-atom, defect,
amorphous).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def with_more_hops(ds, hops: int):
    """The dataset with hops appended until it has ``hops`` of them."""
    from pyolcaoml.bispectrum import descriptor_from_dict

    nm = descriptor_from_dict(ds.descriptor)
    have = int(ds.descriptor.get("hops", 1))
    if hops <= have:
        return ds
    k = nm.inner.n_features
    rows = []
    for i in range(ds.n_structures):
        a, n = int(ds.atom_start[i]), int(ds.n_atoms[i])
        cols = [ds.descriptors[a : a + n]]
        last = cols[0][:, -k:]
        for _ in range(hops - have):
            last = nm.mean_of(ds.structure(i), last)
            cols.append(last)
        rows.append(np.hstack(cols))
    ds.descriptors = np.vstack(rows)
    ds.descriptor = {**ds.descriptor, "hops": hops}
    # the package's own descriptor with that many hops, on one structure
    own = descriptor_from_dict(ds.descriptor).compute(ds.structure(0))
    n0 = int(ds.n_atoms[0])
    np.testing.assert_allclose(ds.descriptors[:n0], own, rtol=1e-10, atol=1e-12)
    return ds


def spike_config(validation, holdout, seed: int):
    """The spikes' training settings: one 64 x 64 network, L2 1e-4, the
    given validation and held-out structures, unconverged runs kept."""
    from pyolcaoml.model.training import TrainConfig

    return TrainConfig(
        hidden=(64, 64),
        l2=1e-4,
        validation=tuple(validation),
        holdout=tuple(sorted(holdout)),
        include_unconverged=True,
        seed=seed,
    )


def squared_error(a: np.ndarray, ref: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Each atom's squared V(r) error (Hartree^2) in the model's metric."""
    d = a - ref
    return np.einsum("an,nk,ak->a", d, gram, d)


def kind(name: str) -> str:
    if name.startswith("asi"):
        return "amorphous"
    if name.startswith("si8"):
        return "rattled 8-atom"
    return "defect"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", help="a Si dataset (neighbour-mean descriptor)")
    p.add_argument("--hops", type=int, nargs="+", default=[2, 3])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--crystalline", action="store_true", help="leave out asi*")
    args = p.parse_args(argv)

    sys.path.insert(0, os.path.join(HERE, "..", "data"))
    from make_default_model import HOLDOUT

    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.training import train_model
    from pyolcaoml.model.uncertainty import sigma_gram

    names = load_dataset(args.dataset).names
    held = set(HOLDOUT)
    if args.crystalline:
        held |= {n for n in names if n.startswith("asi")}
    pool = sorted(n for n in names if n not in held)
    rng = np.random.default_rng(7)
    val = sorted(rng.choice(pool, size=len(pool) // 4, replace=False).tolist())
    kinds = sorted({kind(n) for n in val})
    print(f"{len(pool) - len(val)} training, {len(val)} validation structures")
    head = " | ".join(f"{k} net / ridge" for k in kinds)
    print(f"| hops | columns | network | ridge | average | {head} |")
    print("|---|---|---|---|---|" + "---|" * len(kinds))
    for hops in args.hops:
        ds = with_more_hops(load_dataset(args.dataset), hops)
        m = train_model(ds, spike_config(val, held, args.seed))
        met = m.metrics["Si"]["validation"]
        rms = {
            k: met[k]["rms_v_hartree"] * 1e3 for k in ("network", "ridge", "average")
        }
        per = []
        el = ds.elements["Si"]
        x = ds.descriptors[el.atom_index]
        st = np.asarray(ds.structure_index[el.atom_index])
        names_of = np.array([ds.names[i] for i in st])
        g = sigma_gram(m.metric, el.alphas)
        e_net = squared_error(m.predict_element("Si", x), el.coeffs, g)
        e_ridge = squared_error(m.elements["Si"].ridge.predict(x), el.coeffs, g)
        for k in kinds:
            r = np.isin(names_of, [n for n in val if kind(n) == k])
            per.append(
                f"{np.sqrt(e_net[r].mean()) * 1e3:.2f} / "
                f"{np.sqrt(e_ridge[r].mean()) * 1e3:.2f}"
            )
        print(
            f"| {hops} | {ds.descriptors.shape[1]} | {rms['network']:.2f} | "
            f"{rms['ridge']:.2f} | {rms['average']:.2f} | " + " | ".join(per) + " |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
