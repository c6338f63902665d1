"""A model saved without its Keras files (the bundled models of an installed
wheel) still gives Keras networks: ``load_model(..., keras=True)`` builds
them from networks.npz. The reference is the Keras files the repository
keeps, written by training, never by the code under test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from test_library_support import cached_model, run_cli_fresh

from pyolcaoml.model import ModelError, load_model
from pyolcaoml.model.numpy_networks import NumpyNetwork


def _keras_files(model_dir: Path) -> list[Path]:
    return sorted(model_dir.glob("*.keras"))


def _arrays_only(src: str | Path, dst: Path) -> Path:
    """A copy of a model folder without its Keras files."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.keras"))
    return dst


def _network_pairs(a, b):
    for s, em in a.elements.items():
        yield s, em.networks, b.elements[s].networks
        if em.variant_columns is not None:
            yield f"{s}+variant", em.variant_members, b.elements[s].variant_members


@pytest.mark.parametrize("name", ["default_model", "sic_model"])
def test_bundled_networks_rebuilt_equal_their_keras_files(tmp_path, name):
    """Every member of a shipped model (sic: two elements and the Si
    variant): the same weights to the bit, the same layers, and the same
    coefficients on inputs spread like the training descriptors."""
    src = REPO / "data" / name
    assert _keras_files(src), f"{src}: the reference Keras files are missing"
    from_files = load_model(src, keras=True)
    rebuilt = load_model(_arrays_only(src, tmp_path / name), keras=True)
    rng = np.random.default_rng(7)
    n_checked = 0
    for key, want_nets, got_nets in _network_pairs(from_files, rebuilt):
        assert len(want_nets) == len(got_nets), key
        for want, got in zip(want_nets, got_nets, strict=True):
            assert not isinstance(got, NumpyNetwork)
            assert [layer.name for layer in got.layers] == [
                layer.name for layer in want.layers
            ]
            w_want, w_got = want.get_weights(), got.get_weights()
            assert len(w_want) == len(w_got)
            for p, q in zip(w_want, w_got, strict=True):
                assert p.dtype == q.dtype and np.array_equal(p, q), key
            norm = want.get_layer("normalization")
            mean = np.asarray(norm.mean).reshape(-1)
            sd = np.sqrt(np.asarray(norm.variance).reshape(-1))
            x = mean + sd * rng.standard_normal((32, mean.size))
            np.testing.assert_array_equal(
                np.asarray(got(x, training=False)), np.asarray(want(x, training=False))
            )
            n_checked += 1
    assert n_checked == (5 if name == "default_model" else 15)


def test_arrays_only_model_loads_predicts_and_saves(tmp_path):
    path, _ = cached_model("tanh")
    copy = _arrays_only(path, tmp_path / "m")
    assert not _keras_files(copy)
    fast = load_model(copy)
    model = load_model(copy, keras=True)
    net = model.elements["Si"].network
    assert not isinstance(net, NumpyNetwork)
    x = np.asarray(fast.elements["Si"].networks[0].exported.mean)[None, :] + 0.1
    want = fast.elements["Si"].networks[0](x)
    got = np.asarray(net(x, training=False))
    assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()
    # a Keras model can be saved: the new folder has Keras files again
    model.save(tmp_path / "resaved")
    assert _keras_files(tmp_path / "resaved")
    again = load_model(tmp_path / "resaved", keras=True)
    for p, q in zip(
        again.elements["Si"].network.get_weights(), net.get_weights(), strict=True
    ):
        assert np.array_equal(p, q)


def test_some_keras_files_missing_is_damage(tmp_path):
    """Only a folder with none of its Keras files is served from the
    arrays; one file gone of five is named as missing."""
    src = REPO / "data" / "default_model"
    copy = tmp_path / "m"
    shutil.copytree(src, copy)
    (copy / "Si_5.keras").unlink()
    with pytest.raises(ModelError, match="model file missing: .*Si_5.keras"):
        load_model(copy, keras=True)
    assert load_model(copy).elements["Si"].networks  # the arrays still serve


def test_arrays_only_without_arrays_is_an_error(tmp_path):
    path, _ = cached_model("tanh")
    copy = _arrays_only(path, tmp_path / "m")
    (copy / "networks.npz").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(copy, keras=True)


def test_export_reads_the_arrays_without_tensorflow(tmp_path):
    """export gives the same model.oml from the arrays (no TensorFlow
    imported, in a fresh interpreter) as from the Keras networks."""
    from pyolcaoml.export import format_model

    path, _ = cached_model("tanh")
    want = format_model(load_model(path, keras=True), path)
    out = tmp_path / "m.oml"
    rc, err, imported = run_cli_fresh(["export", path, "-o", str(out)], tmp_path)
    assert rc == 0, err
    assert imported == []
    assert out.read_text() == want


def test_installed_bundled_models_carry_no_keras_files():
    """The wheel leaves the bundled models' Keras files out (meson.build);
    keras=True still works there. Runs where pyolcaoml is installed (CI),
    not from an editable checkout, whose bundled models are data/ itself."""
    from pyolcaoml.model.saved import BUNDLED_MODELS, bundled_model_path

    folders = [Path(bundled_model_path(n)) for n in BUNDLED_MODELS]
    if all(f.resolve().is_relative_to((REPO / "data").resolve()) for f in folders):
        pytest.skip(
            "this checks the installed wheel; an editable checkout's bundled "
            "models are data/ itself, Keras files included"
        )
    for folder in folders:
        assert (folder / "networks.npz").is_file(), folder
        assert not _keras_files(folder), folder
    model = load_model("default", keras=True)
    assert not isinstance(model.elements["Si"].network, NumpyNetwork)


def test_without_keras_the_error_names_the_extra(monkeypatch):
    """A core install (no TensorFlow): asking for Keras networks says what
    to install, and prediction still works from the arrays."""
    from pyolcaoml.model.network import import_keras

    path, _ = cached_model("tanh")  # trained (with Keras) before Keras goes
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras fails
    with pytest.raises(ImportError, match=r"pip install 'pyolcaoml\[ml\]'"):
        import_keras()
    with pytest.raises(ImportError, match="needs Keras on TensorFlow"):
        load_model(path, keras=True)
    assert load_model(path).elements["Si"].networks  # the arrays serve


def test_another_normalisation_epsilon_is_refused():
    """Keras normalises with its own epsilon: a network stored with another
    one would be rebuilt computing something else, so it is refused (the
    arrays, which use the stored epsilon, still serve it)."""
    import dataclasses

    from pyolcaoml.model.numpy_networks import keras_network

    path, _ = cached_model("tanh")
    exported = load_model(path).elements["Si"].networks[0].exported
    assert keras_network(exported, "same").name == "same"
    other = dataclasses.replace(exported, epsilon=exported.epsilon * 10)
    with pytest.raises(ModelError, match="normalisation epsilon"):
        keras_network(other, "other")
