"""The bundled Si + C model (data/sic_model, name 'sic').

It was made by extending a Si model, data/sic_base_model (the Si model
shipped before stop 26; data/make_default_model.py --sic-runs
data/sic/runs): for structures of Si alone it must give that model's
coefficients, member by member, to round-off: the reference is the base
model, computed with its own (non-chem) descriptor. For SiC the references
are real OLCAO runs it never saw (data/sic/runs, held out).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from ase.build import bulk

from pyolcaoml.cli import main
from pyolcaoml.model.potential import DEFAULT_METRIC
from pyolcaoml.model.saved import bundled_model_path, load_model
from pyolcaoml.olcao import read_run, read_scfv
from pyolcaoml.structure import Structure

REPO = Path(__file__).resolve().parents[1]
SIC_RUNS = REPO / "data" / "sic" / "runs"


def _si_cell(reps, sigma, seed) -> Structure:
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(reps)
    atoms.rattle(sigma, seed=seed)
    return Structure(
        cell=atoms.cell.array,
        positions=atoms.positions,
        symbols=atoms.get_chemical_symbols(),
    )


def test_sic_model_is_its_base_si_model_on_pure_si() -> None:
    si, sic = load_model(REPO / "data" / "sic_base_model"), load_model("sic")
    assert set(sic.elements) == {"Si", "C"} and set(si.elements) == {"Si"}
    for cell in (_si_cell((1, 1, 1), 0.1, 0), _si_cell((2, 2, 1), 0.25, 1)):
        want = si.predict_members("Si", si.descriptor_calculator().compute(cell))
        got = sic.predict_members("Si", sic.descriptor_calculator().compute(cell))
        assert got.shape == want.shape and got.shape[0] == 5
        assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def test_held_out_sic_runs_beat_the_default_start() -> None:
    """On every held-out SiC run, each element's prediction is far closer to
    OLCAO's converged potential than OLCAO's default start (the isolated
    atoms) and than the model's average atom."""
    model = load_model("sic")
    held = model.training["holdout_structures"]
    runs = [p for p in SIC_RUNS.glob("*/*") if p.name in held]
    assert len(runs) >= 6
    calc = model.descriptor_calculator()
    for path in runs:
        run = read_run(path)
        sym = list(run.structure.symbols)
        x = calc.compute(run.structure)
        true = np.array(run.converged_coeffs_per_atom)
        for el in ("Si", "C"):
            rows = [i for i, s in enumerate(sym) if s == el]
            if not rows:
                continue
            em = model.elements[el]
            pred = model.predict_element(el, x[rows])
            err = DEFAULT_METRIC.rms(pred, true[rows], em.alphas)
            iso = DEFAULT_METRIC.rms(
                np.tile(em.isolated, (len(rows), 1)), true[rows], em.alphas
            )
            assert err < iso / 4, (path.name, el, err, iso)


def test_predict_picks_the_sic_model_for_sic(tmp_path, capsys) -> None:
    """No MODEL given and the run has C: the bundled Si + C model is used
    and says so; the scfV.dat has one potential type per atom."""
    src = SIC_RUNS / "rattle" / "sic8_r0.10_seed10011"
    work = tmp_path / "run"
    shutil.copytree(src / "inputs", work / "inputs")
    shutil.copy(src / "olcao.skl", work / "olcao.skl")
    assert main(["predict", str(work), "--force"]) == 0
    out = capsys.readouterr().out
    assert "using the bundled model for them (sic_model)" in out
    assert f"model {bundled_model_path('sic')}" in out
    scfv = read_scfv(work / "inputs" / "scfV.dat")
    assert scfv.n_types == 8


def test_python_api_and_many_inputs_pick_the_sic_model_for_c(tmp_path, capsys):
    """``pyolcaoml.predict.predict(atoms)`` with no model (or 'default')
    and the many-input command with no MODEL give a structure with C the
    bundled Si + C model, as the single-input command does: the same
    coefficients as naming 'sic' (the default model would refuse C)."""
    from pyolcaoml.predict import predict
    from pyolcaoml.structure import read_structure

    skl = SIC_RUNS / "rattle" / "sic8_r0.10_seed10011" / "olcao.skl"
    named = predict(read_structure(str(skl)), "sic")
    for model in (None, "default"):
        pred = predict(read_structure(str(skl)), model)
        assert Path(pred.model.path) == Path(bundled_model_path("sic"))
        np.testing.assert_array_equal(np.stack(pred.coeffs), np.stack(named.coeffs))
    si = REPO / "data" / "scf_test_runs" / "si8_r0.10_seed10100" / "olcao.skl"
    out = tmp_path / "many"
    assert main(["predict", str(skl), str(si), "-o", f"{out}/"]) == 0
    alone = tmp_path / "alone.dat"
    assert main(["predict", "sic", str(skl), "-o", str(alone)]) == 0
    written = [p.read_bytes() for p in out.rglob("scfV.dat")]
    assert len(written) == 2 and alone.read_bytes() in written


