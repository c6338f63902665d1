"""libolcaoml's descriptors and forward pass against the Python path.

Expected values are independent of the Fortran under test: Keras'
own prediction (model.predict -> keras.Model.__call__) and pyolcaoml's
Bispectrum on the structure in Å (the Python path of 'olcaoml predict').
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from test_library_support import DEFAULT_MODEL, cached_model, run_dirs

from pyolcaoml.library import LibraryModel
from pyolcaoml.model import load_model
from pyolcaoml.model.potential import potential_values
from pyolcaoml.olcao import read_run

ACTIVATIONS = ("tanh", "relu", "silu", "sigmoid", "softplus", "gelu")
#: Required agreement of V(r) with Keras (relative to max |V| on the grid).
V_RTOL = 1e-6


@pytest.fixture(scope="module")
def runs():
    return [read_run(d) for d in run_dirs()]


def keras_coeffs(model, run) -> tuple[np.ndarray, np.ndarray]:
    """(descriptors, A) of the Python path, for every atom of a run."""
    x = model.descriptor_calculator().compute(run.structure)
    a = np.array(model.predict(list(run.structure.symbols), x))
    return x, a


def library_inputs(lib: LibraryModel, run):
    sd = run.structure_dat
    return sd.cell_bohr, sd.atom_positions_bohr, lib.element_indices(sd.atom_elements)


def v_error(pred: np.ndarray, want: np.ndarray, alphas: np.ndarray) -> float:
    """max |V_pred - V_want| / max |V_want| over r in [0, 8] Bohr."""
    r = np.linspace(0.0, 8.0, 801)
    dv = potential_values(pred - want, alphas, r)
    return float(np.abs(dv).max() / np.abs(potential_values(want, alphas, r)).max())


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("linear_branch", [True, False])
def test_forward_pass_matches_keras(runs, activation, linear_branch):
    path, oml = cached_model(activation, linear_branch)
    model = load_model(path)
    alphas = model.elements["Si"].alphas
    with LibraryModel(oml) as lib:
        for run in runs:
            x, want = keras_coeffs(model, run)
            got = lib.predict(*library_inputs(lib, run))
            assert got.shape == want.shape
            assert v_error(got, want, alphas) <= V_RTOL
            scale = np.abs(want).max()
            # far tighter than required: round-off, except TensorFlow's gelu
            tight = 1e-7 if activation == "gelu" else 1e-12
            assert np.abs(got - want).max() <= tight * scale
            # the network alone, from Python's descriptors
            got2 = lib.predict_from_descriptors(np.ones(len(x), np.int32), x)
            np.testing.assert_array_equal(got2, got)


def test_deeper_wider_network(runs):
    path, oml = cached_model("silu", True, False, (40, 30, 20))
    model = load_model(path)
    with LibraryModel(oml) as lib:
        run = runs[-1]
        _, want = keras_coeffs(model, run)
        got = lib.predict(*library_inputs(lib, run))
        assert v_error(got, want, model.elements["Si"].alphas) <= V_RTOL


@pytest.mark.parametrize(
    ("multiscale", "neighbour_mean"),
    [(False, False), (True, False), (True, True), (False, 2), (True, 3)],
)
def test_descriptors_identical_to_python(runs, multiscale, neighbour_mean):
    """Bohr in, the same bits as Python's Bispectrum (and NeighbourMean) on
    the Å structure."""
    path, oml = cached_model("tanh", True, multiscale, neighbour_mean=neighbour_mean)
    model = load_model(path, networks=False)
    calc = model.descriptor_calculator()
    with LibraryModel(oml) as lib:
        assert lib.n_features == calc.n_features
        for run in runs:
            want = calc.compute(run.structure)
            got = lib.descriptors(*library_inputs(lib, run))
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("neighbour_mean", [False, True, 2])
def test_multiscale_prediction(runs, neighbour_mean):
    path, oml = cached_model("tanh", True, True, neighbour_mean=neighbour_mean)
    model = load_model(path)
    with LibraryModel(oml) as lib:
        for run in runs:
            _, want = keras_coeffs(model, run)
            got = lib.predict(*library_inputs(lib, run))
            assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


@pytest.mark.parametrize(
    ("activation", "neighbour_mean"),
    [("tanh", False), ("silu", False), ("gelu", False), ("softplus", False)]
    + [("tanh", True), ("tanh", 2)],
)
def test_subsets_and_threads_give_identical_bits(runs, activation, neighbour_mean):
    """What an MPI program relies on: any split of the atoms, any order of
    the centres and any thread count give each atom the same numbers (with
    a neighbour mean too: a centre's neighbours need not be centres)."""
    _, oml = cached_model(activation, neighbour_mean=neighbour_mean)
    run = runs[-1]
    with LibraryModel(oml) as lib:
        cell, pos, el = library_inputs(lib, run)
        full = lib.predict(cell, pos, el, n_threads=1)
        np.testing.assert_array_equal(lib.predict(cell, pos, el, n_threads=4), full)
        rng = np.random.default_rng(3)
        order = rng.permutation(len(pos)).astype(np.int32) + 1
        for part in np.array_split(order, 5):
            got = lib.predict(cell, pos, el, centres=part, n_threads=3)
            np.testing.assert_array_equal(got, full[part - 1])
        one = lib.predict(cell, pos, el, centres=np.array([7], np.int32))
        np.testing.assert_array_equal(one[0], full[6])
        x = lib.descriptors(cell, pos, el, centres=order)
        np.testing.assert_array_equal(x, lib.descriptors(cell, pos, el)[order - 1])


def test_model_facts_match_python():
    path, oml = cached_model()
    model = load_model(path, networks=False)
    em = model.elements["Si"]
    with LibraryModel(oml) as lib:
        assert lib.elements == ("Si",)
        assert lib.n_features == model.n_features
        assert lib.max_alphas == em.n_alphas == 16
        np.testing.assert_array_equal(lib.alphas(1), em.alphas)
        np.testing.assert_array_equal(lib.isolated_coeffs(1), em.isolated)
        np.testing.assert_array_equal(lib.charge_columns(1), em.charge_columns)


def test_coefficient_rows_beyond_num_alphas_are_zero(runs):
    _, oml = cached_model()
    with LibraryModel(oml) as lib:
        cell, pos, el = library_inputs(lib, runs[0])
        k = lib.n_features
        x = lib.descriptors(cell, pos, el)
        out = np.full((len(x), 20), np.nan)
        status = lib._lib.olcaoml_predict_from_descriptors(
            lib.handle,
            len(x),
            el.ctypes.data,
            k,
            x.ctypes.data,
            1,
            20,
            out.ctypes.data,
            None,
            ctypes.c_int(0),
        )
        assert status == 0
        np.testing.assert_array_equal(out[:, 16:], 0.0)
        np.testing.assert_array_equal(out[:, :16], lib.predict(cell, pos, el))


@pytest.mark.skipif(
    not (DEFAULT_MODEL / "model.json").is_file(),
    reason="no bundled default model (data/default_model) has been made yet",
)
def test_bundled_default_model(tmp_path, runs):
    """The trained model that ships with pyolcaoml, exported and run by the
    library, agrees with the Python path."""
    from pyolcaoml.export import export_model

    model = load_model(DEFAULT_MODEL)
    oml = tmp_path / "default.oml"
    export_model(model, oml)
    with LibraryModel(oml) as lib:
        for run in runs:
            x, want = keras_coeffs(model, run)
            got = lib.predict(*library_inputs(lib, run))
            np.testing.assert_array_equal(lib.descriptors(*library_inputs(lib, run)), x)
            assert v_error(got, want, model.elements["Si"].alphas) <= V_RTOL


@pytest.mark.parametrize(
    ("replacement", "fragment"),
    [
        ("NEIGHBOUR_MEAN 2.8 2.4", "r_inner <= r_outer"),
        ("NEIGHBOUR_MEAN -1.0 2.4", "r_inner <= r_outer"),
        ("NEIGHBOUR_MEAN 2.4 nan", "r_inner <= r_outer"),
        ("NEIGHBOUR_MEAN 2.4", "expected"),
        ("NEIGHBOUR_MEAN 2.4 2.8e9", "r_inner <= r_outer"),
        ("", "NUM_FEATURES is"),
    ],
)
def test_malformed_neighbour_mean_is_a_format_error_naming_the_line(
    tmp_path, replacement, fragment
):
    """A broken NEIGHBOUR_MEAN record (or a file that lost it, so that
    NUM_FEATURES no longer adds up) is refused with the file and line."""
    from pyolcaoml.library import LibraryError

    _, oml = cached_model("tanh", True, True, neighbour_mean=True)
    lines = open(oml).read().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("NEIGHBOUR_MEAN"))
    lines[k] = replacement
    bad = tmp_path / "bad.oml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(LibraryError) as err:
        LibraryModel(bad)
    assert fragment in str(err.value) and "bad.oml" in str(err.value)
    if replacement:
        assert f"line {k + 1}" in str(err.value), str(err.value)


