"""OlcaoRun: a whole run directory, its derived data and consistency checks."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from pyolcaoml.olcao import (
    OlcaoFormatError,
    OlcaoRun,
    find_run_dirs,
    read_run,
    read_scfv,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "olcao"
SHARED_RUNS = SHARED / "olcao-runs"


def _copy(run: str, tmp_path: Path) -> Path:
    dest = tmp_path / run
    shutil.copytree(DATA / run, dest)
    return dest


def test_run_one_type_per_atom() -> None:
    run = OlcaoRun.from_directory(DATA / "si8_r0.10_seed1100")
    assert run.name == "si8_r0.10_seed1100"
    assert run.n_atoms == 8 and run.n_types == 8 and run.basis == "fb"
    np.testing.assert_array_equal(run.atom_pot_types, np.arange(1, 9))
    np.testing.assert_array_equal(run.type_multiplicity, np.ones(8))
    assert run.shared_types == ()
    assert run.kpoints == (2, 2, 2)  # meta.json
    assert run.meta is not None and run.meta["seed"] == 1100
    assert run.settings["convergence_test"] == 1e-6
    assert run.settings["last_iteration"] == 60
    assert run.converged  # 6.2e-7 < 1e-6
    assert run.history is not None and run.history.final_total_energy == -31.03850226
    per_atom = run.converged_coeffs_per_atom
    gs = read_scfv(DATA / "si8_r0.10_seed1100" / "gs_scfV-fb.dat")
    assert per_atom is not None and len(per_atom) == 8
    for i in range(8):
        np.testing.assert_array_equal(per_atom[i], gs.spin_up[i].coeffs)
    for alphas, block in zip(run.alphas_per_type, gs.spin_up, strict=True):
        np.testing.assert_allclose(alphas, block.alphas, rtol=1e-9)
    np.testing.assert_allclose(run.structure.cell, np.diag([5.431] * 3), rtol=2e-8)


def test_run_shared_type() -> None:
    run = read_run(DATA / "si8")
    assert run.n_types == 1
    np.testing.assert_array_equal(run.atom_pot_types, np.ones(8))
    np.testing.assert_array_equal(run.type_multiplicity, np.full(8, 8))
    assert run.shared_types == (1,)
    assert run.kpoints == (2, 2, 2)  # from inputs/kp-scf.dat: no meta.json
    assert run.meta is None
    per_atom = run.converged_coeffs_per_atom
    assert per_atom is not None
    assert all(np.array_equal(c, per_atom[0]) for c in per_atom)
    assert per_atom[0][0] == -0.5858865209


def test_hashes(tmp_path: Path) -> None:
    run = read_run(DATA / "si8_types")
    for rel, digest in run.file_hashes.items():
        assert (
            hashlib.sha256((DATA / "si8_types" / rel).read_bytes()).hexdigest()
            == digest
        )
    assert set(run.file_hashes) == {
        "olcao.skl",
        "inputs/olcao.dat",
        "inputs/structure.dat",
        "inputs/scfV.dat",
        "inputs/kp-scf.dat",
        "gs_scfV-fb.dat",
        "gs_iter-fb.dat",
    }
    copy = read_run(_copy("si8_types", tmp_path))
    assert copy.content_hash == run.content_hash and copy.path != run.path
    other = read_run(DATA / "si8")
    assert other.content_hash != run.content_hash


def test_run_without_converged_potential(tmp_path: Path) -> None:
    path = _copy("si8_types", tmp_path)
    (path / "gs_scfV-fb.dat").unlink()
    (path / "gs_iter-fb.dat").unlink()
    run = read_run(path)
    assert run.converged_potential is None and run.basis is None
    assert run.converged_coeffs_per_atom is None and run.history is None
    assert not run.converged
    assert run.start_potential is not None


def test_find_run_dirs(tmp_path: Path) -> None:
    found = find_run_dirs([DATA])
    assert [Path(p).name for p in found] == ["si8", "si8_r0.10_seed1100", "si8_types"]
    assert find_run_dirs([DATA / "si8", DATA]) == [str(DATA / "si8"), *found[1:]]
    with pytest.raises(FileNotFoundError):
        find_run_dirs([tmp_path / "nope"])
    assert find_run_dirs([tmp_path]) == []


# -- inconsistent runs ------------------------------------------------------------


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


def test_term_count_mismatch(tmp_path: Path) -> None:
    path = _copy("si8", tmp_path)
    _edit(path / "inputs" / "olcao.dat", "NUM_ALPHAS\n16\n", "NUM_ALPHAS\n15\n")
    with pytest.raises(
        OlcaoFormatError,
        match=r"inputs/scfV.dat: type 1 has 16 terms, but .*inputs/olcao.dat has "
        r"NUM_ALPHAS 15 for si1_1",
    ):
        read_run(path)


def test_type_count_mismatch(tmp_path: Path) -> None:
    path = _copy("si8_types", tmp_path)
    shutil.copy(DATA / "si8" / "gs_scfV-fb.dat", path / "gs_scfV-fb.dat")
    with pytest.raises(
        OlcaoFormatError,
        match=r"gs_scfV-fb.dat: 1 potential types, but .*olcao.dat has "
        r"NUM_POTENTIAL_TYPES 8",
    ):
        read_run(path)


def test_alpha_mismatch(tmp_path: Path) -> None:
    path = _copy("si8", tmp_path)
    _edit(
        path / "inputs" / "olcao.dat",
        "1.500000e-01 1.000000e+06",
        "1.600000e-01 1.000000e+06",
    )
    with pytest.raises(OlcaoFormatError, match=r"type 1: exponents in column 2 differ"):
        read_run(path)


def test_element_mismatch(tmp_path: Path) -> None:
    path = _copy("si8_types", tmp_path)
    sd = path / "inputs" / "structure.dat"
    lines = sd.read_text().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(" si", " c")  # potential site 8 only
    sd.write_text("".join(lines))
    with pytest.raises(
        OlcaoFormatError,
        match=r"structure.dat: atom site 8 \(si\) sits on potential site 8 of "
        r"element c",
    ):
        read_run(path)
    lines[14] = lines[14].replace(" si", " c")  # atom site 8 too
    sd.write_text("".join(lines))
    with pytest.raises(
        OlcaoFormatError,
        match=r"structure.dat: potential site 8 is c but its potential type 8 is "
        r"si1_8 \(Si\) in .*olcao.dat",
    ):
        read_run(path)


def test_atom_count_mismatch_with_skeleton(tmp_path: Path) -> None:
    path = _copy("si8", tmp_path)
    _edit(path / "olcao.skl", "supercell 1 1 1", "supercell 2 1 1")
    with pytest.raises(
        OlcaoFormatError,
        match=r"olcao.skl: 16 atoms, but .*structure.dat has NUM_ATOM_SITES 8",
    ):
        read_run(path)


def test_meta_mismatch(tmp_path: Path) -> None:
    path = _copy("si8_r0.10_seed1100", tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    meta["n_atoms"] = 9
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        OlcaoFormatError, match=r"meta.json: n_atoms is 9, but atoms in"
    ):
        read_run(path)
    (path / "meta.json").write_text("{ not json")
    with pytest.raises(OlcaoFormatError, match=r"meta.json, line 1: invalid JSON"):
        read_run(path)


def test_missing_scf_log(tmp_path: Path) -> None:
    path = _copy("si8", tmp_path)
    (path / "gs_iter-fb.dat").unlink()
    with pytest.raises(
        OlcaoFormatError, match=r"gs_scfV-fb.dat exists but gs_iter-fb.dat"
    ):
        read_run(path)


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(OlcaoFormatError, match="not an OLCAO run directory"):
        read_run(tmp_path)


@pytest.mark.skipif(not SHARED_RUNS.is_dir(), reason=f"{SHARED_RUNS} not present")
def test_every_shared_run_agrees_with_its_meta() -> None:
    paths = find_run_dirs([SHARED_RUNS])
    assert len(paths) >= 30
    for path in paths:
        run = read_run(path)
        meta = run.meta
        assert meta is not None, path
        assert run.n_atoms == meta["n_atoms"] == run.n_types
        assert run.converged == meta["converged"], path
        assert run.history is not None
        assert run.history.final_total_energy == pytest.approx(
            meta["total_energy_Ha"], abs=1e-7
        )
        assert run.history.n_iterations == meta["iterations_total"]
        assert run.settings["kpoints"] == meta["kpoints"]
