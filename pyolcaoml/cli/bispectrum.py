"""olcaoml bispectrum: descriptors of a structure, summarised or saved."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pyolcaoml.cli import CLIError
from pyolcaoml.cli.common import add_threads_argument
from pyolcaoml.cli.descriptor_options import add_descriptor_arguments, build_descriptor
from pyolcaoml.cli.parallel_options import add_parallel_arguments

HELP = "compute the bispectrum descriptors of structures"
DESCRIPTION = """\
Compute the SO(4) bispectrum (LAMMPS compute sna/atom conventions) of every
atom of a structure and print a summary per component; optionally save the
(n_atoms, K) array.

STRUCTURE: olcao.skl, structure.dat, or any file ASE reads (default: the
bundled 64-atom amorphous Si model).

Many structures at once: give several files, directories (every file and
OLCAO run below them) or multi-frame trajectories, and -o FILE.h5; every
structure's descriptors go to that one HDF5 file in input order (written to
a temporary file and renamed at the end). --workers N or --scheduler ADDRESS
spread them over Dask workers (pip install 'pyolcaoml[dask]'); an input that
fails is reported by name and the others go on (exit status 1) unless
--fail-fast. See docs/parallel.md.

examples:
  olcaoml bispectrum
  olcaoml bispectrum POSCAR --twojmax 6 --radius Si=2.4 -o B.npy
  olcaoml bispectrum olcao.skl --scales 1.0,1.5,2.0
  olcaoml bispectrum melt.extxyz runs/ -o B.h5 --workers 2
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "structure",
        nargs="*",
        default=None,
        help="structure file(s), directories or trajectories",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="save the array: .npy, or .txt/.csv (one row per atom); "
        "checked before anything is computed; .h5 for many structures",
    )
    add_threads_argument(p)
    p.add_argument("--force", action="store_true", help="overwrite --output")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="many structures: no progress"
    )
    add_parallel_arguments(p)
    add_descriptor_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import many
    from pyolcaoml.resources import bundled_structure
    from pyolcaoml.structure import read_structure

    if args.structure and many.wants_many(args.structure, args.output, args):
        try:
            desc = build_descriptor(args)
        except ValueError as exc:
            raise CLIError(f"descriptor: {exc}") from None
        return many.run_bispectrum(args, desc)
    path = Path(args.structure[0]) if args.structure else bundled_structure()
    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    if args.output:
        from pyolcaoml.outputs import OutputPathError, check_output

        try:
            check_output(args.output, force=args.force, suffixes=SUFFIXES)
        except OutputPathError as exc:
            raise CLIError(str(exc)) from None
    structure = read_structure(str(path))
    try:
        desc = build_descriptor(args, structure.elements)
    except ValueError as exc:
        raise CLIError(f"descriptor: {exc}") from None
    t0 = time.perf_counter()
    b = desc.compute(structure, n_threads=args.threads)
    seconds = time.perf_counter() - t0

    counts = {e: structure.symbols.count(e) for e in structure.elements}
    print(
        f"structure   {path}  ({len(structure)} atoms: "
        + ", ".join(f"{n} {e}" for e, n in counts.items())
        + ")"
    )
    print(f"descriptor  {desc!r}")
    print(
        f"computed    {b.shape[0]} x {b.shape[1]} components in "
        f"{seconds * 1e3:.1f} ms ({seconds / len(structure) * 1e6:.1f} µs/atom)"
    )
    print()
    print(f"{'component':>26} {'mean':>13} {'std':>12} {'min':>13} {'max':>13}")
    labels = desc.labels
    show = (
        range(len(labels))
        if len(labels) <= 24
        else [*range(12), *range(len(labels) - 12, len(labels))]
    )
    for k in show:
        col = b[:, k]
        print(
            f"{labels[k]:>26} {col.mean():13.6g} {col.std():12.4g} "
            f"{col.min():13.6g} {col.max():13.6g}"
        )
        if len(labels) > 24 and k == 11:
            print(f"{'...':>26}")
    if args.output:
        save(b, Path(args.output), args.force, labels)
        print(f"\nwrote {args.output}")
    return 0


SUFFIXES = (".npy", ".txt", ".csv")


def save(b: np.ndarray, out: Path, force: bool, labels: list[str]) -> None:
    """Write the array atomically (mode 0666 & ~umask, or the replaced file's)."""
    from pyolcaoml.outputs import OutputPathError, atomic_path, check_output

    try:
        check_output(out, force=force, suffixes=SUFFIXES)
    except OutputPathError as exc:
        raise CLIError(str(exc)) from None
    try:
        with atomic_path(out, suffix=out.suffix) as tmp:
            if out.suffix == ".npy":
                np.save(tmp, b)
            else:
                sep = "," if out.suffix == ".csv" else " "
                np.savetxt(tmp, b, delimiter=sep, header=sep.join(labels))
    except OSError as exc:  # a full disk: name the file, not the temporary
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None
