"""olcaoml convert and the HDF5 dataset (schema of docs/dataset.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.bispectrum import Bispectrum, MultiScaleBispectrum
from pyolcaoml.cli import main
from pyolcaoml.dataset import load_dataset, record_from_run, write_dataset
from pyolcaoml.olcao import read_run
from pyolcaoml.structure import BOHR_IN_ANGSTROM

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "olcao"
SHARED_RUNS = SHARED / "olcao-runs"
#: find_run_dirs sorts runs by path
ORDER = ["si8", "si8_r0.10_seed1100", "si8_types"]
#: isolated Si atom, atomicPDB/si/coeff1 column 1, first and last rows
SI_ISOLATED_FIRST, SI_ISOLATED_LAST = -1.337080128, 23.20468663


def _convert(*args: str | Path) -> int:
    return main(["convert", "--quiet", *[str(a) for a in args]])


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("convert") / "data.h5"
    assert _convert(DATA, "-o", out) == 0
    return out


def test_schema_and_counts(converted: Path) -> None:
    with h5py.File(converted, "r") as f:
        assert f.attrs["format"] == "pyolcaoml-dataset" and f.attrs["version"] == 1
        assert json.loads(f.attrs["descriptor"]) == Bispectrum(twojmax=8).to_dict()
        assert f.attrs["pyolcaoml_version"] == "0.1.0"
        assert "T" in f.attrs["created"]
        s, a = f["structures"], f["atoms"]
        assert [x.decode() for x in s["name"][()]] == ORDER
        assert [x.decode() for x in s["run_path"][()]] == [str(DATA / r) for r in ORDER]
        np.testing.assert_array_equal(s["n_atoms"][()], [8, 8, 8])
        np.testing.assert_array_equal(s["atom_start"][()], [0, 8, 16])
        assert s["cell"].shape == (3, 3, 3) and s["cell"].dtype == np.float64
        # last rows of the three gs_iter-fb.dat files
        np.testing.assert_array_equal(
            s["total_energy_Ha"][()], [-31.06604751, -31.03850226, -31.06604823]
        )
        np.testing.assert_array_equal(s["iterations"][()], [5, 13, 5])
        np.testing.assert_array_equal(
            s["final_convergence"][()], [0.00003974, 0.00000062, 0.00004254]
        )
        # CONVERGENCE_TEST 1e-4, 1e-6, 1e-4
        np.testing.assert_array_equal(s["converged"][()], [True, True, True])
        assert s["converged"].dtype == bool
        settings = json.loads(s["settings"][1])
        assert settings["convergence_test"] == 1e-6 and settings["kpoints"] == [2, 2, 2]
        hashes = json.loads(s["file_hashes"][0])
        assert "gs_scfV-fb.dat" in hashes and "inputs/olcao.dat" in hashes
        assert len({x for x in s["content_hash"][()]}) == 3
        assert a["element"].shape == (24,)
        assert {x.decode() for x in a["element"][()]} == {"Si"}
        np.testing.assert_array_equal(a["structure_index"][()], np.repeat([0, 1, 2], 8))
        np.testing.assert_array_equal(a["pot_type"][()][:8], np.ones(8))
        np.testing.assert_array_equal(a["pot_type"][()][8:16], np.arange(1, 9))
        np.testing.assert_array_equal(a["type_multiplicity"][()][:8], np.full(8, 8))
        np.testing.assert_array_equal(a["type_multiplicity"][()][8:], np.ones(16))
        assert a["position"].shape == (24, 3)
        assert a["descriptors"].shape == (24, 55)
        si = f["elements/Si"]
        assert si.attrs["n_alphas"] == 16
        alphas = si["alphas"][()]
        assert alphas[0] == pytest.approx(0.15, rel=1e-14)
        assert alphas[-1] == pytest.approx(1e6, rel=1e-14)
        assert si["isolated_coeffs"][0] == SI_ISOLATED_FIRST
        assert si["isolated_coeffs"][-1] == SI_ISOLATED_LAST
        np.testing.assert_array_equal(si["atom_index"][()], np.arange(24))
        assert si["coeffs"].shape == (24, 16)
        np.testing.assert_array_equal(si["atom_alphas"][()], np.tile(alphas, (24, 1)))


def test_values_follow_the_files(converted: Path) -> None:
    ds = load_dataset(converted)
    si = ds.element_data["Si"]
    # si8: one type, first row of gs_scfV-fb.dat for all 8 atoms
    np.testing.assert_array_equal(si.coeffs[:8, 0], np.full(8, -0.5858865209))
    # si8_types: atom i has type i; gs_scfV rows from the file
    lines = (DATA / "si8_types" / "gs_scfV-fb.dat").read_text().splitlines()
    for atom in range(8):
        first_row = lines[3 + 17 * atom].split()
        assert si.coeffs[16 + atom, 0] == float(first_row[0])
        assert si.coeffs[16 + atom, 15] == float(lines[3 + 17 * atom + 15].split()[0])
    # positions: structure.dat (Bohr) in Å
    sd_lines = (
        (DATA / "si8_types" / "inputs" / "structure.dat").read_text().splitlines()
    )
    sd_line = sd_lines[7 + 6]  # atom 7 (header: 7 lines)
    xyz = [float(v) * BOHR_IN_ANGSTROM for v in sd_line.split()[2:5]]
    np.testing.assert_allclose(ds.positions[16 + 6], xyz, rtol=1e-15)
    np.testing.assert_allclose(
        ds.cells[2], np.diag([10.262535527370342692 * BOHR_IN_ANGSTROM] * 3)
    )


def test_descriptors_are_the_bispectrum(converted: Path) -> None:
    ds = load_dataset(converted)
    b = Bispectrum(twojmax=8, radii={"Si": 2.35})
    for i in range(ds.n_structures):
        expected = b.compute(ds.structure(i))
        np.testing.assert_array_equal(ds.descriptors[ds.atom_rows(i)], expected)
    # the diamond cell: all 8 atoms equivalent
    first = ds.descriptors[:8]
    np.testing.assert_allclose(first, np.tile(first[0], (8, 1)), rtol=1e-10, atol=1e-12)
    assert ds.descriptor() == b


def test_dataset_helpers(converted: Path) -> None:
    ds = load_dataset(converted)
    assert ds.n_structures == 3 and ds.n_features == 55
    assert ds.element_symbols == ("Si",)
    assert ds.features("Si").shape == (24, 55)
    assert ds.targets("Si").shape == (24, 16)
    np.testing.assert_array_equal(ds.groups("Si"), np.repeat([0, 1, 2], 8))
    s = ds.structure(1)
    assert len(s) == 8 and s.symbols == ("Si",) * 8


def test_append_deduplicates(tmp_path: Path) -> None:
    out = tmp_path / "data.h5"
    assert _convert(DATA / "si8", "-o", out) == 0
    twin = tmp_path / "copy_of_si8_types"
    shutil.copytree(DATA / "si8_types", twin)
    assert _convert(DATA, twin, "-o", out, "--append") == 0
    ds = load_dataset(out)
    # si8 already there; the copy has the same content as si8_types
    assert ds.names == ["si8", "si8_r0.10_seed1100", "si8_types"]
    assert ds.n_atoms.sum() == 24 and len(ds.elements) == 24
    np.testing.assert_array_equal(ds.atom_start, [0, 8, 16])
    np.testing.assert_array_equal(ds.element_data["Si"].atom_index, np.arange(24))
    before = out.read_bytes()
    assert _convert(DATA, "-o", out, "--append") == 0
    assert out.read_bytes() == before  # nothing new: untouched


def test_append_to_missing_file_creates_it(tmp_path: Path) -> None:
    out = tmp_path / "new.h5"
    assert _convert(DATA / "si8", "-o", out, "--append") == 0
    assert load_dataset(out).names == ["si8"]


def test_skips_run_without_converged_potential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(DATA, runs)
    (runs / "si8_types" / "gs_scfV-fb.dat").unlink()
    out = tmp_path / "data.h5"
    assert main(["convert", str(runs), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped, no converged potential" in err and str(runs / "si8_types") in err
    assert load_dataset(out).names == ["si8", "si8_r0.10_seed1100"]


def test_exclude_shared_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.h5"
    assert main(["convert", str(DATA), "-o", str(out), "--exclude-shared-types"]) == 0
    err = capsys.readouterr().err
    assert f"{DATA / 'si8'} (8 of 8 atoms share 1 potential type(s))" in err
    ds = load_dataset(out)
    assert ds.names == ["si8_r0.10_seed1100", "si8_types"]
    assert np.all(ds.type_multiplicity == 1)


def test_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.h5"
    out.write_bytes(b"precious")
    assert _convert(DATA / "si8", "-o", out) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert _convert(DATA / "si8", "-o", out, "--force") == 0
    assert load_dataset(out).names == ["si8"]


def test_failure_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(DATA, runs)
    scfv = runs / "si8_types" / "gs_scfV-fb.dat"
    lines = scfv.read_text().splitlines(keepends=True)
    lines[16] = " -0.1066370498E+02  0.3508106349E+06  0.169587E+02\n"
    scfv.write_text("".join(lines))
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "data.h5"
    assert _convert(runs, "-o", out, "--fail-fast") == 2
    assert f"{scfv}, line 17: expected 5 numbers, got 3" in capsys.readouterr().err
    assert list(outdir.iterdir()) == []
    # a failed append leaves the old file as it was
    assert _convert(DATA / "si8", "-o", out) == 0
    before = out.read_bytes()
    assert _convert(runs, "-o", out, "--append", "--fail-fast") == 2
    assert out.read_bytes() == before
    assert list(outdir.iterdir()) == [out]


def test_bad_run_reported_others_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(DATA, runs)
    scfv = runs / "si8" / "gs_scfV-fb.dat"
    lines = scfv.read_text().splitlines(keepends=True)
    lines[16] = " -0.1066370498E+02  0.3508106349E+06  0.169587E+02\n"
    scfv.write_text("".join(lines))
    out = tmp_path / "data.h5"
    assert _convert(runs, "-o", out) == 1  # some input failed
    err = capsys.readouterr().err
    assert "failed (1)" in err
    assert f"{scfv}, line 17: expected 5 numbers, got 3" in err
    assert load_dataset(out).names == ORDER[1:]


def test_append_needs_same_descriptor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.h5"
    assert _convert(DATA / "si8", "-o", out) == 0
    before = out.read_bytes()
    assert _convert(DATA, "-o", out, "--append", "--twojmax", "6") == 2
    assert "other descriptor settings" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_descriptor_options(tmp_path: Path) -> None:
    out = tmp_path / "ms.h5"
    args = ["--twojmax", "6", "--scales", "1.0,1.5", "--radius", "Si=2.2"]
    args += ["--weight", "Si=0.5", "--rcutfac", "1.1", "--bnorm", "--no-switch"]
    assert _convert(DATA / "si8_types", "-o", out, *args) == 0
    ds = load_dataset(out)
    expected = MultiScaleBispectrum(
        scales=[1.0, 1.5],
        twojmax=6,
        rcutfac=1.1,
        radii={"Si": 2.2},
        weights={"Si": 0.5},
        bnorm=True,
        switch=False,
    )
    assert ds.descriptor_settings == expected.to_dict()
    assert ds.n_features == 2 * 30
    np.testing.assert_array_equal(ds.descriptors, expected.compute(ds.structure(0)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight", "C=1.0"], "no radius for C"),
        (["--twojmax", "-2"], "twojmax"),
    ],
)
def test_bad_descriptor_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "x.h5"
    assert _convert(DATA, "-o", out, *args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_radius_syntax(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        _convert(DATA, "-o", tmp_path / "x.h5", "--radius", "Si:2.3")
    assert info.value.code == 2


def test_no_runs_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _convert(tmp_path, "-o", tmp_path / "x.h5") == 2
    assert "no OLCAO run directories" in capsys.readouterr().err
    assert _convert(tmp_path / "missing", "-o", tmp_path / "x.h5") == 2


def test_writer_rejects_mixed_exponents(tmp_path: Path) -> None:
    """Exponents of one element must agree between runs (and with atomicPDB)."""
    run = read_run(DATA / "si8")
    descriptors = np.zeros((8, 3))
    out = tmp_path / "x.h5"
    write_dataset(out, [record_from_run(run, descriptors)], {"type": "test"})
    other = record_from_run(read_run(DATA / "si8_types"), descriptors)
    other.atom_alphas = [a * 1.01 for a in other.atom_alphas]
    before = out.read_bytes()
    with pytest.raises(ValueError, match=r"si8_types: the exponents of Si differ"):
        write_dataset(out, [other], {"type": "test"}, append=True)
    assert out.read_bytes() == before
    # Exponents other than atomicPDB's (e.g. makeinput -modpot): the isolated
    # atom is atomicPDB's V(r) projected onto them, with the error recorded.
    write_dataset(tmp_path / "y.h5", [other], {"type": "test"})
    import h5py

    from pyolcaoml.olcao import load_atomic_potential

    with h5py.File(tmp_path / "y.h5") as f:
        g = f["elements/Si"]
        alphas, iso = g["alphas"][()], g["isolated_coeffs"][()]
        err = g.attrs["isolated_projection_rms_hartree"]
    pdb = load_atomic_potential("Si")
    np.testing.assert_allclose(alphas, pdb.alphas * 1.01)
    r = np.linspace(0.05, 6.0, 300)
    v_new = iso @ np.exp(-np.outer(r**2, alphas)).T
    v_pdb = pdb.coeffs @ np.exp(-np.outer(r**2, pdb.alphas)).T
    assert 0 < err < 0.01 * np.abs(v_pdb).max()
    assert np.sqrt(np.mean((v_new - v_pdb) ** 2 * r**2) / np.mean(r**2)) < 3 * err


def test_writer_rejects_unbundled_element(tmp_path: Path) -> None:
    rec = record_from_run(read_run(DATA / "si8"), np.zeros((8, 3)))
    rec.elements = ["Fe"] * 8
    with pytest.raises(ValueError, match="no atomicPDB entry bundled for element 'Fe'"):
        write_dataset(tmp_path / "x.h5", [rec], {"type": "test"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not SHARED_RUNS.is_dir(), reason=f"{SHARED_RUNS} not present")
def test_convert_all_shared_runs(tmp_path: Path) -> None:
    out = tmp_path / "all.h5"
    assert _convert(SHARED_RUNS, "-o", out) == 0
    ds = load_dataset(out)
    metas = [json.loads((Path(p) / "meta.json").read_text()) for p in ds.run_paths]
    assert ds.n_structures == len(metas) >= 30
    np.testing.assert_array_equal(ds.n_atoms, [m["n_atoms"] for m in metas])
    np.testing.assert_array_equal(ds.converged, [m["converged"] for m in metas])
    np.testing.assert_allclose(
        ds.total_energy_Ha, [m["total_energy_Ha"] for m in metas], atol=1e-7
    )
    assert len(ds.elements) == sum(m["n_atoms"] for m in metas)
    assert np.all(ds.type_multiplicity == 1)


#: Two real SiC runs that stopped above their CONVERGENCE_TEST (1e-6) after
#: 60 iterations: one just short (8.76e-6), one stalled (2.18e-2; the last
#: rows of their gs_iter-fb.dat).
SIC_STOP28 = REPO / "data" / "sic" / "test_runs_stop28"
NEARLY = SIC_STOP28 / "amorphous" / "sic16_rr_seed12020"
STALLED = SIC_STOP28 / "defect" / "sic16_Ci_r0.05_seed12012"


@pytest.mark.parametrize(
    ("limit", "kept"),
    [
        ([], []),
        (["--include-unconverged"], ["sic16_rr_seed12020", "sic16_Ci_r0.05_seed12012"]),
        (["--include-unconverged", "1e-3"], ["sic16_rr_seed12020"]),
        (["--include-unconverged", "1e-5"], ["sic16_rr_seed12020"]),
        (["--include-unconverged", "8e-6"], []),
    ],
)
def test_include_unconverged_up_to_a_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit, kept
) -> None:
    out = tmp_path / "data.h5"
    rc = main(
        [
            "convert",
            NEARLY.as_posix(),
            STALLED.as_posix(),
            "-o",
            str(out),
            "--twojmax",
            "2",
            *limit,
        ]
    )
    err = capsys.readouterr().err
    assert "8.76e-06" in err and "0.0218" in err  # both named with their values
    if not kept:
        assert rc == 2 and not out.exists()
        assert "nothing written" in err
        return
    assert rc == 0
    ds = load_dataset(out)
    assert sorted(ds.names) == sorted(kept)
    if len(kept) == 1:  # the stalled one, left out by the limit, says so
        assert f"above --include-unconverged's {float(limit[1]):.3g}" in err


@pytest.mark.parametrize("bad", ["0", "-1e-3", "nan", "abc"])
def test_include_unconverged_limit_must_be_positive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "convert",
                str(NEARLY),
                "-o",
                str(tmp_path / "d.h5"),
                f"--include-unconverged={bad}",
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--include-unconverged" in err and repr(bad) in err
    assert not (tmp_path / "d.h5").exists()
