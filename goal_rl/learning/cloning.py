r"""Apprenticeship learning with GOAL: expert demonstrations → a closed-loop spiking agent.

:func:`clone` turns :class:`~goal_rl.learning.demos.Demonstrations` into a
:class:`~goal_rl.learning.agent.SpikingAgent`:

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
   (see docs/model.md); the free run uses the observations only.
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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from goal_rl.config import GoalConfig
from goal_rl.engines.adapter import TrialEngine
from goal_rl.engines.common import causal_filter
from goal_rl.engines.readout import ridge_readout
from goal_rl.learning.config import PADDING, CloneConfig
from goal_rl.learning.demos import Demonstrations

__all__ = [
    "CloneConfig",
    "CloneResult",
    "ObsTransform",
    "action_mse",
    "clone",
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
        agent: the trained :class:`~goal_rl.learning.agent.SpikingAgent` (best checkpoint with
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
            :func:`~goal_rl.learning.evaluation.evaluate`; a ``"score"`` key (higher is better)
            drives ``keep_best``. The agent passed is a snapshot (safe to keep).
        action_low, action_high: action bounds stored in the agent (``None``: no clipping).
        desc: progress-bar label.

    Returns:
        A :class:`CloneResult` with the agent and the training history.

    Raises:
        ValueError: bad settings, a rank outside ``[1, N]``, validation data of other sizes.
    """
    from goal_rl.common.threads import torch_threads

    t0 = time.perf_counter()
    cfg = (config if config is not None else CloneConfig()).validate()
    demos = _check_inputs(demos, validation, cfg)
    backend = _resolve_backend(cfg.backend, cfg.device)
    transform = ObsTransform.fit(demos, cfg)                 # 1. observation transform
    obs_w, act_w, hint_w, valid = make_windows(demos, cfg.window, cfg.pad)   # 2. trials
    if not cfg.use_hints:
        hint_w = None
    T, M = obs_w.shape[:2]
    with torch_threads(1, cfg.device):
        eng, readout_mse, snapshot = _start(cfg, demos, transform(obs_w), act_w, hint_w,
                                            valid, transform, backend,
                                            (action_low, action_high))
        mse, dz, checkpoints, best = _train_with_checkpoints(eng, cfg, snapshot, validation,
                                                             callback, progress, desc)
    _, best_epoch, agent, refit_mse = best
    agent.meta["best_epoch"] = best_epoch
    return CloneResult(agent=agent, config=cfg, readout_mse=readout_mse, mse=mse,
                       dz=dz, refit_mse=refit_mse, checkpoints=checkpoints,
                       best_epoch=best_epoch, n_trials=int(M), window=int(T),
                       wall_time_s=time.perf_counter() - t0)


def _check_inputs(demos: Any, validation: Any, cfg: CloneConfig) -> Demonstrations:
    """ValueError / TypeError for inputs :func:`clone` cannot use; the demonstrations."""
    import torch

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
    return demos


@dataclass(frozen=True)
class ObsTransform:
    """The agent's input transform ``clip((obs - shift) * scale, ±clip)`` (all ``None``:
    the observations as they are), as float32."""

    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    clip: float | None = None

    @classmethod
    def fit(cls, demos: Demonstrations, cfg: CloneConfig) -> ObsTransform:
        """Mean and ``1 / max(std, obs_std_floor)`` of the demonstrated observations, with
        ``cfg.obs_clip`` (identity without ``cfg.normalize_obs``)."""
        if not cfg.normalize_obs:
            return cls()
        mean = demos.observations.astype(np.float64).mean(axis=0)
        std = demos.observations.astype(np.float64).std(axis=0)
        return cls(mean, 1.0 / np.maximum(std, cfg.obs_std_floor), cfg.obs_clip)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """``obs (..., I)`` transformed, float32."""
        if self.shift is None:
            return obs.astype(np.float32)
        return np.clip((obs - self.shift) * self.scale, -self.clip, self.clip).astype(np.float32)


