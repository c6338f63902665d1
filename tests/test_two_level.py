"""``olcaoml two-level``: the two-level recipe in one command.

OLCAO itself is replaced by a stand-in driver (OLCAO_DIR/bin/uolcao.py)
that keeps what it was given and writes the cell's real MB SCF, stored
from OLCAO (data/sic/test_runs_stop5[34]/mb_two_level.tar.xz). References:
the separate commands of the recipe (predict, mb-start, from-mb) run on
copies of the same run, and the recipe measured in docs/model.md.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from pyolcaoml.cli import main

REPO = Path(__file__).resolve().parents[1]
SIC = REPO / "data" / "sic"
AMORPHOUS = ("sic16_rr_seed14056", SIC / "test_runs_stop54")
NEAR = ("sic32_CSi_r0.05_seed14051", SIC / "test_runs_stop53")

DRIVER = """
import os, shutil, sys
assert sys.argv[1:] == ["-scf", "MB"], sys.argv
shutil.copy("inputs/scfV.dat", "given_scfV.dat")
shutil.copy("inputs/olcao.dat", "given_olcao.dat")
open("given_temp", "w").write(os.environ["OLCAO_TEMP"])
# what a killed MB SCF leaves behind: OLCAO refuses to start beside it
lock = os.path.join(os.environ["OLCAO_TEMP"], "OLCAOlock")
open("temp_had_lock", "w").write(str(os.path.exists(lock)))
print("stand-in MB SCF")
if FAIL:
    sys.exit(3)
for f in ("gs_scfV-mb.dat", "gs_iter-mb.dat"):
    shutil.copy(os.path.join(MB, f), f)
