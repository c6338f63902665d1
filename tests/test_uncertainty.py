"""Uncertainty: ensemble mean and sigma, calibration, applicability flags.

Reference values are independent of the code under test: a plain NumPy
evaluation of the defining formulas, SciPy's Spearman correlation, synthetic
errors drawn from known variances, and geometry (interatomic distances).
"""

from __future__ import annotations

import numpy as np
import pytest

from pyolcaoml.model.applicability import Applicability, flags_per_atom
from pyolcaoml.model.potential import RadialMetric, geometric_alphas
from pyolcaoml.model.report import CSV_COLUMNS, assess
from pyolcaoml.model.uncertainty import (
    ensemble_moments,
    fit_calibration,
    out_of_bag_pairs,
    sigma_gram,
    spearman,
)
from pyolcaoml.structure import Structure

ALPHAS = geometric_alphas(0.15, 1e6, 16)


def numpy_moments(p, g, scale, floor):
    mean = p.mean(axis=0)
    d = p - mean
    s2 = np.einsum("man,nk,mak->a", d, g, d) / (p.shape[0] - 1)
    return mean, np.sqrt(scale**2 * s2 + floor**2)


def test_ensemble_moments_match_the_formula():
    rng = np.random.default_rng(3)
    g = sigma_gram(RadialMetric(), ALPHAS)
    p = rng.normal(size=(5, 40, 16)) * np.logspace(-3, 0, 16)
    mean, sigma = ensemble_moments(p, g, 2.5, 1e-4)
    want_mean, want_sigma = numpy_moments(p, g, 2.5, 1e-4)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-12)
    # sigma is the RMS V(r) error of a coefficient error: for two members
    # +-d around the mean, s2 = 2 |V_d|^2 and sigma = sqrt(2) RMS V_d
    d = rng.normal(size=(1, 16)) * 1e-2
    r, w = RadialMetric().grid()
    v = (d @ np.exp(-np.outer(r**2, ALPHAS)).T)[0]
    _, s = ensemble_moments(np.stack([d, -d]), g)
    assert s[0] == pytest.approx(np.sqrt(2 * np.sum(w * v * v)), rel=1e-10)


def test_each_atom_gets_the_same_bits_whatever_the_batch():
    rng = np.random.default_rng(4)
    g = sigma_gram(RadialMetric(), ALPHAS)
    p = rng.normal(size=(4, 23, 16))
    mean, sigma = ensemble_moments(p, g, 1.7, 3e-4)
    for rows in (np.arange(1), np.arange(5, 23, 3), np.arange(22, -1, -1)):
        m2, s2 = ensemble_moments(p[:, rows], g, 1.7, 3e-4)
        np.testing.assert_array_equal(m2, mean[rows])
        np.testing.assert_array_equal(s2, sigma[rows])


def test_out_of_bag_pairs_use_only_the_members_that_left_the_atom_out():
    """Each usable atom's pair comes from exactly its out-of-bag members:
    checked atom by atom against the V(r) integral on the metric's grid and
    the sample variance of those members (a loop, not the grouped code)."""
    rng = np.random.default_rng(5)
    metric = RadialMetric()
    r, w = metric.grid()
    basis = np.exp(-np.outer(r**2, ALPHAS))  # (grid, N)
    n_atoms, n_members = 30, 5
    truth = rng.normal(size=(n_atoms, 16))
    members = truth + rng.normal(size=(n_members, n_atoms, 16)) * 1e-2
    oob = rng.random((n_atoms, n_members)) < 0.45
    usable = oob.sum(axis=1) >= 2
    usable[0] = False  # an atom left out of the pairs stays NaN
    e2, s2 = out_of_bag_pairs(members, oob, usable, truth, ALPHAS, metric)
    for a in range(n_atoms):
        if not usable[a]:
            assert np.isnan(e2[a]) and np.isnan(s2[a])
            continue
        v = members[oob[a], a] @ basis.T  # V(r) of each out-of-bag member
        v_true = truth[a] @ basis.T
        mean = v.mean(axis=0)
        want_e2 = np.sum(w * (mean - v_true) ** 2) / np.sum(w)
        want_s2 = np.sum(w * (v - mean) ** 2) / np.sum(w) / (len(v) - 1)
        assert e2[a] == pytest.approx(want_e2, rel=1e-9)
        assert s2[a] == pytest.approx(want_s2, rel=1e-9)


