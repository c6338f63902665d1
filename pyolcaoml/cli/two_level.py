"""``olcaoml two-level``: the whole two-level recipe in one command (OLCAO's
minimal-basis SCF run here, then ``from-mb``)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from pyolcaoml.cli.common import add_threads_argument, run_scfv_output

HELP = "run OLCAO's minimal-basis SCF and write the corrected full-basis start"

DESCRIPTION = """\
The two-level start of 'olcaoml from-mb' in one command, with the recipe
that was measured for each bundled correction (README, "Two-level start"):

  1. copy RUN_DIR's inputs (and olcao.skl) to MB_DIR (default: RUN_DIR-mb,
     beside it: uolcao starts from any gs_scfV-*.dat in a project folder,
     so the MB SCF must not run in RUN_DIR);
  2. write MB_DIR's start and set its tolerance:
       'sic' (near-crystalline SiC): 'olcaoml mb-start' (the model minus
           the correction), CONVERGENCE_TEST 1e-3, LAST_ITERATION 20;
       'sicam' (amorphous SiC): 'olcaoml predict', CONVERGENCE_TEST 1e-3;
       'asi' (amorphous Si): 'olcaoml predict', CONVERGENCE_TEST 1e-4;
  3. run OLCAO's driver there: python $OLCAO_DIR/bin/uolcao.py -scf MB
     (its output in MB_DIR/olcaoml-mb-scf.log);
  4. 'olcaoml from-mb RUN_DIR MB_DIR/gs_scfV-mb.dat': RUN_DIR's
     inputs/scfV.dat becomes the MB potential plus the correction.

Then run the FB SCF yourself: (cd RUN_DIR && uolcao -scf FB).
The correction (and the recipe) is that of the model 'olcaoml predict'
uses for the run, as in 'from-mb'; --model names another. Needs OLCAO:
OLCAO_DIR must hold bin/uolcao.py (OLCAO is never a dependency of
pyolcaoml; without it, this command stops before writing anything).

When it pays (OLCAO, fresh cells): on near-crystalline SiC with a Si
vacancy of about 30 atoms and more (15-27 FB iterations to 1e-4 against
25-35 from 'olcaoml predict' alone on fourteen fresh 31-atom cells, 0.98x
its CPU time); elsewhere it
saves FB iterations but not time (amorphous SiC 0.94-1.13x 'predict''s
CPU time per set, 64-atom a-Si 1.03-1.05x the default's).
RUN_DIR's inputs/scfV.dat is replaced only with --force (makeinput wrote
a default one); MB_DIR must not exist. Files are written to a temporary
name and renamed.
"""


@dataclass(frozen=True)
class Recipe:
    """How the MB SCF is started and stopped for one bundled correction."""

    start: str  # "mb-start" (model minus correction) or "predict"
    convergence: float  # the MB SCF's CONVERGENCE_TEST
    last_iteration: int | None  # its LAST_ITERATION (None: the run's own)


#: The measured recipes (docs/model.md: 'asi' stop 50, 'sicam' stop 51,
#: 'sic' stop 53); a model directory that is none of these gets 'sicam''s
#: with C and 'asi''s without.
RECIPES: dict[str, Recipe] = {
    "sic": Recipe("mb-start", 1e-3, 20),
    "sicam": Recipe("predict", 1e-3, None),
    "asi": Recipe("predict", 1e-4, None),
}
#: The log of OLCAO's MB SCF, in MB_DIR.
LOG_NAME = "olcaoml-mb-scf.log"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="the OLCAO run (makeinput's inputs, each atom its own type)",
    )
    p.add_argument(
        "--mb-dir",
        metavar="MB_DIR",
        help="where OLCAO's MB SCF runs (default: RUN_DIR-mb; must not exist)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help="bundled name or directory holding mb_delta.npz (default: as "
        "'olcaoml from-mb' chooses)",
    )
    p.add_argument("--force", action="store_true", help="replace RUN_DIR's scfV.dat")
    add_threads_argument(p)


def uolcao_driver() -> str:
    """$OLCAO_DIR/bin/uolcao.py; CLIError when it is not there."""
    from pyolcaoml.cli import CLIError

    home = os.environ.get("OLCAO_DIR")
    if not home:
        raise CLIError(
            "needs OLCAO: set OLCAO_DIR to OLCAO's installation (with "
            "bin/uolcao.py), or run the recipe's steps yourself (olcaoml "
            "from-mb --help)"
        )
    driver = os.path.join(home, "bin", "uolcao.py")
    if not os.path.isfile(driver):
        raise CLIError(f"OLCAO_DIR={home} has no bin/uolcao.py")
    return driver


def recipe_for(model_name: str, symbols) -> Recipe:
    """The recipe of a bundled correction's name, else by the elements."""
    base = os.path.basename(os.path.normpath(model_name))
    for name, recipe in RECIPES.items():
        if base in (name, f"{name}_model"):
            return recipe
    return RECIPES["sicam" if "C" in set(symbols) else "asi"]


