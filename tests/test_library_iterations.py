"""The expected OLCAO iterations through libolcaoml (model format 8, API 2.4).

``olcaoml export`` writes the fit of a model's reference OLCAO runs
(olcao_iterations.json) into the model file; ``olcaoml_expected_iterations``
(Fortran: omlExpectedIterations) must give, for any structure, the integers
that Python's ``load_reference(MODEL).estimate(sigma, atoms)`` gives, and the
same extrapolation flag.  Checked on the bundled default model (predictor
log_max_sigma_log_atoms since stop 41), the bundled amorphous SiC model
(constant), a copy of the default model refitted with log_max_sigma, on
Hypothesis' pairs, the
reference runs' own values, the edges of their ranges and points next to a
half (where the rounding changes); end to end from the library's own sigma
on real cells; and on stale references, damaged files and bad arguments.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_library_support import (
    DEFAULT_MODEL,
    cached_model,
    compile_fortran,
    needs_gfortran,
)

from pyolcaoml.cli import main
from pyolcaoml.export import FORMAT_MAGIC, FORMAT_VERSION_ITERATIONS, format_model
from pyolcaoml.library import LibraryError, LibraryModel, load_library
from pyolcaoml.model import load_model
from pyolcaoml.model.olcao_iterations import (
    FILE_NAME,
    IterationReference,
    load_reference,
    write_reference,
)

REPO = Path(__file__).resolve().parent.parent
SICAM_MODEL = REPO / "data" / "sicam_model"
SCF_RUNS = REPO / "data" / "scf_test_runs"
OK, ARGUMENT, FORMAT, NULL, STATE = 0, 1, 7, 9, 10
BLOCK_KEYS = (
    "EXPECTED_ITERATIONS",
    "ITERATIONS_FIT",
    "DEFAULT_ITERATIONS_FIT",
    "ITERATIONS_DOMAIN",
)


# -- fixtures -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    return load_library()


@pytest.fixture(scope="module")
def sigma_model(tmp_path_factory) -> Path:
    """A copy of the default model whose reference is its own runs fitted
    with log_max_sigma (the predictor it shipped with until stop 41; now
    log_max_sigma_log_atoms)."""
    copy = tmp_path_factory.mktemp("sigma") / "model"
    shutil.copytree(DEFAULT_MODEL, copy)
    ref = load_reference(DEFAULT_MODEL)
    assert ref is not None and ref.predictor == "log_max_sigma_log_atoms"
    write_reference(copy, list(ref.cells), "log_max_sigma")
    return copy


@pytest.fixture(scope="module")
def models(tmp_path_factory, sigma_model) -> dict[str, tuple[Path, Path]]:
    """name: (model directory, its export) for the three predictors."""
    folder = tmp_path_factory.mktemp("iterations")
    out = {}
    for name, directory in (
        ("default", DEFAULT_MODEL),
        ("sicam", SICAM_MODEL),
        ("sigma", sigma_model),
    ):
        oml = folder / f"{name}.oml"
        oml.write_text(format_model(load_model(directory)))
        out[name] = (directory, oml)
    return out


@pytest.fixture(scope="module")
def opened(models):
    """name: (the Python reference, the loaded library model)."""
    handles = {name: LibraryModel(oml) for name, (_, oml) in models.items()}
    yield {name: (load_reference(models[name][0]), handles[name]) for name in models}
    for h in handles.values():
        h.close()


def python_answer(ref: IterationReference, sigma: float, atoms: int):
    """What the library must give: ((expected, low, high), default, outside)."""
    est = ref.estimate(sigma, atoms)
    assert est is not None
    return (est.iterations, est.low, est.high), est.default, est.extrapolated


def assert_agrees(ref: IterationReference, lib_model: LibraryModel, sigma, atoms):
    got = lib_model.expected_iterations(atoms, sigma)
    assert got == python_answer(ref, sigma, atoms), (sigma, atoms)


# -- the file -----------------------------------------------------------------------
def _block(lines: list[str]) -> list[list[str]]:
    return [ln.split() for ln in lines if ln.split()[0] in BLOCK_KEYS]


@pytest.mark.parametrize("name", ["default", "sicam", "sigma"])
def test_export_is_version_8_with_the_fit_as_its_last_records(models, name):
    """Version 8; the block is the last records before END, in order, and
    holds the reference's fits, counts and ranges as the same doubles."""
    directory, oml = models[name]
    ref = load_reference(directory)
    fit, default = ref.fits()
    lines = oml.read_text().splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} {FORMAT_VERSION_ITERATIONS}"
    assert FORMAT_VERSION_ITERATIONS == 8
    block = _block(lines)
    assert lines[-1] == "END" and len(block) == 4
    assert [" ".join(r) for r in block] == lines[-5:-1]
    head, fits, dflt, domain = block
    n_bad = sum(c.iterations is None for c in ref.cells)
    assert head[:4] == [
        "EXPECTED_ITERATIONS",
        ref.predictor,
        str(len(ref.cells)),
        str(n_bad),
    ]
    assert float(head[4]) == ref.convergence
    assert fits[0] == "ITERATIONS_FIT" and dflt[0] == "DEFAULT_ITERATIONS_FIT"
    for record, f in ((fits, fit), (dflt, default)):
        assert [float(v) for v in record[1:]] == [f.a, f.b, f.c, f.q_low, f.q_high]
    (s_lo, s_hi), (n_lo, n_hi) = ref.domain()
    assert domain[0] == "ITERATIONS_DOMAIN"
    assert [float(domain[1]), float(domain[2])] == [s_lo, s_hi]
    assert [int(v) for v in domain[3:]] == [
        n_lo,
        n_hi,
        int(ref.predictor != "constant"),
        1,  # the size applies to every predictor
    ]
    # the default model keeps its handover threshold, right before the
    # block; the amorphous SiC model has none
    handover = [ln for ln in lines if ln.startswith("HANDOVER_MEDIAN_SIGMA ")]
    assert len(handover) == (0 if name == "sicam" else 1)
    if handover:
        assert lines[-6] == handover[0]


