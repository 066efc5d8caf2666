"""The neuron model: leaky integrate-and-fire dynamics (:mod:`goal_rl.model.lif`) and a
recurrent spiking network module built on them (:mod:`goal_rl.model.network`)."""