def test_neighbour_mean_model_refuses_bad_centres(runs):
    """Centres are checked before any row is copied: an error, no crash."""
    from pyolcaoml.library import LibraryError

    _, oml = cached_model("tanh", True, True, neighbour_mean=True)
    with LibraryModel(oml) as lib:
        cell, pos, el = library_inputs(lib, runs[0])
        for bad in ([0], [len(pos) + 1], [1, -3]):
            with pytest.raises(LibraryError, match="centers"):
                lib.predict(cell, pos, el, centres=np.array(bad, np.int32))
        np.testing.assert_array_equal(
            lib.predict(cell, pos, el, centres=np.array([1], np.int32))[0],
            lib.predict(cell, pos, el)[0],
        )


def test_two_hops_on_a_supercell_read_only_their_reach(runs):
    """Two hops on a 64-atom cell, where a few centres reach only part of
    it: the library's rows equal Python's whole-cell bits for any subset,
    order and thread count."""
    from pyolcaoml.structure import BOHR_IN_ANGSTROM as bohr
    from pyolcaoml.structure import Structure

    path, oml = cached_model("tanh", True, False, neighbour_mean=2)
    calc = load_model(path, networks=False).descriptor_calculator()
    sd = runs[-1].structure_dat
    shifts = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    cell = 2.0 * sd.cell_bohr
    pos = np.vstack([sd.atom_positions_bohr + s @ sd.cell_bohr for s in shifts])
    symbols = list(runs[-1].structure.symbols) * len(shifts)
    big = Structure(cell=cell * bohr, positions=pos * bohr, symbols=symbols)
    want = calc.compute(big)
    with LibraryModel(oml) as lib:
        el = lib.element_indices(list(sd.atom_elements) * len(shifts))
        np.testing.assert_array_equal(lib.descriptors(cell, pos, el), want)
        for centres in ([1], [40, 3], [64, 17, 18]):
            c = np.array(centres, np.int32)
            for threads in (1, 3):
                got = lib.descriptors(cell, pos, el, centres=c, n_threads=threads)
                np.testing.assert_array_equal(got, want[c - 1])
