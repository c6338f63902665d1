"""benchmarks/bench_two_level.py never needs OLCAO; with stand-ins for
OLCAO's driver and run_olcao.py it wires the two-level chain as documented:
the MB SCF's start and tolerance, the default start run beside the chain on
a fresh cell, and the whole run's cost against the default's."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import load_benchmark

REPO = Path(__file__).resolve().parents[1]
#: an a-Si32 cell neither 'asi' nor its MB correction trained on, with its
#: OLCAO MB SCF stored in data/mb_runs.tar.xz
CELL = "asi32_s10700"
SRC_RUN = REPO / "data" / "scf_test_runs" / CELL


def _load():
    return load_benchmark("bench_two_level")


def _fresh(tmp_path: Path) -> Path:
    """The cell's inputs, skeleton and meta.json without its SCF: a cell
    nobody has run yet."""
    run = tmp_path / CELL
    shutil.copytree(SRC_RUN / "inputs", run / "inputs")
    shutil.copy(SRC_RUN / "olcao.skl", run / "olcao.skl")
    shutil.copy(SRC_RUN / "meta.json", run / "meta.json")
    return run


def test_fresh_cell_without_default_is_named_before_olcao_starts(
    tmp_path, monkeypatch, capsys
):
    run = _fresh(tmp_path)
    runner = tmp_path / "run_olcao.py"
    runner.write_text("raise SystemExit('must not run')\n")
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _load().main([str(run), "--runner", str(runner)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{run}: not a finished OLCAO FB run" in err and "--with-default" in err


@pytest.mark.parametrize(
    "bad",
    [
        ["--mb-conv", "0"],
        ["--mb-conv", "2"],
        ["--mb-runs", "x.tar.xz", "--mb-start", "model"],
        ["--mb-runs", "x.tar.xz", "--mb-conv", "1e-4"],
        ["--mb-runs", "x.tar.xz", "--mb-start", "estimate"],
        ["--mb-runs", "x.tar.xz", "--mb-last-iteration", "20"],
        ["--mb-last-iteration", "0"],
        ["--mb-setting", "NUM_ANGULAR_SAMPLE_VECTORS"],
        ["--mb-setting", "=50"],
        ["--mb-runs", "x.tar.xz", "--mb-setting", "NUM_ANGULAR_SAMPLE_VECTORS=50"],
    ],
)
def test_contradictory_options_are_refused(tmp_path, monkeypatch, capsys, bad):
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _load().main([str(SRC_RUN), *bad])
    assert exc.value.code == 2 and bad[0] in capsys.readouterr().err


#: a stand-in for OLCAO's driver (OLCAO_DIR/bin/uolcao.py -scf MB): keeps
#: the start and olcao.dat it was given, and writes the cell's stored MB
#: SCF and a runtime line of 10 user seconds, as uolcao.py does
FAKE_DRIVER = """
import os, shutil, sys
assert sys.argv[1:] == ["-scf", "MB"], sys.argv
shutil.copy("inputs/scfV.dat", "given_scfV.dat")
shutil.copy("inputs/olcao.dat", "given_olcao.dat")
open("given_temp", "w").write(os.environ["OLCAO_TEMP"])
for f in ("gs_scfV-mb.dat", "gs_iter-mb.dat"):
    shutil.copy(os.path.join(MB, f), f)
open("runtime", "w").write("10.00user 0.50system 0:11.00elapsed\\n")
"""

#: a stand-in for run_olcao.py: the cell's real FB log and energy for the
#: default start, another energy for the two-level start, and user seconds
#: 100 (default) and 40 (two-level) in the curated runtime file
FAKE_RUNNER = """
import json, os, shutil, sys
wd, od = sys.argv[1], sys.argv[2]
label = "default" if "-default" in wd else "two-level"
os.makedirs(od, exist_ok=True)
shutil.copy(os.path.join(SRC, "gs_iter-fb.dat"), od)
energy = {"default": -124.0, "two-level": -124.0 + 4e-7}[label]
user = {"default": 100.0, "two-level": 40.0}[label]
open(os.path.join(od, "runtime"), "w").write(f"{user}user 1.0system\\n")
meta = {"wall_time_scf_s": 1.0, "total_energy_Ha": energy,
        "last_iteration_limit": 60, "initpot": "--initpot" in sys.argv}