def test_single_member_has_no_sigma():
    p = np.ones((1, 3, 16))
    mean, sigma = ensemble_moments(p, np.eye(16))
    np.testing.assert_array_equal(mean, p[0])
    assert np.all(np.isnan(sigma))


def test_calibration_recovers_known_scale_and_floor():
    rng = np.random.default_rng(5)
    s2 = rng.lognormal(mean=-16, sigma=1.5, size=4000)  # raw spreads, Ha^2
    true_scale, true_floor = 2.0, 5e-4
    v = true_scale**2 * s2 + true_floor**2
    e2 = v * rng.chisquare(3, size=len(v)) / 3  # E[e^2] = v
    cal = fit_calibration(e2, s2)
    assert cal.scale == pytest.approx(true_scale, rel=0.1)
    assert cal.floor_hartree == pytest.approx(true_floor, rel=0.2)
    assert fit_calibration(e2[:3], s2[:3]).n_atoms == 0  # too few: uncalibrated


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(6)
    a = rng.normal(size=50)
    b = a + rng.normal(size=50)
    b[::7] = b[0]  # ties
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, rel=1e-12)


def _si_pair(distance: float, periodic: bool) -> Structure:
    cell = np.eye(3) * 12.0 if periodic else np.zeros((3, 3))
    return Structure(
        cell=cell,
        positions=[[1.0, 1.0, 1.0], [1.0 + distance, 1.0, 1.0], [6.0, 6.0, 6.0]],
        symbols=["Si", "Si", "Si"],
        pbc=(periodic,) * 3,
    )


class _NoDomainModel:
    def __init__(self) -> None:
        self.applicability = Applicability(min_pair_distance={"Si-Si": 2.2})


@pytest.mark.parametrize("periodic", [True, False])
def test_short_contacts_and_missing_cell_are_flagged(periodic):
    model = _NoDomainModel()
    st = _si_pair(0.01, periodic)
    rep = assess(model, st, np.zeros((3, 5)), np.full(3, np.nan))
    np.testing.assert_allclose(rep.nearest[:2], 0.01, rtol=1e-12)
    assert np.isinf(rep.nearest[2])  # alone within the search radius
    assert [("short" in f) for f in rep.flags] == [True, True, False]
    assert all(("no_cell" in f) == (not periodic) for f in rep.flags)
    text = "\n".join(rep.summary())
    assert "atoms 1, 2" in text and "short" in text
    # a normal bond length is not flagged
    ok = assess(model, _si_pair(2.35, True), np.zeros((3, 5)), np.full(3, np.nan))
    assert ok.flags == ["", "", ""]


def test_report_csv_has_the_promised_columns():
    rep = assess(
        _NoDomainModel(),
        _si_pair(0.01, False),
        np.zeros((3, 5)),
        np.array([1e-3, 2e-3, 3e-3]),
    )
    lines = rep.to_csv().splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert lines[0].startswith("atom,element,sigma_v_ha")
    first = lines[1].split(",")
    assert first[0] == "1" and first[1] == "Si" and float(first[2]) == 1e-3
    assert first[-1] == "short;no_cell"


def test_flags_join_in_a_fixed_order():
    flags = flags_per_atom(2, np.array([2.0, 0.5]), np.array([True, False]), True)
    assert flags == ["novel;short", ""]


def test_train_ensemble_command_and_model_versions(tmp_path, capsys):
    """train --ensemble 2 on the two bundled test runs: two member files,
    format 2, a sigma in predict; a version 1 directory still loads."""
    import json

    from test_model_helpers import make_tiny_dataset

    from pyolcaoml.cli import main
    from pyolcaoml.model import load_model

    data = make_tiny_dataset(tmp_path / "tiny.h5")
    out = tmp_path / "ens"
    args = ["train", str(data), "-o", str(out), "--epochs", "2", "--hidden", "4"]
    assert main([*args, "--ensemble", "2", "--quiet"]) == 0
    assert "uncertainty: ensemble of 2 networks" in capsys.readouterr().out
    meta = json.loads((out / "model.json").read_text())
    assert meta["version"] == 2 and meta["n_members"] == 2
    files = [m["file"] for m in meta["elements"]["Si"]["members"]]
    assert files == ["Si.keras", "Si_2.keras"]
    assert all((out / f).is_file() for f in files)
    model = load_model(out)
    assert model.n_members == 2 and model.applicability is not None
    skl = tmp_path / "s.skl"
    from pyolcaoml.olcao.skeleton import write_skeleton

    write_skeleton(skl, model_structure(data))
    rc = main(["predict", str(out), str(skl), "-o", str(tmp_path / "v.dat")])
    assert rc == 0
    assert "median sigma" in capsys.readouterr().out
    # a single network written as version 1 (before ensembles) still loads
    single = tmp_path / "single"
    assert main([*args[:3], str(single), *args[4:], "--quiet"]) == 0
    meta = json.loads((single / "model.json").read_text())
    for key in ("n_members", "applicability"):
        meta.pop(key)
    for e in meta["elements"].values():
        e.pop("members"), e.pop("uncertainty")
    meta["version"] = 1
    (single / "model.json").write_text(json.dumps(meta))
    (single / "applicability.npz").unlink()
    old = load_model(single)
    assert old.n_members == 1 and old.applicability is None
    x = np.zeros((1, old.n_features))
    coeffs, sigma = old.predict_uncertainty(["Si"], x)
    assert np.isnan(sigma[0]) and coeffs[0].shape == (16,)


