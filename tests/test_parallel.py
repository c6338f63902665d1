"""Many items serially or on Dask: pyolcaoml.parallel and the many-input CLI.

One LocalCluster of 2 worker processes is shared by the module. The
reference for every Dask result is the serial path (the target is
bit-identical output), and the serial path itself is checked against the
descriptor API and the per-structure predict command.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from functools import partial
from pathlib import Path

import ase.io
import h5py
import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.bispectrum import Bispectrum
from pyolcaoml.cli import main
from pyolcaoml.parallel import ItemFailed, SerialExecutor, make_executor

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "data" / "default_model"
OLCAO_RUNS = REPO / "tests" / "data" / "olcao"
SKL = REPO / "data" / "structures" / "asi64_s102.skl"
TWOJMAX = ["--twojmax", "4"]


def square(x: int) -> int:
    if x == 5:
        raise ValueError("five is bad")
    return x * x


def slow_square(x: int) -> int:
    time.sleep(0.02 * ((7 * x) % 5))  # completes out of input order
    return square(x)


def frames(n: int, seed: int = 0) -> list:
    """Rattled 8-atom Si cells (a small a-Si stand-in), one per frame."""
    out = []
    for k in range(n):
        atoms = bulk("Si", cubic=True)
        atoms.rattle(0.15, seed=seed + k)
        out.append(atoms)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of inputs: a 6-frame trajectory, a single-frame POSCAR, the
    bundled a-Si skeleton, a README (passed over) and OLCAO run dirs."""
    d = tmp_path_factory.mktemp("inputs")
    ase.io.write(d / "melt.extxyz", frames(6))
    ase.io.write(d / "POSCAR", frames(1, seed=40)[0], format="vasp")
    shutil.copy(SKL, d / "asi64.skl")
    (d / "README.md").write_text("not a structure\n")
    shutil.copytree(OLCAO_RUNS / "si8_r0.10_seed1100", d / "runs" / "si8_r")
    return d


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: no clash, no warning
            env={"OMP_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        import cloudpickle

        # the helpers of this module travel by value (workers cannot import it)
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        yield c
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def h5_contents(path: Path) -> dict:
    """Every dataset and attribute of an HDF5 file, apart from 'created'."""
    out: dict = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj) -> None:
            for k, v in obj.attrs.items():
                if k != "created":
                    out[f"{name}@{k}"] = v
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]

        visit("/", f)
        f.visititems(visit)
    return out


def assert_same_h5(a: Path, b: Path) -> None:
    ca, cb = h5_contents(a), h5_contents(b)
    assert sorted(ca) == sorted(cb)
    for k in ca:
        va, vb = np.asarray(ca[k]), np.asarray(cb[k])
        assert va.dtype == vb.dtype and va.shape == vb.shape, k
        if va.dtype.kind == "O":  # variable-length strings
            assert va.tolist() == vb.tolist(), k
        else:
            assert va.tobytes() == vb.tobytes(), k  # bit for bit


# -- the executors ------------------------------------------------------------------
def test_serial_executor_order_and_failures() -> None:
    ex = make_executor()
    assert isinstance(ex, SerialExecutor)
    with ex:
        got = list(ex.map(square, range(8), fail_fast=False))
        assert [g for i, g in enumerate(got) if i != 5] == [
            i * i for i in range(8) if i != 5
        ]
        assert isinstance(got[5], ItemFailed)
        assert got[5].index == 5 and got[5].item == 5
        assert isinstance(got[5].error, ValueError)
        with pytest.raises(ItemFailed, match="five is bad") as info:
            list(ex.map(square, range(8)))
        assert info.value.index == 5
    assert isinstance(make_executor(workers=1), SerialExecutor)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scheduler": "tcp://127.0.0.1:1", "workers": 2}, "not both"),
        ({"workers": -1}, ">= 0"),
        ({"threads_per_worker": 0}, ">= 1"),
    ],
)
def test_make_executor_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        make_executor(**kwargs)


def test_serial_without_dask(monkeypatch, inputs: Path, tmp_path: Path, capsys):
    """Dask missing (imports fail): serial still works, Dask asks for it."""
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import -> ImportError
    with pytest.raises(ImportError, match=r"pyolcaoml\[dask\]"):
        make_executor(workers=2)
    out = tmp_path / "b.h5"
    argv = ["bispectrum", str(inputs / "melt.extxyz"), "-o", str(out), *TWOJMAX]
    assert main(argv) == 0
    with h5py.File(out) as f:
        assert f["structures/name"].shape == (6,)
    assert main([*argv, "--force", "--workers", "2"]) == 2
    assert "pip install 'pyolcaoml[dask]'" in capsys.readouterr().err