def _start(cfg: CloneConfig, demos: Demonstrations, x: np.ndarray, act_w: np.ndarray,
           hint_w: np.ndarray | None, valid: np.ndarray, transform: ObsTransform,
           backend: str, bounds: tuple[Any, Any]) -> tuple[TrialEngine, float, Any]:
    """Initial weights, the engine on the trials, internal targets, readout (steps 3-4) and
    the feedback; returns ``(engine, readout MSE, snapshot)`` where ``snapshot()`` makes
    the agent of the current weights (see :func:`_snapshot`)."""
    from goal_rl.engines.common import init_weights
    from goal_rl.model.lif import LIFParams

    T, M = x.shape[:2]
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
    eng = TrialEngine(gcfg, weights, cfg.rank, cfg.tau_star_eff, np.random.default_rng(s_fb),
                      backend)
    eng.set_task(x, act_w, hint_w)
    readout_mse = eng.targets_and_readout()
    eng.build_feedback()
    u = eng.weights("u")

    def snapshot() -> tuple[Any, float, float]:
        return _snapshot(eng, cfg, act_w, valid, u, params, meta, transform, bounds)

    return eng, readout_mse, snapshot


def _snapshot(eng: TrialEngine, cfg: CloneConfig, act_w: np.ndarray, valid: np.ndarray,
              u: np.ndarray, params: Any, meta: dict[str, Any], transform: ObsTransform,
              bounds: tuple[Any, Any]) -> tuple[Any, float, float]:
    """Agent of the current W_rec (with the refitted readout, step 6), its open-loop train
    MSE (of the clipped actions, as the agent acts) and the refit MSE (NaN without)."""
    import torch

    from goal_rl.learning.agent import SpikingAgent
    from goal_rl.learning.rollout import clip_actions
    from goal_rl.model.network import SpikingNetwork

    action_low, action_high = bounds
    w_out, w_in = eng.w_out, eng.weights("w_in")
    refit = float("nan")
    r = causal_filter(eng.free_run(), math.exp(-1.0 / cfg.tau_o), recursive=True)
    if cfg.refit_readout:
        w_out, refit = ridge_readout(r, act_w, valid, cfg.ridge, action_low, action_high,
                                     cfg.censored_iters)
        train_mse = refit
    else:
        out = clip_actions(np.einsum("tmn,on->tmo", r, w_out)[valid], action_low, action_high)
        train_mse = float(np.mean((out - act_w[valid]) ** 2))
    net = SpikingNetwork({"w_in": w_in, "w_rec": eng.w_rec, "w_out": w_out, "u": u},
                         params, meta, dtype=torch.float32)
    agent = SpikingAgent(net, obs_shift=transform.shift, obs_scale=transform.scale,
                         obs_clip=transform.clip, action_low=action_low,
                         action_high=action_high, device=cfg.device, meta=dict(meta))
    return agent, train_mse, refit


def _train_with_checkpoints(eng: TrialEngine, cfg: CloneConfig, snapshot: Any,
                            validation: Demonstrations | None, callback: Any,
                            progress: bool, desc: str
                            ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], tuple]:
    """GOAL recurrent training (step 5) in chunks, a checkpoint (step 7) every
    ``cfg.eval_every`` epochs and at the end. Returns ``(mse (E,), dz (E,), checkpoints,
    (rank key, epoch, agent, refit MSE) of the kept checkpoint)``."""
    E = cfg.epochs_rec
    step = cfg.eval_every if cfg.eval_every > 0 else max(E, 1)
    marks = sorted({*range(step, E, step), E})
    bar = None
    if progress:
        from goal_rl.common.progress import progress_bar

        bar = progress_bar(E, desc, "ep")
    mse_parts, dz_parts = [], []
    checkpoints: list[dict[str, Any]] = []
    best: tuple[float, int, Any, float] | None = None
    done = 0
    for mark in marks:
        while done < mark:  # train in small pieces so the bar moves
            piece = min(mark - done, max(1, E // 50) if E else 1)
            mse, dz = eng.train(piece)
            mse_parts.append(mse)
            dz_parts.append(dz)
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
        key = _checkpoint_key(cp, mark)
        if best is None or key > best[0] or not cfg.keep_best:
            best = (key, int(mark), agent, refit)
    if bar is not None:
        bar.close()
    assert best is not None
    mse_all = np.concatenate(mse_parts) if mse_parts else np.zeros(0)
    dz_all = np.concatenate(dz_parts) if dz_parts else np.zeros(0)
    return mse_all, dz_all, checkpoints, best


def _checkpoint_key(cp: dict[str, Any], epoch: int) -> float:
    """Ranking of a checkpoint (higher is better): the callback's score, else minus the
    validation MSE, else the epoch (the last one wins)."""
    if "score" in cp:
        return float(cp["score"])
    if "val_mse" in cp:
        return -float(cp["val_mse"])
    return float(epoch)


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