# -- agreement with Python -----------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["default", "sicam", "sigma"]),
    log_sigma=st.floats(math.log(1e-6), math.log(0.5)),
    atoms=st.integers(1, 100_000),
)
def test_any_structure_gives_pythons_integers(opened, name, log_sigma, atoms):
    ref, m = opened[name]
    assert_agrees(ref, m, math.exp(log_sigma), atoms)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(["default", "sicam", "sigma"]),
    sigma=st.floats(1e-300, 1e300, allow_nan=False, allow_infinity=False),
    atoms=st.integers(1, 2**31 - 1),
)
def test_far_outside_the_runs_too(opened, name, sigma, atoms):
    """Absurd sigmas and sizes: still Python's integers (and extrapolated)."""
    ref, m = opened[name]
    assert_agrees(ref, m, sigma, atoms)


@pytest.mark.parametrize("name", ["default", "sicam", "sigma"])
def test_the_reference_runs_and_the_edges_of_their_ranges(opened, name):
    """Each run's own sigma and atoms; the range ends exactly (inside) and
    one double / one atom beyond them (outside for the predictors that
    use them)."""
    ref, m = opened[name]
    for c in ref.cells:
        assert_agrees(ref, m, c.max_sigma_hartree, c.atoms)
    (s_lo, s_hi), (n_lo, n_hi) = ref.domain()
    mid = math.sqrt(s_lo * s_hi)
    for sigma in (s_lo, s_hi, np.nextafter(s_lo, 0), np.nextafter(s_hi, 1)):
        for atoms in (n_lo, n_hi, max(n_lo - 1, 1), n_hi + 1):
            assert_agrees(ref, m, float(sigma), atoms)
    inside = m.expected_iterations(n_lo, s_lo)[2]
    assert inside is False
    below = m.expected_iterations(n_lo, float(np.nextafter(s_lo, 0)))[2]
    above = m.expected_iterations(n_hi, float(np.nextafter(s_hi, 1)))[2]
    assert below is above is (ref.predictor != "constant")
    # the size is checked for every predictor (a constant was measured on
    # cells of those sizes only)
    assert m.expected_iterations(n_hi + 1, mid)[2] is True
    assert m.expected_iterations(n_lo, mid)[2] is False


def _half_crossings(ref: IterationReference, atoms: int) -> list[float]:
    """Sigmas next to a half of each count (expected, low, high, from both
    starts): solved for the point, then the doubles around it."""
    out = []
    for f in ref.fits():
        if f is None or f.b == 0.0:
            continue
        base = f.c * math.log(atoms)
        for shift in (0.0, f.q_low, f.q_high):
            for k in range(2, 30):
                s = math.exp((k + 0.5 - shift - base - f.a) / f.b)
                if not 1e-8 < s < 1.0:
                    continue
                for step in range(-8, 9):
                    out.append(float(s * (1 + step * 2.0**-52)))
    return out


