"""The applicability distance and the amorphous SiC handover through the C
API (API 2.3: ``olcaoml export ... --domain``, ``olcaoml_domain_*``).

Expected values come from outside the Fortran under test: Python's
:mod:`pyolcaoml.model.applicability` (nearest training atom found in single
precision with a matrix product, then measured in double; the library
measures every training atom directly), analytic distances of a domain
built by hand, and Python's handover rule on real SiC cells.
"""

from __future__ import annotations

import ctypes
import math
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_library_support import compile_fortran, needs_gfortran

from pyolcaoml import bundled_model
from pyolcaoml.export_domain import END, MAGIC, format_domain
from pyolcaoml.library import LibraryDomain, LibraryError, LibraryModel, load_library
from pyolcaoml.model.applicability import ElementDomain

REPO = Path(__file__).resolve().parents[1]
#: A 3C-SiC crystal cell (rattled) and an amorphous SiC cell, real OLCAO
#: runs in the repository: the bundled Si + C model keeps the first and
#: hands the second to the amorphous SiC model (pyolcaoml.model.handover).
CRYSTAL = REPO / "data" / "sic" / "runs" / "rattle" / "sic8_r0.10_seed10011"
AMORPHOUS = (
    REPO / "data" / "sic" / "test_runs_stop37" / "amorphous" / "sic16_rr_seed13300"
)
OK, ERR_FORMAT, ERR_IO, ERR_STATE, ERR_NULL = 0, 7, 6, 10, 9

# -- a small domain built by hand on the bundled default model (Si, K) --------


@pytest.fixture(scope="module")
def default_lib():
    with LibraryModel(bundled_model.oml_path()) as lib:
        yield lib


def _hand_model(k: int, reference: np.ndarray, threshold: float, handover=None):
    """A stand-in for a loaded model with one Si domain: mean 1, scale 2."""
    dom = ElementDomain(
        mean=np.ones(k), scale=np.full(k, 2.0), reference=reference, threshold=threshold
    )
    handover = {} if handover is None else {"median_domain": handover}
    return SimpleNamespace(
        elements={"Si": None},
        n_features=k,
        applicability=SimpleNamespace(domains={"Si": dom}),
        handover=handover,
    )


def oml_mean(path: Path, symbol: str) -> np.ndarray:
    """The MEAN record of the first network of ``symbol`` in a model file,
    read from its text (the key a domain of that model carries)."""
    words = path.read_text().split()
    at = words.index("NETWORK")
    while words[at + 1] != symbol:
        at = words.index("NETWORK", at + 1)
    at = words.index("MEAN", at)
    k = int(words[words.index("NUM_FEATURES") + 1])
    return np.array([float(w) for w in words[at + 1 : at + 1 + k]])


@pytest.fixture(scope="module")
def hand_domain(default_lib, tmp_path_factory):
    """Reference atoms at z = 0 and z = e_1 (standardised), threshold 0.5."""
    k = default_lib.n_features
    ref = np.zeros((2, k), dtype=np.float32)
    ref[1, 0] = 1.0
    key = {"Si": oml_mean(Path(bundled_model.oml_path()), "Si")}
    path = tmp_path_factory.mktemp("domain") / "hand.omld"
    path.write_bytes(format_domain(_hand_model(k, ref, 0.5, handover=0.7), key))
    return path


