"""The one error type raised for malformed OLCAO files."""

from __future__ import annotations

import os


class OlcaoFormatError(ValueError):
    """A malformed, truncated or inconsistent OLCAO file.

    Attributes
    ----------
    path:
        The file (as given to the reader), or ``None`` for in-memory text.
    line:
        1-based line number of the offending line, or ``None`` when the
        problem concerns the file (or several files) as a whole.
    reason:
        The message without the location prefix.

    ``str(error)`` reads ``"path/scfV.dat, line 17: expected 5 numbers, got 3"``.
    """

    def __init__(
        self,
        reason: str,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        self.line = line
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)
