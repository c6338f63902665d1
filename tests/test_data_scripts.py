"""Command-line guards of the scripts that make the OLCAO data (data/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKE_STRUCTURES = REPO / "data" / "runs" / "make_structures.py"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MAKE_STRUCTURES), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_structures_help_prints_usage_and_writes_nothing(tmp_path):
    done = _run(["--help"], tmp_path)
    assert done.returncode == 0
    assert "usage: make_structures.py OUTDIR" in done.stdout
    assert list(tmp_path.iterdir()) == []  # it once made a folder "--help"


def test_make_structures_refuses_an_option_where_outdir_belongs(tmp_path):
    done = _run(["--batch2", "1"], tmp_path)
    assert done.returncode == 2
    assert "OUTDIR expected first" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_make_structures_writes_the_named_cell(tmp_path):
    done = _run([str(tmp_path / "out"), "si8_r0.10_seed60001"], tmp_path)
    assert done.returncode == 0, done.stderr
    skl = (tmp_path / "out" / "si8_r0.10_seed60001" / "olcao.skl").read_text()
    # the fresh test cell in data/scf_test_runs was made from exactly this
    stored = REPO / "data" / "scf_test_runs" / "si8_r0.10_seed60001" / "olcao.skl"
    assert skl == stored.read_text()


def test_make_structures_interstitial_is_the_protocol_cell(tmp_path):
    """Unrattled, the interstitial cell has the atoms of the shared
    si16_int_T run (PROTOCOL.md: the 17th atom at (1/4, 1/2, 1/2)), whose
    extra atom has 4 neighbours at 2.352 Å and 6 at 2.716 Å."""
    import numpy as np
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    from pyolcaoml.olcao.skeleton import read_skeleton

    name = "si16_int_T_r0.00_seed20000"
    assert _run([str(tmp_path), name], tmp_path).returncode == 0
    ours = read_skeleton(tmp_path / name / "olcao.skl")
    shared = REPO.parent / "shared" / "olcao-runs" / "defect" / "si16_int_T"
    if (shared / "olcao.skl").is_file():
        theirs = read_skeleton(shared / "olcao.skl")
        np.testing.assert_allclose(ours.positions, theirs.positions, atol=1e-6)
    atoms = Atoms(ours.symbols, positions=ours.positions, cell=ours.cell, pbc=True)
    i, d = neighbor_list("id", atoms, 3.0)
    near = np.sort(d[i == 16])
    np.testing.assert_allclose(near, [2.352] * 4 + [2.716] * 6, atol=1e-3)


@pytest.mark.parametrize(
    "name, reps", [("asi16_s10500", (2, 1, 1)), ("asi32_s10700", (2, 2, 1))]
)
def test_make_structures_amorphous_cells_melt_in_their_supercell(
    monkeypatch, name, reps
):
    """An a-Si name picks the diamond supercell the melt-quench runs in
    (the 32-atom test cells of stop 28: 2x2x1); the skeleton's cell and atom
    count follow it. The melt-quench itself (LAMMPS) is replaced by a
    recorder, so this checks the plumbing, not the MD."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("make_structures", MAKE_STRUCTURES)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    asked = []

    def fake_melt_quench(seed, r):
        asked.append((seed, r))
        n = 8 * r[0] * r[1] * r[2]
        return np.random.default_rng(0).random((n, 3)), {"seed": seed}

    monkeypatch.setattr(mod, "melt_quench_si", fake_melt_quench)
    skl, meta = mod.build(name)
    assert asked == [(int(name.split("_s")[1]), reps)]
    lines = skl.splitlines()
    cell = [float(v) for v in lines[lines.index("cell") + 1].split()[:3]]
    np.testing.assert_allclose(cell, [5.431 * r for r in reps])
    assert lines[lines.index("cell") + 2] == f"fract {8 * reps[0] * reps[1] * reps[2]}"
    assert meta["family"] == "amorphous"
    with pytest.raises(SystemExit, match="unknown structure name"):
        mod.build("asi48_s10700")  # no such supercell


