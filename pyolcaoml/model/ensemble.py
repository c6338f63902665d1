"""Training an ensemble of M networks per element (M = 1: a single network).

Each member is trained by :func:`train_member` from a picklable
:class:`MemberSpec` (seed, bootstrap sample, settings, paths) and returns a
picklable :class:`MemberResult`, so members can be trained in parallel:
:func:`train_ensemble` calls ``map_fn(train_member, specs)`` (default: the
builtin serial ``map``) and expects the results in spec order, e.g.
``pyolcaoml.parallel.make_executor(...).map``.

Members (M > 1) differ by seed and by a bootstrap resample of the
non-held-out structures (with repeats); each member's out-of-bag
structures are its early-stopping set, and its out-of-bag predictions
calibrate the ensemble's uncertainty (pyolcaoml/model/uncertainty.py).
With M = 1 the single network is trained exactly as before (seeded random
validation split) and the model has no uncertainty.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pyolcaoml.model.data import Dataset, load_dataset
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.training import ProgressFn, TrainConfig, train_model

#: map_fn(train_member, specs) -> results in spec order.
MapFn = Callable[[Callable[[Any], Any], Sequence[Any]], Any]


@dataclass
class MemberSpec:
    """Everything one member needs (picklable)."""

    index: int  # 0-based member number
    n_members: int
    seed: int
    dataset_path: str
    config: TrainConfig
    output_dir: str  # the member writes <El>.keras here
    bootstrap: list[str] | None = None  # None: the config's own split
    descriptors: np.ndarray | None = None  # replaces the dataset's
    descriptor_settings: dict | None = None
    progress: ProgressFn | None = None


@dataclass
class MemberResult:
    """What the ensemble needs from one member (picklable)."""

    index: int
    seed: int
    files: dict[str, str]  # element -> .keras path
    train_structures: list[str]
    validation_structures: list[str]
    holdout_structures: list[str]
    predictions: dict[str, np.ndarray]  # element -> (atoms of element, N), Hartree
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    basis: dict[str, dict] = field(default_factory=dict)
    ridge: dict[str, dict] = field(default_factory=dict)
    charge_columns: dict[str, list | None] = field(default_factory=dict)
    #: environment variants (element -> .keras path, columns, elements)
    variant_files: dict[str, str] = field(default_factory=dict)
    variant_columns: dict[str, list[int]] = field(default_factory=dict)
    variant_elements: dict[str, list[str]] = field(default_factory=dict)


class _Labelled:
    """Progress of one member: the element name gets the member's label."""

    def __init__(self, fn: ProgressFn, label: str) -> None:
        self.fn, self.label = fn, label

    def __call__(self, symbol: str, epoch: int, max_epochs: int, logs: dict) -> None:
        self.fn(f"{symbol} {self.label}", epoch, max_epochs, logs)


def train_member(spec: MemberSpec) -> MemberResult:
    """Train one member (all elements) and save its networks (top level:
    picklable for process pools and Dask)."""
    dataset = load_dataset(spec.dataset_path)
    config = replace(spec.config, seed=spec.seed)
    progress = spec.progress
    if progress is not None and spec.n_members > 1:
        progress = _Labelled(progress, f"member {spec.index + 1}/{spec.n_members}")
    model = train_model(
        dataset,
        config,
        descriptors=spec.descriptors,
        descriptor_settings=spec.descriptor_settings,
        progress=progress,
        bootstrap=spec.bootstrap,
        member=spec.index,
    )
    os.makedirs(spec.output_dir, exist_ok=True)
    x_all = dataset.descriptors if spec.descriptors is None else spec.descriptors
    files, predictions, variant_files = {}, {}, {}
    for s, em in model.elements.items():
        files[s] = os.path.join(spec.output_dir, f"{s}.keras")
        em.network.save(files[s])
        if em.variant_columns is not None:
            variant_files[s] = os.path.join(spec.output_dir, f"{s}_variant.keras")
            em.variant_members[0].save(variant_files[s])
        ed = dataset.elements[s]
        predictions[s] = model.predict_element(s, x_all[ed.atom_index])
    tr = model.training
    return MemberResult(
        index=spec.index,
        seed=spec.seed,
        files=files,
        train_structures=list(tr["train_structures"]),
        validation_structures=list(tr["validation_structures"]),
        holdout_structures=list(tr["holdout_structures"]),
        predictions=predictions,
        training=tr,
        metrics=model.metrics,
        basis={s: em.basis.to_dict() for s, em in model.elements.items()},
        ridge={s: em.ridge.to_dict() for s, em in model.elements.items()},
        charge_columns={
            s: None if em.charge_columns is None else em.charge_columns.tolist()
            for s, em in model.elements.items()
        },
        variant_files=variant_files,
        variant_columns={
            s: [int(c) for c in em.variant_columns]
            for s, em in model.elements.items()
            if em.variant_columns is not None
        },
        variant_elements={
            s: list(em.variant_elements)
            for s, em in model.elements.items()
            if em.variant_columns is not None
        },
    )


