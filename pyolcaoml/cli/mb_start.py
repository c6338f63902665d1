"""``olcaoml mb-start``: the start of OLCAO's minimal-basis SCF in the
two-level recipe (``olcaoml from-mb``)."""

from __future__ import annotations

import argparse
import os

from pyolcaoml.cli.common import add_threads_argument, run_scfv_output

HELP = "start an OLCAO minimal-basis SCF from the model minus its MB correction"

DESCRIPTION = """\
Write MB_DIR's inputs/scfV.dat as an estimate of OLCAO's converged
minimal-basis (MB) potential of the run, to start its MB SCF from:

    V_MB ~ V_model - Delta(x)   (Hartree, per atom)

where V_model is the model's full-basis (FB) prediction and Delta(x) the
learnt MB -> FB correction that 'olcaoml from-mb' adds back to the MB SCF's
answer (both from each atom's descriptors). MB_DIR is the run's own copy
for the MB SCF (makeinput's inputs, each atom its own potential type).
The steps of the two-level recipe with this start:

  1. olcaoml mb-start MB_DIR --force     (in a copy of the run)
     set CONVERGENCE_TEST 1e-3 (and LAST_ITERATION 20) in MB_DIR's
     inputs/olcao.dat, then in MB_DIR: uolcao -scf MB
  2. olcaoml from-mb RUN_DIR MB_DIR/gs_scfV-mb.dat --force
  3. in RUN_DIR: uolcao -scf FB

Measured on ten spent 16-atom near-crystalline SiC defect cells (stop 52,
with the correction that 'sic' carries since stop 53): the MB
SCF took 72 iterations to 1e-3 over nine cells against 115 from the
model's own prediction, and the FB SCF after from-mb the same (83 against
81 to 1e-4); on those 20 cells the estimate was 4.5x (Si) and 3.7x (C)
nearer OLCAO's MB potential (RMS V(r)) than the model's prediction. On
two held-out a-Si cells ('asi') 2.7x nearer; on two amorphous SiC cells
('sicam') no nearer (its correction misses the cell mean of V_FB - V_MB
by several mHa there): the shipped amorphous recipes start the MB SCF
from 'olcaoml predict', and their FB counts were measured that way. The
near-crystalline SiC recipe (stop 53: 8 fresh 31-33-atom cells, 119 FB
iterations to 1e-4 against 161 from 'sic' alone) starts it from here.
Its gain there is the Si vacancy: with 'sic' mb-start notes a run in which
it finds none (fewer than three C atoms with three neighbours within
2.45 A), where on six fresh cells it saved no FB iterations and cost
1.17x the CPU time of 'olcaoml predict' alone.
MODEL (--model) must hold the correction (mb_delta.npz); without it the
choice is from-mb's.
Files are written to a temporary name and renamed, never overwritten
without --force.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "mb_dir",
        metavar="MB_DIR",
        help="the run's copy for the MB SCF (inputs/olcao.dat, "
        "inputs/structure.dat, inputs/scfV.dat)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help="model (bundled name or directory) holding mb_delta.npz "
        "(default: as 'olcaoml from-mb' chooses)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="scfV.dat to write (default: MB_DIR/inputs/scfV.dat)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file")
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError
    from pyolcaoml.cli.from_mb import default_model
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.mb_delta import load_mb_delta, minimal_basis_estimate
    from pyolcaoml.model.workflow import run_start_with_coeffs, write_text_atomically
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.scfv import format_scfv

    mb_dir = args.mb_dir
    if not os.path.isfile(os.path.join(mb_dir, "inputs", "olcao.dat")):
        raise CLIError(f"{mb_dir} is not an OLCAO run directory (no inputs/olcao.dat)")
    output = run_scfv_output(mb_dir, args.output, args.force)
    try:
        model = load_model(args.model or default_model(mb_dir, args.threads))
        coeffs = minimal_basis_estimate(
            model, load_mb_delta(model.path), mb_dir, n_threads=args.threads
        )
        run_ = read_run(mb_dir)
        scfv = run_start_with_coeffs(run_, coeffs)
        if scfv is None:  # its charge columns are kept
            raise ModelError(
                f"{mb_dir}/inputs/scfV.dat is missing or has other term counts "
                "than its olcao.dat: remake the run with makeinput"
            )
        write_text_atomically(output, format_scfv(scfv), force=args.force)
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    print(
        f"estimated the minimal-basis potential of {len(coeffs)} potential types "
        f"as {model.path}'s prediction minus its correction"
    )
    print(f"wrote {output}")
    from pyolcaoml.model.handover import is_bundled
    from pyolcaoml.model.sic_vacancy import two_level_note

    if is_bundled(model, "sic"):
        for line in two_level_note(run_.structure, args.threads):
            print(line)
    print(
        "next: set CONVERGENCE_TEST 1e-3 (LAST_ITERATION 20) in "
        f"{os.path.join(mb_dir, 'inputs', 'olcao.dat')}, run 'uolcao -scf MB' "
        "there, then 'olcaoml from-mb RUN_DIR "
        f"{os.path.join(mb_dir, 'gs_scfV-mb.dat')} --force'"
    )
    return 0
