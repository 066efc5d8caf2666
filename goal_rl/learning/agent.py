"""Closed-loop use of a trained spiking network: :class:`SpikingAgent` and :func:`evaluate`.

The agent runs **one network step per env step**: observation ``o_t`` (after an optional
affine transform and clipping) is the input ``x_t``; the action is the readout
``a_t = W_out r_{t+1}`` of the filtered spikes that ``x_t`` caused (the same alignment as
in training, where the output at step t is compared with the expert's action at t), then
clipped to the action bounds. The network is deterministic.

The API follows Stable-Baselines3::

    agent = SpikingAgent.load("agent.pt")
    state = None
    obs, _ = env.reset(seed=0)
    action, state = agent.predict(obs, state)                  # (obs_dim,) -> (act_dim,)
    actions, state = agent.predict(obs_batch, state, episode_start=dones)   # (B, ·)
    result = evaluate(agent, "goal_rl/ButtonFood-v0", n_episodes=10, seed=0, num_envs=8)
    result["mean_reward"], result["std_reward"], result["episode_returns"]

:func:`evaluate` and every closed loop of a **CPU** agent run in NumPy
(:meth:`SpikingAgent.act_numpy`: the same maths without torch's per-operation dispatch,
several times faster at batch 1). On another device observations are converted with
Gymnasium's own ``NumpyToTorch`` wrappers (``gymnasium.wrappers.NumpyToTorch`` for one
env, ``gymnasium.wrappers.vector.NumpyToTorch`` for a vector env), so they arrive as
tensors on the agent's device and the network never leaves it. With a vector env, the
neuron state of a sub-env is reset when that sub-env starts a new episode, following the
vector env's autoreset mode.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from goal_rl.common.io import atomic_write
from goal_rl.common.threads import torch_threads
from goal_rl.model.lif import LIFParams, LIFState
from goal_rl.model.network import SpikingNetwork

__all__ = ["SpikingAgent", "action_size", "clip_actions", "closed_loop_threads", "evaluate",
           "obs_size", "torch_threads"]

AGENT_FORMAT = "goal_rl.SpikingAgent/1"
EnvLike = Any  # str env id | gym.Env | gym.vector.VectorEnv | Callable[[], gym.Env]


def _vector_or_none(value: Any, size: int, name: str) -> Tensor | None:
    """``None`` or a float64 ``(size,)`` tensor (a scalar is broadcast); ValueError on bad input."""
    if value is None:
        return None
    arr = np.asarray(value.detach().cpu() if isinstance(value, Tensor) else value,
                     dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    arr = arr.reshape(-1)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have {size} values, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return torch.as_tensor(arr)


_NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}


@dataclass(frozen=True)
class _NumpyView:
    """NumPy views of an agent's CPU tensors for :meth:`SpikingAgent.act_numpy`."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    obs_shift: np.ndarray | None
    obs_scale: np.ndarray | None
    action_low: np.ndarray | None
    action_high: np.ndarray | None
    obs_clip: float | None
    params: LIFParams
    betas: tuple[float, float, float]  # (β_m, β_s, β_o)
    dtype: Any

    @functools.cached_property
    def consts(self) -> tuple[Any, ...]:
        """``(β_m, 1−β_m, β_s, 1−β_s, β_o, 1−β_o, bias, reset, θ)`` as scalars of
        :attr:`dtype`: the values NumPy would cast the Python floats to in every
        operation, cast once (same results, less per-step work)."""
        bm, bs, bo = self.betas
        p = self.params
        return tuple(self.dtype(c) for c in (bm, 1 - bm, bs, 1 - bs, bo, 1 - bo,
                                             p.bias, p.reset, p.theta))


def _torch_state(state: LIFState | None, like: Tensor) -> LIFState | None:
    """``state`` as tensors on ``like``'s device and dtype (NumPy arrays are converted)."""
    if state is None or isinstance(state.v, Tensor):
        return state
    return LIFState(*(torch.as_tensor(np.asarray(a), device=like.device, dtype=like.dtype)
                      for a in state))


