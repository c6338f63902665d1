"""The exported model file (pyolcaoml/export.py, 'olcaoml export').

The file is parsed here by an independent little reader and compared with
the Keras networks and the model metadata, number by number (bit for bit),
and its documented semantics are checked by a NumPy forward pass of the
parsed file against Keras.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_library_support import DEFAULT_MODEL, cached_model, run_dirs

from pyolcaoml.cli import main
from pyolcaoml.export import (
    FORMAT_MAGIC,
    FORMAT_VERSION_HANDOVER,
    FORMAT_VERSION_ITERATIONS,
    FORMAT_VERSION_NEIGHBOUR_HOPS,
    FORMAT_VERSION_SINGLE,
    ExportError,
    export_model,
    format_model,
    network_from_keras,
)
from pyolcaoml.model import load_model


def parse(path: str | os.PathLike[str]) -> dict:
    """A minimal reader of the documented format (keywords and arrays)."""
    words = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            words.append(line.split())
    it = iter(words)

    def nums(n: int) -> np.ndarray:
        out: list[float] = []
        while len(out) < n:
            out += [float(v) for v in next(it)]
        assert len(out) == n
        return np.array(out)

    head = next(it)
    out: dict = {"magic": head[0], "version": int(head[1]), "networks": {}}
    for row in it:
        key = row[0]
        if key == "DESCRIPTOR_ELEMENTS":
            out["elements"] = [next(it) for _ in range(int(row[1]))]
        elif key == "DESCRIPTOR_BLOCKS":
            out["blocks"] = [next(it) for _ in range(int(row[1]))]
        elif key == "NUM_FEATURES":
            out["n_features"] = int(row[1])
            k = out["n_features"]
        elif key == "NETWORK":
            net: dict = {"layers": []}
            out["networks"][row[1]] = net
        elif key == "NUM_ALPHAS":
            n = int(row[1])
            net["alphas"] = (next(it), nums(n))[1]
            net["isolated"] = (next(it), nums(n))[1]
            net["charges"] = (next(it), nums(3 * n).reshape(n, 3))[1]
        elif key == "NORMALIZATION":
            net["norm"] = row[1]
            net["eps"] = float(row[2])
            net["mean"] = (next(it), nums(k))[1]
            net["variance"] = (next(it), nums(k))[1]
        elif key == "DENSE":
            _, name, src, n_in, n_out, act = row
            w = (next(it), nums(int(n_in) * int(n_out)))[1]
            b = (next(it), nums(int(n_out)))[1]
            kernel = w.reshape(int(n_in), int(n_out))
            net["layers"].append(("dense", name, [src], kernel, b, act))
        elif key == "ADD":
            net["layers"].append(("add", row[1], row[4:], None, None, None))
        out.setdefault("keys", []).append(key)
    return out


def forward(net: dict, x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    acts = {
        "linear": lambda z: z,
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "silu": lambda z: z / (1 + np.exp(-z)),
        "softplus": lambda z: np.logaddexp(0, z),
        "gelu": lambda z: 0.5 * z * (1 + erf(z / np.sqrt(2))),
    }
    values = {
        net["norm"]: (x - net["mean"])
        / np.maximum(np.sqrt(net["variance"]), net["eps"])
    }
    for kind, name, src, kernel, bias, act in net["layers"]:
        if kind == "dense":
            values[name] = acts[act](values[src[0]] @ kernel + bias)
        else:
            values[name] = sum(values[s] for s in src)
    return values[name]


@pytest.fixture(scope="module")
def real_x() -> np.ndarray:
    from pyolcaoml import Bispectrum
    from pyolcaoml.olcao import read_run

    calc = Bispectrum(twojmax=6, radii={"Si": 2.35})
    return np.concatenate([calc.compute(read_run(d).structure) for d in run_dirs()])


def test_header_and_sections():
    _, oml = cached_model()
    text = Path(oml).read_text()
    assert text.splitlines()[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_SINGLE}"
    assert text.endswith("END\n")
    assert text.isascii()
    info = parse(oml)
    assert info["magic"] == "OLCAOML_MODEL" and info["version"] == 1
    assert info["elements"] == [
        ["Si", "2.3500000000000001e+00", "1.0000000000000000e+00"]
    ]
    assert info["blocks"] == [
        ["BISPECTRUM", "6"]
        + [f"{v:.16e}" for v in (1.0, 0.99363, 0.0)]
        + ["1", "0", "0", "0", "0"]
    ]
    assert info["n_features"] == 30


@pytest.mark.parametrize("linear_branch", [True, False])
def test_numbers_are_exact_copies(linear_branch):
    path, oml = cached_model("tanh", linear_branch)
    model = load_model(path, keras=True)
    em = model.elements["Si"]
    net = parse(oml)["networks"]["Si"]
    np.testing.assert_array_equal(net["alphas"], em.alphas)
    np.testing.assert_array_equal(net["isolated"], em.isolated)
    np.testing.assert_array_equal(net["charges"], em.charge_columns)
    keras_layers = {
        layer.name: layer
        for layer in em.network.layers
        if type(layer).__name__ == "Dense"
    }
    norm = em.network.get_layer("normalization")
    np.testing.assert_array_equal(net["mean"], np.ravel(norm.mean))
    np.testing.assert_array_equal(net["variance"], np.ravel(norm.variance))
    dense = {layer[1]: layer for layer in net["layers"] if layer[0] == "dense"}
    assert set(dense) == set(keras_layers)
    for name, layer in keras_layers.items():
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(dense[name][3], kernel)
        np.testing.assert_array_equal(dense[name][4], bias)
    adds = [layer[1] for layer in net["layers"] if layer[0] == "add"]
    assert adds == (["latent"] if linear_branch else [])
    assert net["layers"][-1][1] == "coefficients"


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus", "gelu"])
def test_documented_semantics_reproduce_keras(real_x, activation):
    path, oml = cached_model(activation)
    model = load_model(path, keras=True)
    want = np.asarray(model.elements["Si"].network(real_x, training=False))
    got = forward(parse(oml)["networks"]["Si"], real_x)
    assert np.abs(got - want).max() <= 1e-7 * np.abs(want).max()


def test_multiscale_blocks_carry_each_scale():
    path, oml = cached_model("tanh", True, True)
    calc = load_model(path, networks=False).descriptor_calculator()
    blocks = parse(oml)["blocks"]
    assert [float(b[2]) for b in blocks] == [m.rcutfac for m in calc.members]
    assert parse(oml)["n_features"] == calc.n_features


def test_neighbour_mean_is_version_4_and_says_its_radii():
    path, oml = cached_model("tanh", True, True, neighbour_mean=True)
    calc = load_model(path, networks=False).descriptor_calculator()
    lines = Path(oml).read_text().splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} 4"
    nm = [ln.split() for ln in lines if ln.startswith("NEIGHBOUR_MEAN")]
    assert nm == [["NEIGHBOUR_MEAN", f"{2.4:.16e}", f"{2.8:.16e}"]]
    assert [float(b[2]) for b in parse(oml)["blocks"]] == [
        m.rcutfac for m in calc.inner.members
    ]
    assert parse(oml)["n_features"] == calc.n_features == 2 * calc.inner.n_features
    # without a neighbour mean nothing changes: older libraries read it
    _, plain = cached_model("tanh", True, True)
    assert "NEIGHBOUR_MEAN" not in Path(plain).read_text()
    assert (
        Path(plain).read_text().splitlines()[0]
        == f"{FORMAT_MAGIC} {FORMAT_VERSION_SINGLE}"
    )


def test_two_hops_are_version_6_after_the_pairs():
    path, oml = cached_model("tanh", True, False, neighbour_mean=2)
    calc = load_model(path, networks=False).descriptor_calculator()
    lines = Path(oml).read_text().splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} 6"
    k = lines.index("NEIGHBOUR_MEAN_HOPS 2")
    assert lines[k - 1].split()[0] == "NEIGHBOUR_MEAN"
    assert lines[k + 1].split()[0] == "NUM_FEATURES"
    assert parse(oml)["n_features"] == calc.n_features == 3 * calc.inner.n_features


@pytest.mark.parametrize(
    ("replacement", "fragment"),
    [
        ("NEIGHBOUR_MEAN_HOPS 5", "at most 4"),
        ("NEIGHBOUR_MEAN_HOPS 0", "at least 1"),
        ("NEIGHBOUR_MEAN_HOPS two", "expected an integer"),
        ("NEIGHBOUR_MEAN_HOPS 3", "NUM_FEATURES"),
        ("", "NUM_FEATURES"),
    ],
)
def test_malformed_hops_are_a_format_error_naming_the_line(
    tmp_path, replacement, fragment
):
    """A broken NEIGHBOUR_MEAN_HOPS record, or one whose count no longer
    matches NUM_FEATURES, is refused by the library with file and line."""
    from pyolcaoml.library import LibraryError, LibraryModel

    _, oml = cached_model("tanh", True, False, neighbour_mean=2)
    lines = Path(oml).read_text().splitlines()
    k = lines.index("NEIGHBOUR_MEAN_HOPS 2")
    lines[k] = replacement
    bad = tmp_path / "bad.oml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(LibraryError) as err:
        LibraryModel(bad)
    assert fragment in str(err.value) and "bad.oml" in str(err.value), str(err.value)


# -- version 7: the handover threshold ----------------------------------------------
def _recorded_threshold() -> float:
    """The bundled default model's handover threshold as model.json says
    it, read with the json module (not through pyolcaoml)."""
    import json

    meta = json.loads((DEFAULT_MODEL / "model.json").read_text())
    value = meta["handover"]["median_sigma_hartree"]
    assert isinstance(value, float) and value > 0
    return value


def test_an_ensemble_with_a_handover_threshold_is_version_7(tmp_path):
    """The bundled default model (an ensemble with a "handover" entry),
    without its reference OLCAO runs: version 7, one HANDOVER_MEDIAN_SIGMA
    record right before END holding model.json's double; everything else
    is its version 6 file.  (With the runs, as shipped, it is version 8:
    the same file with the expected iterations after the threshold, in
    test_library_iterations.py.)"""
    want = _recorded_threshold()
    model = load_model(DEFAULT_MODEL)  # NumPy networks: no TensorFlow
    assert model.n_members > 1
    shipped = format_model(model).splitlines()
    model.path = str(tmp_path)  # a directory without olcao_iterations.json
    lines = format_model(model).splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_HANDOVER}"
    assert FORMAT_VERSION_HANDOVER == 7
    assert lines[-1] == "END"
    key, value = lines[-2].split()
    assert key == "HANDOVER_MEDIAN_SIGMA"
    assert float(value) == want  # the same double, to the bit
    assert value == f"{want:.16e}"
    assert sum(line.startswith("HANDOVER") for line in lines) == 1
    # the shipped export: version 8, the threshold, then the block
    assert shipped[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_ITERATIONS}"
    k = shipped.index(lines[-2])
    assert shipped[k + 1].startswith("EXPECTED_ITERATIONS ")
    assert shipped[1 : k + 1] == lines[1:-1]
    # one member alone has no sigma: the record is left out, and the file
    # is the version it would be without the entry
    one = format_model(model, member=0).splitlines()
    assert one[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_NEIGHBOUR_HOPS}"
    assert not any("HANDOVER" in line for line in one)
    assert one[-2:] == ["END_NETWORK", "END"]
    # without the entry: exactly the version 6 file (older libraries read it)
    model.handover = {}
    old = format_model(model).splitlines()
    assert old[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_NEIGHBOUR_HOPS}"
    assert old[1:] == lines[1:-2] + ["END"]


def test_a_model_without_a_threshold_keeps_its_version():
    """The small test models record no handover: the old version, no
    record; a single network given an entry drops it (no sigma)."""
    path, oml = cached_model()
    text = Path(oml).read_text()
    assert text.splitlines()[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_SINGLE}"
    assert "HANDOVER" not in text
    _, hops = cached_model("tanh", True, False, neighbour_mean=2)
    assert Path(hops).read_text().startswith(f"{FORMAT_MAGIC} 6\n")
    assert "HANDOVER" not in Path(hops).read_text()
    model = load_model(path)
    assert model.n_members == 1 and not model.handover
    model.handover = {"median_sigma_hartree": 3.0e-3}
    assert format_model(model) == format_model(load_model(path))


@pytest.mark.parametrize(
    "value", [-1.0e-3, 0.0, float("nan"), float("inf"), "3e-3", True, None]
)
def test_a_bad_threshold_is_refused(value):
    model = load_model(DEFAULT_MODEL)
    model.handover = {"median_sigma_hartree": value}
    with pytest.raises(ExportError, match="median_sigma_hartree must be a positive"):
        format_model(model)


def test_refuses_to_overwrite_and_leaves_nothing_on_error(tmp_path):
    path, _ = cached_model()
    out = tmp_path / "m.oml"
    out.write_text("keep\n")
    with pytest.raises(ExportError, match="exists"):
        export_model(path, out)
    assert out.read_text() == "keep\n"
    export_model(path, out, force=True)
    assert out.read_text().startswith("OLCAOML_MODEL 1\n")
    assert sorted(os.listdir(tmp_path)) == ["m.oml"]
    with pytest.raises(ExportError, match="directory"):
        export_model(path, tmp_path / "nope" / "m.oml")


def _keras():
    from pyolcaoml.model.network import import_keras

    return import_keras()


def test_unsupported_networks_are_refused():
    keras = _keras()
    inp = keras.Input(shape=(4,), dtype="float64")
    norm = keras.layers.Normalization(
        mean=[0.0] * 4, variance=[1.0] * 4, dtype="float64"
    )(inp)

    def model(out):
        return keras.Model(inp, out)

    elu = keras.layers.Dense(3, activation="elu", dtype="float64")(norm)
    with pytest.raises(ExportError, match="elu"):
        network_from_keras(model(elu))
    drop = keras.layers.Dropout(0.1, dtype="float64")(norm)
    with pytest.raises(ExportError, match="Dropout"):
        network_from_keras(model(keras.layers.Dense(2, dtype="float64")(drop)))
    no_norm = keras.layers.Dense(2, dtype="float64")(inp)
    with pytest.raises(ExportError, match="Normalization"):
        network_from_keras(model(no_norm))
    a = keras.layers.Dense(2, dtype="float64")(norm)
    b = keras.layers.Dense(2, dtype="float64")(norm)
    mul = keras.layers.Multiply(dtype="float64")([a, b])
    with pytest.raises(ExportError, match="Multiply"):
        network_from_keras(model(mul))
    good = keras.layers.Add(dtype="float64")([a, b])
    exported = network_from_keras(model(good))
    assert [layer.kind for layer in exported.layers] == ["dense", "dense", "add"]


def test_cli(tmp_path, capsys):
    path, _ = cached_model()
    out = tmp_path / "m.oml"
    assert main(["export", path, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "Si:" in printed and "30 features" in printed
    assert main(["export", path, "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["export", path, "-o", str(out), "--force"]) == 0
    assert main(["export", str(tmp_path / "none"), "-o", str(out), "--force"]) == 2
    assert "not found" in capsys.readouterr().err
