"""A Si vacancy in near-crystalline SiC recognised from the geometry
(pyolcaoml.model.sic_vacancy), and the notes of ``predict`` and ``mb-start``.

References: the labels that data/sic/make_sic_runs.py wrote into each
stored run's meta.json when it made the defect (independent of the
geometry test), and 3C-SiC built by ASE with one atom removed, whose four
former neighbours are found by plain minimum-image distances.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.cli import main
from pyolcaoml.model.sic_vacancy import (
    BOND_CUTOFF_ANGSTROM,
    has_si_vacancy,
    three_fold_carbons,
)
from pyolcaoml.structure import Structure

REPO = Path(__file__).resolve().parents[1]
SIC = REPO / "data" / "sic"
A_SIC = 4.36  # Å, the runs' 3C-SiC lattice constant


def _crystal(reps: int = 2):
    return bulk("SiC", "zincblende", a=A_SIC, cubic=True).repeat(reps)


def _neighbours_of(atoms, k: int) -> set[int]:
    """Atoms within 1.1 x the bond length of atom k (minimum image)."""
    d = atoms.get_distances(k, range(len(atoms)), mic=True)
    bond = A_SIC * np.sqrt(3) / 4
    return {int(i) for i in np.flatnonzero((d > 0.1) & (d < 1.1 * bond))}


def test_the_perfect_crystal_has_no_three_fold_carbon() -> None:
    s = Structure.coerce(_crystal())
    assert len(three_fold_carbons(s)) == 0
    assert not has_si_vacancy(s)


def test_a_missing_si_leaves_exactly_its_four_c_neighbours_three_fold() -> None:
    atoms = _crystal()
    k = 9 if atoms[9].symbol == "Si" else 8
    assert atoms[k].symbol == "Si"
    around = _neighbours_of(atoms, k)
    assert len(around) == 4 and {atoms[i].symbol for i in around} == {"C"}
    del atoms[k]
    expect = sorted(i - (i > k) for i in around)
    s = Structure.coerce(atoms)
    assert sorted(three_fold_carbons(s).tolist()) == expect
    assert has_si_vacancy(s)


def test_a_missing_c_is_not_a_si_vacancy() -> None:
    atoms = _crystal()
    k = next(i for i, a in enumerate(atoms) if a.symbol == "C")
    del atoms[k]
    s = Structure.coerce(atoms)
    assert len(three_fold_carbons(s)) == 0
    assert not has_si_vacancy(s)


def test_si_alone_or_c_alone_is_never_a_si_vacancy() -> None:
    si = bulk("Si", "diamond", a=5.43, cubic=True)
    del si[0]
    assert not has_si_vacancy(Structure.coerce(si))
    c = bulk("C", "diamond", a=3.567, cubic=True)
    del c[0]  # three-fold C atoms, but no Si
    assert len(three_fold_carbons(Structure.coerce(c))) == 4
    assert not has_si_vacancy(Structure.coerce(c))


def _stored_runs() -> list[tuple[Path, str | None]]:
    """Every stored near-crystalline SiC run: (folder, its defect label)."""
    out = []
    for meta in sorted(SIC.rglob("meta.json")):
        run = meta.parent
        if not (run / "inputs").is_dir():
            continue
        m = json.loads(meta.read_text())
        family = m.get("family")
        if family is None or family.startswith("amorphous"):
            continue
        out.append((run, m.get("defect")))
    return out


def test_the_stored_runs_labels_are_recovered_from_the_geometry() -> None:
    """Si vacancy <=> at least three three-fold C atoms, on every stored
    near-crystalline SiC run (rattled by up to 0.25 Å, 7 to 63 atoms)."""
    from pyolcaoml.olcao import read_run

    runs = _stored_runs()
    vac = [r for r, d in runs if d == "vacSi"]
    assert len(runs) > 300 and len(vac) > 50
    wrong = [
        (r.name, d)
        for r, d in runs
        if has_si_vacancy(read_run(r).structure) != (d == "vacSi")
    ]
    assert wrong == []


def test_the_large_cell_group_is_the_larger_cells() -> None:
    """LARGE_CELL_GROUP (eleven or more four-fold C atoms) on every stored
    near-crystalline SiC run: the cells of more than 17 atoms, C
    interstitials (eleven four-fold C atoms in a 32-site cell) included,
    by the size make_sic_runs.py wrote. (Si vacancies match it too; a
    reference lists the si_vacancy group first, and a structure takes the
    first group it matches.)"""
    from pyolcaoml.model.sic_vacancy import LARGE_CELL_GROUP
    from pyolcaoml.olcao import read_run

    wrong, n_large = [], 0
    for r, d in _stored_runs():
        s = read_run(r).structure
        want = len(s.symbols) > 17
        n_large += want
        if LARGE_CELL_GROUP.matches(s) != want:
            wrong.append((r.name, d, len(s.symbols)))
    assert n_large >= 35 and wrong == []


def test_the_cutoff_lies_between_the_bond_and_the_second_shell() -> None:
    bond = A_SIC * np.sqrt(3) / 4
    second = A_SIC / np.sqrt(2)
    assert bond + 0.5 < BOND_CUTOFF_ANGSTROM < second - 0.5


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "inputs", dst / "inputs")
    return dst


@pytest.mark.parametrize(
    ("name", "noted"),
    [("sic32_vacSi_r0.05_seed14044", True), ("sic32_vacC_r0.05_seed14045", False)],
)
def test_predict_notes_a_si_vacancy(name: str, noted: bool, tmp_path, capsys) -> None:
    run = _copy_run(SIC / "test_runs_stop53" / "defect" / name, tmp_path / name)
    assert main(["predict", str(run), "--force", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "sic_model" in out  # the near-crystalline model, not 'sicam'
    assert ("the mark of a Si vacancy" in out) == noted, out


def _bench(name: str) -> list[dict]:
    return json.loads((SIC / name).read_text())["rows"]


def test_the_notes_numbers_are_the_stored_olcao_runs() -> None:
    """MEASURED["si_vacancy"], which predict's note prints, against the
    iterations OLCAO logged on the fresh 31-atom Si vacancies (the bench
    JSONs of stops 53-56; the Si vacancy by the label in the run's name,
    which make_sic_runs.py wrote), and the two-level start's CPU time over
    sic's on the same cells."""
    from pyolcaoml.model.sic_vacancy import MEASURED

    sets = ("53", "53b", "54b", "55", "55b", "56")
    sic = {
        r["run"]: r["iterations_to_1e-4"]
        for s in sets
        for r in _bench(f"test_runs_stop{s}/bench_stop{s}_sic.json")
        if r["start"] == "sic" and "_vacSi_" in r["run"]
    }
    cpu_sic = {
        r["run"]: r["olcao_cpu_s"]
        for s in sets
        for r in _bench(f"test_runs_stop{s}/bench_stop{s}_sic.json")
        if r["start"] == "sic"
    }
    rows = [
        r
        for s in ("53", "53b", "54b", "55")
        for r in _bench(f"test_runs_stop{s}/bench_stop{s}_two_level.json")
        if "_vacSi_" in r["run"]
    ]
    two = {r["run"]: r["iterations_to_1e-4"] for r in rows}
    v = MEASURED["si_vacancy"]
    assert len(sic) == v["predict_cells"] and None not in sic.values()
    assert (min(sic.values()), max(sic.values())) == v["predict_iterations"]
    assert len(two) == v["two_level_cells"] and set(two) <= set(sic)
    assert (min(two.values()), max(two.values())) == v["two_level_iterations"]
    paired = [sic[k] for k in two]
    assert (min(paired), max(paired)) == v["paired_predict_iterations"]
    ratio = sum(r["olcao_cpu_s"] for r in rows) / sum(cpu_sic[k] for k in two)
    assert round(ratio, 2) == v["cpu_ratio"]


