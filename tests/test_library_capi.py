"""The C interface through ctypes: versions, and bad input of every kind
giving an error status and a message, never a crash."""

from __future__ import annotations

import ctypes
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from test_library_support import cached_model, run_dirs

from pyolcaoml import library
from pyolcaoml.library import LibraryError, LibraryModel, load_library

REPO = Path(__file__).resolve().parent.parent
HEADER = REPO / "fortran" / "capi" / "olcaoml.h"
OK, ARGUMENT, NON_FINITE, LATTICE, OVERLAP = 0, 1, 2, 3, 4
IO, FORMAT, ELEMENT, NULL, STATE = 6, 7, 8, 9, 10


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    return load_library()


@pytest.fixture(scope="module")
def model_file() -> str:
    return cached_model()[1]


@pytest.fixture(scope="module")
def handle(lib, model_file):
    h = ctypes.c_void_p()
    status = lib.olcaoml_model_load(model_file.encode(), ctypes.byref(h), None, 0)
    assert status == OK
    yield h
    lib.olcaoml_model_free(ctypes.byref(h))


@pytest.fixture(scope="module")
def structure():
    """A real a-Si cell (Bohr) from structure.dat."""
    from pyolcaoml.olcao import read_structure_dat

    sd = read_structure_dat(run_dirs()[-1] / "inputs" / "structure.dat")
    return (
        np.ascontiguousarray(sd.cell_bohr),
        np.ascontiguousarray(sd.atom_positions_bohr),
        np.ones(sd.n_atoms, dtype=np.int32),
    )


def message_buffer():
    return ctypes.create_string_buffer(512)


def p(a: np.ndarray | None):
    return None if a is None else a.ctypes.data


# -- versions -----------------------------------------------------------------------
def test_api_version_matches_header_and_fortran(lib):
    text = HEADER.read_text()
    header = int(re.search(r"#define OLCAOML_API_VERSION (\d+)", text).group(1))
    fmt = int(re.search(r"#define OLCAOML_MODEL_FORMAT_VERSION (\d+)", text).group(1))
    assert lib.olcaoml_api_version() == header == library.API_VERSION
    from pyolcaoml.export import FORMAT_VERSION_ITERATION_GROUPS

    # the newest version the library reads = the newest the exporter writes
    assert lib.olcaoml_model_format_version() == fmt == FORMAT_VERSION_ITERATION_GROUPS


def test_header_declares_every_exported_entry_point(lib):
    text = HEADER.read_text()
    declared = set(re.findall(r"\b(olcaoml_[a-z_]+)\(", text))
    assert declared == set(library._SIGNATURES)
    for name in declared:
        assert hasattr(lib, name)


def test_status_codes_match_header_and_fortran():
    text = HEADER.read_text()
    codes = {int(v): k for k, v in re.findall(r"(OLCAOML_\w+) = (\d+)", text)}
    assert codes == library.STATUS
    fortran = (REPO / "fortran" / "core" / "OML_Status.f90").read_text()
    values = re.findall(r"parameter, public :: oml(?:Success|Err\w+) = (\d+)", fortran)
    assert sorted(int(v) for v in values) == sorted(codes)


# -- loading ------------------------------------------------------------------------
def load_status(lib, path: str | bytes | None) -> tuple[int, str, int | None]:
    h = ctypes.c_void_p()
    buf = message_buffer()
    raw = path.encode() if isinstance(path, str) else path
    status = lib.olcaoml_model_load(raw, ctypes.byref(h), buf, len(buf))
    value = h.value
    if value:
        lib.olcaoml_model_free(ctypes.byref(h))
    return status, buf.value.decode(), value


def test_nonexistent_file(lib, tmp_path):
    status, msg, h = load_status(lib, str(tmp_path / "missing.oml"))
    assert status == IO
    assert "missing.oml" in msg
    assert h is None


def test_null_arguments_to_load(lib, model_file):
    buf = message_buffer()
    h = ctypes.c_void_p()
    assert lib.olcaoml_model_load(None, ctypes.byref(h), buf, len(buf)) == NULL
    assert "path" in buf.value.decode()
    assert lib.olcaoml_model_load(model_file.encode(), None, buf, len(buf)) == NULL
    # no message buffer at all, or a one-byte one: still a status
    assert lib.olcaoml_model_load(None, ctypes.byref(h), None, 0) == NULL
    tiny = ctypes.create_string_buffer(1)
    assert lib.olcaoml_model_load(None, ctypes.byref(h), tiny, 1) == NULL
    assert tiny.value == b""


