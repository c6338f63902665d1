"""How many SCF iterations OLCAO is expected to need from a predicted start.

What a user of ``olcaoml predict`` wants to know is whether OLCAO will be
quick from the scfV.dat just written.  The model's sigma (each atom's
predicted RMS V(r) error, Hartree) says how large the error is; this module
turns it into OLCAO's own unit, iterations to the convergence value 1e-4
(olcao.dat's default CONVERGENCE_TEST), by comparison with real OLCAO runs
started from the same model's predictions on cells it never trained on.

Why the largest sigma of the cell: OLCAO's convergence value is the largest
over potential sites of each site's radially weighted RMS change of the
potential (potentialUpdate.F90), so the worst-predicted atom sets the first
value, and each factor of about 3 in the first value costs one iteration on
a crystal-like Si cell (docs/model.md, stop 33).  On 27 fresh Si cells the
largest sigma ranks the iterations better than the mean (rank correlation
0.81 against 0.74; docs/uncertainty.md, stop 39-40).

A model directory may hold ``olcao_iterations.json`` (:data:`FILE_NAME`):
the reference cells, each with its largest and mean sigma under this model,
the iterations OLCAO needed from the model's start and from OLCAO's own
default start, and the bench result it comes from.  The fit is made from
those cells when the file is read, so the file holds measurements only.
Three predictors:

``log_max_sigma``
    iterations = a + b ln(largest sigma), least squares; the range is the
    fit plus the 10th and 90th percentiles of the reference residuals (an
    80 % range), each rounded to a whole iteration.
``log_max_sigma_log_atoms``
    iterations = a + b ln(largest sigma) + c ln(number of atoms), the same
    way (stop 41): 8-atom cells level off at about 6 iterations while the
    15- and 17-atom defect cells keep rising, and the count from OLCAO's
    default start is set mostly by the size of the cell.  Cells (of a
    group) whose sizes span less than :data:`MIN_ATOMS_SPAN` get no
    ln(atoms) term (c = 0): they cannot measure it (stop 59).  The bundled Si
    model's predictor since stop 41 (on 16 fresh cells: mean error 0.19
    iterations against 1.00 for ``log_max_sigma``; docs/uncertainty.md).
``constant``
    where sigma does not rank the cells (amorphous Si, SiC: stop 39), the
    median and the 10th-90th percentile range of the reference cells.

For every predictor a structure whose number of atoms lies outside the
reference cells' range is flagged (a rough guide), and for the two sigma
predictors one whose largest sigma does.  The size note also says which
way the estimate is likely off: too low for a cell larger than the
references (the SCF's slow tail grows with the cell: a 31- and a 63-atom
SiC cell took more than twice the estimate, stops 44-45), too high for a
smaller one (stop 42).

Groups (version 2 of the file, stop 55): a reference may also declare
groups of cells that the geometry recognises and that OLCAO treats
differently, each with its own fit of the same predictor.  The first is
the Si vacancy in near-crystalline SiC (:mod:`pyolcaoml.model.sic_vacancy`):
its far atoms sit at a level set by the charge over the whole cell, OLCAO's
SCF there has a slow tail that grows with the cell, and one fit for every
defect said 12 iterations for 31-atom Si vacancies that took 25-35 while
overestimating the other 31-33-atom defects (grouped ``sic`` references
came 3.2x closer on sixteen fresh cells but their ranges held 7 of 16, so
the bundled one has no groups yet; docs/uncertainty.md, stops 55-56).  A
group's rule (:class:`IterationGroup`): at least ``min_atoms`` atoms of
``element`` with exactly ``neighbours`` neighbours closer than
``cutoff_angstrom`` (any element, every periodic image), in a structure
that holds ``requires``.  A structure takes the first group whose rule it
matches, else the cells of no group ("general").

The file records the sha256 of the model.json it was made for; a retrained
model makes it stale, and a stale file gives no estimate (with a warning),
never an estimate for another model's sigma.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pyolcaoml._atomic import write_bytes_atomic
from pyolcaoml.model.errors import ModelError

__all__ = [
    "FILE_NAME",
    "FORMAT",
    "GENERAL",
    "IterationGroup",
    "PREDICTORS",
    "IterationEstimate",
    "IterationFit",
    "IterationReference",
    "ReferenceCell",
    "estimate_for",
    "estimate_or_note",
    "format_range",
    "load_reference",
    "model_json_sha256",
    "write_reference",
]

FILE_NAME = "olcao_iterations.json"
FORMAT = "pyolcaoml-olcao-iterations"
#: written without groups (what every pyolcaoml since stop 34 reads)
VERSION = 1
#: written with groups (stop 55)
VERSION_GROUPS = 2
#: the name of the cells of no group, in messages and the library
GENERAL = "general"
#: the library's limit on the number of groups (model format 9)
MAX_GROUPS = 8
PREDICTORS = ("log_max_sigma", "log_max_sigma_log_atoms", "constant")
#: the predictors that use sigma (and say so when they extrapolate)
SIGMA_PREDICTORS = ("log_max_sigma", "log_max_sigma_log_atoms")
#: the percentiles of the stated range (an 80 % range)
RANGE_PERCENTILES = (10.0, 90.0)
#: fewer reference cells than this give no estimate
MIN_CELLS = 5
#: ``log_max_sigma_log_atoms`` fits its ln(atoms) term only where the cells'
#: largest and smallest sizes differ by at least this factor; below it the
#: cells cannot measure how the count grows with the cell (stop 59: a group
#: of 31-33-atom cells alone gave a slope of -111 per ln(atoms), 1 iteration
#: at 64 atoms and 86 at 16), and the term is left out (c = 0)
MIN_ATOMS_SPAN = 1.5


@dataclass(frozen=True)
class IterationGroup:
    """A group of structures recognised from the geometry: those holding
    ``requires`` (an element symbol, or None) in which at least
    ``min_atoms`` atoms of ``element`` have exactly ``neighbours``
    neighbours (atoms of any element, every periodic image) closer than
    ``cutoff_angstrom``.  The Si vacancy in SiC: ``IterationGroup(
    "si_vacancy", "C", 3, 2.45, 3, "Si")`` (three or more three-fold C
    atoms; :mod:`pyolcaoml.model.sic_vacancy`)."""

    name: str
    element: str
    neighbours: int
    cutoff_angstrom: float
    min_atoms: int
    requires: str | None = None

    def __post_init__(self) -> None:
        name = self.name
        if (
            not isinstance(name, str)
            or not name
            or len(name) > 32
            or not (name.isascii() and name.isidentifier())
            or name == GENERAL
        ):
            raise ModelError(
                f"iteration group name {name!r}: a word of at most 32 ASCII "
                f"letters, digits or _, not beginning with a digit (not "
                f"{GENERAL!r}; libolcaoml reads the same names)"
            )
        for what, sym in (("element", self.element), ("requires", self.requires)):
            if sym is not None and not (isinstance(sym, str) and sym.isalpha()):
                raise ModelError(
                    f"iteration group {name}: {what} {sym!r} is not a symbol"
                )
        ints = (("neighbours", self.neighbours, 0), ("min_atoms", self.min_atoms, 1))
        for what, v, low in ints:
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ModelError(
                    f"iteration group {name}: {what} must be an integer >= {low}, "
                    f"got {v!r}"
                )
        c = self.cutoff_angstrom
        if (
            isinstance(c, bool)
            or not isinstance(c, (int, float))
            or not (math.isfinite(c) and 0 < c <= 10)
        ):
            raise ModelError(
                f"iteration group {name}: cutoff_angstrom must be in (0, 10] Å, "
                f"got {c!r}"
            )

    def atoms_matching(self, structure: Any, n_threads: int | None = None) -> Any:
        """Indices of the atoms of ``element`` with exactly ``neighbours``
        neighbours closer than the cutoff."""
        from pyolcaoml.model.coordination import coordination

        s, count = coordination(structure, self.cutoff_angstrom, n_threads)
        symbols = np.asarray(s.symbols)
        return np.flatnonzero((symbols == self.element) & (count == self.neighbours))

    def matches(self, structure: Any, n_threads: int | None = None) -> bool:
        """Whether the structure belongs to this group."""
        from pyolcaoml.structure import Structure

        s = Structure.coerce(structure)
        # the elements first: without them no neighbour search is needed
        if not self._has_elements(s.symbols):
            return False
        return self.matched_by(s, self.atoms_matching(s, n_threads))

    def matched_by(self, structure: Any, matching: Any) -> bool:
        """:meth:`matches`, given the structure's :meth:`atoms_matching`."""
        return self._has_elements(structure.symbols) and len(matching) >= self.min_atoms

    def _has_elements(self, symbols: Any) -> bool:
        present = set(symbols)
        return self.element in present and (
            self.requires is None or self.requires in present
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReferenceCell:
    """One OLCAO run from the model's start on a cell it never trained on.

    ``iterations`` and ``default_iterations`` count iterations to 1e-4 from
    the model's start and from OLCAO's default start; ``None`` where the run
    did not reach 1e-4 within its LAST_ITERATION (or was not made)."""

    run: str
    source: str
    atoms: int
    max_sigma_hartree: float
    mean_sigma_hartree: float
    iterations: int | None
    default_iterations: int | None
    #: the IterationGroup it belongs to (its name), None for none
    group: str | None = None


@dataclass(frozen=True)
class IterationEstimate:
    """Expected iterations to 1e-4 from a predicted start (and, where the
    reference has them, from OLCAO's default start)."""

    iterations: int
    low: int
    high: int
    default: tuple[int, int, int] | None  # (expected, low, high)
    predictor: str
    n_cells: int
    n_not_converged: int
    max_sigma_hartree: float
    sigma_range_hartree: tuple[float, float]
    convergence: float
    atoms_range: tuple[int, int]
    atoms: int | None = None
    #: the group whose reference cells gave it (None: the general cells)
    group: IterationGroup | None = None

    @property
    def extrapolated(self) -> bool:
        """The structure's number of atoms (or, for the sigma predictors,
        its largest sigma) lies outside the reference cells' range: the
        estimate is a rough guide there. The size counts for every
        predictor: the count grows with the cell (stop 41), so a constant
        or a sigma-only fit measured on 32- to 64-atom cells says little
        about an 8-atom one (stop 42: `asi`'s constant said 20 iterations
        for a rattled 8-atom crystal that took 10)."""
        return self._sigma_outside() or self._atoms_outside()

    def _sigma_outside(self) -> bool:
        lo, hi = self.sigma_range_hartree
        return self.predictor in SIGMA_PREDICTORS and not (
            lo <= self.max_sigma_hartree <= hi
        )

    def _atoms_outside(self) -> bool:
        if self.atoms is None:
            return False
        lo, hi = self.atoms_range
        return not lo <= self.atoms <= hi

    @property
    def group_name(self) -> str:
        """The name of the group the estimate came from, :data:`GENERAL`
        for the cells of no group."""
        return GENERAL if self.group is None else self.group.name

    def _cells(self) -> str:
        return "cells" if self.group is None else f"{self.group_name} cells"

    def summary(self) -> list[str]:
        """Lines for the terminal (``olcaoml predict``)."""
        line = (
            f"OLCAO from this start: about {self.iterations} iterations to "
            f"{_tol(self.convergence)} (80 % range "
            f"{format_range(self.low, self.high)})"
        )
        if self.default is not None:
            d, dlo, dhi = self.default
            line += f"; from OLCAO's default start about {d} ({format_range(dlo, dhi)})"
        lines = [line]
        if self.predictor in SIGMA_PREDICTORS:
            size = (
                f" and the {self.atoms} atoms"
                if self.predictor == "log_max_sigma_log_atoms"
                else ""
            )
            why = (
                f"  from the largest sigma, {1e3 * self.max_sigma_hartree:.2f} "
                f"mHa{size}, against {self.n_cells} OLCAO runs on {self._cells()} "
                "the model never trained on (docs/uncertainty.md)"
            )
        else:
            why = (
                f"  the spread of {self.n_cells} OLCAO runs on {self._cells()} the "
                "model never trained on; this model's sigma does not rank cells "
                "by iterations (docs/uncertainty.md)"
            )
        lines.append(why)
        g = self.group
        if g is not None:
            req = f" in a structure with {g.requires}" if g.requires else ""
            lines.append(
                f"  ({g.name}: {g.min_atoms} or more {g.element} atoms with "
                f"exactly {g.neighbours} neighbours within {g.cutoff_angstrom:g} "
                f"Å{req}, found here)"
            )
        if self.n_not_converged:
            lines.append(
                f"  {self.n_not_converged} of those runs did not reach "
                f"{_tol(self.convergence)} at all"
            )
        if self._sigma_outside():
            lo, hi = self.sigma_range_hartree
            lines.append(
                f"  note: the reference cells' largest sigma spans "
                f"{1e3 * lo:.2f}-{1e3 * hi:.2f} mHa; outside it this is a "
                "rough guide"
            )
        if self._atoms_outside():
            alo, ahi = self.atoms_range
            # the count grows with the cell (stop 41), faster than the fit
            # says beyond the references: a 31- and a 63-atom SiC cell took
            # more than twice the estimate (stops 44-45), and `asi`'s
            # 32-64-atom constant said twice what an 8-atom crystal took
            # (stop 42)
            way = "low" if self.atoms is not None and self.atoms > ahi else "high"
            lines.append(
                f"  note: the reference cells hold {alo}-{ahi} atoms; "
                f"for {self.atoms} this is a rough guide, and likely too "
                f"{way} (docs/uncertainty.md)"
            )
        return lines


def format_range(low: int, high: int) -> str:
    """An 80 % range of iterations as printed: "5-8", or "5" when the two
    ends are the same."""
    return f"{low}-{high}" if high > low else f"{low}"


def _tol(x: float) -> str:
    """1e-4, not 0.0001 (OLCAO's own way of writing a tolerance)."""
    mant, _, exp = f"{x:.0e}".partition("e")
    return f"{mant}e{int(exp)}"


def _round(x: float) -> int:
    return max(1, int(math.floor(x + 0.5)))


@dataclass(frozen=True)
class IterationFit:
    """One fitted column of iterations: the expected count is
    ``(a + b ln(sigma / Hartree)) + c ln(atoms)``, its 80 % range that plus
    ``q_low`` and ``q_high`` (the 10th and 90th percentiles of the
    reference residuals).  ``constant`` is a = the median, b = c = 0 and
    q the percentiles less the median.  libolcaoml evaluates the same five
    numbers in the same order (``olcaoml export``; OML_Iterations.f90), so
    the library and Python give the same counts."""

    a: float
    b: float
    c: float
    q_low: float
    q_high: float

    def evaluate(self, sigma: float, atoms: int) -> tuple[int, int, int]:
        """(expected, low, high), each rounded to a whole iteration (at
        least 1)."""
        point = (self.a + self.b * math.log(sigma)) + self.c * math.log(atoms)
        return _round(point), _round(point + self.q_low), _round(point + self.q_high)


@dataclass(frozen=True)
class IterationReference:
    """The reference cells of one model (see the module docstring)."""

    predictor: str
    convergence: float
    cells: tuple[ReferenceCell, ...]
    path: str = ""
    groups: tuple[IterationGroup, ...] = ()

    def _fit_column(self, cells: list[ReferenceCell], y: np.ndarray) -> IterationFit:
        if self.predictor == "constant":
            med = float(np.median(y))
            lo, hi = np.percentile(y, RANGE_PERCENTILES)
            return IterationFit(med, 0.0, 0.0, float(lo) - med, float(hi) - med)
        cols = [np.ones(len(cells)), np.log([c.max_sigma_hartree for c in cells])]
        atoms = [float(c.atoms) for c in cells]
        sizes_vary = max(atoms) >= MIN_ATOMS_SPAN * min(atoms)
        if self.predictor == "log_max_sigma_log_atoms" and sizes_vary:
            cols.append(np.log(atoms))
        a = np.column_stack(cols)
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        q_lo, q_hi = np.percentile(y - a @ coef, RANGE_PERCENTILES)
        c = float(coef[2]) if len(coef) > 2 else 0.0
        return IterationFit(float(coef[0]), float(coef[1]), c, float(q_lo), float(q_hi))

    def group(self, name: str | None) -> IterationGroup | None:
        """The group called ``name`` (None: the general cells)."""
        if name is None:
            return None
        for g in self.groups:
            if g.name == name:
                return g
        raise ModelError(f"{self.path or 'reference'}: no iteration group {name!r}")

    def group_of(self, structure: Any, n_threads: int | None = None) -> str | None:
        """The name of the first group whose rule the structure matches, or
        None (the general cells)."""
        for g in self.groups:
            if g.matches(structure, n_threads):
                return g.name
        return None

    def cells_of(self, group: str | None = None) -> list[ReferenceCell]:
        """The reference cells of a group (None: the general cells; all of
        them in a reference without groups)."""
        return [c for c in self.cells if c.group == group]

    def converged(self, group: str | None = None) -> list[ReferenceCell]:
        """The cells of the group whose run from the model's start reached
        the tolerance."""
        return [c for c in self.cells_of(group) if c.iterations is not None]

    def not_converged(self, group: str | None = None) -> int:
        """Reference runs of the group from the model's start that never
        reached it."""
        return len(self.cells_of(group)) - len(self.converged(group))

    @property
    def n_not_converged(self) -> int:
        """Reference runs of the general cells from the model's start that
        never reached it."""
        return self.not_converged(None)

    def fits(
        self, group: str | None = None
    ) -> tuple[IterationFit, IterationFit | None] | None:
        """The group's fits from the model's start and from OLCAO's default
        start (None where fewer than :data:`MIN_CELLS` runs of that start
        reached the tolerance); None when the model's start has too few."""
        ok = self.converged(group)
        if len(ok) < MIN_CELLS:
            return None
        fit = self._fit_column(ok, np.array([c.iterations for c in ok], float))
        okd = [c for c in self.cells_of(group) if c.default_iterations is not None]
        default = None
        if len(okd) >= MIN_CELLS:
            yd = np.array([c.default_iterations for c in okd], dtype=float)
            default = self._fit_column(okd, yd)
        return fit, default

    def domain(
        self, group: str | None = None
    ) -> tuple[tuple[float, float], tuple[int, int]]:
        """The largest sigma (Hartree) and the atoms of the group's
        converged reference cells, each as (min, max): outside, the
        estimate is a rough guide."""
        ok = self.converged(group) or self.cells_of(group)
        s = [c.max_sigma_hartree for c in ok]
        n = [c.atoms for c in ok]
        return (min(s), max(s)), (min(n), max(n))

    def estimate(
        self,
        max_sigma_hartree: float,
        atoms: int | None = None,
        group: str | None = None,
    ) -> IterationEstimate | None:
        """The estimate for a structure of ``atoms`` atoms in ``group`` (a
        name from :meth:`group_of`; None: the general cells) whose largest
        sigma is ``max_sigma_hartree``; None when sigma is not a positive
        finite number, fewer than :data:`MIN_CELLS` reference runs of the
        group converged, or the predictor needs ``atoms`` and none (or
        fewer than one) is given."""
        the_group = self.group(group)
        sigma = float(max_sigma_hartree)
        if not (math.isfinite(sigma) and sigma > 0):
            return None
        if self.predictor == "log_max_sigma_log_atoms" and (atoms is None or atoms < 1):
            return None
        fits = self.fits(group)
        if fits is None:
            return None
        fit, default_fit = fits
        n_atoms = int(atoms) if atoms is not None and atoms >= 1 else 1
        expected, low, high = fit.evaluate(sigma, n_atoms)
        sigma_range, atoms_range = self.domain(group)
        return IterationEstimate(
            iterations=expected,
            low=low,
            high=high,
            default=None
            if default_fit is None
            else default_fit.evaluate(sigma, n_atoms),
            predictor=self.predictor,
            n_cells=len(self.cells_of(group)),
            n_not_converged=self.not_converged(group),
            max_sigma_hartree=sigma,
            sigma_range_hartree=(float(sigma_range[0]), float(sigma_range[1])),
            convergence=self.convergence,
            atoms=None if atoms is None else int(atoms),
            atoms_range=atoms_range,
            group=the_group,
        )


def model_json_sha256(model_dir: str | os.PathLike[str]) -> str:
    """sha256 of MODEL/model.json: what a reference file is tied to."""
    with open(os.path.join(os.fspath(model_dir), "model.json"), "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _cell(item: Any, path: str, k: int) -> ReferenceCell:
    where = f"{path}: cells[{k}]"
    if not isinstance(item, dict):
        raise ModelError(f"{where} is not an object")
    try:
        cell = ReferenceCell(
            run=str(item["run"]),
            source=str(item["source"]),
            atoms=int(item["atoms"]),
            max_sigma_hartree=float(item["max_sigma_hartree"]),
            mean_sigma_hartree=float(item["mean_sigma_hartree"]),
            iterations=None if item["iterations"] is None else int(item["iterations"]),
            default_iterations=(
                None
                if item["default_iterations"] is None
                else int(item["default_iterations"])
            ),
            group=None if item.get("group") is None else str(item["group"]),
        )
    except KeyError as exc:
        raise ModelError(f"{where} has no {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: {exc}") from None
    sig = (cell.max_sigma_hartree, cell.mean_sigma_hartree)
    if not all(math.isfinite(v) and 0 < v < 1 for v in sig):
        raise ModelError(f"{where}: sigma must be in (0, 1) Hartree, got {sig}")
    for v in (cell.iterations, cell.default_iterations):
        if v is not None and not 1 <= v <= 10_000:
            raise ModelError(f"{where}: iterations {v} out of range 1..10000")
    if cell.atoms < 1:
        raise ModelError(f"{where}: atoms must be >= 1, got {cell.atoms}")
    return cell


def load_reference(
    model_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
) -> IterationReference | None:
    """MODEL/olcao_iterations.json (or ``path``, a reference file for this
    model kept elsewhere), or None when there is none.

    Raises :class:`ModelError` naming the file when it cannot be read, is
    not a reference file, or was made for a different model.json."""
    path = os.fspath(path) if path else os.path.join(os.fspath(model_dir), FILE_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path} is not a {FORMAT} file")
    if meta.get("version") not in (VERSION, VERSION_GROUPS):
        raise ModelError(
            f"{path}: version {meta.get('version')!r}, this pyolcaoml reads "
            f"{VERSION} and {VERSION_GROUPS}"
        )
    predictor = meta.get("predictor")
    if predictor not in PREDICTORS:
        raise ModelError(
            f"{path}: predictor {predictor!r} is not one of {', '.join(PREDICTORS)}"
        )
    try:
        convergence = float(meta["convergence"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path}: no numeric 'convergence'") from None
    cells = meta.get("cells")
    if not isinstance(cells, list):
        raise ModelError(f"{path}: 'cells' must be a list")
    sha = model_json_sha256(model_dir)
    if meta.get("model_json_sha256") != sha:
        raise ModelError(
            f"{path} was made for another model.json (sha256 "
            f"{str(meta.get('model_json_sha256'))[:12]}..., this one "
            f"{sha[:12]}...): remake it for this model"
        )
    groups = _groups(meta.get("groups", []), path)
    if groups and meta.get("version") != VERSION_GROUPS:
        raise ModelError(f"{path}: groups need version {VERSION_GROUPS}")
    parsed = tuple(_cell(c, path, k) for k, c in enumerate(cells))
    return _checked(
        IterationReference(
            predictor=predictor,
            convergence=convergence,
            cells=parsed,
            path=path,
            groups=groups,
        )
    )


def _groups(items: Any, path: str) -> tuple[IterationGroup, ...]:
    if not isinstance(items, list):
        raise ModelError(f"{path}: 'groups' must be a list")
    out = []
    for k, g in enumerate(items):
        if not isinstance(g, dict):
            raise ModelError(f"{path}: groups[{k}] is not an object")
        try:
            out.append(
                IterationGroup(
                    name=g["name"],
                    element=g["element"],
                    neighbours=g["neighbours"],
                    cutoff_angstrom=g["cutoff_angstrom"],
                    min_atoms=g["min_atoms"],
                    requires=g.get("requires"),
                )
            )
        except KeyError as exc:
            raise ModelError(f"{path}: groups[{k}] has no {exc.args[0]!r}") from None
        except ModelError as exc:
            raise ModelError(f"{path}: groups[{k}]: {exc}") from None
    return tuple(out)


def _checked(ref: IterationReference) -> IterationReference:
    """The reference, after checking its groups: distinct names, at most
    :data:`MAX_GROUPS`, every cell's group declared, and enough converged
    runs in every declared group for a fit (a group without one would
    leave its structures with no estimate, or with the general one)."""
    where = ref.path or "reference"
    names = [g.name for g in ref.groups]
    if len(set(names)) != len(names):
        raise ModelError(f"{where}: two iteration groups share a name: {names}")
    if len(names) > MAX_GROUPS:
        raise ModelError(
            f"{where}: {len(names)} iteration groups, at most {MAX_GROUPS}"
        )
    for k, c in enumerate(ref.cells):
        if c.group is not None and c.group not in names:
            raise ModelError(
                f"{where}: cells[{k}] ({c.run}) is in group {c.group!r}, which "
                "is not declared"
            )
    for name in names:
        n = len(ref.converged(name))
        if n < MIN_CELLS:
            raise ModelError(
                f"{where}: iteration group {name!r} has {n} converged runs, "
                f"a fit needs {MIN_CELLS}"
            )
    return ref


def write_reference(
    model_dir: str | os.PathLike[str],
    cells: list[ReferenceCell],
    predictor: str,
    convergence: float = 1e-4,
    command: str = "",
    path: str | os.PathLike[str] | None = None,
    groups: tuple[IterationGroup, ...] | list[IterationGroup] = (),
) -> str:
    """Write MODEL/olcao_iterations.json (or ``path``) atomically and
    return its path; with ``groups`` (each cell's ``group`` names one of
    them, or None) as version 2, else as version 1."""
    if predictor not in PREDICTORS:
        raise ModelError(
            f"predictor {predictor!r} is not one of {', '.join(PREDICTORS)}"
        )
    path = os.fspath(path) if path else os.path.join(os.fspath(model_dir), FILE_NAME)
    groups = tuple(groups)
    _checked(IterationReference(predictor, convergence, tuple(cells), path, groups))
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION_GROUPS if groups else VERSION,
        "predictor": predictor,
        "convergence": convergence,
        "model_json_sha256": model_json_sha256(model_dir),
        "command": command,
    }
    if groups:
        meta["groups"] = [g.to_dict() for g in groups]
    meta["cells"] = [_cell_dict(c, bool(groups)) for c in cells]
    write_bytes_atomic(path, (json.dumps(meta, indent=1) + "\n").encode())
    return path


def _cell_dict(cell: ReferenceCell, with_group: bool) -> dict[str, Any]:
    d = asdict(cell)
    if not with_group:  # version 1 has no group
        d.pop("group")
    return d


def estimate_or_note(
    model: Any, sigma: Any, structure: Any = None
) -> tuple[IterationEstimate | None, str | None]:
    """:func:`estimate_for` for callers that must go on without one
    (``predict``, ``demo``, many inputs): a stale or damaged reference file
    gives (None, the reason to print) instead of an error."""
    try:
        return estimate_for(model, sigma, structure), None
    except ModelError as exc:
        return None, f"{exc}; no estimate of OLCAO's iterations"


def estimate_for(
    model: Any, sigma: Any, structure: Any = None
) -> IterationEstimate | None:
    """The estimate for a prediction with per-atom ``sigma`` (Hartree) by
    ``model`` (a loaded model, or its directory) of ``structure``; None
    where the model has no reference file or sigma is missing (a single
    network).  Where the reference has groups the structure picks the fit
    (:meth:`IterationReference.group_of`); without a structure it is the
    general cells' fit."""
    if sigma is None:
        return None
    # read on every call (0.6 ms for the default model's file and its
    # model.json's sha256), so a replaced file is never missed
    ref = load_reference(getattr(model, "path", model))
    if ref is None:
        return None
    s = np.asarray(sigma, dtype=float).ravel()
    atoms = int(s.size)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return None
    group = ref.group_of(structure) if structure is not None and ref.groups else None
    return ref.estimate(float(s.max()), atoms, group)
