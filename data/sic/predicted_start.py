#!/usr/bin/env python3
"""OLCAO from the predicted start on held-out SiC runs (one run at a time).

Usage (OLCAO built, ``source /root/olcao-work/olcao-env.sh`` first)::

    OMP_NUM_THREADS=1 nice -n 5 python data/sic/predicted_start.py \\
        [--model data/default_model] NAME [NAME ...]

For each stored run NAME below data/sic/runs (made from OLCAO's default
start by make_sic_runs.py):

1. copy its inputs/ (the exact makeinput output) to a scratch run directory
   and write inputs/scfV.dat with ``olcaoml predict MODEL RUN_DIR --force``
   (for a run whose exponents differ from the model's, the prediction is
   projected onto them and the projection error is printed);
2. ``run_olcao.py WORK OUT --skip-makeinput-from RUN --initpot scfV.dat``
   with the same k-points and convergence (1e-6) as the stored run;
3. print iterations to 1e-4 and to 1e-6 and the total energy from both
   starts. The curated runs go to data/sic/predicted_start/NAME/.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNS = os.path.join(HERE, "runs")
OUT = os.path.join(HERE, "predicted_start")
WORKROOT = os.environ.get("SIC_WORKROOT", "/root/olcao-work/sic-work")
RUN_OLCAO = os.environ.get("RUN_OLCAO", "/work/shared/tools/olcao/run_olcao.py")


def find_run(name: str, runs: str = RUNS) -> str:
    hits = glob.glob(os.path.join(runs, "*", name))
    if len(hits) != 1:
        raise SystemExit(f"{name}: expected one run below {runs}, found {hits}")
    return hits[0]


def one(name: str, model: str, out_root: str = OUT, runs: str = RUNS) -> dict:
    run = find_run(name, runs)
    meta0 = json.load(open(os.path.join(run, "meta.json")))
    pred_dir = os.path.join(WORKROOT, "pred", name)
    work = os.path.join(WORKROOT, "pwork", name)
    out = os.path.join(out_root, name)
    for d in (pred_dir, work):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(work)
    shutil.copytree(os.path.join(run, "inputs"), os.path.join(pred_dir, "inputs"))
    shutil.copy(os.path.join(run, "olcao.skl"), pred_dir)
    shutil.copy(os.path.join(run, "olcao.skl"), work)
    r = subprocess.run(
        [sys.executable, "-m", "pyolcaoml", "predict", model, pred_dir, "--force"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    print(r.stdout.strip(), r.stderr.strip()[-2000:])
    if r.returncode:
        raise SystemExit(f"{name}: predict failed")
    initpot = os.path.join(pred_dir, "inputs", "scfV.dat")
    os.makedirs(out, exist_ok=True)
    shutil.copy(initpot, os.path.join(out, "predicted_scfV.dat"))
    extra = os.path.join(work, "extra_meta.json")
    with open(extra, "w") as fh:
        json.dump(
            {
                "name": name,
                "reference_run": os.path.relpath(run, ROOT),
                "model": os.path.relpath(os.path.abspath(model), ROOT),
                "predict_output": r.stdout.strip(),
                "made_by": "data/sic/predicted_start.py",
            },
            fh,
            indent=1,
        )
    kp = [str(k) for k in meta0["kpoints"]]
    cmd = [
        sys.executable, RUN_OLCAO, work, out, "--kp", *kp,
        "--skip-makeinput-from", run, "--initpot", initpot, "--meta", extra,
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout.strip(), r.stderr.strip()[-1000:])
    shutil.rmtree(work, ignore_errors=True)
    meta1 = json.load(open(os.path.join(out, "meta.json")))
    row = {
        "name": name,
        "default_1e-4": meta0["iterations_to_1e-4"],
        "default_final": meta0["iterations_to_final"],
        "default_E": meta0["total_energy_Ha"],
        "pred_1e-4": meta1["iterations_to_1e-4"],
        "pred_final": meta1["iterations_to_final"],
        "pred_E": meta1["total_energy_Ha"],
    }
    if row["default_E"] is not None and row["pred_E"] is not None:
        row["dE_Ha"] = row["pred_E"] - row["default_E"]
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+")
    p.add_argument("--model", default=os.path.join(ROOT, "data", "default_model"))
    p.add_argument(
        "--out",
        default=OUT,
        help="where the curated runs go (default data/sic/predicted_start)",
    )
    p.add_argument(
        "--runs",
        default=RUNS,
        help="where the default-start runs are (default data/sic/runs; "
        "data/sic/test_runs for the fresh test cells)",
    )
    args = p.parse_args()
    rows = [one(n, args.model, args.out, args.runs) for n in args.names]
    print("| run | 1e-4 default | 1e-4 predicted | 1e-6 default | 1e-6 predicted "
          "| E default (Ha) | ΔE (Ha) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['default_1e-4']} | {r['pred_1e-4']} | "
            f"{r['default_final']} | {r['pred_final']} | {r['default_E']} | "
            f"{r.get('dE_Ha', float('nan')):.1e} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
