"""GOAL engines: the same model and learning rule in two implementations.

* :mod:`goal_rl.engines.numpy_engine` — one network × M trials in plain NumPy (CPU);
* :mod:`goal_rl.engines.torch_batch` — K independent networks × M trials as one torch
  program (CPU or CUDA);
* :mod:`goal_rl.engines.common` — what both share: weight initialisation, feedback
  columns, causal filters, metrics.
"""
