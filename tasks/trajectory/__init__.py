"""The N-D trajectory task (store and recall a trajectory from clock inputs).

* :mod:`~goal_rl.tasks.trajectory.benchmark` — inputs, targets, one training run, its CLI;
* :mod:`~goal_rl.tasks.trajectory.sweep` — batched (R, τ⋆, seed) grids and their CLI;
* :mod:`~goal_rl.tasks.trajectory.task` — the registry task ``trajectory``.
"""

from goal_rl.tasks.trajectory.task import make

__all__ = ["make"]
