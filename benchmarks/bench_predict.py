#!/usr/bin/env python3
"""Speed and peak memory of ``olcaoml predict`` next to ``olcaoml bispectrum``
on the same structure (not a test).

Replicas of the bundled 64-atom a-Si cell (data/structures/asi64_s102.skl),
written to an extended-XYZ file, up to ~100,000 atoms. For each size, two
fresh processes run the real commands:

- ``olcaoml bispectrum FILE`` with the model's descriptor settings (read the
  structure, compute and summarise the descriptors);
- ``olcaoml predict FILE -o scfV.dat`` with the bundled model (read, check,
  descriptors, network, scfV.dat text and file).

Times are wall seconds of the command (``main()``); the model's loading is
included. predict runs the networks from the model's arrays
(networks.npz), as the command does, so neither TensorFlow nor Keras is
imported: the child reports whether either was, and the benchmark stops if
so. Peak memory is the process's maximum resident set size
(``ru_maxrss``). The target of issue 10 is
predict / bispectrum <= 1.5 at 10^5 atoms. Prints a Markdown table; numbers
are minima over --repeats runs.

    python benchmarks/bench_predict.py [--reps 4 8 12] [--threads 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import contextlib, io, json, resource, sys, time
mode, path, out, threads = sys.argv[1:5]
from pyolcaoml.cli import main
argv = json.loads(sys.argv[5])
if threads != "0":
    argv += ["--threads", threads]
buf = io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stdout(buf):
    rc = main(argv)
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print(json.dumps({"rc": rc, "seconds": seconds, "peak_mb": peak_mb,
                  "stdout": buf.getvalue(), "imported": heavy}))
"""


def descriptor_args(d: dict) -> list[str]:
    """olcaoml bispectrum options for a descriptor's to_dict() (a
    bispectrum, a multi-scale one, or either followed by a neighbour mean)."""
    if d.get("type") == "neighbour_mean":
        args = descriptor_args(d["inner"])
        args += ["--neighbour-mean", f"{d['r_inner']!r},{d['r_outer']!r}"]
        for pair, (r_in, r_out) in (d.get("pairs") or {}).items():
            args += ["--neighbour-mean-pair", f"{pair}={r_in!r},{r_out!r}"]
        return [*args, "--neighbour-hops", str(d.get("hops", 1))]
    args = ["--twojmax", str(d["twojmax"]), "--rcutfac", repr(d["rcutfac"])]
    args += ["--rfac0", repr(d["rfac0"]), "--rmin0", repr(d["rmin0"])]
    for el, r in d["radii"].items():
        args += ["--radius", f"{el}={r!r}"]
    for el, w in d.get("weights", {}).items():
        args += ["--weight", f"{el}={w!r}"]
    for flag in ("bzero", "bnorm", "chem"):
        if d.get(flag):
            args.append(f"--{flag}")
    if not d.get("switch", True):
        args.append("--no-switch")
    if d.get("scales"):
        args += ["--scales", ",".join(repr(s) for s in d["scales"])]
    return args


def child(mode: str, path: str, out: str, threads: int, argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, path, out, str(threads), json.dumps(argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(f"{mode} failed:\n{done.stdout}\n{done.stderr}")
    if result["rc"] != 0:
        sys.exit(f"{mode} returned {result['rc']}:\n{done.stderr}")
    if result["imported"]:
        sys.exit(f"{mode} imported {', '.join(result['imported'])}")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--reps",
        type=int,
        nargs="+",
        default=[4, 8, 12],
        help="replicas per axis of the 64-atom cell (12 -> 110,592 atoms)",
    )
    p.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: all)")
    p.add_argument("--repeats", type=int, default=2, help="runs per size (min)")
    args = p.parse_args()

    from pyolcaoml.model import load_model
    from pyolcaoml.resources import bundled_structure
    from pyolcaoml.structure import read_structure

    model = load_model("default", networks=False)
    base = read_structure(str(bundled_structure("asi64_s102.skl"))).to_ase()
    desc = descriptor_args(model.descriptor)
    print(
        f"model {model.path}: {model.descriptor['type']} K={model.n_features}; "
        f"threads {args.threads or os.environ.get('OMP_NUM_THREADS', 'all')}; "
        f"min of {args.repeats} runs; no TensorFlow (networks.npz)\n"
    )
    print(
        "| atoms | bispectrum s | predict s | ratio | predict: descriptors s "
        "| network s (+load) | scfV.dat s | peak MB bispectrum | peak MB predict |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        for r in args.reps:
            atoms = base.repeat((r, r, r))
            path = os.path.join(tmp, f"asi_{len(atoms)}.extxyz")
            atoms.write(path)
            out = os.path.join(tmp, "scfV.dat")
            runs: dict[str, list[dict]] = {"bispectrum": [], "predict": []}
            for _ in range(args.repeats):
                runs["bispectrum"].append(
                    child("bispectrum", path, out, args.threads,
                          ["bispectrum", path, *desc])
                )  # fmt: skip
                runs["predict"].append(
                    child("predict", path, out, args.threads,
                          ["predict", path, "-o", out, "--force"])
                )  # fmt: skip
            b = min(runs["bispectrum"], key=lambda x: x["seconds"])
            q = min(runs["predict"], key=lambda x: x["seconds"])
            line = next(
                s for s in q["stdout"].splitlines() if s.startswith("predicted")
            )
            parts = line.split(": ", 1)[1]
            print(
                f"| {len(atoms)} | {b['seconds']:.2f} | {q['seconds']:.2f} | "
                f"{q['seconds'] / b['seconds']:.2f} | {_field(parts, 'descriptors')} "
                f"| {_field(parts, 'network')} {_load(parts)} "
                f"| {_field(parts, 'scfV.dat')} | {b['peak_mb']:.0f} "
                f"| {q['peak_mb']:.0f} |",
                flush=True,
            )


def _field(text: str, name: str) -> str:
    after = text.split(name + " ", 1)[1]
    return after.split(" s", 1)[0]


def _load(text: str) -> str:
    return "(" + text.split("(", 1)[1].split(" loading", 1)[0] + ")"


if __name__ == "__main__":
    main()
