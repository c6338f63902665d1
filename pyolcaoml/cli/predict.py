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
      its element is the model's. Where a type's exponents (NUM_ALPHAS,
      range) differ from the model's, the predicted V(r) is projected onto
      the run's own Gaussians by least squares in the V(r) metric and the
      projection error is printed per element. makeinput already wrote a
      default inputs/scfV.dat, so replacing it needs --force.

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
        help="OpenMP threads for the descriptors (default: all)",
    )


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.workflow import (
        predict_scfv_for_run,
        predict_scfv_for_structure,
    )

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
            for el, rep in sorted(plan.projection_report.items()):
                nm, am0, am1 = rep["model_alphas"]
                nr, ar0, ar1 = rep["run_alphas"]
                print(
                    f"{el}: the run's exponents differ from the model's "
                    f"({nr} alphas {ar0:g}..{ar1:g} vs {nm} {am0:g}..{am1:g} "
                    f"Bohr^-2): projected by least squares in V(r) for "
                    f"{rep['n_types']} type(s); projection error RMS "
                    f"{1000 * rep['rms_v_hartree']:.3f} mHa, max "
                    f"{1000 * rep['max_v_hartree']:.3f} mHa "
                    f"({model.metric.description})"
                )
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
