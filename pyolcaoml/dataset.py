"""The HDF5 training set: per-atom descriptors and converged OLCAO potentials.

Schema (version 1; docs/dataset.md is the reference)::

    /                     attrs: format="pyolcaoml-dataset", version=1,
                          descriptor=<JSON of descriptor.to_dict()>,
                          pyolcaoml_version, created (ISO 8601)
    /structures/          one row per structure (S rows)
        name, run_path, n_atoms, atom_start, cell (S,3,3) Å,
        total_energy_Ha, iterations, converged, final_convergence,
        settings (JSON), file_hashes (JSON), content_hash
    /atoms/               one row per atom, structure-major (A rows)
        element, structure_index, position (A,3) Å, pot_type,
        type_multiplicity, descriptors (A,K)
    /elements/<Symbol>/   attrs n_alphas
        alphas (N,) Bohr⁻², isolated_coeffs (N,) Hartree, atom_index (M,),
        coeffs (M,N) Hartree, atom_alphas (M,N) Bohr⁻²

Writing goes to a temporary file in the output's directory that replaces
the output only when complete, so a failure leaves no partial file and an
append that fails leaves the old file as it was.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from pyolcaoml._atomic import write_bytes_atomic
from pyolcaoml.dataset_check import validate_dataset
from pyolcaoml.structure import Structure

if TYPE_CHECKING:  # pragma: no cover
    import h5py

    from pyolcaoml.olcao.run import OlcaoRun

__all__ = [
    "FORMAT",
    "VERSION",
    "Dataset",
    "ElementData",
    "StructureRecord",
    "WriteReport",
    "load_dataset",
    "read_content_hashes",
    "read_descriptor_json",
    "record_from_run",
    "write_dataset",
]

FORMAT = "pyolcaoml-dataset"
VERSION = 1
#: Relative tolerance when comparing exponents (Bohr⁻²) between runs.
ALPHA_RTOL = 1e-12

_STRUCTURE_SCALARS: dict[str, str] = {
    "n_atoms": "int64",
    "atom_start": "int64",
    "total_energy_Ha": "float64",
    "iterations": "int64",
    "converged": "bool",
    "final_convergence": "float64",
}
_STRUCTURE_STRINGS = ("name", "run_path", "settings", "file_hashes", "content_hash")


# ---------------------------------------------------------------------------
# one structure, ready to be written


@dataclass
class StructureRecord:
    """One structure and its atoms, in the units of the file (Å, Hartree,
    Bohr⁻²). Atoms are in structure.dat order."""

    name: str
    run_path: str
    cell: np.ndarray
    total_energy_Ha: float
    iterations: int
    converged: bool
    final_convergence: float
    settings: dict[str, Any]
    file_hashes: dict[str, str]
    content_hash: str
    elements: list[str]
    positions: np.ndarray
    pot_types: np.ndarray
    type_multiplicity: np.ndarray
    descriptors: np.ndarray
    coeffs: list[np.ndarray]
    atom_alphas: list[np.ndarray]

    @property
    def n_atoms(self) -> int:
        return len(self.elements)


def record_from_run(run: OlcaoRun, descriptors: np.ndarray) -> StructureRecord:
    """Build the record of a run that has a converged potential.

    ``descriptors`` is (n_atoms, K), atoms in structure.dat order.
    """
    if run.converged_potential is None or run.history is None:
        raise ValueError(f"{run.path}: no converged potential (gs_scfV-<basis>.dat)")
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 2 or len(descriptors) != run.n_atoms:
        raise ValueError(
            f"{run.path}: descriptors must be ({run.n_atoms}, K), got "
            f"{descriptors.shape}"
        )
    if not np.all(np.isfinite(descriptors)):
        raise ValueError(f"{run.path}: descriptors contain NaN or Inf")
    structure = run.structure
    per_type = run.converged_potential.coeffs("up")
    alphas = run.alphas_per_type
    types = run.atom_pot_types
    return StructureRecord(
        name=run.name,
        run_path=run.path,
        cell=np.array(structure.cell),
        total_energy_Ha=run.history.final_total_energy,
        iterations=run.history.n_iterations,
        converged=run.converged,
        final_convergence=run.history.final_convergence,
        settings=run.settings,
        file_hashes=dict(run.file_hashes),
        content_hash=run.content_hash,
        elements=list(structure.symbols),
        positions=np.array(structure.positions),
        pot_types=np.array(types, dtype=np.int64),
        type_multiplicity=run.type_multiplicity,
        descriptors=descriptors,
        coeffs=[np.array(per_type[t - 1]) for t in types],
        atom_alphas=[np.array(alphas[t - 1]) for t in types],
    )


# ---------------------------------------------------------------------------
# writing


@dataclass
class WriteReport:
    """What :func:`write_dataset` did: names of the structures added and of
    those skipped because their content hash was already in the file."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    n_atoms_added: int = 0


