"""olcaoml predict: scfV.dat files for structures and run directories."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_model_helpers import OLCAO

from pyolcaoml.cli import main
from pyolcaoml.olcao import read_scfv

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "data" / "default_model"
COEFF1 = REPO / "pyolcaoml" / "olcao" / "atomicpdb" / "si" / "coeff1"
RUN = OLCAO / "si8_r0.10_seed1100"  # every atom its own potential type
SHARED = OLCAO / "si8"  # one potential type for all 8 atoms


def coeff1_table() -> np.ndarray:
    rows = COEFF1.read_text().split("\n")[1:]
    return np.array([[float(v) for v in r.split()] for r in rows if r.strip()])


def copy_run(src: Path, dest: Path) -> Path:
    """A run directory as makeinput leaves it (inputs only, no SCF output)."""
    shutil.copytree(src / "inputs", dest / "inputs")
    shutil.copy(src / "olcao.skl", dest / "olcao.skl")
    return dest


@pytest.fixture(scope="module")
def model():
    from pyolcaoml.model import load_model

    return load_model(MODEL)


def test_structure_to_scfv(tmp_path, model) -> None:
    out = tmp_path / "scfV.dat"
    assert main(["predict", str(MODEL), str(RUN / "olcao.skl"), "-o", str(out)]) == 0
    scfv = read_scfv(out)
    real = read_scfv(RUN / "gs_scfV-fb.dat")  # OLCAO's own file for this cell
    assert scfv.n_types == 8 and scfv.term_counts == (16,) * 8
    for ours, theirs in zip(scfv.alphas(), real.alphas(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    # charge columns are the isolated atom's (atomicPDB coeff1, real file)
    iso = coeff1_table()
    for block in scfv.spin_up:
        np.testing.assert_allclose(block.table[:, 2:4], iso[:, 2:4], rtol=1e-6)
    # column 1 is the model's prediction, atom i = type i
    from pyolcaoml.model.workflow import predict_structure
    from pyolcaoml.structure import read_structure

    pred = predict_structure(model, read_structure(str(RUN / "olcao.skl")))
    for a, b in zip(scfv.coeffs("up"), pred.coeffs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    # and far closer to OLCAO's converged potential than to the isolated atom
    err = np.abs(np.array(scfv.coeffs("up")) - np.array(real.coeffs("up"))).mean()
    assert err < np.abs(iso[:, 0] - np.array(real.coeffs("up"))).mean() / 10


def test_ase_format_gives_the_same_prediction(tmp_path) -> None:
    import ase.io

    from pyolcaoml.structure import read_structure

    xyz = tmp_path / "cell.extxyz"
    ase.io.write(xyz, read_structure(str(RUN / "olcao.skl")).to_ase())
    a, b = tmp_path / "a.dat", tmp_path / "b.dat"
    assert main(["predict", str(MODEL), str(RUN / "olcao.skl"), "-o", str(a)]) == 0
    assert main(["predict", str(MODEL), str(xyz), "-o", str(b)]) == 0
    # extxyz stores positions to ~1e-8 Å, which moves A_i by ~1e-8 Hartree
    np.testing.assert_allclose(
        read_scfv(a).coeffs("up"), read_scfv(b).coeffs("up"), rtol=0, atol=1e-6
    )


def test_existing_output_needs_force(tmp_path, capsys) -> None:
    out = tmp_path / "scfV.dat"
    out.write_text("keep me\n")
    args = ["predict", str(MODEL), str(RUN / "olcao.skl"), "-o", str(out)]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert main([*args, "--force"]) == 0
    assert read_scfv(out).n_types == 8


def test_run_directory(tmp_path, capsys) -> None:
    run = copy_run(RUN, tmp_path / "run")
    target = run / "inputs" / "scfV.dat"
    before = target.read_bytes()
    assert main(["predict", str(MODEL), str(run)]) == 2
    assert "--force" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert main(["predict", str(MODEL), str(run), "--force"]) == 0
    new, old = read_scfv(target), read_scfv(RUN / "inputs" / "scfV.dat")
    assert new.n_types == old.n_types == 8
    assert new.term_counts == old.term_counts
    for a, b in zip(new.spin_up, old.spin_up, strict=True):
        np.testing.assert_allclose(a.table[:, 1:], b.table[:, 1:], rtol=1e-6)
    assert not np.allclose(new.coeffs("up"), old.coeffs("up"))
    assert sorted(p.name for p in (run / "inputs").iterdir()) == sorted(
        p.name for p in (RUN / "inputs").iterdir()
    )  # no temporary files left behind


def test_run_with_shared_types_is_refused(tmp_path, capsys) -> None:
    run = copy_run(SHARED, tmp_path / "run")
    target = run / "inputs" / "scfV.dat"
    before = target.read_bytes()
    assert main(["predict", str(MODEL), str(run), "--force"]) == 2
    err = capsys.readouterr().err
    assert "shared by several atoms" in err and "own type" in err
    assert target.read_bytes() == before


def test_run_with_other_exponents_is_projected(tmp_path, capsys) -> None:
    """A run whose Si exponents (0.2 ... 1e6) are not the model's gets the
    predicted V(r) projected onto its own Gaussians, with the error shown."""
    from pyolcaoml.model.potential import DEFAULT_METRIC, geometric_alphas

    run = copy_run(RUN, tmp_path / "run")
    (run / "inputs" / "scfV.dat").unlink()
    dat = run / "inputs" / "olcao.dat"
    text = dat.read_text()
    assert "1.500000e-01 1.000000e+06" in text
    dat.write_text(
        text.replace("1.500000e-01 1.000000e+06", "2.000000e-01 1.000000e+06")
    )
    assert main(["predict", str(MODEL), str(run)]) == 0
    out = capsys.readouterr().out
    assert "Si: the run's exponents differ" in out and "projected" in out
    reported = float(out.split("projection error RMS ")[1].split(" mHa")[0])
    # the same structure on the model's own exponents
    ref = tmp_path / "model_exponents.dat"
    assert main(["predict", str(MODEL), str(RUN / "olcao.skl"), "-o", str(ref)]) == 0
    new, old = read_scfv(run / "inputs" / "scfV.dat"), read_scfv(ref)
    a_run = geometric_alphas(0.2, 1e6, 16)
    r, w = DEFAULT_METRIC.grid()
    rms = []
    for b_new, b_old in zip(new.spin_up, old.spin_up, strict=True):
        np.testing.assert_allclose(b_new.alphas, a_run, rtol=1e-9)
        np.testing.assert_allclose(b_old.alphas, geometric_alphas(0.15, 1e6, 16))
        dv = (
            b_new.coeffs @ np.exp(-np.outer(r**2, a_run)).T
            - b_old.coeffs @ np.exp(-np.outer(r**2, b_old.alphas)).T
        )
        rms.append(np.sqrt(dv**2 @ w))
    rms = np.array(rms)
    # what was printed is what was written, and it is a small but real error
    assert reported == pytest.approx(1000 * np.sqrt(np.mean(rms**2)), abs=2e-3)
    assert 1e-5 < rms.max() < 0.05


def test_unknown_element_writes_nothing(tmp_path, capsys) -> None:
    import ase

    atoms = ase.Atoms(
        "SiGe", positions=[[0, 0, 0], [2.4, 0, 0]], cell=[6, 6, 6], pbc=True
    )
    xyz = tmp_path / "sige.extxyz"
    atoms.write(xyz)
    out = tmp_path / "scfV.dat"
    assert main(["predict", str(MODEL), str(xyz), "-o", str(out)]) == 2
    assert "Ge not in the model" in capsys.readouterr().err
    assert not out.exists()


def test_corrupted_model_writes_nothing(tmp_path, capsys) -> None:
    bad = tmp_path / "model"
    shutil.copytree(MODEL, bad)
    # predict reads the networks' arrays (the Keras files only with keras=True)
    (bad / "networks.npz").write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "scfV.dat"
    assert main(["predict", str(bad), str(RUN / "olcao.skl"), "-o", str(out)]) == 2
    assert "corrupted" in capsys.readouterr().err
    assert not out.exists()
    assert (
        main(
            ["predict", str(tmp_path / "none"), str(RUN / "olcao.skl"), "-o", str(out)]
        )
        == 2
    )
    assert not out.exists()


def test_scfv_text_is_byte_identical_to_olcao(model) -> None:
    """The (cached, fast) formatter reproduces real files and its own
    uncached row formatting, in both layouts."""
    from pyolcaoml.model.workflow import scfv_for_atoms
    from pyolcaoml.olcao import format_scfv

    real = read_scfv(RUN / "gs_scfV-fb.dat")  # OLCAO's layout
    assert format_scfv(real) == (RUN / "gs_scfV-fb.dat").read_text()
    start = read_scfv(RUN / "inputs" / "scfV.dat")  # makeinput's layout
    assert format_scfv(start) == (RUN / "inputs" / "scfV.dat").read_text()
    rng = np.random.default_rng(0)
    coeffs = [model.elements["Si"].average + rng.normal(0, 5, 16) for _ in range(5)]
    pred = scfv_for_atoms(model, ["Si"] * 5, coeffs)
    rows = [line for line in format_scfv(pred).splitlines() if len(line.split()) == 5]
    expected = [pred.style.row(r) for b in pred.spin_up + pred.spin_dn for r in b.table]
    assert rows == expected
    bad = scfv_for_atoms(model, ["Si"], [np.full(16, np.nan)])
    with pytest.raises(ValueError, match="non-finite"):
        format_scfv(bad)
