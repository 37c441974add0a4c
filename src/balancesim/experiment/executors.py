"""Where sweep chunks run: in this process, in local worker processes, or on Dask.

A sweep is a list of independent tasks (a design point and a range of
replicates). Every executor here does one thing: call `fn(shared, item)` for
each item and yield `(item, result)` pairs as they finish, in whatever order
they finish. `shared` is the data every task needs (the base scenario, the
seed, the months kept); it is shipped once per worker, not once per task.

Nothing here touches randomness: the seeds are fixed by the caller (the
client) inside `shared` and `item`, so a result never depends on which
executor ran it, on how many workers there were or on the order of
completion.

The executors keep only a bounded window of tasks in flight (a few per
worker), so a million-run sweep holds a few chunks in memory, not all of
them, and the client writes each result to disk as it arrives.

Dask is an optional extra (`pip install 'balancesim[dask]'`); asking for it
without it installed raises `ExecutorUnavailable` with that advice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

EXECUTORS = ("serial", "process", "dask")

Item = TypeVar("Item")


class ExecutorUnavailable(RuntimeError):
    """The requested executor cannot be used here (missing package, unreachable cluster).

    `input_fault` says whether the user can fix it by changing the command
    (exit status 2: a missing optional extra) or not (exit status 1: a
    scheduler that does not answer).
    """

    def __init__(self, message: str, input_fault: bool = True) -> None:
        super().__init__(message)
        self.input_fault = input_fault


class ExecutorFailed(RuntimeError):
    """The executor broke while running (a worker process killed, every Dask worker lost).

    Work already finished is unaffected: the sweep's written chunks stay and
    `--resume` continues from them.
    """


class Runner(Protocol):
    """Runs `fn(shared, item)` for every item and yields (item, result) as each finishes."""

    description: str

    def map_unordered(
        self, fn: Callable[[Any, Item], Any], shared: Any, items: Iterable[Item]
    ) -> Iterator[tuple[Item, Any]]:
        """Yield (item, fn(shared, item)) for every item, in order of completion."""
        ...

    def close(self) -> None:
        """Release the executor's resources (worker processes, cluster, connection)."""
        ...


_MALLOC_TUNED: list[bool] = []


