"""A small Si + C model (tests/conftest.py) on real SiC OLCAO runs it never saw.

The references are OLCAO's own converged potentials (data/sic/runs, made by
data/sic/make_sic_runs.py) and OLCAO's default start (atomicPDB coeff1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from pyolcaoml.cli import main
from pyolcaoml.model.potential import DEFAULT_METRIC, geometric_alphas
from pyolcaoml.olcao import load_atomic_potential, read_run, read_scfv

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "data" / "sic" / "runs"
#: A real OLCAO run with OLCAO's default C exponents (0.2 ... 1e6 Bohr^-2),
#: while the model's C has Si's (0.15 ... 1e6); never trained on.
CDEF = RUNS / "c_default_exponents" / "sic8_r0.10_seed10012_cdef"


def copy_inputs(src: Path, dest: Path) -> Path:
    shutil.copytree(src / "inputs", dest / "inputs")
    shutil.copy(src / "olcao.skl", dest / "olcao.skl")
    return dest


def per_element_rms(run, coeffs) -> dict[str, float]:
    """RMS V(r) error (Hartree) per element against the run's converged V."""
    true = run.converged_coeffs_per_atom
    sym = list(run.structure.symbols)
    out = {}
    for el in sorted(set(sym)):
        rows = [i for i, s in enumerate(sym) if s == el]
        al = run.alphas_per_type[run.atom_pot_types[rows[0]] - 1]
        out[el] = DEFAULT_METRIC.rms(
            np.array([coeffs[i] for i in rows]), np.array([true[i] for i in rows]), al
        )
    return out


def test_real_run_with_default_c_exponents_is_projected(
    tmp_path, capsys, sic_model_dir
) -> None:
    run = read_run(CDEF)
    c_alphas = geometric_alphas(0.2, 1e6, 16)
    sym = list(run.structure.symbols)
    c_type = run.atom_pot_types[sym.index("C")] - 1
    np.testing.assert_allclose(run.alphas_per_type[c_type], c_alphas, rtol=1e-7)

    work = copy_inputs(CDEF, tmp_path / "run")
    assert main(["predict", str(sic_model_dir), str(work), "--force"]) == 0
    out = capsys.readouterr().out
    assert "C: the run's exponents differ" in out
    assert "Si: the run's exponents differ" not in out  # Si matches: no projection
    scfv = read_scfv(work / "inputs" / "scfV.dat")
    # potential type t belongs to atom atom_of_type[t]
    atom_of_type = {t - 1: i for i, t in enumerate(run.atom_pot_types)}
    pred = [None] * len(sym)
    for t, block in enumerate(scfv.spin_up):
        pred[atom_of_type[t]] = block.coeffs
    err = per_element_rms(run, pred)
    # OLCAO's default start for this very run: atomicPDB coeff1 on its exponents
    iso = {el: load_atomic_potential(el).coeffs for el in ("Si", "C")}
    err_iso = per_element_rms(run, [iso[s] for s in sym])
    for el in ("Si", "C"):
        assert err[el] < err_iso[el] / 3, (el, err, err_iso)