json.dump(meta, open(os.path.join(od, "meta.json"), "w"))
"""


def _stand_ins(tmp_path: Path, monkeypatch) -> Path:
    """OLCAO_DIR with the stand-in driver (the cell's stored MB SCF) and
    OLCAO_TEMP set; returns the stand-in run_olcao.py."""
    mb = tmp_path / "mb_runs"
    with tarfile.open(REPO / "data" / "mb_runs.tar.xz") as tar:
        tar.extractall(mb, filter="data")
    olcao = tmp_path / "olcao"
    (olcao / "bin").mkdir(parents=True)
    (olcao / "bin" / "uolcao.py").write_text(f"MB = {str(mb / CELL)!r}\n" + FAKE_DRIVER)
    runner = tmp_path / "run_olcao.py"
    runner.write_text(f"SRC = {str(SRC_RUN)!r}\n" + FAKE_RUNNER)
    monkeypatch.setenv("OLCAO_DIR", str(olcao))
    monkeypatch.setenv("OLCAO_TEMP", str(tmp_path / "scratch"))
    return runner


def test_fresh_cell_chain_from_the_model_beside_the_default(tmp_path, monkeypatch):
    """--with-default --mb-start model --mb-conv 1e-4 on a fresh cell: the
    MB SCF starts from the same potential `olcaoml predict asi` writes,
    with CONVERGENCE_TEST 1e-4 and its own scratch folder; the default start
    runs here; |dE| and the cost are taken against it: (MB 10 s + FB 40 s
    + the predictions' seconds) / 100 s."""
    from pyolcaoml.cli import main as cli

    runner = _stand_ins(tmp_path, monkeypatch)
    run = _fresh(tmp_path)
    work, out = tmp_path / "work", tmp_path / "b.json"
    args = [str(run), "--runner", str(runner), "--with-default", "--jobs", "2"]
    args += ["--mb-start", "model", "--mb-conv", "1e-4"]
    assert _load().main([*args, "--work", str(work), "--json", str(out)]) == 0

    # the MB SCF's start: what the CLI's predict writes for this cell
    predicted = _fresh(tmp_path / "cli")
    assert cli(["predict", "asi", str(predicted), "--force"]) == 0
    mb_dir = work / f"{CELL}-mb"
    assert (mb_dir / "given_scfV.dat").read_text() == (
        predicted / "inputs" / "scfV.dat"
    ).read_text()
    dat = (mb_dir / "given_olcao.dat").read_text().splitlines()
    assert float(dat[dat.index("CONVERGENCE_TEST") + 1]) == 1e-4
    assert (mb_dir / "given_temp").read_text().startswith(str(tmp_path / "scratch"))
    assert (mb_dir / "given_temp").read_text() != str(tmp_path / "scratch")

    rows = json.loads(out.read_text())["rows"]
    assert [r["start"] for r in rows] == ["default", "two-level"]
    default, two = rows
    assert default["abs_dE_hartree"] == 0.0 and default["cost_vs_default"] == 1.0
    assert two["abs_dE_hartree"] == pytest.approx(4e-7, abs=1e-12)
    assert two["mb_cpu_s"] == 10.0 and two["fb_cpu_s"] == 40.0
    assert two["default_cpu_s"] == 100.0
    assert 0 < two["predict_s"] < 30
    assert two["cost_vs_default"] == pytest.approx((50.0 + two["predict_s"]) / 100.0)
    # the stored MB log the stand-in wrote, counted
    n_mb = sum(
        1
        for line in (tmp_path / "mb_runs" / CELL / "gs_iter-mb.dat")
        .read_text()
        .splitlines()
        if line.split() and line.split()[0].isdigit()
    )
    assert two["mb_iterations"] == n_mb > 0


def test_runs_of_different_elements_need_a_model(tmp_path, monkeypatch, capsys):
    """Without --model the runs' elements choose the correction, as in
    `olcaoml from-mb`: an a-Si run and a SiC run together are refused,
    naming both choices, before OLCAO starts."""
    sic = REPO / "data" / "sic" / "test_runs_stop51" / "amorphous"
    sic_run = sorted(sic.iterdir())[0]
    runner = tmp_path / "run_olcao.py"
    runner.write_text("raise SystemExit('must not run')\n")
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _load().main([str(SRC_RUN), str(sic_run), "--runner", str(runner)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "asi, sicam" in err and "--model" in err


def test_estimate_start_and_iteration_cap_reach_the_mb_scf(tmp_path, monkeypatch):
    """--mb-start estimate --mb-last-iteration 20: the MB SCF starts from
    the model's prediction minus the correction (here recomputed from what
    `olcaoml predict asi` writes and asi's mb_delta.npz arrays with plain
    numpy) and stops after at most 20 iterations."""
    from pyolcaoml.cli import main as cli
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.scfv import read_scfv
    from pyolcaoml.predict import compute_descriptors

    runner = _stand_ins(tmp_path, monkeypatch)
    work = tmp_path / "work"
    args = [str(SRC_RUN), "--runner", str(runner), "--work", str(work)]
    args += ["--mb-start", "estimate", "--mb-conv", "1e-3"]
    assert _load().main([*args, "--mb-last-iteration", "20"]) == 0

    mb_dir = work / f"{CELL}-mb"
    dat = (mb_dir / "given_olcao.dat").read_text().splitlines()
    assert int(dat[dat.index("LAST_ITERATION") + 1]) == 20
    assert float(dat[dat.index("CONVERGENCE_TEST") + 1]) == 1e-3
    predicted = _fresh(tmp_path / "cli")
    assert cli(["predict", "asi", str(predicted), "--force"]) == 0
    net = np.array(read_scfv(predicted / "inputs" / "scfV.dat").coeffs())
    asi = REPO / "data" / "asi_model"
    with np.load(asi / "mb_delta.npz") as z:
        mean, scale = z["Si/feature_mean"], z["Si/feature_scale"]
        w, b = z["Si/weights"], z["Si/intercept"]
    # types are atoms in file order in this run
    x = compute_descriptors(
        load_model(asi, networks=False), read_run(SRC_RUN).structure
    )
    want = net - (((x - mean) / scale) @ w + b)
    got = np.array(read_scfv(mb_dir / "given_scfV.dat").coeffs())
    assert np.allclose(got, want, rtol=1e-8, atol=1e-10)
    assert not np.allclose(got, net, rtol=1e-3)


def test_mb_settings_reach_the_mb_scf_and_nothing_else(tmp_path, monkeypatch, capsys):
    """--mb-setting KEY=LINE (a coarser exchange-correlation mesh): those
    lines of the MB SCF's olcao.dat are replaced, every other line is the
    run's; a key the file lacks is a clear error before OLCAO starts."""
    runner = _stand_ins(tmp_path, monkeypatch)
    work = tmp_path / "work"
    args = [str(SRC_RUN), "--runner", str(runner), "--work", str(work)]
    args += ["--mb-setting", "NUM_ANGULAR_SAMPLE_VECTORS=50"]
    args += ["--mb-setting", "RADIAL_SAMPLE-IN_OUT_SPACING= 0.1 3.5 0.7"]
    assert _load().main(args) == 0
    given = (work / f"{CELL}-mb" / "given_olcao.dat").read_text().splitlines()
    run = (SRC_RUN / "inputs" / "olcao.dat").read_text().splitlines()
    assert len(given) == len(run)
    changed = {k for k, (a, b) in enumerate(zip(given, run, strict=True)) if a != b}
    ang = run.index("NUM_ANGULAR_SAMPLE_VECTORS") + 1
    rad = run.index("RADIAL_SAMPLE-IN_OUT_SPACING") + 1
    assert changed == {ang, rad}
    assert given[ang] == "50" and given[rad] == "0.1 3.5 0.7"
    assert run[ang].split() == ["100"]  # the run's own mesh is the finer one

    bad = [str(SRC_RUN), "--runner", str(runner), "--work", str(tmp_path / "w2")]
    with pytest.raises(SystemExit) as exc:
        _load().main([*bad, "--mb-setting", "NO_SUCH_KEY=1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "NO_SUCH_KEY" in err and "olcao.dat" in err
    assert not (tmp_path / "w2").exists()  # refused before any copy or run
