"""numba kernels of :mod:`goal_rl.engines.compiled` (import that module, not this one: it
registers the BLAS and ``exp`` symbols these kernels call before they are compiled or loaded
from the on-disk cache).

Every step mirrors one NumPy call of :class:`~goal_rl.engines.numpy_engine.NumpyGoal` in the
same order, in the array dtype; products go through :func:`matmul`, which picks the BLAS
routine and flags NumPy's ``matmul`` picks for the same shapes and memory layouts.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import types as ty

_vp = ty.voidptr
_i32, _i64 = ty.int32, ty.int64
_gemv = {p: ty.ExternalFunction(f"goal_rl_{p}gemv", ty.void(
    _i32, _i32, _i64, _i64, f, _vp, _i64, _vp, _i64, f, _vp, _i64))
    for p, f in (("s", ty.float32), ("d", ty.float64))}
_gemm = {p: ty.ExternalFunction(f"goal_rl_{p}gemm", ty.void(
    _i32, _i32, _i32, _i64, _i64, _i64, f, _vp, _i64, _vp, _i64, f, _vp, _i64))
    for p, f in (("s", ty.float32), ("d", ty.float64))}
_dot = {p: ty.ExternalFunction(f"goal_rl_{p}dot", f(_i64, _vp, _i64, _vp, _i64))
        for p, f in (("s", ty.float32), ("d", ty.float64))}
_exp = {p: ty.ExternalFunction(f"goal_rl_exp_{p}", ty.void(_vp, _vp, _vp, _vp))
        for p in "fd"}
sgemv, dgemv = _gemv["s"], _gemv["d"]
sgemm, dgemm = _gemm["s"], _gemm["d"]
sdot, ddot = _dot["s"], _dot["d"]
exp_f, exp_d = _exp["f"], _exp["d"]

ROW, COL, NOTRANS, TRANS = 101, 102, 111, 112  # CBLAS enums
OPTS = {"cache": True, "fastmath": False, "nogil": True}


@njit(**OPTS)
def _gemv_call(single, trans, rows, cols, a, lda, x, y):
    if single:
        sgemv(COL, trans, rows, cols, np.float32(1.0), a, lda, x, 1, np.float32(0.0), y, 1)
    else:
        dgemv(COL, trans, rows, cols, 1.0, a, lda, x, 1, 0.0, y, 1)


@njit(**OPTS)
def matmul(a, a_t, b, b_t, out, m, k, n):
    """``out (m, n) = op(a) @ op(b)`` the way NumPy's ``matmul`` computes it.

    ``a`` holds ``op(a)`` in C order (``a_t`` false, shape ``(m, k)``) or its transpose
    (``a_t`` true: ``a`` is ``(k, m)`` and the operand a transposed view, as ``A.T``);
    likewise ``b``. NumPy uses an exact product for ``k = 1``, DOT for a row times a
    column, GEMV when ``m`` or ``n`` is one and GEMM otherwise (row-major, transposed
    operands flagged)."""
    single = out.itemsize == 4
    pa, pb, po = a.ctypes.data, b.ctypes.data, out.ctypes.data
    if k == 1:
        af, bf, of = a.reshape(-1), b.reshape(-1), out.reshape(-1)
        for i in range(m):
            for j in range(n):
                of[i * n + j] = 0.0
                of[i * n + j] += af[i] * bf[j]
    elif m == 1 and n == 1:
        of = out.reshape(-1)
        of[0] = 0.0
        if single:
            of[0] += sdot(k, pa, 1, pb, 1)
        else:
            of[0] += ddot(k, pa, 1, pb, 1)
    elif m == 1:  # y_j = Σ_k a_k B_kj
        if b_t:
            _gemv_call(single, TRANS, k, n, pb, k, pa, po)
        else:
            _gemv_call(single, NOTRANS, n, k, pb, n, pa, po)
    elif n == 1:  # y_i = Σ_k A_ik b_k
        if a_t:
            _gemv_call(single, NOTRANS, m, k, pa, m, pb, po)
        else:
            _gemv_call(single, TRANS, k, m, pa, k, pb, po)
    else:
        ta, tb = TRANS if a_t else NOTRANS, TRANS if b_t else NOTRANS
        lda, ldb = (m if a_t else k), (k if b_t else n)
        if single:
            sgemm(ROW, ta, tb, m, n, k, np.float32(1.0), pa, lda, pb, ldb, np.float32(0.0),
                  po, n)
        else:
            dgemm(ROW, ta, tb, m, n, k, 1.0, pa, lda, pb, ldb, 0.0, po, n)


@njit(**OPTS)
def numpy_exp(x, ptrs):
    """``x = exp(x)`` in place with NumPy's own loop (``x`` contiguous; ``ptrs`` int64 (5,)
    scratch for the loop's argument, length and stride arrays)."""
    ptrs[0] = x.ctypes.data
    ptrs[1] = x.ctypes.data
    ptrs[2] = x.size
    ptrs[3] = x.itemsize
    ptrs[4] = x.itemsize
    base = ptrs.ctypes.data
    if x.itemsize == 4:
        exp_f(base, base + 16, base + 24, 0)
    else:
        exp_d(base, base + 16, base + 24, 0)


