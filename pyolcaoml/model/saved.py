"""A trained pyolcaoml model on disk and in memory.

A model is a directory::

    MODEL/
      model.json      metadata: descriptor settings, elements, exponents,
                      isolated-atom and average-atom coefficients, output
                      basis, ridge baseline, training record, metrics,
                      versions, sha256 of every .keras file
      Si.keras        one Keras network per element (descriptors -> A_i)
      Si_2.keras ...  members 2..M of an ensemble (format version 2)
      applicability.npz  standardised training descriptors (novelty check)

Loading verifies the checksums so that a damaged file gives a clear error.
Version 1 directories (one network, no applicability data) still load.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyolcaoml.model.baselines import RidgeBaseline
from pyolcaoml.model.basis import OutputBasis
from pyolcaoml.model.data import file_sha256
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.potential import RadialMetric
from pyolcaoml.model.uncertainty import Calibration

MODEL_FORMAT = "pyolcaoml-model"
MODEL_VERSION = 2
#: written instead of MODEL_VERSION when an element has an environment
#: variant (an older reader would ignore it and predict wrongly)
MODEL_VERSION_VARIANTS = 3
#: Versions this pyolcaoml reads.
READABLE_VERSIONS = (1, 2, 3)
METADATA_FILE = "model.json"


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model was made with (TensorFlow only if loaded)."""
    import sys

    import h5py

    from pyolcaoml import __version__

    v = {
        "pyolcaoml": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "h5py": h5py.__version__,
    }
    if "keras" in sys.modules:
        v["keras"] = sys.modules["keras"].__version__
    if "tensorflow" in sys.modules:
        v["tensorflow"] = sys.modules["tensorflow"].__version__
    return v


@dataclass
class ElementModel:
    """Everything the model knows about one element."""

    symbol: str
    alphas: np.ndarray  # (N,) Bohr^-2
    basis: OutputBasis
    ridge: RidgeBaseline
    network: Any = None  # keras.Model: descriptors -> A (Hartree); member 1
    charge_columns: np.ndarray | None = None  # (N, 3) isolated-atom columns 3-5
    members: list[Any] = field(default_factory=list)  # all M networks
    calibration: Calibration = field(default_factory=Calibration)
    #: environment variant: the atoms whose descriptors are not all zero in
    #: these columns (0-based; e.g. the components that involve an element
    #: the base model did not know) use ``variant_members`` instead
    variant_columns: np.ndarray | None = None
    variant_members: list[Any] = field(default_factory=list)
    #: the elements whose neighbours switch an atom to the variant (text)
    variant_elements: list[str] = field(default_factory=list)
    #: sigma calibration of the atoms the variant predicts (``calibration``
    #: serves the element's other atoms)
    variant_calibration: Calibration = field(default_factory=Calibration)
    _forward: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def networks(self) -> list[Any]:
        """The ensemble's networks (one for a single-network model)."""
        return self.members if self.members else [self.network]

    def predict_networks(self, x: np.ndarray) -> list[np.ndarray]:
        """(n, N) coefficients (Hartree) of each network for n atoms.

        A loaded network does not change, so each is read once into a NumPy
        forward pass (:func:`pyolcaoml.model.network.numpy_forward`); Keras
        runs the few networks that cannot be read that way."""
        if self.variant_columns is not None and self.variant_members:
            return self._predict_switched(x)
        return self._run(self.networks, x)

    def uses_variant(self, x: np.ndarray) -> np.ndarray:
        """(n,) bool: the atoms that the variant networks predict."""
        if self.variant_columns is None or not self.variant_members:
            return np.zeros(len(x), dtype=bool)
        return np.any(np.asarray(x)[:, self.variant_columns] != 0, axis=1)

    def _predict_switched(self, x: np.ndarray) -> list[np.ndarray]:
        switched = self.uses_variant(x)
        if not switched.any():
            return self._run(self.networks, x)
        if switched.all():
            return self._run(self.variant_members, x)
        plain = self._run(self.networks, x[~switched])
        variant = self._run(self.variant_members, x[switched])
        out = []
        for a, b in zip(plain, variant, strict=True):
            both = np.empty((len(x), a.shape[1]))
            both[~switched], both[switched] = a, b
            out.append(both)
        return out

    def _run(self, networks: list[Any], x: np.ndarray) -> list[np.ndarray]:
        from pyolcaoml.model.network import numpy_forward, predict_batched
        from pyolcaoml.model.numpy_networks import NumpyNetwork

        out = []
        for net in networks:
            if isinstance(net, NumpyNetwork):  # loaded without TensorFlow
                out.append(net.forward(x))
                continue
            cached = self._forward.get(id(net))
            if cached is None or cached[0] is not net:
                cached = self._forward[id(net)] = (net, numpy_forward(net))
            forward = cached[1]
            out.append(predict_batched(net, x) if forward is None else forward(x))
        return out

    @property
    def n_alphas(self) -> int:
        return int(self.alphas.shape[0])

    @property
    def isolated(self) -> np.ndarray:
        return self.basis.isolated

    @property
    def average(self) -> np.ndarray:
        return self.basis.offset


