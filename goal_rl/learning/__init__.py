"""Closed-loop learning: the spiking agent (:mod:`~goal_rl.learning.agent`), the one episode
loop every closed loop runs through (:mod:`~goal_rl.learning.rollout`), closed-loop
evaluation (:mod:`~goal_rl.learning.evaluation`), expert demonstrations
(:mod:`~goal_rl.learning.demos`), behavioural cloning with GOAL
(:mod:`~goal_rl.learning.cloning`), DAgger (:mod:`~goal_rl.learning.dagger`), the generic
expert-cloning task (:mod:`~goal_rl.learning.task`), their settings
(:mod:`~goal_rl.learning.config`) and figures (:mod:`~goal_rl.learning.plots`)."""
