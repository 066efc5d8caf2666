"""``python -m goal_rl list|train``: list and train registered tasks.

The command line lives in :mod:`goal_rl.tasks.cli`; this module only runs it.
"""

from goal_rl.common.cli import run_main
from goal_rl.tasks.cli import PROG, main

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog=PROG))
