"""``python -m goal_rl.trajectory``: train one network on the N-D trajectory task.

The command line lives in :mod:`goal_rl.tasks.trajectory.benchmark`; this module only runs it.
"""

from goal_rl.common.cli import run_main
from goal_rl.tasks.trajectory.benchmark import main

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m goal_rl.trajectory"))
