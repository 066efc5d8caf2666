"""A closed-loop task on an env this project does not ship: ``LunarLanderContinuous-v3``,
cloning Gymnasium's own scripted lander (``gymnasium.envs.box2d.lunar_lander.heuristic``).

Written from the README's steps: an expert ``expert(obs, env) -> action``, a
:class:`~goal_rl.learning.config.CloneTaskConfig`, an
:class:`~goal_rl.learning.task.ExpertCloningTask`, ``register_task``. From the repository
root (Box2D needed: ``pip install 'gymnasium[box2d]'``)::

    python -m goal_rl --plugin examples/lunar_lander_task.py train lunar_lander_clone \\
        --set dagger_rounds=4 dagger_episodes=15 --out runs/lander --plot
    python -m goal_rl --plugin examples/lunar_lander_task.py evaluate runs/lander/agent.pt
    python -m goal_rl --plugin examples/lunar_lander_task.py play runs/lander/agent.pt \\
        --video runs/lander/play.mp4

(``evaluate`` and ``play`` need no ``--plugin`` here, the env id being Gymnasium's own;
it is shown because a plugin that registered its own env would need it.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENV_ID = "LunarLanderContinuous-v3"
TASK_NAME = "lunar_lander_clone"


def scripted_lander(obs: np.ndarray, env: Any) -> np.ndarray:
    """Gymnasium's heuristic lander: main and side engine throttles ``(2,)`` float32."""
    from gymnasium.envs.box2d.lunar_lander import heuristic

    return np.asarray(heuristic(env.unwrapped, obs), dtype=np.float32)


def make(**overrides: Any) -> Any:
    """Task factory: ``make(**settings)`` → an ExpertCloningTask."""
    from goal_rl.learning.config import CloneTaskConfig
    from goal_rl.learning.task import ExpertCloningTask
    from goal_rl.tasks import apply_overrides

    defaults = CloneTaskConfig(n_rec=300, rank=None, tau_star=3.0, sigma_inp=6.0,
                               sigma_trg=3.0, normalize_obs=True, epochs_rec=200,
                               n_demos=30, n_eval=20, num_envs=5)
    config = apply_overrides(defaults, overrides, task=TASK_NAME)
    return ExpertCloningTask(TASK_NAME, ENV_ID, scripted_lander, config)


def register() -> None:
    """Register the task (idempotent)."""
    from goal_rl.tasks import register_task

    register_task(TASK_NAME, make, kind="closed_loop", overwrite=True,
                  description="clone Gymnasium's heuristic lander on LunarLanderContinuous-v3")


register()
