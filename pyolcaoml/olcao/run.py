"""A whole OLCAO run directory, read and cross-checked.

A run directory (OLCAO-FORMATS.md, "Outputs of a run") holds::

    olcao.skl                  skeleton (optional here)
    inputs/olcao.dat           potential types, SCF settings
    inputs/structure.dat       structure (Bohr) and type assignments
    inputs/scfV.dat            starting potential (makeinput default)
    inputs/kp-scf.dat          k-points (optional)
    gs_scfV-<basis>.dat        converged potential (absent before the SCF)
    gs_iter-<basis>.dat        SCF log
    meta.json                  provenance (optional, pyolcaoml's run sets)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyolcaoml.olcao._lines import LineReader, decode_text
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.olcao.iterations import ScfHistory, read_iterations
from pyolcaoml.olcao.olcao_dat import OlcaoDat, PotentialType, read_olcao_dat
from pyolcaoml.olcao.scfv import ScfV, read_scfv
from pyolcaoml.olcao.skeleton import Skeleton, read_skeleton_file
from pyolcaoml.olcao.structure_dat import StructureDat, read_structure_dat
from pyolcaoml.structure import BOHR_IN_ANGSTROM, Structure

__all__ = ["OlcaoRun", "find_run_dirs", "read_run"]

OLCAO_DAT = "inputs/olcao.dat"
STRUCTURE_DAT = "inputs/structure.dat"
START_SCFV = "inputs/scfV.dat"
KPOINTS = "inputs/kp-scf.dat"
SKELETON = "olcao.skl"
META = "meta.json"
#: OLCAO's defaults when olcao.dat lacks the keys (makeinputrc).
DEFAULT_CONVERGENCE_TEST = 1e-4
DEFAULT_LAST_ITERATION = 50
#: Basis preference when several gs_scfV-<basis>.dat exist.
BASIS_ORDER = ("fb", "eb", "mb")
#: Relative tolerance of scfV column 2 against the olcao.dat exponents
#: (column 2 carries 11 significant digits).
ALPHA_RTOL = 1e-8


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)  # holds arrays: compare by identity
class OlcaoRun:
    """One OLCAO run directory. Build it with :meth:`from_directory`.

    Lengths of :attr:`structure` are in Å; exponents in Bohr⁻²;
    coefficients A_i in Hartree (spin channel TOTAL__OR__SPIN_UP).
    ``converged_potential`` (and ``basis``, ``history``) are ``None`` when
    the run has no gs_scfV-<basis>.dat yet.
    """

    path: str
    olcao_dat: OlcaoDat
    structure_dat: StructureDat
    atom_pot_types: np.ndarray
    skeleton: Skeleton | None
    start_potential: ScfV | None
    converged_potential: ScfV | None
    basis: str | None
    history: ScfHistory | None
    meta: dict[str, Any] | None
    kpoints: tuple[int, int, int] | None
    file_hashes: dict[str, str] = field(default_factory=dict)

    # -- construction -----------------------------------------------------
    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> OlcaoRun:
        """Read a run directory and check its files against each other."""
        root = os.path.abspath(os.fspath(path))
        if not os.path.isfile(os.path.join(root, OLCAO_DAT)):
            raise OlcaoFormatError(f"not an OLCAO run directory (no {OLCAO_DAT})", root)

        def file(rel: str) -> str:
            return os.path.join(root, rel)

        def maybe(rel: str) -> str | None:
            return file(rel) if os.path.isfile(file(rel)) else None

        olcao_dat = read_olcao_dat(file(OLCAO_DAT))
        if maybe(STRUCTURE_DAT) is None:
            raise OlcaoFormatError(f"run has no {STRUCTURE_DAT}", root)
        structure_dat = read_structure_dat(file(STRUCTURE_DAT))
        skl = maybe(SKELETON)
        skeleton = read_skeleton_file(skl) if skl else None
        start = maybe(START_SCFV)
        start_potential = read_scfv(start) if start else None
        basis = _find_basis(root)
        converged = history = None
        hashed = [OLCAO_DAT, STRUCTURE_DAT]
        hashed += [rel for rel in (START_SCFV, KPOINTS, SKELETON) if maybe(rel)]
        if basis is not None:
            scfv_rel, iter_rel = f"gs_scfV-{basis}.dat", f"gs_iter-{basis}.dat"
            converged = read_scfv(file(scfv_rel))
            if maybe(iter_rel) is None:
                raise OlcaoFormatError(
                    f"{scfv_rel} exists but {iter_rel} (the SCF log) is missing", root
                )
            history = read_iterations(file(iter_rel))
            if len(history) == 0:
                raise OlcaoFormatError(
                    f"SCF log has no iterations, but {scfv_rel} exists", file(iter_rel)
                )
            hashed += [scfv_rel, iter_rel]
        meta = None
        if maybe(META):
            meta = read_meta(file(META))
            hashed.append(META)
        kpoints = _kpoints(meta, maybe(KPOINTS), file(META))
        hashes = {rel: sha256_file(file(rel)) for rel in sorted(hashed)}
        atom_pot_types = structure_dat.atom_pot_types()
        run = cls(
            path=root,
            olcao_dat=olcao_dat,
            structure_dat=structure_dat,
            atom_pot_types=atom_pot_types,
            skeleton=skeleton,
            start_potential=start_potential,
            converged_potential=converged,
            basis=basis,
            history=history,
            meta=meta,
            kpoints=kpoints,
            file_hashes=hashes,
        )
        run.check()
        return run

    # -- derived quantities -----------------------------------------------
    @property
    def name(self) -> str:
        """The run directory's base name."""
        return os.path.basename(self.path)

    @property
    def structure(self) -> Structure:
        """Atoms of structure.dat, converted to Å, in structure.dat order."""
        return self.structure_dat.structure

    @property
    def n_atoms(self) -> int:
        return self.structure_dat.n_atoms

    @property
    def potential_types(self) -> tuple[PotentialType, ...]:
        return self.olcao_dat.potential_types

    @property
    def n_types(self) -> int:
        return self.olcao_dat.n_types

    @property
    def pot_site_types(self) -> np.ndarray:
        """Potential type (1-based) of every potential site."""
        return self.structure_dat.pot_types

    @property
    def type_multiplicity(self) -> np.ndarray:
        """For every atom, how many atoms share its potential type."""
        counts = np.bincount(self.atom_pot_types, minlength=self.n_types + 1)
        return counts[self.atom_pot_types].astype(np.int64)

    @property
    def shared_types(self) -> tuple[int, ...]:
        """Potential types (1-based) held by more than one atom."""
        counts = np.bincount(self.atom_pot_types, minlength=self.n_types + 1)
        return tuple(int(t) for t in np.flatnonzero(counts > 1))

    @property
    def alphas_per_type(self) -> list[np.ndarray]:
        """Exponents (Bohr⁻²) of every potential type, from olcao.dat."""
        return [t.alphas for t in self.potential_types]

    @property
    def converged_coeffs_per_type(self) -> list[np.ndarray] | None:
        """Converged A_i (Hartree) of every type; None without gs_scfV."""
        if self.converged_potential is None:
            return None
        return self.converged_potential.coeffs("up")

    @property
    def converged_coeffs_per_atom(self) -> list[np.ndarray] | None:
        """Converged A_i (Hartree) of every atom's type; None without gs_scfV."""
        per_type = self.converged_coeffs_per_type
        if per_type is None:
            return None
        return [per_type[t - 1] for t in self.atom_pot_types]

    @property
    def start_coeffs_per_type(self) -> list[np.ndarray] | None:
        """A_i (Hartree) of inputs/scfV.dat, the SCF's starting potential."""
        if self.start_potential is None:
            return None
        return self.start_potential.coeffs("up")

    @property
    def convergence_test(self) -> float:
        value = self.olcao_dat.convergence_test
        return DEFAULT_CONVERGENCE_TEST if value is None else value

    @property
    def last_iteration(self) -> int:
        value = self.olcao_dat.last_iteration
        return DEFAULT_LAST_ITERATION if value is None else value

    @property
    def converged(self) -> bool:
        """OLCAO's SCF reached CONVERGENCE_TEST (False without a log); see
        :meth:`ScfHistory.converged` for a final value printed as the test."""
        return self.history is not None and self.history.converged(
            self.convergence_test, self.last_iteration
        )

    @property
    def log_truncated(self) -> bool:
        """The SCF log stops before the run's own end (neither converged
        below CONVERGENCE_TEST nor at LAST_ITERATION): the file was cut
        short or the run was killed.  Such a run is not :attr:`converged`."""
        return self.history is not None and self.history.ended_early(
            self.convergence_test, self.last_iteration
        )

    @property
    def settings(self) -> dict[str, Any]:
        """SCF settings: CONVERGENCE_TEST, LAST_ITERATION, k-points, basis,
        and the other olcao.dat scalars that were read."""
        out: dict[str, Any] = dict(self.olcao_dat.settings)
        out["convergence_test"] = self.convergence_test
        out["last_iteration"] = self.last_iteration
        out["kpoints"] = None if self.kpoints is None else list(self.kpoints)
        out["basis"] = self.basis
        return out

    @property
    def content_hash(self) -> str:
        """sha256 over the OLCAO input and output files (names and contents;
        meta.json excluded), identical for identical copies of a run."""
        lines = [
            f"{rel} {h}" for rel, h in sorted(self.file_hashes.items()) if rel != META
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    # -- consistency --------------------------------------------------------
    def check(self) -> None:
        """Cross-check the files; raise :class:`OlcaoFormatError` naming them."""
        od, sd = self.olcao_dat, self.structure_dat
        olcao_path = od.path or OLCAO_DAT
        n_types = od.n_types
        for kind, types, elements in (
            ("potential site", sd.pot_types, sd.pot_elements),
            ("atom site", None, sd.atom_elements),
        ):
            if types is None:
                types = self.atom_pot_types
            if int(types.max()) > n_types:
                raise OlcaoFormatError(
                    f"{kind} uses potential type {int(types.max())}, but "
                    f"{olcao_path} has NUM_POTENTIAL_TYPES {n_types}",
                    sd.path,
                )
            for i, (t, el) in enumerate(zip(types, elements, strict=True)):
                ptype = od.potential_types[int(t) - 1]
                if ptype.element.lower() != el.lower():
                    raise OlcaoFormatError(
                        f"{kind} {i + 1} is {el} but its potential type {int(t)} is "
                        f"{ptype.label} ({ptype.element}) in {olcao_path}",
                        sd.path,
                    )
        # Column 2 of the *start* scfV.dat is informational: makeinput -modpot
        # keeps the atomicPDB exponents there while olcao.dat (what OLCAO
        # uses) has the modified ones. OLCAO's own output carries the
        # exponents it used, so the converged file is checked strictly.
        if self.start_potential is not None:
            _check_scfv(self.start_potential, od, check_alphas=False)
        if self.converged_potential is not None:
            _check_scfv(self.converged_potential, od)
        if self.skeleton is not None:
            self._check_skeleton(self.skeleton)
        if self.meta is not None:
            self._check_meta(self.meta)

    def _check_skeleton(self, skl: Skeleton) -> None:
        sd = self.structure_dat
        if skl.n_atoms != sd.n_atoms:
            raise OlcaoFormatError(
                f"{skl.n_atoms} atoms, but {sd.path} has NUM_ATOM_SITES {sd.n_atoms}",
                skl.path,
            )
        cell_bohr = skl.cell * np.array(skl.supercell)[:, None] / BOHR_IN_ANGSTROM
        # skeleton lengths carry ~6 decimals in Å
        if not np.allclose(cell_bohr, sd.cell_bohr, rtol=1e-5, atol=1e-4):
            raise OlcaoFormatError(
                f"cell {np.round(skl.cell, 6).tolist()} Å does not match "
                f"CELL_VECTORS of {sd.path}",
                skl.path,
            )

    def _check_meta(self, meta: dict[str, Any]) -> None:
        meta_path = os.path.join(self.path, META)
        for key, have, what in (
            ("n_atoms", self.n_atoms, f"atoms in {self.structure_dat.path}"),
            ("n_pot_types", self.n_types, f"potential types in {self.olcao_dat.path}"),
        ):
            value = meta.get(key)
            if value is None:
                continue
            if not _is_int(value):
                raise OlcaoFormatError(
                    f"{key} must be an integer, got {value!r}", meta_path
                )
            if value != have:
                raise OlcaoFormatError(
                    f"{key} is {value}, but {what}: {have}", meta_path
                )


def _check_scfv(scfv: ScfV, od: OlcaoDat, check_alphas: bool = True) -> None:
    if scfv.n_types != od.n_types:
        raise OlcaoFormatError(
            f"{scfv.n_types} potential types, but {od.path} has "
            f"NUM_POTENTIAL_TYPES {od.n_types}",
            scfv.path,
        )
    pairs = zip(od.potential_types, scfv.spin_up, strict=True)
    for t, (ptype, block) in enumerate(pairs):
        if len(block) != ptype.n_alphas:
            raise OlcaoFormatError(
                f"type {t + 1} has {len(block)} terms, but {od.path} has "
                f"NUM_ALPHAS {ptype.n_alphas} for {ptype.label}",
                scfv.path,
            )
        if check_alphas and not np.allclose(
            block.alphas, ptype.alphas, rtol=ALPHA_RTOL, atol=0
        ):
            raise OlcaoFormatError(
                f"type {t + 1}: exponents in column 2 differ from the ALPHAS of "
                f"{ptype.label} in {od.path}",
                scfv.path,
            )


def _find_basis(root: str) -> str | None:
    found = []
    for name in os.listdir(root):
        if name.startswith("gs_scfV-") and name.endswith(".dat"):
            found.append(name[len("gs_scfV-") : -len(".dat")])
    if not found:
        return None
    for basis in BASIS_ORDER:
        if basis in found:
            return basis
    return sorted(found)[0]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:
        raise ValueError(f"integer {text[:24]}... out of range")
    return int(text)


def read_meta(path: str) -> dict[str, Any]:
    """meta.json: a JSON object of finite numbers.  NaN, Infinity, 1e999,
    huge integers, bytes that are not UTF-8 and invalid JSON are an
    :class:`OlcaoFormatError` naming the file (and the line)."""
    with open(path, "rb") as fh:
        text = decode_text(fh.read(), path)
    try:
        meta = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except json.JSONDecodeError as exc:
        raise OlcaoFormatError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise OlcaoFormatError(f"invalid JSON: {exc}", path) from None
    if not isinstance(meta, dict):
        raise OlcaoFormatError("expected a JSON object", path)
    return meta


def _kpoints(
    meta: dict[str, Any] | None, kp_path: str | None, meta_path: str
) -> tuple[int, int, int] | None:
    if meta is not None and meta.get("kpoints") is not None:
        kp = meta["kpoints"]
        if not (
            isinstance(kp, list)
            and len(kp) == 3
            and all(_is_int(k) and k > 0 for k in kp)
        ):
            raise OlcaoFormatError(
                f"kpoints must be three positive integers, got {kp!r}", meta_path
            )
        from_meta = (kp[0], kp[1], kp[2])
        if kp_path is not None:
            from_file = _kpoints(None, kp_path, meta_path)
            if from_file != from_meta:
                raise OlcaoFormatError(
                    f"kpoints {list(from_meta)} differ from NUM_KP_A_B_C "
                    f"{list(from_file or ())} of {kp_path}",
                    meta_path,
                )
        return from_meta
    if kp_path is None:
        return None
    reader = LineReader.from_file(kp_path)
    line = reader.find_key("NUM_KP_A_B_C")
    if line is None:
        raise OlcaoFormatError("no NUM_KP_A_B_C line (file cut short?)", kp_path)
    reader.seek(line)
    a, b, c = reader.ints(3, "integers (k-points along a, b, c)")
    if min(a, b, c) < 1:
        raise reader.error(f"k-point counts must be positive, got {a} {b} {c}")
    return (a, b, c)


def read_run(path: str | os.PathLike[str]) -> OlcaoRun:
    """Same as :meth:`OlcaoRun.from_directory`."""
    return OlcaoRun.from_directory(path)


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(os.path.join(os.fspath(path), OLCAO_DAT))


def find_run_dirs(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute paths of every run directory (a directory that holds
    inputs/olcao.dat) given directly or found below the given directories,
    sorted within each tree, without repeats. A missing path is an error."""
    found: dict[str, None] = {}
    for p in paths:
        root = os.path.abspath(os.fspath(p))
        if not os.path.isdir(root):
            raise FileNotFoundError(f"no such directory: {os.fspath(p)}")
        tree = []
        for dirpath, dirnames, _ in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != "inputs"]
            if is_run_dir(dirpath):
                tree.append(dirpath)
        for run in sorted(tree):
            found[run] = None
    return list(found)
