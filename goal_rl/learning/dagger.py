"""DAgger (Ross et al. 2011) with GOAL cloning as the learner.

:func:`dagger` wraps :func:`~goal_rl.learning.cloning.clone` in rounds: the agent acts,
the expert labels every state it visits (:func:`labelled_rollout`, on the package's one
episode loop), the labelled episodes join the training data, the agent is retrained from
scratch and evaluated; the best round's agent is kept. How the data grow is a hook
(``aggregate``): all episodes by default, or :func:`keep_newest` for a cap on the number
of steps (the walker's). See docs/closed_loop.md.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from goal_rl.common.checks import check_int
from goal_rl.learning.cloning import clone
from goal_rl.learning.config import CloneConfig
from goal_rl.learning.demos import Demonstrations
from goal_rl.learning.rollout import AgentPolicy, Expert, play_lockstep

__all__ = ["Aggregate", "DaggerResult", "Expert", "cap_steps", "concat_all", "dagger",
           "keep_newest", "labelled_rollout", "stateless_expert"]

Aggregate = Callable[[Demonstrations, Demonstrations, int], Demonstrations]
"""``aggregate(data, new, n_initial) -> data``: the next round's training data from this
round's ``data`` and the ``new`` labelled episodes; the first ``n_initial`` episodes of
``data`` are the initial demonstrations."""


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


# ------------------------------------------------------------------------------ aggregation
def concat_all(data: Demonstrations, new: Demonstrations, n_initial: int) -> Demonstrations:
    """The default :data:`Aggregate`: every episode is kept (``data.concat(new)``)."""
    del n_initial
    return data.concat(new)


def cap_steps(data: Demonstrations, n_fixed: int, max_steps: int) -> Demonstrations:
    """Drop the oldest episodes after the first ``n_fixed`` until at most ``max_steps``
    steps remain (the ``n_fixed`` first ones always stay, and so does the newest episode;
    hints and returns are kept with their episodes)."""
    lengths = data.episode_lengths
    if int(lengths.sum()) <= max_steps or data.n_episodes <= n_fixed:
        return data
    total = int(lengths[:n_fixed].sum())
    newest: list[int] = []
    for i in range(data.n_episodes - 1, n_fixed - 1, -1):
        if total + int(lengths[i]) > max_steps and newest:
            break
        newest.append(i)
        total += int(lengths[i])
    return data.select([*range(n_fixed), *sorted(newest)])


def keep_newest(max_steps: int) -> Aggregate:
    """An :data:`Aggregate` that appends the new episodes, then drops the oldest DAgger
    episodes (never the initial demonstrations) until at most ``max_steps`` steps remain
    (:func:`cap_steps`)."""
    check_int("max_steps", max_steps, 1)

    def aggregate(data: Demonstrations, new: Demonstrations, n_initial: int
                  ) -> Demonstrations:
        return cap_steps(data.concat(new), n_initial, max_steps)

    return aggregate


# ------------------------------------------------------------------------------ DAgger
@dataclass
class DaggerResult:
    """Outcome of :func:`dagger`.

    Attributes:
        agent: the best agent over all rounds (by ``score``; the first on a tie).
        best_round: its round (0 = trained on the initial demonstrations only).
        rounds: per round: ``round``, ``score``, ``n_episodes``, ``n_steps`` (training data
            size), ``beta``, the evaluation dict (``eval``), the clone summary (``clone``,
            without the agent) and ``time_s`` (rollout, training and evaluation).
        demos: the aggregated demonstrations of the last round.
    """

    agent: Any
    best_round: int
    rounds: list[dict[str, Any]]
    demos: Demonstrations

    @property
    def best_score(self) -> float:
        """Score of the best round."""
        return float(self.rounds[self.best_round]["score"])

    def summary(self) -> dict[str, Any]:
        """JSON-able per-round table."""
        return {"best_round": self.best_round, "best_score": self.best_score,
                "rounds": self.rounds}


def dagger(env_factory: Any, expert: Expert | None, config: CloneConfig | None = None, *,
           rounds: int = 3, episodes_per_round: int = 10, seed: int = 0,
           demos: Demonstrations | None = None, beta: float | Callable[[int], float] = 0.0,
           options_fn: Callable[[int], dict[str, Any] | None] | None = None,
           hint_fn: Expert | None = None,
           evaluate_fn: Callable[[Any], dict[str, Any]] | None = None,
           score_key: str = "mean_reward", max_steps: int | None = None,
           clone_kwargs: dict[str, Any] | None = None, progress: bool = True,
           first_index: int | None = None, aggregate: Aggregate = concat_all,
           desc: str = "DAgger round",
           on_round: Callable[[dict[str, Any]], None] | None = None) -> DaggerResult:
    """DAgger with :func:`~goal_rl.learning.cloning.clone` as the learner.

    Round 0 trains on ``demos`` (or, if ``None``, on ``episodes_per_round`` expert episodes
    recorded here). Each later round r rolls out the current agent for
    ``episodes_per_round`` episodes with expert-action probability ``beta`` (a number, or
    ``beta(r)``), has the expert label every visited state (:func:`labelled_rollout`),
    adds those episodes to the data (``aggregate``) and retrains from scratch with the
    same config and seed. Every round's agent is evaluated; the best is kept.

    Args:
        env_factory: env id or ``() -> gym.Env``.
        expert: ``expert(obs, env) -> action`` for any state (``None`` only with ``demos``
            and ``rounds=0``).
        config: clone settings.
        rounds, episodes_per_round: rounds after round 0; episodes added per round.
        seed, options_fn: the episode with global index i resets with ``seed + i`` and
            ``options_fn(i)``.
        demos: initial demonstrations.
        hint_fn: ``hint_fn(obs, env) -> (H,)`` recorded with the labels (data with hints).
        evaluate_fn: ``evaluate_fn(agent) -> dict``; default: 10 episodes from seed
            ``seed + 10**6``.
        score_key: key of the evaluation dict to maximise.
        max_steps: optional episode cap for recording and rollouts.
        clone_kwargs: extra keyword arguments for ``clone`` (e.g. ``action_low``).
        first_index: global index of the first rollout episode (default: after those
            recorded here; 0 with ``demos``).
        aggregate: the data hook (:data:`Aggregate`), e.g. :func:`keep_newest`.
        progress, desc: bars for each round's cloning (``desc`` and the round) and over
            the rounds (ETA; plain lines in a log file).
        on_round: called with each round's record as soon as it is complete.

    Returns:
        A :class:`DaggerResult`.
    """
    cfg = _check_arguments(config, expert, demos, rounds, episodes_per_round)
    beta_fn = beta if callable(beta) else (lambda r: float(beta))
    evaluate_fn = evaluate_fn or _default_evaluation(env_factory, seed)
    if demos is None:
        demos = _record(env_factory, expert, episodes_per_round, seed, max_steps, hint_fn,
                        options_fn)
        first_index = episodes_per_round if first_index is None else first_index
    data = _check_demos(demos)
    history: list[dict[str, Any]] = []
    best: tuple[float, int, Any] | None = None
    agent: Any = None
    outer = _RoundBar(progress and rounds > 0, rounds + 1, desc)
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        b = float(beta_fn(r)) if r > 0 else 0.0
        if r > 0:
            new, _ = labelled_rollout(
                agent, env_factory, expert, episodes_per_round, seed, beta=b,
                options_fn=options_fn, hint_fn=hint_fn if data.hints is not None else None,
                max_steps=max_steps,
                first_index=int(first_index or 0) + (r - 1) * episodes_per_round)
            data = aggregate(data, new, demos.n_episodes)
        agent, score, ev, summary = _train_and_score(data, cfg, evaluate_fn, score_key,
                                                     progress, f"{desc} {r}", clone_kwargs)
        history.append({"round": r, "score": score, "beta": b, "n_episodes": data.n_episodes,
                        "n_steps": data.n_steps, "eval": ev, "clone": summary,
                        "time_s": time.perf_counter() - t0})
        if on_round is not None:
            on_round(history[-1])
        if best is None or score > best[0]:
            best = (score, r, copy.copy(agent))
        outer.update(score, best[0], best[1])
    outer.close()
    assert best is not None
    return DaggerResult(agent=best[2], best_round=best[1], rounds=history, demos=data)


def _check_arguments(config: CloneConfig | None, expert: Any, demos: Any, rounds: int,
                     episodes_per_round: int) -> CloneConfig:
    """The validated clone settings, after checking :func:`dagger`'s schedule."""
    cfg = (config if config is not None else CloneConfig()).validate()
    check_int("rounds", rounds, 0)
    check_int("episodes_per_round", episodes_per_round, 1)
    if expert is None and (demos is None or rounds > 0):
        raise ValueError("dagger needs an expert to record demonstrations or label rollouts")
    return cfg


