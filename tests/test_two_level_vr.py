"""benchmarks/two_level_vr.py: RMS V(r) per element of the starts on a
stored SiC set. References: the stored OLCAO files themselves (the MB
SCF's and the converged FB potential, the element of each potential type
from olcao.dat's labels), read here by a few lines of text parsing, and
V(r) integrated by scipy's adaptive quadrature, not the package's radial
grid."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, load_benchmark
from scipy.integrate import quad

SET = "stop53b"
ROOT = REPO / "data" / "sic" / f"test_runs_{SET}"


def _load():
    return load_benchmark("two_level_vr")


def _coefficients(path: Path) -> list[np.ndarray]:
    """Column 1 (A_i, Hartree) and 2 (alpha_i) of each type of an scfV file."""
    lines = path.read_text().split("\n")
    n_types = int(lines[0].split()[1])
    i, out = 2, []  # after NUM_TYPES and TOTAL__OR__SPIN_UP
    for _ in range(n_types):
        n = int(lines[i])
        rows = [list(map(float, ln.split()[:2])) for ln in lines[i + 1 : i + 1 + n]]
        out.append(np.array(rows))
        i += 1 + n
    return out


def _elements(olcao_dat: Path) -> list[str]:
    """The element of each potential type: its label's letters (si1_1 -> Si)."""
    lines = olcao_dat.read_text().split("\n")
    labels = [
        lines[k + 1].strip()
        for k, ln in enumerate(lines)
        if ln.strip() == "POTENTIAL_TYPE_LABEL"
    ]
    return [re.match(r"[a-z]+", lab).group(0).capitalize() for lab in labels]


def _rms_v(d: np.ndarray, alphas: np.ndarray) -> float:
    """RMS over 0.05 <= r <= 6 Bohr (weight r^2 dr) of sum_i d_i exp(-a_i r^2)."""

    def v2(r: float) -> float:
        return float(np.dot(d, np.exp(-alphas * r * r))) ** 2 * r * r

    num = quad(v2, 0.05, 6.0, limit=400, epsabs=0.0, epsrel=1e-10)[0]
    den = (6.0**3 - 0.05**3) / 3.0
    return float(np.sqrt(num / den))


@pytest.fixture(scope="module")
def rows():
    return {r.element: r for r in _load().summarise(SET)}


@pytest.fixture(scope="module")
def independent(tmp_path_factory):
    """Per element: squared RMS V(r) of MB alone and of the average atom
    (model.json's coefficients), whole and less each cell's element mean."""
    tmp = tmp_path_factory.mktemp("mb")
    with tarfile.open(ROOT / "mb_two_level.tar.xz") as tar:
        tar.extractall(tmp, filter="data")
    model = json.loads((REPO / "data" / "sic_model" / "model.json").read_text())
    average = {
        el: np.array(m["average_coeffs_hartree"]) for el, m in model["elements"].items()
    }
    out: dict[tuple[str, str, str], list[float]] = {}
    cells = sorted(p.parent.name for p in tmp.glob("*/gs_scfV-mb.dat"))
    assert len(cells) == 4
    for cell in cells:
        run = ROOT / "defect" / cell
        conv = _coefficients(run / "gs_scfV-fb.dat")
        mb = _coefficients(tmp / cell / "gs_scfV-mb.dat")
        els = _elements(run / "inputs" / "olcao.dat")
        assert len(els) == len(conv) == len(mb)
        alphas = [c[:, 1] for c in conv]
        errs = {
            "MB alone": [m[:, 0] - c[:, 0] for m, c in zip(mb, conv, strict=True)],
            "average": [average[e] - c[:, 0] for e, c in zip(els, conv, strict=True)],
        }
        for start, err in errs.items():
            for el in set(els):
                idx = [t for t, e in enumerate(els) if e == el]
                mean = np.mean([err[t] for t in idx], axis=0)
                for t in idx:
                    for part, d in (("whole", err[t]), ("a2a", err[t] - mean)):
                        out.setdefault((start, part, el), []).append(
                            _rms_v(d, alphas[t]) ** 2
                        )
    return {k: float(np.sqrt(np.mean(v))) * 1e3 for k, v in out.items()}


