"""One MPI rank's share through libolcaoml with a neighbour-mean model.

Run:  python benchmarks/bench_share.py [--cells 5] [--ranks 8] [--repeats 3]

A program that splits a large cell over ranks asks the library for the
descriptors of its own atoms only.  With a neighbour mean those need the
blocks of the atoms' neighbours too; the library computes the blocks of the
centres and of the atoms within reach of one (not of the whole cell).  On
a rattled 3C-SiC supercell (cells^3 x 8 atoms) with the bundled Si + C
model (data/sic_model: three bispectrum scales, chem, neighbour mean),
prints the time of one call for all atoms and for one rank's share (a
slab of 1/ranks of the atoms, as a spatial decomposition gives), best of
repeats, their ratio (ideal 1/ranks plus the share's halo), and checks
that the share's rows are the whole-cell call's to the bit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from ase.build import bulk

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from timing import best_of  # noqa: E402

from pyolcaoml.library import LibraryModel  # noqa: E402
from pyolcaoml.structure import BOHR_IN_ANGSTROM  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5, help="supercell edge")
    parser.add_argument("--ranks", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    args = parser.parse_args(argv)

    from pyolcaoml.export import export_model
    from pyolcaoml.model import load_model

    model = load_model(REPO / "data" / "sic_model", networks=False)
    oml = os.path.join(tempfile.mkdtemp(prefix="bench-share-"), "sic.oml")
    export_model(REPO / "data" / "sic_model", oml, force=True)
    atoms = bulk("SiC", "zincblende", a=4.36, cubic=True).repeat(args.cells)
    atoms.rattle(0.05, seed=1)
    n = len(atoms)
    cell = np.ascontiguousarray(atoms.cell.array / BOHR_IN_ANGSTROM)
    pos = np.ascontiguousarray(atoms.positions / BOHR_IN_ANGSTROM)
    # one rank's slab: the atoms with the lowest x, 1/ranks of them
    order = np.argsort(atoms.positions[:, 0], kind="stable")
    share = np.sort(order[: max(1, n // args.ranks)]).astype(np.int32) + 1
    with LibraryModel(oml) as lib:
        el = lib.element_indices(list(atoms.symbols))

        def whole_call():
            return lib.descriptors(cell, pos, el, n_threads=args.threads)

        def share_call():
            return lib.descriptors(cell, pos, el, centres=share, n_threads=args.threads)

        whole, part = whole_call(), share_call()
        whole_t = best_of(whole_call, args.repeats)
        part_t = best_of(share_call, args.repeats)
    same = bool(np.array_equal(part, whole[share - 1]))
    print(
        f"\n{n} atoms (3C-SiC {args.cells}^3 cells, rattled 0.05 Å), "
        f"{model.n_features} descriptors/atom, share {len(share)} atoms "
        f"(1/{args.ranks}), best of {args.repeats}\n"
    )
    print(f"{'call':28s} {'seconds':>9s}")
    print(f"{'all atoms':28s} {whole_t:9.3f}")
    print(f"{'one share':28s} {part_t:9.3f}")
    print(
        f"\nshare / all = {part_t / whole_t:.3f} (ideal {1 / args.ranks:.3f} "
        f"+ the halo); share's rows equal the whole-cell call's: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
