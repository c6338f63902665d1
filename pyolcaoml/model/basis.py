"""A well-conditioned output basis for the coefficient vector of one element.

The converged A_i (Hartree) alternate in sign, are tens of Hartree and are
strongly correlated, so the raw coefficient vector is a poor regression
target. We learn instead the centred difference from the isolated atom,

    d = A - A_iso - mu            (mu: mean of A - A_iso over training atoms)

expressed in coordinates z in which the squared Euclidean norm equals the
training metric

    ||d||_M^2 = d^T M d,   M = G / e_V + eps * diag(1 / sigma_i^2) / N.

G is the Gram matrix of the radial V(r) metric (see potential.RadialMetric),
so d^T G d is the squared RMS error of V(r); sigma_i is the training standard
deviation of A_i. Both terms are normalised by what the average-atom
predictor scores on the training atoms (e_V = mean d^T G d, and 1 for the
standardised coefficients), so ``eps`` is the relative weight given to the raw
coefficients: the small-eps limit is a pure function-space loss, while eps > 0
keeps the Gaussians that V(r) on the grid cannot see (alpha >~ 1e3) determined.

With M = L^T L (Cholesky), y = L d is rotated onto its principal axes,
z = Q^T y (PCA in the metric M, components sorted by variance). The network
predicts z; the fixed linear map A = A_iso + mu + (L^-1 Q) z is stored as the
last (non-trainable) Dense layer of the saved model, so the model outputs A.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.errors import ModelError


@dataclass
class OutputBasis:
    """Linear map between coefficients A (Hartree) and latent coordinates z."""

    isolated: np.ndarray  # (N,) A_iso, Hartree
    mean_delta: np.ndarray  # (N,) mu, Hartree
    to_latent_matrix: np.ndarray  # (k, N): z = T (A - A_iso - mu)
    from_latent_matrix: np.ndarray  # (N, k): A = A_iso + mu + B z
    latent_variance: np.ndarray  # (k,) variance of z on training atoms
    eps: float

    @property
    def n_coeffs(self) -> int:
        return int(self.isolated.shape[0])

    @property
    def n_latent(self) -> int:
        return int(self.to_latent_matrix.shape[0])

    @property
    def offset(self) -> np.ndarray:
        """A_iso + mu: the average-atom coefficients of the training set (Hartree)."""
        return self.isolated + self.mean_delta

    def to_latent(self, coeffs: np.ndarray) -> np.ndarray:
        return (np.asarray(coeffs) - self.offset) @ self.to_latent_matrix.T

    def from_latent(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z) @ self.from_latent_matrix.T + self.offset

    @classmethod
    def fit(
        cls,
        coeffs: np.ndarray,
        isolated: np.ndarray,
        gram: np.ndarray,
        eps: float = 0.05,
        variance_kept: float = 1.0,
    ) -> OutputBasis:
        """Fit the basis on training coefficients (M, N) Hartree.

        ``variance_kept`` < 1 truncates to the leading principal components
        holding that fraction of the metric variance (1.0 keeps all N).
        """
        coeffs = np.asarray(coeffs, dtype=np.float64)
        if coeffs.ndim != 2 or coeffs.shape[0] < 2:
            raise ModelError("need at least two training atoms to fit the output basis")
        n = coeffs.shape[1]
        delta = coeffs - isolated
        mu = delta.mean(axis=0)
        d = delta - mu
        e_v = float(np.mean(np.einsum("ai,ij,aj->a", d, gram, d)))
        sigma2 = d.var(axis=0)
        sigma2 = np.maximum(sigma2, 1e-12 * max(float(sigma2.max()), 1e-30))
        metric = np.zeros((n, n))
        if e_v > 0:
            metric += gram / e_v
        metric += eps * np.diag(1.0 / sigma2) / n
        metric = 0.5 * (metric + metric.T)
        # Cholesky of a possibly near-singular matrix: fall back to the
        # symmetric square root when eps is 0.
        w, u = np.linalg.eigh(metric)
        floor = max(float(w.max()), 1e-300) * 1e-12
        w = np.maximum(w, floor)
        sqrt_m = (u * np.sqrt(w)) @ u.T
        inv_sqrt_m = (u / np.sqrt(w)) @ u.T
        y = d @ sqrt_m  # sqrt_m symmetric
        cov = y.T @ y / len(y)
        lam, q = np.linalg.eigh(cov)
        order = np.argsort(lam)[::-1]
        lam, q = np.maximum(lam[order], 0.0), q[:, order]
        # Fix the sign of each axis so that the fit is deterministic.
        signs = np.sign(q[np.argmax(np.abs(q), axis=0), np.arange(n)])
        q = q * np.where(signs == 0, 1.0, signs)
        k = n
        if variance_kept < 1.0:
            frac = np.cumsum(lam) / max(lam.sum(), 1e-300)
            k = int(np.searchsorted(frac, variance_kept) + 1)
        q = q[:, :k]
        return cls(
            isolated=np.asarray(isolated, dtype=np.float64).copy(),
            mean_delta=mu,
            to_latent_matrix=q.T @ sqrt_m,
            from_latent_matrix=inv_sqrt_m @ q,
            latent_variance=lam[:k],
            eps=float(eps),
        )

    def to_dict(self) -> dict:
        return {
            "isolated_hartree": self.isolated.tolist(),
            "mean_delta_hartree": self.mean_delta.tolist(),
            "to_latent_matrix": self.to_latent_matrix.tolist(),
            "from_latent_matrix": self.from_latent_matrix.tolist(),
            "latent_variance": self.latent_variance.tolist(),
            "eps": self.eps,
        }

    @classmethod
    def from_dict(cls, d: dict) -> OutputBasis:
        return cls(
            isolated=np.asarray(d["isolated_hartree"], dtype=np.float64),
            mean_delta=np.asarray(d["mean_delta_hartree"], dtype=np.float64),
            to_latent_matrix=np.asarray(d["to_latent_matrix"], dtype=np.float64),
            from_latent_matrix=np.asarray(d["from_latent_matrix"], dtype=np.float64),
            latent_variance=np.asarray(d["latent_variance"], dtype=np.float64),
            eps=float(d["eps"]),
        )
