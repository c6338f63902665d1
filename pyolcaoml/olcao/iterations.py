"""gs_iter-<basis>.dat: OLCAO's SCF log, one row per iteration.

::

     Iter. Occ. Energy   El. Error    Convergence     Total Energy
        1  -0.53989180  -0.48038301   0.38628446     -30.94318710

Rows are Fortran (i5,3f13.8,f17.8); energies in Hartree. "Convergence" is
the value OLCAO compares with CONVERGENCE_TEST.

The reader holds every row to those 61 columns: a row cut short (a log
truncated mid-number: ``-31.057`` instead of ``-31.05730359``), a number
too wide for its field, or Fortran's ``*****`` overflow is an error naming
the line.  A log that is complete row by row but stops before the run
converged or reached its iteration limit is flagged by
:meth:`ScfHistory.ended_early` (OlcaoRun.log_truncated).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pyolcaoml.olcao._lines import LineReader

__all__ = ["ScfHistory", "read_iterations"]

_WIDTHS = (5, 13, 13, 13, 17)
#: Half a unit in the last printed place of the convergence column (f13.8).
#: OLCAO stops when its unrounded value is below CONVERGENCE_TEST, so a run
#: that stopped early may print a final value that rounds up to the test
#: itself (0.00000100 for a test of 1e-6).
PRINT_HALF_UNIT = 5e-9


@dataclass(frozen=True, eq=False)  # holds arrays: compare by identity
class ScfHistory:
    """The SCF log. Energies in Hartree; arrays of one value per iteration."""

    path: str | None
    iteration: np.ndarray
    occupied_energy: np.ndarray
    electron_error: np.ndarray
    convergence: np.ndarray
    total_energy: np.ndarray

    def __len__(self) -> int:
        return len(self.iteration)

    @property
    def n_iterations(self) -> int:
        """Number of the last iteration (0 when the log is empty)."""
        return int(self.iteration[-1]) if len(self.iteration) else 0

    @property
    def final_convergence(self) -> float:
        return float(self.convergence[-1]) if len(self) else float("nan")

    @property
    def final_total_energy(self) -> float:
        """Total energy of the last iteration in Hartree."""
        return float(self.total_energy[-1]) if len(self) else float("nan")

    def converged(self, threshold: float, last_iteration: int | None = None) -> bool:
        """Whether OLCAO's SCF converged: the final printed value is below
        ``threshold``, or (given the run's LAST_ITERATION) the log stopped
        before that limit with a final value that rounds to the threshold
        (OLCAO compares the unrounded value and stops only when it is below;
        see :data:`PRINT_HALF_UNIT`)."""
        if len(self) == 0:
            return False
        final = self.final_convergence
        if final < threshold:
            return True
        return (
            last_iteration is not None
            and self.n_iterations < last_iteration
            and final <= threshold + PRINT_HALF_UNIT
        )

    def ended_early(self, threshold: float, last_iteration: int) -> bool:
        """Whether the log stops before the run's own end: not converged
        below ``threshold`` (CONVERGENCE_TEST) and fewer than
        ``last_iteration`` (LAST_ITERATION) iterations, so that OLCAO would
        have gone on.  The file was cut short, or the run was killed."""
        return (
            len(self) > 0
            and not self.converged(threshold, last_iteration)
            and self.n_iterations < last_iteration
        )


def _split_row(reader: LineReader, line: str) -> list[str]:
    """The five fixed-width fields of a row (i5,3f13.8,f17.8)."""
    text = line.rstrip()
    width = sum(_WIDTHS)
    n_fields = len(text.split())
    if n_fields != len(_WIDTHS) and len(text) != width:
        raise reader.error(f"expected {len(_WIDTHS)} numbers, got {n_fields}")
    if len(text) != width:
        raise reader.error(
            f"expected a row of {width} columns (i5,3f13.8,f17.8), got "
            f"{len(text)}: the line is cut short or a number does not fit its "
            "field"
        )
    out, start = [], 0
    for k, w in enumerate(_WIDTHS):
        field = text[start : start + w]
        # Right-justified numbers: a field starts with a blank unless the
        # number fills it, and never ends with one.
        if not field.strip() or field.endswith(" ") or " " in field.strip():
            raise reader.error(
                f"column {start + 1}-{start + w}: expected a number in "
                f"field {k + 1}, got {field!r}"
            )
        out.append(field.strip())
        start += w
    return out


def read_iterations(path: str | os.PathLike[str]) -> ScfHistory:
    """Read a gs_iter-<basis>.dat file."""
    reader = LineReader.from_file(path)
    header = reader.next("the header line")
    if not header.strip().startswith("Iter"):
        raise reader.error(f"expected the 'Iter.' header, got {header.strip()!r}")
    rows: list[list[float]] = []
    while not reader.at_end:
        line = reader.next()
        if not line.strip():
            continue
        fields = _split_row(reader, line)
        (it,) = reader.parse_ints(fields[0], 1, "integer (iteration)")
        if it != len(rows) + 1:
            raise reader.error(f"expected iteration {len(rows) + 1}, got {it}")
        rows.append([it, *reader.parse_floats(" ".join(fields[1:]), 4, "numbers")])
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return ScfHistory(
        path=reader.path,
        iteration=table[:, 0].astype(np.int64),
        occupied_energy=table[:, 1],
        electron_error=table[:, 2],
        convergence=table[:, 3],
        total_energy=table[:, 4],
    )
