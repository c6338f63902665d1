"""olcaoml train: fit one network per element on a dataset."""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "train the per-element networks on a dataset (data.h5) and save MODEL/"
DESCRIPTION = """\
Train one Keras network per element mapping each atom's descriptors to its
OLCAO potential coefficients A_i (Hartree), and save the model directory
MODEL/ (model.json metadata + one .keras file per element).

The network predicts A - A_isolated in a basis whitened in the V(r) metric
(see docs/model.md); splits are by structure, never by atom. With --seed the
run is reproducible on CPU (Keras seeds + TensorFlow op determinism).

examples:
  olcaoml train data.h5 -o mymodel --holdout asi64_s102 --seed 1
  olcaoml train data.h5 -o mymodel --validation si8_s1.04 si16_int_T
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset file written by 'olcaoml convert'")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model directory to write",
    )
    p.add_argument("--force", action="store_true", help="replace MODEL if it exists")
    g = p.add_argument_group("data split (by structure)")
    g.add_argument(
        "--holdout",
        nargs="+",
        default=[],
        metavar="NAME",
        help="structures kept out of training and validation",
    )
    g.add_argument(
        "--validation",
        nargs="+",
        default=[],
        metavar="NAME",
        help="structures used for early stopping (default: a seeded "
        "random --validation-fraction of the rest that never takes the last "
        "structure of a family, e.g. si16_int_T_r0.05_seed3117 when "
        "si16_int_T is held out)",
    )
    g.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="fraction of structures for validation (default 0.2)",
    )
    g.add_argument(
        "--include-unconverged",
        action="store_true",
        help="also train on runs whose SCF stopped above its CONVERGENCE_TEST "
        "(default: warn and leave them out)",
    )
    g = p.add_argument_group("network and training")
    g.add_argument(
        "--hidden",
        default="32,32",
        help="hidden layer widths, comma-separated (default 32,32)",
    )
    g.add_argument("--activation", default="tanh", help="hidden activation")
    g.add_argument("--l2", type=float, default=1e-4, help="L2 weight penalty")
    g.add_argument("--learning-rate", type=float, default=2e-3)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--epochs", type=int, default=2000, help="maximum epochs")
    g.add_argument(
        "--patience", type=int, default=200, help="early-stopping patience in epochs"
    )
    g.add_argument(
        "--basis-eps",
        type=float,
        default=0.05,
        help="weight of the standardised-coefficient term beside the "
        "V(r) term in the loss metric (default 0.05)",
    )
    g.add_argument(
        "--solver-weight",
        type=float,
        default=0.0,
        help="weight of the structure-level loss in OLCAO's SCF convergence "
        "measure (crystal potential of the error on each site's XC mesh; "
        "full-batch training); 0 = per-atom V(r) loss only (default 0)",
    )
    g.add_argument(
        "--ridge-strength",
        type=float,
        default=None,
        help="fixed strength of the ridge baseline/branch (standardised "
        "descriptors); default: leave-structures-out cross-validation",
    )
    g.add_argument(
        "--centre-structures",
        action="store_true",
        help="learn coefficients relative to each structure's mean (the "
        "cell-mean level is replaced by the training average)",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument(
        "--ensemble",
        type=int,
        default=1,
        metavar="M",
        help="train M networks per element (seeds SEED..SEED+M-1, bootstrap "
        "resamples of the non-held-out structures, out-of-bag early stopping "
        "and calibration): predictions get a per-atom sigma (default 1)",
    )
    g.add_argument(
        "--in-every-bag",
        nargs="+",
        default=[],
        metavar="NAME",
        help="with --ensemble: keep these training structures in every "
        "member's bootstrap resample (e.g. the only one of its kind, so that "
        "no member misses it and stops early on it)",
    )
    g.add_argument(
        "--extend",
        metavar="MODEL",
        help="extend a saved model to the dataset's new elements: its own "
        "elements' networks keep every weight and learn only new first-layer "
        "weights on the components of the new elements (needs --chem "
        "descriptors that reduce to MODEL's), so its predictions for "
        "structures of its elements alone do not change; new elements are "
        "trained as usual. --ensemble must equal MODEL's member count",
    )
    g.add_argument(
        "--extend-l2",
        type=float,
        default=None,
        metavar="L2",
        help="with --extend: L2 penalty on the new first-layer weights of the "
        "extended networks (default: --l2)",
    )
    g.add_argument(
        "--extend-variant",
        action="store_true",
        help="with --extend: keep each of MODEL's networks exactly as it is "
        "for atoms without a neighbour of a new element, and train a new "
        "network (the element's environment variant) for the atoms that have "
        "one (default: extend MODEL's networks by first-layer weights)",
    )
    g.add_argument(
        "--extend-tower",
        default="",
        metavar="WIDTHS",
        help="with --extend: hidden widths (comma-separated, one per hidden "
        "layer of MODEL's networks) of a difference tower T added to each "
        "extended network's latent layer as T(u) - T(u without the new "
        "element's columns): a free function of the whole environment that "
        "is exactly 0 (to round-off) without a new-element neighbour "
        "(default: none, first-layer weights only)",
    )
    g.add_argument(
        "--descriptor",
        metavar="JSON",
        help="descriptor settings (JSON text or file, as "
        "descriptor.to_dict()) to recompute descriptors from the "
        "dataset's positions instead of using the stored ones",
    )
    g.add_argument(
        "--log-every",
        type=int,
        default=0,
        metavar="N",
        help="print a line every N epochs instead of a progress bar",
    )
    g.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    from pyolcaoml.cli.parallel_options import add_parallel_arguments

    add_parallel_arguments(p, fail_fast=False)  # ensemble members on Dask


def load_json_arg(text: str) -> dict:
    from pyolcaoml.cli import CLIError

    try:
        if os.path.isfile(text):
            with open(text) as fh:
                return json.load(fh)
        return json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise CLIError(
            f"--descriptor is neither a JSON file nor JSON text: {exc}"
        ) from exc


class EpochReporter:
    """Per-epoch progress with the early-stopping state.

    On a terminal a tqdm counter (no ETA to the epoch limit: training
    usually stops early) shows the best epoch so far and how many epochs
    without improvement remain before early stopping; elsewhere a line every
    ``log_every`` epochs says the same.
    """

    def __init__(self, quiet: bool, log_every: int, patience: int = 0) -> None:
        self.quiet = quiet
        self.log_every = log_every or (0 if sys.stderr.isatty() else 25)
        self.patience = patience
        self.bar = None
        self.symbol = None
        self.best = float("inf")
        self.best_epoch = 0

    def state(self, epoch: int, logs: dict) -> str:
        """Update the best value (val_loss, else loss) and describe it."""
        key = "val_loss" if "val_loss" in logs else "loss"
        value = logs.get(key, float("nan"))
        if value < self.best:
            self.best, self.best_epoch = value, epoch
        left = self.patience - (epoch - self.best_epoch)
        text = f"best epoch {self.best_epoch}"
        if self.patience:
            text += f", stops in {max(left, 0)} without improvement"
        return text

    def __call__(self, symbol: str, epoch: int, max_epochs: int, logs: dict) -> None:
        if symbol != self.symbol:
            self.close()
            self.symbol = symbol
            self.best, self.best_epoch = float("inf"), 0
        state = self.state(epoch, logs)
        if self.quiet:
            return
        text = f"loss {logs.get('loss', float('nan')):.4g}"
        if "val_loss" in logs:
            text += f" val_loss {logs['val_loss']:.4g}"
        if "val_rms_v" in logs:
            text += f" val V RMS {logs['val_rms_v'] * 1e3:.3f} mHa"
        if self.log_every:
            if epoch == 1 or epoch % self.log_every == 0:
                print(
                    f"{symbol} epoch {epoch:5d}: {text}; {state}",
                    flush=True,
                )
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                desc=f"{symbol} (limit {max_epochs} epochs)",
                unit="epoch",
                bar_format="{desc}: {n_fmt} epochs [{elapsed}, {rate_fmt}] {postfix}",
            )
        self.bar.update(1)
        self.bar.set_postfix_str(f"{text}; {state}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _warn(messages, shown: set[str]) -> None:
    for w in messages:
        text = str(w.message)
        if text not in shown:
            shown.add(text)
            print(f"warning: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import warnings

    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, TrainConfig, load_dataset
    from pyolcaoml.model.data import split_structures
    from pyolcaoml.model.ensemble import train_ensemble
    from pyolcaoml.model.evaluation import baseline_warnings, format_table
    from pyolcaoml.model.training import parse_hidden, usable_structures
    from pyolcaoml.model.workflow import dataset_descriptors
    from pyolcaoml.outputs import OutputPathError, check_output

    try:  # every argument before the data is read or TensorFlow imported
        check_output(args.output, force=args.force, directory=True)
    except OutputPathError as exc:
        raise CLIError(str(exc)) from None
    settings = load_json_arg(args.descriptor) if args.descriptor else None
    shown: set[str] = set()
    from pyolcaoml.cli.parallel_options import is_parallel

    for opt in ("extend_l2", "extend_tower", "extend_variant"):
        if getattr(args, opt, None) not in (None, "", False) and not getattr(
            args, "extend", None
        ):
            flag = "--" + opt.replace("_", "-")
            raise CLIError(f"{flag} belongs to an extension: give --extend too")
    if getattr(args, "extend_variant", False) and (
        getattr(args, "extend_tower", "")
        or getattr(args, "extend_l2", None) is not None
    ):
        raise CLIError(
            "--extend-variant trains a new network (--hidden, --l2): "
            "--extend-tower and --extend-l2 belong to the first-layer extension"
        )
    if getattr(args, "extend_l2", None) is not None and args.extend_l2 < 0:
        raise CLIError(f"--extend-l2 must be >= 0, not {args.extend_l2:g}")
    if getattr(args, "in_every_bag", None) and (getattr(args, "ensemble", 1) or 1) < 2:
        raise CLIError("--in-every-bag is for an ensemble: give --ensemble 2 or more")
    if is_parallel(args) and (getattr(args, "ensemble", None) or 1) < 2:
        raise CLIError(
            "--workers/--scheduler train the members of an ensemble in "
            "parallel; one network trains in this process"
        )
    try:
        config = TrainConfig(
            hidden=parse_hidden(args.hidden),
            activation=args.activation,
            l2=args.l2,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            max_epochs=args.epochs,
            patience=args.patience,
            seed=args.seed,
            validation_fraction=args.validation_fraction,
            validation=tuple(args.validation),
            holdout=tuple(args.holdout),
            basis_eps=args.basis_eps,
            include_unconverged=args.include_unconverged,
            solver_weight=args.solver_weight,
            ridge_strength=args.ridge_strength,
            centre_structures=args.centre_structures,
            extend_from=(
                os.path.abspath(args.extend) if getattr(args, "extend", None) else None
            ),
            extend_l2=getattr(args, "extend_l2", None),
            extend_variant=bool(getattr(args, "extend_variant", False)),
            in_every_bag=tuple(getattr(args, "in_every_bag", None) or ()),
            extend_tower=(
                parse_hidden(args.extend_tower)
                if getattr(args, "extend_tower", "")
                else ()
            ),
        )
        from pyolcaoml.model.network import ACTIVATIONS

        if config.activation not in ACTIVATIONS:
            raise ModelError(
                f"--activation must be one of {', '.join(ACTIVATIONS)}, "
                f"not {config.activation!r}"
            )
        dataset = load_dataset(args.dataset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names, validation, _ = usable_structures(dataset, config)
            split_structures(
                names,
                holdout=config.holdout,
                validation_fraction=config.validation_fraction,
                seed=config.seed,
                validation=validation,
            )
        _warn(caught, shown)
        descriptors = None
        if settings is not None:
            print("computing descriptors with the given settings ...", flush=True)
            descriptors = dataset_descriptors(dataset, settings)
        reporter = EpochReporter(args.quiet, args.log_every, args.patience)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if is_parallel(args):
                    model = _train_members_on_dask(
                        args, dataset, config, descriptors, settings
                    )
                else:
                    model = train_ensemble(
                        dataset,
                        config,
                        n_members=args.ensemble,
                        descriptors=descriptors,
                        descriptor_settings=settings,
                        # quiet: no per-epoch validation V(r) either
                        progress=None if args.quiet else reporter,
                    )
        finally:
            reporter.close()
        _warn([w for w in caught if issubclass(w.category, UserWarning)], shown)
        model.save(args.output, overwrite=args.force)
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    tr = model.training
    print(
        f"trained on {len(tr['train_structures'])} structures, validated on "
        f"{len(tr['validation_structures'])}, held out "
        f"{len(tr['holdout_structures'])}; {tr['seconds']:.0f} s"
    )
    for symbol, per in model.metrics.items():
        info = tr["per_element"][symbol]
        print(f"\n{symbol}: best epoch {info['best_epoch']} of {info['epochs_run']}")
        for split in ("validation", "holdout"):
            if split in per:
                print(
                    f"[{split}] "
                    + format_table(symbol, per[split], model.metric.description)
                )
                for text in baseline_warnings(symbol, per[split], split):
                    print(f"warning: {text}", file=sys.stderr)
    from pyolcaoml.model.uncertainty import format_calibration

    text = format_calibration(model)
    if text:
        print("\n" + text)
    print(f"\nmodel written to {os.path.abspath(args.output)}")
    return 0


def _train_members_on_dask(args, dataset, config, descriptors, settings):
    """The members of the ensemble trained on Dask workers (one member per
    task, results in member order: the same model as serial training).
    Members are passed through a folder beside the output, so that workers
    on other nodes of a cluster see it (shared storage)."""
    import shutil
    import tempfile

    from pyolcaoml.cli.parallel_options import executor_from_args
    from pyolcaoml.model.ensemble import train_ensemble

    parent = os.path.dirname(os.path.abspath(args.output))
    work = tempfile.mkdtemp(prefix=".olcaoml-members-", dir=parent)
    try:
        with executor_from_args(args) as executor:
            print(f"training on {executor.description}", file=sys.stderr)
            return train_ensemble(
                dataset,
                config,
                n_members=args.ensemble,
                descriptors=descriptors,
                descriptor_settings=settings,
                progress=None,  # epochs run on the workers
                map_fn=lambda func, specs: executor.map(func, specs, desc="members"),
                workdir=work,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
