"""The ``ray`` backend: units as Ray tasks, on this machine or on a Ray cluster.

Every unit is one Ray task asking for ``cpus`` CPUs and ``gpus`` GPUs; Ray places it on a
node with room, sets ``CUDA_VISIBLE_DEVICES`` for the GPUs it grants, and starts it again
(up to ``retries`` times) if its worker process or node dies. Results come back to the
driver with ``ray.get`` as the tasks finish. Ray is an optional dependency
(``pip install 'goal_rl[ray]'``); this module imports it only when a backend is made.

Addresses: ``None`` starts a private local Ray instance on this machine's cores (shut
down again by :meth:`RayBackend.close`); ``"auto"`` joins the cluster this machine belongs
to (after ``ray start --head`` or on a node of a running cluster); ``"ray://host:10001"``
connects through the Ray Client; ``"host:6379"`` joins a cluster by its head's address.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Sequence
from typing import Any

from goal_rl.parallel.base import (
    Backend,
    RemoteTraceback,
    ResultCallback,
    Unit,
    UnitFailed,
    call_unit,
    check_units,
)

__all__ = ["INSTALL_HINT", "RayBackend", "check_address", "import_ray"]

INSTALL_HINT = "pip install 'goal_rl[ray]'"

#: seconds to wait for a TCP connection to a cluster address before calling it unreachable
CONNECT_TIMEOUT_S = 5.0


def import_ray() -> Any:
    """The ``ray`` module; ``ValueError`` (one line, saying how to install it) without it."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"--ray needs the optional Ray dependency, which is not installed: "
                         f"{INSTALL_HINT}") from None
    return ray


def check_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """``ValueError`` if ``address`` (``ray://host:port`` or ``host:port``) does not accept
    a TCP connection within ``timeout`` s, so that a wrong address fails at once and
    plainly instead of in Ray's retry loop; ``None`` and ``"auto"`` are not checked here."""
    if address is None or address == "auto":
        return
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--ray address {address!r} is not 'auto', 'ray://HOST:PORT' or "
                         "'HOST:PORT'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray cluster at {address!r}: "
                         f"{exc.strerror or exc}") from None


def _run_task(fn: Any, args: Sequence[Any], kwargs: dict[str, Any], threads: int | None
              ) -> Any:
    """The body of every Ray task: the unit, with its CPU share as its thread count."""
    return call_unit(fn, args, kwargs, threads)


class RayBackend(Backend):
    """Units as Ray tasks.

    Args:
        address: see the module docstring (``None``: a local instance).
        cpus: CPUs per unit (≥ 1; also its torch/BLAS thread count, rounded up).
        gpus: GPUs per unit (0: none; fractions share a GPU).
        retries: how often Ray starts a unit again after its worker or node died.
        num_cpus: CPUs of a local instance (default: this machine's cores); only with
            ``address=None``.

    A Ray session already open in this process (``ray.init`` called before) is used as it
    is, and left open by :meth:`close`.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus: float = 1.0, gpus: float = 0.0,
                 retries: int = 2, num_cpus: int | None = None) -> None:
        for label, val, low in (("cpus", cpus, 1.0), ("gpus", gpus, 0.0)):
            if isinstance(val, bool) or not isinstance(val, int | float) \
                    or not math.isfinite(val) or val < low:
                raise ValueError(f"{label} per unit must be a number >= {low:g}, got {val!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
        if num_cpus is not None and address is not None:
            raise ValueError("num_cpus sizes a local Ray instance: give it without an address")
        self.ray = import_ray()
        self.address, self.cpus, self._gpus, self.retries = address, cpus, gpus, retries
        self._started = False
        check_address(address)  # even with a session open: a wrong address is an error
        if not self.ray.is_initialized():
            self._connect(address, num_cpus)
        self._slots = self._fit()

    def _connect(self, address: str | None, num_cpus: int | None) -> None:
        kwargs: dict[str, Any] = {"logging_level": "error", "log_to_driver": False}
        if address is None:
            kwargs.update(num_cpus=num_cpus, include_dashboard=False)
        try:
            self.ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = "start a local Ray instance" if address is None else \
                f"connect to the Ray cluster at {address!r}"
            raise ValueError(f"cannot {where}: {' '.join(str(exc).split())[:300]}") from None
        self._started = True

    def _fit(self) -> int:
        """Units that fit on the cluster at once; ``ValueError`` if not even one does."""
        have = self.ray.cluster_resources()
        cpu, gpu = float(have.get("CPU", 0.0)), float(have.get("GPU", 0.0))
        if self.cpus > cpu or self._gpus > gpu:
            self.close()
            raise ValueError(f"a unit asks for {self.cpus:g} CPU(s) and {self._gpus:g} "
                             f"GPU(s) but the Ray cluster has {cpu:g} CPU(s) and {gpu:g} "
                             "GPU(s) in all")
        slots = int(cpu // self.cpus)
        if self._gpus > 0:
            slots = min(slots, int(gpu // self._gpus))
        return max(1, slots)

    @property
    def slots(self) -> int:
        return self._slots

    @property
    def threads(self) -> int | None:
        return max(1, math.ceil(self.cpus))

    @property
    def gpus(self) -> float:
        return self._gpus

    def describe(self) -> str:
        where = "local instance" if self.address is None else self.address
        return (f"ray ({where}: {self._slots} unit(s) at once, {self.cpus:g} CPU "
                f"and {self._gpus:g} GPU each)")

    def run(self, units: Sequence[Unit], on_result: ResultCallback) -> None:
        check_units(units)
        ray = self.ray
        task = ray.remote(_run_task).options(num_cpus=self.cpus, num_gpus=self._gpus,
                                             max_retries=self.retries, retry_exceptions=False)
        pending = {task.remote(u.fn, u.args, dict(u.kwargs), self.threads): u for u in units}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    unit = pending.pop(ref)
                    on_result(unit, self._result(ref, unit))
        finally:
            for ref in pending:  # an error: the units still queued or running are stopped
                ray.cancel(ref, force=True)

    def _result(self, ref: Any, unit: Unit) -> Any:
        """``ray.get(ref)``; the unit's own exception (same type) if it raised,
        :class:`UnitFailed` if its worker died on every attempt."""
        exc_mod = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except exc_mod.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from RemoteTraceback(str(exc))
            raise RuntimeError(f"unit {unit.key!r}: {type(exc).__name__}") \
                from RemoteTraceback(str(exc))
        except exc_mod.RayError as exc:
            raise UnitFailed(f"unit {unit.key!r} failed on the Ray cluster after "
                             f"{self.retries + 1} attempt(s): {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}") from None

    def close(self) -> None:
        if self._started:
            self._started = False
            self.ray.shutdown()