@pytest.mark.parametrize("name", ["default", "sigma"])
def test_points_next_to_a_half_round_as_in_python(opened, name):
    """Where a count changes: both sides of many halves are met (the test
    proves it crosses them), and every point gives Python's integers."""
    ref, m = opened[name]
    crossed = 0
    for atoms in (8, 17, 64):
        sigmas = _half_crossings(ref, atoms)
        assert len(sigmas) > 50
        seen = {}
        for sigma in sigmas:
            assert_agrees(ref, m, sigma, atoms)
            seen.setdefault(round(math.log(sigma), 6), set()).add(
                python_answer(ref, sigma, atoms)
            )
        crossed += sum(len(v) > 1 for v in seen.values())
    assert crossed > 20


def test_a_constant_at_a_half_rounds_up(tmp_path):
    """A constant whose median is 7.5 iterations (and whose percentiles
    are halves too): 8, as Python says; the range rounds up as well."""
    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, copy)
    cells = list(load_reference(DEFAULT_MODEL).cells)[:10]
    cells = [
        dataclasses.replace(c, iterations=7 + k % 2, default_iterations=20 + k)
        for k, c in enumerate(cells)
    ]
    write_reference(copy, cells, "constant")
    ref = load_reference(copy)
    fit, default = ref.fits()
    assert fit.a == 7.5 and default.a == 24.5
    oml = tmp_path / "half.oml"
    oml.write_text(format_model(load_model(copy)))
    with LibraryModel(oml) as m:
        got = m.expected_iterations(16, 5e-3)
    assert got == python_answer(ref, 5e-3, 16)
    assert got[0][0] == 8 and got[1][0] == 25


def test_atoms_outside_their_range_are_extrapolated(opened):
    """log_max_sigma_log_atoms: a size outside the runs' sizes is flagged,
    and the count grows with the atoms as Python's does."""
    ref, m = opened["default"]
    (s_lo, s_hi), (n_lo, n_hi) = ref.domain()
    sigma = math.sqrt(s_lo * s_hi)
    assert m.expected_iterations(n_lo, sigma)[2] is False
    assert m.expected_iterations(n_hi, sigma)[2] is False
    assert m.expected_iterations(n_hi + 1, sigma)[2] is True
    assert m.expected_iterations(max(n_lo - 1, 1), sigma)[2] is True
    for atoms in (1, n_lo - 1, n_hi + 1, 1000, 10**6):
        assert_agrees(ref, m, sigma, atoms)
    # log_max_sigma ignores the size in its counts, and says when the size
    # lies outside its runs' (stop 42)
    dref, dm = opened["sigma"]
    far, near = dm.expected_iterations(10**6, sigma), dm.expected_iterations(8, sigma)
    assert far[:2] == near[:2] and far[2] is True


# -- end to end ---------------------------------------------------------------------
@pytest.mark.parametrize("run", ["si8_r0.15_seed73003", "si16_int_T_r0.05_seed73008"])
def test_from_the_librarys_own_sigma_like_olcaoml_predict(models, run):
    """The library predicts the cell, takes its largest sigma and gives the
    estimate that Python's prediction of the same cell gives."""
    from pyolcaoml.model.olcao_iterations import estimate_for
    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    directory, oml = models["default"]
    r = read_run(SCF_RUNS / run)
    sd = r.structure_dat
    model = load_model(directory)
    py = predict(r.structure, model)
    est = py.expected_iterations()
    assert est is not None
    with LibraryModel(oml) as m:
        el = m.element_indices(sd.atom_elements)
        _, sigma = m.predict_ensemble(sd.cell_bohr, sd.atom_positions_bohr, el)
        got = m.expected_iterations(len(sigma), float(sigma.max()))
    assert len(sigma) == len(py.symbols) == est.atoms
    np.testing.assert_allclose(sigma, py.sigma, rtol=1e-12, atol=0)
    assert got == ((est.iterations, est.low, est.high), est.default, est.extrapolated)
    lib_est = estimate_for(model, sigma)
    assert got == ((lib_est.iterations, lib_est.low, lib_est.high), lib_est.default,
                   lib_est.extrapolated)  # fmt: skip