def test_dask_executor_order_and_failures(client) -> None:
    from pyolcaoml.parallel import DaskExecutor

    with DaskExecutor(client) as ex:
        got = list(ex.map(slow_square, range(40), fail_fast=False))
        assert [g for i, g in enumerate(got) if i != 5] == [
            i * i for i in range(40) if i != 5
        ]
        assert isinstance(got[5], ItemFailed) and got[5].index == 5
        assert isinstance(got[5].error, ValueError)
        assert "square" in got[5].traceback
        with pytest.raises(ItemFailed, match="five is bad"):
            list(ex.map(slow_square, range(40)))
        # lazily consumed: a generator of items works, in order
        assert list(ex.map(abs, (-i for i in range(100)))) == list(range(100))
    assert client.status == "running"  # a client we passed in stays open


def first_slow(x: int) -> int:
    if x == 0:
        time.sleep(1.5)
    return x


def test_progress_follows_completions_not_output(client, monkeypatch) -> None:
    """The bar counts items as workers finish them: while item 0 is still
    running, the items after it are already counted."""
    import tqdm

    from pyolcaoml.parallel import DaskExecutor

    counts: list[int] = []

    class Bar:
        def __init__(self, **kw) -> None:
            self.n = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def update(self, n: int = 1) -> None:
            self.n += n
            counts.append(self.n)

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    with DaskExecutor(client) as ex:
        results = ex.map(first_slow, range(12), desc="test")
        assert next(results) == 0  # item 0 is out only after it finished...
        assert counts[-1] > 1  # ...and the bar had counted later items first
        assert list(results) == list(range(1, 12))
    assert counts[-1] == 12


# -- inputs -------------------------------------------------------------------------
def test_inputs_expand_and_name(inputs: Path) -> None:
    from pyolcaoml.cli.many import expand_inputs, iter_items

    sources = expand_inputs([str(inputs)])
    assert [os.path.relpath(s.path, inputs) for s in sources] == [
        "POSCAR",
        "asi64.skl",
        "melt.extxyz",
        "runs/si8_r",
    ]
    assert [s.is_run for s in sources] == [False, False, False, True]
    items = list(iter_items(sources))
    names = [os.path.relpath(i.name, inputs) for i in items]
    assert names == [
        "POSCAR",
        "asi64.skl",
        *[f"melt.extxyz@{k}" for k in range(6)],
        "runs/si8_r",
    ]
    assert [i.frame for i in items] == [-1, -1, *range(6), -1]
    assert len({i.label for i in items}) == len(items)
    assert [len(i.structure) for i in items[:3]] == [8, 64, 8]
    assert items[-1].run_dir is not None and items[-1].structure is None
    # a missing path is refused before anything runs
    from pyolcaoml.cli import CLIError

    with pytest.raises(CLIError, match="no such file or directory: nowhere"):
        expand_inputs(["nowhere"])


