#!/usr/bin/env python3
"""Predict every frame of a trajectory on SLURM nodes with dask-jobqueue.

Run it where you can call sbatch (a login node, or inside a small job),
with the same Python environment the compute nodes will use:

    pip install 'pyolcaoml[dask]' dask-jobqueue
    python slurm_predict.py MODEL melt-quench.extxyz predicted.h5

dask-jobqueue submits SLURM jobs that each start WORKERS_PER_JOB Dask
worker processes; this script's process holds the scheduler and writes the
output file. Adapt the queue, account, memory and prologue to your site
(docs/parallel.md explains the numbers).
"""

from __future__ import annotations

import sys

from dask_jobqueue import SLURMCluster
from distributed import Client

from pyolcaoml.cli import main

JOBS = 4  # SLURM jobs (one node each here)
WORKERS_PER_JOB = 32  # one single-threaded worker per core
GB_PER_WORKER = 1.5  # predict: TensorFlow + model ~0.7 GB, plus the structure


def run(model: str, inputs: list[str], output: str) -> int:
    cluster = SLURMCluster(
        queue="normal",  # your partition
        account="myproject",  # your allocation (or drop it)
        cores=WORKERS_PER_JOB,  # threads per job = workers x 1 thread
        processes=WORKERS_PER_JOB,  # worker processes per job
        memory=f"{GB_PER_WORKER * WORKERS_PER_JOB:.0f}GB",  # per job
        walltime="01:00:00",
        job_script_prologue=[
            "source $HOME/venvs/pyolcaoml/bin/activate",  # same env as here
            "export OMP_NUM_THREADS=1",
        ],
        local_directory="$TMPDIR",  # node-local scratch for spilling
        log_directory="dask-logs",
    )
    print(cluster.job_script())  # what sbatch receives
    cluster.scale(jobs=JOBS)
    with cluster, Client(cluster) as client:
        client.wait_for_workers(1)  # work starts with the first worker
        # the same command as on a laptop, pointed at this cluster's scheduler
        return main(
            [
                "predict",
                model,
                *inputs,
                "-o",
                output,
                "--scheduler",
                cluster.scheduler_address,
            ]
        )


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(run(sys.argv[1], sys.argv[2:-1], sys.argv[-1]))
