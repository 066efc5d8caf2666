"""A closed-loop task made of an env and an expert: :class:`ExpertCloningTask`.

It records (or loads) the expert's demonstrations, clones them into a spiking agent
(:func:`~goal_rl.learning.cloning.clone`, or :func:`~goal_rl.learning.dagger.dagger` with
DAgger rounds) and evaluates the agent in closed loop; it follows the task protocol of
``python -m goal_rl train`` (see docs/tasks.md), so a new task on any Gymnasium env is a
few lines (``examples/register_custom_task.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from goal_rl.learning.cloning import clone
from goal_rl.learning.config import CloneTaskConfig
from goal_rl.learning.demos import Demonstrations
from goal_rl.learning.rollout import Expert, make_env

__all__ = ["ExpertCloningTask", "load_demos_for"]


def load_demos_for(path: str, obs_dim: int, act_dim: int) -> Demonstrations:
    """Load demonstrations and check their sizes against an env's (ValueError naming both)."""
    demos = Demonstrations.load(path)
    if (demos.obs_dim, demos.act_dim) != (obs_dim, act_dim):
        raise ValueError(f"{path}: demonstrations have obs/act sizes {demos.obs_dim}/"
                         f"{demos.act_dim} but the env has {obs_dim}/{act_dim}")
    return demos


