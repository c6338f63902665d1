"""libolcaoml, the shared library for OLCAO: where it is, and a ctypes wrapper.

The library is built by the same ``meson.build`` as the Python extension and
installed inside the package (``pyolcaoml/lib/``)::

    pyolcaoml/lib/libolcaoml.so.2        the library (C and Fortran API;
                                         SONAME libolcaoml.so.2 = API major)
    pyolcaoml/lib/libolcaoml.so          linker script for -lolcaoml
    pyolcaoml/lib/include/olcaoml.h      C header
    pyolcaoml/lib/include/*.mod          Fortran modules (use OML_Library)
    pyolcaoml/lib/pkgconfig/olcaoml.pc   pkg-config file (relocatable)

To compile a Fortran program against it::

    gfortran prog.f90 $(python -m pyolcaoml.library --cflags --libs)

The wrapper (:class:`LibraryModel`) is for tests, benchmarks and Python
programs that want the library's path through the code: it passes NumPy
arrays by pointer (no copies) and turns a non-zero status into
:class:`LibraryError`.  Units as in the library: Bohr, Hartree, Bohr⁻².
"""

from __future__ import annotations

import argparse
import ctypes
import operator
import os
import sys
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "API_VERSION",
    "LibraryError",
    "LibraryModel",
    "cflags",
    "include_dir",
    "libs",
    "library_dir",
    "library_path",
    "load_library",
    "pkgconfig_dir",
    "write_scfv",
]

#: The interface version this module was written for (olcaoml_api_version).
API_VERSION = 20500
#: The library file: its SONAME, which carries the API's major number.
LIBRARY_NAME = f"libolcaoml.so.{API_VERSION // 10000}"
MESSAGE_LEN = 1024

#: Status codes (fortran/core/OML_Status.f90, olcaoml.h).
STATUS = {
    0: "OLCAOML_OK",
    1: "OLCAOML_ERR_ARGUMENT",
    2: "OLCAOML_ERR_NON_FINITE",
    3: "OLCAOML_ERR_LATTICE",
    4: "OLCAOML_ERR_OVERLAP",
    5: "OLCAOML_ERR_MEMORY",
    6: "OLCAOML_ERR_IO",
    7: "OLCAOML_ERR_FORMAT",
    8: "OLCAOML_ERR_ELEMENT",
    9: "OLCAOML_ERR_NULL_POINTER",
    10: "OLCAOML_ERR_STATE",
}


class LibraryError(RuntimeError):
    """A non-zero status from libolcaoml; ``status`` holds the code, and
    ``bad_type`` the first failing potential type (1-based) of the OLCAO
    layout calls, 0 otherwise."""

    def __init__(self, status: int, message: str, bad_type: int = 0) -> None:
        name = STATUS.get(status, f"status {status}")
        super().__init__(f"{name}: {message}" if message else name)
        self.status = status
        self.text = message
        self.bad_type = bad_type


# -- where the files are ---------------------------------------------------------
def _package_file(*parts: str) -> Path | None:
    try:
        node = resources.files("pyolcaoml").joinpath("lib", *parts)
    except (ModuleNotFoundError, TypeError, NotImplementedError):
        return None
    if not node.is_file():
        return None
    return Path(os.fspath(node)).resolve()  # type: ignore[arg-type]


def library_path() -> str:
    """Absolute path of ``libolcaoml.so.N`` (installed or editable build)."""
    path = _package_file(LIBRARY_NAME)
    if path is None:
        raise FileNotFoundError(
            f"{LIBRARY_NAME} is not installed with pyolcaoml (the package was "
            "built without it?). Reinstall with 'pip install .'."
        )
    return str(path)


def library_dir() -> str:
    """The folder holding ``libolcaoml.so`` (for -L and -Wl,-rpath)."""
    return os.path.dirname(library_path())


def include_dir() -> str:
    """The folder holding ``olcaoml.h`` and the Fortran ``.mod`` files."""
    path = _package_file("include", "oml_library.mod")
    if path is None:
        raise FileNotFoundError(
            "the Fortran module files of libolcaoml are not installed"
        )
    return str(path.parent)


