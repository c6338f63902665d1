"""Fit the minimal-basis correction of a model (mb_delta.npz; docs/model.md,
stop 49) from OLCAO runs converged in both bases.

    python data/make_mb_delta.py MODEL_DIR MB_RUNS FB_RUN_DIR... \
        [--strength L ...] [--write]

MB_RUNS: a folder (or a .tar.xz of one) holding <cell>/gs_scfV-mb.dat, the
converged minimal-basis potential that 'uolcao -scf MB' wrote for the run of
the same name among FB_RUN_DIR (which holds the FB run: inputs/ and its
converged gs_scfV-fb.dat). Prints the leave-one-cell-out error of each ridge
strength (RMS V(r) over atoms, its atom-to-atom part, mHa) beside MB alone
and the model's own start; --write fits the first strength on every cell
and writes MODEL_DIR/mb_delta.npz.

The bundled one (its train_structures; tests/test_mb_delta.py remakes it):
python data/make_mb_delta.py data/asi_model data/mb_runs.tar.xz
data/runs_asi32/asi32_s1071? data/runs_asi32_next/asi32_s1073[01]
data/scf_test_runs/asi32_s1072[012] data/scf_test_runs/asi32_s10760
--strength 0.3 --write
(the cells neither Si model saw, asi32_s10700-10702, the a-Si32 cells
asi32_s15000/15001 and every a-Si64 cell are left out: they judge it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile

import numpy as np


def cell_arrays(model, run_dir: str, mb_path: str) -> dict:
    """Descriptors, FB and MB coefficients (types in olcao.dat order)."""
    from pyolcaoml.model.workflow import check_run, compute_descriptors
    from pyolcaoml.olcao.scfv import read_scfv

    plan = check_run(model, run_dir)
    run = plan.run
    fb = np.array([np.asarray(c) for c in run.converged_potential.coeffs()])
    mb = np.array([np.asarray(c) for c in read_scfv(mb_path).coeffs()])
    if mb.shape != fb.shape:
        raise SystemExit(f"{mb_path}: shape {mb.shape}, the FB run's {fb.shape}")
    x = compute_descriptors(model, run.structure)[plan.atom_of_type]
    symbols = [run.structure.symbols[i] for i in plan.atom_of_type]
    alphas = [np.asarray(t.alphas) for t in run.potential_types]
    return {"x": x, "fb": fb, "mb": mb, "symbols": symbols, "alphas": alphas}


def errors(model, start: np.ndarray, fb: np.ndarray, alphas) -> tuple[float, float]:
    """RMS V(r) over atoms of start - fb, and of its atom-to-atom part (mHa)."""
    e = start - fb
    a2a = e - e.mean(axis=0)
    whole = [
        model.metric.rms_per_atom(r[None], 0 * r[None], a)
        for r, a in zip(e, alphas, strict=True)
    ]
    part = [
        model.metric.rms_per_atom(r[None], 0 * r[None], a)
        for r, a in zip(a2a, alphas, strict=True)
    ]
    return 1000 * float(np.sqrt(np.mean(np.square(whole)))), 1000 * float(
        np.sqrt(np.mean(np.square(part)))
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("mb_runs")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--strength", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()

    from pyolcaoml.model import load_model
    from pyolcaoml.model.mb_delta import MbDelta, fit_element_delta

    model = load_model(a.model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        mb_root = a.mb_runs
        if a.mb_runs.endswith(".tar.xz"):
            with tarfile.open(a.mb_runs) as tar:
                tar.extractall(tmp, filter="data")
            mb_root = tmp
        cells = {}
        for run_dir in a.runs:
            name = os.path.basename(os.path.normpath(run_dir))
            mb_path = os.path.join(mb_root, name, "gs_scfV-mb.dat")
            if not os.path.isfile(mb_path):
                raise SystemExit(f"no {mb_path} for {run_dir}")
            cells[name] = cell_arrays(model, run_dir, mb_path)
    names = sorted(cells)
    elements = sorted({s for c in cells.values() for s in c["symbols"]})

    def fit(train: list[str], strength: float) -> dict:
        out = {}
        for el in elements:
            rows = [
                (c, i)
                for c in train
                for i, s in enumerate(cells[c]["symbols"])
                if s == el
            ]
            x = np.array([cells[c]["x"][i] for c, i in rows])
            d = np.array([cells[c]["fb"][i] - cells[c]["mb"][i] for c, i in rows])
            alphas = cells[rows[0][0]]["alphas"][rows[0][1]]
            out[el] = fit_element_delta(el, alphas, x, d, strength)
        return out

    def corrected(fits: dict, c: dict) -> np.ndarray:
        delta = MbDelta(fits, model.descriptor).predict(c["symbols"], c["x"])
        return c["mb"] + np.array(delta)

    print(f"{len(names)} cells, {sum(len(c['x']) for c in cells.values())} atoms")
    cols = ["MB alone", "model"] + [f"MB+Delta L={s:g}" for s in a.strength]
    print("leave-one-cell-out, RMS V(r) whole / atom-to-atom (mHa)")
    print("cell".ljust(16) + "".join(c.rjust(20) for c in cols))
    table = {k: [] for k in cols}
    for name in names:
        c = cells[name]
        row = [errors(model, c["mb"], c["fb"], c["alphas"])]
        net = model.predict(c["symbols"], c["x"])
        row.append(errors(model, np.asarray(net), c["fb"], c["alphas"]))
        for s in a.strength:
            fits = fit([n for n in names if n != name], s)
            row.append(errors(model, corrected(fits, c), c["fb"], c["alphas"]))
        for k, v in zip(cols, row, strict=True):
            table[k].append(v)
        print(name.ljust(16) + "".join(f"{w:9.2f} /{p:7.2f}  " for w, p in row))
    summary = {
        k: [
            float(np.sqrt(np.mean(np.square([v[j] for v in table[k]])))) for j in (0, 1)
        ]
        for k in cols
    }
    print(
        "RMS over cells".ljust(16)
        + "".join(f"{w:9.2f} /{p:7.2f}  " for w, p in summary.values())
    )
    if a.write:
        s = a.strength[0]
        fits = fit(names, s)
        notes = {
            "made_by": "data/make_mb_delta.py",
            "leave_one_cell_out_mha": {
                "MB alone": summary["MB alone"],
                "model": summary["model"],
                "MB+Delta": summary[f"MB+Delta L={s:g}"],
            },
        }
        path = MbDelta(fits, model.descriptor, names, notes).save(a.model_dir)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
