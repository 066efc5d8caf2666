"""Register a new closed-loop task on an existing Gymnasium env and train it from the CLI.

The task clones a scripted expert on ``MountainCarContinuous-v0``: the expert pushes in the
direction the car is moving (``action = +1`` if velocity >= 0 else ``-1``), which pumps
energy into the swing and reaches the flag in about 106 steps (return ≈ 89). A spiking
network of 200 LIF units learns it from 5 demonstrations with GOAL (LTTS feedback).

Two ways to run it (from the repository root):

1. Let the generic CLI load this file as a plugin, then train the task it registers::

       python -m goal_rl --plugin examples/register_custom_task.py list
       python -m goal_rl --plugin examples/register_custom_task.py train mountain_car_clone \\
           --out runs/mountain_car --plot

2. Run the file itself; it registers the task and hands the remaining arguments to the
   same CLI (``train mountain_car_clone`` is the default)::

       python examples/register_custom_task.py --set epochs_rec=100 --out runs/mountain_car

Any setting of :class:`goal_rl.learning.config.CloneTaskConfig` can be changed with ``--set``
(``n_rec``, ``rank``, ``tau_star``, ``epochs_rec``, ``n_demos``, ``dagger_rounds``, ...).
To ship such a task in your own package, point the ``goal_rl.tasks`` entry-point group at
``make`` (see the README section "Registering tasks").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "MountainCarContinuous-v0"
TASK_NAME = "mountain_car_clone"


def push_with_velocity(obs: np.ndarray, env: Any) -> np.ndarray:
    """Scripted expert: full throttle in the direction of the velocity, ``(1,)`` float32."""
    del env
    return np.array([1.0 if float(obs[1]) >= 0.0 else -1.0], dtype=np.float32)


def make(**overrides: Any) -> Any:
    """Task factory: ``make(**settings)`` → a task following goal_rl's task protocol."""
    from goal_rl.learning.config import CloneTaskConfig
    from goal_rl.learning.task import ExpertCloningTask
    from goal_rl.tasks import apply_overrides

    defaults = CloneTaskConfig(
        n_rec=200, rank=None, tau_star=3.0, sigma_inp=6.0, sigma_trg=3.0,
        normalize_obs=True, epochs_rec=200, n_demos=5, n_eval=10, num_envs=5,
    )
    config = apply_overrides(defaults, overrides, task=TASK_NAME)
    return ExpertCloningTask(TASK_NAME, ENV_ID, push_with_velocity, config)


make.kind = "closed_loop"  # type: ignore[attr-defined]
make.description = "clone a velocity-following expert on MountainCarContinuous-v0"  # type: ignore[attr-defined]


def register() -> None:
    """Register the task (idempotent, so the file can be loaded more than once)."""
    from goal_rl.tasks import register_task

    register_task(TASK_NAME, make, kind="closed_loop", description=make.description,
                  overwrite=True)


if __name__ == "__main__":
    _root = str(Path(__file__).resolve().parents[1])
    if _root not in sys.path:  # run from anywhere without installing the package
        sys.path.insert(0, _root)

register()


if __name__ == "__main__":
    from goal_rl.common.cli import run_main
    from goal_rl.tasks.cli import main

    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        args = ["train", TASK_NAME, *args]
    raise SystemExit(run_main(main, args, prog="register_custom_task.py"))
