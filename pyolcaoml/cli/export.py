"""olcaoml export: write a model as a text file for the Fortran library."""

from __future__ import annotations

import argparse
import sys

HELP = "export MODEL/ as a portable text file (model.oml) for libolcaoml"
DESCRIPTION = """\
Write everything the Fortran library libolcaoml needs to predict potential
coefficients without Python or TensorFlow: descriptor settings, and for
every element the exponents, the isolated-atom baseline, the charge columns
of scfV.dat, the input normalisation and every network layer (weights,
biases, activations; the last layer is the fixed output map), and for an
ensemble the calibration of sigma, the handover threshold for amorphous
structures, when the model records one (the default model), and the fit
of the OLCAO iterations to expect, when the model's directory holds its
reference runs (olcao_iterations.json; a stale one is left out with a
warning). The file is versioned plain text with 17 significant digits per
number (format in pyolcaoml/export.py and docs/library.md); the export
checks that the layers it writes reproduce the Keras network.

examples:
  olcaoml export mymodel -o mymodel.oml
  olcaoml export sic -o sic.oml              # the bundled Si + C model
  olcaoml export sic -o sic.oml --domain sic.omld   # + its domain (handover)
  olcaoml export mymodel -o /path/to/olcao/run/model.oml --force
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        metavar="MODEL",
        help="model directory ('olcaoml train'), or a bundled model's name "
        "('default', 'sic', 'asi', 'sicam')",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the model file to write (e.g. model.oml)",
    )
    p.add_argument(
        "--domain",
        metavar="FILE",
        help="also write the model's applicability domain (binary, e.g. "
        "model.omld): the library's per-atom applicability distance and the "
        "amorphous SiC handover of the Si + C model need it (docs/library.md)",
    )
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError
    from pyolcaoml.export import ExportError, export_model
    from pyolcaoml.model import ModelError

    try:
        summary = export_model(
            args.model, args.output, force=args.force, domain=args.domain
        )
    except (ExportError, ModelError) as exc:
        raise CLIError(str(exc)) from exc
    if summary.domain_output:
        mib = summary.domain_bytes / 2**20
        print(f"wrote {summary.domain_output} ({mib:.1f} MiB)")
    print(f"wrote {summary.output} ({summary.size_bytes / 1024:.1f} KiB)")
    print(f"  descriptor: {summary.n_features} features per atom")
    for symbol, layers in summary.layers.items():
        print(f"  {symbol}: " + "; ".join(layers))
    if summary.iterations:
        print(f"  expected OLCAO iterations: {summary.iterations}")
    for note in summary.warnings:
        print(f"warning: {note}", file=sys.stderr)
    return 0
