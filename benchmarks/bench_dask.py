#!/usr/bin/env python3
"""Throughput of many structures on Dask: 1 worker against 2 (not a test).

N 64-atom a-Si cells (one random a-Si cell, benchmarks/structures.py, with
every atom displaced at random by ~0.05 Å anew for each cell), descriptors
of each (twojmax 8, one OpenMP thread) through the same path as
``olcaoml bispectrum IN... -o B.h5 --workers W`` (pyolcaoml.parallel and the
per-item function of pyolcaoml.cli.many), written in input order into one
HDF5 file (the command's writer):

- serial: the loop in this process (the default, no Dask);
- LocalCluster of 1 and of 2 worker processes, one thread each, timed in
  turns (serial, 1, 2, serial, 1, 2, ...) so that load from elsewhere hits
  all alike; the minimum of the repeats is reported and the ratio is taken
  in this run. Each timing has only its own cluster alive (started and
  warmed before the clock, closed after it), as a command has;
- worker utilisation: seconds the workers spent in our tasks (Dask's task
  stream) over wall time x workers, from separate runs (the task stream
  costs the scheduler time per task, so it is kept out of the timed runs).
  The rest is idle time: the overhead per item the workers see
  (scheduling, transfers, the client taking results);
- CPU seconds of all our processes (this one, which holds the client and
  the LocalCluster's scheduler, and the workers): what Dask costs per item
  whatever else the machine is running, unlike wall time;
- no-op items (scheduling and transfer alone), grouped into tasks as the
  executor does, and one task per item;
- what the two cores allow without Dask or a writer: the plain loop in one
  process against two processes taking half the items each, started
  together (spawned and warmed before the clock).

Cluster start-up is timed separately (it is paid once per command).

    python benchmarks/bench_dask.py [--n 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def noop(item: object) -> int:
    return 0


def timed(executor, func, items) -> float:
    """Seconds to map ``func`` over ``items`` and take the results in order."""
    t0 = time.perf_counter()
    n = sum(1 for _ in executor.map(func, items))
    assert n == len(items)
    return time.perf_counter() - t0


def timed_h5(executor, calc, items, path: str) -> float:
    """Seconds of the command's path: descriptors into one new HDF5 file.

    The file is removed after the clock stops: replacing the previous
    repeat's 28 MB file made the kernel free its pages inside the timed
    rename (~25 ms), a cost of the benchmark's repeats, not of the work."""
    from pyolcaoml.cli.many import write_descriptors

    t0 = time.perf_counter()
    summary = write_descriptors(
        items, calc.to_dict(), calc.labels, path, executor, n_threads=1
    )
    seconds = time.perf_counter() - t0
    assert summary.written == len(items)
    os.unlink(path)
    return seconds


def _compute_part(func, items, ready, go, queue) -> None:
    for item in items[:5]:  # warm: first calls, imports
        func(item)
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    for item in items:
        func(item)
    queue.put(time.perf_counter() - t0)


