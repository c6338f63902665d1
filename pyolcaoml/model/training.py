"""Training the per-element networks (TensorFlow imported inside functions)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from pyolcaoml.model.baselines import feature_scaling, fit_ridge
from pyolcaoml.model.basis import OutputBasis
from pyolcaoml.model.data import Dataset, split_structures
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.evaluation import method_errors
from pyolcaoml.model.potential import RadialMetric
from pyolcaoml.model.saved import ElementModel, PotentialModel, library_versions


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (all stored in the model metadata)."""

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    l2: float = 1e-4
    learning_rate: float = 2e-3
    batch_size: int = 32
    max_epochs: int = 2000
    patience: int = 200
    seed: int = 0
    validation_fraction: float = 0.2
    validation: tuple[str, ...] = ()
    holdout: tuple[str, ...] = ()
    basis_eps: float = 0.05
    include_unconverged: bool = False
    ridge_skip: bool = True
    variance_kept: float = 1.0
    metric: RadialMetric = field(default_factory=RadialMetric)
    #: weight of the structure-level solver loss (pyolcaoml.model.solver_loss,
    #: OLCAO's convergence measure of the error); 0: per-atom loss only
    solver_weight: float = 0.0
    #: fixed ridge strength (standardised descriptors); None: chosen by
    #: leave-structures-out cross-validation
    ridge_strength: float | None = None
    #: learn each atom's coefficients relative to its structure: the mean over
    #: the structure's atoms of the element is replaced by the training mean
    #: (the cell-mean level is set by the whole cell, not the neighbourhood)
    centre_structures: bool = False
    #: a saved model whose elements' networks are extended, not retrained:
    #: their predictions for structures of those elements alone stay exactly
    #: the same (pyolcaoml.model.extend); new elements are trained as usual
    extend_from: str | None = None
    #: L2 penalty on the extension's new first-layer weights (the new
    #: element's columns of a base element's network); None: ``l2``
    extend_l2: float | None = None
    #: hidden widths of the extension's difference tower T (one per hidden
    #: layer of the base network; () for none): the extended network adds
    #: T(u) - T(u with the new element's columns zeroed) to its latent
    #: layer, a free function of the whole environment that vanishes with
    #: the new element's columns (pyolcaoml.model.extend)
    extend_tower: tuple[int, ...] = ()
    #: extend by an environment variant instead: each base network stays as
    #: it is (for atoms without a new-element neighbour) and a new network,
    #: trained on the atoms that have one, predicts those (saved as the
    #: element's variant; pyolcaoml.model.saved.ElementModel)
    extend_variant: bool = False
    #: structures kept in every ensemble member's bootstrap resample (a
    #: resample without one gives up its first name for it): a kind of
    #: environment with a single structure (the one a-Si run) would else be
    #: out of bag for some members, which never train on it and stop early
    #: on it (docs/model.md, "Stop 27")
    in_every_bag: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["validation"] = list(self.validation)
        d["holdout"] = list(self.holdout)
        d["extend_tower"] = list(self.extend_tower)
        d["in_every_bag"] = list(self.in_every_bag)
        d["metric"] = self.metric.to_dict()
        return d


#: progress(epoch, max_epochs, logs) with logs holding 'loss', 'val_loss',
#: 'val_rms_v' (Hartree) when there is a validation set.
ProgressFn = Callable[[str, int, int, dict], None]


def usable_structures(
    dataset: Dataset, config: TrainConfig
) -> tuple[list[str], tuple[str, ...], list[str]]:
    """(names to split, validation names, names left out) after setting aside
    the runs whose SCF did not reach its CONVERGENCE_TEST: each is named in
    a warning and left out of training and validation, unless
    ``config.include_unconverged`` (then only the warning). Held-out
    structures stay available for evaluation either way."""
    import warnings

    bad = dataset.unconverged()
    if not bad:
        return list(dataset.names), tuple(config.validation), []
    if config.include_unconverged:
        for note in bad.values():
            warnings.warn(f"{note} (kept: --include-unconverged)", stacklevel=3)
        return list(dataset.names), tuple(config.validation), []
    holdout = set(config.holdout)
    excluded = [n for n in dataset.names if n in bad and n not in holdout]
    for n in excluded:
        warnings.warn(
            f"{bad[n]}: left out of training and validation "
            "(--include-unconverged keeps it)",
            stacklevel=3,
        )
    names = [n for n in dataset.names if n not in set(excluded)]
    validation = tuple(n for n in config.validation if n not in set(excluded))
    if config.validation and not validation:
        raise ModelError(
            "every --validation structure is unconverged "
            f"({', '.join(config.validation)}); use --include-unconverged"
        )
    return names, validation, excluded


