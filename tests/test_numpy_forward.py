"""The NumPy forward pass that ``predict`` uses for loaded networks
(pyolcaoml.model.network.numpy_forward) against Keras itself."""

from __future__ import annotations

import numpy as np
import pytest
from test_library_support import cached_model, run_dirs

from pyolcaoml.model import load_model
from pyolcaoml.model.network import numpy_forward, predict_batched


@pytest.fixture(scope="module")
def real_x() -> np.ndarray:
    """Descriptors of the real runs, in the cached models' settings."""
    from pyolcaoml import Bispectrum
    from pyolcaoml.olcao import read_run

    calc = Bispectrum(twojmax=6, radii={"Si": 2.35})
    return np.concatenate([calc.compute(read_run(d).structure) for d in run_dirs()])


@pytest.mark.parametrize("linear_branch", [True, False])
@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus", "silu"])
def test_equals_keras_to_round_off(real_x, activation, linear_branch):
    path, _ = cached_model(activation, linear_branch)
    net = load_model(path, keras=True).elements["Si"].network
    forward = numpy_forward(net)
    assert forward is not None
    # Many atoms, over several batches (the last one partial), and far
    # outside the training range as well (large |u|, saturated tanh).
    rng = np.random.default_rng(7)
    x = np.concatenate([real_x] * 3 + [real_x * rng.uniform(0.5, 3.0, real_x.shape)])
    want = np.asarray(net(x, training=False), dtype=np.float64)
    got = forward(x, batch_size=len(real_x) // 3 + 1)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()
    # Rows do not depend on the batch they were computed in, beyond
    # round-off: a BLAS kernel's summation order may depend on the number of
    # rows (bit for bit on one Intel machine, 1-2 ulp apart on an AMD EPYC).
    small = forward(x, batch_size=7)
    assert np.abs(small - got).max() <= 1e-14 * np.abs(got).max()


def test_gelu_is_left_to_keras(real_x):
    """NumPy has no vectorised erf: the exact gelu stays with Keras, and the
    model's prediction is still Keras' own."""
    path, _ = cached_model("gelu")
    model = load_model(path, keras=True)
    net = model.elements["Si"].network
    assert numpy_forward(net) is None
    got = model.predict_element("Si", real_x)
    np.testing.assert_array_equal(got, predict_batched(net, real_x))


def test_model_predictions_use_it(real_x):
    """PotentialModel.predict_element of a tanh network is the NumPy pass
    (and so equal to Keras to round-off), computed once per network."""
    path, _ = cached_model("tanh")
    model = load_model(path, keras=True)
    em = model.elements["Si"]
    got = model.predict_element("Si", real_x)
    want = np.asarray(em.network(real_x, training=False))
    assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()
    assert len(em._forward) == 1
    model.predict_element("Si", real_x)
    assert len(em._forward) == 1
