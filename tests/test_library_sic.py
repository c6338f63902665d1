"""Two elements through the C API: a real SiC cell and a Si + C model.

Expected values come from the Python path, independent of the Fortran under
test: pyolcaoml's Bispectrum on the structure in Å (descriptors, compared
bit for bit) and Keras' forward pass (coefficients, compared in V(r)).
"""

from __future__ import annotations

import re
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


#: A neighbour mean with a switching range per element pair (1.2-1.3 x the
#: covalent radii sums; Si-Si keeps the common range): model format 5.
PAIR_RANGES = [
    "--neighbour-mean",
    "2.66,2.89",
    "--neighbour-mean-pair",
    "C-Si=2.24,2.43",
    "--neighbour-mean-pair",
    "C-C=1.82,1.98",
]


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory):
    """A small Si + C model whose neighbour mean sets pairs apart, made by
    the CLI (convert, train) and exported."""
    from pyolcaoml.cli import main
    from pyolcaoml.export import export_model

    tmp = tmp_path_factory.mktemp("sic_pairs")
    data, path, oml = tmp / "sic.h5", tmp / "model", tmp / "sic.oml"
    desc = ["--twojmax", "4", "--radius", "Si=2.35", "--radius", "C=1.609", "--chem"]
    runs = [str(d) for d in SIC_RUNS]
    assert (
        main(["convert", *runs, "-o", str(data), "--quiet", *desc, *PAIR_RANGES]) == 0
    )
    train = ["--hidden", "8", "--epochs", "20", "--patience", "20", "--quiet"]
    assert main(["train", str(data), "-o", str(path), "--seed", "0", *train]) == 0
    model = load_model(path)
    export_model(model, oml)
    return model, oml


def test_pair_ranges_through_the_c_api_match_python(pair_model) -> None:
    """Format 5 says each pair's range, and the library's descriptors are
    Python's to the bit on both SiC cells; any split of the centres and
    any thread count give the same bits."""
    from pyolcaoml.export import FORMAT_MAGIC, FORMAT_VERSION_NEIGHBOUR_PAIRS

    model, oml = pair_model
    calc = model.descriptor_calculator()
    assert calc.pairs == {"C-C": (1.82, 1.98), "C-Si": (2.24, 2.43)}
    lines = Path(oml).read_text().splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_NEIGHBOUR_PAIRS}"
    k = lines.index("NEIGHBOUR_MEAN_PAIRS 2")
    assert [ln.split()[:2] for ln in lines[k + 1 : k + 3]] == [["C", "C"], ["C", "Si"]]
    with LibraryModel(oml) as lib:
        for run_dir in SIC_RUNS:
            run = read_run(run_dir)
            x, want = keras_coeffs(model, run)
            inputs = library_inputs(lib, run)
            np.testing.assert_array_equal(lib.descriptors(*inputs), x)
            got = lib.predict(*inputs, n_threads=1)
            symbols = list(run.structure.symbols)
            _assert_each_element(model, symbols, got, lambda el, rows, w=want: w[rows])
            order = np.random.default_rng(1).permutation(len(symbols)) + 1
            for part in np.array_split(order.astype(np.int32), 3):
                part_got = lib.predict(*inputs, centres=part, n_threads=2)
                np.testing.assert_array_equal(part_got, got[part - 1])


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r.replace("C Si 2.24", "C Ge 2.24"), 'expected "A B r_inner'),
        (lambda r: r.replace("C Si 2.24", "C C 2.24"), "given twice"),
        (lambda r: r.replace("C Si 2.24", "C Si -2.24"), "r_inner <= r_outer"),
        (
            lambda r: re.sub(r"^C Si \S+", "C Si nan", r, flags=re.M),
            "r_inner <= r_outer",
        ),
        (lambda r: r.replace("C Si 2.24", "C Si"), 'expected "A B r_inner'),
        (
            lambda r: r.replace("NEIGHBOUR_MEAN_PAIRS 2", "NEIGHBOUR_MEAN_PAIRS 9"),
            "have only 3",
        ),
        (
            lambda r: r.replace("NEIGHBOUR_MEAN_PAIRS 2", "NEIGHBOUR_MEAN_PAIRS 3"),
            'expected "A B',
        ),
        (
            lambda r: r.replace("NEIGHBOUR_MEAN_PAIRS 2", "NEIGHBOUR_MEAN_PAIRS x"),
            "NEIGHBOUR_MEAN_PAIRS",
        ),
    ],
)
def test_malformed_pair_ranges_are_format_errors_naming_the_line(
    pair_model, tmp_path, edit, fragment
) -> None:
    from pyolcaoml.library import LibraryError

    _, oml = pair_model
    text = Path(oml).read_text()
    bad = tmp_path / "bad.oml"
    bad.write_text(edit(text))
    assert bad.read_text() != text
    with pytest.raises(LibraryError) as err:
        LibraryModel(bad)
    assert fragment in str(err.value) and "bad.oml" in str(err.value), str(err.value)
    assert "line " in str(err.value)


def test_a_version_4_file_cannot_carry_pair_ranges(pair_model, tmp_path) -> None:
    """Version 4 has one range: a pairs record there is not read as one."""
    from pyolcaoml.library import LibraryError

    _, oml = pair_model
    text = Path(oml).read_text().splitlines()
    text[0] = "OLCAOML_MODEL 4"
    bad = tmp_path / "v4.oml"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(LibraryError, match="NUM_FEATURES"):
        LibraryModel(bad)
