"""BipedalWalker-v3 apprenticeship learning (SPEC §3c): expert → demonstrations → spiking agent.

``python -m goal_rl.walker --expert [a2c|heuristic|PATH]`` runs the whole loop:

1. record ``demo_episodes`` expert episodes (observations ``(T, 24)``, actions ``(T, 4)``);
2. train a spiking agent on them with GOAL (:func:`goal_rl.cloning.clone`: internal
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
(``.npz`` written by :class:`~goal_rl.demos.Demonstrations` or CSV: 24 observation
columns, 4 action columns, optional ``episode`` column), no DAgger;
``--train-expert ...`` hands over to :mod:`goal_rl.walker_expert`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
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
    "main",
    "make_env",
    "make_expert",
    "make_hint_fn",
    "run_walker",
    "record_walker_demos",
    "train_walker",
]

ENV_ID = "BipedalWalker-v3"
OBS_DIM = 24
ACT_DIM = 4
TASK = "walker"
PROG = "python -m goal_rl.walker"
EXPERT_CACHE: dict[str, dict[str, Any]] = {}


# ------------------------------------------------------------------------------ config


# ------------------------------------------------------------------------------ env/expert
def make_env(render_mode: str | None = None, fast: bool = True) -> Any:
    """``BipedalWalker-v3`` whose ``info["reached_end"]`` (0/1) says whether the walker
    crossed the finish line without falling (the episode then terminates).

    ``fast`` (default) builds it on :class:`envs.fast_walker.FastBipedalWalker`, whose
    steps equal Gymnasium's bit for bit and take ≈ 40 % less time; ``fast=False`` builds
    Gymnasium's own class. Either way the spec (id, 1,600-step limit) is the registered one.
    """
    import gymnasium as gym
    from goal_rl.envs.fast_walker import make_walker, reached_end

    class ReachedEnd(gym.Wrapper):
        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            info = dict(info)
            info["reached_end"] = float(reached_end(self.env, terminated))
            return obs, reward, terminated, truncated, info

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

    Returns :class:`~goal_rl.demos.Demonstrations`: observations ``(T, 24)`` float32,
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

    Returns the :func:`goal_rl.agent.evaluate` dict (``mean_reward``, ``std_reward``,
    ``n_eval_episodes``, ``episode_returns``, ``episode_lengths``, ``steps_per_s`` …) plus
    ``success_rate`` (share of episodes reaching the end) and ``mean_length`` (steps).
    """
    from goal_rl.learning.agent import evaluate

    factory = (lambda: make_env("rgb_array")) if render else make_env
    res = evaluate(agent, factory, int(n_episodes), int(seed), num_envs=int(num_envs),
                   render=render, info_keys=("reached_end",))
    res["success_rate"] = float(res.pop("mean_reached_end"))
    res.pop("std_reached_end", None)
    res["episode_success"] = [bool(x) for x in res.pop("episode_reached_end")]
    res["mean_length"] = float(np.mean(res["episode_lengths"]))
    return res


def evaluate_expert_cached(expert: str, n_episodes: int, seed: int) -> dict[str, Any]:
    """:func:`goal_rl.walker_expert.evaluate_expert` memoised per (expert, n, seed)."""
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
        agent: the selected :class:`~goal_rl.agent.SpikingAgent`.
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


def _cap(data: Any, n_fixed: int, max_steps: int) -> Any:
    """Drop the oldest DAgger episodes (index ≥ ``n_fixed``) until ≤ ``max_steps`` remain."""
    from goal_rl.learning.demos import Demonstrations

    lengths = data.episode_lengths
    if int(lengths.sum()) <= max_steps or data.n_episodes <= n_fixed:
        return data
    keep = list(range(n_fixed))
    total = int(lengths[:n_fixed].sum())
    newest: list[int] = []
    for i in range(data.n_episodes - 1, n_fixed - 1, -1):
        if total + int(lengths[i]) > max_steps and newest:
            break
        newest.append(i)
        total += int(lengths[i])
    keep += sorted(newest)
    eps = [data.episode(i) for i in keep]
    starts = np.cumsum([0] + [len(e[0]) for e in eps[:-1]])
    returns = None if data.returns is None else data.returns[keep]
    return Demonstrations(observations=np.concatenate([e[0] for e in eps]),
                          actions=np.concatenate([e[1] for e in eps]),
                          episode_starts=starts, returns=returns)


