"""libolcaoml speed: descriptors vs descriptors + network, library vs Python.

Run:  python benchmarks/bench_library.py [--atoms 10000] [--repeats 3]

On a 10,000-atom a-Si-like cell (benchmarks/structures.py) with the bundled
default model (data/default_model) when it exists, else a model with the
same layout built here (multi-scale bispectrum 2J_max 8 at 0.75, 1.0, 1.5 x
4.7 Å, hidden layers 32 x 32 tanh, ridge skip branch; random weights: the
cost does not depend on their values).  Everything through the library is
one C call on NumPy arrays passed by pointer (ctypes releases the GIL; no
Python runs during the call, nothing is copied).

Prints one table (minimum over repeats, seconds and µs per atom):
- library: descriptors alone (olcaoml_descriptors), network alone
  (olcaoml_predict_from_descriptors), both (olcaoml_predict);
- Python: pyolcaoml's predict path (Bispectrum.compute + Keras), the path
  of 'olcaoml predict';
and the two target ratios: predict / descriptors (target <= 1.2) and
library / Python per atom (target: within 10 %, i.e. <= 1.1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
from structures import random_asi  # noqa: E402
from timing import best_of_with_result  # noqa: E402

from pyolcaoml.library import LibraryModel  # noqa: E402
from pyolcaoml.structure import BOHR_IN_ANGSTROM, Structure  # noqa: E402


def model_dirs(scratch: str) -> tuple[str, str]:
    """(model directory, exported file): the bundled model or a stand-in."""
    from pyolcaoml.export import export_model

    bundled = REPO / "data" / "default_model"
    if (bundled / "model.json").is_file():
        path = str(bundled)
    else:
        from test_library_support import build_model

        from pyolcaoml import MultiScaleBispectrum

        descriptor = MultiScaleBispectrum(
            scales=[0.75, 1.0, 1.5], twojmax=8, radii={"Si": 2.35}
        )
        path = build_model(
            os.path.join(scratch, "model"),
            descriptor=descriptor,
            hidden=(32, 32),
            activation="tanh",
        )
    oml = os.path.join(scratch, "model.oml")
    export_model(path, oml, force=True)
    return path, oml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers")
    args = parser.parse_args(argv)

    from pyolcaoml.model import load_model
    from pyolcaoml.model.workflow import predict_structure

    scratch = tempfile.mkdtemp(prefix="bench-library-")
    path, oml = model_dirs(scratch)
    model = load_model(path)
    atoms = random_asi(args.atoms, seed=1)
    n = len(atoms)
    # OLCAO's view: Bohr, as structure.dat holds it.
    cell_bohr = np.ascontiguousarray(atoms.cell.array / BOHR_IN_ANGSTROM)
    pos_bohr = np.ascontiguousarray(atoms.positions / BOHR_IN_ANGSTROM)
    # The Python path reads the same Bohr numbers and converts them.
    structure = Structure(
        cell=cell_bohr * BOHR_IN_ANGSTROM,
        positions=pos_bohr * BOHR_IN_ANGSTROM,
        symbols=["Si"] * n,
    )
    threads = args.threads
    py_threads = None if threads == 0 else threads

    rows: dict[str, float] = {}
    with LibraryModel(oml) as lib:
        el = lib.element_indices(["Si"] * n)
        # warm up (page in the library, OpenMP pool)
        lib.predict(cell_bohr, pos_bohr, el[:], n_threads=threads)
        rows["library: descriptors"], x = best_of_with_result(
            lambda: lib.descriptors(cell_bohr, pos_bohr, el, n_threads=threads),
            args.repeats,
        )
        rows["library: network only"], _ = best_of_with_result(
            lambda: lib.predict_from_descriptors(el, x, n_threads=threads),
            args.repeats,
        )
        rows["library: descriptors + network"], a_lib = best_of_with_result(
            lambda: lib.predict(cell_bohr, pos_bohr, el, n_threads=threads),
            args.repeats,
        )
    predict_structure(model, structure, n_threads=py_threads)  # warm up Keras
    rows["Python: descriptors + Keras"], pred = best_of_with_result(
        lambda: predict_structure(model, structure, n_threads=py_threads),
        args.repeats,
    )
    rows["Python: descriptors only"], _ = best_of_with_result(
        lambda: model.descriptor_calculator().compute(structure, n_threads=py_threads),
        args.repeats,
    )
    a_py = np.array(pred.coeffs)
    agreement = float(np.abs(a_lib - a_py).max() / np.abs(a_py).max())

    ratio_net = rows["library: descriptors + network"] / rows["library: descriptors"]
    ratio_py = (
        rows["library: descriptors + network"] / rows["Python: descriptors + Keras"]
    )
    print(
        f"\n{n} atoms (a-Si-like, {atoms.cell[0, 0]:.2f} Å cube), "
        f"{model.n_features} descriptors/atom, model {path}\n"
        f"threads: {threads or os.cpu_count()}, "
        f"best of {args.repeats}\n"
    )
    print(f"{'path':34s} {'seconds':>9s} {'µs/atom':>9s}")
    for name, t in rows.items():
        print(f"{name:34s} {t:9.3f} {1e6 * t / n:9.1f}")
    print()
    print(
        f"library predict / library descriptors  = {ratio_net:.3f}"
        f"   (target <= 1.2: {'met' if ratio_net <= 1.2 else 'NOT met'})"
    )
    print(
        f"library predict / Python predict       = {ratio_py:.3f}"
        f"   (target <= 1.1: {'met' if ratio_py <= 1.1 else 'NOT met'})"
    )
    print(f"max |A_lib - A_python| / max |A|        = {agreement:.1e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "atoms": n,
                    "features": model.n_features,
                    "threads": threads or os.cpu_count(),
                    "seconds": rows,
                    "ratio_predict_over_descriptors": ratio_net,
                    "ratio_library_over_python": ratio_py,
                    "agreement": agreement,
                },
                fh,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
