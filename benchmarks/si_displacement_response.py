#!/usr/bin/env python3
"""Spike (docs/model.md, "Stop 39"): are the coefficients of a rattled
8-atom diamond cell a low-order function of its displacement field?

Usage (the Si model's training set, as ``data/make_default_model.py
--dataset DATA.h5`` converts it; 1-2 minutes)::

    python benchmarks/si_displacement_response.py DATA.h5 [--seed 7]

Each atom of a rattled cell (``si8_r*``: cubic 8-atom diamond cells) is
matched to its ideal site. Its features are the displacements of the other
seven atoms relative to its own, ordered by their ideal offsets and
written in the frame of its sublattice (the second sublattice is its
inversion image), so the features are complete for the periodic cell. The
ridge is fitted once on these 21 numbers (linear response) and once on them
and their 231 products (second order). Every training atom enters in the 24
frames of its site group T_d, and a prediction is the mean over those
frames. Third, kernel ridge on the same 21 numbers with a Gaussian kernel
summed over the 24 frames (so it is exactly invariant); its width and
strength are chosen by grouped 4-fold cross-validation on the training
cells. Beside them: the ridge on the package's descriptors, trained on the
same rattled cells. A seeded quarter of the rattled cells is held apart
(the split of ``si_rattled_specialist_ridge.py``). Printed, on those cells:
RMS V(r) and OLCAO's convergence measure (RMS over sites; max over sites,
mean and median over cells), in mHa, then RMS V(r) by rattle amplitude,
and the kernel ridge's learning curve (a quarter, half and all of the
training cells).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from rattled_split import held_apart_rattled, rattled_cells, sigma_of

FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
IDEAL = np.vstack([FCC, FCC + 0.25])  # fractional diamond sites
SUBLATTICE = np.array([0] * 4 + [1] * 4)
OFFSETS = IDEAL % 1.0  # offsets of the eight sites seen from a first-sublattice site


def site_group() -> list[np.ndarray]:
    """The 24 operations of T_d (axis permutations times even sign flips)."""
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            if np.prod(signs) == 1:
                m = np.zeros((3, 3))
                m[np.arange(3), perm] = signs
                ops.append(m)
    return ops


def offset_index(v: np.ndarray) -> int:
    d = (OFFSETS - v + 0.5) % 1.0 - 0.5
    k = int(np.argmin(np.abs(d).sum(axis=1)))
    if np.abs(d[k]).sum() > 1e-6:
        raise ValueError(f"{v} is not a diamond offset")
    return k


def displacement_tables(cell: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(8, 8, 3): for each atom, the relative displacements (Å) of the cell's
    atoms, by ideal offset, in the frame of the atom's sublattice."""
    from scipy.optimize import linear_sum_assignment

    a = cell[0, 0]
    if not np.allclose(cell, a * np.eye(3)):
        raise ValueError("not a cubic diamond cell")
    frac = np.linalg.solve(cell.T, positions.T).T
    d = (frac[:, None, :] - IDEAL[None, :, :] + 0.5) % 1.0 - 0.5
    _, site = linear_sum_assignment(np.linalg.norm(d @ cell, axis=2))
    u = d[np.arange(8), site] * a
    out = np.zeros((8, 8, 3))
    for i, k in enumerate(site):
        sign = 1.0 if SUBLATTICE[k] == 0 else -1.0
        for j, kj in enumerate(site):
            out[i, offset_index(((IDEAL[kj] - IDEAL[k]) * sign) % 1.0)] = sign * (
                u[j] - u[i]
            )
    return out


def features(table: np.ndarray, second_order: bool) -> np.ndarray:
    x = table[1:].ravel()  # offset 0 is the atom itself
    if not second_order:
        return x
    return np.concatenate([x, np.outer(x, x)[np.triu_indices(len(x))]])


