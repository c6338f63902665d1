"""Helpers for the library and export tests: small models built from real data.

No tests here.  The models are built with pyolcaoml.model's own API
(build_network, OutputBasis, RidgeBaseline, PotentialModel.save) from real
OLCAO runs in ../shared/olcao-runs, with random weights: agreement between
Keras and the Fortran forward pass does not need a trained network, and the
weights are drawn large enough that every activation is used away from its
linear regime.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, SHARED

RUNS = SHARED / "olcao-runs"
#: Copies of real runs bundled with the tests, used when ../shared is absent.
BUNDLED_RUNS = (DATA / "olcao" / "si8_r0.10_seed1100", DATA / "olcao" / "si8_types")
#: A few real runs of different kinds (8, 17 and 64 atoms).
RUN_NAMES = (
    "strain/si8_s1.00",
    "rattle/si8_r0.10_seed1100",
    "defect/si16_int_T",
    "amorphous/asi64_s102",
)


def run_dirs(names: Sequence[str] = RUN_NAMES) -> list[Path]:
    found = [RUNS / n for n in names if (RUNS / n / "inputs" / "olcao.dat").is_file()]
    return found or list(BUNDLED_RUNS)


def real_training_data(descriptor, names: Sequence[str] = RUN_NAMES):
    """(descriptors (M, K), converged A (M, N), alphas (N,)) of real Si atoms."""
    from pyolcaoml.olcao import read_run

    xs, ys, alphas = [], [], None
    for path in run_dirs(names):
        run = read_run(path)
        xs.append(descriptor.compute(run.structure))
        ys.append(np.array(run.converged_coeffs_per_atom))
        alphas = run.alphas_per_type[0]
    return np.concatenate(xs), np.concatenate(ys), alphas


def build_model(
    directory: str | os.PathLike[str],
    *,
    descriptor=None,
    activation: str = "tanh",
    hidden: Sequence[int] = (12, 10),
    linear_branch: bool = True,
    seed: int = 0,
    weight_scale: float = 1.0,
) -> str:
    """Save a one-element (Si) model with random weights; return its path."""
    from pyolcaoml import Bispectrum
    from pyolcaoml.model.baselines import RidgeBaseline, feature_scaling
    from pyolcaoml.model.basis import OutputBasis
    from pyolcaoml.model.network import build_network
    from pyolcaoml.model.potential import RadialMetric
    from pyolcaoml.model.saved import ElementModel, PotentialModel
    from pyolcaoml.olcao import load_atomic_potential

    if descriptor is None:
        descriptor = Bispectrum(twojmax=6, radii={"Si": 2.35})
    x, y, alphas = real_training_data(descriptor)
    atom = load_atomic_potential("Si")
    isolated = atom.coeffs
    metric = RadialMetric()
    basis = OutputBasis.fit(y, isolated, metric.gram(alphas))
    mean, scale = feature_scaling(x)
    rng = np.random.default_rng(seed)
    k = x.shape[1]
    ridge = RidgeBaseline(
        x_mean=mean,
        x_scale=scale,
        weights=rng.normal(scale=0.1, size=(k, len(alphas))),
        intercept=basis.offset.copy(),
        strength=1.0,
    )
    linear = None
    if linear_branch:
        linear = (
            rng.normal(scale=0.3, size=(k, basis.n_latent)),
            rng.normal(scale=0.1, size=basis.n_latent),
        )
    full, _ = build_network(
        "Si",
        mean,
        scale**2,
        basis,
        hidden=hidden,
        activation=activation,
        l2=0.0,
        linear=linear,
    )
    for layer in full.layers:
        if layer.name.startswith("hidden") or layer.name in ("latent", "nonlinear"):
            w = layer.get_weights()
            if not w:
                continue
            w_scale = weight_scale * 1.5 / np.sqrt(w[0].shape[0])
            layer.set_weights(
                [
                    rng.normal(scale=w_scale, size=w[0].shape),
                    rng.normal(scale=weight_scale * 0.5, size=w[1].shape),
                ]
            )
    em = ElementModel(
        symbol="Si",
        alphas=np.asarray(alphas, dtype=np.float64),
        basis=basis,
        ridge=ridge,
        network=full,
        charge_columns=atom.block.table[:, 2:5].copy(),
    )
    model = PotentialModel(
        descriptor=descriptor.to_dict(),
        n_features=descriptor.n_features,
        elements={"Si": em},
        metric=metric,
    )
    path = os.fspath(directory)
    model.save(path, overwrite=True)
    return path


_TMP: list[str] = []


def _scratch() -> str:
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="olcaoml-libtest-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    return _TMP[0]


@functools.cache
def cached_model(
    activation: str = "tanh",
    linear_branch: bool = True,
    multiscale: bool = False,
    hidden: tuple[int, ...] = (12, 10),
    neighbour_mean: int = 0,
) -> tuple[str, str]:
    """(model directory, exported .oml file), built once per session.
    ``neighbour_mean``: the descriptor gets a neighbour mean (2.4-2.8 Å) of
    that many hops (True: one)."""
    from pyolcaoml import Bispectrum, MultiScaleBispectrum
    from pyolcaoml.export import export_model
    from pyolcaoml.neighbour_mean import NeighbourMean

    name = f"{activation}-{int(linear_branch)}-{int(multiscale)}-" + "x".join(
        map(str, hidden)
    )
    hops = int(neighbour_mean)
    name += ("-nm" if hops == 1 else f"-nm{hops}") if hops else ""
    descriptor = None
    if multiscale:
        descriptor = MultiScaleBispectrum(
            scales=[0.75, 1.0, 1.5], twojmax=4, radii={"Si": 2.35}
        )
    if neighbour_mean:
        inner = descriptor or Bispectrum(twojmax=6, radii={"Si": 2.35})
        descriptor = NeighbourMean(inner, 2.4, 2.8, hops=hops)
    path = build_model(
        os.path.join(_scratch(), name),
        descriptor=descriptor,
        activation=activation,
        hidden=hidden,
        linear_branch=linear_branch,
    )
    oml = os.path.join(_scratch(), name + ".oml")
    export_model(path, oml, force=True)
    return path, oml


#: The bundled default model (data/default_model), when it has been made.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "default_model"


def gfortran() -> str | None:
    return shutil.which("gfortran")


#: Tests that compile a Fortran program against the library: they need the
#: compiler that a Fortran caller (OLCAO) uses, not just the built package.
needs_gfortran = pytest.mark.skipif(
    gfortran() is None,
    reason="gfortran is not installed: compiling a Fortran program against "
    "libolcaoml needs it (apt-get install gfortran)",
)


def compile_fortran(source: Path, output: Path) -> subprocess.CompletedProcess:
    """Compile a Fortran program against the installed library."""
    from pyolcaoml import library

    cmd = [
        gfortran() or "gfortran",
        "-O2",
        *library.cflags(),
        str(source),
        "-o",
        str(output),
        *library.libs(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True)


def run_cli_fresh(args: Sequence[str], cwd: Path) -> tuple[int, str, list[str]]:
    """``olcaoml ARGS`` in a fresh interpreter, run in ``cwd`` (outside the
    checkout, so that an installed pyolcaoml is the one imported): (exit
    status, stderr, which of TensorFlow and Keras it imported)."""
    import json
    import sys

    code = (
        "import json, sys; from pyolcaoml.cli import main; "
        f"rc = main({list(args)!r}); "
        "print(json.dumps([m for m in ('tensorflow', 'keras') if m in "
        "sys.modules])); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    lines = done.stdout.strip().splitlines()
    imported = json.loads(lines[-1]) if lines else ["(no output)"]
    return done.returncode, done.stderr, imported