def hardware_scaling(func, items) -> tuple[float, float]:
    """Seconds to compute ``items`` (no Dask, no writer) in one process, and
    in two processes taking half each and started together (the slower of
    the two): what the two cores allow before any Dask or writer cost.
    The processes are spawned and warmed before the clock starts."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")

    def run(parts) -> float:
        queue = ctx.Queue()
        go = ctx.Event()
        readies = [ctx.Event() for _ in parts]
        procs = [
            ctx.Process(target=_compute_part, args=(func, part, r, go, queue))
            for part, r in zip(parts, readies, strict=True)
        ]
        for p in procs:
            p.start()
        for r in readies:
            r.wait()
        go.set()
        seconds = max(queue.get() for _ in procs)
        for p in procs:
            p.join()
        return seconds

    half = len(items) // 2
    return run([items]), run([items[:half], items[half:]])


def compute_seconds(task_stream) -> float:
    """Seconds spent computing tasks, from a distributed task stream."""
    return sum(
        s["stop"] - s["start"]
        for task in task_stream.data
        for s in task["startstops"]
        if s["action"] == "compute"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="structures (default 1000)")
    p.add_argument("--atoms", type=int, default=64, help="atoms per structure")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--twojmax", type=int, default=8)
    args = p.parse_args()

    import distributed
    import numpy as np
    from structures import random_asi

    from pyolcaoml import parallel
    from pyolcaoml.bispectrum import Bispectrum
    from pyolcaoml.cli.many import Item, descriptors_of_item
    from pyolcaoml.parallel import DaskExecutor, SerialExecutor
    from pyolcaoml.structure import Structure

    n = args.n
    base = random_asi(args.atoms, seed=0)
    rng = np.random.default_rng(1)
    items = []
    for i in range(n):
        atoms = base.copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        s = Structure.from_ase(atoms)
        items.append(Item(f"asi{i}", f"asi{i}", "random", structure=s))
    calc = Bispectrum(twojmax=args.twojmax)
    settings = json.dumps(calc.to_dict(), sort_keys=True)
    func = partial(descriptors_of_item, settings, 1)
    h5 = os.path.join(tempfile.mkdtemp(), "B.h5")

    startup: dict = {}  # seconds to start each cluster size, first start

    @contextlib.contextmanager
    def warm_cluster(w: int):
        """A LocalCluster of w workers, warmed (imports on the workers), and
        closed afterwards: only the cluster being timed is alive. An idle
        LocalCluster costs ~4 % of a core (heartbeats, the nanny's
        monitor); kept alive beside the timed one, it took that from the
        2-worker run, which has no spare core, and not from the 1-worker
        run, which has one: the ratio was biased against 2 workers."""
        t0 = time.perf_counter()
        client = parallel.local_client(w, 1)  # as --workers W starts it
        startup.setdefault(w, time.perf_counter() - t0)
        try:
            executor = DaskExecutor(client)
            timed(executor, func, items[:50])
            yield client, executor
        finally:
            client.close()
            client.cluster.close()

    serial = SerialExecutor()
    t: dict = {"serial": [], 1: [], 2: []}
    cpu: dict = {"serial": [], 1: [], 2: []}  # CPU seconds, all our processes
    for _ in range(args.repeats):
        c0 = time.process_time()
        t["serial"].append(timed_h5(serial, calc, items, h5))
        cpu["serial"].append(time.process_time() - c0)
        for w in (1, 2):
            with warm_cluster(w) as (client, executor):
                w0 = sum(client.run(time.process_time).values())
                c0 = time.process_time()  # this process: client and scheduler
                t[w].append(timed_h5(executor, calc, items, h5))
                c1 = time.process_time()
                w1 = sum(client.run(time.process_time).values())
            cpu[w].append(c1 - c0 + w1 - w0)
    best = {k: min(v) for k, v in t.items()}
    scaling = [hardware_scaling(func, items) for _ in range(min(args.repeats, 3))]
    plain_one = min(one for one, _ in scaling)
    plain_two = min(two for _, two in scaling)
    # Utilisation from separate runs: Dask's task stream (a scheduler
    # plugin) costs the scheduler time per task, so it stays off the clock.
    util, idle = {}, {}
    for w in (1, 2):
        runs = []
        with warm_cluster(w) as (client, executor):
            for _ in range(args.repeats):
                with distributed.get_task_stream(client) as ts:
                    wall = timed_h5(executor, calc, items, h5)
                runs.append((wall, compute_seconds(ts)))
        wall, busy = min(runs)
        util[w] = busy / (wall * w)
        idle[w] = (wall * w - busy) / n

    with warm_cluster(2) as (_, executor):
        noop_batched = min(timed(executor, noop, items) for _ in range(args.repeats))
        max_batch = parallel.MAX_BATCH
        parallel.MAX_BATCH = 1  # one item per task: Dask's own cost per task
        try:
            noop_single = min(timed(executor, noop, items) for _ in range(args.repeats))
        finally:
            parallel.MAX_BATCH = max_batch

    print()
    print(
        f"{n} structures of {args.atoms} atoms, twojmax {args.twojmax}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"min of {args.repeats}"
    )
    print()
    print(
        "| run | seconds | structures/s | ms/structure | worker utilisation "
        "| CPU ms/structure |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for k, label in (
        ("serial", "serial (this process)"),
        (1, "Dask, 1 worker"),
        (2, "Dask, 2 workers"),
    ):
        sec = best[k]
        u = f"{util[k] * 100:.0f} %" if k in util else ""
        c = min(cpu[k]) / n * 1e3
        print(
            f"| {label} | {sec:.2f} | {n / sec:.0f} | {sec / n * 1e3:.2f} | {u} "
            f"| {c:.2f} |"
        )
    print()
    print(
        f"| plain loop, no writer, 1 process | {plain_one:.2f} | "
        f"{n / plain_one:.0f} | {plain_one / n * 1e3:.2f} | | |"
    )
    print(
        f"| plain loop, 2 processes (half each) | {plain_two:.2f} | "
        f"{n / plain_two:.0f} | {plain_two / n * 1e3:.2f} | | |"
    )
    print()
    print(f"throughput 2 workers / 1 worker: {best[1] / best[2]:.2f}x")
    print(f"what the 2 cores allow, no Dask, no writer: {plain_one / plain_two:.2f}x")
    print(f"throughput 2 workers / serial:   {best['serial'] / best[2]:.2f}x")
    print(
        "overhead per item, Dask 1 worker - serial (wall): "
        f"{(best[1] - best['serial']) / n * 1e3:.3f} ms"
    )
    print(
        "CPU overhead per item (client + scheduler + workers - serial): "
        f"1 worker {(min(cpu[1]) - min(cpu['serial'])) / n * 1e3:.3f} ms, "
        f"2 workers {(min(cpu[2]) - min(cpu['serial'])) / n * 1e3:.3f} ms"
    )
    print(
        f"worker idle time per item: 1 worker {idle[1] * 1e3:.3f} ms, "
        f"2 workers {idle[2] * 1e3:.3f} ms"
    )
    print(
        "no-op items on 2 workers, grouped into tasks: "
        f"{noop_batched / n * 1e3:.3f} ms/item"
    )
    print(
        "no-op items on 2 workers, one task each:      "
        f"{noop_single / n * 1e3:.3f} ms/item"
    )
    print(
        f"LocalCluster start-up: 1 worker {startup[1]:.1f} s, "
        f"2 workers {startup[2]:.1f} s"
    )
    os.rmdir(os.path.dirname(h5))


if __name__ == "__main__":
    main()
