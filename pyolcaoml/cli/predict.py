"""olcaoml predict: write a predicted scfV.dat for a structure or a run."""

from __future__ import annotations

import argparse
import os
import warnings

HELP = "predict the potential of a structure or OLCAO run and write scfV.dat"
DESCRIPTION = """\
Predict every atom's potential coefficients A_i (Hartree) with MODEL and write
them as an scfV.dat in OLCAO's own format, one potential type per atom.

  olcaoml predict MODEL STRUCTURE -o scfV.dat
      STRUCTURE: olcao.skl, structure.dat or any file ASE reads; potential
      type i is atom i (in file order).
  olcaoml predict MODEL RUN_DIR
      RUN_DIR holds inputs/olcao.dat and inputs/structure.dat (after
      makeinput ... -target -atom 1 -sphere 50 -operand types -relate diff,
      so that each atom is its own potential type). Writes
      RUN_DIR/inputs/scfV.dat in the order of olcao.dat's potential types,
      after checking that every type belongs to exactly one atom and that
      its element and exponents are the model's. makeinput already wrote a
      default inputs/scfV.dat, so replacing it needs --force.

  olcaoml predict MODEL INPUT... -o FILE.h5|FOLDER [--workers N]
      many structures (several files, directories, every frame of a
      trajectory ASE reads, run directories): their coefficients go, in
      input order, to one HDF5 file, or to FOLDER/<name>/scfV.dat each
      (without -o, run directories get RUN_DIR/inputs/scfV.dat). An input
      that fails is reported by name and the others go on (exit status 1)
      unless --fail-fast. --workers/--scheduler: Dask, see docs/parallel.md.

Charge-density columns 3-5 are the isolated atom's (from the run's own
inputs/scfV.dat, or the model's copy of atomicPDB coeff1): only column 1 is
predicted. Files are written to a temporary name and renamed, never
overwritten without --force.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model directory (from 'olcaoml train')")
    p.add_argument(
        "target",
        metavar="STRUCTURE|RUN_DIR",
        help="structure file, or an OLCAO run directory",
    )
    p.add_argument(
        "more_targets",
        nargs="*",
        metavar="INPUT",
        help="more structures, directories or trajectories (many-input mode)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="scfV.dat to write (required for a structure file; "
        "for a run directory the default is RUN_DIR/inputs/scfV.dat)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OpenMP threads for the descriptors (default: all; per worker "
        "with --workers/--scheduler, default 1)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="many inputs: no progress"
    )
    from pyolcaoml.cli.parallel_options import add_parallel_arguments

    add_parallel_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError, many
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.workflow import (
        predict_scfv_for_run,
        predict_scfv_for_structure,
    )

    targets = [args.target, *getattr(args, "more_targets", [])]
    if many.wants_many(targets, args.output, args):
        return many.run_predict(args, args.model, targets)
    target = args.target
    if not os.path.exists(target):
        raise CLIError(f"no such file or directory: {target}")
    is_run = os.path.isdir(target)
    if is_run and not os.path.isfile(os.path.join(target, "inputs", "olcao.dat")):
        raise CLIError(
            f"{target} is a directory but not an OLCAO run (no inputs/olcao.dat)"
        )
    if not is_run and not args.output:
        raise CLIError("give -o/--output FILE for the scfV.dat of a structure file")
    if is_run and args.output:
        raise CLIError(
            "-o is not used with a run directory (it writes RUN_DIR/inputs/scfV.dat)"
        )
    try:
        model = load_model(args.model)
        if is_run:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                plan, pred = predict_scfv_for_run(
                    model, target, force=args.force, n_threads=args.threads
                )
            for w in caught:
                print(f"warning: {w.message}")
            output = plan.output
        else:
            from pyolcaoml.structure import read_structure

            try:
                structure = read_structure(target)
            except Exception as exc:  # ASE raises many kinds for unknown formats
                raise CLIError(f"cannot read structure {target}: {exc}") from exc
            pred = predict_scfv_for_structure(
                model,
                structure,
                args.output,
                force=args.force,
                n_threads=args.threads,
            )
            output = args.output
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    counts: dict[str, int] = {}
    for s in pred.symbols:
        counts[s] = counts.get(s, 0) + 1
    what = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(
        f"predicted {len(pred.symbols)} atoms ({what}): descriptors "
        f"{pred.descriptor_seconds:.2f} s, network {pred.network_seconds:.2f} s"
    )
    print(f"wrote {os.path.abspath(output)}")
    return 0