# -- the CLI: serial against Dask ------------------------------------------------------
def test_bispectrum_many_serial_and_dask_identical(
    client, inputs: Path, tmp_path: Path
) -> None:
    serial, dask_, local = tmp_path / "s.h5", tmp_path / "d.h5", tmp_path / "l.h5"
    assert main(["bispectrum", str(inputs), "-o", str(serial), "-q", *TWOJMAX]) == 0
    addr = client.scheduler.address
    argv = ["bispectrum", str(inputs), "-q", *TWOJMAX]
    assert main([*argv, "-o", str(dask_), "--scheduler", addr]) == 0
    assert_same_h5(serial, dask_)
    # a LocalCluster of our own (started and closed by the command)
    assert main([*argv, "-o", str(local), "--workers", "2"]) == 0
    assert_same_h5(serial, local)
    # and the serial file holds what the descriptor API computes
    calc = Bispectrum(twojmax=4)
    with h5py.File(serial) as f:
        names = list(f["structures/name"].asstr())
        b = f["atoms/descriptors"][()]
        start = f["structures/atom_start"][()]
        assert f.attrs["format"] == "pyolcaoml-descriptors"
    assert len(names) == 9
    traj = ase.io.read(inputs / "melt.extxyz", index=":")
    k = names.index(str(inputs / "melt.extxyz@3"))
    np.testing.assert_array_equal(b[start[k] : start[k] + 8], calc.compute(traj[3]))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_predict_many_serial_and_dask_identical(
    client, inputs: Path, tmp_path: Path
) -> None:
    traj = str(inputs / "melt.extxyz")
    poscar = str(inputs / "POSCAR")
    addr = ["--scheduler", client.scheduler.address]
    base = ["predict", str(MODEL), traj, poscar, "-q"]
    s_h5, d_h5 = tmp_path / "s.h5", tmp_path / "d.h5"
    assert main([*base, "-o", str(s_h5)]) == 0
    assert main([*base, "-o", str(d_h5), *addr]) == 0
    assert_same_h5(s_h5, d_h5)
    s_dir, d_dir = tmp_path / "s", tmp_path / "d"
    assert main([*base, "-o", str(s_dir)]) == 0
    assert main([*base, "-o", str(d_dir), *addr]) == 0
    files = sorted(p.relative_to(s_dir) for p in s_dir.rglob("scfV.dat"))
    assert [str(p.parent) for p in files] == [
        "POSCAR",
        *[f"melt@{k}" for k in range(6)],
    ]
    for rel in files:
        assert (s_dir / rel).read_bytes() == (d_dir / rel).read_bytes()
    # each file is what 'predict MODEL STRUCTURE -o scfV.dat' writes
    ase.io.write(tmp_path / "f2.extxyz", ase.io.read(traj, index=2))
    one = tmp_path / "one.dat"
    assert (
        main(["predict", str(MODEL), str(tmp_path / "f2.extxyz"), "-o", str(one)]) == 0
    )
    assert (s_dir / "melt@2" / "scfV.dat").read_bytes() == one.read_bytes()
    # and the HDF5 coefficients are the same numbers
    from pyolcaoml.olcao import read_scfv

    with h5py.File(s_h5) as f:
        start = f["structures/atom_start"][()][2]  # melt@2
        idx = list(f["elements/Si/atom_index"][()])
        rows = f["elements/Si/coeffs"][()][idx.index(start) : idx.index(start) + 8]
    np.testing.assert_allclose(rows, np.array(read_scfv(one).coeffs("up")), rtol=1e-9)


def test_predict_runs_in_place_serial_and_dask(client, tmp_path: Path) -> None:
    """Run directories without -o: RUN_DIR/inputs/scfV.dat each, as the
    one-run command writes it, whether serial or on Dask."""
    src = OLCAO_RUNS / "si8_r0.10_seed1100"  # every atom its own type
    runs = {}
    for name in ("one", "serial", "dask"):
        d = tmp_path / name
        (d / "a").mkdir(parents=True)
        for r in ("a", "b"):
            shutil.copytree(src / "inputs", d / r / "inputs")
        runs[name] = d
    assert main(["predict", str(MODEL), str(runs["one"] / "a"), "--force"]) == 0
    # the inputs right after MODEL (MODEL is optional: argparse cannot take
    # more positionals after an option once the optional one is filled)
    argv = ["predict", str(MODEL)]
    opts = ["--force", "-q"]
    serial = [str(runs["serial"] / "a"), str(runs["serial"] / "b")]
    assert main([*argv, *serial, *opts]) == 0
    addr = ["--scheduler", client.scheduler.address]
    assert main([*argv, str(runs["dask"]), *opts, *addr]) == 0  # both runs
    expected = (runs["one"] / "a" / "inputs" / "scfV.dat").read_bytes()
    for name in ("serial", "dask"):
        for r in ("a", "b"):
            assert (runs[name] / r / "inputs" / "scfV.dat").read_bytes() == expected


def test_convert_serial_and_dask_identical(client, tmp_path: Path) -> None:
    s, d = tmp_path / "s.h5", tmp_path / "d.h5"
    argv = ["convert", str(OLCAO_RUNS), "--quiet", *TWOJMAX]
    assert main([*argv, "-o", str(s)]) == 0
    # a scheduler file as 'dask scheduler --scheduler-file' writes it (the
    # client reads its address)
    scheduler_file = tmp_path / "scheduler.json"
    info = {"type": "Scheduler", "address": client.scheduler.address, "workers": {}}
    scheduler_file.write_text(json.dumps(info))
    assert main([*argv, "-o", str(d), "--scheduler", str(scheduler_file)]) == 0
    assert_same_h5(s, d)
    with h5py.File(d) as f:
        assert list(f["structures/name"].asstr()) == [
            "si8",
            "si8_r0.10_seed1100",
            "si8_types",
        ]