def bootstrap_samples(
    names: Sequence[str], n_members: int, seed: int, always: Sequence[str] = ()
) -> list[list[str]]:
    """M resamples (with repeats, each of len(names)) of structure names, in
    the order of ``names``. Each name of ``always`` is in every resample: one
    that lacks it gives up its first name for it (the draws are those
    without ``always``)."""
    rng = np.random.default_rng([int(seed), 7919])
    n = len(names)
    order = {name: i for i, name in enumerate(names)}
    draws = [sorted(rng.integers(0, n, n)) for _ in range(n_members)]
    samples = [[names[i] for i in draw] for draw in draws]
    for k, sample in enumerate(samples):
        for name in always:
            if name not in sample:
                sample = sorted([*sample[1:], name], key=order.__getitem__)
        samples[k] = sample
    return samples


def member_specs(
    dataset: Dataset,
    config: TrainConfig,
    n_members: int,
    workdir: str,
    descriptors: np.ndarray | None = None,
    descriptor_settings: dict | None = None,
    progress: ProgressFn | None = None,
) -> list[MemberSpec]:
    """The specs of an ensemble of ``n_members`` (seeds config.seed + m)."""
    if n_members < 1:
        raise ModelError(f"the ensemble needs at least one member, not {n_members}")
    if config.in_every_bag and n_members < 2:
        raise ModelError("--in-every-bag is for an ensemble (--ensemble 2 or more)")
    samples: list[list[str] | None] = [None]
    if n_members > 1 and config.validation:
        raise ModelError(
            "--validation is for a single network: ensemble members stop "
            "early on their own out-of-bag structures"
        )
    if n_members > 1:
        unknown = [n for n in config.holdout if n not in dataset.names]
        if unknown:
            raise ModelError(f"unknown structure name(s): {', '.join(unknown)}")
        rest = [n for n in dataset.names if n not in set(config.holdout)]
        if len(rest) < 2:
            raise ModelError("an ensemble needs at least two training structures")
        bad = [n for n in config.in_every_bag if n not in rest]
        if bad:
            raise ModelError(
                "--in-every-bag: not a training structure of the dataset "
                f"(unknown or held out): {', '.join(bad)}"
            )
        samples = list(
            bootstrap_samples(rest, n_members, config.seed, config.in_every_bag)
        )
    if config.extend_from:
        samples = _extension_samples(dataset, config, n_members, samples)
    return [
        MemberSpec(
            index=m,
            n_members=n_members,
            seed=int(config.seed) + m,
            dataset_path=os.path.abspath(dataset.path),
            config=config,
            output_dir=os.path.join(workdir, f"member_{m + 1}"),
            bootstrap=samples[m],
            descriptors=descriptors,
            descriptor_settings=descriptor_settings,
            progress=progress,
        )
        for m in range(n_members)
    ]


def _extension_samples(
    dataset: Dataset,
    config: TrainConfig,
    n_members: int,
    samples: list[list[str] | None],
) -> list[list[str] | None]:
    """Bootstrap samples of an extension: member m keeps base member m's
    structures (so its out-of-bag structures, which calibrate sigma, are
    truly unseen by the network it extends) plus a resample of the
    structures the base model never trained on."""
    from pyolcaoml.model.extend import read_extension

    ext = read_extension(config.extend_from)
    if n_members != ext.n_members:
        raise ModelError(
            f"{ext.path} has {ext.n_members} network(s) per element: the "
            f"extension must have as many members, not {n_members}"
        )
    not_held = [n for n in ext.holdout if n in dataset.names]
    not_held = [n for n in not_held if n not in set(config.holdout)]
    if not_held:
        raise ModelError(
            f"the base model held out {', '.join(not_held)}: hold them out "
            "here too (--holdout), or the extension trains on them"
        )
    if ext.in_bag is None:
        return samples
    missing = sorted({n for bag in ext.in_bag for n in bag} - set(dataset.names))
    if missing:
        raise ModelError(
            f"the dataset lacks structures the base model trained on "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}): "
            "convert them with the new descriptor too"
        )
    seen = {n for bag in ext.in_bag for n in bag}
    new = [n for n in dataset.names if n not in seen and n not in set(config.holdout)]
    extra = (
        bootstrap_samples(new, n_members, config.seed)
        if new
        else [[] for _ in range(n_members)]
    )
    return [sorted(ext.in_bag[m] + extra[m]) for m in range(n_members)]


