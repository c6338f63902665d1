"""olcao.skl: OLCAO's skeleton structure file (lengths in Å, angles in degrees).

::

    title
    free text (any number of lines)
    end
    cell
       a b c alpha beta gamma
    fract N                    (or: cart N, Cartesian Å in OLCAO's frame)
    Si 0.00 0.00 0.00          element or species tag (si1, si2) + coordinates
    ...
    space 1_a
    supercell 1 1 1
    full                       (or: prim)

The cell is built from its parameters as OLCAO does: a along x, b in the xy
plane, c completing a right-handed set (``ase.geometry.cellpar_to_cell``
with its default orientation follows the same convention).

Only P1 skeletons (``space 1`` / ``space 1_a``) can be turned into a
:class:`~pyolcaoml.structure.Structure`: other space groups would need
OLCAO's symmetry database to generate the atoms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pyolcaoml.olcao._lines import LineReader, write_text_atomic
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.structure import Structure, _canonical_symbol

__all__ = [
    "Skeleton",
    "format_skeleton",
    "read_skeleton",
    "read_skeleton_file",
    "write_skeleton",
]

_P1_NAMES = ("1", "1_a")


@dataclass(frozen=True, eq=False)
class Skeleton:
    """The content of an olcao.skl file.

    cellpar: (a, b, c) in Å and (alpha, beta, gamma) in degrees.
    coordinates: 'fract' (fractional) or 'cart' (Cartesian Å, OLCAO frame).
    labels: the atom labels as written ('Si', 'si2').
    coords: (N, 3) coordinates in the unit given by ``coordinates``.
    space_group: e.g. '1_a'; supercell: repetitions along a, b, c;
    cell_kind: 'full' or 'prim'.
    """

    title: str
    cellpar: tuple[float, float, float, float, float, float]
    coordinates: str
    labels: tuple[str, ...]
    coords: np.ndarray
    space_group: str = "1_a"
    supercell: tuple[int, int, int] = (1, 1, 1)
    cell_kind: str = "full"
    path: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Skeleton):
            return NotImplemented
        return (
            self.title == other.title
            and self.cellpar == other.cellpar
            and self.coordinates == other.coordinates
            and self.labels == other.labels
            and np.array_equal(self.coords, other.coords)
            and self.space_group == other.space_group
            and self.supercell == other.supercell
            and self.cell_kind == other.cell_kind
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def cell(self) -> np.ndarray:
        """(3, 3) lattice vectors in Å (rows), OLCAO's orientation."""
        from ase.geometry import cellpar_to_cell

        return np.array(cellpar_to_cell(list(self.cellpar)), dtype=np.float64)

    @property
    def n_atoms(self) -> int:
        """Atoms after supercell expansion."""
        return len(self.labels) * int(np.prod(self.supercell))

    def to_structure(self) -> Structure:
        """The periodic structure (Å), supercell applied (image-major order,
        like ``ase.Atoms.repeat``)."""
        if self.space_group.lower() not in _P1_NAMES:
            raise OlcaoFormatError(
                f"space group {self.space_group}: only P1 skeletons "
                "('space 1_a') can be turned into a structure",
                self.path,
            )
        cell = self.cell
        if self.coordinates == "fract":
            positions = self.coords @ cell
        else:
            positions = np.array(self.coords, dtype=np.float64)
        species = tuple(_species_of(label) for label in self.labels)
        base = Structure(
            cell=cell,
            positions=positions,
            symbols=tuple(_canonical_symbol(s) for s in self.labels),
            species=species,
        )
        if self.supercell == (1, 1, 1):
            return base
        return Structure.from_ase(base.to_ase().repeat(self.supercell))

    @classmethod
    def from_structure(
        cls, structure: Structure, title: str = "Created by pyolcaoml"
    ) -> Skeleton:
        """A P1 skeleton with fractional coordinates for any periodic structure
        (an ``ase.Atoms`` is accepted too)."""
        from ase.geometry import cell_to_cellpar

        structure = Structure.coerce(structure)
        det = float(np.linalg.det(structure.cell))
        if abs(det) < 1e-12:
            raise ValueError("structure has no 3D cell: OLCAO needs a periodic cell")
        if det < 0:
            raise ValueError(
                "left-handed cell: OLCAO's cell parameters describe a right-handed "
                "cell; reorder the lattice vectors first"
            )
        cellpar = tuple(float(v) for v in cell_to_cellpar(structure.cell))
        labels = tuple(
            _label_of(sym, spec)
            for sym, spec in zip(structure.symbols, structure.species, strict=True)
        )
        return cls(
            title=title,
            cellpar=cellpar,  # type: ignore[arg-type]
            coordinates="fract",
            labels=labels,
            coords=structure.scaled_positions,
        )


def _species_of(label: str) -> str:
    """'Si' -> 'si1', 'si2' -> 'si2'."""
    low = label.lower()
    return low if any(ch.isdigit() for ch in low) else low + "1"


def _label_of(symbol: str, species: str) -> str:
    """Species 1 is written as the plain element symbol ('Si'); others as
    their tag ('si2')."""
    digits = "".join(ch for ch in species if ch.isdigit())
    if not digits or int(digits) == 1:
        return symbol
    return f"{symbol.lower()}{int(digits)}"


