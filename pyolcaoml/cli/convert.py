"""olcaoml convert: OLCAO run directories -> HDF5 training set."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from pyolcaoml.cli.descriptor_options import (
    add_descriptor_arguments,
    build_descriptor,
    covering_descriptor,
)
from pyolcaoml.cli.parallel_options import add_parallel_arguments

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
--include-unconverged MAX keeps only those that stopped at or below MAX: a
run that stopped just short of its test (1e-5 for 1e-6) is still a good
target, one whose SCF stalled (1e-2 after 60 iterations) is not.

The output is written to a temporary file and renamed at the end: a failed
conversion leaves nothing behind, and an existing output is never replaced
unless --force (or extended with --append, which skips runs it already
holds, by content hash of their OLCAO files).

A run that cannot be read is reported by name and the others are written
(exit status 1), unless --fail-fast (then nothing is written). --workers N
or --scheduler ADDRESS convert the runs on Dask workers (docs/parallel.md);
the file is the same, byte for byte apart from its creation time.

examples:
  olcaoml convert shared/olcao-runs -o si.h5
  olcaoml convert new_runs/ -o si.h5 --append
  olcaoml convert runs/ -o si.h5 --twojmax 6 --scales 1.0,1.5 --radius Si=2.35
  olcaoml convert /scratch/runs -o si.h5 --scheduler scheduler.json
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
        nargs="?",
        type=_convergence_limit,
        const=math.inf,
        default=None,
        metavar="MAX",
        help="keep runs whose final SCF convergence is above their "
        "CONVERGENCE_TEST, with a warning; with MAX only those that stopped "
        "at or below MAX (default: warn and leave them all out)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or summary"
    )
    add_parallel_arguments(parser)
    add_descriptor_arguments(parser)


def _convergence_limit(text: str) -> float:
    """--include-unconverged's MAX: a positive number."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive convergence value, got {text!r}"
        )
    return value


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
    from pyolcaoml.cli import CLIError
    from pyolcaoml.cli.many import describe_error
    from pyolcaoml.cli.parallel_options import executor_from_args, is_parallel
    from pyolcaoml.dataset import (
        read_content_hashes,
        read_descriptor_json,
        write_dataset,
    )
    from pyolcaoml.olcao.run import find_run_dirs
    from pyolcaoml.parallel import ItemFailed

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

    # Radii: the defaults of pyolcaoml.radii for every element of the runs
    # (a quick look at each inputs/structure.dat), so that the settings,
    # the same for every record, are fixed before the work is handed out.
    # Without --chem an atom's bispectrum depends only on the radii of the
    # elements around it, so the extra radii change no number.
    try:
        descriptor = covering_descriptor(
            args, descriptor, _elements_of_runs(run_dirs), set()
        )
    except ValueError as exc:
        raise CLIError(f"descriptor: {exc}") from None
    settings = descriptor.to_dict()
    seen = set(known)
    unconverged: list[str] = []
    not_converged: list[str] = []
    duplicates: list[str] = []
    shared: list[str] = []
    failed: list[str] = []
    parallel = is_parallel(args)
    func = partial(
        convert_run,
        json.dumps(settings, sort_keys=True),
        args.exclude_shared_types,
        1 if parallel else None,
        args.include_unconverged,
    )

    def named(path: str, exc: BaseException) -> str:
        message = describe_error(exc)
        return message if path in message else f"{path}: {message}"

    def records(executor: Any) -> Iterator[Any]:
        """The new records in input order, as the runs are converted."""
        results = executor.map(
            func,
            run_dirs,
            desc=None if args.quiet else "convert",
            fail_fast=args.fail_fast,
        )
        try:
            for path, r in zip(run_dirs, results, strict=True):
                if isinstance(r, ItemFailed):
                    failed.append(named(path, r.error))
                    continue
                if r.note:
                    print(f"warning: {r.note}", file=sys.stderr)
                if r.record is None and r.why == "unconverged":
                    unconverged.append(path)
                elif r.record is None and r.why == "not converged":
                    not_converged.append(r.note)
                elif r.content_hash in seen:
                    duplicates.append(path)
                elif r.record is None:
                    shared.append(f"{path} ({r.why})")
                else:
                    seen.add(r.content_hash)
                    yield r.record
        except ItemFailed as exc:
            raise CLIError(named(exc.item, exc.error)) from None

    with executor_from_args(args) as executor:
        if parallel and not args.quiet:
            print(f"running on {executor.description}", file=sys.stderr)
        try:
            report = write_dataset(
                output,
                records(executor),
                settings,
                append=args.append,
                overwrite=args.force,
            )
        except ValueError as exc:
            if str(exc) != "no structures to write":
                raise
            report = None

    if not args.quiet:
        _list("skipped, no converged potential (gs_scfV-<basis>.dat)", unconverged)
        _list(
            "skipped, SCF not converged (use --include-unconverged [MAX] to keep)",
            not_converged,
        )
        _list("skipped, already in the output or given twice", duplicates)
        _list("excluded, atoms sharing potential types", shared)
    _list("failed", failed)
    if report is None or not report.added:
        if args.append and exists:
            if not args.quiet:
                print(f"nothing new to add to {output}", file=sys.stderr)
            return 1 if failed else 0
        raise CLIError("no run with a converged potential: nothing written")
    if not args.quiet:
        verb = "added to" if args.append and exists else "wrote"
        print(
            f"{verb} {output}: {len(report.added)} structures, "
            f"{report.n_atoms_added} atoms, {descriptor.n_features} features per atom",
            file=sys.stderr,
        )
    return 1 if failed else 0


