"""libolcaoml the way OLCAO uses it (issue 13): OLCAO's flat per-type
coefficient array, the early check, names that cannot clash with a host's
own ``double``, messages, and handles that are checked before use.

Expected coefficients come from Keras (pyolcaoml's Python path on the
atoms of structure.dat), placed by the test itself at the offsets of a real
OLCAO run's potential types; the arrays given to the library are built the
way OLCAO holds them (potential sites with a type each, per-type term
offsets, one flat exponent vector), from that run's structure.dat and
olcao.dat.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from test_library_support import cached_model, gfortran, needs_gfortran

from pyolcaoml import library
from pyolcaoml.library import LibraryError, LibraryModel, load_library
from pyolcaoml.olcao import read_run

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "fortran" / "examples" / "olcao_host.f90"
#: Real OLCAO runs bundled with the tests: every atom its own type / one
#: type shared by all eight atoms.
OWN_TYPES = DATA / "olcao" / "si8_r0.10_seed1100"
SHARED_TYPE = DATA / "olcao" / "si8"
OK, ARGUMENT, ELEMENT, STATE = 0, 1, 8, 10


class OlcaoArrays:
    """A run's potential sites and types as OLCAO keeps them (1-based types,
    0-based term offsets), optionally with the types renumbered so that
    type order differs from site order."""

    def __init__(self, run, order: np.ndarray | None = None) -> None:
        sd = run.structure_dat
        ptypes = list(run.potential_types)
        n = len(ptypes)
        order = np.arange(n) if order is None else np.asarray(order)
        new_of_old = np.empty(n, dtype=np.int32)
        new_of_old[order] = np.arange(n)  # new type (0-based) of each old type
        self.types = [ptypes[i] for i in order]
        self.cell = np.ascontiguousarray(sd.cell_bohr)
        self.site_pos = np.ascontiguousarray(sd.pot_positions_bohr)
        self.site_type = (new_of_old[np.asarray(sd.pot_types) - 1] + 1).astype(np.int32)
        counts = [t.n_alphas for t in self.types]
        self.offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
        self.alphas = np.concatenate([t.alphas for t in self.types])
        self.elements = [t.element for t in self.types]

    def element_of(self, lib: LibraryModel) -> np.ndarray:
        return np.array(
            [lib.element_index(self.elements[t - 1]) for t in self.site_type],
            dtype=np.int32,
        )

    def write(self, path: Path) -> None:
        """The list-directed file fortran/examples/olcao_host.f90 reads."""
        lines = [" ".join(f"{v:.17e}" for v in row) for row in self.cell]
        lines.append(f"{len(self.site_type)} {len(self.types)} {len(self.alphas)}")
        for t, pos in zip(self.site_type, self.site_pos, strict=True):
            lines.append(f"{t} " + " ".join(f"{v:.17e}" for v in pos))
        for el, off in zip(self.elements, self.offsets, strict=True):
            lines.append(f"{el.lower()} {off}")
        lines += [f"{a:.17e}" for a in self.alphas]
        path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def model_files() -> tuple[str, str]:
    return cached_model()


@pytest.fixture(scope="module")
def run():
    return read_run(OWN_TYPES)


def keras_site_coeffs(model_dir: str, run) -> np.ndarray:
    """Keras' A (Hartree) of the atom on every potential site."""
    from pyolcaoml.model import load_model

    model = load_model(model_dir)
    x = model.descriptor_calculator().compute(run.structure)
    per_atom = np.array(model.predict(list(run.structure.symbols), x))
    # potential site s sits on atom site s (positions equal, checked here)
    sd = run.structure_dat
    np.testing.assert_allclose(sd.pot_positions_bohr, sd.atom_positions_bohr)
    return per_atom


@pytest.fixture(scope="module")
def keras_by_site(model_files, run) -> np.ndarray:
    return keras_site_coeffs(model_files[0], run)


def expected_flat(arrays: OlcaoArrays, by_site: np.ndarray) -> np.ndarray:
    """OLCAO's flat coefficient vector, built by the test."""
    flat = np.full(len(arrays.alphas), np.nan)
    for site, t in enumerate(arrays.site_type):
        off = arrays.offsets[t - 1]
        flat[off : off + by_site.shape[1]] = by_site[site]
    assert not np.isnan(flat).any()
    return flat


