"""Extending a trained model to a new element without changing any
prediction it makes for the elements it knew.

Why: one network per element has to serve every environment of its element.
Trained jointly on pure Si and on SiC, the Si network gives up some pure-Si
accuracy for Si next to carbon (docs/model.md, "Silicon carbide"). Here the
new element's networks are trained as usual, and each network of a base
element is *extended*: its weights stay as they are and it learns only new
first-layer weights on the descriptor components that involve the new
element.

Why that leaves the old predictions untouched, exactly: with the explicit
multi-element (``chem``) bispectrum, an atom with no neighbour of the new
element within the cutoff has zero in every component that involves the new
element, and its other components are exactly the base descriptor (the same
arithmetic; :func:`embedding_columns` checks it on a probe structure and
:func:`check_embedding` on the dataset). The extended network normalises the
base columns as the base network did and the new columns by a scale only
(mean 0), so they stay 0; the new weights multiply zeros. Every later layer
is the base network's, frozen. Its first layers (those that read the
normalised descriptors: the first hidden layer and the ridge branch) get

    pre-activation = (base kernel on the base columns) u_base + b
                     + (new kernel) u_new,

so the new element's neighbours shift the atom's hidden representation
(anywhere the base network's later layers can take it) and the ridge branch
gets a linear term in them. Training starts from the base network (the new
kernels start at zero) and sees only the atoms with a new-element neighbour
(for the others the gradient is zero); the loss, latent coordinates and
output map are those of the base network. The result is fused into a plain
network of the base's layout (Normalization, Dense, Add), so saving, the
NumPy forward pass, the Fortran library and export are unchanged.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.numpy_networks import keras_network

#: The probe structure that finds where the base descriptor's components sit
#: in the new one: a random cell of the base elements (seeded, so that the
#: column map is the same every time).
PROBE_SEED = 20261203
PROBE_ATOMS = 24
PROBE_CELL_ANGSTROM = 7.5


@dataclass
class Extension:
    """A saved base model to extend (read from its model.json; the networks
    are loaded one member at a time by :func:`base_network`)."""

    path: str
    descriptor: dict
    elements: tuple[str, ...]
    n_members: int
    #: per member, the structures it trained on (with repeats); None for a
    #: single network
    in_bag: list[list[str]] | None
    holdout: list[str]
    sha256: str  # of model.json

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "model_json_sha256": self.sha256,
            "elements": list(self.elements),
            "n_members": self.n_members,
        }


def read_extension(path: str | os.PathLike) -> Extension:
    """The base model at ``path`` (a model directory), checked to be
    extendable; a :class:`ModelError` naming the path if not."""
    from pyolcaoml.model.saved import read_metadata

    path = os.path.abspath(os.fspath(path))
    meta = read_metadata(path)
    with open(os.path.join(path, "model.json"), "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    training = meta.get("training") or {}
    members = training.get("members") or []
    n_members = int(meta.get("n_members", 1) or 1)
    in_bag = None
    if n_members > 1:
        if len(members) != n_members:
            raise ModelError(
                f"{path}: model.json lists {len(members)} members' training "
                f"structures for {n_members} networks"
            )
        in_bag = [list(m["in_bag"]) for m in members]
    return Extension(
        path=path,
        descriptor=dict(meta["descriptor"]),
        elements=tuple(sorted(meta["elements"])),
        n_members=n_members,
        in_bag=in_bag,
        holdout=list(training.get("holdout_structures") or []),
        sha256=sha,
    )


def _probe(elements: tuple[str, ...]) -> Any:
    from pyolcaoml.structure import Structure

    rng = np.random.default_rng(PROBE_SEED)
    box = PROBE_CELL_ANGSTROM
    pos: list[np.ndarray] = []
    while len(pos) < PROBE_ATOMS:  # random, no pair closer than 1.9 Å
        p = rng.random(3) * box
        d = (np.array(pos) - p + box / 2) % box - box / 2 if pos else None
        if d is None or np.sqrt((d**2).sum(axis=1)).min() > 1.9:
            pos.append(p)
    cell = np.eye(3) * box
    symbols = [elements[i % len(elements)] for i in range(PROBE_ATOMS)]
    return Structure(cell=cell, positions=np.array(pos), symbols=symbols)


def embedding_columns(
    base_descriptor: dict, new_descriptor: dict, elements: tuple[str, ...]
) -> np.ndarray:
    """cols with new[:, cols[j]] == base[:, j] for structures of the base
    elements only, every other new column zero there.

    Found numerically on a probe structure of the base elements (exact
    equality); a :class:`ModelError` when the new descriptor does not reduce
    to the base one (other 2J_max, scales, radii or weights of a base
    element, no ``chem``)."""
    from pyolcaoml.bispectrum import descriptor_from_dict

    if not new_descriptor.get("chem"):
        raise ModelError(
            "extending a model needs the explicit multi-element descriptor "
            "(--chem): with a single weighted density the new element changes "
            "every component of the old ones"
        )
    probe = _probe(elements)
    try:
        x0 = descriptor_from_dict(base_descriptor).compute(probe)
        x1 = descriptor_from_dict(new_descriptor).compute(probe)
    except (ValueError, KeyError) as exc:
        raise ModelError(f"the descriptors cannot be compared: {exc}") from exc
    cols = np.full(x0.shape[1], -1, dtype=np.int64)
    taken: set[int] = set()
    for j in range(x0.shape[1]):
        same = np.nonzero(np.all(x1 == x0[:, [j]], axis=0))[0]
        same = [int(c) for c in same if int(c) not in taken]
        if not same or not np.any(x0[:, j]):
            raise ModelError(
                f"component {j} of the base model's descriptor has no exact "
                "counterpart in the new descriptor: the new descriptor must "
                "keep the base elements' settings (2J_max, scales, rcutfac, "
                "radii, weights) and add the new element with --chem"
            )
        cols[j] = same[0]
        taken.add(same[0])
    rest = np.setdiff1d(np.arange(x1.shape[1]), cols)
    if np.any(x1[:, rest]):
        raise ModelError(
            "the new descriptor has components the base model's lacks that are "
            "not zero for the base elements alone: it does not extend the base "
            "descriptor"
        )
    return cols


def extension_columns(
    base_descriptor: dict, new_descriptor: dict, elements: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(cols, switch): where the base descriptor sits in the new one
    (:func:`embedding_columns`) and the new element's columns, zero for
    every structure of the base elements alone (an atom with any of them
    non-zero has the new element in its environment).

    Without a neighbour mean, switch is every column outside cols.  A new
    descriptor that adds a neighbour mean
    (:class:`pyolcaoml.neighbour_mean.NeighbourMean`) to a base without one
    has K inner columns, then their K neighbour means (and K more per
    further hop): cols lie in the first K, and switch is the inner
    new-element columns and their neighbour means of every hop.  The
    neighbour means of the base columns are neither (non-zero for the base
    elements alone): the base networks do not read them, and the new
    element's networks do."""
    from pyolcaoml.bispectrum import descriptor_from_dict

    hop = (
        new_descriptor.get("type") == "neighbour_mean"
        and base_descriptor.get("type") != "neighbour_mean"
    )
    blocks = dict(new_descriptor["inner"]) if hop else new_descriptor
    cols = embedding_columns(base_descriptor, blocks, elements)
    k = descriptor_from_dict(blocks).n_features
    own = np.setdiff1d(np.arange(k), cols)
    if not hop:
        return cols, own
    hops = int(new_descriptor.get("hops", 1))
    return cols, np.concatenate([h * k + own for h in range(hops + 1)])


