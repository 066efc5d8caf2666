"""Gymnasium wrappers used by goal_rl's closed-loop tools.

:class:`EpisodeSchedule` fixes the seed and reset options of every episode of an env by
its position in an evaluation, so that a run over a list of episodes gives the same
episodes whether they are played one after another in a single env or spread over the
sub-envs of a vector env (whose automatic resets pass no seed and no options).
:class:`ReachedEnd` adds BipedalWalker's finish-line flag to every step's info.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

__all__ = ["DropObjectInfos", "EpisodeSchedule", "ReachedEnd"]

OptionsFn = Callable[[int], "dict[str, Any] | None"]


class EpisodeSchedule(gym.Wrapper):
    """Reset the wrapped env into scheduled episodes.

    The k-th reset of this wrapper (counting from 0, whatever triggers it: the user, a
    vector env's autoreset, or ``reset_mask``) starts episode ``i = episodes[k]`` with
    ``seed = base_seed + i`` (``None`` without a base seed) and
    ``options = options_fn(i)`` (``None`` without ``options_fn``). Options passed
    explicitly to :meth:`reset` are merged over the scheduled ones. Once the schedule is
    used up, resets pass ``seed=None`` and only the explicit options (the episodes after
    the schedule are not part of the evaluation).

    Args:
        env: the env to wrap.
        episodes: global episode indices played by this env, in order.
        base_seed: seed of episode 0 (episode ``i`` uses ``base_seed + i``), or ``None``.
        options_fn: ``options_fn(i) -> dict | None``, reset options of episode ``i``.

    Attributes:
        episode_index: global index of the episode now running (``-1`` before the first
            reset, or after the schedule is used up).
    """

    def __init__(self, env: gym.Env, episodes: Sequence[int], base_seed: int | None = None,
                 options_fn: OptionsFn | None = None) -> None:
        super().__init__(env)
        self.episodes = [int(i) for i in episodes]
        self.base_seed = None if base_seed is None else int(base_seed)
        self.options_fn = options_fn
        self.n_resets = 0
        self.episode_index = -1

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        """Reset into the next scheduled episode (see the class docstring)."""
        k = self.n_resets
        self.n_resets += 1
        if k < len(self.episodes):
            i = self.episodes[k]
            self.episode_index = i
            scheduled = self.options_fn(i) if self.options_fn is not None else None
            merged = {**(scheduled or {}), **(options or {})}
            if seed is None and self.base_seed is not None:
                seed = self.base_seed + i
            return self.env.reset(seed=seed, options=merged or None)
        self.episode_index = -1
        return self.env.reset(seed=seed, options=options or None)


class ReachedEnd(gym.Wrapper):
    """BipedalWalker (either class, see :mod:`goal_rl.envs.fast_walker`) whose step info
    carries ``"reached_end"``: 1.0 when that step ended the episode at the finish line
    (past the terrain's end, no fall), else 0.0. Nothing else changes."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        from .fast_walker import reached_end  # Box2D: only when used

        self._reached_end = reached_end

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the walker; a copy of its info with ``"reached_end"`` added."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["reached_end"] = float(self._reached_end(self.env, terminated))
        return obs, reward, terminated, truncated, info


class DropObjectInfos(gym.vector.VectorWrapper):
    """Remove vector-env info entries that hold NumPy object arrays.

    In ``SAME_STEP`` autoreset mode a vector env reports ``info["final_obs"]`` as an object
    array (one observation or ``None`` per sub-env), which Gymnasium's array-conversion
    wrappers (``NumpyToTorch``) cannot convert. This wrapper drops such entries (and their
    ``_key`` masks), recursively; ``final_info`` (a dict of arrays) is kept.
    """

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step the vector env; infos without object arrays."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return obs, reward, terminated, truncated, _drop_objects(info)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        """Reset the vector env; infos without object arrays."""
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, _drop_objects(info)


def _drop_objects(info: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = _drop_objects(value)
        elif isinstance(value, np.ndarray) and value.dtype == object:
            continue
        else:
            out[key] = value
    for key in [k for k in out if k.startswith("_") and k[1:] not in out]:
        del out[key]
    return out
