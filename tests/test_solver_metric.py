"""The solver-aligned error (pyolcaoml.model.solver_metric).

References are independent of the code under test: analytic Gaussian
integrals (scipy quad), brute-force nearest-site geometry, the volume of the
Wigner-Seitz cell, and numbers written by real OLCAO runs (tests/data/solver,
provenance in its README).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from scipy import integrate, stats

from pyolcaoml.model.potential import geometric_alphas
from pyolcaoml.model.solver_metric import SolverMetric, spiral_directions
from pyolcaoml.structure import BOHR_IN_ANGSTROM

HERE = os.path.dirname(os.path.abspath(__file__))
SOLVER_DATA = os.path.join(HERE, "data", "solver")
SI_ALPHAS = geometric_alphas(0.15, 1e6, 16)
A0 = 5.431
DIAMOND = np.array(
    [
        [0, 0, 0],
        [0, 0.5, 0.5],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
        [0.25, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.75],
        [0.75, 0.75, 0.25],
    ]
)


def test_spiral_directions_cover_the_sphere():
    u = spiral_directions(100)
    assert u.shape == (100, 3)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(u[0], [0, 0, -1], atol=1e-14)
    np.testing.assert_allclose(u[-1], [0, 0, 1], atol=1e-14)
    # evenly spread: the centroid is near the origin and no two coincide
    assert np.linalg.norm(u.mean(axis=0)) < 0.02
    d = np.linalg.norm(u[:, None] - u[None], axis=2) + 10 * np.eye(100)
    assert d.min() > 0.2


@pytest.mark.parametrize(
    "coeffs",
    [
        {0: 1.0},  # the most diffuse Gaussian alone
        {2: 0.3, 4: -0.7},  # two terms of opposite sign
        {0: 0.01, 6: 2.0, 9: -5.0},  # includes sharp terms (core region)
    ],
)
def test_isolated_atom_matches_analytic_radial_integral(coeffs):
    """One atom alone in a huge cell: every ray runs to sqrt(3.5/alpha_min),
    so the measure is the volume RMS of V over that sphere,
    sqrt(int_0^R V(r)^2 r^2 dr / (R^3/3)), which quad computes independently."""
    cell = np.eye(3) * 80.0  # Å: no neighbour or periodic image within reach
    metric = SolverMetric(cell, np.zeros((1, 3)), SI_ALPHAS)
    d = np.zeros((1, 16))
    for k, v in coeffs.items():
        d[0, k] = v
    radius = np.sqrt(3.5 / SI_ALPHAS[0])
    np.testing.assert_allclose(metric.mesh(0).ray_ends, radius)

    def v2(r):
        return sum(c * np.exp(-SI_ALPHAS[k] * r * r) for k, c in coeffs.items()) ** 2

    pts = [np.sqrt(1.0 / SI_ALPHAS[k]) for k in coeffs]
    num, _ = integrate.quad(lambda r: v2(r) * r * r, 0, radius, points=pts, limit=200)
    expected = np.sqrt(num / (radius**3 / 3.0))
    # OLCAO's log-radial rule (ratio 0.8) is good to about 1 %
    assert metric.value(d) == pytest.approx(expected, rel=0.02)


def _diamond_metric(rattle: float = 0.0, seed: int = 0) -> SolverMetric:
    frac = DIAMOND.copy()
    if rattle:
        frac = frac + np.random.default_rng(seed).normal(0, rattle, frac.shape) / A0
    return SolverMetric(np.eye(3) * A0, frac * A0, SI_ALPHAS)


def test_rays_end_on_the_wigner_seitz_boundary():
    """Equal covalent radii: each ray stops where another site becomes as
    close as its own (brute-force minimum image over 5^3 cells)."""
    metric = _diamond_metric(rattle=0.1, seed=3)
    cell = metric.cell
    shifts = (
        np.array(
            [
                [i, j, k]
                for i in range(-2, 3)
                for j in range(-2, 3)
                for k in range(-2, 3)
            ]
        )
        @ cell
    )
    images = (metric.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    for i in (0, 5):
        m = metric.mesh(i)
        ends = metric.positions[i] + m.ray_ends[:, None] * spiral_directions(100)
        d = np.linalg.norm(ends[:, None, :] - images[None], axis=2)
        own = m.ray_ends
        np.testing.assert_allclose(d.min(axis=1), own, rtol=1e-9)
        # and a second site is equally close (the ray ends on a shared plane)
        second = np.sort(d, axis=1)[:, 1]
        np.testing.assert_allclose(second, own, rtol=1e-9)


def test_mesh_weights_integrate_the_cell_volume():
    """Weights are W (1-s)/sqrt(s) r^3 on the geometric grid r_n = R s^n
    (half weight at n = 0): per ray W R^3 (1-s)/sqrt(s) (1/(1-s^3) - 1/2),
    i.e. W R^3/3 times a factor 1.039 for s = 0.8 (the rule's own bias).
    Summed over 100 rays of weight W = 0.5 that is 0.5 * 100 / (4 pi) times
    the site's Wigner-Seitz volume (one eighth of the diamond cell) times
    the same factor; the angular sum is good to about 1 %."""
    metric = _diamond_metric()
    s = 0.8
    bias = 3 * (1 - s) / np.sqrt(s) * (1 / (1 - s**3) - 0.5)
    assert bias == pytest.approx(1.039, abs=1e-3)
    volume = (A0 / BOHR_IN_ANGSTROM) ** 3 / 8
    for i in (0, 4):
        w = metric.mesh(i).weights.sum()
        assert w * 4 * np.pi / (0.5 * 100) == pytest.approx(volume * bias, rel=0.01)


def test_crystal_sum_includes_neighbours_and_images():
    """A uniform diffuse change on every atom gives the lattice sum of
    Gaussians; check one mesh point by a brute-force sum over 7^3 cells."""
    metric = _diamond_metric(rattle=0.05, seed=1)
    m = metric.mesh(2)
    point = m.points[len(m.points) // 3]
    phi = metric.basis_values(point[None], metric.positions[2])[0]
    shifts = (
        np.array(
            [
                [i, j, k]
                for i in range(-3, 4)
                for j in range(-3, 4)
                for k in range(-3, 4)
            ]
        )
        @ metric.cell
    )
    for site in (0, 2, 7):
        for k in (0, 3, 8):
            r2 = np.sum((point - metric.positions[site] - shifts) ** 2, axis=1)
            brute = np.sum(np.exp(-SI_ALPHAS[k] * r2))
            assert phi[16 * site + k] == pytest.approx(brute, rel=1e-12, abs=1e-15)


def _load(name: str) -> dict:
    with open(os.path.join(SOLVER_DATA, name)) as fh:
        return json.load(fh)


def _metric_of(case: dict) -> SolverMetric:
    return SolverMetric(
        np.asarray(case["cell_angstrom"]),
        np.asarray(case["positions_angstrom"]),
        np.asarray(case["alphas_bohr2"]),
    )


def test_reproduces_olcao_first_iteration_value():
    """OLCAO's first iteration mixes x1 = x0 + 0.2 (y0 - x0) and prints the
    measure of y0 - x0. From x0 (the start) and x1 (gs_scfV-fb.dat after one
    iteration, LAST_ITERATION 1) of real runs, our measure of (x1 - x0)/0.2
    must equal the value OLCAO printed in gs_iter-fb.dat."""
    data = _load("first_iteration.json")
    assert len(data["cases"]) >= 2
    for case in data["cases"]:
        metric = _metric_of(case)
        x0 = np.asarray(case["start"])
        x1 = np.asarray(case["after_one_iteration"])
        ours = metric.value((x1 - x0) / case["relaxation_factor"])
        assert ours == pytest.approx(case["olcao_value"], rel=2e-3), case["label"]


def test_ranks_starts_like_olcao():
    """Across starts of one structure (default, baselines, network, the
    converged potential with parts of the network's error), the measure of
    (start - converged) orders the starts as OLCAO's first-iteration value."""
    data = _load("starts.json")
    for case in data["cases"]:
        metric = _metric_of(case)
        conv = np.asarray(case["converged"])
        ours, olcao = [], []
        for s in case["starts"]:
            ours.append(metric.value(np.asarray(s["coeffs"]) - conv))
            olcao.append(s["olcao_first_value"])
        rho = stats.spearmanr(ours, olcao).statistic
        assert rho > 0.9, (case["label"], rho)
        # starts at least 10x apart in OLCAO's value are never swapped
        for a in range(len(ours)):
            for b in range(len(ours)):
                if olcao[a] > 10 * olcao[b]:
                    assert ours[a] > ours[b]


def test_evaluate_reports_solver_metric_like_olcao(tmp_path, capsys):
    """``olcaoml evaluate`` prints the solver-aligned table and writes it to
    JSON; for OLCAO's own default start (the isolated atom) its per-structure
    worst site is within 10 % of the first-iteration value that the real
    default-start runs printed (gs_iter-fb.dat, column 4)."""
    from test_model_helpers import OLCAO, make_tiny_dataset, tiny_config

    from pyolcaoml.cli import main
    from pyolcaoml.model import load_dataset, train_model
    from pyolcaoml.olcao import read_iterations

    data = make_tiny_dataset(tmp_path / "tiny.h5")
    model = train_model(load_dataset(data), tiny_config())
    model.save(tmp_path / "m")
    out = tmp_path / "e.json"
    rc = main(
        ["evaluate", str(tmp_path / "m"), str(data), "--which", "all"]
        + ["--json", str(out)]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Solver-aligned error" in printed and "worst / mean atom" in printed
    report = json.loads(out.read_text())["solver_metric"]
    assert set(report["elements"]["Si"]) == {"network", "isolated", "average", "ridge"}
    for name, row in report["structures"].items():
        for m in row.values():
            assert m["max"] >= m["mean"] > 0 and len(m["per_atom"]) == 8
        first = read_iterations(OLCAO / name / "gs_iter-fb.dat").convergence[0]
        assert row["isolated"]["max"] == pytest.approx(first, rel=0.10), name
    si = report["elements"]["Si"]["network"]
    assert si["worst_atom"] >= si["mean_atom"] and si["n_atoms"] == 16


def test_solver_loss_blocks_equal_the_measure(tmp_path):
    """The training loss of pyolcaoml.model.solver_loss (Gram matrix, its
    eigen-factor, latent coordinates) equals the mean over sites of the
    squared measure computed point by point on the meshes."""
    from test_model_helpers import make_tiny_dataset

    from pyolcaoml.model import load_dataset
    from pyolcaoml.model.solver_loss import solver_loss_value, structure_blocks

    ds = load_dataset(make_tiny_dataset(tmp_path / "tiny.h5"))
    ed = ds.elements["Si"]
    rng = np.random.default_rng(5)
    b = rng.normal(size=(16, 6)) * 0.01  # a latent map A = offset + B z
    rows = ed.atom_index[::-1]  # any order of the split's atoms
    blocks = structure_blocks(ds, "Si", rows, b)
    assert sorted(len(k.rows) for k in blocks) == [8, 8]
    dz = rng.normal(size=(len(rows), 6))
    total, n = 0.0, 0
    for s in range(ds.n_structures):
        a0 = int(ds.atom_start[s])
        sel = ds.structure_index[rows] == s
        local = rows[sel] - a0
        de = np.zeros((8, 16))
        de[local] = dz[sel] @ b.T
        metric = SolverMetric(ds.cells[s], ds.positions[a0 : a0 + 8], ed.alphas)
        total += float(np.sum(metric.per_site(de) ** 2))
        n += 8
    assert solver_loss_value(blocks, dz) == pytest.approx(total / n, rel=1e-9)


def test_training_with_solver_loss_runs_and_records(tmp_path):
    from test_model_helpers import make_tiny_dataset, tiny_config

    from pyolcaoml.model import load_dataset, train_model

    ds = load_dataset(make_tiny_dataset(tmp_path / "tiny.h5"))
    model = train_model(ds, tiny_config(solver_weight=1.0, max_epochs=3))
    info = model.training["per_element"]["Si"]
    assert info["solver_scale_hartree2"] > 0 and info["epochs_run"] >= 1
    assert model.training["config"]["solver_weight"] == 1.0


def test_solver_loss_blocks_of_a_bootstrap_resample(tmp_path):
    """An ensemble member's bootstrap resample holds a structure twice: one
    block per copy, the loss the mean over all copies' sites (before: the
    split was refused as 'atoms missing')."""
    from test_model_helpers import make_tiny_dataset

    from pyolcaoml.model import load_dataset
    from pyolcaoml.model.solver_loss import solver_loss_value, structure_blocks

    ds = load_dataset(make_tiny_dataset(tmp_path / "tiny.h5"))
    ed = ds.elements["Si"]
    first = ed.atom_index[ds.structure_index[ed.atom_index] == 0]
    second = ed.atom_index[ds.structure_index[ed.atom_index] == 1]
    rows = np.concatenate([first, second[::-1], first[::-1]])  # structure 0 twice
    b = np.random.default_rng(6).normal(size=(16, 6)) * 0.01
    blocks = structure_blocks(ds, "Si", rows, b)
    assert sorted(len(k.rows) for k in blocks) == [8, 8, 8]
    dz = np.random.default_rng(7).normal(size=(len(rows), 6))
    # the reference: each copy alone, through the blocks of a plain split
    single = structure_blocks(ds, "Si", np.concatenate([first, second]), b)

    def alone(block: int, part: np.ndarray) -> float:
        full = np.zeros((16, 6))
        full[8 * block : 8 * block + 8] = part  # in atom order
        return solver_loss_value(single[block : block + 1], full)

    want = (alone(0, dz[:8]) + alone(1, dz[8:16][::-1]) + alone(0, dz[16:][::-1])) / 3
    assert solver_loss_value(blocks, dz) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="missing"):
        structure_blocks(ds, "Si", np.concatenate([first[:-1], second]), b)