def _corrupt_variants(text: str) -> dict[str, str]:
    lines = text.splitlines()
    weights = lines.index("WEIGHTS")
    variants = {
        "empty": "",
        "not a model": "hello world\n",
        "future version": text.replace("OLCAOML_MODEL 1", "OLCAOML_MODEL 99", 1),
        "truncated": "\n".join(lines[: len(lines) // 2]) + "\n",
        "no END": "\n".join(lines[:-1]) + "\n",
        "NaN weight": "\n".join(
            lines[: weights + 1]
            + ["nan " + " ".join(lines[weights + 1].split()[1:])]
            + lines[weights + 2 :]
        )
        + "\n",
        "letters for numbers": "\n".join(
            lines[: weights + 1] + ["x y z w"] + lines[weights + 2 :]
        )
        + "\n",
        "too many numbers": "\n".join(
            lines[: weights + 1]
            + [lines[weights + 1] + " 1.0 2.0 3.0 4.0 5.0"]
            + lines[weights + 2 :]
        )
        + "\n",
        "unknown activation": text.replace(" tanh\n", " elu\n", 1),
        "wrong feature count": re.sub(
            r"NUM_FEATURES (\d+)", lambda m: f"NUM_FEATURES {int(m.group(1)) + 1}", text
        ),
        "layer reads unknown": text.replace(
            "DENSE hidden_2 hidden_1", "DENSE hidden_2 hidden_9", 1
        ),
        "bad twojmax": re.sub(r"BISPECTRUM \d+", "BISPECTRUM 99", text, count=1),
        "negative variance": re.sub(
            r"VARIANCE\n(\S+)", lambda m: "VARIANCE\n-1.0", text, count=1
        ),
        "unknown network element": text.replace("NETWORK Si", "NETWORK C", 1),
        "binary junk": "OLCAOML_MODEL 1\n\x00\x01\x02\xff\n",
    }
    return variants


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "not a model",
        "future version",
        "truncated",
        "no END",
        "NaN weight",
        "letters for numbers",
        "too many numbers",
        "unknown activation",
        "wrong feature count",
        "layer reads unknown",
        "bad twojmax",
        "negative variance",
        "unknown network element",
        "binary junk",
    ],
)
def test_corrupt_model_files(lib, model_file, tmp_path, kind):
    text = Path(model_file).read_text()
    bad = tmp_path / "bad.oml"
    bad.write_bytes(_corrupt_variants(text)[kind].encode("latin-1"))
    status, msg, h = load_status(lib, str(bad))
    assert status == FORMAT, msg
    assert h is None
    assert "bad.oml" in msg and msg


def test_good_file_loads_and_wrapper_raises(model_file, tmp_path):
    with LibraryModel(model_file) as m:
        assert m.elements == ("Si",)
    with pytest.raises(LibraryError) as err:
        LibraryModel(tmp_path / "nothing.oml")
    assert err.value.status == IO


# -- model queries ------------------------------------------------------------------
def test_queries_with_null_and_bad_element(lib, handle):
    buf = message_buffer()
    n = ctypes.c_int()
    assert lib.olcaoml_model_num_features(handle, None, buf, len(buf)) == NULL
    assert lib.olcaoml_model_num_features(None, ctypes.byref(n), buf, 512) == NULL
    assert (
        lib.olcaoml_model_element_index(handle, None, ctypes.byref(n), buf, 512) == NULL
    )
    status = lib.olcaoml_model_element_index(handle, b"Xx", ctypes.byref(n), buf, 512)
    assert status == ELEMENT
    assert "Xx" in buf.value.decode() and n.value == 0
    for spelling in (b"si", b"Si", b"SI", b"si1", b" si "):
        assert (
            lib.olcaoml_model_element_index(handle, spelling, ctypes.byref(n), buf, 512)
            == OK
        )
        assert n.value == 1
    assert lib.olcaoml_model_num_alphas(handle, 2, ctypes.byref(n), buf, 512) == ELEMENT
    alphas = np.zeros(16)
    assert lib.olcaoml_model_alphas(handle, 1, 15, p(alphas), buf, 512) == ARGUMENT
    assert lib.olcaoml_model_alphas(handle, 1, 16, None, buf, 512) == NULL
    assert lib.olcaoml_model_alphas(handle, 0, 16, p(alphas), buf, 512) == ELEMENT
    sym = ctypes.create_string_buffer(8)
    assert lib.olcaoml_model_element_symbol(handle, 5, sym, 8, buf, 512) == ELEMENT
    assert lib.olcaoml_model_element_symbol(handle, 1, sym, 8, buf, 512) == OK
    assert sym.value == b"Si"