def train_ensemble(
    dataset: Dataset,
    config: TrainConfig,
    n_members: int = 1,
    descriptors: np.ndarray | None = None,
    descriptor_settings: dict | None = None,
    progress: ProgressFn | None = None,
    map_fn: MapFn | None = None,
    workdir: str | None = None,
):
    """Train ``n_members`` networks per element into one model.

    ``map_fn(train_member, specs)`` trains the members (default: builtin
    ``map``, serially); results must come back in spec order. ``workdir``
    (default: a temporary directory, removed afterwards) must be visible to
    every worker.
    """
    from pyolcaoml.model.applicability import fit_applicability
    from pyolcaoml.model.network import import_keras

    t0 = time.perf_counter()
    own_tmp = workdir is None
    work = tempfile.mkdtemp(prefix="olcaoml-ensemble-") if own_tmp else workdir
    try:
        specs = member_specs(
            dataset,
            config,
            n_members,
            work,
            descriptors=descriptors,
            descriptor_settings=descriptor_settings,
            progress=progress,
        )
        results = list((map_fn or map)(train_member, specs))
        if [r.index for r in results] != [s.index for s in specs]:
            raise ModelError("ensemble members came back out of order")
        keras = import_keras()
        nets = {
            s: [
                keras.saving.load_model(r.files[s], compile=False, safe_mode=True)
                for r in results
            ]
            for s in results[0].files
        }
        variants = {
            s: [
                keras.saving.load_model(
                    r.variant_files[s], compile=False, safe_mode=True
                )
                for r in results
            ]
            for s in results[0].variant_files
        }
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)
    x_all = dataset.descriptors if descriptors is None else np.asarray(descriptors)
    if n_members == 1:
        model = _single_model(
            dataset, results[0], nets, descriptor_settings, x_all, variants
        )
        seen = results[0].train_structures
    else:
        model = _ensemble_model(
            dataset, config, results, nets, descriptor_settings, x_all, variants
        )
        seen = model.training["train_structures"]
    model.applicability = fit_applicability(dataset, x_all, seen)
    if config.extend_from:
        from pyolcaoml.model.extend import read_extension

        model.training["extension"] = read_extension(config.extend_from).to_dict()
    model.training["seconds"] = round(time.perf_counter() - t0, 2)
    model.training["n_members"] = n_members
    model.ensemble_size = n_members
    return model


def _element_model(symbol, dataset, basis, ridge, charges):
    from pyolcaoml.model.baselines import RidgeBaseline
    from pyolcaoml.model.basis import OutputBasis
    from pyolcaoml.model.saved import ElementModel

    return ElementModel(
        symbol=symbol,
        alphas=dataset.elements[symbol].alphas,
        basis=basis if isinstance(basis, OutputBasis) else OutputBasis.from_dict(basis),
        ridge=ridge
        if isinstance(ridge, RidgeBaseline)
        else RidgeBaseline.from_dict(ridge),
        charge_columns=None if charges is None else np.asarray(charges, float),
    )


def _attach_variant(em, result, variants) -> None:
    s = em.symbol
    if s in variants:
        em.variant_columns = np.asarray(result.variant_columns[s], dtype=np.int64)
        em.variant_elements = list(result.variant_elements[s])
        em.variant_members = list(variants[s])


def _single_model(dataset, result, nets, settings, x_all, variants):
    from pyolcaoml.model.saved import PotentialModel, library_versions

    elements = {}
    for s in result.files:
        em = _element_model(
            s, dataset, result.basis[s], result.ridge[s], result.charge_columns[s]
        )
        em.network = nets[s][0]
        _attach_variant(em, result, variants)
        elements[s] = em
    model = PotentialModel(
        descriptor=dataset.descriptor if settings is None else settings,
        n_features=int(x_all.shape[1]),
        elements=elements,
        metric=TrainConfig().metric
        if "config" not in result.training
        else _metric(result.training["config"]),
        training=dict(result.training),
        metrics=result.metrics,
    )
    model.versions = library_versions()
    return model


def _metric(config: dict):
    from pyolcaoml.model.potential import RadialMetric

    return RadialMetric.from_dict(config["metric"])


