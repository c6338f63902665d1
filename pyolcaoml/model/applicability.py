"""Is a structure inside what the model was trained on? Per-atom flags.

Three checks, each calibrated on the training structures when the model is
trained (stored in MODEL/applicability.npz and model.json):

``novel``
    The atom's descriptors are far from every training atom of its element.
    Distance: Euclidean, in the descriptors standardised by the training
    mean and spread, divided by sqrt(K) (an RMS over the K features), to
    the nearest training atom. Calibration: every training atom's distance
    to the nearest training atom of *another* structure (so that the
    equivalent atoms of one crystal do not vouch for each other); the
    threshold is ``DOMAIN_FACTOR`` times the ``DOMAIN_QUANTILE`` quantile of
    those distances. ``domain`` in the report is distance / threshold:
    above 1 the atom is flagged.
``short``
    A neighbour closer than ``SHORT_FACTOR`` times the shortest distance
    of that element pair anywhere in the training structures (or a pair
    the training structures never had within ``PAIR_CUTOFF``).
``no_cell``
    The structure has no periodic cell (a molecule, a cluster): OLCAO
    potentials of bulk atoms are what the model learnt.

Elements or exponents the model lacks are errors, raised before this.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pyolcaoml.model.baselines import feature_scaling
from pyolcaoml.model.errors import ModelError

APPLICABILITY_FILE = "applicability.npz"
#: Quantile of the training atoms' out-of-structure distances, and the factor
#: on it, that make the novelty threshold.
DOMAIN_QUANTILE = 0.95
DOMAIN_FACTOR = 1.0
#: A neighbour closer than this factor times the training minimum is flagged.
SHORT_FACTOR = 0.85
#: Pairs are collected within this distance (Å) in the training structures.
PAIR_CUTOFF = 4.0
FLAG_NOVEL = "novel"
FLAG_SHORT = "short"
FLAG_NO_CELL = "no_cell"


@dataclass
class ElementDomain:
    """Standardised training descriptors of one element and the threshold."""

    mean: np.ndarray  # (K,)
    scale: np.ndarray  # (K,)
    reference: np.ndarray  # (R, K) standardised training descriptors
    threshold: float  # RMS-per-feature distance that counts as novel

    def distance(self, x: np.ndarray, block: int = 4096) -> np.ndarray:
        """Nearest-training-atom distance (RMS per standardised feature)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.empty(len(x))
        # Standardised a block at a time: no second (atoms, K) array, whose
        # fresh pages cost more than the arithmetic on 10^5 atoms.
        for i in range(0, len(x), block):
            z = (x[i : i + block] - self.mean) / self.scale
            out[i : i + block] = nearest_distance(
                z, self.reference, prepared=self._prepared
            )
        return out / np.sqrt(x.shape[1])

    @cached_property
    def _prepared(self) -> tuple[np.ndarray, np.ndarray]:
        # made once per loaded model, not once per structure (a 1,300 x
        # 2,640 reference took 8 ms a call to transpose and convert)
        return prepare_reference(self.reference)


