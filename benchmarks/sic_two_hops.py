#!/usr/bin/env python3
"""One hop or two for SiC: a training-only split (docs/model.md, "Stop 27").

Usage (from the repository root)::

    python data/make_default_model.py --sic-runs data/sic/runs --sic-spent \\
        --dataset sic.h5 --output-dir /tmp/trial      # or any sic dataset
    python benchmarks/sic_two_hops.py sic.h5 --hops 1 2 [--seed 0]

The dataset's descriptor is the sic one (a neighbour mean of one hop); the
second hop is computed from its stored first-hop columns with
``NeighbourMean.mean_of`` (the core's averaging, the same switching
ranges; ``si_hops.with_more_hops``), so no bispectrum is recomputed.
Pure-Si structures and SIC_HOLDOUT stay out; a seeded random quarter of
the other SiC runs validates.  One joint C + Si network each (64 x 64,
L2 1e-4; ``si_hops.spike_config``), beside ridge and the average atom; RMS V(r) in mHa.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", help="a sic dataset (one-hop descriptor)")
    p.add_argument("--hops", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    sys.path.insert(0, os.path.join(HERE, "..", "data"))
    from make_default_model import SIC_HOLDOUT
    from si_hops import spike_config, with_more_hops

    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.training import train_model

    print("| hops | C network | C ridge | Si network | Si ridge | average C / Si |")
    print("|---|---|---|---|---|---|")
    for hops in args.hops:
        ds = load_dataset(args.dataset)
        if hops == 2:
            ds = with_more_hops(ds, 2)
        sic = [
            ds.names[i]
            for i in range(ds.n_structures)
            if "C" in ds.structure(i).symbols
        ]
        held = set(SIC_HOLDOUT) | (set(ds.names) - set(sic))
        pool = sorted(n for n in sic if n not in held)
        rng = np.random.default_rng(7)
        val = sorted(rng.choice(pool, size=len(pool) // 4, replace=False).tolist())
        m = train_model(ds, spike_config(val, held, args.seed))
        rms = {
            (el, kind): m.metrics[el]["validation"][kind]["rms_v_hartree"] * 1e3
            for el in ("C", "Si")
            for kind in ("network", "ridge", "average")
        }
        print(
            f"| {hops} | {rms['C', 'network']:.2f} | {rms['C', 'ridge']:.2f} | "
            f"{rms['Si', 'network']:.2f} | {rms['Si', 'ridge']:.2f} | "
            f"{rms['C', 'average']:.1f} / {rms['Si', 'average']:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
