"""``python -m goal_rl.walker``: clone a BipedalWalker-v3 expert into a spiking agent.

The command line lives in :mod:`goal_rl.tasks.walker.cli`; this module only runs it.
"""

import sys

from goal_rl.tasks.walker.cli import main

if __name__ == "__main__":
    sys.exit(main())
