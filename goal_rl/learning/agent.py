"""The closed-loop spiking agent: :class:`SpikingAgent`.

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

    from goal_rl.learning.evaluation import evaluate
    result = evaluate(agent, "goal_rl/ButtonFood-v0", n_episodes=10, seed=0, num_envs=8)
    result["mean_reward"], result["std_reward"], result["episode_returns"]

Every closed loop of a **CPU** agent runs in NumPy (:meth:`SpikingAgent.act_numpy`: the
same maths without torch's per-operation dispatch, several times faster at batch 1). The
episode loops themselves are in :mod:`goal_rl.learning.rollout`, the evaluation in
:mod:`goal_rl.learning.evaluation` (see docs/closed_loop.md).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from goal_rl.common.io import atomic_write, load_torch_file, one_sentence
from goal_rl.learning.rollout import as_numpy, clip_actions
from goal_rl.model.lif import LIFParams, LIFState
from goal_rl.model.network import SpikingNetwork

__all__ = ["SpikingAgent"]

AGENT_FORMAT = "goal_rl.SpikingAgent/1"


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


def _rowwise(a: np.ndarray, w_t: np.ndarray) -> np.ndarray:
    """``a (B, K) @ w_t (K, M)`` one row at a time, each as the ``(1, K) @ (K, M)`` product
    a batch of one computes (so row b does not depend on B)."""
    out = np.empty((a.shape[0], w_t.shape[1]), dtype=np.result_type(a, w_t))
    for b in range(a.shape[0]):
        out[b:b + 1] = a[b:b + 1] @ w_t
    return out


def _torch_state(state: LIFState | None, like: Tensor) -> LIFState | None:
    """``state`` as tensors on ``like``'s device and dtype (NumPy arrays are converted)."""
    if state is None or isinstance(state.v, Tensor):
        return state
    return LIFState(*(torch.as_tensor(np.asarray(a), device=like.device, dtype=like.dtype)
                      for a in state))


class SpikingAgent:
    """A trained :class:`~goal_rl.model.network.SpikingNetwork` acting in an environment.

    Args:
        network: the network (``n_inp`` inputs = observation size, ``n_out`` = action size).
        obs_shift: ``(I,)`` or scalar; the input is ``x = (obs - obs_shift) * obs_scale``.
        obs_scale: ``(I,)`` or scalar multiplier (e.g. ``1 / std``).
        obs_clip: clip the transformed input to ``[-obs_clip, obs_clip]`` (``None``: no clip).
        action_low, action_high: ``(O,)`` or scalar action bounds (``None``: no clipping).
        device: where to run (default: where the network's weights are). ``"cuda"`` works
            when available; the network is moved there.
        meta: free-form JSON-able description (task, training settings), saved with the agent.

    Attribute ``exact_batch`` (default ``False``, not saved; see :meth:`batch_exact`): in
    the NumPy path (a CPU agent), compute each trial's products on its own, as a batch of
    one would, so a trial's actions do not depend on how many trials run with it.

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
        self.exact_batch = False
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

    @property
    def numpy_dtype(self) -> type:
        """NumPy dtype of the network's dtype (that of the NumPy path's states, actions)."""
        return _NP_DTYPE[self.dtype]

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
        mask = as_numpy(episode_start).astype(bool).reshape(-1)
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

        The state is a :class:`~goal_rl.model.lif.LIFState` of ``(B, N)`` NumPy arrays in the
        network's dtype (a state of CPU tensors is accepted and converted). The maths is
        :func:`goal_rl.model.lif.lif_step` operation by operation, so in float64 the spikes equal
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
        mm = _rowwise if self.exact_batch and batch > 1 else np.matmul
        current = mm(x, nv.w_in.T)
        current += bias
        current += mm(s, nv.w_rec.T)
        v = bm * state.v
        v += cm * current
        v += reset * state.z
        z = (v > theta).astype(nv.dtype)
        r = bo * state.r
        r += co * z
        y = clip_actions(mm(r, nv.w_out.T), nv.action_low, nv.action_high)
        return y, LIFState(v, z, s, e, r)

    @contextlib.contextmanager
    def batch_exact(self, on: bool = True) -> Iterator[SpikingAgent]:
        """Within the block, :attr:`exact_batch` is ``on`` (restored afterwards).

        Batch-size-independent actions: the matrix products of a ``(B, ·)`` batch are
        done one trial at a time (``(1, ·) @ W``, exactly the products of a batch of
        one), so the same episode gives the same actions in float32 and float64 whatever
        ``B`` (the element-wise operations are exact per element anyway). It costs B
        small products instead of one per weight matrix and step (measured in
        docs/closed_loop.md). NumPy path only: a CUDA agent's batched products are not
        made per trial.
        """
        old = self.exact_batch
        self.exact_batch = bool(on)
        try:
            yield self
        finally:
            self.exact_batch = old

    def actor(self) -> Callable[[Any, LIFState | None], tuple[Any, LIFState]]:
        """:meth:`act` without episode starts, ``(obs (B, I), state) -> (action, state)``,
        for a closed loop that does not learn and does not replace the agent's tensors.

        On a CPU agent the NumPy views of the weights are looked up once (here) instead
        of at every step, and the eligibility trace ``e`` is not advanced (only learning
        reads it; the actions and the other state variables are the same). On another
        device this is :meth:`act` itself.
        """
        nv = self._numpy_view()
        if nv is None:
            return self.act

        def act(obs: Any, state: LIFState | None) -> tuple[Any, LIFState]:
            return self._act_numpy(nv, obs, state, None, traces=False)

        from goal_rl.engines.compiled_agent import compiled_actor  # batch 1 compiled, same bits

        return compiled_actor(self, act)

    def initial_state_numpy(self, batch: int = 1) -> LIFState:
        """Initial neuron state as ``(batch, N)`` NumPy arrays (see :meth:`act_numpy`)."""
        zeros = np.zeros((batch, self.n_rec), dtype=self.numpy_dtype)
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
            :class:`~goal_rl.model.lif.LIFState` of ``(B, N)`` tensors (NumPy arrays for
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
        payload = load_torch_file(path, "agent file", AGENT_FORMAT)
        try:
            w = payload["weights"]
            params = LIFParams(**payload["params"])
            net = SpikingNetwork(dict(w), params, payload.get("network_meta"),
                                 dtype=w["w_rec"].dtype)
            return cls(net, obs_shift=payload["obs_shift"], obs_scale=payload["obs_scale"],
                       obs_clip=payload["obs_clip"], action_low=payload["action_low"],
                       action_high=payload["action_high"], device=device,
                       meta=payload.get("meta"))
        except (KeyError, TypeError, AttributeError, RuntimeError) as exc:
            raise ValueError(f"agent file {str(path)!r} is inconsistent (written by another "
                             f"version?): {one_sentence(exc)}") from None

    def __repr__(self) -> str:
        return (f"SpikingAgent(N={self.n_rec}, inputs={self.n_inp}, actions={self.n_out}, "
                f"device={self.device})")
