"""The cost of the library's applicability distance (API 2.3) beside the
prediction it guards, with the bundled Si + C model.

Run:  python benchmarks/bench_domain.py [--repeat 4] [--repeats 3]

An amorphous SiC cell of the repository (16 atoms, a real OLCAO run) is
repeated ``--repeat`` times along each axis (4: 1,024 atoms).  The bundled
`sic` model is exported with its domain once (from its arrays), then,
minimum over ``--repeats`` (seconds and µs per atom):
- library: descriptors (olcaoml_descriptors), the ensemble from them
  (olcaoml_predict_ensemble_from_descriptors), the domain ratio
  (olcaoml_domain_ratio) with one thread and with the OpenMP default;
- Python: applicability.domain_ratio (what olcaoml predict computes);
and the ratio domain / (descriptors + ensemble): what the handover check
adds to a library prediction.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from timing import best_of_with_result  # noqa: E402

CELL = REPO / "data" / "sic" / "test_runs_stop37" / "amorphous" / "sic16_rr_seed13300"


def main(argv: list[str] | None = None) -> int:
    from pyolcaoml.export import export_model
    from pyolcaoml.library import LibraryDomain, LibraryModel
    from pyolcaoml.model import load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.structure import Structure

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    s = read_run(CELL).structure
    n = args.repeat
    shifts = np.array([(a, b, c) for a in range(n) for b in range(n) for c in range(n)])
    cell = np.asarray(s.cell) * n
    pos = (
        np.asarray(s.positions)[None] + (shifts @ np.asarray(s.cell))[:, None]
    ).reshape(-1, 3)
    big = Structure(cell=cell, positions=pos, symbols=list(s.symbols) * len(shifts))
    symbols = list(big.symbols)
    model = load_model("sic")
    x = model.descriptor_calculator().compute(big)
    bohr = 0.52917721
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        oml, omld = os.path.join(tmp, "sic.oml"), os.path.join(tmp, "sic.omld")
        export_model(model, oml, domain=omld)
        with LibraryModel(oml) as lib, LibraryDomain(lib, omld) as dom:
            el = lib.element_indices(symbols)
            args3 = (np.asarray(big.cell) / bohr, np.asarray(big.positions) / bohr, el)
            rows.append(
                (
                    "library descriptors",
                    *best_of_with_result(lambda: lib.descriptors(*args3), args.repeats),
                )
            )
            rows.append(
                (
                    "library ensemble (from descriptors)",
                    *best_of_with_result(
                        lambda: lib.predict_ensemble_from_descriptors(el, x),
                        args.repeats,
                    ),
                )
            )
            rows.append(
                (
                    "library domain ratio, 1 thread",
                    *best_of_with_result(lambda: dom.ratio(el, x, 1), args.repeats),
                )
            )
            rows.append(
                (
                    "library domain ratio, default threads",
                    *best_of_with_result(lambda: dom.ratio(el, x), args.repeats),
                )
            )
    rows.append(
        (
            "Python applicability.domain_ratio",
            *best_of_with_result(
                lambda: model.applicability.domain_ratio(symbols, x), args.repeats
            ),
        )
    )
    m = len(symbols)
    print(f"{m} atoms (amorphous SiC, {CELL.name} x {n}^3), minimum of {args.repeats}")
    print("| step | s | µs per atom |")
    print("|---|---|---|")
    for label, t, _ in rows:
        print(f"| {label} | {t:.3f} | {1e6 * t / m:.0f} |")
    pred = rows[0][1] + rows[1][1]
    print(
        f"domain (default threads) / (descriptors + ensemble): {rows[3][1] / pred:.2f}"
    )
    d_lib, d_py = rows[3][2], rows[4][2]
    worst = np.max(np.abs(d_lib / d_py - 1))
    print(f"largest relative difference library vs Python: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