class SpikingAgent:
    """A trained :class:`~goal_rl.network.SpikingNetwork` acting in an environment.

    Args:
        network: the network (``n_inp`` inputs = observation size, ``n_out`` = action size).
        obs_shift: ``(I,)`` or scalar; the input is ``x = (obs - obs_shift) * obs_scale``.
        obs_scale: ``(I,)`` or scalar multiplier (e.g. ``1 / std``).
        obs_clip: clip the transformed input to ``[-obs_clip, obs_clip]`` (``None``: no clip).
        action_low, action_high: ``(O,)`` or scalar action bounds (``None``: no clipping).
        device: where to run (default: where the network's weights are). ``"cuda"`` works
            when available; the network is moved there.
        meta: free-form JSON-able description (task, training settings), saved with the agent.

    Raises:
        ValueError: a transform or bound of the wrong size, or ``action_low > action_high``.
    """

    def __init__(
        self,
        network: SpikingNetwork,
        *,
        obs_shift: Any = None,
        obs_scale: Any = None,
        obs_clip: float | None = None,
        action_low: Any = None,
        action_high: Any = None,
        device: str | torch.device | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(network, SpikingNetwork):
            raise TypeError(f"network must be a SpikingNetwork, got {type(network).__name__}")
        self.network = network
        n_inp, n_out = network.n_inp, network.n_out
        self._obs_shift = _vector_or_none(obs_shift, n_inp, "obs_shift")
        self._obs_scale = _vector_or_none(obs_scale, n_inp, "obs_scale")
        if obs_clip is not None and not (math.isfinite(obs_clip) and obs_clip > 0):
            raise ValueError(f"obs_clip must be a positive number or None, got {obs_clip!r}")
        self.obs_clip = None if obs_clip is None else float(obs_clip)
        self._action_low = _vector_or_none(action_low, n_out, "action_low")
        self._action_high = _vector_or_none(action_high, n_out, "action_high")
        if self._action_low is not None and self._action_high is not None and bool(
                (self._action_low > self._action_high).any()):
            raise ValueError("action_low must not exceed action_high")
        self.meta = dict(meta or {})
        self.to(device if device is not None else network.w_rec.device)

    # ------------------------------------------------------------------ properties
    @property
    def n_inp(self) -> int:
        """Observation size the network expects."""
        return self.network.n_inp

    @property
    def n_out(self) -> int:
        """Action size the network produces."""
        return self.network.n_out

    @property
    def n_rec(self) -> int:
        """Number of recurrent units N."""
        return self.network.n_rec

    @property
    def device(self) -> torch.device:
        """Device of the network weights (and of every state and action)."""
        return self.network.w_rec.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the network."""
        return self.network.w_rec.dtype

    def _cast(self, t: Tensor | None) -> Tensor | None:
        return None if t is None else t.to(device=self.device, dtype=self.dtype)

    def to(self, device: str | torch.device) -> SpikingAgent:
        """Move the network (and the transforms) to ``device``; returns ``self``."""
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} requested but CUDA is not available")
        self.network.to(device)
        self.obs_shift = self._cast(self._obs_shift)
        self.obs_scale = self._cast(self._obs_scale)
        self.action_low = self._cast(self._action_low)
        self.action_high = self._cast(self._action_high)
        return self

    # ------------------------------------------------------------------ acting
    def initial_state(self, batch: int = 1) -> LIFState:
        """Initial neuron state for ``batch`` parallel episodes, ``(batch, N)`` tensors."""
        return self.network.initial_state(batch)

    def transform(self, obs: Tensor) -> Tensor:
        """Observation ``(B, I)`` → network input ``(B, I)`` (shift, scale, clip)."""
        x = obs.to(device=self.device, dtype=self.dtype)
        if self.obs_shift is not None:
            x = x - self.obs_shift
        if self.obs_scale is not None:
            x = x * self.obs_scale
        if self.obs_clip is not None:
            x = x.clamp(-self.obs_clip, self.obs_clip)
        return x

    def check_obs_size(self, size: int, where: str = "the observation") -> None:
        """ValueError naming both sizes when ``size`` differs from the network's input size."""
        if size != self.n_inp:
            raise ValueError(f"agent input size mismatch: the network takes {self.n_inp} "
                             f"inputs but {where} has {size} values")

    def _episode_mask(self, episode_start: Any, batch: int) -> np.ndarray | None:
        """``episode_start`` as a ``(batch,)`` bool array (``None`` when nothing resets)."""
        if episode_start is None:
            return None
        mask = _numpy(episode_start).astype(bool).reshape(-1)
        if mask.shape[0] != batch:
            raise ValueError(f"episode_start has {mask.shape[0]} entries for a batch "
                             f"of {batch}")
        return mask if mask.any() else None

    def _check_batch(self, obs: Any, state: LIFState | None) -> int:
        if obs.ndim != 2:
            raise ValueError(f"observations must be (B, {self.n_inp}), got {tuple(obs.shape)}")
        self.check_obs_size(int(obs.shape[-1]))
        batch = int(obs.shape[0])
        if state is not None and state.v.shape[0] != batch:
            raise ValueError(f"state is for {state.v.shape[0]} trials but the observation "
                             f"batch has {batch}")
        return batch

    def act(self, obs: Tensor | np.ndarray, state: LIFState | None = None,
            episode_start: Tensor | np.ndarray | None = None
            ) -> tuple[Tensor | np.ndarray, LIFState]:
        """One closed-loop step: ``obs (B, I)`` → ``(action (B, O), state)``.

        A tensor runs the torch step on the agent's device. A NumPy array on a CPU agent
        runs :meth:`act_numpy` (same maths in NumPy, several times faster at small
        batches: no per-operation dispatch); on another device it is moved to a tensor and
        the action comes back as a NumPy array. ``episode_start (B,)`` bool: those trials
        start from the initial state (their old state is discarded) before this
        observation is processed.
        """
        if isinstance(obs, np.ndarray):
            nv = self._numpy_view()
            if nv is not None:  # a CPU agent
                return self._act_numpy(nv, obs, state, episode_start)
            y, state = self._act_torch(torch.as_tensor(obs), state, episode_start)
            return y.cpu().numpy(), state
        return self._act_torch(obs, state, episode_start)

    @torch.no_grad()
    def _act_torch(self, obs: Tensor, state: LIFState | None,
                   episode_start: Tensor | np.ndarray | None) -> tuple[Tensor, LIFState]:
        batch = self._check_batch(obs, state)
        state = _torch_state(state, self.network.w_rec)
        if state is None:
            state = self.initial_state(batch)
        mask = self._episode_mask(episode_start, batch)
        if mask is not None:
            state = self.network.reset_state(state, torch.as_tensor(mask, device=self.device))
        y, state = self.network.step(self.transform(obs), state)
        return clip_actions(y, self.action_low, self.action_high), state

    def _numpy_view(self) -> _NumpyView | None:
        """NumPy views of the weights, transforms and constants (``None`` off the CPU).

        Cached per identity of the tensors: moving the agent or replacing a weight tensor
        makes a new view, in-place changes are seen through the zero-copy views. (A cached
        view keeps its tensors alive, so their ids cannot be reused while it exists.)
        """
        net = self.network
        tensors = (net.w_in, net.w_rec, net.w_out, self.obs_shift, self.obs_scale,
                   self.action_low, self.action_high)
        key = tuple(map(id, tensors)) + (net.params, self.obs_clip)
        cache = self.__dict__.get("_np_cache")
        if cache is not None and cache[0] == key:
            return cache[1]
        view = None
        if net.w_rec.device.type == "cpu":
            view = _NumpyView(*(None if t is None else t.detach().numpy() for t in tensors),
                              obs_clip=self.obs_clip, params=net.params,
                              betas=(net.params.beta_m, net.params.beta_s, net.params.beta_o),
                              dtype=_NP_DTYPE[net.w_rec.dtype])
        self.__dict__["_np_cache"] = (key, view)
        return view

    def act_numpy(self, obs: np.ndarray, state: LIFState | None = None,
                  episode_start: Any = None) -> tuple[np.ndarray, LIFState]:
        """:meth:`act` in NumPy for a CPU agent: ``obs (B, I)`` → ``(action (B, O), state)``.

        The state is a :class:`~goal_rl.lif.LIFState` of ``(B, N)`` NumPy arrays in the
        network's dtype (a state of CPU tensors is accepted and converted). The maths is
        :func:`goal_rl.lif.lif_step` operation by operation, so in float64 the spikes equal
        the torch path's; in float32 the two can differ by rounding in the products.
        The weights are read through zero-copy views of the network's CPU tensors, so
        in-place changes to the network are seen at once.
        """
        nv = self._numpy_view()
        if nv is None:
            raise ValueError(f"act_numpy needs a CPU agent, this one is on {self.device}")
        return self._act_numpy(nv, obs, state, episode_start)

    def _act_numpy(self, nv: _NumpyView, obs: np.ndarray, state: LIFState | None,
                   episode_start: Any, traces: bool = True) -> tuple[np.ndarray, LIFState]:
        """:meth:`act_numpy` on the views ``nv``; ``traces=False`` leaves the eligibility
        trace ``e`` as it was (it only feeds learning, not the actions)."""
        obs = np.asarray(obs)
        if obs.ndim == 2 and obs.shape[1] == nv.w_in.shape[1] and (
                state is None or state.v.shape[0] == obs.shape[0]):
            batch = obs.shape[0]  # _check_batch's checks, on the cached views (faster)
        else:
            batch = self._check_batch(obs, state)  # raises the error
        if state is None:
            state = self.initial_state_numpy(batch)
        elif isinstance(state.v, Tensor):
            state = LIFState(*(t.detach().cpu().numpy() for t in state))
        mask = self._episode_mask(episode_start, batch)
        if mask is not None:
            fresh = self.initial_state_numpy(batch)
            m = mask[:, None]
            state = LIFState(*(np.where(m, f, s) for f, s in zip(fresh, state)))
        x = obs.astype(nv.dtype, copy=False)
        if nv.obs_shift is not None:
            x = x - nv.obs_shift
        if nv.obs_scale is not None:
            x = x * nv.obs_scale
        if nv.obs_clip is not None:  # (np.clip costs several µs more on small arrays)
            x = np.minimum(np.maximum(x, -nv.obs_clip), nv.obs_clip)
        # lif_step operation by operation; the in-place forms only skip temporaries
        bm, cm, bs, cs, bo, co, bias, reset, theta = nv.consts
        s = bs * state.s
        s += cs * state.z
        e = state.e
        if traces:
            e = bm * e
            e += cm * s
        current = x @ nv.w_in.T
        current += bias
        current += s @ nv.w_rec.T
        v = bm * state.v
        v += cm * current
        v += reset * state.z
        z = (v > theta).astype(nv.dtype)
        r = bo * state.r
        r += co * z
        y = clip_actions(r @ nv.w_out.T, nv.action_low, nv.action_high)
        return y, LIFState(v, z, s, e, r)

    def initial_state_numpy(self, batch: int = 1) -> LIFState:
        """Initial neuron state as ``(batch, N)`` NumPy arrays (see :meth:`act_numpy`)."""
        zeros = np.zeros((batch, self.n_rec), dtype=_NP_DTYPE[self.dtype])
        return LIFState(zeros + self.network.params.v0, zeros, zeros, zeros, zeros)

    def predict(
        self,
        obs: Any,
        state: LIFState | None = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[Any, LIFState]:
        """Stable-Baselines3-style prediction.

        Args:
            obs: ``(I,)`` or ``(B, I)``; a NumPy array (or list) or a torch tensor.
            state: neuron state from the previous call (``None``: initial state).
            episode_start: ``(B,)`` bool (or a scalar for one observation): reset those
                trials' neuron state before this step. Pass the ``dones`` of the previous
                env step (for vector envs mind the autoreset mode, see :func:`evaluate`).
            deterministic: accepted for compatibility; the network is deterministic.

        Returns:
            ``(action, state)``: the action ``(O,)`` or ``(B, O)``, a NumPy float32 array
            for NumPy input or a tensor on the agent's device for tensor input, and the new
            :class:`~goal_rl.lif.LIFState` of ``(B, N)`` tensors (NumPy arrays for
            NumPy input on a CPU agent, see :meth:`act_numpy`).
        """
        del deterministic
        as_tensor = isinstance(obs, Tensor)
        x = obs if as_tensor else np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        if single:
            x = x[None]
        if x.ndim != 2:
            raise ValueError(f"obs must be (I,) or (B, I) with I = {self.n_inp}, got shape "
                             f"{tuple(x.shape)}")
        if episode_start is not None and not isinstance(episode_start, Tensor):
            episode_start = np.atleast_1d(np.asarray(episode_start, dtype=bool))
        y, state = self.act(x, state, episode_start)
        if single:
            y = y[0]
        if as_tensor:
            return y, state
        return np.asarray(y, dtype=np.float32), state

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the network, transforms, bounds and ``meta`` to ``path`` atomically."""
        net = self.network

        def cpu(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.detach().cpu()

        payload = {
            "format": AGENT_FORMAT,
            "weights": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "params": net.params._asdict(),
            "network_meta": net.meta,
            "obs_shift": cpu(self._obs_shift),
            "obs_scale": cpu(self._obs_scale),
            "obs_clip": self.obs_clip,
            "action_low": cpu(self._action_low),
            "action_high": cpu(self._action_high),
            "meta": self.meta,
        }
        return atomic_write(path, lambda fh: torch.save(payload, fh))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> SpikingAgent:
        """Inverse of :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not readable, or not a goal_rl agent file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such agent file: {str(path)!r}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
            raise ValueError(f"cannot read agent file {str(path)!r}: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != AGENT_FORMAT:
            raise ValueError(f"{str(path)!r} is not a goal_rl agent file")
        w = payload["weights"]
        net = SpikingNetwork(dict(w), LIFParams(**payload["params"]),
                             payload.get("network_meta"), dtype=w["w_rec"].dtype)
        return cls(net, obs_shift=payload["obs_shift"], obs_scale=payload["obs_scale"],
                   obs_clip=payload["obs_clip"], action_low=payload["action_low"],
                   action_high=payload["action_high"], device=device,
                   meta=payload.get("meta"))

    def __repr__(self) -> str:
        return (f"SpikingAgent(N={self.n_rec}, inputs={self.n_inp}, actions={self.n_out}, "
                f"device={self.device})")


# ------------------------------------------------------------------------------ evaluation
def obs_size(space: Any) -> int:
    """Flat observation size of a Gymnasium space."""
    from gymnasium.spaces.utils import flatdim

    return int(flatdim(space))


def action_size(space: Any) -> int:
    """Flat action size of a (Box) Gymnasium action space."""
    shape = getattr(space, "shape", None)
    if not shape:
        raise ValueError(f"only Box action spaces are supported, got {space}")
    return int(np.prod(shape))


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar(x: Any) -> Any:
    """A one-value array, tensor or NumPy scalar as a Python scalar (else the array)."""
    if type(x) in (bool, int, float):  # the usual terminated / truncated / reward
        return x
    if isinstance(x, np.generic):
        return x.item()
    arr = _numpy(x)
    return arr.item() if arr.size == 1 else arr


def _sub_info(info: dict[str, Any], j: int) -> dict[str, Any]:
    """Sub-env ``j``'s entries of a vector-env info dict (keys whose ``_key`` mask is set)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not bool(_numpy(mask)[j]):
            continue
        if isinstance(value, dict):
            out[key] = _sub_info(value, j)
        else:
            try:
                out[key] = _scalar(value[j])
            except (TypeError, IndexError):
                out[key] = value
    return out


def _make_single(env: EnvLike, env_kwargs: dict[str, Any], render: bool) -> Any:
    import gymnasium as gym

    if isinstance(env, str):
        kwargs = dict(env_kwargs)
        if render and "render_mode" not in kwargs:
            modes = gym.spec(env).kwargs.get("render_mode") or None
            kwargs["render_mode"] = modes or _default_render_mode(env)
        return gym.make(env, **kwargs)
    if callable(env) and not isinstance(env, gym.Env):
        return env()
    return env


def _default_render_mode(env_id: str) -> str | None:
    import gymnasium as gym

    env = gym.make(env_id)
    modes = env.metadata.get("render_modes", [])
    env.close()
    if "human" in modes:
        return "human"
    return "rgb_array" if "rgb_array" in modes else None


def _episode_targets(n_episodes: int, num_envs: int) -> list[list[int]]:
    """Global episode indices per sub-env: sub-env j plays ``(n + j) // num_envs`` episodes,
    consecutive indices (as in Stable-Baselines3, so short episodes are not favoured)."""
    counts = [(n_episodes + j) // num_envs for j in range(num_envs)]
    out, start = [], 0
    for c in counts:
        out.append(list(range(start, start + c)))
        start += c
    return out


def _summarise(returns: list[float], lengths: list[int], extras: dict[str, list[float]]
               ) -> dict[str, Any]:
    r = np.asarray(returns, dtype=np.float64)
    res: dict[str, Any] = {
        "mean_reward": float(r.mean()) if r.size else float("nan"),
        "std_reward": float(r.std()) if r.size else float("nan"),
        "n_eval_episodes": int(r.size),
        "episode_returns": [float(x) for x in r],
        "episode_lengths": [int(x) for x in lengths],
    }
    for key, values in extras.items():
        v = np.asarray(values, dtype=np.float64)
        res[f"mean_{key}"] = float(v.mean()) if v.size else float("nan")
        res[f"std_{key}"] = float(v.std()) if v.size else float("nan")
        res[f"episode_{key}"] = [float(x) for x in v]
    return res


def _extras_from(info: dict[str, Any], info_keys: Sequence[str],
                 info_fn: Callable[[dict[str, Any]], dict[str, float]] | None
                 ) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in info_keys:
        if key not in info:
            raise ValueError(f"info key {key!r} is not in the env's final info "
                             f"(keys: {', '.join(sorted(info)) or 'none'})")
        out[key] = float(_scalar(info[key]))
    if info_fn is not None:
        out.update({k: float(v) for k, v in info_fn(info).items()})
    return out


def evaluate(
    agent: SpikingAgent,
    env: EnvLike,
    n_episodes: int = 10,
    seed: int | None = 0,
    *,
    num_envs: int = 1,
    render: bool = False,
    options_fn: Callable[[int], dict[str, Any] | None] | None = None,
    info_keys: Sequence[str] = (),
    info_fn: Callable[[dict[str, Any]], dict[str, float]] | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``agent`` for ``n_episodes`` episodes and report returns (SB3 key names).

    Args:
        agent: the spiking agent.
        env: a registered env id (``"goal_rl/ButtonFood-v0"``), a factory
            ``() -> gym.Env``, a ``gym.Env`` instance (``num_envs = 1`` only) or a
            ``gym.vector.VectorEnv`` (used as is; its size sets ``num_envs``).
        n_episodes: episodes to play, >= 1.
        seed: episode ``i`` is reset with ``seed + i`` (``None``: unseeded), so the
            episodes are the same whatever ``num_envs`` is. (A ready-made vector env is
            reset once with ``seed`` and then autoresets unseeded.)
        num_envs: > 1 plays the episodes in a ``SyncVectorEnv`` of that many copies
            (id or factory only); sub-env j plays ``(n_episodes + j) // num_envs``
            consecutive episodes, as in SB3's ``evaluate_policy``.
        render: call ``env.render()`` every step (single env); ``rgb_array`` frames of
            the first episode are returned under ``"frames"``. An env id is made with its
            ``human`` render mode if it has one, else ``rgb_array``.
        options_fn: ``options_fn(i) -> dict | None``, reset options of episode ``i`` (e.g.
            ``{"angle": angles[i]}``); not available with a ready-made vector env.
        info_keys: keys of the final step's ``info`` to report per episode, e.g.
            ``("score",)`` adds ``episode_score``, ``mean_score``, ``std_score``.
        info_fn: ``info_fn(final_info) -> {name: value}``, more per-episode extras.
        env_kwargs: keyword arguments for ``gym.make`` when ``env`` is an id.

    Returns:
        ``{"mean_reward", "std_reward", "n_eval_episodes", "episode_returns",
        "episode_lengths", "wall_time_s", "steps_per_s"}`` plus the extras, all JSON-able.
        Returns and lengths are listed by episode index.

    Raises:
        ValueError: the agent's input (output) size differs from the env's observation
            (action) size (both sizes named), or a bad argument.

    Neuron state and autoreset (vector envs): in ``NEXT_STEP`` mode (the Gymnasium 1.x
    default) the step after ``terminated | truncated`` is the reset step whose
    observation starts the next episode, so a sub-env's state is reset one step after
    it reports done; in ``SAME_STEP`` mode the done step already returns the new
    episode's first observation; with ``DISABLED`` this function resets the finished
    sub-envs itself (``reset_mask``). Either way only that sub-env's state is reset.
    """
    import time


    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    env_kwargs = dict(env_kwargs or {})
    t0 = time.perf_counter()
    with closed_loop_threads(agent):
        res = _evaluate_any(agent, env, int(n_episodes), seed, int(num_envs), render,
                            options_fn, info_keys, info_fn, env_kwargs)
    res["wall_time_s"] = time.perf_counter() - t0
    res["steps_per_s"] = float(sum(res["episode_lengths"]) / max(res["wall_time_s"], 1e-9))
    return res


def _evaluate_any(agent: SpikingAgent, env: EnvLike, n_episodes: int, seed: int | None,
                  num_envs: int, render: bool, options_fn: Any, info_keys: Sequence[str],
                  info_fn: Any, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    import gymnasium as gym

    if isinstance(env, gym.vector.VectorEnv):
        if options_fn is not None:
            raise ValueError("options_fn needs an env id or factory, not a ready-made vector "
                             "env (its autoresets pass no options)")
        res = _evaluate_vector(agent, env, None, n_episodes, seed, info_keys, info_fn)
    elif num_envs == 1 or render:
        res = _evaluate_single(agent, _make_single(env, env_kwargs, render), n_episodes, seed,
                               render, options_fn, info_keys, info_fn,
                               owned=not isinstance(env, gym.Env))
    else:
        if isinstance(env, gym.Env):
            raise ValueError("num_envs > 1 needs an env id or a factory, not an env instance")
        num_envs = min(int(num_envs), int(n_episodes))
        schedule = _episode_targets(int(n_episodes), num_envs)

        def factory(j: int) -> Callable[[], gym.Env]:
            def make() -> gym.Env:
                inner = gym.make(env, **env_kwargs) if isinstance(env, str) else env()
                return _schedule(inner, schedule[j], seed, options_fn)
            return make

        venv = gym.vector.SyncVectorEnv([factory(j) for j in range(num_envs)])
        try:
            res = _evaluate_vector(agent, venv, schedule, n_episodes, None, info_keys, info_fn)
        finally:
            venv.close()
    return res


def _schedule(env: Any, episodes: Sequence[int], seed: int | None,
              options_fn: Callable[[int], dict[str, Any] | None] | None) -> Any:
    from goal_rl.envs.wrappers import EpisodeSchedule

    return EpisodeSchedule(env, episodes, seed, options_fn)


def _check_env_sizes(agent: SpikingAgent, obs_space: Any, act_space: Any, name: str) -> None:
    agent.check_obs_size(obs_size(obs_space), f"the observation of env {name}")
    n_act = action_size(act_space)
    if n_act != agent.n_out:
        raise ValueError(f"agent output size mismatch: the network has {agent.n_out} outputs "
                         f"but env {name} takes {n_act} action values")


def _env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return repr(spec.id) if spec is not None and getattr(spec, "id", None) else \
        type(getattr(env, "unwrapped", env)).__name__


def _space_bounds(agent: SpikingAgent, space: Any) -> tuple[Any, Any]:
    """Clip to the action space when the agent has no bounds of its own (NumPy arrays for
    a CPU agent, which acts in NumPy, else tensors on its device)."""
    low = getattr(space, "low", None)
    high = getattr(space, "high", None)
    if low is None or high is None:
        return None, None

    def bound(b: Any) -> Any:
        arr = np.asarray(b, dtype=np.float64).reshape(-1)
        if _numpy_loop(agent):
            return arr.astype(_NP_DTYPE[agent.dtype])
        return torch.as_tensor(arr, device=agent.device, dtype=agent.dtype)

    return (None if agent.action_low is not None else bound(low),
            None if agent.action_high is not None else bound(high))


def clip_actions(a: Any, lo: Any, hi: Any) -> Any:
    """Clip a NumPy array or a tensor to optional bounds (``None``: that side unbounded);
    the bounds broadcast against ``a`` and are of its kind (NumPy-compatible for arrays)."""
    lib: Any = np if isinstance(a, np.ndarray) else torch
    if lo is not None:
        a = lib.maximum(a, lo)
    if hi is not None:
        a = lib.minimum(a, hi)
    return a


def _numpy_loop(agent: SpikingAgent) -> bool:
    """Closed loops of a CPU agent run in NumPy (no torch dispatch per step)."""
    return agent.device.type == "cpu"


def _bound_act(agent: SpikingAgent) -> Callable[[Any, LIFState | None], Any]:
    """``agent.act`` for a loop in which the agent's weights are not replaced and that
    does not learn: a CPU agent's NumPy views are looked up once instead of at every step,
    and its eligibility traces are not advanced (the actions are the same)."""
    nv = agent._numpy_view()
    if nv is None:
        return agent.act

    def act(obs: Any, state: LIFState | None) -> Any:
        return agent._act_numpy(nv, obs, state, None, traces=False)

    return act


@contextlib.contextmanager
def closed_loop_threads(agent: SpikingAgent) -> Iterator[None]:
    """For closed loops of ``agent`` (a block of :meth:`SpikingAgent.act` calls): one torch
    thread and single-threaded BLAS: per-step products are too small for
    threads (the hand-offs cost more than they save)."""
    from goal_rl.common.threads import single_thread_blas

    with torch_threads(1, agent.device), single_thread_blas():
        yield


def _evaluate_single(agent: SpikingAgent, env: Any, n_episodes: int, seed: int | None,
                     render: bool, options_fn: Any, info_keys: Sequence[str], info_fn: Any,
                     owned: bool) -> dict[str, Any]:
    from gymnasium.wrappers import NumpyToTorch

    name = _env_name(env)
    _check_env_sizes(agent, env.observation_space, env.action_space, name)
    lo, hi = _space_bounds(agent, env.action_space)
    act_shape = tuple(env.action_space.shape)
    tenv = env if _numpy_loop(agent) else NumpyToTorch(env, device=agent.device)
    act = _bound_act(agent)
    returns: list[float] = []
    lengths: list[int] = []
    extras: dict[str, list[float]] = {}
    frames: list[np.ndarray] = []
    try:
        for i in range(n_episodes):
            options = options_fn(i) if options_fn is not None else None
            obs, info = tenv.reset(seed=None if seed is None else int(seed) + i, options=options)
            state = None
            total, steps = 0.0, 0
            while True:
                a, state = act(obs.reshape(1, -1), state)
                a = clip_actions(a, lo, hi)[0].reshape(act_shape)
                obs, reward, terminated, truncated, info = tenv.step(a)
                total += float(_scalar(reward))
                steps += 1
                if render:
                    frame = env.render()
                    if i == 0 and isinstance(frame, np.ndarray):
                        frames.append(frame)
                if bool(_scalar(terminated)) or bool(_scalar(truncated)):
                    break
            returns.append(total)
            lengths.append(steps)
            info_np = {k: _scalar(v) if not isinstance(v, dict) else v for k, v in info.items()}
            for k, v in _extras_from(info_np, info_keys, info_fn).items():
                extras.setdefault(k, []).append(v)
    finally:
        if owned:
            env.close()
    res = _summarise(returns, lengths, extras)
    if frames:
        res["frames"] = frames
    return res


def _evaluate_vector(agent: SpikingAgent, venv: Any, schedule: list[list[int]] | None,
                     n_episodes: int, seed: int | None, info_keys: Sequence[str],
                     info_fn: Any) -> dict[str, Any]:
    from gymnasium.vector import AutoresetMode
    from gymnasium.wrappers.vector import NumpyToTorch

    n = int(venv.num_envs)
    name = _env_name(venv)
    _check_env_sizes(agent, venv.single_observation_space, venv.single_action_space, name)
    lo, hi = _space_bounds(agent, venv.single_action_space)
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    mode = AutoresetMode(mode) if not isinstance(mode, AutoresetMode) else mode
    if schedule is None:
        schedule = _episode_targets(n_episodes, n)
    targets = np.array([len(s) for s in schedule])
    if mode == AutoresetMode.SAME_STEP:
        from goal_rl.envs.wrappers import DropObjectInfos

        venv = DropObjectInfos(venv)  # final_obs is an object array NumpyToTorch rejects
    tenv = venv if _numpy_loop(agent) else NumpyToTorch(venv, device=agent.device)
    obs, _ = tenv.reset(seed=seed)
    state = None
    episode_start = np.ones(n, dtype=bool)
    counts = np.zeros(n, dtype=np.int64)
    cur_ret = np.zeros(n)
    cur_len = np.zeros(n, dtype=np.int64)
    prev_done = np.zeros(n, dtype=bool)
    by_index: dict[int, tuple[float, int, dict[str, float]]] = {}
    act_shape = (n, *venv.single_action_space.shape)
    while (counts < targets).any():
        a, state = agent.act(obs.reshape(n, -1), state, episode_start)
        a = clip_actions(a, lo, hi).reshape(act_shape)
        obs, reward, terminated, truncated, info = tenv.step(a)
        reward = _numpy(reward).astype(np.float64).reshape(n)
        done = (_numpy(terminated) | _numpy(truncated)).astype(bool).reshape(n)
        # which sub-envs really stepped (in NEXT_STEP mode, the ones done last time reset)
        stepped = ~prev_done if mode == AutoresetMode.NEXT_STEP else np.ones(n, dtype=bool)
        cur_ret += np.where(stepped, reward, 0.0)
        cur_len += stepped
        finished = np.flatnonzero(done & stepped)
        for j in finished:
            if counts[j] < targets[j]:
                sub = _sub_info(info, int(j))
                if mode == AutoresetMode.SAME_STEP and "final_info" in sub:
                    sub = sub["final_info"]
                ex = _extras_from(sub, info_keys, info_fn)
                by_index[schedule[j][counts[j]]] = (float(cur_ret[j]), int(cur_len[j]), ex)
                counts[j] += 1
            cur_ret[j], cur_len[j] = 0.0, 0
        if mode == AutoresetMode.NEXT_STEP:
            # sub-envs that reported done on the previous step have just been reset: the
            # observation of this step is their new episode's first one
            episode_start = prev_done
            prev_done = done
        elif mode == AutoresetMode.SAME_STEP:
            episode_start = done.copy()
        else:  # DISABLED: reset the finished sub-envs ourselves
            episode_start = done.copy()
            if done.any():
                obs, _ = tenv.reset(options={"reset_mask": done})
    returns, lengths = [], []
    extras: dict[str, list[float]] = {}
    for i in sorted(by_index):
        ret, length, ex = by_index[i]
        returns.append(ret)
        lengths.append(length)
        for k, v in ex.items():
            extras.setdefault(k, []).append(v)
    return _summarise(returns, lengths, extras)
