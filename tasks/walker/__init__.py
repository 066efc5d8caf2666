"""BipedalWalker-v3 behavioural cloning.

* :mod:`~goal_rl.tasks.walker.expert` — the shipped expert, its evaluation and training;
* :mod:`~goal_rl.tasks.walker.pipeline` — settings, demonstrations, cloning, DAgger, CLI;
* :mod:`~goal_rl.tasks.walker.plots` — round, action-trace and raster figures;
* :mod:`~goal_rl.tasks.walker.task` — the registry task ``walker``.
"""

from goal_rl.tasks.walker.task import make

__all__ = ["make"]