def model_structure(data):
    from pyolcaoml.model import load_dataset

    return load_dataset(data).structure(0)


def test_ensemble_refuses_bad_settings(tmp_path):
    from pyolcaoml.model import ModelError, TrainConfig
    from pyolcaoml.model.ensemble import bootstrap_samples, member_specs

    class _Data:
        names = ["a", "b", "c"]
        path = "x.h5"

    with pytest.raises(ModelError, match="at least one member"):
        member_specs(_Data(), TrainConfig(), 0, str(tmp_path))
    with pytest.raises(ModelError, match="out-of-bag"):
        member_specs(_Data(), TrainConfig(validation=("a",)), 2, str(tmp_path))
    specs = member_specs(_Data(), TrainConfig(holdout=("c",), seed=4), 3, str(tmp_path))
    assert [s.seed for s in specs] == [4, 5, 6]
    assert all(len(s.bootstrap) == 2 and "c" not in s.bootstrap for s in specs)
    # the resamples are drawn with repeats, reproducibly from the seed
    again = bootstrap_samples(["a", "b"], 3, 4)
    assert [s.bootstrap for s in specs] == again


def test_in_every_bag_keeps_a_structure_in_every_resample(tmp_path):
    """--in-every-bag: each resample holds the named structures; one that
    lacked a name gives up its first draw for it, the others are the plain
    resamples; member_specs refuses unknown or held-out names and a single
    network."""
    from collections import Counter

    from pyolcaoml.model import ModelError, TrainConfig
    from pyolcaoml.model.ensemble import bootstrap_samples, member_specs

    names = [f"s{i}" for i in range(12)]
    plain = bootstrap_samples(names, 8, 3)
    kept = bootstrap_samples(names, 8, 3, ["s5", "s9"])
    assert any("s5" not in p for p in plain)  # else the test proves nothing
    for p, k in zip(plain, kept, strict=True):
        assert "s5" in k and "s9" in k and len(k) == len(p)
        assert k == sorted(k, key=names.index)
        missing = [n for n in ("s5", "s9") if n not in p]
        removed = Counter(p) - Counter(k)
        assert sum(removed.values()) == len(missing)
        assert Counter(k) - Counter(p) == Counter(missing)
        if not missing:
            assert k == p

    class _Data:
        names = ["a", "b", "c", "d"]
        path = "x.h5"

    cfg = TrainConfig(holdout=("d",), in_every_bag=("c",))
    specs = member_specs(_Data(), cfg, 4, str(tmp_path))
    assert all("c" in s.bootstrap for s in specs)
    for bad in ("d", "zz"):
        cfg = TrainConfig(holdout=("d",), in_every_bag=(bad,))
        with pytest.raises(ModelError, match="in-every-bag"):
            member_specs(_Data(), cfg, 3, str(tmp_path))
    with pytest.raises(ModelError, match="ensemble"):
        member_specs(_Data(), TrainConfig(in_every_bag=("a",)), 1, str(tmp_path))


def test_select_reads_files_directories_and_trajectory_frames(tmp_path):
    import ase.io
    from ase.build import bulk

    from pyolcaoml.model.select import read_candidates

    si = bulk("Si", "diamond", a=5.431, cubic=True)
    frames = [si.copy() for _ in range(3)]
    for k, f in enumerate(frames):
        f.rattle(0.01 * (k + 1), seed=k)
    ase.io.write(tmp_path / "traj.extxyz", frames)
    sub = tmp_path / "dir"
    sub.mkdir()
    ase.io.write(sub / "one.xyz", si, format="extxyz")
    (sub / "notes.txt").write_text("not a structure")
    got = read_candidates([str(tmp_path / "traj.extxyz"), str(sub)])
    assert [c.name for c in got] == [
        "traj_frame0",
        "traj_frame1",
        "traj_frame2",
        "one",
    ]
    np.testing.assert_allclose(
        got[1].structure.positions, frames[1].positions, atol=1e-7
    )  # extxyz keeps 8 decimals
    from pyolcaoml.model import ModelError

    with pytest.raises(ModelError, match="no such file"):
        read_candidates([str(tmp_path / "missing.xyz")])


