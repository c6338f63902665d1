"""Argument and output-path checks come first (before descriptors, before
TensorFlow), name the argument or file, and never show a temporary name;
the bundled model is usable as 'default' or by leaving MODEL out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_model_helpers import OLCAO, make_tiny_dataset

from pyolcaoml.cli import main
from pyolcaoml.olcao import read_scfv

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "data" / "default_model"
RUN = OLCAO / "si8_r0.10_seed1100"
SKL = RUN / "olcao.skl"


def gaas_file(tmp_path: Path) -> Path:
    """Elements that no bundled model has (the bundled 'sic' has C)."""
    from ase.build import bulk

    path = tmp_path / "gaas.extxyz"
    bulk("GaAs", "zincblende", a=5.65, cubic=True).write(path)
    return path


def sic_file(tmp_path: Path) -> Path:
    from ase.build import bulk

    path = tmp_path / "sic.extxyz"
    bulk("SiC", "zincblende", a=4.36, cubic=True).write(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("d") / "data.h5")


# -- early checks, without TensorFlow --------------------------------------------
def test_bad_arguments_fail_before_tensorflow_is_imported(tmp_path, tiny) -> None:
    """Each command is run in a fresh interpreter; after the failure,
    TensorFlow must not have been imported (that import alone takes 10-20 s)."""
    gaas = gaas_file(tmp_path)
    cases = {
        "element": ["predict", str(gaas), "-o", str(tmp_path / "x.dat")],
        "model file": ["predict", str(tiny), str(SKL), "-o", str(tmp_path / "x")],
        "predict dir": ["predict", str(SKL), "-o", str(tmp_path / "no" / "x.dat")],
        "plot suffix": ["predict", str(SKL), "-o", str(tmp_path / "y"), "--plot", "a"],
        "eval json": [
            "evaluate", "default", str(tiny), "--which", "all",
            "--json", str(tmp_path / "nodir" / "e.json"),
        ],
        "eval name": ["evaluate", "default", str(tiny), "--structures", "nope"],
        "eval unseen": ["evaluate", str(MODEL), str(tiny), "--which", "holdout"],
        "train holdout": [
            "train", str(tiny), "-o", str(tmp_path / "m"), "--holdout", "nope",
        ],
        "train dir": ["train", str(tiny), "-o", str(tmp_path / "no" / "m")],
        "train act": [
            "train", str(tiny), "-o", str(tmp_path / "m"), "--activation", "x",
        ],
        "train bag": [
            "train", str(tiny), "-o", str(tmp_path / "m"), "--in-every-bag", "a",
        ],
    }  # fmt: skip
    expected = {
        "element": "As, Ga not in the model",
        "model file": "is a file, not a model directory",
        "predict dir": f"folder {tmp_path / 'no'} does not exist",
        "plot suffix": "--plot a: use a file name ending in .png",
        "eval json": f"--json {tmp_path / 'nodir' / 'e.json'}: folder",
        "eval name": "not in",
        "eval unseen": "none of the model's holdout structures",
        "train holdout": "unknown structure name(s): nope",
        "train dir": f"folder {tmp_path / 'no'} does not exist",
        "train act": "--activation must be one of",
        "train bag": "--in-every-bag is for an ensemble",
    }
    # One fresh interpreter runs every case in turn; TensorFlow must still
    # not be imported after each failure.
    script = (
        "import contextlib, io, json, sys\n"
        "from pyolcaoml.cli import main\n"
        "out = {}\n"
        "for name, argv in json.loads(sys.argv[1]).items():\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):\n"
        "        rc = main(argv)\n"
        "    out[name] = [rc, 'tensorflow' in sys.modules or 'keras' in sys.modules,\n"
        "                 err.getvalue()]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cases)],
        cwd=tmp_path,  # not the repository: import the installed package
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (rc, tensorflow, err) in results.items():
        assert rc == 2 and not tensorflow, (name, rc, tensorflow, err)
        assert expected[name] in err, (name, err)
        assert ".tmp" not in err and "olcaoml-" not in err


def test_bispectrum_checks_output_before_computing(tmp_path, capsys) -> None:
    (tmp_path / "b.npy").write_bytes(b"x")
    for out, message in [
        (tmp_path / "b.npy", "exists; use --force"),
        (tmp_path / "b.dat", "use a file name ending in .npy, .txt, .csv"),
        (tmp_path / "nodir" / "b.npy", f"folder {tmp_path / 'nodir'} does not exist"),
    ]:
        assert main(["bispectrum", "-o", str(out)]) == 2
        captured = capsys.readouterr()
        assert message in captured.err
        assert "computed" not in captured.out  # nothing was computed or printed
        assert ".tmp" not in captured.err
    assert (tmp_path / "b.npy").read_bytes() == b"x"


def test_convert_into_missing_folder_names_it(tmp_path, capsys) -> None:
    out = tmp_path / "nodir" / "d.h5"
    assert main(["convert", str(RUN), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"-o/--output {out}: folder {tmp_path / 'nodir'} does not exist" in err
    assert ".tmp" not in err


def test_threads_zero_names_the_flag(capsys) -> None:
    for command in (["bispectrum"], ["predict", str(SKL), "-o", "x"]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--threads", "0"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "argument --threads" in err and "n_threads" not in err


# -- the bundled model ------------------------------------------------------------
def test_bundled_model_by_default_and_by_name(tmp_path, capsys) -> None:
    outs = {}
    for key, model in {
        "path": [str(MODEL)],
        "default": ["default"],
        "none": [],
    }.items():
        outs[key] = tmp_path / f"{key}.dat"
        assert main(["predict", *model, str(SKL), "-o", str(outs[key])]) == 0
    assert outs["default"].read_bytes() == outs["path"].read_bytes()
    assert outs["none"].read_bytes() == outs["path"].read_bytes()
    capsys.readouterr()
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    from pyolcaoml.model.saved import bundled_model_path

    # the installed package's copy (the repository's data/ in a dev install)
    assert os.path.samefile(bundled_model_path(), MODEL) or "site-packages" in str(
        bundled_model_path()
    )
    assert f"bundled model   {bundled_model_path()}" in out


def test_output_option_with_a_run_directory(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    import shutil

    shutil.copytree(RUN / "inputs", run / "inputs")
    before = (run / "inputs" / "scfV.dat").read_bytes()
    out = tmp_path / "predicted.dat"
    assert main(["predict", str(run), "-o", str(out)]) == 0
    assert (run / "inputs" / "scfV.dat").read_bytes() == before  # untouched
    assert str(out) in capsys.readouterr().out
    # same numbers as the structure route (type i = atom i in this run; the
    # skeleton and structure.dat positions differ by their rounding, ~1e-6 Ha)
    ref = tmp_path / "ref.dat"
    assert main(["predict", str(SKL), "-o", str(ref)]) == 0
    np.testing.assert_allclose(
        read_scfv(out).coeffs("up"), read_scfv(ref).coeffs("up"), atol=1e-5
    )


# -- default radii ----------------------------------------------------------------
def test_default_radii_from_covalent_radii(tmp_path, capsys) -> None:
    """SiC without --radius: Si 2.35 Å, C its covalent radius (ASE's table,
    Cordero 2008: 0.76 Å) scaled by 2.35/1.11; --radius still overrides."""
    from pyolcaoml import Bispectrum
    from pyolcaoml.structure import read_structure

    sic = sic_file(tmp_path)
    out = tmp_path / "b.npy"
    assert main(["bispectrum", str(sic), "--twojmax", "4", "-o", str(out)]) == 0
    structure = read_structure(str(sic))
    want = Bispectrum(twojmax=4, radii={"C": 0.76 * 2.35 / 1.11, "Si": 2.35})
    np.testing.assert_allclose(np.load(out), want.compute(structure), rtol=1e-3)
    assert (
        main(
            ["bispectrum", str(sic), "--twojmax", "4", "--radius", "C=1.2"]
            + ["-o", str(out), "--force"]
        )
        == 0
    )
    want = Bispectrum(twojmax=4, radii={"C": 1.2, "Si": 2.35})
    np.testing.assert_allclose(np.load(out), want.compute(structure), rtol=1e-12)
    capsys.readouterr()