LINE = re.compile(
    r"OLCAO from this start: about (\d+) iterations(?: to \S+)? "
    r"\(80 % range (\d+)-?(\d*)\); from OLCAO's default start about "
    r"(\d+) \((\d+)-?(\d*)\)"
)


def _counts(text: str) -> tuple[int, ...]:
    m = LINE.search(text)
    assert m, text
    lo, hi, dlo, dhi = m.group(2), m.group(3), m.group(5), m.group(6)
    return (
        int(m.group(1)),
        int(lo),
        int(hi or lo),
        int(m.group(4)),
        int(dlo),
        int(dhi or dlo),
    )


@needs_gfortran
@pytest.mark.parametrize(
    ("run", "outside"),
    [
        ("si8_r0.15_seed73003", False),
        ("si16_int_T_r0.05_seed73008", False),
        ("asi32_s10700", True),  # 32 atoms: beyond the reference cells' 8-17
    ],
)
def test_the_fortran_example_prints_what_olcaoml_predict_prints(
    models, tmp_path, capsys, run, outside
):
    """fortran/examples/predict_scfv.f90 (what OLCAO would call) ends with
    the iterations to expect; they are the ones 'olcaoml predict MODEL
    RUN_DIR' prints for the same run, and both say when they are a guess."""
    from test_library_example import EXAMPLES, copy_run_inputs

    directory, oml = models["default"]
    exe = tmp_path / "predict_scfv"
    done = compile_fortran(EXAMPLES / "predict_scfv.f90", exe)
    assert done.returncode == 0, done.stderr
    py_run = copy_run_inputs(SCF_RUNS / run, tmp_path / "python")
    assert main(["predict", str(directory), str(py_run), "--force"]) == 0
    py_text = capsys.readouterr().out
    f_run = copy_run_inputs(SCF_RUNS / run, tmp_path / "fortran")
    args = [str(exe), str(oml), str(f_run), str(f_run / "inputs" / "scfV.dat")]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _counts(done.stdout) == _counts(py_text)
    assert ("outside the reference runs" in done.stdout) == outside
    assert ("this is a rough guide" in py_text) == outside


