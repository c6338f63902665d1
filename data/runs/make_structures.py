#!/usr/bin/env python3
"""Write the olcao.skl and meta.json of the extra Si runs (seeds >= 10000).

The structures follow ../shared/olcao-runs/PROTOCOL.md exactly (diamond
a0 = 5.431 Å; n1 x n2 x n3 supercells repeat the 8 conventional sites in the
order i1, i2, i3, site; Gaussian Cartesian rattles drawn with
``numpy.random.default_rng(seed).normal(0, sigma, (N, 3))`` in Å, no
centre-of-mass correction; fractional coordinates wrapped into [0, 1)).

usage: make_structures.py OUTDIR [NAME ...]
       make_structures.py OUTDIR --batch2 N   (N cells per sigma)
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
PATTERN = re.compile(r"^si(8|16_vac)_r(\d\.\d\d)_seed(\d+)$")


def parse(name: str) -> tuple[tuple[int, int, int], str | None, float, int | None]:
    if name in STRUCTURES:
        return STRUCTURES[name]
    m = PATTERN.match(name)
    if m is None or int(m.group(3)) < 20000:
        raise SystemExit(f"make_structures.py: unknown structure name {name!r}")
    if m.group(1) == "8":
        return (1, 1, 1), None, float(m.group(2)), int(m.group(3))
    return (2, 1, 1), "vacancy", float(m.group(2)), int(m.group(3))


def batch2(n_per_sigma: int) -> list[str]:
    """The second batch in the order it was run (sigmas interleaved)."""
    sigmas = (0.05, 0.08, 0.10, 0.12, 0.15, 0.20)
    return [
        f"si8_r{s:.2f}_seed{20000 + 1000 * round(100 * s) + k}"
        for k in range(n_per_sigma)
        for s in sigmas
    ]


def build(name: str) -> tuple[str, dict]:
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
    lines = ["title", f"Si {name}", "end", "cell"]
    lines.append("   " + " ".join(f"{c:.6f}" for c in cell) + " 90.000 90.000 90.000")
    lines.append(f"fract {len(frac)}")
    lines += ["Si " + " ".join(f"{c:.8f}" for c in f) for f in frac]
    lines += ["space 1_a", "supercell 1 1 1", "full"]
    return "\n".join(lines) + "\n", meta


def main(argv: list[str]) -> int:
    out = argv[0]
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
