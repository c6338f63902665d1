"""Extending a Si model to SiC (pyolcaoml.model.extend) on real OLCAO runs.

The reference for "unchanged" is the base model itself: a separately
trained Si-only model whose predictions, computed with its own descriptor,
the extended model must reproduce for any structure of Si alone (to
round-off), while it learns the Si atoms next to carbon.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.cli import main
from pyolcaoml.model.errors import ModelError
from pyolcaoml.structure import Structure

REPO = Path(__file__).resolve().parents[1]
SI_RUNS = REPO / "data" / "runs"  # 4 real Si runs (8- and 15-atom cells)
SIC_RUNS = REPO / "data" / "sic" / "runs"
SMALL = ["--twojmax", "4", "--radius", "Si=2.35"]
SIC = ["--twojmax", "4", "--radius", "Si=2.35", "--radius", "C=1.609", "--chem"]
FAST = ["--hidden", "8", "--epochs", "25", "--patience", "25", "--quiet"]
HOLD = "sic8_r0.10_seed10011"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("extend")
    si, sic = tmp / "si.h5", tmp / "sic.h5"
    assert main(["convert", str(SI_RUNS), "-o", str(si), "--quiet", *SMALL]) == 0
    runs = [str(SI_RUNS), str(SIC_RUNS / "rattle"), str(SIC_RUNS / "strain")]
    assert main(["convert", *runs, "-o", str(sic), "--quiet", *SIC]) == 0
    base, ext = tmp / "base", tmp / "ext"
    common = ["--seed", "0", "--ensemble", "2", *FAST]
    assert main(["train", str(si), "-o", str(base), *common]) == 0
    args = ["train", str(sic), "-o", str(ext), "--extend", str(base), *common]
    assert main([*args, "--holdout", HOLD]) == 0
    return {"base": base, "ext": ext, "si": si, "sic": sic}


def _extend(models: dict[str, Path], out: Path, *extra: str) -> None:
    """Extend the base model to the SiC dataset (2 members, HOLD held out)
    with the given extra train options."""
    args = [
        "train",
        str(models["sic"]),
        "-o",
        str(out),
        "--extend",
        str(models["base"]),
    ]
    common = ["--seed", "0", "--ensemble", "2", *FAST, "--holdout", HOLD]
    assert main([*args, *common, *extra]) == 0


def _members(model_dir: Path, structure: Structure) -> np.ndarray:
    from pyolcaoml.model.saved import load_model

    model = load_model(model_dir)
    x = model.descriptor_calculator().compute(structure)
    return model.predict_members("Si", x)


def _si_cells() -> list[Structure]:
    out = []
    for seed, (reps, sigma) in enumerate([((1, 1, 1), 0.1), ((2, 1, 1), 0.3)]):
        atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(reps)
        atoms.rattle(sigma, seed=seed)
        out.append(
            Structure(
                cell=atoms.cell.array,
                positions=atoms.positions,
                symbols=atoms.get_chemical_symbols(),
            )
        )
    return out


def _si_only(st: Structure) -> Structure:
    keep = np.array([s == "Si" for s in st.symbols])
    return Structure(
        cell=st.cell, positions=st.positions[keep], symbols=["Si"] * int(keep.sum())
    )


def test_pure_si_predictions_unchanged(models) -> None:
    """Every member gives the base member's coefficients on Si cells that
    neither model trained on (its own descriptor: 2J_max 4 without chem for
    the base, the chem descriptor with C for the extension)."""
    for cell in _si_cells():
        want = _members(models["base"], cell)
        got = _members(models["ext"], cell)
        assert got.shape == want.shape == (2, len(cell.symbols), 16)
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= 1e-13 * scale


def test_si_next_to_carbon_is_learnt(models) -> None:
    """On the Si atoms of the SiC training runs the extension is much closer
    to OLCAO's converged potentials than the base network it started from
    (which extrapolates: it never saw a C neighbour)."""
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.saved import load_model

    ds = load_dataset(models["sic"])
    ext, base = load_model(models["ext"]), load_model(models["base"])
    calc = base.descriptor_calculator()
    el = ds.elements["Si"]
    sid = ds.structure_index[el.atom_index]
    train = [i for i, n in enumerate(ds.names) if n.startswith("sic8") and n != HOLD]
    rows = np.isin(sid, train)
    got = ext.predict_element("Si", ds.descriptors[el.atom_index[rows]])
    # what the base network sees of them: the Si neighbours (C invisible)
    x0 = np.concatenate([calc.compute(_si_only(ds.structure(i))) for i in train])
    old = base.predict_element("Si", x0)
    metric = ext.metric
    err_ext = metric.rms(got, el.coeffs[rows], el.alphas)
    err_base = metric.rms(old, el.coeffs[rows], el.alphas)
    assert err_ext < 0.5 * err_base, (err_ext, err_base)


def test_members_keep_the_base_bootstrap(models) -> None:
    """Member m trains on base member m's structures (same repeats) plus a
    resample of the new ones: its out-of-bag set is truly unseen."""
    base = json.loads((models["base"] / "model.json").read_text())
    ext = json.loads((models["ext"] / "model.json").read_text())
    base_names = set(base["training"]["train_structures"])
    for b, e in zip(
        base["training"]["members"], ext["training"]["members"], strict=True
    ):
        kept = Counter(n for n in e["in_bag"] if n in base_names)
        assert kept == Counter(b["in_bag"])
        assert any(n not in base_names for n in e["in_bag"])
    assert ext["training"]["config"]["extend_from"] == str(models["base"])


def test_refusals(models, tmp_path, capsys) -> None:
    out = str(tmp_path / "m")
    base = str(models["base"])
    # the non-chem Si dataset: nothing to extend with, and a single density
    ens = ["--ensemble", "2"]
    rc = main(["train", str(models["si"]), "-o", out, "--extend", base, *ens, *FAST])
    assert rc == 2 and "--chem" in capsys.readouterr().err
    # an ensemble of another size
    args = ["train", str(models["sic"]), "-o", out, "--extend", base, *FAST]
    assert main([*args, "--ensemble", "3"]) == 2
    assert "2 network(s) per element" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()  # nothing written


def test_descriptor_that_does_not_reduce_is_refused() -> None:
    from pyolcaoml.model.extend import embedding_columns

    base = {"type": "bispectrum", "twojmax": 4, "radii": {"Si": 2.35}}
    good = dict(base, radii={"Si": 2.35, "C": 1.609}, chem=True)
    cols = embedding_columns(base, good, ("Si",))
    assert len(cols) == len(set(cols.tolist()))
    for bad in (
        dict(good, radii={"Si": 2.30, "C": 1.609}),  # Si radius changed
        dict(good, twojmax=6),  # holds the 2J_max 4 components, and more
        dict(good, twojmax=2),
    ):
        with pytest.raises(ModelError, match="counterpart|does not extend"):
            embedding_columns(base, bad, ("Si",))


def test_extend_l2_penalises_only_the_new_weights(models, tmp_path) -> None:
    """--extend-l2 sets the penalty on the new first-layer weights: a huge
    one keeps the extended Si network next to carbon close to the base
    network (the learnt change shrinks), and it is recorded in model.json;
    pure-Si predictions stay the base's either way."""
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.saved import load_model

    stiff = tmp_path / "stiff"
    _extend(models, stiff, "--extend-l2", "1e4")
    meta = json.loads((stiff / "model.json").read_text())
    assert meta["training"]["config"]["extend_l2"] == 1e4
    ds = load_dataset(models["sic"])
    el = ds.elements["Si"]
    sid = ds.structure_index[el.atom_index]
    train = [i for i, n in enumerate(ds.names) if n.startswith("sic8") and n != HOLD]
    x = ds.descriptors[el.atom_index[np.isin(sid, train)]]
    base = load_model(models["base"])
    x0 = np.concatenate(
        [base.descriptor_calculator().compute(_si_only(ds.structure(i))) for i in train]
    )
    old = base.predict_element("Si", x0)
    moved = {
        k: np.abs(
            load_model(models[k] if k == "ext" else stiff).predict_element("Si", x)
            - old
        ).mean()
        for k in ("ext", "stiff")
    }
    assert moved["stiff"] < 0.2 * moved["ext"], moved
    for cell in _si_cells():
        got = _members(stiff, cell)
        want = _members(models["base"], cell)
        assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()