ORDERS = {
    "sites": None,
    "reversed": np.arange(8)[::-1],
    "shuffled": [3, 0, 6, 1, 7, 5, 2, 4],
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_fill_two_spins_equals_keras(model_files, run, keras_by_site, order):
    arrays = OlcaoArrays(run, ORDERS[order])
    want = expected_flat(arrays, keras_by_site)
    with LibraryModel(model_files[1]) as lib:
        el = arrays.element_of(lib)
        lib.check_pot_types(el, arrays.site_type, arrays.offsets, arrays.alphas)
        got = lib.fill_pot_coeffs(
            arrays.cell, arrays.site_pos, el, arrays.site_type, arrays.offsets,
            arrays.alphas, n_spins=2,
        )  # fmt: skip
    assert got.shape == (2, len(arrays.alphas))
    np.testing.assert_array_equal(got[0], got[1])
    assert np.abs(got[0] - want).max() <= 1e-12 * np.abs(want).max()
    # one spin column, and three: the same numbers
    with LibraryModel(model_files[1]) as lib:
        for n in (1, 3):
            more = lib.fill_pot_coeffs(
                arrays.cell, arrays.site_pos, el, arrays.site_type, arrays.offsets,
                arrays.alphas, n_spins=n,
            )  # fmt: skip
            assert more.shape == (n, len(arrays.alphas))
            for row in more:
                np.testing.assert_array_equal(row, got[0])


def _fill_raw(lib, h, arrays, el, alphas, pot, n_spins=2):
    bad = ctypes.c_int(-1)
    buf = ctypes.create_string_buffer(512)
    status = lib.olcaoml_fill_pot_coeffs(
        h, arrays.cell.ctypes.data, len(el), arrays.site_pos.ctypes.data,
        el.ctypes.data, arrays.site_type.ctypes.data, len(arrays.offsets),
        arrays.offsets.ctypes.data, len(alphas), alphas.ctypes.data, n_spins, 0,
        pot.ctypes.data, ctypes.byref(bad), buf, len(buf),
    )  # fmt: skip
    return status, bad.value, buf.value.decode()


@pytest.mark.parametrize("relative", [3e-6, -2e-6, 1.0])
def test_wrong_exponent_names_the_first_bad_type(model_files, run, relative):
    """One exponent of two types off by more than 1e-6 (relative): the
    first of them in type order is named, and nothing is written."""
    arrays = OlcaoArrays(run, ORDERS["shuffled"])
    alphas = arrays.alphas.copy()
    alphas[arrays.offsets[5] + 9] *= 1.0 + relative  # type 6, exponent 10
    alphas[arrays.offsets[2] + 4] *= 1.0 + relative  # type 3, exponent 5
    lib = load_library()
    with LibraryModel(model_files[1]) as m:
        el = arrays.element_of(m)
        pot = np.full((2, len(alphas)), 7.0)
        status, bad, msg = _fill_raw(lib, m.handle, arrays, el, alphas, pot)
        assert status == ARGUMENT
        assert bad == 3
        assert "type 3" in msg and "exponent 5" in msg, msg
        np.testing.assert_array_equal(pot, 7.0)  # untouched
        with pytest.raises(LibraryError) as err:
            m.check_pot_types(el, arrays.site_type, arrays.offsets, alphas)
        assert err.value.status == ARGUMENT and err.value.bad_type == 3
        assert err.value.text == msg


def test_exponents_within_tolerance_are_accepted(model_files, run, keras_by_site):
    arrays = OlcaoArrays(run)
    alphas = arrays.alphas * (1.0 + 5e-7)  # olcao.dat keeps 7 digits
    with LibraryModel(model_files[1]) as m:
        el = arrays.element_of(m)
        got = m.fill_pot_coeffs(
            arrays.cell, arrays.site_pos, el, arrays.site_type, arrays.offsets, alphas
        )
    want = expected_flat(arrays, keras_by_site)
    assert np.abs(got[1] - want).max() <= 1e-12 * np.abs(want).max()


def test_bad_layouts_are_refused_by_type(model_files, run):
    arrays = OlcaoArrays(run)
    with LibraryModel(model_files[1]) as m:
        el = arrays.element_of(m)

        def check(types=arrays.site_type, offsets=arrays.offsets, alphas=None, e=el):
            alphas = arrays.alphas if alphas is None else alphas
            with pytest.raises(LibraryError) as err:
                m.check_pot_types(e, types, offsets, alphas)
            return err.value

        # a type with one term too few (the last one's terms run short)
        err = check(alphas=arrays.alphas[:-1])
        assert err.status == ARGUMENT and err.bad_type == 8
        assert "has 15 terms" in err.text and "16" in err.text
        # two sites on one type: the model predicts one potential per atom
        types = arrays.site_type.copy()
        types[6] = 2
        err = check(types=types)
        assert err.bad_type == 2 and "shared by atoms 2 and 7" in err.text
        # a type number beyond the types
        types = arrays.site_type.copy()
        types[0] = 9
        err = check(types=types)
        assert "atom 1 has type 9" in err.text
        # offsets that do not start at 0 or do not increase
        offsets = arrays.offsets.copy()
        offsets[0] = 1
        assert check(offsets=offsets).bad_type == 1
        offsets = arrays.offsets.copy()
        offsets[4] = offsets[3]
        assert check(offsets=offsets).bad_type == 5
        # an element without a network
        e = el.copy()
        e[3] = 2
        err = check(e=e)
        assert err.status == ELEMENT and err.bad_type == 4


def test_a_shared_type_of_a_real_olcao_run_is_refused(model_files):
    """The si8 sample: all eight atoms share potential type 1."""
    shared = read_run(SHARED_TYPE)
    arrays = OlcaoArrays(shared)
    assert len(arrays.types) == 1
    with LibraryModel(model_files[1]) as m:
        el = arrays.element_of(m)
        with pytest.raises(LibraryError) as err:
            m.fill_pot_coeffs(
                arrays.cell, arrays.site_pos, el, arrays.site_type, arrays.offsets,
                arrays.alphas,
            )  # fmt: skip
    assert err.value.bad_type == 1
    assert "shared by atoms 1 and 2" in err.value.text


# -- the Fortran host program (OLCAO's layout, its own "double") ------------------
CLASH_PROGRAM = """\
module Host_Kinds
   implicit none
   integer, parameter :: double = kind(0.0d0)
end module Host_Kinds

program clash
   use Host_Kinds
   use OML_Library
   implicit none
   real (kind=double) :: x
   real (kind=omlDouble) :: y
   x = 1.5_double
   y = x
   print '(i0,1x,f3.1)', omlApiVersion(), y
end program clash
"""


def _compile(source: Path, exe: Path) -> subprocess.CompletedProcess:
    cmd = [gfortran() or "gfortran", "-O2", *library.cflags(), str(source), "-o",
           str(exe), *library.libs()]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True)


