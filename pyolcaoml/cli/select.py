"""olcaoml select: choose the candidate structures to run OLCAO on next."""

from __future__ import annotations

import argparse
import json
import os

HELP = "rank candidate structures for the next OLCAO runs (diverse batch)"
DESCRIPTION = """\
Rank candidate structures by the information they would add to MODEL's
training set and write the chosen ones as olcao.skl files for makeinput.

An atom's gain is its ensemble disagreement sigma (predicted RMS V(r)
error, mHa) times a novelty weight min(1, D / D_thr): D is its distance in
descriptor space to the nearest atom of the training set or of a candidate
already chosen, D_thr the model's calibrated novelty threshold. A
candidate's score is the sum over its atoms. Candidates are chosen one at
a time, each choice joining the reference set, so the batch is diverse:
a near-duplicate of a chosen structure scores ~0.

CANDIDATES: structure files (olcao.skl, structure.dat, anything ASE
reads), directories (every structure file inside; an OLCAO run directory
counts as its olcao.skl) and multi-frame trajectories (one candidate per
frame).

The loop:
  olcaoml select MODEL candidates/ -n 4 -o next/
  (makeinput + OLCAO in each next/NNN_name/, every atom its own type)
  olcaoml convert next/* --append -o data.h5
  olcaoml train data.h5 -o MODEL --ensemble 5 --force
  olcaoml select MODEL candidates/ -n 4 -o next2/
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model directory (an ensemble: train --ensemble M)")
    p.add_argument(
        "candidates", nargs="+", help="structure files, directories, trajectories"
    )
    p.add_argument(
        "-n",
        "--number",
        type=int,
        default=4,
        help="how many to choose (default 4)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write DIR/NNN_name/olcao.skl for each chosen structure",
    )
    p.add_argument("--force", action="store_true", help="replace existing olcao.skl")
    p.add_argument("--json", metavar="FILE", help="also write the ranking as JSON")
    p.add_argument(
        "--threads", type=int, default=None, help="OpenMP threads (default: all)"
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.select import (
        read_candidates,
        score_candidates,
        select_batch,
        write_chosen,
    )

    try:
        candidates = read_candidates(args.candidates)
        model = load_model(args.model)
        if model.n_members < 2:
            print(
                "note: single-network model: ranking by novelty in descriptor "
                "space only (train with --ensemble M for disagreement)"
            )
        scored = score_candidates(model, candidates, n_threads=args.threads)
        chosen = select_batch(model, scored, args.number)
        print(
            f"{len(candidates)} candidate(s); chosen {len(chosen)} (score: sum "
            "over atoms of sigma x novelty weight, mHa)"
        )
        print(f"{'rank':>4}  {'name':<30}{'atoms':>6}{'score':>10}{'med sig':>9}  why")
        for c in chosen:
            print(
                f"{c.rank:>4}  {c.name:<30}{c.n_atoms:>6}{c.score_mha:>10.3f}"
                f"{c.median_sigma_mha:>9.3f}  {c.reason}"
            )
        if args.output:
            paths = write_chosen(chosen, scored, args.output, force=args.force)
            where = os.path.abspath(args.output)
            print(f"wrote {len(paths)} olcao.skl file(s) under {where}")
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(c) for c in chosen], fh, indent=1)
    return 0
