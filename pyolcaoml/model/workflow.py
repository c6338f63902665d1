"""From structures and run directories to predicted potentials on disk.

These functions are what ``olcaoml predict``/``evaluate``/``demo`` call; they
raise :class:`~pyolcaoml.model.errors.ModelError` for anything the user can
fix and write files only after every check has passed (temporary file, then
rename).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.data import Dataset
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.saved import PotentialModel
from pyolcaoml.olcao.scfv import format_scfv, format_scfv_bytes

#: Relative tolerance when comparing exponents of a run with the model's.
ALPHA_RTOL = 1e-6


# -- descriptors ---------------------------------------------------------------
def compute_descriptors(model: PotentialModel, structure, n_threads=None) -> np.ndarray:
    """Descriptors (n_atoms, K) of a structure with the model's own settings."""
    calc = model.descriptor_calculator()
    x = np.asarray(calc.compute(structure, n_threads=n_threads), dtype=np.float64)
    if x.shape != (len(structure), model.n_features):
        raise ModelError(
            f"descriptor calculator returned shape {x.shape}, model expects "
            f"({len(structure)}, {model.n_features})"
        )
    return x


def same_descriptor(a: dict, b: dict) -> bool:
    """Whether two descriptor settings (to_dict() forms) are the same."""
    import json

    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def dataset_descriptors(
    dataset: Dataset,
    descriptor: dict,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Descriptors of every atom of the dataset for ``descriptor`` settings:
    the stored ones when the settings match, else recomputed from the stored
    positions and cells (needs the compiled bispectrum module)."""
    if same_descriptor(dataset.descriptor, descriptor):
        return dataset.descriptors
    try:
        from pyolcaoml.bispectrum import descriptor_from_dict
    except ImportError as exc:
        raise ModelError(
            f"descriptor settings differ from the dataset's and the bispectrum "
            f"module is not available to recompute them: {exc}"
        ) from exc
    calc = descriptor_from_dict(descriptor)
    rows = []
    for i in range(dataset.n_structures):
        rows.append(np.asarray(calc.compute(dataset.structure(i)), dtype=np.float64))
        if progress:
            progress(i + 1, dataset.n_structures)
    return np.concatenate(rows, axis=0)


# -- prediction ----------------------------------------------------------------
@dataclass
class Prediction:
    """Predicted A_i (Hartree) per atom, with timings in seconds.

    ``sigma``: predicted RMS V(r) error per atom (Hartree; NaN for a single
    network); ``report``: the per-atom trust report (sigma, applicability
    flags; :class:`pyolcaoml.model.report.AtomReport`), atom order.
    """

    symbols: list[str]
    coeffs: list[np.ndarray]
    descriptor_seconds: float
    network_seconds: float
    sigma: np.ndarray | None = None
    report: object = None


def predict_structure(
    model: PotentialModel, structure, method: str = "network", n_threads=None
) -> Prediction:
    """Predict every atom's coefficients (atom order) for a structure."""
    symbols = list(structure.symbols)
    model.check_elements(symbols)
    t0 = time.perf_counter()
    x = compute_descriptors(model, structure, n_threads=n_threads)
    t1 = time.perf_counter()
    if method == "network":
        coeffs, sigma = model.predict_uncertainty(symbols, x)
    else:
        coeffs, sigma = model.predict(symbols, x, method=method), None
    t2 = time.perf_counter()
    from pyolcaoml.model.report import assess

    report = assess(
        model,
        structure,
        x,
        sigma if sigma is not None else np.full(len(symbols), np.nan),
        n_threads=n_threads,
    )
    return Prediction(symbols, coeffs, t1 - t0, t2 - t1, sigma, report)


# -- scfV writing --------------------------------------------------------------
def charge_columns(model: PotentialModel, symbol: str) -> np.ndarray:
    """Columns 3-5 (charge coefficients) written beside predicted A_i.

    The isolated atom's (atomicPDB coeff1), as stored in the model, i.e. the
    same charge columns as OLCAO's default start; zeros if unavailable.
    """
    em = model.elements[symbol]
    if em.charge_columns is not None and em.charge_columns.shape == (em.n_alphas, 3):
        return em.charge_columns
    try:
        from pyolcaoml.olcao import load_atomic_potential

        table = load_atomic_potential(symbol).block.table
        if table.shape[0] == em.n_alphas:
            return table[:, 2:5].copy()
    except (ImportError, KeyError, ValueError, OSError):
        pass
    return np.zeros((em.n_alphas, 3))


def scfv_for_atoms(model: PotentialModel, symbols, coeffs):
    """An :class:`pyolcaoml.olcao.ScfV` with one potential type per atom."""
    from pyolcaoml.olcao import OLCAO_STYLE, ScfV, ScfVBlock

    symbols = list(symbols)
    blocks: list = [None] * len(symbols)
    sym = np.asarray(symbols)
    for s in dict.fromkeys(symbols):  # one (M, N, 5) table per element
        rows = np.flatnonzero(sym == s)
        em = model.elements[s]
        table = np.empty((rows.size, em.n_alphas, 5))
        table[:, :, 0] = np.stack([coeffs[i] for i in rows])
        table[:, :, 1] = em.alphas
        table[:, :, 2:] = charge_columns(model, s)
        for k, i in enumerate(rows):
            blocks[i] = ScfVBlock(table[k])
    return ScfV.from_blocks(blocks, OLCAO_STYLE)


def write_text_atomically(path: str, text: str | bytes, force: bool = False) -> None:
    """Write ``text`` (str, or ASCII bytes) to ``path`` via a temporary file in
    the same directory and a rename; an existing file is replaced only with
    ``force``."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not force:
        raise ModelError(f"{path} exists; use --force to replace it")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ModelError(f"directory does not exist: {directory}")
    from pyolcaoml._atomic import write_bytes_atomic

    # temporary file, fsync, rename (mode: the replaced file's, else
    # 0666 & ~umask); a full disk names path and keeps the old file
    data = text if isinstance(text, bytes) else text.encode("ascii")
    write_bytes_atomic(path, data)


def predict_scfv_for_structure(
    model: PotentialModel,
    structure,
    output: str,
    force: bool = False,
    n_threads=None,
) -> Prediction:
    """Predict and write scfV.dat for a structure: type i = atom i."""
    if os.path.exists(output) and not force:
        raise ModelError(f"{os.path.abspath(output)} exists; use --force to replace it")
    pred = predict_structure(model, structure, n_threads=n_threads)
    scfv = scfv_for_atoms(model, pred.symbols, pred.coeffs)
    write_text_atomically(output, format_scfv(scfv), force=force)
    return pred


@dataclass
class RunPlan:
    """What ``predict MODEL RUN_DIR`` will do, after every check has passed."""

    run: object  # pyolcaoml.olcao.OlcaoRun
    output: str
    atom_of_type: np.ndarray  # 0-based atom index of each potential type


def check_run(model: PotentialModel, run_dir: str) -> RunPlan:
    """Read a run directory and check that the model can write its scfV.dat.

    Each atom must have its own potential type (and each type exactly one
    atom), every type's element must be in the model, and its NUM_ALPHAS
    and exponents must equal the model's.
    """
    from pyolcaoml.olcao import OlcaoFormatError, read_run

    try:
        run = read_run(run_dir)
    except (OlcaoFormatError, OSError) as exc:
        raise ModelError(f"cannot use run directory {run_dir}: {exc}") from exc
    types = np.asarray(run.atom_pot_types, dtype=np.int64)
    n_types = run.n_types
    counts = np.bincount(types, minlength=n_types + 1)[1:]
    if np.any(counts != 1):
        shared = [i + 1 for i in np.flatnonzero(counts > 1)][:5]
        unused = [i + 1 for i in np.flatnonzero(counts == 0)][:5]
        parts = []
        if shared:
            parts.append(f"type(s) {shared} are shared by several atoms")
        if unused:
            parts.append(f"type(s) {unused} belong to no atom")
        raise ModelError(
            f"{run.path}: the model predicts one potential per atom, but "
            f"{'; '.join(parts)} ({run.n_atoms} atoms, {n_types} potential "
            "types). Make the run with every atom its own type, e.g. makeinput "
            "-target -atom 1 -sphere 50 -operand types -relate diff"
        )
    for t, ptype in enumerate(run.potential_types, start=1):
        el = ptype.element
        if el not in model.elements:
            raise ModelError(
                f"{run.path}: potential type {t} ({ptype.label}) is element {el}, "
                f"which the model does not know ({', '.join(sorted(model.elements))})"
            )
        em = model.elements[el]
        if ptype.n_alphas != em.n_alphas or not np.allclose(
            ptype.alphas, em.alphas, rtol=ALPHA_RTOL, atol=0
        ):
            raise ModelError(
                f"{run.path}: potential type {t} ({ptype.label}) has "
                f"{ptype.n_alphas} exponents {ptype.alphas[0]:g}..{ptype.alphas[-1]:g}"
                f" Bohr^-2, the model's {el} has {em.n_alphas} "
                f"{em.alphas[0]:g}..{em.alphas[-1]:g} Bohr^-2"
            )
    atom_of_type = np.empty(n_types, dtype=np.int64)
    atom_of_type[types - 1] = np.arange(len(types))
    output = os.path.join(run.path, "inputs", "scfV.dat")
    return RunPlan(run=run, output=output, atom_of_type=atom_of_type)


def scfv_for_run(model: PotentialModel, plan: RunPlan, pred: Prediction):
    """The run's scfV (:class:`pyolcaoml.olcao.ScfV`) with the predicted A_i,
    in the order of its potential types: the charge columns of its
    inputs/scfV.dat when that has matching term counts, else the model's."""
    from dataclasses import replace

    from pyolcaoml.olcao import OLCAO_STYLE

    per_type = [pred.coeffs[i] for i in plan.atom_of_type]
    symbols = [pred.symbols[i] for i in plan.atom_of_type]
    start = plan.run.start_potential
    if start is not None and list(start.term_counts) == [len(a) for a in per_type]:
        return replace(start.with_coeffs(per_type), style=OLCAO_STYLE)
    return scfv_for_atoms(model, symbols, per_type)


def predict_scfv_for_run(
    model: PotentialModel,
    run_dir: str,
    force: bool = False,
    n_threads=None,
    output: str | None = None,
    prediction=None,
) -> tuple[RunPlan, Prediction]:
    """Write RUN_DIR/inputs/scfV.dat (or ``output``) from the model, in the
    run's type order; ``prediction`` (per atom, e.g. from
    :func:`pyolcaoml.predict.predict`) skips predicting again.

    The charge columns of the run's existing inputs/scfV.dat (makeinput's
    isolated-atom start) are kept when it has matching term counts.
    """
    plan = check_run(model, run_dir)
    if output is not None:
        plan.output = os.path.abspath(output)
    run = plan.run
    if os.path.exists(plan.output) and not force:
        raise ModelError(
            f"{plan.output} exists (makeinput writes a default one); "
            "use --force to replace it"
        )
    pred = prediction or predict_structure(model, run.structure, n_threads=n_threads)
    scfv = scfv_for_run(model, plan, pred)
    if run.basis is not None:
        warnings.warn(
            f"{run.path} already holds gs_scfV-{run.basis}.dat; OLCAO reads that "
            "file before inputs/scfV.dat, so remove or rename it to start from "
            "the prediction",
            stacklevel=2,
        )
    write_text_atomically(plan.output, format_scfv_bytes(scfv), force=force)
    return plan, pred


# -- bundled data ----------------------------------------------------------------
def data_path(*parts: str) -> str:
    """A file bundled with pyolcaoml: pyolcaoml/data/... when installed, the
    repository's data/ in a source checkout or editable install."""
    from pyolcaoml.resources import data_dir

    try:
        path = data_dir().joinpath(*parts)
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from exc
    if not path.exists():
        raise ModelError(
            f"bundled file data/{'/'.join(parts)} not found (incomplete installation?)"
        )
    return str(path)
