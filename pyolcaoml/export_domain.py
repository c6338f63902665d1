"""The domain file of an exported model: what libolcaoml needs to compute
each atom's applicability distance (:mod:`pyolcaoml.model.applicability`)
and to apply the amorphous SiC handover (:mod:`pyolcaoml.model.handover`)
without Python.

Written by ``olcaoml export MODEL -o model.oml --domain model.omld``; read
by ``omlLoadDomain`` / ``olcaoml_domain_load``. Binary, the byte order of
this machine (the reader checks a marker), layout in
fortran/core/OML_Domain.f90:

======================  =========================================
``OLCAOML_DOMAIN  ``    16 bytes, magic word
int32 1, int32          format version, byte-order marker 0x01020304
int64 E, int64 K        elements with a domain, descriptor length
float64 t               handover median distance (0: none recorded)
per element             16-byte symbol, int64 R, float64 threshold,
                        float64 key[K] (the MEAN record of the
                        element's network in the model file),
                        float64 mean[K], float64 scale[K],
                        float32 reference[R][K] (standardised)
``END_DOMAIN      ``    16 bytes, marks a complete file
======================  =========================================

The key ties the file to the model it was exported with: the library
refuses a domain whose key is not, to the bit, the normalisation mean of
the loaded model's network (that of another trained model never is).
The reference atoms are written in single precision, as the saved model
holds them (applicability.npz), so the library measures the numbers a
loaded model measures.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

MAGIC = b"OLCAOML_DOMAIN  "
END = b"END_DOMAIN      "
FORMAT_VERSION = 1
BYTE_ORDER_MARK = 0x01020304
SYMBOL_BYTES = 16


class DomainExportError(ValueError):
    """The model has no domain to export, or an entry is unusable."""


def _symbol_bytes(symbol: str) -> bytes:
    raw = symbol.encode("ascii")
    if not raw or len(raw) > SYMBOL_BYTES:
        raise DomainExportError(f"element symbol {symbol!r} cannot be written")
    return raw.ljust(SYMBOL_BYTES, b" ")


def handover_median_domain(model: Any) -> float:
    """The median distance of the model's amorphous SiC handover, 0.0 when
    it records none (the file's "no rule")."""
    from pyolcaoml.model.handover import domain_threshold_of

    value = domain_threshold_of(model)
    if value is None:
        return 0.0
    if not (math.isfinite(value) and value > 0):
        raise DomainExportError(
            f"handover.median_domain must be finite and > 0, got {value!r}"
        )
    return float(value)


def domain_parts(model: Any, keys: dict[str, np.ndarray]) -> list[bytes]:
    """The domain file of a loaded model, as the byte strings that make it
    up in order (the reference atoms are most of it, so the writer takes
    them one by one rather than as one joined copy). ``keys``: per element,
    the MEAN record (K values) its network has in the exported model file
    (:func:`pyolcaoml.export.network_keys`)."""
    app = getattr(model, "applicability", None)
    domains = getattr(app, "domains", None) or {}
    if not domains:
        raise DomainExportError(
            "the model has no applicability data (applicability.npz) to export"
        )
    order = [s for s in model.elements if s in domains]
    k = int(model.n_features)
    parts = [
        MAGIC,
        np.array([FORMAT_VERSION, BYTE_ORDER_MARK], dtype=np.int32).tobytes(),
        np.array([len(order), k], dtype=np.int64).tobytes(),
        np.array([handover_median_domain(model)], dtype=np.float64).tobytes(),
    ]
    for s in order:
        d = domains[s]
        ref = np.ascontiguousarray(d.reference, dtype=np.float32)
        if ref.ndim != 2 or ref.shape[1] != k or len(ref) == 0:
            raise DomainExportError(
                f"{s}: reference atoms of shape {ref.shape}, expected (R >= 1, {k})"
            )
        key = np.ascontiguousarray(keys[s], dtype=np.float64)
        if key.shape != (k,):
            raise DomainExportError(f"{s}: key of shape {key.shape}, expected ({k},)")
        parts += [
            _symbol_bytes(s),
            np.array([len(ref)], dtype=np.int64).tobytes(),
            np.array([d.threshold], dtype=np.float64).tobytes(),
            key.tobytes(),
            np.ascontiguousarray(d.mean, dtype=np.float64).tobytes(),
            np.ascontiguousarray(d.scale, dtype=np.float64).tobytes(),
            ref.tobytes(),
        ]
    parts.append(END)
    return parts


def format_domain(model: Any, keys: dict[str, np.ndarray]) -> bytes:
    """The domain file of a loaded model as one byte string
    (:func:`domain_parts` joined)."""
    return b"".join(domain_parts(model, keys))


def write_domain(
    model: Any,
    output: str | os.PathLike[str],
    keys: dict[str, np.ndarray],
    *,
    force: bool = False,
) -> int:
    """Write the domain file of ``model`` to ``output`` (temporary file,
    then rename; an existing file needs ``force``). Returns its size."""
    from pyolcaoml._atomic import write_bytes_atomic

    out = os.path.abspath(os.fspath(output))
    if os.path.exists(out) and not force:
        raise DomainExportError(f"{out} exists; use --force to replace it")
    directory = os.path.dirname(out)
    if not os.path.isdir(directory):
        raise DomainExportError(f"directory does not exist: {directory}")
    parts = domain_parts(model, keys)
    write_bytes_atomic(out, parts)
    return sum(len(p) for p in parts)
