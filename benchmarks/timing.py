"""Timing helper shared by the benchmarks (not a test)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The shortest wall time (s) of ``repeats`` calls of ``fn``: on a
    shared, noisy machine the minimum is the figure to compare."""
    return best_of_with_result(fn, repeats)[0]


def best_of_with_result(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """:func:`best_of` and what the last call of ``fn`` returned (for the
    benchmarks that compare the results of the paths they time)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out
