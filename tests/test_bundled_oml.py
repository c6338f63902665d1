"""The bundled model's export for libolcaoml (data/default_model/model.oml)
is shipped, kept equal to a fresh export of the Keras model, shown by
'olcaoml info', and gives Keras' coefficients through the library."""

from __future__ import annotations

import numpy as np
from conftest import DATA

from pyolcaoml import bundled_model
from pyolcaoml.cli import main

REGENERATE = "regenerate it with: python -m pyolcaoml.bundled_model"


def _model_lines(text: str) -> list[str]:
    """Every line but CREATOR (free text naming the pyolcaoml version)."""
    return [line for line in text.splitlines() if not line.startswith("CREATOR ")]


def _split_gram(lines: list[str]) -> tuple[list[str], list[np.ndarray]]:
    """The lines outside the GRAM blocks, and each GRAM block's numbers.

    Every array of the file is copied from the model (weights, exponents,
    calibration) except GRAM, the V(r) metric's Gram matrix, which the
    export computes: a 600-point quadrature reduced by a BLAS matrix
    product, whose summation order depends on the CPU's kernel (a file
    exported on one x86-64 machine differed from a fresh export on an AMD
    EPYC in 6 of 16 x 16 entries, by one or two units in the last place)."""
    rest: list[str] = []
    grams: list[list[float]] = []
    in_gram = False
    for line in lines:
        if in_gram:
            try:
                grams[-1].extend(float(v) for v in line.split())
                continue
            except ValueError:  # the next keyword: the block has ended
                in_gram = False
        if line == "GRAM":
            grams.append([])
            in_gram = True
        rest.append(line)
    return rest, [np.array(g) for g in grams]


#: the lines the export computes by least squares (the expected-iterations
#: fits, ``np.linalg.lstsq``): LAPACK's round-off differs between machines
#: too (stop 59: a file exported on one machine differed from a fresh
#: export on another in the last two digits of all five numbers)
FITTED = ("ITERATIONS_FIT", "DEFAULT_ITERATIONS_FIT")


def _split_fitted(lines: list[str]) -> tuple[list[str], list[np.ndarray]]:
    """The lines other than the FITTED ones, and each FITTED line's numbers
    (its keyword kept in the other lines, so that order and count count)."""
    rest: list[str] = []
    fitted: list[np.ndarray] = []
    for line in lines:
        word, _, numbers = line.partition(" ")
        if word in FITTED:
            rest.append(word)
            fitted.append(np.array([float(v) for v in numbers.split()]))
        else:
            rest.append(line)
    return rest, fitted


def _assert_same_export(got: list[str], want: list[str], why: str) -> None:
    """Equal line for line; the Gram matrices to round-off (1e-14 of their
    largest entry), and the least-squares lines (FITTED) to 1e-12 of their
    largest number."""
    got_rest, got_grams = _split_gram(got)
    want_rest, want_grams = _split_gram(want)
    got_rest, got_fits = _split_fitted(got_rest)
    want_rest, want_fits = _split_fitted(want_rest)
    assert got_rest == want_rest, why
    for g, w in zip(got_fits, want_fits, strict=True):
        assert g.shape == w.shape, why
        assert np.abs(g - w).max() <= 1e-12 * np.abs(w).max(), why
    assert len(got_grams) == len(want_grams) > 0, why
    for g, w in zip(got_grams, want_grams, strict=True):
        assert g.shape == w.shape, why
        assert np.abs(g - w).max() <= 1e-14 * np.abs(w).max(), why


def test_bundled_oml_equals_a_fresh_export():
    shipped = bundled_model.oml_path()
    assert shipped.is_file(), f"{shipped} is missing; {REGENERATE}"
    fresh = bundled_model.export_text()
    _assert_same_export(
        _model_lines(shipped.read_text()),
        _model_lines(fresh),
        f"{shipped} is out of step with the Keras model; {REGENERATE}",
    )