# -- a stale reference --------------------------------------------------------------
def test_a_stale_reference_is_left_out_with_a_warning(tmp_path, capsys, lib):
    """The export goes on without the block (version 7, as before the
    reference existed), 'olcaoml export' says why on one line naming the
    file, and the library then gives -1 everywhere."""
    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, copy)
    ref_file = copy / FILE_NAME
    meta = json.loads(ref_file.read_text())
    meta["model_json_sha256"] = "0" * 64
    ref_file.write_text(json.dumps(meta))
    out = tmp_path / "stale.oml"
    assert main(["export", str(copy), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    warnings = [ln for ln in captured.err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1, captured.err
    assert str(ref_file) in warnings[0]
    assert "made for another model.json" in warnings[0]
    assert "without the expected OLCAO iterations" in warnings[0]
    lines = out.read_text().splitlines()
    assert lines[0] == f"{FORMAT_MAGIC} 7"
    assert not _block(lines)
    assert lines[-2].startswith("HANDOVER_MEDIAN_SIGMA ")
    # without notes to collect it, format_model warns in Python's way
    with pytest.warns(UserWarning, match="made for another model.json"):
        text = format_model(load_model(copy))
    assert text.splitlines()[0] == f"{FORMAT_MAGIC} 7"
    with LibraryModel(out) as m:
        assert m.expected_iterations(8, 1e-3) is None
        expected, default, outside, status, _ = _raw(lib, m.handle, 8, 1e-3)
        assert (expected, default, outside, status) == ([-1] * 3, [-1] * 3, 0, OK)
        # without the numbers there is nothing to check the arguments for
        assert _raw(lib, m.handle, 0, float("nan"))[3] == OK


def _raw(lib, handle, atoms, sigma):
    expected = (ctypes.c_int * 3)(7, 7, 7)
    default = (ctypes.c_int * 3)(7, 7, 7)
    outside = ctypes.c_int(7)
    buf = ctypes.create_string_buffer(512)
    status = lib.olcaoml_expected_iterations(
        handle, atoms, sigma, expected, default, ctypes.byref(outside), buf, 512
    )
    out = (list(expected), list(default), outside.value)
    return (*out, status, buf.value.decode())


# -- damaged files ------------------------------------------------------------------
#: A block as the export writes it (the default model's numbers at the
#: time of writing), fixed here so that the faults below do not depend on
#: the shipped reference.
SMALL_BLOCK = (
    "EXPECTED_ITERATIONS log_max_sigma 52 3 1.0000000000000000e-04",
    "ITERATIONS_FIT 1.8036125487771848e+01 1.8194919276770647e+00 "
    "0.0000000000000000e+00 -1.5133977621361525e+00 1.3686566540656648e+00",
    "DEFAULT_ITERATIONS_FIT 2.9471982245997562e+01 2.4307337143636611e+00 "
    "0.0000000000000000e+00 -4.0194646002582859e+00 4.9795687485788669e+00",
    "ITERATIONS_DOMAIN 2.7987669445406834e-04 8.1165324009635411e-03 8 17 1 0",
)


def small_block_answer(sigma: float, atoms: int, block=SMALL_BLOCK):
    """What SMALL_BLOCK must give, from Python's IterationFit."""
    from pyolcaoml.model.olcao_iterations import IterationFit

    fits = {
        ln.split()[0]: IterationFit(*map(float, ln.split()[1:]))
        for ln in block
        if "_FIT " in ln
    }
    lo, hi = map(float, block[-1].split()[1:3])
    default = fits.get("DEFAULT_ITERATIONS_FIT")
    return (
        fits["ITERATIONS_FIT"].evaluate(sigma, atoms),
        None if default is None else default.evaluate(sigma, atoms),
        not lo <= sigma <= hi,
    )


@pytest.fixture(scope="module")
def small() -> dict:
    """Pieces of a small ensemble file (the 30-feature test model's network
    twice, a unit GRAM) and SMALL_BLOCK."""
    text = Path(cached_model()[1]).read_text()
    lines = text.splitlines()
    start, stop = lines.index("NETWORK Si"), lines.index("END_NETWORK")
    n = int(lines[start + 1].split()[1])
    gram = [" ".join("1.0" if i == j else "0.0" for j in range(n)) for i in range(n)]
    net = lines[start : stop + 1]
    head = lines[1 : start - 1]
    body = ["NUM_MEMBERS 2", "NUM_NETWORKS 2", *net, *net, "UNCERTAINTY Si"]
    body += ["SIGMA_SCALE 2.0", "SIGMA_FLOOR 1.0e-04", "GRAM", *gram]
    single = [*head, "NUM_NETWORKS 1", *net]
    return {"head": head, "body": body, "block": list(SMALL_BLOCK), "single": single}


def _file(small, block, version=8, handover=None, single=False) -> str:
    top = [f"OLCAOML_MODEL {version}"]
    middle = small["single"] if single else [*small["head"], *small["body"]]
    extra = [handover] if handover else []
    return "\n".join([*top, *middle, *extra, *block, "END"]) + "\n"


def _edit(block: list[str], key: str, k: int, value: str) -> list[str]:
    """The block with word k of record key replaced by value."""
    out = []
    for line in block:
        words = line.split()
        if words[0] == key:
            words[k] = value
        out.append(" ".join(words))
    return out


def _swap_domain(block: list[str]) -> list[str]:
    words = block[-1].split()
    words[1], words[2] = words[2], words[1]
    return [*block[:-1], " ".join(words)]


_FIT = "ITERATIONS_FIT must be five finite numbers"
_DOMAIN_SIGMA = "ITERATIONS_DOMAIN: need 0 < sigmaMin <= sigmaMax < 1 (Hartree)"
#: case: (make the block (or the whole file) from the good one, the record
#: whose line the message must name, what the message must say)
BLOCK_FAULTS = {
    "nan in a fit": (
        lambda b: _edit(b, "ITERATIONS_FIT", 1, "NaN"),
        "ITERATIONS_FIT",
        _FIT,
    ),
    "inf in the default fit": (
        lambda b: _edit(b, "DEFAULT_ITERATIONS_FIT", 2, "-Infinity"),
        "DEFAULT_ITERATIONS_FIT",
        "DEFAULT_ITERATIONS_FIT must be five finite numbers",
    ),
    "four numbers in a fit": (
        lambda b: _edit(b, "ITERATIONS_FIT", 5, ""),
        "ITERATIONS_FIT",
        _FIT,
    ),
    "a slash in a fit": (
        lambda b: _edit(b, "ITERATIONS_FIT", 5, "/"),
        "ITERATIONS_FIT",
        _FIT,
    ),
    "a repeat count in a fit": (
        lambda b: _edit(b, "ITERATIONS_FIT", 4, "2*1.0"),
        "ITERATIONS_FIT",
        _FIT,
    ),
    "qLow above qHigh": (
        lambda b: _edit(b, "ITERATIONS_FIT", 4, "9.0"),
        "ITERATIONS_FIT",
        "ITERATIONS_FIT: need qLow <= qHigh",
    ),
    "an atoms term for log_max_sigma": (
        lambda b: _edit(b, "ITERATIONS_FIT", 3, "1.0"),
        "ITERATIONS_FIT",
        "ITERATIONS_FIT: predictor log_max_sigma needs c = 0",
    ),
    "not converged above the runs": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 3, "99"),
        "EXPECTED_ITERATIONS",
        "EXPECTED_ITERATIONS: need 0 <= numNotConverged <= numCells, got 99 and 52",
    ),
    "negative count": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 2, "-1"),
        "EXPECTED_ITERATIONS",
        "EXPECTED_ITERATIONS: need 0 <= numNotConverged <= numCells",
    ),
    "count not an integer": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 2, "52.5"),
        "EXPECTED_ITERATIONS",
        'expected "EXPECTED_ITERATIONS predictor numCells numNotConverged',
    ),
    "convergence of 1": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 4, "1.0"),
        "EXPECTED_ITERATIONS",
        "EXPECTED_ITERATIONS: the convergence value must be a finite number in (0, 1)",
    ),
    "nan convergence": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 4, "nan"),
        "EXPECTED_ITERATIONS",
        "EXPECTED_ITERATIONS: the convergence value must be a finite number in (0, 1)",
    ),
    "unknown predictor": (
        lambda b: _edit(b, "EXPECTED_ITERATIONS", 1, "log_mean_sigma"),
        "EXPECTED_ITERATIONS",
        'EXPECTED_ITERATIONS: unknown predictor "log_mean_sigma"',
    ),
    "sigmaMin above sigmaMax": (_swap_domain, "ITERATIONS_DOMAIN", _DOMAIN_SIGMA),
    "sigma of 1 Hartree": (
        lambda b: _edit(b, "ITERATIONS_DOMAIN", 2, "1.0"),
        "ITERATIONS_DOMAIN",
        _DOMAIN_SIGMA,
    ),
    "infinite sigma": (
        lambda b: _edit(b, "ITERATIONS_DOMAIN", 2, "inf"),
        "ITERATIONS_DOMAIN",
        _DOMAIN_SIGMA,
    ),
    "no atoms": (
        lambda b: _edit(b, "ITERATIONS_DOMAIN", 3, "0"),
        "ITERATIONS_DOMAIN",
        "ITERATIONS_DOMAIN: need 1 <= atomsMin <= atomsMax, got 0 and 17",
    ),
    "flags of another predictor": (
        lambda b: _edit(b, "ITERATIONS_DOMAIN", 5, "0"),
        "ITERATIONS_DOMAIN",
        "ITERATIONS_DOMAIN: the ranges that apply (the last two numbers) must "
        "be 1 and 0 or 1 for predictor log_max_sigma",
    ),
    "an atoms flag of 2": (
        lambda b: _edit(b, "ITERATIONS_DOMAIN", 6, "2"),
        "ITERATIONS_DOMAIN",
        "ITERATIONS_DOMAIN: the ranges that apply (the last two numbers) must "
        "be 1 and 0 or 1 for predictor log_max_sigma",
    ),
    "size predictor without its atoms range": (
        lambda b: _edit(
            _edit(b, "EXPECTED_ITERATIONS", 1, "log_max_sigma_log_atoms"),
            "ITERATIONS_DOMAIN",
            6,
            "0",
        ),
        "ITERATIONS_DOMAIN",
        "ITERATIONS_DOMAIN: the ranges that apply (the last two numbers) must "
        "be 1 1 for predictor log_max_sigma_log_atoms",
    ),
    "missing ITERATIONS_FIT": (
        lambda b: [ln for ln in b if not ln.startswith("ITERATIONS_FIT")],
        "DEFAULT_ITERATIONS_FIT",
        'expected ITERATIONS_FIT, got "DEFAULT_ITERATIONS_FIT',
    ),
    "missing ITERATIONS_DOMAIN": (
        lambda b: b[:-1],
        "END",
        'expected ITERATIONS_DOMAIN, got "END"',
    ),
    "version 8 without the block": (
        lambda b: [],
        "END",
        'expected EXPECTED_ITERATIONS, got "END"',
    ),
}


