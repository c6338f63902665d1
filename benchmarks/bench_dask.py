#!/usr/bin/env python3
"""Throughput of many structures on Dask: 1 worker against 2 (not a test).

N random 64-atom a-Si cells (benchmarks/structures.py), descriptors of each
(twojmax 8, one OpenMP thread) through the same path as
``olcaoml bispectrum IN... -o B.h5 --workers W`` (pyolcaoml.parallel and the
per-item function of pyolcaoml.cli.many), results gathered in input order:

- serial: the loop in this process (the default, no Dask);
- LocalCluster of 1 and of 2 worker processes, one thread each, timed in
  turns (1, 2, 1, 2, ...) so that load from elsewhere hits both alike; the
  minimum of the repeats is reported and the ratio is taken in this run;
- the overhead per item: Dask with 1 worker minus serial, per item; and
  no-op items (scheduling + transfer only), with and without grouping items
  into tasks.

Cluster start-up is timed separately (it is paid once per command).

    python benchmarks/bench_dask.py [--n 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def noop(item: object) -> int:
    return 0


def timed(executor, func, items) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in executor.map(func, items))
    assert n == len(items)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="structures (default 1000)")
    p.add_argument("--atoms", type=int, default=64, help="atoms per structure")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--twojmax", type=int, default=8)
    args = p.parse_args()

    import distributed
    from structures import random_asi

    from pyolcaoml import parallel
    from pyolcaoml.bispectrum import Bispectrum
    from pyolcaoml.cli.many import Item, descriptors_of_item
    from pyolcaoml.parallel import DaskExecutor, SerialExecutor
    from pyolcaoml.structure import Structure

    t0 = time.perf_counter()
    items = [
        Item(f"asi{i}", f"asi{i}", "random", structure=Structure.from_ase(a))
        for i, a in enumerate(random_asi(args.atoms, seed=s) for s in range(args.n))
    ]
    print(
        f"{args.n} structures of {args.atoms} atoms in {time.perf_counter() - t0:.1f} s"
    )
    settings = json.dumps(Bispectrum(twojmax=args.twojmax).to_dict(), sort_keys=True)
    func = partial(descriptors_of_item, settings, 1)

    clusters, executors, startup = {}, {}, {}
    for w in (1, 2):
        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=w,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"OMP_NUM_THREADS": "1"},
        )
        client = distributed.Client(cluster)
        startup[w] = time.perf_counter() - t0
        clusters[w] = (cluster, client)
        executors[w] = DaskExecutor(client)
        timed(executors[w], func, items[:50])  # warm: imports on the workers

    serial = SerialExecutor()
    t = {"serial": [], 1: [], 2: []}
    for _ in range(args.repeats):
        t["serial"].append(timed(serial, func, items))
        for w in (1, 2):
            t[w].append(timed(executors[w], func, items))
    best = {k: min(v) for k, v in t.items()}

    noop_batched = min(timed(executors[2], noop, items) for _ in range(args.repeats))
    max_batch = parallel.MAX_BATCH
    parallel.MAX_BATCH = 1  # one item per task: Dask's own cost per task
    try:
        noop_single = min(timed(executors[2], noop, items) for _ in range(args.repeats))
    finally:
        parallel.MAX_BATCH = max_batch

    n = args.n
    print()
    print(
        f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
        f"min of {args.repeats}"
    )
    print()
    print("| run | seconds | structures/s | ms/structure |")
    print("|---|---:|---:|---:|")
    for k, label in (
        ("serial", "serial (this process)"),
        (1, "Dask, 1 worker"),
        (2, "Dask, 2 workers"),
    ):
        sec = best[k]
        print(f"| {label} | {sec:.2f} | {n / sec:.0f} | {sec / n * 1e3:.2f} |")
    print()
    print(f"throughput 2 workers / 1 worker: {best[1] / best[2]:.2f}x")
    print(f"throughput 2 workers / serial:   {best['serial'] / best[2]:.2f}x")
    print(
        f"overhead per item, Dask 1 worker - serial: "
        f"{(best[1] - best['serial']) / n * 1e3:.3f} ms"
    )
    print(
        f"no-op items on 2 workers, grouped into tasks: "
        f"{noop_batched / n * 1e3:.3f} ms/item"
    )
    print(
        f"no-op items on 2 workers, one task each:      "
        f"{noop_single / n * 1e3:.3f} ms/item"
    )
    print(
        f"LocalCluster start-up: 1 worker {startup[1]:.1f} s, "
        f"2 workers {startup[2]:.1f} s"
    )
    for cluster, client in clusters.values():
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