def test_unreachable_scheduler(tmp_path: Path, capsys) -> None:
    pytest.importorskip("distributed")
    argv = ["bispectrum", str(SKL), str(SKL), "-o", str(tmp_path / "b.h5")]
    assert main([*argv, "--scheduler", str(tmp_path / "none.json")]) == 2
    assert "no such scheduler file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bad_inputs_reported_others_written(
    client, inputs: Path, tmp_path: Path, capsys
) -> None:
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("this is not\nan xyz file\n")
    carbon = tmp_path / "diamond.extxyz"  # no radius for C: fails on a worker
    ase.io.write(carbon, bulk("C", cubic=True))
    traj = str(inputs / "melt.extxyz")
    for where in ([], ["--scheduler", client.scheduler.address]):
        out = tmp_path / "b.h5"
        argv = ["bispectrum", traj, str(garbage), str(carbon), traj, *TWOJMAX, "-q"]
        assert main([*argv, "-o", str(out), "--force", *where]) == 1
        err = capsys.readouterr().err
        assert "failed (2)" in err
        assert f"{garbage}: cannot read" in err
        assert f"{carbon}: radii: no radius for element(s) C" in err
        with h5py.File(out) as f:
            assert f["structures/name"].shape == (12,)
            assert "diamond" in f.attrs["failed"]
        # --fail-fast: stop, name the input, write nothing
        out2 = tmp_path / "ff.h5"
        assert main([*argv, "-o", str(out2), "--fail-fast", *where]) == 2
        assert f"{garbage}: cannot read" in capsys.readouterr().err
        assert not out2.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_train_workers_need_an_ensemble(capsys) -> None:
    argv = ["train", "missing.h5", "-o", "m", "--workers", "2"]
    assert main(argv) == 2
    assert "ensemble" in capsys.readouterr().err


# -- a worker killed mid-run ---------------------------------------------------------
def die_once(marker: str, settings_json: str, n_threads, item):
    """The descriptor task, except that the first worker to reach frame 3
    kills its own process (SIGKILL: no clean-up, like the OOM killer)."""
    from pyolcaoml.cli.many import descriptors_of_item

    if item.name.endswith("@3") and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return descriptors_of_item(settings_json, n_threads, item)


def test_worker_killed_mid_run_loses_nothing(
    client, inputs: Path, tmp_path: Path, monkeypatch
):
    from pyolcaoml.cli import many
    from pyolcaoml.cli.many import expand_inputs, iter_items, write_descriptors
    from pyolcaoml.parallel import DaskExecutor

    calc = Bispectrum(twojmax=4)
    sources = expand_inputs([str(inputs / "melt.extxyz")] * 4)  # 24 frames
    before = set(client.run(os.getpid).values())
    marker = tmp_path / "killed"

    def write(path: Path, executor, **kw):
        return write_descriptors(
            iter_items(sources), calc.to_dict(), calc.labels, str(path), executor, **kw
        )

    serial = write(tmp_path / "s.h5", SerialExecutor(), n_threads=1)
    monkeypatch.setattr(many._Rows, "BLOCK", 5)  # and rows written in blocks
    with DaskExecutor(client) as ex:
        killed = write(
            tmp_path / "k.h5", ex, n_threads=1, item_func=partial(die_once, str(marker))
        )
    assert int(marker.read_text()) in before  # a worker process did die
    assert killed.failures == [] and killed.written == serial.written == 24
    assert_same_h5(tmp_path / "s.h5", tmp_path / "k.h5")
    client.wait_for_workers(2, timeout=60)  # the nanny brought it back
    assert set(client.run(os.getpid).values()) != before