def test_every_public_name_of_oml_library_is_prefixed():
    """The source's public names (the compile test below is the proof that
    nothing else leaks out of the .mod)."""
    text = (REPO / "fortran" / "capi" / "OML_Library.f90").read_text()
    names = []
    for line in text.splitlines():
        code = line.split("!")[0]
        if "public" in code and "::" in code:
            rest = code.split("::", 1)[1]
            if "parameter" in code or "type" in code.split("::")[0]:
                rest = rest.split("=")[0]
            names += [n.strip() for n in rest.split(",") if n.strip()]
    assert len(names) > 20
    bad = [n for n in names if not n.lower().startswith("oml")]
    assert not bad, bad


@needs_gfortran
def test_host_double_and_oml_library_in_one_scope(tmp_path):
    """A host module exporting "double" (as OLCAO's O_Kinds does) and
    OML_Library used together: it compiles, and omlDouble is the kind."""
    src = tmp_path / "clash.f90"
    src.write_text(CLASH_PROGRAM)
    done = _compile(src, tmp_path / "clash")
    assert done.returncode == 0, done.stderr
    out = subprocess.run([str(tmp_path / "clash")], capture_output=True, text=True)
    assert out.stdout.split() == [str(library.API_VERSION), "1.5"]


@pytest.fixture(scope="module")
def host_example(tmp_path_factory) -> Path:
    if gfortran() is None:
        pytest.skip("gfortran is absent")
    exe = tmp_path_factory.mktemp("host") / "olcao_host"
    done = _compile(EXAMPLE, exe)
    assert done.returncode == 0, done.stderr
    return exe


