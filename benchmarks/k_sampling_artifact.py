#!/usr/bin/env python3
"""How far a stored converged potential is from the k-converged one, beside a
model's error (needs OLCAO; not a test).

For each curated run, OLCAO runs again with exactly the run's inputs except a
denser k-point mesh (the NUM_KP_A_B_C line of kp-scf.dat, which is all that
``makeinput -kp`` changes for these runs), started from the run's own
converged potential, to 1e-6. Printed per run, RMS V(r) in mHa (the model
metric: r in [0.05, 6] Bohr, r^2-weighted), per element, whole and
atom-to-atom (each element's cell mean removed, as in
sic_error_parts_scf.py):

- the k artifact: the dense-mesh potential less the stored one;
- the model's error against the stored potential and against the dense one;
- OLCAO's first convergence value at the dense mesh from the stored
  potential (the artifact in OLCAO's own measure) and its iterations to 1e-4.

    python benchmarks/k_sampling_artifact.py RUN... --kp 4 4 4 --model default
        [--work DIR] [--jobs N] [--json FILE]

With --work, each dense run is kept in DIR/<run name>/out and reused by a
later call with the same --kp (so a table can be remade without OLCAO).
The runs are the protocol's, with one potential type per atom, so each
type's RMS is an atom's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_scf  # noqa: E402
from sic_error_parts_scf import error_parts, model_error  # noqa: E402

TO_1E6 = ("--conv", "1e-6", "--maxiter", "60")
A2A = "atom to atom"


def dense_inputs(run_path: str, kp: tuple[int, int, int], dest: str) -> str:
    """A copy of the run's skeleton and inputs/ whose k-point files ask for
    the mesh ``kp``; refuses a kp file that does not have OLCAO's mesh line."""
    from pyolcaoml.olcao.olcao_dat import edit_setting

    os.makedirs(dest)
    shutil.copy(os.path.join(run_path, "olcao.skl"), dest)
    shutil.copytree(os.path.join(run_path, "inputs"), os.path.join(dest, "inputs"))
    path = os.path.join(dest, "inputs", "kp-scf.dat")
    with open(path) as fh:
        text = fh.read()
    if not re.search(r"KPOINT_STYLE_CODE\n\s*1\s*\n", text) or (
        text.count("NUM_KP_A_B_C\n") != 1
    ):
        raise ValueError(f"{path}: not a k-point mesh file (style 1, one mesh line)")
    edit_setting(path, "NUM_KP_A_B_C", lambda old: " ".join(map(str, kp)))
    shutil.copy(path, os.path.join(dest, "inputs", "kp-pscf.dat"))
    return dest


def rms_mha(parts: list[np.ndarray], symbols, alphas) -> dict[str, float]:
    """RMS V(r) per element (mHa) of per-type coefficient vectors."""
    from pyolcaoml.model.potential import DEFAULT_METRIC

    out = {}
    for el in sorted(set(symbols)):
        t = [i for i, s in enumerate(symbols) if s == el]
        rows = np.array([parts[i] for i in t])
        out[el] = 1000.0 * DEFAULT_METRIC.rms(rows, np.zeros_like(rows), alphas[t[0]])
    return out


def measure(run, model, dense_coeffs: list[np.ndarray]) -> dict:
    """The artifact and the model's error, whole and atom-to-atom."""
    me = model_error(run, model)
    art = [d - c for d, c in zip(dense_coeffs, me.conv, strict=True)]
    vs_dense = [e - a for e, a in zip(me.err, art, strict=True)]
    out = {}
    for key, parts in (
        ("artifact", art),
        ("model_vs_stored", me.err),
        ("model_vs_dense", vs_dense),
    ):
        out[key] = {
            "whole": rms_mha(parts, me.symbols, me.alphas),
            "atom_to_atom": rms_mha(
                error_parts(parts, me.symbols, me.alphas)[A2A], me.symbols, me.alphas
            ),
        }
    return out


def dense_run(runner: str, run, kp, work: str) -> str:
    """The dense-mesh OLCAO run's curated folder (made unless kept)."""
    od = os.path.join(work, run.name, "out")
    done = os.path.join(od, "gs_scfV-fb.dat")
    meta = os.path.join(od, "meta.json")
    if os.path.isfile(done) and os.path.isfile(meta):
        with open(meta) as fh:
            if list(json.load(fh).get("kpoints", [])) == list(kp):
                return od
    shutil.rmtree(os.path.join(work, run.name), ignore_errors=True)
    prep = dense_inputs(run.path, kp, os.path.join(work, run.name, "inputs_dense"))
    with open(os.path.join(run.path, "gs_scfV-fb.dat")) as fh:
        start = fh.read()
    bench_scf.run_olcao(
        runner,
        SimpleNamespace(path=prep),
        start,
        os.path.join(work, run.name),
        kp,
        "dense",
        TO_1E6,
    )
    shutil.move(os.path.join(work, run.name, "dense", "out"), od)
    return od


