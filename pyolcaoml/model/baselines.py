"""Baselines every evaluation reports beside the network (plain NumPy).

- isolated atom: A = atomicPDB coeff1, OLCAO's default SCF start;
- average atom: the mean converged A of the training atoms of the element;
- ridge: a linear model on the same (standardised) descriptors, with the
  ridge strength chosen by leave-structures-out cross-validation on the
  training structures in the function-space metric (RMS error of V(r)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.errors import ModelError

#: Ridge strengths tried by cross-validation (on standardised descriptors,
#: relative to the number of training atoms).
RIDGE_LAMBDAS: tuple[float, ...] = tuple(10.0 ** np.arange(-6.0, 3.5, 0.5))


def feature_scaling(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and a floored standard deviation of each descriptor column.

    Columns that are (nearly) constant on the training data get the median
    column scale instead of ~0, so they cannot blow up on new structures.
    """
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    positive = std[std > 0]
    typical = float(np.median(positive)) if positive.size else 1.0
    floor = 1e-6 * max(typical, 1e-300)
    std = np.where(std > floor, std, typical)
    return mean, std


@dataclass
class RidgeBaseline:
    """y = ((x - x_mean) / x_scale) @ weights + intercept, y in Hartree."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    weights: np.ndarray  # (K, N)
    intercept: np.ndarray  # (N,)
    strength: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.weights.shape[0]:
            raise ModelError(
                f"ridge baseline expects {self.weights.shape[0]} descriptors, "
                f"got {x.shape[-1]}"
            )
        return ((x - self.x_mean) / self.x_scale) @ self.weights + self.intercept

    def to_dict(self) -> dict:
        return {
            "x_mean": self.x_mean.tolist(),
            "x_scale": self.x_scale.tolist(),
            "weights": self.weights.tolist(),
            "intercept_hartree": self.intercept.tolist(),
            "strength": self.strength,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RidgeBaseline:
        return cls(
            x_mean=np.asarray(d["x_mean"], dtype=np.float64),
            x_scale=np.asarray(d["x_scale"], dtype=np.float64),
            weights=np.asarray(d["weights"], dtype=np.float64),
            intercept=np.asarray(d["intercept_hartree"], dtype=np.float64),
            strength=float(d["strength"]),
        )


def _ridge_solve(z: np.ndarray, y: np.ndarray, strength: float) -> tuple:
    ym = y.mean(axis=0)
    zm = z.mean(axis=0)
    zc = z - zm
    k = zc.shape[1]
    a = zc.T @ zc + strength * len(zc) * np.eye(k)
    w = np.linalg.solve(a, zc.T @ (y - ym))
    return w, ym - zm @ w


def _ridge_path(z: np.ndarray, y: np.ndarray, strengths: Sequence[float]):
    """(w, b) of _ridge_solve for each strength, from one eigendecomposition."""
    ym = y.mean(axis=0)
    zm = z.mean(axis=0)
    zc = z - zm
    lam, v = np.linalg.eigh(zc.T @ zc)
    proj = v.T @ (zc.T @ (y - ym))
    for s in strengths:
        w = v @ (proj / (lam + s * len(zc))[:, None])
        yield w, ym - zm @ w


def fit_ridge(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    gram: np.ndarray,
    strengths: Sequence[float] = RIDGE_LAMBDAS,
    n_folds: int = 5,
) -> RidgeBaseline:
    """Ridge regression of coefficients y (M, N) on descriptors x (M, K).

    The strength is chosen by grouped K-fold cross-validation (``groups``: the
    structure of each atom, so no structure is split) minimising the mean
    squared V(r) error dA^T G dA; then the model is refit on all rows.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, scale = feature_scaling(x)
    z = (x - mean) / scale
    uniq = np.unique(groups)
    best = float(strengths[len(strengths) // 2])
    if len(uniq) >= 2 and len(strengths) > 1:
        folds = np.array_split(uniq, min(n_folds, len(uniq)))
        scores = np.zeros(len(strengths))
        for fold in folds:
            te = np.isin(groups, fold)
            # One eigendecomposition per fold serves every strength.
            for k, (w, b) in enumerate(_ridge_path(z[~te], y[~te], strengths)):
                d = z[te] @ w + b - y[te]
                scores[k] += float(np.einsum("ai,ij,aj->", d, gram, d))
        best = float(strengths[int(np.argmin(scores))])
    w, b = _ridge_solve(z, y, best)
    return RidgeBaseline(
        x_mean=mean, x_scale=scale, weights=w, intercept=b, strength=best
    )
