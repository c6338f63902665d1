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
from dataclasses import dataclass, field

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


def coefficients_and_trust(
    model: PotentialModel, structure, x, method: str = "network", n_threads=None
):
    """(coeffs, sigma, report, network seconds) from descriptors ``x``:
    A_i per atom (Hartree; the ensemble mean for the network), each atom's
    sigma (Hartree; None for a baseline ``method``) and the per-atom trust
    report (:class:`pyolcaoml.model.report.AtomReport`)."""
    from pyolcaoml.model.report import assess

    symbols = list(structure.symbols)
    t0 = time.perf_counter()
    if method == "network":
        coeffs, sigma = model.predict_uncertainty(symbols, x)
    else:
        coeffs, sigma = model.predict(symbols, x, method=method), None
    seconds = time.perf_counter() - t0
    report = assess(
        model,
        structure,
        x,
        sigma if sigma is not None else np.full(len(symbols), np.nan),
        n_threads=n_threads,
    )
    return coeffs, sigma, report, seconds


def hand_over_amorphous(
    requested, model, structure, x, sigma, n_threads=None, domain=None
):
    """When ``model`` (what ``requested`` resolved to; None: no model named)
    hands the structure over (:mod:`pyolcaoml.model.handover`: by ``sigma``
    to the bundled a-Si model, or by ``domain``, each atom's applicability
    distance, to the bundled amorphous SiC model): (that model, its
    descriptors, coeffs, sigma, report, network seconds); else None. The
    descriptors ``x`` are reused when both models compute the same ones, or
    their first columns when the other model's are the same with fewer
    hops."""
    from pyolcaoml.model.handover import amorphous_model_for
    from pyolcaoml.neighbour_mean import fewer_hops

    symbols = list(structure.symbols)
    other = amorphous_model_for(requested, model, symbols, sigma, domain)
    if other is None:
        return None
    if fewer_hops(model.descriptor, other.descriptor):
        x = x[:, : other.n_features]  # its descriptor: the first hops of ours
    elif (other.descriptor, other.n_features) != (model.descriptor, model.n_features):
        x = compute_descriptors(other, structure, n_threads=n_threads)
    coeffs, sigma, report, seconds = coefficients_and_trust(
        other, structure, x, n_threads=n_threads
    )
    return other, x, coeffs, sigma, report, seconds


def _predict_with_descriptors(model, structure, method, n_threads):
    """:func:`predict_structure`'s prediction and the descriptors it used."""
    symbols = list(structure.symbols)
    model.check_elements(symbols)
    t0 = time.perf_counter()
    x = compute_descriptors(model, structure, n_threads=n_threads)
    t1 = time.perf_counter()
    coeffs, sigma, report, seconds = coefficients_and_trust(
        model, structure, x, method=method, n_threads=n_threads
    )
    return Prediction(symbols, coeffs, t1 - t0, seconds, sigma, report), x


def predict_structure(
    model: PotentialModel, structure, method: str = "network", n_threads=None
) -> Prediction:
    """Predict every atom's coefficients (atom order) for a structure."""
    return _predict_with_descriptors(model, structure, method, n_threads)[0]


def predict_handing_over(model: PotentialModel, structure, n_threads=None):
    """:func:`predict_structure` with no model named: (the model that
    predicted, its prediction, the prediction that decided or None).
    ``model`` is the one the structure would get (the bundled default, or
    the Si + C model for C); an amorphous structure goes to the bundled a-Si
    or amorphous SiC model (:func:`hand_over_amorphous`), and the third item
    is then ``model``'s own prediction, whose sigma and applicability
    distances :func:`pyolcaoml.model.handover.note_for` reports on."""
    from dataclasses import replace

    pred, x = _predict_with_descriptors(model, structure, "network", n_threads)
    asi = hand_over_amorphous(
        None, model, structure, x, pred.sigma, n_threads, pred.report.domain
    )
    if asi is None:
        return model, pred, None
    other, _, coeffs, sigma, report, more = asi
    handed = replace(
        pred,
        coeffs=coeffs,
        network_seconds=pred.network_seconds + more,
        sigma=sigma,
        report=report,
    )
    return other, handed, pred


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


def scfv_for_atoms(model: PotentialModel, symbols, coeffs, alphas=None):
    """An :class:`pyolcaoml.olcao.ScfV` with one potential type per atom.

    ``alphas`` (one array per type, Bohr^-2) replaces the model's exponents
    in column 2 for coefficients projected onto a run's own exponents; the
    charge columns are then zero where the term counts differ.
    """
    from pyolcaoml.olcao import OLCAO_STYLE, ScfV, ScfVBlock

    symbols = list(symbols)
    if alphas is not None:  # coefficients on a run's own exponents
        blocks = []
        for i, (s, a) in enumerate(zip(symbols, coeffs, strict=True)):
            al = np.asarray(alphas[i])
            ch = charge_columns(model, s)
            if ch.shape[0] != len(al):
                ch = np.zeros((len(al), 3))
            blocks.append(ScfVBlock.from_columns(a, al, ch[:, 0], ch[:, 1], ch[:, 2]))
        return ScfV.from_blocks(blocks, OLCAO_STYLE)
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


