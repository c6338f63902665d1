"""inputs/structure.dat: OLCAO's structure in Bohr, with type assignments.

::

    CELL_VECTORS
      ax ay az                      rows are a, b, c (Bohr)
      bx by bz
      cx cy cz
    NUM_ATOM_SITES
    8
    NUM_TYPE_X_Y_Z_ELEM
        1     1     0.000  0.000  0.000 si     index, atom type, x y z, element
    ...
    NUM_POTENTIAL_SITES
    8
    NUM_TYPE_X_Y_Z_ELEM
        1     1     0.000  0.000  0.000 si     index, potential type, x y z, element
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pyolcaoml.olcao._lines import LineReader
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.structure import BOHR_IN_ANGSTROM, Structure, _canonical_symbol

__all__ = ["StructureDat", "read_structure_dat"]


@dataclass(frozen=True, eq=False)  # holds arrays: compare by identity
class StructureDat:
    """The content of structure.dat (lengths in Bohr, types 1-based).

    cell_bohr: (3, 3), rows a, b, c.
    atom_types, atom_positions_bohr, atom_elements: atom sites (basis types).
    pot_types, pot_positions_bohr, pot_elements: potential sites.
    Elements are lower case as OLCAO writes them ('si').
    """

    path: str | None
    cell_bohr: np.ndarray
    atom_types: np.ndarray
    atom_positions_bohr: np.ndarray
    atom_elements: tuple[str, ...]
    pot_types: np.ndarray
    pot_positions_bohr: np.ndarray
    pot_elements: tuple[str, ...]

    @property
    def n_atoms(self) -> int:
        return len(self.atom_types)

    @property
    def n_pot_sites(self) -> int:
        return len(self.pot_types)

    @property
    def structure(self) -> Structure:
        """The atom sites as a :class:`Structure` in Å."""
        return Structure(
            cell=self.cell_bohr * BOHR_IN_ANGSTROM,
            positions=self.atom_positions_bohr * BOHR_IN_ANGSTROM,
            symbols=tuple(_canonical_symbol(e) for e in self.atom_elements),
        )

    def atom_pot_types(self, tol_bohr: float = 1e-4) -> np.ndarray:
        """Potential type (1-based) of every atom site, matched by position.

        Each atom must sit on exactly one potential site (periodic images
        count) of the same element; anything else is an
        :class:`OlcaoFormatError`.
        """
        inv = np.linalg.inv(self.cell_bohr)
        result = np.zeros(self.n_atoms, dtype=np.int64)
        for i, pos in enumerate(self.atom_positions_bohr):
            diff = (self.pot_positions_bohr - pos) @ inv
            diff -= np.round(diff)
            dist = np.linalg.norm(diff @ self.cell_bohr, axis=1)
            hits = np.flatnonzero(dist < tol_bohr)
            if len(hits) != 1:
                raise OlcaoFormatError(
                    f"atom site {i + 1} matches {len(hits)} potential sites "
                    "(expected exactly one at the same position)",
                    self.path,
                )
            site = int(hits[0])
            if self.pot_elements[site] != self.atom_elements[i]:
                raise OlcaoFormatError(
                    f"atom site {i + 1} ({self.atom_elements[i]}) sits on potential "
                    f"site {site + 1} of element {self.pot_elements[site]}",
                    self.path,
                )
            result[i] = self.pot_types[site]
        return result


def _read_sites(
    reader: LineReader, count_key: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    reader.expect_key(count_key)
    (n,) = reader.ints(1, f"integer after {count_key}")
    if n < 1:
        raise reader.error(f"{count_key} must be positive, got {n}")
    reader.expect_key("NUM_TYPE_X_Y_Z_ELEM")
    types, positions, elements = [], [], []
    for i in range(n):
        line = reader.next(f"{n} sites after {count_key} (got {i})")
        fields = line.split()
        if len(fields) != 6:
            raise reader.error(
                f"expected index, type, x, y, z, element (6 fields), got {len(fields)}"
            )
        index, type_id = reader.parse_ints(" ".join(fields[:2]), 2, "integers")
        if index != i + 1:
            raise reader.error(f"expected site index {i + 1}, got {index}")
        if type_id < 1:
            raise reader.error(f"type must be positive, got {type_id}")
        types.append(type_id)
        xyz = reader.parse_floats(" ".join(fields[2:5]), 3, "coordinates")
        _check_lengths(reader, xyz, "coordinate")
        positions.append(xyz)
        try:
            _canonical_symbol(fields[5])
        except ValueError:
            raise reader.error(f"bad element {fields[5]!r}") from None
        elements.append(fields[5].lower())
    return (
        np.array(types, dtype=np.int64),
        np.array(positions, dtype=np.float64),
        tuple(elements),
    )


#: Largest length (Bohr) a structure.dat may hold, 1e6 Bohr (53 µm):
#: beyond it, a coordinate is damage (``9999...``), not a structure OLCAO
#: can compute, and it would lose all precision when wrapped into the cell.
MAX_LENGTH_BOHR = 1e6


def _check_lengths(reader: LineReader, values: list[float], what: str) -> None:
    for v in values:
        if abs(v) > MAX_LENGTH_BOHR:
            raise reader.error(f"{what} {v:g} Bohr is beyond {MAX_LENGTH_BOHR:g} Bohr")


def read_structure_dat(path: str | os.PathLike[str]) -> StructureDat:
    """Read inputs/structure.dat (Bohr)."""
    reader = LineReader.from_file(path)
    reader.expect_key("CELL_VECTORS")
    vectors = []
    for _ in range(3):
        vectors.append(reader.floats(3, "numbers (lattice vector, Bohr)"))
        _check_lengths(reader, vectors[-1], "lattice vector component")
    cell = np.array(vectors, dtype=np.float64)
    if abs(np.linalg.det(cell)) < 1e-12:
        raise OlcaoFormatError("CELL_VECTORS are linearly dependent", reader.path, 2)
    atom_types, atom_pos, atom_el = _read_sites(reader, "NUM_ATOM_SITES")
    pot_types, pot_pos, pot_el = _read_sites(reader, "NUM_POTENTIAL_SITES")
    return StructureDat(
        path=reader.path,
        cell_bohr=cell,
        atom_types=atom_types,
        atom_positions_bohr=atom_pos,
        atom_elements=atom_el,
        pot_types=pot_types,
        pot_positions_bohr=pot_pos,
        pot_elements=pot_el,
    )