@njit(**OPTS)
def sigmoid_slope(v, out, tmp, ptrs):
    """``out = σ(v) − σ(v)²`` with NumPy's sequence (negate, exp, +1, reciprocal, −square)."""
    one = out.dtype.type(1.0)
    o, t, vf = out.reshape(-1), tmp.reshape(-1), v.reshape(-1)
    for i in range(o.size):
        o[i] = -vf[i]
    numpy_exp(o, ptrs)
    for i in range(o.size):
        x = o[i] + one
        x = one / x
        t[i] = x * x
        o[i] = x - t[i]


@njit(**OPTS)
def free_run(current, W, Z, bs, cbs, bm, cbm, rho, theta, v0):
    """The LIF network without learning, ``Z (T, M, N)`` written (hot kernel: the
    NumPy engine's ``_free_run`` step by step; one loop so nothing is called per step)."""
    T, M, N = current.shape
    v = np.full((M, N), v0, dtype=W.dtype)
    s = np.zeros((M, N), dtype=W.dtype)
    z = np.zeros((M, N), dtype=W.dtype)
    cur = np.empty((M, N), dtype=W.dtype)
    for t in range(T):
        for m in range(M):
            for i in range(N):
                s[m, i] = s[m, i] * bs + z[m, i] * cbs
        matmul(s, False, W, True, cur, M, N, N)
        x, zt = current[t], Z[t]
        for m in range(M):
            for i in range(N):
                c = (cur[m, i] + x[m, i]) * cbm
                vv = v[m, i] * bm + c
                vv = vv + z[m, i] * rho
                v[m, i] = vv
                zt[m, i] = 1.0 if vv > theta else 0.0
        z = zt


@njit(**OPTS)
def _fold(Ws, A, E, lo, hi, N, tmp):
    """``Ws += A[lo:hi]ᵀ E[lo:hi]``, zero diagonal (a fold of the buffered updates)."""
    matmul(A[lo:hi], True, E[lo:hi], False, tmp, N, hi - lo, N)
    for i in range(N):
        for j in range(N):
            Ws[i, j] += tmp[i, j]
        Ws[i, i] = 0.0


@njit(**OPTS)
def _buffered_current(s, Ws, A, E, lo, hi, dacc, cur, M, N, t1, t2):
    """``cur = (1-β_m) W_t s`` from ``W_0``, the buffered rows ``A[lo:hi]``, ``E[lo:hi]`` and
    the zeroed diagonal ``dacc`` (module docstring of the NumPy engine)."""
    matmul(s, False, Ws, True, cur, M, N, N)
    if hi > lo:
        r = hi - lo
        u = t1[:M * r].reshape(M, r)
        matmul(s, False, E[lo:hi], True, u, M, N, r)
        matmul(u, False, A[lo:hi], False, t2, M, r, N)
        for m in range(M):
            for i in range(N):
                cur[m, i] = cur[m, i] + t2[m, i]
                cur[m, i] = cur[m, i] - s[m, i] * dacc[i]


