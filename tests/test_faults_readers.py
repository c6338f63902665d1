"""Damaged OLCAO files (issue 11, items 8-10): every reader error is an
OlcaoFormatError naming the file and line; a truncated SCF log is refused
or flagged; Structure refuses wrongly shaped or complex positions.

Two layers: regression tests for each failure the attack found, and a
seeded, bounded fault suite (tests/faults/mutate.py, Hypothesis for the
byte-level damage) over a real run; benchmarks/fuzz_faults.py runs the
same mutations at every line, with more seeds, before a release.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from faults.mutate import (
    classify_read,
    copy_run,
    fingerprint,
    mutations,
    outcome,
    run_files,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyolcaoml.olcao import (
    OlcaoFormatError,
    read_iterations,
    read_olcao_dat,
    read_run,
    read_scfv,
    read_structure_dat,
)
from pyolcaoml.structure import Structure

RUN = DATA / "olcao" / "si8_types"
META_RUN = DATA / "olcao" / "si8_r0.10_seed1100"


@pytest.fixture
def run_copy(tmp_path) -> Path:
    return copy_run(RUN, tmp_path / "run")


# -- item 8: the project's own error type, with file and line ----------------------
@pytest.mark.parametrize(
    ("rel", "reader"),
    [
        ("inputs/structure.dat", read_structure_dat),
        ("inputs/olcao.dat", read_olcao_dat),
        ("gs_scfV-fb.dat", read_scfv),
        ("gs_iter-fb.dat", read_iterations),
    ],
)
def test_non_utf8_names_file_and_line(run_copy, rel, reader):
    path = run_copy / rel
    lines = path.read_bytes().splitlines(keepends=True)
    k = next(i for i in range(2, len(lines)) if len(lines[i]) > 6)
    lines[k] = lines[k][:3] + b"\xff" + lines[k][3:]
    path.write_bytes(b"".join(lines))
    with pytest.raises(OlcaoFormatError) as err:
        reader(path)
    assert err.value.path == str(path)
    assert err.value.line == k + 1
    assert "0xff at column 4 is not UTF-8" in str(err.value)


def test_non_utf8_in_a_run_is_our_error(run_copy):
    path = run_copy / "inputs" / "kp-scf.dat"
    path.write_bytes(path.read_bytes() + b"\x80\x80")
    with pytest.raises(OlcaoFormatError, match="kp-scf.dat, line"):
        read_run(run_copy)


def test_huge_integer_in_structure_dat(run_copy):
    path = run_copy / "inputs" / "structure.dat"
    text = path.read_text().replace("NUM_ATOM_SITES\n8", "NUM_ATOM_SITES\n" + "9" * 40)
    path.write_text(text)
    with pytest.raises(OlcaoFormatError, match="line 6: integer .* out of range"):
        read_structure_dat(path)


def test_huge_coordinate_in_structure_dat(run_copy):
    path = run_copy / "inputs" / "structure.dat"
    lines = path.read_text().splitlines(keepends=True)
    lines[8] = lines[8].replace("0.00000000000000", "9" * 40 + ".0", 1)
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match="line 9: coordinate .* beyond"):
        read_structure_dat(path)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("1e999", "out of range"),
        ("NaN", "not a number JSON allows"),
        ("-Infinity", "not a number JSON allows"),
        ("9" * 40, "out of range"),
        ('"8"', "n_atoms must be an integer"),
        ("true", "n_atoms must be an integer"),
    ],
)
def test_bad_numbers_in_meta_json(tmp_path, value, match):
    """Before: OverflowError/ValueError tracebacks, or NaN accepted."""
    run = copy_run(META_RUN, tmp_path / "run")
    meta = run / "meta.json"
    text = meta.read_text()
    assert '"n_atoms": 8' in text
    meta.write_text(text.replace('"n_atoms": 8', f'"n_atoms": {value}'))
    with pytest.raises(OlcaoFormatError, match=match) as err:
        read_run(run)
    assert err.value.path == str(meta)


def test_meta_json_not_utf8(tmp_path):
    run = copy_run(META_RUN, tmp_path / "run")
    meta = run / "meta.json"
    meta.write_bytes(b'{"name": "\xe9"}\n')
    with pytest.raises(OlcaoFormatError, match="meta.json, line 1: not a text file"):
        read_run(run)


def test_meta_kpoints_must_match_kp_scf(tmp_path):
    run = copy_run(META_RUN, tmp_path / "run")
    meta = run / "meta.json"
    data = json.loads(meta.read_text())
    assert (run / "inputs" / "kp-scf.dat").is_file() and data["kpoints"]
    data["kpoints"] = [k + 1 for k in data["kpoints"]]
    meta.write_text(json.dumps(data))
    with pytest.raises(OlcaoFormatError, match="differ from NUM_KP_A_B_C"):
        read_run(run)


def test_truncated_olcao_dat_is_refused(run_copy):
    """Cut after the potential section: LAST_ITERATION and CONVERGENCE_TEST
    are gone, and the defaults would have been used silently."""
    path = run_copy / "inputs" / "olcao.dat"
    lines = path.read_text().splitlines(keepends=True)
    keep = next(i for i, ln in enumerate(lines) if ln.strip() == "LAST_ITERATION")
    path.write_text("".join(lines[:keep]))
    with pytest.raises(OlcaoFormatError, match="no END_OF_DATA"):
        read_run(run_copy)


# -- item 9: truncated SCF logs ---------------------------------------------------
def test_log_cut_mid_number_is_refused(run_copy):
    """Before: the energy read as -31.066 instead of -31.06604823, and the
    run entered the dataset."""
    path = run_copy / "gs_iter-fb.dat"
    text = path.read_text()
    assert text.rstrip().endswith("-31.06604823")
    path.write_text(text.rstrip()[: -len("04823")])
    with pytest.raises(OlcaoFormatError, match="line 6: expected a row of 61"):
        read_run(run_copy)


def test_number_too_wide_for_its_field_is_refused(run_copy):
    path = run_copy / "gs_iter-fb.dat"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("-0.49221249", "-" + "9" * 25)
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match="line 3: expected a row of 61"):
        read_run(run_copy)


def test_log_ending_before_the_runs_limits_is_flagged(run_copy):
    """Whole rows, but the log stops at iteration 3 (convergence 7.8e-3,
    CONVERGENCE_TEST 1e-4, LAST_ITERATION 50): the run went on."""
    full = read_run(run_copy)
    assert not full.log_truncated and full.converged
    path = run_copy / "gs_iter-fb.dat"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))
    cut = read_run(run_copy)
    assert cut.history.n_iterations == 3
    assert cut.log_truncated
    assert not cut.converged


def test_scfv_row_wider_than_its_neighbours_is_refused(run_copy):
    path = run_copy / "gs_scfV-fb.dat"
    lines = path.read_text().splitlines(keepends=True)
    first = lines[4].split()[0]
    lines[4] = lines[4].replace(first, "-" + "9" * 25, 1)
    path.write_text("".join(lines))
    with pytest.raises(OlcaoFormatError, match="line 5: row is .* columns wide"):
        read_scfv(path)


# -- item 10: Structure refuses instead of reshaping --------------------------------
@pytest.mark.parametrize(
    ("positions", "n", "match"),
    [
        (np.zeros((3, 64)), 64, r"shape \(N, 3\), got \(3, 64\)"),
        (np.zeros((96, 2)), 64, r"shape \(N, 3\), got \(96, 2\)"),
        (np.zeros(192), 64, r"shape \(N, 3\), got \(192,\)"),
        (np.zeros((2, 3)) + 1j, 2, "complex"),
        (np.array([["a", "b", "c"]]), 1, "real numbers"),
    ],
)
def test_structure_refuses_wrong_positions(positions, n, match):
    with _no_warnings():
        with pytest.raises(ValueError, match=match):
            Structure(cell=np.eye(3) * 10, positions=positions, symbols=["Si"] * n)


def test_structure_refuses_complex_cell():
    with pytest.raises(ValueError, match="cell: complex"):
        Structure(
            cell=np.eye(3) * (10 + 1j), positions=np.zeros((1, 3)), symbols=["Si"]
        )


class _no_warnings:
    """Fail on any warning (NumPy's ComplexWarning was the only sign before)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# -- the bounded fault suite --------------------------------------------------------
@pytest.fixture(scope="module")
def reference() -> dict:
    return fingerprint(read_run(RUN))


_CASES = [(RUN, rel) for rel in run_files(RUN)] + [
    (META_RUN, rel) for rel in ("meta.json", "inputs/kp-scf.dat")
]


@pytest.mark.parametrize(
    ("src", "rel"), _CASES, ids=[f"{s.name}/{r}" for s, r in _CASES]
)
def test_seeded_mutations_of_a_real_run(src, rel, tmp_path):
    """Every file of a real run, damaged in every way the suite knows
    (seeded): only clean errors, harmless or flagged accepts."""
    reference = fingerprint(read_run(src))
    work = copy_run(src, tmp_path / "run")
    rng = np.random.default_rng(20261202)
    data = (src / rel).read_bytes()
    bad = []
    for m in mutations(rel, data, rng, per_kind=2):
        (work / rel).write_bytes(m.data)
        result, text = classify_read(work, reference)
        result = outcome(m.kind, result)
        if result in ("wrong_type", "silent"):
            bad.append(f"{m.kind} {m.detail}: {result}: {text}")
    shutil.copyfile(src / rel, work / rel)
    assert bad == []


_FILES = run_files(RUN)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rel=st.sampled_from(_FILES),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.binary(min_size=0, max_size=4)),
        min_size=1,
        max_size=3,
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_hypothesis_byte_damage_gives_clean_errors(
    tmp_path, reference, rel, edits, cut
):
    """Arbitrary bytes spliced in and an optional truncation: the run reader
    raises OlcaoFormatError (naming a file) or reads something; never any
    other exception.  A truncated file is never silently accepted."""
    work = tmp_path / "h"
    if not work.exists():
        copy_run(RUN, work)
    original = (RUN / rel).read_bytes()
    data = original
    for where, blob in edits:
        pos = int(where * len(data))
        data = data[:pos] + blob + data[pos + len(blob) :]
    if cut is not None:
        data = data[: int(cut * len(data))]
    (work / rel).write_bytes(data)
    try:
        result, text = classify_read(work, reference)
    finally:
        (work / rel).write_bytes(original)
    assert result != "wrong_type", text
    truncated_only = all(not blob for _, blob in edits) and cut is not None
    if truncated_only and data != original:
        assert result in ("clean", "harmless", "flagged"), text
