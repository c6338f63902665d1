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
        "random --validation-fraction of the rest)",
    )
    g.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="fraction of structures for validation (default 0.2)",
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
    """Per-epoch progress: a tqdm bar on a terminal, else periodic lines."""

    def __init__(self, quiet: bool, log_every: int) -> None:
        self.quiet = quiet
        self.log_every = log_every or (0 if sys.stderr.isatty() else 25)
        self.bar = None
        self.symbol = None

    def __call__(self, symbol: str, epoch: int, max_epochs: int, logs: dict) -> None:
        if self.quiet:
            return
        text = f"loss {logs.get('loss', float('nan')):.4g}"
        if "val_loss" in logs:
            text += f" val_loss {logs['val_loss']:.4g}"
        if "val_rms_v" in logs:
            text += f" val V RMS {logs['val_rms_v'] * 1e3:.3f} mHa"
        if self.log_every:
            if epoch == 1 or epoch % self.log_every == 0:
                print(f"{symbol} epoch {epoch:5d}: {text}", flush=True)
            return
        if self.bar is None or symbol != self.symbol:
            from tqdm import tqdm

            self.close()
            self.symbol = symbol
            self.bar = tqdm(total=max_epochs, desc=f"{symbol}", unit="epoch")
        self.bar.update(1)
        self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, TrainConfig, load_dataset, train_model
    from pyolcaoml.model.evaluation import format_table
    from pyolcaoml.model.training import parse_hidden
    from pyolcaoml.model.workflow import dataset_descriptors

    if os.path.exists(args.output) and not args.force:
        raise CLIError(f"{args.output} exists; use --force to replace it")
    try:
        dataset = load_dataset(args.dataset)
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
            solver_weight=args.solver_weight,
            ridge_strength=args.ridge_strength,
            centre_structures=args.centre_structures,
        )
        descriptors = settings = None
        if args.descriptor:
            settings = load_json_arg(args.descriptor)
            print("computing descriptors with the given settings ...", flush=True)
            descriptors = dataset_descriptors(dataset, settings)
        reporter = EpochReporter(args.quiet, args.log_every)
        try:
            model = train_model(
                dataset,
                config,
                descriptors=descriptors,
                descriptor_settings=settings,
                progress=reporter,
            )
        finally:
            reporter.close()
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
    print(f"\nmodel written to {os.path.abspath(args.output)}")
    return 0
