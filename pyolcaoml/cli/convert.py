"""olcaoml convert: OLCAO run directories -> HDF5 training set."""

from __future__ import annotations

import argparse
import os
import sys

from pyolcaoml.cli.descriptor_options import (
    add_descriptor_arguments,
    build_descriptor,
    covering_descriptor,
)

HELP = "build an HDF5 training set from OLCAO run directories"
DESCRIPTION = """\
Build an HDF5 training set (docs/dataset.md) from OLCAO runs.

Each RUN_DIR is a run directory (one holding inputs/olcao.dat) or a tree
searched for them. For every run with a converged potential
(gs_scfV-<basis>.dat) the file gets the structure, the SCF summary, the
bispectrum descriptors of every atom and the converged coefficients A_i of
every atom's potential type. Runs without gs_scfV are skipped and listed.
Runs whose SCF stopped before its last convergence value fell below the
run's CONVERGENCE_TEST (olcao.dat) are named with both numbers and left out,
unless --include-unconverged (then they are kept, with the warning, and
'olcaoml train' still leaves them out unless told the same).

The output is written to a temporary file and renamed at the end: a failed
conversion leaves nothing behind, and an existing output is never replaced
unless --force (or extended with --append, which skips runs it already
holds, by content hash of their OLCAO files).

examples:
  olcaoml convert shared/olcao-runs -o si.h5
  olcaoml convert new_runs/ -o si.h5 --append
  olcaoml convert runs/ -o si.h5 --twojmax 6 --scales 1.0,1.5 --radius Si=2.35
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run directories or trees of them"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="HDF5 file to write"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--append",
        action="store_true",
        help="add to an existing file (same descriptor settings); runs already "
        "in it are skipped",
    )
    mode.add_argument(
        "--force", action="store_true", help="replace an existing output file"
    )
    parser.add_argument(
        "--exclude-shared-types",
        action="store_true",
        help="leave out runs in which several atoms share a potential type "
        "(default: keep them, with the multiplicity recorded per atom)",
    )
    parser.add_argument(
        "--include-unconverged",
        action="store_true",
        help="keep runs whose final SCF convergence is above their "
        "CONVERGENCE_TEST (default: warn and leave them out)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or summary"
    )
    add_descriptor_arguments(parser)


def _list(title: str, items: list[str]) -> None:
    if items:
        print(f"{title} ({len(items)}):", file=sys.stderr)
        for item in items:
            print(f"  {item}", file=sys.stderr)


def unconverged_note(run_) -> str:
    """'<run>: SCF stopped at convergence X after N iterations, above its
    CONVERGENCE_TEST Y' for a run whose potential is not converged."""
    h = run_.history
    if h is None:
        return f"{run_.path}: no SCF log (gs_iter-<basis>.dat): convergence unknown"
    return (
        f"{run_.path}: SCF stopped at convergence {h.final_convergence:.3g} after "
        f"{h.n_iterations} iterations, above its CONVERGENCE_TEST "
        f"{run_.convergence_test:.3g}"
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pyolcaoml.cli import CLIError
    from pyolcaoml.dataset import (
        read_content_hashes,
        read_descriptor_json,
        record_from_run,
        write_dataset,
    )
    from pyolcaoml.olcao.run import find_run_dirs, read_run

    output = args.output
    exists = os.path.exists(output)
    if exists and not (args.append or args.force):
        raise CLIError(f"{output} exists: use --append to add to it or --force")
    if exists and not os.path.isfile(output):
        raise CLIError(f"{output} is not a file")
    from pyolcaoml.outputs import OutputPathError, check_output

    try:  # before any run is read: a missing folder is reported at once
        check_output(output, force=True)
    except OutputPathError as exc:
        raise CLIError(str(exc)) from None
    try:
        descriptor = build_descriptor(args)
    except ValueError as exc:
        raise CLIError(f"descriptor: {exc}") from None
    settings = descriptor.to_dict()
    known: set[str] = set()
    if args.append and exists:
        import json

        try:
            have = json.loads(read_descriptor_json(output))
            known = set(read_content_hashes(output))
        except (OSError, KeyError, ValueError) as exc:
            raise CLIError(f"{output}: cannot append: {exc}") from None
        if isinstance(have.get("radii"), dict):  # the file's elements
            try:
                descriptor = build_descriptor(args, list(have["radii"]))
            except ValueError as exc:
                raise CLIError(f"descriptor: {exc}") from None
            settings = descriptor.to_dict()
        if have != json.loads(json.dumps(settings)):
            raise CLIError(
                f"{output} was made with other descriptor settings: "
                f"{json.dumps(have, sort_keys=True)}"
            )
    try:
        run_dirs = find_run_dirs(args.runs)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    if not run_dirs:
        raise CLIError(
            "no OLCAO run directories (holding inputs/olcao.dat) under "
            + ", ".join(args.runs)
        )

    records, seen = [], set(known)
    elements_seen: set[str] = set()
    unconverged: list[str] = []
    not_converged: list[str] = []
    duplicates: list[str] = []
    shared: list[str] = []
    for path in tqdm(run_dirs, desc="convert", unit="run", disable=args.quiet or None):
        run_ = read_run(path)
        if run_.converged_potential is None:
            unconverged.append(path)
            continue
        if not run_.converged:
            note = unconverged_note(run_)
            print(f"warning: {note}", file=sys.stderr)
            if not args.include_unconverged:
                not_converged.append(note)
                continue
        if run_.content_hash in seen:
            duplicates.append(path)
            continue
        if run_.shared_types:
            if args.exclude_shared_types:
                n_shared = int((run_.type_multiplicity > 1).sum())
                shared.append(
                    f"{path} ({n_shared} of {run_.n_atoms} atoms share "
                    f"{len(run_.shared_types)} potential type(s))"
                )
                continue
        seen.add(run_.content_hash)
        try:  # default radii (pyolcaoml.radii) for new elements
            descriptor = covering_descriptor(
                args, descriptor, run_.structure.elements, elements_seen
            )
        except ValueError as exc:
            raise CLIError(f"descriptor: {exc}") from None
        records.append(record_from_run(run_, descriptor.compute(run_.structure)))

    if not args.quiet:
        _list("skipped, no converged potential (gs_scfV-<basis>.dat)", unconverged)
        _list(
            "skipped, SCF not converged (use --include-unconverged to keep)",
            not_converged,
        )
        _list("skipped, already in the output or given twice", duplicates)
        _list("excluded, atoms sharing potential types", shared)
    if not records:
        if args.append and exists:
            if not args.quiet:
                print(f"nothing new to add to {output}", file=sys.stderr)
            return 0
        raise CLIError("no run with a converged potential: nothing written")
    settings = descriptor.to_dict()  # radii of every element met
    report = write_dataset(
        output, records, settings, append=args.append, overwrite=args.force
    )
    if not args.quiet:
        verb = "added to" if args.append and exists else "wrote"
        print(
            f"{verb} {output}: {len(report.added)} structures, "
            f"{report.n_atoms_added} atoms, {descriptor.n_features} features per atom",
            file=sys.stderr,
        )
    return 0
