"""Every file pyolcaoml writes gets the permissions any other program would
give it: 0666 & ~umask for files, 0777 & ~umask for folders, and a replaced
file keeps its own mode. Checked under umask 022 and 027 (values expected
here are written out, not computed by the package)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from test_model_helpers import OLCAO, make_tiny_dataset, tiny_config

from pyolcaoml.cli import main

RUN = OLCAO / "si8_r0.10_seed1100"
#: umask -> (file mode, directory mode), as `touch` and `mkdir` give them.
EXPECTED = {0o022: (0o644, 0o755), 0o027: (0o640, 0o750)}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=sorted(EXPECTED), ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny dataset and a model trained on it (made once, under umask 077,
    so that nothing below inherits a mode from them)."""
    from pyolcaoml.model import train_model
    from pyolcaoml.model.data import load_dataset

    folder = tmp_path_factory.mktemp("tiny")
    old = os.umask(0o077)
    try:
        data = make_tiny_dataset(folder / "data.h5")
        model = train_model(load_dataset(data), tiny_config(max_epochs=2))
    finally:
        os.umask(old)
    return data, model


def test_outputs_follow_umask(umask, tiny, tmp_path, capsys) -> None:
    file_mode, dir_mode = EXPECTED[umask]
    data, model = tiny
    # model directory and its files
    model.save(tmp_path / "m")
    assert mode(tmp_path / "m") == dir_mode
    for f in (tmp_path / "m").iterdir():
        assert mode(f) == file_mode, f
    # convert: HDF5
    make_tiny_dataset(tmp_path / "d.h5")
    assert mode(tmp_path / "d.h5") == file_mode
    # bispectrum: .npy and .csv
    for name in ("b.npy", "b.csv"):
        assert main(["bispectrum", "--twojmax", "2", "-o", str(tmp_path / name)]) == 0
        assert mode(tmp_path / name) == file_mode
    # predict: scfV.dat and the plot
    out, png = tmp_path / "scfV.dat", tmp_path / "v.png"
    args = [str(tmp_path / "m"), str(RUN / "olcao.skl"), "-o", str(out)]
    assert main(["predict", *args, "--plot", str(png)]) == 0
    assert mode(out) == file_mode and mode(png) == file_mode
    # evaluate: JSON, plot folder and PNGs
    rc = main(
        ["evaluate", str(tmp_path / "m"), str(data), "--which", "all"]
        + ["--json", str(tmp_path / "e.json"), "--plots", str(tmp_path / "plots")]
    )
    assert rc == 0
    assert mode(tmp_path / "e.json") == file_mode
    assert mode(tmp_path / "plots") == dir_mode
    pngs = list((tmp_path / "plots").glob("*.png"))
    # parity_Si, potentials_Si and the calibration's error_vs_sigma
    assert len(pngs) == 3 and all(mode(p) == file_mode for p in pngs)
    # export: model.oml
    assert main(["export", str(tmp_path / "m"), "-o", str(tmp_path / "m.oml")]) == 0
    assert mode(tmp_path / "m.oml") == file_mode
    capsys.readouterr()
    # nothing left behind under a temporary name
    assert not [p for p in tmp_path.rglob(".*") if p.name != ".."]


@pytest.mark.parametrize("old_mode", [0o644, 0o664, 0o600])
def test_predict_run_force_keeps_the_replaced_files_mode(
    umask, old_mode, tmp_path, capsys
) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUN / "inputs", run / "inputs")
    target = run / "inputs" / "scfV.dat"
    os.chmod(target, old_mode)  # makeinput's file, 0644 on most systems
    before = target.read_bytes()
    assert main(["predict", str(run), "--force"]) == 0
    assert target.read_bytes() != before  # replaced by the prediction
    assert mode(target) == old_mode
    capsys.readouterr()
