"""BipedalWalker-v3 behavioural cloning.

* :mod:`~goal_rl.tasks.walker.config` — the settings (``WalkerConfig``);
* :mod:`~goal_rl.tasks.walker.expert` — the shipped expert and its evaluation;
* :mod:`~goal_rl.tasks.walker.expert_training` — the expert's training script (SB3 A2C);
* :mod:`~goal_rl.tasks.walker.pipeline` — demonstrations, cloning, DAgger, closed-loop tests;
* :mod:`~goal_rl.tasks.walker.cli` — ``python -m goal_rl.walker`` / ``goal_rl.walker_expert``
  and :func:`~goal_rl.tasks.walker.cli.run_walker`, the whole run;
* :mod:`~goal_rl.tasks.walker.plots` — round, action-trace and raster figures;
* :mod:`~goal_rl.tasks.walker.task` — the registry task ``walker``.
"""

from goal_rl.tasks.walker.task import make

__all__ = ["make"]