def check_embedding(
    dataset: Any,
    x_all: np.ndarray,
    base_descriptor: dict,
    cols: np.ndarray,
    elements: tuple[str, ...],
    max_structures: int = 8,
    switch: np.ndarray | None = None,
) -> int:
    """Recompute the base descriptor on up to ``max_structures`` of the
    dataset's structures made of base elements only and check the dataset's
    descriptors reproduce it bit for bit in ``cols`` (zeros in ``switch``,
    default: every other column). Returns the number of structures
    checked."""
    from pyolcaoml.bispectrum import descriptor_from_dict

    calc = descriptor_from_dict(base_descriptor)
    rest = np.setdiff1d(np.arange(x_all.shape[1]), cols) if switch is None else switch
    n = 0
    for i in range(dataset.n_structures):
        st = dataset.structure(i)
        if not set(st.symbols) <= set(elements):
            continue
        a = int(dataset.atom_start[i])
        x = x_all[a : a + int(dataset.n_atoms[i])]
        if not np.array_equal(x[:, cols], calc.compute(st)) or np.any(x[:, rest]):
            raise ModelError(
                f"{dataset.names[i]}: the dataset's descriptors do not reduce to "
                "the base model's on this structure (were they computed with "
                "other settings?)"
            )
        n += 1
        if n >= max_structures:
            break
    return n


