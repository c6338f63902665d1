"""Run one function over many items: serially, or on a Dask cluster.

The work that grows with the number of things (structures of a trajectory,
OLCAO runs to convert, members of an ensemble) is a per-item function mapped
over the items. This module is the only place that knows *how* it is
mapped; the per-item functions know nothing of Dask.

- :class:`SerialExecutor`: a plain loop in this process (the default; needs
  no Dask).
- :class:`DaskExecutor`: ``dask.distributed`` futures on a ``LocalCluster``
  of worker processes or on an existing scheduler (by address or scheduler
  file), e.g. one that dask-jobqueue started on a SLURM cluster.

Both yield results **in input order** while the work completes in any order,
so a caller can stream them to one output file. The items are consumed
lazily (a bounded window of tasks is in flight), so a generator of many
structures is never held in memory at once. On Dask, quick items are grouped
into tasks of about :data:`TASK_SECONDS` (Dask's per-task cost is around a
millisecond); slow items (training an ensemble member) go one per task.

A task lost with its worker (killed, out of memory, node gone) is
re-run elsewhere by the Dask scheduler (``distributed.scheduler.allowed-
failures`` times); an exception raised by the function itself is the item's
failure and is not retried. ``func`` must be a top-level (picklable)
function, or a :func:`functools.partial` of one, and its arguments and
results small and picklable: structures and file paths, not huge arrays.

Example::

    from pyolcaoml.parallel import make_executor

    with make_executor(workers=2) as ex:          # LocalCluster, 2 processes
        for b in ex.map(partial(compute_one, settings), structures, desc="B"):
            ...
"""

from __future__ import annotations

import asyncio
import collections
import gc
import importlib.util
import itertools
import os
import pickle
import statistics
import time
import traceback as _traceback
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any

__all__ = [
    "DaskExecutor",
    "Executor",
    "ItemFailed",
    "SerialExecutor",
    "available_cores",
    "local_client",
    "make_executor",
]

#: Tasks kept in flight per worker thread (at least MIN_WINDOW in all): enough
#: to keep workers busy while results are written in order, few enough that
#: the inputs and unwritten results of a long run never pile up in memory.
TASKS_PER_THREAD = 4
MIN_WINDOW = 16
#: Wall seconds aimed at per task when items are quick (items are grouped),
#: and the most items in one task.
TASK_SECONDS = 0.2
MAX_BATCH = 256
#: The shortest task that the shrinking towards the end of a known number
#: of items makes (see _BatchSize). Each task costs the client and scheduler
#: a few milliseconds of CPU whatever its size; 0.05 s against 0.02 s gave
#: 1.71x instead of 1.63-1.68x for 2 workers against 1 on 2 cores
#: (benchmarks/bench_dask.py, 1,000 structures of ~1.4 ms each).
MIN_TASK_SECONDS = 0.05


class ItemFailed(Exception):
    """The function raised for one item.

    ``index`` is the item's position in the input, ``item`` the item itself,
    ``error`` the exception the function raised (re-raised from the worker
    when it ran on Dask) and ``traceback`` its formatted traceback.
    With ``fail_fast=False`` an :class:`ItemFailed` is *yielded* in the
    item's place; with ``fail_fast=True`` it is raised.
    """

    def __init__(
        self, index: int, item: Any, error: BaseException, traceback: str = ""
    ) -> None:
        self.index = index
        self.item = item
        self.error = error
        self.traceback = traceback
        super().__init__(f"item {index}: {type(error).__name__}: {error}")


def available_cores() -> int:
    """CPU cores this process may use (affinity mask, else cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _length(items: Iterable[Any], total: int | None) -> int | None:
    if hasattr(items, "__len__"):
        return len(items)  # type: ignore[arg-type]
    return total


def _progress(desc: str | None, items: Iterable[Any], total: int | None) -> Any:
    """A tqdm bar (to stderr, off when not a terminal) or a no-op."""
    from tqdm import tqdm

    total = _length(items, total)
    return tqdm(total=total, desc=desc, unit="item", disable=None if desc else True)


class Executor(ABC):
    """Maps a function over items; a context manager that closes what it
    opened (a LocalCluster and its client), never a cluster it was given."""

    #: One line saying where the work runs, for messages.
    description: str = ""

    @abstractmethod
    def map(
        self,
        func: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        desc: str | None = None,
        fail_fast: bool = True,
        total: int | None = None,
    ) -> Iterator[Any]:
        """``func(item)`` for every item, yielded in input order.

        ``desc``: label of a progress bar advanced as items complete (no bar
        when None or when stderr is not a terminal). ``total``: how many
        items there are, when ``items`` has no ``len()`` (a generator) but
        the caller knows: for the bar, and on Dask for tasks that shrink
        towards the end so that no worker waits on another's last big task.
        ``fail_fast``: raise
        :class:`ItemFailed` at the first item whose function raised and
        cancel the rest; when False, yield an :class:`ItemFailed` in that
        item's place and go on.
        """

    def close(self) -> None:  # noqa: B027 - a no-op unless something was opened
        """Release what this executor opened."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """A loop in this process: the default, and what Dask's absence means."""

    description = "serial (this process)"

    def map(
        self,
        func: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        desc: str | None = None,
        fail_fast: bool = True,
        total: int | None = None,
    ) -> Iterator[Any]:
        with _progress(desc, items, total) as bar:
            for index, item in enumerate(items):
                try:
                    result = func(item)
                except Exception as exc:
                    failed = ItemFailed(index, item, exc, _traceback.format_exc())
                    if fail_fast:
                        raise failed from exc
                    result = failed
                bar.update()
                yield result