def test_a_changed_gram_entry_is_caught():
    """The comparison above fails on a Gram entry changed in its 13th
    digit, on an iterations fit changed in its 11th, and on any other
    number changed in its last digit (the first exponent,
    1.4999999999999999e-01 Bohr^-2)."""
    lines = _model_lines(bundled_model.oml_path().read_text())
    g = lines.index("GRAM") + 1
    values = lines[g].split()
    values[0] = f"{float(values[0]) * (1 + 1e-12):.16e}"
    gram_changed = [*lines[:g], " ".join(values), *lines[g + 1 :]]
    a = lines.index("ALPHAS") + 1
    assert lines[a].startswith("1.4999999999999999e-01 ")
    alpha_changed = [*lines[:a], "1.4999999999999998" + lines[a][18:], *lines[a + 1 :]]
    f = next(k for k, ln in enumerate(lines) if ln.startswith("ITERATIONS_FIT "))
    word, *fit = lines[f].split()
    fit[2] = f"{float(fit[2]) * (1 + 1e-10):.16e}"
    fit_changed = [*lines[:f], " ".join([word, *fit]), *lines[f + 1 :]]
    for changed in (gram_changed, alpha_changed, fit_changed):
        assert changed != lines
        try:
            _assert_same_export(changed, lines, "changed")
        except AssertionError:
            continue
        raise AssertionError("a changed export passed the comparison")


def test_info_prints_the_bundled_model_paths(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"library model   {bundled_model.oml_path()}\n" in out
    assert f"bundled model   {bundled_model.model_dir()}\n" in out
    # the handover threshold, as the default model's model.json records it
    import json
    import pathlib

    meta = json.loads(
        (pathlib.Path(bundled_model.model_dir()) / "model.json").read_text()
    )
    recorded = meta.get("handover", {}).get("median_sigma_hartree")
    t = 6.0 if recorded is None else 1000 * recorded
    assert f"median sigma > {t:.3g} mHa goes to the a-Si model" in out


def test_bundled_oml_predicts_like_keras():
    """The shipped file through libolcaoml against Keras on a real run."""
    from pyolcaoml.library import LibraryModel
    from pyolcaoml.model import load_model
    from pyolcaoml.olcao import read_run

    run = read_run(DATA / "olcao" / "si8_r0.10_seed1100")
    model = load_model(bundled_model.model_dir())
    x = model.descriptor_calculator().compute(run.structure)
    want = np.array(model.predict(list(run.structure.symbols), x))
    sd = run.structure_dat
    with LibraryModel(bundled_model.oml_path()) as lib:
        got = lib.predict(
            sd.cell_bohr, sd.atom_positions_bohr, lib.element_indices(sd.atom_elements)
        )
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def test_the_handover_rule_through_the_library():
    """The shipped file carries model.json's threshold (format 7), and the
    rule works on the library's own sigma: the median over the atoms of an
    amorphous 32-atom cell (asi32_s10700, one of the spent a-Si cells the
    threshold was chosen on) is above it, of a rattled 8-atom crystal
    (si8_r0.10_seed10100) below; Python's rule decides the same on them."""
    import json
    import pathlib

    from pyolcaoml.library import LibraryModel
    from pyolcaoml.model.handover import wants_handover
    from pyolcaoml.olcao import read_run

    meta = json.loads(
        (pathlib.Path(bundled_model.model_dir()) / "model.json").read_text()
    )
    recorded = meta["handover"]["median_sigma_hartree"]
    runs = pathlib.Path(__file__).resolve().parents[1] / "data" / "scf_test_runs"
    median, amorphous = {}, {}
    with LibraryModel(bundled_model.oml_path()) as lib:
        threshold = lib.handover_threshold
        for name in ("asi32_s10700", "si8_r0.10_seed10100"):
            run = read_run(runs / name)
            sd = run.structure_dat
            el = lib.element_indices(sd.atom_elements)
            _, sigma = lib.predict_ensemble(sd.cell_bohr, sd.atom_positions_bohr, el)
            assert np.all(np.isfinite(sigma)) and np.all(sigma > 0)
            median[name] = float(np.median(sigma))
            amorphous[name] = wants_handover(run.structure.symbols, sigma, threshold)
    assert threshold == recorded
    assert median["asi32_s10700"] > threshold > median["si8_r0.10_seed10100"]
    assert amorphous == {"asi32_s10700": True, "si8_r0.10_seed10100": False}


def test_export_takes_a_bundled_models_name(tmp_path, capsys):
    """'olcaoml export default' is the bundled model (not ./default), and
    gives the shipped file; 'olcaoml info' names the bundled Si + C model."""
    out = tmp_path / "m.oml"
    assert main(["export", "default", "-o", str(out)]) == 0
    shipped = bundled_model.oml_path().read_text()

    def numbers(text: str) -> list[str]:  # not the comment naming the source
        return [x for x in _model_lines(text) if not x.startswith("# exported")]

    _assert_same_export(numbers(out.read_text()), numbers(shipped), "not shipped")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "bundled Si + C  " in out
    # where a library caller gets the SiC handover from
    assert "olcaoml export sic -o sic.oml --domain sic.omld" in out