def die_on_50(x: int) -> int:
    """An input that kills whichever worker runs it, every time."""
    if x == 50:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def test_input_that_kills_workers_is_reported(client) -> None:
    """Dask gives up on a task after allowed-failures deaths (KilledWorker);
    the other items of its batch are run alone and come back."""
    from pyolcaoml.parallel import DaskExecutor

    scheduler = client.cluster.scheduler  # in this process (LocalCluster)
    allowed, saturation = scheduler.allowed_failures, scheduler.WORKER_SATURATION
    # give up at the first death (a fast test), and keep other tasks off the
    # dying worker (one task per worker thread), which would die with it
    scheduler.allowed_failures, scheduler.WORKER_SATURATION = 0, 1.0
    try:
        with DaskExecutor(client) as ex:
            got = list(ex.map(die_on_50, range(120), fail_fast=False))
    finally:
        scheduler.allowed_failures = allowed
        scheduler.WORKER_SATURATION = saturation
        client.wait_for_workers(2, timeout=60)
    assert isinstance(got[50], ItemFailed) and got[50].index == 50
    assert type(got[50].error).__name__ == "KilledWorker"
    assert [g for i, g in enumerate(got) if i != 50] == [
        i * i for i in range(120) if i != 50
    ]


def test_batch_sizes_shrink_towards_the_end() -> None:
    """Tasks of about TASK_SECONDS, a 1/(2 x threads) share of what is
    left when that is known, never under MIN_TASK_SECONDS of work."""
    from pyolcaoml import parallel

    size = parallel._BatchSize()
    assert size(1000, 2) == 1  # not measured yet: one item, to measure
    size.add(0.0013 * 10, 10)  # 1.3 ms per item
    full = int(parallel.TASK_SECONDS / 0.0013)
    floor = int(parallel.MIN_TASK_SECONDS / 0.0013)
    assert size() == full  # length unknown
    assert size(1000, 2) == full  # 250 > full
    assert size(400, 2) == 100
    assert size(40, 2) == floor  # never below MIN_TASK_SECONDS of work
    assert size(3, 2) == floor  # islice takes what is left
    slow = parallel._BatchSize()
    slow.add(30.0, 1)  # a training run: one per task
    assert slow(100, 4) == 1 and slow() == 1


class Payload:
    """A class of this module: the workers cannot import it, it travels by
    value (the client fixture registers this module with cloudpickle)."""

    def __init__(self, value: int) -> None:
        self.value = value


def double_payload(p: Payload) -> Payload:
    return Payload(2 * p.value)


def test_items_and_results_of_unimportable_classes_travel(client) -> None:
    """Items and answers go as one pickle per task: objects whose class the
    other side cannot import must still go (by value), as with Dask's own
    serialisation."""
    from pyolcaoml.parallel import DaskExecutor

    out = list(
        DaskExecutor(client).map(double_payload, [Payload(k) for k in range(40)])
    )
    assert [p.value for p in out] == [2 * k for k in range(40)]


def test_local_client_keeps_glibc_malloc_default(monkeypatch) -> None:
    """Dask sets MALLOC_TRIM_THRESHOLD_=65536 on its workers (slower Fortran
    allocations); ours keep glibc's default unless configured otherwise.
    (A Nanny also writes it into the environment of the process that starts
    it, as this module's own cluster did: that is removed first.)"""
    dask = pytest.importorskip("dask")
    from pyolcaoml.parallel import local_client

    def trim() -> str | None:
        return os.environ.get("MALLOC_TRIM_THRESHOLD_")

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    # not 1 here, so that the workers' 1 is local_client's doing (the test
    # suite's xdist workers run with 1, tests/conftest.py)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    for config, want in (({}, None), ({"MALLOC_TRIM_THRESHOLD_": 131072}, "131072")):
        key = "distributed.nanny.pre-spawn-environ"
        with dask.config.set({f"{key}.{k}": v for k, v in config.items()}):
            c = local_client(1)
        try:
            assert list(c.run(trim).values()) == [want]
            assert list(c.run(lambda: os.environ["OMP_NUM_THREADS"]).values()) == ["1"]
        finally:
            cluster = c.cluster
            c.close()
            cluster.close()


def test_local_client_takes_results_from_the_workers_directly() -> None:
    """Our LocalCluster's client fetches results from the workers, not via
    the scheduler (two transfers through the client's process otherwise).
    Counted at the scheduler's ``gather`` handler; a default client, the
    control, does go through it. (No skip: the [test] extra installs
    distributed, and `--workers` depends on this client.)"""
    import distributed

    from pyolcaoml.parallel import DaskExecutor, local_client

    c = local_client(1)
    cluster = c.cluster
    try:
        handlers = cluster.scheduler.handlers
        calls = []
        gather = handlers["gather"]

        def counted(*args, **kwargs):
            calls.append(1)
            return gather(*args, **kwargs)

        handlers["gather"] = counted
        ex = DaskExecutor(c)
        assert [int(v[0]) for v in ex.map(_squares, range(5))] == [0, 1, 4, 9, 16]
        assert calls == []
        control = distributed.Client(cluster)
        try:
            got = list(DaskExecutor(control).map(_squares, range(5)))
            assert [int(v[0]) for v in got] == [0, 1, 4, 9, 16]
        finally:
            control.close()
        assert calls, "the control client did not gather through the scheduler"
    finally:
        c.close()
        cluster.close()