def setup_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic (CPU)."""
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train_model(
    dataset: Dataset,
    config: TrainConfig,
    descriptors: np.ndarray | None = None,
    descriptor_settings: dict | None = None,
    progress: ProgressFn | None = None,
    charge_columns: dict[str, np.ndarray] | None = None,
    bootstrap: Sequence[str] | None = None,
    member: int = 0,
) -> PotentialModel:
    """Train one network per element of ``dataset``.

    ``descriptors``/``descriptor_settings`` replace the dataset's own
    descriptors (e.g. recomputed with other bispectrum settings).
    ``bootstrap``: a resample (with repeats) of structure names to train on
    (one ensemble member); the structures of the rest that it does not hold
    (out of bag) are the validation set, ``config.holdout`` stays out.
    ``member``: the ensemble member (0-based) whose base networks are
    extended when ``config.extend_from`` is set.
    """
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    t0 = time.perf_counter()
    x_all = dataset.descriptors if descriptors is None else np.asarray(descriptors)
    settings = (
        dataset.descriptor if descriptor_settings is None else descriptor_settings
    )
    if x_all.shape[0] != len(dataset.symbols):
        raise ModelError("descriptor rows do not match the dataset's atoms")
    if not np.all(np.isfinite(x_all)):
        raise ModelError("descriptors contain NaN or infinite values")
    names, validation, excluded = usable_structures(dataset, config)
    if bootstrap is None:
        train_names, val_names, hold_names = split_structures(
            names,
            holdout=config.holdout,
            validation_fraction=config.validation_fraction,
            seed=config.seed,
            validation=validation,
        )
    else:
        # An unconverged run drawn into a member's bag stays out, as it
        # does for a single network.
        left_out = set(excluded)
        bag = [n for n in bootstrap if n not in left_out]
        train_names, val_names, hold_names = bootstrap_split(names, bag, config.holdout)
    ids = {
        "train": dataset.structure_ids(train_names),
        "validation": dataset.structure_ids(val_names),
        "holdout": dataset.structure_ids(hold_names),
    }
    extension = cols = switch = None
    if config.extend_from:
        extension, cols, switch = _extension_setup(dataset, config, x_all, settings)
    setup_determinism(config.seed)
    elements: dict[str, ElementModel] = {}
    metrics: dict[str, dict] = {}
    record: dict[str, dict] = {}
    for symbol in sorted(dataset.elements):
        ed = dataset.elements[symbol]
        rows = {k: dataset.element_rows(symbol, v) for k, v in ids.items()}
        if bootstrap is not None:  # repeated structures give repeated rows
            rows["train"] = np.concatenate(
                [
                    dataset.element_rows(symbol, [i])
                    for i in dataset.structure_ids(list(bootstrap))
                ]
            )
        if rows["train"].size < 2:
            raise ModelError(f"{symbol}: fewer than two training atoms")
        x = {k: x_all[ed.atom_index[r]] for k, r in rows.items()}
        y = {k: ed.coeffs[r] for k, r in rows.items()}
        if config.centre_structures:
            y = _centre_per_structure(dataset, ed, rows, y)
        groups = dataset.structure_index[ed.atom_index[rows["train"]]]
        gram = config.metric.gram(ed.alphas)
        extended = extension is not None and symbol in extension.elements
        # an extended network keeps its base's output map (fit_extension)
        basis, ridge = _fit_baselines(
            x["train"], y["train"], groups, ed.isolated, gram, config
        )
        x_mean, x_scale = feature_scaling(x["train"])
        em = ElementModel(
            symbol=symbol,
            alphas=ed.alphas,
            basis=basis,
            ridge=ridge,
            charge_columns=(
                charge_columns.get(symbol)
                if charge_columns
                else _isolated_charges(symbol, ed.alphas)
            ),
        )
        floatx = keras.config.floatx()
        keras.config.set_floatx("float64")  # losses and optimiser in float64 too
        blocks = None
        if config.solver_weight > 0:
            from pyolcaoml.model.solver_loss import structure_blocks

            blocks = {
                k: structure_blocks(
                    dataset, symbol, ed.atom_index[r], basis.from_latent_matrix
                )
                for k, r in rows.items()
                if k != "holdout" and r.size
            }
        try:
            if extended and config.extend_variant:
                info = _fit_variant(
                    symbol,
                    em,
                    extension,
                    member,
                    (cols, switch),
                    x,
                    y,
                    groups,
                    config,
                    progress,
                    list(dataset.elements),
                )
            elif extended:
                from pyolcaoml.model.extend import base_network, fit_extension

                em.network, info, em.basis = fit_extension(
                    symbol,
                    base_network(extension, symbol, member),
                    cols,
                    x,
                    y,
                    ed.isolated,
                    config,
                    progress,
                )
            else:
                em.network, info = _fit_network(
                    symbol, em, x_mean, x_scale**2, x, y, config, progress, blocks
                )
        finally:
            keras.config.set_floatx(floatx)
        elements[symbol] = em
        record[symbol] = info
        keras.backend.clear_session(free_memory=False)
    model = PotentialModel(
        descriptor=settings,
        n_features=int(x_all.shape[1]),
        elements=elements,
        metric=config.metric,
    )
    for symbol, ed in dataset.elements.items():
        metrics[symbol] = {}
        for split, sid in ids.items():
            r = dataset.element_rows(symbol, sid)
            if r.size == 0:
                continue
            metrics[symbol][split] = method_errors(
                model, symbol, x_all[ed.atom_index[r]], ed.coeffs[r]
            )
    model.metrics = metrics
    model.training = {
        "config": config.to_dict(),
        "dataset_path": dataset.path,
        "dataset_sha256": dataset.sha256,
        "train_structures": train_names,
        "validation_structures": val_names,
        "holdout_structures": hold_names,
        "excluded_unconverged": excluded,
        "per_element": record,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    model.versions = library_versions()
    return model


def _fit_baselines(x_train, y_train, groups, isolated, gram, config):
    """(output basis, ridge baseline) of one network's training atoms."""
    basis = OutputBasis.fit(
        y_train,
        isolated,
        gram,
        eps=config.basis_eps,
        variance_kept=config.variance_kept,
    )
    strengths = [] if config.ridge_strength is None else [[config.ridge_strength]]
    return basis, fit_ridge(x_train, y_train, groups, gram, *strengths)


