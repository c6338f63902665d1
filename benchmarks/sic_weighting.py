#!/usr/bin/env python3
"""How to tell Si from C in the neighbour density: a measured comparison.

Usage (from the repository root)::

    nice -n 5 python benchmarks/sic_weighting.py [--runs data/sic/runs]
        [--holdout NAME ...] [--no-network] [--epochs 1000]

For every descriptor variant below (all: SO(4) bispectrum, 2J_max 8,
cutoff scales 0.75, 1.0, 1.5, Si radius 2.35 Å as in the bundled model),
the SiC runs' descriptors are recomputed and two models are judged per
element, in the V(r) metric of docs/model.md (RMS over 0.05-6 Bohr,
r^2-weighted, Hartree):

* ridge, leave-one-structure-out over all runs except the held-out ones
  (reported for all, for 8-atom near-crystalline cells and for the defect /
  disordered cells), beside the average atom of the other runs;
* the network (pyolcaoml.model.train_model, seed 0) trained on the same
  runs and tested on the held-out runs (never seen).

Variants (R = LAMMPS radius, w = neighbour weight of C; Si: R 2.35, w 1):

* ``same``: R_C 2.35, w_C 1 -- the density cannot tell C from Si;
* ``covalent``: R_C = 2.35 x 0.76/1.11 = 1.609 Å (ratio of the covalent
  radii of C and Si, Cordero et al. 2008), w_C 1;
* ``covalent+Z``: as covalent, w_C = 6/14 (nuclear charge);
* ``covalent+chi``: as covalent, w_C = 2.55/1.90 (Pauling electronegativity);
* ``covalent+sign``: as covalent, w_C = -1 (the density of Si minus C);
* ``chem``: as covalent, with the explicit multi-element bispectrum
  (K x 2^3 components per scale);

The valence (4 for both) gives the same weights as ``covalent``.
``--si-runs DIR`` adds the decisive test: ridge for Si trained on Si + SiC
together, on held-out pure-Si runs.  Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
R_SI = 2.35
R_C_COV = round(R_SI * 0.76 / 1.11, 3)  # 1.609 Å
HOLDOUT = [
    "sic8_r0.10_seed10011",
    "sic8_s1.03",
    "sic16_vacC_r0.05_seed10101",
    "sic16_Sii_r0.05_seed10104",
    "sic8_r0.25_seed10201",
    "sic16_mq_seed10301",
]


#: data/make_default_model.py's held-out pure-Si runs
SI_HOLDOUT = [
    "si16_int_T_r0.05_seed3117",
    "si8_r0.15_seed1153",
    "si8_r0.10_seed1101",
    "si8_r0.06_seed1062",
    "si8_s1.04",
]


def variants() -> dict[str, dict]:
    base = {"twojmax": 8, "scales": [0.75, 1.0, 1.5]}
    cov = {"Si": R_SI, "C": R_C_COV}
    return {
        "same": dict(base, radii={"Si": R_SI, "C": R_SI}),
        "covalent": dict(base, radii=cov),
        "covalent+Z": dict(base, radii=cov, weights={"Si": 1.0, "C": 6 / 14}),
        "covalent+chi": dict(base, radii=cov, weights={"Si": 1.0, "C": 2.55 / 1.90}),
        "covalent+sign": dict(base, radii=cov, weights={"Si": 1.0, "C": -1.0}),
        "chem": dict(base, radii=cov, chem=True),
    }


def make_descriptor(v: dict):
    from pyolcaoml.bispectrum import MultiScaleBispectrum

    kw = {k: v[k] for k in v if k != "scales"}
    return MultiScaleBispectrum(scales=v["scales"], **kw)


def ridge_loso(x, y, groups, gram, alphas, metric):
    """Per-atom squared V(r) errors of leave-one-structure-out ridge and of
    the average atom of the other structures."""
    from pyolcaoml.model.baselines import fit_ridge

    err2 = np.empty(len(x))
    avg2 = np.empty(len(x))
    for g in np.unique(groups):
        te = groups == g
        r = fit_ridge(x[~te], y[~te], groups[~te], gram)
        err2[te] = metric.rms_per_atom(r.predict(x[te]), y[te], alphas) ** 2
        mean = np.tile(y[~te].mean(axis=0), (te.sum(), 1))
        avg2[te] = metric.rms_per_atom(mean, y[te], alphas) ** 2
    return err2, avg2


def mixed_si(si_runs, sic_runs, holdout_si, holdout_sic, variant_names):
    """Ridge for Si trained on Si + SiC runs vs on pure-Si runs only, tested
    on held-out pure-Si runs and on the Si atoms of held-out SiC runs."""
    from pyolcaoml.cli import main as olcaoml
    from pyolcaoml.model import DEFAULT_METRIC, load_dataset
    from pyolcaoml.model.baselines import fit_ridge
    from pyolcaoml.model.workflow import dataset_descriptors

    h5 = os.path.join(tempfile.mkdtemp(prefix="sic-mixed-"), "mixed.h5")
    rc = olcaoml(
        ["convert", si_runs, *sic_runs, "-o", h5, "--quiet", "--twojmax", "2",
         "--radius", "Si=2.35", "--radius", f"C={R_C_COV}"]
    )  # fmt: skip
    if rc:
        raise SystemExit(rc)
    ds = load_dataset(h5)
    names = np.array(ds.names)
    ed = ds.elements["Si"]
    g = ds.structure_index[ed.atom_index]
    gram = DEFAULT_METRIC.gram(ed.alphas)
    pure = np.array([not n.startswith("sic") for n in names[g]])
    hs, hc = np.isin(names[g], holdout_si), np.isin(names[g], holdout_sic)
    train = ~(hs | hc)
    print("\n| descriptor | training | pure-Si held out | Si in held-out SiC "
          "| strength |\n|---|---|---|---|---|")  # fmt: skip
    for name in variant_names:
        x = dataset_descriptors(ds, make_descriptor(variants()[name]).to_dict())
        x = x[ed.atom_index]
        for label, m in (("Si + SiC", train), ("pure Si only", train & pure)):
            r = fit_ridge(x[m], ed.coeffs[m], g[m], gram)
            e = [
                1000 * DEFAULT_METRIC.rms(r.predict(x[h]), ed.coeffs[h], ed.alphas)
                for h in (hs, hc)
            ]
            print(f"| {name} | {label} | {e[0]:.2f} | {e[1]:.2f} | {r.strength:g} |")


def sic_trees(runs: str) -> list[str]:
    """The run families below ``runs`` with the model's exponents."""
    return [
        os.path.join(runs, d)
        for d in sorted(os.listdir(runs))
        if os.path.isdir(os.path.join(runs, d)) and d != "c_default_exponents"
    ]