def _load(lib, path: Path) -> tuple[int, str, int | None]:
    h = ctypes.c_void_p()
    buf = ctypes.create_string_buffer(1024)
    status = lib.olcaoml_model_load(str(path).encode(), ctypes.byref(h), buf, 1024)
    value = h.value
    if value:
        lib.olcaoml_model_free(ctypes.byref(h))
    return status, buf.value.decode(), value


def _line_of(text: str, key: str) -> int:
    lines = [ln.strip() for ln in text.splitlines()]
    return next(i + 1 for i, ln in enumerate(lines) if ln.split()[:1] == [key])


@pytest.mark.parametrize("case", list(BLOCK_FAULTS))
def test_a_damaged_block_is_a_format_error_naming_the_record_and_line(
    lib, small, tmp_path, case
):
    make, key, fragment = BLOCK_FAULTS[case]
    block = make(small["block"])
    assert block != small["block"]
    text = _file(small, block)
    bad = tmp_path / "bad.oml"
    bad.write_text(text)
    status, msg, h = _load(lib, bad)
    assert status == FORMAT and h is None, msg
    assert f"bad.oml, line {_line_of(text, key)}: {fragment}" in msg, msg


def test_the_good_small_file_loads_and_agrees(small, tmp_path):
    """The small file with the good block loads, with or without the
    handover record before it, and gives IterationFit's integers; without
    DEFAULT_ITERATIONS_FIT the default triple is -1 (None)."""
    good = tmp_path / "good.oml"
    points = ((1e-3, 8), (5e-3, 17), (1e-5, 200), (0.9, 1))
    for handover in (None, "HANDOVER_MEDIAN_SIGMA 3.3e-03"):
        good.write_text(_file(small, small["block"], handover=handover))
        with LibraryModel(good) as m:
            assert m.handover_threshold == (3.3e-3 if handover else 0.0)
            for sigma, atoms in points:
                want = small_block_answer(sigma, atoms)
                assert m.expected_iterations(atoms, sigma) == want
    no_default = [ln for ln in small["block"] if not ln.startswith("DEFAULT_")]
    good.write_text(_file(small, no_default))
    with LibraryModel(good) as m:
        for sigma, atoms in points:
            want = small_block_answer(sigma, atoms, no_default)
            assert want[1] is None
            assert m.expected_iterations(atoms, sigma) == want