def _fit_variant(
    symbol,
    em,
    extension,
    member,
    columns,
    x,
    y,
    groups,
    config,
    progress,
    settings_elements,
):
    """The base network as it is for the element's atoms without a neighbour
    of a new element, and a new network, with its own output basis and
    ridge branch, trained on those with one (the element's variant).
    ``columns`` = (cols, switch) of extend.extension_columns."""
    from pyolcaoml.model.extend import base_network, base_output_basis, embedded_base

    cols, switch = columns
    n_features = int(x["train"].shape[1])
    base = base_network(extension, symbol, member)
    em.network = embedded_base(symbol, base, cols, n_features)
    em.basis = base_output_basis(base, y["train"], em.isolated, config.basis_eps)
    near = {k: np.any(v[:, switch] != 0, axis=1) for k, v in x.items()}
    if near["train"].sum() < 2:
        raise ModelError(
            f"{symbol}: fewer than two training atoms with a neighbour of the "
            "new element: nothing to train its variant on"
        )
    vx = {k: v[near[k]] for k, v in x.items()}
    vy = {k: v[near[k]] for k, v in y.items()}
    gram = config.metric.gram(em.alphas)
    vgroups = groups[near["train"]]
    basis, ridge = _fit_baselines(
        vx["train"], vy["train"], vgroups, em.isolated, gram, config
    )
    variant = ElementModel(
        symbol=symbol,
        alphas=em.alphas,
        basis=basis,
        ridge=ridge,
        charge_columns=em.charge_columns,
    )
    x_mean, x_scale = feature_scaling(vx["train"])
    net, info = _fit_network(
        symbol, variant, x_mean, x_scale**2, vx, vy, config, progress, None
    )
    em.variant_columns = switch
    em.variant_members = [net]
    em.variant_elements = sorted(set(settings_elements) - set(extension.elements))
    return {
        **info,  # the variant network's training record
        "extended_from_base": True,
        "variant": True,
        "n_train_atoms_with_new_neighbours": int(near["train"].sum()),
        "n_validation_atoms_with_new_neighbours": int(near["validation"].sum()),
        "n_new_columns": int(len(switch)),
    }