def prepare_reference(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`nearest_distance` needs of a reference besides itself:
    its transpose in float32 and its rows' squared norms in float32."""
    ref = np.asarray(ref, dtype=np.float64)
    ref32_t = np.ascontiguousarray(ref.T, dtype=np.float32)
    rr32 = np.einsum("ij,ij->i", ref, ref).astype(np.float32)
    return ref32_t, rr32


def nearest_distance(
    z: np.ndarray,
    ref: np.ndarray,
    block: int = 1024,
    prepared: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Euclidean distance of each row of z to its nearest row of ref.

    The nearest row is found in single precision, |z - r|^2 = |z|^2 +
    (|r|^2 - 2 z.r) with the bracket minimised over r (one matrix product:
    10^5 atoms against 1,300 training atoms is 47 GFlop, twice as fast in
    float32), and the distance to that row is then computed exactly in
    float64. Where two training atoms are within float32 round-off of each
    other (~1e-5 relative in |z - r|^2) the other one may be taken: the
    distance is then within that of the exact nearest's. Blocks of 1024
    rows keep the (block, R) array a few MB, which malloc reuses.
    ``prepared``: :func:`prepare_reference` of ``ref``, when the same
    reference serves many calls.
    """
    z = np.asarray(z, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    out = np.empty(len(z))
    if len(ref) == 0:
        out[:] = np.inf
        return out
    ref32_t, rr32 = prepare_reference(ref) if prepared is None else prepared
    for i in range(0, len(z), block):
        zb = z[i : i + block]
        g = zb.astype(np.float32) @ ref32_t
        g *= -2.0
        g += rr32
        diff = zb - ref[g.argmin(axis=1)]
        out[i : i + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


@dataclass
class Applicability:
    """What the training structures covered; see the module docstring."""

    domains: dict[str, ElementDomain] = field(default_factory=dict)
    min_pair_distance: dict[str, float] = field(default_factory=dict)  # "Si-Si": Å
    short_factor: float = SHORT_FACTOR

    # -- disk ---------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "file": APPLICABILITY_FILE,
            "domain_quantile": DOMAIN_QUANTILE,
            "domain_factor": DOMAIN_FACTOR,
            "domain_threshold": {s: d.threshold for s, d in self.domains.items()},
            "min_pair_distance_angstrom": self.min_pair_distance,
            "short_factor": self.short_factor,
        }

    def save_arrays(self, path: str) -> None:
        arrays = {}
        for s, d in self.domains.items():
            arrays[f"{s}/mean"] = d.mean
            arrays[f"{s}/scale"] = d.scale
            # single precision: the nearest training atom is found in float32
            # anyway (nearest_distance), and the distance to it then moves by
            # ~1e-7 relative, far inside any novelty threshold; half the bytes
            arrays[f"{s}/reference"] = d.reference.astype(np.float32)
        # compressed: the reference rows of a multi-element (chem) model are
        # mostly constant columns (4x smaller for the bundled Si + C model)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, directory: str, meta: dict) -> Applicability:
        path = os.path.join(directory, meta.get("file", APPLICABILITY_FILE))
        if not os.path.isfile(path):
            raise ModelError(f"model file missing: {path}")
        try:
            with np.load(path) as npz:
                arrays = {k: np.asarray(npz[k]) for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc
        domains = {}
        for s, thr in meta.get("domain_threshold", {}).items():
            try:
                domains[s] = ElementDomain(
                    arrays[f"{s}/mean"],
                    arrays[f"{s}/scale"],
                    np.asarray(arrays[f"{s}/reference"], dtype=np.float64),
                    float(thr),
                )
            except KeyError as exc:
                raise ModelError(f"{path} lacks {exc}") from exc
        return cls(
            domains=domains,
            min_pair_distance={
                k: float(v)
                for k, v in meta.get("min_pair_distance_angstrom", {}).items()
            },
            short_factor=float(meta.get("short_factor", SHORT_FACTOR)),
        )

    # -- checks ---------------------------------------------------------------
    def domain_ratio(self, symbols: Sequence[str], x: np.ndarray) -> np.ndarray:
        """distance / threshold per atom (NaN for an element without data)."""
        sym = np.asarray(list(symbols))
        out = np.full(len(sym), np.nan)
        for s, d in self.domains.items():
            rows = np.nonzero(sym == s)[0]
            if rows.size:
                out[rows] = d.distance(x[rows]) / max(d.threshold, 1e-300)
        return out

    def pair_minimum(self, a: str, b: str) -> float | None:
        return self.min_pair_distance.get(pair_key(a, b))

    def short_contacts(
        self, structure, n_threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(nearest neighbour distance Å, too-short flag) per atom."""
        symbols = list(structure.symbols)
        n = len(symbols)
        limit = max(3.0, 1.5 * max(self.min_pair_distance.values(), default=2.0))
        i, j, d = neighbour_pairs(structure, limit, n_threads)
        nearest = np.full(n, np.inf)
        np.minimum.at(nearest, i, d)
        short = np.zeros(n, dtype=bool)
        if len(i):
            sym = np.asarray(symbols)
            first = sym[i] <= sym[j]
            lo, hi = np.where(first, sym[i], sym[j]), np.where(first, sym[j], sym[i])
            keys = np.char.add(np.char.add(lo, "-"), hi)
            for key in np.unique(keys):
                sel = keys == key
                ref = self.min_pair_distance.get(str(key))
                bad = (
                    np.ones(sel.sum(), bool)
                    if ref is None
                    else d[sel] < self.short_factor * ref
                )
                short[i[sel][bad]] = True
        return nearest, short


def pair_key(a: str, b: str) -> str:
    return f"{min(a, b)}-{max(a, b)}"


def is_periodic(structure) -> bool:
    cell = np.asarray(structure.cell, dtype=np.float64)
    pbc = getattr(structure, "pbc", (True, True, True))
    return bool(all(pbc)) and abs(float(np.linalg.det(cell))) > 1e-6


def neighbour_pairs(
    structure, cutoff: float, n_threads: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance Å) of all pairs closer than cutoff (both directions)."""
    if is_periodic(structure):
        from pyolcaoml.neighbours import neighbour_list

        i, j, vec = neighbour_list(structure, cutoff, n_threads=n_threads)
        d = np.sqrt(np.einsum("ij,ij->i", vec, vec))
        keep = d > 0
        return i[keep], j[keep], d[keep]
    from scipy.spatial import cKDTree

    pos = np.asarray(structure.positions, dtype=np.float64)
    pairs = cKDTree(pos).query_pairs(cutoff, output_type="ndarray")
    if len(pairs) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    d = np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1)
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return i, j, np.concatenate([d, d])


def fit_applicability(
    dataset, x_all: np.ndarray, structure_names: Sequence[str]
) -> Applicability:
    """Calibrate the checks on the training structures of ``dataset``."""
    ids = dataset.structure_ids(list(structure_names))
    domains = {}
    for s, ed in dataset.elements.items():
        rows = dataset.element_rows(s, ids)
        if rows.size < 2:
            continue
        atoms = ed.atom_index[rows]
        x = x_all[atoms]
        mean, scale = feature_scaling(x)
        z = (x - mean) / scale
        group = dataset.structure_index[atoms]
        loso = np.full(len(z), np.nan)
        for g in np.unique(group):
            inside = group == g
            if np.all(inside):
                continue
            loso[inside] = nearest_distance(z[inside], z[~inside])
        loso = loso[np.isfinite(loso)] / np.sqrt(z.shape[1])
        base = float(np.quantile(loso, DOMAIN_QUANTILE)) if loso.size else 0.0
        if base <= 0:  # one structure only, or identical ones
            base = 1e-3
        domains[s] = ElementDomain(mean, scale, z, DOMAIN_FACTOR * base)
    pairs: dict[str, float] = {}
    for sid in ids:
        st = dataset.structure(int(sid))
        i, j, d = neighbour_pairs(st, PAIR_CUTOFF)
        sym = np.asarray(st.symbols)
        for a, b, dist in zip(sym[i], sym[j], d, strict=True):
            key = pair_key(str(a), str(b))
            if dist < pairs.get(key, np.inf):
                pairs[key] = float(dist)
    return Applicability(domains=domains, min_pair_distance=pairs)


def flags_per_atom(
    n: int,
    domain_ratio: np.ndarray,
    short: np.ndarray,
    periodic: bool,
) -> list[str]:
    """The flags column: names joined by ';' ('' for an atom without flags)."""
    out = []
    for a in range(n):
        f = []
        if np.isfinite(domain_ratio[a]) and domain_ratio[a] > 1.0:
            f.append(FLAG_NOVEL)
        if short[a]:
            f.append(FLAG_SHORT)
        if not periodic:
            f.append(FLAG_NO_CELL)
        out.append(";".join(f))
    return out
