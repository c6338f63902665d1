"""Access to the compiled Fortran core (the f2py extension ``pyolcaoml._core``).

The Fortran never raises: every routine returns an integer status and a
message.  :func:`check` turns a non-zero status into a Python exception.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

# Status codes of fortran/core/OML_Status.f90.
STATUS_NAMES = {
    1: "invalid argument",
    2: "non-finite input",
    3: "singular cell",
    4: "overlapping atoms",
    5: "out of memory",
    6: "I/O error",
    7: "malformed file",
    8: "unknown element",
    9: "null pointer",
    10: "object not ready",
}


def core() -> ModuleType:
    """The extension module, with a helpful message when it was not built."""
    try:
        from pyolcaoml import _core
    except ImportError as exc:  # pragma: no cover - build problem
        raise ImportError(
            "pyolcaoml's Fortran extension is not built. Install the package "
            "with 'pip install .' (needs gfortran), or for development "
            "'pip install --no-build-isolation -e .'."
        ) from exc
    return _core


def check(status: int, message: bytes | str) -> None:
    """Raise for a non-zero Fortran status (MemoryError or ValueError)."""
    if status == 0:
        return
    text = message.decode() if isinstance(message, bytes) else str(message)
    text = text.strip() or STATUS_NAMES.get(status, f"status {status}")
    if status == 5:
        raise MemoryError(text)
    raise ValueError(text)


def fortran_cell(cell: np.ndarray) -> np.ndarray:
    """OLCAO layout realVectors(xyz, abc): lattice vectors as columns."""
    return np.asfortranarray(np.asarray(cell, dtype=np.float64).T)


def fortran_positions(positions: np.ndarray) -> np.ndarray:
    """OLCAO layout (xyz, atom)."""
    return np.asfortranarray(np.asarray(positions, dtype=np.float64).T)


#: The most OpenMP threads one call may start (fortran/core/OML_Threads.f90,
#: omlMaxThreads): more never helps (the work is split over atoms), and a
#: million would abort libgomp or exhaust the stack, killing the process.
MAX_THREADS = 1024


def thread_count(n_threads: int | None) -> int:
    """0 means the OpenMP default (OMP_NUM_THREADS or all cores)."""
    if n_threads is None:
        return 0
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"n_threads: expected an int or None, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads: must be >= 1, got {n_threads}")
    if n_threads > MAX_THREADS:
        raise ValueError(
            f"n_threads: {n_threads} is more than the limit of {MAX_THREADS}"
        )
    return int(n_threads)
