"""Move a site potential from one set of Gaussian exponents to another.

A user's OLCAO run may use exponents that differ from the model's (another
NUM_ALPHAS or range, another OLCAO version, ``makeinput -modpot``). The
potential V(r) = sum_i A_i exp(-alpha_i r^2) predicted on the model's
exponents is then written on the run's own exponents beta_k as the
coefficients B that minimise

    || sum_k B_k exp(-beta_k r^2) - V(r) ||^2

in the V(r) metric of :mod:`pyolcaoml.model.potential` (the RMS over
0.05 <= r <= 6 Bohr with weight r^2 dr that every table reports), and the
remaining RMS error in that metric is reported.

That metric cannot see Gaussians with beta >~ 10^3 Bohr^-2 (they vanish on
its grid), so it alone leaves the core-region coefficients undetermined.
They are fixed by a second, much weaker least-squares term on a grid
uniform in ln r from 1e-4 Bohr to r_max (every length scale counts the
same there, the nuclear region included), weighted ``core_weight`` (1e-6)
relative to the first: where the V(r) metric has an opinion it wins, and
where it has none the potential is matched near the nucleus. A V(r) that
both sets of Gaussians represent exactly is reproduced exactly by both
terms, so it projects exactly. Units: r in Bohr, exponents in Bohr^-2,
coefficients and V in Hartree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.potential import DEFAULT_METRIC, RadialMetric

#: Relative tolerance below which two exponent sets count as the same.
SAME_ALPHAS_RTOL = 1e-6


def same_alphas(a: np.ndarray, b: np.ndarray, rtol: float = SAME_ALPHAS_RTOL) -> bool:
    """Whether two exponent sets (Bohr^-2) are the same to ``rtol``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0))


@dataclass(frozen=True)
class Projector:
    """Linear map of coefficients on ``alphas_from`` to ``alphas_to``.

    ``matrix`` is (N_to, N_from): B = matrix @ A for every row.
    """

    alphas_from: np.ndarray
    alphas_to: np.ndarray
    matrix: np.ndarray
    metric: RadialMetric

    def __call__(self, coeffs_hartree: np.ndarray) -> np.ndarray:
        """Coefficients (..., N_from) -> (..., N_to), Hartree."""
        return np.asarray(coeffs_hartree, dtype=np.float64) @ self.matrix.T

    def rms_error(self, coeffs_hartree: np.ndarray) -> np.ndarray:
        """RMS V(r) error (Hartree, in ``metric``) of the projection, per row."""
        a = np.atleast_2d(np.asarray(coeffs_hartree, dtype=np.float64))
        b = self(a)
        r, w = self.metric.grid()
        va = a @ np.exp(-np.outer(r**2, self.alphas_from)).T
        vb = b @ np.exp(-np.outer(r**2, self.alphas_to)).T
        return np.sqrt(np.maximum(((vb - va) ** 2) @ w, 0.0))


def projector(
    alphas_from: np.ndarray,
    alphas_to: np.ndarray,
    metric: RadialMetric = DEFAULT_METRIC,
    core_weight: float = 1e-6,
    core_r_min_bohr: float = 1e-4,
    core_points: int = 400,
) -> Projector:
    """The least-squares projector between two exponent sets (see module doc)."""
    af = np.asarray(alphas_from, dtype=np.float64).ravel()
    at = np.asarray(alphas_to, dtype=np.float64).ravel()
    for name, a in (("alphas_from", af), ("alphas_to", at)):
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name}: need positive finite exponents (Bohr^-2)")
    if not core_weight > 0:
        raise ValueError(f"core_weight must be > 0, got {core_weight}")
    r, w = metric.grid()
    rc = np.geomspace(core_r_min_bohr, metric.r_max_bohr, core_points)
    wc = np.full(core_points, core_weight / core_points)
    rows_r = np.concatenate([r, rc])
    sw = np.sqrt(np.concatenate([w, wc]))[:, None]
    phi_to = sw * np.exp(-np.outer(rows_r**2, at))
    phi_from = sw * np.exp(-np.outer(rows_r**2, af))
    # Column scaling makes the SVD's cut-off meaningful for every Gaussian.
    scale = np.linalg.norm(phi_to, axis=0)
    sol, *_ = np.linalg.lstsq(phi_to / scale, phi_from, rcond=1e-13)
    matrix = sol / scale[:, None]
    return Projector(af.copy(), at.copy(), matrix, metric)


def project_coefficients(
    coeffs_hartree: np.ndarray,
    alphas_from: np.ndarray,
    alphas_to: np.ndarray,
    metric: RadialMetric = DEFAULT_METRIC,
) -> tuple[np.ndarray, np.ndarray]:
    """Project coefficient rows onto other exponents.

    Returns (coefficients on ``alphas_to``, RMS V(r) error per row in
    Hartree). Identical exponent sets are passed through unchanged with
    zero error.
    """
    a = np.asarray(coeffs_hartree, dtype=np.float64)
    if same_alphas(alphas_from, alphas_to):
        return a.copy(), np.zeros(a.shape[:-1] if a.ndim > 1 else 1)
    p = projector(alphas_from, alphas_to, metric)
    return p(a), p.rms_error(a)
