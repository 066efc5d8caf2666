"""Button & Food (the paper's Fig 4; see docs/button_food.md): clone a reaching expert that
needs memory.

The agent must first touch a button (which it cannot see being pressed: the unlock is not
observed), then go to the food. A spiking network is trained with GOAL on expert
demonstrations at 5 training angles and scored in closed loop on 120 test angles.

Expert (``expert="paper"``, the default, the paper's): straight to the button centre
at constant speed, arriving at step ``button_steps`` (30), then straight to the food at
constant speed, arriving at step ``episode_steps`` (80). As a function of the state
(so it can label any state for DAgger): before step 30 head for the button centre
arriving at step 30; after that, if still locked, head for the button at full speed;
once unlocked, head for the food arriving at step 80; speeds are capped at
:data:`EXPERT_MAX_SPEED` (3, only reached off course). ``expert="env"`` uses the env's
own :meth:`~goal_rl.envs.button_food.ButtonFoodEnv.expert_action`, which turns to the food as
soon as the button unlocks (7 steps before its centre): its path grazes the unlock
radius (0.047 of 0.05), so a clone that lags slightly never unlocks (measured: far lower
scores).

Hints (2 inputs, only while generating internal targets): the expert's phase, one-hot
``[1, 0]`` while heading for the button, ``[0, 1]`` while heading for the food.

Settings are those of :class:`ButtonFoodConfig` (every field can be set with
``python -m goal_rl train button_food --set key=value``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.tasks.button_food.config import EXPERT_NAMES, TRAIN_ANGLES, ButtonFoodConfig

__all__ = [
    "ENV_ID",
    "PAPER_RANKS",
    "PAPER_SCORES",
    "TRAIN_ANGLES",
    "ButtonFoodConfig",
    "ButtonFoodTask",
    "closed_loop_paths",
    "evaluate_angles",
    "expert_phase_hint",
    "make",
    "paper_expert",
    "record_angle_demos",
]

ENV_ID = "goal_rl/ButtonFood-v0"
PAPER_RANKS: tuple[int, ...] = (1, 34, 67, 100, 133, 167, 200, 233, 266, 300)
#: Mean score vs R read from the paper's Fig 4 (N = 300); R >= 200 "≈ 9", R = N: 9.1.
PAPER_SCORES: dict[int, float] = {1: 0.0, 34: 1.0, 67: 2.4, 100: 4.8, 133: 6.7, 167: 7.8,
                                  200: 9.0, 233: 9.0, 266: 9.0, 300: 9.1}
EXPERT_MAX_SPEED = 3.0
"""Speed cap (per component) of :func:`paper_expert`. On its own path the expert never
exceeds 1.9; the cap only bounds the corrections it gives in off-course states (DAgger
labels), which would otherwise reach the env's bound of 10 and dwarf the demonstrations."""
FOOD_SCORE = 1.0 / 0.03
"""Score of an episode that reaches the food (reward floor at the food radius)."""


# ------------------------------------------------------------------------------ expert
def paper_expert(obs: Any, env: Any) -> np.ndarray:
    """The paper's expert as a function of the env state, action ``(2,)`` float32.

    ``obs`` is unused (the expert reads ``env.unwrapped``); see the module docstring.
    """
    del obs
    e = env.unwrapped
    if e.t < e.button_steps:
        target, steps_left = e.button, e.button_steps - e.t
    elif not e.unlocked:
        target, steps_left = e.button, 1
    else:
        target, steps_left = e.food, max(e.episode_steps - e.t, 1)
    velocity = (target - e.agent) / (steps_left * e.step_scale)
    peak = float(np.max(np.abs(velocity)))
    cap = min(EXPERT_MAX_SPEED, e.MAX_SPEED)
    if peak > cap:
        velocity = velocity * (cap / peak)
    return velocity.astype(np.float32)


def expert_phase_hint(obs: Any, env: Any) -> np.ndarray:
    """One-hot phase of :func:`paper_expert`, ``(2,)``: button ``[1, 0]``, food ``[0, 1]``."""
    del obs
    e = env.unwrapped
    to_food = e.t >= e.button_steps and e.unlocked
    return np.array([0.0, 1.0] if to_food else [1.0, 0.0], dtype=np.float32)


def _env_expert(obs: Any, env: Any) -> np.ndarray:
    del obs
    return env.unwrapped.expert_action()


def _env_hint(obs: Any, env: Any) -> np.ndarray:
    del obs
    return env.unwrapped.hint()


EXPERTS = {"paper": (paper_expert, expert_phase_hint), "env": (_env_expert, _env_hint)}
assert tuple(EXPERTS) == EXPERT_NAMES


