"""Damaged datasets and model directories (issue 11, item 6 and the
model.json part of 11): one validation when a dataset is opened, used by
train, evaluate and convert --append, naming the bad HDF5 dataset; network
files confined to the model directory, their sha256 required."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import DATA

from pyolcaoml.cli import main
from pyolcaoml.dataset_check import DatasetError

RUNS = [DATA / "olcao" / "si8_r0.10_seed1100", DATA / "olcao" / "si8_types"]


@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "good.h5"
    code = main(["convert", *map(str, RUNS), "-o", str(out), "-q", "--twojmax", "2"])
    assert code == 0
    return out


def _edit(src: Path, dst: Path, change) -> Path:
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        change(f)
    return dst


def _replace(f, name, data):
    del f[name]
    f[name] = data


DAMAGE = {
    "atom_index_out_of_range": (
        lambda f: f["elements/Si/atom_index"].__setitem__(0, 10_000),
        "/elements/Si/atom_index: atom 10000 outside",
    ),
    "atom_index_negative": (
        lambda f: f["elements/Si/atom_index"].__setitem__(1, -3),
        "/elements/Si/atom_index: atom -3 outside",
    ),
    "empty_element_group": (
        lambda f: (
            _replace(f, "elements/Si/atom_index", np.zeros(0, np.int64)),
            _replace(f, "elements/Si/coeffs", np.zeros((0, 16))),
            _replace(f, "elements/Si/atom_alphas", np.zeros((0, 16))),
        ),
        "/elements/Si/atom_index: an element without atoms",
    ),  # fmt: skip
    "descriptors_wrong_width": (
        lambda f: _replace(f, "atoms/descriptors", f["atoms/descriptors"][()][:, :-1]),
        "/atoms/descriptors: shape",
    ),
    "twojmax_99": (
        lambda f: f.attrs.__setitem__(
            "descriptor",
            json.dumps({**json.loads(f.attrs["descriptor"]), "twojmax": 99}),
        ),
        "attribute descriptor: invalid settings",
    ),
    "nan_target": (
        lambda f: f["elements/Si/coeffs"].__setitem__((3, 2), np.nan),
        "/elements/Si/coeffs: NaN or Inf in row 3",
    ),
    "inf_descriptor": (
        lambda f: f["atoms/descriptors"].__setitem__((5, 0), np.inf),
        "/atoms/descriptors: NaN or Inf in row 5",
    ),
    "atom_start_inconsistent": (
        lambda f: f["structures/atom_start"].__setitem__(1, 3),
        "/structures/atom_start: row 1 is 3",
    ),
    "missing_group": (
        lambda f: f.__delitem__("atoms/position"),
        "/atoms/position: missing",
    ),
    "atom_listed_twice": (
        lambda f: f["elements/Si/atom_index"].__setitem__(1, 0),
        "an atom listed twice",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_load_dataset_names_the_bad_dataset(good_dataset, tmp_path, case):
    """Before: IndexError tracebacks, 'Eigenvalues did not converge', or a
    model written that predict later rejects."""
    from pyolcaoml.model import load_dataset

    change, match = DAMAGE[case]
    bad = _edit(good_dataset, tmp_path / "bad.h5", change)
    with pytest.raises(DatasetError, match=match) as err:
        load_dataset(bad)
    assert str(bad) in str(err.value)
    # the generic reader applies the same checks
    from pyolcaoml.dataset import load_dataset as load_generic

    with pytest.raises(DatasetError, match=match):
        load_generic(bad)


def test_good_dataset_passes(good_dataset):
    from pyolcaoml.model import load_dataset

    ds = load_dataset(good_dataset)
    assert ds.n_structures == 2


def test_train_refuses_a_bad_dataset(good_dataset, tmp_path, capsys):
    change, match = DAMAGE["atom_index_out_of_range"]
    bad = _edit(good_dataset, tmp_path / "bad.h5", change)
    code = main(["train", str(bad), "-o", str(tmp_path / "model")])
    err = capsys.readouterr().err
    assert code == 2
    assert "/elements/Si/atom_index" in err and "Traceback" not in err
    assert not (tmp_path / "model").exists()


def test_convert_append_refuses_a_bad_dataset(good_dataset, tmp_path, capsys):
    change, match = DAMAGE["nan_target"]
    bad = _edit(good_dataset, tmp_path / "bad.h5", change)
    before = bad.read_bytes()
    code = main(["convert", str(RUNS[0]), "-o", str(bad), "--append", "-q",
                 "--twojmax", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "/elements/Si/coeffs: NaN or Inf" in err
    assert bad.read_bytes() == before


def test_evaluate_refuses_a_bad_dataset(good_dataset, tmp_path, capsys):
    from test_library_support import cached_model

    model_dir, _ = cached_model()
    change, match = DAMAGE["descriptors_wrong_width"]
    bad = _edit(good_dataset, tmp_path / "bad.h5", change)
    code = main(["evaluate", model_dir, str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert "/atoms/descriptors: shape" in err


# -- model.json: confined paths, required sha256 ------------------------------------
@pytest.fixture
def model_copy(tmp_path) -> Path:
    from test_library_support import cached_model

    model_dir, _ = cached_model()
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def _set_entry(model: Path, **changes) -> None:
    meta_path = model / "model.json"
    meta = json.loads(meta_path.read_text())
    for entry in meta["elements"].values():
        for k, v in changes.items():
            if v is None:
                entry.pop(k, None)
            else:
                entry[k] = v
    meta_path.write_text(json.dumps(meta))


def test_network_file_outside_the_model_is_refused(model_copy, tmp_path):
    from pyolcaoml.model import ModelError, load_model

    meta = json.loads((model_copy / "model.json").read_text())
    name = next(iter(meta["elements"].values()))["file"]
    shutil.copyfile(model_copy / name, tmp_path / "outside.keras")
    for bad in ("../outside.keras", str(tmp_path / "outside.keras")):
        _set_entry(model_copy, file=bad)
        with pytest.raises(ModelError, match="outside the model directory|relative"):
            load_model(model_copy)


def test_symlink_out_of_the_model_is_refused(model_copy, tmp_path):
    from pyolcaoml.model import ModelError, load_model

    meta = json.loads((model_copy / "model.json").read_text())
    name = next(iter(meta["elements"].values()))["file"]
    shutil.move(model_copy / name, tmp_path / "elsewhere.keras")
    os.symlink(tmp_path / "elsewhere.keras", model_copy / name)
    with pytest.raises(ModelError, match="outside the model directory"):
        load_model(model_copy)


@pytest.mark.parametrize("sha", [None, "", "abc", 42])
def test_sha256_is_required(model_copy, sha):
    """Before: a missing or empty sha256 skipped the check."""
    from pyolcaoml.model import ModelError, load_model

    _set_entry(model_copy, sha256=sha if sha is not None else None)
    with pytest.raises(ModelError, match="no valid sha256"):
        load_model(model_copy)


def test_model_json_not_utf8(model_copy):
    from pyolcaoml.model import ModelError, load_model

    path = model_copy / "model.json"
    path.write_bytes(path.read_bytes().replace(b'"format"', b'"form\xffat"', 1))
    with pytest.raises(ModelError, match="cannot read"):
        load_model(model_copy)
