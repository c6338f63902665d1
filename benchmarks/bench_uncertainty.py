#!/usr/bin/env python3
"""Cost of the uncertainty: an ensemble of M networks vs one (not a test).

Replicas of the bundled 64-atom a-Si cell (12^3 -> 110,592 atoms). The
descriptors are computed once (they do not depend on M); then, minimum of
``--repeats`` runs each:

* M = 1: the first member alone (``predict``, no sigma);
* M: every member, the mean and each atom's sigma
  (``predict_uncertainty``: M forward passes + the Fortran moments);
* the applicability checks (descriptor distance to the training set,
  nearest neighbours), the same for any M.

Prints a Markdown table and the ratio (descriptors + ensemble) /
(descriptors + one network), the figure of issue 9 (target <= 2).

    python benchmarks/bench_uncertainty.py [--reps 12] [--model DIR]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_of  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=12, help="replicas per axis")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--model", help="an ensemble model (default: the bundled one)")
    args = p.parse_args()

    from pyolcaoml.model import load_model
    from pyolcaoml.model.report import assess
    from pyolcaoml.model.workflow import compute_descriptors, data_path
    from pyolcaoml.resources import bundled_structure
    from pyolcaoml.structure import Structure, read_structure

    model = load_model(args.model or data_path("default_model"))
    m = model.n_members
    if m < 2:
        raise SystemExit(f"{model.path} is a single network; give an ensemble")
    single = copy.copy(model)
    single.elements = {
        s: copy.copy(em) for s, em in model.elements.items()
    }  # member 1 alone
    for em in single.elements.values():
        em.members = []
    base = read_structure(str(bundled_structure("asi64_s102.skl")))
    s = Structure.from_ase(base.to_ase().repeat((args.reps,) * 3))
    symbols = list(s.symbols)
    n = len(s)
    model.predict_uncertainty(symbols[:64], compute_descriptors(model, base))  # warm
    single.predict(symbols[:64], compute_descriptors(model, base))

    t0 = time.perf_counter()
    x = compute_descriptors(model, s, n_threads=args.threads)
    t_desc = time.perf_counter() - t0
    t_one = best_of(lambda: single.predict(symbols, x), args.repeats)
    t_ens = best_of(lambda: model.predict_uncertainty(symbols, x), args.repeats)
    sigma = model.predict_uncertainty(symbols, x)[1]
    t_app = best_of(
        lambda: assess(model, s, x, sigma, n_threads=args.threads), args.repeats
    )
    print(f"model {model.path}: M = {m}, K = {model.n_features}; {n} atoms\n")
    print("| step | seconds | µs/atom |")
    print("|---|---|---|")
    for name, t in (
        ("descriptors (once)", t_desc),
        ("one network", t_one),
        (f"{m} networks + mean + sigma", t_ens),
        ("applicability flags (any M)", t_app),
    ):
        print(f"| {name} | {t:.3f} | {1e6 * t / n:.2f} |")
    print(
        f"\nnetworks alone: M = {m} / M = 1 = {t_ens / t_one:.2f}x\n"
        f"prediction (descriptors + networks): "
        f"{(t_desc + t_ens) / (t_desc + t_one):.3f}x  (target <= 2)\n"
        f"with the flags on both sides: "
        f"{(t_desc + t_ens + t_app) / (t_desc + t_one + t_app):.3f}x"
    )


if __name__ == "__main__":
    main()
