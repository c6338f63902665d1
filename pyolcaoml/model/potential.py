"""The OLCAO site potential V(r) = sum_i A_i exp(-alpha_i r^2) and its metrics.

Everything here is plain NumPy (no TensorFlow). Units: r in Bohr, alpha in
Bohr^-2, A and V in Hartree.

The metric used throughout pyolcaoml to judge a predicted potential is the
root-mean-square error of V(r) over the spherical shell
``r_min <= |r| <= r_max`` (default 0.05 ... 6 Bohr) with the 3-D volume
weight r^2 dr, i.e. the RMS of the error *per unit volume* around the site.
Because V is linear in A, the squared error is a quadratic form
dA^T G dA with the Gram matrix G = Phi^T W Phi of the Gaussians on the
(normalised) radial quadrature, which is what the network is trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# one definition of OLCAO's exponents (machine-independent to the bit)
from pyolcaoml.olcao.olcao_dat import geometric_alphas  # noqa: F401


def potential_values(
    coeffs_hartree: np.ndarray, alphas_bohr2: np.ndarray, r_bohr: np.ndarray
) -> np.ndarray:
    """V(r) in Hartree for each coefficient row: (..., N) x (N,) x (R,) -> (..., R)."""
    phi = np.exp(-np.outer(np.asarray(r_bohr) ** 2, np.asarray(alphas_bohr2)))
    return np.asarray(coeffs_hartree) @ phi.T


def overlap_metric(alphas_bohr2: np.ndarray) -> np.ndarray:
    """S_ij = (pi/(alpha_i+alpha_j))^(3/2) in Bohr^3: the L2 metric of V in 3-D."""
    a = np.asarray(alphas_bohr2, dtype=np.float64)
    return (np.pi / (a[:, None] + a[None, :])) ** 1.5


@dataclass(frozen=True)
class RadialMetric:
    """RMS error of V(r) on a radial grid (Hartree).

    Attributes
    ----------
    r_min_bohr, r_max_bohr:
        Radial range in Bohr.
    n_points:
        Number of equally spaced points (trapezoid weights).
    weighting:
        ``"r2"``: volume weight r^2 dr (RMS over the spherical shell);
        ``"uniform"``: weight dr (RMS along a radius, emphasises the core).
    """

    r_min_bohr: float = 0.05
    r_max_bohr: float = 6.0
    n_points: int = 600
    weighting: str = "r2"

    def __post_init__(self) -> None:
        if not 0.0 <= self.r_min_bohr < self.r_max_bohr:
            raise ValueError(
                f"need 0 <= r_min < r_max, got {self.r_min_bohr}, {self.r_max_bohr}"
            )
        if self.n_points < 2:
            raise ValueError("n_points must be >= 2")
        if self.weighting not in ("r2", "uniform"):
            raise ValueError(
                f"weighting must be 'r2' or 'uniform', not {self.weighting!r}"
            )

    @property
    def description(self) -> str:
        w = "r^2-weighted (volume)" if self.weighting == "r2" else "uniform in r"
        return f"r in [{self.r_min_bohr:g}, {self.r_max_bohr:g}] Bohr, {w}"

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Radii (Bohr) and normalised quadrature weights (sum 1)."""
        r = np.linspace(self.r_min_bohr, self.r_max_bohr, self.n_points)
        w = np.full(self.n_points, r[1] - r[0])
        w[0] *= 0.5
        w[-1] *= 0.5
        if self.weighting == "r2":
            w = w * r**2
        return r, w / w.sum()

    def gram(self, alphas_bohr2: np.ndarray) -> np.ndarray:
        """G with dA^T G dA = (RMS error of V)^2, Hartree^2 per Hartree^2."""
        r, w = self.grid()
        phi = np.exp(-np.outer(r**2, np.asarray(alphas_bohr2, dtype=np.float64)))
        return phi.T @ (w[:, None] * phi)

    def rms_per_atom(
        self,
        pred_hartree: np.ndarray,
        true_hartree: np.ndarray,
        alphas_bohr2: np.ndarray,
    ) -> np.ndarray:
        """RMS error of V(r) (Hartree) for each row."""
        r, w = self.grid()
        dv = potential_values(np.asarray(pred_hartree) - true_hartree, alphas_bohr2, r)
        return np.sqrt(np.maximum((dv**2) @ w, 0.0))

    def rms(
        self,
        pred_hartree: np.ndarray,
        true_hartree: np.ndarray,
        alphas_bohr2: np.ndarray,
    ) -> float:
        """RMS error of V(r) over the grid and over all rows (Hartree)."""
        per = self.rms_per_atom(pred_hartree, true_hartree, alphas_bohr2)
        return float(np.sqrt(np.mean(per**2))) if per.size else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RadialMetric:
        return cls(**d)


#: The metric every evaluation reports first.
DEFAULT_METRIC = RadialMetric()
#: A second view that weights the region near the nucleus more.
UNIFORM_METRIC = RadialMetric(weighting="uniform")
