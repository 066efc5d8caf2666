"""Backend-independent parts of GOAL (NumPy only, no torch): weight initialisation,
feedback draws, the causal filter and the per-epoch metric record.

Every random number of a run is drawn here from NumPy generators, so the torch and NumPy
backends start from the same weights and draw the same feedback columns for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from goal_rl.config import GoalConfig


def init_weights(
    n_inp: int,
    n_rec: int,
    n_out: int,
    *,
    sigma_inp: float,
    sigma_trg: float,
    sigma_rec: float,
    rng: np.random.Generator,
    n_hint: int = 0,
    sigma_hint: float = 0.0,
) -> dict[str, np.ndarray]:
    """Draw the initial weights (float64 NumPy, shared by every backend).

    Order of draws (fixed, so a seed always gives the same weights): ``w_in (N, I)``
    ~ N(0, σ_in²), ``u (N, O)`` ~ N(0, σ_trg²), ``w_out (O, N)`` ~ N(0, 1/N), ``w_rec (N, N)``
    ~ N(0, σ_rec²) with zero diagonal, then ``w_hint (N, H)`` ~ N(0, σ_hint²) if ``n_hint``.
    """
    w = {
        "w_in": rng.normal(0.0, sigma_inp, size=(n_rec, n_inp)),
        "u": rng.normal(0.0, sigma_trg, size=(n_rec, n_out)),
        "w_out": rng.normal(0.0, 1.0 / math.sqrt(n_rec), size=(n_out, n_rec)),
        "w_rec": rng.normal(0.0, sigma_rec, size=(n_rec, n_rec)),
    }
    np.fill_diagonal(w["w_rec"], 0.0)
    if n_hint:
        w["w_hint"] = rng.normal(0.0, sigma_hint, size=(n_rec, n_hint))
    return w


def feedback_columns(w_out: np.ndarray, n_cols: int, rng: np.random.Generator) -> np.ndarray:
    """Feedback matrix ``B[:, :n_cols]`` (N, n_cols): ``w_outᵀ`` then i.i.d. N(0, (2 std w_out)²).

    The first O columns are the readout rows, the others random (only they consume the
    generator: ``N·(n_cols−O)`` draws). With ``n_cols < O`` (rank below the number of
    outputs, used by cloning) the result is the first ``n_cols`` columns of ``w_outᵀ`` and
    nothing is drawn.
    """
    n_out, n_rec = w_out.shape
    if n_cols < n_out:
        return np.array(w_out[:n_cols].T)
    extra = rng.normal(0.0, 2.0 * float(np.std(w_out)), size=(n_rec, n_cols - n_out))
    return np.concatenate([w_out.T, extra], axis=1)


def draw_feedback(w_out: np.ndarray, rank: int | None, rng: np.random.Generator
                  ) -> tuple[np.ndarray | None, float]:
    """Draw one network's feedback from its readout ``w_out (O, N)`` (float64).

    Rank R: ``(Q, 0.0)`` with ``Q = B[:, :R] (N, R)`` (:func:`feedback_columns`; for
    ``R < O`` the first R readout rows). LTTS (``rank=None``): ``(None, c)``, the diagonal
    feedback's scale ``c = mean_i Σ_j B_ij²`` of a full ``N × N`` matrix ``B``. Consumes
    ``rng`` exactly as :func:`feedback_columns` does; both engines draw through here.
    """
    if rank is None:
        B = feedback_columns(w_out, w_out.shape[1], rng)
        return None, float(np.mean(np.sum(B * B, axis=1)))
    return feedback_columns(w_out, rank, rng), 0.0


def min_rank(cfg: GoalConfig, low_rank: bool) -> int:
    """Smallest feedback rank an engine accepts: O, or 1 with ``low_rank`` (spike-level
    feedback only; output-level feedback needs every output, so it keeps O)."""
    if low_rank and cfg.feedback != "out":
        return 1
    return cfg.n_out


@dataclass
class History:
    """Per-epoch metrics of a batch: ``mse`` and ``dz`` are ``(E, K)`` float64 arrays."""

    readout_mse: np.ndarray
    mse: np.ndarray
    dz: np.ndarray
    wall_time_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def conv_epoch(self, tol: float = 0.1) -> np.ndarray:
        """Per network: first epoch after which MSE stays within ``tol`` of its final value."""
        return convergence_epoch(self.mse, tol)


def convergence_epoch(mse: np.ndarray, tol: float = 0.1, span: float = 0.1) -> np.ndarray:
    """The epoch at which a run has reached its final error level.

    The MSE curve is smoothed by a trailing mean over the last ``span`` (10 %) of the
    epochs so far — at epoch e the mean over epochs ``[e − ⌈span·(e+1)⌉ + 1, e]``, a window
    that grows with time as on the paper's logarithmic epoch axis; the final level is the
    mean MSE of the last 10 % of the run; the convergence epoch is the first epoch whose
    smoothed MSE is at most ``tol`` (10 %) above that level. A curve that keeps fluctuating
    around its level converges when it first reaches the level, not at its last
    fluctuation (which, over 10⁴ epochs, would put almost every run near the end).

    Args:
        mse: ``(E,)`` or ``(E, K)`` MSE per epoch.
        tol: relative band above the final level.
        span: the smoothing window as a fraction of the epochs so far.

    Returns:
        ``()`` or ``(K,)`` int64 epoch indices (0 for an empty curve).
    """
    mse = np.asarray(mse, dtype=np.float64)
    E = mse.shape[0]
    if E == 0:
        return np.zeros(mse.shape[1:], dtype=np.int64)
    flat = np.nan_to_num(mse.reshape(E, -1), nan=np.inf)
    csum = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)], axis=0)
    epoch = np.arange(E)
    width = np.maximum(1, np.ceil(span * (epoch + 1))).astype(np.int64)
    smooth = (csum[epoch + 1] - csum[epoch + 1 - width]) / width[:, None]
    level = flat[-max(1, E // 10):].mean(axis=0)
    with np.errstate(invalid="ignore"):
        reached = np.isfinite(level) & np.isfinite(smooth) & (smooth <= level * (1.0 + tol))
    first = np.where(reached.any(axis=0), np.argmax(reached, axis=0), E - 1)
    return first.astype(np.int64).reshape(mse.shape[1:])


def filter_matrix_np(T: int, b: float, dtype: np.dtype = np.float64) -> np.ndarray:
    """``(T, T)`` lower-triangular kernel ``L[t, t'] = (1-b) b^(t-t')`` for ``t' <= t``, so
    ``L @ z`` is the causal filter ``r_t = b r_{t-1} + (1-b) z_t`` with ``r_{-1} = 0``."""
    lag = np.arange(T)[:, None] - np.arange(T)[None, :]
    return np.where(lag >= 0, (1 - b) * np.power(b, np.clip(lag, 0, None)), 0.0).astype(dtype)


def causal_filter(z: np.ndarray, b: float, *, recursive: bool = False,
                  dtype: np.dtype | None = None) -> np.ndarray:
    """Causal exponential filter along axis 0: ``r_t = b r_{t-1} + (1-b) z_t``, ``r_{-1} = 0``.

    ``z`` is ``(T, ...)``, the result has its shape. Two evaluation orders of the same filter
    (they differ in the last bits, and each caller keeps the one its figures were made with):

    * ``recursive=False`` (default): one product with the ``(T, T)`` kernel of
      :func:`filter_matrix_np`, in ``dtype`` (default ``z.dtype``) — fast for short T;
    * ``recursive=True``: the recursion itself, step by step, accumulated in ``dtype``
      (default float64); ``(1-b) z_t`` is formed in ``z``'s precision (NumPy's rule for a
      Python float times an array), so float32 spikes give float32 products.

    The torch counterpart is :func:`goal_rl.model.lif.exp_filter`.
    """
    T = z.shape[0]
    if not recursive:
        kernel = filter_matrix_np(T, b, z.dtype if dtype is None else dtype)
        return (kernel @ z.reshape(T, -1)).reshape(z.shape)
    acc_dtype = np.float64 if dtype is None else dtype
    out = np.empty(z.shape, dtype=acc_dtype)
    acc = np.zeros(z.shape[1:], dtype=acc_dtype)
    for t in range(T):
        acc = b * acc + (1.0 - b) * z[t]
        out[t] = acc
    return out
