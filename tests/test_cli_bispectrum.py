"""The `olcaoml bispectrum` and `olcaoml info` commands."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from pyolcaoml import Bispectrum
from pyolcaoml.cli import main
from pyolcaoml.resources import bundled_structure
from pyolcaoml.structure import read_structure


def test_default_runs_on_bundled_asi(capsys) -> None:
    assert main(["bispectrum"]) == 0
    out = capsys.readouterr().out
    assert "64 atoms: 64 Si" in out and "B[0,0,0]" in out


def test_saves_array_equal_to_api(tmp_path) -> None:
    out = tmp_path / "b.npy"
    assert (
        main(["bispectrum", "--twojmax", "4", "--radius", "Si=2.4", "-o", str(out)])
        == 0
    )
    expected = Bispectrum(twojmax=4, radii={"Si": 2.4}).compute(
        read_structure(str(bundled_structure()))
    )
    np.testing.assert_array_equal(np.load(out), expected)
    # Never silently overwrite.
    assert main(["bispectrum", "-o", str(out)]) == 2
    assert main(["bispectrum", "-o", str(out), "--force", "--twojmax", "2"]) == 0
    assert np.load(out).shape == (64, 5)


def test_reads_any_ase_format(tmp_path) -> None:
    atoms = read_structure(str(bundled_structure())).to_ase()
    path = tmp_path / "asi.xyz"
    write(path, atoms, format="extxyz")
    assert (
        main(
            [
                "bispectrum",
                str(path),
                "--scales",
                "1.0,1.5",
                "--twojmax",
                "2",
                "-o",
                str(tmp_path / "b.txt"),
            ]
        )
        == 0
    )
    assert np.loadtxt(tmp_path / "b.txt").shape == (64, 10)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--twojmax", "-2"], "twojmax"),
        (["--radius", "Si"], "ELEMENT=VALUE"),
        (["--rfac0", "2"], "rfac0"),
        (["no/such/file.skl"], "no such file"),
    ],
)
def test_bad_arguments(argv, message, capsys) -> None:
    try:
        status = main(["bispectrum", *argv])
    except SystemExit as exc:  # argparse rejects malformed options itself
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err


def test_info(capsys) -> None:
    assert main(["info"]) == 0
    assert "max twojmax" in capsys.readouterr().out
