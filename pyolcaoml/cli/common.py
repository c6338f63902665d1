"""Small argparse helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import os


def thread_count(text: str) -> int:
    """--threads N: an integer in 1..MAX_THREADS (argparse type; errors name
    the flag). Refused, not clamped: a million threads would abort the
    OpenMP runtime."""
    from pyolcaoml._fortran import MAX_THREADS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of threads, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of threads, got {value} "
            "(leave --threads out to use all cores)"
        )
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {MAX_THREADS}, got {value}"
        )
    return value


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        metavar="N",
        help="OpenMP threads for the descriptors (default: all cores, "
        "or OMP_NUM_THREADS)",
    )


def run_scfv_output(run_dir: str, output: str | None, force: bool) -> str:
    """Where a command writes a run's start: ``output`` (checked), else
    RUN_DIR/inputs/scfV.dat, which makeinput has already written, so
    replacing it needs ``force``. Raises CLIError."""
    from pyolcaoml.cli import CLIError
    from pyolcaoml.outputs import OutputPathError, check_output

    if output:
        try:
            return check_output(output, force=force)
        except OutputPathError as exc:
            raise CLIError(str(exc)) from None
    path = os.path.join(os.path.abspath(run_dir), "inputs", "scfV.dat")
    if os.path.exists(path) and not force:
        raise CLIError(
            f"{path} exists (makeinput writes a default one); "
            "use --force to replace it, or -o FILE"
        )
    return path