def test_hand_built_domain_gives_the_analytic_distances(default_lib, hand_domain):
    k = default_lib.n_features
    # x = mean + scale * z: z = 0 (on a training atom), z = 3 e_2 (distance
    # 3 from z = 0, sqrt(10) from e_1), z = e_1 + 4 e_3 (4 from e_1)
    z = np.zeros((3, k))
    z[1, 1] = 3.0
    z[2, 0], z[2, 2] = 1.0, 4.0
    x = 1.0 + 2.0 * z
    want = np.array([0.0, 3.0, 4.0]) / math.sqrt(k) / 0.5
    with LibraryDomain(default_lib, hand_domain) as dom:
        got = dom.ratio(np.ones(3, dtype=np.int32), x)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
        assert dom.handover_threshold == 0.7


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ([3.0, 1.0, 2.0], 2.0),
        ([4.0, 1.0, 3.0, 2.0], 2.5),
        ([np.nan, 5.0, 1.0], 3.0),  # NaN (an element without a domain) left out
        ([np.nan], math.nan),
        ([], math.nan),
    ],
)
def test_median_is_numpys_over_the_finite_values(values, want):
    got = LibraryDomain.median(np.array(values, dtype=np.float64))
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want == np.median([v for v in values if np.isfinite(v)])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-3, 3).map(float),  # many ties
            st.floats(-1e3, 1e3),
            st.just(math.nan),
        ),
        max_size=80,
    )
)
def test_median_selection_agrees_with_numpy(values):
    """The library finds the median by selection, not by sorting; any
    values, ties and NaN included, give numpy's median of the finite ones."""
    finite = [v for v in values if math.isfinite(v)]
    got = LibraryDomain.median(np.array(values, dtype=np.float64))
    if finite:
        assert got == np.median(finite)
    else:
        assert math.isnan(got)


# -- the bundled Si + C model: library against Python, and the handover -------


@pytest.fixture(scope="module")
def sic_export(tmp_path_factory):
    from pyolcaoml.export import export_model
    from pyolcaoml.model import load_model

    model = load_model("sic")
    d = tmp_path_factory.mktemp("sic_domain")
    export_model(model, d / "sic.oml", domain=d / "sic.omld")
    return model, d / "sic.oml", d / "sic.omld"


def brute_force_ratio(model, symbols, x) -> np.ndarray:
    """Distance to every training atom in double precision, the smallest,
    over sqrt(K) and the element's threshold."""
    out = np.empty(len(symbols))
    for i, s in enumerate(symbols):
        d = model.applicability.domains[s]
        z = (x[i] - d.mean) / d.scale
        ref = np.asarray(d.reference, dtype=np.float64)
        best = np.min(np.sum((z[None, :] - ref) ** 2, axis=1))
        out[i] = math.sqrt(best) / math.sqrt(x.shape[1]) / d.threshold
    return out


