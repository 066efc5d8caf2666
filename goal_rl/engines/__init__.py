"""GOAL engines: the same model and learning rule in two implementations.

* :mod:`goal_rl.engines.numpy_engine` — one network × M trials in plain NumPy (CPU);
* :mod:`goal_rl.engines.torch_batch` — K independent networks × M trials as one torch
  program (CPU or CUDA), with its chunked learning epoch in
  :mod:`goal_rl.engines.torch_chunked`;
* :mod:`goal_rl.engines.rule` — the learning rule as plain reference functions (the fused
  kernels of both engines are tested against it and :func:`goal_rl.model.lif.lif_step`);
* what both share: :mod:`goal_rl.engines.common` (weight initialisation, feedback draws, the
  causal filter, metrics), :mod:`goal_rl.engines.readout` (ridge and censored readout fits),
  :mod:`goal_rl.engines.training` (the epoch loop), and
  :mod:`goal_rl.engines.adapter` (one network on either engine, NumPy in and out).
"""
