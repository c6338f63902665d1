"""Validation of a dataset file as a whole, when it is opened.

One function, :func:`validate_dataset`, used by every reader of the HDF5
training set (``olcaoml train`` and ``evaluate`` through
:func:`pyolcaoml.model.data.load_dataset`, ``olcaoml convert --append``
and :func:`pyolcaoml.dataset.load_dataset`).  A file that passes can be
indexed without surprises: every count, index and shape agrees with the
schema (docs/dataset.md), every number is finite, and the descriptor
settings rebuild a descriptor of the stored width.  A file that does not
pass raises :class:`DatasetError` naming the file and the HDF5 dataset
(``/atoms/structure_index``) that is wrong.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from pyolcaoml.model.errors import ModelError

__all__ = ["DatasetError", "validate_dataset"]

FORMAT = "pyolcaoml-dataset"
VERSION = 1

_STRUCTURE_COLUMNS = ("name", "n_atoms", "atom_start", "cell")
_ATOM_COLUMNS = ("element", "structure_index", "position", "descriptors")
_ELEMENT_COLUMNS = ("alphas", "isolated_coeffs", "atom_index", "coeffs")


class DatasetError(ModelError):
    """A dataset file that does not follow the schema (a ValueError)."""


def validate_dataset(
    f: Any, path: str | os.PathLike[str], *, known_descriptor: bool = True
) -> None:
    """Check an open ``h5py.File`` against the schema; raise
    :class:`DatasetError` naming ``path`` and the offending HDF5 dataset.

    The descriptor settings of a known type (bispectrum, multiscale) must
    rebuild a descriptor of the stored width.  ``known_descriptor=False``
    lets other types through (the generic writer and reader accept any
    settings; training needs a known one)."""
    path = os.fspath(path)
    try:
        _validate(f, path, known_descriptor)
    except DatasetError:
        raise
    except (KeyError, TypeError, ValueError, OSError, IndexError) as exc:
        # h5py on a damaged file: unreadable objects, wrong types
        raise DatasetError(f"{path}: unreadable dataset file ({exc})") from None


def _fail(path: str, where: str, reason: str) -> DatasetError:
    return DatasetError(f"{path}: {where}: {reason}")


def _need(group: Any, name: str, path: str) -> Any:
    if name not in group:
        raise _fail(path, f"{group.name.rstrip('/')}/{name}", "missing")
    return group[name]


def _array(group: Any, name: str, path: str, kind: str) -> np.ndarray:
    """The whole dataset as an array of ``kind`` ('f' numbers, 'i' integers,
    'S' strings)."""
    dset = _need(group, name, path)
    where = dset.name
    if not hasattr(dset, "shape"):
        raise _fail(path, where, "is a group, expected a dataset")
    data = dset[()]
    arr = np.asarray(data)
    if kind == "f":
        if arr.dtype.kind not in "fiu":
            raise _fail(path, where, f"expected numbers, got {arr.dtype}")
        arr = arr.astype(np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise _fail(path, where, f"NaN or Inf in row {row}")
    elif kind == "i":
        if arr.dtype.kind not in "iu":
            raise _fail(path, where, f"expected integers, got {arr.dtype}")
        arr = arr.astype(np.int64)
    elif kind == "S" and arr.dtype.kind not in "OSU":
        raise _fail(path, where, f"expected strings, got {arr.dtype}")
    return arr


def _shape(arr: np.ndarray, want: tuple[int, ...], path: str, where: str) -> None:
    if arr.shape != want:
        raise _fail(path, where, f"shape {arr.shape}, expected {want}")


def _range(arr: np.ndarray, hi: int, path: str, where: str, what: str) -> None:
    if arr.size and (arr.min() < 0 or arr.max() >= hi):
        bad = int(arr[(arr < 0) | (arr >= hi)][0])
        raise _fail(path, where, f"{what} {bad} outside 0..{hi - 1}")


def _validate(f: Any, path: str, known_descriptor: bool) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode(errors="replace")
    if fmt != FORMAT:
        raise DatasetError(
            f"{path}: not a pyolcaoml dataset (format attribute {fmt!r}); "
            "make one with 'olcaoml convert'"
        )
    version = f.attrs.get("version")
    if not isinstance(version, (int, np.integer)) or int(version) != VERSION:
        raise _fail(path, "attribute version", f"{version!r}, expected {VERSION}")
    text = f.attrs.get("descriptor")
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    n_features: int | None = None
    try:
        settings = json.loads(text)
        if not isinstance(settings, dict):
            raise ValueError("expected a JSON object")
        from pyolcaoml.bispectrum import descriptor_from_dict

        if known_descriptor or settings.get("type") in ("bispectrum", "multiscale"):
            n_features = descriptor_from_dict(settings).n_features
    except (TypeError, ValueError) as exc:
        raise _fail(path, "attribute descriptor", f"invalid settings ({exc})") from None

    s = _need(f, "structures", path)
    a = _need(f, "atoms", path)
    e = _need(f, "elements", path)
    names = _array(s, "name", path, "S")
    n_struct = len(names)
    if names.ndim != 1 or n_struct == 0:
        raise _fail(path, "/structures/name", "no structures")
    n_atoms = _array(s, "n_atoms", path, "i")
    atom_start = _array(s, "atom_start", path, "i")
    cells = _array(s, "cell", path, "f")
    _shape(n_atoms, (n_struct,), path, "/structures/n_atoms")
    _shape(atom_start, (n_struct,), path, "/structures/atom_start")
    _shape(cells, (n_struct, 3, 3), path, "/structures/cell")
    if (n_atoms < 1).any():
        raise _fail(path, "/structures/n_atoms", "a structure without atoms")
    starts = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    if not np.array_equal(atom_start, starts):
        row = int(np.flatnonzero(atom_start != starts)[0])
        raise _fail(
            path, "/structures/atom_start",
            f"row {row} is {atom_start[row]}, the atom counts give {starts[row]}",
        )  # fmt: skip
    if (np.abs(np.linalg.det(cells)) < 1e-9).any():
        raise _fail(path, "/structures/cell", "a singular cell")
    total = int(n_atoms.sum())

    symbols = _array(a, "element", path, "S")
    _shape(symbols, (total,), path, "/atoms/element")
    sindex = _array(a, "structure_index", path, "i")
    _shape(sindex, (total,), path, "/atoms/structure_index")
    if not np.array_equal(sindex, np.repeat(np.arange(n_struct), n_atoms)):
        _range(sindex, n_struct, path, "/atoms/structure_index", "structure")
        raise _fail(
            path, "/atoms/structure_index", "does not follow /structures/atom_start"
        )
    positions = _array(a, "position", path, "f")
    _shape(positions, (total, 3), path, "/atoms/position")
    desc = _array(a, "descriptors", path, "f")
    width = desc.shape[1] if desc.ndim == 2 and n_features is None else n_features
    _shape(desc, (total, width), path, "/atoms/descriptors")
    for name in ("pot_type", "type_multiplicity"):
        if name in a:
            _shape(_array(a, name, path, "i"), (total,), path, f"/atoms/{name}")

    symbol_text = np.array(
        [x.decode() if isinstance(x, bytes) else str(x) for x in symbols]
    )
    if len(e) == 0:
        raise _fail(path, "/elements", "no element groups")
    covered = np.zeros(total, dtype=bool)
    for symbol in e:
        g = e[symbol]
        where = g.name
        alphas = _array(g, "alphas", path, "f")
        if alphas.ndim != 1 or len(alphas) == 0 or (alphas <= 0).any():
            raise _fail(path, f"{where}/alphas", "expected positive exponents")
        n = len(alphas)
        _shape(_array(g, "isolated_coeffs", path, "f"), (n,), path,
               f"{where}/isolated_coeffs")  # fmt: skip
        index = _array(g, "atom_index", path, "i")
        if index.ndim != 1 or len(index) == 0:
            raise _fail(path, f"{where}/atom_index", "an element without atoms")
        _range(index, total, path, f"{where}/atom_index", "atom")
        if len(np.unique(index)) != len(index) or covered[index].any():
            raise _fail(path, f"{where}/atom_index", "an atom listed twice")
        covered[index] = True
        wrong = symbol_text[index] != symbol
        if wrong.any():
            atom = int(index[np.flatnonzero(wrong)[0]])
            raise _fail(
                path, f"{where}/atom_index",
                f"atom {atom} is {symbol_text[atom]}, not {symbol}",
            )  # fmt: skip
        _shape(_array(g, "coeffs", path, "f"), (len(index), n), path,
               f"{where}/coeffs")  # fmt: skip
        if "atom_alphas" in g:
            _shape(_array(g, "atom_alphas", path, "f"), (len(index), n), path,
                   f"{where}/atom_alphas")  # fmt: skip
    if not covered.all():
        atom = int(np.flatnonzero(~covered)[0])
        raise _fail(
            path, "/elements",
            f"atom {atom} ({symbol_text[atom]}) belongs to no element group",
        )  # fmt: skip