def test_the_atoms_flag_of_a_sigma_only_fit(small, tmp_path):
    """Files written since stop 42 say 1 (the size applies to every
    predictor); older ones say 0 and keep meaning it: the same counts,
    only the outside flag differs, for a size beyond 8-17 atoms."""
    path = tmp_path / "m.oml"
    sigma = 1e-3  # inside the block's sigma range
    answers = {}
    for flag in ("0", "1"):
        block = _edit(small["block"], "ITERATIONS_DOMAIN", 6, flag)
        path.write_text(_file(small, block))
        with LibraryModel(path) as m:
            answers[flag] = [m.expected_iterations(n, sigma) for n in (8, 17, 18, 200)]
    assert [a[:2] for a in answers["0"]] == [a[:2] for a in answers["1"]]
    assert [a[2] for a in answers["0"]] == [False] * 4
    assert [a[2] for a in answers["1"]] == [False, False, True, True]


@pytest.mark.parametrize(
    ("version", "handover", "single", "key", "fragment"),
    [
        (7, "HANDOVER_MEDIAN_SIGMA 3.3e-03", False, "EXPECTED_ITERATIONS",
         "EXPECTED_ITERATIONS needs format version 8, the file says 7"),
        (2, None, False, "EXPECTED_ITERATIONS",
         "EXPECTED_ITERATIONS needs format version 8, the file says 2"),
        (8, None, True, "EXPECTED_ITERATIONS",
         "EXPECTED_ITERATIONS needs an ensemble (NUM_MEMBERS > 1)"),
    ],
)  # fmt: skip
def test_the_block_where_it_does_not_belong(
    lib, small, tmp_path, version, handover, single, key, fragment
):
    """In an older version's file (whatever came before it), or in a
    single network's (no sigma to compare): a format error on its line."""
    text = _file(small, small["block"], version, handover, single)
    bad = tmp_path / "bad.oml"
    bad.write_text(text)
    status, msg, h = _load(lib, bad)
    assert status == FORMAT and h is None, msg
    assert f"bad.oml, line {_line_of(text, key)}: {fragment}" in msg, msg


