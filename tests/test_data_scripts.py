"""Command-line guards of the scripts that make the OLCAO data (data/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