class SymmetricKernelRidge:
    """Kernel ridge on (n, frames, k) inputs with a Gaussian kernel summed
    over the frames of the second argument (invariant under the group)."""

    def __init__(self, width: float, strength: float) -> None:
        self.width, self.strength = width, strength

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x = a[:, 0]
        out = np.zeros((len(a), len(b)))
        for g in range(b.shape[1]):
            y = b[:, g]
            d2 = np.sum(x**2, 1)[:, None] + np.sum(y**2, 1)[None, :] - 2 * x @ y.T
            out += np.exp(-np.maximum(d2, 0.0) / (2 * self.width**2))
        return out / b.shape[1]

    def fit(self, x: np.ndarray, y: np.ndarray) -> SymmetricKernelRidge:
        self.scale = float(x.std())
        self.x = x / self.scale
        self.mean = y.mean(axis=0)
        k = self.kernel(self.x, self.x) + self.strength * np.eye(len(x))
        self.coef = np.linalg.solve(k, y - self.mean)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.kernel(x / self.scale, self.x) @ self.coef + self.mean


def fit_kernel_ridge(x, y, groups, factor, widths=(4.0, 8.0, 16.0)):
    """Width and strength by grouped 4-fold CV in the V(r) metric
    (``factor``: L with ||L dA|| = RMS V)."""
    uniq = np.unique(groups)
    folds = np.array_split(np.random.default_rng(0).permutation(uniq), 4)
    best, score = None, np.inf
    for width in widths:
        for strength in (1e-6, 1e-4, 1e-2):
            err = 0.0
            for fold in folds:
                te = np.isin(groups, fold)
                m = SymmetricKernelRidge(width, strength).fit(x[~te], y[~te])
                err += float(np.sum(((m.predict(x[te]) - y[te]) @ factor.T) ** 2))
            if err < score:
                best, score = (width, strength), err
    return SymmetricKernelRidge(*best).fit(x, y)


