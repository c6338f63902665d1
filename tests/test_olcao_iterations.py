"""Expected OLCAO iterations from a prediction's sigma (stop 40).

The estimator is checked on references built by hand whose answer is known
analytically (a line with residuals orthogonal to it, a constant with known
percentiles); the file reader on damaged, stale and out-of-range files; the
shipped reference files against the stored OLCAO results they quote and
against the models they belong to (each cell's iterations are OLCAO's, read
from the bench JSON; its sigma is recomputed by predicting the stored run
again; none of its cells is a training structure of the model).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from pyolcaoml.cli import main
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.olcao_iterations import (
    FILE_NAME,
    ReferenceCell,
    estimate_for,
    load_reference,
    model_json_sha256,
    write_reference,
)
from pyolcaoml.model.saved import load_model
from pyolcaoml.model.workflow import predict_structure
from pyolcaoml.structure import read_structure

REPO = Path(__file__).resolve().parents[1]
MODELS = {
    "default": REPO / "data" / "default_model",
    "asi": REPO / "data" / "asi_model",
    "sic": REPO / "data" / "sic_model",
    "sicam": REPO / "data" / "sicam_model",
}


def _cell(k: int, sigma: float, it: int | None, default: int | None = 20):
    return ReferenceCell(
        run=f"cell{k}",
        source="test",
        atoms=8,
        max_sigma_hartree=sigma,
        mean_sigma_hartree=sigma / 2,
        iterations=it,
        default_iterations=default,
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "model.json").write_text('{"format": "stand-in"}\n')
    return d


def test_line_with_orthogonal_residuals(model_dir: Path) -> None:
    # x = ln(sigma / 1 mHa) at -2, -1, 0, 1, 2 twice; y = 8 + 2 x + r with
    # residuals r orthogonal to 1 and to x, so least squares returns 8 and 2
    # exactly and the residual percentiles are those of r.
    x = np.array([-2, -1, 0, 1, 2, -2, -1, 0, 1, 2], dtype=float)
    r = np.array([1, -1, 0, -1, 1, -1, 1, 0, 1, -1], dtype=float)
    assert abs(r.sum()) < 1e-12 and abs((r * x).sum()) < 1e-12
    y = 8 + 2 * x + r
    cells = [
        _cell(k, 1e-3 * math.exp(xk), int(yk), default=int(yk) + 10)
        for k, (xk, yk) in enumerate(zip(x, y, strict=True))
    ]
    write_reference(model_dir, cells, "log_max_sigma")
    ref = load_reference(model_dir)
    lo, hi = np.percentile(r, [10, 90])
    for xs in (-1.5, 0.0, 0.7):
        est = ref.estimate(1e-3 * math.exp(xs))
        point = 8 + 2 * xs
        assert est.iterations == math.floor(point + 0.5)
        assert est.low == math.floor(point + lo + 0.5)
        assert est.high == math.floor(point + hi + 0.5)
        assert est.default == (
            math.floor(point + 10.5),
            math.floor(point + lo + 10.5),
            math.floor(point + hi + 10.5),
        )
        assert not est.extrapolated
    assert ref.estimate(1e-3 * math.exp(3.0)).extrapolated
    text = "\n".join(ref.estimate(1.3e-3).summary())
    assert "to 1e-4" in text and "1.30 mHa" in text and "10 OLCAO runs" in text


def test_sigma_and_atoms_with_orthogonal_residuals(model_dir: Path) -> None:
    # x1 = ln(sigma / 1 mHa) at -1 and 1, cells of 8 and 16 atoms, each of
    # the four pairs twice with residuals +1 and -1 (so r is orthogonal to
    # any function of x1 and the size): y = 5 + 2 x1 + log2(atoms) + r, and
    # least squares returns a = 5, b = 2, c = 1/ln 2 exactly.
    cells = []
    for x1 in (-1.0, 1.0):
        for atoms in (8, 16):
            for r in (1, -1):
                y = 5 + 2 * x1 + math.log2(atoms) + r
                c = _cell(len(cells), 1e-3 * math.exp(x1), int(y), int(y) + 10)
                cells.append(dataclasses.replace(c, atoms=atoms))
    write_reference(model_dir, cells, "log_max_sigma_log_atoms")
    ref = load_reference(model_dir)
    lo, hi = np.percentile([1, -1] * 4, [10, 90])
    for x1, atoms in ((0.3, 12), (-0.8, 9), (0.9, 15)):
        est = ref.estimate(1e-3 * math.exp(x1), atoms)
        point = 5 + 2 * x1 + math.log2(atoms)
        assert est.iterations == math.floor(point + 0.5)
        assert (est.low, est.high) == (
            math.floor(point + lo + 0.5),
            math.floor(point + hi + 0.5),
        )
        assert est.default[0] == math.floor(point + 10.5)
        assert not est.extrapolated
    # the predictor needs the size of the cell
    assert ref.estimate(1e-3) is None and ref.estimate(1e-3, 0) is None
    # estimate_for takes it from the number of per-atom sigmas
    sigma = [1e-3 * math.exp(0.3)] + [1e-4] * 11
    assert estimate_for(str(model_dir), sigma).iterations == math.floor(
        5 + 0.6 + math.log2(12) + 0.5
    )
    big = ref.estimate(1e-3, 64)
    assert big.extrapolated
    text = "\n".join(big.summary())
    assert "and the 64 atoms" in text
    assert "the reference cells hold 8-16 atoms; for 64 this is a rough" in text


def test_cells_of_one_size_class_get_no_atoms_term(model_dir: Path) -> None:
    # 31-33-atom cells only (a span below MIN_ATOMS_SPAN): y = 11 + 2 x1 + r
    # with r orthogonal to 1 and to x1 but not to ln(atoms) (+1 on every
    # 33-atom cell), so a fitted size term would be large; without it least
    # squares returns 11 and 2 exactly, and the size changes nothing.
    cells = []
    for x1, atoms, r in (
        (-1.0, 31, -1), (-1.0, 33, 1), (1.0, 31, -1), (1.0, 33, 1),
        (-1.0, 32, 1), (-1.0, 32, -1), (1.0, 32, 1), (1.0, 32, -1),
    ):  # fmt: skip
        y = 11 + 2 * x1 + r
        c = _cell(len(cells), 1e-3 * math.exp(x1), int(y), int(y) + 10)
        cells.append(dataclasses.replace(c, atoms=atoms))
    write_reference(model_dir, cells, "log_max_sigma_log_atoms")
    ref = load_reference(model_dir)
    fit, _ = ref.fits()
    assert fit.c == 0.0
    # the fit is in ln(sigma / Hartree): a = 11 - 2 ln(1e-3)
    assert fit.b == pytest.approx(2.0, abs=1e-12)
    assert fit.a + fit.b * math.log(1e-3) == pytest.approx(11.0, abs=1e-12)
    at = {n: ref.estimate(1e-3 * math.exp(0.4), n) for n in (16, 32, 64)}
    assert at[16].iterations == at[32].iterations == at[64].iterations == 12
    assert at[64].extrapolated and not at[32].extrapolated


def test_constant_with_a_run_that_never_converged(model_dir: Path) -> None:
    its = [14, 15, 17, 19, 20, 21, 22, 23, 25, 28, None]
    cells = [_cell(k, 6e-3 + 1e-4 * k, it, None) for k, it in enumerate(its)]
    write_reference(model_dir, cells, "constant")
    est = load_reference(model_dir).estimate(9e-3)
    done = np.array([i for i in its if i is not None], dtype=float)
    lo, hi = np.percentile(done, [10, 90])
    assert (est.iterations, est.low, est.high) == (
        math.floor(np.median(done) + 0.5),
        math.floor(lo + 0.5),
        math.floor(hi + 0.5),
    )
    assert est.default is None  # no default-start runs in this reference
    assert est.n_not_converged == 1 and not est.extrapolated
    text = "\n".join(est.summary())
    assert "1 of those runs did not reach 1e-4" in text
    assert "does not rank" in text


def test_a_size_outside_the_runs_is_a_rough_guide_for_every_predictor(
    model_dir: Path,
) -> None:
    """Stop 42: `asi`'s constant, measured on 32- and 64-atom cells, said 20
    iterations for an 8-atom crystal that took 10. A structure whose size
    lies outside the reference cells' is now flagged for every predictor."""
    cells = [
        dataclasses.replace(_cell(k, 1e-3 * (1 + k), 20 + k), atoms=32 + 32 * (k % 2))
        for k in range(8)
    ]
    for predictor in ("constant", "log_max_sigma", "log_max_sigma_log_atoms"):
        write_reference(model_dir, cells, predictor)
        ref = load_reference(model_dir)
        for atoms, outside, way in (
            (8, True, "high"),
            (31, True, "high"),
            (32, False, None),
            (64, False, None),
            (65, True, "low"),
        ):
            est = ref.estimate(3e-3, atoms)
            assert est.extrapolated is outside, (predictor, atoms)
            text = "\n".join(est.summary())
            assert ("the reference cells hold 32-64 atoms; for " in text) is outside
            # which way it is likely off: smaller cells than the references
            # take fewer iterations, larger ones more (stops 42, 44-45)
            for w in ("high", "low"):
                assert (f"likely too {w}" in text) is (w == way), (atoms, text)


