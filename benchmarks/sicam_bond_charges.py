#!/usr/bin/env python3
"""Does the electrostatics of bond charges explain the amorphous SiC
model's atom-to-atom error (docs/model.md, "Stop 38")? Ridge on its
*training* cells only.

Usage (the dataset that ``data/make_default_model.py --sicam --sicam-b11
--dataset DATA.h5`` converts)::

    python benchmarks/sicam_bond_charges.py DATA.h5 [--fraction 0.25] [--seed 7]

Per atom, from the geometry alone: a bond-charge model (each Si–C bond,
shorter than 2.2 Å, moves half a unit of charge from Si to C), the atom's
counts of C–C (< 1.75 Å), Si–Si (< 2.6 Å) and hetero bonds, and the site
potential of those charges screened with erfc(r/λ)/r for λ = 1.5, 3 and
6 Å (neighbours within 12 Å). The split of benchmarks/sicam_settings.py
(a seeded quarter of the amorphous training cells held apart) is kept;
ridge in the V(r) metric (the package's ``fit_ridge``) per element with
the descriptor alone and with these features appended (``fit_ridge``
standardises every column), RMS V(r) in mHa on the held-apart
atoms; then the correlation of the plain ridge's error, as the value at
r = 0 of its diffuse part (α < 10 Bohr⁻²), with each feature.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "data"))

from sicam_settings import held_apart  # noqa: E402

#: bond lengths (Å) below which a pair counts as bonded
BOND = {("C", "C"): 1.75, ("C", "Si"): 2.2, ("Si", "C"): 2.2, ("Si", "Si"): 2.6}
SCREENING = (1.5, 3.0, 6.0)
NAMES = ["charge", "C-C bonds", "Si-Si bonds", "hetero bonds"] + [
    f"site potential λ={lam:g}" for lam in SCREENING
]
SETS = {
    "descriptor": [],
    "+ bond counts": [0, 1, 2, 3],
    "+ site potentials": [0, 4, 5, 6],
    "+ all": list(range(7)),
}


def features(structure) -> np.ndarray:
    """(atoms, 7): the columns of :data:`NAMES`."""
    from scipy.special import erfc

    from pyolcaoml.model.applicability import neighbour_pairs

    i, j, d = neighbour_pairs(structure, 12.0)
    sym = np.array(list(structure.symbols))
    n = len(sym)
    limit = np.array([BOND[(a, b)] for a, b in zip(sym[i], sym[j], strict=True)])
    bonded = d < limit
    hetero = bonded & (sym[i] != sym[j])
    # half a unit per Si-C bond, counted once from each end
    q = np.bincount(
        i[hetero], weights=np.where(sym[i[hetero]] == "Si", 0.5, -0.5), minlength=n
    )
    cols = [
        q,
        np.bincount(i[bonded & (sym[i] == "C") & (sym[j] == "C")], minlength=n),
        np.bincount(i[bonded & (sym[i] == "Si") & (sym[j] == "Si")], minlength=n),
        np.bincount(i[hetero], minlength=n),
    ]
    for lam in SCREENING:
        cols.append(np.bincount(i, weights=q[j] * erfc(d / lam) / d, minlength=n))
    return np.stack(cols, axis=1).astype(np.float64)


def main() -> int:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    metric = RadialMetric()
    pool, test = held_apart(ds.names, args.fraction, args.seed)
    rest = sorted(set(pool) - set(test))
    print(f"{len(rest)} training cells, {len(test)} held apart")
    feats = np.full((len(ds.symbols), len(NAMES)), np.nan)
    for s in ds.structure_ids(pool):
        a = int(ds.atom_start[s])
        feats[a : a + int(ds.n_atoms[s])] = features(ds.structure(s))
    print("| element | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    corr_rows = []
    for el in ("C", "Si"):
        ed = ds.elements[el]
        rt = ds.element_rows(el, ds.structure_ids(rest))
        rs = ds.element_rows(el, ds.structure_ids(test))
        x = ds.descriptors[ed.atom_index]
        f = feats[ed.atom_index]
        gram = metric.gram(ed.alphas)
        groups = ds.structure_index[ed.atom_index[rt]]
        cells = []
        for cols in SETS.values():
            xa = np.hstack([x, f[:, cols]]) if cols else x
            fit = fit_ridge(xa[rt], ed.coeffs[rt], groups, gram)
            pred = fit.predict(xa[rs])
            if not cols:
                err = pred - ed.coeffs[rs]
            cells.append(f"{1e3 * metric.rms(pred, ed.coeffs[rs], ed.alphas):.2f}")
        print(f"| {el} | " + " | ".join(cells) + " |", flush=True)
        v0 = err[:, ed.alphas < 10].sum(axis=1)
        row = []
        for c in range(len(NAMES)):
            fc = f[rs, c]
            row.append(f"{np.corrcoef(v0, fc)[0, 1]:+.2f}" if fc.std() > 0 else "–")
        corr_rows.append(f"| {el} | " + " | ".join(row) + " |")
    print("| correlation with the diffuse error at r = 0 | " + " | ".join(NAMES) + " |")
    print("|---|" + "---|" * len(NAMES))
    print("\n".join(corr_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
