"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Under pytest-xdist there is one worker process per core, so a worker's
# own thread pools (NumPy's BLAS, the Fortran core's OpenMP, TensorFlow)
# only fight the other workers for the same cores: a model's prediction
# took 2.5x longer that way. Set before NumPy or TensorFlow is imported in
# the worker; a value the caller set is kept. Tests of thread counts pass
# them explicitly.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    ):
        os.environ.setdefault(_var, "1")

# Imported once here, in pytest's main process, so that an editable install
# rebuilds the Fortran extension (if its sources changed) before pytest-xdist
# starts its workers, and not in several workers at once.
import pyolcaoml  # noqa: F401

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REPO = TESTS.parent
#: The project's shared folder (real OLCAO runs, references): $OLCAOML_SHARED
#: when set (e.g. OLCAOML_SHARED=/data/olcao-shared pytest), else ../shared
#: beside the repository. Tests that need it skip, naming the path, without it.
SHARED = Path(os.environ.get("OLCAOML_SHARED") or REPO.parent / "shared").resolve()


@pytest.fixture
def data_dir() -> Path:
    return DATA


#: Real OLCAO runs of 3C-SiC cells in the repository (data/sic/runs).
SIC_RUNS = Path(__file__).resolve().parents[1] / "data" / "sic" / "runs"


@pytest.fixture(scope="session")
def sic_model_dir(tmp_path_factory) -> Path:
    """A small Si + C model trained on the repository's rattled and strained
    3C-SiC runs (the bundled default model is Si only: see docs/model.md,
    "Silicon carbide"). It is only as good as a few seconds of training
    allow; the tests that use it check plumbing (two elements through the
    C API, projection onto other exponents), not accuracy."""
    from pyolcaoml.cli import main

    tmp = tmp_path_factory.mktemp("sic_model")
    data, model = tmp / "sic.h5", tmp / "model"
    desc = ["--twojmax", "4", "--radius", "Si=2.35", "--radius", "C=1.609", "--chem"]
    runs = [str(SIC_RUNS / "rattle"), str(SIC_RUNS / "strain")]
    assert main(["convert", *runs, "-o", str(data), "--quiet", *desc]) == 0
    train = ["--hidden", "8", "--epochs", "40", "--patience", "40", "--quiet"]
    assert main(["train", str(data), "-o", str(model), "--seed", "0", *train]) == 0
    return model


def load_benchmark(name: str):
    """benchmarks/NAME.py as a module (the benchmarks are scripts, not a
    package)."""
    import importlib.util

    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod
