"""The Python predict API, the plots, and the vectorised scfV formatter."""

from __future__ import annotations

import numpy as np
import pytest
from test_model_helpers import OLCAO

from pyolcaoml.cli import main
from pyolcaoml.olcao import read_scfv
from pyolcaoml.olcao.fortran_format import format_e, format_e_array

SKL = OLCAO / "si8_r0.10_seed1100" / "olcao.skl"


@pytest.fixture(scope="module")
def model():
    from pyolcaoml.predict import load_model

    return load_model()  # the bundled model


def test_predict_ase_atoms_and_potential(model, tmp_path, capsys) -> None:
    from pyolcaoml.predict import predict
    from pyolcaoml.structure import read_structure

    atoms = read_structure(str(SKL)).to_ase()
    pot = predict(atoms, model)
    assert len(pot) == 8 and pot.symbols == ["Si"] * 8
    # the same numbers as 'olcaoml predict' writes
    out = tmp_path / "cli.dat"
    assert main(["predict", str(SKL), "-o", str(out)]) == 0
    capsys.readouterr()
    for ours, written in zip(pot.coeffs, read_scfv(out).coeffs("up"), strict=True):
        np.testing.assert_allclose(ours, written, rtol=1e-9, atol=1e-9)
    pot.write_scfv(tmp_path / "api.dat")
    assert (tmp_path / "api.dat").read_bytes() == out.read_bytes()
    # V(r) = sum_i A_i exp(-alpha_i r^2), evaluated here term by term
    r = np.array([0.1, 0.5, 1.0, 2.0, 4.0])
    v = pot.potential(r, atoms=[3])
    terms = list(zip(pot.coeffs[3], pot.alphas[3], strict=True))
    want = [sum(a * np.exp(-al * x * x) for a, al in terms) for x in r]
    np.testing.assert_allclose(v[0], want, rtol=1e-12)
    # a file name works too, and a baseline method without the network
    iso = predict(str(SKL), model, method="isolated")
    np.testing.assert_array_equal(iso.coeffs[0], model.elements["Si"].isolated)


def test_predict_plot_draws_atoms_isolated_and_average(model, tmp_path) -> None:
    from pyolcaoml.model.plots import prediction_figure
    from pyolcaoml.predict import predict

    pot = predict(str(SKL), model)
    fig = prediction_figure(pot)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "isolated atom (OLCAO start)" in labels
    assert "average training atom" in labels
    assert sum(lab.startswith("atom ") for lab in labels) == 3
    pot.plot(tmp_path / "v.png")
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


def test_potential_panels_have_a_fixed_reference_and_errors(model) -> None:
    """The V(r) of one atom is drawn the same whatever other atoms are
    chosen (the reference is the model's average atom, not their mean); the
    isolated atom is drawn; the bottom row shows V - V_OLCAO with its RMS."""
    from pyolcaoml.model.plots import potentials_figure

    em = model.elements["Si"]
    rng = np.random.default_rng(0)
    true = em.average + rng.normal(scale=0.05, size=(3, em.n_alphas))
    net = true + rng.normal(scale=0.01, size=true.shape)
    kw = dict(average=em.average, isolated=em.isolated)

    def first_olcao_curve(rows):
        fig = potentials_figure(
            "Si", em.alphas, {"network": net[rows]}, true[rows],
            [str(r) for r in rows], model.metric, **kw,
        )  # fmt: skip
        top = fig.axes[0]
        return fig, top.get_lines()[0].get_ydata()

    fig, a = first_olcao_curve([0, 1, 2])
    _, b = first_olcao_curve([0, 2])
    np.testing.assert_allclose(a, b)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "isolated atom (OLCAO start)" in labels
    bottom = [ax for ax in fig.axes if "ΔV" in ax.get_ylabel()]
    assert bottom
    legend = [t.get_text() for t in bottom[0].get_legend().get_texts()]
    expected = model.metric.rms(net[:1], true[:1], em.alphas) * 1e3
    assert f"network: RMS {expected:.3g} mHa" in legend


def test_parity_range_is_not_set_by_outliers(model) -> None:
    from pyolcaoml.model.plots import parity_figure

    em = model.elements["Si"]
    rng = np.random.default_rng(1)
    true = em.average + rng.normal(scale=0.01, size=(200, em.n_alphas))
    pred = true + rng.normal(scale=0.001, size=true.shape)
    true[0, 5] += 10.0  # one +10 Ha term
    fig = parity_figure(
        "Si", pred, true, em.alphas, model.metric,
        baselines={"average": np.tile(em.average, (200, 1))},
    )  # fmt: skip
    lo, hi = fig.axes[0].get_xlim()
    assert hi - lo < 1.0  # not +-10 Ha
    text = "\n".join(t.get_text() for t in fig.axes[0].texts)
    assert "outside the 1-99% range" in text and "MAE A_i / RMS V(r)" in text
    assert any("average atom" in ax.get_xlabel() for ax in fig.axes)


