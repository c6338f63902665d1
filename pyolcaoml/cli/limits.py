"""argparse types for the numbers the commands pass to the Fortran core."""

from __future__ import annotations

import argparse

from pyolcaoml._fortran import MAX_THREADS


def thread_count_arg(text: str) -> int:
    """``--threads N``: an integer in 1..MAX_THREADS (refused, not clamped:
    a million threads would abort the OpenMP runtime)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {MAX_THREADS}, got {n}"
        )
    return n
