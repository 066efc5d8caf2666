"""BipedalWalker-v3 apprenticeship learning (see docs/walker.md): expert → demonstrations →
spiking agent.

``python -m goal_rl.walker --expert [a2c|heuristic|PATH]`` runs the whole loop:

1. record ``demo_episodes`` expert episodes (observations ``(T, 24)``, actions ``(T, 4)``);
2. train a spiking agent on them with GOAL (:func:`goal_rl.learning.cloning.clone`: internal
   targets, readout, recurrent learning with rank R and target timescale τ⋆, final ridge
   refit of ``W_out`` on the network's own free-running spikes); with an MLP expert the
   teacher drive that makes the internal targets also carries ``W_hint h`` of the
   expert's hidden-layer outputs ``h`` (full-FORCE-style hints; ``hints``, ``--no-hints``),
   which the agent never sees as input;
3. DAgger rounds: the agent walks, the expert labels every state it visits, the labelled
   episodes join the data (capped at ``max_train_steps`` by dropping the oldest DAgger
   episodes, never the expert's own), the agent is retrained from scratch; the round with
   the best return on ``select_episodes`` selection episodes (seeds ``select_seed + i``,
   disjoint from the test seeds) is kept;
4. closed-loop test on ``eval_episodes`` seeded episodes (seeds ``eval_seed + i``, default
   1000–1049, the expert's test seeds), printed as a table expert vs agent, saved as
   ``agent.pt`` + ``metrics.json`` (+ plots) in ``--out``.

The network makes one step per env step; the action is ``W_out · r`` of the filtered
spikes (τ_o), clipped to [−1, 1]. Observations are normalised with the demonstrations'
mean and std.

Other modes: ``--play PATH`` reloads and tests a saved agent (``--render`` writes a GIF
when the ``video`` extra, imageio, is installed); ``--demos PATH`` clones from a file
(``.npz`` written by :class:`~goal_rl.learning.demos.Demonstrations` or CSV: 24 observation
columns, 4 action columns, optional ``episode`` column), no DAgger;
``--train-expert ...`` hands over to :mod:`goal_rl.tasks.walker.expert_training`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.tasks.walker.config import WalkerConfig, clone_config

__all__ = [
    "ENV_ID",
    "WalkerConfig",
    "WalkerResult",
    "agent_trace",
    "clone_config",
    "evaluate_walker",
    "load_walker_demos",
    "make_env",
    "make_expert",
    "make_hint_fn",
    "record_walker_demos",
    "train_walker",
]

ENV_ID = "BipedalWalker-v3"
OBS_DIM = 24
ACT_DIM = 4
TASK = "walker"
EXPERT_CACHE: dict[str, dict[str, Any]] = {}


# ------------------------------------------------------------------------------ config


# ------------------------------------------------------------------------------ env/expert
def make_env(render_mode: str | None = None, fast: bool = True) -> Any:
    """``BipedalWalker-v3`` whose ``info["reached_end"]`` (0/1) says whether the walker
    crossed the finish line without falling (the episode then terminates).

    ``fast`` (default) builds it on :class:`goal_rl.envs.fast_walker.FastBipedalWalker`, whose
    steps equal Gymnasium's bit for bit and take ≈ 40 % less time; ``fast=False`` builds
    Gymnasium's own class. Either way the spec (id, 1,600-step limit) is the registered one.
    """
    from goal_rl.envs.fast_walker import make_walker
    from goal_rl.envs.wrappers import ReachedEnd

    return ReachedEnd(make_walker(render_mode, fast=fast))


def make_expert(name: str) -> Callable[[np.ndarray, Any], np.ndarray]:
    """Expert as ``expert(obs (24,), env) -> action (4,)`` for recording and DAgger labels.

    ``"a2c"`` or a path: the stateless MLP expert. ``"heuristic"``: Gymnasium's scripted
    controller; its gait state is kept per env and restarted whenever the env starts a
    new episode (a new hull body).

    Raises:
        ValueError / FileNotFoundError: unknown name, missing or unreadable expert file.
    """
    from goal_rl.tasks.walker.expert import load_expert

    policy = load_expert(name)
    if hasattr(policy, "reset"):
        from goal_rl.tasks.walker.expert import HeuristicExpert

        controllers: dict[int, tuple[Any, Any]] = {}

        def heuristic(obs: np.ndarray, env: Any) -> np.ndarray:
            hull = env.unwrapped.hull
            ctrl, seen = controllers.get(id(env), (None, None))
            if ctrl is None or seen is not hull:
                ctrl = HeuristicExpert()
                controllers[id(env)] = (ctrl, hull)
            return ctrl(obs)

        return heuristic

    def mlp(obs: np.ndarray, env: Any) -> np.ndarray:
        del env
        return np.asarray(policy(np.asarray(obs, dtype=np.float32)), dtype=np.float32)

    return mlp


def make_hint_fn(name: str) -> Callable[[np.ndarray, Any], np.ndarray] | None:
    """``hint(obs (24,), env) -> (H,)`` float32: the MLP expert's hidden-layer outputs
    (H = 128 for the shipped expert), the full-FORCE-style hints that join the teacher
    drive while GOAL trains (never an input of the agent). ``None`` for an expert without
    hidden layers to read (the heuristic controller).

    Raises:
        ValueError / FileNotFoundError: as :func:`make_expert`.
    """
    from goal_rl.tasks.walker.expert import load_expert

    policy = load_expert(name)
    if not hasattr(policy, "hidden_activations"):
        return None

    def hint(obs: np.ndarray, env: Any) -> np.ndarray:
        del env
        return policy.hidden_activations(np.asarray(obs, dtype=np.float32))

    return hint


def record_walker_demos(expert: str | Callable[[np.ndarray, Any], np.ndarray],
                        n_episodes: int, seed: int = 0, max_steps: int | None = None,
                        hint_fn: Callable[[np.ndarray, Any], Any] | None = None) -> Any:
    """Record ``n_episodes`` expert episodes (episode i resets with ``seed + i``).

    Returns :class:`~goal_rl.learning.demos.Demonstrations`: observations ``(T, 24)`` float32,
    actions ``(T, 4)`` float32 in [−1, 1], episode starts, returns, and ``hints (T, H)``
    from ``hint_fn`` if given (see :func:`make_hint_fn`).
    """
    from goal_rl.learning.demos import record_demonstrations

    fn = make_expert(expert) if isinstance(expert, str) else expert
    env = make_env()
    try:
        return record_demonstrations(env, fn, int(n_episodes), int(seed), max_steps=max_steps,
                                     hint_fn=hint_fn)
    finally:
        env.close()


def load_walker_demos(path: str | os.PathLike) -> Any:
    """Demonstrations from ``.npz`` (episode boundaries kept) or CSV (24 + 4 [+ episode]
    columns), checked to have 24 observation and 4 action values per step, all finite.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable, wrong sizes, NaN/inf.
    """
    from goal_rl.learning.demos import Demonstrations

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"demonstrations file not found: {p}")
    if p.suffix.lower() == ".csv":
        demos = Demonstrations.from_csv(p, OBS_DIM, ACT_DIM)
    else:
        demos = Demonstrations.load(p)
    if (demos.obs_dim, demos.act_dim) != (OBS_DIM, ACT_DIM):
        raise ValueError(f"{p}: demonstrations have observation/action sizes "
                         f"{demos.obs_dim}/{demos.act_dim}; BipedalWalker needs "
                         f"{OBS_DIM}/{ACT_DIM}")
    return demos


# ------------------------------------------------------------------------------ evaluation
def evaluate_walker(agent: Any, n_episodes: int = 50, seed: int = 1000, *,
                    num_envs: int = 1, render: bool = False) -> dict[str, Any]:
    """Closed-loop test of a spiking agent; episode i resets with ``seed + i``.

    Returns the :func:`goal_rl.learning.evaluation.evaluate` dict (``mean_reward``, ``std_reward``,
    ``n_eval_episodes``, ``episode_returns``, ``episode_lengths``, ``steps_per_s`` …) plus
    ``success_rate`` (share of episodes reaching the end) and ``mean_length`` (steps).
    """
    from goal_rl.learning.evaluation import evaluate

    factory = (lambda: make_env("rgb_array")) if render else make_env
    res = evaluate(agent, factory, int(n_episodes), int(seed), num_envs=int(num_envs),
                   render=render, info_keys=("reached_end",))
    res["success_rate"] = float(res.pop("mean_reached_end"))
    res.pop("std_reached_end", None)
    res["episode_success"] = [bool(x) for x in res.pop("episode_reached_end")]
    res["mean_length"] = float(np.mean(res["episode_lengths"]))
    return res


def evaluate_expert_cached(expert: str, n_episodes: int, seed: int) -> dict[str, Any]:
    """:func:`goal_rl.tasks.walker.expert.evaluate_expert` memoised per (expert, n, seed)."""
    from goal_rl.tasks.walker.expert import evaluate_expert, load_expert

    key = f"{expert}|{n_episodes}|{seed}"
    if key not in EXPERT_CACHE:
        EXPERT_CACHE[key] = evaluate_expert(load_expert(expert), int(n_episodes), int(seed))
    return EXPERT_CACHE[key]


# ------------------------------------------------------------------------------ training
@dataclass
class WalkerResult:
    """Outcome of :func:`train_walker`.

    Attributes:
        agent: the selected :class:`~goal_rl.learning.agent.SpikingAgent`.
        best_round: its DAgger round (0 = demonstrations only).
        history: per round: ``round``, ``n_episodes``/``n_steps`` of training data,
            ``select_mean_reward``/``select_success_rate``, clone figures, times.
        demos: the initial demonstrations.
        wall_time_s: training time (without the final test).
    """

    agent: Any
    best_round: int
    history: list[dict[str, Any]]
    demos: Any
    wall_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def train_walker(cfg: WalkerConfig, demos: Any = None, *, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> WalkerResult:
    """Clone the walker expert into a spiking agent, with DAgger rounds (see module doc).

    The rounds are :func:`goal_rl.learning.dagger.dagger`'s, with the walker's data cap
    (:func:`~goal_rl.learning.dagger.keep_newest` of ``cfg.max_train_steps``: the oldest
    DAgger episodes go first, never the expert's own), rollout episode ``i`` reset with
    ``cfg.seed + 10_000 + i`` and the rounds ranked by the selection return.

    Args:
        cfg: settings.
        demos: initial demonstrations (``None``: record ``cfg.demo_episodes`` from
            ``cfg.expert``). With ``cfg.demos`` set they are loaded from that file and no
            DAgger round runs (no expert to label new states).
        progress: tqdm bars.
        log: one-line progress messages (default: none).
    """
    from goal_rl.learning.dagger import dagger, keep_newest

    cfg.validate()
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    demos, expert_fn, hint_fn, rounds = _initial_data(cfg, demos, say)

    def select(agent: Any) -> dict[str, Any]:
        return evaluate_walker(agent, cfg.select_episodes, cfg.select_seed,
                               num_envs=min(cfg.num_envs, cfg.select_episodes))

    def report(rec: dict[str, Any]) -> None:
        ev = rec["eval"]
        say(f"round {rec['round']}: {rec['n_steps']} steps of data, selection return "
            f"{ev['mean_reward']:.1f} ± {ev['std_reward']:.1f}, "
            f"{100 * ev['success_rate']:.0f}% reach the end")

    dag = dagger(make_env, expert_fn, clone_config(cfg), rounds=rounds,
                 episodes_per_round=cfg.episodes_per_round, seed=cfg.seed + 10_000,
                 demos=demos, hint_fn=hint_fn, evaluate_fn=select,
                 clone_kwargs={"action_low": -1.0, "action_high": 1.0}, progress=progress,
                 first_index=cfg.episodes_per_round,
                 aggregate=keep_newest(cfg.max_train_steps), desc="walker round",
                 on_round=report)
    agent = dag.agent
    agent.meta.update({"task": TASK, "env_id": ENV_ID, "walker_config": cfg.to_dict(),
                       "best_round": dag.best_round})
    return WalkerResult(agent=agent, best_round=dag.best_round,
                        history=[_history_row(rec) for rec in dag.rounds], demos=demos,
                        wall_time_s=time.perf_counter() - t0)


def _initial_data(cfg: WalkerConfig, demos: Any, say: Callable[[str], None]
                  ) -> tuple[Any, Any, Any, int]:
    """``(demos, expert, hint_fn, rounds)`` for :func:`train_walker`: the demonstrations
    (given, loaded from ``cfg.demos`` — then no DAgger round — or recorded), the expert
    that labels the DAgger states and the hint function (``None`` when the data carry no
    hints: every episode must have them or none)."""
    expert_fn = None
    rounds = cfg.dagger_rounds
    if cfg.demos is not None and demos is None:
        demos = load_walker_demos(cfg.demos)
        rounds = 0
    hint_fn = None
    if demos is None or rounds > 0:
        expert_fn = make_expert(cfg.expert)
        if cfg.hints and (demos is None or demos.hints is not None):
            hint_fn = make_hint_fn(cfg.expert)
        if hint_fn is not None and demos is not None:
            size = np.asarray(hint_fn(demos.observations[0], None)).shape[-1]
            if demos.hints.shape[1] != size:
                raise ValueError(f"the demonstrations carry {demos.hints.shape[1]} hint values "
                                 f"per step but the expert's hidden layers give {size}")
    if demos is not None and demos.hints is not None and (hint_fn is None and rounds > 0):
        demos = dataclasses.replace(demos, hints=None)  # DAgger episodes will have none
    if demos is None:
        demos = record_walker_demos(expert_fn, cfg.demo_episodes, cfg.seed, cfg.demo_max_steps,
                                    hint_fn=hint_fn)
        say(f"recorded {demos.n_episodes} expert episodes ({demos.n_steps} steps)")
    return demos, expert_fn, hint_fn, rounds


def _history_row(rec: dict[str, Any]) -> dict[str, Any]:
    """The walker's history row (metrics.json) of one DAgger round record."""
    ev, cl = rec["eval"], rec["clone"]
    return {"round": rec["round"], "n_episodes": int(rec["n_episodes"]),
            "n_steps": int(rec["n_steps"]),
            "select_mean_reward": ev["mean_reward"], "select_std_reward": ev["std_reward"],
            "select_success_rate": ev["success_rate"],
            "select_mean_length": ev["mean_length"],
            "readout_mse": cl["readout_mse"], "refit_mse": cl["refit_mse"],
            "final_train_mse": cl["final_mse"], "clone_time_s": cl["wall_time_s"],
            "round_time_s": rec["time_s"]}


def agent_trace(agent: Any, expert: Callable[[np.ndarray, Any], np.ndarray] | None,
                seed: int = 1000, max_steps: int = 400) -> dict[str, np.ndarray]:
    """One closed-loop episode of the agent (at most ``max_steps`` steps) for plots.

    Returns ``agent_actions (T, 4)``, ``expert_actions (T, 4)`` (the expert's label for each
    visited state; NaN without an expert) and ``spikes (T, N)`` uint8.
    """
    from goal_rl.learning.rollout import AgentPolicy, run_episodes

    policy = AgentPolicy(agent, obs_dtype=np.float32, expert=expert, record_actions=True,
                         record_spikes=True)
    env = make_env()
    try:
        (episode,) = run_episodes([env], policy, [int(seed)], max_steps=int(max_steps))
    finally:
        env.close()
    rec = episode.records
    labels = rec["label"] if expert is not None else \
        np.full((episode.length, ACT_DIM), np.nan, np.float32)
    return {"agent_actions": rec["action"], "expert_actions": labels, "spikes": rec["spikes"]}
