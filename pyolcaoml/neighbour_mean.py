"""A second hop: each atom's descriptors next to its neighbours' average.

An atom's bispectrum sees where its neighbours are, not how they are
bonded in turn; the potential at a site depends on both (a vacancy two
bonds away moves a C atom's level in SiC by ~20 mHa and its own bispectrum
barely at all).  :class:`NeighbourMean` appends to an atom's descriptors
the weighted average of its neighbours' descriptors,

    m_i = sum_j w(r_ij) b_j / sum_j w(r_ij)      (m_i = 0 with no neighbour)

with w = 1 up to ``r_inner`` and a cosine switch to 0 at ``r_outer`` (Å),
over every neighbour within ``r_outer`` (periodic images included, the atom
itself excluded).  The arithmetic is the Fortran core's
(``fortran/core/OML_NeighbourMean.f90``), the same that libolcaoml runs.

>>> from ase.build import bulk
>>> from pyolcaoml import Bispectrum
>>> from pyolcaoml.neighbour_mean import NeighbourMean
>>> d = NeighbourMean(Bispectrum(twojmax=4, radii={"Si": 2.35}), 2.4, 2.8)
>>> d.compute(bulk("Si", cubic=True)).shape
(8, 28)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pyolcaoml._fortran import (
    check,
    core,
    fortran_cell,
    fortran_positions,
    thread_count,
)
from pyolcaoml.bispectrum import (
    Bispectrum,
    MultiScaleBispectrum,
    _positive_finite,
    centre_indices,
    padded_cell,
)
from pyolcaoml.structure import Structure

#: Largest switching radius accepted (Å): a neighbour mean is a bond-range
#: quantity; beyond this the neighbour list of a dense solid gets large.
MAX_R_OUTER = 20.0


def _radius(name: str, value: Any) -> float:
    v = _positive_finite(name, value)
    if v > MAX_R_OUTER:
        raise ValueError(f"{name}: must lie in (0, {MAX_R_OUTER:g}] Å, got {value!r}")
    return v


class NeighbourMean:
    """``inner``'s descriptors followed by their neighbour mean.

    ``inner``: a :class:`Bispectrum` or :class:`MultiScaleBispectrum`;
    ``r_inner`` <= ``r_outer`` (Å): full weight up to ``r_inner``, none
    from ``r_outer`` (equal values: a hard cutoff).  Features: the K of
    ``inner``, then K neighbour means in the same order.
    """

    def __init__(
        self,
        inner: Bispectrum | MultiScaleBispectrum,
        r_inner: float,
        r_outer: float,
    ) -> None:
        if not isinstance(inner, (Bispectrum, MultiScaleBispectrum)):
            raise ValueError(
                "inner: expected a Bispectrum or MultiScaleBispectrum, got "
                f"{type(inner).__name__}"
            )
        self.inner = inner
        self.r_inner = _radius("r_inner", r_inner)
        self.r_outer = _radius("r_outer", r_outer)
        if self.r_outer < self.r_inner:
            raise ValueError(
                f"r_outer: must be >= r_inner ({self.r_inner:g} Å), got {r_outer!r}"
            )

    @property
    def elements(self) -> tuple[str, ...]:
        return self.inner.elements

    @property
    def max_cutoff(self) -> float:
        """How far (Å) the descriptors of an atom look: a neighbour's
        cutoff beyond ``r_outer``."""
        return self.inner.max_cutoff + self.r_outer

    @property
    def n_features(self) -> int:
        return 2 * self.inner.n_features

    @property
    def labels(self) -> list[str]:
        own = self.inner.labels
        return own + [f"nbr:{lab}" for lab in own]

    def get_number_of_features(self) -> int:
        return self.n_features

    def compute(
        self,
        x: Any,
        centers: Sequence[int] | np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> np.ndarray:
        """(n_centers, 2 K) descriptors of the atoms of ``x`` (all, or the
        0-based ``centers``): ``inner``'s, then the neighbour means."""
        s = Structure.coerce(x)
        # Every atom's own descriptors: the neighbours of the centres need
        # theirs (inner.compute checks the structure).
        base = self.inner.compute(s, None, n_threads)
        idx = centre_indices(centers, len(s))
        cell, positions = padded_cell(s, max(self.inner.max_cutoff, self.r_outer))
        mean, status, message = core().oml_neighbour_mean(
            fortran_cell(cell),
            fortran_positions(positions),
            self.r_inner,
            self.r_outer,
            np.asfortranarray(base.T),
            (idx + 1).astype(np.int32),
            thread_count(n_threads),
        )
        check(status, message)
        return np.hstack([base[idx], mean.T])

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "neighbour_mean",
            "r_inner": self.r_inner,
            "r_outer": self.r_outer,
            "inner": self.inner.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NeighbourMean:
        from pyolcaoml.bispectrum import descriptor_from_dict

        d = dict(d)
        kind = d.pop("type", "neighbour_mean")
        if kind != "neighbour_mean":
            raise ValueError(f"type: expected 'neighbour_mean', got {kind!r}")
        missing = {"inner", "r_inner", "r_outer"} - set(d)
        if missing:
            raise ValueError(f"neighbour_mean: missing {', '.join(sorted(missing))}")
        inner = descriptor_from_dict(d["inner"])
        if isinstance(inner, NeighbourMean):
            raise ValueError("neighbour_mean: the inner descriptor cannot be another")
        return cls(inner, d["r_inner"], d["r_outer"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NeighbourMean) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"NeighbourMean({self.inner!r}, r_inner={self.r_inner:g}, "
            f"r_outer={self.r_outer:g})"
        )
