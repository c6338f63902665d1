#!/usr/bin/env python3
"""Spike (docs/model.md, "Stop 39"): are the rattled Si cells that the
model gets wrong the ones whose band gap nearly closes?

Usage::

    python benchmarks/si_tight_binding_gap.py split DATA.h5 [--seed 7]
    python benchmarks/si_tight_binding_gap.py fresh BENCH.json[:START]... [--model M]

The gap comes from an orthogonal sp3 tight-binding model of Si (on-site
E_s, E_p; Slater-Koster two-centre hoppings scaled with distance in the
form of Goodwin, Skinner and Pettifor, Europhys. Lett. 9, 701 (1989); the
values below are of the published kind, not fitted here), solved on the
2 x 2 x 2 Monkhorst-Pack grid of our OLCAO runs with 4 electrons per atom
and Fermi smearing of 0.1 eV. It is a cheap, non-local electronic quantity
that a descriptor of the local geometry does not hold.

``split``: on a seeded quarter of the rattled 8-atom cells of the Si
training set held apart (the split of ``si_rattled_specialist_ridge.py``),
the rank correlation of each cell's ridge error (RMS V(r)) with its gap,
and the ridge with the tight-binding quantities added as features (per
atom: Mulliken charge, s and p populations, local density of states at the
Fermi level; per cell: gap, 1/(gap + 0.05 eV), mean and largest local
density of states).

``fresh``: for the rattled 8-atom cells of stored ``bench_scf.py`` results
(their run directories under the JSON's folder; START: the start whose rows
are the model's, ``network`` unless given), the rank correlations of the
gap and of the model's own sigma with the model's RMS V(r) error, its first
OLCAO value and its iterations to 1e-4. The cells must be ones the model
never trained on.
"""

from __future__ import annotations

import argparse

import numpy as np
from rattled_split import held_apart_rattled, rows_in_order, sigma_of

E_S, E_P = -5.25, 1.20  # eV
HOPPING = {"ss": -1.938, "sp": 1.745, "pps": 3.050, "ppp": -1.075}  # eV at R0
R0, N_EXP, NC_EXP, RC, R_CUT = 2.360352, 2.0, 6.48, 3.67, 4.16  # Å
KT = 0.1  # eV


def scaling(r: np.ndarray) -> np.ndarray:
    return (R0 / r) ** N_EXP * np.exp(
        N_EXP * (-((r / RC) ** NC_EXP) + (R0 / RC) ** NC_EXP)
    )