def test_extend_l2_needs_extend(models, tmp_path, capsys) -> None:
    out = str(tmp_path / "m")
    rc = main(["train", str(models["sic"]), "-o", out, "--extend-l2", "1", *FAST])
    assert rc == 2 and "--extend" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def tower(models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tower") / "m"
    _extend(models, out, "--extend-tower", "6")
    return out


def test_tower_leaves_pure_si_unchanged(models, tower) -> None:
    """With the difference tower T(u) - T(u_0) fused in, the members still
    give the base members' coefficients on Si cells (the two copies of T
    cancel), and the tower is really there: each Si network's hidden layer
    is 8 + 2 x 6 units wide."""
    from pyolcaoml.export import network_from_keras
    from pyolcaoml.model.saved import load_model

    for cell in _si_cells():
        want = _members(models["base"], cell)
        got = _members(tower, cell)
        assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()
    for net in load_model(tower, keras=True).elements["Si"].networks:
        widths = {
            layer.name: layer.width
            for layer in network_from_keras(net).layers
            if layer.kind == "dense"
        }
        assert widths["hidden_1"] == 8 + 2 * 6


def test_tower_learns_si_next_to_carbon(models, tower) -> None:
    """The tower's extension fits the Si atoms next to C of its training
    runs at least as well as the base network's half (as the first-layer
    extension must), and differs from the extension without a tower."""
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.saved import load_model

    ds = load_dataset(models["sic"])
    el = ds.elements["Si"]
    sid = ds.structure_index[el.atom_index]
    train = [i for i, n in enumerate(ds.names) if n.startswith("sic8") and n != HOLD]
    rows = np.isin(sid, train)
    x = ds.descriptors[el.atom_index[rows]]
    base = load_model(models["base"])
    x0 = np.concatenate(
        [base.descriptor_calculator().compute(_si_only(ds.structure(i))) for i in train]
    )
    metric = base.metric
    err_base = metric.rms(base.predict_element("Si", x0), el.coeffs[rows], el.alphas)
    got = load_model(tower).predict_element("Si", x)
    assert metric.rms(got, el.coeffs[rows], el.alphas) < 0.5 * err_base
    plain = load_model(models["ext"]).predict_element("Si", x)
    assert np.abs(got - plain).max() > 1e-6


def test_tower_needs_one_width_per_hidden_layer(models, tmp_path, capsys) -> None:
    out = str(tmp_path / "m")
    args = ["train", str(models["sic"]), "-o", out, "--extend", str(models["base"])]
    rc = main([*args, "--ensemble", "2", *FAST, "--extend-tower", "6,6"])
    assert rc == 2 and "1 positive width" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# -- environment variant (train --extend --extend-variant) ---------------------
@pytest.fixture(scope="module")
def variant(models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("variant") / "m"
    _extend(models, out, "--extend-variant")
    return out


def _mixed_cell() -> Structure:
    """A 2x2x2 Si supercell (64 atoms) with two C on substitutional sites
    far apart: some Si atoms have a C within the Si-C cutoff, most do not."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=3)
    symbols = list(atoms.get_chemical_symbols())
    symbols[0] = symbols[37] = "C"
    return Structure(
        cell=np.array(atoms.cell), positions=atoms.positions, symbols=symbols
    )


def test_variant_leaves_pure_si_bitwise(models, variant) -> None:
    """The element's own networks are the base networks: pure-Si cells get
    the base members' coefficients to the last bit."""
    for cell in _si_cells():
        np.testing.assert_array_equal(
            _members(variant, cell), _members(models["base"], cell)
        )


def test_variant_switches_exactly_the_atoms_with_a_c_neighbour(models, variant) -> None:
    """Reference: ASE's neighbour list with the Si-C cutoff of the chem
    descriptor, R = rcutfac (R_Si + R_C) = 2.35 + 1.609 Å. The Si atoms with
    a C inside it use the variant; the others get the element's own (base)
    networks (to round-off: another number of rows in the product)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    from pyolcaoml.model.saved import load_model

    cell = _mixed_cell()
    model = load_model(variant)
    x = model.descriptor_calculator().compute(cell)
    sym = np.asarray(cell.symbols)
    si = np.nonzero(sym == "Si")[0]
    switched = model.elements["Si"].uses_variant(x[si])
    atoms = Atoms(sym.tolist(), positions=cell.positions, cell=cell.cell, pbc=True)
    i, j = neighbor_list("ij", atoms, 2.35 + 1.609)
    near_c = {int(a) for a, b in zip(i, j, strict=True) if sym[b] == "C"}
    want = np.array([int(a) in near_c for a in si])
    assert 0 < want.sum() < len(si)
    np.testing.assert_array_equal(switched, want)
    # the variant really is another network: not the base's numbers
    members = model.predict_members("Si", x[si])
    base_like = load_model(variant)
    base_like.elements["Si"].variant_columns = None
    plain = base_like.predict_members("Si", x[si])
    # The same networks: equal to round-off (the switched rows are left out
    # of the product, and a BLAS kernel's summation order may depend on the
    # number of rows: 2 of 1120 numbers differed by 1 ulp on an AMD EPYC).
    tol = 1e-14 * np.abs(plain).max()
    assert np.abs(members[:, ~want] - plain[:, ~want]).max() <= tol
    assert np.abs(members[:, want] - plain[:, want]).min() > 1e6 * tol


def test_variant_learns_si_next_to_carbon(models, variant) -> None:
    from pyolcaoml.model.data import load_dataset
    from pyolcaoml.model.saved import load_model

    ds = load_dataset(models["sic"])
    el = ds.elements["Si"]
    sid = ds.structure_index[el.atom_index]
    train = [i for i, n in enumerate(ds.names) if n.startswith("sic8") and n != HOLD]
    rows = np.isin(sid, train)
    base = load_model(models["base"])
    x0 = np.concatenate(
        [base.descriptor_calculator().compute(_si_only(ds.structure(i))) for i in train]
    )
    metric = base.metric
    err_base = metric.rms(base.predict_element("Si", x0), el.coeffs[rows], el.alphas)
    got = load_model(variant).predict_element("Si", ds.descriptors[el.atom_index[rows]])
    assert metric.rms(got, el.coeffs[rows], el.alphas) < 0.5 * err_base


def test_variant_saved_loaded_and_exported(models, variant, tmp_path) -> None:
    """model.json (version 3) names the switch columns: the complement of
    where the base descriptor sits in the new one (found independently by
    embedding_columns); the NumPy arrays and the Keras files give the same
    numbers; export writes format 3 with a variant block per member."""
    from pyolcaoml.export import export_model
    from pyolcaoml.model.extend import embedding_columns
    from pyolcaoml.model.saved import load_model

    meta = json.loads((variant / "model.json").read_text())
    assert meta["version"] == 3
    entry = meta["elements"]["Si"]["variant"]
    base = json.loads((models["base"] / "model.json").read_text())
    cols = embedding_columns(base["descriptor"], meta["descriptor"], ("Si",))
    rest = sorted(set(range(meta["n_features"])) - set(cols.tolist()))
    assert entry["columns"] == rest and entry["elements"] == ["C"]
    assert len(entry["members"]) == 2 and "variant" not in meta["elements"]["C"]
    cell = _mixed_cell()
    a = load_model(variant)
    b = load_model(variant, keras=True)
    x = a.descriptor_calculator().compute(cell)
    si = np.array([s == "Si" for s in cell.symbols])
    np.testing.assert_allclose(
        a.predict_members("Si", x[si]), b.predict_members("Si", x[si]), rtol=1e-12
    )
    oml = tmp_path / "v.oml"
    export_model(b, oml)
    text = oml.read_text()
    assert text.startswith("OLCAOML_MODEL 3\n")
    block = text[text.index("NUM_VARIANTS 1\nVARIANT Si\n") :]
    assert block.count("NETWORK Si") == 2 and "END_VARIANT" in block
    switch = block.split("\n")[2].split()
    assert switch == ["SWITCH_COLUMNS", str(len(rest))]


def test_variant_refusals(models, tmp_path, capsys) -> None:
    out = str(tmp_path / "m")
    args = ["train", str(models["sic"]), "-o", out, "--ensemble", "2", *FAST]
    assert main([*args, "--extend-variant"]) == 2
    assert "--extend" in capsys.readouterr().err
    ext = ["--extend", str(models["base"]), "--extend-variant"]
    assert main([*args, *ext, "--extend-tower", "4"]) == 2
    assert "first-layer extension" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"columns": [], "members": "same"},
        {"columns": [-1], "members": "same"},
        {"columns": [5, 4], "members": "same"},
        {"columns": [10**6], "members": "same"},
        {"columns": "same"},
    ],
    ids=["empty", "negative", "decreasing", "out-of-range", "no-members"],
)
def test_damaged_variant_entry_is_refused(variant, tmp_path, bad) -> None:
    import shutil

    from pyolcaoml.model.saved import load_model

    copy = tmp_path / "m"
    shutil.copytree(variant, copy)
    meta = json.loads((copy / "model.json").read_text())
    entry = meta["elements"]["Si"]["variant"]
    new = {k: entry[k] if v == "same" else v for k, v in bad.items()}
    meta["elements"]["Si"]["variant"] = new
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="variant"):
        load_model(copy)


def test_evaluate_splits_an_element_by_environment(models, variant, tmp_path) -> None:
    """`olcaoml evaluate` reports the Si atoms the variant predicts and the
    others separately; the split is the ASE neighbour-list one (Si-C cutoff
    2.35 + 1.609 Å), and the two parts add up to the element's table."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    from pyolcaoml.model.data import load_dataset

    out = tmp_path / "e.json"
    args = ["evaluate", str(variant), str(models["sic"]), "--which", "all"]
    assert main([*args, "--json", str(out), "--no-solver-metric"]) == 0
    report = json.loads(out.read_text())
    env = report["environments"]["Si"]
    ds = load_dataset(models["sic"])
    near = 0
    for i in range(ds.n_structures):
        st = ds.structure(i)
        sym = np.asarray(st.symbols)
        atoms = Atoms(sym.tolist(), positions=st.positions, cell=st.cell, pbc=True)
        a, b = neighbor_list("ij", atoms, 2.35 + 1.609)
        pairs = zip(a, b, strict=True)
        near += len({int(p) for p, q in pairs if sym[p] == "Si" and sym[q] == "C"})
    n = {k: env[k]["network"]["n_atoms"] for k in ("variant", "own")}
    assert n["variant"] == near > 0 and n["own"] > 0
    assert n["variant"] + n["own"] == report["elements"]["Si"]["network"]["n_atoms"]
    assert "environments" not in report or "C" not in report["environments"]


def test_variant_atoms_have_their_own_sigma_calibration(variant) -> None:
    """Each kind of atom is calibrated on its own out-of-bag atoms, and a
    Si atom's sigma uses its kind's calibration: the members' spread through
    the Fortran ensemble_moments with that kind's scale and floor."""
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.model.uncertainty import Calibration, ensemble_moments, sigma_gram

    meta = json.loads((variant / "model.json").read_text())
    assert "sigma_scale" in meta["elements"]["Si"]["variant"]["uncertainty"]
    model = load_model(variant)
    # distinct calibrations (this 2-member model has few out-of-bag atoms;
    # the shipped one is checked in test_bundled_sic)
    model.elements["Si"].calibration = Calibration(1.5, 0.002, 10)
    model.elements["Si"].variant_calibration = Calibration(2.5, 0.007, 10)
    own = model.elements["Si"].calibration.to_dict()
    var = model.elements["Si"].variant_calibration.to_dict()
    cell = _mixed_cell()
    x = model.descriptor_calculator().compute(cell)
    x = x[np.array([s == "Si" for s in cell.symbols])]
    em = model.elements["Si"]
    switched = em.uses_variant(x)
    members = model.predict_members("Si", x)
    gram = sigma_gram(model.metric, em.alphas)
    _, sigma = model.predict_element_uncertainty("Si", x)
    for rows, cal in ((switched, var), (~switched, own)):
        _, want = ensemble_moments(
            members[:, rows], gram, cal["sigma_scale"], cal["sigma_floor_hartree"]
        )
        np.testing.assert_array_equal(sigma[rows], want)


@pytest.fixture(scope="module")
def nm_variant(models, tmp_path_factory) -> dict[str, Path]:
    """The variant extension with a neighbour mean in the SiC descriptor."""
    tmp = tmp_path_factory.mktemp("nm")
    sic = tmp / "sic_nm.h5"
    runs = [str(SI_RUNS), str(SIC_RUNS / "rattle"), str(SIC_RUNS / "strain")]
    nm = ["--neighbour-mean", "2.5,2.7"]
    assert main(["convert", *runs, "-o", str(sic), "--quiet", *SIC, *nm]) == 0
    out = tmp / "m"
    args = ["train", str(sic), "-o", str(out), "--extend", str(models["base"])]
    common = ["--seed", "0", "--ensemble", "2", *FAST, "--holdout", HOLD]
    assert main([*args, *common, "--extend-variant"]) == 0
    return {"model": out, "data": sic}


def test_neighbour_mean_variant_leaves_pure_si_bitwise(models, nm_variant) -> None:
    """The neighbour means of pure Si are not zero, but the element's own
    networks (the base's) do not read them and no pure-Si atom switches."""
    from pyolcaoml.model.saved import load_model

    model = load_model(nm_variant["model"])
    for cell in _si_cells():
        x = model.descriptor_calculator().compute(cell)
        assert not model.elements["Si"].uses_variant(x).any()
        np.testing.assert_array_equal(
            _members(nm_variant["model"], cell), _members(models["base"], cell)
        )


def test_neighbour_mean_switch_columns_and_refusal(
    models, nm_variant, tmp_path, capsys
):
    """Switch columns: the inner new-element columns and their neighbour
    means; the neighbour means of the base columns are not among them. A
    plain --extend (first-layer extension) with a neighbour mean is refused."""
    from pyolcaoml.bispectrum import descriptor_from_dict
    from pyolcaoml.model.extend import embedding_columns
    from pyolcaoml.model.saved import load_model

    model = load_model(nm_variant["model"])
    calc = model.descriptor_calculator()
    k = calc.inner.n_features
    base = load_model(models["base"], networks=False).descriptor
    cols = embedding_columns(base, calc.inner.to_dict(), ("Si",))
    own = np.setdiff1d(np.arange(k), cols)
    np.testing.assert_array_equal(
        model.elements["Si"].variant_columns, np.concatenate([own, k + own])
    )
    assert descriptor_from_dict(model.descriptor) == calc
    args = ["train", str(nm_variant["data"]), "-o", str(tmp_path / "x")]
    args += ["--extend", str(models["base"]), "--seed", "0", "--ensemble", "2", *FAST]
    assert main(args) == 2
    assert "--extend-variant only" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