class _RoundBar:
    """The overall bar over DAgger's rounds, with its ETA (plain lines in a log file)."""

    def __init__(self, show: bool, total: int, desc: str) -> None:
        self.bar = None
        if show:
            from goal_rl.common.progress import progress_bar

            self.bar = progress_bar(total, desc.replace(" round", "") + " rounds", "round")

    def update(self, score: float, best: float, best_round: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(score=f"{score:.4g}", best=f"{best:.4g} (round {best_round})")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_demos(demos: Any) -> Demonstrations:
    if not isinstance(demos, Demonstrations):
        raise TypeError(f"demos must be Demonstrations, got {type(demos).__name__}")
    return demos


def _default_evaluation(env_factory: Any, seed: int) -> Callable[[Any], dict[str, Any]]:
    def evaluate_fn(agent: Any) -> dict[str, Any]:
        from goal_rl.learning.evaluation import evaluate

        return evaluate(agent, env_factory, 10, seed + 10**6)
    return evaluate_fn


def _record(env_factory: Any, expert: Any, n_episodes: int, seed: int,
            max_steps: int | None, hint_fn: Any, options_fn: Any) -> Demonstrations:
    from goal_rl.learning.demos import record_demonstrations
    from goal_rl.learning.rollout import make_env

    env = make_env(env_factory)
    try:
        return record_demonstrations(env, expert, n_episodes, seed, max_steps=max_steps,
                                     hint_fn=hint_fn, options_fn=options_fn)
    finally:
        env.close()


def _train_and_score(data: Demonstrations, cfg: CloneConfig, evaluate_fn: Any,
                     score_key: str, progress: bool, desc: str,
                     clone_kwargs: dict[str, Any] | None
                     ) -> tuple[Any, float, dict[str, Any], dict[str, Any]]:
    """Clone on ``data`` and evaluate: ``(agent, score, evaluation without frames,
    clone summary without the config)``."""
    res = clone(data, cfg, progress=progress, desc=desc, **(clone_kwargs or {}))
    ev = evaluate_fn(res.agent)
    if score_key not in ev:
        raise ValueError(f"score_key {score_key!r} not in the evaluation result "
                         f"(keys: {', '.join(sorted(ev))})")
    summary = res.summary()
    summary.pop("config", None)
    return (res.agent, float(ev[score_key]), {k: v for k, v in ev.items() if k != "frames"},
            summary)
