"""Saved models carry their networks as arrays (networks.npz): prediction
without TensorFlow, equal to the Keras networks to round-off."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from test_library_support import cached_model, run_cli_fresh, run_dirs

from pyolcaoml.model import ModelError, load_model
from pyolcaoml.model.numpy_networks import NumpyNetwork


@pytest.fixture(scope="module")
def real_x() -> np.ndarray:
    from pyolcaoml import Bispectrum
    from pyolcaoml.olcao import read_run

    calc = Bispectrum(twojmax=6, radii={"Si": 2.35})
    return np.concatenate([calc.compute(read_run(d).structure) for d in run_dirs()])


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
def test_arrays_predict_like_keras(real_x, activation):
    path, _ = cached_model(activation)
    fast = load_model(path)
    slow = load_model(path, keras=True)
    assert all(isinstance(n, NumpyNetwork) for n in fast.elements["Si"].networks)
    assert not any(isinstance(n, NumpyNetwork) for n in slow.elements["Si"].networks)
    want = np.asarray(slow.elements["Si"].network(real_x, training=False))
    got = fast.predict_element("Si", real_x)
    assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()


def test_gelu_models_keep_keras(real_x):
    path, _ = cached_model("gelu")
    assert "numpy_networks" not in json.load(open(os.path.join(path, "model.json")))
    model = load_model(path)
    assert not isinstance(model.elements["Si"].network, NumpyNetwork)


def test_predict_command_does_not_import_tensorflow(tmp_path):
    """The bundled model predicts a structure in a fresh interpreter without
    TensorFlow or Keras being imported."""
    from pyolcaoml.resources import bundled_structure

    out = tmp_path / "scfV.dat"
    structure = str(bundled_structure("asi64_s102.skl"))
    rc, err, imported = run_cli_fresh(["predict", structure, "-o", str(out)], tmp_path)
    assert rc == 0, err
    assert imported == []
    assert out.read_text().split()[:2] == ["NUM_TYPES", "64"]


def test_damaged_or_inconsistent_arrays_are_refused(tmp_path):
    path, _ = cached_model("tanh")
    copy = tmp_path / "m"
    shutil.copytree(path, copy)
    npz = copy / "networks.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupted or was changed"):
        load_model(copy)
    npz.unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(copy)
    # Arrays of another width than model.json says: refused, not used.
    meta = json.loads((copy / "model.json").read_text())
    arrays = dict(np.load(os.path.join(path, "networks.npz")))
    arrays["Si/0/mean"] = arrays["Si/0/mean"][:-1]
    arrays["Si/0/variance"] = arrays["Si/0/variance"][:-1]
    np.savez(npz, **arrays)
    from pyolcaoml.model.saved import file_sha256

    meta["numpy_networks"]["sha256"] = file_sha256(str(npz))
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="descriptors to"):
        load_model(copy)
