"""Small pieces every part of goal_rl shares: atomic file output (:mod:`~goal_rl.common.io`),
command-line plumbing (:mod:`~goal_rl.common.cli`), thread control
(:mod:`~goal_rl.common.threads`) and plot set-up (:mod:`~goal_rl.common.plots`)."""
