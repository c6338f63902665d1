"""Iteration groups of the expected OLCAO iterations (stop 55).

A reference may split its cells by a rule on the geometry (the Si vacancy
in SiC), each group with its own fit.  Checked here: the fit of each group
on hand-made references whose answer is known analytically (residuals
orthogonal to the columns, as in tests/test_olcao_iterations.py), the
group a structure falls in against structures built with ASE whose bonds
are known (3C-SiC with and without a Si atom), the file's version and
every refusal, and the model file written for the library (version 9).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.olcao_iterations import (
    FILE_NAME,
    IterationGroup,
    ReferenceCell,
    estimate_for,
    load_reference,
    write_reference,
)
from pyolcaoml.model.sic_vacancy import SI_VACANCY_GROUP

REPO = Path(__file__).resolve().parents[1]
# a made-up rule (four C atoms with three neighbours within 2.45 Å, with Si)
RULE = IterationGroup("si_vacancy", "C", 3, 2.45, 3, "Si")


def _cells(a: float, b: float, c: float, group: str | None, start: int) -> list:
    """Eight cells with y = a + b x1 + c log2(atoms) + r, x1 = ln(sigma /
    1 mHa) at +-1, atoms 16 and 32, residuals +-1 (orthogonal to every
    column, so least squares returns a, b and c / ln 2 exactly)."""
    out = []
    for x1 in (-1.0, 1.0):
        for atoms in (16, 32):
            for r in (1, -1):
                y = a + b * x1 + c * math.log2(atoms) + r
                out.append(
                    ReferenceCell(
                        run=f"cell{start + len(out)}",
                        source="test",
                        atoms=atoms,
                        max_sigma_hartree=1e-3 * math.exp(x1),
                        mean_sigma_hartree=5e-4,
                        iterations=int(y),
                        default_iterations=int(y) + 10,
                        group=group,
                    )
                )
    return out


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "model.json").write_text('{"format": "stand-in"}\n')
    return d


@pytest.fixture
def grouped(model_dir: Path) -> Path:
    cells = _cells(5, 2, 1, None, 0) + _cells(20, 1, 3, "si_vacancy", 8)
    write_reference(model_dir, cells, "log_max_sigma_log_atoms", groups=[RULE])
    return model_dir


def _sic(remove_si: bool, reps=(2, 2, 1)):
    """3C-SiC (a = 4.36 Å; bonds 1.89 Å, next shell 3.08 Å) repeated,
    with the first Si atom removed or not."""
    atoms = bulk("SiC", "zincblende", a=4.36, cubic=True).repeat(reps)
    if remove_si:
        del atoms[[a.index for a in atoms if a.symbol == "Si"][0]]
    return atoms


def test_each_group_has_its_own_fit(grouped: Path) -> None:
    ref = load_reference(grouped)
    lo, hi = np.percentile([1, -1] * 4, [10, 90])
    for group, (a, b, c) in ((None, (5, 2, 1)), ("si_vacancy", (20, 1, 3))):
        for x1, atoms in ((0.3, 20), (-0.8, 31)):
            est = ref.estimate(1e-3 * math.exp(x1), atoms, group)
            point = a + b * x1 + c * math.log2(atoms)
            assert est.iterations == math.floor(point + 0.5)
            assert (est.low, est.high) == (
                math.floor(point + lo + 0.5),
                math.floor(point + hi + 0.5),
            )
            assert est.default[0] == math.floor(point + 10.5)
            assert est.n_cells == 8
            assert not est.extrapolated
    with pytest.raises(ModelError, match="no iteration group 'other'"):
        ref.estimate(1e-3, 20, "other")


def test_the_structure_picks_the_group(grouped: Path) -> None:
    ref = load_reference(grouped)
    # a Si vacancy leaves its four C neighbours three-fold; the perfect
    # crystal has none, and a C vacancy leaves three-fold Si, not C
    vac = _sic(True)
    assert ref.group_of(vac) == "si_vacancy"
    assert ref.group_of(_sic(False)) is None
    c_vac = _sic(False)
    del c_vac[[a.index for a in c_vac if a.symbol == "C"][0]]
    assert ref.group_of(c_vac) is None
    # the 8-atom cell: every image counts (its edge 4.36 Å < 2 x 2.45)
    assert ref.group_of(_sic(True, (1, 1, 1))) == "si_vacancy"
    x1 = 0.5
    sigma = [1e-3 * math.exp(x1)] + [1e-4] * (len(vac) - 1)
    est = estimate_for(str(grouped), sigma, vac)
    assert est.iterations == math.floor(20 + x1 + 3 * math.log2(31) + 0.5)
    assert est.group == RULE
    text = "\n".join(est.summary())
    assert "on si_vacancy cells" in text
    assert "3 or more C atoms with exactly 3 neighbours within 2.45 Å" in text
    general = estimate_for(str(grouped), sigma, _sic(False, (2, 2, 1))[:31])
    assert general.iterations == math.floor(5 + 2 * x1 + math.log2(31) + 0.5)
    # without a structure: the general cells' fit
    assert estimate_for(str(grouped), sigma).iterations == general.iterations


def test_required_element_and_count(model_dir: Path) -> None:
    # diamond-structure C with one atom removed: four three-fold C atoms,
    # but no Si, so not the SiC rule; a rule that asks for more three-fold
    # atoms than the vacancy leaves does not match either
    c = bulk("C", "diamond", a=3.57, cubic=True).repeat((2, 2, 1))
    del c[0]
    assert len(SI_VACANCY_GROUP.atoms_matching(c)) == 4
    assert not SI_VACANCY_GROUP.matches(c)
    no_si = dataclasses.replace(SI_VACANCY_GROUP, requires=None, cutoff_angstrom=1.8)
    assert no_si.matches(c)
    assert not dataclasses.replace(no_si, min_atoms=5).matches(c)


def test_versions_on_disk(grouped: Path, model_dir: Path, tmp_path: Path) -> None:
    meta = json.loads((grouped / FILE_NAME).read_text())
    assert meta["version"] == 2
    assert meta["groups"] == [
        {
            "name": "si_vacancy",
            "element": "C",
            "neighbours": 3,
            "cutoff_angstrom": 2.45,
            "min_atoms": 3,
            "requires": "Si",
        }
    ]
    assert {c["group"] for c in meta["cells"]} == {None, "si_vacancy"}
    # without groups: version 1, no group field (older readers)
    other = tmp_path / "plain"
    shutil.copytree(model_dir, other)
    write_reference(other, _cells(5, 2, 1, None, 0), "log_max_sigma_log_atoms")
    plain = json.loads((other / FILE_NAME).read_text())
    assert plain["version"] == 1 and "groups" not in plain
    assert all("group" not in c for c in plain["cells"])


def _damaged(grouped: Path, change) -> None:
    path = grouped / FILE_NAME
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(version=1), "groups need version 2"),
        (lambda m: m["cells"][9].update(group="other"), "not declared"),
        (lambda m: m["groups"].append(dict(m["groups"][0])), "share a name"),
        (lambda m: m["groups"][0].update(neighbours=-1), "neighbours must be"),
        (lambda m: m["groups"][0].update(cutoff_angstrom=0), "cutoff_angstrom"),
        (lambda m: m["groups"][0].update(cutoff_angstrom="2.45"), "cutoff_angstrom"),
        (lambda m: m["groups"][0].update(name="general"), "name 'general'"),
        (lambda m: m["groups"][0].update(name="si vacancy"), "a word of"),
        (lambda m: m["groups"][0].update(name="si_lacune_\u00e9"), "ASCII"),
        (lambda m: m["groups"][0].update(name="3fold"), "a word of"),
        (lambda m: m["groups"][0].update(cutoff_angstrom=10.5), "cutoff_angstrom"),
        (lambda m: m["groups"][0].update(element="C3"), "not a symbol"),
        (lambda m: m["groups"][0].pop("min_atoms"), "has no 'min_atoms'"),
        (lambda m: m.update(groups={}), "must be a list"),
        (
            lambda m: [c.update(iterations=None) for c in m["cells"][8:12]],
            "has 4 converged runs, a fit needs 5",
        ),
    ],
)
def test_damaged_groups_are_named(grouped: Path, change, message: str) -> None:
    _damaged(grouped, change)
    with pytest.raises(ModelError, match=message) as info:
        load_reference(grouped)
    assert FILE_NAME in str(info.value)


def test_write_refuses_what_load_would(model_dir: Path) -> None:
    cells = _cells(5, 2, 1, None, 0) + _cells(20, 1, 3, "si_vacancy", 8)
    with pytest.raises(ModelError, match="not declared"):
        write_reference(model_dir, cells, "log_max_sigma_log_atoms")
    assert not (model_dir / FILE_NAME).exists()
    few = _cells(5, 2, 1, None, 0) + _cells(20, 1, 3, "si_vacancy", 8)[:4]
    with pytest.raises(ModelError, match="has 4 converged runs"):
        write_reference(model_dir, few, "log_max_sigma_log_atoms", groups=[RULE])
    assert not (model_dir / FILE_NAME).exists()


def test_export_writes_version_9(tmp_path: Path) -> None:
    """The bundled SiC model with a grouped reference of its own stored
    cells: version 9, the general block counts only the general cells, and
    the group's rule is written as declared."""
    from pyolcaoml.export import format_model
    from pyolcaoml.model.saved import load_model

    model_dir = tmp_path / "sic"
    shutil.copytree(REPO / "data" / "sic_model", model_dir)
    ref = load_reference(model_dir)
    cells = [dataclasses.replace(c, group=None) for c in ref.cells]
    # mark ten cells as a group (which ones does not matter to the format)
    marked = [dataclasses.replace(c, group="si_vacancy") for c in cells[:10]]
    write_reference(
        model_dir, marked + cells[10:], ref.predictor, groups=[SI_VACANCY_GROUP]
    )
    notes: list[str] = []
    text = format_model(load_model(model_dir), notes=notes)
    assert not notes
    lines = text.splitlines()
    assert lines[0].split()[-1] == "9"
    general = next(w for w in lines if w.startswith("EXPECTED_ITERATIONS "))
    n_general = len(cells) - 10
    assert general.split()[2] == str(n_general)
    k = lines.index("ITERATION_GROUPS 1")
    words = lines[k + 1].split()
    assert words[:4] == ["ITERATION_GROUP", "si_vacancy", "C", "3"]
    assert float(words[4]) == 2.45
    assert words[5:] == [
        "3",
        "Si",
        "10",
        str(sum(c.iterations is None for c in marked)),
    ]
    assert lines[k + 2].startswith("ITERATIONS_FIT ")
    assert any(w.startswith("ITERATIONS_DOMAIN ") for w in lines[k + 2 : k + 5])


