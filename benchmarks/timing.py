"""Timing helper shared by the benchmarks (not a test)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The shortest wall time (s) of ``repeats`` calls of ``fn``: on a
    shared, noisy machine the minimum is the figure to compare."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
