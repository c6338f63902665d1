#!/usr/bin/env python3
"""How much the bundled Si + C model's Si prediction jumps where its Si
variant switches on.

Usage::

    python benchmarks/sic_variant_switch.py [--model sic]

A Si atom is predicted by the Si variant when a C atom lies within the
descriptor's largest Si-C cutoff, max(scales) rcutfac (R_Si + R_C) (5.94 Å
for the bundled multiscale descriptor), else by the Si model's own network.
On a 216-atom diamond Si cell (a = 5.43 Å) with one substitutional C, this
prints, for each shell of Si atoms around the C, how many switch and the
RMS V(r) difference (mHa, the model's metric) between the variant's
prediction and the own network's on the same atoms: at the outermost
shell inside the cutoff it is the size of the discontinuity a Si atom sees
as its last C neighbour crosses the cutoff. Takes a few seconds; results in
docs/model.md ("The Si variant").
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sic")
    args = p.parse_args()
    from ase.build import bulk

    from pyolcaoml.model.saved import load_model
    from pyolcaoml.structure import Structure

    model = load_model(args.model)
    em = model.elements["Si"]
    if em.variant_columns is None:
        print(f"{args.model}: Si has no variant", file=sys.stderr)
        return 2
    d = model.descriptor
    scale = max(d.get("scales", [1.0]))
    cutoff = scale * d["rcutfac"] * (d["radii"]["Si"] + d["radii"]["C"])
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((3, 3, 3))
    atoms.symbols[0] = "C"
    sym = np.asarray(atoms.get_chemical_symbols())
    st = Structure(
        cell=np.array(atoms.cell), positions=atoms.positions, symbols=sym.tolist()
    )
    si = sym == "Si"
    x = model.descriptor_calculator().compute(st)[si]
    switched = em.uses_variant(x)
    with_variant = model.predict_element("Si", x)
    saved = em.variant_columns
    em.variant_columns = None  # the own networks on the same atoms
    own = model.predict_element("Si", x)
    em.variant_columns = saved
    dist = atoms.get_distances(0, range(len(atoms)), mic=True)[si]
    print(
        f"Si-C switch cutoff {cutoff:.3f} Å; Si atoms with a C inside: "
        f"{int(switched.sum())} of {int(si.sum())}"
    )
    print(
        f"{'shell (Å)':>10} {'Si atoms':>9} {'switched':>9} "
        f"{'|variant - own| RMS V (mHa)':>28}"
    )
    for shell in np.unique(np.round(dist, 2)):
        if shell > cutoff + 1.0:
            break
        rows = np.nonzero(np.isclose(dist, shell, atol=0.01))[0]
        diff = [model.metric.rms(with_variant[[i]], own[[i]], em.alphas) for i in rows]
        print(
            f"{shell:10.2f} {len(rows):9d} {int(switched[rows].sum()):9d} "
            f"{np.mean(diff) * 1e3:28.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