def _func_name(func: Callable[..., Any]) -> str:
    inner = getattr(func, "func", func)  # functools.partial
    return getattr(inner, "__name__", "item").replace("_", "-").strip("-") or "item"


def _picklable(exc: Exception) -> Exception:
    """``exc``, or a RuntimeError with its text if it cannot travel back."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def run_batch(func: Callable[[Any], Any], payload: Any) -> Any:
    """Run ``func`` on consecutive items in one task (on a worker).

    ``payload`` is the pickled list of items; the answer is the pickled
    pair (per item (ok, result or exception, traceback text), the seconds
    the batch took). An exception is the item's answer, so the other items
    of the batch still run. Items and answers travel as one pickle each
    (their arrays in-band): Dask's serialisation handles each NumPy array of
    a message as a frame of its own, which for hundreds of small structures
    per task cost the client more than the items' own work. Each pickle is
    wrapped as a flat uint8 array (:func:`_frame`) so that it is one
    out-of-band frame, sent and received without the copies a ``bytes``
    object gets from Dask's pickling.
    """
    # The batch makes many small objects and no reference cycles, while a
    # worker's heap is large (Dask, its event loop, our modules): Python's
    # collector, triggered by allocation counts, spent ~4 % of a task
    # walking that heap. Off during the batch, on again after it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        items = pickle.loads(payload)
        out: list[tuple[bool, Any, str]] = []
        t0 = time.perf_counter()
        for item in items:
            try:
                out.append((True, func(item), ""))
            except Exception as exc:
                out.append((False, _picklable(exc), _traceback.format_exc()))
        return _frame(_dumps((out, time.perf_counter() - t0)))
    finally:
        if collecting:
            gc.enable()


def _dumps(obj: Any) -> bytes:
    """``pickle.dumps``, or cloudpickle where plain pickle would refer to
    code the other side cannot import (classes of ``__main__`` or of a
    module registered with cloudpickle to travel by value), as Dask does."""
    try:
        data: bytes | None = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        data = None
    try:
        import cloudpickle
    except ImportError:  # no Dask either: plain pickle is all there is
        if data is None:
            raise
        return data
    by_value = [b"__main__"]
    by_value += [m.encode() for m in cloudpickle.list_registry_pickle_by_value()]
    if data is not None and not any(name in data for name in by_value):
        return data
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _frame(data: bytes) -> Any:
    """``data`` as a read-only uint8 array over the same memory (no copy).

    Dask sends a NumPy array as a frame of its own, straight from and into
    its buffer, where a ``bytes`` object is copied into a pickle on the way
    out and out of one on the way in (two copies of ~30 kB per 64-atom
    structure's descriptors; the saving was below the benchmark's
    run-to-run spread). ``pickle.loads`` reads the array as it would the
    bytes.
    """
    import numpy as np

    return np.frombuffer(data, dtype=np.uint8)


def _remote_tb(future: Any) -> str:
    """The formatted traceback of a failed future ('' if none)."""
    try:
        tb = future.traceback()
    except (Exception, asyncio.CancelledError):
        return ""
    return "".join(_traceback.format_tb(tb)) if tb else ""


class _BatchSize:
    """Items per task.

    Enough that a task lasts about TASK_SECONDS (Dask's advice: tasks of
    well over a millisecond of scheduler overhead each), from the median
    seconds per item of recent tasks; 1 until measured, so slow items (a
    training run) go one per task. When the number of items left is known,
    a task takes at most a 1/(2 x threads) share of them, so tasks shrink
    towards the end and the workers finish together, but never below
    MIN_TASK_SECONDS of work (Dask's cost per task stays small).
    """

    def __init__(self) -> None:
        self.recent: collections.deque[float] = collections.deque(maxlen=32)

    def add(self, seconds: float, n: int) -> None:
        self.recent.append(seconds / max(n, 1))

    def __call__(self, left: int | None = None, threads: int = 1) -> int:
        if not self.recent:
            return 1
        per_item = max(statistics.median(self.recent), 1e-9)
        size = min(MAX_BATCH, int(TASK_SECONDS / per_item))
        if left is not None:
            share = -(-left // (2 * max(threads, 1)))  # ceil
            size = min(size, max(share, int(MIN_TASK_SECONDS / per_item)))
        return max(1, size)


class DaskExecutor(Executor):
    """Futures on a ``distributed.Client``.

    ``client``: a connected client. With ``owns=True`` (what
    :func:`make_executor` does for a cluster it started) the client and its
    cluster are closed on exit; a client you pass in is left open.

    Consecutive items are grouped into tasks of about :data:`TASK_SECONDS`
    (one item per task when items are slow); a bounded number of tasks is in
    flight, so items are read and results kept only a window ahead of the
    output.
    """

    def __init__(self, client: Any, *, owns: bool = False) -> None:
        self.client = client
        self._owns = owns
        self._closed = False
        cluster = getattr(client, "cluster", None)
        where = type(cluster).__name__ if cluster is not None else "scheduler"
        self.description = f"dask {where} at {client.scheduler.address}"
        if importlib.util.find_spec("bokeh") is not None:  # dashboard served
            self.description += f", dashboard {client.dashboard_link}"

    def _threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _window(self) -> int:
        return max(MIN_WINDOW, TASKS_PER_THREAD * self._threads())

    def map(
        self,
        func: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        desc: str | None = None,
        fail_fast: bool = True,
        total: int | None = None,
    ) -> Iterator[Any]:
        from distributed import as_completed

        client = self.client
        n_items = _length(items, total)
        source = enumerate(items)
        prefix = f"{_func_name(func)}-{uuid.uuid4().hex[:12]}"
        # key -> (index of the first item, the items, the future)
        pending: dict[str, tuple[int, list[Any], Any]] = {}
        done: dict[int, Any] = {}  # item index -> result, not yet yielded
        completed = as_completed()
        window = self._window()
        threads = self._threads()
        batch_size = _BatchSize()
        n_tasks = 0
        n_submitted = 0  # items

        def submit(first: int, items_: list[Any], key: str) -> None:
            nonlocal n_tasks, window, threads
            # pure=False: every batch is its own task even if two are equal;
            # retries=0: an exception is the item's answer, not bad luck (a
            # task lost with its worker is re-run by the scheduler anyway).
            payload = _frame(_dumps(items_))
            future = client.submit(
                run_batch, func, payload, key=key, pure=False, retries=0
            )
            pending[key] = (first, items_, future)
            completed.add(future)
            n_tasks += 1
            if n_tasks % 64 == 0:  # clusters grow and shrink (jobqueue)
                window = self._window()
                threads = self._threads()

        def submit_one() -> bool:
            nonlocal n_submitted
            left = None if n_items is None else max(n_items - n_submitted, 1)
            batch = list(itertools.islice(source, batch_size(left, threads)))
            if not batch:
                return False
            n_submitted += len(batch)
            first = batch[0][0]
            submit(first, [item for _, item in batch], f"{prefix}-{first}")
            return True

        def fail(index: int, item: Any, exc: BaseException, tb: str) -> None:
            failed = ItemFailed(index, item, exc, tb)
            if fail_fast:
                raise failed from exc
            done[index] = failed

        next_out = 0
        try:
            with _progress(desc, items, total) as bar:
                # One single-item task per worker thread to measure the
                # items; the window fills once the first answer is in.
                for _ in itertools.repeat(None, min(window, threads)):
                    if not submit_one():
                        break
                for future in completed:
                    first, items_, _ = pending.pop(future.key)
                    try:
                        # waits if the result was lost with its worker
                        # meanwhile: the scheduler computes it again
                        answers, seconds = pickle.loads(future.result())
                    except (asyncio.CancelledError, CancelledError) as exc:
                        for k, item in enumerate(items_):  # not by us: say so
                            fail(first + k, item, exc, "")
                    except Exception as exc:
                        # the whole task failed (KilledWorker: its workers
                        # died each time it ran). Alone, the item is at
                        # fault; in a batch, run each item alone to find it.
                        if len(items_) == 1:
                            fail(first, items_[0], exc, _remote_tb(future))
                        else:
                            for k, item in enumerate(items_):
                                submit(first + k, [item], f"{prefix}-{first + k}-1")
                            future.release()
                            continue
                    else:
                        batch_size.add(seconds, len(items_))
                        for k, (ok, value, tb) in enumerate(answers):
                            if ok:
                                done[first + k] = value
                            else:
                                fail(first + k, items_[k], value, tb)
                    future.release()
                    bar.update(len(items_))
                    while len(pending) < window and submit_one():
                        pass
                    while next_out in done:
                        yield done.pop(next_out)
                        next_out += 1
        finally:
            if pending:
                client.cancel([f for _, _, f in pending.values()])

    def close(self) -> None:
        if self._owns and not self._closed:
            self._closed = True
            cluster = getattr(self.client, "cluster", None)
            self.client.close()
            if cluster is not None:
                cluster.close()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "running on several workers or a scheduler needs dask.distributed: "
            "pip install 'pyolcaoml[dask]' (or run serially: no --workers/"
            f"--scheduler) ({exc})"
        ) from exc
    return distributed


def make_executor(
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int = 1,
) -> Executor:
    """Where to run: serial, a new LocalCluster, or an existing scheduler.

    - ``scheduler=None, workers=None`` (or ``workers=1``): a
      :class:`SerialExecutor`; Dask is not imported.
    - ``workers=N`` (N >= 2; 0 means one per core): a ``LocalCluster`` of N
      worker processes with ``threads_per_worker`` threads each, every worker
      started with ``OMP_NUM_THREADS=threads_per_worker``; closed on exit.
    - ``scheduler``: the address of a running scheduler
      (``tcp://host:8786``) or the path of its scheduler file (JSON, e.g.
      ``dask scheduler --scheduler-file``); its workers are its own and stay
      up on exit (only our client is closed).

    ImportError (with the pip command) when Dask is needed but missing;
    ValueError for bad arguments; OSError when the scheduler is unreachable.
    """
    if threads_per_worker < 1:
        raise ValueError(f"threads_per_worker must be >= 1, got {threads_per_worker}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if scheduler is not None and workers is not None:
        raise ValueError(
            "give a scheduler or a number of workers, not both (a running "
            "scheduler has its own workers)"
        )
    if scheduler is None and workers in (None, 1):
        return SerialExecutor()
    distributed = _import_distributed()
    if scheduler is not None:
        try:
            if os.path.isfile(scheduler) or scheduler.endswith(".json"):
                if not os.path.isfile(scheduler):
                    raise OSError(f"no such scheduler file: {scheduler}")
                client = distributed.Client(scheduler_file=scheduler)
            else:
                client = distributed.Client(scheduler)
        except (OSError, TimeoutError) as exc:
            raise OSError(
                f"cannot reach the Dask scheduler {scheduler}: {exc}"
            ) from exc
        return DaskExecutor(client, owns=True)
    n = available_cores() if workers == 0 else int(workers)  # type: ignore[arg-type]
    return DaskExecutor(local_client(n, threads_per_worker), owns=True)


#: Dask's default for the workers' glibc malloc trim threshold (bytes), set
#: before each worker process starts (distributed.nanny.pre-spawn-environ).
_DASK_TRIM_DEFAULT = 65536


def local_client(n_workers: int, threads_per_worker: int = 1) -> Any:
    """A client of a new ``LocalCluster`` of ``n_workers`` processes, as
    :func:`make_executor` starts it (``client.cluster`` is the cluster).

    Every worker gets ``OMP_NUM_THREADS=threads_per_worker`` (and
    TensorFlow's pools the same size). Dask starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc give freed memory
    back at once and turns off its adaptive mmap threshold: every array the
    Fortran core allocates per structure is then fresh pages, and the
    descriptors of a 64-atom cell took 10-12 % longer on a worker than in
    the client (benchmarks/bench_dask.py). Workers we start keep glibc's
    default instead, unless you configured that value yourself (Dask
    config or the environment). The client fetches results from the
    workers directly, not through the scheduler (see below).
    """
    import dask

    distributed = _import_distributed()
    threads = str(threads_per_worker)
    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    trim = dask.config.get(key, None)
    unset = {key: None} if trim in (_DASK_TRIM_DEFAULT, str(_DASK_TRIM_DEFAULT)) else {}
    with dask.config.set(unset):
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            # Dask already gives nanny workers OMP_NUM_THREADS=1; say it for
            # the threads asked, and keep TensorFlow's pools to the same size.
            env={
                "OMP_NUM_THREADS": threads,
                "TF_NUM_INTRAOP_THREADS": threads,
                "TF_NUM_INTEROP_THREADS": "1",
            },
        )
    try:
        # Results are fetched from the workers directly. By default a client
        # asks the scheduler, which fetches from the worker and sends on: two
        # transfers, both through this process, where the scheduler of a
        # LocalCluster runs. Direct: 2 workers against 1 on 2 cores went
        # from 1.60-1.61x to 1.65x (benchmarks/bench_dask.py's items,
        # interleaved, min of 8). Our workers are on this machine, so the
        # client can always reach them.
        return distributed.Client(cluster, direct_to_workers=True)
    except BaseException:
        cluster.close()
        raise
