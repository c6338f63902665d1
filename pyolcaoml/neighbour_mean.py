"""A second hop: each atom's descriptors next to its neighbours' average.

An atom's bispectrum sees where its neighbours are, not how they are
bonded in turn; the potential at a site depends on both (a vacancy two
bonds away moves a C atom's level in SiC by ~20 mHa and its own bispectrum
barely at all).  :class:`NeighbourMean` appends to an atom's descriptors
the weighted average of its neighbours' descriptors,

    m_i = sum_j w(r_ij) b_j / sum_j w(r_ij)      (m_i = 0 with no neighbour)

with w = 1 up to ``r_inner`` and a cosine switch to 0 at ``r_outer`` (Å),
over every neighbour within ``r_outer`` (periodic images included, the atom
itself excluded).  ``pairs`` sets the range of an element pair apart: bonds
differ in length (C-C 1.54, Si-C 1.89, Si-Si 2.35 Å), and a range scaled
with each pair's bond length takes the first shell of every pair without
the second shell of the short ones.  ``hops`` > 1 repeats the averaging:
the second hop m2_i = sum_j w(r_ij) m_j / sum_j w(r_ij) carries what the
neighbours' neighbours see (two bonds away) and so on; the features are
b, m, m2, ... .  The arithmetic is the Fortran core's
(``fortran/core/OML_NeighbourMean.f90``), the same that libolcaoml runs.

>>> from ase.build import bulk
>>> from pyolcaoml import Bispectrum
>>> from pyolcaoml.neighbour_mean import NeighbourMean
>>> d = NeighbourMean(Bispectrum(twojmax=4, radii={"Si": 2.35}), 2.4, 2.8)
>>> d.compute(bulk("Si", cubic=True)).shape
(8, 28)
>>> radii = {"Si": 2.35, "C": 1.609}
>>> d = NeighbourMean(Bispectrum(twojmax=4, radii=radii), 2.8, 3.0,
...                   pairs={"Si-C": (2.25, 2.45), "C-C": (1.85, 2.0)})
>>> d.range_of("C", "Si")
(2.25, 2.45)
>>> NeighbourMean(Bispectrum(twojmax=4), 2.8, 3.0, hops=2).n_features
42
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
#: Most hops accepted: each hop widens the reach by r_outer and adds K
#: features; beyond a few the means of every atom approach the cell's.
MAX_HOPS = 4


def _radius(name: str, value: Any) -> float:
    v = _positive_finite(name, value)
    if v > MAX_R_OUTER:
        raise ValueError(f"{name}: must lie in (0, {MAX_R_OUTER:g}] Å, got {value!r}")
    return v


def _range(prefix: str, r_inner: Any, r_outer: Any) -> tuple[float, float]:
    """(r_inner, r_outer) checked; errors name f"{prefix}r_inner" etc."""
    r_in = _radius(f"{prefix}r_inner", r_inner)
    r_out = _radius(f"{prefix}r_outer", r_outer)
    if r_out < r_in:
        raise ValueError(
            f"{prefix}r_outer: must be >= r_inner ({r_in:g} Å), got {r_outer!r}"
        )
    return r_in, r_out


def _pair_elements(key: Any) -> tuple[str, str]:
    """("A", "B") from "A-B" or a pair of symbols."""
    if isinstance(key, str):
        parts = key.split("-")
    elif isinstance(key, (tuple, list)):
        parts = list(key)
    else:
        parts = []
    if len(parts) != 2 or not all(isinstance(p, str) and p for p in parts):
        raise ValueError(f"pairs: a key must name two elements as 'A-B', got {key!r}")
    return parts[0], parts[1]


class NeighbourMean:
    """``inner``'s descriptors followed by their neighbour mean.

    ``inner``: a :class:`Bispectrum` or :class:`MultiScaleBispectrum`;
    ``r_inner`` <= ``r_outer`` (Å): full weight up to ``r_inner``, none
    from ``r_outer`` (equal values: a hard cutoff), for every element pair
    that ``pairs`` does not set apart; ``pairs``: {"A-B": (r_inner,
    r_outer)} for a pair of ``inner``'s elements (the same range for A-B
    and B-A); ``hops``: how many times the averaging is repeated (1 to
    MAX_HOPS).  Features: the K of ``inner``, then K neighbour means in the
    same order, then (hops >= 2) K means of those means, and so on.
    """

    def __init__(
        self,
        inner: Bispectrum | MultiScaleBispectrum,
        r_inner: float,
        r_outer: float,
        pairs: Mapping[Any, Sequence[float]] | None = None,
        hops: int = 1,
    ) -> None:
        if not isinstance(inner, (Bispectrum, MultiScaleBispectrum)):
            raise ValueError(
                "inner: expected a Bispectrum or MultiScaleBispectrum, got "
                f"{type(inner).__name__}"
            )
        if (
            isinstance(hops, bool)
            or not isinstance(hops, (int, np.integer))
            or not 1 <= hops <= MAX_HOPS
        ):
            raise ValueError(f"hops: must be an integer 1 to {MAX_HOPS}, got {hops!r}")
        self.hops = int(hops)
        self.inner = inner
        self.r_inner, self.r_outer = _range("", r_inner, r_outer)
        #: {"A-B": (r_inner, r_outer)}, A before B in ``inner``'s order
        self.pairs: dict[str, tuple[float, float]] = {}
        order = {e: i for i, e in enumerate(inner.elements)}
        for key, value in (pairs or {}).items():
            a, b = _pair_elements(key)
            for e in (a, b):
                if e not in order:
                    raise ValueError(
                        f"pairs: {key!r}: {e} is not an element of the "
                        f"descriptor ({', '.join(inner.elements)})"
                    )
            if order[a] > order[b]:
                a, b = b, a
            name = f"{a}-{b}"
            if name in self.pairs:
                raise ValueError(f"pairs: the pair {name} is given twice")
            try:
                r_in, r_out = value
            except (TypeError, ValueError):
                raise ValueError(
                    f"pairs: {key!r}: expected (r_inner, r_outer) in Å, got {value!r}"
                ) from None
            self.pairs[name] = _range(f"pairs {name} ", r_in, r_out)
        self.pairs = dict(
            sorted(
                self.pairs.items(),
                key=lambda kv: [order[e] for e in kv[0].split("-")],
            )
        )

    def range_of(self, a: str, b: str) -> tuple[float, float]:
        """(r_inner, r_outer) in Å of a neighbour of element ``b`` around a
        centre of element ``a`` (the same as ``b`` around ``a``)."""
        for name in (f"{a}-{b}", f"{b}-{a}"):
            if name in self.pairs:
                return self.pairs[name]
        return self.r_inner, self.r_outer

    def range_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The (E, E) tables of r_inner and r_outer (Å) over ``elements``."""
        els = self.elements
        r_in = np.empty((len(els), len(els)))
        r_out = np.empty_like(r_in)
        for i, a in enumerate(els):
            for j, b in enumerate(els):
                r_in[i, j], r_out[i, j] = self.range_of(a, b)
        return r_in, r_out

    @property
    def r_outer_max(self) -> float:
        """The largest switching radius (Å) of any pair."""
        return max([self.r_outer, *(r for _, r in self.pairs.values())])

    @property
    def elements(self) -> tuple[str, ...]:
        return self.inner.elements

    @property
    def max_cutoff(self) -> float:
        """How far (Å) the descriptors of an atom look: a neighbour's
        cutoff beyond ``r_outer`` per hop."""
        return self.inner.max_cutoff + self.hops * self.r_outer_max

    @property
    def n_features(self) -> int:
        return (self.hops + 1) * self.inner.n_features

    @property
    def labels(self) -> list[str]:
        own = self.inner.labels
        out = list(own)
        for h in range(1, self.hops + 1):
            prefix = "nbr:" if h == 1 else f"nbr{h}:"
            out += [prefix + lab for lab in own]
        return out

    def get_number_of_features(self) -> int:
        return self.n_features

    def compute(
        self,
        x: Any,
        centers: Sequence[int] | np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> np.ndarray:
        """(n_centers, (hops + 1) K) descriptors of the atoms of ``x`` (all,
        or the 0-based ``centers``): ``inner``'s, then each hop's means."""
        s = Structure.coerce(x)
        idx = centre_indices(centers, len(s))
        # The atoms within h hops of a centre (h = 0: the centres), and the
        # own descriptors of all within ``hops`` (all atoms when all are
        # centres; inner.compute checks the structure).  Hop k needs the
        # (k-1)-th means on the atoms within hops-k+1 hops and gives them
        # on those within hops-k; an atom's value never depends on which
        # others are computed, so the bits are those of a whole-cell call.
        reach = self._neighbourhoods(s, idx, n_threads)
        level = np.zeros((len(s), self.inner.n_features))
        level[reach[-1]] = self.inner.compute(s, reach[-1], n_threads)
        blocks = [level[idx]]
        average = self._averager(s, n_threads)
        for hop in range(1, self.hops + 1):
            at = reach[self.hops - hop]
            mean = average(level, at)
            level = np.zeros_like(level)
            level[at] = mean
            blocks.append(level[idx])
        return np.hstack(blocks)

    def mean_of(
        self, x: Any, values: np.ndarray, n_threads: int | None = None
    ) -> np.ndarray:
        """One hop of the averaging applied to given per-atom ``values``
        (N, K) of the atoms of ``x``: the (N, K) weighted means over each
        atom's neighbours (a further hop of stored descriptors, say)."""
        s = Structure.coerce(x)
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[0] != len(s):
            raise ValueError(
                f"values: expected ({len(s)}, K) rows of the atoms, got {values.shape}"
            )
        return self._averager(s, n_threads)(values, np.arange(len(s)))

    def _averager(self, s: Structure, n_threads: int | None):
        """f(values, at) -> the neighbour means of per-atom ``values`` (N, K)
        at the 0-based atoms ``at`` (the core's OML_NeighbourMean); the
        structure's Fortran arrays are made once for every hop."""
        cell, positions = padded_cell(s, max(self.inner.max_cutoff, self.r_outer_max))
        index_of = {e: i + 1 for i, e in enumerate(self.elements)}
        element_of = np.array([index_of[e] for e in s.symbols], dtype=np.int32)
        r_in, r_out = (np.asfortranarray(t) for t in self.range_tables())
        fixed = (fortran_cell(cell), fortran_positions(positions), element_of)

        def average(values: np.ndarray, at: np.ndarray) -> np.ndarray:
            mean, status, message = core().oml_neighbour_mean(
                *fixed,
                r_in,
                r_out,
                np.asfortranarray(values.T),
                (at + 1).astype(np.int32),
                thread_count(n_threads),
            )
            check(status, message)
            return mean.T

        return average

    def _neighbourhoods(
        self, s: Structure, idx: np.ndarray, n_threads: int | None
    ) -> list[np.ndarray]:
        """[0-based atoms within h hops of a centre, h = 0..hops]: each the
        last one and every atom within ``r_outer_max`` of one of it (all
        atoms once all are in)."""
        n = len(s)
        finite = np.all(np.isfinite(s.positions)) and np.all(np.isfinite(s.cell))
        out = [np.unique(idx)]
        if n == 0 or not finite:
            return [np.arange(n)] * (self.hops + 1)
        i = j = None
        for _ in range(self.hops):
            last = out[-1]
            if len(last) == n:
                out.append(last)
                continue
            if i is None:
                from pyolcaoml.neighbours import neighbour_list

                cell, positions = padded_cell(s, self.r_outer_max)
                padded = Structure(cell=cell, positions=positions, symbols=s.symbols)
                i, j, _ = neighbour_list(padded, self.r_outer_max, n_threads=n_threads)
            mark = np.zeros(n, dtype=bool)
            mark[last] = True
            mark[j[np.isin(i, last)]] = True
            out.append(np.flatnonzero(mark))
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "neighbour_mean",
            "r_inner": self.r_inner,
            "r_outer": self.r_outer,
        }
        if self.pairs:
            d["pairs"] = {k: list(v) for k, v in self.pairs.items()}
        if self.hops != 1:
            d["hops"] = self.hops
        d["inner"] = self.inner.to_dict()
        return d

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
        unknown = set(d) - {"inner", "r_inner", "r_outer", "pairs", "hops"}
        if unknown:
            raise ValueError(f"neighbour_mean: unknown {', '.join(sorted(unknown))}")
        pairs = d.get("pairs") or {}
        if not isinstance(pairs, Mapping):
            raise ValueError(f"neighbour_mean: pairs must be a mapping, got {pairs!r}")
        return cls(inner, d["r_inner"], d["r_outer"], pairs, d.get("hops", 1))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NeighbourMean) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        pairs = f", pairs={self.pairs!r}" if self.pairs else ""
        hops = f", hops={self.hops}" if self.hops != 1 else ""
        return (
            f"NeighbourMean({self.inner!r}, r_inner={self.r_inner:g}, "
            f"r_outer={self.r_outer:g}{pairs}{hops})"
        )


def fewer_hops(have: dict, want: dict) -> bool:
    """True when descriptor ``want`` is ``have``'s neighbour mean with fewer
    hops and otherwise the same settings: its columns are then the first
    ones of ``have``'s (the atom's own, then one block per hop;
    :class:`NeighbourMean`)."""
    if have.get("type") != "neighbour_mean" or want.get("type") != "neighbour_mean":
        return False
    h, w = int(have.get("hops", 1)), int(want.get("hops", 1))
    return w < h and {**have, "hops": 0} == {**want, "hops": 0}