@pytest.mark.parametrize(
    "queue, tree",
    [("test_queue", "test_runs"), ("test_queue_stop22", "test_runs_stop22")],
)
def test_fresh_sic_sets_rebuild_their_stored_cells(tmp_path, queue, tree):
    """The fresh SiC sets are made by make_sic_runs' queues: the rattled and
    point-defect cells of the stored first and second sets come out of them
    byte for byte (the amorphous cells need LAMMPS and are left out)."""
    mod = _make_sic_runs()
    stored = REPO / "data" / "sic" / tree
    checked = 0
    for make in getattr(mod, queue)():
        if "amorphous" in [c.cell_contents for c in make.__closure__ or ()]:
            continue
        job = make()
        out = tmp_path / f"{job.name}.skl"
        mod.write_skl(job, str(out))
        want = stored / job.family / job.name / "olcao.skl"
        assert out.read_text() == want.read_text(), job.name
        checked += 1
    assert checked == 7


@pytest.mark.parametrize(
    "queue, atoms, smearing", [("dilution44", 31, "0.0"), ("dilution45", 63, "0.05")]
)
def test_dilution_cell_is_rebuilt_by_its_queue(tmp_path, queue, atoms, smearing):
    """Stop 44's 31-atom and stop 45's 63-atom Si-vacancy cells
    (data/sic/dilution) come out of make_sic_runs' queues byte for byte:
    the Si at the origin missing, and the stored run's olcao.dat carries
    the queue's smearing (eV)."""
    mod = _make_sic_runs()
    root, make_queue = mod.TEST_SETS[queue]
    (make,) = make_queue()
    job = make()
    assert len(job.symbols) == atoms and job.symbols.count("Si") == atoms // 2
    out = tmp_path / "olcao.skl"
    mod.write_skl(job, str(out))
    stored = Path(root) / job.family / job.name / "olcao.skl"
    assert stored.parent.parent == REPO / "data" / "sic" / "dilution"
    assert out.read_text() == stored.read_text()
    lines = (stored.parent / "inputs" / "olcao.dat").read_text().splitlines()
    k = lines.index("THERMAL_SMEARING_SIGMA__SIGMA_CUTOFF")
    assert lines[k + 1].split()[0] == smearing
    assert float(smearing) == job.smearing_ev


