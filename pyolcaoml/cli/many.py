"""Many inputs for one command: expand, read, map, write in input order.

``olcaoml bispectrum`` and ``olcaoml predict`` call this module when they are
given several inputs (files, directories, multi-frame trajectories) or
``--workers``/``--scheduler``. The pieces:

- :func:`expand_inputs`: command-line paths -> files and OLCAO run
  directories (a directory stands for everything below it, sorted);
- :func:`iter_items`: -> one :class:`Item` per structure (every frame of a
  trajectory that ASE reads), read lazily in this process; an input that
  cannot be read becomes an item that carries its error, so it is reported
  by name in its place;
- per-item functions (:func:`descriptors_of_item`, :func:`predict_item`)
  that run on a worker and know nothing of Dask;
- writers that take the results in input order: one HDF5 file built in a
  temporary file and renamed at the end, or one scfV.dat per structure.

What travels to a worker is an :class:`Item` (a structure: cell, positions,
symbols, or a run directory's path) and the settings (descriptor JSON, the
model's path); what comes back is one structure's descriptors or
coefficients. A worker loads the model once and keeps it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache, partial
from typing import Any

import numpy as np

from pyolcaoml.cli import CLIError
from pyolcaoml.structure import Structure

HDF5_SUFFIXES = (".h5", ".hdf5")
DESCRIPTORS_FORMAT = "pyolcaoml-descriptors"
PREDICTIONS_FORMAT = "pyolcaoml-predictions"
#: The ``model`` attribute of a predictions file when no model was named:
#: each structure's own model is in /structures/model.
CHOSEN = "bundled, chosen per structure"
FILE_VERSION = 1
#: Suffixes never read as structures when found in a directory (README.md
#: would otherwise be taken for a CASTEP .md trajectory).
NOT_STRUCTURES = frozenset(
    ".md .txt .rst .log .csv .json .yaml .yml .py .sh .h5 .hdf5 .npy .npz "
    ".pdf .png .jpg .svg .gz .bz2 .xz .zip .tar .keras".split()
)


class InputError(ValueError):
    """An input that could not be read (carried to its place in the order)."""


# -- inputs ---------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A file to read structures from, or an OLCAO run directory."""

    path: str
    is_run: bool = False


def _is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "inputs", "olcao.dat"))


def is_input(path: str) -> bool:
    """``path`` is something to predict, never a model: a structure file (a
    model is a folder), or a folder without model.json that is an OLCAO run
    or holds structures or runs. Anything else stays a MODEL, so that a
    wrong one (a dataset file, an empty folder) gets the model's error."""
    if os.path.isfile(path):
        return _looks_like_structure(*os.path.split(os.path.abspath(path)))
    if not os.path.isdir(path) or os.path.isfile(os.path.join(path, "model.json")):
        return False
    # the first input found is enough (the command walks the tree later)
    return next(_iter_inputs([path]), None) is not None


def expand_inputs(paths: Sequence[str]) -> list[Source]:
    """Files and run directories named by ``paths``, in order.

    A run directory (one holding inputs/olcao.dat) is one input; any other
    directory stands for the files and run directories below it, sorted by
    name, hidden ones and files that no reader recognises left out. A path
    that does not exist is a CLIError before anything runs.
    """
    for p in paths:
        if not os.path.exists(p):
            raise CLIError(f"no such file or directory: {p}")
    return list(_iter_inputs(paths))


def _iter_inputs(paths: Sequence[str]) -> Iterator[Source]:
    """:func:`expand_inputs`, one at a time (the paths exist)."""
    for p in paths:
        if not os.path.isdir(p):
            yield Source(p)
            continue
        if _is_run_dir(p):
            yield Source(p, is_run=True)
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            entries = []
            for d in list(dirnames):
                full = os.path.join(dirpath, d)
                if _is_run_dir(full):
                    entries.append((d, Source(full, is_run=True)))
                    dirnames.remove(d)
            entries += [
                (f, Source(os.path.join(dirpath, f)))
                for f in filenames
                if not f.startswith(".") and _looks_like_structure(dirpath, f)
            ]
            yield from (s for _, s in sorted(entries, key=lambda e: e[0]))


