"""Pure-NumPy GOAL engine (the LIF network and the GOAL rule, see docs/model.md), no torch
import.

Same maths, same configuration, same initial weights and feedback draws as the torch
engine :class:`~goal_rl.engines.torch_batch.GoalBatch`, for one network running M trials
(arrays ``(T, M, ·)``); both are tested against the plain reference of
:mod:`goal_rl.engines.rule`.
It serves as an independent oracle for the torch code and, because NumPy's per-call
overhead is a fraction of torch's, as the fastest engine for a single network on a CPU.

Within an epoch the rank-one weight updates are not written into ``W_rec`` at every step.
They are kept as two row buffers ``A`` (``η g⊙σ'``) and ``E`` (eligibility), and the
recurrent current is computed as

    W_t s = W_0 s + Aᵀ(E s) − (Σ_k a_k ⊙ e_k) ⊙ s

(the last term is the zeroed diagonal), which equals applying every update at once; the
buffers are folded into ``W_rec`` with one matrix product at the end of the epoch and, when
they grow large, within it: every second step with 16 or more trials (M trials add M rows
per step and the buffered product costs M·rows·N per step; without folds an epoch of 120
trials took 9.9 s instead of 0.8–1.2 s), every ~N rows with fewer.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from goal_rl.common.threads import single_thread_blas
from goal_rl.config import GoalConfig, check_rank
from goal_rl.engines.common import (
    causal_filter,
    draw_feedback,
    filter_matrix_np,
    min_rank,
)
from goal_rl.engines.readout import relative_ridge
from goal_rl.engines.training import EpochLoop

__all__ = ["NumpyGoal"]

_DTYPES = {"float32": np.float32, "float64": np.float64}


def fold_rows(M: int, N: int) -> int:
    """Buffered update rows held before a fold into ``W_rec`` (M trials, N units).

    The buffered product costs ~ M·rows·N per step and a fold N²·rows once. A single trial
    (T ≤ N steps) never folds; with many trials folding every second step was fastest
    (N = 500, M = 120: 0.82 s per epoch, 1.15 s folding every step, 0.87 s every N rows,
    9.9 s never)."""
    return max(M, N) if M < 16 else 2 * M


def _sigmoid_slope(v: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """``out = σ(v) − σ(v)²``, the surrogate slope, in place (``tmp`` a scratch buffer)."""
    np.negative(v, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    np.multiply(out, out, out=tmp)
    np.subtract(out, tmp, out=out)


def _error_rows(g: np.ndarray, P_t: np.ndarray, sh: np.ndarray, Q: np.ndarray | None,
                QT: np.ndarray | None, c: float, tmp: np.ndarray) -> None:
    """``g = P_t − c ŝ − ŝ Q Qᵀ`` (rows ``(M, N)``) in place: the error ``D (s̄* − ŝ)`` with
    ``P = D s̄*`` precomputed (``tmp`` a scratch buffer)."""
    if Q is not None:
        np.subtract(P_t, (sh @ Q) @ QT, out=g)
    else:
        g[...] = P_t
    if c:
        np.multiply(sh, c, out=tmp)
        g -= tmp


class NumpyGoal(EpochLoop):
    """One network trained with GOAL on M trials; the NumPy twin of ``GoalBatch`` (K = 1).

    Training (:meth:`train`, :meth:`train_recurrent`) comes from
    :class:`~goal_rl.engines.training.EpochLoop`.

    Args:
        cfg: shared settings.
        weights: dict from :func:`~goal_rl.engines.common.init_weights`.
        rank: feedback rank R or ``None`` (LTTS).
        tau_star: target timescale in dt.
        rng: generator for the feedback columns.
        dtype: ``"float32"`` or ``"float64"`` (default ``cfg.dtype``).
        low_rank: also accept ``1 <= R < O`` (spike-level feedback only): the feedback is
            then the first R columns of ``W_outᵀ``
            (:func:`~goal_rl.engines.common.feedback_columns`).
    """

    K = 1  # networks (always one; the torch engine holds K)

    def __init__(self, cfg: GoalConfig, weights: dict[str, np.ndarray], rank: int | None,
                 tau_star: float, rng: np.random.Generator, dtype: str | None = None, *,
                 low_rank: bool = False) -> None:
        if cfg.device != "cpu":
            raise ValueError(f"the numpy backend runs on the CPU only, got device {cfg.device!r}")
        self.cfg = cfg
        self.dtype = _DTYPES[dtype or cfg.dtype]
        self.rank = None if rank is None else check_rank(rank, min_rank(cfg, low_rank),
                                                         cfg.n_rec)
        if not (isinstance(tau_star, int | float) and math.isfinite(tau_star) and tau_star > 0):
            raise ValueError(f"tau_star must be a positive number, got {tau_star!r}")
        self.tau_star = float(tau_star)
        if cfg.feedback == "out" and self.rank is None:
            raise ValueError("output-level feedback ('out') needs a rank")
        self.rng = rng
        f = self.dtype
        self.w_in = np.array(weights["w_in"], dtype=f)  # a copy: learnt with inp_lr > 0
        self.u = np.asarray(weights["u"], dtype=f)
        self.w_out = np.asarray(weights["w_out"], dtype=f)
        self.w_rec = np.array(weights["w_rec"], dtype=f)
        self.w_hint = np.asarray(weights["w_hint"], dtype=f) if "w_hint" in weights else None
        self.n_rec = self.w_rec.shape[0]
        self.beta_m = math.exp(-1.0 / cfg.tau_m)
        self.beta_s = math.exp(-1.0 / cfg.tau_s)
        self.beta_o = math.exp(-1.0 / cfg.tau_o)
        self.z: np.ndarray | None = None
        self.z_star: np.ndarray | None = None

    # ---------------------------------------------------------------- task
    def set_task(self, x: np.ndarray, y_star: np.ndarray, hints: np.ndarray | None = None
                 ) -> None:
        """Inputs ``x (T, M, I)``, targets ``y_star (T, M, O)``, optional hints ``(T, M, H)``."""
        f = self.dtype
        x, y = np.asarray(x, dtype=f), np.asarray(y_star, dtype=f)
        if x.ndim != 3 or y.ndim != 3:
            raise ValueError(f"x and y_star must be 3-D (T, M, ·), got {x.shape} and {y.shape}")
        if x.shape[-1] != self.w_in.shape[1]:
            raise ValueError(f"x has {x.shape[-1]} inputs, network expects {self.w_in.shape[1]}")
        if y.shape[-1] != self.w_out.shape[0]:
            raise ValueError(f"y_star has {y.shape[-1]} outputs, network has {self.w_out.shape[0]}")
        self.T, self.M = x.shape[0], x.shape[1]
        self.y_star = np.ascontiguousarray(y)
        self.x_raw = np.ascontiguousarray(x)
        self._x_trace: np.ndarray | None = None  # input eligibility, made on first use
        self.x_current = self._feedforward()
        self.teacher_current = self.x_current + y @ self.u.T
        if hints is not None:
            if self.w_hint is None:
                raise ValueError("hints given but the network has no hint weights")
            self.teacher_current = self.teacher_current + np.asarray(hints, f) @ self.w_hint.T
        self._L_out = filter_matrix_np(self.T, self.beta_o, f)

    # ---------------------------------------------------------------- simulation
    def simulate(self, current: np.ndarray, learn: dict | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Run from the initial state on ``current (T, M, N)``; with ``learn`` apply the online
        update to ``w_rec`` (folded in at the end) and, with ``learn["eta_in"]``, the epoch's
        update to ``w_in`` (``current`` must then be ``x_current``). Returns spikes
        ``(T, M, N)`` (written into ``out`` if given)."""
        M, N = current.shape[1], current.shape[2]
        Z = out if out is not None else np.empty_like(current)
        # one BLAS thread unless the products are big (M·N² ≥ 1e8: a walker clone with
        # N = 1000 on ~120 trials runs an epoch in 2.0 s with two threads, 3.4 s with one)
        blas = contextlib.nullcontext() if M * N * N >= 1e8 else single_thread_blas()
        with blas, np.errstate(over="ignore"):
            if learn is None:
                return self._free_run(current, Z)
            return self._learning_epoch(current, learn, Z)

    def _free_run(self, current: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """The LIF network without learning (hot kernel: the LIF step of
        :func:`goal_rl.model.lif.lif_step` fused into in-place NumPy operations)."""
        cfg = self.cfg
        M, N = current.shape[1], current.shape[2]
        f = self.dtype
        bm, bs = self.beta_m, self.beta_s
        cbm, cbs, rho, theta = 1 - bm, 1 - bs, cfg.reset, cfg.theta
        v = np.full((M, N), cfg.v0, dtype=f)
        z = np.zeros((M, N), dtype=f)
        s = np.zeros_like(z)
        tmp = np.empty_like(z)
        cur = np.empty_like(z)
        W0T = self.w_rec.T
        mul, matmul, greater = np.multiply, np.matmul, np.greater
        for t in range(current.shape[0]):
            s *= bs
            mul(z, cbs, out=tmp)
            s += tmp
            matmul(s, W0T, out=cur)
            cur += current[t]
            v *= bm
            cur *= cbm
            v += cur
            mul(z, rho, out=tmp)
            v += tmp
            z = Z[t]
            greater(v, theta, out=z, casting="unsafe")
        return Z

    def _learning_epoch(self, current: np.ndarray, learn: dict, Z: np.ndarray) -> np.ndarray:
        """One epoch of the LIF network with the online update (hot kernel).

        The LIF step and the rule of :mod:`goal_rl.engines.rule` fused into in-place NumPy
        operations on preallocated buffers, with the updates buffered as rows ``A``, ``E``
        and folded into ``W_rec`` (module docstring). It stays one loop: a step is ~25 NumPy
        calls of a few µs, and each helper call would add Python overhead to every step.
        The error and the surrogate slope are helpers (:func:`_error_rows`,
        :func:`_sigmoid_slope`).
        """
        cfg = self.cfg
        T, M, N = current.shape
        f = self.dtype
        bm, bs, cbm, theta = self.beta_m, self.beta_s, 1 - self.beta_m, cfg.theta
        P, c, Q, bst = learn["P"], learn["c"], learn["Q"], learn["beta_star"]
        eta, eta_in = learn["eta"], learn.get("eta_in", 0.0)
        rec = eta != 0  # W_rec learns (the rows A are kept for W_in even when not)
        # [s, ŝ, ṽ] are advanced together right after each spike, with ṽ = β_m v + ρ z
        # (the decayed, reset membrane); v itself is then ṽ + (1-β_m)(W s + x).
        S = np.zeros((3, M, N), dtype=f)
        s, sh, vt = S[0], S[1], S[2]
        vt[...] = bm * cfg.v0
        decay = np.array([bs, bst, bm], dtype=f).reshape(3, 1, 1)
        gain = np.array([1 - bs, 1 - bst, cfg.reset], dtype=f).reshape(3, 1, 1)
        tmp3 = np.empty_like(S)
        tmp, cur, p = np.empty((M, N), dtype=f), np.empty((M, N), dtype=f), np.empty((M, N), f)
        Xs = current * f(cbm)
        W0 = self.w_rec
        Ws = W0 * f(cbm)  # (1-β_m) W_0
        WsT = Ws.T
        A = np.zeros(((T + 1) * M, N), dtype=f)  # rows (1-β_m) η g σ'(v)
        E = np.zeros(((T + 1) * M, N), dtype=f)  # rows: eligibility e_t (row block 0 = 0)
        dacc = np.zeros(N, dtype=f)  # Σ a ⊙ e: the diagonal that must stay zero
        QT = Q.T if Q is not None else None
        scale = f((eta if rec else 1.0) * cbm)
        n_fold = fold_rows(M, N)
        j0 = 0  # first buffered row (block 0 holds the previous e)
        mul, matmul, greater = np.multiply, np.matmul, np.greater
        for t in range(T):
            j = t * M
            a_t, e_t = A[j + M:j + 2 * M], E[j + M:j + 2 * M]
            # e_t = β_m e_{t-1} + (1-β_m) s_t
            mul(E[j:j + M], bm, out=e_t)
            mul(s, cbm, out=tmp)
            e_t += tmp
            if rec and j - j0 >= n_fold:
                Ws += A[j0 + M:j + M].T @ E[j0 + M:j + M]
                np.fill_diagonal(Ws, 0.0)
                dacc[...] = 0.0
                j0 = j
            matmul(s, WsT, out=cur)
            if rec and j > j0:
                cur += (s @ E[j0 + M:j + M].T) @ A[j0 + M:j + M]
                mul(s, dacc, out=tmp)
                cur -= tmp
            cur += Xs[t]
            vt += cur  # now the membrane v_{t+1}
            z = Z[t]
            greater(vt, theta, out=z, casting="unsafe")
            _sigmoid_slope(vt, p, tmp)
            # advance s, ŝ, ṽ with the new spikes
            S *= decay
            mul(gain, z, out=tmp3)
            S += tmp3
            _error_rows(a_t, P[t], sh, Q, QT, c, tmp)
            p *= scale
            a_t *= p
            mul(a_t, e_t, out=tmp)
            dacc += tmp.sum(axis=0) if M > 1 else tmp[0]
        if rec:
            Ws += A[j0 + M:].T @ E[j0 + M:]
            np.fill_diagonal(Ws, 0.0)
            W0[...] = Ws / f(cbm)
        if eta_in:
            self._learn_inputs(A[M:], eta_in / float(scale))
        return Z

    def _feedforward(self, out: np.ndarray | None = None) -> np.ndarray:
        """Feed-forward current ``W_in x + b (T, M, N)`` of the task inputs."""
        out = np.matmul(self.x_raw, self.w_in.T, out=out)
        out += self.dtype(self.cfg.bias)
        return out

    def _learn_inputs(self, A: np.ndarray, lr: float) -> None:
        """``W_in += lr Σ_t A_tᵀ ε_t`` with the input eligibility ``ε_t = β_m ε_{t-1} +
        (1-β_m) x_t`` (rows of ``A (T·M, N)`` in the order of the epoch; ε depends only on
        the inputs, so it is filtered once per task), then refresh the feed-forward current."""
        f = self.dtype
        if self._x_trace is None:
            X = self.x_raw
            Ex = causal_filter(X, self.beta_m, recursive=True, dtype=f)
            self._x_trace = Ex.reshape(-1, X.shape[-1])
        self.w_in += f(lr) * (A.T @ self._x_trace)
        self._feedforward(out=self.x_current)

    def internal_targets(self) -> np.ndarray:
        """Spikes of the untrained network driven by the teacher, ``z* (T, M, N)``."""
        self.z_star = self.simulate(self.teacher_current)
        self.r_star = causal_filter(self.z_star, self.beta_o)
        return self.z_star

    # ---------------------------------------------------------------- readout
    def fit_readout(self) -> np.ndarray:
        """Fit ``w_out`` (see ``GoalBatch.fit_readout``); returns the readout MSE ``(1,)``."""
        r, y = self.r_star, self.y_star
        M = self.M
        C = np.einsum("tmn,tmp->np", r, r) / M
        Yr = np.einsum("tmo,tmn->on", y, r) / M
        with single_thread_blas():
            if self.cfg.readout == "ridge":
                lam = relative_ridge(C, self.cfg.ridge)
                w_out = np.linalg.solve(C + lam * np.eye(C.shape[0], dtype=C.dtype), Yr.T).T
            else:
                w_out = self.w_out.copy()
                lr = self.cfg.out_lr
                for _ in range(self.cfg.epochs_out):
                    w_out -= lr * (w_out @ C - Yr)
        self.w_out = np.ascontiguousarray(w_out, dtype=self.dtype)
        y_hat = r @ self.w_out.T
        return np.array([float(np.mean((y_hat - y) ** 2))])

    # ---------------------------------------------------------------- feedback
    def build_feedback(self) -> dict:
        """Draw the feedback and precompute ``P``, ``c``, ``Q`` (consumes ``rng``)."""
        f = self.dtype
        bst = math.exp(-1.0 / self.tau_star)
        s_bar = causal_filter(self.z_star, bst)
        Q, c = draw_feedback(self.w_out.astype(np.float64), self.rank, self.rng)
        if Q is None:
            P = c * s_bar
        else:
            Q = Q.astype(f)
            if self.cfg.feedback == "out":
                Y = s_bar @ Q
                Y[..., :self.w_out.shape[0]] = self.y_star
                P = Y @ Q.T
            else:
                P = (s_bar @ Q) @ Q.T
        self.learn = {"P": np.ascontiguousarray(P, dtype=f), "c": c, "Q": Q, "beta_star": bst,
                      "eta": self.cfg.eta, "eta_in": self.cfg.inp_lr}
        return self.learn

    # ---------------------------------------------------------------- metrics
    def metrics(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MSE ``(1,)`` (mean over T, M, O) and ΔZ ``(1,)`` of a raster ``(T, M, N)``."""
        y = self.output(Z)
        mse = float(np.mean((y - self.y_star) ** 2))
        dz = float(np.abs(Z - self.z_star).sum())
        return np.array([mse]), np.array([dz])

    def output(self, Z: np.ndarray | None = None) -> np.ndarray:
        """Output ``y (T, M, O)`` of a raster (default: the last free run)."""
        Z = self.z if Z is None else Z
        T = Z.shape[0]
        return (self._L_out @ (Z @ self.w_out.T).reshape(T, -1)).reshape(self.y_star.shape)

    # ---------------------------------------------------------------- EpochLoop hooks
    def _empty_raster(self) -> np.ndarray:
        return np.empty_like(self.x_current)

    def _metric_buffer(self, epochs: int) -> np.ndarray:
        return np.zeros((epochs, 1))

    def _to_numpy(self, a: np.ndarray) -> np.ndarray:
        return a
