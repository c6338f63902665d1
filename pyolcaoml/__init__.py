"""pyolcaoml: learn OLCAO's self-consistent potential from local environments.

Public API (imports are lazy so that ``import pyolcaoml`` stays light and never
pulls in TensorFlow):

- :class:`pyolcaoml.Structure` -- periodic structure (cell and positions in Å).
- :class:`pyolcaoml.Bispectrum` -- SO(4) bispectrum descriptors (Fortran core).
- :mod:`pyolcaoml.olcao` -- OLCAO file readers and writers.
- :func:`pyolcaoml.library_path` -- path of libolcaoml.so, the library for
  OLCAO (more in :mod:`pyolcaoml.library`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Structure": ("pyolcaoml.structure", "Structure"),
    "Bispectrum": ("pyolcaoml.bispectrum", "Bispectrum"),
    "MultiScaleBispectrum": ("pyolcaoml.bispectrum", "MultiScaleBispectrum"),
    "library_path": ("pyolcaoml.library", "library_path"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pyolcaoml' has no attribute {name!r}")
