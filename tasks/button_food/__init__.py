"""The Button & Food task: press a button, remember it, then reach the food.

* :mod:`~goal_rl.tasks.button_food.task` — experts, demonstrations, the registry task;
* :mod:`~goal_rl.tasks.button_food.plots` — arena paths and rank-scan figures.

The environment itself is :class:`goal_rl.envs.button_food.ButtonFoodEnv`.
"""

from goal_rl.tasks.button_food.task import make

__all__ = ["make"]
