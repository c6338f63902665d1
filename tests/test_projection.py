"""Projection of a site potential onto another set of Gaussian exponents."""

from __future__ import annotations

import numpy as np
import pytest

from pyolcaoml.model.potential import DEFAULT_METRIC, geometric_alphas
from pyolcaoml.model.projection import (
    project_coefficients,
    projector,
    same_alphas,
)

A16 = geometric_alphas(0.15, 1e6, 16)
# 31 terms with half the logarithmic spacing: every alpha of A16 is in it
A31 = geometric_alphas(0.15, 1e6, 31)


def values(coeffs, alphas, r):
    return np.asarray(coeffs) @ np.exp(-np.outer(np.asarray(r) ** 2, alphas)).T


def test_nested_sets() -> None:
    assert np.allclose(A31[::2], A16, rtol=1e-12)


def test_exactly_representable_projects_exactly_onto_larger_set() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 5, size=(3, 16))
    b, err = project_coefficients(a, A16, A31)
    assert b.shape == (3, 31)
    # the V(r) metric grid and, independently, points near the nucleus
    r = np.concatenate([np.linspace(0.05, 6, 97), [1e-4, 1e-3, 1e-2]])
    np.testing.assert_allclose(
        values(b, A31, r), values(a, A16, r), rtol=0, atol=1e-8 * np.abs(a).max()
    )
    assert np.all(err < 1e-9 * np.abs(a).max())


def test_exactly_representable_projects_exactly_onto_smaller_set() -> None:
    # V built from the Gaussians the two sets share recovers its coefficients
    rng = np.random.default_rng(2)
    a16 = rng.normal(0, 5, size=16)
    a31 = np.zeros(31)
    a31[::2] = a16
    b, err = project_coefficients(a31, A31, A16)
    np.testing.assert_allclose(b, a16, rtol=0, atol=1e-7 * np.abs(a16).max())
    assert err[0] < 1e-9


def test_same_exponents_pass_through() -> None:
    a = np.arange(16.0)
    b, err = project_coefficients(a, A16, A16 * (1 + 1e-9))
    assert np.array_equal(b, a) and np.all(err == 0)
    assert same_alphas(A16, A16 * (1 + 1e-9)) and not same_alphas(A16, A16[:15])


def test_is_the_least_squares_solution_in_the_v_metric() -> None:
    # C's atomicPDB potential (0.2 ... 1e6) onto Si's exponents (0.15 ... 1e6):
    # not exactly representable; the projection must be (nearly) the best
    # possible in the V(r) metric, found here independently from the Gram
    # matrices of the metric (RadialMetric.gram) by a dense eigen-solve.
    from pyolcaoml.olcao import load_atomic_potential

    c = load_atomic_potential("C")
    p = projector(c.alphas, A16)
    b = p(c.coeffs)
    both = np.concatenate([A16, c.alphas])
    g = DEFAULT_METRIC.gram(both)
    d = np.concatenate([b, -c.coeffs])
    err_gram = np.sqrt(d @ g @ d)
    assert p.rms_error(c.coeffs)[0] == pytest.approx(err_gram, rel=1e-6)
    # best achievable: minimise [x, -a]^T G [x, -a] over x (pseudo-inverse)
    g11, g12 = g[:16, :16], g[:16, 16:]
    w, v = np.linalg.eigh(g11)
    keep = w > w.max() * 1e-15
    x = v[:, keep] @ ((v[:, keep].T @ (g12 @ c.coeffs)) / w[keep])
    best = np.sqrt(max(np.concatenate([x, -c.coeffs]) @ g @ np.concatenate(
        [x, -c.coeffs]), 0.0))  # fmt: skip
    assert err_gram <= best * 1.01 + 1e-6
    assert err_gram > 1e-4  # genuinely not representable: an error is reported


def test_bad_exponents() -> None:
    with pytest.raises(ValueError, match="alphas_to"):
        projector(A16, np.array([0.1, -1.0]))
