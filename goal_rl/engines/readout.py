"""Linear readout fits shared by the engines and cloning (NumPy only).

The readout ``y = W_out r`` maps the filtered spikes ``r (T, M, N)`` to the outputs
``(T, M, O)``. It is fitted by ridge regression, the ridge being *relative*: ``λ = ridge ·
mean diag(C)`` with ``C = Σ r rᵀ``, so one setting suits any network size or rate.
:func:`ridge_readout` (used by cloning) adds the *censored* fit for bounded actions (see its
docstring); :func:`relative_ridge` is the penalty, which the NumPy engine's own readout fit
uses too (the torch engine forms the same penalty on its device). The engines keep their own
solvers (LU in NumPy, batched Cholesky in torch): merging them with this one would change
the figures in the last bits; tests check that they solve the same problem.
"""

from __future__ import annotations

import numpy as np

__all__ = ["relative_ridge", "ridge_readout"]


def relative_ridge(C: np.ndarray, ridge: float) -> float:
    """Penalty ``λ = ridge · mean diag(C)`` of a Gram matrix ``C (N, N)`` (floored at 1e-12)."""
    return ridge * max(float(np.mean(np.diag(C))), 1e-12)


def ridge_readout(r: np.ndarray, y: np.ndarray, valid: np.ndarray, ridge: float,
                  low: np.ndarray | float | None = None, high: np.ndarray | float | None = None,
                  iters: int = 0) -> tuple[np.ndarray, float]:
    """Least squares ``W_out r ≈ y`` over the valid steps: ``r (T, M, N)``, ``y (T, M, O)``,
    ``valid (T, M)`` bool.

    The ridge is relative (:func:`relative_ridge`). With action bounds ``low``/``high``
    (scalars or ``(O,)``) and ``iters > 0`` the fit is *censored*: the agent clips its
    actions, so a label at a bound is matched by any output beyond that bound. Each
    iteration replaces such labels by the current output wherever the output already
    overshoots the bound on the label's side, and solves again (a majorise-minimise
    iteration of the squared error of the clipped output; the Cholesky factor is reused, so
    an iteration costs one pair of triangular solves). Bang-bang experts (BipedalWalker's are
    at ±1 on 50–90 % of steps) are fitted far better this way.

    Returns:
        ``(w_out (O, N), mse)``: float64 weights and the MSE of the output clipped to the
        bounds given (either may be ``None``: that side unclipped), i.e. of the actions the
        agent takes.
    """
    rv = r[valid]
    yv = y[valid].astype(np.float64)
    C = rv.T @ rv
    chol = np.linalg.cholesky(C + relative_ridge(C, ridge) * np.eye(C.shape[0]))

    def solve(target: np.ndarray) -> np.ndarray:
        tmp = np.linalg.solve(chol, rv.T @ target)
        return np.linalg.solve(chol.T, tmp).T

    w = solve(yv)
    if low is not None and high is not None and iters > 0:  # censored
        lo = np.asarray(low, dtype=np.float64).reshape(1, -1)
        hi = np.asarray(high, dtype=np.float64).reshape(1, -1)
        at_lo, at_hi = yv <= lo + 1e-6, yv >= hi - 1e-6
        for _ in range(iters):
            pred = rv @ w.T
            free = (at_hi & (pred > hi)) | (at_lo & (pred < lo))
            w = solve(np.where(free, pred, yv))
    out = rv @ w.T  # clipped as the agent acts
    if low is not None:
        out = np.maximum(out, low)
    if high is not None:
        out = np.minimum(out, high)
    return w, float(np.mean((out - yv) ** 2))