def _pair(m: dict, key: str) -> str:
    return " ".join(
        f"{el} {m[key]['whole'][el]:.2f} / {m[key]['atom_to_atom'][el]:.2f}"
        for el in m[key]["whole"]
    )


def summarise_rows(rows: list[dict]) -> None:
    """Medians over the runs whose dense SCF converged, per element, and the
    rank correlation of the model's atom-to-atom error with the artifact's."""
    from scipy.stats import spearmanr

    ok = [r for r in rows if r["dense_converged"]]
    if len(ok) < 3:
        return
    for el in sorted({el for r in ok for el in r["artifact"]["whole"]}):
        a2a = {
            k: np.array([r[k]["atom_to_atom"][el] for r in ok])
            for k in ("artifact", "model_vs_stored", "model_vs_dense")
        }
        whole = np.median([r["artifact"]["whole"][el] for r in ok])
        rho = spearmanr(a2a["model_vs_stored"], a2a["artifact"]).statistic
        lower = int(np.sum(a2a["model_vs_dense"] < a2a["model_vs_stored"]))
        print(
            f"{el}, {len(ok)} runs: median artifact {whole:.2f} whole, "
            f"{np.median(a2a['artifact']):.2f} atom-to-atom; median model "
            f"atom-to-atom error {np.median(a2a['model_vs_stored']):.2f} against "
            f"the stored potential, {np.median(a2a['model_vs_dense']):.2f} against "
            f"the dense one (lower on {lower}); Spearman of the model's "
            f"atom-to-atom error with the artifact's {rho:+.2f}"
        )


def main() -> int:
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.scfv import read_scfv

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--kp", type=int, nargs=3, required=True, help="the denser mesh")
    p.add_argument("--model", default="default")
    p.add_argument("--work", help="keep (and reuse) the dense runs here")
    p.add_argument("--jobs", type=int, default=1, help="OLCAO runs at a time")
    p.add_argument("--json")
    args = bench_scf.parse_or_skip(p)
    if args is None:
        return 0
    model = load_model(args.model)
    runs = [read_run(path) for path in args.runs]
    work = args.work or tempfile.mkdtemp(prefix="k-artifact-")
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outs = list(pool.map(lambda r: dense_run(args.runner, r, args.kp, work), runs))
    rows = []
    print(
        "| run | stored k | artifact whole / a2a | model vs stored whole / a2a | "
        "model vs dense whole / a2a | first value | it->1e-4 | dE (Ha) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run, od in zip(runs, outs, strict=True):
        dense = [
            np.asarray(c)
            for c in read_scfv(os.path.join(od, "gs_scfV-fb.dat")).coeffs()
        ]
        m = measure(run, model, dense)
        values = bench_scf.iteration_values(os.path.join(od, "gs_iter-fb.dat"))
        with open(os.path.join(od, "meta.json")) as fh:
            e_dense = json.load(fh).get("total_energy_Ha")
        e_stored = float(run.history.total_energy[-1])
        de = None if e_dense is None else e_dense - e_stored
        summary = bench_scf.summarise(values, None, None)
        row = {
            "run": run.name,
            "stored_kpoints": list(run.kpoints),
            "dense_kpoints": list(args.kp),
            **m,
            "first_value": values[0],
            "iterations_to_1e-4": summary["iterations_to_1e-4"],
            "dense_converged": summary["iterations_to_1e-6"] is not None,
            "convergence": values,
            "energy_dense_minus_stored_hartree": de,
        }
        rows.append(row)
        kp = " ".join(map(str, run.kpoints))
        cells = [_pair(m, k) for k in ("artifact", "model_vs_stored", "model_vs_dense")]
        it = row["iterations_to_1e-4"]
        if not row["dense_converged"]:
            it = f"{it} (dense run not converged: {values[-1]:.1e})"
        de_text = "-" if de is None else f"{de:+.2e}"
        print(
            f"| {run.name} | {kp} | {' | '.join(cells)} | {values[0]:.2g} | "
            f"{it} | {de_text} |"
        )
    summarise_rows(rows)
    if args.json:
        cmd = " ".join(sys.argv)
        with open(args.json, "w") as fh:
            json.dump({"command": cmd, "model": args.model, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
