"""The per-element Keras network (TensorFlow is imported only inside functions).

Layout, chosen so that a plain Fortran forward pass can reproduce it later:

    descriptors (K) -> Normalization (mean/variance of the training set) = u
    u -> Dense(h1, act) -> ... -> Dense(hL, act) -> Dense(k)   "nonlinear"
    u -> Dense(k)                                             "linear" (fixed:
                                                  the ridge baseline, optional)
    z = Add(linear, nonlinear)                                 "latent"
    A = Dense(N)(z)                            "coefficients" (fixed map
                                                A = A_iso + mu + B z)

With the linear branch the network starts as the ridge model (the last
nonlinear layer is initialised to zero) and learns the nonlinear residual.

All layers are float64. Only standard layers (Normalization, Dense with a
standard activation) are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyolcaoml.model.basis import OutputBasis

#: Activations accepted for hidden layers (all standard Keras/Fortran-friendly).
ACTIVATIONS = ("tanh", "relu", "silu", "sigmoid", "softplus", "gelu")
LATENT_LAYER = "latent"
OUTPUT_LAYER = "coefficients"


def import_keras():
    """Import Keras on TensorFlow with TensorFlow's C++ start-up chatter silenced."""
    import os

    # Level 3 also hides a harmless C++ "NodeDef mentions attribute
    # use_unbounded_threadpool" message that tf.data prints in model.fit with
    # this TensorFlow/Keras pair; set TF_CPP_MIN_LOG_LEVEL yourself to see it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN's fused kernels change float rounding between machines and
    # print a banner; plain Eigen kernels are fast enough for these nets.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import keras
    except ImportError as exc:  # the core install has no TensorFlow
        raise ImportError(
            f"this needs Keras on TensorFlow, which is not installed ({exc}): "
            "pip install 'pyolcaoml[ml]'. Prediction, evaluation and export "
            "run without it, from each model's networks.npz"
        ) from exc
    return keras


def build_network(
    symbol: str,
    x_mean: np.ndarray,
    x_variance: np.ndarray,
    basis: OutputBasis,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    l2: float = 1e-4,
    linear: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Any, Any]:
    """Return (full model: descriptors -> A, training model: descriptors -> z)."""
    keras = import_keras()

    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
    n_features = int(np.asarray(x_mean).shape[0])
    inputs = keras.Input(shape=(n_features,), dtype="float64", name="descriptors")
    normalized = h = keras.layers.Normalization(
        mean=np.asarray(x_mean, dtype=np.float64).tolist(),
        variance=np.asarray(x_variance, dtype=np.float64).tolist(),
        dtype="float64",
        name="normalization",
    )(inputs)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    for i, width in enumerate(hidden):
        h = keras.layers.Dense(
            int(width),
            activation=activation,
            kernel_regularizer=reg,
            dtype="float64",
            name=f"hidden_{i + 1}",
        )(h)
    if linear is None:
        latent = keras.layers.Dense(
            basis.n_latent, activation=None, dtype="float64", name=LATENT_LAYER
        )(h)
    else:
        nonlinear = keras.layers.Dense(
            basis.n_latent,
            activation=None,
            kernel_initializer="zeros",
            dtype="float64",
            name="nonlinear",
        )(h)
        lin_layer = keras.layers.Dense(
            basis.n_latent,
            activation=None,
            trainable=False,
            dtype="float64",
            name="linear",
        )
        lin = lin_layer(normalized)
        lin_layer.set_weights([np.asarray(linear[0]), np.asarray(linear[1])])
        latent = keras.layers.Add(dtype="float64", name=LATENT_LAYER)([lin, nonlinear])
    out_layer = keras.layers.Dense(
        basis.n_coeffs,
        activation=None,
        dtype="float64",
        trainable=False,
        name=OUTPUT_LAYER,
    )
    coeffs = out_layer(latent)
    out_layer.set_weights([basis.from_latent_matrix.T.copy(), basis.offset.copy()])
    full = keras.Model(inputs, coeffs, name=f"olcaoml_{symbol}")
    trainer = keras.Model(inputs, latent, name=f"olcaoml_{symbol}_latent")
    return full, trainer


def predict_batched(model: Any, x: np.ndarray, batch_size: int = 16384) -> np.ndarray:
    """Forward pass in large batches (no Keras progress output), float64."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]))
    out = [
        np.asarray(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out, axis=0)


def numpy_forward(model: Any) -> Any | None:
    """A NumPy forward pass of a trained, no longer changing Keras network,
    or None.

    The network's layers are read once by :func:`pyolcaoml.export.
    network_from_keras` (which checks itself against Keras) and run by
    :func:`forward_from_layers`. None when the network is not a plain
    Normalization/Dense/Add stack or uses the exact gelu (NumPy has no
    vectorised erf): then :func:`predict_batched` is the way.
    """
    from pyolcaoml.export import ExportError, network_from_keras

    try:
        exported = network_from_keras(model)
    except ExportError:
        return None
    if any(layer.activation == "gelu" for layer in exported.layers):
        return None
    return forward_from_layers(exported)


def forward_from_layers(exported: Any) -> Any:
    """The forward pass of an ``ExportedNetwork`` (rows are atoms), in NumPy
    float64, in batches, without TensorFlow's per-call overhead (5 members
    on 10^5 atoms: about 0.5 s instead of 2 s), with the same arithmetic as
    Keras and the Fortran library (normalise, then each layer): equal to
    round-off. (Folding the normalisation into the first layers would halve
    the time but moves the round-off enough to change a last printed digit
    now and then.) The exact gelu goes through math.erf (slow)."""
    from pyolcaoml.export import _activate

    sd = np.maximum(np.sqrt(exported.variance), exported.epsilon)
    last = exported.layers[-1].name

    def one_batch(x: np.ndarray) -> np.ndarray:
        u = x - exported.mean
        u /= sd  # in place: one temporary, the same arithmetic as Keras
        values = {exported.norm_name: u}
        for layer in exported.layers:
            if layer.kind == "dense":
                h = values[layer.inputs[0]] @ layer.kernel
                h += layer.bias
                if layer.activation == "tanh":
                    values[layer.name] = np.tanh(h, out=h)
                else:
                    values[layer.name] = _activate(layer.activation, h)
            else:
                values[layer.name] = sum(values[n] for n in layer.inputs)
        return values[last]

    def forward(x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        # One batch at a time: the matrix products already use every core
        # (BLAS threads); Python threads over batches only made it slower.
        # 4096 rows keep each layer's array at a few MB, which malloc reuses;
        # 16384 rows made fresh pages of every array and took 1.7x longer.
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((len(x), exported.n_out))
        for i in range(0, len(x), batch_size):
            out[i : i + batch_size] = one_batch(x[i : i + batch_size])
        return out

    return forward
