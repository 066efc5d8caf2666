"""One network running M trials on either GOAL engine, with NumPy arrays in and out.

:class:`TrialEngine` gives the NumPy engine (:class:`~goal_rl.engines.numpy_engine.NumpyGoal`)
and the torch engine (:class:`~goal_rl.engines.torch_batch.GoalBatch`, K = 1) one interface,
so that callers such as behavioural cloning need not know which one runs. Arrays are
time-major ``(T, M, ·)``; weights come back as float64 NumPy copies. Ranks below the number
of outputs are accepted (spike-level feedback from the first R readout rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from goal_rl.config import GoalConfig

__all__ = ["TrialEngine"]


class TrialEngine:
    """One network with M trials on the ``"numpy"`` or ``"torch"`` backend.

    Args:
        gcfg: engine settings.
        weights: initial weights (see :func:`goal_rl.engines.common.init_weights`).
        rank: feedback rank R (``1 <= R <= N``) or ``None`` (LTTS).
        tau_star: target timescale in dt.
        rng: generator for the feedback columns.
        backend: ``"numpy"`` or ``"torch"``.
    """

    def __init__(self, gcfg: GoalConfig, weights: dict[str, np.ndarray], rank: int | None,
                 tau_star: float, rng: np.random.Generator, backend: str) -> None:
        self.backend = backend
        self.rank = rank
        if backend == "numpy":
            from goal_rl.engines.numpy_engine import NumpyGoal

            self.net: Any = NumpyGoal(gcfg, weights, rank, tau_star, rng, low_rank=True)
        else:
            from goal_rl.engines.torch_batch import GoalBatch

            self.net = GoalBatch(gcfg, [weights], [rank], [tau_star], [rng], low_rank=True)

    def set_task(self, x: np.ndarray, y: np.ndarray, hints: np.ndarray | None) -> None:
        """Inputs ``x (T, M, I)``, targets ``y (T, M, O)``, optional hints ``(T, M, H)``."""
        if self.backend == "numpy":
            self.net.set_task(x, y, hints)
        else:
            self.net.set_task(x[:, None], y[:, None], None if hints is None else hints[:, None])

    def targets_and_readout(self) -> float:
        """Internal targets, then the readout fit; returns the readout MSE."""
        self.net.internal_targets()
        return float(self.net.fit_readout()[0])

    def build_feedback(self) -> None:
        """Draw the feedback (consumes ``rng``)."""
        self.net.build_feedback()

    def train(self, epochs: int) -> tuple[np.ndarray, np.ndarray]:
        """``epochs`` online epochs; per-epoch MSE and ΔZ, each ``(epochs,)``."""
        hist = self.net.train_recurrent(epochs, progress=False)
        return np.asarray(hist.mse)[:, 0], np.asarray(hist.dz)[:, 0]

    def free_run(self) -> np.ndarray:
        """Spikes ``(T, M, N)`` of the free-running network (no teacher, no learning)."""
        if self.backend == "numpy":
            return np.asarray(self.net.simulate(self.net.x_current))
        return self.net.simulate(self.net.x_current)[:, 0].cpu().numpy()

    @property
    def w_rec(self) -> np.ndarray:
        """Recurrent weights ``(N, N)``, float64."""
        return self.weights("w_rec")

    @property
    def w_out(self) -> np.ndarray:
        """Readout ``(O, N)``, float64."""
        return self.weights("w_out")

    def weights(self, key: str) -> np.ndarray:
        """A float64 copy of the weight ``key`` (``"w_in"``, ``"u"``, ``"w_rec"``, ...)."""
        w = getattr(self.net, key)
        return np.array(w if self.backend == "numpy" else w[0].cpu().numpy(), dtype=np.float64)