def relax_malloc_trimming() -> None:
    """Undo a worker environment's aggressive malloc trimming, once per process.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand
    memory back to the OS). With glibc that also freezes the mmap threshold
    at 128 KiB, so every engine array of a chunk is mmap'd and unmapped and
    page-faulted afresh: the engine runs about 4x slower. When that variable
    is set, this raises both thresholds (arrays up to 64 MiB come from the
    heap; up to 256 MiB of free heap is kept), restoring the normal speed.
    Harmless elsewhere: it does nothing unless the variable is set.
    """
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _MALLOC_TUNED.append(True)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def default_workers() -> int:
    """Worker processes to start by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def make_runner(kind: str, workers: int | None = None, scheduler: str | None = None) -> Runner:
    """The runner for executor `kind` (serial, process or dask).

    `workers` is the number of local worker processes (process, or a Dask
    LocalCluster); `scheduler` the address of a running Dask scheduler to join
    instead of starting a LocalCluster.
    """
    if kind == "serial":
        return SerialRunner()
    if kind == "process":
        return ProcessRunner(workers or default_workers())
    if kind == "dask":
        return DaskRunner(workers or default_workers(), scheduler)
    raise ValueError(f"unknown executor {kind!r} (one of {', '.join(EXECUTORS)})")


class SerialRunner:
    """Everything in this process, in the order given (the reference executor)."""

    description = "serial (this process)"

    def map_unordered(
        self, fn: Callable[[Any, Item], Any], shared: Any, items: Iterable[Item]
    ) -> Iterator[tuple[Item, Any]]:
        for item in items:
            yield item, fn(shared, item)

    def close(self) -> None:
        pass


# Set in each worker process by the pool's initializer: the data all tasks share.
_SHARED: dict[str, Any] = {}


def _install_shared(shared: Any, client: int) -> None:
    # Ctrl-C goes to the whole process group; only the parent should handle it
    # (it cancels the pool), so the workers do not print tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SHARED["value"] = shared
    _exit_with(client)


def _exit_with(pid: int) -> None:
    """Exit this worker as soon as process `pid` (the client) is gone.

    A pool worker otherwise outlives a client killed with SIGKILL: it waits
    forever on its task queue, whose write end it holds itself. A pidfd
    (Linux) wakes a watcher thread when the client exits, whatever its pid
    becomes later; elsewhere the thread polls the pid twice a second.
    """

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
            os._exit(1)
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # pragma: no cover - a reused pid of another user
                os._exit(1)

    threading.Thread(target=watch, name="balancesim-client-watch", daemon=True).start()


def _call_shared(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED["value"], item)


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside this block inherit a blocked SIGINT; a Ctrl-C meanwhile is held.

    Ctrl-C is the parent's to handle (it shuts the workers down and exits 130);
    a worker or the forkserver interrupted during its own start-up would print
    a traceback instead. Children inherit the signal mask (kept across exec):
    SIGINT stays blocked until the forkserver, the resource tracker and the
    workers ignore it themselves. The parent must not lose a Ctrl-C that comes
    while the block runs (starting a forkserver takes up to a second), nor be
    interrupted halfway through starting a process: a handler that only
    records the interrupt stands in meanwhile, and the interrupt is raised
    when the block ends. Not SIG_IGN: the disposition is the whole process's,
    and the kernel hands a process-directed SIGINT to any thread that does not
    block it (numpy's BLAS threads, the progress bar), which would discard it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # starting it unblocks SIGINT in this thread: do it first
    held: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one pending here is held too
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, held[-1])  # Python's default handler raises KeyboardInterrupt
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


def _sigint_ignored(call: Callable[[], Any]) -> Any:
    """`call()` inside `_children_ignore_sigint`: the processes it starts leave Ctrl-C to the parent."""
    with _children_ignore_sigint():
        return call()


class ProcessRunner:
    """Local worker processes (concurrent.futures), started by a forkserver.

    A forkserver rather than fork: the parent may run threads (the progress
    bar), and forking a threaded process can deadlock. The forkserver imports
    balancesim once; each worker is forked from it, ready to run.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.description = f"process ({workers} worker process{'es' if workers > 1 else ''})"

    def map_unordered(
        self, fn: Callable[[Any, Item], Any], shared: Any, items: Iterable[Item]
    ) -> Iterator[tuple[Item, Any]]:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["balancesim.sweep"])
        pool = _sigint_ignored(
            lambda: ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_install_shared, initargs=(shared, os.getpid())
            )
        )
        window = 3 * self.workers
        running: dict[Future, Item] = {}
        source = iter(items)
        started = False
        try:
            while True:
                try:
                    for item in source:
                        if started:
                            future = pool.submit(_call_shared, fn, item)
                        else:  # the first submit starts the forkserver and the workers
                            future = _sigint_ignored(functools.partial(pool.submit, _call_shared, fn, item))
                            started = True
                        running[future] = item
                        if len(running) >= window:
                            break
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    finished = [(running.pop(future), future.result()) for future in done]
                except BrokenProcessPool:  # from submit() or result(), whichever sees it first
                    raise ExecutorFailed(
                        "a worker process died (killed, or out of memory) and the process pool stopped"
                    ) from None
                yield from finished
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ExecutorUnavailable(
            "the dask executor needs Dask distributed, an optional extra: "
            "pip install 'balancesim[dask]' (or use --executor process)",
            input_fault=False,
        ) from None
    return distributed


LOST = "the Dask workers were lost and the work was cancelled"


