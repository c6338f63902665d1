"""Export a trained model as a portable text file for the Fortran library.

``olcaoml export MODEL -o model.oml`` writes everything libolcaoml needs to
predict potential coefficients without Python or TensorFlow: the descriptor
settings, and per element the exponents, the isolated-atom baseline, the
charge columns written to scfV.dat, the input normalisation and every Dense
layer.  The Fortran reader is ``fortran/core/OML_Model.f90``.

File format, version 1
----------------------
Plain ASCII, one keyword per line, numbers after the keyword on the same
line or (for arrays) on the following lines, any number per line (the
writer puts four).  Lines starting with ``#`` and blank lines are comments
wherever a keyword is expected.  Reals are written with 17 significant
digits (``%.16e``), so that they read back to the same binary value::

    OLCAOML_MODEL 1                        magic word, format version
    CREATOR pyolcaoml 0.1.0                free text
    LENGTH_UNIT angstrom                   unit of the radii below
    DESCRIPTOR_ELEMENTS 1                  n, then n lines:
    Si 2.35e+00 1.0e+00                      symbol, radius (Å), weight
    DESCRIPTOR_BLOCKS 1                    m, then m lines (one per scale):
    BISPECTRUM 8 1.0 0.99363 0.0 1 0 0 0 0   twojmax rcutfac rfac0 rmin0
                                             switch bzero bnorm wselfall chem
    NUM_FEATURES 55                        K, the descriptor length
    NUM_NETWORKS 1                         p, then p blocks:
    NETWORK Si
    NUM_ALPHAS 16                          N
    ALPHAS                                 N exponents (Bohr⁻²)
    ISOLATED_COEFFS                        N isolated-atom A_i (Hartree)
    CHARGE_COLUMNS                         N x 3: scfV.dat columns 3-5 per term
    NORMALIZATION normalization 1e-07      name of the normalised input, and
                                           Keras' epsilon
    MEAN                                   K values
    VARIANCE                               K values
    NUM_LAYERS 6                           L, then L layers in an order in
                                           which every input comes first:
    DENSE hidden_1 normalization 55 32 tanh  name, input, inputs, outputs,
    WEIGHTS                                activation; WEIGHTS: the Keras
                                           kernel (inputs x outputs) row by
                                           row: for each input its weights
                                           to all outputs (= Fortran
                                           weights(numOut, numIn))
    BIAS                                   outputs values
    ...
    ADD latent 16 2 linear nonlinear       name, width, number of inputs,
                                           their names: the sum
    DENSE coefficients latent 16 16 linear the last layer gives A (Hartree):
    ...                                    here the fixed output map
    END_NETWORK                            A = A_iso + mu + B z
    END

The network computes ``u = (x - MEAN) / max(sqrt(VARIANCE), eps)``, then each
layer in turn: ``DENSE``: ``act(W in + b)``, ``ADD``: the sum of its inputs;
the last layer's output is A_i in Hartree.  (pyolcaoml's networks are a
Dense chain, optionally with a linear Dense branch from ``u`` added to the
latent layer: the ridge skip connection.)  Activations:
linear, tanh, relu, silu, sigmoid, softplus, gelu (the exact erf form, Keras'
default).  Descriptor element order is the descriptor's (radii) order; the
descriptor settings are in Å, the library converts the Bohr it is given.

File format, version 2 (ensembles)
----------------------------------
A model of M > 1 networks per element (``olcaoml train --ensemble M``) is
written as version 2; a single network stays version 1 (which every
library reads).  Version 2 adds, after ``NUM_FEATURES``::

    NUM_MEMBERS 5                          M networks per element
    NUM_NETWORKS 5                         all of them (elements x M); the
    NETWORK Si ... END_NETWORK             k-th block of an element is
    ...                                    its member k

and after the networks one block per element::

    UNCERTAINTY Si
    SIGMA_SCALE 2.1e+00                    sigma = sqrt((scale s)^2 + floor^2),
    SIGMA_FLOOR 1.0e-04                    s^2 the members' spread in the
    GRAM                                   V(r) metric: N x N Gram matrix
                                           (RadialMetric.gram), Hartree

The library's prediction is the members' mean; ``olcaoml_predict_ensemble``
also returns each atom's sigma (fortran/core/OML_Ensemble.f90).
``export_model(..., member=k)`` writes member k alone as a version 1 file.

File format, version 3 (environment variants)
---------------------------------------------
A model with an environment variant (``olcaoml train --extend MODEL
--extend-variant``: e.g. the Si networks of the Si model kept for Si atoms
without a C neighbour, and a new Si network for those with one) is written
as version 3: version 1 or 2 (``NUM_MEMBERS`` present for an ensemble),
and right after the ordinary ``NETWORK`` blocks (which ``NUM_NETWORKS``
still counts alone)::

    NUM_VARIANTS 1                         v variant blocks
    VARIANT Si                             the element it serves
    SWITCH_COLUMNS 1155                    n, then n 1-based descriptor
    166 167 168 ...                        columns, increasing
    NETWORK Si ... END_NETWORK             one per member (k-th: member k),
    ...                                    same exponents as the element's
    END_VARIANT

An atom of the element uses the variant's networks when any of its
descriptors in ``SWITCH_COLUMNS`` is not zero (for Si: a C neighbour within
the Si-C cutoff), else the element's own. In an ensemble, the element's
``UNCERTAINTY`` block ends with the calibration of the variant's atoms
(``SIGMA_SCALE``/``SIGMA_FLOOR`` serve the element's other atoms)::

    VARIANT_SIGMA_SCALE 1.9e+00
    VARIANT_SIGMA_FLOOR 4.1e-03

A model without a variant is written as before.

File format, version 4 (neighbour mean)
---------------------------------------
A model whose descriptor is a :class:`pyolcaoml.neighbour_mean.NeighbourMean`
is written as version 4: the rules of version 3 (``NUM_MEMBERS`` for an
ensemble), ``NUM_VARIANTS`` only when an element has a variant, and after
the ``BISPECTRUM`` lines::

    NEIGHBOUR_MEAN 2.4e+00 2.8e+00         r_inner r_outer (Å): the blocks'
                                           columns of each atom, averaged
                                           over its neighbours with a cosine
                                           switch from r_inner to r_outer,
                                           follow its own (NUM_FEATURES
                                           counts both)

(fortran/core/OML_NeighbourMean.f90).  Every other model is written as
before, so older libraries still read it.

File format, version 5 (a switching range per element pair)
-----------------------------------------------------------
A neighbour mean whose ``pairs`` set element pairs apart is written as
version 5: version 4 with, after ``NEIGHBOUR_MEAN`` (whose range serves every
other pair), the pairs' own ranges::

    NEIGHBOUR_MEAN_PAIRS 2
    Si C 2.25e+00 2.45e+00                 A B r_inner r_outer (Å): the
    C C 1.85e+00 2.0e+00                   range of A-B and of B-A

A neighbour mean without ``pairs`` is still written as version 4.

File format, version 6 (repeated neighbour means)
-------------------------------------------------
A neighbour mean with ``hops`` > 1 is written as version 6: version 5 with,
after the ``NEIGHBOUR_MEAN`` record and the pairs' ranges (if any)::

    NEIGHBOUR_MEAN_HOPS 2                  the averaging repeated: each hop's
                                           means, averaged once more, follow
                                           (NUM_FEATURES = (hops + 1) x the
                                           blocks' columns)

A neighbour mean of one hop is still written as version 4 or 5.

File format, version 7 (the handover threshold)
-----------------------------------------------
An ensemble whose model.json records a ``handover`` entry (the bundled
default Si model: :mod:`pyolcaoml.model.handover`) is written as version 7:
the rules of the version it would otherwise get (1-6; ``NUM_MEMBERS``,
``NEIGHBOUR_MEAN``, its pairs and hops and ``NUM_VARIANTS`` where present)
and, as the last record before ``END``::

    HANDOVER_MEDIAN_SIGMA 3.3409e-03       the threshold (Hartree): a
                                           structure of Si alone whose
                                           median sigma over its atoms
                                           exceeds it is amorphous, and is
                                           predicted by the a-Si model
                                           (olcaoml export asi -o asi.oml)

written like every real (``%.16e``), so that the library reads back
model.json's double (``olcaoml_model_handover_threshold``).  Only an
ensemble has sigma: a single network (``member=k``, or a model of one
network per element) is written without the record, as its version 1-6
file, even when the model has the entry.  A model without the entry is
written as before, so older libraries still read it.

File format, version 8 (the expected OLCAO iterations)
------------------------------------------------------
An ensemble whose directory holds a usable ``olcao_iterations.json`` (the
reference OLCAO runs of :mod:`pyolcaoml.model.olcao_iterations`, as the
bundled models have) is written as version 8: the rules of
the version it would otherwise get (1-7), the ``HANDOVER_MEDIAN_SIGMA``
record now optional (the ``sic`` model has none), and, as the last
records before ``END``, the fit that ``olcaoml predict`` prints its
"OLCAO from this start: about N iterations" line from::

    EXPECTED_ITERATIONS log_max_sigma 52 0 1.0e-04
                                           predictor (log_max_sigma,
                                           log_max_sigma_log_atoms or
                                           constant), reference runs, how
                                           many of them never reached the
                                           convergence value (OLCAO's
                                           CONVERGENCE_TEST, in (0, 1))
    ITERATIONS_FIT a b c qLow qHigh        iterations from the model's
                                           start: (a + b ln sigma) +
                                           c ln(atoms), its 80 % range that
                                           plus qLow and plus qHigh
    DEFAULT_ITERATIONS_FIT a b c qLow qHigh
                                           the same from OLCAO's default
                                           start; only where enough of
                                           those runs converged
    ITERATIONS_DOMAIN 3.0e-04 4.2e-03 8 17 1 0
                                           the reference runs' largest
                                           sigma (Hartree, min max) and
                                           atoms (min max); then whether
                                           the sigma range and the atoms
                                           range apply (1/0): the sigma
                                           range for the two sigma
                                           predictors, the atoms range for
                                           every predictor (until stop 42:
                                           log_max_sigma_log_atoms only)

sigma is the largest over the structure's atoms of the ensemble's sigma
(OLCAO's convergence value is a maximum over the potential sites, so the
worst-predicted atom sets it); each count is rounded as
``max(1, floor(x + 0.5))``, and a structure outside an applying range is
extrapolated (:class:`~pyolcaoml.model.olcao_iterations.IterationFit`,
``IterationEstimate.extrapolated``).  The library evaluates the same
doubles in the same order (``olcaoml_expected_iterations``), so it gives
the integers Python gives.  A single network, a model without the file,
and one whose file has too few converged runs are written as before; a
stale or damaged file (:class:`~pyolcaoml.model.errors.ModelError`, or a
fit that is not finite) is left out with a warning
(:attr:`ExportSummary.warnings`; ``olcaoml export`` prints it), never an
error.

File format, version 9 (iteration groups)
------------------------------------------
A reference that declares groups of structures recognised from the
geometry (version 2 of ``olcao_iterations.json``; the Si vacancy in SiC,
stop 55) is written as version 9: version 8, whose block above now holds
the general cells only, followed by::

    ITERATION_GROUPS 1                     how many groups (1-8)
    ITERATION_GROUP si_vacancy C 3 2.45 3 Si 28 0
                                           name, element, neighbours,
                                           cutoff (LENGTH_UNIT), least
                                           atoms, required element (- for
                                           none), reference runs, how many
                                           never reached the value
    ITERATIONS_FIT ...                     as in version 8, for the group
    DEFAULT_ITERATIONS_FIT ...             (optional)
    ITERATIONS_DOMAIN ...

a structure is in the first group in which at least ``least atoms`` atoms
of ``element`` have exactly ``neighbours`` neighbours (any element, every
periodic image) closer than the cutoff, in a structure that holds the
required element; else in none (the version 8 block).
``olcaoml_iteration_group`` says which, ``olcaoml_expected_iterations_in_group``
evaluates its fit the way Python's
:meth:`~pyolcaoml.model.olcao_iterations.IterationReference.estimate` does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_MAGIC",
    "FORMAT_VERSION",
    "FORMAT_VERSION_HANDOVER",
    "FORMAT_VERSION_ITERATIONS",
    "FORMAT_VERSION_ITERATION_GROUPS",
    "ACTIVATIONS",
    "Layer",
    "ExportError",
    "ExportSummary",
    "ExportedNetwork",
    "export_model",
    "format_model",
    "network_from_keras",
]

FORMAT_MAGIC = "OLCAOML_MODEL"
FORMAT_VERSION = 2
#: The version written when an element has an environment variant.
FORMAT_VERSION_VARIANTS = 3
#: The version written for a single network (readable by older libraries).
FORMAT_VERSION_SINGLE = 1
#: The version written when the descriptor has a neighbour mean.
FORMAT_VERSION_NEIGHBOUR_MEAN = 4
#: The version written when the neighbour mean sets element pairs apart.
FORMAT_VERSION_NEIGHBOUR_PAIRS = 5
#: The version written when the neighbour mean is repeated (hops > 1).
FORMAT_VERSION_NEIGHBOUR_HOPS = 6
#: The version written when an ensemble records its handover threshold.
FORMAT_VERSION_HANDOVER = 7
#: The version written when an ensemble carries its expected OLCAO
#: iterations.
FORMAT_VERSION_ITERATIONS = 8
#: The version written when those iterations have groups recognised from
#: the geometry (the newest: what the library reads).
FORMAT_VERSION_ITERATION_GROUPS = 9
#: Activations the Fortran forward pass implements (Keras names).
ACTIVATIONS = ("linear", "tanh", "relu", "silu", "sigmoid", "softplus", "gelu")
#: Relative agreement demanded between Keras and the exported layers when the
#: exporter checks its own work.  Not round-off level on purpose: TensorFlow's
#: float64 kernel of the exact gelu differs from 0.5 x (1 + erf(x/sqrt 2)) by
#: up to ~4e-9 (absolute, |x| ~ 1), while a misread graph is off by O(1).
SELF_CHECK_RTOL = 1e-7
VALUES_PER_LINE = 4


class ExportError(ValueError):
    """The model cannot be exported (unsupported layer, inconsistent data)."""


@dataclass
class Layer:
    """One layer of the exported graph.

    ``kind`` 'dense': out = act(in @ kernel + bias), kernel (n_in, n_out) as
    Keras stores it, one input; 'add': the sum of its inputs.  ``inputs``
    are names of earlier layers or of the normalisation.
    """

    kind: str
    name: str
    inputs: list[str]
    width: int
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    activation: str = "linear"

    @property
    def n_in(self) -> int:
        return 0 if self.kernel is None else int(self.kernel.shape[0])


@dataclass
class ExportedNetwork:
    """The plain-array form of one element's Keras network."""

    norm_name: str
    mean: np.ndarray
    variance: np.ndarray
    epsilon: float
    layers: list[Layer]

    @property
    def n_out(self) -> int:
        return self.layers[-1].width

    def forward(self, x: np.ndarray) -> np.ndarray:
        """NumPy forward pass (rows are atoms), used to check the export:
        :func:`pyolcaoml.model.network.forward_from_layers`, the pass that
        prediction runs."""
        from pyolcaoml.model.network import forward_from_layers

        return forward_from_layers(self)(x)


