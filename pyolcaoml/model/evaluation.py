"""Errors of the network and of the baselines, as numbers, tables and plots."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from pyolcaoml.model.potential import UNIFORM_METRIC, potential_values

if TYPE_CHECKING:  # pragma: no cover
    from pyolcaoml.model.saved import PotentialModel

METHODS = ("network", "isolated", "average", "ridge")
METHOD_LABELS = {
    "network": "network",
    "isolated": "isolated atom",
    "average": "average atom",
    "ridge": "ridge",
}


def errors(pred: np.ndarray, true: np.ndarray, alphas: np.ndarray, metric) -> dict:
    """MAE of A_i and RMS errors of V(r) (all Hartree) of predictions (M, N)."""
    return {
        "n_atoms": int(len(true)),
        "mae_coeff_hartree": float(np.mean(np.abs(pred - true)))
        if len(true)
        else float("nan"),
        "rms_v_hartree": metric.rms(pred, true, alphas),
        "rms_v_uniform_hartree": UNIFORM_METRIC.rms(pred, true, alphas),
    }


def method_errors(
    model: PotentialModel,
    symbol: str,
    x: np.ndarray,
    true: np.ndarray,
    methods=METHODS,
) -> dict[str, dict]:
    """{method: errors} for the atoms (descriptors x, true A) of one element."""
    alphas = model.elements[symbol].alphas
    return {
        m: errors(model.predict_element(symbol, x, m), true, alphas, model.metric)
        for m in methods
    }


def _ratio(baseline: float, network: float) -> str:
    return f"{baseline / max(network, 1e-300):7.1f}x"


def format_table(symbol: str, table: dict[str, dict], metric_text: str) -> str:
    """A plain-text table; ratios are baseline error / network error."""
    net = table.get("network")
    lines = [
        f"{symbol}: {next(iter(table.values()))['n_atoms']} atoms; "
        f"V(r) RMS on {metric_text}; uniform: same range, weight dr",
        f"  {'method':<14}{'MAE A_i (Ha)':>14}{'RMS V (Ha)':>13}{'ratio':>8}"
        f"{'RMS V unif (Ha)':>17}{'ratio':>8}",
    ]
    for m, e in table.items():
        r1 = r2 = ""
        if net and m != "network":
            r1 = _ratio(e["rms_v_hartree"], net["rms_v_hartree"])
            r2 = _ratio(e["rms_v_uniform_hartree"], net["rms_v_uniform_hartree"])
        lines.append(
            f"  {METHOD_LABELS.get(m, m):<14}{e['mae_coeff_hartree']:>14.4g}"
            f"{e['rms_v_hartree']:>13.4g}{r1:>8}{e['rms_v_uniform_hartree']:>17.4g}{r2:>8}"
        )
    if net:
        lines.append(
            "  ratio = baseline error / network error (> 1: the network is better)"
        )
    return "\n".join(lines)


def plot_parity(
    path: str,
    symbol: str,
    pred: np.ndarray,
    true: np.ndarray,
    baseline: np.ndarray | None = None,
    title: str = "",
) -> None:
    """Parity plot of A_i - mean(A_i) (network vs OLCAO), one colour per term."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre = true.mean(axis=0)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    n = true.shape[1]
    cmap = plt.get_cmap("viridis")
    for i in range(n):
        ax.scatter(
            true[:, i] - centre[i],
            pred[:, i] - centre[i],
            s=6,
            color=cmap(i / max(n - 1, 1)),
            alpha=0.7,
        )
    lim = float(np.max(np.abs(np.concatenate([true - centre, pred - centre])))) * 1.05
    ax.plot([-lim, lim], [-lim, lim], "k-", lw=0.8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("OLCAO A_i - <A_i> (Hartree)")
    ax.set_ylabel("network A_i - <A_i> (Hartree)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(1, n))
    fig.colorbar(sm, ax=ax, label="term i (alpha increasing)")
    ax.set_title(title or f"{symbol}: coefficients, centred on the OLCAO mean")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_potentials(
    path: str,
    symbol: str,
    alphas: np.ndarray,
    curves: dict[str, np.ndarray],
    true: np.ndarray,
    labels: list[str],
    metric,
) -> None:
    """V(r) - V_avg(r) of a few atoms: OLCAO vs the predictions (Hartree vs Bohr).

    ``curves``: {method: (n_atoms, N) coefficients}; the average atom is
    subtracted so that the small differences between atoms are visible.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.linspace(metric.r_min_bohr, metric.r_max_bohr, 400)
    ref = potential_values(true.mean(axis=0), alphas, r)
    n = len(true)
    fig, axes = plt.subplots(1, n, figsize=(4.0 * n, 3.6), squeeze=False)
    styles = {"network": "C1-", "ridge": "C2:", "average": "C7--", "isolated": "C3-."}
    for j, ax in enumerate(axes[0]):
        ax.plot(
            r, potential_values(true[j], alphas, r) - ref, "k-", lw=2, label="OLCAO"
        )
        for m, c in curves.items():
            v = potential_values(c[j], alphas, r) - ref
            ax.plot(r, v, styles.get(m, "-"), lw=1.3, label=METHOD_LABELS.get(m, m))
        ax.set_xscale("log")
        ax.set_xlabel("r (Bohr)")
        ax.set_title(labels[j], fontsize=9)
        ax.axhline(0, color="0.8", lw=0.5)
    axes[0][0].set_ylabel("V(r) - V_mean(r) (Hartree)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        f"{symbol}: site potential relative to the mean of these atoms", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pick_atoms(
    true: np.ndarray, average: np.ndarray, alphas: np.ndarray, metric, n: int = 3
) -> np.ndarray:
    """Indices of n atoms spread over how far they are from the average atom."""
    if len(true) <= n:
        return np.arange(len(true))
    d = metric.rms_per_atom(np.tile(average, (len(true), 1)), true, alphas)
    order = np.argsort(d)
    return order[np.linspace(0, len(order) - 1, n).round().astype(int)][::-1]


def ensure_dir(path: str) -> None:
    os.makedirs(path, exist_ok=True)
