"""benchmarks/bench_scf.py never needs OLCAO: without it, it says why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_benchmark


def _load():
    return load_benchmark("bench_scf")


@pytest.mark.parametrize("olcao_dir", [None, "/nonexistent/olcao"])
def test_skips_with_reason_without_olcao(tmp_path, monkeypatch, capsys, olcao_dir):
    if olcao_dir is None:
        monkeypatch.delenv("OLCAO_DIR", raising=False)
    else:
        monkeypatch.setenv("OLCAO_DIR", olcao_dir)
    out = tmp_path / "b.json"
    assert _load().main(["some/run", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed and "OLCAO_DIR" in printed
    report = json.loads(out.read_text())
    assert report["rows"] == [] and "OLCAO_DIR" in report["skipped"]


def test_iteration_summary_counts_like_olcao():
    """Iterations to a tolerance = first iteration whose value is below it
    (values from a real run's gs_iter-fb.dat, data/scf_test_runs)."""
    values = [
        0.382,
        0.297,
        0.0551,
        0.0242,
        0.0033,
        0.00194,
        0.00115,
        1.77e-4,
        8.24e-5,
        9.9e-6,
        7.76e-6,
        3.54e-6,
        9.3e-7,
    ]
    s = _load().summarise(values, -31.00894372, -31.00894381)
    assert s["iterations_to_1e-4"] == 9 and s["iterations_to_1e-6"] == 13
    assert s["first_value"] == 0.382
    assert s["abs_dE_hartree"] == pytest.approx(9e-8, abs=1e-12)
    # the last printed value rounds to the test itself: OLCAO stopped there
    # because its unrounded value was below 1e-6 (si8_r0.05_seed74012)
    s = _load().summarise([*values[:-1], 1.0e-6], -31.0, -31.0)
    assert s["iterations_to_1e-6"] == 13
    s = _load().summarise(values[:-1], -31.0, -31.0)
    assert s["iterations_to_1e-6"] is None
    # ... unless the run was at its LAST_ITERATION: then the limit may have
    # stopped it with an unrounded value just above 1e-6
    last = [*values[:-1], 1.0e-6]
    assert _load().summarise(last, -31.0, -31.0, 13)["iterations_to_1e-6"] is None
    assert _load().summarise(last, -31.0, -31.0, 60)["iterations_to_1e-6"] == 13


def test_json_written_after_each_run_and_atomically(tmp_path):
    """The table is rewritten after every run (a benchmark stopped part way
    keeps what it measured); a row that cannot be written leaves the last
    good file as it was and no temporary file behind."""
    mod = _load()
    out = tmp_path / "b.json"
    mod.write_json(str(out), [{"run": "a", "start": "default"}])
    mod.write_json(str(out), [{"run": "a", "start": "default"}, {"run": "b"}])
    assert [r["run"] for r in json.loads(out.read_text())["rows"]] == ["a", "b"]
    good = out.read_text()
    with pytest.raises(TypeError):
        mod.write_json(str(out), [{"run": object()}])  # not JSON
    assert out.read_text() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


@pytest.mark.parametrize(
    ("model", "run"),
    [
        ("default_model", "data/scf_test_runs/si8_r0.10_seed60001"),
        ("sic_model", "data/sic/test_runs/defect/sic16_vacC_r0.05_seed10610"),
    ],
)
def test_member_starts_average_to_the_network_start(model, run):
    """--members: each member's start, per potential type in olcao.dat order
    (a real OLCAO run's types), and their mean is the network's own start
    (the ensemble mean that `start_coefficients` gets through the model's
    prediction path); the members differ from each other."""
    from pyolcaoml.model import load_model
    from pyolcaoml.model.workflow import data_path
    from pyolcaoml.olcao import read_run

    root = Path(__file__).resolve().parents[1]
    mod = _load()
    m = load_model(data_path(model))
    r = read_run(str(root / run))
    members = mod.member_coefficients(r, m)
    network = mod.start_coefficients(r, m, "network")
    assert len(members) == m.n_members > 1
    assert all(len(types) == len(network) for types in members)
    for t, want in enumerate(network):
        got = np.mean([types[t] for types in members], axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    spread = max(
        np.abs(members[0][t] - members[1][t]).max() for t in range(len(network))
    )
    assert spread > 1e-6


SRC_RUN = Path(__file__).resolve().parents[1] / "data/scf_test_runs/si8_r0.10_seed10100"


def _unfinished(tmp_path) -> Path:
    """A real run's inputs, skeleton and meta.json without its SCF."""
    import shutil

    run = tmp_path / "unfinished"
    shutil.copytree(SRC_RUN / "inputs", run / "inputs")
    shutil.copy(SRC_RUN / "olcao.skl", run / "olcao.skl")
    shutil.copy(SRC_RUN / "meta.json", run / "meta.json")
    return run


@pytest.mark.parametrize(
    "starts", [["network"], ["default", "network", "--reuse-default"]]
)
def test_unfinished_run_is_named_before_olcao_starts(
    tmp_path, monkeypatch, capsys, starts
):
    """A run directory without an SCF log (OLCAO stopped, or never ran)
    is refused by name before any OLCAO run starts (it was a traceback)
    when no default start runs here to measure it against."""
    run = _unfinished(tmp_path)
    runner = tmp_path / "run_olcao.py"
    runner.write_text("raise SystemExit('must not run')\n")
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _load().main([str(run), "--runner", str(runner), "--starts", *starts])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{run}: no SCF history" in err and "not a finished OLCAO run" in err


#: a stand-in for run_olcao.py: it writes what the real one writes for an
#: SCF (meta.json, gs_iter-fb.dat) with an energy per start, after waiting
#: up to 30 s for the other start's run to begin (a file per start in
#: BARRIER, when set): run one at a time, the first one fails
FAKE_RUNNER = """
import json, os, shutil, sys, time
wd, od = sys.argv[1], sys.argv[2]
label = os.path.basename(os.path.dirname(wd)).rsplit("-", 1)[1]
energy = {"default": -31.0, "network": -31.0 + 5e-7}[label]
barrier = os.environ.get("BARRIER")
if barrier:
    open(os.path.join(barrier, label), "w").close()
    for _ in range(300):
        if len(os.listdir(barrier)) == 2:
            break
        time.sleep(0.1)
    else:
        sys.exit("the other start never began")
os.makedirs(od, exist_ok=True)
shutil.copy(os.path.join(SRC, "gs_iter-fb.dat"), od)
meta = {"wall_time_scf_s": 1.0, "total_energy_Ha": energy,
        "last_iteration_limit": 60, "initpot": "--initpot" in sys.argv}
json.dump(meta, open(os.path.join(od, "meta.json"), "w"))
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_unfinished_run_measured_against_its_default_start(
    tmp_path, monkeypatch, capsys, jobs
):
    """An unfinished run (inputs only) with the default start among the
    starts: OLCAO's default start runs first and the other starts' |dE| is
    taken against its energy; the solver error, which needs the converged
    potential, is left out. --jobs 2 runs the two SCFs at once (the
    stand-in runner fails unless the other start's run has begun) and the
    rows keep their order."""
    run = _unfinished(tmp_path)
    runner = tmp_path / "run_olcao.py"
    runner.write_text(f"SRC = {str(SRC_RUN)!r}\n" + FAKE_RUNNER)
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    if jobs == "2":
        (tmp_path / "barrier").mkdir()
        monkeypatch.setenv("BARRIER", str(tmp_path / "barrier"))
    out = tmp_path / "b.json"
    args = [str(run), "--runner", str(runner), "--jobs", jobs, "--json", str(out)]
    assert _load().main([*args, "--starts", "network", "default"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["start"] for r in rows] == ["default", "network"]
    assert rows[0]["abs_dE_hartree"] == 0.0
    assert rows[1]["abs_dE_hartree"] == pytest.approx(5e-7, abs=1e-12)
    assert all(r["solver_error_hartree"] is None for r in rows)
    assert rows[0]["iterations_to_1e-4"] == 9  # the real log the stand-in copies
    if jobs == "2":
        assert sorted(p.name for p in (tmp_path / "barrier").iterdir()) == [
            "default",
            "network",
        ]


def test_jobs_must_be_positive(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OLCAO_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        _load().main([str(SRC_RUN), "--jobs", "0"])
    assert exc.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_olcao_stopping_without_a_log_is_named(tmp_path):
    """An SCF that ends without gs_iter-fb.dat (OLCAO stopped; the runner
    still wrote meta.json) is a RuntimeError that names the start and
    quotes OLCAO's log, not a FileNotFoundError from deep inside."""
    from types import SimpleNamespace

    src = Path(__file__).resolve().parents[1] / "data" / "scf_test_runs"
    runner = tmp_path / "run_olcao.py"
    runner.write_text(
        "import json, os, sys\n"
        "od = sys.argv[2]\n"
        "os.makedirs(od, exist_ok=True)\n"
        "open(os.path.join(od, 'uolcao.log'), 'w').write('Fortran success "
        "file missing.')\n"
        "json.dump({'status': 'failed'}, open(os.path.join(od, 'meta.json'), 'w'))\n"
    )
    run = SimpleNamespace(path=str(src / "si8_r0.10_seed10100"))
    with pytest.raises(RuntimeError, match="network.*without an iteration log") as e:
        _load().run_olcao(
            str(runner), run, None, str(tmp_path / "w"), (2, 2, 2), "network"
        )
    assert "Fortran success file missing" in str(e.value)
    assert "'failed'" in str(e.value)