def _make_env() -> Any:
    import gymnasium as gym

    import goal_rl.envs  # noqa: F401  (registers goal_rl/ButtonFood-v0)

    return gym.make(ENV_ID)


def record_angle_demos(angles: Sequence[float], expert: str = "paper", seed: int = 0) -> Any:
    """Expert episodes at the given food angles (degrees), with hints.

    Returns:
        :class:`~goal_rl.learning.demos.Demonstrations`, one episode per angle.
    """
    from goal_rl.learning.demos import record_demonstrations

    if expert not in EXPERTS:
        raise ValueError(f"unknown expert {expert!r}; choose one of {', '.join(EXPERTS)}")
    act, hint = EXPERTS[expert]
    env = _make_env()
    try:
        return record_demonstrations(env, act, len(angles), seed, hint_fn=hint,
                                     options_fn=lambda i: {"angle": float(angles[i])})
    finally:
        env.close()


# ------------------------------------------------------------------------------ evaluation
def evaluate_angles(agent: Any, angles: Sequence[float], *, num_envs: int = 120, seed: int = 0
                    ) -> dict[str, Any]:
    """Closed-loop episodes at fixed food angles (degrees), one per angle.

    Returns:
        :func:`goal_rl.learning.evaluation.evaluate`'s dict (``mean_reward`` ... and ``mean_score``,
        ``episode_score``, ``mean_unlocked``) plus ``angles`` and ``reached_fraction``
        (share of episodes whose score reached the food, ≈ 33.3).
    """
    import goal_rl.envs  # noqa: F401
    from goal_rl.learning.evaluation import evaluate

    angles = [float(a) for a in angles]
    res = evaluate(agent, ENV_ID, len(angles), seed, num_envs=max(1, min(num_envs, len(angles))),
                   options_fn=lambda i: {"angle": angles[i]}, info_keys=("score", "unlocked"))
    res["angles"] = angles
    res["reached_fraction"] = float(np.mean(np.asarray(res["episode_score"])
                                            >= FOOD_SCORE - 1e-6))
    return res


def closed_loop_paths(agent: Any, angles: Sequence[float]) -> list[np.ndarray]:
    """Agent positions ``(T_i + 1, 2)`` (start included) of one closed-loop episode per angle,
    all episodes at once (seed 0 each)."""
    from goal_rl.learning.rollout import AgentPolicy, run_episodes

    envs_ = [_make_env() for _ in angles]
    try:
        episodes = run_episodes(envs_, AgentPolicy(agent), [0] * len(envs_),
                                options=[{"angle": float(a)} for a in angles],
                                probes={"position": lambda env: env.unwrapped.agent.copy()})
    finally:
        for e in envs_:
            e.close()
    return [ep.records["position"] for ep in episodes]


# ------------------------------------------------------------------------------ config


