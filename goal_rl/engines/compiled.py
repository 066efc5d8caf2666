"""Compiled single-network GOAL kernels (numba), bit-identical to the NumPy engine.

:class:`CompiledGoal` is :class:`~goal_rl.engines.numpy_engine.NumpyGoal` with its two hot
loops, the free run and the learning epoch, compiled by numba (``@njit(cache=True,
fastmath=False)``). Everything else (targets, readout, feedback, metrics, the input update)
is the NumPy engine's own code.

Same results to the last bit: the kernels perform the NumPy engine's floating-point
operations in the same order and dtype. Elementwise steps are plain IEEE operations (the
scalars are cast to the array dtype first, as NumPy does with Python floats). Two things
would otherwise differ, and the kernels call NumPy's own code for them:

- matrix products go to the OpenBLAS library NumPy is linked to (``numpy.libs``), with the
  routine NumPy's ``matmul`` picks for each shape (GEMV for one row, GEMM otherwise, DOT for
  a row times a column, an exact product for an inner dimension of one) and the same
  transposition flags, so the same BLAS kernel sums in the same order;
- ``exp`` is NumPy's own ufunc loop (its SIMD ``exp`` is not libm's: ≈ 39 % of float32 and
  5 % of float64 results differ in the last bit), called through its C function pointer.

Both are looked up once at import and checked against NumPy on probe arrays
(:func:`available` is ``False`` when numba is missing, the library or the loop cannot be
found, or a check fails; the callers then use the NumPy engine). Compiled code is cached on
disk; when the package folder is not writable, ``NUMBA_CACHE_DIR`` defaults to a folder under
the user's cache directory.
"""

from __future__ import annotations

import ctypes
import glob
import os
import tempfile

import numpy as np

from goal_rl.engines.numpy_engine import NumpyGoal, fold_rows

__all__ = ["CompiledGoal", "available", "unavailable_reason"]


def _cache_dir() -> None:
    """Point ``NUMBA_CACHE_DIR`` at a writable folder if the package folder is read-only."""
    if "NUMBA_CACHE_DIR" in os.environ or os.access(os.path.dirname(__file__), os.W_OK):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.access(os.path.dirname(base) or ".", os.W_OK):
        base = tempfile.gettempdir()
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(base, "goal_rl", "numba")


_cache_dir()
_REASON = ""
try:
    import llvmlite.binding as _llb
    import numba as _nb
except ImportError as exc:  # pragma: no cover - numba is a default dependency
    _nb = None
    _REASON = f"numba is not installed ({exc})"


class _UFunc(ctypes.Structure):
    """The head of NumPy's ``PyUFuncObject`` (public C API, ``ufuncobject.h``)."""
    _fields_ = [("refcnt", ctypes.c_ssize_t), ("ob_type", ctypes.c_void_p),
                ("nin", ctypes.c_int), ("nout", ctypes.c_int), ("nargs", ctypes.c_int),
                ("identity", ctypes.c_int), ("functions", ctypes.POINTER(ctypes.c_void_p)),
                ("data", ctypes.POINTER(ctypes.c_void_p)), ("ntypes", ctypes.c_int),
                ("reserved1", ctypes.c_int), ("name", ctypes.c_char_p),
                ("types", ctypes.POINTER(ctypes.c_char))]


def _exp_loops() -> dict[str, int]:
    """Addresses of NumPy's first ``exp`` loops for float32 and float64."""
    uf = _UFunc.from_address(id(np.exp))
    if uf.name != b"exp" or uf.nargs != 2:
        raise RuntimeError("unexpected layout of numpy.exp")
    found: dict[str, int] = {}
    for i in range(uf.ntypes):
        t = (ord(uf.types[2 * i]), ord(uf.types[2 * i + 1]))
        for name, num in (("f", np.dtype(np.float32).num), ("d", np.dtype(np.float64).num)):
            if t == (num, num) and name not in found and not uf.data[i]:
                found[name] = uf.functions[i]
    if len(found) != 2:
        raise RuntimeError("numpy.exp has no float32/float64 loops")
    return found


