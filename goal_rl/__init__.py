"""goal_rl: GOAL learning in recurrent spiking networks (Capone, Muratore & Paolucci 2022).

One rule, two knobs — the rank R of the error-feedback matrix and the target timescale τ⋆ —
spanning error-based (e-prop-like) and target-based (LTTS, full-FORCE) learning.

Importing the package is cheap: submodules (and torch) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "GoalConfig": "goal_rl.config",
    "PRESETS": "goal_rl.config",
    "apply_preset": "goal_rl.config",
    "init_weights": "goal_rl.engines.common",
    "History": "goal_rl.engines.common",
    "GoalBatch": "goal_rl.engines.torch_batch",
    "NumpyGoal": "goal_rl.engines.numpy_engine",
    "LIFParams": "goal_rl.model.lif",
    "LIFState": "goal_rl.model.lif",
    "lif_step": "goal_rl.model.lif",
    "SpikingNetwork": "goal_rl.model.network",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'goal_rl' has no attribute {name!r}")