def write_text_atomically(
    path: str, text: str | bytes | list, force: bool = False
) -> None:
    """Write ``text`` (str, ASCII bytes, or a list of byte buffers written one
    after the other) to ``path`` via a temporary file in
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
    data = text.encode("ascii") if isinstance(text, str) else text
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
    #: 0-based potential type -> projector onto that type's own exponents,
    #: for the types whose exponents differ from the model's
    projectors: dict = field(default_factory=dict)
    #: element -> projection error report, filled by predict_scfv_for_run
    projection_report: dict = field(default_factory=dict)


def read_run_dir(run_dir: str):
    """The run of ``run_dir`` (:func:`pyolcaoml.olcao.read_run`); ModelError
    naming the folder when it cannot be read."""
    from pyolcaoml.olcao import OlcaoFormatError, read_run

    try:
        return read_run(run_dir)
    except (OlcaoFormatError, OSError) as exc:
        raise ModelError(f"cannot use run directory {run_dir}: {exc}") from exc


def check_run(model: PotentialModel, run_dir: str, run=None) -> RunPlan:
    """Read a run directory (unless ``run``, already read from it, is
    given) and check that the model can write its scfV.dat.

    Each atom must have its own potential type (and each type exactly one
    atom) and every type's element must be in the model. A type whose
    NUM_ALPHAS or exponents differ from the model's gets a projector: the
    predicted V(r) is written on the run's own Gaussians by least squares in
    the V(r) metric (:mod:`pyolcaoml.model.projection`).
    """
    from pyolcaoml.model.projection import projector, same_alphas

    if run is None:
        run = read_run_dir(run_dir)
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
    projectors: dict = {}
    cache: dict = {}
    for t, ptype in enumerate(run.potential_types, start=1):
        el = ptype.element
        if el not in model.elements:
            raise ModelError(
                f"{run.path}: potential type {t} ({ptype.label}) is element {el}, "
                f"which the model does not know ({', '.join(sorted(model.elements))})"
            )
        em = model.elements[el]
        if not same_alphas(ptype.alphas, em.alphas, rtol=ALPHA_RTOL):
            key = (el, tuple(np.asarray(ptype.alphas, dtype=np.float64)))
            if key not in cache:
                try:
                    cache[key] = projector(em.alphas, ptype.alphas, model.metric)
                except ValueError as exc:
                    raise ModelError(
                        f"{run.path}: potential type {t} ({ptype.label}): "
                        f"cannot project onto its exponents: {exc}"
                    ) from exc
            projectors[t - 1] = cache[key]
    atom_of_type = np.empty(n_types, dtype=np.int64)
    atom_of_type[types - 1] = np.arange(len(types))
    output = os.path.join(run.path, "inputs", "scfV.dat")
    return RunPlan(
        run=run, output=output, atom_of_type=atom_of_type, projectors=projectors
    )


def project_onto_run(plan: RunPlan, symbols, per_type) -> list[np.ndarray]:
    """Project each type's predicted A_i onto its own exponents where they
    differ from the model's; fills ``plan.projection_report`` per element:
    model and run term counts and exponent ranges, the RMS over atoms and
    the largest per-atom RMS V(r) error of the projection (Hartree)."""
    out = list(per_type)
    errs: dict[str, list[float]] = {}
    for t, p in plan.projectors.items():
        a = np.asarray(per_type[t], dtype=np.float64)
        out[t] = p(a)
        el = symbols[t]
        errs.setdefault(el, []).append(float(p.rms_error(a)[0]))
        plan.projection_report.setdefault(
            el,
            {
                "model_alphas": [len(p.alphas_from), float(p.alphas_from[0]),
                                 float(p.alphas_from[-1])],
                "run_alphas": [len(p.alphas_to), float(p.alphas_to[0]),
                               float(p.alphas_to[-1])],
            },
        )  # fmt: skip
    for el, e in errs.items():
        e = np.asarray(e)
        plan.projection_report[el].update(
            n_types=int(e.size),
            rms_v_hartree=float(np.sqrt(np.mean(e**2))),
            max_v_hartree=float(e.max()),
        )
    return out


def scfv_for_run(model: PotentialModel, plan: RunPlan, pred: Prediction):
    """The run's scfV (:class:`pyolcaoml.olcao.ScfV`) with the predicted A_i
    and the run's exponents (olcao.dat's), in the order of its potential
    types: the charge columns of its inputs/scfV.dat when that has
    matching term counts, else the model's."""
    per_type = [pred.coeffs[i] for i in plan.atom_of_type]
    symbols = [pred.symbols[i] for i in plan.atom_of_type]
    if plan.projectors:  # the run's exponents differ: project V(r) onto them
        per_type = project_onto_run(plan, symbols, per_type)
    scfv = run_start_with_coeffs(plan.run, per_type)
    if scfv is not None:
        return scfv
    run_alphas = [ptype.alphas for ptype in plan.run.potential_types]
    return scfv_for_atoms(model, symbols, per_type, alphas=run_alphas)


def run_start_with_coeffs(run, per_type):
    """The run's inputs/scfV.dat (makeinput's start) with column 1 replaced
    by ``per_type`` (A_i per potential type, Hartree, in the run's
    exponents), in OLCAO's own layout; None when the run has no such file
    or its term counts differ (then its charge columns cannot be kept)."""
    from dataclasses import replace

    from pyolcaoml.olcao import OLCAO_STYLE

    start = run.start_potential
    if start is None or list(start.term_counts) != [len(a) for a in per_type]:
        return None
    # column 2: the exponents the A_i belong to (olcao.dat's), as OLCAO
    # writes its own gs_scfV, not makeinput's atomicPDB ones
    run_alphas = [ptype.alphas for ptype in run.potential_types]
    return replace(start.with_coeffs(per_type, run_alphas), style=OLCAO_STYLE)


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
