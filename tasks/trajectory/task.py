"""The N-D trajectory store-and-recall benchmark as a goal_rl task.

A thin wrapper of :func:`goal_rl.tasks.trajectory.benchmark.train`: the settings are the fields of
:class:`~goal_rl.config.GoalConfig` (same defaults: N = 150, O = 3, I = 5, T = 150, ...) plus
``backend``. Example::

    python -m goal_rl train trajectory --set n_rec=150 epochs_rec=1000 rank=3 tau_star=22
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from goal_rl.config import GoalConfig
from goal_rl.tasks.registry import settings_factory

__all__ = ["TrajectoryTask", "TrajectoryTaskConfig", "make"]


@dataclass
class TrajectoryTaskConfig(GoalConfig):
    """:class:`~goal_rl.config.GoalConfig` plus ``backend`` (``auto``, ``torch``, ``numpy``)."""

    backend: str = "auto"

    def __post_init__(self) -> None:
        from goal_rl.tasks.trajectory.benchmark import BACKENDS

        self.validate()
        if self.backend not in BACKENDS:
            raise ValueError(f"bad value {self.backend!r} for setting 'backend' (expected "
                             f"one of {', '.join(BACKENDS)})")

    def goal_config(self) -> GoalConfig:
        """The plain :class:`~goal_rl.config.GoalConfig` part."""
        return GoalConfig(**{f.name: getattr(self, f.name) for f in fields(GoalConfig)})


class TrajectoryTask:
    """Open-loop task: train one network, report MSE/ΔZ (protocol of ``goal_rl train``)."""

    name = "trajectory"
    kind = "open_loop"

    def __init__(self, config: TrajectoryTaskConfig) -> None:
        self.config = config

    def check(self) -> None:
        """Refuse a problem that says nothing or cannot fit (before any output is made)."""
        from goal_rl.tasks.trajectory.benchmark import check_problem

        check_problem(self.config.goal_config())

    def run(self, out_dir: Any = None, *, progress: bool = True, plot: bool = False
            ) -> dict[str, Any]:
        """Train; returns the summary of
        :class:`goal_rl.tasks.trajectory.benchmark.TrajectoryResult`
        (``readout_mse``, ``final_mse``, ``final_dz``, ``conv_epoch``, ...). With ``plot``
        writes ``plot.png`` into ``out_dir``."""
        from goal_rl.tasks.trajectory.benchmark import plot_result, train

        cfg = self.config
        res = train(cfg.goal_config(), progress=progress, backend=cfg.backend)
        metrics = res.summary()
        metrics["config"]["backend"] = cfg.backend
        if plot and out_dir is not None:
            plot_result(res, Path(out_dir) / "plot.png")
        self._headline = res.headline()
        return metrics

    def summary(self, metrics: dict[str, Any]) -> str:
        """The trajectory CLI's result line (readout-only and diverged runs included)."""
        return getattr(self, "_headline", "") or f"trajectory | {metrics}"


make = settings_factory(TrajectoryTask, TrajectoryTaskConfig, "trajectory", kind="open_loop",
                        description="store and recall an N-D trajectory from clock inputs "
                                    "(paper Fig 2)")