# ---------------------------------------------------------------------------
# reading


def _keyword(line: str) -> str:
    parts = line.split()
    return parts[0].lower() if parts else ""


def read_skeleton_file(path: str | os.PathLike[str]) -> Skeleton:
    """Read an olcao.skl into a :class:`Skeleton` (no conversion)."""
    reader = LineReader.from_file(path)
    first = reader.next("'title'")
    if _keyword(first) != "title":
        raise reader.error(f"expected 'title', got {first.strip()!r}")
    title_lines = []
    while True:
        line = reader.next("'end' closing the title")
        if line.strip().lower() == "end":
            break
        title_lines.append(line)
    line = reader.next("'cell'")
    if _keyword(line) != "cell":
        raise reader.error(f"expected 'cell', got {line.strip()!r}")
    rest = line.split()[1:]
    if rest:
        cellpar = reader.parse_floats(" ".join(rest), 6, "cell parameters")
    else:
        cellpar = reader.floats(6, "cell parameters (a b c alpha beta gamma)")
    if min(cellpar[:3]) <= 0 or not all(0 < a < 180 for a in cellpar[3:6]):
        raise reader.error(f"invalid cell parameters {cellpar[:6]}")
    line = reader.next("'fract N' or 'cart N'")
    fields = line.split()
    mode = _keyword(line)
    if mode not in ("fract", "cart") or len(fields) < 2:
        raise reader.error(f"expected 'fract N' or 'cart N', got {line.strip()!r}")
    try:
        n_atoms = int(fields[1])
    except ValueError:
        raise reader.error(f"expected an atom count, got {fields[1]!r}") from None
    if n_atoms < 1:
        raise reader.error(f"atom count must be positive, got {n_atoms}")
    labels, coords = [], []
    for i in range(n_atoms):
        line = reader.next(f"{n_atoms} atoms (got {i})")
        fields = line.split()
        if len(fields) < 4:
            raise reader.error(
                f"expected a label and 3 coordinates, got {line.strip()!r}"
            )
        try:
            _canonical_symbol(fields[0])
        except ValueError:
            raise reader.error(f"bad atom label {fields[0]!r}") from None
        labels.append(fields[0])
        coords.append(reader.parse_floats(" ".join(fields[1:4]), 3, "coordinates"))
    space_group, supercell, cell_kind = "1_a", (1, 1, 1), "full"
    while not reader.at_end:
        line = reader.next()
        key = _keyword(line)
        fields = line.split()
        if not key:
            continue
        if key == "space":
            if len(fields) < 2:
                raise reader.error("'space' needs a space group name")
            space_group = fields[1]
        elif key == "supercell":
            sc = reader.parse_ints(" ".join(fields[1:]), 3, "supercell repetitions")
            if min(sc) < 1:
                raise reader.error(f"supercell repetitions must be positive, got {sc}")
            supercell = (sc[0], sc[1], sc[2])
        elif key in ("full", "prim"):
            cell_kind = key
        else:
            raise reader.error(f"unknown skeleton keyword {fields[0]!r}")
    return Skeleton(
        title="\n".join(title_lines),
        cellpar=tuple(cellpar[:6]),  # type: ignore[arg-type]
        coordinates=mode,
        labels=tuple(labels),
        coords=np.array(coords, dtype=np.float64),
        space_group=space_group,
        supercell=supercell,
        cell_kind=cell_kind,
        path=reader.path,
    )


def read_skeleton(path: str | os.PathLike[str]) -> Structure:
    """Read an olcao.skl as a :class:`Structure` (Å)."""
    return read_skeleton_file(path).to_structure()


# ---------------------------------------------------------------------------
# writing


def format_skeleton(skeleton: Skeleton) -> str:
    """The text of an olcao.skl. Cell parameters are written with 10 decimals
    (Å, degrees), fractional coordinates with 12, Cartesian with 10 (Å)."""
    title = skeleton.title.splitlines() or [""]
    digits = 12 if skeleton.coordinates == "fract" else 10
    lines = ["title", *title, "end", "cell"]
    lines.append("   " + " ".join(f"{v:.10f}" for v in skeleton.cellpar))
    lines.append(f"{skeleton.coordinates} {len(skeleton.labels)}")
    for label, xyz in zip(skeleton.labels, skeleton.coords, strict=True):
        lines.append(label + " " + " ".join(f"{v:.{digits}f}" for v in xyz))
    lines.append(f"space {skeleton.space_group}")
    lines.append("supercell " + " ".join(str(n) for n in skeleton.supercell))
    lines.append(skeleton.cell_kind)
    return "\n".join(lines) + "\n"


def write_skeleton(
    path: str | os.PathLike[str],
    structure: Structure | Skeleton | object,
    title: str | Sequence[str] = "Created by pyolcaoml",
) -> None:
    """Write a P1 skeleton for a :class:`Structure` or ``ase.Atoms`` (or write
    a :class:`Skeleton` as it is)."""
    if isinstance(structure, Skeleton):
        skeleton = structure
    else:
        text = title if isinstance(title, str) else "\n".join(title)
        skeleton = Skeleton.from_structure(Structure.coerce(structure), title=text)
    content = format_skeleton(skeleton)
    write_text_atomic(path, content, "utf-8")  # temporary file, then rename
