"""Ensemble mean, per-atom uncertainty and its calibration.

An ensemble model holds M networks per element (different seeds and
bootstrap resamples of the training structures). For one atom the
prediction is the members' mean and the uncertainty is their spread in the
V(r) metric of :class:`~pyolcaoml.model.potential.RadialMetric` (the RMS of
V(r) over 0.05 <= r <= 6 Bohr, weight r^2 dr, Hartree), calibrated::

    s2    = sum_m (A_m - Abar)^T G (A_m - Abar) / (M - 1)
    sigma = sqrt(scale^2 s2 + floor^2)                 (Hartree)

``sigma`` (column ``sigma_v_ha`` of ``predict --report``) is the predicted
RMS V(r) error of the mean, in the metric ``evaluate`` reports. The mean and
sigma are computed by the Fortran routine that libolcaoml also uses
(fortran/core/OML_Ensemble.f90), so both give the same bits from the same
member predictions.

Calibration (:func:`fit_calibration`): each member's out-of-bag structures
(not in its bootstrap sample) are unseen by it. For every training atom
seen by at most M - 2 members, the mean and spread of the members that did
not see it give an honest (error, spread) pair; ``scale`` and ``floor``
maximise the likelihood of those errors under a Gaussian error model with
variance scale^2 s2 + floor^2. The spread of the few out-of-bag members
estimates the same member variance as the full ensemble's, while the error
of their mean is larger than the full mean's: the calibration errs on the
side of a larger sigma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.errors import ModelError


@dataclass
class Calibration:
    """sigma = sqrt(scale^2 s2 + floor^2); floor in Hartree."""

    scale: float = 1.0
    floor_hartree: float = 0.0
    n_atoms: int = 0  # out-of-bag atoms it was fitted on (0: not calibrated)

    def to_dict(self) -> dict:
        return {
            "sigma_scale": self.scale,
            "sigma_floor_hartree": self.floor_hartree,
            "n_calibration_atoms": self.n_atoms,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        return cls(
            scale=float(d.get("sigma_scale", 1.0)),
            floor_hartree=float(d.get("sigma_floor_hartree", 0.0)),
            n_atoms=int(d.get("n_calibration_atoms", 0)),
        )


def sigma_gram(metric, alphas: np.ndarray) -> np.ndarray:
    """The V(r) Gram matrix sigma uses, made exactly symmetric (the matrix
    product leaves round-off asymmetry, and the library reads the exported
    matrix in the other index order)."""
    g = metric.gram(alphas)
    return 0.5 * (g + g.T)


def ensemble_moments(
    members: np.ndarray,
    gram: np.ndarray,
    scale: float = 1.0,
    floor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (n, N) and sigma (n,) Hartree of member predictions (M, n, N).

    With one member sigma is NaN (a single network has no spread).
    """
    from pyolcaoml._fortran import check, core

    p = np.asarray(members, dtype=np.float64)
    if p.ndim != 3:
        raise ModelError("member predictions must be (members, atoms, terms)")
    m, n, k = p.shape
    g = np.asarray(gram, dtype=np.float64)
    if g.shape != (k, k):
        raise ModelError(f"gram must be ({k}, {k}), got {g.shape}")
    if n == 0:
        return np.zeros((0, k)), np.zeros(0)
    # Fortran order (term, atom, member): one atom's numbers contiguous.
    f = np.asfortranarray(p.transpose(2, 1, 0))
    mean, sigma, status, message = core().oml_ensemble_moments(
        f, np.asfortranarray(g), float(scale), float(floor)
    )
    check(status, message)
    sigma = np.array(sigma, dtype=np.float64)
    if m == 1:
        sigma[:] = np.nan
    return np.ascontiguousarray(np.asarray(mean).T), sigma