def _register() -> None:
    """Register the BLAS routines and the exp loops as symbols for the compiled code."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                                  "libscipy_openblas64_*.so"))
    if len(libs) != 1:
        raise RuntimeError("NumPy's bundled OpenBLAS (numpy.libs) not found")
    lib = ctypes.CDLL(libs[0])
    for p in "sd":
        for r in ("gemv", "gemm", "dot"):
            fn = getattr(lib, f"scipy_cblas_{p}{r}64_")
            _llb.add_symbol(f"goal_rl_{p}{r}", ctypes.cast(fn, ctypes.c_void_p).value)
    for name, addr in _exp_loops().items():
        _llb.add_symbol(f"goal_rl_exp_{name}", addr)


if _nb is not None:
    try:
        _register()
    except (OSError, RuntimeError, AttributeError) as exc:
        _nb = None
        _REASON = f"NumPy's BLAS or exp loop not usable: {exc}"

_CHECKED = False


def available() -> bool:
    """Whether the compiled kernels can run here (see :func:`unavailable_reason`).

    The first call imports (compiles or loads from the cache) the kernels and compares their
    products and ``exp`` with NumPy's on probe arrays."""
    global _CHECKED, _REASON, _nb
    if _nb is not None and not _CHECKED:
        from goal_rl.engines import compiled_kernels
        _CHECKED = True
        _REASON = compiled_kernels.self_check()
        if _REASON:
            _nb = None
    return _nb is not None


def unavailable_reason() -> str:
    """Why the compiled kernels are not available (``""`` when they are)."""
    available()
    return _REASON


class CompiledGoal(NumpyGoal):
    """:class:`~goal_rl.engines.numpy_engine.NumpyGoal` with compiled epochs (same results).

    Arguments as ``NumpyGoal``; raises ``RuntimeError`` when :func:`available` is false.
    """

    def __init__(self, *args, **kwargs) -> None:
        if not available():
            raise RuntimeError(f"compiled kernels unavailable: {_REASON}")
        super().__init__(*args, **kwargs)

    def _scalars(self) -> tuple:
        f = self.dtype
        cfg = self.cfg
        return f(self.beta_m), f(1 - self.beta_m), f(cfg.theta), f(cfg.reset), f(cfg.v0)

    def _free_run(self, current: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """The LIF network without learning, compiled (see ``NumpyGoal._free_run``)."""
        f = self.dtype
        bm, cbm, theta, rho, v0 = self._scalars()
        from goal_rl.engines.compiled_kernels import free_run
        free_run(np.ascontiguousarray(current), self.w_rec, Z, f(self.beta_s),
                        f(1 - self.beta_s), bm, cbm, rho, theta, v0)
        return Z

    def _learning_epoch(self, current: np.ndarray, learn: dict, Z: np.ndarray) -> np.ndarray:
        """One epoch with the online update, compiled (see ``NumpyGoal._learning_epoch``)."""
        f = self.dtype
        T, M, N = current.shape
        bm, cbm, theta, rho, v0 = self._scalars()
        Q, c, bst = learn["Q"], learn["c"], learn["beta_star"]
        eta, eta_in = learn["eta"], learn.get("eta_in", 0.0)
        rec = eta != 0
        scale = f((eta if rec else 1.0) * cbm)
        A = np.zeros(((T + 1) * M, N), dtype=f)
        E = np.zeros(((T + 1) * M, N), dtype=f)
        q = np.zeros((N, 1), dtype=f) if Q is None else np.ascontiguousarray(Q, dtype=f)
        bs = f(self.beta_s)
        decay = np.array([bs, bst, bm], dtype=f)
        gain = np.array([1 - self.beta_s, 1 - bst, self.cfg.reset], dtype=f)
        from goal_rl.engines.compiled_kernels import learning_epoch
        vt0 = f(self.beta_m * self.cfg.v0)
        learning_epoch(np.ascontiguousarray(current), self.w_rec, Z, learn["P"], q,
                       Q is not None, f(c), c != 0, decay, gain, bm, cbm, theta, vt0, scale,
                       rec, fold_rows(M, N), A, E)
        if eta_in:
            self._learn_inputs(A[M:], eta_in / float(scale))
        return Z