def test_default_model_names_the_sic_model_for_c(tmp_path, capsys) -> None:
    skl = SIC_RUNS / "rattle" / "sic8_r0.10_seed10011" / "olcao.skl"
    rc = main(
        ["predict", str(bundled_model_path()), str(skl), "-o", str(tmp_path / "x")]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "not in the model" in err and "'sic'" in err


def test_sic_demo_case_runs(tmp_path, capsys) -> None:
    manifest = json.loads((REPO / "data" / "demo" / "manifest.json").read_text())
    cases = [c for c in manifest["cases"] if c.get("model") == "sic_model"]
    assert cases
    out = tmp_path / "demo"
    assert main(["demo", "--case", cases[0]["name"], "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "C:" in text and "Si:" in text
    assert (out / "scfV.dat").is_file()


def test_sic_model_predicts_si_next_to_c_with_its_variant() -> None:
    """The shipped Si + C model keeps the Si model's networks for pure Si and
    has a Si variant for Si next to C, calibrated on its own out-of-bag
    atoms. The switch is ASE's neighbour list with the descriptor's largest
    Si-C cutoff, max(scales) rcutfac (R_Si + R_C): every Si atom of a real
    SiC run, and in a 216-atom Si cell with one C those within it only, or
    (with a neighbour mean, stop 23) within r_outer of a Si atom that is."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    model = load_model("sic")
    em = model.elements["Si"]
    assert em.variant_columns is not None and em.variant_elements == ["C"]
    assert len(em.variant_members) == len(em.networks) == 5
    assert em.variant_calibration.n_atoms >= 20 and em.calibration.n_atoms >= 20
    assert model.elements["C"].variant_columns is None
    d = model.descriptor
    hop = d["type"] == "neighbour_mean"
    hops = int(d.get("hops", 1)) if hop else 0
    # the neighbour mean's reach of each element pair (r_outer, or the
    # pair's own: stop 24)
    own = {frozenset(k.split("-")): v[1] for k, v in d.get("pairs", {}).items()}
    r_hop = max([d["r_outer"], *own.values()]) if hop else None
    d = d["inner"] if hop else d
    cutoff = max(d["scales"]) * d["rcutfac"] * (d["radii"]["Si"] + d["radii"]["C"])
    doped = bulk("Si", "diamond", 5.43, cubic=True).repeat((3, 3, 3))
    doped.symbols[0] = "C"
    cells = [read_run(SIC_RUNS / "rattle" / "sic8_r0.10_seed10011").structure]
    cells.append(
        Structure(
            cell=np.array(doped.cell),
            positions=doped.positions,
            symbols=list(doped.get_chemical_symbols()),
        )
    )
    for st, everyone in zip(cells, (True, False), strict=True):
        sym = np.asarray(st.symbols)
        x = model.descriptor_calculator().compute(st)[sym == "Si"]
        atoms = Atoms(sym.tolist(), positions=st.positions, cell=st.cell, pbc=True)
        i, j = neighbor_list("ij", atoms, cutoff)
        near = {int(a) for a, b in zip(i, j, strict=True) if sym[b] == "C"}
        if hop:  # each hop: a neighbour (within its pair's r_outer) is near
            i2, j2, d2 = neighbor_list("ijd", atoms, r_hop)
            reach = [
                own.get(frozenset((sym[a], sym[b])), model.descriptor["r_outer"])
                for a, b in zip(i2, j2, strict=True)
            ]
            for _ in range(hops):
                near |= {
                    int(a)
                    for a, b, r, top in zip(i2, j2, d2, reach, strict=True)
                    if int(b) in near and r < top
                }
        want = np.array([int(a) in near for a in np.nonzero(sym == "Si")[0]])
        assert want.all() if everyone else 0 < want.sum() < len(want)
        np.testing.assert_array_equal(em.uses_variant(x), want)
