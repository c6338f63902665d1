"""Training on the error OLCAO's SCF sees: a structure-level loss.

OLCAO judges a potential by the crystal potential it makes (every site's
Gaussians summed over the cell and its images) on each site's
exchange-correlation mesh (pyolcaoml.model.solver_metric). A per-atom loss
on V(r) cannot see how the errors of neighbouring atoms add up or cancel
there; the diffuse Gaussians (alpha < 10 Bohr^-2) of every atom overlap its
neighbours, so that is where the iterations are lost (docs/model.md).

For one structure s with coefficient errors e (n_s atoms x N, flattened) the
solver loss is the mean over its sites of the squared OLCAO measure,

    l_s = e^T K_s e / n_s,     K_s = SolverMetric(...).gram(),

and in the network's latent coordinates (A = offset + B z, e = (I x B) dz)
it is ||L_s dz||^2 with L_s^T L_s = (I x B)^T K_s (I x B) / n_s. Training
minimises  per-atom loss + solver_weight * (sum_s n_s l_s / sum_s n_s) / c,
c the solver loss of the average-atom predictor on the training structures
(so solver_weight is relative, like the per-atom loss that scores 1 for the
average atom). Only atoms of the element being trained are coupled (with
several elements, errors of the other element's atoms are left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.solver_metric import SolverMetric


@dataclass
class StructureBlock:
    """One structure's part of the solver loss for one element.

    rows: positions of its atoms in the split's arrays (x, y);
    factor: (n k, n k) matrix L with loss = ||L vec(dz[rows])||^2 summed
    over sites (not yet divided by the number of sites).
    """

    rows: np.ndarray
    factor: np.ndarray
    n_sites: int


def element_gram(dataset, s: int, symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """(atom offsets within the structure of ``symbol``'s atoms, K restricted
    to their coefficients) for structure id s."""
    a0 = int(dataset.atom_start[s])
    n = int(dataset.n_atoms[s])
    symbols = dataset.symbols[a0 : a0 + n]
    alphas = [dataset.elements[sym].alphas for sym in symbols]
    metric = SolverMetric(dataset.cells[s], dataset.positions[a0 : a0 + n], alphas)
    k = metric.gram()
    mine = [i for i in range(n) if symbols[i] == symbol]
    idx = np.concatenate(
        [np.arange(metric.offsets[i], metric.offsets[i + 1]) for i in mine]
    )
    return np.asarray(mine), k[np.ix_(idx, idx)]


def structure_blocks(
    dataset,
    symbol: str,
    atom_rows: np.ndarray,
    from_latent: np.ndarray,
    cache: dict | None = None,
) -> list[StructureBlock]:
    """Blocks for the atoms ``atom_rows`` (dataset atom indices, in the order
    of the split's arrays), grouped by structure. ``from_latent``: B (N, k)."""
    cache = {} if cache is None else cache
    structure_of = dataset.structure_index[atom_rows]
    blocks = []
    for s in np.unique(structure_of):
        pos = np.flatnonzero(structure_of == s)
        key = (int(s), symbol)
        if key not in cache:
            cache[key] = element_gram(dataset, int(s), symbol)
        mine, k = cache[key]
        # order the rows like the structure's atoms of this element; a
        # bootstrap resample (ensemble members) may hold a structure several
        # times: one block per copy
        local = atom_rows[pos] - int(dataset.atom_start[s])
        order = np.argsort(local, kind="stable")
        n = len(mine)
        copies = len(order) // max(n, 1)
        by_atom = order.reshape(n, copies) if copies * n == len(order) else None
        if by_atom is None or not np.all(local[by_atom] == np.asarray(mine)[:, None]):
            raise ValueError(f"structure {dataset.names[s]}: atoms missing from split")
        big_b = np.kron(np.eye(n), from_latent)  # (n N, n k)
        kz = big_b.T @ k @ big_b
        w, u = np.linalg.eigh(0.5 * (kz + kz.T))
        factor = (np.sqrt(np.clip(w, 0.0, None))[:, None] * u.T).copy()
        for c in range(copies):
            blocks.append(
                StructureBlock(rows=pos[by_atom[:, c]], factor=factor, n_sites=n)
            )
    return blocks


def solver_loss_value(blocks: Sequence[StructureBlock], dz: np.ndarray) -> float:
    """Mean over sites of the squared measure (NumPy; Hartree^2)."""
    total = sum(float(np.sum((b.factor @ dz[b.rows].ravel()) ** 2)) for b in blocks)
    return total / max(sum(b.n_sites for b in blocks), 1)


def fit_with_solver_loss(
    trainer,
    x: dict[str, np.ndarray],
    z: dict[str, np.ndarray],
    blocks: dict[str, list[StructureBlock]],
    solver_weight: float,
    learning_rate: float,
    max_epochs: int,
    patience: int,
    report: Callable[[int, dict], None] | None = None,
) -> dict:
    """Full-batch Adam on per-atom loss + solver_weight * normalised solver
    loss; early stopping on the same loss of the validation structures
    (training loss without them); best weights restored. Returns a history."""
    import tensorflow as tf

    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    scale = solver_loss_value(blocks["train"], -z["train"])  # average atom
    scale = scale if scale > 0 else 1.0

    def graph_terms(split):
        rows = [tf.constant(b.rows, dtype=tf.int32) for b in blocks[split]]
        mats = [tf.constant(b.factor, dtype=tf.float64) for b in blocks[split]]
        n = float(max(sum(b.n_sites for b in blocks[split]), 1))
        return rows, mats, n

    terms = {k: graph_terms(k) for k in blocks}
    xt = {k: tf.constant(v, dtype=tf.float64) for k, v in x.items() if len(v)}
    zt = {k: tf.constant(v, dtype=tf.float64) for k, v in z.items() if len(v)}

    def loss_of(split, training):
        pred = trainer(xt[split], training=training)
        dz = pred - zt[split]
        atom = tf.reduce_mean(tf.reduce_sum(tf.square(dz), axis=-1))
        rows, mats, n = terms[split]
        sol = tf.constant(0.0, dtype=tf.float64)
        for r, m in zip(rows, mats, strict=True):
            v = tf.reshape(tf.gather(dz, r), [-1])
            sol += tf.reduce_sum(tf.square(tf.linalg.matvec(m, v)))
        sol = sol / n / scale
        return atom, sol

    opt = keras.optimizers.Adam(learning_rate=learning_rate)
    weights = trainer.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            atom, sol = loss_of("train", True)
            total = atom + solver_weight * sol + tf.add_n(trainer.losses or [0.0])
        grads = tape.gradient(total, weights)
        opt.apply_gradients(zip(grads, weights, strict=True))
        return atom, sol

    has_val = "validation" in xt
    val_fn = tf.function(lambda: loss_of("validation", False)) if has_val else None
    best, best_epoch, best_w = np.inf, 0, trainer.get_weights()
    lr, wait_lr = learning_rate, 0
    history: dict[str, list[float]] = {"loss": [], "solver": [], "val_loss": []}
    for epoch in range(max_epochs):
        atom, sol = step()
        loss = float(atom) + solver_weight * float(sol)
        history["loss"].append(loss)
        history["solver"].append(float(sol))
        monitor = loss
        if val_fn is not None:
            va, vs = val_fn()
            monitor = float(va) + solver_weight * float(vs)
            history["val_loss"].append(monitor)
        if monitor < best:
            best, best_epoch, best_w, wait_lr = monitor, epoch, trainer.get_weights(), 0
        else:
            wait_lr += 1
            if wait_lr > max(patience // 3, 5) and lr > learning_rate / 64:
                lr /= 2
                opt.learning_rate.assign(lr)
                wait_lr = 0
        if report is not None:
            logs = {"loss": loss, "solver": float(sol)}
            if val_fn is not None:
                logs["val_loss"] = monitor
            report(epoch + 1, logs)
        if epoch - best_epoch >= patience:
            break
    trainer.set_weights(best_w)
    return {
        "epochs_run": len(history["loss"]),
        "best_epoch": best_epoch + 1,
        "best_monitor": float(best),
        "solver_scale_hartree2": float(scale),
    }
