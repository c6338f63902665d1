"""Per-atom trust report of a prediction: sigma, applicability flags, CSV.

One row per atom, in file order (``atom`` is 1-based)::

    atom, element, sigma_v_ha, domain, nearest_angstrom, flags

``sigma_v_ha``: predicted RMS error of V(r) (Hartree, the metric of
``olcaoml evaluate``; empty for a single-network model), ``domain``: the
descriptor-space distance to the training set over its calibrated threshold
(> 1: ``novel``), ``nearest_angstrom``: the distance to the nearest atom,
``flags``: ``novel``, ``short``, ``no_cell`` joined by ``;``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.applicability import (
    FLAG_NO_CELL,
    FLAG_NOVEL,
    FLAG_SHORT,
    flags_per_atom,
    is_periodic,
)
from pyolcaoml.model.errors import ModelError

CSV_COLUMNS = (
    "atom",
    "element",
    "sigma_v_ha",
    "domain",
    "nearest_angstrom",
    "flags",
)
FLAG_TEXT = {
    FLAG_NOVEL: "descriptors outside the training domain",
    FLAG_SHORT: "a neighbour far closer than anything in training",
    FLAG_NO_CELL: "no periodic cell (the model learnt bulk atoms)",
}


@dataclass
class AtomReport:
    """Per-atom trust numbers of one structure (arrays in atom order)."""

    symbols: list[str]
    sigma: np.ndarray  # Hartree, NaN: single network
    domain: np.ndarray  # distance / threshold, NaN: no applicability data
    nearest: np.ndarray  # Å, inf: no neighbour within the search radius
    flags: list[str]
    periodic: bool

    def __len__(self) -> int:
        return len(self.symbols)

    def flagged(self, flag: str | None = None) -> np.ndarray:
        """0-based indices of atoms with any flag (or with ``flag``)."""
        return np.array(
            [
                i
                for i, f in enumerate(self.flags)
                if (f and flag is None) or (flag is not None and flag in f.split(";"))
            ],
            dtype=np.int64,
        )

    def rows(self) -> list[dict]:
        return [
            {
                "atom": i + 1,
                "element": s,
                "sigma_v_ha": _num(self.sigma[i]),
                "domain": _num(self.domain[i], "{:.4g}"),
                "nearest_angstrom": _num(self.nearest[i], "{:.4f}"),
                "flags": self.flags[i],
            }
            for i, s in enumerate(self.symbols)
        ]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.rows())
        return buf.getvalue()

    def summary(self, max_atoms: int = 5) -> list[str]:
        """Lines for the terminal: sigma median and worst atoms, then one
        warning line per kind of flag naming the atoms (1-based)."""
        lines = []
        ok = np.isfinite(self.sigma)
        if ok.any():
            order = np.argsort(-np.where(ok, self.sigma, -np.inf))[
                : min(max_atoms, ok.sum())
            ]
            worst = ", ".join(
                f"{i + 1} {self.symbols[i]} {self.sigma[i] * 1e3:.2f}" for i in order
            )
            lines.append(
                f"uncertainty: median sigma {np.median(self.sigma[ok]) * 1e3:.2f} mHa "
                f"(predicted RMS V(r) error); worst atoms (mHa): {worst}"
            )
        else:
            lines.append(
                "uncertainty: single-network model, no sigma (train with "
                "--ensemble M for one)"
            )
        for flag, text in FLAG_TEXT.items():
            idx = self.flagged(flag)
            if idx.size == 0:
                continue
            if flag == FLAG_NO_CELL:
                lines.append(f"warning: {text}: every atom is flagged {flag}")
                continue
            shown = ", ".join(str(i + 1) for i in idx[:20])
            more = f" and {idx.size - 20} more" if idx.size > 20 else ""
            lines.append(
                f"warning: {idx.size} atom(s) flagged {flag} ({text}): "
                f"atoms {shown}{more}"
            )
        return lines


def _num(v: float, fmt: str = "{:.6e}") -> str:
    return fmt.format(float(v)) if np.isfinite(v) else ""


def assess(model, structure, x: np.ndarray, sigma: np.ndarray, n_threads=None):
    """The :class:`AtomReport` of a structure with descriptors ``x``."""
    symbols = list(structure.symbols)
    n = len(symbols)
    periodic = is_periodic(structure)
    app = getattr(model, "applicability", None)
    if app is None:
        domain = np.full(n, np.nan)
        nearest = np.full(n, np.nan)
        short = np.zeros(n, dtype=bool)
    else:
        domain = app.domain_ratio(symbols, x)
        nearest, short = app.short_contacts(structure, n_threads=n_threads)
    return AtomReport(
        symbols=symbols,
        sigma=np.asarray(sigma, dtype=np.float64),
        domain=domain,
        nearest=nearest,
        flags=flags_per_atom(n, domain, short, periodic),
        periodic=periodic,
    )


def write_report(path: str, report: AtomReport, force: bool = True) -> None:
    """Write the CSV via a temporary file and a rename."""
    from pyolcaoml.model.workflow import write_text_atomically

    if not path:
        raise ModelError("--report needs a file name")
    write_text_atomically(os.fspath(path), report.to_csv(), force=force)