def pkgconfig_dir() -> str | None:
    """The folder holding ``olcaoml.pc`` for PKG_CONFIG_PATH, or None when the
    file would not point at the library (editable installs: use
    :func:`cflags`/:func:`libs`, or ``python -m pyolcaoml.library``)."""
    pc = _package_file("pkgconfig", "olcaoml.pc")
    if pc is None or not (pc.parent.parent / LIBRARY_NAME).is_file():
        return None
    return str(pc.parent)


def cflags() -> list[str]:
    """Compiler flags: the include folder (C header and Fortran modules)."""
    return [f"-I{include_dir()}"]


def libs() -> list[str]:
    """Linker flags, with an RPATH so that the program finds the library."""
    d = library_dir()
    return [f"-L{d}", f"-Wl,-rpath,{d}", "-lolcaoml"]


# -- ctypes ------------------------------------------------------------------------
_c_int = ctypes.c_int
_p = ctypes.c_void_p
_str = ctypes.c_char_p

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "olcaoml_api_version": (_c_int, []),
    "olcaoml_model_format_version": (_c_int, []),
    "olcaoml_model_load": (_c_int, [_str, _p, _p, _c_int]),
    "olcaoml_model_free": (_c_int, [_p]),
    "olcaoml_model_num_elements": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_model_num_features": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_model_max_alphas": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_model_element_index": (_c_int, [_p, _str, _p, _p, _c_int]),
    "olcaoml_model_element_symbol": (_c_int, [_p, _c_int, _p, _c_int, _p, _c_int]),
    "olcaoml_model_num_alphas": (_c_int, [_p, _c_int, _p, _p, _c_int]),
    "olcaoml_model_alphas": (_c_int, [_p, _c_int, _c_int, _p, _p, _c_int]),
    "olcaoml_model_isolated_coeffs": (_c_int, [_p, _c_int, _c_int, _p, _p, _c_int]),
    "olcaoml_model_charge_columns": (_c_int, [_p, _c_int, _c_int, _p, _p, _c_int]),
    "olcaoml_descriptors": (
        _c_int,
        [_p, _p, _c_int, _p, _p, _c_int, _p, _c_int, _c_int, _p, _p, _c_int],
    ),
    "olcaoml_predict_from_descriptors": (
        _c_int,
        [_p, _c_int, _p, _c_int, _p, _c_int, _c_int, _p, _p, _c_int],
    ),
    "olcaoml_predict": (
        _c_int,
        [_p, _p, _c_int, _p, _p, _c_int, _p, _c_int, _c_int, _p, _p, _c_int],
    ),
    "olcaoml_write_scfv": (_c_int, [_str, _c_int, _p, _p, _p, _p, _c_int]),
    "olcaoml_check_pot_types": (
        _c_int,
        [_p, _c_int, _p, _p, _c_int, _p, _c_int, _p, _p, _p, _c_int],
    ),
    "olcaoml_fill_pot_coeffs": (
        _c_int,
        [_p, _p, _c_int, _p, _p, _p, _c_int, _p, _c_int, _p, _c_int, _c_int, _p, _p]
        + [_p, _c_int],
    ),
    "olcaoml_model_num_members": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_model_handover_threshold": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_predict_ensemble_from_descriptors": (
        _c_int,
        [_p, _c_int, _p, _c_int, _p, _c_int, _c_int, _p, _p, _p, _c_int],
    ),
    "olcaoml_predict_ensemble": (
        _c_int,
        [_p, _p, _c_int, _p, _p, _c_int, _p, _c_int, _c_int, _p, _p, _p, _c_int],
    ),
    "olcaoml_expected_iterations": (
        _c_int,
        [_p, _c_int, ctypes.c_double, _p, _p, _p, _p, _c_int],
    ),
    "olcaoml_num_iteration_groups": (_c_int, [_p, _p, _p, _c_int]),
    "olcaoml_iteration_group_name": (_c_int, [_p, _c_int, _p, _c_int, _p, _c_int]),
    "olcaoml_iteration_group": (
        _c_int,
        [_p, _p, _c_int, _p, _p, _c_int, _p, _p, _c_int],
    ),
    "olcaoml_expected_iterations_in_group": (
        _c_int,
        [_p, _c_int, _c_int, ctypes.c_double, _p, _p, _p, _p, _c_int],
    ),
    "olcaoml_domain_load": (_c_int, [_p, _str, _p, _p, _c_int]),
    "olcaoml_domain_free": (_c_int, [_p]),
    "olcaoml_domain_ratio": (
        _c_int,
        [_p, _c_int, _p, _c_int, _p, _c_int, _p, _p, _c_int],
    ),
    "olcaoml_median_domain": (_c_int, [_c_int, _p, _p, _p, _c_int]),
    "olcaoml_domain_handover_threshold": (_c_int, [_p, _p, _p, _c_int]),
}