def _activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "silu":
        return z / (1.0 + np.exp(-z))
    if name == "softplus":
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    if name == "gelu":
        erf = np.vectorize(math.erf, otypes=[np.float64])
        return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))
    raise ExportError(f"activation {name!r} is not supported ({ACTIVATIONS})")


# -- reading the Keras network ----------------------------------------------------
def _activation_name(layer: Any) -> str:
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ExportError(f"layer {layer.name!r}: activation {fn!r} has no name")
    if name == "swish":
        name = "silu"
    if name not in ACTIVATIONS:
        raise ExportError(
            f"layer {layer.name!r}: activation {name!r} is not supported by the "
            f"Fortran library (supported: {', '.join(ACTIVATIONS)})"
        )
    if name == "gelu":
        import inspect

        default = inspect.signature(fn).parameters.get("approximate")
        if default is None or default.default is not False:
            raise ExportError(
                f"layer {layer.name!r}: only the exact (erf) gelu is supported"
            )
    return name


def _source_names(layer: Any) -> list[str]:
    """Names of the layers whose outputs feed ``layer`` (Keras 3)."""
    inputs = layer.input
    tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    names = []
    for t in tensors:
        history = getattr(t, "_keras_history", None)
        if history is None:
            raise ExportError(f"layer {layer.name!r}: cannot follow its inputs")
        names.append(history.operation.name)
    return names


