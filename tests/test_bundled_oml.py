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


def test_bundled_oml_equals_a_fresh_export():
    shipped = bundled_model.oml_path()
    assert shipped.is_file(), f"{shipped} is missing; {REGENERATE}"
    fresh = bundled_model.export_text()
    assert _model_lines(shipped.read_text()) == _model_lines(fresh), (
        f"{shipped} is out of step with the Keras model; {REGENERATE}"
    )


def test_info_prints_the_bundled_model_paths(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"library model   {bundled_model.oml_path()}\n" in out
    assert f"bundled model   {bundled_model.model_dir()}\n" in out


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


def test_export_takes_a_bundled_models_name(tmp_path, capsys):
    """'olcaoml export default' is the bundled model (not ./default), and
    gives the shipped file; 'olcaoml info' names the bundled Si + C model."""
    out = tmp_path / "m.oml"
    assert main(["export", "default", "-o", str(out)]) == 0
    shipped = bundled_model.oml_path().read_text()

    def numbers(text: str) -> list[str]:  # not the comment naming the source
        return [x for x in _model_lines(text) if not x.startswith("# exported")]

    assert numbers(out.read_text()) == numbers(shipped)
    assert main(["info"]) == 0
    assert "bundled Si + C  " in capsys.readouterr().out