@cache
def load_library(path: str | None = None) -> ctypes.CDLL:
    """The library with the argument types of every entry point set."""
    lib = ctypes.CDLL(path or library_path())
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.olcaoml_api_version()
    if version // 10000 != API_VERSION // 10000:
        raise ImportError(
            f"libolcaoml API version {version} does not match the wrapper's "
            f"{API_VERSION}"
        )
    return lib


def _buffer() -> ctypes.Array:
    return ctypes.create_string_buffer(MESSAGE_LEN)


def _check(status: int, buf: ctypes.Array) -> None:
    if status != 0:
        raise LibraryError(status, buf.value.decode(errors="replace"))


def _ptr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


def _as_f64(name: str, a: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    return arr


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _int_arg(name: str, value: Any) -> int:
    """A Python int for a C ``int`` argument: exact, in range, or refused.

    ctypes itself would wrap 2**32 + 1 to 1 and NumPy would truncate 1.9
    to 1; both would then be a different, valid-looking request."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {value!r}") from None
    if not _INT_MIN <= n <= _INT_MAX:
        raise ValueError(f"{name}: {n} does not fit a C int")
    return n


def _as_i32(a: Any, name: str = "indices") -> np.ndarray:
    """An int32 array of exactly the given integers (no wrapping, no
    truncation of 1.9 to 1)."""
    arr = np.asarray(a)
    if arr.dtype == object:
        try:
            arr = np.array([_int_arg(name, v) for v in arr.ravel()], dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc)) from None
        arr = arr.reshape(np.shape(a))
    if arr.size == 0:
        return np.ascontiguousarray(arr, dtype=np.int32)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integers, got an array of {arr.dtype}")
    if arr.min() < _INT_MIN or arr.max() > _INT_MAX:
        raise ValueError(f"{name}: values outside the range of a C int")
    return np.ascontiguousarray(arr, dtype=np.int32)


def write_scfv(
    path: str | os.PathLike[str],
    num_terms: Sequence[int],
    table_up: np.ndarray,
    table_dn: np.ndarray | None = None,
) -> None:
    """Write scfV.dat through the library (OLCAO's layout).

    ``table_up``: (sum(num_terms), 5) rows of all types one after the other;
    ``table_dn``: the same for SPIN_DN, or None to repeat the spin-up rows.
    """
    lib = load_library()
    terms = _as_i32(num_terms, "num_terms")
    up = _as_f64("table_up", table_up)
    dn = None if table_dn is None else _as_f64("table_dn", table_dn, up.shape)
    if up.ndim != 2 or up.shape[1] != 5 or up.shape[0] != int(terms.sum()):
        raise ValueError(
            f"table_up: expected shape ({int(terms.sum())}, 5), got {up.shape}"
        )
    buf = _buffer()
    status = lib.olcaoml_write_scfv(
        os.fsencode(path), len(terms), _ptr(terms), _ptr(up), _ptr(dn), buf, len(buf)
    )
    _check(status, buf)


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """A handle of the library: freed by ``close`` (through the C function
    named by ``_FREE``) or at the end of a ``with`` block."""

    _FREE = ""
    _WHAT = "handle"
    _lib: ctypes.CDLL
    _handle: ctypes.c_void_p

    @property
    def handle(self) -> ctypes.c_void_p:
        if not self._handle:
            raise LibraryError(10, f"the {self._WHAT} was closed")
        return self._handle

    def close(self) -> None:
        if self._handle:
            getattr(self._lib, self._FREE)(ctypes.byref(self._handle))

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - garbage collection
        try:
            self.close()
        except Exception:
            pass


class LibraryModel(_Handle):
    """A model file loaded by libolcaoml (``olcaoml export`` output).

    Element indices are 1-based, in the model's descriptor order
    (:attr:`elements`).  Close with :meth:`close` or use ``with``.
    """

    _FREE = "olcaoml_model_free"
    _WHAT = "model"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._lib = load_library()
        self._handle = ctypes.c_void_p()
        buf = _buffer()
        status = self._lib.olcaoml_model_load(
            os.fsencode(path), ctypes.byref(self._handle), buf, len(buf)
        )
        _check(status, buf)
        self.path = os.fspath(path)
        self.n_features = self._int("olcaoml_model_num_features")
        self.max_alphas = self._int("olcaoml_model_max_alphas")
        n_el = self._int("olcaoml_model_num_elements")
        self.elements = tuple(self._symbol(e) for e in range(1, n_el + 1))

    # -- plumbing ----------------------------------------------------------------
    def _int(self, name: str) -> int:
        out = ctypes.c_int()
        buf = _buffer()
        status = getattr(self._lib, name)(self.handle, ctypes.byref(out), buf, len(buf))
        _check(status, buf)
        return out.value

    def _text(self, name: str, what: str, index: int, size: int) -> str:
        """The string that entry point ``name`` writes for item ``index``
        (its argument called ``what``) into a buffer of ``size`` bytes."""
        out = ctypes.create_string_buffer(size)
        buf = _buffer()
        status = getattr(self._lib, name)(
            self.handle, _int_arg(what, index), out, len(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value.decode()

    def _symbol(self, element: int) -> str:
        return self._text("olcaoml_model_element_symbol", "element", element, 32)

    # -- model facts -----------------------------------------------------------
    def element_index(self, symbol: str) -> int:
        """1-based index of an element ('si', 'Si', 'si1' all work)."""
        out = ctypes.c_int()
        buf = _buffer()
        status = self._lib.olcaoml_model_element_index(
            self.handle, symbol.encode(), ctypes.byref(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value

    def element_indices(self, symbols: Sequence[str]) -> np.ndarray:
        lookup = {s: self.element_index(s) for s in set(symbols)}
        return np.array([lookup[s] for s in symbols], dtype=np.int32)

    def n_alphas(self, element: int) -> int:
        out = ctypes.c_int()
        buf = _buffer()
        status = self._lib.olcaoml_model_num_alphas(
            self.handle, _int_arg("element", element), ctypes.byref(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value

    def _element_array(self, name: str, element: int, shape: tuple[int, ...]):
        out = np.zeros(shape, dtype=np.float64)
        buf = _buffer()
        status = getattr(self._lib, name)(
            self.handle,
            _int_arg("element", element),
            shape[0],
            _ptr(out),
            buf,
            len(buf),
        )
        _check(status, buf)
        return out

    def alphas(self, element: int) -> np.ndarray:
        """Exponents (Bohr⁻²) of the element's network."""
        return self._element_array(
            "olcaoml_model_alphas", element, (self.n_alphas(element),)
        )

    def isolated_coeffs(self, element: int) -> np.ndarray:
        return self._element_array(
            "olcaoml_model_isolated_coeffs", element, (self.n_alphas(element),)
        )

    def charge_columns(self, element: int) -> np.ndarray:
        """(N, 3): scfV.dat columns 3-5 written beside predicted A_i."""
        return self._element_array(
            "olcaoml_model_charge_columns", element, (self.n_alphas(element), 3)
        )

    # -- computing -------------------------------------------------------------
    def _per_atom(
        self,
        entry,
        width,
        cell_bohr,
        positions_bohr,
        element_of,
        centres,
        n_threads,
        with_sigma: bool = False,
    ) -> Any:
        """Call a structure entry point (olcaoml_descriptors, olcaoml_predict,
        olcaoml_predict_ensemble) that fills one row of ``width`` numbers per
        centre (and, ``with_sigma``, one sigma per centre: returns both)."""
        cell = _as_f64("cell_bohr", cell_bohr, (3, 3))
        pos = _as_f64("positions_bohr", positions_bohr)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions_bohr: expected (N, 3), got {pos.shape}")
        el = _as_i32(element_of, "element_of")
        if el.shape != (len(pos),):
            raise ValueError(f"element_of: expected {len(pos)} entries")
        c = None if centres is None else _as_i32(centres, "centres")
        m = len(pos) if c is None else len(c)
        out = np.empty((m, width), dtype=np.float64)
        sigma = np.empty(m, dtype=np.float64) if with_sigma else None
        buf = _buffer()
        status = entry(
            self.handle,
            _ptr(cell),
            len(pos),
            _ptr(pos),
            _ptr(el),
            m,
            _ptr(c),
            _int_arg("n_threads", n_threads),
            width,
            _ptr(out),
            *([_ptr(sigma)] if with_sigma else []),
            buf,
            len(buf),
        )
        _check(status, buf)
        return (out, sigma) if with_sigma else out

    def _from_descriptors(
        self, entry, element_of, descriptors, n_threads, with_sigma: bool = False
    ) -> Any:
        """Call a descriptors entry point (olcaoml_predict_from_descriptors,
        olcaoml_predict_ensemble_from_descriptors): (M, max_alphas) rows (and
        sigma (M,) ``with_sigma``) from (M, K) descriptors."""
        el = _as_i32(element_of, "element_of")
        x = _as_f64("descriptors", descriptors)
        if x.ndim != 2 or x.shape != (len(el), self.n_features):
            raise ValueError(
                f"descriptors: expected ({len(el)}, {self.n_features}), got {x.shape}"
            )
        out = np.empty((len(el), self.max_alphas), dtype=np.float64)
        sigma = np.empty(len(el), dtype=np.float64) if with_sigma else None
        buf = _buffer()
        status = entry(
            self.handle,
            len(el),
            _ptr(el),
            self.n_features,
            _ptr(x),
            _int_arg("n_threads", n_threads),
            self.max_alphas,
            _ptr(out),
            *([_ptr(sigma)] if with_sigma else []),
            buf,
            len(buf),
        )
        _check(status, buf)
        return (out, sigma) if with_sigma else out

    def descriptors(
        self,
        cell_bohr: np.ndarray,
        positions_bohr: np.ndarray,
        element_of: np.ndarray,
        centres: np.ndarray | None = None,
        n_threads: int = 0,
    ) -> np.ndarray:
        """(M, K) descriptors; cell rows are the lattice vectors (Bohr);
        ``centres`` 1-based (None: all atoms)."""
        return self._per_atom(
            self._lib.olcaoml_descriptors,
            self.n_features,
            cell_bohr,
            positions_bohr,
            element_of,
            centres,
            n_threads,
        )

    def predict(
        self,
        cell_bohr: np.ndarray,
        positions_bohr: np.ndarray,
        element_of: np.ndarray,
        centres: np.ndarray | None = None,
        n_threads: int = 0,
    ) -> np.ndarray:
        """(M, max_alphas) coefficients A_i (Hartree), zero-padded rows."""
        return self._per_atom(
            self._lib.olcaoml_predict,
            self.max_alphas,
            cell_bohr,
            positions_bohr,
            element_of,
            centres,
            n_threads,
        )

    def predict_from_descriptors(
        self, element_of: np.ndarray, descriptors: np.ndarray, n_threads: int = 0
    ) -> np.ndarray:
        """(M, max_alphas) coefficients from (M, K) descriptors."""
        return self._from_descriptors(
            self._lib.olcaoml_predict_from_descriptors,
            element_of,
            descriptors,
            n_threads,
        )

    # -- ensembles -------------------------------------------------------------
    @property
    def n_members(self) -> int:
        """Networks per element (1: a single network, no sigma)."""
        return self._int("olcaoml_model_num_members")

    @property
    def handover_threshold(self) -> float:
        """The model's handover threshold (Hartree; model format 7), 0.0
        when it records none: a structure of Si alone whose median sigma
        (:meth:`predict_ensemble`) exceeds it is amorphous, better predicted
        by the bundled a-Si model (``olcaoml export asi``)."""
        out = ctypes.c_double()
        buf = _buffer()
        status = self._lib.olcaoml_model_handover_threshold(
            self.handle, ctypes.byref(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value

    def predict_ensemble_from_descriptors(
        self, element_of: np.ndarray, descriptors: np.ndarray, n_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean (M, max_alphas) and sigma (M,), Hartree."""
        return self._from_descriptors(
            self._lib.olcaoml_predict_ensemble_from_descriptors,
            element_of,
            descriptors,
            n_threads,
            with_sigma=True,
        )

    def predict_ensemble(
        self,
        cell_bohr: np.ndarray,
        positions_bohr: np.ndarray,
        element_of: np.ndarray,
        centres: np.ndarray | None = None,
        n_threads: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors + ensemble: mean (M, max_alphas) and sigma (M,), Hartree."""
        return self._per_atom(
            self._lib.olcaoml_predict_ensemble,
            self.max_alphas,
            cell_bohr,
            positions_bohr,
            element_of,
            centres,
            n_threads,
            with_sigma=True,
        )

    def expected_iterations(
        self, n_atoms: int, max_sigma_hartree: float, group: int = 0
    ) -> tuple[tuple[int, int, int], tuple[int, int, int] | None, bool] | None:
        """The OLCAO iterations to expect (model format 8) for a structure
        of ``n_atoms`` atoms whose largest sigma is ``max_sigma_hartree``:
        ((expected, low, high) from the model's start, the same from
        OLCAO's default start or None, whether it is extrapolated); None
        when the model carries no estimate.  ``group`` (model format 9):
        the structure's iteration group from :meth:`iteration_group`, 0
        for the general cells.  The numbers of
        :meth:`pyolcaoml.model.olcao_iterations.IterationReference.estimate`."""
        expected = (ctypes.c_int * 3)()
        default = (ctypes.c_int * 3)()
        outside = ctypes.c_int()
        buf = _buffer()
        status = self._lib.olcaoml_expected_iterations_in_group(
            self.handle,
            _int_arg("group", group),
            _int_arg("n_atoms", n_atoms),
            float(max_sigma_hartree),
            expected,
            default,
            ctypes.byref(outside),
            buf,
            len(buf),
        )
        _check(status, buf)
        if expected[0] < 0:
            return None
        dflt = None if default[0] < 0 else (default[0], default[1], default[2])
        return (expected[0], expected[1], expected[2]), dflt, bool(outside.value)

    # -- iteration groups (model format 9) -----------------------------------------
    def num_iteration_groups(self) -> int:
        """The model's iteration groups n (0 for formats 1-8); groups are
        numbered 0 (the general cells) to n."""
        return self._int("olcaoml_num_iteration_groups")

    def iteration_group_name(self, group: int) -> str:
        """The name of group 0..n as the model file gives it ("general"
        for 0)."""
        return self._text("olcaoml_iteration_group_name", "group", group, 64)

    def iteration_group(
        self,
        cell_bohr: np.ndarray,
        positions_bohr: np.ndarray,
        element_of: np.ndarray,
        n_threads: int = 0,
    ) -> int:
        """The structure's iteration group, 0..n (0: the general cells;
        always 0 for a model without groups). Arguments as :meth:`predict`
        (cell rows are the lattice vectors, Bohr; 1-based element indices)."""
        cell = _as_f64("cell_bohr", cell_bohr, (3, 3))
        pos = _as_f64("positions_bohr", positions_bohr)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions_bohr: expected (N, 3), got {pos.shape}")
        el = _as_i32(element_of, "element_of")
        if el.shape != (len(pos),):
            raise ValueError(f"element_of: expected {len(pos)} entries")
        group = ctypes.c_int(-1)
        buf = _buffer()
        status = self._lib.olcaoml_iteration_group(
            self.handle,
            _ptr(cell),
            len(pos),
            _ptr(pos),
            _ptr(el),
            _int_arg("n_threads", n_threads),
            ctypes.byref(group),
            buf,
            len(buf),
        )
        _check(status, buf)
        return group.value

    # -- OLCAO's flat layout ------------------------------------------------------
    def _pot_type_args(self, element_of, pot_type_of_atom, type_offsets, pot_alphas):
        el = _as_i32(element_of)
        types = _as_i32(pot_type_of_atom)
        offsets = _as_i32(type_offsets)
        alphas = _as_f64("pot_alphas", pot_alphas)
        if types.shape != el.shape or el.ndim != 1:
            raise ValueError(
                f"pot_type_of_atom: expected {el.shape} entries, got {types.shape}"
            )
        if offsets.ndim != 1 or alphas.ndim != 1:
            raise ValueError("type_offsets and pot_alphas must be 1-D")
        return el, types, offsets, alphas

    def check_pot_types(
        self,
        element_of: np.ndarray,
        pot_type_of_atom: np.ndarray,
        type_offsets: np.ndarray,
        pot_alphas: np.ndarray,
    ) -> None:
        """Check a run's potential types against the model (olcaoml_check_pot_types).

        ``pot_type_of_atom`` 1-based; ``type_offsets`` the terms before each
        type (OLCAO's cumulAlphaSum); ``pot_alphas`` all exponents (Bohr⁻²).
        A failure raises :class:`LibraryError` with ``bad_type`` set (the
        first failing type, 1-based; 0 when the fault is not a type's).
        """
        el, types, offsets, alphas = self._pot_type_args(
            element_of, pot_type_of_atom, type_offsets, pot_alphas
        )
        bad = ctypes.c_int(-1)
        buf = _buffer()
        status = self._lib.olcaoml_check_pot_types(
            self.handle, len(el), _ptr(el), _ptr(types), len(offsets), _ptr(offsets),
            len(alphas), _ptr(alphas), ctypes.byref(bad), buf, len(buf),
        )  # fmt: skip
        _raise_with_type(status, buf, bad.value)

    def fill_pot_coeffs(
        self,
        cell_bohr: np.ndarray,
        positions_bohr: np.ndarray,
        element_of: np.ndarray,
        pot_type_of_atom: np.ndarray,
        type_offsets: np.ndarray,
        pot_alphas: np.ndarray,
        n_spins: int = 2,
        n_threads: int = 0,
    ) -> np.ndarray:
        """OLCAO's potCoeffs as (n_spins, pot_dim): every type's A_k (Hartree)
        at its offset, the same in every spin (olcaoml_fill_pot_coeffs)."""
        el, types, offsets, alphas = self._pot_type_args(
            element_of, pot_type_of_atom, type_offsets, pot_alphas
        )
        cell = _as_f64("cell_bohr", cell_bohr, (3, 3))
        pos = _as_f64("positions_bohr", positions_bohr, (len(el), 3))
        out = np.full((n_spins, len(alphas)), np.nan)
        bad = ctypes.c_int(-1)
        buf = _buffer()
        status = self._lib.olcaoml_fill_pot_coeffs(
            self.handle, _ptr(cell), len(el), _ptr(pos), _ptr(el), _ptr(types),
            len(offsets), _ptr(offsets), len(alphas), _ptr(alphas), n_spins,
            n_threads, _ptr(out), ctypes.byref(bad), buf, len(buf),
        )  # fmt: skip
        _raise_with_type(status, buf, bad.value)
        return out


class LibraryDomain(_Handle):
    """A model's applicability domain loaded by libolcaoml (the file of
    ``olcaoml export MODEL -o model.oml --domain model.omld``), for the
    loaded :class:`LibraryModel` it belongs to. Close with :meth:`close` or
    use ``with``."""

    _FREE = "olcaoml_domain_free"
    _WHAT = "domain"

    def __init__(self, model: LibraryModel, path: str | os.PathLike[str]) -> None:
        self._lib = load_library()
        self._handle = ctypes.c_void_p()
        buf = _buffer()
        status = self._lib.olcaoml_domain_load(
            model.handle, os.fsencode(path), ctypes.byref(self._handle), buf, len(buf)
        )
        _check(status, buf)
        self.path = os.fspath(path)

    def ratio(
        self, element_of: np.ndarray, descriptors: np.ndarray, n_threads: int = 0
    ) -> np.ndarray:
        """Each atom's applicability distance over its element's threshold
        (NaN for an element without training atoms), from its descriptors
        (M, K) and the model's 1-based element indices (M,)."""
        el = _as_i32(element_of, "element_of")
        x = _as_f64("descriptors", descriptors)
        if el.ndim != 1 or x.ndim != 2 or len(x) != len(el):
            raise ValueError(
                f"descriptors: expected shape ({len(el)}, K), got {x.shape}"
            )
        out = np.empty(len(el))
        buf = _buffer()
        status = self._lib.olcaoml_domain_ratio(
            self.handle,
            len(el),
            _ptr(el),
            x.shape[1],
            _ptr(x),
            _int_arg("n_threads", n_threads),
            _ptr(out),
            buf,
            len(buf),
        )
        _check(status, buf)
        return out

    @property
    def handover_threshold(self) -> float:
        """The median ratio above which a structure with C goes to the
        amorphous SiC model (0.0: none recorded)."""
        out = ctypes.c_double()
        buf = _buffer()
        status = self._lib.olcaoml_domain_handover_threshold(
            self.handle, ctypes.byref(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value

    @staticmethod
    def median(ratio: np.ndarray) -> float:
        """The library's median of the finite ratios (NaN when none)."""
        lib = load_library()
        r = _as_f64("ratio", ratio)
        out = ctypes.c_double()
        buf = _buffer()
        status = lib.olcaoml_median_domain(
            len(r), _ptr(r), ctypes.byref(out), buf, len(buf)
        )
        _check(status, buf)
        return out.value


def _raise_with_type(status: int, buf: ctypes.Array, bad_type: int) -> None:
    if status != 0:
        raise LibraryError(status, buf.value.decode(errors="replace"), bad_type)


# -- command line ------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m pyolcaoml.library --cflags --libs``: flags for compilers."""
    parser = argparse.ArgumentParser(
        prog="python -m pyolcaoml.library",
        description="Where libolcaoml and its Fortran modules are installed.",
    )
    parser.add_argument("--cflags", action="store_true", help="include flags")
    parser.add_argument("--libs", action="store_true", help="linker flags")
    parser.add_argument("--path", action="store_true", help="the library file")
    parser.add_argument("--includedir", action="store_true", help="include folder")
    parser.add_argument("--pkgconfigdir", action="store_true", help="olcaoml.pc folder")
    args = parser.parse_args(argv)
    out: list[str] = []
    if args.path:
        out.append(library_path())
    if args.includedir:
        out.append(include_dir())
    if args.pkgconfigdir:
        out.append(pkgconfig_dir() or "")
    if args.cflags:
        out += cflags()
    if args.libs:
        out += libs()
    if not out:
        parser.print_help()
        return 1
    print(" ".join(out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