def test_no_estimate_without_enough_runs_or_sigma(model_dir: Path) -> None:
    write_reference(model_dir, [_cell(k, 1e-3, 5) for k in range(4)], "constant")
    assert load_reference(model_dir).estimate(1e-3) is None
    write_reference(model_dir, [_cell(k, 1e-3, 5) for k in range(6)], "constant")
    ref = load_reference(model_dir)
    assert ref.estimate(float("nan")) is None and ref.estimate(0.0) is None
    assert estimate_for(str(model_dir), None) is None
    assert estimate_for(str(model_dir), [float("nan")] * 3) is None
    assert estimate_for(str(model_dir), [1e-3, 2e-3]).n_cells == 6


def test_missing_file_means_no_estimate(model_dir: Path) -> None:
    assert load_reference(model_dir) is None
    assert estimate_for(str(model_dir), [1e-3]) is None


def _write_raw(model_dir: Path, meta) -> Path:
    path = model_dir / FILE_NAME
    path.write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return path


def _good(model_dir: Path) -> dict:
    write_reference(model_dir, [_cell(k, 1e-3, 5) for k in range(6)], "constant")
    return json.loads((model_dir / FILE_NAME).read_text())


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda m: "{", "cannot read"),
        (lambda m: [], "is not a pyolcaoml-olcao-iterations file"),
        (lambda m: {**m, "format": "other"}, "is not a pyolcaoml-olcao"),
        (lambda m: {**m, "version": 9}, "version 9"),
        (lambda m: {**m, "predictor": "knn"}, "predictor 'knn'"),
        (lambda m: {**m, "convergence": "x"}, "convergence"),
        (lambda m: {**m, "cells": {}}, "'cells' must be a list"),
        (lambda m: {**m, "model_json_sha256": "0" * 64}, "another model.json"),
        (lambda m: {**m, "cells": [{"run": "a"}]}, "cells[0] has no 'source'"),
        (lambda m: {**m, "cells": [7]}, "cells[0] is not an object"),
    ],
)
def test_damaged_file_is_named(model_dir: Path, damage, message: str) -> None:
    path = _write_raw(model_dir, damage(_good(model_dir)))
    with pytest.raises(ModelError) as err:
        load_reference(model_dir)
    assert str(path) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("max_sigma_hartree", -1.0, "sigma must be in (0, 1) Hartree"),
        ("mean_sigma_hartree", float("nan"), "sigma must be in (0, 1) Hartree"),
        ("max_sigma_hartree", 1e300, "sigma must be in (0, 1) Hartree"),
        ("iterations", 0, "iterations 0 out of range"),
        ("default_iterations", 10**9, "out of range"),
        ("atoms", 0, "atoms must be >= 1"),
        ("iterations", "five", "cells[2]"),
    ],
)
def test_absurd_values_are_refused(model_dir: Path, field, value, message) -> None:
    meta = _good(model_dir)
    meta["cells"][2][field] = value
    _write_raw(model_dir, meta)
    with pytest.raises(ModelError, match=None) as err:
        load_reference(model_dir)
    assert message in str(err.value) and "cells[2]" in str(err.value)