def _str_dtype() -> Any:
    import h5py

    return h5py.string_dtype("utf-8")


#: Bytes per chunk of a growing dataset of numbers, in whole rows: ~64 kB,
#: the size h5py picks itself, but h5py's (128, 14) for an (n, 55) float64
#: column splits a row over 4 chunks, and writing 64,000 rows took a third
#: longer than with (148, 55) (benchmarks/bench_dask.py's writer).
CHUNK_BYTES = 1 << 16


def _create(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: Any) -> None:
    chunks: Any = True  # strings: h5py's choice
    dt = np.dtype(dtype)
    if dt.kind in "biuf":
        row = dt.itemsize * int(np.prod(shape, dtype=np.int64))
        chunks = (max(1, CHUNK_BYTES // max(row, 1)), *shape)
    group.create_dataset(
        name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=chunks
    )


def _append_rows(dset: h5py.Dataset, rows: Any) -> None:
    rows = list(rows) if dset.dtype.kind == "O" else np.asarray(rows)
    n = len(rows)
    if n == 0:
        return
    start = dset.shape[0]
    dset.resize(start + n, axis=0)
    dset[start:] = rows


def _init_file(f: h5py.File, descriptor_json: str, n_features: int) -> None:
    from pyolcaoml import __version__

    f.attrs["format"] = FORMAT
    f.attrs["version"] = VERSION
    f.attrs["descriptor"] = descriptor_json
    f.attrs["pyolcaoml_version"] = __version__
    f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    s = f.create_group("structures")
    for name in _STRUCTURE_STRINGS:
        _create(s, name, (), _str_dtype())
    for name, dtype in _STRUCTURE_SCALARS.items():
        _create(s, name, (), dtype)
    _create(s, "cell", (3, 3), "float64")
    a = f.create_group("atoms")
    _create(a, "element", (), _str_dtype())
    for name in ("structure_index", "pot_type", "type_multiplicity"):
        _create(a, name, (), "int64")
    _create(a, "position", (3,), "float64")
    _create(a, "descriptors", (n_features,), "float64")
    f.create_group("elements")


def _element_group(
    f: h5py.File, symbol: str, alphas: np.ndarray, record: StructureRecord
) -> h5py.Group:
    """The /elements/<symbol> group, created with the bundled isolated-atom
    potential; its exponents must equal ``alphas``."""
    elements = f["elements"]
    if symbol in elements:
        group = elements[symbol]
        have = group["alphas"][()]
        if have.shape != alphas.shape or not np.allclose(
            have, alphas, rtol=ALPHA_RTOL, atol=0
        ):
            raise ValueError(
                f"{record.run_path}: the exponents of {symbol} differ from those "
                f"already in the dataset ({len(alphas)} vs {len(have)} terms, "
                f"alpha range {alphas[0]:g}..{alphas[-1]:g} vs "
                f"{have[0]:g}..{have[-1]:g} Bohr^-2)"
            )
        return group
    from pyolcaoml.olcao.atomic_pdb import load_atomic_potential

    try:
        isolated = load_atomic_potential(symbol)
    except KeyError as exc:
        raise ValueError(f"{record.run_path}: {exc.args[0]}") from None
    isolated_coeffs = isolated.coeffs
    projection_rms = None
    if isolated.alphas.shape != alphas.shape or not np.allclose(
        isolated.alphas, alphas, rtol=ALPHA_RTOL, atol=0
    ):
        # Another exponent set (e.g. makeinput -modpot): the isolated atom is
        # its atomicPDB potential projected onto the run's Gaussians.
        from pyolcaoml.model.projection import project_coefficients

        isolated_coeffs, err = project_coefficients(
            isolated.coeffs, isolated.alphas, alphas
        )
        projection_rms = float(np.ravel(err)[0])
    n = len(alphas)
    group = elements.create_group(symbol)
    group.attrs["n_alphas"] = n
    if projection_rms is not None:
        group.attrs["isolated_projection_rms_hartree"] = projection_rms
    group.create_dataset("alphas", data=alphas)
    group.create_dataset("isolated_coeffs", data=isolated_coeffs)
    _create(group, "atom_index", (), "int64")
    _create(group, "coeffs", (n,), "float64")
    _create(group, "atom_alphas", (n,), "float64")
    return group


def _write_record(f: h5py.File, record: StructureRecord) -> None:
    s, a = f["structures"], f["atoms"]
    index = s["name"].shape[0]
    atom_start = a["element"].shape[0]
    if record.descriptors.shape[1] != a["descriptors"].shape[1]:
        raise ValueError(
            f"{record.run_path}: {record.descriptors.shape[1]} descriptor "
            f"features, the dataset has {a['descriptors'].shape[1]}"
        )
    # element blocks first: they validate before anything is appended
    by_element: dict[str, list[int]] = {}
    for i, symbol in enumerate(record.elements):
        by_element.setdefault(symbol, []).append(i)
    groups = {}
    for symbol, rows in by_element.items():
        first = record.atom_alphas[rows[0]]
        for i in rows:
            if record.atom_alphas[i].shape != first.shape or not np.allclose(
                record.atom_alphas[i], first, rtol=ALPHA_RTOL, atol=0
            ):
                raise ValueError(
                    f"{record.run_path}: potential types of {symbol} use different "
                    f"exponents (atoms {rows[0] + 1} and {i + 1})"
                )
        groups[symbol] = _element_group(f, symbol, first, record)
    values = {
        "name": [record.name],
        "run_path": [record.run_path],
        "settings": [json.dumps(record.settings, sort_keys=True)],
        "file_hashes": [json.dumps(record.file_hashes, sort_keys=True)],
        "content_hash": [record.content_hash],
        "n_atoms": [record.n_atoms],
        "atom_start": [atom_start],
        "total_energy_Ha": [record.total_energy_Ha],
        "iterations": [record.iterations],
        "converged": [record.converged],
        "final_convergence": [record.final_convergence],
        "cell": [record.cell],
    }
    for name, rows in values.items():
        _append_rows(s[name], rows)
    _append_rows(a["element"], record.elements)
    _append_rows(a["structure_index"], np.full(record.n_atoms, index, dtype=np.int64))
    _append_rows(a["position"], record.positions)
    _append_rows(a["pot_type"], record.pot_types)
    _append_rows(a["type_multiplicity"], record.type_multiplicity)
    _append_rows(a["descriptors"], record.descriptors)
    for symbol, rows in by_element.items():
        g = groups[symbol]
        _append_rows(g["atom_index"], atom_start + np.array(rows, dtype=np.int64))
        _append_rows(g["coeffs"], np.array([record.coeffs[i] for i in rows]))
        _append_rows(g["atom_alphas"], np.array([record.atom_alphas[i] for i in rows]))


def _check_compatible(f: h5py.File, path: str, descriptor_json: str) -> None:
    validate_dataset(f, path, known_descriptor=False)
    if f.attrs.get("format") != FORMAT:
        raise ValueError(f"{path}: not a pyolcaoml dataset")
    if int(f.attrs.get("version", -1)) != VERSION:
        raise ValueError(
            f"{path}: dataset version {f.attrs.get('version')}, this pyolcaoml "
            f"writes version {VERSION}"
        )
    have = json.loads(f.attrs["descriptor"])
    if have != json.loads(descriptor_json):
        raise ValueError(
            f"{path}: descriptor settings differ from the file's "
            f"({f.attrs['descriptor']})"
        )


def write_dataset(
    path: str | os.PathLike[str],
    records: Iterable[StructureRecord],
    descriptor: Mapping[str, Any],
    *,
    append: bool = False,
    overwrite: bool = False,
) -> WriteReport:
    """Write ``records`` to the HDF5 file ``path``.

    ``descriptor`` is the descriptor's ``to_dict()``. With ``append`` an
    existing file is extended (same descriptor required) and records whose
    content hash it already holds are skipped; otherwise an existing file is
    an error (``FileExistsError``) unless ``overwrite``. The file is built
    in a temporary file next to ``path`` and renamed over it at the end;
    ``records`` may be an iterator, written as it yields.
    """
    import h5py

    path = os.fspath(path)
    descriptor_json = json.dumps(dict(descriptor), sort_keys=True)
    exists = os.path.exists(path)
    if exists and not (append or overwrite):
        raise FileExistsError(f"{path} exists (append to it or overwrite it)")
    existing: set[str] = set()
    report = WriteReport()
    if append and exists:
        existing = set(read_content_hashes(path))
        with h5py.File(path, "r") as f:
            _check_compatible(f, path, descriptor_json)
    # The HDF5 file is built in memory, records written as they come (an
    # iterator is never held whole), and the image is written with ordinary,
    # checked writes: HDF5 on a full disk floods stderr with its error stack
    # and may crash in h5py's clean-up, while a Python write fails cleanly.
    image = io.BytesIO()
    started = append and exists
    if started:
        with open(path, "rb") as fh:
            image.write(fh.read())
        image.seek(0)
    with h5py.File(image, "r+" if started else "w") as f:
        for rec in records:
            if rec.content_hash in existing:
                report.duplicates.append(rec.name)
                continue
            existing.add(rec.content_hash)
            if not started:
                _init_file(f, descriptor_json, rec.descriptors.shape[1])
                started = True
            _write_record(f, rec)
            report.added.append(rec.name)
            report.n_atoms_added += rec.n_atoms
    if not report.added:
        if append and exists:
            return report  # nothing to add: leave the file untouched
        raise ValueError("no structures to write")
    # temporary file, fsync, rename: on any failure (a full disk, a signal)
    # nothing is left and path is untouched
    write_bytes_atomic(path, image.getbuffer())
    return report


# ---------------------------------------------------------------------------
# reading


def _strings(dset: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dset[()]]


def read_content_hashes(path: str | os.PathLike[str]) -> list[str]:
    """The content hashes of the structures in a dataset file."""
    import h5py

    with h5py.File(path, "r") as f:
        return _strings(f["structures/content_hash"])


def read_descriptor_json(path: str | os.PathLike[str]) -> str:
    """The descriptor settings of a dataset file, once the whole file has
    been validated (``convert --append`` calls this first)."""
    import h5py

    with h5py.File(path, "r") as f:
        validate_dataset(f, path)
        return str(f.attrs["descriptor"])


@dataclass
class ElementData:
    """/elements/<symbol>: exponents (Bohr⁻²), isolated-atom A_i (Hartree),
    the rows of /atoms of this element, and their converged A_i (Hartree)."""

    symbol: str
    alphas: np.ndarray
    isolated_coeffs: np.ndarray
    atom_index: np.ndarray
    coeffs: np.ndarray
    atom_alphas: np.ndarray

    @property
    def n_alphas(self) -> int:
        return len(self.alphas)


@dataclass
class Dataset:
    """A dataset file loaded into memory (numpy arrays, names as in the file).

    Structure arrays have S rows, atom arrays A rows (structure-major).
    """

    path: str
    descriptor_settings: dict[str, Any]
    attrs: dict[str, Any]
    # /structures
    names: list[str]
    run_paths: list[str]
    n_atoms: np.ndarray
    atom_start: np.ndarray
    cells: np.ndarray
    total_energy_Ha: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    final_convergence: np.ndarray
    settings: list[dict[str, Any]]
    file_hashes: list[dict[str, str]]
    content_hashes: list[str]
    # /atoms
    elements: np.ndarray
    structure_index: np.ndarray
    positions: np.ndarray
    pot_types: np.ndarray
    type_multiplicity: np.ndarray
    descriptors: np.ndarray
    # /elements
    element_data: dict[str, ElementData]

    @property
    def n_structures(self) -> int:
        return len(self.names)

    @property
    def n_features(self) -> int:
        return int(self.descriptors.shape[1])

    @property
    def element_symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.element_data))

    def descriptor(self) -> Any:
        """The descriptor calculator the file was made with."""
        from pyolcaoml.bispectrum import descriptor_from_dict

        return descriptor_from_dict(self.descriptor_settings)

    def features(self, element: str) -> np.ndarray:
        """(M, K) descriptors of the atoms of ``element``."""
        return self.descriptors[self.element_data[element].atom_index]

    def targets(self, element: str) -> np.ndarray:
        """(M, N) converged A_i (Hartree) of the atoms of ``element``."""
        return self.element_data[element].coeffs

    def groups(self, element: str) -> np.ndarray:
        """(M,) structure index of each atom of ``element`` (for splits that
        keep a structure's atoms together)."""
        return self.structure_index[self.element_data[element].atom_index]

    def atom_rows(self, structure: int) -> slice:
        start = int(self.atom_start[structure])
        return slice(start, start + int(self.n_atoms[structure]))

    def structure(self, index: int) -> Structure:
        """Structure ``index`` (Å, atoms in structure.dat order)."""
        rows = self.atom_rows(index)
        return Structure(
            cell=self.cells[index],
            positions=self.positions[rows],
            symbols=tuple(self.elements[rows]),
        )


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset file written by :func:`write_dataset`."""
    import h5py

    path = os.fspath(path)
    with h5py.File(path, "r") as f:
        validate_dataset(f, path, known_descriptor=False)
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a pyolcaoml dataset")
        if int(f.attrs.get("version", -1)) != VERSION:
            raise ValueError(
                f"{path}: unsupported dataset version {f.attrs['version']}"
            )
        s, a = f["structures"], f["atoms"]
        element_data = {}
        for symbol, g in f["elements"].items():
            element_data[symbol] = ElementData(
                symbol=symbol,
                alphas=g["alphas"][()],
                isolated_coeffs=g["isolated_coeffs"][()],
                atom_index=g["atom_index"][()],
                coeffs=g["coeffs"][()],
                atom_alphas=g["atom_alphas"][()],
            )
        return Dataset(
            path=path,
            descriptor_settings=json.loads(f.attrs["descriptor"]),
            attrs={k: _attr(v) for k, v in f.attrs.items()},
            names=_strings(s["name"]),
            run_paths=_strings(s["run_path"]),
            n_atoms=s["n_atoms"][()],
            atom_start=s["atom_start"][()],
            cells=s["cell"][()],
            total_energy_Ha=s["total_energy_Ha"][()],
            iterations=s["iterations"][()],
            converged=s["converged"][()],
            final_convergence=s["final_convergence"][()],
            settings=[json.loads(x) for x in _strings(s["settings"])],
            file_hashes=[json.loads(x) for x in _strings(s["file_hashes"])],
            content_hashes=_strings(s["content_hash"]),
            elements=np.array(_strings(a["element"]), dtype=str),
            structure_index=a["structure_index"][()],
            positions=a["position"][()],
            pot_types=a["pot_type"][()],
            type_multiplicity=a["type_multiplicity"][()],
            descriptors=a["descriptors"][()],
            element_data=element_data,
        )


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