def test_format_e_array_matches_format_e() -> None:
    """format_e (checked byte for byte against real OLCAO files elsewhere)
    is the reference for the vectorised formatter."""
    rng = np.random.default_rng(2)
    values = np.concatenate(
        [
            rng.normal(size=3000) * 10.0 ** rng.integers(-105, 105, 3000),
            [0.0, -0.0, 0.5, -0.5, 1.0, 0.99999999995, -0.099999999995],
            [9.9999999999e98, 1e-99, 1e-100, -1e100, np.nan, np.inf, -np.inf],
            rng.integers(-1000, 1000, 500) / 8.0,  # exact ties at few digits
            [0.125, 0.375, 2.5, 99.5, 0.0625, 9.5, 0.95, 0.15, 0.25],
        ]
    )
    cases = [(17, 10), (16, 10), (13, 6), (12, 6), (8, 6), (30, 12), (30, 14)]
    for w, d in [*cases, (6, 2), (7, 1), (5, 3)]:
        got = [row.tobytes().decode() for row in format_e_array(values, w, d)]
        assert got == [format_e(v, w, d) for v in values], (w, d)


@pytest.mark.parametrize("style_name", ["olcao", "makeinput"])
def test_multi_element_scfv_text_matches_row_by_row_formatting(style_name) -> None:
    """Types of three kinds (two term counts), in mixed order, with distinct
    spin channels: the fast text equals the file written one row at a time
    with the scalar formatter (ScfVStyle.row, i.e. format_e per number)."""
    from pyolcaoml.olcao.fortran_format import format_i
    from pyolcaoml.olcao.scfv import (
        MAKEINPUT_STYLE,
        OLCAO_STYLE,
        ScfV,
        ScfVBlock,
        format_scfv,
    )

    style = OLCAO_STYLE if style_name == "olcao" else MAKEINPUT_STYLE
    rng = np.random.default_rng(3)
    tails = [
        rng.normal(size=(16, 4)),
        rng.normal(size=(12, 4)),
        rng.normal(size=(16, 4)),
    ]
    kinds = rng.integers(0, 3, size=40)
    up = [
        ScfVBlock(np.column_stack([rng.normal(size=len(tails[k])) * 5, tails[k]]))
        for k in kinds
    ]
    dn = [ScfVBlock(b.table * [1.5, 1, 1, 1, 1]) for b in up]
    scfv = ScfV(tuple(up), tuple(dn), style)

    def channel(blocks):
        lines = []
        for b in blocks:
            lines.append(format_i(len(b.table), style.count_width))
            lines += [style.row(row) for row in b.table]
        return lines

    head = (
        f"NUM_TYPES {len(up)}"
        if style.num_types_width is None
        else "NUM_TYPES" + format_i(len(up), style.num_types_width)
    )
    plusuj = "0" if style.plusuj_width is None else format_i(0, style.plusuj_width)
    k = style.key_indent
    want = [head, k + "TOTAL__OR__SPIN_UP", *channel(up), k + "SPIN_DN", *channel(dn)]
    want += ["NUM__PLUSUJ__TERMS", plusuj, k + "TOTAL__OR__SPIN_UP", k + "SPIN_DN"]
    assert format_scfv(scfv) == "\n".join(want) + "\n"


def test_scfv_bytes_per_element_equal_the_block_route(model) -> None:
    """Two elements interleaved: the per-element writer used by predict gives
    the same bytes as building one ScfVBlock per atom (format_scfv)."""
    from dataclasses import replace

    from pyolcaoml.olcao import format_scfv
    from pyolcaoml.predict import PotentialPrediction

    si = model.elements["Si"]
    fake = replace(si, symbol="C", alphas=si.alphas[:12] * 2.0)
    fake.basis = si.basis  # unused here
    two = replace(model, elements={"Si": si, "C": fake})
    rng = np.random.default_rng(4)
    symbols = ["Si", "C", "C", "Si", "Si", "C", "Si"]
    coeffs = [rng.normal(size=two.elements[s].n_alphas) for s in symbols]
    pot = PotentialPrediction(
        symbols, coeffs, [two.elements[s].alphas for s in symbols], two
    )
    assert pot.scfv_bytes().decode() == format_scfv(pot.to_scfv())


def test_descriptor_progress_on_a_terminal_gives_the_same_numbers(
    model, monkeypatch
) -> None:
    """On a terminal large structures are computed in chunks with a progress
    bar; the descriptors are those of one call."""
    import io
    import sys

    import pyolcaoml.predict as api
    from pyolcaoml.structure import read_structure

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    structure = read_structure(str(SKL))
    whole = api.compute_descriptors(model, structure)
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(api, "CHUNK_ATOMS", 3)  # 8 atoms: chunks 3 + 3 + 2
    chunked = api.compute_descriptors(model, structure, progress=True)
    np.testing.assert_array_equal(chunked, whole)
    assert "descriptors" in term.getvalue() and "8/8" in term.getvalue()
