"""olcaoml info: versions, build and threading facts (for bug reports)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform

HELP = "show versions, the Fortran build, the bundled model and thread settings"


def add_arguments(p: argparse.ArgumentParser) -> None:
    del p


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    del args
    from pyolcaoml import __version__
    from pyolcaoml._fortran import core

    print(f"pyolcaoml       {__version__}")
    print(f"python          {platform.python_version()} ({platform.machine()})")
    for name in ("numpy", "ase", "h5py", "tensorflow-cpu", "keras"):
        print(f"{name:<15} {_version(name)}")
    print(f"fortran core    {core().__file__}")
    print(f"max twojmax     {int(core().oml_max_twojmax())}")
    print(f"OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', '(unset: all cores)')}")
    _print_bundled_model()
    print(f"olcao runs      {_iteration_reference_line()}")
    print(f"from-mb         {_mb_delta_line()}")
    print(f"cores           {os.cpu_count()}")
    return 0


def _per_bundled_model(describe) -> str:
    """``describe(model folder)`` for each bundled model, "NAME what", joined;
    a stale or damaged file (ModelError) is named and the line goes on."""
    from pyolcaoml.model import ModelError
    from pyolcaoml.model.saved import bundled_model_path

    parts = []
    for name in ("default", "asi", "sic", "sicam"):
        try:
            parts.append(f"{name} {describe(bundled_model_path(name))}")
        except ModelError as exc:
            parts.append(f"{name} unusable ({exc})")
    return ", ".join(parts)


def _iteration_reference_line() -> str:
    """How many OLCAO runs each bundled model's expected-iterations
    estimate rests on (MODEL/olcao_iterations.json; docs/uncertainty.md)."""
    from pyolcaoml.model.olcao_iterations import load_reference

    def describe(path: str) -> str:
        ref = load_reference(path)
        if ref is None:
            return "none"
        groups = "".join(f"; {g.name} {len(ref.cells_of(g.name))}" for g in ref.groups)
        return f"{len(ref.cells)} ({ref.predictor}{groups})"

    return "behind the expected iterations of a prediction: " + _per_bundled_model(
        describe
    )


def _mb_delta_line() -> str:
    """Which bundled models carry the minimal-basis correction that
    ``olcaoml from-mb`` needs (MODEL/mb_delta.npz; docs/model.md, stops
    49-51), with its elements and the OLCAO runs it was fitted on."""
    from pyolcaoml.model.mb_delta import MB_DELTA_FILE, load_mb_delta

    def describe(path: str) -> str:
        if not os.path.isfile(os.path.join(path, MB_DELTA_FILE)):
            return "none"
        delta = load_mb_delta(path)
        elements = "+".join(sorted(delta.elements))
        return f"{elements} ({len(delta.train_structures)} runs)"

    return "minimal-basis corrections: " + _per_bundled_model(describe)


def _handover_line(model_dir) -> str:
    """The default model's handover threshold and where it comes from."""
    from pyolcaoml.model import ModelError
    from pyolcaoml.model.handover import threshold_of
    from pyolcaoml.model.saved import load_model

    try:
        model = load_model(str(model_dir), networks=False)
    except ModelError as exc:
        return f"(cannot read the default model: {exc})"
    where = "recorded by the model" if model.handover else "the package's"
    t = 1000 * threshold_of(model)
    return f"median sigma > {t:.3g} mHa goes to the a-Si model ({where})"


def _sic_handover_line() -> str:
    """The Si + C model's amorphous SiC threshold."""
    from pyolcaoml.model import ModelError
    from pyolcaoml.model.handover import domain_threshold_of
    from pyolcaoml.model.saved import bundled_model_path, load_model

    try:
        model = load_model(bundled_model_path("sic"), networks=False)
    except ModelError as exc:
        return f"(cannot read the Si + C model: {exc})"
    t = domain_threshold_of(model)
    if t is None:
        return "none: the Si + C model records no median_domain"
    return (
        f"SiC with median applicability distance > {t:.3g} goes to the "
        "amorphous SiC model (recorded by the Si + C model)"
    )


def _print_bundled_model() -> None:
    """Where the bundled model is: the Keras directory (olcaoml predict) and
    its export for libolcaoml (a Fortran program's model.oml)."""
    from pyolcaoml import bundled_model

    try:
        keras_dir = bundled_model.model_dir()
        oml = bundled_model.oml_path()
    except FileNotFoundError as exc:
        print(f"bundled model   (missing: {exc})")
        return
    print(f"bundled model   {keras_dir}")
    missing = "" if oml.is_file() else "  (missing)"
    print(f"library model   {oml}{missing}")
    from pyolcaoml.model import ModelError
    from pyolcaoml.model.saved import bundled_model_path

    try:
        print(f"bundled Si + C  {bundled_model_path('sic')} ('sic')")
    except ModelError as exc:
        print(f"bundled Si + C  (missing: {exc})")
    from pyolcaoml.model.handover import AMORPHOUS_MODEL, amorphous_model_path

    asi = amorphous_model_path()
    if asi is not None:
        print(f"bundled a-Si    {asi} ('{AMORPHOUS_MODEL}')")
        print(f"handover        {_handover_line(keras_dir)}")
    from pyolcaoml.model.handover import SIC_AMORPHOUS_MODEL, sic_amorphous_model_path

    sicam = sic_amorphous_model_path()
    if sicam is not None:
        print(f"bundled a-SiC   {sicam} ('{SIC_AMORPHOUS_MODEL}')")
        print(f"handover        {_sic_handover_line()}")
        print(
            "                (for libolcaoml: olcaoml export sic -o sic.oml "
            "--domain sic.omld; docs/library.md, section 6)"
        )