def test_set_smearing_changes_only_the_smearing_width(tmp_path):
    """make_sic_runs' smearing option (a job's ``smearing_ev``) edits the
    one line after THERMAL_SMEARING_SIGMA__SIGMA_CUTOFF in makeinput's
    olcao.dat (the stored 31-atom run's, 0.0 11.5) and nothing else; a file
    without that key, or with it twice, is refused by name."""
    mod = _make_sic_runs()
    src = REPO / "data/sic/dilution/sic32_vacSi_r0.05_seed13990/inputs/olcao.dat"
    before = src.read_text().splitlines(keepends=True)
    dat = tmp_path / "olcao.dat"
    dat.write_text("".join(before))
    mod.set_smearing(str(dat), 0.05)
    after = dat.read_text().splitlines(keepends=True)
    assert len(after) == len(before)
    changed = [k for k, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1
    k = changed[0]
    assert before[k - 1] == "THERMAL_SMEARING_SIGMA__SIGMA_CUTOFF\n"
    assert before[k].split() == ["0.0", "11.5"]
    assert [float(v) for v in after[k].split()] == [0.05, 11.5]
    for text in ("TITLE\nx\n", "".join(before) + "".join(before[k - 1 : k + 1])):
        dat.write_text(text)
        with pytest.raises(ValueError, match="olcao.dat"):
            mod.set_smearing(str(dat), 0.05)


def _make_sic_runs():
    """data/sic/make_sic_runs.py as a module."""
    import importlib.util

    path = REPO / "data" / "sic" / "make_sic_runs.py"
    spec = importlib.util.spec_from_file_location("make_sic_runs", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_sic_runs"] = mod  # its dataclass looks itself up there
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules["make_sic_runs"]
    return mod


def test_make_sic_runs_never_runs_a_job_twice(monkeypatch, tmp_path, capsys):
    """Two processes making the same queue: a job whose folder exists
    without meta.json (being made elsewhere, or left by a killed run) is
    skipped, and one that is not there is claimed and made (stop 37 ran
    two jobs twice before this)."""
    mod = _make_sic_runs()
    made: list[str] = []
    monkeypatch.setattr(mod, "run_job", lambda job, root: made.append(job.name))
    monkeypatch.setitem(mod.TEST_SETS, "stop36", (str(tmp_path), mod.test_queue_stop36))
    names = ["sic8_r0.10_seed13000", "sic8_r0.15_seed13001"]
    (tmp_path / "rattle" / names[0]).mkdir(parents=True)
    argv = ["make_sic_runs.py", "--test", "stop36", "--only", *names]
    monkeypatch.setattr(sys, "argv", argv)
    mod.main()
    assert made == [names[1]]
    assert f"{names[0]}: its folder exists without meta.json" in capsys.readouterr().out
    assert (tmp_path / "rattle" / names[1]).is_dir()  # claimed


def _recipe(monkeypatch):
    """data/make_default_model.py as a module."""
    monkeypatch.syspath_prepend(str(REPO / "data"))
    import make_default_model

    return make_default_model


def _listed(monkeypatch, listing: str) -> list[str]:
    """The run names of a list of spent test cells, read by the recipe."""
    mdm = _recipe(monkeypatch)
    return [Path(d).name for d in mdm.spent_test_dirs(str(REPO / "data"), listing)]


def _recipe_trees(monkeypatch, tmp_path, *args: str) -> list[str]:
    """The run trees data/make_default_model.py would convert (stopped there)."""
    mdm = _recipe(monkeypatch)
    seen: list[str] = []

    def fake_convert(olcaoml, trees, data, descriptor_args) -> int:
        seen.extend(trees)
        return 1  # stop before any training

    monkeypatch.setattr(mdm, "_convert", fake_convert)
    assert mdm.main(["--output-dir", str(tmp_path), *args]) == 1
    return [Path(t).name for t in seen]


def test_default_si_model_trains_on_the_listed_spent_cells_only(monkeypatch, tmp_path):
    """Since stop 32 the default Si model trains on the spent fresh test cells
    of data/scf_test_runs/si_trained_on.txt (candidate T7): all of them exist,
    none is a cell the tests treat as never seen by the default model or a
    cell of the fourteenth (stop-32) set, and the a-Si model's recipe does not
    take them."""
    listed = _listed(monkeypatch, _recipe(monkeypatch).SI_SPENT_TESTS)
    assert len(listed) == len(set(listed)) == 71
    never_seen = {"si8_r0.10_seed10100", "si8_r0.15_seed10150", "si8_r0.20_seed62005"}
    assert not never_seen & set(listed)
    assert not [n for n in listed if "seed680" in n]
    assert all(n.startswith(("si8_", "si16_")) for n in listed)
    trees = _recipe_trees(monkeypatch, tmp_path)
    assert set(listed) <= set(trees)
    asi = _recipe_trees(monkeypatch, tmp_path, "--asi")
    assert not set(listed) & set(asi)
    # since stop 33 (T8b) batch3 too, last (the order sets the shuffling)
    batch3 = _recipe(monkeypatch).BATCH3.removesuffix(".tar.xz")  # unpacked
    assert trees[-1] == batch3 and batch3 not in asi


def test_asi_recipe_leaves_the_spent_a_si_cells_out(monkeypatch, tmp_path):
    """data/scf_test_runs/asi_trained_on.txt lists the spent a-Si32 test
    cells that candidate asi4 trained on (stop 32, not shipped): none of the
    three cells the tests use as never seen by either Si model and none of
    the stop-31 cells that judged it. Neither shipped recipe takes them (the
    a-Si model's stays the stop-30 one)."""
    listed = _listed(monkeypatch, _recipe(monkeypatch).ASI_SPENT_TESTS)
    assert len(listed) == len(set(listed)) == 10
    assert all(n.startswith("asi32_s107") for n in listed)
    unseen = {"asi32_s10700", "asi32_s10701", "asi32_s10702"}
    fresh = {"asi32_s10760", "asi32_s10761", "asi32_s10762"}
    assert not (unseen | fresh) & set(listed)
    asi = _recipe_trees(monkeypatch, tmp_path, "--asi")
    assert not (set(listed) | unseen | fresh) & set(asi)
    assert "runs_asi32" in asi and "runs_asi32_next" not in asi
    assert not set(listed) & set(_recipe_trees(monkeypatch, tmp_path))


def _archive_runs(archive: Path) -> tuple[list[str], list[str], dict]:
    """A run archive's member names, its run folders and their meta.json."""
    import json
    import tarfile

    with tarfile.open(archive, "r:xz") as tar:
        names = tar.getnames()
        runs = sorted({n.split("/")[1] for n in names if "/" in n})
        metas = {
            n.split("/")[1]: json.load(tar.extractfile(n))
            for n in names
            if n.endswith("/meta.json")
        }
    return names, runs, metas


def test_batch3_runs_are_new_cells_with_their_meta(monkeypatch):
    """data/runs_batch3.tar.xz (made in stop 32, trained on by the default
    model since stop 33) holds 51 curated runs, each with its meta.json and olcao.skl,
    seeds >= 70000, none a cell of data/scf_test_runs or of another
    training tree."""
    archive = REPO / "data" / _recipe(monkeypatch).BATCH3
    names, runs, metas = _archive_runs(archive)
    assert len(runs) == 51 and sorted(metas) == runs
    assert all(f"./{r}/olcao.skl" in names for r in runs)
    assert all(m["name"] == r and m["seed"] >= 70000 for r, m in metas.items())
    assert all(m["final_convergence_value"] <= 1e-6 for m in metas.values())
    elsewhere = {p.name for p in (REPO / "data" / "scf_test_runs").iterdir()}
    elsewhere |= {p.name for p in (REPO / "data" / "runs_interstitial").iterdir()}
    assert not set(runs) & elsewhere


def test_batch4_runs_are_converged_selected_cells(monkeypatch):
    """data/runs_batch4.tar.xz (stop 40, candidate T10): rattled 8-atom
    runs of the selection pool (seeds 75000-75299), each with its meta.json
    and olcao.skl, converged to 1e-6 (within OLCAO's printed rounding) and
    none a cell of data/scf_test_runs or of another training tree."""
    archive = REPO / "data" / _recipe(monkeypatch).BATCH4
    names, runs, metas = _archive_runs(archive)
    assert len(runs) >= 60 and sorted(metas) == runs
    assert all(f"./{r}/olcao.skl" in names for r in runs)
    assert all(
        m["name"] == r and 75000 <= m["seed"] < 75300 and r.startswith("si8_r")
        for r, m in metas.items()
    )
    from pyolcaoml.olcao.iterations import PRINT_HALF_UNIT

    assert all(
        m["final_convergence_value"] <= 1e-6 + PRINT_HALF_UNIT for m in metas.values()
    )
    assert all(
        m["iterations_total"] < m["last_iteration_limit"] for m in metas.values()
    )
    elsewhere = {p.name for p in (REPO / "data" / "scf_test_runs").iterdir()}
    elsewhere |= {p.name for p in (REPO / "data" / "runs_interstitial").iterdir()}
    elsewhere |= set(_archive_runs(REPO / "data" / _recipe(monkeypatch).BATCH3)[1])
    assert not set(runs) & elsewhere


def _median_sigma(model, run_dir: Path) -> float:
    """Median sigma (Hartree) of a run's structure, from predict() and NumPy."""
    import warnings

    import numpy as np

    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pred = predict(read_run(str(run_dir)).structure, model)
    return float(np.median(pred.sigma))


def test_recipe_records_the_handover_threshold_mid_gap(monkeypatch, tmp_path):
    """Step 4 of the recipe: the midpoint between the highest median sigma
    of the held-out structures and the lowest of the a-Si test cells,
    recomputed here, written into model.json and nothing else changed; with
    overlapping ranges it refuses and leaves model.json as it was."""
    import json
    import shutil

    from pyolcaoml.model.handover import threshold_of
    from pyolcaoml.model.saved import bundled_model_path, load_model

    mdm = _recipe(monkeypatch)
    model_dir = tmp_path / "default_model"
    shutil.copytree(bundled_model_path(), model_dir)
    before = json.loads((model_dir / "model.json").read_text())
    before.pop("handover", None)
    runs = REPO / "data" / "scf_test_runs"
    held = ["si8_r0.10_seed10100", "si8_r0.15_seed10150"]
    model = load_model(str(model_dir))
    crystal = max(_median_sigma(model, runs / n) for n in held)
    amorphous = min(
        _median_sigma(model, d)
        for d in runs.iterdir()
        if d.is_dir() and d.name.startswith(("asi32_s", "asi64_s"))
    )
    assert crystal < amorphous
    assert (
        mdm._record_handover(str(model_dir), str(runs), held, str(REPO / "data")) == 0
    )
    after = json.loads((model_dir / "model.json").read_text())
    entry = after.pop("handover")
    assert after == before
    assert entry["median_sigma_hartree"] == pytest.approx(
        (crystal + amorphous) / 2, rel=1e-12
    )
    assert entry["crystalline"] == sorted(held)
    assert threshold_of(load_model(str(model_dir))) == entry["median_sigma_hartree"]
    # an a-Si cell among the "crystalline" ones: no gap, nothing written
    text = (model_dir / "model.json").read_bytes()
    rc = mdm._record_handover(
        str(model_dir), str(runs), [*held, "asi32_s10700"], str(REPO / "data")
    )
    assert rc == 1
    assert (model_dir / "model.json").read_bytes() == text
    assert not (model_dir / "model.json.tmp").exists()


def test_sicam_recipe_converts_amorphous_sic_only(monkeypatch, tmp_path):
    """``--sicam``: the Si runs that the base model trained on and, of the
    SiC runs, the amorphous ones only (named ``*_rr*``), from the SiC
    families and every spent fresh set, never the thirteenth set (stop 36),
    which judged it."""
    trees = _recipe_trees(monkeypatch, tmp_path, "--sicam")
    sic = [t for t in trees if t.startswith("sic")]
    assert len(sic) >= 100 and all("_rr" in t for t in sic)
    assert len(sic) == len(set(sic))
    assert {"sic16_rr_seed12820", "sic16_rr_seed10400"} <= set(sic)
    stop36 = {p.name for p in (REPO / "data" / "sic" / "test_runs_stop36").glob("*/*")}
    assert stop36 and not stop36 & set(sic)
    assert "runs" in trees  # the Si runs (data/runs) stay in the dataset


def test_sicam_candidate_adds_the_later_runs_and_a_larger_c_radius(
    monkeypatch, tmp_path
):
    """``--sicam --sicam-b11`` (stop 37's candidate A2): ``--sicam``'s runs
    plus the eleventh batch's family and the thirteenth set's amorphous
    cells, with C radius 2.0 Å; no other recipe takes the eleventh batch,
    and ``--sicam`` with other run options is refused."""
    mdm = _recipe(monkeypatch)
    seen: list[tuple[list[str], list[str]]] = []

    def fake_convert(olcaoml, trees, data, descriptor_args) -> int:
        seen.append(([Path(t).name for t in trees], list(descriptor_args)))
        return 1

    monkeypatch.setattr(mdm, "_convert", fake_convert)
    for args in (["--sicam"], ["--sicam", "--sicam-b11"], ["--sic-runs", mdm.SIC_RUNS]):
        assert mdm.main(["--output-dir", str(tmp_path), *args]) == 1
    (plain, plain_args), (a2, a2_args), (sic, _) = seen
    runs = REPO / "data" / "sic" / "runs"
    b11 = {p.parent.name for p in runs.glob("*_b11/*/meta.json")}
    assert "amorphous_b11" not in sic and not b11 & set(plain)
    stop36 = REPO / "data" / "sic" / "test_runs_stop36"
    added = {p.name for p in stop36.glob("amorphous/*")}
    assert len(added) == 6 and set(a2) == set(plain) | added | b11
    assert "C=1.609" in plain_args and "C=2.0" not in plain_args
    assert a2_args == [a if a != "C=1.609" else "C=2.0" for a in plain_args]
    for bad in (["--sicam", "--sic-spent"], ["--sicam-b11"]):
        with pytest.raises(SystemExit):
            mdm.main(["--output-dir", str(tmp_path), *bad])


def test_sic_spent_near_adds_near_crystalline_spent_cells_only(monkeypatch, tmp_path):
    """``--sic-spent-near`` (stop 44's candidate S5): S's runs plus the
    rattled and point-defect cells of the sets spent since S, none of
    their amorphous cells and none of the cells that judged S5 (the
    thirteenth and twentieth sets); refused without ``--sic-spent`` or
    with ``--sic-spent-later``."""
    mdm = _recipe(monkeypatch)
    seen: list[list[Path]] = []

    def fake_convert(olcaoml, trees, data, descriptor_args) -> int:
        seen.append([Path(t) for t in trees])
        return 1

    monkeypatch.setattr(mdm, "_convert", fake_convert)
    base = ["--output-dir", str(tmp_path), "--sic-runs", mdm.SIC_RUNS, "--sic-spent"]
    assert mdm.main(base) == 1
    assert mdm.main([*base, "--sic-spent-near"]) == 1
    s_trees, s5_trees = seen

    def cells(trees: list[Path]) -> set[str]:
        return {m.parent.name for t in trees for m in t.glob("**/meta.json")}

    added = cells(s5_trees) - cells(s_trees)
    sic = REPO / "data" / "sic"
    want = {
        p.parent.name
        for n in ("28", "29", "30", "32", "34", "41", "42", "42b")
        for p in sic.glob(f"test_runs_stop{n}/[rd]*/*/meta.json")
    }
    assert len(want) == 65 and added == want
    assert "sic16_vacSi_r0.05_seed13710" in added
    assert not any("_rr" in n for n in added)
    judged = {p.parent.name for p in sic.glob("test_runs_stop43/*/*/meta.json")}
    judged |= {p.parent.name for p in sic.glob("test_runs_stop36/[rd]*/*/meta.json")}
    assert len(judged) == 17 and not judged & cells(s5_trees)
    for bad in (
        ["--sic-runs", mdm.SIC_RUNS, "--sic-spent-near"],
        [
            "--sic-runs",
            mdm.SIC_RUNS,
            "--sic-spent",
            "--sic-spent-later",
            "--sic-spent-near",
        ],
    ):
        with pytest.raises(SystemExit, match="--sic-spent-near"):
            mdm.main(["--output-dir", str(tmp_path), *bad])


def test_recipe_records_the_sic_handover_mid_gap(monkeypatch, tmp_path):
    """``--sic-handover-only``: the midpoint between the highest median
    applicability distance of the near-crystalline cells and the lowest of
    the amorphous ones (recomputed here with predict() and NumPy, on one
    spent set), every cell's value recorded, nothing else changed."""
    import json
    import shutil
    import warnings

    import numpy as np

    from pyolcaoml.model.handover import domain_threshold_of
    from pyolcaoml.model.saved import bundled_model_path, load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    mdm = _recipe(monkeypatch)
    stop29 = REPO / "data" / "sic" / "test_runs_stop29"
    monkeypatch.setattr(mdm, "SIC_HANDOVER_TREES", [str(stop29)])
    model_dir = tmp_path / "sic_model"
    shutil.copytree(bundled_model_path("sic"), model_dir)
    before = json.loads((model_dir / "model.json").read_text())
    before.pop("handover", None)
    model = load_model(str(model_dir))
    medians = {}
    for run_dir in stop29.glob("*/*"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pred = predict(read_run(str(run_dir)).structure, model)
        medians[run_dir.name] = float(np.median(pred.report.domain))
    near = max(v for n, v in medians.items() if "_rr" not in n)
    amorphous = min(v for n, v in medians.items() if "_rr" in n)
    assert mdm._record_sic_handover(str(model_dir)) == 0
    after = json.loads((model_dir / "model.json").read_text())
    entry = after.pop("handover")
    assert after == before
    assert entry["median_domain"] == pytest.approx((near + amorphous) / 2, rel=1e-12)
    recorded = {**entry["crystalline"], **entry["amorphous"]}
    assert recorded == pytest.approx(medians, rel=1e-12)
    assert domain_threshold_of(load_model(str(model_dir))) == entry["median_domain"]
