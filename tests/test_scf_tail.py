"""benchmarks/scf_tail.py: what a start's first OLCAO value buys, counted
from stored convergence values. References: hand-made iteration logs whose
counts follow from the definitions in the script's docstring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_benchmark

#: OLCAO's default start: first below 1e-4 at iteration 8; at half (4) 0.005
DEFAULT = [0.5, 0.1, 0.02, 0.005, 0.001, 5e-4, 2e-4, 9e-5]


def _load():
    return load_benchmark("scf_tail")


def _bench(tmp_path: Path) -> Path:
    rows = [
        {"run": "asi64_s1", "start": "default", "convergence": DEFAULT},
        # first value 0.01: the default first falls to it at iteration 4
        # (0.005), then needs 4 more; this start needs 3
        {"run": "asi64_s1", "start": "A", "convergence": [0.01, 0.002, 5e-5]},
        # never reaches 1e-4: left out
        {"run": "asi64_s1", "start": "B", "convergence": [0.1, 0.05]},
        # first value 0.003 (below the 0.005 needed), 5 iterations
        {"run": "asi64_s2", "start": "default", "convergence": DEFAULT},
        {
            "run": "asi64_s2",
            "start": "A",
            "convergence": [3e-3, 1e-3, 5e-4, 2e-4, 5e-5],
        },
    ]
    path = tmp_path / "bench_x.json"
    path.write_text(json.dumps({"rows": rows}))
    old = tmp_path / "bench_old.json"  # an older file: a bare list, no values
    old.write_text(json.dumps([{"run": "asi64_s1", "start": "default"}]))
    return path


def test_counts_follow_the_definitions(tmp_path, capsys) -> None:
    bench = _bench(tmp_path)
    out = tmp_path / "rows.json"
    args = [str(bench), str(tmp_path / "bench_old.json"), "--json", str(out)]
    assert _load().main(args) == 0
    (row,) = json.loads(out.read_text())
    assert row["family"] == "asi64" and row["start"] == "A" and row["cells"] == 2
    # tails: the default reaches 0.01 at iteration 4 (0.005) and 0.003 at
    # iteration 5 (0.001), 1e-4 at 8
    assert row["default_tail"] == (8 - 4) + (8 - 5)
    assert row["start_iterations"] == 3 + 5
    assert row["ratio"] == pytest.approx(8 / 7)
    assert row["median_needed_for_half"] == pytest.approx(0.005)
    assert row["median_first_value"] == pytest.approx((0.01 + 0.003) / 2)
    assert row["first_at_or_below_needed"] == 1  # 0.003 <= 0.005, 0.01 not
    assert row["at_half"] == 1  # 3 <= 8 / 2; 5 not
    text = capsys.readouterr().out
    assert "1 left out" in text and "2 (cell, start) pairs from 2 files" in text


def test_a_start_filter_and_markdown(tmp_path, capsys) -> None:
    bench = _bench(tmp_path)
    assert _load().main([str(bench), "--start", "B", "--markdown"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("| family | start |") and text[1].startswith("|---|")
    assert not any(line.startswith("| asi64 | A |") for line in text)
    assert _load().main([str(bench), "--markdown"]) == 0
    assert "| asi64 | A | 2 | 7 | 8 | 1.14 |" in capsys.readouterr().out


def test_a_damaged_file_is_named(tmp_path, capsys) -> None:
    bad = tmp_path / "bench_bad.json"
    bad.write_text('{"rows": [')
    with pytest.raises(SystemExit) as exc:
        _load().main([str(bad)])
    assert exc.value.code == 2 and str(bad) in capsys.readouterr().err
