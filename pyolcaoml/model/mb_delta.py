"""Two-level start: OLCAO's own minimal-basis SCF, corrected to the full basis.

OLCAO can converge a run in its minimal basis (MB: the occupied atomic
shells only) for a part of the full-basis (FB) cost. The converged MB
potential has already settled what a model of each atom's neighbourhood
cannot see: where the charge goes over the whole cell, and the occupation
of the states near the Fermi level. What the full basis changes (the
polarisation shells let each atom's charge relax) is a correction that
depends on the atom's neighbourhood, so it is learnt here:

    V_start = V_MB + Delta(x),   Delta ~ V_FB - V_MB  (per atom, Hartree)

with ``x`` the descriptors of the host model (the a-Si model ``asi``; the
amorphous SiC model ``sicam`` since stop 51; the near-crystalline SiC
model ``sic`` since stop 53) and a ridge regression per element on
standardised descriptors. The correction is stored beside the
host model's networks as :data:`MB_DELTA_FILE`.

What it saves (docs/model.md, stops 49-51): on 64-atom a-Si the MB SCF
costs 335-670 s of CPU time against 1900-3000 for the FB one, but an MB
iteration costs about half an FB one, so the whole two-level run saves FB
iterations and not time. On 16-atom amorphous SiC (24 fresh cells) the
FB SCF from the corrected start took more than 478 iterations to 1e-4
against 578 from ``sicam`` alone and 887 from OLCAO's default, at
0.94-1.08x ``sicam``'s CPU time per set: an MB iteration costs about
1.25 s of CPU there against 2.8 s for FB, the same ratio. On eight fresh
31-33-atom near-crystalline SiC defect cells (stop 53) 119 FB iterations
against 161 from ``sic`` alone and 285 from OLCAO's default, at 1.02x
``sic``'s CPU time: the Si vacancy, whose far atoms' level no local model
sees, is where the MB SCF pays.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field

import numpy as np

from pyolcaoml.model.errors import ModelError

#: The correction's file inside a model directory.
MB_DELTA_FILE = "mb_delta.npz"
FORMAT = "pyolcaoml-mb-delta"
VERSION = 1
#: The arrays of each element in the file (``<element>/<name>``).
ARRAYS = ("alphas", "feature_mean", "feature_scale", "weights", "intercept")


@dataclass(frozen=True)
class ElementDelta:
    """The ridge model of V_FB - V_MB for one element.

    alphas: the exponents (Bohr^-2) the coefficients belong to.
    feature_mean, feature_scale: standardisation of the descriptors.
    weights: (K, n_alphas), Hartree per standardised feature.
    intercept: (n_alphas,), Hartree: the mean correction over training atoms.
    """

    element: str
    alphas: np.ndarray
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    weights: np.ndarray
    intercept: np.ndarray
    ridge_strength: float
    n_atoms: int

    def __post_init__(self) -> None:
        k, m = self.weights.shape
        if self.feature_mean.shape != (k,) or self.feature_scale.shape != (k,):
            raise ModelError(f"{self.element}: feature standardisation is not ({k},)")
        if self.alphas.shape != (m,) or self.intercept.shape != (m,):
            raise ModelError(f"{self.element}: need {m} exponents and intercepts")
        if not np.all(self.feature_scale > 0):
            raise ModelError(f"{self.element}: feature scales must be positive")

    @property
    def n_features(self) -> int:
        return self.weights.shape[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Delta (n_atoms, n_alphas), Hartree, for descriptors x (n_atoms, K)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ModelError(
                f"{self.element}: descriptors must be (n, {self.n_features}), "
                f"got {x.shape}"
            )
        return ((x - self.feature_mean) / self.feature_scale) @ self.weights + (
            self.intercept
        )


def fit_element_delta(
    element: str,
    alphas: np.ndarray,
    x: np.ndarray,
    delta: np.ndarray,
    ridge_strength: float,
) -> ElementDelta:
    """Ridge regression of ``delta`` (n, n_alphas; Hartree) on ``x`` (n, K).

    The descriptors are standardised (constant ones get scale 1) and the
    penalty is ``ridge_strength * n`` on the squared weights, so the same
    strength means the same thing for any number of atoms. A ridge solution
    is the same whatever linear map is applied to the outputs, so fitting
    the coefficients is fitting V(r) in any metric.
    """
    x = np.asarray(x, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64)
    if x.ndim != 2 or delta.ndim != 2 or len(x) != len(delta):
        raise ModelError(
            f"need x (n, K) and delta (n, m), got {x.shape}, {delta.shape}"
        )
    if delta.shape[1] != len(alphas):
        raise ModelError(f"delta has {delta.shape[1]} terms, alphas {len(alphas)}")
    if len(x) < 2:
        raise ModelError(f"{element}: need at least 2 atoms to fit, got {len(x)}")
    if not (ridge_strength > 0 and np.isfinite(ridge_strength)):
        raise ModelError(f"ridge strength must be > 0, got {ridge_strength}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(delta))):
        raise ModelError(f"{element}: non-finite descriptors or targets")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = (x - mean) / scale
    intercept = delta.mean(axis=0)
    penalty = ridge_strength * len(xs)
    if len(xs) < xs.shape[1]:
        # Fewer atoms than descriptors (a few hundred atoms, 660-2640
        # descriptors): the same solution from the n x n system,
        # w = X^T (X X^T + penalty I)^-1 (delta - intercept), ten to
        # twenty times cheaper than the K x K one.
        kernel = xs @ xs.T + penalty * np.eye(len(xs))
        weights = xs.T @ np.linalg.solve(kernel, delta - intercept)
    else:
        gram = xs.T @ xs + penalty * np.eye(xs.shape[1])
        weights = np.linalg.solve(gram, xs.T @ (delta - intercept))
    return ElementDelta(
        element, alphas, mean, scale, weights, intercept, float(ridge_strength), len(x)
    )


@dataclass
class MbDelta:
    """The per-element corrections and what they were fitted on."""

    elements: dict[str, ElementDelta]
    descriptor: dict
    train_structures: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def check_elements(self, symbols) -> None:
        """ModelError naming the elements of ``symbols`` with no correction."""
        missing = sorted(set(symbols) - set(self.elements))
        if missing:
            raise ModelError(
                f"no correction for {', '.join(missing)}; it covers "
                f"{', '.join(sorted(self.elements))}"
            )

    def predict(self, symbols, x: np.ndarray) -> list[np.ndarray]:
        """Delta (Hartree) of each atom, for its element ``symbols[i]`` and
        descriptors ``x[i]``; one matrix product per element."""
        self.check_elements(symbols)
        x = np.asarray(x, dtype=np.float64)
        sym = np.asarray(symbols)
        out: list[np.ndarray] = [np.empty(0)] * len(sym)
        for el in dict.fromkeys(symbols):
            rows = np.flatnonzero(sym == el)
            for i, d in zip(rows, self.elements[el].predict(x[rows]), strict=True):
                out[i] = d
        return out

    def save(self, model_dir: str | os.PathLike[str]) -> str:
        """Write :data:`MB_DELTA_FILE` into ``model_dir`` (temporary file and
        rename); returns its path."""
        from pyolcaoml._atomic import write_bytes_atomic

        meta = {
            "format": FORMAT,
            "version": VERSION,
            "descriptor": self.descriptor,
            "train_structures": self.train_structures,
            "notes": self.notes,
            "elements": {
                el: {"ridge_strength": d.ridge_strength, "n_atoms": d.n_atoms}
                for el, d in self.elements.items()
            },
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        for el, d in self.elements.items():
            for name in ARRAYS:
                arrays[f"{el}/{name}"] = getattr(d, name)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        path = os.path.join(os.fspath(model_dir), MB_DELTA_FILE)
        write_bytes_atomic(path, buf.getvalue())
        return path


def load_mb_delta(model_dir: str | os.PathLike[str]) -> MbDelta:
    """Read :data:`MB_DELTA_FILE` from a model directory; a missing, corrupt
    or inconsistent file raises :class:`ModelError` naming it."""
    path = os.path.join(os.fspath(model_dir), MB_DELTA_FILE)
    if not os.path.isfile(path):
        raise ModelError(
            f"{model_dir} has no minimal-basis correction ({MB_DELTA_FILE}); "
            "the bundled models 'asi' (a-Si), 'sicam' (amorphous SiC) and 'sic' "
            "(near-crystalline SiC) have one"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ModelError(f"{path}: not a {FORMAT} file of version {VERSION}")
        elements = {}
        for el, info in meta["elements"].items():
            elements[el] = ElementDelta(
                el,
                *(np.asarray(arrays[f"{el}/{n}"], dtype=np.float64) for n in ARRAYS),
                float(info["ridge_strength"]),
                int(info["n_atoms"]),
            )
    except ModelError:
        raise
    except Exception as exc:  # zip, JSON and key errors of a damaged file
        raise ModelError(f"cannot read {path}: {exc}") from exc
    return MbDelta(
        elements,
        meta["descriptor"],
        list(meta.get("train_structures", [])),
        dict(meta.get("notes", {})),
    )


def _check_exponents(run, symbols, delta: MbDelta, mb_path=None, mb_alphas=None):
    """ModelError unless each potential type's exponents in the run's
    olcao.dat are the correction's for its element (``symbols``, per type)
    and, where given, those of the MB potential ``mb_path``."""
    for t, ptype in enumerate(run.potential_types):
        own = np.asarray(ptype.alphas, dtype=np.float64)
        el = symbols[t]
        pairs = [("the correction", delta.elements[el].alphas)]
        if mb_alphas is not None:
            pairs.insert(0, (f"{mb_path}", mb_alphas[t]))
        for what, other in pairs:
            if len(other) != len(own) or not np.allclose(other, own, rtol=1e-6):
                raise ModelError(
                    f"type {t + 1} ({el}): the exponents of {what} differ from "
                    f"the run's olcao.dat ({len(other)} against {len(own)} "
                    "terms): not this run's minimal-basis potential, or "
                    "exponents the correction was not fitted for"
                )


@dataclass
class TwoLevelStart:
    """The corrected potential of a run, ready to write as its scfV.dat."""

    scfv: object  # pyolcaoml.olcao.ScfV: the MB file with column 1 corrected
    correction_rms_hartree: float  # RMS over atoms of Delta's V(r), model metric
    descriptor_seconds: float


def _check_descriptor(model, delta: MbDelta) -> None:
    """ModelError unless the correction was fitted on its model's
    descriptors (the features it is evaluated on)."""
    from pyolcaoml.model.workflow import same_descriptor

    if not same_descriptor(model.descriptor, delta.descriptor):
        raise ModelError(
            f"the correction in {model.path} was fitted on other descriptors "
            "than its model's"
        )


def two_level_start(
    model,
    delta: MbDelta,
    run_dir: str,
    mb_path: str,
    n_threads: int | None = None,
) -> TwoLevelStart:
    """V_MB (OLCAO's converged minimal-basis potential in ``mb_path``, for
    the run in ``run_dir``) plus the correction, per potential type.

    The MB file must belong to the run: the same number of types, and each
    type's exponents those of the run's olcao.dat (which OLCAO writes in its
    own gs_scfV files) and of the correction. Columns 2-5 of the MB file are
    kept: OLCAO reads column 1 (A_i, Hartree).
    """
    import time

    from pyolcaoml.model.workflow import check_run, compute_descriptors
    from pyolcaoml.olcao.scfv import read_scfv

    _check_descriptor(model, delta)
    plan = check_run(model, run_dir)
    run = plan.run
    try:
        mb = read_scfv(mb_path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the minimal-basis potential: {exc}") from exc
    if mb.n_types != run.n_types:
        raise ModelError(
            f"{mb_path} has {mb.n_types} potential types, the run in {run_dir} "
            f"{run.n_types}: it is not this run's potential"
        )
    symbols = [run.structure.symbols[i] for i in plan.atom_of_type]
    delta.check_elements(symbols)
    _check_exponents(run, symbols, delta, mb_path, mb.alphas())
    t0 = time.perf_counter()
    x = compute_descriptors(model, run.structure, n_threads)[plan.atom_of_type]
    seconds = time.perf_counter() - t0
    corr = delta.predict(symbols, x)
    sym = np.asarray(symbols)
    sq = [  # the correction's V(r) per atom, one grid evaluation per element
        model.metric.rms_per_atom(np.stack([corr[i] for i in rows]), 0.0, d.alphas) ** 2
        for el, d in delta.elements.items()
        if (rows := np.flatnonzero(sym == el)).size
    ]
    return TwoLevelStart(
        scfv=mb.with_coeffs([c + d for c, d in zip(mb.coeffs(), corr, strict=True)]),
        correction_rms_hartree=float(np.sqrt(np.mean(np.concatenate(sq)))),
        descriptor_seconds=seconds,
    )


def minimal_basis_estimate(
    model, delta: MbDelta, run_dir: str, n_threads: int | None = None
) -> list[np.ndarray]:
    """The model's prediction minus the correction, per potential type
    (olcao.dat order), Hartree: an estimate of OLCAO's converged MB
    potential of the run in ``run_dir``, to start its MB SCF from.

    V_MB = V_FB - Delta: the model predicts V_FB and the correction Delta,
    both from each atom's descriptors, so that the MB SCF starts from what
    the correction will later add back to its answer."""
    from pyolcaoml.model.workflow import check_run, compute_descriptors

    _check_descriptor(model, delta)
    plan = check_run(model, run_dir)
    structure = plan.run.structure
    symbols = list(structure.symbols)
    delta.check_elements(symbols)
    _check_exponents(plan.run, [symbols[i] for i in plan.atom_of_type], delta)
    x = compute_descriptors(model, structure, n_threads)
    coeffs, _ = model.predict_uncertainty(symbols, x)
    corr = delta.predict(symbols, x)
    return [np.asarray(coeffs[i]) - corr[i] for i in plan.atom_of_type]