def _extension_setup(dataset, config, x_all, settings):
    """The base model to extend and where its descriptor sits in ours."""
    from pyolcaoml.model.extend import (
        check_embedding,
        extension_columns,
        read_extension,
    )

    if config.solver_weight > 0 or config.centre_structures:
        raise ModelError(
            "extending a model trains with the per-atom loss only (no "
            "--solver-weight, no --centre-structures)"
        )
    extension = read_extension(config.extend_from)
    missing = [s for s in extension.elements if s not in dataset.elements]
    if missing:
        raise ModelError(
            f"the dataset has no {', '.join(missing)} atoms, which the base "
            f"model {extension.path} predicts"
        )
    if settings.get("type") == "neighbour_mean" and not config.extend_variant:
        raise ModelError(
            "a descriptor with a neighbour mean extends a model with "
            "--extend-variant only (the extended first layer would read the "
            f"neighbour means of pure {'/'.join(extension.elements)} structures)"
        )
    cols, switch = extension_columns(extension.descriptor, settings, extension.elements)
    check_embedding(
        dataset, x_all, extension.descriptor, cols, extension.elements, switch=switch
    )
    return extension, cols, switch


def bootstrap_split(
    names: Sequence[str], bootstrap: Sequence[str], holdout: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """(in-bag, out-of-bag, holdout) structure names, in dataset order."""
    names = list(names)
    unknown = [n for n in [*bootstrap, *holdout] if n not in names]
    if unknown:
        raise ModelError(f"unknown structure name(s): {', '.join(unknown)}")
    if set(bootstrap) & set(holdout):
        raise ModelError("a bootstrap sample may not hold held-out structures")
    if not bootstrap:
        raise ModelError("empty bootstrap sample")
    bag = set(bootstrap)
    train = [n for n in names if n in bag]
    oob = [n for n in names if n not in bag and n not in set(holdout)]
    return train, oob, [n for n in names if n in set(holdout)]


def _fit_network(
    symbol: str,
    em: ElementModel,
    x_mean: np.ndarray,
    x_variance: np.ndarray,
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    config: TrainConfig,
    progress: ProgressFn | None,
    blocks: dict | None = None,
):
    from pyolcaoml.model.network import build_network, predict_batched

    linear = None
    if config.ridge_skip:
        # The ridge baseline in latent coordinates, acting on the normalised
        # descriptors u = (x - x_mean) / sqrt(x_variance) of the network.
        r = em.ridge
        scale = np.sqrt(x_variance) / r.x_scale
        shift = (x_mean - r.x_mean) / r.x_scale
        t = em.basis.to_latent_matrix
        kernel = (scale[:, None] * r.weights) @ t.T
        bias = (shift @ r.weights + r.intercept - em.basis.offset) @ t.T
        linear = (kernel, bias)
    full, trainer = build_network(
        symbol,
        x_mean,
        x_variance,
        em.basis,
        hidden=config.hidden,
        activation=config.activation,
        l2=config.l2,
        linear=linear,
    )
    z_train = em.basis.to_latent(y["train"])
    has_val = len(x["validation"]) > 0
    z_val = em.basis.to_latent(y["validation"]) if has_val else None
    n_latent = em.basis.n_latent
    cb = _Progress(symbol, full, x, y, em, config, progress)
    losses, monitor = fit_latent(
        trainer,
        x["train"],
        z_train,
        (x["validation"], z_val) if has_val else None,
        config,
        [cb],
    )
    best = int(np.argmin(losses))
    if blocks is not None:
        # fine-tune the per-atom fit on per-atom + solver loss (full batch)
        info = _fit_solver(
            symbol, full, trainer, em, x, y, z_train, z_val, config, progress, blocks
        )
        info.update(per_atom_epochs_run=len(losses), per_atom_best_epoch=best + 1)
        return full, info
    pred = predict_batched(full, x["train"])
    info = {
        "n_latent": n_latent,
        "epochs_run": len(losses),
        "best_epoch": best + 1,
        "best_" + monitor: float(losses[best]),
        "train_rms_v_hartree": config.metric.rms(pred, y["train"], em.alphas),
        "n_train_atoms": int(len(x["train"])),
        "n_validation_atoms": int(len(x["validation"])),
    }
    return full, info


def fit_latent(trainer, x, z, validation, config, callbacks=()):
    """Fit a network's latent output to z: the per-atom loss (sum of squared
    latent differences = the basis metric), Adam, early stopping with the
    best weights restored and the rate halved on plateaus, monitored on
    ``validation`` = (x, z) when given. Returns (monitored losses per
    epoch, the monitored name)."""
    from pyolcaoml.model.network import import_keras

    keras = import_keras()
    # Mean over latent components * n_latent = the metric M of the basis.
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=lambda t, p: keras.ops.sum(keras.ops.square(t - p), axis=-1),
    )
    monitor = "val_loss" if validation is not None else "loss"
    hist = trainer.fit(
        x,
        z,
        validation_data=validation,
        epochs=config.max_epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                patience=config.patience,
                restore_best_weights=True,
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=0.5,
                patience=max(config.patience // 3, 5),
                min_lr=config.learning_rate / 64,
            ),
            *callbacks,
        ],
    )
    return hist.history[monitor], monitor


