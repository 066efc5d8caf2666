"""BipedalWalker-v3 behavioural cloning (paper Fig 5; see docs/walker.md) as a registry task.

``python -m goal_rl train walker --set rank=4 --set tau_star=1`` runs the same pipeline as
``python -m goal_rl.walker --expert``: record expert demonstrations, train a spiking agent
with GOAL, improve it with DAgger rounds, test it on seeded episodes. Every field of
:class:`goal_rl.tasks.walker.config.WalkerConfig` can be set with ``--set key=value`` (``rank=0``:
readout only, no recurrent learning; ``rank=none``: LTTS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goal_rl.tasks.registry import settings_factory
from goal_rl.tasks.walker.cli import run_walker
from goal_rl.tasks.walker.config import WalkerConfig

__all__ = ["WalkerTask", "make"]


class WalkerTask:
    """Task object of the registry protocol (``kind``, ``config``, ``run``, ``summary``)."""

    name = "walker"
    kind = "closed_loop"

    def __init__(self, config: WalkerConfig) -> None:
        self.config = config.validate()

    def run(self, out_dir: Path | None = None, *, progress: bool = True, plot: bool = False
            ) -> dict[str, Any]:
        """Train, test and (with ``out_dir``) save ``agent.pt``, ``metrics.json``, plots."""
        return run_walker(self.config, out_dir, progress=progress, plot=plot, log=None)

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line for the CLI."""
        ex = metrics.get("expert_mean_reward")
        expert = "" if ex is None else (
            f" | expert {ex:.1f} ({100 * metrics['expert_success_rate']:.0f}% reach the end)")
        return (f"walker R={self.config.rank} τ⋆={self.config.tau_star} | return "
                f"{metrics['mean_reward']:.1f} ± {metrics['std_reward']:.1f} over "
                f"{metrics['n_eval_episodes']} episodes, "
                f"{100 * metrics['success_rate']:.0f}% reach the end{expert} | "
                f"wall time {metrics['total_time_s']:.0f} s")


make = settings_factory(WalkerTask, WalkerConfig, "walker", kind="closed_loop",
                        description="BipedalWalker-v3 behavioural cloning from an expert "
                                    "(paper Fig 5)")