def train_walker(cfg: WalkerConfig, demos: Any = None, *, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> WalkerResult:
    """Clone the walker expert into a spiking agent, with DAgger rounds (see module doc).

    Args:
        cfg: settings.
        demos: initial demonstrations (``None``: record ``cfg.demo_episodes`` from
            ``cfg.expert``). With ``cfg.demos`` set they are loaded from that file and no
            DAgger round runs (no expert to label new states).
        progress: tqdm bars.
        log: one-line progress messages (default: none).
    """
    from goal_rl.learning.cloning import clone, rollout

    cfg.validate()
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    expert_fn = None
    rounds = cfg.dagger_rounds
    if cfg.demos is not None and demos is None:
        demos = load_walker_demos(cfg.demos)
        rounds = 0
    hint_fn = None
    if demos is None or rounds > 0:
        expert_fn = make_expert(cfg.expert)
        # Hints need every episode of the data to carry them, given demos included.
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
    ccfg = clone_config(cfg)
    data = demos
    n_fixed = demos.n_episodes
    history: list[dict[str, Any]] = []
    best: tuple[float, int, Any] | None = None
    agent = None
    for r in range(rounds + 1):
        t_round = time.perf_counter()
        if r > 0:
            new, _ = rollout(agent, make_env, expert_fn, cfg.episodes_per_round,
                             cfg.seed + 10_000, first_index=r * cfg.episodes_per_round,
                             hint_fn=hint_fn)
            data = _cap(data.concat(new), n_fixed, cfg.max_train_steps)
        res = clone(data, ccfg, progress=progress, desc=f"walker round {r}",
                    action_low=-1.0, action_high=1.0)
        agent = res.agent
        sel = evaluate_walker(agent, cfg.select_episodes, cfg.select_seed,
                              num_envs=min(cfg.num_envs, cfg.select_episodes))
        row = {"round": r, "n_episodes": int(data.n_episodes), "n_steps": int(data.n_steps),
               "select_mean_reward": sel["mean_reward"], "select_std_reward": sel["std_reward"],
               "select_success_rate": sel["success_rate"],
               "select_mean_length": sel["mean_length"],
               "readout_mse": res.readout_mse, "refit_mse": res.refit_mse,
               "final_train_mse": float(res.mse[-1]) if len(res.mse) else float("nan"),
               "clone_time_s": res.wall_time_s,
               "round_time_s": time.perf_counter() - t_round}
        history.append(row)
        say(f"round {r}: {data.n_steps} steps of data, selection return "
            f"{sel['mean_reward']:.1f} ± {sel['std_reward']:.1f}, "
            f"{100 * sel['success_rate']:.0f}% reach the end")
        if best is None or sel["mean_reward"] > best[0]:
            best = (sel["mean_reward"], r, agent)
    assert best is not None
    _, best_round, agent = best
    agent.meta.update({"task": TASK, "env_id": ENV_ID, "walker_config": cfg.to_dict(),
                       "best_round": best_round})
    return WalkerResult(agent=agent, best_round=best_round, history=history, demos=demos,
                        wall_time_s=time.perf_counter() - t0)


def agent_trace(agent: Any, expert: Callable[[np.ndarray, Any], np.ndarray] | None,
                seed: int = 1000, max_steps: int = 400) -> dict[str, np.ndarray]:
    """One closed-loop episode of the agent (at most ``max_steps`` steps) for plots.

    Returns ``agent_actions (T, 4)``, ``expert_actions (T, 4)`` (the expert's label for each
    visited state; NaN without an expert) and ``spikes (T, N)`` uint8.
    """
    env = make_env()
    try:
        obs, _ = env.reset(seed=int(seed))
        state = None
        acts, labels, spikes = [], [], []
        for _ in range(int(max_steps)):
            a, state = agent.act(np.asarray(obs, np.float32)[None], state)
            a_np = np.asarray(a[0], dtype=np.float32)
            acts.append(a_np)
            spikes.append(np.asarray(state.z[0]).astype(np.uint8))
            labels.append(np.full(ACT_DIM, np.nan, np.float32) if expert is None
                          else np.asarray(expert(obs, env), np.float32))
            obs, _, terminated, truncated, _ = env.step(a_np)
            if terminated or truncated:
                break
    finally:
        env.close()
    return {"agent_actions": np.stack(acts), "expert_actions": np.stack(labels),
            "spikes": np.stack(spikes)}


# ------------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m goal_rl.walker`` (defaults from :class:`WalkerConfig`)."""
    from goal_rl.common.cli import (
        OneLineParser,
        nonneg_float,
        nonneg_int,
        positive_float,
        positive_int,
    )

    d = WalkerConfig()
    p = OneLineParser(prog=PROG, description="BipedalWalker-v3: clone an expert into a "
                      "spiking agent with GOAL and DAgger (SPEC 3c).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--expert", nargs="?", const=d.expert, default=None, metavar="NAME|PATH",
                      help="expert to clone: a2c (shipped, default), heuristic, or a .pt file")
    mode.add_argument("--demos", metavar="PATH",
                      help="clone from a .npz/.csv file of states (T,24), actions (T,4); "
                           "no DAgger")
    mode.add_argument("--play", metavar="PATH", help="reload a saved agent and test it")
    mode.add_argument("--train-expert", action="store_true",
                      help="train a new expert (hands the remaining arguments to "
                           "python -m goal_rl.walker_expert --train)")
    p.add_argument("--out", default="runs/walker", help="output folder (default runs/walker)")
    p.add_argument("--n-rec", type=positive_int, default=d.n_rec, help="N recurrent units")
    p.add_argument("--rank", default="N",
                   help="feedback rank R: 1..N, 'N' (= --n-rec, default), 'ltts', or 0 = "
                        "readout only (no GOAL)")
    p.add_argument("--tau-star", type=positive_float, default=d.tau_star, help="τ⋆ in steps")
    p.add_argument("--epochs", type=nonneg_int, default=d.epochs_rec,
                   help="recurrent GOAL epochs per round")
    p.add_argument("--inp-lr", type=nonneg_float, default=d.inp_lr,
                   help=f"learning rate of the input weights W_in (0: fixed; default {d.inp_lr})")
    p.add_argument("--censored-iters", type=nonneg_int, default=d.censored_iters,
                   help="iterations of the bound-aware readout refit (0: plain ridge)")
    p.add_argument("--demo-episodes", type=positive_int, default=d.demo_episodes)
    p.add_argument("--demo-steps", type=positive_int, default=None,
                   help="cap on steps per expert episode (paper: one episode of 400)")
    p.add_argument("--rounds", type=nonneg_int, default=d.dagger_rounds, help="DAgger rounds")
    p.add_argument("--episodes-per-round", type=positive_int, default=d.episodes_per_round)
    p.add_argument("--select-episodes", type=positive_int, default=d.select_episodes,
                   help="episodes (seeds 2000+) that pick the best DAgger round")
    p.add_argument("--eval-episodes", type=positive_int, default=d.eval_episodes)
    p.add_argument("--eval-seed", type=nonneg_int, default=d.eval_seed)
    p.add_argument("--seed", type=nonneg_int, default=d.seed)
    p.add_argument("--device", default=d.device, help="cpu or cuda[:k]")
    p.add_argument("--num-envs", type=positive_int, default=d.num_envs,
                   help="vector envs for evaluation (K episodes at once)")
    p.add_argument("--render", action="store_true",
                   help="with --play: save a GIF of the first episode (needs imageio)")
    p.add_argument("--no-hints", action="store_true",
                   help="do not add the MLP expert's hidden-layer outputs to GOAL's teacher "
                        "drive (hints are used only in training, never as agent inputs)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _row(name: str, m: dict[str, Any]) -> str:
    return (f"{name:<16} {m['mean_reward']:8.1f} ± {m['std_reward']:6.1f}   "
            f"{100 * m['success_rate']:5.0f}%   {m['mean_length']:7.0f}")


def print_table(expert: dict[str, Any] | None, agent: dict[str, Any], n: int) -> None:
    """Expert vs agent: mean ± std return, share reaching the end, mean length."""
    print(f"\n{'':<16} {'return (' + str(n) + ' episodes)':>17}   {'end':>6}   {'length':>7}")
    if expert is not None:
        print(_row("expert", expert))
    print(_row("spiking agent", agent))


def _metrics(cfg: WalkerConfig, test: dict[str, Any], expert: dict[str, Any] | None,
             result: WalkerResult | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "task": TASK,
        "mean_reward": test["mean_reward"], "std_reward": test["std_reward"],
        "n_eval_episodes": test["n_eval_episodes"], "success_rate": test["success_rate"],
        "mean_length": test["mean_length"], "eval_seed": cfg.eval_seed,
        "episode_returns": test["episode_returns"], "episode_lengths": test["episode_lengths"],
        "expert_mean_reward": None if expert is None else expert["mean_reward"],
        "expert_std_reward": None if expert is None else expert["std_reward"],
        "expert_success_rate": None if expert is None else expert["success_rate"],
        "expert_mean_length": None if expert is None else expert["mean_length"],
        "config": cfg.to_dict(),
        "agent_steps_per_s": test.get("steps_per_s"),
    }
    if result is not None:
        out.update({"best_round": result.best_round, "history": result.history,
                    "train_time_s": result.wall_time_s})
    return out


def _save_gif(frames: list[np.ndarray], path: Path) -> str:
    try:
        import imageio.v2 as imageio
    except ImportError:
        return ("--render: no video written; install the video extra "
                "(pip install 'goal_rl[video]', i.e. imageio) to save a GIF")
    from goal_rl.common.io import atomic_write

    atomic_write(path, lambda fh: imageio.mimwrite(fh, frames[::2], format="GIF", duration=0.04))
    return f"video: {path}"


def _play(args: argparse.Namespace, device: str) -> int:
    from goal_rl.common.io import check_writable_dir, write_json
    from goal_rl.learning.agent import SpikingAgent

    agent = SpikingAgent.load(args.play, device=device)
    task = agent.meta.get("task")
    if task != TASK or agent.n_inp != OBS_DIM or agent.n_out != ACT_DIM:
        raise ValueError(f"{args.play} is an agent for task {task!r} "
                         f"({agent.n_inp} inputs, {agent.n_out} actions), not for {TASK!r}")
    out = check_writable_dir(args.out) if args.render else None
    test = evaluate_walker(agent, args.eval_episodes, args.eval_seed,
                           num_envs=1 if args.render else args.num_envs, render=args.render)
    frames = test.pop("frames", None)
    print_table(None, test, test["n_eval_episodes"])
    if args.render and out is not None:
        print(_save_gif(frames, out / "walker_play.gif") if frames else
              "--render: the env returned no frames")
        write_json(out / "play_metrics.json", {k: v for k, v in test.items()})
    return 0


def run_walker(cfg: WalkerConfig, out: str | os.PathLike | None = None, *,
               progress: bool = True, plot: bool = True, demos: Any = None,
               log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """The whole apprenticeship run: train (:func:`train_walker`), test the agent and the
    expert on the same ``cfg.eval_episodes`` seeded episodes, save ``agent.pt``,
    ``metrics.json`` and the plots in ``out`` (if given). Returns the metrics dict
    (``mean_reward``, ``std_reward``, ``n_eval_episodes``, ``success_rate``,
    ``expert_mean_reward``, ``expert_success_rate``, ``history`` …)."""
    from goal_rl.common.io import check_writable_dir, write_json

    say = log or (lambda msg: None)
    cfg.validate()
    expert_fn = None
    if cfg.demos is not None:
        if demos is None:
            demos = load_walker_demos(cfg.demos)  # fail before any output
        if cfg.dagger_rounds:
            print(f"note: DAgger is unavailable with --demos (no expert to label new "
                  f"states); {cfg.dagger_rounds} round(s) skipped", file=sys.stderr)
        cfg = cfg.replace(dagger_rounds=0)
    else:
        expert_fn = make_expert(cfg.expert)  # unknown name / bad file: fail early
    folder = None if out is None else check_writable_dir(out)
    t0 = time.perf_counter()
    result = train_walker(cfg, demos, progress=progress, log=say)
    expert = None
    if cfg.demos is None:
        expert = evaluate_expert_cached(cfg.expert, cfg.eval_episodes, cfg.eval_seed)
    test = evaluate_walker(result.agent, cfg.eval_episodes, cfg.eval_seed,
                           num_envs=cfg.num_envs)
    metrics = _metrics(cfg, test, expert, result)
    metrics["total_time_s"] = time.perf_counter() - t0
    if log is not None:
        print_table(expert, test, cfg.eval_episodes)
        if expert is not None:
            say(f"agent / expert return: {test['mean_reward'] / expert['mean_reward']:.3f}")
    if folder is not None:
        result.agent.save(folder / "agent.pt")
        write_json(folder / "metrics.json", metrics)
        if plot:
            from goal_rl.tasks.walker.plots import save_walker_plots

            trace = agent_trace(result.agent, expert_fn, cfg.eval_seed)
            for path in save_walker_plots(folder, result.history, trace, expert):
                say(f"plot: {path}")
        say(f"saved {folder / 'agent.pt'} and {folder / 'metrics.json'} "
            f"(total {metrics['total_time_s']:.0f} s)")
    return metrics


def _train(args: argparse.Namespace, device: str) -> int:
    from goal_rl.common.cli import parse_rank

    cfg = WalkerConfig(expert=args.expert or "a2c", demos=args.demos, n_rec=args.n_rec,
                       rank=parse_rank(args.rank, args.n_rec, "--rank"), tau_star=args.tau_star,
                       epochs_rec=args.epochs, inp_lr=args.inp_lr,
                       censored_iters=args.censored_iters,
                       demo_episodes=args.demo_episodes,
                       demo_max_steps=args.demo_steps, dagger_rounds=args.rounds,
                       episodes_per_round=args.episodes_per_round,
                       select_episodes=args.select_episodes,
                       eval_episodes=args.eval_episodes, eval_seed=args.eval_seed,
                       seed=args.seed, device=device, num_envs=args.num_envs,
                       hints=not args.no_hints).validate()
    run_walker(cfg, args.out, progress=not args.no_progress, plot=not args.no_plots,
               log=lambda m: print(m, flush=True))
    return 0


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--train-expert" in argv:
        from goal_rl.tasks.walker.cli import expert_main

        rest = [a for a in argv if a != "--train-expert"]
        return expert_main(["--train", *rest], prog=f"{PROG} --train-expert")
    from goal_rl.common.cli import resolve_device

    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    if args.play:
        return _play(args, device)
    return _train(args, device)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors → one line on stderr, exit code 2."""
    from goal_rl.common.cli import run_main

    return run_main(_main, argv, PROG)
