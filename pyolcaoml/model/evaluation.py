"""Errors of the network and of the baselines, as numbers, tables and plots."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

# The figures live in pyolcaoml.model.plots (re-exported here).
from pyolcaoml.model.plots import plot_parity as plot_parity
from pyolcaoml.model.plots import plot_potentials as plot_potentials
from pyolcaoml.model.potential import UNIFORM_METRIC

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


def baseline_warnings(symbol: str, table: dict[str, dict], where: str) -> list[str]:
    """Warnings for every baseline whose V(r) RMS error is not above the
    network's on these atoms (the network should beat all three)."""
    net = table.get("network")
    if not net:
        return []
    out = []
    for m, e in table.items():
        if m != "network" and e["rms_v_hartree"] <= net["rms_v_hartree"]:
            out.append(
                f"{symbol} on {where}: the network's V(r) RMS error "
                f"{net['rms_v_hartree'] * 1e3:.3g} mHa does not beat the "
                f"{METHOD_LABELS.get(m, m)} baseline ({e['rms_v_hartree'] * 1e3:.3g}"
                " mHa); more varied training structures or another split may help"
            )
    return out


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