def test_freed_handle(lib, model_file):
    h = ctypes.c_void_p()
    assert lib.olcaoml_model_load(model_file.encode(), ctypes.byref(h), None, 0) == OK
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    assert h.value is None
    n = ctypes.c_int()
    buf = message_buffer()
    assert lib.olcaoml_model_num_features(h, ctypes.byref(n), buf, 512) == NULL
    # freeing NULL or a NULL handle is harmless
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    assert lib.olcaoml_model_free(None) == OK


# -- descriptors and prediction with bad input -----------------------------------
def call_predict(lib, handle, cell, pos, el, centres=None, m=None, ld=16, out=None):
    n = 0 if pos is None else len(pos)
    m = (n if centres is None else len(centres)) if m is None else m
    if out is None:
        out = np.zeros((max(m, 1), ld))
    buf = message_buffer()
    status = lib.olcaoml_predict(
        handle, p(cell), n, p(pos), p(el), m, p(centres), 1, ld, p(out), buf, 512
    )
    return status, buf.value.decode()


def test_predict_bad_input(lib, handle, structure):
    cell, pos, el = structure
    n = len(pos)
    assert call_predict(lib, handle, cell, pos, el)[0] == OK
    assert call_predict(lib, None, cell, pos, el)[0] == NULL
    assert call_predict(lib, handle, None, pos, el)[0] == NULL
    assert call_predict(lib, handle, cell, pos, None)[0] == NULL
    status = lib.olcaoml_predict(
        handle, p(cell), n, None, p(el), n, None, 1, 16, p(np.zeros((n, 16))), None, 0
    )
    assert status == NULL
    status = lib.olcaoml_predict(
        handle, p(cell), n, p(pos), p(el), n, None, 1, 16, None, None, 0
    )
    assert status == NULL
    # sizes
    status, msg = call_predict(lib, handle, cell, pos, el, ld=15)
    assert status == ARGUMENT and "16" in msg
    assert call_predict(lib, handle, cell, pos, el, ld=0)[0] == ARGUMENT
    assert call_predict(lib, handle, cell, pos, el, m=3)[0] == ARGUMENT  # NULL centres
    status, msg = call_predict(
        lib, handle, cell, pos, el, centres=np.array([1, n + 1], np.int32)
    )
    assert status == ARGUMENT and str(n + 1) in msg
    assert (
        call_predict(lib, handle, cell, pos, el, centres=np.array([0], np.int32))[0]
        == ARGUMENT
    )
    assert call_predict(lib, handle, cell, pos, el, m=-1)[0] == ARGUMENT
    status = lib.olcaoml_predict(
        handle, p(cell), 0, p(pos), p(el), 0, None, 1, 16, p(np.zeros((1, 16))), None, 0
    )
    assert status == ARGUMENT
    # unknown element index
    bad = el.copy()
    bad[5] = 2
    status, msg = call_predict(lib, handle, cell, pos, bad)
    assert status == ELEMENT and "atom 6" in msg
    # physics
    nan_pos = pos.copy()
    nan_pos[3, 1] = np.nan
    assert call_predict(lib, handle, cell, nan_pos, el)[0] == NON_FINITE
    assert call_predict(lib, handle, np.zeros((3, 3)), pos, el)[0] == LATTICE
    twin = pos.copy()
    twin[1] = twin[0]
    assert call_predict(lib, handle, cell, twin, el)[0] == OVERLAP
    # no centres at all is fine and writes nothing
    status, _ = call_predict(lib, handle, cell, pos, el, centres=np.zeros(0, np.int32))
    assert status == OK


def test_descriptors_bad_sizes(lib, handle, structure):
    cell, pos, el = structure
    n = len(pos)
    k = ctypes.c_int()
    lib.olcaoml_model_num_features(handle, ctypes.byref(k), None, 0)
    out = np.zeros((n, k.value))
    buf = message_buffer()
    args = [handle, p(cell), n, p(pos), p(el), n, None, 1]
    assert lib.olcaoml_descriptors(*args, k.value, p(out), buf, 512) == OK
    assert lib.olcaoml_descriptors(*args, k.value + 1, p(out), buf, 512) == ARGUMENT
    assert "num_features" in buf.value.decode()
    assert lib.olcaoml_descriptors(*args, k.value, None, buf, 512) == NULL