def test_host_example_fills_potcoeffs(host_example, model_files, run, keras_by_site,
                                      tmp_path):  # fmt: skip
    arrays = OlcaoArrays(run, ORDERS["shuffled"])
    arrays.write(tmp_path / "arrays.txt")
    done = subprocess.run(
        [str(host_example), model_files[1], str(tmp_path / "arrays.txt"), "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == f"libolcaoml API version {library.API_VERSION}"
    got = np.array([float(v) for v in lines[1:] if v.strip()]).reshape(2, -1)
    want = expected_flat(arrays, keras_by_site)
    for spin in range(2):
        assert np.abs(got[spin] - want).max() <= 1e-12 * np.abs(want).max()


def test_host_example_stops_early_on_a_wrong_exponent(host_example, model_files, run,
                                                      tmp_path):  # fmt: skip
    arrays = OlcaoArrays(run)
    arrays.alphas[arrays.offsets[6] + 2] *= 1.01
    arrays.write(tmp_path / "arrays.txt")
    done = subprocess.run(
        [str(host_example), model_files[1], str(tmp_path / "arrays.txt")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "potential type 7" in done.stderr and "exponent 3" in done.stderr
    # a missing model: named once, before any work
    done = subprocess.run(
        [str(host_example), str(tmp_path / "none.oml"), str(tmp_path / "arrays.txt")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.count("none.oml") == 1, done.stderr


# -- messages and handles ------------------------------------------------------------
def test_missing_model_file_is_named_once(tmp_path):
    with pytest.raises(LibraryError) as err:
        LibraryModel(tmp_path / "missing.oml")
    text = err.value.text
    assert text.count("missing.oml") == 1, text
    assert text.startswith("model: cannot open ") and "No such file" in text


def test_unreadable_model_path_is_named_once(tmp_path):
    with pytest.raises(LibraryError) as err:
        LibraryModel(tmp_path)  # a directory
    assert err.value.text.count(str(tmp_path)) == 1, err.value.text


def test_symbol_buffer_too_small_is_an_error(model_files):
    lib = load_library()
    buf = ctypes.create_string_buffer(512)
    with LibraryModel(model_files[1]) as m:
        for size in (1, 2):
            sym = ctypes.create_string_buffer(b"zz", 3)
            status = lib.olcaoml_model_element_symbol(m.handle, 1, sym, size, buf, 512)
            assert status == ARGUMENT
            assert sym.value == b""
            assert "symbol_len" in buf.value.decode()
        sym = ctypes.create_string_buffer(3)
        assert lib.olcaoml_model_element_symbol(m.handle, 1, sym, 3, buf, 512) == OK
        assert sym.value == b"Si"


def test_stale_and_forged_handles_are_refused(model_files):
    """A copy of a freed handle, and an address that was never a handle
    (memory made to look like one), give OLCAOML_ERR_STATE."""
    lib = load_library()
    h = ctypes.c_void_p()
    assert (
        lib.olcaoml_model_load(model_files[1].encode(), ctypes.byref(h), None, 0) == OK
    )
    stale = ctypes.c_void_p(h.value)
    n = ctypes.c_int(-1)
    buf = ctypes.create_string_buffer(512)
    assert lib.olcaoml_model_num_features(h, ctypes.byref(n), buf, 512) == OK
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    assert lib.olcaoml_model_num_features(stale, ctypes.byref(n), buf, 512) == STATE
    assert "not a loaded model" in buf.value.decode()
    assert lib.olcaoml_model_free(ctypes.byref(stale)) == STATE
    # memory that starts with the live tag ('OMLH') and is all ones after it
    fake = np.full(4096, 0xFF, dtype=np.uint8)
    fake[:4] = np.frombuffer(np.int32(1330465864).tobytes(), dtype=np.uint8)
    forged = ctypes.c_void_p(fake.ctypes.data)
    assert lib.olcaoml_model_num_features(forged, ctypes.byref(n), buf, 512) == STATE
    assert lib.olcaoml_model_free(ctypes.byref(forged)) == STATE
    # handles loaded after a free still work, and several live at once
    with LibraryModel(model_files[1]) as a, LibraryModel(model_files[1]) as b:
        assert a.n_features == b.n_features > 0