def member_spread(members: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Raw spread s2 (Hartree^2) per atom; NumPy, for calibration."""
    p = np.asarray(members, dtype=np.float64)
    if p.shape[0] < 2:
        return np.full(p.shape[1], np.nan)
    d = p - p.mean(axis=0)
    q = np.einsum("man,nk,mak->a", d, gram, d)
    return np.maximum(q, 0.0) / (p.shape[0] - 1)


def out_of_bag_atoms(
    names: np.ndarray, in_bags: list[set[str]], rest
) -> tuple[np.ndarray, np.ndarray]:
    """Which members left each atom's structure out, and which atoms can be
    paired: ``names`` (A,) the structure of each atom, ``in_bags`` each
    member's training structures, ``rest`` the structures to calibrate on.
    Returns ``oob`` (A, M) and ``usable`` (A,): in ``rest`` and left out by
    at least two members."""
    oob = np.array([[n not in bag for bag in in_bags] for n in names], dtype=bool)
    usable = np.isin(names, list(rest)) & (oob.sum(axis=1) >= 2)
    return oob, usable


def out_of_bag_pairs(
    members: np.ndarray,
    oob: np.ndarray,
    usable: np.ndarray,
    coeffs: np.ndarray,
    alphas: np.ndarray,
    metric,
) -> tuple[np.ndarray, np.ndarray]:
    """The calibration's (error, spread) pairs, squared, Hartree².

    ``members`` (M, A, N): every member's A_i for A atoms of one element;
    ``oob`` (A, M): whether each member left the atom's structure out;
    ``usable`` (A,): the atoms to pair (at least two out-of-bag members;
    both from :func:`out_of_bag_atoms`);
    ``coeffs`` (A, N): the converged A_i. For each usable atom: the squared
    RMS V(r) error of the mean of its out-of-bag members and their spread
    s² (:func:`member_spread`); NaN elsewhere."""
    e2 = np.full(len(oob), np.nan)
    s2 = np.full(len(oob), np.nan)
    gram = sigma_gram(metric, alphas)
    for key in {tuple(row) for row in oob[usable]}:
        sel = usable & np.all(oob == np.array(key), axis=1)
        m = members[np.array(key)][:, sel]
        e2[sel] = metric.rms_per_atom(m.mean(axis=0), coeffs[sel], alphas) ** 2
        s2[sel] = member_spread(m, gram)
    return e2, s2


def fit_calibration(
    errors_sq: np.ndarray, spread: np.ndarray, min_atoms: int = 10
) -> Calibration:
    """Scale and floor maximising sum -log v - e^2/v, v = scale^2 s2 + floor^2.

    ``errors_sq``: squared RMS V(r) errors (Hartree^2) of out-of-bag means;
    ``spread``: their out-of-bag s2. Fewer than ``min_atoms`` pairs give
    the uncalibrated (1, 0).
    """
    e2 = np.asarray(errors_sq, dtype=np.float64)
    s2 = np.asarray(spread, dtype=np.float64)
    ok = np.isfinite(e2) & np.isfinite(s2)
    e2, s2 = e2[ok], s2[ok]
    if len(e2) < min_atoms or not np.any(s2 > 0):
        return Calibration()
    typical_e = float(np.sqrt(np.mean(e2)))
    typical_s = float(np.sqrt(np.mean(s2)))
    scales = typical_e / max(typical_s, 1e-300) * np.logspace(-2, 2, 161)
    floors = np.concatenate([[0.0], typical_e * np.logspace(-3, 0.5, 141)])
    best = (np.inf, 1.0, 0.0)
    for f in floors:
        v = scales[:, None] ** 2 * s2[None, :] + f * f
        v = np.maximum(v, 1e-300)
        nll = np.sum(np.log(v) + e2[None, :] / v, axis=1)
        i = int(np.argmin(nll))
        if nll[i] < best[0]:
            best = (float(nll[i]), float(scales[i]), float(f))
    return Calibration(scale=best[1], floor_hartree=best[2], n_atoms=int(len(e2)))


def calibration_summary(errors: np.ndarray, sigma: np.ndarray) -> dict:
    """Spearman rank correlation of sigma and error, fractions within 1, 2 sigma."""
    e = np.asarray(errors, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    ok = np.isfinite(e) & np.isfinite(s)
    e, s = e[ok], s[ok]
    out = {
        "n_atoms": int(len(e)),
        "spearman": float("nan"),
        "within_1_sigma": float("nan"),
        "within_2_sigma": float("nan"),
        "median_sigma_hartree": float(np.median(s)) if len(s) else float("nan"),
        "rms_error_hartree": float(np.sqrt(np.mean(e**2))) if len(e) else float("nan"),
        "rms_sigma_hartree": float(np.sqrt(np.mean(s**2))) if len(s) else float("nan"),
    }
    if len(e) == 0:
        return out
    out["within_1_sigma"] = float(np.mean(e <= s))
    out["within_2_sigma"] = float(np.mean(e <= 2 * s))
    if len(e) > 2:
        out["spearman"] = spearman(e, s)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(np.sqrt(np.sum(ra * ra) * np.sum(rb * rb)))
    return float(np.sum(ra * rb) / den) if den > 0 else float("nan")


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1, dtype=float)
    uniq, inverse = np.unique(v, return_inverse=True)
    if len(uniq) < len(v):  # ties: each tied group gets its mean rank
        sums = np.bincount(inverse, weights=ranks)
        counts = np.bincount(inverse)
        ranks = (sums / counts)[inverse]
    return ranks


def format_calibration(model) -> str:
    """Lines describing each element's sigma calibration ('' for M = 1)."""
    if model.n_members < 2:
        return ""
    rep = model.training.get("calibration", {})
    lines = [f"uncertainty: ensemble of {model.n_members} networks per element"]
    for s, em in model.elements.items():
        kinds = [(s, em.calibration)]
        if em.variant_columns is not None:
            near = "/".join(em.variant_elements) or "new-element"
            kinds = [
                (f"{s} without a {near} neighbour", em.calibration),
                (f"{s} (variant)", em.variant_calibration),
            ]
        for key, (label, c) in zip((s, f"{s} (variant)"), kinds, strict=False):
            text = (
                f"  {label}: sigma = sqrt(({c.scale:.3g} x spread)^2 + "
                f"({c.floor_hartree * 1e3:.3g} mHa)^2), fitted on {c.n_atoms} "
                "out-of-bag atoms"
            )
            oob = rep.get(key, {}).get("out_of_bag")
            if oob:
                text += (
                    f"; there: rank corr. {oob['spearman']:.2f}, within 1/2 "
                    f"sigma {oob['within_1_sigma']:.0%}/{oob['within_2_sigma']:.0%}"
                )
            lines.append(text)
    return "\n".join(lines)