def test_predict_from_descriptors_bad_input(lib, handle):
    k = ctypes.c_int()
    lib.olcaoml_model_num_features(handle, ctypes.byref(k), None, 0)
    x = np.zeros((3, k.value))
    el = np.ones(3, np.int32)
    out = np.zeros((3, 16))
    buf = message_buffer()
    f = lib.olcaoml_predict_from_descriptors
    assert f(handle, 3, p(el), k.value, p(x), 1, 16, p(out), buf, 512) == OK
    assert f(handle, 3, p(el), k.value - 1, p(x), 1, 16, p(out), buf, 512) == ARGUMENT
    assert f(handle, 3, None, k.value, p(x), 1, 16, p(out), buf, 512) == NULL
    assert f(handle, 3, p(el), k.value, None, 1, 16, p(out), buf, 512) == NULL
    assert f(handle, 3, p(el), k.value, p(x), 1, 10, p(out), buf, 512) == ARGUMENT
    bad = np.array([1, 3, 1], np.int32)
    assert f(handle, 3, p(bad), k.value, p(x), 1, 16, p(out), buf, 512) == ELEMENT
    x[1, 2] = np.inf
    assert f(handle, 3, p(el), k.value, p(x), 1, 16, p(out), buf, 512) == NON_FINITE


def test_write_scfv_bad_input(lib, tmp_path):
    buf = message_buffer()
    counts = np.array([2, 1], np.int32)
    table = np.ones((3, 5))
    path = str(tmp_path / "scfV.dat").encode()
    f = lib.olcaoml_write_scfv
    assert f(None, 2, p(counts), p(table), None, buf, 512) == NULL
    assert f(path, 2, None, p(table), None, buf, 512) == NULL
    assert f(path, 2, p(counts), None, None, buf, 512) == NULL
    assert f(path, 0, p(counts), p(table), None, buf, 512) == ARGUMENT
    assert (
        f(path, 2, p(np.array([2, 0], np.int32)), p(table), None, buf, 512) == ARGUMENT
    )
    assert f(b"", 2, p(counts), p(table), None, buf, 512) == ARGUMENT
    assert not (tmp_path / "scfV.dat").exists()
    assert f(path, 2, p(counts), p(table), None, buf, 512) == OK


# -- threads --------------------------------------------------------------------------
def test_concurrent_calls_on_one_model_agree(model_file, structure):
    """ctypes releases the GIL: four threads run the library at once on the
    same model handle; every result equals the serial one."""
    cell, pos, el = structure
    with LibraryModel(model_file) as m:
        want = m.predict(cell, pos, el, n_threads=1)
        subsets = [np.arange(1 + i, len(pos) + 1, 4, dtype=np.int32) for i in range(4)]
        with ThreadPoolExecutor(4) as pool:
            full = list(
                pool.map(lambda _: m.predict(cell, pos, el, n_threads=2), range(8))
            )
            parts = list(
                pool.map(
                    lambda c: m.predict(cell, pos, el, centres=c, n_threads=1), subsets
                )
            )
    for got in full:
        np.testing.assert_array_equal(got, want)
    for c, got in zip(subsets, parts, strict=True):
        np.testing.assert_array_equal(got, want[c - 1])


# -- the handover threshold (model format 7) ---------------------------------------
def _recorded_threshold() -> float:
    """The bundled default model's threshold as its model.json says it,
    read with the json module."""
    import json

    meta = json.loads((REPO / "data" / "default_model" / "model.json").read_text())
    return meta["handover"]["median_sigma_hartree"]


def test_handover_threshold_through_the_c_api(lib, handle):
    """The shipped model.oml gives model.json's double, bit for bit; a
    model that records none gives 0.0; bad handles and NULL are refused."""
    import struct

    want = _recorded_threshold()
    with LibraryModel(REPO / "data" / "default_model" / "model.oml") as m:
        got = m.handover_threshold
    assert struct.pack("<d", got) == struct.pack("<d", want), (got, want)
    with LibraryModel(cached_model()[1]) as m:
        assert m.handover_threshold == 0.0
    t = ctypes.c_double(-1.0)
    buf = message_buffer()
    threshold = lib.olcaoml_model_handover_threshold
    assert threshold(handle, ctypes.byref(t), buf, 512) == OK
    assert t.value == 0.0 and buf.value == b""
    assert threshold(handle, None, buf, 512) == NULL
    assert "threshold_hartree" in buf.value.decode()
    assert threshold(None, ctypes.byref(t), buf, 512) == NULL
    h = ctypes.c_void_p()
    oml = cached_model()[1].encode()
    assert lib.olcaoml_model_load(oml, ctypes.byref(h), None, 0) == OK
    freed = ctypes.c_void_p(h.value)
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    assert threshold(freed, ctypes.byref(t), buf, 512) == STATE


