"""``python -m goal_rl.sweep``: a batched (R, τ⋆, seed) grid on the N-D trajectory task.

The command line lives in :mod:`goal_rl.tasks.trajectory.sweep`; this module only runs it.
"""

from goal_rl.common.cli import run_main
from goal_rl.tasks.trajectory.sweep_cli import main

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m goal_rl.sweep"))