def _word(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "/" in name or "," in name:
        raise ExportError(f"layer name {name!r} must be one word without / or ,")
    return name


def network_from_keras(net: Any) -> ExportedNetwork:
    """Read a Keras network made of Normalization, Dense and Add layers.

    The graph starts at one Normalization of the input; every other layer is
    Dense (with a supported activation) or Add; the last layer gives the
    output.  Anything else (other layer types, shared layers, an inverted
    normalisation) raises :class:`ExportError`.  The result is checked against
    Keras on random inputs, so a graph this reader misunderstands cannot be
    exported silently.
    """
    from pyolcaoml.model.numpy_networks import NumpyNetwork

    if isinstance(net, NumpyNetwork):  # already plain layers (checked when saved)
        return net.exported
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    layers = [
        layer for layer in net.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    if not layers or not isinstance(layers[0], keras.layers.Normalization):
        raise ExportError("the network must begin with a Normalization layer")
    norm = layers[0]
    if getattr(norm, "invert", False):
        raise ExportError("an inverted Normalization layer is not supported")
    mean = np.asarray(norm.mean, dtype=np.float64).reshape(-1)
    variance = np.asarray(norm.variance, dtype=np.float64).reshape(-1)
    if mean.shape != variance.shape:
        raise ExportError("Normalization mean and variance differ in shape")
    width = {_word(norm.name): int(mean.shape[0])}
    out: list[Layer] = []
    for layer in layers[1:]:
        if len(getattr(layer, "_inbound_nodes", [])) > 1:
            raise ExportError(f"layer {layer.name!r} is used more than once")
        name = _word(layer.name)
        sources = _source_names(layer)
        unknown = [n for n in sources if n not in width]
        if unknown:
            raise ExportError(
                f"layer {name!r} reads {unknown}, which is not an earlier "
                "Normalization, Dense or Add layer"
            )
        if isinstance(layer, keras.layers.Dense):
            weights = layer.get_weights()
            kernel = np.asarray(weights[0], dtype=np.float64)
            bias = (
                np.asarray(weights[1], dtype=np.float64)
                if len(weights) > 1
                else np.zeros(kernel.shape[1])
            )
            if len(sources) != 1 or kernel.ndim != 2:
                raise ExportError(f"layer {name!r}: a Dense layer has one input")
            if kernel.shape[0] != width[sources[0]]:
                raise ExportError(
                    f"layer {name!r} takes {kernel.shape[0]} inputs, "
                    f"{sources[0]!r} gives {width[sources[0]]}"
                )
            act = _activation_name(layer)
            out.append(
                Layer("dense", name, sources, kernel.shape[1], kernel, bias, act)
            )
        elif isinstance(layer, keras.layers.Add):
            widths = {width[n] for n in sources}
            if len(sources) < 2 or len(widths) != 1:
                raise ExportError(
                    f"layer {name!r}: Add needs two or more inputs of one width"
                )
            out.append(Layer("add", name, sources, widths.pop()))
        else:
            raise ExportError(
                f"layer {name!r} ({type(layer).__name__}) is not supported: only "
                "Normalization, Dense and Add layers can be exported"
            )
        width[name] = out[-1].width
    if not out:
        raise ExportError("the network has no Dense layer")
    outputs = getattr(net, "outputs", None) or []
    if len(outputs) != 1 or outputs[0]._keras_history.operation.name != out[-1].name:
        raise ExportError("the network's single output must be its last layer")
    exported = ExportedNetwork(
        norm.name, mean, variance, float(keras.config.epsilon()), out
    )
    _self_check(net, exported)
    return exported


def _self_check(net: Any, exported: ExportedNetwork) -> None:
    rng = np.random.default_rng(12345)
    scale = np.maximum(np.sqrt(exported.variance), exported.epsilon)
    x = exported.mean + scale * rng.standard_normal((8, exported.mean.shape[0]))
    want = np.asarray(net(x, training=False), dtype=np.float64)
    got = exported.forward(x)
    if want.shape != got.shape:
        raise ExportError(
            f"the network gives shape {want.shape}, its layers give {got.shape}: "
            "it is not a plain Normalization -> Dense stack"
        )
    tol = SELF_CHECK_RTOL * max(float(np.abs(want).max()), 1e-300)
    if float(np.abs(want - got).max()) > tol:
        raise ExportError(
            "the network's output differs from its exported layers: it is not a "
            "plain Normalization -> Dense stack"
        )


# -- writing ------------------------------------------------------------------------
def _real(x: float) -> str:
    return f"{float(x):.16e}"


def _array_lines(key: str, values: np.ndarray) -> list[str]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ExportError(f"{key}: the model holds NaN or infinite numbers")
    flat = [_real(v) for v in arr]
    return [key] + [
        " ".join(flat[i : i + VALUES_PER_LINE])
        for i in range(0, len(flat), VALUES_PER_LINE)
    ]


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _descriptor_members(calc: Any) -> list[Any]:
    return list(getattr(calc, "members", [calc]))


def _charge_columns(model: Any, symbol: str) -> np.ndarray:
    """Columns 3-5 that Python's predict writes beside the coefficients."""
    em = model.elements[symbol]
    try:
        from pyolcaoml.model.workflow import charge_columns
    except ImportError:  # pragma: no cover - depends on the model package
        charge_columns = None
    if charge_columns is not None:
        cols = np.asarray(charge_columns(model, symbol), dtype=np.float64)
    elif em.charge_columns is not None:  # pragma: no cover
        cols = np.asarray(em.charge_columns, dtype=np.float64)
    else:  # pragma: no cover
        cols = np.zeros((em.n_alphas, 3))
    if cols.shape != (em.n_alphas, 3):
        raise ExportError(
            f"{symbol}: charge columns have shape {cols.shape}, expected "
            f"({em.n_alphas}, 3)"
        )
    return cols


def format_model(
    model: Any,
    source: str | None = None,
    member: int | None = None,
    notes: list[str] | None = None,
) -> str:
    """The text of the exported model (a loaded :class:`PotentialModel`).

    An ensemble is written as format version 2 (all members and the
    uncertainty calibration); ``member`` (0-based) writes that member alone
    as version 1.  An ensemble with a handover threshold (``model.handover``)
    is written as version 7, and one whose directory has a usable reference
    of OLCAO runs (``olcao_iterations.json``) as version 8; a single network
    leaves both out.  A stale or damaged reference is left out with a
    warning: appended to ``notes`` when given, else a :class:`UserWarning`.
    """
    from pyolcaoml import __version__
    from pyolcaoml.bispectrum import descriptor_from_dict
    from pyolcaoml.model.uncertainty import sigma_gram

    calc = descriptor_from_dict(model.descriptor)
    if calc.n_features != model.n_features:
        raise ExportError(
            f"descriptor settings give {calc.n_features} features, the model "
            f"expects {model.n_features}"
        )
    elements: Sequence[str] = calc.elements
    unknown = [s for s in model.elements if s not in elements]
    if unknown:
        raise ExportError(
            f"element(s) {unknown} have a network but no descriptor radius"
        )
    calc_blocks = getattr(calc, "inner", calc)  # a NeighbourMean's: inner's
    neighbour_mean = calc_blocks is not calc
    base = calc_blocks.base if hasattr(calc_blocks, "base") else calc_blocks
    n_members = max(len(em.networks) for em in model.elements.values())
    if member is not None and not 0 <= member < n_members:
        raise ExportError(f"member {member} does not exist ({n_members} members)")
    ensemble = member is None and n_members > 1
    version = FORMAT_VERSION if ensemble else FORMAT_VERSION_SINGLE
    order_all = [s for s in elements if s in model.elements]
    with_variant = [
        s for s in order_all if model.elements[s].variant_columns is not None
    ]
    if with_variant:
        version = FORMAT_VERSION_VARIANTS
    if neighbour_mean:
        version = FORMAT_VERSION_NEIGHBOUR_MEAN
        if calc.pairs:
            version = FORMAT_VERSION_NEIGHBOUR_PAIRS
        if calc.hops > 1:
            version = FORMAT_VERSION_NEIGHBOUR_HOPS
    # only an ensemble has the sigma that the threshold is about
    handover = _handover_threshold(model) if ensemble else None
    if handover is not None:
        version = FORMAT_VERSION_HANDOVER
    iterations = _iterations_lines(model, notes) if ensemble else []
    if iterations:
        version = FORMAT_VERSION_ITERATIONS
        if any(line.startswith("ITERATION_GROUPS ") for line in iterations):
            version = FORMAT_VERSION_ITERATION_GROUPS
    lines = [
        f"{FORMAT_MAGIC} {version}",
        f"CREATOR pyolcaoml {__version__}",
        "# pyolcaoml model for libolcaoml; format: pyolcaoml/export.py",
    ]
    if source:
        lines.append(f"# exported from {source}")
    lines += [
        "# descriptor radii in Angstrom, exponents in Bohr^-2, A_i in Hartree",
        "LENGTH_UNIT angstrom",
        f"DESCRIPTOR_ELEMENTS {len(elements)}",
    ]
    for s in elements:
        lines.append(f"{s} {_real(base.radii[s])} {_real(base.weights[s])}")
    members = _descriptor_members(calc_blocks)
    lines.append(f"DESCRIPTOR_BLOCKS {len(members)}")
    for m in members:
        flags = (m.switch, m.bzero, m.bnorm, m.wselfall, m.chem)
        lines.append(
            f"BISPECTRUM {m.twojmax} {_real(m.rcutfac)} {_real(m.rfac0)} "
            f"{_real(m.rmin0)} " + " ".join(_flag(f) for f in flags)
        )
    if neighbour_mean:
        lines.append(f"NEIGHBOUR_MEAN {_real(calc.r_inner)} {_real(calc.r_outer)}")
        if calc.pairs:
            lines.append(f"NEIGHBOUR_MEAN_PAIRS {len(calc.pairs)}")
            for name, (r_in, r_out) in calc.pairs.items():
                a, b = name.split("-")
                lines.append(f"{a} {b} {_real(r_in)} {_real(r_out)}")
        if calc.hops > 1:
            lines.append(f"NEIGHBOUR_MEAN_HOPS {calc.hops}")
    lines.append(f"NUM_FEATURES {model.n_features}")
    order = [s for s in elements if s in model.elements]
    if ensemble:
        for s in order:
            if len(model.elements[s].networks) != n_members:
                raise ExportError(f"{s}: not {n_members} members like the rest")
        lines.append(f"NUM_MEMBERS {n_members}")
        lines.append(f"NUM_NETWORKS {len(order) * n_members}")
        for k in range(n_members):
            for s in order:
                lines += _network_lines(model, s, k)
        lines += _variant_lines(model, with_variant, range(n_members))
        for s in order:
            em = model.elements[s]
            lines.append(f"UNCERTAINTY {s}")
            lines.append(f"SIGMA_SCALE {_real(em.calibration.scale)}")
            lines.append(f"SIGMA_FLOOR {_real(em.calibration.floor_hartree)}")
            lines += _array_lines("GRAM", sigma_gram(model.metric, em.alphas))
            if em.variant_columns is not None:  # version 3
                vc = em.variant_calibration
                lines.append(f"VARIANT_SIGMA_SCALE {_real(vc.scale)}")
                lines.append(f"VARIANT_SIGMA_FLOOR {_real(vc.floor_hartree)}")
    else:
        lines.append(f"NUM_NETWORKS {len(order)}")
        for s in order:
            lines += _network_lines(model, s, member or 0)
        lines += _variant_lines(model, with_variant, [member or 0])
    if handover is not None:  # version 7 (optional in version 8)
        lines.append(f"HANDOVER_MEDIAN_SIGMA {_real(handover)}")
    lines += iterations  # version 8: the last records
    lines.append("END")
    return "\n".join(lines) + "\n"


def _handover_threshold(model: Any) -> float | None:
    """The handover threshold (Hartree) that the model records in
    model.json (``handover.median_sigma_hartree``), or None without one.
    An entry with only the amorphous SiC rule's ``median_domain`` (the
    ``sic`` model) has none here: that threshold travels in the model's
    domain file (``--domain``, :mod:`pyolcaoml.export_domain`), beside the
    training atoms the distance needs."""
    entry = getattr(model, "handover", None) or {}
    if not entry or (
        isinstance(entry, dict)
        and "median_domain" in entry
        and "median_sigma_hartree" not in entry
    ):
        return None
    value = entry.get("median_sigma_hartree") if isinstance(entry, dict) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ExportError(
            f"handover: median_sigma_hartree must be a positive, finite number "
            f"(Hartree), got {entry!r}"
        )
    return float(value)


def _iterations_lines(model: Any, notes: list[str] | None) -> list[str]:
    """Version 8: the expected OLCAO iterations of the reference runs in
    the model's directory (:mod:`pyolcaoml.model.olcao_iterations`), or []
    when it has none, too few converged runs, or a stale or damaged one
    (then with a note, see :func:`format_model`)."""
    from pyolcaoml.model.errors import ModelError
    from pyolcaoml.model.olcao_iterations import SIGMA_PREDICTORS, load_reference

    path = getattr(model, "path", None)
    if not path:
        return []
    try:
        ref = load_reference(path)
        fits = None if ref is None else ref.fits()
        if ref is None or fits is None:
            return []
        blocks = []
        for group in (None, *(g.name for g in ref.groups)):
            fitted = ref.fits(group)
            if fitted is None:  # load_reference checked every group
                raise ModelError(f"{ref.path}: group {group} has no fit")
            (s_lo, s_hi), (n_lo, n_hi) = ref.domain(group)
            numbers = [ref.convergence, s_lo, s_hi]
            numbers += [v for f in fitted if f is not None for v in _fit_numbers(f)]
            if not all(math.isfinite(v) for v in numbers):
                raise ModelError(f"{ref.path}: its fit holds NaN or infinite numbers")
            blocks.append((fitted, (s_lo, s_hi), (n_lo, n_hi)))
        if not 0 < ref.convergence < 1:
            raise ModelError(
                f"{ref.path}: convergence must be in (0, 1), got {ref.convergence}"
            )
    except ModelError as exc:
        text = f"{exc}; exported without the expected OLCAO iterations"
        if notes is None:
            import warnings

            warnings.warn(text, stacklevel=3)
        else:
            notes.append(text)
        return []
    with_sigma = ref.predictor in SIGMA_PREDICTORS
    lines = [
        f"EXPECTED_ITERATIONS {ref.predictor} {len(ref.cells_of(None))} "
        f"{ref.n_not_converged} "
        f"{_real(ref.convergence)}",
    ]
    lines += _fit_lines(*blocks[0], with_sigma)
    if ref.groups:
        # version 9: each group's rule, then its fit as above
        lines.append(f"ITERATION_GROUPS {len(ref.groups)}")
        for g, block in zip(ref.groups, blocks[1:], strict=True):
            lines.append(
                f"ITERATION_GROUP {g.name} {g.element} {g.neighbours} "
                f"{_real(g.cutoff_angstrom)} {g.min_atoms} {g.requires or '-'} "
                f"{len(ref.cells_of(g.name))} {ref.not_converged(g.name)}"
            )
            lines += _fit_lines(*block, with_sigma)
    return lines


def _fit_lines(
    fits: Any, sigma_range: Any, atoms_range: Any, with_sigma: bool
) -> list[str]:
    """ITERATIONS_FIT, DEFAULT_ITERATIONS_FIT (where there is one) and
    ITERATIONS_DOMAIN of one group of reference runs."""
    fit, default = fits
    (s_lo, s_hi), (n_lo, n_hi) = sigma_range, atoms_range
    lines = ["ITERATIONS_FIT " + " ".join(_real(v) for v in _fit_numbers(fit))]
    if default is not None:
        lines.append(
            "DEFAULT_ITERATIONS_FIT "
            + " ".join(_real(v) for v in _fit_numbers(default))
        )
    lines.append(
        f"ITERATIONS_DOMAIN {_real(s_lo)} {_real(s_hi)} {int(n_lo)} {int(n_hi)} "
        # the atoms range applies to every fit: each was measured on
        # cells of those sizes only
        f"{_flag(with_sigma)} {_flag(True)}"
    )
    return lines


def _fit_numbers(fit: Any) -> tuple[float, ...]:
    """An IterationFit's five numbers in the order of ITERATIONS_FIT."""
    return (fit.a, fit.b, fit.c, fit.q_low, fit.q_high)


def _variant_lines(model: Any, symbols: list[str], members: Any) -> list[str]:
    """Version 3: each element's environment variant (its switch columns,
    1-based, and one network per member)."""
    if not symbols:
        return []
    lines = [f"NUM_VARIANTS {len(symbols)}"]
    for s in symbols:
        em = model.elements[s]
        cols = np.asarray(em.variant_columns, dtype=np.int64) + 1
        lines.append(f"VARIANT {s}")
        lines.append(f"SWITCH_COLUMNS {len(cols)}")
        for i in range(0, len(cols), 16):
            lines.append(" ".join(str(int(c)) for c in cols[i : i + 16]))
        for k in members:
            lines += _network_lines(model, s, k, variant=True)
        lines.append("END_VARIANT")
    return lines


def _network_lines(
    model: Any, symbol: str, member: int = 0, variant: bool = False
) -> list[str]:
    em = model.elements[symbol]
    if em.network is None:
        raise ExportError(f"{symbol}: the model was loaded without its networks")
    nets = em.variant_members if variant else em.networks
    if member >= len(nets):
        raise ExportError(f"{symbol}: no network for member {member + 1}")
    net = network_from_keras(nets[member])
    if net.mean.shape[0] != model.n_features:
        raise ExportError(
            f"{symbol}: the network takes {net.mean.shape[0]} inputs, the model "
            f"has {model.n_features} descriptors"
        )
    if net.n_out != em.n_alphas:
        raise ExportError(
            f"{symbol}: the network gives {net.n_out} outputs, the "
            f"element has {em.n_alphas} exponents"
        )
    lines = [f"NETWORK {symbol}", f"NUM_ALPHAS {em.n_alphas}"]
    lines += _array_lines("ALPHAS", em.alphas)
    lines += _array_lines("ISOLATED_COEFFS", em.isolated)
    lines += _array_lines("CHARGE_COLUMNS", _charge_columns(model, symbol))
    lines.append(f"NORMALIZATION {net.norm_name} {_real(net.epsilon)}")
    lines += _array_lines("MEAN", net.mean)
    lines += _array_lines("VARIANCE", net.variance)
    lines.append(f"NUM_LAYERS {len(net.layers)}")
    for layer in net.layers:
        if layer.kind == "add":
            lines.append(
                f"ADD {layer.name} {layer.width} {len(layer.inputs)} "
                + " ".join(layer.inputs)
            )
            continue
        assert layer.kernel is not None and layer.bias is not None
        lines.append(
            f"DENSE {layer.name} {layer.inputs[0]} {layer.n_in} {layer.width} "
            f"{layer.activation}"
        )
        lines += _array_lines("WEIGHTS", layer.kernel)
        lines += _array_lines("BIAS", layer.bias)
    lines.append("END_NETWORK")
    return lines


def network_keys(model: Any, member: int = 0) -> dict[str, np.ndarray]:
    """Per element, the MEAN record of its (first exported) network: what
    the domain file carries to be matched to this model file."""
    keys = {}
    for s, em in model.elements.items():
        if em.network is None:
            raise ExportError(f"{s}: the model was loaded without its networks")
        keys[s] = network_from_keras(em.networks[member]).mean
    return keys


@dataclass
class ExportSummary:
    output: str
    elements: list[str]
    n_features: int
    layers: dict[str, list[str]]
    size_bytes: int
    domain_output: str | None = None
    domain_bytes: int = 0
    #: the EXPECTED_ITERATIONS record's predictor and runs (version 8)
    iterations: str | None = None
    #: what was left out, and why (a stale reference of OLCAO runs)
    warnings: list[str] = field(default_factory=list)


def export_model(
    model_or_path: Any,
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    member: int | None = None,
    domain: str | os.PathLike[str] | None = None,
) -> ExportSummary:
    """Export a model directory (or a loaded model) to ``output``, and with
    ``domain`` its applicability domain to that file
    (:mod:`pyolcaoml.export_domain`).

    Each file is written to a temporary file beside it and renamed, so a
    failure leaves nothing half-written; an existing file needs ``force``.
    The domain file is written first: when it fails (it is the large one)
    neither file has changed.
    """
    from pyolcaoml.model import load_model

    if isinstance(model_or_path, (str, os.PathLike)):
        from pyolcaoml.model.saved import resolve_model_path

        # a bundled model's name ('default', 'sic') or a directory
        source = os.path.abspath(resolve_model_path(model_or_path))
        model = load_model(source)  # the arrays: no TensorFlow
    else:
        model = model_or_path
        source = getattr(model, "path", None)
    out = os.path.abspath(os.fspath(output))
    if os.path.exists(out) and not force:
        raise ExportError(f"{out} exists; use --force to replace it")
    directory = os.path.dirname(out)
    if not os.path.isdir(directory):
        raise ExportError(f"directory does not exist: {directory}")
    notes: list[str] = []
    text = format_model(model, source, member=member, notes=notes)
    from pyolcaoml._atomic import write_bytes_atomic

    domain_out, domain_bytes = None, 0
    if domain is not None:
        from pyolcaoml.export_domain import DomainExportError, write_domain

        domain_out = os.path.abspath(os.fspath(domain))
        if domain_out == out:
            raise ExportError(f"--domain must not be the model file {out}")
        try:
            keys = network_keys(model, member or 0)
            domain_bytes = write_domain(model, domain_out, keys, force=force)
        except DomainExportError as exc:
            raise ExportError(str(exc)) from exc
    # temporary file, checked writes, rename; mode: the replaced file's,
    # else 0666 & ~umask
    write_bytes_atomic(out, text.encode("ascii"))
    layers = {}
    iterations = None
    for line in text.splitlines():
        if line.startswith("EXPECTED_ITERATIONS "):
            _, predictor, n_runs, _n_bad, _tol = line.split()
            iterations = f"{predictor} fit of {n_runs} OLCAO runs"
        elif line.startswith("NETWORK "):
            current = line.split()[1]
            layers[current] = []
        elif line.startswith("DENSE "):
            _, name, source, n_in, n_out, act = line.split()
            layers[current].append(f"{name}: {source} {n_in}->{n_out} {act}")
        elif line.startswith("ADD "):
            _, name, _width, _n, *sources = line.split()
            layers[current].append(f"{name}: {' + '.join(sources)}")
    return ExportSummary(
        output=out,
        elements=list(layers),
        n_features=int(model.n_features),
        layers=layers,
        size_bytes=len(text.encode()),
        domain_output=domain_out,
        domain_bytes=domain_bytes,
        iterations=iterations,
        warnings=notes,
    )