@njit(**OPTS)
def _error_rows(g, P_t, sh, Q, has_q, c, has_c, M, N, u, t2):
    """``g = P_t − ((ŝ Q) Qᵀ) − c ŝ`` in NumPy's order (``_error_rows`` of the NumPy engine)."""
    if has_q:
        R = Q.shape[1]
        w = u[:M * R].reshape(M, R)
        matmul(sh, False, Q, False, w, M, N, R)
        matmul(w, False, Q, True, t2, M, R, N)
        for m in range(M):
            for i in range(N):
                g[m, i] = P_t[m, i] - t2[m, i]
    else:
        g[:, :] = P_t
    if has_c:
        for m in range(M):
            for i in range(N):
                g[m, i] = g[m, i] - sh[m, i] * c


@njit(**OPTS)
def learning_epoch(current, W0, Z, P, Q, has_q, c, has_c, decay, gain, bm, cbm, theta, vt0,
                   scale, rec, fold_rows, A, E):
    """One epoch with the online update (hot kernel: the NumPy engine's ``_learning_epoch``
    step by step, with the same buffered rows ``A``, ``E`` and fold schedule; one loop so
    that no Python runs per step). ``W0`` is updated in place; ``A`` keeps the rows for the
    input update."""
    T, M, N = current.shape
    S = np.zeros((3, M, N), dtype=W0.dtype)
    s, sh, vt = S[0], S[1], S[2]
    vt[:, :] = vt0
    Ws = W0 * cbm
    tmpN = np.empty((N, N), dtype=W0.dtype)
    cur = np.empty((M, N), dtype=W0.dtype)
    p = np.empty((M, N), dtype=W0.dtype)
    tmp = np.empty((M, N), dtype=W0.dtype)
    t1 = np.empty(M * max((T + 1) * M, Q.shape[1]), dtype=W0.dtype)
    t2 = np.empty((M, N), dtype=W0.dtype)
    dacc = np.zeros(N, dtype=W0.dtype)
    ptrs = np.zeros(5, dtype=np.int64)
    j0 = 0
    for t in range(T):
        j = t * M
        a_t, e_t, e_p = A[j + M:j + 2 * M], E[j + M:j + 2 * M], E[j:j + M]
        for m in range(M):
            for i in range(N):
                e_t[m, i] = e_p[m, i] * bm + s[m, i] * cbm
        if rec and j - j0 >= fold_rows:
            _fold(Ws, A, E, j0 + M, j + M, N, tmpN)
            dacc[:] = 0.0
            j0 = j
        _buffered_current(s, Ws, A, E, j0 + M, j + M if rec else j0 + M, dacc, cur, M, N,
                          t1, t2)
        x, zt = current[t], Z[t]
        for m in range(M):
            for i in range(N):
                vv = vt[m, i] + (cur[m, i] + x[m, i] * cbm)
                vt[m, i] = vv
                zt[m, i] = 1.0 if vv > theta else 0.0
        sigmoid_slope(vt, p, tmp, ptrs)
        for k in range(3):
            for m in range(M):
                for i in range(N):
                    S[k, m, i] = S[k, m, i] * decay[k] + gain[k] * zt[m, i]
        _error_rows(a_t, P[t], sh, Q, has_q, c, has_c, M, N, t1, t2)
        for i in range(N):  # Σ_m a ⊙ e row by row, as NumPy's sum over axis 0
            a = a_t[0, i] * (p[0, i] * scale)
            a_t[0, i] = a
            acc = a * e_t[0, i]
            for m in range(1, M):
                a = a_t[m, i] * (p[m, i] * scale)
                a_t[m, i] = a
                acc = acc + a * e_t[m, i]
            dacc[i] = dacc[i] + acc
    if rec:
        _fold(Ws, A, E, j0 + M, (T + 1) * M, N, tmpN)
        for i in range(N):
            for k in range(N):
                W0[i, k] = Ws[i, k] / cbm


