"""Thread control for small products: one torch thread, one BLAS thread.

The per-step products of a single network are far too small to gain from threads; on a
shared or busy CPU the hand-offs cost more than they save.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["single_thread_blas", "torch_threads"]


def _openblas_local_threads() -> Callable[[int], int] | None:
    """``openblas_set_num_threads_local`` of NumPy's bundled OpenBLAS, if there is one."""
    libdir = os.path.join(os.path.dirname(np.__file__) + ".libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
            fn = lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


_SET_THREADS = _openblas_local_threads()


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS single-threaded in this thread: the products here are far too small to gain
    from threads, and OpenBLAS's thread hand-off costs more than the product itself."""
    if _SET_THREADS is None:
        yield
        return
    old = _SET_THREADS(1)
    try:
        yield
    finally:
        _SET_THREADS(max(int(old), 1))


@contextlib.contextmanager
def torch_threads(n: int | None = 1, device: Any = "cpu") -> Iterator[None]:
    """Use ``n`` torch CPU threads for the block (``None``, or a non-CPU ``device``: no change).

    Small per-step products gain nothing from threads, and on a shared or busy CPU the
    hand-offs cost more than they save. torch is imported only when the count changes, so
    NumPy-only code paths stay torch-free.
    """
    if n is None or str(device).split(":")[0] != "cpu":
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
