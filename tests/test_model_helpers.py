"""Helpers shared by the model/predict/demo tests (a tiny real dataset); no tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pyolcaoml.cli import main

REPO = Path(__file__).resolve().parents[1]
OLCAO = REPO / "tests" / "data" / "olcao"
#: Runs with one potential type per atom (real OLCAO, 8 atoms each).
PER_ATOM_RUNS = ("si8_types", "si8_r0.10_seed1100")
#: atomicPDB/si/coeff1 (real file) columns 3 and 4 of the first row.
COEFF1_FIRST_CHARGES = (0.126789e-01, 0.158226e-01)


def make_tiny_dataset(path: Path) -> Path:
    """Convert the two per-atom test runs with a small bispectrum (2J_max 4)."""
    rc = main(
        ["convert", "--quiet", "--twojmax", "4", "-o", str(path)]
        + [str(OLCAO / r) for r in PER_ATOM_RUNS]
    )
    assert rc == 0
    return path


def tiny_config(**kw):
    from pyolcaoml.model import TrainConfig

    base = dict(
        hidden=(8,),
        max_epochs=4,
        patience=10,
        batch_size=4,
        validation=("si8_types",),
        seed=7,
    )
    base.update(kw)
    return TrainConfig(**base)


def radial_rms(pred: np.ndarray, true: np.ndarray, alphas: np.ndarray) -> float:
    """RMS of V_pred - V_true over r in [0.05, 6] Bohr with weight r^2, by
    plain midpoint quadrature on a fine grid (independent of the package)."""
    edges = np.linspace(0.05, 6.0, 20001)
    r = 0.5 * (edges[1:] + edges[:-1])
    w = r**2
    dv = (pred - true) @ np.exp(-np.outer(alphas, r**2))
    return float(np.sqrt(np.mean((dv**2) @ w / w.sum())))