def _larger_other_rows() -> list[tuple[str, dict]]:
    """(set, bench row) of every 31-33-atom cell without a Si vacancy in
    the fresh SiC sets of stops 53-56 and 59, both starts."""
    return [
        (s, r)
        for s in ("53", "53b", "54b", "55", "55b", "56", "59")
        for r in _bench(f"test_runs_stop{s}/bench_stop{s}_sic.json")
        if r["run"].startswith("sic32_") and "_vacSi_" not in r["run"]
    ]


def test_the_larger_cell_note_is_the_stored_olcao_runs() -> None:
    """MEASURED["other_large"], which predict's note prints for larger
    cells without a Si vacancy, against the iterations OLCAO logged on the
    fresh 31-33-atom cells of stops 53-56 and 59 (the defect by the label
    in the run's name, which make_sic_runs.py wrote), and the note's size
    threshold against the atoms of sic's iteration reference."""
    from pyolcaoml.model.sic_vacancy import MEASURED, REFERENCE_MAX_ATOMS

    rows = [r for _, r in _larger_other_rows()]
    sic = {r["run"]: r["iterations_to_1e-4"] for r in rows if r["start"] == "sic"}
    default = {
        r["run"]: r["iterations_to_1e-4"] for r in rows if r["start"] == "default"
    }
    o = MEASURED["other_large"]
    assert len(sic) == o["cells"] >= 20 and None not in sic.values()
    assert set(default) == set(sic) and None not in default.values()
    assert (min(sic.values()), max(sic.values())) == o["predict_iterations"]
    assert int(np.median(list(sic.values()))) == o["predict_median"]
    assert (min(default.values()), max(default.values())) == o["default_iterations"]
    ref = json.loads(
        (REPO / "data" / "sic_model" / "olcao_iterations.json").read_text()
    )
    general = [c["atoms"] for c in ref["cells"] if c.get("group") is None]
    assert max(general) == REFERENCE_MAX_ATOMS
    assert {c["group"] for c in ref["cells"] if c["atoms"] > 17} == {
        "si_vacancy",
        "large_cell",
    }


