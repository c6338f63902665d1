#!/usr/bin/env python3
"""Regenerate pyolcaoml's bundled default model and demo data.

Usage (from the repository root, with pyolcaoml installed or importable):

    python data/make_default_model.py                   # ../shared/olcao-runs
    python data/make_default_model.py --runs DIR --output-dir data

Steps, all with fixed settings so that the result is reproducible on CPU:

1. ``olcaoml convert RUNS data/runs data/runs_batch2.tar.xz
   data/runs_interstitial <spent test cells> data/runs_batch3.tar.xz -o
   <tmp>/si.h5`` (the 31 shared runs, the 121 made for issue 8: 4 in
   data/runs, 117 in the archive, unpacked to a temporary folder, 4
   interstitial cells of stop 27, the 71 spent fresh test cells listed in
   data/scf_test_runs/si_trained_on.txt (stop 32) and the 51 runs of
   batch3 (stop 33)) with the descriptor of
   the model (multi-scale SO(4) bispectrum, 2J_max 8, cutoff scales 0.75,
   1.0, 1.5 of R_ij = 2 x 2.35 Å, i.e. 3.53, 4.70 and 7.05 Å, followed by
   its mean over each atom's bonded neighbours, switched off 2.8-3.0 Å,
   repeated three times: three hops);
2. ``olcaoml train --ensemble 5 --hidden 64,64 --l2 1e-4`` with the held-out
   structures below, seeds 0..4 (five networks on bootstrap resamples of
   the other structures; the mean is the prediction, their calibrated
   spread the per-atom sigma);
3. copy each held-out demo structure's olcao.skl and converged
   gs_scfV-fb.dat (real OLCAO output) into <output-dir>/demo/ and write
   demo/manifest.json;
4. record the amorphous handover threshold in default_model/model.json
   (the default Si model only): the midpoint between the highest median
   sigma of the held-out structures (crystalline and point defect, never
   trained on) and the lowest of the a-Si cells of data/scf_test_runs
   (never trained on by the default model); pyolcaoml.model.handover.
   Only this step, for a default model made before stop 33:

       python data/make_default_model.py --handover-only
5. export the model for libolcaoml as default_model/model.oml (shipped, so
   that Fortran programs need no TensorFlow; tests/test_bundled_oml.py
   checks that it equals a fresh export).  Only this step, after the Keras
   model changed some other way:

       python data/make_default_model.py --export-only
       (the same as: python -m pyolcaoml.bundled_model)

Without ``--sic-runs`` this makes the Si model, data/default_model.
``--sic-runs data/sic/runs [--base-model data/sic_base_model]`` makes the
bundled Si + C model, data/sic_model ('sic'): the runs are converted with
the descriptor settings of SIC_DESCRIPTOR_ARGS below (the explicit chem
bispectrum, C radius 1.609 Å) and ``olcaoml train --extend
--extend-variant`` adds C to a Si model (given, or data/sic_base_model: the
Si model shipped before stop 26, without the neighbour mean; else one
trained first with that descriptor): its Si networks stay as they are for
Si atoms without a C neighbour, so pure-Si predictions are exactly that Si
model's (trained
jointly instead, pure Si got worse: docs/model.md, "Silicon carbide"), and
a new Si network (the variant) predicts the Si atoms with a C neighbour.
The SiC held-out list is added to the Si one, and the SiC demo case is
added to demo/manifest.json beside the Si one.

``--asi`` makes the bundled a-Si model, data/asi_model ('asi'): the Si
model's recipe with the 25 a-Si16 and four a-Si32 runs added (ASI_RUNS),
which ``olcaoml predict`` uses for the structures the default model hands
over (its median sigma above 6 mHa: pyolcaoml.model.handover). Its
libolcaoml export is not shipped (``olcaoml export asi asi.oml``).

``--sicam`` makes the bundled amorphous SiC model, data/sicam_model
('sicam', stop 36): the ``--sic-runs`` recipe (descriptor, base model,
variant, settings) trained on the amorphous SiC cells only (``*_rr*`` runs
of the SiC families and of the spent fresh sets, SICAM_TREES), with
SIC_HOLDOUT's amorphous cells held out. ``olcaoml predict`` uses it for the
structures with C that the sic model hands over: its median applicability
distance above the threshold it records. ``--sic-handover-only`` records
that threshold in sic_model/model.json: the midpoint between the highest
median distance of the rattled and point-defect cells of SIC_HANDOVER_TREES
that the sic model never trained on and the lowest of their amorphous
cells (pyolcaoml.model.handover). ``--sicam --sicam-b11`` is stop 37's
candidate A2: the eleventh batch (SIC_LATER_FAMILIES, which no other
recipe takes) and the thirteenth set's spent amorphous cells too, and a C
radius of 2.0 Å (docs/model.md, "Stop 37").

The a-Si run asi64_s102 (the target application) is trained on: it is the
only source of amorphous environments. The held-out structures are a
rattled interstitial defect cell (the demo case) and four rattled / strained
8-atom cells. ``--holdout asi64_s102`` trains the variant that never sees
a-Si (reported in docs/model.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

HOLDOUT = [
    "si16_int_T_r0.05_seed3117",
    "si8_r0.15_seed1153",
    "si8_r0.10_seed1101",
    "si8_r0.06_seed1062",
    "si8_s1.04",
]
DEMO_CASES = {
    "si16_int_T_r0.05_seed3117": (
        "17-atom Si cell with a tetrahedral interstitial, rattled 0.05 Å "
        "(held out of training)"
    ),
}
DESCRIPTOR_ARGS = ["--twojmax", "8", "--scales", "0.75,1.0,1.5"]
#: the Si model's descriptor (stop 26): DESCRIPTOR_ARGS followed by each
#: atom's neighbour mean over its bonded neighbours (full weight to 2.8 Å,
#: cosine switch to 0 at 3.0 Å: past the stretched first shell of a-Si,
#: below the 3.84 Å second neighbours). On a training-only split of the
#: rattled runs it halves the network's V(r) error (docs/model.md, "The Si
#: model with a neighbour mean beyond the first shell").
SI_DESCRIPTOR_ARGS = [*DESCRIPTOR_ARGS, "--neighbour-mean", "2.8,3.0"]
#: How many times the Si model's neighbour mean is repeated: three times
#: since stop 30 (candidate T6: what atoms three bonds away see; docs/model.md,
#: "Stop 30"); twice from stop 27 (T3, ``--neighbour-hops 2``), once in
#: stop 26's T (``--neighbour-hops 1``).
SI_NEIGHBOUR_HOPS = 3
#: The bundled a-Si model (``--asi``): three hops too since stop 30
#: (candidate asi3; stop 29's A had two, ``--neighbour-hops 2``).
ASI_NEIGHBOUR_HOPS = 3
#: 117 more OLCAO runs (issue 8): 111 rattled 8-atom cells, sigma 0.05-0.20 Å,
#: and 6 rattled vacancy cells; made by data/runs/make_structures.py
#: (--batch2, seeds >= 20000), curated like data/runs, compressed.
BATCH2 = "runs_batch2.tar.xz"
#: 25 16-atom a-Si cells (issue 8, stop 17; data/runs/make_structures.py
#: asi16_sSEED, the protocol's melt-quench in the 2x1x1 cell), converged to
#: 1e-6, curated like data/runs, compressed. Not in the shipped model's
#: training (docs/model.md, "a-Si"): the variant that adds them is
#:   --extra-runs data/runs data/runs_batch2.tar.xz data/runs_asi16.tar.xz
#:   --holdout <HOLDOUT> asi16_s10502 asi16_s10509
ASI16 = "runs_asi16.tar.xz"
#: The a-Si runs that the bundled a-Si model (``--asi``, data/asi_model,
#: stop 29) adds to the Si model's: the 25 a-Si16 cells above and four
#: 32-atom a-Si cells (data/runs_asi32/README.md, seeds 10710-10713).
ASI_RUNS = (ASI16, "runs_asi32")
#: 4 rattled tetrahedral-interstitial cells (stop 27; data/runs_interstitial/
#: README.md): the first interstitial structures trained on (the shared
#: family is held out: the demo case). Without them the two-hop model was
#: 2x worse than ridge on the demo cell (docs/model.md, candidate T2).
INTERSTITIAL = "runs_interstitial"
#: 51 more rattled Si training runs made in stop 32 (seeds 70000-70609,
#: converged to 1e-6, curated like data/runs, compressed): 16 vacancy and 10
#: interstitial cells, 25 8-atom cells at sigma 0.10-0.20 Å. The default Si
#: model trains on them since stop 33 (candidate T8b), after the spent test
#: cells; the a-Si and SiC models do not.
BATCH3 = "runs_batch3.tar.xz"
#: stop 40: 70 rattled 8-atom cells chosen by T8b's sigma x novelty from a
#: pool of 300 (candidate T10; only with --batch4)
BATCH4 = "runs_batch4.tar.xz"
#: The spent fresh Si test cells that the Si model trains on (stop 32,
#: candidate T7): a list of run folders of data/scf_test_runs, one name per
#: line. Each of them decided one model choice before and is never a test
#: again; the fresh cells made later are not in it.
SI_SPENT_TESTS = os.path.join("scf_test_runs", "si_trained_on.txt")
#: The spent a-Si32 test cells that a-Si candidate asi4 trained on (stop 32;
#: not shipped: docs/model.md). Its command, for the record: ``--asi
#: --extra-runs data/runs data/runs_batch2.tar.xz data/runs_interstitial
#: data/runs_asi16.tar.xz data/runs_asi32 data/runs_asi32_next`` followed by
#: the folders that this list names (``spent_test_dirs(here, ASI_SPENT_TESTS)``).
ASI_SPENT_TESTS = os.path.join("scf_test_runs", "asi_trained_on.txt")


def spent_test_dirs(here: str, listing: str = SI_SPENT_TESTS) -> list[str]:
    """The run folders that a list of spent test cells names (all of them
    must exist)."""
    path = os.path.join(here, listing)
    with open(path) as fh:
        names = [n.strip() for n in fh if n.strip() and not n.startswith("#")]
    dirs = [os.path.join(os.path.dirname(path), n) for n in names]
    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        raise SystemExit(f"{path}: no such run folder: {missing[0]}")
    return dirs


# -- silicon carbide (issue 12) ------------------------------------------------
# Real OLCAO runs of 3C-SiC cells made by data/sic/make_sic_runs.py (C with
# the same 16 exponents as Si, 0.15 ... 1e6 Bohr^-2: see docs/model.md).
# The family c_default_exponents (C at OLCAO's default 0.2 ... 1e6) is a
# test of projection onto another exponent set, never trained on.
SIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sic")
#: the Si model that the bundled sic model extends: the Si model shipped
#: before stop 26 (DESCRIPTOR_ARGS, no neighbour mean). The SiC descriptor
#: carries its columns; a sic model extended from the current Si model needs
#: its Si-Si mean (2.8-3.0 Å) in the SiC descriptor too (docs/model.md).
SIC_BASE_MODEL = os.path.join(os.path.dirname(SIC_DIR), "sic_base_model")
SIC_RUNS = os.path.join(SIC_DIR, "runs")
# The family unconverged holds runs whose SCF did not converge in 60
# iterations from OLCAO's default start (kept as made, never trained on).
# The family pending holds runs made after the shipped model was trained:
# not trained on yet, so that the documented command reproduces the
# shipped model. Move them into their families
# (data/sic/runs/pending/README.md) for the next model.
SIC_SKIP_FAMILIES = ("c_default_exponents", "unconverged", "pending")
#: Families made after the shipped sic and sicam models were trained: only
#: ``--sicam-b11`` (stop 37's candidate A2) trains on them, so that the
#: documented commands still reproduce the shipped models.
SIC_LATER_FAMILIES = ("amorphous_b11",)
SIC_HOLDOUT = [
    "sic8_r0.10_seed10011",
    "sic8_s1.03",
    "sic16_vacC_r0.05_seed10101",
    "sic16_Sii_r0.05_seed10104",
    "sic8_r0.25_seed10201",
    # chosen before these runs were made (stop 18): a disordered cell of each
    # new kind, never trained on
    "sic16_rr_seed10403",
    "sic16_rr_si6c10_seed10431",
    "sic32_rr_seed10441",
]
SIC_DEMO_CASES = {
    "sic16_vacC_r0.05_seed10101": (
        "15-atom 3C-SiC cell with a C vacancy, rattled 0.05 Å (held out of training)"
    ),
}
# Element weighting chosen by benchmarks/sic_weighting.py (docs/model.md):
# the explicit multi-element ("chem") bispectrum, LAMMPS radii Si 2.35 Å
# (unchanged) and C = 2.35 x 0.76/1.11 = 1.609 Å (ratio of covalent radii).
# Its element blocks keep pure-Si atoms in their own feature subspace, so
# adding SiC does not degrade pure Si (weighted single densities did).
#
# Stop 23: each atom's descriptors are followed by their mean over its
# neighbours (full weight to 2.5 Å, cosine switch to 0 at 2.7 Å:
# pyolcaoml.neighbour_mean), the defect two bonds away that the bispectrum
# alone barely sees (docs/model.md, "A second hop in the descriptor").
# Stop 24's candidate P, a range per element pair (--neighbour-mean
# 2.66,2.89 --neighbour-mean-pair C-Si=2.24,2.43 --neighbour-mean-pair
# C-C=1.82,1.98) and the tenth batch, tied this on a fresh set and was not
# shipped (docs/model.md, "Stop 24"); stop 25's Q (P's ranges, more runs)
# was 25 % worse for C on the next fresh set, and R (this descriptor, every
# run made up to the stop-26 set) was shipped (docs/model.md, "Stop 25").
#: The C radius (Å) of the sic descriptor (the ratio of covalent radii, above).
SIC_C_RADIUS = "1.609"
SIC_DESCRIPTOR_ARGS = [
    "--radius",
    "Si=2.35",
    "--radius",
    f"C={SIC_C_RADIUS}",
    "--chem",
    "--neighbour-mean",
    "2.5,2.7",
]
#: How many times the sic model's neighbour mean is repeated (stop 28's
#: candidate S2 used 2 and was not shipped: docs/model.md, "Stop 28").
SIC_NEIGHBOUR_HOPS = 1


# Fresh test cells that have been spent (each decided one model choice) and
# the two cells OLCAO's default start cannot run (converged from our start):
# training data for later models (``--sic-spent``), never a test again.
SIC_SPENT_TREES = [
    os.path.join(SIC_DIR, "test_runs"),  # stop 21's fresh set
    os.path.join(SIC_DIR, "test_runs_stop22"),  # stop 22's (spent in stop 22)
    os.path.join(SIC_DIR, "test_runs_stop23"),  # stop 23's (spent in stop 23)
    os.path.join(SIC_DIR, "test_runs_stop24"),  # stop 24's (spent in stop 23)
    os.path.join(SIC_DIR, "test_runs_stop25"),  # stop 25's (spent in stop 24)
    os.path.join(SIC_DIR, "test_runs_stop26"),  # stop 26's (spent in stop 25)
    os.path.join(SIC_DIR, "test_runs_stop27"),  # stop 27's (spent in stop 26)
    # the stop-28 and stop-29 sets are spent too (stop 26 and stop 28's S2)
    # but not in this list, so that the command reproduces the shipped S:
    # SIC_SPENT_LATER below adds them
    os.path.join(SIC_DIR, "rescued"),
]
#: The spent sets that came after S (``--sic-spent-later``, stop 30's
#: candidate S3; docs/model.md, "Stop 30").
SIC_SPENT_LATER = [
    os.path.join(SIC_DIR, "test_runs_stop28"),  # spent in stop 26
    os.path.join(SIC_DIR, "test_runs_stop29"),  # spent in stop 28 (S2)
]
#: The tenth fresh SiC set, spent in stop 31 by S3 and trained on by no
#: model before stop 34's candidate S4 (``--sic-spent-latest``).
SIC_SPENT_LATEST = [
    os.path.join(SIC_DIR, "test_runs_stop30"),  # spent in stop 31 (S3)
]
#: The rattled and point-defect cells (``rattle/``, ``defect/``) of every
#: set spent since S was made, none of their amorphous cells
#: (``--sic-spent-near``, stop 44's candidate S5: docs/model.md, "Stop 44").
#: The thirteenth set (test_runs_stop36) is not here: its near-crystalline
#: cells judged S5 (with the twentieth, test_runs_stop43; both spent since);
#: nor the sixteenth (test_runs_stop37b, amorphous only, kept for the next
#: amorphous candidate).
SIC_SPENT_NEAR = [
    os.path.join(SIC_DIR, f"test_runs_stop{n}", kind)
    for n in ("28", "29", "30", "32", "34", "41", "42", "42b")
    for kind in ("rattle", "defect")
]
#: Where the amorphous SiC model's spent cells come from (``--sicam``):
#: every spent fresh set (the eleventh, test_runs_stop32, spent by S4 in stop
#: 34; the twelfth, test_runs_stop34, by S in stop 35) and the rescued cells.
SICAM_TREES = [
    *SIC_SPENT_TREES,
    *SIC_SPENT_LATER,
    *SIC_SPENT_LATEST,
    os.path.join(SIC_DIR, "test_runs_stop32"),
    os.path.join(SIC_DIR, "test_runs_stop34"),
]
#: The cells whose median applicability distance under the sic model sets
#: its amorphous SiC threshold (``--sic-handover-only``): the fresh sets up to
#: the twelfth, those cells the sic model never trained on (stop 35: 35
#: rattled and point-defect cells 0.09-0.56, 19 amorphous 0.82-1.13).
SIC_HANDOVER_TREES = [
    t for t in SICAM_TREES if os.path.basename(t).startswith("test_runs")
]


def is_amorphous_sic(name: str) -> bool:
    """The amorphous SiC cells are named ``sic*_rr*`` (random packing,
    relaxed: make_sic_runs.py)."""
    return name.startswith("sic") and "_rr" in name


#: What stop 37's candidate A2 (``--sicam-b11``) adds to ``--sicam``: the
#: eleventh batch's family and the thirteenth fresh set, whose amorphous
#: cells were spent in stop 36; and its C radius (Å; the stop-36
#: descriptor spike: Si -6 % with ridge, C unchanged).
SICAM_B11_TREES = [os.path.join(SIC_DIR, "test_runs_stop36")]
SICAM_B11_C_RADIUS = "2.0"


def sicam_run_dirs(b11: bool = False) -> list[str]:
    """The amorphous SiC runs that the amorphous SiC model trains on
    (``b11``: those of stop 37's candidate A2)."""
    from pyolcaoml.olcao.run import find_run_dirs

    trees = [
        *sic_run_dirs(later=SIC_LATER_FAMILIES if b11 else ()),
        *(t for t in SICAM_TREES if os.path.isdir(t)),
        *(t for t in (SICAM_B11_TREES if b11 else []) if os.path.isdir(t)),
    ]
    return sorted(
        r for r in find_run_dirs(trees) if is_amorphous_sic(os.path.basename(r))
    )


#: Runs that stopped above their CONVERGENCE_TEST are trained on when they
#: stopped at or below this (``convert --include-unconverged MAX``): every
#: such run of the shipped models stopped at 1.6e-4 or below. One that
#: stalled far from self-consistency is no target: the C interstitial of
#: the stop-28 set stopped at 2.2e-2 after 60 iterations (S2 trained on it).
MAX_FINAL_CONVERGENCE = "1e-3"


def sic_run_dirs(root: str = SIC_RUNS, later: tuple[str, ...] = ()) -> list[str]:
    """The SiC run families trained and evaluated on (sorted); of
    SIC_LATER_FAMILIES only those in ``later``."""
    if not os.path.isdir(root):
        return []
    skip = {*SIC_SKIP_FAMILIES, *(set(SIC_LATER_FAMILIES) - set(later))}
    return [
        os.path.join(root, d)
        for d in sorted(os.listdir(root))
        if os.path.isdir(os.path.join(root, d)) and d not in skip
    ]


def present(names: list[str], run_trees: list[str]) -> list[str]:
    """The names among ``names`` that are runs below ``run_trees``."""
    from pyolcaoml.olcao.run import find_run_dirs

    have = {os.path.basename(r) for r in find_run_dirs(run_trees)}
    return [n for n in names if n in have]


# ------------------------------------------------------------------------------
#: how the Si model is extended to C: its networks stay as they are for Si
#: atoms without a C neighbour, and a variant network is trained for those
#: with one (docs/model.md, "The bundled Si + C model"). The C networks and
#: the variant learn at 1.5e-4 (default 2e-3): on the training-only random
#: split of benchmarks/sic_settings.py C went 9.06 -> 8.40 mHa (docs/model.md,
#: "Shipped: the sixth batch and a lower learning rate").
SIC_EXTEND_ARGS = ["--extend-variant", "--learning-rate", "1.5e-4"]
TRAIN_ARGS = [
    "--ensemble",
    "5",
    "--seed",
    "0",
    "--hidden",
    "64,64",
    "--l2",
    "1e-4",
    "--epochs",
    "2000",
    "--patience",
    "200",
    "--log-every",
    "100",
]


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--runs",
        default=os.path.join(here, "..", "..", "shared", "olcao-runs"),
        help="directory tree of OLCAO runs (default ../shared/olcao-runs)",
    )
    p.add_argument(
        "--output-dir",
        default=here,
        help="where default_model/ and demo/ go (default: data/)",
    )
    p.add_argument(
        "--extra-runs",
        nargs="*",
        default=None,
        metavar="DIR|TAR",
        help="more run trees (or .tar.xz archives of them) to train on; default "
        "data/runs, data/runs_batch2.tar.xz (issue 8, docs/model.md) and, "
        "for the Si model, data/runs_interstitial (stop 27) and, for the "
        f"default Si model, the spent test cells of data/{SI_SPENT_TESTS} "
        f"(stop 32) and data/{BATCH3} (stop 33); "
        "give none ('--extra-runs' alone) for the 31 shared runs only",
    )
    p.add_argument(
        "--batch4",
        action="store_true",
        help=f"the default Si model: data/{BATCH4} too (stop 40's candidate "
        "T10: 70 rattled 8-atom cells chosen by T8b's sigma)",
    )
    p.add_argument("--holdout", nargs="+", default=HOLDOUT, metavar="NAME")
    p.add_argument(
        "--sic-runs",
        default="none",
        help=f"SiC run tree to train on too (e.g. {SIC_RUNS}); default "
        "'none': the shipped Si-only model",
    )
    p.add_argument(
        "--base-model",
        metavar="DIR",
        help="with --sic-runs: the Si-only model to extend (default: "
        "data/sic_base_model, else one trained first with the base "
        "descriptor, no neighbour mean); it is copied",
    )
    p.add_argument(
        "--sic-spent",
        action="store_true",
        help="with --sic-runs: train on the spent fresh test cells and the "
        "rescued cells too ("
        + ", ".join(os.path.relpath(t) for t in SIC_SPENT_TREES)
        + ")",
    )
    p.add_argument(
        "--sic-spent-later",
        action="store_true",
        help="with --sic-spent: the sets spent after the shipped sic model "
        "too (" + ", ".join(os.path.relpath(t) for t in SIC_SPENT_LATER) + ")",
    )
    p.add_argument(
        "--sic-spent-latest",
        action="store_true",
        help="with --sic-spent-later: the sets spent after S3 too ("
        + ", ".join(os.path.relpath(t) for t in SIC_SPENT_LATEST)
        + "; stop 34's candidate S4)",
    )
    p.add_argument(
        "--sic-spent-near",
        action="store_true",
        help="with --sic-spent (not --sic-spent-later): the rattled and "
        "point-defect cells of every set spent since S too, not their "
        "amorphous cells (stop 44's candidate S5)",
    )
    p.add_argument(
        "--neighbour-hops",
        type=int,
        default=None,
        metavar="N",
        help="the neighbour mean repeated N times (default: the shipped "
        f"descriptors, {SI_NEIGHBOUR_HOPS} for the Si model, "
        f"{ASI_NEIGHBOUR_HOPS} with --asi, "
        f"{SIC_NEIGHBOUR_HOPS} with --sic-runs; docs/model.md)",
    )
    p.add_argument(
        "--asi",
        action="store_true",
        help="make the bundled a-Si model, data/asi_model ('asi'): the Si "
        "model's recipe with the a-Si runs of "
        + " and ".join(ASI_RUNS)
        + " too (the structures the default model hands over: "
        "pyolcaoml.model.handover)",
    )
    p.add_argument(
        "--sicam",
        action="store_true",
        help="make the bundled amorphous SiC model, data/sicam_model "
        "('sicam'): the --sic-runs recipe on the amorphous SiC cells only",
    )
    p.add_argument(
        "--sicam-b11",
        action="store_true",
        help="with --sicam: stop 37's candidate A2 (the eleventh batch and the "
        f"thirteenth set's amorphous cells too, C radius {SICAM_B11_C_RADIUS} Å)",
    )
    p.add_argument(
        "--sic-handover-only",
        action="store_true",
        help="only record the amorphous SiC threshold in sic_model/model.json",
    )
    p.add_argument("--dataset", help="keep the converted dataset at this path")
    p.add_argument(
        "--handover-only",
        action="store_true",
        help="only record the handover threshold in default_model/model.json (step 4)",
    )
    p.add_argument(
        "--export-only",
        action="store_true",
        help="only re-export default_model/ to default_model/model.oml",
    )
    args = p.parse_args(argv)
    if args.export_only:
        return _export_oml(os.path.abspath(args.output_dir))
    if args.sic_handover_only:
        model_dir = os.path.join(os.path.abspath(args.output_dir), "sic_model")
        return _record_sic_handover(model_dir)
    if args.sicam and (args.sic_runs != "none" or args.asi or args.sic_spent):
        raise SystemExit(
            "--sicam has its own runs: leave out --sic-runs, --asi, --sic-spent"
        )
    if args.batch4 and (
        args.asi or args.sicam or args.sic_runs != "none" or args.extra_runs is not None
    ):
        raise SystemExit(
            "--batch4 adds to the default Si model's own runs: leave out "
            "--asi, --sicam, --sic-runs and --extra-runs"
        )
    if args.sicam_b11 and not args.sicam:
        raise SystemExit("--sicam-b11 goes with --sicam")
    if args.handover_only:
        model_dir = os.path.join(os.path.abspath(args.output_dir), "default_model")
        return _record_handover(model_dir, args.runs, list(args.holdout), here)

    from pyolcaoml.cli import main as olcaoml
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.run import find_run_dirs

    runs = os.path.abspath(args.runs)
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)  # a new folder for a trial model
    if args.sicam:
        sic = sicam_run_dirs(b11=args.sicam_b11)
    else:
        sic = [] if args.sic_runs == "none" else sic_run_dirs(args.sic_runs)
    if sic and args.sic_spent:
        sic += [t for t in SIC_SPENT_TREES if os.path.isdir(t)]
        if args.sic_spent_later:
            sic += [t for t in SIC_SPENT_LATER if os.path.isdir(t)]
            if args.sic_spent_latest:
                sic += [t for t in SIC_SPENT_LATEST if os.path.isdir(t)]
    if args.sic_spent_near:
        if not (sic and args.sic_spent) or args.sic_spent_later:
            raise SystemExit(
                "--sic-spent-near goes with --sic-runs and --sic-spent, "
                "not with --sic-spent-later"
            )
        sic += [t for t in SIC_SPENT_NEAR if os.path.isdir(t)]
    if (args.sic_spent_later and not (sic and args.sic_spent)) or (
        args.sic_spent_latest and not (sic and args.sic_spent_later)
    ):
        raise SystemExit(
            "--sic-spent-later goes with --sic-runs and --sic-spent, "
            "--sic-spent-latest with --sic-spent-later"
        )
    holdout = list(args.holdout)
    hops = args.neighbour_hops
    if hops is None:
        hops = (
            SIC_NEIGHBOUR_HOPS
            if sic
            else ASI_NEIGHBOUR_HOPS
            if args.asi
            else SI_NEIGHBOUR_HOPS
        )
    descriptor_args = SI_DESCRIPTOR_ARGS
    demo_cases = dict(DEMO_CASES)
    model_name = "default_model"
    if sic:
        holdout += present(SIC_HOLDOUT, sic)
        descriptor_args = [*DESCRIPTOR_ARGS, *SIC_DESCRIPTOR_ARGS]
        demo_cases = dict(SIC_DEMO_CASES)
        model_name = "sic_model"
    if args.sicam:
        demo_cases = {}
        model_name = "sicam_model"
        if args.sicam_b11:
            descriptor_args = [
                f"C={SICAM_B11_C_RADIUS}" if a == f"C={SIC_C_RADIUS}" else a
                for a in descriptor_args
            ]
    if args.asi:
        if sic:
            raise SystemExit("--asi makes a Si model: leave out --sic-runs")
        demo_cases = {}
        model_name = "asi_model"
    descriptor_args = [*descriptor_args, "--neighbour-hops", str(hops)]
    extra_runs = args.extra_runs
    if extra_runs is None:
        # the sic model was trained before the interstitial runs existed
        extra_runs = [os.path.join(here, "runs"), os.path.join(here, BATCH2)]
        if not sic:
            extra_runs.append(os.path.join(here, INTERSTITIAL))
        if args.asi:
            extra_runs += [os.path.join(here, r) for r in ASI_RUNS]
        elif not sic:
            # stop 32 (T7): the spent test cells; stop 33 (T8b): batch3
            extra_runs += [*spent_test_dirs(here), os.path.join(here, BATCH3)]
            if args.batch4:
                extra_runs.append(os.path.join(here, BATCH4))
    tmp = tempfile.mkdtemp(prefix="olcaoml-default-")
    try:
        extra = [_unpacked(path, tmp) for path in extra_runs]
        extend = []
        if sic:
            # Si + C: the Si-only model first, then C added by extending it
            # (its Si networks keep every weight: pure-Si predictions stay
            # exactly the Si-only model's; docs/model.md, "Silicon carbide")
            base = os.path.join(tmp, "si_model")
            given = args.base_model or SIC_BASE_MODEL
            if os.path.isfile(os.path.join(given, "model.json")):
                shutil.copytree(given, base)
            else:
                si_data = os.path.join(tmp, "si_only.h5")
                rc = _convert(olcaoml, [runs, *extra], si_data, DESCRIPTOR_ARGS)
                rc = rc or _train(olcaoml, si_data, base, list(args.holdout))
                if rc:
                    return rc
            extend = ["--extend", base, *SIC_EXTEND_ARGS]
        data = args.dataset or os.path.join(tmp, "si.h5")
        rc = _convert(olcaoml, [runs, *extra, *sic], data, descriptor_args)
        if rc:
            return rc
        model_dir = os.path.join(out, model_name)
        rc = _train(olcaoml, data, model_dir, holdout, extend)
        if rc:
            return rc
        demo = os.path.join(out, "demo")
        os.makedirs(demo, exist_ok=True)
        by_name = {os.path.basename(r): r for r in find_run_dirs([runs, *sic])}
        repo = os.path.dirname(here)
        manifest = os.path.join(demo, "manifest.json")
        # the cases of the other bundled model stay
        cases = []
        if os.path.isfile(manifest):
            with open(manifest) as fh:
                cases = [
                    c
                    for c in json.load(fh)["cases"]
                    if c.get("model", "default_model") != model_name
                ]
        for name, text in demo_cases.items():
            if name not in holdout or name not in by_name:
                continue
            run = read_run(by_name[name])
            dest = os.path.join(demo, name)
            os.makedirs(dest, exist_ok=True)
            shutil.copyfile(
                os.path.join(run.path, "olcao.skl"), os.path.join(dest, "olcao.skl")
            )
            shutil.copyfile(
                os.path.join(run.path, f"gs_scfV-{run.basis}.dat"),
                os.path.join(dest, "gs_scfV-fb.dat"),
            )
            cases.append(
                {
                    "name": name,
                    "description": text,
                    "structure": f"{name}/olcao.skl",
                    "reference": f"{name}/gs_scfV-fb.dat",
                    "atom_types": [int(t) for t in run.atom_pot_types],
                    **({"model": model_name} if model_name != "default_model" else {}),
                    "source": (
                        f"olcao-runs/{os.path.relpath(run.path, runs)}"
                        if run.path.startswith(runs + os.sep)
                        else os.path.relpath(run.path, repo)
                    ),
                }
            )
        with open(manifest, "w") as fh:
            json.dump({"cases": cases}, fh, indent=1)
            fh.write("\n")
        rc = olcaoml(["evaluate", model_dir, data, "--which", "holdout"])
        if rc:
            return rc
        if not sic and not args.asi:
            rc = _record_handover(model_dir, runs, list(args.holdout), here)
            if rc:
                return rc
        # libolcaoml's exports of the Si + C and a-Si models are not shipped
        # (their size); olcaoml export sic|asi MODEL.oml makes them
        return 0 if sic or args.asi else _export_oml(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: The amorphous cells that set the handover threshold's upper side: the
#: a-Si test cells of data/scf_test_runs (32 and 64 atoms, melt-quenched),
#: which no default model trains on.
HANDOVER_AMORPHOUS_GLOB = os.path.join("scf_test_runs", "asi[0-9]*_s*")


def handover_cells(runs: str, holdout, here: str) -> tuple[list[str], list[str]]:
    """(crystalline, amorphous) run folders for the handover threshold:
    the held-out structures found in ``runs`` and the a-Si test cells."""
    import glob

    from pyolcaoml.olcao.run import find_run_dirs

    by_name = {os.path.basename(r): r for r in find_run_dirs([runs])}
    missing = [n for n in holdout if n not in by_name]
    if missing:
        raise SystemExit(f"{runs}: no held-out run {missing[0]}")
    pattern = os.path.join(here, HANDOVER_AMORPHOUS_GLOB)
    amorphous = sorted(d for d in glob.glob(pattern) if os.path.isdir(d))
    if not amorphous:
        raise SystemExit(f"no a-Si cells in {os.path.join(here, 'scf_test_runs')}")
    return [by_name[n] for n in holdout], amorphous


def _record_handover(model_dir: str, runs: str, holdout, here: str) -> int:
    """Step 4: the model's median sigma on both sets, the mid-gap threshold
    written into model.json (atomically)."""
    import warnings

    from pyolcaoml.model.handover import median_sigma
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    crystalline, amorphous = handover_cells(os.path.abspath(runs), holdout, here)
    model = load_model(model_dir)

    def med(run_dir: str) -> float:
        structure = read_run(run_dir).structure
        with warnings.catch_warnings():  # the note on amorphous cells
            warnings.simplefilter("ignore", UserWarning)
            pred = predict(structure, model)
        return median_sigma(pred.symbols, pred.sigma)

    c = {os.path.basename(r): med(r) for r in crystalline}
    a = {os.path.basename(r): med(r) for r in amorphous}
    for label, sigmas in (("held out", c), ("a-Si", a)):
        text = ", ".join(f"{n} {1000 * v:.2f}" for n, v in sigmas.items())
        print(f"handover: median sigma (mHa), {label}: {text}")
    threshold = _write_mid_gap(
        model_dir,
        c,
        a,
        "handover",
        lambda t: {
            "median_sigma_hartree": t,
            "chosen_on": "mid-gap: the highest median sigma of the held-out "
            "structures and the lowest of the a-Si cells of data/scf_test_runs "
            "(data/make_default_model.py)",
            "crystalline_max_hartree": max(c.values()),
            "amorphous_min_hartree": min(a.values()),
            "crystalline": sorted(c),
            "amorphous": sorted(a),
        },
    )
    if threshold is None:
        return 1
    print(f"handover: threshold {1000 * threshold:.3f} mHa recorded")
    return 0


def _write_mid_gap(model_dir: str, c: dict, a: dict, tag: str, entry):
    """The mid-gap threshold of the two sets of values ``c`` and ``a``
    (pyolcaoml.model.handover.mid_gap), written as model.json's handover
    entry ``entry(threshold)`` (atomically); None, with the reason printed,
    when the sets overlap."""
    from pyolcaoml._atomic import write_bytes_atomic
    from pyolcaoml.model.handover import mid_gap
    from pyolcaoml.model.saved import dumps_metadata

    try:
        threshold = mid_gap(list(c.values()), list(a.values()))
    except ValueError as exc:
        print(f"{tag}: {exc}: no threshold recorded", file=sys.stderr)
        return None
    path = os.path.join(model_dir, "model.json")
    with open(path) as fh:
        meta = json.load(fh)
    meta["handover"] = entry(threshold)
    write_bytes_atomic(path, dumps_metadata(meta).encode("ascii"))
    print(f"{tag}: written to {path}")
    return threshold


def sic_handover_cells(model) -> tuple[list[str], list[str]]:
    """(near-crystalline, amorphous) run folders of SIC_HANDOVER_TREES that
    the sic ``model`` never trained on."""
    from pyolcaoml.olcao.run import find_run_dirs

    trained = set(model.training.get("train_structures", ()))
    runs = [
        r
        for r in find_run_dirs([t for t in SIC_HANDOVER_TREES if os.path.isdir(t)])
        if os.path.basename(r) not in trained
    ]
    amorphous = [r for r in runs if is_amorphous_sic(os.path.basename(r))]
    crystalline = [r for r in runs if r not in amorphous]
    if not crystalline or not amorphous:
        raise SystemExit("no SiC test cells for the amorphous SiC threshold")
    return crystalline, amorphous


def _record_sic_handover(model_dir: str) -> int:
    """The sic model's median applicability distance on both sets of
    sic_handover_cells, the mid-gap threshold written into its model.json
    (atomically)."""
    import warnings

    from pyolcaoml.model.handover import median_domain
    from pyolcaoml.model.saved import load_model
    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    model = load_model(model_dir)
    crystalline, amorphous = sic_handover_cells(model)

    def med(run_dir: str) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pred = predict(read_run(run_dir).structure, model)
        return median_domain(pred.report.domain)

    c = {os.path.basename(r): med(r) for r in crystalline}
    a = {os.path.basename(r): med(r) for r in amorphous}
    for label, values in (("rattled and point-defect", c), ("amorphous", a)):
        print(
            f"sic handover: median distance, {len(values)} {label} cells: "
            f"{min(values.values()):.3f}-{max(values.values()):.3f}"
        )
    threshold = _write_mid_gap(
        model_dir,
        c,
        a,
        "sic handover",
        lambda t: {
            "median_domain": t,
            "chosen_on": "mid-gap: the highest median applicability distance "
            "of the rattled and point-defect SiC test cells the model never "
            "trained on and the lowest of the amorphous ones "
            "(data/make_default_model.py --sic-handover-only)",
            "crystalline_max": max(c.values()),
            "amorphous_min": min(a.values()),
            "crystalline": {n: c[n] for n in sorted(c)},
            "amorphous": {n: a[n] for n in sorted(a)},
        },
    )
    if threshold is None:
        return 1
    print(f"sic handover: threshold {threshold:.4f} recorded")
    return 0


def _convert(olcaoml, trees: list[str], data: str, descriptor_args) -> int:
    # asi64_s102 stopped at convergence 4.4e-5 (CONVERGENCE_TEST 1e-6) but is
    # the only 64-atom amorphous run: kept on purpose, in both steps.
    return olcaoml(
        [
            "convert",
            *trees,
            "-o",
            data,
            "--force",
            "--quiet",
            "--include-unconverged",
            MAX_FINAL_CONVERGENCE,
            *descriptor_args,
        ]
    )


def _train(olcaoml, data: str, model_dir: str, holdout, extra=()) -> int:
    return olcaoml(
        [
            "train",
            data,
            "-o",
            model_dir,
            "--force",
            "--include-unconverged",
            "--holdout",
            *holdout,
            *TRAIN_ARGS,
            *extra,
        ]
    )


def _unpacked(path: str, tmp: str) -> str:
    """A run tree: ``path`` itself, or a .tar.xz archive unpacked below tmp."""
    if not path.endswith(".tar.xz"):
        return os.path.abspath(path)
    import tarfile

    dest = os.path.join(tmp, os.path.basename(path)[: -len(".tar.xz")])
    with tarfile.open(path, "r:xz") as tar:
        tar.extractall(dest, filter="data")
    return dest


def _export_oml(out: str) -> int:
    """default_model/ -> default_model/model.oml (libolcaoml's format)."""
    from pyolcaoml import bundled_model

    model_dir = os.path.join(out, "default_model")
    path = os.path.join(model_dir, bundled_model.OML_NAME)
    print(f"wrote {bundled_model.write_oml(path, model_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
