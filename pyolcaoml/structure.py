"""A minimal periodic structure type shared by every part of pyolcaoml.

Lengths are in Ångström (OLCAO's skeleton unit). OLCAO's own files in Bohr are
converted by the readers in :mod:`pyolcaoml.olcao` using :data:`BOHR_IN_ANGSTROM`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import ase

#: One Bohr in Ångström, the value OLCAO uses (OLCAO-FORMATS.md, "Units").
BOHR_IN_ANGSTROM = 0.52917721
#: One Hartree in eV.
HARTREE_IN_EV = 27.21138


@lru_cache(maxsize=1024)
def _canonical_symbol(symbol: str) -> str:
    """'si1' -> 'Si', 'SI' -> 'Si': strip OLCAO species digits, fix case."""
    letters = "".join(ch for ch in symbol.strip() if ch.isalpha())
    if not letters:
        raise ValueError(f"not an element symbol: {symbol!r}")
    return letters[0].upper() + letters[1:].lower()


@dataclass(frozen=True)
class Structure:
    """A periodic structure.

    Attributes
    ----------
    cell:
        (3, 3) array, rows are the lattice vectors a, b, c in Å.
    positions:
        (N, 3) Cartesian positions in Å.
    symbols:
        N element symbols ('Si', 'C', ...).
    species:
        Optional N species labels as OLCAO writes them ('si1', 'si2'); default
        the lower-case element symbol followed by 1.
    pbc:
        Periodicity along a, b, c.
    """

    cell: np.ndarray
    positions: np.ndarray
    symbols: tuple[str, ...]
    species: tuple[str, ...] = field(default=())
    pbc: tuple[bool, bool, bool] = (True, True, True)

    def __post_init__(self) -> None:
        cell = _real_array("cell", self.cell)
        pos = _real_array("positions", self.positions)
        if pos.size == 0 and pos.ndim == 1:
            pos = pos.reshape(0, 3)  # no atoms
        if pos.ndim != 2 or pos.shape[1] != 3:
            # Never reshape: (3, N) or (96, 2) given for N atoms is a mistake
            # that a reshape would turn into a wrong structure.
            raise ValueError(
                f"positions must have shape (N, 3), got {pos.shape}"
                + (" (transposed? rows are atoms)" if pos.ndim == 2 and
                   pos.shape[0] == 3 else "")
            )  # fmt: skip
        if cell.shape != (3, 3):
            raise ValueError(f"cell must be 3x3, got shape {cell.shape}")
        symbols = tuple(_canonical_symbol(s) for s in self.symbols)
        if len(symbols) != len(pos):
            raise ValueError(f"{len(symbols)} symbols for {len(pos)} positions")
        species = (
            tuple(self.species)
            if self.species
            else tuple(s.lower() + "1" for s in symbols)
        )
        if len(species) != len(pos):
            raise ValueError(f"{len(species)} species for {len(pos)} positions")
        cell.setflags(write=False)
        pos.setflags(write=False)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "species", species)
        object.__setattr__(self, "pbc", tuple(bool(p) for p in self.pbc))

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def volume(self) -> float:
        """Cell volume in Å³."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def elements(self) -> tuple[str, ...]:
        """Distinct element symbols in order of first appearance."""
        return tuple(dict.fromkeys(self.symbols))

    @property
    def scaled_positions(self) -> np.ndarray:
        """Fractional coordinates (not wrapped)."""
        return np.linalg.solve(self.cell.T, self.positions.T).T

    @classmethod
    def from_ase(cls, atoms: ase.Atoms) -> Structure:
        tags = atoms.get_tags()
        symbols = atoms.get_chemical_symbols()
        species: Sequence[str] = ()
        if np.any(tags > 0):
            species = [
                f"{s.lower()}{max(int(t), 1)}"
                for s, t in zip(symbols, tags, strict=True)
            ]
        return cls(
            cell=np.array(atoms.cell[:], dtype=float),
            positions=atoms.get_positions(),
            symbols=tuple(symbols),
            species=tuple(species),
            pbc=tuple(bool(p) for p in atoms.pbc),
        )

    def to_ase(self) -> ase.Atoms:
        import ase

        tags = [_species_number(s) for s in self.species]
        return ase.Atoms(
            symbols=list(self.symbols),
            positions=self.positions,
            cell=self.cell,
            pbc=self.pbc,
            tags=tags,
        )

    @classmethod
    def coerce(cls, obj: Any) -> Structure:
        """Accept a Structure or an ``ase.Atoms``; anything else is a TypeError."""
        if isinstance(obj, Structure):
            return obj
        if type(obj).__name__ == "Atoms" and hasattr(obj, "get_positions"):
            return cls.from_ase(obj)
        raise TypeError(
            f"expected a pyolcaoml.Structure or ase.Atoms, got {type(obj).__name__}"
        )


def _real_array(name: str, value: Any) -> np.ndarray:
    """A float64 copy of ``value``; complex numbers, strings, objects and
    booleans are refused instead of cast (NumPy would drop an imaginary
    part with only a warning)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "c":
            raise ValueError(f"{name}: complex numbers are not coordinates")
        if arr.size or arr.dtype.kind not in "O":
            raise ValueError(f"{name}: expected real numbers, got {arr.dtype}")
    return np.array(arr, dtype=np.float64)


@lru_cache(maxsize=1024)
def _default_species(symbol: str) -> str:
    """OLCAO's species label of an element without tags: 'Si' -> 'si1'."""
    return symbol.lower() + "1"


def _species_number(species: str) -> int:
    digits = "".join(ch for ch in species if ch.isdigit())
    return int(digits) if digits else 0


def read_structure(path: str) -> Structure:
    """Read a structure: OLCAO olcao.skl or structure.dat, or any file ASE reads."""
    import os

    name = os.path.basename(path)
    if name.endswith(".skl"):
        from pyolcaoml.olcao.skeleton import read_skeleton

        return read_skeleton(path)
    if name.startswith("structure") and name.endswith(".dat"):
        from pyolcaoml.olcao.structure_dat import read_structure_dat

        return read_structure_dat(path).structure
    import ase.io

    return Structure.from_ase(ase.io.read(path))
