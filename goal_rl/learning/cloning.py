r"""Apprenticeship learning with GOAL: expert demonstrations → a closed-loop spiking agent.

:func:`clone` turns :class:`~goal_rl.demos.Demonstrations` into a
:class:`~goal_rl.agent.SpikingAgent`:

1. **Observation transform** (``normalize_obs``): mean and std of the demonstrated
   observations; the agent feeds ``clip((obs - mean) / max(std, obs_std_floor), ±obs_clip)``.
2. **Trials**: episodes are cut into equal-length windows of ``window`` steps (default:
   the longest episode). A shorter window or episode is padded by repeating its last
   step (``pad="repeat"``) or dropped (``pad="drop"``); every window starts from the
   network's initial state, so whole episodes (the default) match closed-loop use best.
   The M windows are the M trials of one network (their weight updates are summed).
3. **Internal targets**: the untrained network runs on the observations with the teacher
   drive ``U a*`` of the expert actions (plus ``W_hint h`` of the hint inputs, if the
   demonstrations carry hints and ``use_hints``); its spikes ``z*`` are the targets.
4. **Readout** ``W_out`` fitted on ``z*`` (ridge), then frozen.
5. **GOAL recurrent training** for ``epochs_rec`` epochs with rank R and ``tau_star``
   (SPEC §2.3–2.4); the free run uses the observations only.
6. **Readout refit** (``refit_readout``): ridge fit of ``W_out`` on the network's own
   free-running spikes under the demonstration inputs, so the readout matches what the
   trained network does rather than the targets it approximates.
7. **Validation**: open-loop action MSE on held-out episodes, and an optional
   ``callback(epoch, agent)`` (e.g. a closed-loop evaluation) every ``eval_every`` epochs.

Rank: ``rank=None`` is LTTS (diagonal feedback); ``1 <= rank <= N`` is spike-level feedback
``D = B[:, :R] B[:, :R]ᵀ``. Unlike the open-loop trajectory CLI (O <= R), cloning also
accepts ``R < O``: ``B[:, :R]`` is then the first R columns of ``W_outᵀ`` (the first R
action components' readout rows), as in the paper's Button & Food scan (R = 1, O = 2).
Output-level feedback (``feedback="out"``) needs ``O <= R``.

:func:`dagger` wraps :func:`clone` in DAgger rounds: the agent acts, the expert labels the
states it visits, the labelled episodes are added to the data, the agent is retrained.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from goal_rl.common.checks import check_int
from goal_rl.config import GoalConfig
from goal_rl.engines.adapter import TrialEngine
from goal_rl.engines.common import causal_filter
from goal_rl.engines.readout import ridge_readout
from goal_rl.learning.config import PADDING, CloneConfig, CloneTaskConfig
from goal_rl.learning.demos import Demonstrations
from goal_rl.learning.rollout import Expert

__all__ = [
    "CloneConfig",
    "CloneTaskConfig",
    "ExpertCloningTask",
    "CloneResult",
    "DaggerResult",
    "action_mse",
    "clone",
    "dagger",
    "load_demos_for",
    "make_windows",
    "open_loop_actions",
]


# ------------------------------------------------------------------------------ data
def make_windows(demos: Demonstrations, window: int | None, pad: str = "repeat"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Cut episodes into equal-length trials.

    Each episode is split into consecutive chunks of ``window`` steps (``None``: the
    longest episode, so one chunk per episode). A chunk shorter than ``window`` is padded
    by repeating its last step (``pad="repeat"``) or dropped (``pad="drop"``).

    Returns:
        ``obs (T, M, obs_dim)``, ``actions (T, M, act_dim)``, ``hints (T, M, h)`` or
        ``None``, and ``valid (T, M)`` bool (False on padded steps); float32 arrays.

    Raises:
        ValueError: ``pad="drop"`` leaves no trial, or a bad ``pad``/``window``.
    """
    if pad not in PADDING:
        raise ValueError(f"pad must be one of {PADDING}, got {pad!r}")
    lengths = demos.episode_lengths
    T = int(lengths.max()) if window is None else int(window)
    if T < 1:
        raise ValueError(f"window must be >= 1, got {window!r}")
    obs_w, act_w, hint_w, valid_w = [], [], [], []
    for obs, act, hints in demos.episodes():
        for start in range(0, obs.shape[0], T):
            stop = min(start + T, obs.shape[0])
            n = stop - start
            if n < T and pad == "drop":
                continue
            idx = np.minimum(np.arange(start, start + T), stop - 1)
            obs_w.append(obs[idx])
            act_w.append(act[idx])
            if hints is not None:
                hint_w.append(hints[idx])
            valid_w.append(np.arange(T) < n)
    if not obs_w:
        raise ValueError(f"no trial left: every episode is shorter than window={T} and "
                         "pad='drop'")
    obs_a = np.stack(obs_w, axis=1).astype(np.float32)
    act_a = np.stack(act_w, axis=1).astype(np.float32)
    hint_a = np.stack(hint_w, axis=1).astype(np.float32) if hint_w else None
    return obs_a, act_a, hint_a, np.stack(valid_w, axis=1)


# ------------------------------------------------------------------------------ results
@dataclass
class CloneResult:
    """Outcome of :func:`clone`.

    Attributes:
        agent: the trained :class:`~goal_rl.agent.SpikingAgent` (best checkpoint with
            ``keep_best``).
        config: the settings used.
        readout_mse: readout-limit MSE on the internal targets (step 4).
        mse, dz: ``(E,)`` per recurrent epoch: free-run action MSE (readout of step 4) and
            spike error ΔZ against the targets.
        refit_mse: action MSE of the refitted readout on the free run (NaN without refit).
        checkpoints: one dict per checkpoint: ``epoch``, ``train_mse`` (open-loop action
            MSE on the training trials, final readout), ``val_mse`` (if validation data),
            plus what the callback returned.
        best_epoch: epoch of the returned agent.
        n_trials, window: M trials of ``window`` steps.
        wall_time_s: total time.
    """

    agent: Any
    config: CloneConfig
    readout_mse: float
    mse: np.ndarray
    dz: np.ndarray
    refit_mse: float
    checkpoints: list[dict[str, Any]]
    best_epoch: int
    n_trials: int
    window: int
    wall_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (scalars, per-checkpoint metrics and the config)."""
        return {
            "readout_mse": self.readout_mse,
            "final_mse": float(self.mse[-1]) if len(self.mse) else float("nan"),
            "final_dz": float(self.dz[-1]) if len(self.dz) else float("nan"),
            "refit_mse": self.refit_mse,
            "best_epoch": self.best_epoch,
            "n_trials": self.n_trials,
            "window": self.window,
            "epochs_rec": int(len(self.mse)),
            "wall_time_s": self.wall_time_s,
            "checkpoints": self.checkpoints,
            "config": self.config.to_dict(),
        }


# ------------------------------------------------------------------------------ clone
def _check_demos(demos: Any, name: str = "demos") -> Demonstrations:
    if not isinstance(demos, Demonstrations):
        raise TypeError(f"{name} must be Demonstrations, got {type(demos).__name__}")
    return demos


def _resolve_backend(backend: str, device: str) -> str:
    if backend == "numpy" and device != "cpu":
        raise ValueError(f"the numpy backend runs on the CPU only, not on device {device!r}")
    if backend == "auto":
        return "numpy" if device == "cpu" else "torch"
    return backend


def clone(
    demos: Demonstrations,
    config: CloneConfig | None = None,
    *,
    progress: bool = True,
    validation: Demonstrations | None = None,
    callback: Callable[[int, Any], dict[str, Any] | None] | None = None,
    action_low: Any = None,
    action_high: Any = None,
    desc: str = "clone",
) -> CloneResult:
    """Train a spiking agent on expert demonstrations (see the module docstring).

    Args:
        demos: training episodes (observations ``(T_total, I)``, actions ``(T_total, O)``,
            optional hints ``(T_total, H)`` fed only while generating targets).
        config: settings (default :class:`CloneConfig()`).
        progress: show a tqdm bar over the recurrent epochs.
        validation: held-out episodes; their open-loop action MSE is reported at each
            checkpoint (``val_mse``).
        callback: ``callback(epoch, agent) -> dict | None`` at each checkpoint (every
            ``config.eval_every`` epochs and at the end), e.g. a closed-loop
            :func:`~goal_rl.agent.evaluate`; a ``"score"`` key (higher is better) drives
            ``keep_best``. The agent passed is a snapshot (safe to keep).
        action_low, action_high: action bounds stored in the agent (``None``: no clipping).
        desc: progress-bar label.

    Returns:
        A :class:`CloneResult` with the agent and the training history.

    Raises:
        ValueError: bad settings, a rank outside ``[1, N]``, validation data of other sizes.
    """
    import torch

    from goal_rl.common.threads import torch_threads
    from goal_rl.engines.common import init_weights
    from goal_rl.learning.agent import SpikingAgent
    from goal_rl.learning.rollout import clip_actions
    from goal_rl.model.lif import LIFParams
    from goal_rl.model.network import SpikingNetwork

    t0 = time.perf_counter()
    cfg = (config if config is not None else CloneConfig()).validate()
    demos = _check_demos(demos)
    if validation is not None:
        _check_demos(validation, "validation")
        if (validation.obs_dim, validation.act_dim) != (demos.obs_dim, demos.act_dim):
            raise ValueError(f"validation has obs/act sizes {validation.obs_dim}/"
                             f"{validation.act_dim}, demonstrations {demos.obs_dim}/"
                             f"{demos.act_dim}")
    if cfg.feedback == "out" and cfg.rank is not None and cfg.rank < demos.act_dim:
        raise ValueError(f"feedback='out' needs rank >= {demos.act_dim} (the action size), "
                         f"got {cfg.rank}")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {cfg.device!r} requested but CUDA is not available")
    backend = _resolve_backend(cfg.backend, cfg.device)

    # 1. observation transform
    shift = scale = None
    obs_clip = None
    if cfg.normalize_obs:
        mean = demos.observations.astype(np.float64).mean(axis=0)
        std = demos.observations.astype(np.float64).std(axis=0)
        shift, scale, obs_clip = mean, 1.0 / np.maximum(std, cfg.obs_std_floor), cfg.obs_clip

    def transform(o: np.ndarray) -> np.ndarray:
        if shift is None:
            return o.astype(np.float32)
        return np.clip((o - shift) * scale, -obs_clip, obs_clip).astype(np.float32)

    # 2. trials
    obs_w, act_w, hint_w, valid = make_windows(demos, cfg.window, cfg.pad)
    if not cfg.use_hints:
        hint_w = None
    T, M = obs_w.shape[:2]
    x = transform(obs_w)
    n_inp, n_out = demos.obs_dim, demos.act_dim
    gcfg = cfg.goal_config(n_inp, n_out, T, M)
    s_w, s_fb = np.random.SeedSequence(cfg.seed).spawn(2)
    weights = init_weights(n_inp, cfg.n_rec, n_out, sigma_inp=cfg.sigma_inp,
                           sigma_trg=cfg.sigma_trg, sigma_rec=cfg.sigma_rec,
                           rng=np.random.default_rng(s_w),
                           n_hint=0 if hint_w is None else hint_w.shape[-1],
                           sigma_hint=cfg.sigma_hint)
    params = LIFParams(cfg.tau_m, cfg.tau_s, cfg.tau_o, cfg.bias, cfg.v0, cfg.reset,
                       GoalConfig.theta)
    meta = {"kind": "clone", "config": cfg.to_dict(), "n_trials": int(M), "window": int(T),
            "rec_lr": gcfg.eta}

    with torch_threads(1, cfg.device):
        eng = TrialEngine(gcfg, weights, cfg.rank, cfg.tau_star_eff, np.random.default_rng(s_fb),
                      backend)
        eng.set_task(x, act_w, hint_w)
        # 3.-4. internal targets and readout
        readout_mse = eng.targets_and_readout()
        eng.build_feedback()
        u = eng.weights("u")

        def snapshot() -> tuple[Any, float, float]:
            """Agent with the current W_rec (and refitted readout) + its train MSE."""
            w_out, w_in = eng.w_out, eng.weights("w_in")
            refit = float("nan")
            z = eng.free_run()
            r = causal_filter(z, math.exp(-1.0 / cfg.tau_o), recursive=True)
            if cfg.refit_readout:  # its MSE is that of the clipped output, as the agent acts
                w_out, refit = ridge_readout(r, act_w, valid, cfg.ridge, action_low,
                                              action_high, cfg.censored_iters)
                train_mse = refit
            else:
                out = clip_actions(np.einsum("tmn,on->tmo", r, w_out)[valid],
                                   action_low, action_high)
                train_mse = float(np.mean((out - act_w[valid]) ** 2))
            net = SpikingNetwork({"w_in": w_in, "w_rec": eng.w_rec, "w_out": w_out, "u": u},
                                 params, meta, dtype=torch.float32)
            agent = SpikingAgent(net, obs_shift=shift, obs_scale=scale, obs_clip=obs_clip,
                                 action_low=action_low, action_high=action_high,
                                 device=cfg.device, meta=dict(meta))
            return agent, train_mse, refit

        # 5. recurrent training in chunks, with checkpoints
        E = cfg.epochs_rec
        step = cfg.eval_every if cfg.eval_every > 0 else max(E, 1)
        marks = sorted({*range(step, E, step), E})
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=E, desc=desc, unit="ep", dynamic_ncols=True, leave=True)
        mse_parts, dz_parts = [], []
        checkpoints: list[dict[str, Any]] = []
        best: tuple[float, int, Any, float] | None = None
        done = 0
        for mark in marks:
            n = mark - done
            # train in small pieces so the bar moves
            while n > 0:
                piece = min(n, max(1, E // 50) if E else 1)
                mse, dz = eng.train(piece)
                mse_parts.append(mse)
                dz_parts.append(dz)
                n -= piece
                done += piece
                if bar is not None:
                    bar.update(piece)
                    bar.set_postfix(mse=f"{mse[-1]:.4g}", dz=f"{dz[-1]:.0f}")
            agent, train_mse, refit = snapshot()
            cp: dict[str, Any] = {"epoch": int(mark), "train_mse": train_mse}
            if validation is not None:
                cp["val_mse"] = action_mse(agent, validation)
            if callback is not None:
                cp.update(callback(int(mark), agent) or {})
            checkpoints.append(cp)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in cp.items()
                                 if k != "epoch" and isinstance(v, int | float)})
            # ranking: callback score (higher better), else validation MSE, else last
            if "score" in cp:
                key = float(cp["score"])
            elif "val_mse" in cp:
                key = -float(cp["val_mse"])
            else:
                key = float(mark)
            if best is None or key > best[0] or not cfg.keep_best:
                best = (key, int(mark), agent, refit)
        if bar is not None:
            bar.close()
    assert best is not None
    _, best_epoch, agent, refit_mse = best
    mse_all = np.concatenate(mse_parts) if mse_parts else np.zeros(0)
    dz_all = np.concatenate(dz_parts) if dz_parts else np.zeros(0)
    agent.meta["best_epoch"] = best_epoch
    return CloneResult(agent=agent, config=cfg, readout_mse=readout_mse, mse=mse_all,
                       dz=dz_all, refit_mse=refit_mse, checkpoints=checkpoints,
                       best_epoch=best_epoch, n_trials=int(M), window=int(T),
                       wall_time_s=time.perf_counter() - t0)


# ------------------------------------------------------------------------------ validation
def open_loop_actions(agent: Any, demos: Demonstrations) -> list[np.ndarray]:
    """Actions ``(T_i, O)`` the agent produces on each episode's recorded observations
    (clipped to the agent's action bounds), each episode from the initial state (open
    loop: its actions do not change the inputs)."""
    import torch

    from goal_rl.learning.rollout import clip_actions

    demos = _check_demos(demos)
    agent.check_obs_size(demos.obs_dim, "the demonstrations' observation")
    obs, _, _, valid = make_windows(demos, None, "repeat")
    with torch.no_grad():
        x = agent.transform(torch.as_tensor(obs.reshape(-1, obs.shape[-1]))).reshape(obs.shape)
        y, _ = agent.network(x)
        y = clip_actions(y, agent.action_low, agent.action_high)  # as in closed loop
    y = y.cpu().numpy()
    return [y[valid[:, m], m] for m in range(y.shape[1])]


def action_mse(agent: Any, demos: Demonstrations) -> float:
    """Open-loop action MSE (mean over steps and action components) on ``demos``."""
    preds = open_loop_actions(agent, demos)
    err = np.concatenate([p - a for p, (_, a, _) in zip(preds, demos.episodes())])
    return float(np.mean(err.astype(np.float64) ** 2))


# ------------------------------------------------------------------------------ DAgger
@dataclass
class DaggerResult:
    """Outcome of :func:`dagger`.

    Attributes:
        agent: the best agent over all rounds (by ``score``).
        best_round: its round (0 = trained on the initial demonstrations only).
        rounds: per round: ``round``, ``score``, ``n_episodes``, ``n_steps`` (training data
            size), ``beta``, the evaluation dict (``eval``) and the clone summary
            (``clone``, without the agent).
        demos: the aggregated demonstrations of the last round.
    """

    agent: Any
    best_round: int
    rounds: list[dict[str, Any]]
    demos: Demonstrations

    @property
    def best_score(self) -> float:
        return float(self.rounds[self.best_round]["score"])

    def summary(self) -> dict[str, Any]:
        """JSON-able per-round table."""
        return {"best_round": self.best_round, "best_score": self.best_score,
                "rounds": self.rounds}


def dagger(
    env_factory: Any,
    expert: Expert,
    config: CloneConfig | None = None,
    *,
    rounds: int = 3,
    episodes_per_round: int = 10,
    seed: int = 0,
    demos: Demonstrations | None = None,
    beta: float | Callable[[int], float] = 0.0,
    options_fn: Callable[[int], dict[str, Any] | None] | None = None,
    hint_fn: Callable[[np.ndarray, Any], Any] | None = None,
    evaluate_fn: Callable[[Any], dict[str, Any]] | None = None,
    score_key: str = "mean_reward",
    max_steps: int | None = None,
    clone_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> DaggerResult:
    """DAgger (Ross et al. 2011) with :func:`clone` as the learner.

    Round 0 trains on ``demos`` (or, if ``None``, on ``episodes_per_round`` expert episodes
    recorded here). Each later round r rolls out the current agent for
    ``episodes_per_round`` episodes with expert-action probability ``beta`` (a number, or
    ``beta(r)``), has the expert label every visited state
    (:func:`~goal_rl.learning.dagger.labelled_rollout`), appends those episodes to the data
    (:meth:`Demonstrations.concat`) and retrains from scratch with the same config and seed.
    Every round's agent is evaluated; the best is kept.

    Args:
        env_factory: env id or ``() -> gym.Env``.
        expert: ``expert(obs, env) -> action`` for any visited state.
        config: clone settings.
        rounds: DAgger rounds after round 0.
        episodes_per_round: labelled episodes added per round.
        seed: base seed; the episode with global index i (counted over the whole run,
            initial expert episodes first) resets with ``seed + i`` and ``options_fn(i)``.
        demos: initial demonstrations (their episodes count towards the global index
            only if recorded here).
        hint_fn: ``hint_fn(obs, env) -> (H,)`` recorded with the labels (needed when the
            initial demonstrations have hints).
        evaluate_fn: ``evaluate_fn(agent) -> dict``; default: :func:`~goal_rl.agent.evaluate`
            on 10 episodes with seed ``seed + 10**6``.
        score_key: key of the evaluation dict to maximise.
        max_steps: optional episode cap for rollouts.
        clone_kwargs: extra keyword arguments for :func:`clone` (e.g. ``action_low``).
        progress: progress bars.

    Returns:
        A :class:`DaggerResult`.
    """
    from goal_rl.learning.dagger import labelled_rollout
    from goal_rl.learning.demos import record_demonstrations
    from goal_rl.learning.evaluation import evaluate
    from goal_rl.learning.rollout import make_env

    cfg = (config if config is not None else CloneConfig()).validate()
    check_int("rounds", rounds, 0)
    check_int("episodes_per_round", episodes_per_round, 1)
    clone_kwargs = dict(clone_kwargs or {})
    beta_fn = beta if callable(beta) else (lambda r: float(beta))
    if evaluate_fn is None:
        def evaluate_fn(agent: Any) -> dict[str, Any]:
            return evaluate(agent, env_factory, 10, seed + 10**6)
    next_index = 0
    if demos is None:
        env = make_env(env_factory)
        try:
            demos = record_demonstrations(env, expert, episodes_per_round, seed,
                                          max_steps=max_steps, hint_fn=hint_fn,
                                          options_fn=options_fn)
        finally:
            env.close()
        next_index = episodes_per_round
    demos = _check_demos(demos)
    data = demos
    history: list[dict[str, Any]] = []
    best_agent, best_score, best_round = None, -math.inf, 0
    agent: Any = None
    for r in range(rounds + 1):
        b = 0.0
        if r > 0:
            b = float(beta_fn(r))
            new, _ = labelled_rollout(agent, env_factory, expert,
                             episodes_per_round, seed, beta=b, options_fn=options_fn,
                             hint_fn=hint_fn if data.hints is not None else None,
                             max_steps=max_steps, first_index=next_index)
            next_index += episodes_per_round
            data = data.concat(new)
        res = clone(data, cfg, progress=progress, desc=f"DAgger round {r}", **clone_kwargs)
        agent = res.agent
        ev = evaluate_fn(agent)
        if score_key not in ev:
            raise ValueError(f"score_key {score_key!r} not in the evaluation result "
                             f"(keys: {', '.join(sorted(ev))})")
        score = float(ev[score_key])
        summary = res.summary()
        summary.pop("config", None)
        history.append({"round": r, "score": score, "beta": b, "n_episodes": data.n_episodes,
                        "n_steps": data.n_steps,
                        "eval": {k: v for k, v in ev.items() if k != "frames"},
                        "clone": summary})
        if score > best_score:
            best_agent, best_score, best_round = copy.copy(agent), score, r
    return DaggerResult(agent=best_agent, best_round=best_round, rounds=history, demos=data)


# ------------------------------------------------------------------------------ generic task


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
    """

    kind = "closed_loop"

    def __init__(self, name: str, env_id: Any, expert: Expert, config: CloneTaskConfig, *,
                 hint_fn: Callable[[np.ndarray, Any], Any] | None = None,
                 options_fn: Callable[[int], dict[str, Any] | None] | None = None,
                 eval_options_fn: Callable[[int], dict[str, Any] | None] | None = None,
                 info_keys: Sequence[str] = (), env_kwargs: dict[str, Any] | None = None
                 ) -> None:
        self.name = name
        self.env_id = env_id
        self.expert = expert
        self.config = config.validate()
        self.hint_fn = hint_fn
        self.options_fn = options_fn
        self.eval_options_fn = eval_options_fn
        self.info_keys = tuple(info_keys)
        self.env_kwargs = dict(env_kwargs or {})

    def make_env(self) -> Any:
        """A fresh env."""
        from goal_rl.learning.rollout import make_env

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

    def run(self, out_dir: Any = None, *, progress: bool = True, plot: bool = False
            ) -> dict[str, Any]:
        """Record (or load) demonstrations, clone (or DAgger), evaluate; save ``agent.pt``
        (and ``plot.png`` with ``plot``) into ``out_dir``. Returns the metrics."""
        from pathlib import Path

        c = self.config
        t0 = time.perf_counter()
        demos = self.demonstrations()
        env = self.make_env()
        space = env.action_space
        env.close()
        bounds = {"action_low": getattr(space, "low", None),
                  "action_high": getattr(space, "high", None)}
        dag = None
        if c.dagger_rounds > 0:
            dag = dagger(self._factory(), self.expert, c.clone_config(), rounds=c.dagger_rounds,
                         episodes_per_round=c.dagger_episodes, seed=c.demo_seed + c.n_demos,
                         demos=demos, beta=c.dagger_beta, options_fn=self.options_fn,
                         hint_fn=self.hint_fn, evaluate_fn=self.evaluate,
                         max_steps=c.max_steps, clone_kwargs=bounds, progress=progress)
            agent, res = dag.agent, None
        else:
            res = clone(demos, c.clone_config(), progress=progress, desc=self.name, **bounds)
            agent = res.agent
        ev = self.evaluate(agent)
        metrics: dict[str, Any] = {
            "mean_reward": ev["mean_reward"], "std_reward": ev["std_reward"],
            "n_eval_episodes": ev["n_eval_episodes"],
            **{k: v for k, v in ev.items() if k not in ("mean_reward", "std_reward",
                                                         "n_eval_episodes", "frames")},
            "expert_mean_return": (float(np.mean(demos.returns))
                                   if demos.returns is not None else None),
            "n_demo_episodes": demos.n_episodes, "n_demo_steps": demos.n_steps,
        }
        if res is not None:
            metrics["clone"] = {k: v for k, v in res.summary().items() if k != "config"}
        if dag is not None:
            metrics["dagger"] = dag.summary()
        metrics["config"] = c.to_dict()
        metrics["total_time_s"] = time.perf_counter() - t0
        if out_dir is not None:
            out = Path(out_dir)
            agent.save(out / "agent.pt")
            if plot and res is not None:
                from goal_rl.learning.plots import plot_clone_history

                plot_clone_history(res.mse, res.dz, res.checkpoints, ev["episode_returns"],
                                   out / "plot.png", title=f"{self.name}: mean return "
                                   f"{ev['mean_reward']:.1f} ± {ev['std_reward']:.1f}")
        return metrics

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line for the CLI."""
        expert = metrics.get("expert_mean_return")
        exp_txt = f" | expert {expert:.1f}" if expert is not None else ""
        return (f"{self.name}: mean return {metrics['mean_reward']:.2f} ± "
                f"{metrics['std_reward']:.2f} over {metrics['n_eval_episodes']} episodes"
                f"{exp_txt} | wall time {metrics['total_time_s']:.1f} s")