@pytest.mark.parametrize("element", ["Si", "C"])
@pytest.mark.parametrize("start", ["MB alone", "average"])
def test_rms_matches_independent_quadrature(rows, independent, element, start):
    r = rows[element]
    assert r.rms_mha[start] == pytest.approx(
        independent[(start, "whole", element)], rel=1e-4
    )
    assert r.atom_to_atom_mha[start] == pytest.approx(
        independent[(start, "a2a", element)], rel=1e-4
    )


def test_counts_and_order(rows):
    # the set's four 31-33-atom cells: every cell has both elements
    assert set(rows) == {"Si", "C"}
    assert rows["Si"].cells == rows["C"].cells == 4
    assert rows["Si"].atoms + rows["C"].atoms == 31 + 31 + 32 + 31
    # the isolated atom (OLCAO's default start) is the worst start here
    for r in rows.values():
        assert max(r.rms_mha, key=r.rms_mha.get) == "isolated"
        assert r.sigma_mha > 0


def test_less_cell_mean_removes_each_elements_mean():
    mod = _load()
    rng = np.random.default_rng(0)
    err = [rng.normal(size=3) + 5.0 for _ in range(5)]
    syms = ["Si", "C", "Si", "Si", "C"]
    out = mod.less_cell_mean(err, syms)
    for el in ("Si", "C"):
        idx = [t for t, s in enumerate(syms) if s == el]
        np.testing.assert_allclose(np.sum([out[t] for t in idx], axis=0), 0, atol=1e-12)
        # differences between atoms of one element are kept
        np.testing.assert_allclose(out[idx[0]] - out[idx[1]], err[idx[0]] - err[idx[1]])


def test_unknown_set_is_named(capsys):
    with pytest.raises(SystemExit):
        _load().main(["stop99"])
    assert "stop99" in capsys.readouterr().err


def test_markdown_table(rows):
    text = _load().table(list(rows.values()), markdown=True)
    lines = text.splitlines()
    assert lines[0].startswith("| set | kind | element |")
    assert len(lines) == 2 + 2
    assert f"| {SET} | defect | Si |" in text


def test_a_set_without_mb_scfs():
    """Stop 59's set keeps no MB SCF: its two-level and MB columns are not
    measured ("-"), the average atom's is, against the same independent
    quadrature over every stored cell."""
    name = "stop59"
    root = REPO / "data" / "sic" / f"test_runs_{name}"
    assert not (root / "mb_two_level.tar.xz").exists()
    mod = _load()
    got = {r.element: r for r in mod.summarise(name)}
    model = json.loads((REPO / "data" / "sic_model" / "model.json").read_text())
    sq: dict[str, list[float]] = {}
    cells = sorted(p.parent for p in root.glob("defect/*/meta.json"))
    assert len(cells) == 8
    for run in cells:
        conv = _coefficients(run / "gs_scfV-fb.dat")
        els = _elements(run / "inputs" / "olcao.dat")
        for el, c in zip(els, conv, strict=True):
            avg = np.array(model["elements"][el]["average_coeffs_hartree"])
            sq.setdefault(el, []).append(_rms_v(avg - c[:, 0], c[:, 1]) ** 2)
    for el, r in got.items():
        assert r.cells == 8
        assert r.rms_mha["average"] == pytest.approx(
            np.sqrt(np.mean(sq[el])) * 1e3, rel=1e-4
        )
        assert np.isnan(r.rms_mha["two-level"]) and np.isnan(r.rms_mha["MB alone"])
    line = next(ln for ln in mod.table(list(got.values()), True).splitlines()[2:])
    assert "| - |" in line
