"""benchmarks/k_sampling_artifact.py without OLCAO: the denser mesh is
written into a copy of a real stored run's k-point files (and nothing
else changes), a file that is not a mesh is refused, and the RMS V(r) it
reports is the package's metric on known coefficients."""

from __future__ import annotations

import filecmp
import os

import numpy as np
import pytest
from conftest import load_benchmark

from pyolcaoml.model.potential import DEFAULT_METRIC

art = load_benchmark("k_sampling_artifact")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "data", "scf_test_runs", "si8_r0.15_seed78005")


def test_dense_inputs_change_only_the_mesh_line(tmp_path):
    dest = art.dense_inputs(RUN, (4, 4, 4), str(tmp_path / "dense"))
    old = open(os.path.join(RUN, "inputs", "kp-scf.dat")).read().splitlines()
    for name in ("kp-scf.dat", "kp-pscf.dat"):
        new = open(os.path.join(dest, "inputs", name)).read().splitlines()
        assert len(new) == len(old)
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        assert len(changed) == 1
        i = changed[0]
        assert old[i - 1] == "NUM_KP_A_B_C" and old[i].split() == ["2", "2", "2"]
        assert new[i].split() == ["4", "4", "4"]
    # every other input, and the skeleton, are the stored run's own
    for name in os.listdir(os.path.join(RUN, "inputs")):
        if name.startswith("kp-"):
            continue
        assert filecmp.cmp(
            os.path.join(RUN, "inputs", name),
            os.path.join(dest, "inputs", name),
            shallow=False,
        )
    assert filecmp.cmp(
        os.path.join(RUN, "olcao.skl"), os.path.join(dest, "olcao.skl"), shallow=False
    )


def test_dense_inputs_refuse_a_file_without_a_mesh(tmp_path):
    run = tmp_path / "run"
    (run / "inputs").mkdir(parents=True)
    (run / "olcao.skl").write_text("title\n")
    # an explicit list of k-points (style 0) has no mesh line to change
    (run / "inputs" / "kp-scf.dat").write_text(
        "KPOINT_STYLE_CODE\n0\nNUM_BLOCH_VECTORS\n1\n1 0.0 0.0 0.0 1.0\n"
    )
    with pytest.raises(ValueError, match="kp-scf.dat: not a k-point mesh"):
        art.dense_inputs(str(run), (4, 4, 4), str(tmp_path / "dense"))


def test_rms_and_atom_to_atom_part_on_known_coefficients():
    alphas = np.array([0.5, 2.0, 10.0])
    base = np.array([0.01, -0.02, 0.005])
    # two Si sites: the same vector plus and minus a small difference;
    # the atom-to-atom part is then exactly +-d, the cell mean 'base'
    d = np.array([0.001, 0.0, -0.002])
    parts = [base + d, base - d]
    symbols = ["Si", "Si"]
    whole = art.rms_mha(parts, symbols, [alphas, alphas])["Si"]
    expect = 1000 * DEFAULT_METRIC.rms(np.array(parts), np.zeros((2, 3)), alphas)
    assert whole == pytest.approx(expect, rel=1e-12)
    a2a = art.error_parts(parts, symbols, [alphas, alphas])[art.A2A]
    assert np.allclose(a2a[0], d) and np.allclose(a2a[1], -d)
    one = 1000 * DEFAULT_METRIC.rms(d[None, :], np.zeros((1, 3)), alphas)
    assert art.rms_mha(a2a, symbols, [alphas, alphas])["Si"] == pytest.approx(one)
