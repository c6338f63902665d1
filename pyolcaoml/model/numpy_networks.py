"""The networks of a saved model as plain arrays: prediction without TensorFlow.

``olcaoml train`` saves each network twice: as Keras' own file (``Si.keras``,
what training, ``olcaoml export`` and Keras users read) and, layer by layer,
in one ``networks.npz`` (model.json key ``numpy_networks``: file and sha256).
``load_model`` uses the arrays when they are there, so ``predict``,
``evaluate``, ``select`` and the demo neither import TensorFlow (5-20 s) nor
build Keras models. The arrays are the ones
:func:`pyolcaoml.export.network_from_keras` reads, and that reader checks them
against Keras when they are written; the forward pass is
:func:`pyolcaoml.model.network.forward_from_layers`, the same arithmetic as
Keras and the Fortran library (normalise, then each layer), equal to
Keras to round-off.

npz keys, for element S and member m (0-based): ``S/m/mean``,
``S/m/variance``, ``S/m/epsilon``, ``S/m/graph`` (JSON: one
[kind, name, inputs, width, activation] per layer, in order) and
``S/m/<layer>/kernel``, ``S/m/<layer>/bias`` for dense layers. Loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

NUMPY_NETWORKS_FILE = "networks.npz"


class NumpyNetwork:
    """One element's network as arrays (an ``ExportedNetwork``), callable
    on descriptors (rows = atoms) like the Keras model it came from."""

    def __init__(self, exported: Any) -> None:
        from pyolcaoml.model.network import forward_from_layers

        self.exported = exported
        self.forward = forward_from_layers(exported)

    @property
    def n_out(self) -> int:
        return int(self.exported.n_out)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x)


def arrays_of(exported: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    """npz arrays of every element's exported networks (``ExportedNetwork``)."""
    out: dict[str, np.ndarray] = {}
    for s, nets in exported.items():
        for m, ex in enumerate(nets):
            key = f"{s}/{m}"
            out[f"{key}/mean"] = ex.mean
            out[f"{key}/variance"] = ex.variance
            out[f"{key}/epsilon"] = np.float64(ex.epsilon)
            graph = [
                [layer.kind, layer.name, layer.inputs, layer.width, layer.activation]
                for layer in ex.layers
            ]
            out[f"{key}/graph"] = np.array(json.dumps([ex.norm_name, graph]))
            for layer in ex.layers:
                if layer.kind == "dense":
                    out[f"{key}/{layer.name}/kernel"] = layer.kernel
                    out[f"{key}/{layer.name}/bias"] = layer.bias
    return out


def load_numpy_networks(
    file: str, counts: dict[str, int]
) -> dict[str, list[NumpyNetwork]]:
    """The networks of ``file`` (``counts``: members per element)."""
    from pyolcaoml.export import ExportedNetwork, Layer
    from pyolcaoml.model.saved import ModelError

    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {file}: {exc}") from exc
    out: dict[str, list[NumpyNetwork]] = {}
    try:
        for s, n in counts.items():
            out[s] = []
            for m in range(n):
                key = f"{s}/{m}"
                norm_name, graph = json.loads(str(arrays[f"{key}/graph"]))
                layers = []
                for kind, name, inputs, width, act in graph:
                    kernel = bias = None
                    if kind == "dense":
                        kernel = arrays[f"{key}/{name}/kernel"].astype(np.float64)
                        bias = arrays[f"{key}/{name}/bias"].astype(np.float64)
                    layers.append(
                        Layer(kind, name, list(inputs), int(width), kernel, bias, act)
                    )
                ex = ExportedNetwork(
                    norm_name,
                    arrays[f"{key}/mean"].astype(np.float64),
                    arrays[f"{key}/variance"].astype(np.float64),
                    float(arrays[f"{key}/epsilon"]),
                    layers,
                )
                out[s].append(NumpyNetwork(ex))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"{file}: incomplete network arrays ({exc})") from exc
    return out


def write_numpy_networks(directory: str, networks: dict[str, list[Any]]) -> str | None:
    """Write networks.npz into ``directory`` (a model being saved); returns
    its file name, or None (nothing written) when a network cannot be read
    as plain layers or uses the exact gelu, whose NumPy form (math.erf)
    differs from TensorFlow's kernel by ~4e-9: such models keep Keras."""
    from pyolcaoml.export import ExportError, network_from_keras

    try:
        exported = {
            s: [network_from_keras(n) for n in nets] for s, nets in networks.items()
        }
    except ExportError:
        return None
    layers = [layer for nets in exported.values() for ex in nets for layer in ex.layers]
    if any(layer.activation == "gelu" for layer in layers):
        return None
    arrays = arrays_of(exported)
    path = os.path.join(directory, NUMPY_NETWORKS_FILE)
    with open(path, "wb") as fh:
        # compressed: the zero blocks of extended networks (weights 0 on a
        # new element's columns) shrink to nothing; loading is the same
        np.savez_compressed(fh, **arrays)
    return NUMPY_NETWORKS_FILE


def keras_network(exported: Any, name: str) -> Any:
    """A Keras model with exactly the layers and float64 weights of an
    ``ExportedNetwork``: it predicts what the arrays (and the Keras file
    they were read from) predict.

    ``load_model(..., keras=True)`` serves a model saved without its Keras
    files this way (the bundled models of an installed wheel, which leaves
    out 61 MB of Keras files that hold the same numbers), and the fine-tuning
    of :mod:`pyolcaoml.model.extend` builds its fused networks with it. The
    arrays keep no training settings: every layer is trainable and has no
    regulariser (a network from ``olcaoml train`` keeps its ridge and output
    maps fixed; whoever trains a rebuilt one sets that again). A network
    whose normalisation epsilon is not Keras' own is refused: Keras would
    compute it with another one.
    """
    from pyolcaoml.model.errors import ModelError
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    if exported.epsilon != float(keras.config.epsilon()):
        raise ModelError(
            f"network {name}: normalisation epsilon {exported.epsilon!r} is not "
            f"Keras' {keras.config.epsilon()!r}; it cannot be rebuilt as Keras"
        )
    n_features = int(exported.mean.shape[0])
    inputs = keras.Input(shape=(n_features,), dtype="float64", name="descriptors")
    values = {
        exported.norm_name: keras.layers.Normalization(
            mean=exported.mean.tolist(),
            variance=exported.variance.tolist(),
            dtype="float64",
            name=exported.norm_name,
        )(inputs)
    }
    dense = []
    for layer in exported.layers:
        if layer.kind == "dense":
            keras_layer = keras.layers.Dense(
                layer.width,
                activation=None if layer.activation == "linear" else layer.activation,
                dtype="float64",
                name=layer.name,
            )
            values[layer.name] = keras_layer(values[layer.inputs[0]])
            dense.append((keras_layer, layer))
        else:
            values[layer.name] = keras.layers.Add(dtype="float64", name=layer.name)(
                [values[n] for n in layer.inputs]
            )
    for keras_layer, layer in dense:
        keras_layer.set_weights([layer.kernel, layer.bias])
    return keras.Model(inputs, values[exported.layers[-1].name], name=name)
