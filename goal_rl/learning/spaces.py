"""Gymnasium spaces as the agent sees them: the number of outputs for an action space
(``Box``: its flat size; ``Discrete(n)``: n, one per action), the one-hot targets and the
argmax action of a discrete space, and flat observations (``Dict``/``Tuple`` spaces
through Gymnasium's own ``spaces.utils.flatten``). See docs/cloning_your_expert.md."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["action_size", "discrete_action", "flat_obs", "is_discrete", "obs_size",
           "one_hot_label"]


def _as_numpy(x: Any) -> np.ndarray:
    from goal_rl.learning.rollout import as_numpy

    return as_numpy(x)


def obs_size(space: Any) -> int:
    """Flat observation size of a Gymnasium space."""
    from gymnasium.spaces.utils import flatdim

    return int(flatdim(space))


def action_size(space: Any) -> int:
    """Number of agent outputs for a Gymnasium action space: the flat size of a ``Box``,
    ``n`` for ``Discrete(n)`` (one output per action)."""
    if is_discrete(space):
        return int(space.n)
    shape = getattr(space, "shape", None)
    if not shape:
        raise ValueError(f"only Box and Discrete action spaces are supported, got {space}")
    return int(np.prod(shape))


def flat_obs(obs: Any, space: Any) -> np.ndarray:
    """A flat ``(I,)`` NumPy observation: ``Dict``/``Tuple`` (and other composite) spaces
    through Gymnasium's ``spaces.utils.flatten``; an array-like as it is, raveled."""
    if isinstance(obs, dict | tuple):
        from gymnasium.spaces.utils import flatten

        return np.asarray(flatten(space, obs))
    return _as_numpy(obs).ravel()


def is_discrete(space: Any) -> bool:
    """Whether ``space`` is a ``gymnasium.spaces.Discrete``."""
    from gymnasium.spaces import Discrete

    return isinstance(space, Discrete)


def discrete_action(outputs: Any, space: Any) -> int:
    """The action of ``Discrete(n, start)`` for the agent's ``(n,)`` outputs: ``start +
    argmax`` (the first on a tie; deterministic, whatever ``deterministic`` says)."""
    return int(space.start) + int(np.argmax(_as_numpy(outputs).reshape(-1)))


def one_hot_label(action: Any, space: Any, where: str = "") -> np.ndarray:
    """The ``(n,)`` float32 one-hot target of a ``Discrete(n, start)`` action; ValueError
    (one line) for a value that is not one of the space's actions."""
    arr = np.asarray(action)
    value = arr.reshape(-1)[0] if arr.size == 1 else None
    if value is None or not float(value).is_integer() or not space.contains(
            np.int64(int(value))):
        lo, n = int(space.start), int(space.n)
        raise ValueError(f"{where}the expert returned {np.array2string(arr, threshold=8)} "
                         f"but the action space {space} takes one integer in "
                         f"{lo}..{lo + n - 1}")
    out = np.zeros(int(space.n), dtype=np.float32)
    out[int(value) - int(space.start)] = 1.0
    return out
