"""benchmarks/fresh_sets.py: the README's table of the shipped models on
fresh sets, recounted from the stored bench_scf JSON files."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, load_benchmark

fresh_sets = load_benchmark("fresh_sets")


def _row(run, start, i4, i6, de=0.0, total=100.0, cpu=None, predict=0.0):
    return {
        "run": run,
        "start": start,
        "iterations_to_1e-4": i4,
        "iterations_to_1e-6": i6,
        "abs_dE_hartree": de,
        "total_s": total,
        "olcao_cpu_s": cpu,
        "predict_s": predict,
    }


def test_sums_caps_halves_and_filters(tmp_path, monkeypatch):
    """Hand-counted: a cell the default never converged counts 60 and marks
    the sum; half is judged against 60 there; |ΔE| only where both reached
    1e-6; the amorphous filter keeps the _rr_ cells out."""
    rows = [
        _row("sic8_a", "default", 14, 23, total=60.0, cpu=50.0),
        _row("sic8_a", "network", 7, 12, de=1e-7, total=30.0, cpu=20.0, predict=0.5),
        _row("sic16_b", "default", None, None, total=200.0),
        _row("sic16_b", "network", 31, 45, de=5e-3, total=250.0),
        _row("sic16_rr_c", "default", 20, 30),
        _row("sic16_rr_c", "network", 5, 9, de=1.0),
    ]
    (tmp_path / "b.json").write_text(json.dumps({"rows": rows}))
    monkeypatch.setattr(fresh_sets, "ROOT", str(tmp_path))
    s = fresh_sets.FreshSet("sic", "x", ("b.json",), "network", amorphous=False)
    r = fresh_sets.summarise(s)
    assert r.cells == 2
    assert (r.default_1e4, r.default_1e6) == (14 + 60, 23 + 60)
    assert (r.model_1e4, r.model_1e6) == (7 + 31, 12 + 45)
    assert r.capped == {
        "default_1e4": 1,
        "default_1e6": 1,
        "model_1e4": 0,
        "model_1e6": 0,
    }
    assert r.half == 1  # 7 <= 14/2; 31 > 60/2
    assert r.max_abs_de == pytest.approx(1e-7)
    assert r.time_ratio == pytest.approx((0.5, 1.25))
    assert r.cpu_ratio == pytest.approx((20.5 / 50.0, 20.5 / 50.0))
    text = fresh_sets.table([r], markdown=True)
    assert "| >74 / >83 |" in text and "| 38 / 57 |" in text


def test_cap_marks_only_the_tolerance_not_reached(tmp_path, monkeypatch):
    """A default run that reached 1e-4 in 40 but stopped at 60 iterations
    short of 1e-6: its 1e-4 sum is a count, its 1e-6 sum a lower bound."""
    rows = [
        _row("asi64_a", "default", 40, None),
        _row("asi64_a", "network", 20, 36),
    ]
    (tmp_path / "b.json").write_text(json.dumps({"rows": rows}))
    monkeypatch.setattr(fresh_sets, "ROOT", str(tmp_path))
    r = fresh_sets.summarise(fresh_sets.FreshSet("asi", "x", ("b.json",), "network"))
    assert (r.default_1e4, r.default_1e6) == (40, 60)
    assert r.half == 1  # 20 <= 40 / 2
    assert r.max_abs_de is None  # the default never reached 1e-6
    text = fresh_sets.table([r], markdown=True)
    assert "| 40 / >60 | 20 / 36 |" in text


def test_missing_file_is_not_measured_yet(tmp_path, monkeypatch):
    monkeypatch.setattr(fresh_sets, "ROOT", str(tmp_path))
    s = fresh_sets.FreshSet("m", "x", ("none.json",), "network")
    assert fresh_sets.summarise(s) is None


def test_stored_sets_recount():
    """The stored files give a row for every registered set that exists, and
    the seventeenth SiC set's sums match its per-cell table in
    docs/model.md ("Stop 41"), counted by hand: 81 / 162 against 162 /
    266, 6 of 10 at half the default's iterations or fewer."""
    by_label = {}
    for s in fresh_sets.SETS:
        r = fresh_sets.summarise(s)
        if r is not None:
            by_label[s.label] = r
    r = by_label["SiC 17th set, stop 41"]
    assert (r.model_1e4, r.model_1e6, r.default_1e4, r.default_1e6) == (
        81,
        162,
        162,
        266,
    )
    assert (r.cells, r.half) == (10, 6)


def test_a_handed_over_cell_counts_the_other_models_run(tmp_path, monkeypatch):
    """Where predict hands a cell to asi, asi's row replaces the measured
    model's; a handover row for a cell outside the set is ignored."""
    rows = [
        _row("si8_a", "default", 12, 21),
        _row("si8_a", "network", 7, 13),
        _row("si8_b", "default", 10, 16),
        _row("si8_b", "network", 4, 9),
    ]
    handed = [_row("si8_a", "asi", 8, 15), _row("si8_z", "asi", 1, 1)]
    (tmp_path / "b.json").write_text(json.dumps({"rows": rows}))
    (tmp_path / "h.json").write_text(json.dumps({"rows": handed}))
    monkeypatch.setattr(fresh_sets, "ROOT", str(tmp_path))
    s = fresh_sets.FreshSet(
        "default", "x", ("b.json",), "network", handover_files=("h.json",)
    )
    r = fresh_sets.summarise(s)
    assert (r.cells, r.model_1e4, r.model_1e6) == (2, 8 + 4, 15 + 9)
    assert r.half == 1  # 8 > 12/2; 4 <= 10/2


def test_the_readme_shows_the_current_table():
    """The README's table under "How good is it" is the script's output on
    the stored results (regenerate it with --markdown when a set is added)."""
    rows = [r for r in map(fresh_sets.summarise, fresh_sets.SETS) if r is not None]
    table = fresh_sets.table(rows, markdown=True)
    assert table in (REPO / "README.md").read_text()