def main() -> int:
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.solver_metric import SolverMetric

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    ds = load_dataset(args.dataset)
    ed = ds.elements["Si"]
    radial = RadialMetric()
    gram = radial.gram(ed.alphas)
    rattled = rattled_cells(ds.names)
    test = held_apart_rattled(ds.names, args.seed)
    train = sorted(set(rattled) - set(test))
    ops = site_group()
    # each operation permutes the eight offsets
    perms = [[offset_index((m @ v) % 1.0) for v in OFFSETS] for m in ops]

    def cell_data(name: str):
        s = ds.names.index(name)
        a0 = int(ds.atom_start[s])
        rows = ds.element_rows("Si", ds.structure_ids([name]))
        return s, rows, displacement_tables(ds.cells[s], ds.positions[a0 : a0 + 8])

    def frames(table: np.ndarray, second_order: bool) -> np.ndarray:
        out = []
        for m, perm in zip(ops, perms, strict=True):
            t = np.zeros_like(table)
            t[perm] = table @ m.T
            out.append(features(t, second_order))
        return np.array(out)

    data = {name: cell_data(name) for name in train + test}
    fits = {}
    for label, second in (("displacements, linear", False), ("+ products", True)):
        x, y, g = [], [], []
        for name in train:
            s, rows, tables = data[name]
            for i, table in enumerate(tables):
                x.append(frames(table, second))
                y.append(np.tile(ed.coeffs[rows[i]], (len(ops), 1)))
                g.append(np.full(len(ops), s))
        fits[label] = (
            second,
            fit_ridge(
                np.concatenate(x),
                np.concatenate(y),
                np.concatenate(g),
                gram,
                strengths=np.logspace(-6, 2, 17),
            ),
        )
    w, u = np.linalg.eigh(gram)
    factor = np.sqrt(np.clip(w, 0.0, None))[:, None] * u.T
    kx, ky, kg = [], [], []
    for name in train:
        s, rows, tables = data[name]
        kx += [frames(t, False) for t in tables]
        ky.append(ed.coeffs[rows])
        kg += [s] * 8
    kx, ky, kg = np.array(kx), np.concatenate(ky), np.array(kg)
    krr = fit_kernel_ridge(kx, ky, kg, factor)
    print(f"kernel ridge: width {krr.width:g}, strength {krr.strength:g}")
    rt = ds.element_rows("Si", ds.structure_ids(train))
    descriptor_ridge = fit_ridge(
        ds.descriptors[ed.atom_index[rt]],
        ed.coeffs[rt],
        ds.structure_index[ed.atom_index[rt]],
        gram,
    )
    labels = [*fits, "kernel ridge", "descriptors (rattled cells only)"]
    preds = {k: [] for k in labels}
    rms_site = {k: [] for k in labels}
    max_site = {k: [] for k in labels}
    trues = []
    for name in test:
        s, rows, tables = data[name]
        true = ed.coeffs[rows]
        starts = {}
        for label, (second, fit) in fits.items():
            x = np.concatenate([frames(t, second) for t in tables])
            starts[label] = fit.predict(x).reshape(8, len(ops), -1).mean(axis=1)
        starts["kernel ridge"] = krr.predict(
            np.array([frames(t, False) for t in tables])
        )
        x = ds.descriptors[ed.atom_index[rows]]
        starts[labels[-1]] = descriptor_ridge.predict(x)
        a0 = int(ds.atom_start[s])
        m = SolverMetric(ds.cells[s], ds.positions[a0 : a0 + 8], ed.alphas)
        per = m.per_site_many([q - true for q in starts.values()])
        for k, row in zip(starts, per, strict=True):
            preds[k].append(starts[k])
            rms_site[k].append(np.sqrt(np.mean(row**2)))
            max_site[k].append(row.max())
        trues.append(true)
    every = np.concatenate(trues)
    print(f"{len(test)} rattled 8-atom cells held apart; {len(train)} trained on")
    print("| model | RMS V(r) | RMS over sites | max site, mean | max site, median |")
    print("|---|---|---|---|---|")
    for k in labels:
        v = 1e3 * radial.rms(np.concatenate(preds[k]), every, ed.alphas)
        print(
            f"| {k} | {v:.3f} | {1e3 * np.mean(rms_site[k]):.3f} | "
            f"{1e3 * np.mean(max_site[k]):.3f} | {1e3 * np.median(max_site[k]):.3f} |"
        )
    sig = np.repeat([sigma_of(n) for n in test], 8)
    levels = sorted(set(sig))
    print("\nRMS V(r) by rattle amplitude σ (Å), mHa:")
    print("| model | " + " | ".join(f"σ {v:g}" for v in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for k in labels:
        per = radial.rms_per_atom(np.concatenate(preds[k]), every, ed.alphas)
        cells = [f"{1e3 * np.sqrt(np.mean(per[sig == v] ** 2)):.3f}" for v in levels]
        print(f"| {k} | " + " | ".join(cells) + " |")
    tx = np.array([frames(t, False) for n in test for t in data[n][2]])
    print("\nkernel ridge learning curve (mean of 3 draws below all), RMS V(r), mHa:")
    print("| training cells | all | σ 0.1 | σ 0.15 | σ 0.2 |")
    print("|---|---|---|---|---|")
    pick_rng = np.random.default_rng(1)
    n_cells = len(train)
    for frac in (0.25, 0.5, 1.0):
        res = []
        for _ in range(3 if frac < 1 else 1):
            cells_ = pick_rng.choice(n_cells, size=int(frac * n_cells), replace=False)
            r = (np.sort(cells_)[:, None] * 8 + np.arange(8)).ravel()
            m = SymmetricKernelRidge(krr.width, krr.strength).fit(kx[r], ky[r])
            per = radial.rms_per_atom(m.predict(tx), every, ed.alphas)
            res.append(
                [np.sqrt(np.mean(per**2))]
                + [np.sqrt(np.mean(per[sig == v] ** 2)) for v in (0.1, 0.15, 0.2)]
            )
        vals = " | ".join(f"{1e3 * v:.3f}" for v in np.mean(res, axis=0))
        print(f"| {int(frac * n_cells)} | {vals} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
