"""Figures of predicted and OLCAO potentials (matplotlib, Agg backend).

Units: r in Bohr, V(r) = sum_i A_i exp(-alpha_i r^2) and A_i in Hartree;
errors are RMS of V(r) on the model's metric (r^2-weighted shell average).

Each ``*_figure`` function returns the matplotlib Figure (so tests and
notebooks can look at it); the ``plot_*`` functions save it atomically.

- :func:`plot_potentials`: a few atoms, chosen nearest / median / farthest
  from the model's average atom. Top row: V(r) - V_avg(r), with V_avg the
  model's average atom (a fixed reference: it does not move with the choice
  of atoms), OLCAO's converged potential, the network, the baselines and
  the isolated atom (OLCAO's default start). Bottom row: the error
  Delta V(r) = V_method - V_OLCAO with each method's RMS in the legend.
- :func:`plot_parity`: left, network vs OLCAO A_i - <A_i> on a robust range
  (1st-99th percentile; the few points outside are drawn on the edge and
  counted); the MAE and RMS V of every method are written on it. Right, per
  atom: V(r) error of the network (and ridge) against the distance of the
  atom from the average atom, coloured by structure: points below the
  diagonal are atoms where the network beats the average atom.
- :func:`plot_prediction`: ``olcaoml predict --plot``: V(r) of the atoms of
  a prediction (no reference needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pyolcaoml.model.potential import potential_values

METHOD_LABELS = {
    "network": "network",
    "isolated": "isolated atom (OLCAO start)",
    "average": "average atom",
    "ridge": "ridge",
}
STYLES = {"network": "C1-", "ridge": "C2:", "average": "C7--", "isolated": "C3-."}
PICK_NAMES = ("farthest from", "median distance to", "nearest to")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str) -> None:
    """Save atomically (temporary file, rename; mode follows the umask)."""
    from pyolcaoml.outputs import atomic_path

    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    with atomic_path(path, suffix="." + fmt) as tmp:
        fig.savefig(tmp, dpi=110, format=fmt)
    _pyplot().close(fig)


def _rms(pred: np.ndarray, true: np.ndarray, alphas: np.ndarray, metric) -> float:
    return float(metric.rms(np.atleast_2d(pred), np.atleast_2d(true), alphas))


# -- V(r) of a few atoms ---------------------------------------------------------
def potentials_figure(
    symbol: str,
    alphas: np.ndarray,
    curves: dict[str, np.ndarray],
    true: np.ndarray,
    labels: Sequence[str],
    metric,
    average: np.ndarray | None = None,
    isolated: np.ndarray | None = None,
    title: str = "",
) -> Any:
    """Figure of :func:`plot_potentials` (see the module docstring)."""
    plt = _pyplot()
    r = np.geomspace(metric.r_min_bohr, metric.r_max_bohr, 400)
    if average is None:
        average = curves["average"][0] if "average" in curves else true.mean(axis=0)
    ref = potential_values(average, alphas, r)
    curves = dict(curves)
    if isolated is not None and "isolated" not in curves:
        curves["isolated"] = np.tile(isolated, (len(true), 1))
    n = len(true)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 6.6), squeeze=False, sharex=True)
    for j in range(n):
        top, bottom = axes[0][j], axes[1][j]
        v_true = potential_values(true[j], alphas, r)
        top.plot(r, v_true - ref, "k-", lw=2, label="OLCAO (converged)")
        small = [np.abs(v_true - ref).max()]
        for m, c in curves.items():
            v = potential_values(c[j], alphas, r)
            top.plot(
                r, v - ref, STYLES.get(m, "-"), lw=1.3, label=METHOD_LABELS.get(m, m)
            )
            err = _rms(c[j], true[j], alphas, metric)
            bottom.plot(
                r,
                v - v_true,
                STYLES.get(m, "-"),
                lw=1.3,
                label=f"{METHOD_LABELS.get(m, m)}: RMS {err * 1e3:.3g} mHa",
            )
            if m != "isolated":
                small.append(np.abs(v - v_true).max())
        lim = 1.15 * max(max(small[1:], default=0.0), 1e-6)
        bottom.set_ylim(-lim, lim)  # the isolated atom may run off this scale
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.axhline(0, color="0.75", lw=0.6)
        top.set_title(labels[j], fontsize=9)
        bottom.set_xlabel("r (Bohr)")
        bottom.legend(fontsize=6.5, loc="best")
    axes[0][0].set_ylabel("V(r) - V_avg(r) (Hartree)")
    axes[1][0].set_ylabel("ΔV(r) = V - V_OLCAO (Hartree)")
    axes[0][0].legend(fontsize=6.5, loc="best")
    fig.suptitle(
        title or f"{symbol}: site potential relative to the model's average atom",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_potentials(
    path: str,
    symbol: str,
    alphas: np.ndarray,
    curves: dict[str, np.ndarray],
    true: np.ndarray,
    labels: list[str],
    metric,
    average: np.ndarray | None = None,
    isolated: np.ndarray | None = None,
    title: str = "",
) -> None:
    """V(r) of a few atoms vs OLCAO, and the errors ΔV(r) with their RMS.

    ``curves``: {method: (n_atoms, N) coefficients}; ``true``: OLCAO's
    (n_atoms, N); ``average``/``isolated``: the model's average and
    isolated-atom coefficients (N,), Hartree.
    """
    fig = potentials_figure(
        symbol, alphas, curves, true, labels, metric, average, isolated, title
    )
    save_figure(fig, path)


# -- parity and per-atom errors --------------------------------------------------
def parity_figure(
    symbol: str,
    pred: np.ndarray,
    true: np.ndarray,
    alphas: np.ndarray | None = None,
    metric=None,
    baselines: dict[str, np.ndarray] | None = None,
    structure_of_atom: Sequence[str] | None = None,
    title: str = "",
) -> Any:
    """Figure of :func:`plot_parity` (see the module docstring)."""
    plt = _pyplot()
    with_errors = alphas is not None and metric is not None
    ncols = 2 if with_errors and baselines and "average" in baselines else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.6 * ncols, 5), squeeze=False)
    ax = axes[0][0]
    centre = true.mean(axis=0)
    t = true - centre
    p = pred - centre
    lo, hi = np.percentile(t, [1, 99])
    span = max(hi - lo, 1e-12)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    n = true.shape[1]
    cmap = plt.get_cmap("viridis")
    outside = 0
    for i in range(n):
        ti, pi = t[:, i], p[:, i]
        out = (ti < lo) | (ti > hi) | (pi < lo) | (pi > hi)
        outside += int(out.sum())
        colour = cmap(i / max(n - 1, 1))
        ax.scatter(ti[~out], pi[~out], s=6, color=colour, alpha=0.6)
        if out.any():
            ax.scatter(
                np.clip(ti[out], lo, hi),
                np.clip(pi[out], lo, hi),
                s=18,
                marker="^",
                color=colour,
                edgecolor="k",
                lw=0.4,
            )
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("OLCAO A_i - <A_i> (Hartree)")
    ax.set_ylabel("network A_i - <A_i> (Hartree)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(1, n))
    fig.colorbar(sm, ax=ax, label="term i (alpha increasing)")
    lines = [f"{len(true)} atoms x {n} terms"]
    if outside:
        lines.append(f"{outside} points outside the 1-99% range: on the edge (^)")
    methods = {"network": pred, **(baselines or {})}
    if with_errors:
        lines.append("MAE A_i / RMS V(r) (mHa):")
        for m, c in methods.items():
            lines.append(
                f"  {METHOD_LABELS.get(m, m)}: {np.mean(np.abs(c - true)) * 1e3:.3g}"
                f" / {_rms(c, true, alphas, metric) * 1e3:.3g}"
            )
    ax.text(
        0.02,
        0.98,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        fontsize=7,
        family="monospace",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"},
    )
    ax.set_title("coefficients, centred on the OLCAO mean", fontsize=9)
    if ncols == 2:
        ax = axes[0][1]
        far = metric.rms_per_atom(baselines["average"], true, alphas) * 1e3
        net = metric.rms_per_atom(pred, true, alphas) * 1e3
        names = list(structure_of_atom) if structure_of_atom is not None else None
        groups = sorted(set(names)) if names else [None]
        if len(groups) > 10:
            groups = [None]
        for k, g in enumerate(groups):
            sel = (
                np.ones(len(true), bool)
                if g is None
                else np.array([s == g for s in names])
            )
            ax.scatter(
                far[sel], net[sel], s=10, color=f"C{k % 10}", label=g or "network"
            )
        if "ridge" in baselines:
            ridge = metric.rms_per_atom(baselines["ridge"], true, alphas) * 1e3
            ax.scatter(far, ridge, s=8, marker="x", color="0.5", label="ridge")
        top = max(far.max(), net.max(), 1e-6) * 1.3
        bottom_ = max(min(far.min(), net.min()) / 1.3, top * 1e-4)
        ax.plot([bottom_, top], [bottom_, top], "k-", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(bottom_, top)
        ax.set_ylim(bottom_, top)
        ax.set_xlabel("distance from the average atom: its RMS V error (mHa)")
        ax.set_ylabel("network RMS V(r) error per atom (mHa)")
        ax.set_title("per atom: below the diagonal the network helps", fontsize=9)
        ax.legend(fontsize=6.5, loc="lower right")
    fig.suptitle(title or f"{symbol}: network vs OLCAO", fontsize=10)
    fig.tight_layout()
    return fig


def plot_parity(
    path: str,
    symbol: str,
    pred: np.ndarray,
    true: np.ndarray,
    baseline: np.ndarray | None = None,
    title: str = "",
    alphas: np.ndarray | None = None,
    metric=None,
    baselines: dict[str, np.ndarray] | None = None,
    structure_of_atom: Sequence[str] | None = None,
) -> None:
    """Parity plot of A_i and per-atom V(r) errors (see the module docstring)."""
    if baseline is not None and baselines is None:
        baselines = {"average": baseline}
    fig = parity_figure(
        symbol, pred, true, alphas, metric, baselines, structure_of_atom, title
    )
    save_figure(fig, path)


# -- a prediction without reference ----------------------------------------------
def prediction_figure(prediction: Any, title: str = "", n_pick: int = 3) -> Any:
    """Figure of :func:`plot_prediction`."""
    plt = _pyplot()
    model = prediction.model
    metric = model.metric
    r = np.geomspace(metric.r_min_bohr, metric.r_max_bohr, 400)
    symbols = sorted(set(prediction.symbols))
    fig, axes = plt.subplots(
        len(symbols), 3, figsize=(13, 3.8 * len(symbols)), squeeze=False
    )
    sym = np.asarray(prediction.symbols)
    for row, s in enumerate(symbols):
        em = model.elements[s]
        idx = np.flatnonzero(sym == s)
        coeffs = np.stack([prediction.coeffs[i] for i in idx])
        dist = metric.rms_per_atom(
            np.tile(em.average, (len(idx), 1)), coeffs, em.alphas
        )
        order = np.argsort(dist)
        pick = order[
            np.linspace(0, len(order) - 1, min(n_pick, len(order))).round().astype(int)
        ][::-1]
        v_avg = potential_values(em.average, em.alphas, r)
        v_iso = potential_values(em.isolated, em.alphas, r)
        a, b, c = axes[row]
        a.plot(r, v_iso, STYLES["isolated"], label=METHOD_LABELS["isolated"])
        a.plot(r, v_avg, STYLES["average"], label="average training atom")
        b.plot(r, v_iso - v_avg, STYLES["isolated"], label=METHOD_LABELS["isolated"])
        for k, p in enumerate(pick):
            atom = int(idx[p])
            v = potential_values(coeffs[p], em.alphas, r)
            name = f"atom {atom + 1} ({dist[p] * 1e3:.3g} mHa from average)"
            a.plot(r, v, f"C{k}-", lw=1.2, label=name)
            b.plot(r, v - v_avg, f"C{k}-", lw=1.2, label=name)
        for ax in (a, b):
            ax.set_xscale("log")
            ax.set_xlabel("r (Bohr)")
            ax.axhline(0, color="0.75", lw=0.6)
            ax.legend(fontsize=6.5)
        a.set_ylabel(f"{s}: V(r) (Hartree)")
        b.set_ylabel("V(r) - V_avg(r) (Hartree)")
        a.set_title(f"{s}: {len(idx)} atoms; farthest, median, nearest", fontsize=9)
        b.set_title("relative to the model's average atom", fontsize=9)
        c.hist(dist * 1e3, bins=min(50, max(5, len(idx) // 4)), color="C0")
        c.set_xlabel("RMS of V - V_avg per atom (mHa)")
        c.set_ylabel("atoms")
        c.set_title("how far each atom is from the average atom", fontsize=9)
    where = model.path or "model"
    fig.suptitle(title or f"predicted site potentials ({where})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_prediction(path: str, prediction: Any, title: str = "") -> None:
    """V(r) of the nearest / median / farthest atom from the model's average
    atom, per element, beside the isolated and average atom, and the spread
    of all atoms (for ``olcaoml predict --plot``)."""
    save_figure(prediction_figure(prediction, title), path)