def test_calibration_with_a_structure_lacking_an_element(sic_model_dir, tmp_path):
    """A pure-Si structure evaluated with a Si + C model (before: a
    broadcasting error for the element with no atoms there)."""
    from pathlib import Path

    from conftest import SIC_RUNS

    from pyolcaoml.cli import main
    from pyolcaoml.model import load_dataset, load_model
    from pyolcaoml.model.calibration import atom_errors
    from pyolcaoml.model.workflow import dataset_descriptors

    here = Path(__file__).resolve().parent
    runs = [
        str(here / "data" / "olcao" / "si8_r0.10_seed1100"),
        str(SIC_RUNS / "rattle" / "sic8_r0.05_seed10000"),
    ]
    desc = ["--twojmax", "4", "--radius", "Si=2.35", "--radius", "C=1.609", "--chem"]
    data = tmp_path / "mixed.h5"
    assert main(["convert", *runs, "-o", str(data), "--quiet", *desc]) == 0
    model, ds = load_model(sic_model_dir), load_dataset(data)
    ae = atom_errors(model, ds, ds.names, dataset_descriptors(ds, model.descriptor))
    assert len(ae.error) == 16 and np.all(np.isfinite(ae.error))
    assert ae.element.count("C") == 4


def test_nearest_distance_matches_brute_force() -> None:
    """The nearest training row is found in float32 and its distance taken in
    float64: equal to the brute-force nearest distance within 1e-5, exactly 0
    for a training row itself, over several blocks."""
    from scipy.spatial.distance import cdist

    from pyolcaoml.model.applicability import nearest_distance

    rng = np.random.default_rng(3)
    ref = rng.standard_normal((300, 40))
    z = np.concatenate([rng.standard_normal((2500, 40)), ref[:7], ref[:3] + 1e-3])
    got = nearest_distance(z, ref, block=512)
    want = cdist(z, ref).min(axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)
    assert np.all(got[2500:2507] == 0.0)
    np.testing.assert_allclose(got[-3:], np.full(3, 1e-3 * np.sqrt(40)), rtol=1e-6)
    assert np.all(np.isinf(nearest_distance(z[:4], ref[:0])))


def test_applicability_saved_in_single_precision_gives_the_same_flags(tmp_path):
    """The reference rows are stored as float32 (half the bytes): distances
    read back agree with the in-memory float64 ones to ~1e-6 relative, and
    no atom changes side of the threshold unless it sits within that of it."""
    from pyolcaoml.model.applicability import Applicability, ElementDomain

    rng = np.random.default_rng(5)
    ref = rng.standard_normal((400, 60))
    dom = ElementDomain(np.zeros(60), np.ones(60), ref, threshold=0.9)
    app = Applicability(domains={"Si": dom}, min_pair_distance={"Si-Si": 2.1})
    app.save_arrays(str(tmp_path / "applicability.npz"))
    back = Applicability.load(str(tmp_path), app.to_json())
    got = back.domains["Si"]
    assert got.reference.dtype == np.float64
    np.testing.assert_array_equal(got.reference, ref.astype(np.float32))
    x = np.concatenate([rng.standard_normal((500, 60)) * 0.8, ref[:5]])
    d0, d1 = dom.distance(x), got.distance(x)
    np.testing.assert_allclose(d1, d0, rtol=1e-5, atol=1e-6)
    assert np.all(d1[-5:] <= 1e-6)
    flip = (d0 > 0.9) != (d1 > 0.9)
    assert np.all(np.abs(d0[flip] - 0.9) < 1e-5)
    # float64 files written before keep loading (and in double precision)
    (tmp_path / "old").mkdir()
    arrays = {"Si/mean": dom.mean, "Si/scale": dom.scale, "Si/reference": ref}
    np.savez_compressed(tmp_path / "old" / "applicability.npz", **arrays)
    old = Applicability.load(str(tmp_path / "old"), app.to_json())
    np.testing.assert_array_equal(old.domains["Si"].reference, ref)