# -- arguments and handles ----------------------------------------------------------
@pytest.mark.parametrize(
    ("atoms", "sigma", "name"),
    [
        (0, 1e-3, "num_atoms: must be at least 1, got 0"),
        (-5, 1e-3, "num_atoms: must be at least 1, got -5"),
        (8, float("nan"), "max_sigma_hartree: must be a finite number > 0"),
        (8, float("inf"), "max_sigma_hartree: must be a finite number > 0"),
        (8, -1e-3, "max_sigma_hartree: must be a finite number > 0"),
        (8, 0.0, "max_sigma_hartree: must be a finite number > 0"),
    ],
)
def test_bad_arguments_are_refused(lib, opened, atoms, sigma, name):
    _, m = opened["default"]
    expected, default, outside, status, msg = _raw(lib, m.handle, atoms, sigma)
    assert status == ARGUMENT and name in msg, msg
    assert (expected, default, outside) == ([-1] * 3, [-1] * 3, 0)
    with pytest.raises(LibraryError, match="OLCAOML_ERR_ARGUMENT|num_atoms|max_sig"):
        m.expected_iterations(atoms, sigma)


def test_null_pointers_and_a_freed_handle(lib, models):
    h = ctypes.c_void_p()
    oml = str(models["default"][1]).encode()
    assert lib.olcaoml_model_load(oml, ctypes.byref(h), None, 0) == OK
    three = (ctypes.c_int * 3)()
    one = ctypes.c_int()
    buf = ctypes.create_string_buffer(512)
    call = lib.olcaoml_expected_iterations
    assert call(h, 8, 1e-3, None, three, ctypes.byref(one), buf, 512) == NULL
    assert "expected" in buf.value.decode()
    assert call(h, 8, 1e-3, three, None, ctypes.byref(one), buf, 512) == NULL
    assert "default_expected" in buf.value.decode()
    assert call(h, 8, 1e-3, three, three, None, buf, 512) == NULL
    assert "outside" in buf.value.decode()
    assert call(None, 8, 1e-3, three, three, ctypes.byref(one), buf, 512) == NULL
    assert call(h, 8, 1e-3, three, three, ctypes.byref(one), None, 0) == OK
    est = load_reference(models["default"][0]).estimate(1e-3, 8)
    assert list(three) == list(est.default) and one.value == 0
    freed = ctypes.c_void_p(h.value)
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    status = call(freed, 8, 1e-3, three, three, ctypes.byref(one), buf, 512)
    assert status == STATE and "freed" in buf.value.decode()
    assert list(three) == [-1] * 3 and one.value == 0


# -- Fortran ------------------------------------------------------------------------
FORTRAN = """\
program iterations
   use OML_Library
   implicit none
   type (OML_ModelType) :: model
   character (len=omlMessageLen) :: message
   character (len=4096) :: path
   integer :: status, expected(3), defaultExpected(3)
   logical :: outside
   call get_command_argument (1, path)
   call omlLoadModel (model, trim(path), status, message)
   if (status /= omlSuccess) error stop 1
   write (*, '(l1)') omlHasExpectedIterations(model)
   call omlExpectedIterations (model, 17, 3.0e-3_omlDouble, expected, &
         & defaultExpected, outside, status, message)
   write (*, '(i0,6(1x,i0),1x,l1)') status, expected, defaultExpected, outside
   call omlExpectedIterations (model, 0, 3.0e-3_omlDouble, expected, &
         & defaultExpected, outside, status, message)
   write (*, '(i0,1x,a)') status, trim(message)
   call omlFreeModel (model)
end program iterations
"""


@needs_gfortran
def test_the_fortran_interface(models, tmp_path):
    """use OML_Library: omlHasExpectedIterations, omlExpectedIterations
    (the module files the library installs are enough)."""
    source = tmp_path / "iterations.f90"
    source.write_text(FORTRAN)
    exe = tmp_path / "iterations"
    done = compile_fortran(source, exe)
    assert done.returncode == 0, done.stderr
    ref = load_reference(DEFAULT_MODEL)
    est = ref.estimate(3.0e-3, 17)
    out = subprocess.run(
        [str(exe), str(models["default"][1])], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "T"
    want = [0, est.iterations, est.low, est.high, *est.default]
    assert lines[1].split() == [*map(str, want), "TF"[not est.extrapolated]]
    assert lines[2] == "1 numAtoms: must be at least 1, got 0"
