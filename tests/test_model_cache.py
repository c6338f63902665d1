"""Bundled models are loaded once per process (pyolcaoml.model.saved).

``pyolcaoml.predict(atoms)`` with no model named loads the bundled default
model, and the a-Si model when it hands a structure over; both are kept
after the first call. Checked here: a second call loads nothing, gives the
same numbers as a model loaded by hand, and a model folder whose files
change is loaded again (never a stale model).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from test_library_support import cached_model

from pyolcaoml.model import saved
from pyolcaoml.predict import predict

REPO = Path(__file__).resolve().parents[1]
AMORPHOUS = REPO / "data" / "scf_test_runs" / "asi32_s10700" / "olcao.skl"


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every call of saved.load_model, by path (the cache emptied first)."""
    monkeypatch.setattr(saved, "_BUNDLED_CACHE", {})
    calls: list[str] = []
    real = saved.load_model

    def counting(path=saved.DEFAULT_MODEL, *args, **kwargs):
        calls.append(os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(saved, "load_model", counting)
    return calls


def test_default_model_is_loaded_once(loads) -> None:
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=3)
    first = predict(atoms)
    second = predict(atoms)
    assert len(loads) == 1
    assert second.model is first.model
    by_hand = predict(atoms, saved.load_model("default"))
    for a, b in zip(second.coeffs, by_hand.coeffs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_handed_over_model_is_loaded_once(loads) -> None:
    from pyolcaoml.structure import read_structure

    structure = read_structure(str(AMORPHOUS))
    first = predict(structure)
    assert first.model.path.endswith("asi_model"), "the cell is handed over"
    n = len(loads)
    assert n == 2  # the default model, then the a-Si model
    second = predict(structure)
    assert len(loads) == n
    for a, b in zip(first.coeffs, second.coeffs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_changed_model_folder_is_loaded_again(loads, tmp_path) -> None:
    source, _ = cached_model("tanh")
    path = tmp_path / "model"
    shutil.copytree(source, path)
    one = saved.load_bundled_model(str(path))
    assert saved.load_bundled_model(str(path)) is one
    assert len(loads) == 1
    meta = path / "model.json"
    st = meta.stat()
    os.utime(meta, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    two = saved.load_bundled_model(str(path))
    assert two is not one
    assert len(loads) == 2
    (path / "extra.txt").write_text("a new file\n")
    assert saved.load_bundled_model(str(path)) is not two
    assert len(loads) == 3


def test_a_missing_model_is_an_error_each_time(loads, tmp_path) -> None:
    from pyolcaoml.model.errors import ModelError

    for _ in range(2):
        with pytest.raises(ModelError, match="nowhere"):
            saved.load_bundled_model(str(tmp_path / "nowhere"))
    assert len(loads) == 2


def test_bundled_names_are_loaded_once(loads) -> None:
    """``predict(atoms, "default")`` and ``"asi"`` use the cache too; the
    name gives the same model object as leaving it out."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=4)
    unnamed = predict(atoms)
    named = predict(atoms, "default")
    assert named.model is unnamed.model
    assert len(loads) == 1
    asi = [predict(atoms, "asi") for _ in range(2)]
    assert asi[0].model is asi[1].model
    assert asi[0].model.path.endswith("asi_model")
    assert len(loads) == 2


def test_a_folder_named_like_a_bundled_model_is_a_path(
    loads, tmp_path, monkeypatch
) -> None:
    """A folder called ``default`` in the working directory is that folder
    (as on the command line), loaded from disk on every call."""
    source, _ = cached_model("tanh")
    shutil.copytree(source, tmp_path / "default")
    monkeypatch.chdir(tmp_path)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    first = predict(atoms, "default")
    second = predict(atoms, "default")
    assert Path(first.model.path).resolve() == (tmp_path / "default").resolve()
    assert second.model is not first.model  # read from disk again
    assert not loads  # the bundled cache was not asked
