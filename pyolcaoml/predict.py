"""Predict the potential of a structure from Python (what ``olcaoml predict`` does).

Load a model (the bundled one by default), predict an ``ase.Atoms`` (or a
:class:`pyolcaoml.structure.Structure`, or a file name), and get every
atom's coefficients A_i (Hartree) and its site potential
V(r) = sum_i A_i exp(-alpha_i r^2) (r in Bohr, V in Hartree)::

    from ase.build import bulk
    from pyolcaoml.predict import load_model, predict

    model = load_model()                   # or load_model("path/to/MODEL")
    pot = predict(bulk("Si", cubic=True) * (2, 2, 2), model)
    pot.coeffs[0]                          # A_i of atom 0, Hartree
    pot.alphas[0]                          # its exponents, Bohr^-2
    r = np.linspace(0.05, 6.0, 200)        # Bohr
    v = pot.potential(r)                   # (n_atoms, 200) Hartree
    pot.write_scfv("scfV.dat")             # OLCAO's format, type i = atom i
    pot.plot("potential.png")              # V(r) of a few atoms

The network is imported (TensorFlow) only when :func:`load_model` loads it.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.saved import (
    DEFAULT_MODEL,
    PotentialModel,
    is_bundled_name,
    load_bundled_model,
    load_model,
)

__all__ = ["PotentialPrediction", "compute_descriptors", "load_model", "predict"]

#: Structures with more atoms than this get their descriptors in chunks, so
#: that a progress bar can show how far the computation is.
CHUNK_ATOMS = 16384


def _structure(atoms: Any):
    from pyolcaoml.structure import Structure, read_structure

    if isinstance(atoms, (str, os.PathLike)):
        return read_structure(os.fspath(atoms))
    return Structure.coerce(atoms)


def compute_descriptors(
    model: PotentialModel,
    structure: Any,
    n_threads: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Descriptors (n_atoms, K) with the model's settings; in chunks of
    :data:`CHUNK_ATOMS` atoms with a tqdm bar if ``progress`` and standard
    error is a terminal."""
    import sys

    calc = model.descriptor_calculator()
    n = len(structure)
    # Chunks cost a neighbour list each (~2 % at 10^5 atoms): only when a
    # bar is shown, i.e. on a terminal.
    if not progress or n <= 2 * CHUNK_ATOMS or not sys.stderr.isatty():
        x = calc.compute(structure, n_threads=n_threads)
    else:
        from tqdm import tqdm

        parts = []
        with tqdm(total=n, desc="descriptors", unit="atom", disable=None) as bar:
            for start in range(0, n, CHUNK_ATOMS):
                stop = min(start + CHUNK_ATOMS, n)
                parts.append(
                    calc.compute(
                        structure, centers=np.arange(start, stop), n_threads=n_threads
                    )
                )
                bar.update(stop - start)
        x = np.concatenate(parts, axis=0)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (n, model.n_features):
        raise ModelError(
            f"descriptor calculator returned shape {x.shape}, model expects "
            f"({n}, {model.n_features})"
        )
    return x


@dataclass
class PotentialPrediction:
    """Predicted potential of every atom of a structure.

    symbols: element of each atom (structure order).
    coeffs: A_i per atom, Hartree (list of (N_e,) arrays, N_e per element).
    alphas: alpha_i per atom, Bohr^-2 (the model's exponents of its element).
    model: the model that made the prediction.
    descriptor_seconds, network_seconds: wall times.
    sigma: each atom's predicted RMS V(r) error (Hartree, the metric of
    ``olcaoml evaluate``; NaN for a single network or a baseline method).
    report: the per-atom trust report (sigma and applicability flags,
    :class:`pyolcaoml.model.report.AtomReport`; ``report.to_csv()``).
    structure: the structure predicted (its geometry picks the group of
    the expected OLCAO iterations, e.g. a Si vacancy in SiC).
    """

    symbols: list[str]
    coeffs: list[np.ndarray]
    alphas: list[np.ndarray]
    model: PotentialModel = field(repr=False)
    descriptor_seconds: float = 0.0
    network_seconds: float = 0.0
    sigma: np.ndarray | None = None
    report: Any = None
    structure: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.symbols)

    def potential(
        self, r_bohr: Sequence[float] | np.ndarray, atoms: Sequence[int] | None = None
    ) -> np.ndarray:
        """V(r) = sum_i A_i exp(-alpha_i r^2) in Hartree, (n_atoms, len(r)),
        for every atom or the 0-based ``atoms`` given."""
        from pyolcaoml.model.potential import potential_values

        r = np.asarray(r_bohr, dtype=np.float64)
        idx = range(len(self.symbols)) if atoms is None else atoms
        return np.array(
            [potential_values(self.coeffs[i], self.alphas[i], r) for i in idx]
        )

    def expected_iterations(self):
        """OLCAO's expected iterations to 1e-4 from this start, from the
        largest sigma and the model's reference runs of the structure's
        group (:class:`pyolcaoml.model.olcao_iterations.IterationEstimate`),
        or None when the model has no reference file or no sigma. Raises
        ModelError for a damaged or stale reference file."""
        from pyolcaoml.model.olcao_iterations import estimate_for

        return estimate_for(self.model, self.sigma, self.structure)

    def isolated_potential(self, symbol: str, r_bohr) -> np.ndarray:
        """V(r) of OLCAO's default start (isolated atom) for an element."""
        from pyolcaoml.model.potential import potential_values

        em = self.model.elements[symbol]
        return potential_values(em.isolated, em.alphas, np.asarray(r_bohr, float))

    def to_scfv(self):
        """An :class:`pyolcaoml.olcao.ScfV`: potential type i = atom i."""
        from pyolcaoml.model.workflow import scfv_for_atoms

        return scfv_for_atoms(self.model, self.symbols, self.coeffs)

    def write_scfv(self, path: str | os.PathLike[str], force: bool = False) -> None:
        """Write scfV.dat (temporary file and rename; mode follows the umask)."""
        from pyolcaoml.model.workflow import write_text_atomically

        write_text_atomically(os.fspath(path), self._scfv_parts(), force)

    def scfv_bytes(self) -> bytes:
        """The bytes of :meth:`to_scfv`'s file, formatted per element without
        an object per atom (fast for 10^5 atoms)."""
        return b"".join(self._scfv_parts())

    def _scfv_parts(self) -> list:
        """:meth:`scfv_bytes` in parts, not joined (see
        :func:`pyolcaoml.olcao.scfv.scfv_groups_parts`)."""
        from pyolcaoml.model.workflow import charge_columns
        from pyolcaoml.olcao.scfv import scfv_groups_parts

        sym = np.asarray(self.symbols)
        groups = []
        for s in dict.fromkeys(self.symbols):
            rows = np.flatnonzero(sym == s)
            em = self.model.elements[s]
            rest = np.column_stack([em.alphas, charge_columns(self.model, s)])
            groups.append((rows, np.stack([self.coeffs[i] for i in rows]), rest))
        return scfv_groups_parts(groups, len(self.symbols))

    def plot(self, path: str | os.PathLike[str], title: str = "") -> None:
        """V(r) of a few atoms per element beside the isolated and average
        atom (see :func:`pyolcaoml.model.plots.plot_prediction`)."""
        from pyolcaoml.model.plots import plot_prediction

        plot_prediction(os.fspath(path), self, title=title)