def _looks_like_structure(directory: str, name: str) -> bool:
    """Whether a file found in a directory is worth reading: OLCAO's
    olcao.skl/structure*.dat, or a file ASE recognises by name or content
    (README.md, notes.txt and the like are passed over silently)."""
    if name.endswith(".skl") or (
        name.startswith("structure") and name.endswith(".dat")
    ):
        return True
    if os.path.splitext(name)[1].lower() in NOT_STRUCTURES:
        return False
    from ase.io.formats import UnknownFileTypeError, filetype

    try:
        filetype(os.path.join(directory, name), read=True)
    except (UnknownFileTypeError, OSError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Item:
    """One structure to work on, as sent to a worker.

    ``name``: how messages call it (the path, ``path@frame`` for a frame of a
    multi-frame file); ``label``: unique and usable as a file name (output
    folders); ``source``/``frame``: where it came from (frame -1: the only
    structure of its file, or a run directory). Exactly one of
    ``structure``, ``run_dir`` and ``error`` is set.
    """

    name: str
    label: str
    source: str
    frame: int = -1
    structure: Structure | None = None
    run_dir: str | None = None
    error: str | None = None

    def without_structure(self) -> Item:
        return replace(self, structure=None)


class _Labels:
    """Unique labels in input order: 'asi', 'asi-2', ..."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def make(self, base: str) -> str:
        base = base.replace(os.sep, "_") or "structure"
        label, n = base, 1
        while label in self._used:
            n += 1
            label = f"{base}-{n}"
        self._used.add(label)
        return label


def _read_frames(path: str) -> Iterator[Structure]:
    """Every structure of a file: OLCAO olcao.skl/structure.dat (one), or
    every frame of a file ASE reads."""
    name = os.path.basename(path)
    if name.endswith(".skl") or (
        name.startswith("structure") and name.endswith(".dat")
    ):
        from pyolcaoml.structure import read_structure

        yield read_structure(path)
        return
    import ase.io

    for atoms in ase.io.iread(path, index=":"):
        yield Structure.from_ase(atoms)


def _file_items(path: str, labels: _Labels) -> Iterator[Item]:
    stem = os.path.splitext(os.path.basename(path))[0]

    def item(s: Structure, k: int, multi: bool) -> Item:
        if not multi:
            return Item(path, labels.make(stem), path, -1, structure=s)
        return Item(f"{path}@{k}", labels.make(f"{stem}@{k}"), path, k, structure=s)

    def bad(name: str, label: str, k: int, exc: BaseException) -> Item:
        detail = str(exc) or type(exc).__name__
        return Item(name, labels.make(label), path, k, error=f"cannot read: {detail}")

    previous: Structure | None = None
    k = 0
    try:
        for s in _read_frames(path):
            if previous is not None:
                yield item(previous, k - 1, True)
            previous, k = s, k + 1
    except Exception as exc:  # ASE raises many kinds for unknown formats
        if previous is None:
            yield bad(path, stem, -1, exc)
        else:
            yield item(previous, k - 1, True)
            yield bad(f"{path}@{k}", f"{stem}@{k}", k, exc)
        return
    if previous is None:
        yield bad(path, stem, -1, InputError("no structure in the file"))
    else:
        yield item(previous, k - 1, k > 1)


def iter_items(sources: Iterable[Source]) -> Iterator[Item]:
    """One :class:`Item` per structure, read lazily, in input order."""
    labels = _Labels()
    for src in sources:
        if src.is_run:
            base = os.path.basename(os.path.abspath(src.path))
            yield Item(src.path, labels.make(base), src.path, run_dir=src.path)
        else:
            yield from _file_items(src.path, labels)


def item_structure(item: Item) -> Structure:
    """The item's structure (read from a run's inputs/structure.dat here)."""
    if item.error is not None:
        raise InputError(item.error)
    if item.structure is not None:
        return item.structure
    from pyolcaoml.structure import read_structure

    assert item.run_dir is not None
    return read_structure(os.path.join(item.run_dir, "inputs", "structure.dat"))


# -- per-item work (runs on the workers; knows nothing of Dask) ----------------------
@lru_cache(maxsize=8)
def _descriptor(settings_json: str) -> Any:
    from pyolcaoml.bispectrum import descriptor_from_dict

    return descriptor_from_dict(json.loads(settings_json))


@dataclass
class DescriptorResult:
    item: Item  # without its structure
    structure: Structure | None  # None: the item's own (the client has it)
    descriptors: np.ndarray  # (n_atoms, K)


def descriptors_of_item(
    settings_json: str, n_threads: int | None, item: Item
) -> DescriptorResult:
    """Bispectrum of one item with the descriptor of ``settings_json``."""
    s = item_structure(item)
    b = _descriptor(settings_json).compute(s, n_threads=n_threads)
    return DescriptorResult(item.without_structure(), _sent_back(item, s), b)


def _sent_back(item: Item, s: Structure) -> Structure | None:
    """The structure to return with a result: only one read on the worker
    (a run directory's); the client still holds the one it sent, and
    :func:`_results` puts it back (less to pickle and transfer per item)."""
    return None if item.structure is not None else s


@lru_cache(maxsize=2)
def _model(path: str, stamp: int) -> Any:
    from pyolcaoml.model import load_model

    return load_model(path)


def cached_model(path: str) -> Any:
    """The model at ``path``, loaded once per process (reloaded if changed)."""
    path = os.path.abspath(path)
    return _model(path, os.stat(os.path.join(path, "model.json")).st_mtime_ns)


@dataclass
class PredictResult:
    item: Item  # without its structure
    structure: Structure | None  # None: the item's own (the client has it)
    coeffs: list[np.ndarray]  # A_i (Hartree) per atom, atom order
    scfv_text: str  # scfV.dat: atom order, or the run's potential-type order
    warnings: list[str] = field(default_factory=list)
    model: str = ""  # the folder of the model that predicted it
    #: OLCAO's expected iterations to 1e-4 from this start (expected, low,
    #: high of the 80 % range); -1 each where the model gives none
    expected_iterations: tuple[int, int, int] = (-1, -1, -1)
    #: the same from OLCAO's default start, for comparison
    expected_default_iterations: tuple[int, int, int] = (-1, -1, -1)
    #: the reference cells the estimate came from: an iteration group's
    #: name (e.g. si_vacancy), "general", or "" where there is none
    iteration_group: str = ""


def predict_item(
    model_path: str | None, n_threads: int | None, with_text: bool, item: Item
) -> PredictResult:
    """Predicted coefficients of one item (and its scfV.dat text).
    ``model_path`` None: no model named, so each item gets the bundled model
    that ``olcaoml predict`` picks for it alone (the default; the Si + C
    model for a structure with C; the a-Si model for an amorphous one)."""
    from pyolcaoml.model.handover import kept_default_note, note_for
    from pyolcaoml.model.saved import bundled_alternative, bundled_model_path
    from pyolcaoml.model.workflow import (
        check_run,
        predict_handing_over,
        predict_structure,
        read_run_dir,
        scfv_for_atoms,
        scfv_for_run,
    )
    from pyolcaoml.olcao.scfv import format_scfv

    notes: list[str] = []
    # a run directory is read once, whichever models look at it
    run: Any = None
    if item.run_dir is not None and item.error is None:
        run = read_run_dir(item.run_dir)
    s = run.structure if run is not None else item_structure(item)
    symbols = list(s.symbols)
    if model_path is None:  # the bundled models, chosen per structure
        other = bundled_alternative(None, symbols)
        model = cached_model(other or bundled_model_path())
    else:
        model = cached_model(model_path)
    plan = check_run(model, item.run_dir, run) if run is not None else None
    if model_path is None:
        default = model
        model, pred, decided = predict_handing_over(default, s, n_threads)
        if decided is not None:  # amorphous: the a-Si or amorphous SiC model
            # the default model's sigma and threshold decided
            note = note_for(default, symbols, decided.sigma, decided.report.domain)
            notes.append(f"{item.name}: {note}")
            if plan is not None:  # its exponents may need other projectors
                plan = check_run(model, item.run_dir, run)
    else:
        pred = predict_structure(model, s, n_threads=n_threads)
        note = kept_default_note(model, symbols, pred.sigma, pred.report.domain)
        if note:  # the bundled default, named, on an amorphous structure
            notes.append(f"{item.name}: {note}")
    if plan is not None:
        scfv = scfv_for_run(model, plan, pred) if with_text else None
        if plan.run.basis is not None:
            notes.append(
                f"{plan.run.path} already holds gs_scfV-{plan.run.basis}.dat, "
                "which OLCAO reads before inputs/scfV.dat"
            )
    else:
        scfv = scfv_for_atoms(model, pred.symbols, pred.coeffs) if with_text else None
    text = format_scfv(scfv) if scfv is not None else ""
    from pyolcaoml.model.olcao_iterations import estimate_or_note

    est, note = estimate_or_note(model, pred.sigma, s)
    if note is not None:  # a stale or damaged reference: say so, go on
        notes.append(f"{item.name}: {note}")
    return PredictResult(
        item.without_structure(),
        _sent_back(item, s),
        list(pred.coeffs),
        text,
        notes,
        os.fspath(model.path),
        (est.iterations, est.low, est.high) if est is not None else (-1, -1, -1),
        est.default if est is not None and est.default else (-1, -1, -1),
        "" if est is None else est.group_name,
    )


# -- output ---------------------------------------------------------------------
class AtomicH5:
    """An HDF5 file built in a temporary file beside ``path`` and renamed over
    it by :meth:`commit`; anything else (an error, Ctrl-C) removes it."""

    def __init__(self, path: str, force: bool) -> None:
        import h5py

        self.path = os.path.abspath(path)
        if os.path.exists(self.path) and not force:
            raise CLIError(f"{path}: exists (use --force to replace it)")
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise CLIError(f"{path}: directory {directory} does not exist")
        fd, self.tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=directory
        )
        os.close(fd)
        self.file = h5py.File(self.tmp, "w")

    def commit(self) -> None:
        self.file.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.file.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def __enter__(self) -> AtomicH5:
        return self

    def __exit__(self, exc_type: Any, *rest: object) -> None:
        if exc_type is not None or os.path.exists(self.tmp):
            self.abort()


def _init_structures(f: Any, attrs: dict[str, Any]) -> None:
    from pyolcaoml import __version__
    from pyolcaoml.dataset import _create, _str_dtype

    for k, v in attrs.items():
        f.attrs[k] = v
    f.attrs["version"] = FILE_VERSION
    f.attrs["pyolcaoml_version"] = __version__
    f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    s = f.create_group("structures")
    for name in ("name", "source"):
        _create(s, name, (), _str_dtype())
    for name in ("frame", "n_atoms", "atom_start"):
        _create(s, name, (), "int64")
    _create(s, "cell", (3, 3), "float64")
    _create(s, "pbc", (3,), "bool")
    a = f.create_group("atoms")
    _create(a, "element", (), _str_dtype())
    _create(a, "structure_index", (), "int64")
    _create(a, "position", (3,), "float64")


class _Rows:
    """Rows for the datasets of an open HDF5 file, appended in blocks of
    BLOCK structures or BLOCK_ATOMS atoms, whichever comes first (one resize
    per dataset and block, not per structure: the writer must keep up with
    many workers). Blocks are kept small enough (~4 MB of descriptors) that
    writing one is a short pause: while the writer holds the interpreter,
    the client's event loop cannot hand the workers new tasks, and the last
    block is written after the workers have finished."""

    BLOCK = 512
    BLOCK_ATOMS = 8192

    def __init__(self, f: Any) -> None:
        self.f = f
        self.pending: dict[str, list[Any]] = {}
        self.structures: list[tuple[Item, Structure, int]] = []  # + first atom
        self.n_structures = 0
        self.n_atoms = 0
        self._datasets: dict[str, Any] = {}  # h5py lookups are slow: once

    def _dataset(self, name: str) -> Any:
        dset = self._datasets.get(name)
        if dset is None:
            dset = self._datasets[name] = self.f[name]
        return dset

    def add(self, name: str, rows: Any) -> None:
        self.pending.setdefault(name, []).append(rows)

    def add_structure(self, item: Item, s: Structure) -> int:
        """Queue one structure's rows; returns the index of its first atom."""
        start = self.n_atoms
        self.structures.append((item, s, start))
        self.n_structures += 1
        self.n_atoms += len(s)
        return start

    def end_structure(self) -> None:
        queued = self.structures  # (item, structure, first atom), since flush
        if len(queued) >= self.BLOCK or (
            queued and self.n_atoms - queued[0][2] >= self.BLOCK_ATOMS
        ):
            self.flush()

    def _structure_columns(self) -> dict[str, Any]:
        """The structures/ and atoms/ rows of the queued structures, one
        array or list per dataset (built per block, not per structure)."""
        queued = self.structures
        if not queued:
            return {}
        first = self.n_structures - len(queued)
        n_atoms = np.array([len(s) for _, s, _ in queued], dtype=np.int64)
        return {
            "structures/name": [item.name for item, _, _ in queued],
            "structures/source": [item.source for item, _, _ in queued],
            "structures/frame": [item.frame for item, _, _ in queued],
            "structures/n_atoms": n_atoms,
            "structures/atom_start": [start for _, _, start in queued],
            "structures/cell": np.stack([s.cell for _, s, _ in queued]),
            "structures/pbc": np.array([s.pbc for _, s, _ in queued]),
            "atoms/element": [e for _, s, _ in queued for e in s.symbols],
            "atoms/structure_index": np.repeat(
                np.arange(first, first + len(queued), dtype=np.int64), n_atoms
            ),
            "atoms/position": np.concatenate([s.positions for _, s, _ in queued]),
        }

    def flush(self) -> None:
        from pyolcaoml.dataset import _append_rows

        columns = self._structure_columns()
        for name, parts in self.pending.items():
            dset = self._dataset(name)
            dtype = dset.dtype  # an h5py property: read once
            if dtype.kind == "O":
                columns[name] = [r for part in parts for r in part]
            else:
                shape = (-1, *dset.shape[1:])
                columns[name] = np.concatenate(
                    [np.asarray(p, dtype=dtype).reshape(shape) for p in parts]
                )
        for name, rows in columns.items():
            dset = self._dataset(name)
            if dset.dtype.kind != "O":
                rows = np.asarray(rows, dtype=dset.dtype)
            _append_rows(dset, rows)
        self.structures.clear()
        self.pending.clear()


@dataclass
class Summary:
    """What a many-input run did."""

    written: int = 0
    atoms: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: (name, expected, low, high): OLCAO's iterations to 1e-4 expected
    #: from each written start, where its model gives an estimate
    expected: list[tuple[str, int, int, int]] = field(default_factory=list)


def describe_error(exc: BaseException) -> str:
    """A one-line message for a failed item (no traceback)."""
    if isinstance(exc, (ValueError, OSError, KeyError)) or type(exc).__name__ in (
        "ModelError",
        "OlcaoFormatError",
    ):
        text = str(exc)
        return text[1:-1] if isinstance(exc, KeyError) and text[:1] == "'" else text
    return f"{type(exc).__name__}: {exc}"


def _results(
    executor: Any,
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    desc: str | None,
    fail_fast: bool,
    summary: Summary,
    name_of: Callable[[Any], str] = lambda item: item.name,
) -> Iterator[Any]:
    """The successful results in input order; failures go to ``summary``
    in input order (with ``fail_fast``: CLIError naming the input). Inputs
    that could not be read (``item.error``) are not sent to the workers."""
    from pyolcaoml.parallel import ItemFailed

    failures: list[tuple[int, str, str]] = []
    sent: list[int] = []  # input index of each item given to the executor
    # structures of the items in flight, by position in ``sent``: results
    # come back without them (see _sent_back)
    held: dict[int, Any] = {}

    def readable() -> Iterator[Any]:
        for index, item in enumerate(items):
            error = getattr(item, "error", None)
            if error is None:
                if getattr(item, "structure", None) is not None:
                    held[len(sent)] = item.structure
                sent.append(index)
                yield item
            elif fail_fast:
                raise CLIError(f"{name_of(item)}: {error}")
            else:
                failures.append((index, name_of(item), error))

    try:
        total = None
        if isinstance(items, Sequence):  # a list: say how many will be sent
            total = sum(1 for item in items if getattr(item, "error", None) is None)
        for k, r in enumerate(
            executor.map(func, readable(), desc=desc, fail_fast=fail_fast, total=total)
        ):
            structure = held.pop(k, None)
            if getattr(r, "structure", False) is None:
                r.structure = structure
            if isinstance(r, ItemFailed):
                failures.append(
                    (sent[r.index], name_of(r.item), describe_error(r.error))
                )
                continue
            yield r
    except ItemFailed as exc:
        raise CLIError(f"{name_of(exc.item)}: {describe_error(exc.error)}") from None
    summary.failures += [(name, msg) for _, name, msg in sorted(failures)]


def write_descriptors(
    items: Iterable[Item],
    settings: dict[str, Any],
    labels: list[str],
    output: str,
    executor: Any,
    *,
    n_threads: int | None = None,
    force: bool = False,
    fail_fast: bool = False,
    desc: str | None = None,
    item_func: Callable[..., DescriptorResult] = descriptors_of_item,
) -> Summary:
    """Descriptors of every item into one HDF5 file (format
    ``pyolcaoml-descriptors``, docs/parallel.md), in input order.

    ``item_func(settings_json, n_threads, item)`` computes one item.
    """
    from pyolcaoml.dataset import _create

    settings_json = json.dumps(settings, sort_keys=True)
    func = partial(item_func, settings_json, n_threads)
    summary = Summary()
    with AtomicH5(output, force) as out:
        f = out.file
        _init_structures(
            f,
            {
                "format": DESCRIPTORS_FORMAT,
                "descriptor": settings_json,
                "labels": json.dumps(labels),
            },
        )
        _create(f["atoms"], "descriptors", (len(labels),), "float64")
        rows = _Rows(f)
        for r in _results(
            executor, func, items, desc=desc, fail_fast=fail_fast, summary=summary
        ):
            rows.add_structure(r.item, r.structure)
            rows.add("atoms/descriptors", r.descriptors)
            rows.end_structure()
            summary.written += 1
            summary.atoms += len(r.structure)
        rows.flush()
        f.attrs["failed"] = json.dumps(summary.failures)
        if summary.written:
            out.commit()
    return summary


def write_predictions(
    items: Iterable[Item],
    model_path: str | None,
    output: str | None,
    executor: Any,
    *,
    n_threads: int | None = None,
    force: bool = False,
    fail_fast: bool = False,
    desc: str | None = None,
) -> Summary:
    """Predict every item and write, in input order, either one HDF5 file
    (``output`` ending in .h5/.hdf5, format ``pyolcaoml-predictions``), one
    OUTPUT/<label>/scfV.dat per structure (``output`` a folder), or, with
    ``output`` None, RUN_DIR/inputs/scfV.dat of each run directory."""
    from pyolcaoml.model.saved import resolve_model_path
    from pyolcaoml.model.workflow import write_text_atomically

    to_h5 = output is not None and output.lower().endswith(HDF5_SUFFIXES)
    # a bundled name ('default', 'sic', 'asi', 'sicam'): its folder; the workers and
    # the HDF5 file get a path. None (no model named): the bundled models,
    # chosen per structure as for one input
    if model_path is not None:
        model_path = os.path.abspath(resolve_model_path(model_path))
    func = partial(predict_item, model_path, n_threads, not to_h5)
    summary = Summary()
    if not to_h5:
        if output is not None:
            os.makedirs(output, exist_ok=True)
        for r in _results(
            executor, func, items, desc=desc, fail_fast=fail_fast, summary=summary
        ):
            if output is None:
                if r.item.run_dir is None:
                    summary.failures.append(
                        (r.item.name, "not a run directory: give -o FOLDER or FILE.h5")
                    )
                    continue
                path = os.path.join(r.item.run_dir, "inputs", "scfV.dat")
            else:
                os.makedirs(os.path.join(output, r.item.label), exist_ok=True)
                path = os.path.join(output, r.item.label, "scfV.dat")
            try:
                write_text_atomically(path, r.scfv_text, force=force)
            except Exception as exc:
                if fail_fast:
                    raise CLIError(f"{r.item.name}: {describe_error(exc)}") from None
                summary.failures.append((r.item.name, describe_error(exc)))
                continue
            summary.notes += r.warnings
            summary.written += 1
            summary.atoms += len(r.structure)
            if r.expected_iterations[0] > 0:
                summary.expected.append((r.item.name, *r.expected_iterations))
        return summary

    from pyolcaoml.dataset import _create, _str_dtype
    from pyolcaoml.model import load_model

    with AtomicH5(output, force) as out:  # type: ignore[arg-type]
        f = out.file
        attrs = {"format": PREDICTIONS_FORMAT, "model": model_path or CHOSEN}
        _init_structures(f, attrs)
        _create(f["structures"], "model", (), _str_dtype())
        _create(f["structures"], "expected_iterations", (3,), "int64")
        _create(f["structures"], "expected_default_iterations", (3,), "int64")
        _create(f["structures"], "iteration_group", (), _str_dtype())
        rows = _Rows(f)
        alphas: dict[str, np.ndarray] = {}  # element: its exponents (Bohr^-2)
        models: dict[str, Any] = {}  # folder: model (metadata only)
        for r in _results(
            executor, func, items, desc=desc, fail_fast=fail_fast, summary=summary
        ):
            symbols = r.structure.symbols
            model = models.get(r.model)
            if model is None:
                model = models[r.model] = load_model(r.model, networks=False)
            try:
                new = _check_alphas(alphas, model, symbols)
            except ValueError as exc:
                if fail_fast:
                    raise CLIError(f"{r.item.name}: {exc}") from None
                summary.failures.append((r.item.name, str(exc)))
                continue
            for sym in new:  # first seen: its group
                g = f.create_group(f"elements/{sym}")
                g.attrs["n_alphas"] = len(alphas[sym])
                g.create_dataset("alphas", data=alphas[sym])
                _create(g, "atom_index", (), "int64")
                _create(g, "coeffs", (len(alphas[sym]),), "float64")
            start = rows.add_structure(r.item, r.structure)
            rows.add("structures/model", [r.model])
            rows.add("structures/expected_iterations", [r.expected_iterations])
            rows.add(
                "structures/expected_default_iterations",
                [r.expected_default_iterations],
            )
            rows.add("structures/iteration_group", [r.iteration_group])
            for i, (sym, a) in enumerate(zip(symbols, r.coeffs, strict=True)):
                rows.add(f"elements/{sym}/atom_index", [start + i])
                rows.add(f"elements/{sym}/coeffs", [a])
            rows.end_structure()
            summary.notes += r.warnings
            summary.written += 1
            summary.atoms += len(r.structure)
        rows.flush()
        f.attrs["failed"] = json.dumps(summary.failures)
        if summary.written:
            out.commit()
    return summary


def _check_alphas(alphas: dict[str, np.ndarray], model: Any, symbols) -> list[str]:
    """Record each element's exponents in ``alphas`` (the first model's)
    and return the elements seen for the first time; ValueError (nothing
    recorded) when ``model`` has other exponents for an element already
    written (one /elements/<Symbol>/alphas per file).  Exponents the same
    to the datasets' relative 1e-12 count as the same: OLCAO writes 8
    digits, and a geometric series recomputed on another CPU (NumPy's SIMD
    power) may differ in the last bit (stop 41: one term of sixteen, by
    one ulp, between a model trained on an AMD and one made on an Intel
    machine)."""
    from pyolcaoml.dataset import ALPHA_RTOL
    from pyolcaoml.model.projection import same_alphas

    new: dict[str, np.ndarray] = {}
    for sym in dict.fromkeys(symbols):
        mine = np.asarray(model.elements[sym].alphas, dtype=np.float64)
        known = alphas.get(sym)
        if known is None:
            new[sym] = mine
        elif not same_alphas(known, mine, rtol=ALPHA_RTOL):
            raise ValueError(
                f"the model {model.path} has other {sym} exponents than the "
                "structures already written (one exponent set per element "
                "per file): name one MODEL, or write a folder (-o FOLDER/)"
            )
    alphas.update(new)
    return list(new)


# -- the commands' many-input mode ----------------------------------------------------
#: at most this many structures are listed one by one (the HDF5 output
#: records every one)
LIST_EXPECTED = 25


def print_expected(expected: list[tuple[str, int, int, int]]) -> None:
    """OLCAO's expected iterations from each start written to a folder or
    to run directories, the slowest first (docs/uncertainty.md)."""
    if not expected:
        return
    from pyolcaoml.model.olcao_iterations import format_range

    print("OLCAO's expected iterations to 1e-4 from these starts (80 % range):")
    rows = sorted(expected, key=lambda e: (-e[1], e[0]))
    for name, n, lo, hi in rows[:LIST_EXPECTED]:
        print(f"  {name}: about {n} ({format_range(lo, hi)})")
    if len(rows) > LIST_EXPECTED:
        print(
            f"  ... and {len(rows) - LIST_EXPECTED} more (-o FILE.h5 records "
            "every one in /structures/expected_iterations)"
        )


def report(summary: Summary, what: str, output: str | None, quiet: bool) -> int:
    """Print failures and a summary; the exit status (1 if any input failed,
    2 if nothing was written)."""
    for note in summary.notes:
        if not quiet:
            print(f"warning: {note}", file=sys.stderr)
    if summary.failures:
        print(f"failed ({len(summary.failures)}):", file=sys.stderr)
        for name, message in summary.failures:
            print(f"  {name}: {message}", file=sys.stderr)
    if not summary.written:
        raise CLIError("no input succeeded: nothing written")
    if not quiet:
        print_expected(summary.expected)
        where = f" to {output}" if output else ""
        print(
            f"wrote {what} of {summary.written} structures "
            f"({summary.atoms} atoms){where}",
            file=sys.stderr,
        )
    return 1 if summary.failures else 0


def _executor(args: argparse.Namespace) -> tuple[Any, int | None]:
    """The executor and the OpenMP threads of one item."""
    from pyolcaoml.cli.parallel_options import executor_from_args, is_parallel

    threads = getattr(args, "threads", None)
    if is_parallel(args):
        per_worker = threads or 1
        executor = executor_from_args(args, threads_per_worker=per_worker)
        return executor, per_worker
    return executor_from_args(args), threads


def _start(executor: Any, quiet: bool) -> None:
    from pyolcaoml.parallel import SerialExecutor

    if not quiet and not isinstance(executor, SerialExecutor):
        print(f"running on {executor.description}", file=sys.stderr)


def _check_output(output: str, force: bool) -> None:
    """Refuse an existing output before any worker starts."""
    if os.path.exists(output) and not force:
        raise CLIError(f"{output}: exists (use --force to replace it)")


def run_bispectrum(args: argparse.Namespace, descriptor: Any) -> int:
    """``olcaoml bispectrum IN... -o FILE.h5``."""
    output = args.output
    if not output or not output.lower().endswith(HDF5_SUFFIXES):
        raise CLIError(
            "several structures (or --workers/--scheduler) need "
            "-o/--output FILE.h5 (one HDF5 file for all)"
        )
    _check_output(output, args.force)
    sources = expand_inputs(args.structure)
    if not sources:
        raise CLIError("no input files found in " + ", ".join(args.structure))
    executor, n_threads = _executor(args)
    with executor:
        _start(executor, args.quiet)
        summary = write_descriptors(
            iter_items(sources),
            descriptor.to_dict(),
            list(descriptor.labels),
            output,
            executor,
            n_threads=n_threads,
            force=args.force,
            fail_fast=args.fail_fast,
            desc=None if args.quiet else "bispectrum",
        )
    return report(summary, "descriptors", output, args.quiet)


def run_predict(args: argparse.Namespace, model_path: str, targets: list[str]) -> int:
    """``olcaoml predict MODEL IN... [-o FILE.h5|FOLDER]``."""
    from pyolcaoml.model import ModelError, load_model

    try:
        load_model(model_path, networks=False)  # fail before any work
    except ModelError as exc:
        raise CLIError(str(exc)) from None
    sources = expand_inputs(targets)
    if not sources:
        raise CLIError("no input files found in " + ", ".join(targets))
    output = args.output
    if output is None and not all(s.is_run for s in sources):
        raise CLIError(
            "several inputs need -o FILE.h5 (one HDF5 file) or -o FOLDER "
            "(FOLDER/<name>/scfV.dat per structure); only run directories "
            "are written in place (RUN_DIR/inputs/scfV.dat)"
        )
    if (
        output is not None
        and not output.lower().endswith(HDF5_SUFFIXES)
        and os.path.isfile(output)
    ):
        raise CLIError(f"{output}: is a file; give a folder or a .h5 file")
    if output is not None and output.lower().endswith(HDF5_SUFFIXES):
        _check_output(output, args.force)
    quiet = getattr(args, "quiet", False)
    executor, n_threads = _executor(args)
    with executor:
        _start(executor, quiet)
        summary = write_predictions(
            iter_items(sources),
            model_path,
            output,
            executor,
            n_threads=n_threads,
            force=args.force,
            fail_fast=args.fail_fast,
            desc=None if quiet else "predict",
        )
    return report(summary, "predicted potentials", output, quiet)


def wants_many(
    inputs: Sequence[str], output: str | None, args: argparse.Namespace
) -> bool:
    """Whether a command should take its many-input path: several inputs, a
    directory that is not a run, an HDF5 or folder output, or Dask options."""
    from pyolcaoml.cli.parallel_options import is_parallel

    if len(inputs) > 1 or is_parallel(args):
        return True
    if any(os.path.isdir(p) and not _is_run_dir(p) for p in inputs):
        return True
    if output is not None and (
        output.lower().endswith(HDF5_SUFFIXES)
        or os.path.isdir(output)
        or output.endswith(("/", os.sep))
    ):
        return True
    return False
