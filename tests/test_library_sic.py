"""Two elements through the C API: a real SiC cell and a Si + C model.

Expected values come from the Python path, independent of the Fortran under
test: pyolcaoml's Bispectrum on the structure in Å (descriptors, compared
bit for bit) and Keras' forward pass (coefficients, compared in V(r)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_library_model import V_RTOL, keras_coeffs, library_inputs, v_error

from pyolcaoml.library import LibraryModel
from pyolcaoml.model import load_model
from pyolcaoml.olcao import read_run

REPO = Path(__file__).resolve().parents[1]
#: Real OLCAO runs of SiC cells kept in the repository (not trained on).
SIC_RUNS = [
    REPO / "data" / "sic" / "runs" / "rattle" / "sic8_r0.10_seed10011",
    REPO / "data" / "sic" / "runs" / "defect" / "sic16_vacC_r0.05_seed10101",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sic_model_dir):
    from pyolcaoml.export import export_model

    model = load_model(sic_model_dir)
    oml = tmp_path_factory.mktemp("sic") / "sic.oml"
    export_model(model, oml)
    return model, oml


def _assert_each_element(model, symbols, got, want_of) -> None:
    """The library's rows of each element within V_RTOL (in V(r)) of
    ``want_of(element, rows)``."""
    for el in ("Si", "C"):
        rows = np.array([s == el for s in symbols])
        em = model.elements[el]
        assert v_error(got[rows, : em.n_alphas], want_of(el, rows), em.alphas) <= V_RTOL


@pytest.mark.parametrize("run_dir", SIC_RUNS, ids=lambda p: p.name)
def test_sic_through_the_c_api_matches_python(exported, run_dir) -> None:
    model, oml = exported
    assert set(model.elements) == {"Si", "C"}
    run = read_run(run_dir)
    symbols = list(run.structure.symbols)
    assert {"Si", "C"} <= set(symbols)
    x, want = keras_coeffs(model, run)
    with LibraryModel(oml) as lib:
        inputs = library_inputs(lib, run)
        np.testing.assert_array_equal(lib.descriptors(*inputs), x)
        got = lib.predict(*inputs)
        _assert_each_element(model, symbols, got, lambda el, rows: want[rows])
        # the two elements really are predicted differently
        si, c = symbols.index("Si"), symbols.index("C")
        assert np.abs(got[si, :16] - got[c, :16]).max() > 1.0
        # thread count does not change a bit
        np.testing.assert_array_equal(lib.predict(*inputs, n_threads=1), got)


def test_bundled_sic_model_through_the_c_api(tmp_path) -> None:
    """The shipped Si + C model (neighbour mean, Si variant, 5 members):
    the library's descriptors are Python's to the bit on a real SiC cell
    and its ensemble mean is Python's prediction to round-off."""
    from pyolcaoml.export import export_model

    model = load_model("sic")
    oml = tmp_path / "sic.oml"
    export_model(model, oml)
    run = read_run(SIC_RUNS[1])
    symbols = list(run.structure.symbols)
    x = model.descriptor_calculator().compute(run.structure)
    with LibraryModel(oml) as lib:
        inputs = library_inputs(lib, run)
        np.testing.assert_array_equal(lib.descriptors(*inputs), x)
        got = lib.predict(*inputs)
        _assert_each_element(
            model, symbols, got, lambda el, rows: model.predict_element(el, x[rows])
        )