def _ensemble_model(dataset, config, results, nets, settings, x_all, variants):
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.basis import OutputBasis
    from pyolcaoml.model.evaluation import method_errors
    from pyolcaoml.model.saved import PotentialModel, library_versions

    holdout = list(results[0].holdout_structures)
    rest = [n for n in dataset.names if n not in set(holdout)]
    ids = {
        "train": dataset.structure_ids(rest),
        "holdout": dataset.structure_ids(holdout),
    }
    elements = {}
    calibration_report = {}
    for s in results[0].files:
        ed = dataset.elements[s]
        rows = dataset.element_rows(s, ids["train"])
        if rows.size < 2:
            raise ModelError(f"{s}: fewer than two training atoms")
        x, y = x_all[ed.atom_index[rows]], ed.coeffs[rows]
        gram = config.metric.gram(ed.alphas)
        basis = OutputBasis.fit(
            y,
            ed.isolated,
            gram,
            eps=config.basis_eps,
            variance_kept=config.variance_kept,
        )
        ridge = fit_ridge(x, y, dataset.structure_index[ed.atom_index[rows]], gram)
        em = _element_model(s, dataset, basis, ridge, results[0].charge_columns[s])
        em.network = nets[s][0]
        em.members = list(nets[s])
        _attach_variant(em, results[0], variants)
        if em.variant_columns is None:
            em.calibration, calibration_report[s] = _calibrate(
                dataset, s, results, config.metric, rest
            )
        else:  # the atoms of each network kind calibrated on their own
            switched = em.uses_variant(x_all[ed.atom_index])
            em.calibration, calibration_report[s] = _calibrate(
                dataset, s, results, config.metric, rest, ~switched
            )
            em.variant_calibration, calibration_report[s + " (variant)"] = _calibrate(
                dataset, s, results, config.metric, rest, switched
            )
        elements[s] = em
    model = PotentialModel(
        descriptor=dataset.descriptor if settings is None else settings,
        n_features=int(x_all.shape[1]),
        elements=elements,
        metric=config.metric,
    )
    metrics: dict[str, dict] = {}
    for s, ed in dataset.elements.items():
        if s not in elements:
            continue
        metrics[s] = {}
        for split, sid in ids.items():
            r = dataset.element_rows(s, sid)
            if r.size:
                metrics[s][split] = method_errors(
                    model, s, x_all[ed.atom_index[r]], ed.coeffs[r]
                )
    model.metrics = metrics
    model.training = {
        "config": config.to_dict(),
        "dataset_path": dataset.path,
        "dataset_sha256": dataset.sha256,
        "train_structures": rest,
        "validation_structures": [],
        "holdout_structures": holdout,
        "per_element": {
            s: results[0].training["per_element"][s] for s in results[0].files
        },
        "members": [
            {
                "seed": r.seed,
                "in_bag": r.train_structures,
                "out_of_bag": r.validation_structures,
                "per_element": r.training["per_element"],
            }
            for r in results
        ],
        "calibration": calibration_report,
    }
    model.versions = library_versions()
    return model


def _calibrate(dataset, symbol, results, metric, rest, atoms=None):
    """Calibration of one element from the members' out-of-bag predictions
    (``atoms``: a mask over the element's atoms to calibrate on; all if
    None)."""
    from pyolcaoml.model.uncertainty import (
        calibration_summary,
        fit_calibration,
        out_of_bag_atoms,
        out_of_bag_pairs,
    )

    ed = dataset.elements[symbol]
    preds = np.stack([r.predictions[symbol] for r in results])  # (M, A, N)
    names = np.asarray(dataset.names)[dataset.structure_index[ed.atom_index]]
    in_bags = [set(r.train_structures) for r in results]
    oob, usable = out_of_bag_atoms(names, in_bags, rest)
    if atoms is not None:
        usable &= atoms
    e2, s2 = out_of_bag_pairs(preds, oob, usable, ed.coeffs, ed.alphas, metric)
    cal = fit_calibration(e2[usable], s2[usable])
    report: dict = cal.to_dict()
    if cal.n_atoms:
        # How the calibrated out-of-bag sigma covers the out-of-bag errors.
        sig = np.sqrt(cal.scale**2 * s2[usable] + cal.floor_hartree**2)
        report["out_of_bag"] = calibration_summary(np.sqrt(e2[usable]), sig)
    else:
        report["note"] = "too few out-of-bag atoms: sigma is the raw spread"
    return cal, report
