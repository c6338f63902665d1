"""The model: output basis, metric, deterministic training, save/load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from test_model_helpers import make_tiny_dataset, radial_rms, tiny_config

from pyolcaoml.model import ModelError, RadialMetric, load_dataset, load_model
from pyolcaoml.model.basis import OutputBasis
from pyolcaoml.olcao import read_scfv

REPO = Path(__file__).resolve().parents[1]
SCFV = REPO / "tests" / "data" / "olcao" / "si8_r0.10_seed1100" / "gs_scfV-fb.dat"
COEFF1 = REPO / "pyolcaoml" / "olcao" / "atomicpdb" / "si" / "coeff1"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "tiny.h5")


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    from pyolcaoml.model import train_model

    model = train_model(load_dataset(tiny), tiny_config())
    path = tmp_path_factory.mktemp("model") / "m"
    model.save(path)
    return model, path


def real_coeffs() -> tuple[np.ndarray, np.ndarray]:
    scfv = read_scfv(SCFV)
    return np.array(scfv.coeffs("up")), np.array(scfv.alphas()[0])


def test_metric_matches_independent_quadrature() -> None:
    coeffs, alphas = real_coeffs()
    iso = read_scfv_block(COEFF1)
    metric = RadialMetric()
    ours = metric.rms(np.tile(iso, (len(coeffs), 1)), coeffs, alphas)
    ref = radial_rms(np.tile(iso, (len(coeffs), 1)), coeffs, alphas)
    assert ours == pytest.approx(ref, rel=2e-3)
    # the isolated atom is far from the converged crystal potential: tens of mHa
    assert 0.01 < ours < 0.2


def read_scfv_block(path: Path) -> np.ndarray:
    rows = Path(path).read_text().split("\n")[1:]
    return np.array([float(r.split()[0]) for r in rows if r.strip()])


def test_output_basis_is_exact_and_whitened() -> None:
    coeffs, alphas = real_coeffs()
    iso = read_scfv_block(COEFF1)
    gram = RadialMetric().gram(alphas)
    basis = OutputBasis.fit(coeffs, iso, gram, eps=0.1)
    z = basis.to_latent(coeffs)
    np.testing.assert_allclose(basis.from_latent(z), coeffs, rtol=0, atol=1e-9)
    # |z|^2 equals the training metric M = G/e_V + eps diag(1/sigma^2)/N
    d = coeffs - coeffs.mean(axis=0)
    e_v = np.mean(np.einsum("ai,ij,aj->a", d, gram, d))
    m = gram / e_v + 0.1 * np.diag(1 / d.var(axis=0)) / d.shape[1]
    np.testing.assert_allclose(
        np.sum(z**2, axis=1), np.einsum("ai,ij,aj->a", d, m, d), rtol=1e-6
    )
    # the average atom sits at z = 0
    np.testing.assert_allclose(basis.offset, coeffs.mean(axis=0), atol=1e-12)


def _weights(model) -> list[np.ndarray]:
    return [w for em in model.elements.values() for w in em.network.get_weights()]


def test_training_is_deterministic_with_seed(tiny, trained) -> None:
    from pyolcaoml.model import train_model

    first, _ = trained
    again = train_model(load_dataset(tiny), tiny_config())
    other = train_model(load_dataset(tiny), tiny_config(seed=8))
    w1, w2, w3 = _weights(first), _weights(again), _weights(other)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3, strict=True))


def test_saved_model_reloads_and_predicts_identically(tiny, trained) -> None:
    model, path = trained
    ds = load_dataset(tiny)
    again = load_model(path)
    x = ds.descriptors
    for method in ("network", "ridge", "average", "isolated"):
        a = model.predict(ds.symbols, x, method)
        b = again.predict(ds.symbols, x, method)
        assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    meta = json.loads((path / "model.json").read_text())
    assert meta["descriptor"] == ds.descriptor
    assert (
        meta["training"]["dataset_sha256"]
        == hashlib.sha256(tiny.read_bytes()).hexdigest()
    )
    assert meta["training"]["train_structures"] == ["si8_r0.10_seed1100"]
    assert meta["training"]["validation_structures"] == ["si8_types"]
    si = meta["elements"]["Si"]
    assert si["n_alphas"] == 16
    assert si["alphas_bohr2"][0] == pytest.approx(0.15)
    assert si["alphas_bohr2"][-1] == pytest.approx(1e6)
    # isolated baseline = atomicPDB coeff1 column 1 (real file)
    np.testing.assert_allclose(si["isolated_coeffs_hartree"], read_scfv_block(COEFF1))
    for lib in ("pyolcaoml", "numpy", "keras", "tensorflow"):
        assert lib in meta["versions"]


def test_network_outputs_coefficients_of_the_right_shape(tiny, trained) -> None:
    model, _ = trained
    ds = load_dataset(tiny)
    out = model.predict(ds.symbols, ds.descriptors)
    assert len(out) == 16 and all(a.shape == (16,) for a in out)
    # close to the converged potentials, far from the isolated atom
    iso = model.elements["Si"].isolated
    true = ds.elements["Si"].coeffs
    net = radial_rms(np.array(out), true, model.elements["Si"].alphas)
    start = radial_rms(np.tile(iso, (16, 1)), true, model.elements["Si"].alphas)
    assert net < start / 5


def test_corrupted_model_file_is_a_clear_error(trained, tmp_path) -> None:
    import shutil

    _, path = trained
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    data = bytearray((bad / "Si.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "Si.keras").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupted"):
        load_model(bad, keras=True)  # the Keras file (networks.npz: below)
    data = bytearray((bad / "networks.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "networks.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupted"):
        load_model(bad)
    (bad / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="model.json"):
        load_model(bad)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nowhere")


def test_unknown_element_is_refused(trained) -> None:
    model, _ = trained
    x = np.zeros((1, model.n_features))
    with pytest.raises(ModelError, match="element.*C"):
        model.predict(["C"], x)


def test_save_refuses_to_overwrite(trained) -> None:
    model, path = trained
    before = (path / "model.json").read_bytes()
    with pytest.raises(ModelError, match="exists"):
        model.save(path)
    assert (path / "model.json").read_bytes() == before


def test_train_and_evaluate_commands(tiny, tmp_path, capsys) -> None:
    from pyolcaoml.cli import main

    out = tmp_path / "m"
    args = [
        "train",
        str(tiny),
        "-o",
        str(out),
        "--epochs",
        "3",
        "--hidden",
        "8",
        "--validation",
        "si8_types",
        "--seed",
        "1",
        "--log-every",
        "1",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Si epoch     1:" in printed and "Si epoch     3:" in printed
    assert (out / "model.json").is_file() and (out / "Si.keras").is_file()
    assert main(args) == 2  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    # every structure was seen in training: 'unseen' is refused, 'all' works
    assert main(["evaluate", str(out), str(tiny)]) == 2
    assert "--which all" in capsys.readouterr().err
    plots = tmp_path / "plots"
    assert (
        main(
            [
                "evaluate",
                str(out),
                str(tiny),
                "--which",
                "all",
                "--plots",
                str(plots),
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for label in (
        "network",
        "isolated atom",
        "average atom",
        "ridge",
        "ratio",
        "r in [0.05, 6] Bohr",
    ):
        assert label in printed
    assert (plots / "parity_Si.png").stat().st_size > 0
    assert (plots / "potentials_Si.png").stat().st_size > 0
    report = json.loads((tmp_path / "e.json").read_text())
    assert set(report["elements"]["Si"]) == {"network", "isolated", "average", "ridge"}


def test_train_rejects_unknown_holdout(tiny, tmp_path, capsys) -> None:
    from pyolcaoml.cli import main

    out = tmp_path / "m"
    assert main(["train", str(tiny), "-o", str(out), "--holdout", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not out.exists()