@pytest.mark.parametrize(
    ("run_dir", "target"), [(CRYSTAL, None), (AMORPHOUS, "sicam")], ids=["3C", "am"]
)
def test_sic_domain_and_handover_match_python(sic_export, run_dir, target):
    from pyolcaoml.model.handover import handover_target
    from pyolcaoml.olcao import read_run

    model, oml, omld = sic_export
    run = read_run(run_dir)
    symbols = list(run.structure.symbols)
    x = model.descriptor_calculator().compute(run.structure)
    want = model.applicability.domain_ratio(symbols, x)
    sigma = model.predict_uncertainty(symbols, x)[1]
    assert handover_target(model, symbols, sigma, want) == target
    with LibraryModel(oml) as lib, LibraryDomain(lib, omld) as dom:
        el = lib.element_indices(symbols)
        got = dom.ratio(el, x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        # and the exact minimum over every training atom (a brute force in
        # double precision, no screen)
        np.testing.assert_allclose(
            got, brute_force_ratio(model, symbols, x), rtol=1e-13
        )
        np.testing.assert_array_equal(dom.ratio(el, x, n_threads=1), got)
        np.testing.assert_array_equal(dom.ratio(el, x, n_threads=3), got)
        # the library's own rule gives Python's decision
        t = dom.handover_threshold
        assert t == model.handover["median_domain"]
        amorphous = "C" in symbols and dom.median(got) > t > 0
        assert amorphous == (target == "sicam")


def test_a_domain_of_another_model_is_refused(sic_export, default_lib):
    _, _, omld = sic_export
    with pytest.raises(LibraryError) as err:
        LibraryDomain(default_lib, omld)
    assert err.value.status == ERR_FORMAT
    assert "another model" in str(err.value) and str(omld) in str(err.value)


# -- faults: every corrupted file is a clear status, never a crash -----------


def _load_status(lib: LibraryModel, path: Path) -> tuple[int, str]:
    try:
        LibraryDomain(lib, path).close()
    except LibraryError as exc:
        return exc.status, str(exc)
    return OK, ""


def _edit(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


#: byte offsets in the hand-built file (OML_Domain.f90 gives the layout)
HEADER = 16 + 4 + 4 + 8 + 8 + 8
ELEMENT = HEADER + 16  # numReference of the first element
KEY = ELEMENT + 16  # its key, then its mean
K = 660  # the bundled default model's descriptor length


@pytest.mark.parametrize(
    ("what", "change", "words"),
    [
        ("magic", lambda d: _edit(d, 0, b"OLCAOML_MODEL 1 "), "not a domain file"),
        ("byte order", lambda d: _edit(d, 20, struct.pack("<i", 0x04030201)), "byte"),
        ("version", lambda d: _edit(d, 16, struct.pack("<i", 9)), "version 9"),
        ("element", lambda d: _edit(d, HEADER, b"Xx".ljust(16)), "Xx"),
        (
            "absurd count",
            lambda d: _edit(d, ELEMENT, struct.pack("<q", 2**50)),
            "more bytes",
        ),
        ("zero count", lambda d: _edit(d, ELEMENT, struct.pack("<q", 0)), ">= 1"),
        ("threshold", lambda d: _edit(d, ELEMENT + 8, struct.pack("<d", 0.0)), "> 0"),
        (
            "nan mean",
            lambda d: _edit(d, KEY + 8 * K, struct.pack("<d", math.nan)),
            "mean",
        ),
        (
            "other model",
            lambda d: _edit(d, KEY, struct.pack("<d", 1e-300)),
            "not the domain",
        ),
        ("truncated", lambda d: d[: len(d) // 2], "truncated"),
        ("no end word", lambda d: d[: -len(END)], "truncated"),
        ("end word", lambda d: d[: -len(END)] + b"END_DOMAIX      ", "END_DOMAIN"),
        ("trailing bytes", lambda d: d + b"\0", "after END_DOMAIN"),
        ("empty", lambda d: b"", "not a domain file"),
    ],
)
def test_corrupted_domain_file_is_a_format_error(
    default_lib, hand_domain, tmp_path, what, change, words
):
    assert default_lib.n_features == K
    bad = tmp_path / "bad.omld"
    bad.write_bytes(change(hand_domain.read_bytes()))
    status, message = _load_status(default_lib, bad)
    assert status == ERR_FORMAT, (what, message)
    assert str(bad) in message and words in message


def test_missing_domain_file_is_an_io_error(default_lib, tmp_path):
    status, message = _load_status(default_lib, tmp_path / "none.omld")
    assert status == ERR_IO and "none.omld" in message


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(0, KEY + 16), st.binary(min_size=1, max_size=8))
def test_random_header_damage_never_crashes(
    default_lib, hand_domain, tmp_path, at, junk
):
    data = _edit(hand_domain.read_bytes(), at, junk)
    bad = tmp_path / "fuzz.omld"
    bad.write_bytes(data)
    status, _ = _load_status(default_lib, bad)
    if data == hand_domain.read_bytes():
        assert status == OK
    else:
        assert status in (OK, ERR_FORMAT)


def test_handles_are_checked(default_lib, hand_domain):
    lib = load_library()
    buf = ctypes.create_string_buffer(512)
    dom = LibraryDomain(default_lib, hand_domain)
    handle = ctypes.c_void_p(dom.handle.value)
    out = ctypes.c_int()
    # a domain handle where a model is expected, and the other way round
    assert (
        lib.olcaoml_model_num_elements(handle, ctypes.byref(out), buf, 512) == ERR_STATE
    )
    t = ctypes.c_double()
    model_handle = default_lib.handle
    assert (
        lib.olcaoml_domain_handover_threshold(model_handle, ctypes.byref(t), buf, 512)
        == ERR_STATE
    )
    assert (
        lib.olcaoml_domain_free(ctypes.byref(ctypes.c_void_p(model_handle.value)))
        == ERR_STATE
    )
    # NULL handle and NULL output
    assert (
        lib.olcaoml_domain_handover_threshold(None, ctypes.byref(t), buf, 512)
        == ERR_NULL
    )
    assert lib.olcaoml_domain_handover_threshold(handle, None, buf, 512) == ERR_NULL
    dom.close()
    # freed: a second free and any use are refused, not a crash
    assert lib.olcaoml_domain_free(ctypes.byref(handle)) == ERR_STATE
    assert (
        lib.olcaoml_domain_handover_threshold(handle, ctypes.byref(t), buf, 512)
        == ERR_STATE
    )
    assert b"freed" in buf.value


def test_bad_ratio_arguments_are_refused(default_lib, hand_domain):
    k = default_lib.n_features
    with LibraryDomain(default_lib, hand_domain) as dom:
        with pytest.raises(LibraryError, match="num_features"):
            dom.ratio([1], np.zeros((1, k + 1)))
        with pytest.raises(LibraryError, match="element_of"):
            dom.ratio([2], np.zeros((1, k)))
        x = np.zeros((1, k))
        x[0, 5] = np.nan
        with pytest.raises(LibraryError, match="NaN"):
            dom.ratio([1], x)
        with pytest.raises(LibraryError, match="num_threads"):
            dom.ratio([1], np.zeros((1, k)), n_threads=10**6)


# -- the export -----------------------------------------------------------------


def test_export_refuses_a_model_without_a_domain_and_leaves_nothing(tmp_path):
    from pyolcaoml.export import ExportError, export_model
    from pyolcaoml.export_domain import DomainExportError, write_domain

    model = SimpleNamespace(applicability=None, elements={"Si": None}, n_features=3)
    with pytest.raises(DomainExportError, match="no applicability"):
        write_domain(model, tmp_path / "x.omld", {})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="must not be the model file"):
        export_model("default", tmp_path / "m.oml", domain=tmp_path / "m.oml")
    assert list(tmp_path.iterdir()) == []


def test_export_keeps_an_existing_domain_without_force(tmp_path, capsys):
    from pyolcaoml.cli import main

    old = tmp_path / "m.omld"
    old.write_bytes(b"old")
    rc = main(
        ["export", "default", "-o", str(tmp_path / "m.oml"), "--domain", str(old)]
    )
    assert rc != 0
    assert old.read_bytes() == b"old" and not (tmp_path / "m.oml").exists()
    assert "exists" in capsys.readouterr().err


def test_export_writes_a_domain_the_library_reads(tmp_path, capsys):
    """The default model's own domain (Si, no SiC rule) through the CLI."""
    from pyolcaoml.cli import main
    from pyolcaoml.model import load_model

    oml, omld = tmp_path / "m.oml", tmp_path / "m.omld"
    assert main(["export", "default", "-o", str(oml), "--domain", str(omld)]) == 0
    assert "m.omld" in capsys.readouterr().out
    data = omld.read_bytes()
    assert data.startswith(MAGIC) and data.endswith(END)
    model = load_model("default")
    from pyolcaoml.olcao import read_run

    run = read_run(REPO / "data" / "scf_test_runs" / "asi64_s10065")
    symbols = list(run.structure.symbols)
    x = model.descriptor_calculator().compute(run.structure)
    with LibraryModel(oml) as lib, LibraryDomain(lib, omld) as dom:
        got = dom.ratio(lib.element_indices(symbols), x)
        assert dom.handover_threshold == 0.0
    np.testing.assert_allclose(
        got, model.applicability.domain_ratio(symbols, x), rtol=1e-12
    )


# -- the Fortran interface, as OLCAO would use it ------------------------------

FORTRAN_PROGRAM = """
program domainCheck
   use OML_Library
   implicit none
   type (OML_ModelType) :: model
   type (OML_DomainType) :: domain
   integer :: status, k
   character (len=omlMessageLen) :: message
   real (kind=omlDouble), allocatable :: x(:,:)
   real (kind=omlDouble) :: ratio(2)
   character (len=4096) :: modelPath, domainPath
   call get_command_argument (1, modelPath)
   call get_command_argument (2, domainPath)
   call omlLoadModel (model, trim(modelPath), status, message)
   if (status /= omlSuccess) stop 1
   call omlLoadDomain (domain, model, trim(domainPath), status, message)
   if (status /= omlSuccess) then
      print '(a)', trim(message)
      stop 2
   endif
   k = omlNumFeatures(model)
   allocate (x(k, 2))
   x = 1.0_omlDouble
   x(2, 1) = 1.0_omlDouble + 2.0_omlDouble * 3.0_omlDouble
   x(1, 2) = 3.0_omlDouble
   x(3, 2) = 9.0_omlDouble
   call omlDomainRatio (domain, (/ 1, 1 /), x, 2, ratio, status, message)
   if (status /= omlSuccess) stop 3
   print '(4es25.17)', ratio, omlMedianDomain(ratio), &
         & omlDomainHandoverThreshold(domain)
   call omlFreeDomain (domain)
   call omlFreeModel (model)
end program domainCheck
"""


@needs_gfortran
def test_fortran_interface_gives_the_analytic_distances(hand_domain, tmp_path):
    source = tmp_path / "domain_check.f90"
    source.write_text(FORTRAN_PROGRAM)
    exe = tmp_path / "domain_check"
    done = compile_fortran(source, exe)
    assert done.returncode == 0, done.stderr
    out = subprocess.run(
        [str(exe), str(bundled_model.oml_path()), str(hand_domain)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    r1, r2, median, threshold = (float(v) for v in out.stdout.split())
    # z = 3 e_2 (3 from the atom at 0); z = e_1 + 4 e_3 (4 from e_1)
    want = np.array([3.0, 4.0]) / math.sqrt(K) / 0.5
    np.testing.assert_allclose([r1, r2], want, rtol=1e-14)
    assert median == pytest.approx(want.mean(), rel=1e-14)
    assert threshold == 0.7


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.integers(1, 40),
    st.integers(1, 70),
    st.floats(1e-7, 1e-2),
    st.integers(0, 2**31 - 1),
)
def test_screened_minimum_is_the_brute_force_minimum(
    default_lib, tmp_path, n_ref, n_atoms, spread, seed
):
    """Random training atoms, many nearly equidistant (near-duplicates of
    one centre), and atoms spread around them: the library's screened
    minimum is the exact one (a double-precision brute force)."""
    rng = np.random.default_rng(seed)
    k = default_lib.n_features
    centre = rng.normal(size=k)
    ref = (centre + spread * rng.normal(size=(n_ref, k))).astype(np.float32)
    ref[0] = rng.normal(size=k)  # one far away
    key = {"Si": oml_mean(Path(bundled_model.oml_path()), "Si")}
    path = tmp_path / "random.omld"
    path.write_bytes(format_domain(_hand_model(k, ref, 0.3), key))
    z = centre + rng.normal(scale=rng.choice([1e-6, 1e-2, 1.0]), size=(n_atoms, k))
    x = 1.0 + 2.0 * z
    zz = (x - 1.0) / 2.0
    d2 = ((zz[:, None, :] - ref.astype(np.float64)[None]) ** 2).sum(axis=2)
    want = np.sqrt(d2.min(axis=1)) / math.sqrt(k) / 0.3
    with LibraryDomain(default_lib, path) as dom:
        got = dom.ratio(np.ones(n_atoms, dtype=np.int32), x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@needs_gfortran
@pytest.mark.parametrize(
    ("run_dir", "handed"), [(CRYSTAL, False), (AMORPHOUS, True)], ids=["3C", "am"]
)
def test_fortran_example_hands_over_as_olcaoml_predict(
    sic_export, tmp_path, run_dir, handed
):
    """fortran/examples/predict_scfv.f90 with the domain and the amorphous
    model writes what 'olcaoml predict RUN_DIR' (no model named: the
    bundled Si + C model and its handover) writes."""
    from test_library_example import EXAMPLES, copy_run_inputs, numbers

    from pyolcaoml.cli import main
    from pyolcaoml.export import export_model

    _, oml, omld = sic_export
    sicam = oml.parent / "sicam.oml"
    if not sicam.exists():
        export_model("sicam", sicam)
    exe = tmp_path / "predict_scfv"
    done = compile_fortran(EXAMPLES / "predict_scfv.f90", exe)
    assert done.returncode == 0, done.stderr
    py_run = copy_run_inputs(run_dir, tmp_path / "python")
    assert main(["predict", str(py_run), "--force"]) == 0
    f_run = copy_run_inputs(run_dir, tmp_path / "fortran")
    out = f_run / "inputs" / "scfV.dat"
    args = [str(exe), str(oml), str(f_run), str(out), "2", str(omld), str(sicam)]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("amorphous SiC: predicted with" in done.stdout) == handed
    got, want = numbers(out), numbers(py_run / "inputs" / "scfV.dat")
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-14)
