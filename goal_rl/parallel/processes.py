"""The ``processes`` backend: a pool of local worker processes.

Workers are started with the ``spawn`` method (or ``forkserver``), never by a plain fork: a
fork of a process that has imported torch (and started its thread pools) can deadlock. Each
worker is a long-lived process that runs one unit at a time, so its imports (torch, the
task's modules) are paid once per run, not per unit. The driver sends a worker one unit,
waits for its result or for the process to end, and knows exactly which unit a dead
worker was running: that unit alone is started again, in a fresh worker. A worker whose
driver has gone (even by ``SIGKILL``) ends itself within a second.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from goal_rl.parallel.base import (
    THREAD_VARIABLES,
    Backend,
    RemoteTraceback,
    ResultCallback,
    Unit,
    UnitFailed,
    call_unit,
    check_units,
    portable_error,
)

__all__ = ["ProcessBackend"]

#: start methods that do not fork a process that may hold torch's threads
START_METHODS = ("spawn", "forkserver")


@contextlib.contextmanager
def _thread_environment(threads: int | None) -> Iterator[None]:
    """The thread-count variables set to ``threads`` in this process's environment for the
    block (a spawned worker starts with a copy of it), then restored."""
    if threads is None:
        yield
        return
    old = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, val in old.items():
            if val is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = val


def _watch_parent(parent: int) -> None:
    """End this worker as soon as its driver is gone (it is then re-parented)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _worker_main(conn: Connection, threads: int | None, parent: int) -> None:
    """A worker's loop: receive ``(fn, args, kwargs)``, answer ``("ok", result)`` or
    ``("error", (exception, traceback text))``; ``None`` or a closed pipe ends it."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            msg = pickle.loads(data)
            if msg is None:
                return
            fn, args, kwargs = msg
            reply: tuple[str, Any] = ("ok", call_unit(fn, args, kwargs, threads))
            payload = pickle.dumps(reply)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the driver
            payload = pickle.dumps(("error", portable_error(exc)))
        conn.send_bytes(payload)


class _Worker:
    """One worker process and the driver's end of its pipe."""

    def __init__(self, ctx: Any, threads: int | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, os.getpid()),
                                daemon=True, name="goal_rl-worker")
        with _thread_environment(threads):  # read by NumPy's BLAS as the worker starts
            self.proc.start()
        child.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to end; terminate it if it does not within ``timeout`` s."""
        try:
            self.conn.send_bytes(pickle.dumps(None))
        except (OSError, ValueError):
            pass
        self.proc.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


class ProcessBackend(Backend):
    """Units in a pool of local worker processes.

    Args:
        workers: processes (units at once), ≥ 1.
        threads: CPU threads per unit (default: this machine's cores divided among the
            workers, at least 1).
        retries: how often a unit is started again after its worker died.
        start_method: ``"spawn"`` (default) or ``"forkserver"``.
    """

    name = "processes"

    def __init__(self, workers: int, *, threads: int | None = None, retries: int = 2,
                 start_method: str = "spawn") -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"processes must be a positive integer, got {workers!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, "
                             f"got {start_method!r}")
        self.workers, self.retries = workers, retries
        self._threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self._ctx = mp.get_context(start_method)
        self._pool: list[_Worker] = []

    @property
    def slots(self) -> int:
        return self.workers

    @property
    def threads(self) -> int | None:
        return self._threads

    def describe(self) -> str:
        return (f"processes ({self.workers} worker{'s' * (self.workers > 1)}, "
                f"{self._threads} thread{'s' * (self._threads > 1)} each)")

    def run(self, units: Sequence[Unit], on_result: ResultCallback) -> None:
        check_units(units)
        todo = deque(range(len(units)))
        attempts = [0] * len(units)
        busy: dict[_Worker, int] = {}
        try:
            while todo or busy:
                while todo and len(busy) < self.workers:
                    i = todo.popleft()
                    attempts[i] += 1
                    busy[self._send(units[i], busy)] = i
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
                for worker, i in list(busy.items()):
                    if worker.conn not in ready and worker.proc.sentinel not in ready:
                        continue
                    reply = self._receive(worker)
                    del busy[worker]
                    if reply is None:  # the worker died in the middle of the unit
                        self._dead(worker, units[i], attempts[i])
                        todo.appendleft(i)
                        continue
                    status, value = reply
                    if status == "error":
                        exc, tb = value
                        raise exc from RemoteTraceback(tb)
                    on_result(units[i], value)
        except BaseException:
            for worker in busy:  # their units are abandoned: do not let them run on
                worker.kill()
                self._pool.remove(worker)
            raise

    def _send(self, unit: Unit, busy: dict[_Worker, int]) -> _Worker:
        """An idle worker (started if needed) that has been handed ``unit``."""
        data = pickle.dumps((unit.fn, unit.args, dict(unit.kwargs)))  # fails here, not there
        idle = [w for w in self._pool if w not in busy]
        worker = idle[0] if idle else None
        if worker is None:
            worker = _Worker(self._ctx, self._threads)
            self._pool.append(worker)
        worker.conn.send_bytes(data)
        return worker

    @staticmethod
    def _receive(worker: _Worker) -> tuple[str, Any] | None:
        """The worker's reply, or ``None`` if it died before sending one."""
        try:
            if worker.conn.poll():
                return pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            pass
        return None

    def _dead(self, worker: _Worker, unit: Unit, attempts: int) -> None:
        """Forget a dead worker; :class:`UnitFailed` once ``unit`` used up its retries."""
        worker.kill()
        self._pool.remove(worker)
        if attempts > self.retries:
            raise UnitFailed(f"unit {unit.key!r}: its worker process died on each of "
                             f"{attempts} attempts (last exit code {worker.proc.exitcode})")

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()