def base_network(extension: Extension, symbol: str, member: int) -> Any:
    """The base model's network of ``symbol`` for ensemble member ``member``
    (0-based) as an ExportedNetwork (plain arrays; no TensorFlow needed)."""
    from pyolcaoml.export import network_from_keras
    from pyolcaoml.model.saved import load_model

    model = load_model(extension.path)
    nets = model.elements[symbol].networks
    if member >= len(nets):
        raise ModelError(
            f"{extension.path}: {symbol} has {len(nets)} networks, member "
            f"{member + 1} asked for"
        )
    return network_from_keras(nets[member])


def _norm_readers(base: Any) -> list[str]:
    return [
        layer.name
        for layer in base.layers
        if layer.kind == "dense" and layer.inputs == [base.norm_name]
    ]


def output_map(base: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """(kernel (k, N), bias (N,), name of its input) of the base network's
    last layer A = z @ kernel + bias, the fixed map from latent z to A."""
    last = base.layers[-1]
    if last.kind != "dense" or last.activation != "linear" or len(last.inputs) != 1:
        raise ModelError(
            "the base network does not end in a linear output map (latent -> A)"
        )
    return last.kernel, last.bias, last.inputs[0]


def new_scales(x: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Variance given to the new columns' normalisation (mean 0): their
    mean square over the training rows, 1 where they are all zero."""
    ms = np.mean(np.square(x[:, rest]), axis=0) if len(x) else np.ones(len(rest))
    return np.where(ms > 0, ms, 1.0)


def hidden_chain(base: Any, latent_name: str) -> tuple[list[Any], Any]:
    """(hidden layers in order, the linear layer from the last hidden layer
    into the latent Add) of a base network of pyolcaoml's layout: a chain
    of Dense layers from the normalised descriptors to the latent layer.
    A :class:`ModelError` for any other layout (no tower possible)."""
    by_name = {layer.name: layer for layer in base.layers}
    latent = by_name.get(latent_name)
    if latent is None or latent.kind != "add":
        raise ModelError("the base network has no latent Add layer: no tower")
    ends = [
        by_name[n]
        for n in latent.inputs
        if n in by_name and by_name[n].inputs != [base.norm_name]
    ]
    if len(ends) != 1 or ends[0].kind != "dense" or ends[0].activation != "linear":
        raise ModelError(
            "the base network's latent layer is not one linear layer on a "
            "hidden chain: no tower"
        )
    chain, name = [], ends[0].inputs[0]
    while name != base.norm_name:
        layer = by_name.get(name)
        if layer is None or layer.kind != "dense" or len(layer.inputs) != 1:
            raise ModelError("the base network's hidden layers are not a chain")
        chain.insert(0, layer)
        name = layer.inputs[0]
    return chain, ends[0]


def widen_with_tower(
    network: Any,
    latent_name: str,
    cols: np.ndarray,
    tower: list[tuple[np.ndarray, np.ndarray]],
    tower_out: np.ndarray,
) -> Any:
    """The network with the difference tower T fused in: each hidden layer
    of the chain gets T's units twice, once reading every column (T(u)) and
    once reading the base columns only (T(u_0): the new columns zeroed),
    block-diagonal from layer to layer; the linear layer into the latent Add
    reads them with +W and -W. For an atom without a neighbour of the new
    element the two copies are the same numbers and cancel (to round-off):
    the base network's prediction.

    ``tower``: (kernel, bias) of T's hidden layers (the first kernel has a
    row per descriptor column); ``tower_out``: T's last kernel (no bias)."""
    from pyolcaoml.export import ExportedNetwork, Layer

    chain, into_latent = hidden_chain(network, latent_name)
    if len(chain) != len(tower):
        raise ModelError(
            f"the tower has {len(tower)} hidden layers, the base network "
            f"{len(chain)}: give one width per base hidden layer"
        )
    new: dict[str, Any] = {}
    for depth, (layer, (kernel, bias)) in enumerate(zip(chain, tower, strict=True)):
        t = kernel.shape[1]
        if depth == 0:
            zeroed = np.zeros_like(kernel)
            zeroed[cols] = kernel[cols]
            k = np.hstack([layer.kernel, kernel, zeroed])
        else:
            prev_t = tower[depth - 1][0].shape[1]
            w = chain[depth - 1].width  # the base units of the layer before
            k = np.zeros((w + 2 * prev_t, layer.width + 2 * t))
            k[:w, : layer.width] = layer.kernel
            k[w : w + prev_t, layer.width : layer.width + t] = kernel
            k[w + prev_t :, layer.width + t :] = kernel
        b = np.concatenate([layer.bias, bias, bias])
        new[layer.name] = Layer(
            "dense",
            layer.name,
            list(layer.inputs),
            layer.width + 2 * t,
            k,
            b,
            layer.activation,
        )
    new[into_latent.name] = Layer(
        "dense",
        into_latent.name,
        list(into_latent.inputs),
        into_latent.width,
        np.vstack([into_latent.kernel, tower_out, -tower_out]),
        into_latent.bias.copy(),
        "linear",
    )
    layers = [new.get(layer.name, layer) for layer in network.layers]
    return ExportedNetwork(
        network.norm_name, network.mean, network.variance, network.epsilon, layers
    )


def fuse(
    base: Any,
    cols: np.ndarray,
    n_features: int,
    new_variance: np.ndarray,
    new_kernels: dict[str, np.ndarray],
) -> Any:
    """The extended network as an ExportedNetwork of the base's layout:
    the first layers' kernels carry the base rows at ``cols`` and the new
    kernels (rows in the order of the new columns) elsewhere."""
    from pyolcaoml.export import ExportedNetwork, Layer

    rest = np.setdiff1d(np.arange(n_features), cols)
    mean = np.zeros(n_features)
    variance = np.ones(n_features)
    mean[cols] = base.mean
    variance[cols] = base.variance
    variance[rest] = new_variance
    layers = []
    for layer in base.layers:
        if layer.name in new_kernels:
            kernel = np.zeros((n_features, layer.width))
            kernel[cols] = layer.kernel
            kernel[rest] = new_kernels[layer.name]
            layers.append(
                Layer(
                    "dense",
                    layer.name,
                    list(layer.inputs),
                    layer.width,
                    kernel,
                    layer.bias.copy(),
                    layer.activation,
                )
            )
        else:
            layers.append(layer)
    return ExportedNetwork(base.norm_name, mean, variance, base.epsilon, layers)


def base_output_basis(
    base: Any, y_train: np.ndarray, isolated: np.ndarray, eps: float
) -> Any:
    """The OutputBasis of the base network's own output map (its latent
    variance measured on ``y_train``, Hartree)."""
    from pyolcaoml.model.basis import OutputBasis

    kernel_out, bias_out, _ = output_map(base)
    to_latent = np.linalg.pinv(kernel_out)
    z_all = (y_train - bias_out) @ to_latent
    return OutputBasis(
        isolated=np.asarray(isolated, dtype=np.float64),
        mean_delta=bias_out - isolated,
        to_latent_matrix=to_latent.T.copy(),
        from_latent_matrix=kernel_out.T.copy(),
        latent_variance=np.var(z_all, axis=0),
        eps=float(eps),
    )


def embedded_base(symbol: str, base: Any, cols: np.ndarray, n_features: int) -> Any:
    """The base network, unchanged, as a Keras network of the new
    descriptor layout: it reads the base columns ``cols`` and gives every
    other column weight 0 (so it ignores the new element's neighbours)."""
    rest = np.setdiff1d(np.arange(n_features), cols)
    kernels = {
        layer.name: np.zeros((len(rest), layer.width))
        for layer in base.layers
        if layer.name in _norm_readers(base)
    }
    fused = fuse(base, cols, n_features, np.ones(len(rest)), kernels)
    return keras_network(fused, f"olcaoml_{symbol}")


def fit_extension(
    symbol: str,
    base: Any,
    cols: np.ndarray,
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    isolated: np.ndarray,
    config: Any,
    progress: Any = None,
) -> tuple[Any, dict, Any]:
    """Train the new first-layer weights of one base network.

    ``x``/``y``: descriptors (new layout) and coefficients (Hartree) by split
    ('train', 'validation'); ``isolated``: the element's isolated-atom
    coefficients (Hartree), for the returned basis. Returns (Keras network
    of the base layout, training info, the member's output basis)."""
    from pyolcaoml.model.network import import_keras
    from pyolcaoml.model.training import fit_latent

    keras = import_keras()
    n_features = int(x["train"].shape[1])
    rest = np.setdiff1d(np.arange(n_features), cols)
    readers = _norm_readers(base)
    kernel_out, bias_out, latent_name = output_map(base)
    to_latent = np.linalg.pinv(kernel_out)  # (N, k): z = (A - bias) @ to_latent

    def involved(xs: np.ndarray) -> np.ndarray:
        return np.any(xs[:, rest] != 0, axis=1)

    sel = {k: involved(v) for k, v in x.items() if k in ("train", "validation")}
    xt, yt = x["train"][sel["train"]], y["train"][sel["train"]]
    xv, yv = x["validation"][sel["validation"]], y["validation"][sel["validation"]]
    if len(xt) < 2:
        raise ModelError(
            f"{symbol}: fewer than two training atoms with a neighbour of the "
            "new element: nothing to extend the network with"
        )
    variance = new_scales(xt, rest)
    zt = (yt - bias_out) @ to_latent
    zv = (yv - bias_out) @ to_latent if len(xv) else None

    # The training graph: base layers frozen, new kernels on the new columns.
    mean = np.zeros(n_features)
    var = np.ones(n_features)
    mean[cols], var[cols], var[rest] = base.mean, base.variance, variance
    inputs = keras.Input(shape=(n_features,), dtype="float64")
    u = keras.layers.Normalization(
        mean=mean.tolist(), variance=var.tolist(), dtype="float64"
    )(inputs)
    select = keras.layers.Dense(
        len(rest), use_bias=False, trainable=False, dtype="float64"
    )
    u_new = select(u)
    picks = np.zeros((n_features, len(rest)))
    picks[rest, np.arange(len(rest))] = 1.0
    l2 = config.l2 if config.extend_l2 is None else config.extend_l2
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    values = {base.norm_name: u}
    frozen, new_layers = [], {}
    for layer in base.layers:
        if layer.kind == "add":
            values[layer.name] = keras.layers.Add(dtype="float64")(
                [values[n] for n in layer.inputs]
            )
        elif layer.name in readers:
            kernel = np.zeros((n_features, layer.width))
            kernel[cols] = layer.kernel
            old = keras.layers.Dense(layer.width, trainable=False, dtype="float64")
            new = keras.layers.Dense(
                layer.width,
                use_bias=False,
                kernel_initializer="zeros",
                kernel_regularizer=reg,
                dtype="float64",
            )
            pre = keras.layers.Add(dtype="float64")([old(u), new(u_new)])
            values[layer.name] = (
                pre
                if layer.activation == "linear"
                else keras.layers.Activation(layer.activation, dtype="float64")(pre)
            )
            frozen.append((old, [kernel, layer.bias]))
            new_layers[layer.name] = new
        else:
            dense = keras.layers.Dense(
                layer.width,
                activation=None if layer.activation == "linear" else layer.activation,
                trainable=False,
                dtype="float64",
            )
            values[layer.name] = dense(values[layer.inputs[0]])
            frozen.append((dense, [layer.kernel, layer.bias]))
        if layer.name == latent_name:
            break
    select.set_weights([picks])
    for dense, weights in frozen:
        dense.set_weights(weights)
    latent = values[latent_name]
    tower = None
    if config.extend_tower:
        latent, tower = _tower_graph(keras, base, latent_name, u, u_new, cols, config)
        latent = keras.layers.Add(dtype="float64")([values[latent_name], latent])
    trainer = keras.Model(inputs, latent)
    callbacks = []
    if progress is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: progress(
                    symbol,
                    epoch + 1,
                    config.max_epochs,
                    {k: float(v) for k, v in (logs or {}).items()},
                )
            )
        )
    losses, monitor = fit_latent(
        trainer, xt, zt, (xv, zv) if zv is not None else None, config, callbacks
    )
    best = int(np.argmin(losses))
    fused = fuse(
        base,
        cols,
        n_features,
        variance,
        {name: layer.get_weights()[0] for name, layer in new_layers.items()},
    )
    if tower is not None:
        fused = widen_with_tower(
            fused, latent_name, cols, *_tower_weights(tower, cols, rest)
        )
    full = keras_network(fused, f"olcaoml_{symbol}")
    # the fused network is the trained graph (same arithmetic up to round-off)
    check = x["train"][: min(len(x["train"]), 256)]
    want = np.asarray(trainer(check, training=False)) @ kernel_out + bias_out
    got = np.asarray(full(check, training=False))
    if not np.allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max()):
        raise ModelError(f"{symbol}: the fused extended network differs from its graph")
    basis = base_output_basis(base, y["train"], isolated, config.basis_eps)
    info = {
        "extended_from_base": True,
        "n_latent": int(kernel_out.shape[0]),
        "epochs_run": len(losses),
        "best_epoch": best + 1,
        "best_" + monitor: float(losses[best]),
        "n_train_atoms_with_new_neighbours": int(len(xt)),
        "n_validation_atoms_with_new_neighbours": int(len(xv)),
        "n_new_columns": int(len(rest)),
        "tower": list(config.extend_tower),
    }
    return full, info, basis