class ExpertCloningTask:
    """A closed-loop task: clone ``expert`` on a Gymnasium env and evaluate the agent.

    Implements the task protocol of ``python -m goal_rl train`` (``kind``, ``config``,
    ``run(out_dir, progress=, plot=) -> metrics``, ``summary(metrics) -> str``).

    Args:
        name: task name (for messages and files).
        env_id: Gymnasium id, or a factory ``() -> gym.Env``.
        expert: ``expert(obs, env) -> action`` (wrap a batch policy with
            :func:`~goal_rl.learning.dagger.stateless_expert`).
        config: :class:`CloneTaskConfig`.
        hint_fn: optional ``hint_fn(obs, env) -> (H,)`` target-only inputs.
        options_fn: reset options of demonstration/DAgger episode ``i``.
        eval_options_fn: reset options of evaluation episode ``i``.
        info_keys: final-info keys reported per evaluation episode.
        env_kwargs: ``gym.make`` keyword arguments.
        success_key: final-info key whose value (1/0) says the episode succeeded (added
            to ``info_keys``); reported as ``success_rate`` and ``expert_success_rate``.
    """

    kind = "closed_loop"

    def __init__(self, name: str, env_id: Any, expert: Expert, config: CloneTaskConfig, *,
                 hint_fn: Callable[[np.ndarray, Any], Any] | None = None,
                 options_fn: Callable[[int], dict[str, Any] | None] | None = None,
                 eval_options_fn: Callable[[int], dict[str, Any] | None] | None = None,
                 info_keys: Sequence[str] = (), env_kwargs: dict[str, Any] | None = None,
                 success_key: str | None = None) -> None:
        self.name = name
        self.env_id = env_id
        self.expert = expert
        self.config = config.validate()
        self.hint_fn = hint_fn
        self.options_fn = options_fn
        self.eval_options_fn = eval_options_fn
        self.success_key = success_key
        keys = tuple(info_keys)
        self.info_keys = keys + ((success_key,) if success_key and success_key not in keys
                                 else ())
        self.env_kwargs = dict(env_kwargs or {})

    def make_env(self) -> Any:
        """A fresh env."""
        return make_env(self.env_id, self.env_kwargs)

    def _factory(self) -> Any:
        return self.env_id if not isinstance(self.env_id, str) or not self.env_kwargs \
            else (lambda: self.make_env())

    def evaluate(self, agent: Any) -> dict[str, Any]:
        """Closed-loop evaluation on ``n_eval`` episodes (SB3 keys + ``info_keys`` extras)."""
        from goal_rl.learning.evaluation import evaluate

        c = self.config
        return evaluate(agent, self._factory(), c.n_eval, c.eval_seed,
                        num_envs=min(c.num_envs, c.n_eval), options_fn=self.eval_options_fn,
                        info_keys=self.info_keys)

    def demonstrations(self) -> Demonstrations:
        """The training demonstrations: loaded from ``config.demos`` or recorded."""
        from goal_rl.learning.demos import record_demonstrations
        from goal_rl.learning.rollout import action_size, obs_size

        c = self.config
        env = self.make_env()
        try:
            dims = obs_size(env.observation_space), action_size(env.action_space)
            if c.demos is not None:
                return load_demos_for(c.demos, *dims)
            return record_demonstrations(env, self.expert, c.n_demos, c.demo_seed,
                                         max_steps=c.max_steps, hint_fn=self.hint_fn,
                                         options_fn=self.options_fn)
        finally:
            env.close()

    def select(self, agent: Any) -> dict[str, Any]:
        """Closed-loop score on the ``select_episodes`` selection episodes (seeds
        ``select_seed + i``, disjoint from the test seeds), which pick the DAgger round."""
        from goal_rl.learning.evaluation import evaluate

        c = self.config
        return evaluate(agent, self._factory(), c.select_episodes, c.select_seed,
                        num_envs=min(c.num_envs, c.select_episodes),
                        options_fn=self.eval_options_fn, info_keys=self.info_keys)

    def _select_and_test(self, agent: Any) -> dict[str, Any]:
        """A DAgger round's scores: the selection result (its ``mean_reward`` picks the
        round) with the test result under ``"test"`` (reported, never used to pick)."""
        res = self.select(agent)
        res["test"] = {k: v for k, v in self.evaluate(agent).items() if k != "frames"}
        return res

    def evaluate_expert(self) -> dict[str, Any]:
        """The expert on the test episodes (same seeds and options as :meth:`evaluate`)."""
        from goal_rl.learning.evaluation import evaluate_expert

        c = self.config
        return evaluate_expert(self.expert, self.env_id, c.n_eval, c.eval_seed,
                               options_fn=self.eval_options_fn, info_keys=self.info_keys,
                               env_kwargs=self.env_kwargs,
                               reset=getattr(self.expert, "reset", None))

    def record_protocol(self, agent: Any) -> None:
        """Store the task name, env and test episodes in the agent (see
        :mod:`goal_rl.learning.saved`), so ``python -m goal_rl evaluate|play`` need only
        the saved file."""
        from goal_rl.learning.saved import record_protocol

        c = self.config
        options = (None if self.eval_options_fn is None
                   else [self.eval_options_fn(i) for i in range(c.n_eval)])
        record_protocol(agent, task=self.name, env_id=self.env_id, env_kwargs=self.env_kwargs,
                        n_episodes=c.n_eval, seed=c.eval_seed, options=options,
                        info_keys=self.info_keys, num_envs=min(c.num_envs, c.n_eval))

    def _train(self, demos: Demonstrations, progress: bool) -> tuple[Any, Any, Any]:
        """Clone, or DAgger with the round picked on the selection episodes:
        ``(agent, clone result or None, DaggerResult or None)``."""
        c = self.config
        env = self.make_env()
        space = env.action_space
        env.close()
        bounds = {"action_low": getattr(space, "low", None),
                  "action_high": getattr(space, "high", None)}
        if c.dagger_rounds == 0:
            res = clone(demos, c.clone_config(), progress=progress, desc=self.name, **bounds)
            return res.agent, res, None
        from goal_rl.learning.dagger import dagger

        dag = dagger(self._factory(), self.expert, c.clone_config(), rounds=c.dagger_rounds,
                     episodes_per_round=c.dagger_episodes, seed=c.demo_seed + c.n_demos,
                     demos=demos, beta=c.dagger_beta, options_fn=self.options_fn,
                     hint_fn=self.hint_fn, evaluate_fn=self._select_and_test,
                     max_steps=c.max_steps,
                     clone_kwargs=bounds, progress=progress, desc=f"{self.name} round")
        return dag.agent, None, dag

    def run(self, out_dir: Any = None, *, progress: bool = True, plot: bool = False
            ) -> dict[str, Any]:
        """Record (or load) demonstrations, clone (or DAgger, the round picked on the
        selection episodes), evaluate the agent and the expert on the test episodes; save
        ``agent.pt`` (and ``plot.png`` with ``plot``) into ``out_dir``. Returns the
        metrics: the agent's test score (SB3 keys), ``expert_mean_reward`` /
        ``expert_std_reward`` / ``expert_episode_returns`` on the same episodes, the seed
        ranges (``test_seeds``, and ``selection_seeds`` with DAgger, as ``[first, last]``),
        ``success_rate`` / ``expert_success_rate`` with a ``success_key``."""
        from pathlib import Path

        c = self.config
        t0 = time.perf_counter()
        demos = self.demonstrations()
        agent, res, dag = self._train(demos, progress)
        ev = self.evaluate(agent)
        expert_ev = self.evaluate_expert()
        metrics = self._metrics(ev, expert_ev, demos)
        if res is not None:
            metrics["clone"] = {k: v for k, v in res.summary().items() if k != "config"}
        if dag is not None:
            metrics["selection_seeds"] = [c.select_seeds()[0], c.select_seeds()[1] - 1]
            metrics["dagger"] = dag.summary()
        metrics["config"] = c.to_dict()
        metrics["total_time_s"] = time.perf_counter() - t0
        if out_dir is not None:
            out = Path(out_dir)
            self.record_protocol(agent)
            agent.save(out / "agent.pt")
            if plot:
                self._plot(out, res, dag, ev, expert_ev)
        return metrics

    def _plot(self, out: Any, res: Any, dag: Any, ev: dict[str, Any],
              expert_ev: dict[str, Any]) -> None:
        """``plot.png`` (training curves and test returns against the expert's) for
        cloning, ``dagger.png`` (return per round) with DAgger."""
        from goal_rl.learning.plots import plot_clone_history, plot_dagger_rounds

        title = f"{self.name}: mean return {ev['mean_reward']:.1f} ± {ev['std_reward']:.1f}"
        if res is not None:
            plot_clone_history(res.mse, res.dz, res.checkpoints, ev["episode_returns"],
                               out / "plot.png", title=title,
                               expert_returns=expert_ev["episode_returns"])
        if dag is not None:
            plot_dagger_rounds(dag.rounds, dag.best_round, out / "dagger.png",
                               expert_mean=expert_ev["mean_reward"], title=title)

    def _metrics(self, ev: dict[str, Any], expert_ev: dict[str, Any], demos: Demonstrations
                 ) -> dict[str, Any]:
        """The agent's and the expert's test figures side by side."""
        c = self.config
        metrics: dict[str, Any] = {
            "mean_reward": ev["mean_reward"], "std_reward": ev["std_reward"],
            "n_eval_episodes": ev["n_eval_episodes"],
            "expert_mean_reward": expert_ev["mean_reward"],
            "expert_std_reward": expert_ev["std_reward"],
            **{k: v for k, v in ev.items() if k not in ("mean_reward", "std_reward",
                                                         "n_eval_episodes", "frames")},
            "expert_episode_returns": expert_ev["episode_returns"],
            "expert_episode_lengths": expert_ev["episode_lengths"],
            "test_seeds": [c.test_seeds()[0], c.test_seeds()[1] - 1],
            "demo_mean_return": (float(np.mean(demos.returns))
                                 if demos.returns is not None else None),
            "n_demo_episodes": demos.n_episodes, "n_demo_steps": demos.n_steps,
        }
        if self.success_key is not None:
            metrics["success_rate"] = ev[f"mean_{self.success_key}"]
            metrics["expert_success_rate"] = expert_ev[f"mean_{self.success_key}"]
        return metrics

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line for the CLI: the agent and the expert on the same test episodes."""
        seeds = metrics.get("test_seeds")
        seed_txt = f" (seeds {seeds[0]}-{seeds[1]})" if seeds else ""
        succ = ""
        if "success_rate" in metrics:
            succ = (f", success {100 * metrics['success_rate']:.0f}% vs "
                    f"{100 * metrics['expert_success_rate']:.0f}%")
        expert = metrics.get("expert_mean_reward")
        exp_txt = (f" | expert {expert:.2f} ± {metrics['expert_std_reward']:.2f}"
                   if expert is not None else "")
        dag = metrics.get("dagger")
        dag_txt = (f" | DAgger round {dag['best_round']} picked on seeds "
                   f"{metrics['selection_seeds'][0]}-{metrics['selection_seeds'][1]}"
                   if dag else "")
        return (f"{self.name}: mean return {metrics['mean_reward']:.2f} ± "
                f"{metrics['std_reward']:.2f} over {metrics['n_eval_episodes']} test episodes"
                f"{seed_txt}{exp_txt}{succ}{dag_txt} | wall time "
                f"{metrics['total_time_s']:.1f} s")