@dataclass
class PotentialModel:
    """Networks per element plus metadata; ``predict`` maps descriptors to A_i."""

    descriptor: dict
    n_features: int
    elements: dict[str, ElementModel]
    metric: RadialMetric = field(default_factory=RadialMetric)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    path: str | None = None
    applicability: Any = None  # applicability.Applicability or None (v1)
    ensemble_size: int = 1  # as recorded in model.json (networks not loaded)
    #: The amorphous handover of a default model (pyolcaoml.model.handover):
    #: {"median_sigma_hartree": threshold, "chosen_on": how}; empty: none
    #: recorded (the package's threshold applies).
    handover: dict = field(default_factory=dict)

    @property
    def n_members(self) -> int:
        """Networks per element (1: a single network, no uncertainty)."""
        loaded = [
            len(em.networks) for em in self.elements.values() if em.network is not None
        ]
        return max(loaded) if loaded else self.ensemble_size

    # -- prediction ---------------------------------------------------------
    def check_elements(self, symbols) -> None:
        unknown = sorted(set(symbols) - set(self.elements))
        if unknown:
            raise ModelError(
                f"element(s) {', '.join(unknown)} not in the model "
                f"(it knows {', '.join(sorted(self.elements))})"
                + _bundled_hint(symbols)
            )

    def predict(
        self, symbols, descriptors: np.ndarray, method: str = "network"
    ) -> list[np.ndarray]:
        """A_i (Hartree) per atom, in atom order, for one of the methods
        ``network``, ``isolated``, ``average``, ``ridge``."""
        out, _ = self._per_element(
            symbols,
            descriptors,
            lambda s, x: (self.predict_element(s, x, method), None),
            method,
        )
        return out

    def _per_element(self, symbols, descriptors, predict_rows, what: str):
        """Check the descriptors, call ``predict_rows(symbol, x)`` -> (A (M, N),
        sigma (M,) or None) for the atoms of each element, and put the rows
        back in atom order: (A_i per atom, sigma per atom, NaN where none).
        A non-finite A_i is an error, never a result."""
        symbols = list(symbols)
        x = np.asarray(descriptors, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(symbols):
            raise ModelError("need one descriptor row per atom")
        if x.shape[1] != self.n_features:
            raise ModelError(
                f"model expects {self.n_features} descriptors per atom, "
                f"got {x.shape[1]}"
            )
        self.check_elements(symbols)
        out: list[np.ndarray] = [np.empty(0)] * len(symbols)
        sigma = np.full(len(symbols), np.nan)
        sym = np.asarray(symbols)
        for s in self.elements:
            rows = np.nonzero(sym == s)[0]
            if rows.size == 0:
                continue
            # one element: all rows, in order, without a copy of x
            a, sg = predict_rows(s, x if rows.size == len(sym) else x[rows])
            if not np.all(np.isfinite(a)):
                bad = int(rows[np.flatnonzero(~np.isfinite(a).all(axis=1))[0]])
                raise ModelError(
                    f"{what} prediction for atom {bad} ({s}) is not finite "
                    "(descriptors far outside the training range?)"
                )
            if sg is not None:
                sigma[rows] = sg
            for r, v in zip(rows, a, strict=True):
                out[r] = v
        return out, sigma

    def predict_element(
        self, symbol: str, x: np.ndarray, method: str = "network"
    ) -> np.ndarray:
        """(M, N) coefficients (Hartree) for M atoms of one element."""
        self.check_elements([symbol])
        em = self.elements[symbol]
        n = len(x)
        if method == "network":
            if len(em.networks) == 1:
                return em.predict_networks(x)[0]
            return self.predict_element_uncertainty(symbol, x)[0]
        if method == "isolated":
            return np.tile(em.isolated, (n, 1))
        if method == "average":
            return np.tile(em.average, (n, 1))
        if method == "ridge":
            return em.ridge.predict(x)
        raise ValueError(f"unknown method {method!r}")

    def predict_members(self, symbol: str, x: np.ndarray) -> np.ndarray:
        """(M, n, N) coefficients (Hartree) of every member for n atoms."""
        self.check_elements([symbol])
        return np.stack(self.elements[symbol].predict_networks(x))

    def predict_members_per_atom(self, symbols, descriptors: np.ndarray) -> np.ndarray:
        """(M, atoms, N) coefficients (Hartree) of every member of the
        ensemble, in atom order (their mean is ``predict``'s network)."""
        m = self.n_members
        flat, _ = self._per_element(
            symbols,
            descriptors,
            lambda s, x: (np.concatenate(self.predict_members(s, x), axis=1), None),
            "member",
        )
        return np.stack([row.reshape(m, -1) for row in flat], axis=1)

    def predict_element_uncertainty(
        self, symbol: str, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean (n, N) and sigma (n,) in Hartree (sigma: predicted
        RMS V(r) error, NaN for a single network)."""
        from pyolcaoml.model.uncertainty import ensemble_moments, sigma_gram

        em = self.elements[symbol]
        x = np.asarray(x, dtype=np.float64)
        members = self.predict_members(symbol, x)
        if members.shape[0] == 1:
            return members[0], np.full(members.shape[1], np.nan)
        gram = sigma_gram(self.metric, em.alphas)
        switched = em.uses_variant(x)
        if not switched.any():
            return ensemble_moments(
                members, gram, em.calibration.scale, em.calibration.floor_hartree
            )
        # the variant's atoms have a calibration of their own
        mean = np.empty(members.shape[1:])
        sigma = np.empty(members.shape[1])
        for rows, cal in (
            (~switched, em.calibration),
            (switched, em.variant_calibration),
        ):
            if rows.any():
                mean[rows], sigma[rows] = ensemble_moments(
                    members[:, rows], gram, cal.scale, cal.floor_hartree
                )
        return mean, sigma

    def predict_uncertainty(
        self, symbols, descriptors: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """A_i per atom (ensemble mean, Hartree) and sigma per atom (Hartree)."""
        return self._per_element(
            symbols, descriptors, self.predict_element_uncertainty, "network"
        )

    def descriptor_calculator(self):
        """The descriptor calculator this model was trained with."""
        try:
            from pyolcaoml.bispectrum import descriptor_from_dict
        except ImportError as exc:  # pragma: no cover - depends on the build
            raise ModelError(f"the bispectrum module is not available: {exc}") from exc
        return descriptor_from_dict(self.descriptor)

    # -- metadata -----------------------------------------------------------
    def metadata(
        self, files: dict[str, list], numpy_file: tuple[str, str] | None = None
    ) -> dict:
        variants = any(em.variant_columns is not None for em in self.elements.values())
        meta = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION_VARIANTS if variants else MODEL_VERSION,
            "descriptor": self.descriptor,
            "n_features": self.n_features,
            "metric": self.metric.to_dict(),
            "elements": {
                s: {
                    "file": files[s][0][0],
                    "sha256": files[s][0][1],
                    "members": [{"file": f, "sha256": h} for f, h in files[s]],
                    "uncertainty": em.calibration.to_dict(),
                    "n_alphas": em.n_alphas,
                    "alphas_bohr2": em.alphas.tolist(),
                    "isolated_coeffs_hartree": em.isolated.tolist(),
                    "average_coeffs_hartree": em.average.tolist(),
                    "isolated_charge_columns": (
                        None
                        if em.charge_columns is None
                        else em.charge_columns.tolist()
                    ),
                    "output_basis": em.basis.to_dict(),
                    "ridge_baseline": em.ridge.to_dict(),
                    **(
                        {
                            "variant": {
                                "columns": [int(c) for c in em.variant_columns],
                                "elements": list(em.variant_elements),
                                "uncertainty": em.variant_calibration.to_dict(),
                                "members": [
                                    {"file": f, "sha256": h}
                                    for f, h in files[variant_key(s)]
                                ],
                            }
                        }
                        if em.variant_columns is not None
                        else {}
                    ),
                }
                for s, em in self.elements.items()
            },
            "training": self.training,
            "metrics": self.metrics,
            "versions": self.versions,
            "n_members": self.n_members,
        }
        if self.applicability is not None:
            meta["applicability"] = self.applicability.to_json()
        if self.handover:
            meta["handover"] = self.handover
        if numpy_file is not None:
            meta["numpy_networks"] = {"file": numpy_file[0], "sha256": numpy_file[1]}
        return meta

    # -- disk ---------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write MODEL/ atomically (temporary directory, then rename)."""
        path = os.path.abspath(os.fspath(path))
        if os.path.exists(path) and not overwrite:
            raise ModelError(f"{path} exists; use --force to replace it")
        from pyolcaoml.outputs import new_directory_mode

        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        mode = new_directory_mode()  # 0777 & ~umask, like mkdir
        tmp = tempfile.mkdtemp(prefix=".olcaoml-model-", dir=parent)
        try:
            from pyolcaoml.model.numpy_networks import (
                NumpyNetwork,
                write_numpy_networks,
            )

            files = {}
            for s, em in self.elements.items():
                for key, nets in _network_sets(s, em):
                    if any(isinstance(net, NumpyNetwork) for net in nets):
                        raise ModelError(
                            "a model loaded without TensorFlow cannot be saved: "
                            "load it with load_model(path, keras=True)"
                        )
                    files[key] = []
                    stem = key.replace("+", "_")
                    for m, net in enumerate(nets):
                        name = f"{stem}.keras" if m == 0 else f"{stem}_{m + 1}.keras"
                        net.save(os.path.join(tmp, name))
                        files[key].append((name, file_sha256(os.path.join(tmp, name))))
            # the same networks as arrays, for prediction without TensorFlow
            npz = write_numpy_networks(
                tmp,
                {
                    key: nets
                    for s, em in self.elements.items()
                    for key, nets in _network_sets(s, em)
                },
            )
            numpy_file = (
                None if npz is None else (npz, file_sha256(os.path.join(tmp, npz)))
            )
            if self.applicability is not None:
                from pyolcaoml.model.applicability import APPLICABILITY_FILE

                self.applicability.save_arrays(os.path.join(tmp, APPLICABILITY_FILE))
            with open(os.path.join(tmp, METADATA_FILE), "w") as f:
                f.write(dumps_metadata(self.metadata(files, numpy_file)))
            os.chmod(tmp, mode)
            if os.path.exists(path):
                old = path + ".old-" + os.path.basename(tmp)
                os.rename(path, old)
                os.rename(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path


def variant_key(symbol: str) -> str:
    """Key of an element's variant networks (files, networks.npz)."""
    return f"{symbol}+variant"


def _network_sets(symbol: str, em: ElementModel) -> list[tuple[str, list[Any]]]:
    sets = [(symbol, em.networks)]
    if em.variant_columns is not None:
        if len(em.variant_members) != len(em.networks):
            raise ModelError(
                f"{symbol}: {len(em.variant_members)} variant networks for "
                f"{len(em.networks)} members"
            )
        sets.append((variant_key(symbol), em.variant_members))
    return sets


_NUMBER_LIST = re.compile(r"\[[-+0-9.eE,\s]*\]")


def dumps_metadata(meta: dict) -> str:
    """JSON with one key per line but every list of numbers on one line."""
    text = json.dumps(meta, indent=1, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text) + "\n"


#: The name that stands for the model bundled with pyolcaoml.
DEFAULT_MODEL = "default"
#: The bundled models by name (folders of pyolcaoml's data): "default", Si
#: only; "sic", Si + C, made by extending "default" (pyolcaoml.model.extend):
#: for structures of Si alone it predicts exactly what "default" does, at
#: about twice the cost (its descriptor has the C components too); "asi",
#: Si only, trained with 30 amorphous cells more, which predicts the
#: structures that "default" hands over (pyolcaoml.model.handover); "sicam",
#: Si + C, the "sic" recipe trained on amorphous SiC cells only, which
#: predicts the structures that "sic" hands over (stop 36).
BUNDLED_MODELS = {
    DEFAULT_MODEL: "default_model",
    "sic": "sic_model",
    "asi": "asi_model",
    "sicam": "sicam_model",
}
#: The thresholds a model may record in its handover entry: the a-Si rule's
#: median sigma (Hartree) and the amorphous SiC rule's median applicability
#: distance (dimensionless); pyolcaoml.model.handover.
HANDOVER_KEYS = ("median_sigma_hartree", "median_domain")


def _positive(value) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and value > 0
    )


def _handover(path, entry) -> dict:
    """model.json's handover entry, checked: a positive, finite threshold
    (``median_sigma_hartree``, Hartree, or ``median_domain``) or no entry at
    all."""
    if entry == {}:
        return {}
    ok = isinstance(entry, dict) and any(k in entry for k in HANDOVER_KEYS)
    if ok:
        ok = all(_positive(entry[k]) for k in HANDOVER_KEYS if k in entry)
    if not ok:
        raise ModelError(
            f"{path}: model.json: handover needs a positive, finite "
            f"'median_sigma_hartree' or 'median_domain' (got {entry!r})"
        )
    return dict(entry)


def bundled_model_path(name: str = DEFAULT_MODEL) -> str:
    """Directory of a model shipped with pyolcaoml (data/default_model,
    data/sic_model)."""
    from pyolcaoml.resources import data_dir

    try:
        return str(data_dir() / BUNDLED_MODELS[name])
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from exc


def resolve_model_path(path: str | os.PathLike | None) -> str:
    """A model directory from a user's argument: ``None`` or a bundled name
    (``"default"``, ``"sic"``, ``"asi"``, ``"sicam"``) is the bundled model
    (unless a folder of that name exists here), else the path."""
    if path is None:
        return bundled_model_path()
    name = os.fspath(path)
    if is_bundled_name(name):
        return bundled_model_path(name)
    return name


def is_bundled_name(model: object) -> bool:
    """``model`` names a bundled model (``"default"``, ``"sic"``,
    ``"asi"``, ``"sicam"``) and no folder of that name is here (a folder
    wins, as on the command line)."""
    if not isinstance(model, str) or model not in BUNDLED_MODELS:
        return False
    return not os.path.isdir(model)


def bundled_model_covering(symbols) -> str | None:
    """The name of the first bundled model (in BUNDLED_MODELS order) that
    has every element of ``symbols``, or None."""
    wanted = set(symbols)
    for name in BUNDLED_MODELS:
        try:
            meta = read_metadata(bundled_model_path(name))
        except ModelError:
            continue
        if wanted <= set(meta.get("elements", {})):
            return name
    return None


def _bundled_hint(symbols) -> str:
    """'; the bundled model NAME has them' when one does, else ''."""
    name = bundled_model_covering(symbols)
    if name is None:
        return ""
    return f"; the bundled model '{name}' has them: give '{name}' as MODEL"


def bundled_alternative(requested: str | os.PathLike | None, symbols) -> str | None:
    """When ``requested`` names the default bundled model (None or
    "default") and it lacks some of the elements of ``symbols`` (a sequence,
    or a callable giving it, called only then): the path of the bundled
    model that has them all, else None."""
    if requested is not None and (
        os.fspath(requested) != DEFAULT_MODEL or os.path.isdir(DEFAULT_MODEL)
    ):
        return None
    name = bundled_model_covering(symbols() if callable(symbols) else symbols)
    return None if name in (None, DEFAULT_MODEL) else bundled_model_path(name)


def read_metadata(path: str | os.PathLike | None) -> dict:
    """The metadata of a saved model directory, validated (``None`` or
    ``"default"``: the bundled model)."""
    path = resolve_model_path(path)
    meta_path = os.path.join(path, METADATA_FILE)
    if os.path.isfile(path):
        raise ModelError(
            f"{path} is a file, not a model directory (a model is a folder "
            f"holding {METADATA_FILE}, written by 'olcaoml train'; "
            f"'{DEFAULT_MODEL}' is the bundled one)"
        )
    if not os.path.isdir(path):
        raise ModelError(
            f"model directory not found: {path} ('{DEFAULT_MODEL}' is the "
            "bundled model)"
        )
    if not os.path.isfile(meta_path):
        raise ModelError(f"{path} is not a pyolcaoml model (no {METADATA_FILE})")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError, RecursionError) as exc:  # also not UTF-8
        raise ModelError(f"cannot read {meta_path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{meta_path} is not pyolcaoml model metadata")
    if meta.get("version") not in READABLE_VERSIONS:
        raise ModelError(
            f"{meta_path}: model format version {meta.get('version')} is not "
            f"supported (this pyolcaoml reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    return meta


def load_model(
    path: str | os.PathLike | None = DEFAULT_MODEL,
    networks: bool = True,
    keras: bool = False,
) -> PotentialModel:
    """Load MODEL/ (``networks=False``: metadata and baselines only).

    ``"default"`` (or ``None``) loads the model bundled with pyolcaoml.
    The networks come from the model's arrays (networks.npz, no TensorFlow;
    see :mod:`pyolcaoml.model.numpy_networks`) when it has them, else from
    the Keras files; ``keras=True`` always gives Keras models (to use
    them with Keras, or to save the model): the Keras files, or, in a
    folder that has none of them (the bundled models of an installed
    wheel), networks built from the arrays with the same weights.
    """
    path = os.path.abspath(resolve_model_path(path))
    meta = read_metadata(path)
    try:
        elements = {}
        for s, e in meta["elements"].items():
            charges = e.get("isolated_charge_columns")
            elements[s] = ElementModel(
                symbol=s,
                alphas=np.asarray(e["alphas_bohr2"], dtype=np.float64),
                basis=OutputBasis.from_dict(e["output_basis"]),
                ridge=RidgeBaseline.from_dict(e["ridge_baseline"]),
                charge_columns=None if charges is None else np.asarray(charges, float),
                calibration=Calibration.from_dict(e.get("uncertainty", {})),
            )
            if "variant" in e:
                elements[s].variant_columns = _variant_columns(
                    path, s, e["variant"], int(meta["n_features"])
                )
                elements[s].variant_elements = [
                    str(v) for v in e["variant"].get("elements", [])
                ]
                elements[s].variant_calibration = Calibration.from_dict(
                    e["variant"].get("uncertainty", {})
                )
        model = PotentialModel(
            descriptor=meta["descriptor"],
            n_features=int(meta["n_features"]),
            elements=elements,
            metric=RadialMetric.from_dict(meta.get("metric", {})),
            training=meta.get("training", {}),
            metrics=meta.get("metrics", {}),
            versions=meta.get("versions", {}),
            path=path,
            ensemble_size=int(meta.get("n_members", 1)),
            handover=_handover(path, meta.get("handover", {})),
        )
        if "applicability" in meta:
            from pyolcaoml.model.applicability import Applicability

            model.applicability = Applicability.load(path, meta["applicability"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: incomplete model metadata ({exc})") from exc
    if not networks:
        return model
    _check_entries(path, meta)  # the Keras files' entries, whichever is read
    has_arrays = isinstance(meta.get("numpy_networks"), dict)
    if has_arrays and (not keras or _keras_files_absent(path, meta)):
        # the arrays (no TensorFlow); with keras=True and no Keras file at
        # all (a bundled model in an installed wheel), Keras networks built
        # from the same arrays
        for s, key, nets in _numpy_network_sets(path, meta):
            if keras:
                from pyolcaoml.model.numpy_networks import keras_network

                nets = [keras_network(net.exported, f"olcaoml_{s}") for net in nets]
            _attach(model.elements[s], key != s, nets)
        return model
    for s, e in meta["elements"].items():
        entries = e.get("members") or [e]
        nets = [_load_network(path, {**e, **m}) for m in entries]
        _attach(model.elements[s], False, nets)
        if "variant" in e:
            nets = [_load_network(path, {**e, **m}) for m in e["variant"]["members"]]
            _attach(model.elements[s], True, nets)
    return model


def _keras_entries(meta: dict) -> list[dict]:
    """model.json's entry (file, sha256, ...) of every Keras file."""
    out = []
    for e in meta["elements"].values():
        out += [{**e, **m} for m in e.get("members") or [e]]
        out += [{**e, **m} for m in (e.get("variant") or {}).get("members") or []]
    return out


def _keras_files_absent(path: str, meta: dict) -> bool:
    """No Keras file that model.json lists exists (a model shipped with its
    arrays only). Some present and some absent is damage: False here, and
    the Keras loader then names the missing file. The entries are checked
    (:func:`_check_entries`) before."""
    return not any(
        os.path.lexists(_network_file(path, e)) for e in _keras_entries(meta)
    )


def _numpy_network_sets(path: str, meta: dict) -> list[tuple[str, str, list[Any]]]:
    """(element, key, networks) of networks.npz, checked: its sha256, the
    member counts and every network's widths."""
    from pyolcaoml.model.numpy_networks import load_numpy_networks

    entry = meta["numpy_networks"]
    file = _network_file(path, entry)
    _check_file(file, entry)
    counts = {s: len(e.get("members") or [e]) for s, e in meta["elements"].items()}
    for s, e in meta["elements"].items():
        if "variant" in e:
            counts[variant_key(s)] = len(e["variant"]["members"])
    loaded = load_numpy_networks(file, counts)
    out = []
    for s in meta["elements"]:
        for key in (s, variant_key(s)):
            if key not in loaded:
                continue
            for net in loaded[key]:
                _check_network(file, net.exported.mean.shape[0], net.n_out, meta, s)
            out.append((s, key, loaded[key]))
    return out


#: Bundled models loaded by :func:`load_bundled_model`, by (path, networks).
_BUNDLED_CACHE: dict[tuple[str, bool], tuple[tuple, PotentialModel]] = {}


def _folder_stamp(path: str) -> tuple:
    """(name, size, mtime) of every file of a model folder: a file that is
    replaced, rewritten or added changes it."""
    stamp = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file():
            st = entry.stat()
            stamp.append((entry.name, st.st_size, st.st_mtime_ns))
    return tuple(stamp)


def load_bundled_model(
    name: str | os.PathLike = DEFAULT_MODEL, networks: bool = True
) -> PotentialModel:
    """A model shipped with pyolcaoml (``"default"``, ``"sic"``, ``"asi"``,
    ``"sicam"``, or its folder), loaded once per process and then reused (a
    load, about 0.05-0.1 s, saved on every ``pyolcaoml.predict`` call). It
    is loaded again when any file of its folder changes (size or
    modification time). The object is shared: copy it before changing it."""
    path = os.path.abspath(resolve_model_path(name))
    key = (path, bool(networks))
    try:
        stamp = _folder_stamp(path)
    except OSError:
        stamp = ()  # load_model names the missing folder
    hit = _BUNDLED_CACHE.get(key)
    if hit is not None and stamp and hit[0] == stamp:
        return hit[1]
    model = load_model(path, networks=networks)
    if stamp:
        _BUNDLED_CACHE[key] = (stamp, model)
    return model


def _attach(em: ElementModel, variant: bool, nets: list[Any]) -> None:
    if variant:
        if len(nets) != len(em.networks):
            raise ModelError(
                f"{em.symbol}: {len(nets)} variant networks for "
                f"{len(em.networks)} members"
            )
        em.variant_members = nets
        return
    em.network = nets[0]
    em.members = nets if len(nets) > 1 else []


def _variant_columns(path: str, symbol: str, entry: Any, n_features: int) -> np.ndarray:
    cols = entry.get("columns") if isinstance(entry, dict) else None
    members = entry.get("members") if isinstance(entry, dict) else None
    ok = (
        isinstance(cols, list)
        and cols
        and all(isinstance(c, int) and 0 <= c < n_features for c in cols)
        and all(a < b for a, b in zip(cols, cols[1:], strict=False))
        and isinstance(members, list)
        and members
    )
    if not ok:
        raise ModelError(
            f"{path}: model.json: element {symbol}'s variant needs 'columns' "
            f"(increasing descriptor columns in 0..{n_features - 1}) and "
            "'members' (its network files)"
        )
    return np.asarray(cols, dtype=np.int64)


def _check_entries(path: str, meta: dict) -> None:
    """Every network file entry of model.json follows the rules of
    :func:`_network_file`; the element's own file/sha256 (what a format-1
    reader uses) is held to the same rules and must name the first member."""
    for s, e in meta["elements"].items():
        _network_file(path, e)
        first = {**e, **(e.get("members") or [e])[0]}
        if (e["file"], e["sha256"]) != (first["file"], first["sha256"]):
            raise ModelError(
                f"{path}: model.json: element {s}'s file/sha256 "
                f"({e['file']!r}) differ from its first member's "
                f"({first['file']!r})"
            )
    for entry in _keras_entries(meta):
        _network_file(path, entry)


def _network_file(path: str, entry: dict) -> str:
    """The network file named by ``entry``, confined to the model directory.

    model.json comes with the model: it must not make us read (and run,
    with Keras) a file elsewhere, so an absolute name, ``..`` or a symbolic
    link that leads out of the directory is refused.  The file's sha256 is
    required, and checked before the file is opened."""
    name = entry.get("file")
    if not isinstance(name, str) or not name or os.path.isabs(name):
        raise ModelError(
            f"{path}: model.json must name each network file relative to the "
            f"model directory, got {name!r}"
        )
    root = os.path.realpath(path)
    file = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, file]) != root or file == root:
        raise ModelError(
            f"{path}: network file {name!r} lies outside the model directory"
        )
    digest = entry.get("sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ModelError(
            f"{path}: model.json has no valid sha256 for {name!r} (required, "
            "to detect a damaged or replaced network file)"
        )
    return file


def _check_file(file: str, entry: dict) -> None:
    """The file exists and has the sha256 that model.json records."""
    if not os.path.isfile(file):
        raise ModelError(f"model file missing: {file}")
    digest = file_sha256(file)
    if digest != entry["sha256"]:
        raise ModelError(
            f"model file {file} is corrupted or was changed "
            f"(sha256 {digest[:12]}..., metadata says {entry['sha256'][:12]}...)"
        )


def _check_network(file: str, n_in: int, n_out: int, meta: dict, s: str) -> None:
    """A network's input and output widths against model.json."""
    want_in, want_out = (
        int(meta["n_features"]),
        len(meta["elements"][s]["alphas_bohr2"]),
    )
    if (n_in, n_out) != (want_in, want_out):
        raise ModelError(
            f"{file}: network {s} maps {n_in} descriptors to {n_out} "
            f"coefficients, the model says {want_in} -> {want_out}"
        )


def _load_network(path: str, entry: dict) -> Any:
    file = _network_file(path, entry)
    _check_file(file, entry)
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    try:
        net = keras.saving.load_model(file, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for a bad archive
        raise ModelError(f"cannot load model file {file}: {exc}") from exc
    n = len(entry["alphas_bohr2"])
    if net.output_shape[-1] != n:
        raise ModelError(
            f"{file}: network has {net.output_shape[-1]} outputs, expected {n}"
        )
    return net
