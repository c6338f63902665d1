"""``olcaoml from-mb``: a full-basis start from OLCAO's own minimal-basis SCF."""

from __future__ import annotations

import argparse
import glob
import os

from pyolcaoml.cli.common import add_threads_argument, run_scfv_output

HELP = "correct OLCAO's converged minimal-basis potential into a full-basis start"

DESCRIPTION = """\
Write RUN_DIR's scfV.dat as OLCAO's own converged minimal-basis (MB)
potential plus a learnt correction to the full basis (FB):

    V_start = V_MB + Delta(x),  Delta fitted to V_FB - V_MB  (Hartree)

where x are each atom's descriptors (docs/model.md, stops 49-51). The
MB SCF settles what a model of each atom's neighbourhood cannot see; the
correction is local. The two together start the FB SCF closer to its
answer than any model alone, but the MB SCF's iterations cost time:

  - 64-atom a-Si ('asi'): half the default's FB iterations to 1e-4 on
    three of five cells, at 1.03-1.05x the default's CPU time on three
    fresh cells (an MB iteration costs about half an FB one and the MB
    SCF takes 20-30), where 'olcaoml predict asi' alone is faster;
  - 16-atom amorphous SiC ('sicam'): over 24 fresh cells, FB iterations
    to 1e-4 more than 478 against 578 from 'olcaoml predict' alone and
    887 from OLCAO's default; half the default's on 10 of 24 ('predict'
    4); CPU time 0.94-1.08x 'predict' alone per set, 0.82x the default's;
  - near-crystalline SiC point defects ('sic', stop 53): over 8 fresh
    31-33-atom cells (four Si vacancies), 119 FB iterations to 1e-4
    against 161 from 'olcaoml predict' alone and 285 from OLCAO's
    default; half the default's on 5 of 8 ('predict' 2); CPU time 1.02x
    'predict' alone, 0.87x the default's (on 16-atom cells 1.12-1.17x
    'predict' alone: the MB SCF's set-up costs more than it saves there).

The steps, with OLCAO's own driver:

  1. copy the run (makeinput's inputs, each atom its own potential type) to
     MB_DIR; there, start from 'olcaoml predict MB_DIR --force' (a-Si,
     amorphous SiC) or 'olcaoml mb-start MB_DIR --force' (near-
     crystalline SiC: the model minus the correction), set
     CONVERGENCE_TEST in inputs/olcao.dat to 1e-3 for SiC (amorphous: the
     FB count was the same as after 1e-4; near-crystalline also
     LAST_ITERATION 20) or 1e-4 for a-Si (on a-Si32 the same as after
     1e-6) and run:
     uolcao -scf MB   (writes MB_DIR/gs_scfV-mb.dat)
  2. olcaoml from-mb RUN_DIR MB_DIR/gs_scfV-mb.dat --force
  3. in RUN_DIR: uolcao -scf FB

'olcaoml two-level RUN_DIR --force' does steps 1 and 2 (it runs OLCAO's
MB SCF; OLCAO_DIR must hold bin/uolcao.py).

Run the MB SCF in its own copy: uolcao starts an SCF from any gs_scfV-*.dat
it finds in the project folder before inputs/scfV.dat (this command warns
when RUN_DIR has one). MODEL (--model) must hold the correction
(mb_delta.npz); without it the correction is that of the model 'olcaoml
predict' would use for the run: 'sic' (fitted on 61 of its near-
crystalline training cells) for near-crystalline SiC, 'sicam' (amorphous
SiC cells) for amorphous SiC, 'asi' (a-Si cells) for amorphous Si; a Si
crystal, whose model 'default' has none, gets 'asi''s with a warning (on
rattled crystals MB plus an amorphous correction was no closer than
'default' alone, stop 52), as does a near-crystalline SiC run given
'--model sicam'. The MB SCF's log
beside MB_SCFV (gs_iter-mb.dat) is read and a warning printed when its
last value is above 1e-3: OLCAO's MB SCF oscillates without converging on
some amorphous cells (2 of 20 SiC training cells), and an unsettled MB
potential is no better a start.
Files are written to a temporary name and renamed, never overwritten
without --force.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="OLCAO run directory (inputs/olcao.dat, inputs/structure.dat)",
    )
    p.add_argument(
        "mb_potential",
        metavar="MB_SCFV",
        help="OLCAO's converged minimal-basis potential of this run "
        "(gs_scfV-mb.dat of 'uolcao -scf MB')",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help="model (bundled name or directory) holding mb_delta.npz "
        "(default: by the run's elements, 'asi' for Si alone, 'sicam' for Si "
        "and C)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="scfV.dat to write (default: RUN_DIR/inputs/scfV.dat)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file")
    add_threads_argument(p)


def default_model(run_dir: str, n_threads: int | None = None) -> str:
    """The bundled model whose correction the run gets: the model that
    'olcaoml predict' would use (its handover), where that model carries a
    correction ('sic' for near-crystalline SiC, stop 53; 'asi' for a-Si,
    'sicam' for amorphous SiC); else the amorphous one of the run's
    elements (:func:`model_for_symbols`), with :func:`domain_warning`."""
    from pyolcaoml.olcao import read_run

    return correction_choice(read_run(run_dir).structure, n_threads)[0]


def model_for_symbols(symbols) -> str:
    """The bundled amorphous model of a structure's elements, whose
    correction covers them: 'asi' (fitted on a-Si) for Si alone, 'sicam'
    (fitted on amorphous SiC) where there is C; other elements are refused
    by the correction itself."""
    return "sicam" if "C" in set(symbols) else "asi"


def correction_choice(structure, n_threads: int | None = None) -> tuple[str, str]:
    """(the bundled model whose correction to use, the bundled model that
    'olcaoml predict' uses for ``structure``): the crystalline model of the
    elements ('default' for Si, 'sic' for Si and C) or the amorphous one its
    handover sends the structure to."""
    from pyolcaoml.model.handover import handover_target
    from pyolcaoml.model.mb_delta import MB_DELTA_FILE
    from pyolcaoml.model.saved import bundled_model_path, load_bundled_model
    from pyolcaoml.model.workflow import predict_structure

    base = "sic" if "C" in set(structure.symbols) else "default"
    model = load_bundled_model(base)
    # the decision only: the crystalline model's sigma and applicability
    pred = predict_structure(model, structure, n_threads=n_threads)
    used = handover_target(model, pred.symbols, pred.sigma, pred.report.domain) or base
    if os.path.isfile(os.path.join(bundled_model_path(used), MB_DELTA_FILE)):
        return used, used
    return model_for_symbols(structure.symbols), used


def domain_warning(
    run_dir: str,
    model_path: str,
    n_threads: int | None = None,
    used: str | None = None,
) -> list[str]:
    """A warning when ``model_path`` is a bundled amorphous model ('asi',
    'sicam': corrections fitted on amorphous cells) but the bundled models'
    own handover, as in ``olcaoml predict``, keeps the run with the
    crystalline model ('default' for Si, 'sic' for Si and C). On 19 fresh
    near-crystalline SiC defect cells, MB plus sicam's correction was
    further from OLCAO's converged potential than 'sic' alone, and on a
    rattled Si crystal MB plus asi's than 'default' (docs/model.md, stop
    52). Empty otherwise, and for any other model. ``used``: the model
    that predict uses for the run (:func:`correction_choice`), when known."""
    from pyolcaoml.model.handover import AMORPHOUS_MODEL, SIC_AMORPHOUS_MODEL
    from pyolcaoml.model.mb_delta import MB_DELTA_FILE
    from pyolcaoml.model.saved import bundled_model_path
    from pyolcaoml.olcao import read_run

    amorphous = (AMORPHOUS_MODEL, SIC_AMORPHOUS_MODEL)
    path = os.path.abspath(model_path)
    name = next(
        (n for n in amorphous if os.path.abspath(bundled_model_path(n)) == path),
        None,
    )
    if name is None:
        return []
    if used is None:
        used = correction_choice(read_run(run_dir).structure, n_threads)[1]
    if used in amorphous:
        return []
    measured = (
        "on 19 fresh near-crystalline SiC defect cells"
        if used == "sic"
        else "on a rattled Si crystal"
    )
    if os.path.isfile(os.path.join(bundled_model_path(used), MB_DELTA_FILE)):
        advice = f"use '--model {used}', whose correction was fitted on such cells"
    else:
        advice = "start this run from 'olcaoml predict'"
    return [
        f"warning: the correction of '{name}' was fitted on amorphous cells, "
        f"and 'olcaoml predict' keeps this run with '{used}' (not amorphous "
        f"by its handover); {measured} MB plus such a correction was further "
        f"from OLCAO's converged potential than '{used}' alone (docs/model.md, "
        f"stop 52): {advice}"
    ]


#: The loosest MB tolerance the recipe was measured with (docs/model.md,
#: stop 51): above it the MB potential has not settled.
MB_SETTLED = 1e-3


def mb_convergence_report(mb_potential: str) -> list[str]:
    """What OLCAO's MB SCF log beside ``mb_potential`` (gs_iter-mb.dat, where
    uolcao writes it) says of its convergence, with a warning when its last
    value is above :data:`MB_SETTLED`: OLCAO's MB SCF oscillates without
    converging on some amorphous cells (2 of 20 amorphous SiC training
    cells), and the corrected start of an unsettled MB potential can be
    worse than a model's alone."""
    from pyolcaoml.olcao import read_iterations

    log = os.path.join(os.path.dirname(os.path.abspath(mb_potential)), "gs_iter-mb.dat")
    if not os.path.isfile(log):
        return [f"(no {log}: the MB SCF's convergence is not checked)"]
    try:
        values = [float(v) for v in read_iterations(log).convergence]
    except (OSError, ValueError) as exc:
        return [f"warning: cannot read {log} ({exc}): convergence not checked"]
    if not values:
        return [f"warning: {log} has no iteration: convergence not checked"]
    last = values[-1]
    lines = [f"MB SCF ({log}): {len(values)} iterations, last value {last:.3g}"]
    if not last <= MB_SETTLED:
        lines.append(
            f"warning: the MB SCF had not settled (last value {last:.3g} > "
            f"{MB_SETTLED:g}); OLCAO's MB SCF oscillates on some amorphous "
            "cells: this start may be worse than 'olcaoml predict' alone"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.mb_delta import load_mb_delta, two_level_start
    from pyolcaoml.model.workflow import write_text_atomically
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.scfv import format_scfv

    run_dir = args.run_dir
    if not os.path.isfile(os.path.join(run_dir, "inputs", "olcao.dat")):
        raise CLIError(f"{run_dir} is not an OLCAO run directory (no inputs/olcao.dat)")
    if not os.path.isfile(args.mb_potential):
        raise CLIError(f"no such file: {args.mb_potential}")
    output = run_scfv_output(run_dir, args.output, args.force)
    used = None  # the model predict uses for the run, once known
    try:
        if args.model:
            name = args.model
        else:
            structure = read_run(run_dir).structure
            name, used = correction_choice(structure, args.threads)
        model = load_model(name, networks=False)
        delta = load_mb_delta(model.path)
        start = two_level_start(
            model, delta, run_dir, args.mb_potential, n_threads=args.threads
        )
        write_text_atomically(output, format_scfv(start.scfv), force=args.force)
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    print(
        f"corrected {start.scfv.n_types} atoms of {args.mb_potential} with "
        f"{model.path}: correction RMS {1000 * start.correction_rms_hartree:.2f} "
        f"mHa in V(r) ({model.metric.description}); descriptors "
        f"{start.descriptor_seconds:.2f} s"
    )
    print(f"wrote {output}")
    for line in mb_convergence_report(args.mb_potential):
        print(line)
    try:
        for line in domain_warning(run_dir, model.path, args.threads, used):
            print(line)
    except ModelError as exc:  # the check only: the start is written
        print(f"warning: cannot check the run against the handover ({exc})")
    found = sorted(glob.glob(os.path.join(run_dir, "*_scfV-*.dat")))
    if found:
        names = ", ".join(os.path.basename(f) for f in found)
        print(
            f"warning: {run_dir} holds {names}: uolcao starts from those before "
            "inputs/scfV.dat; move them aside before the FB SCF"
        )
    return 0
