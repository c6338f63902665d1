"""olcaoml demo and the accuracy of the bundled model on its held-out case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from test_model_helpers import radial_rms

from pyolcaoml.cli import main
from pyolcaoml.olcao import read_scfv

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "data" / "default_model"
CASE = REPO / "data" / "demo" / "si16_int_T_r0.05_seed3117"
#: Required margins on the held-out structure (measured at commit time:
#: 9.9x better than the average atom, 61x better than the isolated atom).
AVERAGE_MARGIN = 4.0
ISOLATED_MARGIN = 20.0


def test_demo_beats_baselines_on_held_out_structure(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "was not used to train" in printed and "ratio" in printed
    for name in ("scfV.dat", "potentials.png", "parity.png", "summary.json"):
        assert (out / name).stat().st_size > 0
    meta = json.loads((MODEL / "model.json").read_text())
    seen = (
        meta["training"]["train_structures"] + meta["training"]["validation_structures"]
    )
    assert CASE.name not in seen and CASE.name in meta["training"]["holdout_structures"]

    # Independent check: the written scfV.dat against OLCAO's converged file.
    pred = read_scfv(out / "scfV.dat")
    real = read_scfv(CASE / "gs_scfV-fb.dat")
    assert pred.n_types == real.n_types == 17
    assert pred.term_counts == real.term_counts
    alphas = real.alphas()[0]
    p, t = np.array(pred.coeffs("up")), np.array(real.coeffs("up"))
    si = meta["elements"]["Si"]
    avg = np.tile(si["average_coeffs_hartree"], (17, 1))
    iso = np.tile(si["isolated_coeffs_hartree"], (17, 1))
    net_rms = radial_rms(p, t, alphas)
    assert net_rms * AVERAGE_MARGIN < radial_rms(avg, t, alphas)
    assert net_rms * ISOLATED_MARGIN < radial_rms(iso, t, alphas)
    summary = json.loads((out / "summary.json").read_text())["elements"]["Si"]
    assert summary["network"]["rms_v_hartree"] < summary["ridge"]["rms_v_hartree"]


def test_demo_does_not_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "scfV.dat").write_text("mine\n")
    assert main(["demo", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "scfV.dat").read_text() == "mine\n"
    assert not (out / "summary.json").exists()
