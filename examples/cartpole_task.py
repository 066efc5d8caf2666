"""A discrete-action task: ``CartPole-v1`` (``Discrete(2)``: push left or right), cloning a
scripted expert that pushes toward the pole's lean.

The expert pushes right when ``angle + 0.5 * angular velocity > 0``, else left; it holds
the pole for the full 500 steps. With these defaults (10 demonstrations, N 300, 200
epochs) the agent scored 494.32 ± 29.75 over the 50 test episodes (threshold 475), in
15 s on one core (docs/results/cloning.md). For a ``Discrete(n)`` action space the spiking agent
has n outputs, trained on the expert's one-hot actions, and acts by the argmax of its
outputs (see docs/cloning_your_expert.md). From the repository root::

    python -m goal_rl --plugin examples/cartpole_task.py train cartpole_clone --out runs/cartpole
    python -m goal_rl evaluate runs/cartpole/agent.pt --episodes 50
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENV_ID = "CartPole-v1"
TASK_NAME = "cartpole_clone"


def push_toward_lean(obs: np.ndarray, env: Any) -> int:
    """Scripted expert: 1 (push right) when the pole leans or falls to the right, else 0."""
    del env
    return int(float(obs[2]) + 0.5 * float(obs[3]) > 0.0)


def make(**overrides: Any) -> Any:
    """Task factory: ``make(**settings)`` → an ExpertCloningTask."""
    from goal_rl.learning.config import CloneTaskConfig
    from goal_rl.learning.task import ExpertCloningTask
    from goal_rl.tasks import apply_overrides

    defaults = CloneTaskConfig(n_rec=300, rank=None, tau_star=3.0, sigma_inp=6.0,
                               sigma_trg=3.0, normalize_obs=True, epochs_rec=200,
                               n_demos=10, n_eval=50, num_envs=10)
    config = apply_overrides(defaults, overrides, task=TASK_NAME)
    return ExpertCloningTask(TASK_NAME, ENV_ID, push_toward_lean, config)


def register() -> None:
    """Register the task (idempotent)."""
    from goal_rl.tasks import register_task

    register_task(TASK_NAME, make, kind="closed_loop", overwrite=True,
                  description="clone a lean-following expert on CartPole-v1 (discrete)")


register()