def _centre_per_structure(dataset, ed, rows, y):
    """Coefficients with each structure's mean (over its atoms of the
    element) replaced by the mean of those structure means on training."""
    struct = {k: dataset.structure_index[ed.atom_index[r]] for k, r in rows.items()}
    means = {}
    for k in y:
        for s in np.unique(struct[k]):
            means[(k, int(s))] = y[k][struct[k] == s].mean(axis=0)
    train_means = [v for (k, _), v in means.items() if k == "train"]
    level = np.mean(train_means, axis=0)
    out = {}
    for k, v in y.items():
        v = v.copy()
        for s in np.unique(struct[k]):
            sel = struct[k] == s
            v[sel] += level - means[(k, int(s))]
        out[k] = v
    return out


def _fit_solver(
    symbol, full, trainer, em, x, y, z_train, z_val, config, progress, blocks
):
    """Fine-tuning on per-atom + structure-level loss of
    pyolcaoml.model.solver_loss (full batch, a quarter of the learning rate)."""
    from pyolcaoml.model.network import predict_batched
    from pyolcaoml.model.solver_loss import fit_with_solver_loss

    def report(epoch: int, logs: dict) -> None:
        if progress is not None:
            progress(symbol, epoch, config.max_epochs, logs)

    z = {"train": z_train}
    if z_val is not None:
        z["validation"] = z_val
    info = fit_with_solver_loss(
        trainer,
        {k: x[k] for k in z},
        z,
        blocks,
        solver_weight=config.solver_weight,
        learning_rate=config.learning_rate / 4,
        max_epochs=config.max_epochs,
        patience=config.patience,
        report=report,
    )
    pred = predict_batched(full, x["train"])
    info.update(
        n_latent=em.basis.n_latent,
        train_rms_v_hartree=config.metric.rms(pred, y["train"], em.alphas),
        n_train_atoms=int(len(x["train"])),
        n_validation_atoms=int(len(x["validation"])),
    )
    return info


class _Progress:
    """Keras callback that reports each epoch (with V(r) error on validation)."""

    def __new__(cls, *args, **kwargs):  # build the subclass lazily (keras import)
        from pyolcaoml.model.network import import_keras

        keras = import_keras()

        class Impl(keras.callbacks.Callback):
            def __init__(self, symbol, full, x, y, em, config, fn):
                super().__init__()
                self.symbol, self.full, self.x, self.y = symbol, full, x, y
                self.em, self.config, self.fn = em, config, fn

            def on_epoch_end(self, epoch, logs=None):
                if self.fn is None:
                    return
                logs = dict(logs or {})
                if len(self.x["validation"]):
                    from pyolcaoml.model.network import predict_batched

                    pred = predict_batched(self.full, self.x["validation"])
                    logs["val_rms_v"] = self.config.metric.rms(
                        pred, self.y["validation"], self.em.alphas
                    )
                logs = {k: float(v) for k, v in logs.items() if _is_number(v)}
                self.fn(self.symbol, epoch + 1, self.config.max_epochs, logs)

        return Impl(*args, **kwargs)


def _is_number(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _isolated_charges(symbol: str, alphas: np.ndarray) -> np.ndarray | None:
    """Charge columns 3-5 of the bundled atomicPDB coeff1, if they fit."""
    try:
        from pyolcaoml.olcao import load_atomic_potential

        table = load_atomic_potential(symbol).block.table
    except (ImportError, KeyError, ValueError, OSError):
        return None
    if table.shape[0] != len(alphas) or not np.allclose(table[:, 1], alphas, rtol=1e-6):
        return None
    return table[:, 2:5].copy()


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """'64,64' -> (64, 64)."""
    if not isinstance(text, str):
        return tuple(int(v) for v in text)
    try:
        layers = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError as exc:
        raise ModelError(
            f"hidden layers must be comma-separated integers, not {text!r}"
        ) from exc
    if any(v < 1 for v in layers):
        raise ModelError("hidden layer widths must be positive")
    return layers