# ------------------------------------------------------------------------------ task
class ButtonFoodTask:
    """The Button & Food task (protocol of ``python -m goal_rl train``)."""

    name = "button_food"
    kind = "closed_loop"

    def __init__(self, config: ButtonFoodConfig) -> None:
        self.config = config.validate()

    # -------------------------------------------------------------- pieces
    def demonstrations(self) -> Any:
        """Expert demonstrations at ``train_angles`` (or loaded from ``demos``)."""
        from goal_rl.learning.task import load_demos_for

        c = self.config
        if c.demos is not None:
            return load_demos_for(c.demos, 80, 2)
        return record_angle_demos(c.train_angles, c.expert)

    def train(self, demos: Any, *, rank: Any = "config", seed: int | None = None,
              progress: bool = True) -> dict[str, Any]:
        """Clone (or DAgger) one agent. Returns ``{"agent", "clone" or "dagger"}``."""
        from goal_rl.learning.cloning import clone
        from goal_rl.learning.dagger import dagger

        c = self.config
        changes: dict[str, Any] = {"rank": rank}
        if seed is not None:
            changes["seed"] = seed
        cc = c.clone_config(**changes)
        bounds = {"action_low": -10.0, "action_high": 10.0}
        val = c.val_angles()
        r_txt = "LTTS" if cc.rank is None else cc.rank
        if c.dagger_rounds == 0:
            callback = None
            if c.keep_best:
                def callback(epoch: int, agent: Any) -> dict[str, Any]:
                    return {"score": evaluate_angles(agent, val, num_envs=c.num_envs)
                            ["mean_score"]}
            res = clone(demos, cc, progress=progress, callback=callback,
                        desc=f"button_food R={r_txt}", **bounds)
            return {"agent": res.agent, "clone": res}
        expert, hint = EXPERTS[c.expert]
        lo, hi = c.test_min, c.test_max
        base = cc.seed

        def options_fn(i: int) -> dict[str, Any]:
            rng = np.random.default_rng(np.random.SeedSequence([base, i, 31]))
            return {"angle": float(rng.uniform(lo, hi))}

        dag = dagger(_make_env, expert, cc, rounds=c.dagger_rounds,
                     episodes_per_round=c.dagger_episodes, seed=base, demos=demos,
                     beta=c.dagger_beta, options_fn=options_fn, hint_fn=hint,
                     evaluate_fn=lambda a: evaluate_angles(a, val, num_envs=c.num_envs),
                     score_key="mean_score", clone_kwargs=bounds, progress=progress)
        return {"agent": dag.agent, "dagger": dag}

    def evaluate(self, agent: Any) -> dict[str, Any]:
        """Closed-loop score on the test angles."""
        c = self.config
        return evaluate_angles(agent, c.test_angles(), num_envs=c.num_envs)

    def evaluate_expert(self) -> dict[str, Any]:
        """The expert on the test angles (the episodes of :meth:`evaluate`), with
        ``reached_fraction``."""
        from goal_rl.learning.evaluation import evaluate_expert

        c = self.config
        angles = [float(a) for a in c.test_angles()]
        expert, _ = EXPERTS[c.expert]
        res = evaluate_expert(expert, _make_env, len(angles), 0,
                              options_fn=lambda i: {"angle": angles[i]},
                              info_keys=("score", "unlocked"))
        res["reached_fraction"] = float(np.mean(np.asarray(res["episode_score"])
                                                >= FOOD_SCORE - 1e-6))
        return res

    # -------------------------------------------------------------- run
    def run(self, out_dir: Any = None, *, progress: bool = True, plot: bool = False
            ) -> dict[str, Any]:
        """Train and evaluate (or run a rank scan when ``ranks`` is set); see the module
        docstring. Files in ``out_dir``: ``agent.pt`` (single run), ``rank_scan.json``
        (scan), ``button_food.png`` / ``rank_scan.png`` with ``plot``."""
        t0 = time.perf_counter()
        demos = self.demonstrations()
        if self.config.ranks:
            metrics = self._scan(demos, out_dir, progress, plot)
        else:
            metrics = self._single(demos, out_dir, progress, plot)
        metrics["config"] = dataclasses.asdict(self.config)
        metrics["total_time_s"] = time.perf_counter() - t0
        return metrics

    def _single(self, demos: Any, out_dir: Any, progress: bool, plot: bool) -> dict[str, Any]:
        c = self.config
        out = self.train(demos, progress=progress)
        agent = out["agent"]
        ev = self.evaluate(agent)
        train_ev = evaluate_angles(agent, c.train_angles, num_envs=c.num_envs)
        expert_ev = self.evaluate_expert()
        metrics: dict[str, Any] = {
            "mean_reward": ev["mean_reward"],
            "std_reward": ev["std_reward"],
            "n_eval_episodes": ev["n_eval_episodes"],
            "mean_score": ev["mean_score"],
            "std_score": ev["std_score"],
            "reached_fraction": ev["reached_fraction"],
            "unlocked_fraction": ev["mean_unlocked"],
            "train_angle_score": train_ev["mean_score"],
            "rank": c.resolved_rank(),
            "test_angles": ev["angles"],
            "episode_score": ev["episode_score"],
            "episode_returns": ev["episode_returns"],
            "episode_lengths": ev["episode_lengths"],
            "eval_steps_per_s": ev["steps_per_s"],
            "success_rate": ev["reached_fraction"],
            "expert_mean_reward": expert_ev["mean_reward"],
            "expert_std_reward": expert_ev["std_reward"],
            "expert_mean_score": expert_ev["mean_score"],
            "expert_success_rate": expert_ev["reached_fraction"],
            "expert_episode_score": expert_ev["episode_score"],
        }
        if c.dagger_rounds > 0:  # the round was picked on these angles, not the test grid
            metrics["selection_angles"] = [float(a) for a in c.val_angles()]
        res = out.get("clone")
        if res is not None:
            metrics["clone"] = {k: v for k, v in res.summary().items() if k != "config"}
        if "dagger" in out:
            metrics["dagger"] = out["dagger"].summary()
        if out_dir is not None:
            out_dir = Path(out_dir)
            from goal_rl.learning.saved import record_protocol

            record_protocol(agent, task=self.name, env_id=ENV_ID, n_episodes=c.n_test, seed=0,
                            options=[{"angle": float(a)} for a in ev["angles"]],
                            info_keys=("score", "unlocked"),
                            num_envs=max(1, min(c.num_envs, c.n_test)))
            agent.save(out_dir / "agent.pt")
            if plot:
                from goal_rl.tasks.button_food.plots import plot_button_food

                show = np.linspace(c.test_min, c.test_max, 13)
                mse = res.mse if res is not None else np.zeros(0)
                dz = res.dz if res is not None else np.zeros(0)
                plot_button_food(closed_loop_paths(agent, show), show, ev["angles"],
                                 ev["episode_score"], c.train_angles, mse, dz,
                                 out_dir / "button_food.png",
                                 title=f"R={metrics['rank'] or 'LTTS'}: mean score "
                                       f"{ev['mean_score']:.2f}, reached "
                                       f"{100 * ev['reached_fraction']:.0f}%")
        return metrics

    def _scan(self, demos: Any, out_dir: Any, progress: bool, plot: bool) -> dict[str, Any]:
        from goal_rl.common.io import write_json

        c = self.config
        seeds = list(c.seeds) if c.seeds else [c.seed]
        ranks = [int(c.resolved_rank(r)) for r in c.ranks]
        rows = []
        scores = np.full((len(seeds), len(ranks)), np.nan)
        for i, seed in enumerate(seeds):
            for j, rank in enumerate(ranks):
                t0 = time.perf_counter()
                out = self.train(demos, rank=rank, seed=seed, progress=progress)
                ev = self.evaluate(out["agent"])
                scores[i, j] = ev["mean_score"]
                row = {"rank": rank, "seed": seed, "mean_score": ev["mean_score"],
                       "std_score": ev["std_score"], "reached_fraction": ev["reached_fraction"],
                       "unlocked_fraction": ev["mean_unlocked"],
                       "mean_reward": ev["mean_reward"], "std_reward": ev["std_reward"],
                       "n_eval_episodes": ev["n_eval_episodes"],
                       "time_s": time.perf_counter() - t0}
                if "clone" in out:
                    row["final_mse"] = float(out["clone"].mse[-1]) if len(out["clone"].mse) \
                        else float("nan")
                rows.append(row)
        mean = scores.mean(axis=0)
        table = [{"rank": r, "mean_score": float(mean[j]),
                  "std_over_seeds": float(scores[:, j].std()),
                  "paper": PAPER_SCORES.get(r)} for j, r in enumerate(ranks)]
        top = rows[-1]
        metrics: dict[str, Any] = {
            # SB3 keys: the last rank of the scan (first seed's run is in "runs")
            "mean_reward": top["mean_reward"], "std_reward": top["std_reward"],
            "n_eval_episodes": top["n_eval_episodes"],
            "ranks": ranks, "seeds": seeds,
            "mean_score_by_rank": [float(x) for x in mean],
            "table": table, "runs": rows,
        }
        if out_dir is not None:
            out_dir = Path(out_dir)
            write_json(out_dir / "rank_scan.json", {"table": table, "runs": rows,
                                                    "ranks": ranks, "seeds": seeds})
            if plot:
                from goal_rl.tasks.button_food.plots import plot_rank_scan

                plot_rank_scan(ranks, scores, out_dir / "rank_scan.png",
                               paper={r: PAPER_SCORES[r] for r in ranks if r in PAPER_SCORES},
                               title=f"Button & Food: score vs R (N={c.n_rec}, "
                                     f"{len(seeds)} seed(s))")
        return metrics

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line for the CLI."""
        if "table" in metrics:
            parts = ", ".join(f"R={row['rank']}: {row['mean_score']:.2f}"
                              for row in metrics["table"])
            return (f"button_food rank scan (mean score over {self.config.n_test} test angles)"
                    f" | {parts} | wall time {metrics['total_time_s']:.1f} s")
        return (f"button_food R={metrics['rank'] or 'LTTS'} | mean score "
                f"{metrics['mean_score']:.2f} ± {metrics['std_score']:.2f} over "
                f"{metrics['n_eval_episodes']} test angles (food reached "
                f"{100 * metrics['reached_fraction']:.0f}%, train angles "
                f"{metrics['train_angle_score']:.2f}) | expert {metrics['expert_mean_score']:.2f}"
                f" (reached {100 * metrics['expert_success_rate']:.0f}%) | mean return "
                f"{metrics['mean_reward']:.1f} vs expert {metrics['expert_mean_reward']:.1f}"
                f" | wall time {metrics['total_time_s']:.1f} s")


def make(**overrides: Any) -> ButtonFoodTask:
    """Button & Food task with ``overrides`` (strings as typed after ``--set``)."""
    from goal_rl.tasks.registry import apply_overrides

    return ButtonFoodTask(apply_overrides(ButtonFoodConfig(), overrides, task="button_food"))


make.kind = "closed_loop"  # type: ignore[attr-defined]