def crystal_like(name: str) -> bool:
    """8-atom strained/rattled cells (rattle < 0.25 Å)."""
    return name.startswith("sic8") and "r0.25" not in name


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default=os.path.join(ROOT, "data", "sic", "runs"))
    p.add_argument("--holdout", nargs="+", default=HOLDOUT)
    p.add_argument("--only", nargs="+", default=None, help="variant names")
    p.add_argument("--no-network", action="store_true")
    p.add_argument(
        "--si-runs",
        default=None,
        help="also test Si + SiC training against pure-Si held-out runs "
        "(e.g. ../shared/olcao-runs)",
    )
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--patience", type=int, default=100)
    args = p.parse_args(argv)

    from pyolcaoml.cli import main as olcaoml
    from pyolcaoml.model import DEFAULT_METRIC, TrainConfig, load_dataset
    from pyolcaoml.model.workflow import dataset_descriptors

    tmp = tempfile.mkdtemp(prefix="sic-weighting-")
    h5 = os.path.join(tmp, "sic.h5")
    trees = sic_trees(args.runs)
    rc = olcaoml(
        ["convert", *trees, "-o", h5, "--quiet", "--twojmax", "2",
         "--radius", "Si=2.35", "--radius", f"C={R_C_COV}"]
    )  # fmt: skip
    if rc:
        return rc
    ds = load_dataset(h5)
    hold = [n for n in args.holdout if n in ds.names]
    rest = [n for n in ds.names if n not in hold]
    print(f"{len(ds.names)} runs: {len(rest)} for training/CV, held out: {hold}")
    rows = []
    for name, v in variants().items():
        if args.only and name not in args.only:
            continue
        desc = make_descriptor(v)
        t0 = time.perf_counter()
        x_all = dataset_descriptors(ds, desc.to_dict())
        row = {"variant": name, "K": x_all.shape[1]}
        rest_ids = ds.structure_ids(rest)
        for el, ed in sorted(ds.elements.items()):
            r = ds.element_rows(el, rest_ids)
            x = x_all[ed.atom_index[r]]
            y = ed.coeffs[r]
            g = ds.structure_index[ed.atom_index[r]]
            gram = DEFAULT_METRIC.gram(ed.alphas)
            e2, a2 = ridge_loso(x, y, g, gram, ed.alphas, DEFAULT_METRIC)
            crys = np.array([crystal_like(ds.names[i]) for i in g])
            for part, m in (("all", crys | ~crys), ("8at", crys), ("def", ~crys)):
                row[f"ridge_{part}_{el}"] = float(np.sqrt(e2[m].mean()))
                row[f"avg_{part}_{el}"] = float(np.sqrt(a2[m].mean()))
        if not args.no_network and hold:
            from pyolcaoml.model import train_model

            cfg = TrainConfig(
                holdout=tuple(hold),
                seed=0,
                l2=1e-3,
                max_epochs=args.epochs,
                patience=args.patience,
            )
            model = train_model(
                ds, cfg, descriptors=x_all, descriptor_settings=desc.to_dict()
            )
            for el in sorted(ds.elements):
                m = model.metrics[el].get("holdout", {})
                for meth in ("network", "ridge", "isolated", "average"):
                    if meth in m:
                        row[f"{meth}_hold_{el}"] = m[meth]["rms_v_hartree"]
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(name, {k: (round(v, 5) if isinstance(v, float) else v)
                     for k, v in row.items()}, flush=True)  # fmt: skip
    els = sorted(ds.elements)
    cols = ["variant", "K"]
    for el in els:
        for part in ("all", "8at", "def"):
            cols += [f"avg_{part}_{el}", f"ridge_{part}_{el}"]
    if not args.no_network:
        for el in els:
            cols += [f"ridge_hold_{el}", f"network_hold_{el}"]
    print()
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        cells = []
        for c in cols:
            v = row.get(c, "")
            cells.append(f"{1000 * v:.2f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")
    print("(errors in mHa, RMS V(r) over 0.05-6 Bohr, r^2-weighted)")
    if args.si_runs:
        mixed_si(args.si_runs, trees, SI_HOLDOUT, args.holdout,
                 ["covalent", "covalent+Z", "chem"])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
