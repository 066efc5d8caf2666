"""Closed-loop learning: the spiking agent (:mod:`~goal_rl.learning.agent`), expert
demonstrations (:mod:`~goal_rl.learning.demos`), behavioural cloning and DAgger
(:mod:`~goal_rl.learning.cloning`) and their figures (:mod:`~goal_rl.learning.plots`)."""
