"""SO(4) bispectrum descriptors (the SNAP descriptor of LAMMPS ``compute sna/atom``).

The numbers come from the Fortran core (``fortran/core/OML_Bispectrum.f90``)
and agree with LAMMPS to round-off.  Lengths are in Å.

>>> from ase.build import bulk
>>> from pyolcaoml import Bispectrum
>>> b = Bispectrum(twojmax=8, radii={"Si": 2.35})
>>> b.compute(bulk("Si", cubic=True)).shape
(8, 55)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from pyolcaoml._fortran import (
    check,
    core,
    fortran_cell,
    fortran_positions,
    thread_count,
)
from pyolcaoml.structure import Structure, _canonical_symbol

#: Radius of Si (Å) used by LAMMPS' SNAP examples: pair cutoff 2 x 2.35 = 4.7 Å.
DEFAULT_RADII: dict[str, float] = {"Si": 2.35}
#: Centres per call of the Fortran core (a multiple of its block of 16
#: atoms): between calls Python can act on Ctrl-C.  About 0.05 s of work
#: per call for twojmax 8 and the default cutoff on one core; the chunks
#: cost ~3 % against one call (benchmark in docs/faults.md).
CHUNK_CENTRES = 2048


def _max_twojmax() -> int:
    return int(core().oml_max_twojmax())


def _positive_finite(name: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name}: must be a positive finite number, got {value!r}")
    return x


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def centre_indices(centers: Any, n: int) -> np.ndarray:
    """The 0-based atom indices of ``centers`` (default: all ``n`` atoms),
    checked: a 1-D sequence of integers in 0..n-1 (ValueError otherwise)."""
    if centers is None:
        return np.arange(n)
    c = np.asarray(centers)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ValueError("centers: expected a 1-D sequence of atom indices")
    if c.size and (c.min() < 0 or c.max() >= n):
        raise ValueError(f"centers: indices must lie in 0..{n - 1}")
    return c


def padded_cell(s: Structure, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """A cell in which non-periodic directions are padded beyond ``cutoff`` (Å).

    Along a non-periodic direction the lattice vector is replaced by one
    orthogonal to the periodic vectors and longer than the extent of the
    structure plus twice the cutoff, so no atom meets a periodic image.
    """
    if all(s.pbc):
        return s.cell, s.positions
    periodic = [i for i in range(3) if s.pbc[i]]
    p = s.cell[periodic]
    if p.size:
        # Orthonormal basis of the complement of the periodic vectors.
        _, _, vt = np.linalg.svd(p)
        complement = vt[len(periodic) :]
    else:
        complement = np.eye(3)
    cell = s.cell.copy()
    pad = 2 * cutoff + 1.0
    for axis, normal in zip(
        [i for i in range(3) if not s.pbc[i]], complement, strict=True
    ):
        extent = np.ptp(s.positions @ normal) if len(s) else 0.0
        cell[axis] = normal * (extent + pad)
    if abs(np.linalg.det(cell)) < 1e-12:
        raise ValueError("cell: singular after padding the non-periodic axes")
    return cell, s.positions


class Bispectrum:
    """Bispectrum components B_{j1 j2 j} of every atom (LAMMPS conventions).

    All hyper-parameters are keyword-only and validated here, so that a bad
    value fails at once with a ``ValueError`` naming it.

    Parameters
    ----------
    twojmax:
        Twice the largest angular momentum, 2J_max (even or odd).  The number
        of components is K = 30, 55, 91 for twojmax 6, 8, 10.
    rcutfac:
        Scale of the pair cutoffs: R_ij = rcutfac * (R_i + R_j).
    rfac0:
        Fraction of the 3-sphere used, in (0, 1] (LAMMPS default 0.99363).
    rmin0:
        Inner distance (Å) below which the cutoff function is 1.
    radii:
        Element -> radius R_e in Å.  Also defines the element order (the
        ``chem`` blocks follow it).  Default: Si 2.35 Å.
    weights:
        Element -> neighbour weight w_e (default 1 for every element).
    switch:
        Use the smooth cosine cutoff function (LAMMPS switchflag).
    bzero:
        Subtract the isolated-atom value (bzeroflag).
    bnorm:
        Divide B_{j1 j2 j} by (j + 1) (bnormflag).
    wselfall:
        With ``chem``, the self term goes to every element's density.
    chem:
        Explicit multi-element bispectrum, K * n_elements^3 components.
    """

    def __init__(
        self,
        *,
        twojmax: int = 8,
        rcutfac: float = 1.0,
        rfac0: float = 0.99363,
        rmin0: float = 0.0,
        radii: Mapping[str, float] | None = None,
        weights: Mapping[str, float] | None = None,
        switch: bool = True,
        bzero: bool = False,
        bnorm: bool = False,
        wselfall: bool = False,
        chem: bool = False,
    ) -> None:
        if isinstance(twojmax, bool) or not isinstance(twojmax, (int, np.integer)):
            raise ValueError(f"twojmax: expected an integer, got {twojmax!r}")
        top = _max_twojmax()
        if not 0 <= twojmax <= top:
            raise ValueError(f"twojmax: must be between 0 and {top}, got {twojmax}")
        self.twojmax = int(twojmax)
        self.rcutfac = _positive_finite("rcutfac", rcutfac)
        try:
            self.rfac0 = float(rfac0)
        except (TypeError, ValueError):
            raise ValueError(f"rfac0: expected a number, got {rfac0!r}") from None
        if not 0.0 < self.rfac0 <= 1.0:
            raise ValueError(f"rfac0: must lie in (0, 1], got {rfac0!r}")
        try:
            self.rmin0 = float(rmin0)
        except (TypeError, ValueError):
            raise ValueError(f"rmin0: expected a number, got {rmin0!r}") from None
        if not math.isfinite(self.rmin0) or self.rmin0 < 0:
            raise ValueError(f"rmin0: must be a finite length >= 0 Å, got {rmin0!r}")

        radii = dict(DEFAULT_RADII if radii is None else radii)
        if not radii:
            raise ValueError("radii: give a radius (Å) for at least one element")
        self.radii: dict[str, float] = {}
        for symbol, radius in radii.items():
            self.radii[_canonical_symbol(symbol)] = _positive_finite(
                f"radii[{symbol!r}]", radius
            )
        if weights is None:
            self.weights = {symbol: 1.0 for symbol in self.radii}
        else:
            given = {_canonical_symbol(k): v for k, v in weights.items()}
            missing = [e for e in self.radii if e not in given]
            extra = [e for e in given if e not in self.radii]
            if missing or extra:
                raise ValueError(
                    "weights: need exactly the elements of radii "
                    f"({', '.join(self.radii)}); missing {missing}, extra {extra}"
                )
            self.weights = {}
            for symbol in self.radii:
                w = float(given[symbol])
                if not math.isfinite(w):
                    raise ValueError(f"weights[{symbol!r}]: must be finite, got {w}")
                self.weights[symbol] = w
        smallest_cut = 2 * self.rcutfac * min(self.radii.values())
        if self.rmin0 >= smallest_cut:
            raise ValueError(
                f"rmin0: {self.rmin0} Å must be smaller than every pair cutoff "
                f"(smallest {smallest_cut} Å)"
            )
        self.switch = _flag("switch", switch)
        self.bzero = _flag("bzero", bzero)
        self.bnorm = _flag("bnorm", bnorm)
        self.wselfall = _flag("wselfall", wselfall)
        self.chem = _flag("chem", chem)

    # ----------------------------------------------------------------- info
    @property
    def elements(self) -> tuple[str, ...]:
        """Element order (from ``radii``)."""
        return tuple(self.radii)

    @property
    def max_cutoff(self) -> float:
        """Largest pair cutoff rcutfac (R_i + R_j) in Å."""
        return 2 * self.rcutfac * max(self.radii.values())

    @cached_property
    def triples(self) -> np.ndarray:
        """(K, 3) integer array of (2j1, 2j2, 2j) in column order."""
        # (twojmax+1)^3 bounds the number of kept triples.
        n, triples, status, message = core().oml_triples(
            self.twojmax, (self.twojmax + 1) ** 3
        )
        check(status, message)
        return np.ascontiguousarray(triples[:, :n].T)

    @property
    def n_features(self) -> int:
        n_el = len(self.radii) if self.chem else 1
        return len(self.triples) * n_el**3

    @property
    def labels(self) -> list[str]:
        """One label per column: ``B[2j1,2j2,2j]``, with elements for chem."""
        base = [f"B[{a},{b},{c}]" for a, b, c in self.triples]
        if not self.chem:
            return base
        els = self.elements
        return [
            f"B[{e1},{e2},{e3}]{lab[1:]}"
            for e1 in els
            for e2 in els
            for e3 in els
            for lab in base
        ]

    def get_number_of_features(self) -> int:
        """dscribe-style alias of :attr:`n_features`."""
        return self.n_features

    # -------------------------------------------------------------- compute
    def compute(
        self,
        x: Any,
        centers: Sequence[int] | np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> np.ndarray:
        """Bispectrum of the atoms of ``x`` (pyolcaoml Structure or ase.Atoms).

        ``centers``: 0-based indices of the atoms wanted (default all).
        ``n_threads``: OpenMP threads (default: OMP_NUM_THREADS / all cores).
        Returns an (n_centers, n_features) float64 array.
        """
        s = Structure.coerce(x)
        n = len(s)
        if n == 0:
            raise ValueError("structure: has no atoms")
        if not np.all(np.isfinite(s.positions)):
            raise ValueError("positions: contain NaN or Inf")
        if not np.all(np.isfinite(s.cell)):
            raise ValueError("cell: contains NaN or Inf")
        index_of = {e: i + 1 for i, e in enumerate(self.radii)}
        unknown = sorted(set(s.symbols) - set(index_of))
        if unknown:
            raise ValueError(
                f"radii: no radius for element(s) {', '.join(unknown)} "
                f"(radii given for {', '.join(self.radii)})"
            )
        element_of = np.array([index_of[e] for e in s.symbols], dtype=np.int32)
        centre_idx = centre_indices(centers, n).astype(np.int32) + 1
        cell, positions = self._periodic_cell(s)
        radius = np.array(list(self.radii.values()), dtype=np.float64)
        weight = np.array([self.weights[e] for e in self.radii], dtype=np.float64)
        threads = thread_count(n_threads)
        f_cell, f_pos = fortran_cell(cell), fortran_positions(positions)
        out = np.empty((len(centre_idx), self.n_features), dtype=np.float64)
        # In chunks of atoms: the Fortran runs without the GIL, and Python
        # handles Ctrl-C (or SIGTERM) only between two calls.  A centre's
        # components do not depend on the other centres of its call, so
        # the result is the same, bit for bit, as one call for all.
        for first in range(0, len(centre_idx), CHUNK_CENTRES):
            chunk = centre_idx[first : first + CHUNK_CENTRES]
            b, status, message = core().oml_bispectrum(
                self.n_features,
                f_cell,
                f_pos,
                element_of,
                radius,
                weight,
                chunk,
                self.twojmax,
                self.rcutfac,
                self.rfac0,
                self.rmin0,
                int(self.switch),
                int(self.bzero),
                int(self.bnorm),
                int(self.wselfall),
                int(self.chem),
                threads,
            )
            check(status, message)
            out[first : first + len(chunk)] = b.T
        return out

    def _periodic_cell(self, s: Structure) -> tuple[np.ndarray, np.ndarray]:
        return padded_cell(s, self.max_cutoff)

    # ------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        d = {
            "type": "bispectrum",
            "twojmax": self.twojmax,
            "rcutfac": self.rcutfac,
            "rfac0": self.rfac0,
            "rmin0": self.rmin0,
            "radii": dict(self.radii),
            "weights": dict(self.weights),
            "switch": self.switch,
            "bzero": self.bzero,
            "bnorm": self.bnorm,
            "wselfall": self.wselfall,
            "chem": self.chem,
        }
        if len(self.radii) > 1:
            # The element order defines the chem blocks; JSON written with
            # sort_keys (datasets, models) would lose the order of the dicts.
            d["elements"] = list(self.radii)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bispectrum:
        return cls(**_ordered(d, "bispectrum"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bispectrum) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"Bispectrum({args})"


class MultiScaleBispectrum:
    """Bispectra at several cutoffs stacked into one feature vector.

    ``scales`` multiply ``rcutfac`` (e.g. [1.0, 1.5, 2.0] for local, medium
    and long range); every other keyword is passed to :class:`Bispectrum`.
    Features are ordered scale by scale.
    """

    def __init__(self, *, scales: Sequence[float], **kwargs: Any) -> None:
        if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence):
            raise ValueError(f"scales: expected a list of numbers, got {scales!r}")
        if len(scales) == 0:
            raise ValueError("scales: give at least one scale")
        self.scales = [
            _positive_finite(f"scales[{i}]", s) for i, s in enumerate(scales)
        ]
        if len(set(self.scales)) != len(self.scales):
            raise ValueError(f"scales: must be distinct, got {list(scales)}")
        rcutfac = float(kwargs.pop("rcutfac", 1.0))
        self.base = Bispectrum(rcutfac=rcutfac, **kwargs)
        settings = _ordered(self.base.to_dict(), "bispectrum")
        self.members = [
            Bispectrum(**{**settings, "rcutfac": rcutfac * s}) for s in self.scales
        ]

    @property
    def elements(self) -> tuple[str, ...]:
        return self.base.elements

    @property
    def max_cutoff(self) -> float:
        return max(m.max_cutoff for m in self.members)

    @property
    def n_features(self) -> int:
        return sum(m.n_features for m in self.members)

    @property
    def labels(self) -> list[str]:
        return [
            f"s{s:g}:{lab}"
            for s, m in zip(self.scales, self.members, strict=True)
            for lab in m.labels
        ]

    def get_number_of_features(self) -> int:
        return self.n_features

    def compute(
        self,
        x: Any,
        centers: Sequence[int] | np.ndarray | None = None,
        n_threads: int | None = None,
    ) -> np.ndarray:
        s = Structure.coerce(x)
        return np.hstack([m.compute(s, centers, n_threads) for m in self.members])

    def to_dict(self) -> dict[str, Any]:
        base = self.base.to_dict()
        base["type"] = "multiscale"
        base["scales"] = list(self.scales)
        return base

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MultiScaleBispectrum:
        return cls(**_ordered(d, "multiscale"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MultiScaleBispectrum)
            and self.to_dict() == other.to_dict()
        )

    def __repr__(self) -> str:
        return f"MultiScaleBispectrum(scales={self.scales}, base={self.base!r})"


Descriptor = Bispectrum | MultiScaleBispectrum


def _ordered(d: Mapping[str, Any], expected: str) -> dict[str, Any]:
    """Keyword arguments from a ``to_dict()`` form: check ``type`` and put
    radii and weights back in the stored element order (``elements``)."""
    d = dict(d)
    kind = d.pop("type", expected)
    if kind != expected:
        raise ValueError(f"type: expected {expected!r}, got {kind!r}")
    order = d.pop("elements", None)
    if order is not None:
        for key in ("radii", "weights"):
            if d.get(key) is not None:
                given = dict(d[key])
                if sorted(given) != sorted(order):
                    raise ValueError(
                        f"{key}: elements {sorted(given)} differ from "
                        f"elements {list(order)}"
                    )
                d[key] = {e: given[e] for e in order}
    return d


def descriptor_from_dict(d: Mapping[str, Any]) -> Descriptor:
    """Rebuild a descriptor from its ``to_dict()`` (stored with data and models)."""
    kind = d.get("type", "bispectrum")
    if kind == "bispectrum":
        return Bispectrum.from_dict(d)
    if kind == "multiscale":
        return MultiScaleBispectrum.from_dict(d)
    if kind == "neighbour_mean":
        from pyolcaoml.neighbour_mean import NeighbourMean

        return NeighbourMean.from_dict(d)
    raise ValueError(f"type: unknown descriptor type {kind!r}")
