"""--workers / --scheduler / --fail-fast: where a command runs its many items.

Shared by every command that maps work over many items (bispectrum,
predict, convert, and train for ensemble members). Serial is the default
and needs no Dask; see :mod:`pyolcaoml.parallel`.
"""

from __future__ import annotations

import argparse
from typing import Any


def worker_count(text: str) -> int:
    """'4' -> 4, 'auto' or '0' -> 0 (one worker per core) (argparse type)."""
    if text.strip().lower() == "auto":
        return 0
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of workers or 'auto', got {text!r}"
        ) from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected >= 0 workers, got {n}")
    return n


def add_parallel_arguments(
    parser: argparse.ArgumentParser, *, fail_fast: bool = True
) -> None:
    """Add the options to ``parser`` (``fail_fast``: also --fail-fast)."""
    g = parser.add_argument_group(
        "many items at once (default: serial, in this process)"
    )
    g.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        metavar="N",
        help="start a local Dask cluster of N worker processes, one OpenMP "
        "thread each unless --threads ('auto': one per core); needs "
        "pyolcaoml[dask]",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|FILE",
        help="use a running Dask scheduler: its address (tcp://host:8786) or "
        "its scheduler file (JSON), e.g. from dask-jobqueue on SLURM",
    )
    if fail_fast:
        g.add_argument(
            "--fail-fast",
            action="store_true",
            help="stop at the first input that fails and write nothing "
            "(default: report it by name, go on with the others, exit 1)",
        )


def is_parallel(args: argparse.Namespace) -> bool:
    """Whether the options ask for Dask (--workers N>1, 0, or --scheduler)."""
    workers = getattr(args, "workers", None)
    return getattr(args, "scheduler", None) is not None or workers not in (None, 1)


def executor_from_args(args: argparse.Namespace, threads_per_worker: int = 1) -> Any:
    """The :class:`pyolcaoml.parallel.Executor` the options ask for
    (CLIError when Dask is missing, the options clash or the scheduler is
    unreachable)."""
    from pyolcaoml.cli import CLIError
    from pyolcaoml.parallel import make_executor

    try:
        return make_executor(
            scheduler=getattr(args, "scheduler", None),
            workers=getattr(args, "workers", None),
            threads_per_worker=threads_per_worker,
        )
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(f"--workers/--scheduler: {exc}") from None
    except OSError as exc:
        raise CLIError(str(exc)) from None