def copy_run(run_dir: str, mb_dir: str) -> None:
    """The run's inputs (and olcao.skl) into a new MB_DIR."""
    os.makedirs(mb_dir)
    shutil.copytree(os.path.join(run_dir, "inputs"), os.path.join(mb_dir, "inputs"))
    skl = os.path.join(run_dir, "olcao.skl")
    if os.path.isfile(skl):
        shutil.copy(skl, mb_dir)
    kps = os.path.join(mb_dir, "inputs", "kp-pscf.dat")
    scf = os.path.join(mb_dir, "inputs", "kp-scf.dat")
    if not os.path.isfile(kps) and os.path.isfile(scf):  # uolcao opens it
        shutil.copy(scf, kps)


def mb_scf_env(mb_dir: str, default_temp: str) -> dict[str, str]:
    """The environment for OLCAO's driver in ``mb_dir``: uolcao.py keeps
    its scratch under $OLCAO_TEMP (else ``default_temp``), plus the part of
    the cwd after a component equal to $USER; one folder per MB SCF there,
    so that two at once do not share it."""
    env = dict(os.environ)
    base = env.get("OLCAO_TEMP") or default_temp
    env["OLCAO_TEMP"] = os.path.join(
        base, os.path.abspath(mb_dir).strip("/").replace("/", "_")
    )
    return env


def fresh_mb_scf_env(mb_dir: str, default_temp: str) -> dict[str, str]:
    """:func:`mb_scf_env`, with its scratch folder emptied first: that
    folder belongs to ``mb_dir`` alone, and an MB SCF killed there before
    leaves OLCAO's lock file in it, which stops the next one ("Lock file
    found")."""
    env = mb_scf_env(mb_dir, default_temp)
    shutil.rmtree(env["OLCAO_TEMP"], ignore_errors=True)
    return env


def run_mb_scf(driver: str, mb_dir: str) -> str:
    """OLCAO's MB SCF in ``mb_dir`` (its scratch in a folder of its own);
    the converged potential's path. CLIError naming the log on failure."""
    from pyolcaoml.cli import CLIError

    env = fresh_mb_scf_env(mb_dir, os.path.join(os.path.abspath(mb_dir), "scratch"))
    log = os.path.join(mb_dir, LOG_NAME)
    with open(log, "w") as fh:
        r = subprocess.run(
            [sys.executable, driver, "-scf", "MB"],
            cwd=mb_dir,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    pot = os.path.join(mb_dir, "gs_scfV-mb.dat")
    if r.returncode != 0 or not os.path.isfile(pot):
        raise CLIError(
            f"OLCAO's MB SCF failed in {mb_dir} (exit status {r.returncode}"
            f"{'' if os.path.isfile(pot) else ', no gs_scfV-mb.dat'}): see {log}; "
            "RUN_DIR is unchanged"
        )
    return pot


def run(args: argparse.Namespace) -> int:
    from pyolcaoml.cli import CLIError, build_parser
    from pyolcaoml.cli.from_mb import correction_choice
    from pyolcaoml.model import ModelError, load_model
    from pyolcaoml.model.mb_delta import load_mb_delta
    from pyolcaoml.olcao import read_run
    from pyolcaoml.olcao.errors import OlcaoFormatError
    from pyolcaoml.olcao.olcao_dat import edit_setting

    run_dir = os.path.normpath(args.run_dir)
    if not os.path.isfile(os.path.join(run_dir, "inputs", "olcao.dat")):
        raise CLIError(f"{run_dir} is not an OLCAO run directory (no inputs/olcao.dat)")
    run_scfv_output(run_dir, None, args.force)  # --force, before any work
    driver = uolcao_driver()
    mb_dir = args.mb_dir or run_dir + "-mb"
    if os.path.exists(mb_dir):
        raise CLIError(f"{mb_dir} exists: remove it or name another with --mb-dir")
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    try:
        structure = read_run(run_dir).structure
        name = args.model or correction_choice(structure, args.threads)[0]
        # the correction must be there before OLCAO runs
        load_mb_delta(load_model(name, networks=False).path)
    except (ModelError, OlcaoFormatError) as exc:
        raise CLIError(str(exc)) from exc
    recipe = recipe_for(name, structure.symbols)
    parser = build_parser()

    def step(argv: list[str]) -> None:
        """One command of the recipe; its output but its 'next:' advice,
        which this command follows."""
        sub = parser.parse_args(argv)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                sub._run(sub)
        finally:
            for line in out.getvalue().splitlines():
                if not line.startswith("next:"):
                    print(line, flush=True)

    copy_run(run_dir, mb_dir)
    if recipe.start == "mb-start":
        step(["mb-start", mb_dir, "--force", "--model", name, *threads])
    else:
        step(["predict", name, mb_dir, "--force", *threads])
    dat = os.path.join(mb_dir, "inputs", "olcao.dat")
    edit_setting(dat, "CONVERGENCE_TEST", lambda _: f"{recipe.convergence:g}")
    if recipe.last_iteration is not None:
        edit_setting(dat, "LAST_ITERATION", lambda _: str(recipe.last_iteration))
    limit = (
        "" if recipe.last_iteration is None else f", at most {recipe.last_iteration}"
    )
    print(
        f"OLCAO's MB SCF in {mb_dir} (to {recipe.convergence:g}{limit}; "
        f"log {LOG_NAME}) ...",
        flush=True,
    )
    pot = run_mb_scf(driver, mb_dir)
    step(["from-mb", run_dir, pot, "--force", "--model", name, *threads])
    print(f"next: (cd {run_dir} && uolcao -scf FB)")
    return 0