def _tower_graph(
    keras: Any,
    base: Any,
    latent_name: str,
    u: Any,
    u_new: Any,
    cols: np.ndarray,
    config: Any,
) -> tuple[Any, dict]:
    """T(u) - T(u_0) in the training graph, where u_0 is u with the new
    element's columns zeroed. T's first layer is split into a kernel on the
    base columns (with the bias) and one on the new columns, so that T(u_0)
    is the first part alone; later layers are shared by the two copies. The
    last (linear, no bias) layer starts at zero: training starts from the
    base network's prediction."""
    chain, _ = hidden_chain(base, latent_name)
    widths = tuple(int(w) for w in config.extend_tower)
    if len(widths) != len(chain) or min(widths) < 1:
        raise ModelError(
            f"--extend-tower needs {len(chain)} positive width(s), one per "
            f"hidden layer of the base network, not {list(widths)}"
        )
    l2 = config.l2 if config.extend_l2 is None else config.extend_l2
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    n_features = int(u.shape[-1])
    pick = keras.layers.Dense(
        len(cols), use_bias=False, trainable=False, dtype="float64"
    )
    u_base = pick(u)
    on_base = keras.layers.Dense(widths[0], kernel_regularizer=reg, dtype="float64")
    on_new = keras.layers.Dense(
        widths[0], use_bias=False, kernel_regularizer=reg, dtype="float64"
    )
    pre_null = on_base(u_base)
    pre_full = keras.layers.Add(dtype="float64")([pre_null, on_new(u_new)])

    def act(name: str) -> Any:
        return keras.layers.Activation(name, dtype="float64")

    full, null = act(chain[0].activation)(pre_full), act(chain[0].activation)(pre_null)
    hidden = []
    for width, layer in zip(widths[1:], chain[1:], strict=True):
        dense = keras.layers.Dense(
            width,
            activation=None if layer.activation == "linear" else layer.activation,
            kernel_regularizer=reg,
            dtype="float64",
        )
        full, null = dense(full), dense(null)
        hidden.append(dense)
    out = keras.layers.Dense(
        int(base.layers[-1].kernel.shape[0]),
        use_bias=False,
        kernel_initializer="zeros",
        kernel_regularizer=reg,
        dtype="float64",
    )
    diff = keras.layers.Subtract(dtype="float64")([out(full), out(null)])
    picks = np.zeros((n_features, len(cols)))
    picks[cols, np.arange(len(cols))] = 1.0
    pick.set_weights([picks])
    return diff, {"on_base": on_base, "on_new": on_new, "hidden": hidden, "out": out}


def _tower_weights(
    tower: dict, cols: np.ndarray, rest: np.ndarray
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """T's trained weights as (kernel, bias) per hidden layer (the first
    kernel with a row per descriptor column) and its output kernel."""
    k_base, bias = tower["on_base"].get_weights()
    (k_new,) = tower["on_new"].get_weights()
    first = np.zeros((len(cols) + len(rest), k_base.shape[1]))
    first[cols], first[rest] = k_base, k_new
    layers = [(first, bias)]
    layers += [tuple(d.get_weights()) for d in tower["hidden"]]
    (k_out,) = tower["out"].get_weights()
    return layers, k_out
