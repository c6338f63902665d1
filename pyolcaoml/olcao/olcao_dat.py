"""The potential section and a few SCF settings of ``inputs/olcao.dat``,
:func:`setting_line` to read one setting and :func:`edit_setting` to change
one setting of a copy of it.

Also the potential parameters of an atomicPDB ``pot1`` file, which use the
same keys (see :mod:`pyolcaoml.olcao.atomicpdb`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pyolcaoml._atomic import write_bytes_atomic
from pyolcaoml.olcao._lines import LineReader
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.structure import _canonical_symbol

__all__ = [
    "OlcaoDat",
    "PotentialParameters",
    "PotentialType",
    "edit_setting",
    "geometric_alphas",
    "read_olcao_dat",
    "setting_line",
]


def geometric_alphas(alpha_min: float, alpha_max: float, n: int) -> np.ndarray:
    """OLCAO's potential exponents in Bohr⁻²:
    α_i = α_min·(α_max/α_min)^((i−1)/(N−1)), i = 1..N (α_min alone when N = 1).
    """
    if n < 1:
        raise ValueError(f"number of alphas must be positive, got {n}")
    if not (0 < alpha_min <= alpha_max):
        raise ValueError(
            f"alphas must satisfy 0 < min <= max, got {alpha_min}, {alpha_max}"
        )
    if n == 1:
        return np.array([alpha_min], dtype=np.float64)
    # Term by term with the C library's pow, not NumPy's vectorised power,
    # whose SIMD kernels differ in the last bit between CPUs (stop 41: one
    # of sixteen exponents moved by one ulp on an Intel machine against the
    # AMD one that trained the bundled models), so that the same run gives
    # the same exponents everywhere.
    ratio = alpha_max / alpha_min
    return np.array(
        [alpha_min * math.pow(ratio, k / (n - 1)) for k in range(n)], dtype=np.float64
    )


@dataclass(frozen=True)
class PotentialParameters:
    """The Gaussian potential basis of one element or potential type.

    nuclear_charge: Z (e); nuclear_alpha: exponent of the Gaussian nuclear
    charge (Bohr⁻²); covalent_radius: as OLCAO stores it (Bohr);
    alpha_min/alpha_max: Bohr⁻²; n_alphas: number of terms N.
    """

    nuclear_charge: float
    nuclear_alpha: float
    covalent_radius: float
    n_alphas: int
    alpha_min: float
    alpha_max: float

    @property
    def alphas(self) -> np.ndarray:
        """The N exponents α_i in Bohr⁻² (geometric series)."""
        return geometric_alphas(self.alpha_min, self.alpha_max, self.n_alphas)


@dataclass(frozen=True)
class PotentialType:
    """One potential type of olcao.dat (ids are OLCAO's, 1-based)."""

    element_id: int
    species_id: int
    type_id: int
    sequence: int
    label: str
    params: PotentialParameters

    @property
    def element(self) -> str:
        """Element symbol from the label ('si1_3' -> 'Si')."""
        return _canonical_symbol(self.label.split("_")[0])

    @property
    def species(self) -> str:
        """Species label ('si1_3' -> 'si1')."""
        return self.label.split("_")[0].lower()

    @property
    def n_alphas(self) -> int:
        return self.params.n_alphas

    @property
    def alphas(self) -> np.ndarray:
        """Exponents α_i in Bohr⁻²."""
        return self.params.alphas


@dataclass(frozen=True)
class OlcaoDat:
    """What pyolcaoml needs from olcao.dat.

    potential_types: in file order (sequence 1..n);
    convergence_test: CONVERGENCE_TEST (None when the key is absent);
    last_iteration: LAST_ITERATION (None when absent);
    settings: a few other main-input scalars when present (XC_CODE,
    FEEDBACK_LEVEL, RELAXATION_FACTOR, NUM_ELECTRONS), keyed in lower case.
    """

    path: str | None
    potential_types: tuple[PotentialType, ...]
    convergence_test: float | None
    last_iteration: int | None
    settings: dict[str, float | int] = field(default_factory=dict)

    @property
    def n_types(self) -> int:
        return len(self.potential_types)


def read_potential_parameters(reader: LineReader) -> PotentialParameters:
    """Read NUCLEAR_CHARGE__ALPHA, COVALENT_RADIUS, NUM_ALPHAS, ALPHAS."""
    reader.expect_key("NUCLEAR_CHARGE__ALPHA")
    charge, nuc_alpha = reader.floats(2, "numbers (nuclear charge, alpha)")
    reader.expect_key("COVALENT_RADIUS")
    (radius,) = reader.floats(1, "number (covalent radius)")
    reader.expect_key("NUM_ALPHAS")
    (n_alphas,) = reader.ints(1, "integer (number of alphas)")
    if n_alphas < 1:
        raise reader.error(f"NUM_ALPHAS must be positive, got {n_alphas}")
    reader.expect_key("ALPHAS")
    alpha_min, alpha_max = reader.floats(2, "numbers (alpha min, max)")
    if not (0 < alpha_min <= alpha_max):
        raise reader.error(
            f"ALPHAS must satisfy 0 < min <= max, got {alpha_min} {alpha_max}"
        )
    return PotentialParameters(
        nuclear_charge=charge,
        nuclear_alpha=nuc_alpha,
        covalent_radius=radius,
        n_alphas=n_alphas,
        alpha_min=alpha_min,
        alpha_max=alpha_max,
    )


def _read_potential_type(reader: LineReader, sequence: int) -> PotentialType:
    reader.expect_key("POTENTIAL_TYPE_ID__SEQUENTIAL_NUMBER")
    ids = reader.ints(4, "integers (element, species, type id, sequence)")
    if ids[3] != sequence:
        raise reader.error(f"expected potential type sequence {sequence}, got {ids[3]}")
    reader.expect_key("POTENTIAL_TYPE_LABEL")
    label = reader.next("potential type label").strip()
    if not label or not label[0].isalpha():
        raise reader.error(f"bad potential type label {label!r}")
    params = read_potential_parameters(reader)
    return PotentialType(
        element_id=ids[0],
        species_id=ids[1],
        type_id=ids[2],
        sequence=ids[3],
        label=label,
        params=params,
    )


_INT_SETTINGS = ("LAST_ITERATION", "XC_CODE", "FEEDBACK_LEVEL")
_FLOAT_SETTINGS = ("CONVERGENCE_TEST", "RELAXATION_FACTOR", "NUM_ELECTRONS")


def _scalar_after_key(reader: LineReader, key: str, kind: type) -> float | int | None:
    line_no = reader.find_key(key)
    if line_no is None:
        return None
    reader.seek(line_no)
    if kind is int:
        return reader.ints(1, f"integer after {key}")[0]
    return reader.floats(1, f"number after {key}")[0]


def _read_lines(path: str | os.PathLike[str]) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:  # its own line endings
        return fh.read().splitlines(keepends=True)


def _setting_index(lines: list[str], key: str, path) -> int:
    """The index of the line after the one line that reads ``key``;
    :class:`OlcaoFormatError` naming the file unless there is exactly one
    with a line after it."""
    at = [k for k, line in enumerate(lines) if line.strip() == key]
    if len(at) != 1 or at[0] + 1 >= len(lines):
        raise OlcaoFormatError(f"expected one {key} setting, found {len(at)}", path)
    return at[0] + 1


def setting_line(path: str | os.PathLike[str], key: str) -> str:
    """The line after the line that reads ``key`` (the setting's value, as
    written), with the same check as :func:`edit_setting`."""
    lines = _read_lines(path)
    return lines[_setting_index(lines, key, path)].rstrip("\r\n")


def edit_setting(
    path: str | os.PathLike[str], key: str, edit: Callable[[str], str]
) -> None:
    """Rewrite one setting of an olcao.dat in place: the line after the
    line that reads ``key`` (e.g. ``RELAXATION_FACTOR``) becomes
    ``edit(old line)``, every other byte stays (written atomically, like
    every file the package replaces). Raises
    :class:`OlcaoFormatError` naming the file unless ``key`` is there
    exactly once with a line after it."""
    lines = _read_lines(path)
    k = _setting_index(lines, key, path)
    old = lines[k]
    ending = old[len(old.rstrip("\r\n")) :]
    lines[k] = edit(old.rstrip("\r\n")) + ending
    write_bytes_atomic(path, "".join(lines).encode("utf-8"))


def read_olcao_dat(path: str | os.PathLike[str]) -> OlcaoDat:
    """Read the potential types and SCF settings of an olcao.dat file."""
    reader = LineReader.from_file(path)
    if reader.find_key("END_OF_DATA") is None:
        # makeinput ends every olcao.dat with it: without it the file was cut
        # short, and settings such as LAST_ITERATION may be missing.
        raise OlcaoFormatError(
            "unexpected end of file: no END_OF_DATA line (the file is cut short)",
            reader.path,
            len(reader.lines) + 1,
        )
    start = reader.find_key("NUM_POTENTIAL_TYPES")
    if start is None:
        raise OlcaoFormatError("no NUM_POTENTIAL_TYPES section", reader.path)
    reader.seek(start)
    (n_types,) = reader.ints(1, "integer (number of potential types)")
    if n_types < 1:
        raise reader.error(f"NUM_POTENTIAL_TYPES must be positive, got {n_types}")
    types = tuple(_read_potential_type(reader, i + 1) for i in range(n_types))
    settings: dict[str, float | int] = {}
    for keys, kind in ((_INT_SETTINGS, int), (_FLOAT_SETTINGS, float)):
        for key in keys:
            value = _scalar_after_key(reader, key, kind)
            if value is not None:
                settings[key.lower()] = value
    conv = settings.get("convergence_test")
    last = settings.get("last_iteration")
    return OlcaoDat(
        path=reader.path,
        potential_types=types,
        convergence_test=None if conv is None else float(conv),
        last_iteration=None if last is None else int(last),
        settings=settings,
    )
