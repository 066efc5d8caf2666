"""The backend options every command that runs work units shares.

``--processes N`` | ``--ray [ADDRESS]``, with ``--cpus-per-unit``, ``--gpus-per-unit`` and
``--retries``; :func:`backend_from_args` checks them all and connects (a wrong address, a
missing Ray, a unit larger than the cluster: one ``ValueError`` line) before the command
writes anything.
"""

from __future__ import annotations

import argparse
import math

from goal_rl.common.cli import nonneg_float, nonneg_int, positive_float, positive_int
from goal_rl.parallel.base import Backend, InlineBackend

__all__ = ["LOCAL", "add_backend_args", "backend_from_args", "make_backend"]

#: ``--ray`` with no address (or ``--ray local``): a private Ray instance on this machine
LOCAL = "local"


def add_backend_args(parser: argparse.ArgumentParser, what: str = "unit") -> None:
    """Add ``--processes``, ``--ray``, ``--cpus-per-unit``, ``--gpus-per-unit`` and
    ``--retries`` to ``parser`` (``what`` names a unit in the help, e.g. ``"batch"``)."""
    g = parser.add_argument_group("where the work runs (default: in this process)")
    ex = g.add_mutually_exclusive_group()
    ex.add_argument("--processes", type=positive_int, default=None, metavar="N",
                    help=f"run the {what}s in N local worker processes")
    ex.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                    help=f"run the {what}s as Ray tasks: no ADDRESS (or 'local') starts Ray "
                         "on this machine's cores, 'auto' joins this machine's cluster, "
                         "'ray://HOST:10001' connects to a remote one (needs the ray extra)")
    g.add_argument("--cpus-per-unit", type=positive_float, default=None, metavar="C",
                   help=f"CPUs (= threads) per {what}: the Ray resources each task asks for, "
                        "or each worker's threads with --processes (default: 1 with --ray, "
                        "the cores shared out with --processes)")
    g.add_argument("--gpus-per-unit", type=nonneg_float, default=None, metavar="G",
                   help=f"GPUs per {what} with --ray (default: 1 on a CUDA device, else 0)")
    g.add_argument("--retries", type=nonneg_int, default=2,
                   help=f"restarts of a {what} whose worker died (default %(default)s)")


def make_backend(*, processes: int | None = None, ray: str | None = None,
                 cpus: float | None = None, gpus: float | None = None,
                 threads: int | None = None, retries: int = 2) -> Backend:
    """The backend these options ask for (connected, checked), e.g. for the Python API.

    Args:
        processes: local worker processes (``None``: not this backend).
        ray: :data:`LOCAL` or an address (``None``: not this backend).
        cpus: CPUs per unit (threads of each unit).
        gpus: GPUs per unit (Ray only).
        threads: the threads of each unit when ``cpus`` is not given (the inline backend's
            only option).
        retries: restarts of a unit whose worker died.
    """
    if processes is not None and ray is not None:
        raise ValueError("choose one of --processes and --ray")
    if gpus is not None and gpus > 0 and ray is None:
        raise ValueError("--gpus-per-unit needs --ray (local workers share the device the "
                         "command runs on)")
    per_unit = None if cpus is None else max(1, math.ceil(cpus))
    if processes is not None:
        from goal_rl.parallel.processes import ProcessBackend

        return ProcessBackend(processes, threads=per_unit or threads, retries=retries)
    if ray is not None:
        from goal_rl.parallel.ray_cluster import RayBackend

        return RayBackend(None if ray == LOCAL else ray, cpus=cpus or float(threads or 1),
                          gpus=gpus or 0.0, retries=retries)
    if cpus is not None:
        raise ValueError("--cpus-per-unit needs --processes or --ray")
    return InlineBackend(threads)


def backend_from_args(args: argparse.Namespace, *, threads: int | None = None,
                      default_gpus: float = 0.0) -> Backend:
    """The backend of parsed :func:`add_backend_args` options (see :func:`make_backend`);
    ``default_gpus`` applies with ``--ray`` when ``--gpus-per-unit`` is not given."""
    gpus = args.gpus_per_unit
    if gpus is None and args.ray is not None:
        gpus = default_gpus
    return make_backend(processes=args.processes, ray=args.ray, cpus=args.cpus_per_unit,
                        gpus=gpus, threads=threads, retries=args.retries)
