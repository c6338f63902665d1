"""olcaoml predict: write a predicted scfV.dat for a structure or a run."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from pyolcaoml.cli.common import add_threads_argument, run_scfv_output

HELP = "predict the potential of a structure or OLCAO run and write scfV.dat"
DESCRIPTION = """\
Predict every atom's potential coefficients A_i (Hartree) with MODEL and write
them as an scfV.dat in OLCAO's own format, one potential type per atom.
MODEL is optional: left out (or given as 'default') it is the model bundled
with pyolcaoml (its path is shown by 'olcaoml info'), Si only; a structure
with C then gets the bundled Si + C model, also called 'sic' (for Si alone
it predicts exactly what 'default' does, at about twice the cost), and a
structure of Si alone on which the default model's median sigma exceeds
the threshold it records ('olcaoml info' prints it: an amorphous one)
gets the bundled a-Si model, 'asi' (docs/model.md, stop 29); a structure
with C on which the Si + C model's median applicability distance exceeds
the threshold it records (an amorphous one) gets the bundled amorphous SiC
model, 'sicam' (stop 36). Naming 'default' (or 'sic') keeps that model.

  olcaoml predict [MODEL] STRUCTURE -o scfV.dat
      STRUCTURE: olcao.skl, structure.dat or any file ASE reads; potential
      type i is atom i (in file order).
  olcaoml predict [MODEL] RUN_DIR [-o FILE]
      RUN_DIR holds inputs/olcao.dat and inputs/structure.dat (after
      makeinput ... -target -atom 1 -sphere 50 -operand types -relate diff,
      so that each atom is its own potential type). Writes
      RUN_DIR/inputs/scfV.dat (or FILE with -o) in the order of olcao.dat's
      potential types, after checking that every type belongs to exactly
      one atom and that its element is the model's. Where a type's
      exponents (NUM_ALPHAS, range) differ from the model's, the predicted
      V(r) is projected onto the run's own Gaussians by least squares in
      the V(r) metric and the projection error is printed per element.
      makeinput already wrote a default inputs/scfV.dat, so replacing it
      needs --force (the file keeps its permissions).

Every argument, the model's elements and the output path are checked before
the descriptors are computed or TensorFlow is imported. Charge-density
columns 3-5 are the isolated atom's (from the run's own inputs/scfV.dat, or
the model's copy of atomicPDB coeff1): only column 1 is predicted. Files are
written to a temporary name and renamed, never overwritten without --force;
new files get the usual 0666 & ~umask permissions.

examples:
  olcaoml predict POSCAR -o scfV.dat                 # bundled model
  olcaoml predict mymodel olcao.skl -o scfV.dat --plot potential.png
  olcaoml predict runs/asi512 --force       # a-Si: the bundled a-Si model