@njit(**OPTS)
def agent_step(obs, v0, z0, s0, r0, w_in, w_rec, w_out, shift, scale, clip, low, high,
         flags, consts):
    """One step of the closed-loop agent for a batch of one, ``obs (1, I)`` and the state
    ``v, z, s, r (1, N)`` → ``(y (1, O), v, z, s, r)`` (new arrays), in the order of the
    agent's NumPy step (hot kernel: one function so nothing is called per element; see
    :mod:`goal_rl.engines.compiled_agent`). ``flags``: shift, scale, clip, low, high
    present; ``consts``: ``(β_m, 1−β_m, β_s, 1−β_s, β_o, 1−β_o, bias, reset, θ)``."""
    bm, cm, bs, cs, bo, co, bias, reset, theta = consts
    dt = w_rec.dtype
    N, I, O = w_rec.shape[0], w_in.shape[1], w_out.shape[0]
    x = np.empty((1, I), dtype=dt)
    for i in range(I):
        xi = dt.type(obs[0, i]) if False else obs[0, i]
        x[0, i] = xi
    if flags[0]:
        for i in range(I):
            x[0, i] = x[0, i] - shift[i]
    if flags[1]:
        for i in range(I):
            x[0, i] = x[0, i] * scale[i]
    if flags[2]:
        for i in range(I):
            x[0, i] = min(max(x[0, i], -clip), clip)
    s = np.empty((1, N), dtype=dt)
    for i in range(N):
        s[0, i] = bs * s0[0, i] + cs * z0[0, i]
    cur = np.empty((1, N), dtype=dt)
    rec = np.empty((1, N), dtype=dt)
    matmul(x, False, w_in, True, cur, 1, I, N)
    matmul(s, False, w_rec, True, rec, 1, N, N)
    v = np.empty((1, N), dtype=dt)
    z = np.empty((1, N), dtype=dt)
    r = np.empty((1, N), dtype=dt)
    for i in range(N):
        c = (cur[0, i] + bias) + rec[0, i]
        vv = (bm * v0[0, i] + cm * c) + reset * z0[0, i]
        v[0, i] = vv
        z[0, i] = 1.0 if vv > theta else 0.0
        r[0, i] = bo * r0[0, i] + co * z[0, i]
    y = np.empty((1, O), dtype=dt)
    matmul(r, False, w_out, True, y, 1, N, O)
    for o in range(O):
        if flags[3]:
            y[0, o] = max(y[0, o], low[o])
        if flags[4]:
            y[0, o] = min(y[0, o], high[o])
    return y, v, z, s, r


def self_check() -> str:
    """Compare the kernels' BLAS and exp with NumPy on probe arrays; ``""`` when equal."""
    rng = np.random.default_rng(12345)
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal(4099) * 20).astype(dt)
        y = x.copy()
        numpy_exp(y, np.zeros(5, np.int64))
        with np.errstate(over="ignore"):
            if not np.array_equal(y, np.exp(x)):
                return f"NumPy's exp loop gave other values ({np.dtype(dt).name})"
        for m, k, n in ((1, 37, 41), (5, 37, 41), (5, 37, 1), (1, 37, 1), (3, 1, 4)):
            a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((n, k)).astype(dt)
            out = np.empty((m, n), dt)
            matmul(a, False, b, True, out, m, k, n)
            if not np.array_equal(out, a @ b.T):
                return f"BLAS products differ from NumPy's ({np.dtype(dt).name}, {m}x{k}x{n})"
            bt = np.ascontiguousarray(b.T)
            matmul(a, False, bt, False, out, m, k, n)
            if not np.array_equal(out, a @ bt):
                return f"BLAS products differ from NumPy's ({np.dtype(dt).name}, {m}x{k}x{n})"
    return ""
