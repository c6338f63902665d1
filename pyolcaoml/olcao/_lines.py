"""Line-oriented reading with file and line numbers in every error."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

from pyolcaoml._atomic import write_bytes_atomic
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.olcao.fortran_format import parse_fortran_real

#: Largest integer an OLCAO file may hold: OLCAO reads them as Fortran
#: default (32-bit) integers.
MAX_INT = 2**31 - 1

#: A line of plain decimal numbers (ASCII digits, point, E, signs, blanks):
#: Python's float() reads each field of it exactly as parse_fortran_real
#: would, or refuses it; 2.7 times faster on a scfV.dat (min of 5 repeats).
_PLAIN_NUMBERS = re.compile(r"[0-9.eE+\- \t\r\n]*\Z")


def decode_text(data: bytes, path: str | os.PathLike[str] | None) -> str:
    """UTF-8 text of a file's bytes; bytes that are not UTF-8 are an
    :class:`OlcaoFormatError` naming the file, line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise OlcaoFormatError(
            f"not a text file: byte 0x{data[exc.start]:02x} at column {column} "
            "is not UTF-8",
            path,
            line,
        ) from None


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a whole text file (ASCII/UTF-8), newlines kept as they are."""
    with open(path, "rb") as fh:
        data = fh.read()
    return decode_text(data, path)


def write_text_atomic(
    path: str | os.PathLike[str], text: str, encoding: str = "ascii"
) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename
    (:func:`pyolcaoml._atomic.write_bytes_atomic`): a full disk leaves an
    existing ``path`` as it was and no temporary file."""
    write_bytes_atomic(path, text.encode(encoding))


class LineReader:
    """Walk through the lines of one file, reporting problems by line number.

    Line numbers are 1-based; :attr:`lineno` is the number of the line last
    returned by :meth:`next` (0 before the first).
    """

    def __init__(self, lines: Sequence[str], path: str | os.PathLike[str] | None):
        self.lines = list(lines)
        self.path = None if path is None else os.fspath(path)
        self.lineno = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LineReader:
        return cls(read_text(path).splitlines(), path)

    # -- errors -----------------------------------------------------------
    def error(self, reason: str, line: int | None = -1) -> OlcaoFormatError:
        """An :class:`OlcaoFormatError` at ``line`` (default: the current line)."""
        return OlcaoFormatError(reason, self.path, self.lineno if line == -1 else line)

    # -- navigation -------------------------------------------------------
    @property
    def at_end(self) -> bool:
        return self.lineno >= len(self.lines)

    def next(self, what: str = "another line") -> str:
        """Return the next line; a truncated file is an error naming ``what``."""
        if self.lineno >= len(self.lines):
            raise OlcaoFormatError(
                f"unexpected end of file: expected {what}",
                self.path,
                len(self.lines) + 1,
            )
        self.lineno += 1
        return self.lines[self.lineno - 1]

    def peek(self) -> str | None:
        return None if self.at_end else self.lines[self.lineno]

    def find_key(self, key: str, start: int = 0) -> int | None:
        """1-based number of the first line from 0-based ``start`` whose
        stripped text is ``key``; None when absent."""
        for i in range(start, len(self.lines)):
            if self.lines[i].strip() == key:
                return i + 1
        return None

    def seek(self, lineno: int) -> None:
        """Position so that the next :meth:`next` returns line ``lineno + 1``."""
        self.lineno = lineno

    # -- typed reads ------------------------------------------------------
    def expect_key(self, key: str) -> str:
        """Read the next line, which must be the label ``key`` (spaces ignored)."""
        line = self.next(key)
        if line.strip() != key:
            raise self.error(f"expected {key!r}, got {line.strip()!r}")
        return line

    def ints(self, n: int | None = None, what: str = "integers") -> list[int]:
        line = self.next(what)
        return self.parse_ints(line, n, what)

    def floats(self, n: int | None = None, what: str = "numbers") -> list[float]:
        line = self.next(what)
        return self.parse_floats(line, n, what)

    def parse_ints(self, line: str, n: int | None, what: str) -> list[int]:
        fields = line.split()
        if n is not None and len(fields) < n:
            raise self.error(f"expected {n} {what}, got {len(fields)}")
        try:
            values = [int(f) for f in (fields if n is None else fields[:n])]
        except ValueError:
            raise self.error(f"expected {what}, got {line.strip()!r}") from None
        for v in values:
            if abs(v) > MAX_INT:
                raise self.error(
                    f"integer {v} out of range (OLCAO's integers are 32-bit)"
                )
        return values

    def parse_floats(self, line: str, n: int | None, what: str) -> list[float]:
        fields = line.split()
        if n is not None and len(fields) < n:
            raise self.error(f"expected {n} {what}, got {len(fields)}")
        used = fields if n is None else fields[:n]
        if _PLAIN_NUMBERS.match(line):
            # the common case; anything float() refuses or makes infinite
            # (1.5-100, 1e999) goes the general way below, which names it
            try:
                values = [float(f) for f in used]
            except ValueError:
                pass
            else:
                if all(map(math.isfinite, values)):
                    return values
        try:
            return [parse_fortran_real(f) for f in used]
        except ValueError:
            raise self.error(f"expected {what}, got {line.strip()!r}") from None