def _small_ensemble(text: str, record: str | None, version: int = 7) -> str:
    """A small ensemble file made from the version 1 export ``text``: its
    network twice (NUM_MEMBERS 2), an UNCERTAINTY block with a unit GRAM,
    then ``record`` (None: none) as the last line before END."""
    lines = text.splitlines()
    assert lines[0] == "OLCAOML_MODEL 1" and lines[-1] == "END"
    start, stop = lines.index("NETWORK Si"), lines.index("END_NETWORK")
    assert lines[start - 1] == "NUM_NETWORKS 1" and lines[stop + 1 :] == ["END"]
    n = int(lines[start + 1].split()[1])  # NUM_ALPHAS
    gram = [" ".join("1.0" if i == j else "0.0" for j in range(n)) for i in range(n)]
    net = lines[start : stop + 1]
    out = [f"OLCAOML_MODEL {version}", *lines[1 : start - 1], "NUM_MEMBERS 2"]
    out += ["NUM_NETWORKS 2", *net, *net, "UNCERTAINTY Si", "SIGMA_SCALE 2.0"]
    out += ["SIGMA_FLOOR 1.0e-04", "GRAM", *gram]
    return "\n".join(out + ([record] if record else []) + ["END"]) + "\n"


def _single_with_record(text: str, record: str) -> str:
    """The version 1 export ``text`` claiming version 7, with ``record``."""
    lines = text.splitlines()
    return "\n".join(["OLCAOML_MODEL 7", *lines[1:-1], record, "END"]) + "\n"


_BAD_VALUE = "HANDOVER_MEDIAN_SIGMA must be one finite number > 0 (Hartree)"
#: case: (file maker, its HANDOVER_MEDIAN_SIGMA record, message, the line
#: the message must name)
HANDOVER_FAULTS = {
    "negative": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA -3.3e-03", _BAD_VALUE, None),
    "zero": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA 0.0", _BAD_VALUE, None),
    "nan": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA NaN", _BAD_VALUE, None),
    "infinite": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA Inf", _BAD_VALUE, None),
    "text": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA three", _BAD_VALUE, None),
    "no number": (_small_ensemble, "HANDOVER_MEDIAN_SIGMA", _BAD_VALUE, None),
    "two numbers": (
        _small_ensemble,
        "HANDOVER_MEDIAN_SIGMA 3.3e-03 4.0e-03",
        _BAD_VALUE,
        None,
    ),
    "missing": (
        _small_ensemble,
        None,
        'expected HANDOVER_MEDIAN_SIGMA, got "END"',
        "END",
    ),
    "single network": (
        _single_with_record,
        "HANDOVER_MEDIAN_SIGMA 3.3e-03",
        "HANDOVER_MEDIAN_SIGMA needs an ensemble (NUM_MEMBERS > 1)",
        None,
    ),
    "in version 6": (
        lambda text, record: _small_ensemble(text, record, version=6),
        "HANDOVER_MEDIAN_SIGMA 3.3e-03",
        'expected END, got "HANDOVER_MEDIAN_SIGMA 3.3e-03"',
        None,
    ),
}


@pytest.mark.parametrize("case", list(HANDOVER_FAULTS))
def test_malformed_handover_record_is_a_format_error_naming_the_line(
    lib, model_file, tmp_path, case
):
    """Each broken HANDOVER_MEDIAN_SIGMA record (or its absence from a
    version 7 file) is OLCAOML_ERR_FORMAT with the file, the line and what
    is wrong; no handle, no crash; the same file with a good record loads
    and gives its value."""
    make, record, fragment, needle = HANDOVER_FAULTS[case]
    text = Path(model_file).read_text()
    bad = tmp_path / "bad.oml"
    bad.write_text(make(text, record))
    status, msg, h = load_status(lib, str(bad))
    assert status == FORMAT, msg
    assert h is None
    lines = [line.strip() for line in bad.read_text().splitlines()]
    line = lines.index(needle or record) + 1
    assert f"bad.oml, line {line}: {fragment}" in msg, (line, msg)
    good = tmp_path / "good.oml"
    good.write_text(_small_ensemble(text, "HANDOVER_MEDIAN_SIGMA 4.5e-03"))
    with LibraryModel(good) as m:
        assert m.n_members == 2
        assert m.handover_threshold == 4.5e-3


def test_model_file_with_crlf_line_ends_loads(model_file, tmp_path):
    text = Path(model_file).read_text()
    dos = tmp_path / "dos.oml"
    dos.write_bytes(text.replace("\n", "\r\n").encode())
    with LibraryModel(dos) as a, LibraryModel(model_file) as b:
        assert a.elements == b.elements
        np.testing.assert_array_equal(a.alphas(1), b.alphas(1))
