#!/usr/bin/env python3
"""Spike (docs/model.md, "Stop 39"): learn the diffuse terms' projections
b = K A on OLCAO's convergence mesh instead of their coefficients A.

Usage (the Si model's training set, as ``data/make_default_model.py
--dataset DATA.h5`` converts it; about 5 minutes)::

    python benchmarks/si_projection_target.py DATA.h5 [--seed 7] [--diffuse 5]

OLCAO fits its output potential by least squares (potentialUpdate.F90: the
exchange-correlation part with the Gram matrix of the Gaussians on its
mesh), so a coefficient is a non-local function of the potential: the
inverse Gram couples every site. The projections b of the potential onto
the Gaussians are local. Here K is the structure's mesh Gram
(``SolverMetric.gram``); b is fitted by ridge on the descriptors and mapped
back by (K_dd + mu I) A_d = b - K_ds A_s + mu A_ridge (d: the ``--diffuse``
smallest exponents, s: the rest, taken from the plain ridge). mu -> infinity
is the plain ridge. A seeded quarter of the rattled 8-atom cells is held
apart (the split of ``si_rattled_specialist_ridge.py``). Printed, on those
cells: OLCAO's convergence measure of (start - converged) as the root mean
square over sites and as the maximum over sites (mean and median over
cells), and RMS V(r), all in mHa.
"""

from __future__ import annotations

import argparse

import numpy as np
from rattled_split import held_apart_rattled

MUS = (0.0, 1e-4, 1e-2, 1e-1, 1.0)


def main() -> int:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.solver_metric import SolverMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--diffuse", type=int, default=5)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    ed = ds.elements["Si"]
    n_alpha = len(ed.alphas)
    diff, sharp = np.arange(args.diffuse), np.arange(args.diffuse, n_alpha)
    test = held_apart_rattled(ds.names, args.seed)
    train = sorted(set(ds.names) - set(test))
    radial = RadialMetric()

    def rows(name: str) -> np.ndarray:
        return ds.element_rows("Si", ds.structure_ids([name]))

    def mesh(name: str):
        s = ds.names.index(name)
        a0, n = int(ds.atom_start[s]), int(ds.n_atoms[s])
        m = SolverMetric(ds.cells[s], ds.positions[a0 : a0 + n], ed.alphas)
        k = m.gram()
        idx = np.arange(n * n_alpha).reshape(n, n_alpha)
        d, s_ = idx[:, diff].ravel(), idx[:, sharp].ravel()
        return m, k, k[np.ix_(d, d)], k[np.ix_(d, s_)]

    def projections(name: str) -> np.ndarray:
        a = ed.coeffs[rows(name)]
        _, _, kdd, kds = mesh(name)
        b = kdd @ a[:, diff].ravel() + kds @ a[:, sharp].ravel()
        return b.reshape(len(a), args.diffuse)

    rt = np.concatenate([rows(n) for n in train])
    xt = ds.descriptors[ed.atom_index[rt]]
    groups = ds.structure_index[ed.atom_index[rt]]
    ridge_a = fit_ridge(xt, ed.coeffs[rt], groups, radial.gram(ed.alphas))
    bt = np.concatenate([projections(n) for n in train])
    scale = bt.std(axis=0)
    ridge_b = fit_ridge(xt, bt / scale, groups, np.eye(args.diffuse))
    labels = ["plain ridge"] + [f"projections, mu {m:g}" for m in MUS]
    rms_site = {k: [] for k in labels}
    max_site = {k: [] for k in labels}
    preds = {k: [] for k in labels}
    trues = []
    for name in test:
        r = rows(name)
        true = ed.coeffs[r]
        n = len(true)
        m, _, kdd, kds = mesh(name)
        x = ds.descriptors[ed.atom_index[r]]
        pa = ridge_a.predict(x)
        b = ridge_b.predict(x).ravel() * np.tile(scale, n)
        rhs = b - kds @ pa[:, sharp].ravel()
        starts = {"plain ridge": pa}
        for mu in MUS:
            ad = np.linalg.solve(
                kdd + mu * np.eye(len(rhs)), rhs + mu * pa[:, diff].ravel()
            )
            q = pa.copy()
            q[:, diff] = ad.reshape(n, args.diffuse)
            starts[f"projections, mu {mu:g}"] = q
        per = m.per_site_many([q - true for q in starts.values()])
        for k, row in zip(starts, per, strict=True):
            rms_site[k].append(np.sqrt(np.mean(row**2)))
            max_site[k].append(row.max())
            preds[k].append(starts[k])
        trues.append(true)
    every = np.concatenate(trues)
    print(f"{len(test)} rattled 8-atom cells held apart; ridge on {len(train)} cells")
    print("| start | RMS over sites | max site, mean | max site, median | RMS V(r) |")
    print("|---|---|---|---|---|")
    for k in labels:
        v = 1e3 * radial.rms(np.concatenate(preds[k]), every, ed.alphas)
        print(
            f"| {k} | {1e3 * np.mean(rms_site[k]):.3f} | "
            f"{1e3 * np.mean(max_site[k]):.3f} | "
            f"{1e3 * np.median(max_site[k]):.3f} | {v:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
