"""``python -m goal_rl.walker_expert``: evaluate or train the BipedalWalker-v3 expert.

The command line lives in :mod:`goal_rl.tasks.walker.cli`; this module only runs it.
"""

import sys

from goal_rl.tasks.walker.cli import expert_main

if __name__ == "__main__":
    sys.exit(expert_main())
