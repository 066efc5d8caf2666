"""DAgger (Ross et al. 2011) with GOAL cloning as the learner.

:func:`labelled_rollout` lets the agent act while an expert labels every state it visits
(one DAgger round's data); it runs the package's one episode loop
(:func:`goal_rl.learning.rollout.play_lockstep`). See docs/closed_loop.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from goal_rl.learning.demos import Demonstrations
from goal_rl.learning.rollout import AgentPolicy, Expert, play_lockstep

__all__ = ["Expert", "labelled_rollout", "stateless_expert"]


def stateless_expert(fn: Callable[[np.ndarray], Any]) -> Expert:
    """Adapt a batch expert ``fn(obs (B, obs_dim)) -> actions (B, act_dim)`` (e.g. an MLP
    policy) to the per-step ``expert(obs, env)`` signature of :func:`dagger` and
    :func:`labelled_rollout`."""
    def expert(obs: np.ndarray, env: Any) -> np.ndarray:
        del env
        return np.asarray(fn(np.asarray(obs, dtype=np.float32)[None]), dtype=np.float32)[0]
    return expert


def labelled_rollout(
    agent: Any,
    env_factory: Any,
    expert: Expert,
    n_episodes: int,
    seed: int,
    *,
    beta: float = 0.0,
    options_fn: Callable[[int], dict[str, Any] | None] | None = None,
    hint_fn: Callable[[np.ndarray, Any], Any] | None = None,
    max_steps: int | None = None,
    first_index: int = 0,
) -> tuple[Demonstrations, list[dict[str, Any]]]:
    """Let the agent act and the expert label every visited state (one DAgger round).

    The episodes run in lockstep (the network on a batch of ``n_episodes`` trials, one env
    per episode). At each step the env executes the expert's action with probability
    ``beta`` (drawn per step and episode), else the agent's; the recorded label is always
    the expert's action for the state. Observations reach the agent and the expert as
    float32.

    Args:
        agent: the :class:`~goal_rl.learning.agent.SpikingAgent`.
        env_factory: env id or ``() -> gym.Env`` (episodes must end by themselves, e.g.
            through ``max_episode_steps``, or pass ``max_steps``).
        expert: ``expert(obs (obs_dim,), env) -> action (act_dim,)``; the env is passed so a
            state-based expert can read it (``env.unwrapped``). Wrap a batch policy with
            :func:`stateless_expert`.
        n_episodes: episodes to run.
        seed: episode ``k`` (global index ``first_index + k``) resets with
            ``seed + first_index + k`` and ``options_fn(first_index + k)``.
        beta: probability of executing the expert's action.
        hint_fn: ``hint_fn(obs, env) -> (H,)`` recorded with each label.
        max_steps: optional cap on episode length.
        first_index: global index of the first episode.

    Returns:
        ``(demonstrations, infos)``: the labelled episodes (returns = the rewards actually
        collected) and the final ``info`` of each episode.

    Raises:
        ValueError: ``beta`` outside [0, 1]; the agent's input size differs from the env's
            observation size.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(first_index), 7]))
    policy = AgentPolicy(agent, obs_dtype=np.float32, cast_actions=True, expert=expert,
                         hint_fn=hint_fn, beta=beta, rng=rng)
    episodes = play_lockstep(env_factory, policy, n_episodes, seed, options_fn=options_fn,
                             first_index=first_index, max_steps=max_steps, record_obs=True)
    return Demonstrations.from_episodes(episodes), [ep.info for ep in episodes]