"""


def _setting(path: Path, key: str) -> str:
    lines = path.read_text().splitlines()
    return lines[lines.index(key) + 1].strip()


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "inputs", dst / "inputs")
    shutil.copy(src / "olcao.skl", dst / "olcao.skl")
    return dst


def _stand_in(tmp_path: Path, monkeypatch, case, fail: bool = False) -> Path:
    """OLCAO_DIR with the stand-in driver for ``case``; the MB SCF's folder
    of stored files."""
    name, root = case
    mb = tmp_path / "stored"
    with tarfile.open(root / "mb_two_level.tar.xz") as tar:
        tar.extractall(mb, filter="data")
    olcao = tmp_path / "olcao"
    (olcao / "bin").mkdir(parents=True)
    (olcao / "bin" / "uolcao.py").write_text(
        f"MB = {str(mb / name)!r}\nFAIL = {fail}\n" + DRIVER
    )
    monkeypatch.setenv("OLCAO_DIR", str(olcao))
    monkeypatch.setenv("OLCAO_TEMP", str(tmp_path / "scratch"))
    return mb / name


def _src(case) -> Path:
    name, root = case
    return next(p for p in root.glob(f"*/{name}") if p.is_dir())


def test_amorphous_sic_follows_sicams_recipe(tmp_path, monkeypatch, capsys):
    """An amorphous cell: the MB SCF starts from what 'olcaoml predict
    sicam' writes, stops at 1e-3 with the run's own iteration limit, runs
    beside RUN_DIR in RUN_DIR-mb with its own scratch; RUN_DIR's start is
    what 'olcaoml from-mb' writes from that MB potential."""
    stored = _stand_in(tmp_path, monkeypatch, AMORPHOUS)
    run = _copy_run(_src(AMORPHOUS), tmp_path / "run")
    assert main(["two-level", str(run), "--force", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    mb = tmp_path / "run-mb"
    ref = _copy_run(_src(AMORPHOUS), tmp_path / "ref")
    assert main(["predict", "sicam", str(ref), "--force", "--threads", "1"]) == 0
    assert (mb / "given_scfV.dat").read_text() == (
        ref / "inputs" / "scfV.dat"
    ).read_text()
    dat = mb / "given_olcao.dat"
    assert float(_setting(dat, "CONVERGENCE_TEST")) == 1e-3
    src_dat = _src(AMORPHOUS) / "inputs" / "olcao.dat"
    assert _setting(dat, "LAST_ITERATION") == _setting(src_dat, "LAST_ITERATION")
    temp = (mb / "given_temp").read_text()
    assert temp.startswith(str(tmp_path / "scratch")) and temp != str(
        tmp_path / "scratch"
    )
    assert "stand-in MB SCF" in (mb / "olcaoml-mb-scf.log").read_text()
    args = ["from-mb", str(ref), str(stored / "gs_scfV-mb.dat"), "--force"]
    assert main([*args, "--model", "sicam", "--threads", "1"]) == 0
    assert (run / "inputs" / "scfV.dat").read_text() == (
        ref / "inputs" / "scfV.dat"
    ).read_text()
    assert "sicam_model" in out and "uolcao -scf FB" in out


def test_near_crystalline_sic_follows_sics_recipe(tmp_path, monkeypatch, capsys):
    """A 32-atom antisite cell: the MB SCF starts from 'olcaoml mb-start'
    (sic minus its correction), stops at 1e-3 or after 20 iterations; the
    note that no Si vacancy was found is passed on."""
    _stand_in(tmp_path, monkeypatch, NEAR)
    run = _copy_run(_src(NEAR), tmp_path / "run")
    mb = tmp_path / "elsewhere"
    args = ["two-level", str(run), "--force", "--mb-dir", str(mb), "--threads", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    ref = _copy_run(_src(NEAR), tmp_path / "ref")
    assert main(["mb-start", str(ref), "--force", "--threads", "1"]) == 0
    assert (mb / "given_scfV.dat").read_text() == (
        ref / "inputs" / "scfV.dat"
    ).read_text()
    dat = mb / "given_olcao.dat"
    assert float(_setting(dat, "CONVERGENCE_TEST")) == 1e-3
    assert _setting(dat, "LAST_ITERATION") == "20"
    assert "sic_model" in out and "no Si vacancy found" in out
    assert "next: set CONVERGENCE_TEST" not in out  # mb-start's advice, followed
    assert not (tmp_path / "run-mb").exists()


def test_without_olcao_nothing_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OLCAO_DIR", raising=False)
    run = _copy_run(_src(AMORPHOUS), tmp_path / "run")
    before = (run / "inputs" / "scfV.dat").read_bytes()
    assert main(["two-level", str(run), "--force"]) == 2
    assert "OLCAO_DIR" in capsys.readouterr().err
    assert (run / "inputs" / "scfV.dat").read_bytes() == before
    assert not (tmp_path / "run-mb").exists()


def test_force_and_a_free_mb_dir_are_checked_first(tmp_path, monkeypatch, capsys):
    _stand_in(tmp_path, monkeypatch, AMORPHOUS)
    run = _copy_run(_src(AMORPHOUS), tmp_path / "run")
    assert main(["two-level", str(run)]) == 2
    assert "--force" in capsys.readouterr().err
    (tmp_path / "run-mb").mkdir()
    assert main(["two-level", str(run), "--force"]) == 2
    assert "run-mb exists" in capsys.readouterr().err
    assert not (tmp_path / "run-mb" / "given_scfV.dat").exists()


def test_a_model_without_a_correction_is_refused_before_olcao(
    tmp_path, monkeypatch, capsys
):
    """'default' carries no mb_delta.npz: refused, no MB folder made."""
    _stand_in(tmp_path, monkeypatch, AMORPHOUS)
    run = _copy_run(_src(AMORPHOUS), tmp_path / "run")
    assert main(["two-level", str(run), "--force", "--model", "default"]) == 2
    assert "mb_delta.npz" in capsys.readouterr().err
    assert not (tmp_path / "run-mb").exists()


def test_a_failed_mb_scf_is_named_and_the_run_left_alone(tmp_path, monkeypatch, capsys):
    _stand_in(tmp_path, monkeypatch, AMORPHOUS, fail=True)
    run = _copy_run(_src(AMORPHOUS), tmp_path / "run")
    before = (run / "inputs" / "scfV.dat").read_bytes()
    assert main(["two-level", str(run), "--force", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "MB SCF failed" in err and "exit status 3" in err
    assert "olcaoml-mb-scf.log" in err
    assert (run / "inputs" / "scfV.dat").read_bytes() == before


@pytest.mark.parametrize(
    ("model", "start", "conv", "limit"),
    [
        ("sic", "mb-start", 1e-3, 20),
        ("sicam", "predict", 1e-3, None),
        ("asi", "predict", 1e-4, None),
    ],
)
def test_the_recipes_are_those_measured(model, start, conv, limit) -> None:
    """The bundled recipes, by name and by model directory, as measured
    (docs/model.md: 'asi' stop 50, 'sicam' stop 51, 'sic' stop 53)."""
    from pyolcaoml.cli.two_level import recipe_for
    from pyolcaoml.model.saved import bundled_model_path

    for name in (model, str(bundled_model_path(model))):
        r = recipe_for(name, ["Si", "C"])
        assert (r.start, r.convergence, r.last_iteration) == (start, conv, limit)


def test_a_lock_left_by_a_killed_mb_scf_is_cleared(tmp_path, monkeypatch, capsys):
    """An MB SCF killed in the same MB_DIR before (MB_DIR since removed)
    left OLCAO's lock file in its scratch folder under $OLCAO_TEMP; the
    next two-level run starts with that folder empty."""
    _stand_in(tmp_path, monkeypatch, NEAR)
    run = _copy_run(_src(NEAR), tmp_path / "run")
    mb = tmp_path / "run-mb"
    stale = tmp_path / "scratch" / str(mb.resolve()).strip("/").replace("/", "_")
    stale.mkdir(parents=True)
    (stale / "OLCAOlock").write_text("")
    assert main(["two-level", str(run), "--force", "--threads", "1"]) == 0
    assert (mb / "given_temp").read_text() == str(stale)
    assert (mb / "temp_had_lock").read_text() == "False"
