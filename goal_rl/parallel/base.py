"""Work units and the backend interface, plus the in-process backend.

A :class:`Unit` is one independent piece of work: a module-level function and its
arguments (both picklable when the unit leaves the process). A :class:`Backend` runs a list
of units and hands every result back to the driver, in the order the units finish, through
one callback: the driver alone decides what to write. A unit whose *worker process* dies is
started again (up to ``retries`` times); a unit that *raises* is not (the same input would
raise again): its exception reaches the driver with its own type, the other units are
stopped, and the results already handed back stay handed back.
"""

from __future__ import annotations

import abc
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["THREAD_VARIABLES", "Backend", "InlineBackend", "RemoteTraceback", "Unit",
           "UnitFailed", "call_unit", "crash_once", "portable_error"]

#: environment variables that size the thread pools of OpenMP, MKL and OpenBLAS (and so of
#: torch and NumPy) when they are read, i.e. at the first import in a fresh worker
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

ResultCallback = Callable[["Unit", Any], None]


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: ``fn(*args, **kwargs)``.

    Args:
        key: unique name within one run (used in messages and bookkeeping).
        fn: a module-level function (it is pickled by reference for other processes).
        args, kwargs: its arguments (pickled by value).
        size: how many items (grid points, seeds) the unit finishes; the progress display
            counts these.
    """

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    size: int = 1


class UnitFailed(RuntimeError):
    """A unit whose worker died on every attempt (``retries + 1`` times)."""


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a worker process (its ``__cause__``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def portable_error(exc: BaseException) -> tuple[BaseException, str]:
    """``exc`` (or a ``RuntimeError`` with its text if it cannot be pickled) and its
    traceback text, to send from a worker to the driver."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception type may fail to pickle
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc, tb


def call_unit(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any],
              threads: int | None) -> Any:
    """Run ``fn(*args, **kwargs)`` in a worker with ``threads`` CPU threads for torch, OpenMP,
    MKL and OpenBLAS (``None``: leave them as they are).

    The environment variables size the pools of libraries imported later (a fresh worker
    imports torch inside ``fn``); torch, if already imported, is set directly.
    """
    if threads is not None:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(threads)
    return fn(*args, **kwargs)


def crash_once(marker: str | os.PathLike, fn: Callable[..., Any], *args: Any,
               **kwargs: Any) -> Any:
    """Fault injection for tests of the retry logic: the first call (``marker`` does not
    exist yet) creates ``marker`` and ends its own process at once with exit code 70, as
    a worker killed in the middle of a unit; later calls return ``fn(*args, **kwargs)``.

    Use it as a unit's function, ``Unit(key, crash_once, (marker, fn, *args))``, on a
    backend that runs units in other processes (in-process it would end the driver).
    """
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os._exit(70)
    return fn(*args, **kwargs)


class Backend(abc.ABC):
    """Runs units; see :mod:`goal_rl.parallel` for the three kinds.

    Attributes:
        name: ``"inline"``, ``"processes"`` or ``"ray"``.
        in_process: units run in the driver's process (they may then take callbacks).
    """

    name = "backend"
    in_process = False

    @property
    @abc.abstractmethod
    def slots(self) -> int:
        """How many units run at the same time."""

    @property
    def threads(self) -> int | None:
        """CPU threads each unit should use (``None``: the libraries' defaults)."""
        return None

    @property
    def gpus(self) -> float:
        """GPUs each unit holds (0: none requested)."""
        return 0.0

    @abc.abstractmethod
    def run(self, units: Sequence[Unit], on_result: ResultCallback) -> None:
        """Run every unit; call ``on_result(unit, result)`` in the driver once per unit, as
        each finishes. Raises the first unit's exception (other units are stopped) or
        :class:`UnitFailed`."""

    def describe(self) -> str:
        """One line for logs, e.g. ``processes (2 workers, 1 thread each)``."""
        return self.name

    def close(self) -> None:  # noqa: B027 - a backend without workers has nothing to do
        """Release the workers (idempotent)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InlineBackend(Backend):
    """Every unit in this process, one after the other, in the given order (the default;
    units may hold callbacks and unpicklable objects).

    Args:
        threads: torch/BLAS threads during each unit (``None``: unchanged).
    """

    name = "inline"
    in_process = True

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads

    @property
    def slots(self) -> int:
        return 1

    @property
    def threads(self) -> int | None:
        return self._threads

    def run(self, units: Sequence[Unit], on_result: ResultCallback) -> None:
        check_units(units)
        for unit in units:
            on_result(unit, unit.fn(*unit.args, **unit.kwargs))


def check_units(units: Sequence[Unit]) -> None:
    """``ValueError`` unless every unit is a :class:`Unit` with its own key and size ≥ 0."""
    seen: set[str] = set()
    for u in units:
        if not isinstance(u, Unit):
            raise TypeError(f"expected a Unit, got {type(u).__name__}")
        if u.key in seen:
            raise ValueError(f"two units share the key {u.key!r}")
        if isinstance(u.size, bool) or not isinstance(u.size, int) or u.size < 0:
            raise ValueError(f"unit {u.key!r}: size must be an integer >= 0, got {u.size!r}")
        seen.add(u.key)
