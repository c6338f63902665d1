"""The two ways benchmarks/sic_error_parts_scf.py cuts a start's error in
two (--splits): checked on analytic patterns, without OLCAO."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_benchmark

parts = load_benchmark("sic_error_parts_scf")


def _grid(n: int, a: float):
    """Simple cubic n x n x n sites in a cubic cell of side n a (Å)."""
    idx = np.array([(i, j, k) for i in range(n) for j in range(n) for k in range(n)])
    return np.eye(3) * n * a, idx * a


def test_lowest_waves_of_cubic_and_elongated_cells():
    cell, pos = _grid(4, 1.5)
    w = parts.lowest_plane_waves(cell, pos)
    # the constant and cos, sin along each of the three axes
    assert w.shape == (64, 7)
    assert np.allclose(w[:, 0], 1.0)
    # the 2 a x 2 a x a shape of the a-Si32 cells: only the two long axes
    cell2 = np.diag([10.862, 10.862, 5.431])
    pos2 = np.random.default_rng(0).uniform(0, 1, (32, 3)) @ cell2
    w2 = parts.lowest_plane_waves(cell2, pos2)
    assert w2.shape == (32, 5)
    g = 2 * np.pi / 10.862
    for axis in (0, 1):
        for f in (np.cos, np.sin):
            v = f(g * pos2[:, axis])
            # sin(-G r) = -sin(G r): one of each pair +-G is kept
            assert any(np.allclose(c, v) or np.allclose(c, -v) for c in w2.T[1:])


def test_wave_parts_keep_a_longest_wave_and_drop_a_short_one():
    cell, pos = _grid(4, 1.5)
    symbols = ["Si"] * len(pos)
    g = 2 * np.pi / (4 * 1.5)
    coeff_shape = np.array([0.3, -0.1, 0.05])
    long_wave = [coeff_shape * (0.2 + np.cos(g * p[1])) for p in pos]
    out = parts.wave_parts(long_wave, symbols, parts.lowest_plane_waves(cell, pos))
    longest, rest = out.values()
    assert np.allclose(np.array(longest), np.array(long_wave), atol=1e-12)
    assert np.allclose(np.array(rest), 0.0, atol=1e-12)
    # alternating from site to site (the shortest wave of the grid): none of
    # it is carried by the longest waves
    short_wave = [coeff_shape * (-1.0) ** int(round(p.sum() / 1.5)) for p in pos]
    longest, rest = parts.wave_parts(
        short_wave, symbols, parts.lowest_plane_waves(cell, pos)
    ).values()
    assert np.allclose(np.array(longest), 0.0, atol=1e-12)
    assert np.allclose(np.array(rest), np.array(short_wave), atol=1e-12)


def test_wave_parts_fit_each_element_alone():
    """A level that differs between the elements is each element's constant:
    all of it is longest-wave, although over all sites it alternates."""
    cell, pos = _grid(2, 2.0)
    symbols = ["Si", "C"] * 4
    err = [np.full(2, 1.0 if s == "Si" else -1.0) for s in symbols]
    longest, rest = parts.wave_parts(
        err, symbols, parts.lowest_plane_waves(cell, pos)
    ).values()
    assert np.allclose(np.array(longest), np.array(err))
    assert np.allclose(np.array(rest), 0.0)


def test_response_parts_recover_a_uniform_response():
    rng = np.random.default_rng(3)
    err = [rng.normal(size=4) for _ in range(5)]
    k = rng.normal(size=(20, 20))
    gram = k @ k.T + 20 * np.eye(20)
    lam, out = parts.response_parts(err, [-5.0 * e for e in err], gram)
    along, rest = out.values()
    assert lam == pytest.approx(-5.0)
    assert np.allclose(np.concatenate(along), np.concatenate(err))
    assert np.allclose(np.concatenate(rest), 0.0)


def test_response_parts_rest_is_orthogonal_to_the_response():
    """Least squares in the measure's inner product: the rest carries none of
    the first output's error, and the two parts add up to the error."""
    rng = np.random.default_rng(4)
    err = [rng.normal(size=3) for _ in range(6)]
    response = [rng.normal(size=3) - 4.0 * e for e in err]
    k = rng.normal(size=(18, 18))
    gram = k @ k.T + np.eye(18)
    lam, out = parts.response_parts(err, response, gram)
    along, rest = (np.concatenate(v) for v in out.values())
    je = np.concatenate(response)
    assert abs(je @ gram @ rest) < 1e-9 * np.sqrt(je @ gram @ je)
    assert np.allclose(along + rest, np.concatenate(err))
    assert np.allclose(along * lam, je)


def test_response_parts_refuse_a_response_orthogonal_to_the_error():
    err = [np.array([1.0, 0.0])]
    with pytest.raises(ValueError, match="orthogonal"):
        parts.response_parts(err, [np.array([0.0, 1.0])], np.eye(2))
