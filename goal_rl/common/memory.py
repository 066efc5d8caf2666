"""Memory checks before allocating: a run that cannot fit fails at once with one line that
says what it needs and what the machine has, instead of an allocation traceback later.

The estimates are upper bounds of the large arrays only (weights, their working copies,
per-step buffers); small items are ignored.
"""

from __future__ import annotations

import os

__all__ = ["GIB", "available_bytes", "check_memory", "network_bytes"]

GIB = 1024 ** 3


def available_bytes() -> int | None:
    """Memory the process could still allocate, in bytes (``MemAvailable`` on Linux, the
    physical memory elsewhere); ``None`` when it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def network_bytes(n_rec: int, n_inp: int, n_out: int, *, steps: int, trials: int = 1,
                  networks: int = 1, itemsize: int = 4) -> int:
    """Upper-bound bytes of GOAL training for ``networks`` networks of ``n_rec`` units.

    Counted: the initial weights drawn in float64 (``N×N`` recurrent, ``N×(I+O)``), four
    working copies of the recurrent weights in the compute dtype (weights, folded weights,
    a gather table of two blocks), the ``(T, M, N)`` buffers of one epoch (currents,
    spikes, targets, traces, buffered updates: twelve of them) and the ``T×T`` filter.
    """
    n, m, t, k = int(n_rec), int(trials), int(steps), int(networks)
    per_net = 8 * (n * n + n * (n_inp + n_out)) + itemsize * (4 * n * n + 12 * t * m * n)
    return k * per_net + 8 * t * t


def check_memory(need: int, what: str) -> None:
    """Raise ``ValueError`` when ``need`` bytes exceed the memory available.

    Args:
        need: bytes the run would allocate.
        what: the run in words, e.g. ``"n_rec N = 200000 (recurrent weights N×N)"``.
    """
    have = available_bytes()
    if have is not None and need > have:
        raise ValueError(f"{what} needs ≈ {need / GIB:,.1f} GiB of memory; this machine has "
                         f"{have / GIB:,.1f} GiB available")