def test_retrained_model_makes_the_file_stale(model_dir: Path) -> None:
    _good(model_dir)
    assert load_reference(model_dir) is not None
    (model_dir / "model.json").write_text('{"format": "retrained"}\n')
    with pytest.raises(ModelError, match="another model.json"):
        load_reference(model_dir)


def test_failed_write_keeps_the_old_file(model_dir: Path, monkeypatch) -> None:
    import errno

    from pyolcaoml import _atomic

    _good(model_dir)
    before = (model_dir / FILE_NAME).read_bytes()

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_atomic.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_reference(model_dir, [_cell(k, 2e-3, 9) for k in range(7)], "constant")
    assert (model_dir / FILE_NAME).read_bytes() == before
    assert sorted(os.listdir(model_dir)) == ["model.json", FILE_NAME]


# --- the shipped reference files -------------------------------------------


def _bench_rows(source: str) -> list[dict]:
    path = REPO / source.rpartition(":")[0]
    rows = json.loads(path.read_text())
    return rows["rows"] if isinstance(rows, dict) else rows


def _shipped(name: str):
    ref = load_reference(MODELS[name])
    assert ref is not None, f"{MODELS[name]} has no {FILE_NAME}"
    return ref


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_reference_quotes_olcao(name: str) -> None:
    """Every cell's iterations are those OLCAO logged in the bench JSON it
    names (the model's start, and OLCAO's default start where recorded),
    and no cell is one the model trained on."""
    ref = _shipped(name)
    meta = json.loads((MODELS[name] / "model.json").read_text())
    trained = set(meta["training"]["train_structures"]) | set(
        meta["training"]["validation_structures"]
    )
    assert len(ref.cells) >= 10
    for c in ref.cells:
        assert c.run not in trained
        start = c.source.rpartition(":")[2]
        rows = _bench_rows(c.source)
        mine = [r for r in rows if r["run"] == c.run and r["start"] == start]
        assert len(mine) == 1, (c.run, c.source)
        assert c.iterations == mine[0]["iterations_to_1e-4"]
        assert c.atoms == mine[0]["atoms"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_reference_sigma_is_the_models(name: str) -> None:
    """Each cell's largest and mean sigma, recomputed by predicting the
    stored run's structure with the model (so the file cannot outlive a
    change of model or of the descriptors), and its iteration group."""
    from pyolcaoml.olcao import read_run

    ref = _shipped(name)
    model = load_model(MODELS[name])
    for c in ref.cells:
        root = (REPO / c.source.rpartition(":")[0]).parent
        found = [p for p in root.rglob(c.run) if (p / "inputs").is_dir()]
        assert found, f"no run directory {c.run} under {root}"
        run = read_run(str(found[0]))
        sigma = np.asarray(predict_structure(model, run.structure).sigma)
        assert sigma.max() == pytest.approx(c.max_sigma_hartree, rel=1e-6)
        assert sigma.mean() == pytest.approx(c.mean_sigma_hartree, rel=1e-6)
        # the group the geometry gives (None in a reference without groups)
        assert c.group == ref.group_of(run.structure), c.run


CELL = REPO / "data" / "scf_test_runs" / "si8_r0.15_seed73003" / "olcao.skl"


def _shipped_estimate(structure: Path):
    """The bundled default model's estimate for a structure, from its sigma
    and its reference, computed here without the CLI."""
    sigma = predict_structure(
        load_model(MODELS["default"]), read_structure(str(structure))
    ).sigma
    return _shipped("default").estimate(float(np.max(sigma)), len(sigma))


def _default_copy(tmp_path: Path) -> Path:
    model = tmp_path / "m"
    shutil.copytree(MODELS["default"], model)
    return model


def test_predict_prints_the_estimate(tmp_path: Path, capsys) -> None:
    ref = _shipped("default")
    assert main(["predict", str(CELL), "-o", str(tmp_path / "scfV.dat")]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("OLCAO from this"))
    assert f"against {len(ref.cells)} OLCAO runs" in text
    m = re.search(r"about (\d+) iterations to 1e-4 \(80 % range (\d+)-?(\d*)\)", line)
    assert m, line
    got = [int(m.group(1)), int(m.group(2)), int(m.group(3) or m.group(2))]
    est = _shipped_estimate(CELL)
    assert got[:3] == [est.iterations, est.low, est.high]


def test_predict_with_a_damaged_reference_still_writes(tmp_path: Path, capsys) -> None:
    model = _default_copy(tmp_path)
    (model / FILE_NAME).write_text("{")
    out, report = tmp_path / "scfV.dat", tmp_path / "atoms.csv"
    args = ["predict", str(model), str(CELL), "-o", str(out), "--report", str(report)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert out.is_file()
    assert len(report.read_text().splitlines()) == 1 + 8  # header + 8 atoms
    assert f"cannot read {model / FILE_NAME}" in text
    assert "no estimate of OLCAO's iterations" in text
    assert model_json_sha256(model) == model_json_sha256(MODELS["default"])


def test_demo_with_a_stale_reference_still_runs(tmp_path: Path, capsys) -> None:
    model = _default_copy(tmp_path)
    meta = json.loads((model / FILE_NAME).read_text())
    meta["model_json_sha256"] = "0" * 64
    (model / FILE_NAME).write_text(json.dumps(meta))
    rc = main(["demo", "--model", str(model), "-o", str(tmp_path / "out")])
    text = capsys.readouterr().out
    assert rc == 0 and (tmp_path / "out" / "scfV.dat").is_file()
    assert "was made for another model.json" in text
    assert "OLCAO from this start" not in text


def test_info_names_each_reference(capsys) -> None:
    assert main(["info"]) == 0
    line = next(
        x for x in capsys.readouterr().out.splitlines() if x.startswith("olcao runs")
    )
    for name, path in MODELS.items():
        meta = json.loads((path / FILE_NAME).read_text())
        groups = "".join(
            f"; {g['name']} {sum(c.get('group') == g['name'] for c in meta['cells'])}"
            for g in meta.get("groups", [])
        )
        assert f"{name} {len(meta['cells'])} ({meta['predictor']}{groups})" in line


def test_many_inputs_record_the_estimate(tmp_path: Path) -> None:
    """predict IN... -o FILE.h5: /structures/expected_iterations holds each
    structure's estimate, the same as one prediction alone gives."""
    runs = REPO / "data" / "scf_test_runs"
    cells = [
        runs / n / "olcao.skl" for n in ("si8_r0.05_seed73000", "si8_r0.20_seed73005")
    ]
    out = tmp_path / "p.h5"
    assert main(["predict", *map(str, cells), "-o", str(out), "-q"]) == 0
    with h5py.File(out) as f:
        got = f["structures/expected_iterations"][:].tolist()
        got_default = f["structures/expected_default_iterations"][:].tolist()
    estimates = list(map(_shipped_estimate, cells))
    want = [[e.iterations, e.low, e.high] for e in estimates]
    assert got == want and want[0] != want[1]
    assert got_default == [list(e.default) for e in estimates]


def test_many_inputs_with_a_damaged_reference(tmp_path: Path, capsys) -> None:
    model = _default_copy(tmp_path)
    (model / FILE_NAME).write_text("[]")
    out = tmp_path / "p.h5"
    assert main(["predict", str(model), str(CELL), str(CELL), "-o", str(out)]) == 0
    with h5py.File(out) as f:
        assert f["structures/expected_iterations"][:].tolist() == [[-1, -1, -1]] * 2
        none = f["structures/expected_default_iterations"][:].tolist()
        assert none == [[-1, -1, -1]] * 2
    assert "no estimate of OLCAO's iterations" in capsys.readouterr().err


def test_many_inputs_to_a_folder_print_the_estimates(tmp_path: Path, capsys) -> None:
    """predict IN... -o FOLDER/: each structure's estimate is printed, the
    slowest first, the same as one prediction alone gives."""
    runs = REPO / "data" / "scf_test_runs"
    names = ("si8_r0.05_seed73000", "si8_r0.20_seed73005")
    cells = [runs / n / "olcao.skl" for n in names]
    assert main(["predict", *map(str, cells), "-o", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "OLCAO's expected iterations to 1e-4 from these starts" in text
    got = re.findall(r"^  (\S+): about (\d+) \((\d+)-?(\d*)\)$", text, re.M)
    assert len(got) == 2
    want = {n: _shipped_estimate(c) for n, c in zip(names, cells, strict=True)}
    for name, n, lo, hi in got:
        (key,) = [k for k in want if k in name]
        e = want[key]
        assert (int(n), int(lo), int(hi or lo)) == (e.iterations, e.low, e.high)
    assert int(got[0][1]) >= int(got[1][1])  # the slowest first