def _squares(x: int) -> np.ndarray:
    return np.full(3, float(x * x))


def test_task_payload_and_answer_are_one_uint8_frame() -> None:
    """A task's items and answers are one pickle each, wrapped as a flat
    uint8 array (one out-of-band frame for Dask, no bytes copies); what
    comes back unpickles to the items' answers, as writable arrays."""
    import pickle

    from pyolcaoml import parallel

    payload = parallel._frame(parallel._dumps([1, 2, 3]))
    assert isinstance(payload, np.ndarray) and payload.dtype == np.uint8
    answer = parallel.run_batch(_squares, payload)
    assert isinstance(answer, np.ndarray) and answer.dtype == np.uint8
    answers, seconds = pickle.loads(answer)
    assert seconds >= 0.0
    assert [ok for ok, _, _ in answers] == [True, True, True]
    values = [value for _, value, _ in answers]
    assert [v.tolist() for v in values] == [[1.0] * 3, [4.0] * 3, [9.0] * 3]
    assert all(v.flags.writeable for v in values)


def test_descriptor_writer_flushes_by_atoms(tmp_path: Path) -> None:
    """Rows are written in blocks of BLOCK structures or BLOCK_ATOMS atoms,
    whichever comes first, so that a block is a short pause for the client
    (and the last block is small); the file equals one written at once."""
    from pyolcaoml.cli.many import Item, _init_structures, _Rows
    from pyolcaoml.dataset import _create
    from pyolcaoml.structure import Structure

    atoms = bulk("Si", "diamond", a=5.431, cubic=True).repeat((5, 5, 5))  # 1000
    s = Structure.from_ase(atoms)
    rng = np.random.default_rng(0)
    blocks = [rng.normal(size=(len(s), 4)) for _ in range(20)]

    def write(path: Path, block_atoms: int) -> list[int]:
        sizes = []
        with h5py.File(path, "w") as f:
            _init_structures(f, {})
            _create(f["atoms"], "descriptors", (4,), "float64")
            rows = _Rows(f)
            rows.BLOCK_ATOMS = block_atoms
            for k, d in enumerate(blocks):
                rows.add_structure(Item(f"s{k}", f"s{k}", "x"), s)
                rows.add("atoms/descriptors", d)
                rows.end_structure()
                sizes.append(f["atoms/descriptors"].shape[0])
            rows.flush()
        return sizes

    sizes = write(tmp_path / "a.h5", 3000)
    assert sizes[:4] == [0, 0, 3000, 3000]  # written every 3 structures
    lag = [n - w for n, w in zip(range(1000, 21000, 1000), sizes, strict=True)]
    assert max(lag) < 3000
    assert write(tmp_path / "b.h5", 10**9)[-1] == 0  # one block at the end
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        for name in ("atoms/descriptors", "atoms/position", "structures/name"):
            assert np.array_equal(a[name][()], b[name][()])
        assert np.array_equal(a["atoms/descriptors"][()], np.concatenate(blocks))


def test_growing_numeric_datasets_are_chunked_in_whole_rows(tmp_path: Path) -> None:
    """Numeric columns get chunks of whole rows (~CHUNK_BYTES): h5py's own
    choice split a descriptor row over several chunks (slower writes, and a
    row read touched all of them)."""
    from pyolcaoml.dataset import CHUNK_BYTES, _create, _str_dtype

    with h5py.File(tmp_path / "c.h5", "w") as f:
        _create(f, "d", (55,), "float64")
        _create(f, "cell", (3, 3), np.dtype("float64"))
        _create(f, "i", (), "int64")
        _create(f, "s", (), _str_dtype())
        assert f["d"].chunks == (CHUNK_BYTES // (55 * 8), 55)
        assert f["cell"].chunks == (CHUNK_BYTES // 72, 3, 3)
        assert f["i"].chunks == (CHUNK_BYTES // 8,)
        assert f["s"].chunks is not None  # strings: h5py's choice