@dataclass
class Converted:
    """One run converted: its record, or why it has none."""

    content_hash: str
    record: Any = None  # pyolcaoml.dataset.StructureRecord
    why: str = ""  # "unconverged", "not converged", or the shared-types note
    note: str = ""  # the SCF-not-converged warning, if any


def convert_run(
    settings_json: str,
    exclude_shared: bool,
    n_threads: int | None,
    include_unconverged: float | None,
    path: str,
) -> Converted:
    """Read one run directory and build its record (runs on a worker).
    ``include_unconverged``: None leaves out every run whose SCF did not
    reach its CONVERGENCE_TEST; a number keeps those that stopped at or
    below it (inf: all)."""
    from pyolcaoml.bispectrum import descriptor_from_dict
    from pyolcaoml.dataset import record_from_run
    from pyolcaoml.olcao.run import read_run

    run_ = read_run(path)
    if run_.converged_potential is None:
        return Converted(run_.content_hash, why="unconverged")
    note = ""
    if not run_.converged:
        note = unconverged_note(run_)
        if include_unconverged is None:
            return Converted(run_.content_hash, why="not converged", note=note)
        h = run_.history
        final = math.inf if h is None else float(h.final_convergence)
        if not final <= include_unconverged:  # a NaN value is not kept either
            note += f", above --include-unconverged's {include_unconverged:.3g}"
            return Converted(run_.content_hash, why="not converged", note=note)
    if run_.shared_types and exclude_shared:
        n_shared = int((run_.type_multiplicity > 1).sum())
        return Converted(
            run_.content_hash,
            why=f"{n_shared} of {run_.n_atoms} atoms share "
            f"{len(run_.shared_types)} potential type(s)",
        )
    calc = descriptor_from_dict(json.loads(settings_json))
    b = calc.compute(run_.structure, n_threads=n_threads)
    return Converted(run_.content_hash, record_from_run(run_, b), note=note)


def _elements_of_runs(run_dirs: list[str]) -> set[str]:
    """Elements of the runs' inputs/structure.dat (a run that cannot be
    read adds none here; it fails, by name, when it is converted)."""
    from pyolcaoml.olcao.structure_dat import read_structure_dat

    elements: set[str] = set()
    for path in run_dirs:
        try:
            sdat = read_structure_dat(os.path.join(path, "inputs", "structure.dat"))
            elements.update(sdat.structure.elements)
        except Exception:  # noqa: BLE001 - reported when the run is converted
            continue
    return elements