class DaskRunner:
    """Dask distributed: joins the scheduler at `scheduler`, or starts a LocalCluster.

    The LocalCluster has `workers` worker processes with one thread each (the
    engine is numpy-bound and holds the GIL between calls, so threads would
    not add speed). It uses Dask's own security: temporary TLS credentials
    made for this cluster, so only this process (which holds them) can
    connect, submit work or read results; and no dashboard. Tasks are
    submitted with `pure=False` and unique keys, so Dask never merges two of
    them; `shared` is scattered to every worker once.

    Failures while running raise `ExecutorFailed`: a task whose workers keep
    dying (Dask's KilledWorker), a lost scheduler, or no worker at all for
    `no_workers_s` seconds (tasks would otherwise wait forever).
    """

    def __init__(self, workers: int, scheduler: str | None = None, no_workers_s: float = 60.0) -> None:
        distributed = _import_distributed()
        self.cluster = None
        self.no_workers_s = no_workers_s
        if scheduler is not None:
            try:
                self.client = distributed.Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as e:
                raise ExecutorUnavailable(
                    f"cannot connect to the Dask scheduler at {scheduler}: {e}", input_fault=False
                ) from None
            n = sum(self.client.nthreads().values())
            self.description = f"dask (scheduler {scheduler}, {n} worker thread(s))"
        else:
            try:
                security = distributed.security.Security.temporary()
            except ImportError:
                raise ExecutorUnavailable(
                    "the dask executor's local cluster needs the 'cryptography' package for its "
                    "TLS credentials: pip install 'balancesim[dask]'",
                    input_fault=False,
                ) from None
            import dask

            # Worker processes inherit an ignored SIGINT: Ctrl-C is the client's to handle
            # (it cancels the work and closes the cluster), not theirs to print tracebacks.
            # No dashboard and no HTTP routes at all (cluster state, Prometheus metrics): the
            # HTTP server Dask always starts then answers nothing but 404.
            quiet_http: dict[str, list[str]] = {
                "distributed.scheduler.http.routes": [],
                "distributed.worker.http.routes": [],
            }
            with _children_ignore_sigint(), dask.config.set(quiet_http):
                self.cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    protocol="tls://",
                    security=security,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self.cluster, security=security)
            self.description = f"dask (LocalCluster, {workers} worker process{'es' if workers > 1 else ''})"
        self.distributed = distributed

    def map_unordered(
        self, fn: Callable[[Any, Item], Any], shared: Any, items: Iterable[Item]
    ) -> Iterator[tuple[Item, Any]]:
        distributed = self.distributed
        threads = max(1, sum(self.client.nthreads().values()))
        window = 3 * threads
        try:
            shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        except (TimeoutError, OSError) as e:
            raise ExecutorFailed(f"no Dask worker to run the sweep ({e})") from None
        prefix = f"balancesim-chunk-{uuid.uuid4().hex[:12]}"
        running: dict[Any, Item] = {}
        source = iter(items)
        count = 0
        no_workers_since: float | None = None
        try:
            while True:
                for item in source:
                    future = self.client.submit(fn, shared_future, item, pure=False, key=f"{prefix}-{count}")
                    count += 1
                    running[future] = item
                    if len(running) >= window:
                        break
                if not running:
                    break
                try:
                    done, _ = distributed.wait(list(running), timeout=2, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                except CancelledError:  # the scheduler dropped the work: its workers are gone
                    raise ExecutorFailed(LOST) from None
                except OSError as e:  # the scheduler went away
                    raise ExecutorFailed(f"lost the connection to the Dask scheduler ({e})") from None
                if not done:
                    if self.client.nthreads():
                        no_workers_since = None
                    elif no_workers_since is None:
                        no_workers_since = time.monotonic()
                    elif time.monotonic() - no_workers_since > self.no_workers_s:
                        raise ExecutorFailed(
                            f"every Dask worker is gone (none for {self.no_workers_s:.0f} s)"
                        )
                    continue
                for future in done:
                    item = running.pop(future)
                    try:
                        result = future.result()
                    except distributed.KilledWorker:
                        raise ExecutorFailed(
                            "Dask workers kept dying while running a chunk (killed, or out of memory)"
                        ) from None
                    except CancelledError:
                        raise ExecutorFailed(LOST) from None
                    except OSError as e:
                        raise ExecutorFailed(f"lost the connection to the Dask scheduler ({e})") from None
                    future.release()
                    yield item, result
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
