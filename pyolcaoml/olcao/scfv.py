"""scfV.dat: OLCAO's potential coefficients (read and write, byte-exact).

Layout (OLCAO-FORMATS.md)::

    NUM_TYPES    8                  header; OLCAO's reader skips it
    TOTAL__OR__SPIN_UP
       16                           (i5) number of terms of type 1
     A_i  alpha_i  rho_tot  rho_val  rho_spin     one row per term
    ...                             then type 2, ...
    SPIN_DN
    (the same blocks again)
    NUM__PLUSUJ__TERMS
        0
    TOTAL__OR__SPIN_UP
    SPIN_DN

Column units: A_i in Hartree, alpha_i in Bohr⁻², then the total and valence
charge-density coefficients (electrons·Bohr⁻³ per Gaussian: Σ c_i (π/α_i)^{3/2}
is the charge) and the spin difference.

Two real styles exist and are kept apart by :class:`ScfVStyle`:

- ``olcao``: written by OLCAO's Fortran (``gs_scfV-fb.dat``): header
  ``(a9,i5)``, rows ``(2(1x,e17.10),3(1x,e13.6))``, +U count ``(i5)``.
- ``makeinput``: written by makeinput (``inputs/scfV.dat``, atomicPDB
  ``coeff1``): header ``NUM_TYPES 8``, labels indented by one space, rows
  ``(2(1x,e16.10),3(1x,e12.6))`` (so ``-.1337080128E+01``), +U count ``0``.

:func:`read_scfv` detects the style and keeps it on the object;
:func:`write_scfv` writes it back, so reading then writing a real file gives
identical bytes. New files default to OLCAO's own layout.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from pyolcaoml.olcao._lines import LineReader, read_text, write_text_atomic
from pyolcaoml.olcao.fortran_format import format_e, format_e_array, format_i

__all__ = [
    "MAKEINPUT_STYLE",
    "OLCAO_STYLE",
    "ScfV",
    "ScfVBlock",
    "ScfVStyle",
    "format_scfv",
    "format_scfv_bytes",
    "format_scfv_groups",
    "scfv_groups_parts",
    "parse_scfv",
    "read_scfv",
    "write_scfv",
]

N_COLUMNS = 5
SPIN_UP_KEY = "TOTAL__OR__SPIN_UP"
SPIN_DN_KEY = "SPIN_DN"
PLUSUJ_KEY = "NUM__PLUSUJ__TERMS"


@dataclass(frozen=True)
class ScfVStyle:
    """Text layout of an scfV.dat file.

    name: 'olcao', 'makeinput' or 'custom'.
    num_types_width: the header is ``NUM_TYPES`` + (i<width>); None writes
    ``NUM_TYPES <n>``.
    key_indent: text before TOTAL__OR__SPIN_UP and SPIN_DN.
    count_width: the (iw) of each type's term count.
    real_width, real_digits: Ew.d of columns 1-2 (A_i, alpha_i).
    charge_width, charge_digits: Ew.d of columns 3-5.
    plusuj_width: (iw) of the +U term count; None writes it unpadded.
    """

    name: str
    num_types_width: int | None
    key_indent: str
    count_width: int
    real_width: int
    real_digits: int
    charge_width: int
    charge_digits: int
    plusuj_width: int | None

    def row(self, values: Sequence[float]) -> str:
        """One data row, (2(1x,Ew.d),3(1x,Ew.d))."""
        parts = [
            " " + format_e(v, self.real_width, self.real_digits) for v in values[:2]
        ]
        parts += [
            " " + format_e(v, self.charge_width, self.charge_digits) for v in values[2:]
        ]
        return "".join(parts)


#: OLCAO's Fortran layout (gs_scfV-*.dat); the default for new files.
OLCAO_STYLE = ScfVStyle("olcao", 5, "", 5, 17, 10, 13, 6, 5)
#: makeinput's layout (inputs/scfV.dat, atomicPDB coeff1).
MAKEINPUT_STYLE = ScfVStyle("makeinput", None, " ", 5, 16, 10, 12, 6, None)
_PRESETS = (OLCAO_STYLE, MAKEINPUT_STYLE)


@dataclass(frozen=True, eq=False)
class ScfVBlock:
    """The terms of one potential type in one spin channel.

    ``table`` is (N, 5): A_i (Hartree), alpha_i (Bohr⁻²), total charge
    coefficient, valence charge coefficient, spin difference.
    """

    table: np.ndarray

    def __post_init__(self) -> None:
        table = np.array(self.table, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != N_COLUMNS or len(table) == 0:
            raise ValueError(f"scfV block must be (N>0, 5), got shape {table.shape}")
        table.setflags(write=False)
        object.__setattr__(self, "table", table)

    def __len__(self) -> int:
        return len(self.table)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScfVBlock):
            return NotImplemented
        return bool(np.array_equal(self.table, other.table))

    __hash__ = None  # type: ignore[assignment]

    @property
    def coeffs(self) -> np.ndarray:
        """A_i in Hartree."""
        return self.table[:, 0]

    @property
    def alphas(self) -> np.ndarray:
        """alpha_i in Bohr⁻²."""
        return self.table[:, 1]

    @property
    def total_charge(self) -> np.ndarray:
        return self.table[:, 2]

    @property
    def valence_charge(self) -> np.ndarray:
        return self.table[:, 3]

    @property
    def spin_difference(self) -> np.ndarray:
        return self.table[:, 4]

    @classmethod
    def from_columns(
        cls,
        coeffs: Sequence[float] | np.ndarray,
        alphas: Sequence[float] | np.ndarray,
        total_charge: Sequence[float] | np.ndarray | None = None,
        valence_charge: Sequence[float] | np.ndarray | None = None,
        spin_difference: Sequence[float] | np.ndarray | None = None,
    ) -> ScfVBlock:
        """Build a block; missing charge columns are zero."""
        a = np.asarray(coeffs, dtype=np.float64).ravel()
        cols = [a, np.asarray(alphas, dtype=np.float64).ravel()]
        for c in (total_charge, valence_charge, spin_difference):
            cols.append(
                np.zeros_like(a) if c is None else np.asarray(c, np.float64).ravel()
            )
        if any(len(c) != len(a) for c in cols):
            raise ValueError("all scfV columns must have the same length")
        return cls(np.column_stack(cols))


@dataclass(frozen=True)
class ScfV:
    """A whole scfV.dat: one block per potential type, for both spin channels.

    ``spin_up`` is the TOTAL__OR__SPIN_UP channel (the only one that matters
    when the run is not spin-polarised); ``spin_dn`` the SPIN_DN channel.
    """

    spin_up: tuple[ScfVBlock, ...]
    spin_dn: tuple[ScfVBlock, ...]
    style: ScfVStyle = OLCAO_STYLE
    path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        up, dn = tuple(self.spin_up), tuple(self.spin_dn)
        if not up:
            raise ValueError("an scfV needs at least one potential type")
        if [len(b) for b in up] != [len(b) for b in dn]:
            raise ValueError("spin up and spin down blocks differ in term counts")
        object.__setattr__(self, "spin_up", up)
        object.__setattr__(self, "spin_dn", dn)

    @property
    def n_types(self) -> int:
        return len(self.spin_up)

    @property
    def term_counts(self) -> tuple[int, ...]:
        return tuple(len(b) for b in self.spin_up)

    def coeffs(self, spin: str = "up") -> list[np.ndarray]:
        """A_i (Hartree) of every type, for spin channel 'up' or 'dn'."""
        return [b.coeffs for b in self._channel(spin)]

    def alphas(self) -> list[np.ndarray]:
        """alpha_i (Bohr⁻²) of every type, as written in column 2."""
        return [b.alphas for b in self.spin_up]

    def _channel(self, spin: str) -> tuple[ScfVBlock, ...]:
        if spin == "up":
            return self.spin_up
        if spin == "dn":
            return self.spin_dn
        raise ValueError(f"spin must be 'up' or 'dn', got {spin!r}")

    @classmethod
    def from_blocks(
        cls, blocks: Sequence[ScfVBlock], style: ScfVStyle = OLCAO_STYLE
    ) -> ScfV:
        """A non-spin-polarised potential: SPIN_DN repeats TOTAL__OR__SPIN_UP."""
        return cls(tuple(blocks), tuple(blocks), style)

    def with_coeffs(
        self,
        coeffs: Sequence[Sequence[float] | np.ndarray],
        alphas: Sequence[Sequence[float] | np.ndarray] | None = None,
    ) -> ScfV:
        """Copy with column 1 (A_i, Hartree) of every type replaced in both
        spin channels, and with ``alphas`` column 2 too (the exponents,
        Bohr^-2, that the A_i belong to: olcao.dat's, which is what OLCAO
        lists in its own gs_scfV; makeinput's scfV.dat lists atomicPDB's,
        which differ where olcao.dat lowers an element's smallest exponent
        to another's, as for C beside Si). The other columns and the style
        are kept. OLCAO reads column 1 only."""
        if len(coeffs) != self.n_types:
            raise ValueError(f"need {self.n_types} coefficient sets, got {len(coeffs)}")
        if alphas is not None and len(alphas) != self.n_types:
            raise ValueError(f"need {self.n_types} exponent sets, got {len(alphas)}")
        exps = [None] * self.n_types if alphas is None else list(alphas)

        def swap(block: ScfVBlock, a, al) -> ScfVBlock:
            arr = np.asarray(a, dtype=np.float64).ravel()
            if len(arr) != len(block):
                raise ValueError(f"need {len(block)} coefficients, got {len(arr)}")
            table = block.table.copy()
            table[:, 0] = arr
            if al is not None:
                al = np.asarray(al, dtype=np.float64).ravel()
                if len(al) != len(block):
                    raise ValueError(f"need {len(block)} exponents, got {len(al)}")
                table[:, 1] = al
            return ScfVBlock(table)

        up = tuple(
            swap(b, a, al) for b, a, al in zip(self.spin_up, coeffs, exps, strict=True)
        )
        dn = tuple(
            swap(b, a, al) for b, a, al in zip(self.spin_dn, coeffs, exps, strict=True)
        )
        return replace(self, spin_up=up, spin_dn=dn, path=None)

    def to_text(self) -> str:
        return format_scfv(self)

    def write(self, path: str | os.PathLike[str]) -> None:
        write_scfv(path, self)


# ---------------------------------------------------------------------------
# writing


def format_scfv(scfv: ScfV) -> str:
    """The text of an scfV.dat file in ``scfv.style``.

    Non-finite values are refused (``ValueError``): OLCAO cannot read them.
    Fast for many types: columns 2-5 of a row (exponent and charge columns)
    repeat for every atom of an element, so their text is formatted once per
    distinct block, and the SPIN_DN channel reuses the spin-up text when it
    holds the same numbers; only column 1 (A_i) is formatted per row, all
    rows at once (:func:`format_scfv_bytes`).
    """
    return format_scfv_bytes(scfv).decode("ascii")


def format_scfv_bytes(scfv: ScfV) -> bytes:
    """:func:`format_scfv` as ASCII bytes (no str copy: for large files)."""
    style = scfv.style
    up = _channel_bytes(scfv.spin_up, style)
    same = len(scfv.spin_up) == len(scfv.spin_dn) and all(
        a is b or np.array_equal(a.table, b.table)
        for a, b in zip(scfv.spin_up, scfv.spin_dn, strict=True)
    )
    dn = up if same else _channel_bytes(scfv.spin_dn, style)
    if style.num_types_width is None:
        head = f"NUM_TYPES {scfv.n_types}"
    else:
        head = "NUM_TYPES" + format_i(scfv.n_types, style.num_types_width)
    plusuj = "0" if style.plusuj_width is None else format_i(0, style.plusuj_width)
    trailer = [
        PLUSUJ_KEY,
        plusuj,
        style.key_indent + SPIN_UP_KEY,
        style.key_indent + SPIN_DN_KEY,
    ]
    return b"".join(
        [
            f"{head}\n{style.key_indent}{SPIN_UP_KEY}\n".encode("ascii"),
            up,
            f"{style.key_indent}{SPIN_DN_KEY}\n".encode("ascii"),
            dn,
            ("\n".join(trailer) + "\n").encode("ascii"),
        ]
    )


def _non_finite_error(index: int) -> None:
    raise ValueError(f"scfV has non-finite values (NaN or Inf) in type {index + 1}")


def _channel_bytes(blocks: Sequence[ScfVBlock], style: ScfVStyle) -> bytes:
    """The text of one spin channel: every block's term count line and rows.

    Blocks with the same exponent and charge columns (all atoms of one
    element) are formatted together (see :func:`_groups_bytes`).
    """
    groups: dict[bytes, list[int]] = {}
    for i, block in enumerate(blocks):
        table = block.table
        key = len(table).to_bytes(8, "little") + table[:, 1:].tobytes()
        groups.setdefault(key, []).append(i)
    return _groups_bytes(
        [
            (
                np.asarray(idx),
                np.stack([blocks[i].table[:, 0] for i in idx]),
                blocks[idx[0]].table[:, 1:],
            )
            for idx in groups.values()
        ],
        len(blocks),
        style,
    )


def _groups_bytes(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_types: int,
    style: ScfVStyle,
) -> bytes:
    """:func:`_groups_array` as bytes."""
    return _groups_array(groups, n_types, style).tobytes()


def _groups_array(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_types: int,
    style: ScfVStyle,
) -> np.ndarray:
    """One spin channel, as a 1-D uint8 array, from groups (types, (G, N)
    A_i, (N, 4) other columns).

    Column 1 of all types of a group is formatted in one
    :func:`format_e_array` call, the other columns once, and the lines are
    assembled as one byte array per group, copied into the channel in type
    order: 10^5 atoms take about a second.
    """
    w = style.real_width
    group_of = np.full(n_types, -1, dtype=np.int64)
    row_in_group = np.empty(n_types, dtype=np.int64)
    texts: list[np.ndarray] = []  # (G, size) bytes of each group
    for k, (idx, coeffs, rest) in enumerate(groups):
        if not np.isfinite(rest).all():
            _non_finite_error(int(idx[0]))
        finite = np.isfinite(coeffs).all(axis=1)
        if not finite.all():
            _non_finite_error(int(idx[int(np.argmin(finite))]))
        group_of[idx] = k
        row_in_group[idx] = np.arange(len(idx))
        g, n_terms = coeffs.shape
        tail = "".join(
            style.row([0.0, *row])[w + 1 :] + "\n" for row in np.asarray(rest)
        )
        tail_bytes = np.frombuffer(tail.encode("ascii"), dtype=np.uint8)
        tail_bytes = tail_bytes.reshape(n_terms, -1)
        fields = format_e_array(coeffs, w, style.real_digits).reshape(g, n_terms, w)
        count = format_i(n_terms, style.count_width) + "\n"
        count_bytes = np.frombuffer(count.encode("ascii"), dtype=np.uint8)
        # Each type: its count line, then n_terms lines of ' ' + A_i + tail,
        # filled in place in one (g, size) array (no temporary copies).
        line = 1 + w + tail_bytes.shape[1]
        text = np.empty((g, count_bytes.size + n_terms * line), dtype=np.uint8)
        text[:, : count_bytes.size] = count_bytes
        lines = text[:, count_bytes.size :]
        lines.shape = (g, n_terms, line)  # a view: raises rather than copy
        lines[:, :, 0] = ord(" ")
        lines[:, :, 1 : 1 + w] = fields
        lines[:, :, 1 + w :] = tail_bytes
        texts.append(text)
    if np.any(group_of < 0):
        raise ValueError(f"scfV: no terms for type {int(np.argmin(group_of)) + 1}")
    if len(texts) == 1:
        return texts[0].reshape(-1)
    # Several elements: copy runs of consecutive types of one group at once.
    sizes = np.array([t.shape[1] for t in texts], dtype=np.int64)[group_of]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    starts = np.flatnonzero(np.diff(group_of, prepend=-1))
    ends = np.append(starts[1:], n_types)
    for a, b in zip(starts, ends, strict=True):
        t = texts[int(group_of[a])]
        k = int(row_in_group[a])
        out[offsets[a] : offsets[b]] = t[k : k + (b - a)].ravel()
    return out


def format_scfv_groups(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_types: int,
    style: ScfVStyle = OLCAO_STYLE,
) -> bytes:
    """scfV.dat bytes of a non-spin-polarised potential given per element:
    ``b"".join(scfv_groups_parts(...))``, see :func:`scfv_groups_parts`."""
    return b"".join(scfv_groups_parts(groups, n_types, style))


def scfv_groups_parts(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_types: int,
    style: ScfVStyle = OLCAO_STYLE,
) -> list[bytes | memoryview]:
    """scfV.dat bytes of a non-spin-polarised potential given per element,
    without building a :class:`ScfVBlock` per type (for 10^5 atoms).

    ``groups``: (0-based type indices (G,), A_i (G, N) Hartree, the other
    four columns (N, 4): alpha_i, total, valence charge, spin difference),
    together covering types 0..n_types-1. Joined, the parts are the same
    bytes as ``format_scfv(ScfV.from_blocks(blocks, style))``; they are
    returned unjoined because both spin channels are the same bytes (one
    copy of ~1.4 kB per atom, not three) and a writer can send the parts
    to the file one after the other.
    """
    channel = _groups_array(
        [
            (np.asarray(i), np.asarray(c, float), np.asarray(r, float))
            for i, c, r in groups
        ],
        n_types,
        style,
    )
    head = (
        f"NUM_TYPES {n_types}"
        if style.num_types_width is None
        else "NUM_TYPES" + format_i(n_types, style.num_types_width)
    )
    plusuj = "0" if style.plusuj_width is None else format_i(0, style.plusuj_width)
    k = style.key_indent
    channel_view = memoryview(np.ascontiguousarray(channel))
    return [
        f"{head}\n{k}{SPIN_UP_KEY}\n".encode("ascii"),
        channel_view,
        f"{k}{SPIN_DN_KEY}\n".encode("ascii"),
        channel_view,
        f"{PLUSUJ_KEY}\n{plusuj}\n{k}{SPIN_UP_KEY}\n{k}{SPIN_DN_KEY}\n".encode("ascii"),
    ]


def write_scfv(path: str | os.PathLike[str], scfv: ScfV) -> None:
    """Write ``scfv`` to ``path`` (the +U/J trailer with 0 terms is always
    written). The text is built first, so a bad value writes nothing; it
    goes to a temporary file renamed over ``path`` at the end, so a full
    disk leaves an existing file as it was."""
    write_text_atomic(path, format_scfv(scfv), "ascii")


# ---------------------------------------------------------------------------
# reading

_NUM_TYPES = re.compile(r"^NUM_TYPES(?P<rest>.*)$")


def read_block(
    reader: LineReader, what: str, row_width: list[int] | None = None
) -> ScfVBlock:
    """Read one '(i5) count' line and its rows of 5 numbers.

    ``row_width``: a list shared by the blocks of one file; it receives the
    width of the first row, and every later row must have the same."""
    if row_width is None:
        row_width = []
    (count,) = reader.ints(1, f"integer (number of terms of {what})")
    if count < 1:
        raise reader.error(f"number of terms of {what} must be positive, got {count}")
    rows = []
    for _ in range(count):
        line = reader.next(f"{count} rows of {N_COLUMNS} numbers for {what}")
        fields = line.split()
        if len(fields) != N_COLUMNS:
            raise reader.error(f"expected {N_COLUMNS} numbers, got {len(fields)}")
        _check_row_width(reader, line, row_width)
        rows.append(reader.parse_floats(line, N_COLUMNS, "numbers"))
    return ScfVBlock(np.array(rows, dtype=np.float64))


def _check_row_width(reader: LineReader, line: str, row_width: list[int]) -> None:
    """Every data row of a file has the fixed width of the first one
    ((2(1x,Ew.d),3(1x,Ew.d)) of its style): a row cut short or a number
    too wide for its field is an error, not a different number."""
    width = len(line.rstrip())
    if not row_width:
        row_width.append(width)
    elif width != row_width[0]:
        raise reader.error(
            f"row is {width} columns wide, the rows before are {row_width[0]}: "
            "a number does not fit its field or the line is cut short"
        )


def _row_layout(line: str) -> tuple[int, int, int, int] | None:
    """(real_width, real_digits, charge_width, charge_digits) of a data row
    written as (2(1x,Ew.d),3(1x,Ew.d)), or None when it is not such a row."""
    spans = [m.span() for m in re.finditer(r"\S+", line)]
    if len(spans) != N_COLUMNS:
        return None
    ends = [e for _, e in spans]
    w1 = ends[0] - 1
    w3 = ends[2] - ends[1] - 1
    if ends[1] != 2 * (w1 + 1) or any(ends[k] - ends[k - 1] != w3 + 1 for k in (3, 4)):
        return None
    digits = []
    for k in (0, 2):
        token = line[spans[k][0] : spans[k][1]]
        m = re.search(r"\.(\d+)", token)
        if m is None:
            return None
        digits.append(len(m.group(1)))
    return w1, digits[0], w3, digits[1]


def _render_header(n_types: int, width: int | None) -> str:
    if width is None:
        return f"NUM_TYPES {n_types}"
    return "NUM_TYPES" + format_i(n_types, width)


def _render_plusuj(width: int | None) -> str:
    return "0" if width is None else format_i(0, width)


@dataclass(frozen=True)
class _Seen:
    """The lines of a file that carry its style."""

    header: str
    n_types: int
    key_line: str
    count_line: str
    first_count: int
    first_row: str
    first_values: np.ndarray
    plusuj_line: str | None

    def matches(self, style: ScfVStyle) -> bool:
        return (
            _render_header(self.n_types, style.num_types_width) == self.header
            and style.key_indent + SPIN_UP_KEY == self.key_line
            and format_i(self.first_count, style.count_width) == self.count_line
            and style.row(self.first_values) == self.first_row
            and (
                self.plusuj_line is None
                or _render_plusuj(style.plusuj_width) == self.plusuj_line
            )
        )


def _detect_style(seen: _Seen) -> ScfVStyle:
    """The preset that reproduces the style-bearing lines, else a custom
    style measured from them."""
    for preset in _PRESETS:
        if seen.matches(preset):
            return preset
    rest = seen.header[len("NUM_TYPES") :]
    num_types_width: int | None = len(rest)
    if rest == f" {seen.n_types}" and len(rest) != 5:
        num_types_width = None
    layout = _row_layout(seen.first_row) or (17, 10, 13, 6)
    plusuj_width = None
    if seen.plusuj_line is not None and seen.plusuj_line != "0":
        plusuj_width = len(seen.plusuj_line)
    return ScfVStyle(
        name="custom",
        num_types_width=num_types_width,
        key_indent=seen.key_line[: len(seen.key_line) - len(seen.key_line.lstrip())],
        count_width=max(len(seen.count_line), 1),
        real_width=layout[0],
        real_digits=layout[1],
        charge_width=layout[2],
        charge_digits=layout[3],
        plusuj_width=plusuj_width,
    )


def parse_scfv(text: str, path: str | os.PathLike[str] | None = None) -> ScfV:
    """Parse the text of an scfV.dat file (``path`` is used in errors)."""
    reader = LineReader(text.splitlines(), path)
    header = reader.next("the NUM_TYPES line")
    match = _NUM_TYPES.match(header.strip())
    if match is None:
        raise reader.error(f"expected 'NUM_TYPES n', got {header.strip()!r}")
    try:
        n_types = int(match.group("rest"))
    except ValueError:
        raise reader.error(f"expected 'NUM_TYPES n', got {header.strip()!r}") from None
    if n_types < 1:
        raise reader.error(f"NUM_TYPES must be positive, got {n_types}")
    key_line = reader.expect_key(SPIN_UP_KEY)
    first_line = reader.lineno  # 0-based index of the first count line
    widths: list[int] = []
    up = tuple(read_block(reader, f"type {t + 1}", widths) for t in range(n_types))
    reader.expect_key(SPIN_DN_KEY)
    dn = tuple(
        read_block(reader, f"type {t + 1} (SPIN_DN)", widths) for t in range(n_types)
    )
    for t, (a, b) in enumerate(zip(up, dn, strict=True)):
        if len(a) != len(b):
            raise reader.error(
                f"type {t + 1} has {len(a)} terms for spin up but {len(b)} for "
                "spin down",
                line=None,
            )
    plusuj_line = None
    if _next_nonblank(reader) is not None:
        reader.expect_key(PLUSUJ_KEY)
        plusuj_line = reader.next("the number of +U/J terms")
        try:
            n_plusuj = int(plusuj_line)
        except ValueError:
            raise reader.error(
                f"expected the number of +U/J terms, got {plusuj_line.strip()!r}"
            ) from None
        if n_plusuj != 0:
            raise reader.error(
                f"{n_plusuj} +U/J terms: only files without +U/J terms are supported"
            )
        reader.expect_key(SPIN_UP_KEY)
        reader.expect_key(SPIN_DN_KEY)
        extra = _next_nonblank(reader)
        if extra is not None:
            reader.seek(extra)
            reader.next()
            raise reader.error("unexpected text after the end of the potential")
    seen = _Seen(
        header=header,
        n_types=n_types,
        key_line=key_line,
        count_line=reader.lines[first_line],
        first_count=len(up[0]),
        first_row=reader.lines[first_line + 1],
        first_values=up[0].table[0],
        plusuj_line=plusuj_line,
    )
    style = _detect_style(seen)
    return ScfV(up, dn, style, None if path is None else os.fspath(path))


def _next_nonblank(reader: LineReader) -> int | None:
    """0-based index of the next non-blank line (None at the end)."""
    for i in range(reader.lineno, len(reader.lines)):
        if reader.lines[i].strip():
            return i
    return None


def read_scfv(path: str | os.PathLike[str]) -> ScfV:
    """Read an scfV.dat / gs_scfV-<basis>.dat file, keeping its text style."""
    return parse_scfv(read_text(path), path)