def tight_binding(cell, positions, kgrid=(2, 2, 2)) -> dict:
    """Gap (eV), per-atom (charge, s, p, LDOS at E_F) and per-cell features."""
    from ase import Atoms
    from ase.dft.kpoints import monkhorst_pack
    from ase.neighborlist import neighbor_list

    n = len(positions)
    atoms = Atoms(f"Si{n}", positions=positions, cell=cell, pbc=True)
    i, j, d, vec = neighbor_list("ijdD", atoms, R_CUT)
    s = scaling(d)
    u = vec / d[:, None]
    blocks = np.zeros((len(d), 4, 4))  # (s, px, py, pz) of i to those of j
    blocks[:, 0, 0] = HOPPING["ss"] * s
    blocks[:, 0, 1:] = u * (HOPPING["sp"] * s)[:, None]
    blocks[:, 1:, 0] = -u * (HOPPING["sp"] * s)[:, None]
    uu = u[:, :, None] * u[:, None, :]
    blocks[:, 1:, 1:] = (uu * HOPPING["pps"] + (np.eye(3) - uu) * HOPPING["ppp"]) * s[
        :, None, None
    ]
    onsite = np.diag(np.tile([E_S, E_P, E_P, E_P], n))
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(cell)).T
    kpts = monkhorst_pack(kgrid) @ reciprocal
    energies, weights = [], []
    for k in kpts:
        h = onsite.astype(complex)
        phase = np.exp(1j * vec @ k)
        for m in range(len(d)):
            h[4 * i[m] : 4 * i[m] + 4, 4 * j[m] : 4 * j[m] + 4] += blocks[m] * phase[m]
        e, c = np.linalg.eigh(0.5 * (h + h.conj().T))
        energies.append(e)
        weights.append(np.abs(c) ** 2)
    energies, weights = np.array(energies), np.array(weights)
    nk, n_el = len(kpts), 4 * n

    def fermi(mu):
        return 1.0 / (1.0 + np.exp(np.clip((energies - mu) / KT, -60, 60)))

    lo, hi = energies.min(), energies.max()
    for _ in range(100):  # bisection for the Fermi level
        mu = 0.5 * (lo + hi)
        lo, hi = (lo, mu) if 2 * fermi(mu).sum() / nk > n_el else (mu, hi)
    f = fermi(mu)
    occupation = (2 * np.einsum("kob,kb->o", weights, f) / nk).reshape(n, 4)
    ldos = (np.einsum("kob,kb->o", weights, f * (1 - f) / KT) / nk).reshape(n, 4).sum(1)
    levels = np.sort(energies.ravel())
    gap = float(levels[n_el // 2 * nk] - levels[n_el // 2 * nk - 1])
    per_atom = np.column_stack(
        [occupation.sum(1) - 4.0, occupation[:, 0], occupation[:, 1:].sum(1), ldos]
    )
    per_cell = np.tile([gap, 1.0 / (gap + 0.05), ldos.mean(), ldos.max()], (n, 1))
    return {"gap": gap, "per_atom": per_atom, "per_cell": per_cell}


def split(args) -> None:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.uncertainty import spearman

    ds = load_dataset(args.inputs[0])
    ed = ds.elements["Si"]
    radial = RadialMetric()
    gram = radial.gram(ed.alphas)
    test = held_apart_rattled(ds.names, args.seed)
    train = sorted(set(ds.names) - set(test))
    tb = {}
    for name in train + test:
        s = ds.names.index(name)
        a0, n = int(ds.atom_start[s]), int(ds.n_atoms[s])
        tb[name] = tight_binding(ds.cells[s], ds.positions[a0 : a0 + n])

    def design(names, extra):
        out = []
        for name in names:
            x = ds.descriptors[
                ed.atom_index[ds.element_rows("Si", ds.structure_ids([name]))]
            ]
            out.append(np.hstack([x, *[tb[name][e] for e in extra]]))
        return np.vstack(out)

    rt, rs = rows_in_order(ds, train), rows_in_order(ds, test)
    groups = ds.structure_index[ed.atom_index[rt]]
    sig = np.repeat([sigma_of(n) for n in test], 8)
    print(f"{len(test)} rattled 8-atom cells held apart; ridge on {len(train)} cells")
    print("| features | all | σ ≤ 0.12 | σ ≥ 0.15 |")
    print("|---|---|---|---|")
    base = None
    for label, extra in (
        ("descriptors", []),
        ("+ per-atom TB", ["per_atom"]),
        ("+ per-cell TB", ["per_cell"]),
        ("+ both", ["per_atom", "per_cell"]),
    ):
        fit = fit_ridge(design(train, extra), ed.coeffs[rt], groups, gram)
        e = radial.rms_per_atom(
            fit.predict(design(test, extra)), ed.coeffs[rs], ed.alphas
        )
        base = e if base is None else base
        cells = [e, e[sig <= 0.12], e[sig >= 0.15]]
        print(
            f"| {label} | "
            + " | ".join(f"{1e3 * np.sqrt(np.mean(c**2)):.3f}" for c in cells)
            + " |"
        )
    cell_err = np.sqrt(np.mean(base.reshape(-1, 8) ** 2, axis=1))
    gaps = np.array([tb[n]["gap"] for n in test])
    big = np.array([sigma_of(n) >= 0.15 for n in test])
    print(
        f"rank correlation of the descriptor ridge's cell error with the gap: "
        f"{spearman(cell_err, gaps):.2f} (all), "
        f"{spearman(cell_err[big], gaps[big]):.2f} (σ ≥ 0.15, {big.sum()} cells)"
    )


def fresh(args) -> None:
    from sigma_vs_olcao import bench_cells

    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.uncertainty import spearman

    model = load_model(args.model)
    cells = sorted(
        bench_cells(model, args.inputs, ("si8_r",)), key=lambda c: c[0]["run"]
    )
    table = []
    print(
        "| cell | TB gap (eV) | RMS V (mHa) | sigma (mHa) | first value | iterations |"
    )
    print("|---|---|---|---|---|---|")
    for r, run, pred, err in cells:
        gap = tight_binding(run.structure.cell, run.structure.positions)["gap"]
        sigma = float(np.mean(pred.sigma))
        table.append((gap, err, sigma, r["first_value"], r["iterations_to_1e-4"]))
        print(
            f"| {r['run']} | {gap:.2f} | {1e3 * err:.3f} | {1e3 * sigma:.3f} | "
            f"{r['first_value']:.2g} | {r['iterations_to_1e-4']} |"
        )
    a = np.array(table, dtype=float)
    print(f"\n{len(a)} cells; rank correlations with (RMS V, first value, iterations):")
    for label, col in (("TB gap", 0), ("sigma", 2)):
        vals = ", ".join(f"{spearman(a[:, col], a[:, k]):.2f}" for k in (1, 3, 4))
        print(f"- {label}: {vals}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("split", "fresh"))
    p.add_argument("inputs", nargs="+")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--model", default="default")
    args = p.parse_args()
    if args.mode == "split":
        split(args)
    else:
        fresh(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
