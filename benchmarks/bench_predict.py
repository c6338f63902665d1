#!/usr/bin/env python3
"""Speed of ``olcaoml predict`` with the bundled default model (not a test).

Replicas of the bundled 64-atom a-Si cell (data/structures/asi64_s102.skl)
up to ~100,000 atoms; for each size: the descriptors (Fortran, OpenMP),
the network (one batched Keras forward pass per element) and building +
formatting the scfV.dat text. Prints a Markdown table.

    python benchmarks/bench_predict.py [--reps 4 8 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--reps",
        type=int,
        nargs="+",
        default=[2, 6, 12],
        help="replicas per axis of the 64-atom cell (12 -> 110,592 atoms)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OpenMP threads for the descriptors (default: all)",
    )
    p.add_argument("--model", help="model directory (default: the bundled one)")
    args = p.parse_args()

    from pyolcaoml.model import load_model
    from pyolcaoml.model.workflow import (
        compute_descriptors,
        data_path,
        scfv_for_atoms,
    )
    from pyolcaoml.olcao import format_scfv
    from pyolcaoml.resources import bundled_structure
    from pyolcaoml.structure import Structure, read_structure

    t0 = time.perf_counter()
    model = load_model(args.model or data_path("default_model"))
    t_load = time.perf_counter() - t0
    base = read_structure(str(bundled_structure("asi64_s102.skl")))
    print(
        f"model {model.path} (loaded in {t_load:.2f} s), descriptor "
        f"{model.descriptor.get('type')} K={model.n_features}; "
        f"threads {args.threads or os.environ.get('OMP_NUM_THREADS', 'all')}\n"
    )
    print("| atoms | descriptors s | network s | scfV text s | total s | µs/atom |")
    print("|---|---|---|---|---|---|")
    model.predict(["Si"], compute_descriptors(model, base)[:1])  # warm-up
    for r in args.reps:
        s = Structure.from_ase(base.to_ase().repeat((r, r, r)))
        t0 = time.perf_counter()
        x = compute_descriptors(model, s, n_threads=args.threads)
        t1 = time.perf_counter()
        coeffs = model.predict(list(s.symbols), x)
        t2 = time.perf_counter()
        text = format_scfv(scfv_for_atoms(model, list(s.symbols), coeffs))
        t3 = time.perf_counter()
        del text
        n = len(s)
        print(
            f"| {n} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | "
            f"{t3 - t0:.2f} | {1e6 * (t3 - t0) / n:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
