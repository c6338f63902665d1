"""Reading a pyolcaoml dataset (HDF5 written by ``olcaoml convert``) for training.

Only h5py and NumPy. Positions and cells are in Å, coefficients in Hartree,
exponents in Bohr^-2 (see the dataset schema in docs/model.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pyolcaoml.model.errors import ModelError

DATASET_FORMAT = "pyolcaoml-dataset"


def _str_array(ds) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in ds[()]]


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ElementData:
    """All atoms of one element in a dataset.

    Attributes
    ----------
    symbol: element symbol.
    alphas: (N,) exponents, Bohr^-2.
    isolated: (N,) isolated-atom coefficients (atomicPDB coeff1), Hartree.
    atom_index: (M,) rows of the dataset's atom table.
    coeffs: (M, N) converged coefficients A_i, Hartree.
    """

    symbol: str
    alphas: np.ndarray
    isolated: np.ndarray
    atom_index: np.ndarray
    coeffs: np.ndarray


@dataclass
class Dataset:
    """The arrays of one dataset file, in memory."""

    path: str
    sha256: str
    descriptor: dict
    names: list[str]
    cells: np.ndarray  # (S, 3, 3) Å
    atom_start: np.ndarray  # (S,)
    n_atoms: np.ndarray  # (S,)
    symbols: list[str]  # (A,)
    structure_index: np.ndarray  # (A,)
    positions: np.ndarray  # (A, 3) Å
    descriptors: np.ndarray  # (A, K)
    elements: dict[str, ElementData] = field(default_factory=dict)
    #: (S,) whether each run's SCF reached its CONVERGENCE_TEST, its final
    #: convergence value and that threshold (NaN when not recorded).
    converged: np.ndarray | None = None
    final_convergence: np.ndarray | None = None
    convergence_test: np.ndarray | None = None

    @property
    def n_structures(self) -> int:
        return len(self.names)

    def unconverged(self) -> dict[str, str]:
        """{name: 'SCF stopped at convergence X, above its CONVERGENCE_TEST Y'}
        for the structures whose run did not converge."""
        if self.converged is None:
            return {}
        out = {}
        for i, name in enumerate(self.names):
            if not self.converged[i]:
                final = self.final_convergence[i]
                test = self.convergence_test[i]
                out[name] = (
                    f"{name}: SCF stopped at convergence {final:.3g}, above its "
                    f"CONVERGENCE_TEST {test:.3g}"
                )
        return out

    def structure_ids(self, names: Sequence[str]) -> np.ndarray:
        """Indices of the named structures; unknown names are an error."""
        lookup = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise ModelError(f"structure(s) not in {self.path}: {', '.join(missing)}")
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def element_rows(self, symbol: str, structures: Sequence[int]) -> np.ndarray:
        """Rows into ElementData arrays for atoms of the given structure ids."""
        el = self.elements[symbol]
        sel = np.isin(self.structure_index[el.atom_index], np.asarray(structures))
        return np.nonzero(sel)[0]

    def structure(self, i: int):
        """The i-th structure as a :class:`pyolcaoml.structure.Structure`."""
        from pyolcaoml.structure import Structure

        a = int(self.atom_start[i])
        b = a + int(self.n_atoms[i])
        return Structure(
            cell=self.cells[i], positions=self.positions[a:b], symbols=self.symbols[a:b]
        )


def _convergence_test(settings_json: str) -> float:
    try:
        return float(json.loads(settings_json).get("convergence_test"))
    except (TypeError, ValueError, AttributeError):
        return float("nan")


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset file; a clear :class:`ModelError` if it is not one."""
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"dataset not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(f"{path} is not an HDF5 dataset ({exc})") from exc
    with f:
        from pyolcaoml.dataset_check import validate_dataset

        validate_dataset(f, path)  # the whole file, before any indexing
        if f.attrs.get("format") != DATASET_FORMAT:
            raise ModelError(
                f"{path}: not a pyolcaoml dataset (format attribute "
                f"{f.attrs.get('format')!r}); make one with 'olcaoml convert'"
            )
        try:
            desc = f.attrs.get("descriptor", "{}")
            descriptor = json.loads(desc if isinstance(desc, str) else desc.decode())
            s, a = f["structures"], f["atoms"]
            ds = Dataset(
                path=path,
                sha256="",
                descriptor=descriptor,
                names=_str_array(s["name"]),
                cells=np.asarray(s["cell"][()], dtype=np.float64),
                atom_start=np.asarray(s["atom_start"][()], dtype=np.int64),
                n_atoms=np.asarray(s["n_atoms"][()], dtype=np.int64),
                symbols=_str_array(a["element"]),
                structure_index=np.asarray(a["structure_index"][()], dtype=np.int64),
                positions=np.asarray(a["position"][()], dtype=np.float64),
                descriptors=np.asarray(a["descriptors"][()], dtype=np.float64),
            )
            if "converged" in s:
                ds.converged = np.asarray(s["converged"][()], dtype=bool)
                ds.final_convergence = np.asarray(
                    s["final_convergence"][()], dtype=np.float64
                )
                ds.convergence_test = np.array(
                    [_convergence_test(t) for t in _str_array(s["settings"])]
                    if "settings" in s
                    else np.full(len(ds.names), np.nan)
                )
            for sym, g in f["elements"].items():
                ds.elements[sym] = ElementData(
                    symbol=sym,
                    alphas=np.asarray(g["alphas"][()], dtype=np.float64),
                    isolated=np.asarray(g["isolated_coeffs"][()], dtype=np.float64),
                    atom_index=np.asarray(g["atom_index"][()], dtype=np.int64),
                    coeffs=np.asarray(g["coeffs"][()], dtype=np.float64),
                )
        except KeyError as exc:
            raise ModelError(f"{path}: dataset lacks {exc}") from exc
    if ds.descriptors.shape[0] != len(ds.symbols):
        raise ModelError(f"{path}: descriptor rows do not match atoms")
    ds.sha256 = file_sha256(path)
    return ds


