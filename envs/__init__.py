"""Gymnasium environments of goal_rl, registered under the ``goal_rl/`` namespace.

Importing this package registers:

* ``goal_rl/ButtonFood-v0`` → :class:`goal_rl.envs.button_food.ButtonFoodEnv`, truncated at 80
  steps.

From a fresh interpreter, ``gym.make("goal_rl.envs:goal_rl/ButtonFood-v0")`` imports this package
first and then builds the env.

:mod:`goal_rl.envs.fast_walker` holds :class:`~goal_rl.envs.fast_walker.FastBipedalWalker`,
Gymnasium's ``BipedalWalker`` with a faster, bit-identical ``step`` (not registered under a
new id: :func:`goal_rl.tasks.walker.pipeline.make_env` builds it under the
``BipedalWalker-v3`` spec). :mod:`goal_rl.envs.wrappers` holds the wrappers goal_rl's closed
loops use.
"""

import gymnasium

from .button_food import ButtonFoodEnv

__all__ = ["BUTTON_FOOD_ID", "ButtonFoodEnv"]

BUTTON_FOOD_ID = "goal_rl/ButtonFood-v0"

# Guarded so that re-importing or reloading this package neither warns nor re-registers.
if BUTTON_FOOD_ID not in gymnasium.registry:
    gymnasium.register(
        id=BUTTON_FOOD_ID,
        entry_point="goal_rl.envs.button_food:ButtonFoodEnv",
        max_episode_steps=80,
    )