many inputs:
  olcaoml predict [MODEL] INPUT... -o FILE.h5|FOLDER [--workers N]
      MODEL left out: each structure gets the bundled model that it would
      get alone (default; 'sic' with C; 'asi' or 'sicam' for an amorphous
      one: a note names each one handed over); the HDF5 file records each
      structure's model (/structures/model) and OLCAO's expected iterations
      to 1e-4 from it (/structures/expected_iterations: expected, low and
      high, -1 where the model has no reference; from OLCAO's default start
      in /structures/expected_default_iterations; the reference cells it
      came from, 'general' or a group such as 'si_vacancy', in
      /structures/iteration_group). A named MODEL ('default',
      'sic', 'asi', 'sicam' or a folder) predicts every structure.
      many structures (several files, directories, every frame of a
      trajectory ASE reads, run directories): their coefficients go, in
      input order, to one HDF5 file, or to FOLDER/<name>/scfV.dat each
      (without -o, run directories get RUN_DIR/inputs/scfV.dat). An input
      that fails is reported by name and the others go on (exit status 1)
      unless --fail-fast. --workers/--scheduler: Dask, see docs/parallel.md.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        metavar="MODEL",
        help="model directory from 'olcaoml train' (default: the bundled "
        "model, also called 'default')",
    )
    p.add_argument(
        "target",
        metavar="STRUCTURE|RUN_DIR",
        help="structure file, or an OLCAO run directory",
    )
    p.add_argument(
        "more_targets",
        nargs="*",
        metavar="INPUT",
        help="more structures, directories or trajectories (many-input mode)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="scfV.dat to write (required for a structure file; "
        "for a run directory the default is RUN_DIR/inputs/scfV.dat)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw V(r) of the atoms nearest to, at median distance "
        "from and farthest from the model's average atom, beside the "
        "isolated and average atom (.png, .pdf or .svg)",
    )
    p.add_argument(
        "--report",
        metavar="FILE.csv",
        help="write one row per atom (atom, element, sigma_v_ha, domain, "
        "nearest_angstrom, flags); see docs/uncertainty.md",
    )
    add_threads_argument(p)
    p.add_argument(
        "-q", "--quiet", action="store_true", help="many inputs: no progress"
    )
    from pyolcaoml.cli.parallel_options import add_parallel_arguments

    add_parallel_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError, many
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.handover import kept_default_note, note_for
    from pyolcaoml.model.workflow import (
        check_run,
        coefficients_and_trust,
        hand_over_amorphous,
        predict_scfv_for_run,
    )
    from pyolcaoml.outputs import OutputPathError, check_output
    from pyolcaoml.predict import PotentialPrediction, compute_descriptors

    if args.model is not None and many.is_input(args.model):
        # 'olcaoml predict IN IN...': no MODEL (a model is a folder holding
        # model.json, never a file or an OLCAO run)
        args.more_targets = [args.target, *getattr(args, "more_targets", [])]
        args.model, args.target = None, args.model
    targets = [args.target, *getattr(args, "more_targets", [])]
    if many.wants_many(targets, args.output, args):
        return many.run_predict(args, args.model, targets)
    target = args.target
    if not os.path.exists(target):
        raise CLIError(f"no such file or directory: {target}")
    is_run = os.path.isdir(target)
    if is_run and os.path.isfile(os.path.join(target, "model.json")):
        raise CLIError(
            f"{target} is a model directory; give the STRUCTURE or RUN_DIR to "
            "predict after it"
        )
    if is_run and not os.path.isfile(os.path.join(target, "inputs", "olcao.dat")):
        raise CLIError(
            f"{target} is a directory but not an OLCAO run (no inputs/olcao.dat)"
        )
    if not is_run and not args.output:
        raise CLIError("give -o/--output FILE for the scfV.dat of a structure file")
    # Cheap checks first: output paths, model metadata, elements (no TensorFlow).
    try:
        output = run_scfv_output(target, args.output, args.force)
        if args.plot:
            check_output(
                args.plot, force=args.force, option="--plot", suffixes=PLOT_SUFFIXES
            )
        if args.report:
            check_output(
                args.report, force=args.force, option="--report", suffixes=(".csv",)
            )
    except OutputPathError as exc:
        raise CLIError(str(exc)) from None
    try:
        from pyolcaoml.model.saved import bundled_alternative

        model = load_model(args.model, networks=False)
        structure = None
        if not is_run:
            from pyolcaoml.structure import read_structure

            try:
                structure = read_structure(target)
            except Exception as exc:  # ASE raises many kinds for unknown formats
                raise CLIError(f"cannot read structure {target}: {exc}") from exc
        other = bundled_alternative(
            args.model, lambda: _run_symbols(target) if is_run else structure.symbols
        )
        if other is not None:
            model = load_model(other, networks=False)
            print(
                f"the structure has {', '.join(sorted(model.elements))}: using "
                f"the bundled model for them ({os.path.basename(other)})",
                flush=True,
            )
        if is_run:
            structure = check_run(model, target).run.structure
        else:
            model.check_elements(list(structure.symbols))
        n = len(structure)
        print(f"model {model.path}", flush=True)
        # The work: network (TensorFlow), descriptors, scfV.dat.
        t0 = time.perf_counter()
        model = load_model(model.path)
        t_load = time.perf_counter() - t0
        symbols = list(structure.symbols)
        t0 = time.perf_counter()
        x = compute_descriptors(model, structure, args.threads, progress=True)
        t1 = time.perf_counter()
        _stage(n, f"network: {n} atoms ...")
        coeffs, sigma, report, seconds = coefficients_and_trust(
            model, structure, x, n_threads=args.threads
        )
        asi = hand_over_amorphous(
            args.model, model, structure, x, sigma, args.threads, report.domain
        )
        if asi is not None:  # amorphous: the bundled a-Si or amorphous SiC model
            print(note_for(model, symbols, sigma, report.domain), flush=True)
            model, x, coeffs, sigma, report, more = asi
            print(f"model {model.path}", flush=True)
            seconds += more
        elif args.model is not None:
            note = kept_default_note(
                model, symbols, sigma, report.domain, named=args.model
            )
            if note:
                print(note, flush=True)
        t2 = t1 + seconds
        _stage(n, f"writing {output} ...")
        pred = PotentialPrediction(
            symbols=symbols,
            coeffs=coeffs,
            alphas=[model.elements[s].alphas for s in symbols],
            model=model,
            descriptor_seconds=t1 - t0,
            network_seconds=t2 - t1,
            sigma=sigma,
            report=report,
            structure=structure,
        )
        if is_run:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                plan, _ = predict_scfv_for_run(
                    model,
                    target,
                    force=args.force,
                    n_threads=args.threads,
                    output=output,
                    prediction=pred,
                )
            for w in caught:
                print(f"warning: {w.message}")
            for el, rep in sorted(plan.projection_report.items()):
                nm, am0, am1 = rep["model_alphas"]
                nr, ar0, ar1 = rep["run_alphas"]
                print(
                    f"{el}: the run's exponents differ from the model's "
                    f"({nr} alphas {ar0:g}..{ar1:g} vs {nm} {am0:g}..{am1:g} "
                    f"Bohr^-2): projected by least squares in V(r) for "
                    f"{rep['n_types']} type(s); projection error RMS "
                    f"{1000 * rep['rms_v_hartree']:.3f} mHa, max "
                    f"{1000 * rep['max_v_hartree']:.3f} mHa "
                    f"({model.metric.description})"
                )
        else:
            pred.write_scfv(output, force=args.force)
        t3 = time.perf_counter()
        if args.plot:
            pred.plot(args.plot, title=f"{target}: predicted with {model.path}")
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    counts: dict[str, int] = {}
    for s in pred.symbols:
        counts[s] = counts.get(s, 0) + 1
    what = ", ".join(f"{k} {s}" for s, k in counts.items())
    print(
        f"predicted {n} atoms ({what}): descriptors "
        f"{pred.descriptor_seconds:.2f} s, network {pred.network_seconds:.2f} s "
        f"(+{t_load:.1f} s loading it), scfV.dat {t3 - t2:.2f} s"
    )
    print(f"wrote {output}")
    if args.plot:
        print(f"wrote {os.path.abspath(args.plot)}")
    from pyolcaoml.model.report import write_report

    if pred.report is not None:
        for line in pred.report.summary():
            print(line)
        if args.report:
            try:
                write_report(args.report, pred.report)
            except ModelError as exc:
                raise CLIError(str(exc)) from exc
            print(f"wrote {os.path.abspath(args.report)}")
    from pyolcaoml.model.olcao_iterations import estimate_or_note

    estimate, note = estimate_or_note(pred.model, pred.sigma, structure)
    if note is not None:
        print(f"warning: {note}")
    for line in estimate.summary() if estimate is not None else []:
        print(line)
    from pyolcaoml.model.handover import is_bundled

    if is_bundled(pred.model, "sic"):
        from pyolcaoml.model.sic_vacancy import predict_note

        group = (
            None if estimate is None or estimate.group is None else estimate.group.name
        )
        for line in predict_note(structure, args.threads, group):
            print(line)
    return 0


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _stage(n_atoms: int, text: str) -> None:
    """A line on stderr before each long step of a large structure (the
    descriptors have their own progress bar)."""
    from pyolcaoml.predict import CHUNK_ATOMS

    if n_atoms > 2 * CHUNK_ATOMS:
        print(text, file=sys.stderr, flush=True)


def _run_symbols(run_dir: str) -> list[str]:
    """The run's element symbols; [] when it cannot be read (check_run then
    says why)."""
    from pyolcaoml.olcao import read_run

    try:
        return list(read_run(run_dir).structure.symbols)
    except Exception:  # noqa: BLE001 - reported by check_run
        return []