#: Suffixes that OLCAO run sets add to one base structure: random
#: displacement (_r0.05), its seed (_seed3117), strain (_s0.98, _s102).
_VARIANT_SUFFIX = re.compile(r"_(?:r|s|seed)[0-9]+(?:\.[0-9]+)?$")


def structure_family(name: str) -> str:
    """The family of a structure: its name without variant suffixes, e.g.
    ``si16_int_T_r0.05_seed3117`` -> ``si16_int_T``, ``si8_s0.98`` -> ``si8``."""
    base = name
    while True:
        stripped = _VARIANT_SUFFIX.sub("", base)
        if stripped == base or not stripped:
            return base
        base = stripped


def split_structures(
    names: Sequence[str],
    holdout: Sequence[str] = (),
    validation_fraction: float = 0.2,
    seed: int = 0,
    validation: Sequence[str] = (),
    family: Callable[[str], str] | None = structure_family,
) -> tuple[list[str], list[str], list[str]]:
    """Split structure names into (train, validation, holdout); never splits atoms.

    ``holdout`` names are kept out of training and validation entirely.
    ``validation`` names, if given, are the validation set; otherwise a
    seeded random ``validation_fraction`` of the remaining structures (at
    least one when there are two or more), drawn so that every family
    (:func:`structure_family`, or ``family``; None: no families) keeps at
    least one structure in training: the only other member of a family is
    never taken. A family left with no structure in training (by the
    holdout or validation given) is reported with a warning.
    """
    import warnings

    names = list(names)
    unknown = [n for n in [*holdout, *validation] if n not in names]
    if unknown:
        raise ModelError(f"unknown structure name(s): {', '.join(unknown)}")
    fam = family or (lambda n: n)
    rest = [n for n in names if n not in set(holdout)]
    if validation:
        val = [n for n in rest if n in set(validation)]
    else:
        if not 0.0 <= validation_fraction < 1.0:
            raise ModelError("validation fraction must be in [0, 1)")
        n_val = int(round(validation_fraction * len(rest)))
        if validation_fraction > 0 and len(rest) >= 2:
            n_val = max(n_val, 1)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(rest))
        left = {}  # family -> members still in training
        for n in rest:
            left[fam(n)] = left.get(fam(n), 0) + 1
        chosen = []
        for i in order:
            if len(chosen) >= n_val:
                break
            f = fam(rest[i]) if family else None
            if f is not None and left[f] <= 1:
                continue  # the family's last structure stays in training
            if f is not None:
                left[f] -= 1
            chosen.append(rest[i])
        if len(chosen) < n_val:
            warnings.warn(
                f"validation: only {len(chosen)} of the {n_val} structures asked "
                "for can be taken without removing a structure family from "
                "training",
                stacklevel=2,
            )
        val = sorted(chosen)
    train = [n for n in rest if n not in set(val)]
    if not train:
        raise ModelError("no structures left for training")
    if family:
        trained = {fam(n) for n in train}
        missing: dict[str, list[str]] = {}
        for n in names:
            if fam(n) not in trained:
                missing.setdefault(fam(n), []).append(n)
        for f, members in missing.items():
            warnings.warn(
                f"structure family {f} ({', '.join(members)}) has no structure "
                "in training: the network never sees this kind of environment",
                stacklevel=2,
            )
    return train, val, [n for n in names if n in set(holdout)]