def predict(
    atoms: Any,
    model: PotentialModel | str | os.PathLike[str] | None = None,
    n_threads: int | None = None,
    method: str = "network",
    progress: bool = False,
) -> PotentialPrediction:
    """Predict every atom's A_i for ``atoms`` (ase.Atoms, Structure or a
    file name) with ``model`` (a loaded model, a model directory, or
    None / ``"default"`` for the bundled one, ``"sic"`` / ``"asi"`` for the
    other bundled ones; a bundled model is loaded once per process, so
    predicting many structures in a loop costs no reload).
    ``method`` is ``network`` or a baseline: ``isolated``, ``average``,
    ``ridge``.

    With ``model`` None or ``"default"``, a structure with an element that
    the default model lacks (C) is predicted by the bundled model that has
    them all (``"sic"``), as ``olcaoml predict`` does.

    With ``model`` None, a structure of Si alone on which the bundled
    model's median sigma exceeds its threshold (an amorphous one) is predicted by
    the bundled a-Si model instead (:mod:`pyolcaoml.model.handover`;
    ``prediction.model`` says which); ``"default"`` keeps the default
    (with a ``UserWarning`` saying that ``asi`` is the better start)."""
    requested = model
    structure = _structure(atoms)
    symbols = list(structure.symbols)
    if model is None or is_bundled_name(model):  # loaded once per process
        from pyolcaoml.model.saved import bundled_alternative

        # the default model lacks an element (C): the bundled model that has
        # it ('sic'), as on the command line
        other = bundled_alternative(model, symbols)
        model = load_bundled_model(
            other or (DEFAULT_MODEL if model is None else os.fspath(model)),
            networks=method == "network",
        )
    elif not isinstance(model, PotentialModel):
        model = load_model(model, networks=method == "network")
    model.check_elements(symbols)
    t0 = time.perf_counter()
    x = compute_descriptors(model, structure, n_threads=n_threads, progress=progress)
    t1 = time.perf_counter()
    from pyolcaoml.model.workflow import coefficients_and_trust

    coeffs, sigma, report, seconds = coefficients_and_trust(
        model, structure, x, method=method, n_threads=n_threads
    )
    if method == "network":
        from pyolcaoml.model.workflow import hand_over_amorphous

        asi = hand_over_amorphous(
            requested, model, structure, x, sigma, n_threads, report.domain
        )
        if asi is not None:  # amorphous: the a-Si or amorphous SiC model
            model, x, coeffs, sigma, report, more = asi
            seconds += more
        elif requested is not None:
            from pyolcaoml.model.handover import kept_default_note

            note = kept_default_note(
                model, symbols, sigma, report.domain, named=requested
            )
            if note:
                warnings.warn(note, UserWarning, stacklevel=2)
    t2 = t1 + seconds
    alphas = {s: model.elements[s].alphas for s in set(symbols)}
    return PotentialPrediction(
        symbols=symbols,
        coeffs=coeffs,
        alphas=[alphas[s] for s in symbols],
        model=model,
        descriptor_seconds=t1 - t0,
        network_seconds=t2 - t1,
        sigma=sigma,
        report=report,
        structure=structure,
    )