def test_the_larger_cell_note_counts_the_misses_of_the_printed_range() -> None:
    """MEASURED["other_large"]'s cells below and above the range of the
    reference's general fit (the 8-17-atom cells: what predict printed for
    them before the large_cell group, and still prints for a larger cell in
    no group), from the bundled model's own prediction of each stored cell
    and what OLCAO logged from it."""
    from pyolcaoml.model.olcao_iterations import load_reference
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.sic_vacancy import MEASURED
    from pyolcaoml.model.workflow import predict_structure
    from pyolcaoml.olcao import read_run

    model = load_model(REPO / "data" / "sic_model")
    ref = load_reference(REPO / "data" / "sic_model")
    below = above = 0
    for s, r in _larger_other_rows():
        if r["start"] != "sic":
            continue
        run = read_run(SIC / f"test_runs_stop{s}" / "defect" / r["run"])
        pred = predict_structure(model, run.structure, method="network")
        e = ref.estimate(float(np.max(pred.sigma)), len(pred.sigma), None)
        below += r["iterations_to_1e-4"] < e.low
        above += r["iterations_to_1e-4"] > e.high
    o = MEASURED["other_large"]
    assert (below, above) == (o["below_range"], o["above_range"])


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("sic32_vacC_r0.05_seed14045", "large_cell"),
        ("sic32_Ci_r0.05_seed14049", "large_cell"),
        ("sic32_vacSi_r0.05_seed14044", "si_vacancy"),
    ],
)
def test_predict_gives_a_larger_cell_its_groups_estimate(
    name: str, group: str, tmp_path, capsys
) -> None:
    """A 31-33-atom cell gets the estimate of its own group of reference
    cells, and no note saying the estimate came from smaller cells."""
    run = _copy_run(SIC / "test_runs_stop53" / "defect" / name, tmp_path / name)
    assert main(["predict", str(run), "--force", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"  ({group}: " in out and f"{group} cells" in out, out
    assert "cells with other defects" not in out, out
    assert "reference cells hold" not in out, out


def test_the_larger_cell_note_without_a_group_estimate() -> None:
    """For a larger cell whose estimate came from no group (a reference
    without groups, as shipped before stop 60) the note still says what
    OLCAO took on such cells; with its group's estimate it says nothing."""
    from pyolcaoml.model.sic_vacancy import predict_note
    from pyolcaoml.olcao import read_run

    run = read_run(SIC / "test_runs_stop53" / "defect" / "sic32_vacC_r0.05_seed14045")
    lines = predict_note(run.structure, 1, group=None)
    assert lines and "cells with other defects" in lines[0]
    assert predict_note(run.structure, 1, group="large_cell") == []


def test_no_larger_cell_note_for_a_16_atom_cell(tmp_path, capsys) -> None:
    name = "sic16_vacC_r0.05_seed14030"
    run = _copy_run(SIC / "test_runs_stop52" / "defect" / name, tmp_path / name)
    assert main(["predict", str(run), "--force", "--threads", "1"]) == 0
    assert "cells with other defects" not in capsys.readouterr().out