def _sic_grouped_copy(tmp_path: Path) -> Path:
    """The bundled SiC model with its own reference split by the defect
    label in each cell's run name (sic16_vacSi_...: a Si vacancy)."""
    model_dir = tmp_path / "sic"
    shutil.copytree(REPO / "data" / "sic_model", model_dir)
    ref = load_reference(model_dir)
    cells = [
        dataclasses.replace(c, group="si_vacancy" if "_vacSi_" in c.run else None)
        for c in ref.cells
    ]
    write_reference(model_dir, cells, ref.predictor, groups=[SI_VACANCY_GROUP])
    return model_dir


def test_many_inputs_record_the_group(tmp_path: Path) -> None:
    import h5py
    from ase.io import write

    from pyolcaoml.cli import main

    model_dir = _sic_grouped_copy(tmp_path)
    files = []
    for name, atoms in (("vac.xyz", _sic(True)), ("perfect.xyz", _sic(False))):
        write(tmp_path / name, atoms, format="extxyz")
        files.append(tmp_path / name)
    out = tmp_path / "p.h5"
    args = ["predict", str(model_dir), *map(str, files), "-o", str(out), "-q"]
    assert main(args) == 0
    with h5py.File(out) as f:
        groups = [g.decode() for g in f["structures/iteration_group"][:]]
        got = f["structures/expected_iterations"][:].tolist()
    assert groups == ["si_vacancy", "general"]
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.workflow import predict_structure

    model = load_model(model_dir)
    for atoms, row in zip((_sic(True), _sic(False)), got, strict=True):
        pred = predict_structure(model, atoms)
        est = estimate_for(model, pred.sigma, atoms)
        assert row == [est.iterations, est.low, est.high]
    # the vacancy's estimate is the group's, not the general cells'
    ref = load_reference(model_dir)
    vac = _sic(True)
    sigma = np.asarray(predict_structure(model, vac).sigma)
    general = ref.estimate(float(sigma.max()), len(vac))
    assert got[0] != [general.iterations, general.low, general.high]
