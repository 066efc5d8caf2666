"""The one episode loop of goal_rl's closed loops: evaluation, demonstrations, DAgger, traces.

Every closed loop of the package runs through :func:`run_episodes`: one episode in each of
``B`` envs, in lockstep. At every step the :class:`Policy` gets the latest observation of
every env and returns one action per env; the loop steps the envs whose episode is still
running, adds up their rewards (as Python floats) and stops an env at ``terminated``,
``truncated`` or ``max_steps``. What else an episode keeps is asked for explicitly:
the observations it saw (``record_obs``), the policy's own per-step records (an expert's
labels and hints, an agent's spikes), values read from the env after every reset and step
(``probes``, e.g. a position for a plot) and rendered frames.

Two drivers cover the usual cases:

* :func:`play`: ``n_episodes`` episodes one after another in one env (episode ``i`` resets
  with ``seed + i``), e.g. an evaluation or recording expert demonstrations;
* :func:`play_lockstep`: ``n_episodes`` episodes at once, one fresh env each, so an agent
  acts on the whole batch in one network step (DAgger rollouts).

Per-episode seeding: the episode with global index ``i`` resets with ``seed + i`` (``None``:
unseeded) and ``options_fn(i)``, whichever driver plays it.

Policies: :class:`AgentPolicy` (a :class:`~goal_rl.learning.agent.SpikingAgent`, optionally
labelled by an expert and mixed with it as in DAgger) and :class:`ExpertPolicy` (any
``expert(obs, env) -> action``). A policy of your own subclasses :class:`Policy`::

    from goal_rl.learning.rollout import ExpertPolicy, play

    episodes = play(env, ExpertPolicy(expert), n_episodes=50, seed=1000)
    returns = [ep.total_reward for ep in episodes]       # episode i was reset with 1000 + i
    lengths = [ep.length for ep in episodes]
    finals = [ep.info for ep in episodes]                # info of each episode's last step

Gymnasium's ``RecordEpisodeStatistics`` is not used: it adds rewards without converting
them (BipedalWalker's are ``np.float32``, so the sums would be float32 and the returns would
change), writes into the env's info dict and knows nothing of our ``max_steps`` cap.

This module imports no torch (demonstrations can be recorded without it); the agent's
tensors are only touched through the agent's own methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from goal_rl.learning.spaces import (  # noqa: F401  (re-exported: older import paths)
    action_size,
    discrete_action,
    flat_obs,
    is_discrete,
    obs_size,
    one_hot_label,
)

__all__ = [
    "AgentPolicy",
    "Episode",
    "ExpertPolicy",
    "Policy",
    "clip_actions",
    "closed_loop_threads",
    "as_numpy",
    "as_scalar",
    "episode_seed",
    "make_env",
    "play",
    "play_lockstep",
    "run_episodes",
]

OptionsFn = Callable[[int], "dict[str, Any] | None"]
Expert = Callable[[Any, Any], Any]
"""``expert(obs, env) -> action``: the env is passed so a state-based expert can read it."""


# ------------------------------------------------------------------------------ small pieces
def episode_seed(seed: int | None, index: int) -> int | None:
    """Seed of the episode with global index ``index``: ``seed + index`` (``None``: unseeded)."""
    return None if seed is None else int(seed) + int(index)


def as_numpy(x: Any) -> np.ndarray:
    """A NumPy array of ``x`` (a torch tensor is detached and copied to the CPU)."""
    if hasattr(x, "detach"):  # a torch tensor (this module does not import torch)
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_scalar(x: Any) -> Any:
    """A one-value array, tensor or NumPy scalar as a Python scalar (else the array)."""
    if type(x) in (bool, int, float):  # the usual terminated / truncated / reward
        return x
    if isinstance(x, np.generic):
        return x.item()
    arr = as_numpy(x)
    return arr.item() if arr.size == 1 else arr


def clip_actions(a: Any, lo: Any, hi: Any) -> Any:
    """Clip a NumPy array or a tensor to optional bounds (``None``: that side unbounded);
    the bounds broadcast against ``a`` and are of its kind (NumPy-compatible for arrays)."""
    if isinstance(a, np.ndarray):
        if lo is not None:
            a = np.maximum(a, lo)
        if hi is not None:
            a = np.minimum(a, hi)
        return a
    import torch

    if lo is not None:
        a = torch.maximum(a, lo)
    if hi is not None:
        a = torch.minimum(a, hi)
    return a


@contextlib.contextmanager
def closed_loop_threads(agent: Any) -> Iterator[None]:
    """For closed loops of ``agent`` (a block of :meth:`SpikingAgent.act` calls): one torch
    thread and single-threaded BLAS: per-step products are too small for
    threads (the hand-offs cost more than they save)."""
    from goal_rl.common.threads import single_thread_blas, torch_threads

    with torch_threads(1, agent.device), single_thread_blas():
        yield


def make_env(env: Any, env_kwargs: dict[str, Any] | None = None) -> Any:
    """A fresh env from a registered id (``gym.make(env, **env_kwargs)``) or a factory."""
    import gymnasium as gym

    if isinstance(env, str):
        return gym.make(env, **(env_kwargs or {}))
    if callable(env):
        return env()
    raise TypeError(f"env must be an env id or a factory, got {type(env).__name__}")


# ------------------------------------------------------------------------------ policies
class Policy:
    """What :func:`run_episodes` asks of a policy (subclass it for your own).

    A policy acts in ``B`` envs at once. :meth:`begin` is called when a batch of new
    episodes starts (after the resets), :meth:`step` at every step of it; :meth:`wrap`
    may wrap each env before its reset and :meth:`context` gives a context the whole
    batch runs in. The defaults do nothing.
    """

    def wrap(self, env: Any) -> Any:
        """The env the loop resets and steps (default: ``env`` itself)."""
        return env

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """Context manager around a batch of episodes (default: none)."""
        return contextlib.nullcontext()

    def begin(self, envs: Sequence[Any], indices: Sequence[int]) -> None:
        """New episodes start: env ``k`` plays the episode with global index ``indices[k]``."""

    def step(self, obs: Sequence[Any], envs: Sequence[Any], alive: np.ndarray
             ) -> tuple[Sequence[Any], dict[str, Sequence[Any]]]:
        """Actions for one step.

        Args:
            obs: the latest observation of every env, as the (wrapped) env returned it;
                a finished env keeps its last one.
            envs: the envs (unwrapped by :meth:`wrap`), e.g. for a state-based expert.
            alive: ``(B,)`` bool, the envs whose episode is still running.

        Returns:
            ``(actions, records)``: one action per env (entries of finished envs are not
            used) and ``{name: one value per env}`` to keep for this step (may be empty).
        """
        raise NotImplementedError


class ExpertPolicy(Policy):
    """``expert(obs, env) -> action`` acting in every env; the action goes to the env as
    the expert returned it.

    Records ``"label"`` (the action as a flat float32 array) and, with ``hint_fn``,
    ``"hint"`` (``hint_fn(obs, env)`` as a flat float32 array). ``reset`` (e.g. a stateful
    controller's ``reset``) is called whenever a batch of episodes starts.

    Boundary checks (a ``Box`` action space): an action of the wrong size or holding
    NaN/inf is refused (one-line ``ValueError`` naming the env, the expected shape and
    what came); an action outside the bounds is **clipped** to them, with one warning,
    and the clipped action is both executed and recorded.

    Raises (from :meth:`step`):
        ValueError: the expert returns another number of action values than it did first,
            the wrong number for the action space, or a non-finite value.
    """

    def __init__(self, expert: Expert, hint_fn: Expert | None = None, *,
                 reset: Callable[[], Any] | None = None) -> None:
        self.expert = expert
        self.hint_fn = hint_fn
        self.reset = reset
        self._size: int | None = None
        self._indices: list[int] = []
        self._t = 0

    def begin(self, envs: Sequence[Any], indices: Sequence[int]) -> None:
        """Remember the episode indices (for error messages); call ``reset``."""
        self._indices = [int(i) for i in indices]
        self._t = 0
        if self.reset is not None:
            self.reset()

    def step(self, obs: Sequence[Any], envs: Sequence[Any], alive: np.ndarray
             ) -> tuple[list[Any], dict[str, list[Any]]]:
        """The expert's action in every running env, with its label (and hint)."""
        actions: list[Any] = [None] * len(envs)
        labels: list[Any] = [None] * len(envs)
        hints: list[Any] = [None] * len(envs)
        for k in np.flatnonzero(alive):
            action = self.expert(obs[k], envs[k])
            if is_discrete(envs[k].action_space):
                where = f"env {_env_label(envs[k])}, episode {self._indices[k]}, step {self._t}: "
                label = one_hot_label(action, envs[k].action_space, where)
                action = discrete_action(label, envs[k].action_space)
            else:
                label = np.asarray(action, dtype=np.float32).ravel()
            if self._size is None:
                self._size = label.size
            elif label.size != self._size:
                raise ValueError(f"expert returned {label.size} action values in episode "
                                 f"{self._indices[k]}, step {self._t}; earlier {self._size}")
            checked = self._check_action(label, envs[k], int(k))
            if checked is not label:
                action = label = checked
            actions[k], labels[k] = action, label
            if self.hint_fn is not None:
                hints[k] = np.asarray(self.hint_fn(obs[k], envs[k]), dtype=np.float32).ravel()
        self._t += 1
        records: dict[str, list[Any]] = {"label": labels}
        if self.hint_fn is not None:
            records["hint"] = hints
        return actions, records


    def _check_action(self, label: np.ndarray, env: Any, k: int) -> np.ndarray:
        """The expert's flat action checked against a ``Box`` action space: the wrong size
        or a NaN/inf is a one-line ValueError naming the env, what was expected and what
        came; values outside the bounds are clipped (one warning per policy). Returns
        ``label`` itself when nothing was clipped."""
        space = env.action_space
        low, high = getattr(space, "low", None), getattr(space, "high", None)
        if low is None or high is None or not getattr(space, "shape", None):
            return label
        where = (f"env {_env_label(env)}, episode {self._indices[k]}, step {self._t}"
                 if k < len(self._indices) else f"env {_env_label(env)}")
        n = int(np.prod(space.shape))
        if label.size != n:
            raise ValueError(f"{where}: the expert returned {label.size} action value(s) "
                             f"but the action space takes shape {tuple(space.shape)} "
                             f"({n} values): got {np.array2string(label, threshold=8)}")
        if not np.all(np.isfinite(label)):
            raise ValueError(f"{where}: the expert returned a non-finite action "
                             f"{np.array2string(label, threshold=8)}")
        lo, hi = np.ravel(low), np.ravel(high)
        if np.all(label >= lo) and np.all(label <= hi):
            return label
        if not getattr(self, "_warned", False):
            import warnings

            self._warned = True
            warnings.warn(f"{where}: the expert's action {np.array2string(label, threshold=8)}"
                          f" is outside the action space bounds [{np.array2string(lo, threshold=8)}"
                          f", {np.array2string(hi, threshold=8)}]; out-of-range expert actions "
                          "are clipped to the bounds (warned once)", stacklevel=3)
        return np.clip(label, lo, hi).astype(np.float32).reshape(space.shape).ravel()


def _env_label(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return repr(spec.id) if spec is not None and getattr(spec, "id", None) else \
        type(getattr(env, "unwrapped", env)).__name__


class AgentPolicy(Policy):
    """A :class:`~goal_rl.learning.agent.SpikingAgent` acting on the batch of envs.

    One network step per env step on the ``(B, I)`` batch of observations (finished
    envs keep stepping on their last observation, so the batch size never changes); the
    neuron state starts afresh with every batch of episodes. The loop does not learn, so
    the agent's fast :meth:`~goal_rl.learning.agent.SpikingAgent.actor` is used.

    Args:
        agent: the spiking agent.
        low, high: further action bounds (e.g. the action space's), of the kind the agent
            returns (NumPy arrays, or tensors on its device with ``torch_env``); ``None``:
            none.
        obs_dtype: convert the observations to this dtype before the network (and the
            expert) see them (``None``: as the env gives them).
        cast_actions: give each env its action in the action space's dtype.
        torch_env: on a non-CPU agent, wrap each env in Gymnasium's ``NumpyToTorch``, so
            observations arrive as tensors on the agent's device.
        expert: ``expert(obs, env)`` labels every visited state (recorded as ``"label"``,
            flat float32); with probability ``beta`` (drawn from ``rng`` per step and env)
            the env executes the label instead of the agent's action (DAgger).
        hint_fn: ``hint_fn(obs, env)`` recorded as ``"hint"`` (flat float32).
        record_actions: record the action given to each env as ``"action"`` (flat
            float32).
        record_spikes: record the spikes ``z`` after each step as ``"spikes"`` (uint8).
    """

    def __init__(self, agent: Any, *, low: Any = None, high: Any = None,
                 obs_dtype: Any = None, cast_actions: bool = False, torch_env: bool = False,
                 expert: Expert | None = None, hint_fn: Expert | None = None,
                 beta: float = 0.0, rng: np.random.Generator | None = None,
                 record_actions: bool = False, record_spikes: bool = False) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        if beta > 0 and (expert is None or rng is None):
            raise ValueError("beta > 0 needs an expert and an rng")
        self.agent = agent
        self.low, self.high = low, high
        self.obs_dtype = obs_dtype
        self.cast_actions = cast_actions
        self.torch_env = torch_env and agent.device.type != "cpu"
        self.expert, self.hint_fn = expert, hint_fn
        self.beta, self.rng = float(beta), rng
        self.record_actions = record_actions
        self.record_spikes = record_spikes
        self.state: Any = None
        self._act: Callable[[Any, Any], Any] = agent.act
        self._spaces: list[Any] = []
        self._obs_spaces: list[Any] = []

    def wrap(self, env: Any) -> Any:
        """``NumpyToTorch(env)`` with ``torch_env`` on a non-CPU agent, else ``env``."""
        if not self.torch_env:
            return env
        from gymnasium.wrappers import NumpyToTorch

        return NumpyToTorch(env, device=self.agent.device)

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """:func:`closed_loop_threads` of the agent."""
        return closed_loop_threads(self.agent)

    def begin(self, envs: Sequence[Any], indices: Sequence[int]) -> None:
        """Check the observation size; fresh neuron state; look the agent's fast step up
        once for the batch."""
        self.agent.check_obs_size(obs_size(envs[0].observation_space), "the env's observation")
        self.state = None
        self._act = self.agent.actor()
        self._spaces = [env.action_space for env in envs]
        self._obs_spaces = [env.observation_space for env in envs]

    def _batch(self, obs: Sequence[Any]) -> Any:
        if self.torch_env:
            import torch

            return torch.stack([o.reshape(-1) for o in obs])
        if isinstance(obs[0], dict | tuple):  # composite observations, flattened
            obs = [flat_obs(o, sp) for o, sp in zip(obs, self._obs_spaces)]
        if len(obs) == 1 and self.obs_dtype is None:
            return np.asarray(obs[0]).reshape(1, -1)
        return np.stack([np.asarray(o, dtype=self.obs_dtype).reshape(-1) for o in obs])

    def step(self, obs: Sequence[Any], envs: Sequence[Any], alive: np.ndarray
             ) -> tuple[list[Any], dict[str, list[Any]]]:
        """The agent's actions (or, with probability ``beta``, the expert's labels)."""
        x = self._batch(obs)
        a, self.state = self._act(x, self.state)
        a = clip_actions(a, self.low, self.high)
        n = len(envs)
        actions: list[Any] = [None] * n
        records: dict[str, list[Any]] = {}
        if self.expert is not None:
            records["label"] = [None] * n
        if self.hint_fn is not None:
            records["hint"] = [None] * n
        if self.record_actions:
            records["action"] = [None] * n
        for k in np.flatnonzero(alive):
            action = a[k]
            space = self._spaces[k]
            if self.expert is not None:
                label = self.expert(x[k], envs[k])
                label = one_hot_label(label, space) if is_discrete(space) else \
                    np.asarray(label, dtype=np.float32).ravel()
                records["label"][k] = label
                if self.hint_fn is not None:
                    records["hint"][k] = np.asarray(self.hint_fn(x[k], envs[k]),
                                                    dtype=np.float32).ravel()
                if self.beta > 0 and self.rng.random() < self.beta:  # type: ignore[union-attr]
                    action = label
            if is_discrete(space):
                action = discrete_action(action, space)
            else:
                action = action.reshape(space.shape)
                if self.cast_actions:
                    action = action.astype(space.dtype)
            actions[k] = action
            if self.record_actions:
                records["action"][k] = np.asarray(action, dtype=np.float32).ravel()
        if self.record_spikes:
            z = as_numpy(self.state.z)
            records["spikes"] = [z[k].astype(np.uint8) for k in range(n)]
        return actions, records


# ------------------------------------------------------------------------------ the loop
@dataclass
class Episode:
    """One finished episode of :func:`run_episodes`.

    Attributes:
        index: global episode index (it was reset with ``seed + index``).
        seed: the seed it was reset with (``None``: unseeded).
        total_reward: undiscounted return (rewards added as Python floats).
        length: number of steps T.
        info: the ``info`` of its last step (of the reset, had it no step).
        records: per-step arrays, stacked along axis 0: ``"obs"`` ``(T, I)`` float32 with
            ``record_obs``, the policy's records (e.g. ``"label"`` ``(T, O)``) and each probe
            ``(T + 1, ...)`` (after the reset, then after every step).
        frames: rendered ``rgb_array`` frames (only when asked to keep them).
    """

    index: int
    seed: int | None
    total_reward: float
    length: int
    info: dict[str, Any]
    records: dict[str, np.ndarray] = field(default_factory=dict)
    frames: list[np.ndarray] = field(default_factory=list)


def run_episodes(
    envs: Sequence[Any],
    policy: Policy,
    seeds: Sequence[int | None],
    *,
    options: Sequence[dict[str, Any] | None] | None = None,
    indices: Sequence[int] | None = None,
    max_steps: int | None = None,
    record_obs: bool = False,
    probes: dict[str, Callable[[Any], Any]] | None = None,
    render: bool = False,
    keep_frames: bool = False,
) -> list[Episode]:
    """Play one episode in each env, in lockstep (the loop every closed loop runs).

    Args:
        envs: ``B`` Gymnasium envs.
        policy: gives the actions (see :class:`Policy`).
        seeds: reset seed per env (``None``: unseeded).
        options: reset options per env (default: ``None`` for all).
        indices: global episode index per env (default ``0 .. B-1``), passed to the policy
            and kept in each :class:`Episode`.
        max_steps: end an episode after this many steps (``None``: when the env ends it).
        record_obs: keep the observation each action was chosen on (flat float32).
        probes: ``{name: probe(env)}`` values read after the reset and after every step.
        render: call ``env.render()`` after every step.
        keep_frames: keep the rendered frames that are NumPy arrays.

    Returns:
        One :class:`Episode` per env, in the order of ``envs``.
    """
    n = len(envs)
    if not (len(seeds) == n and (options is None or len(options) == n)
            and (indices is None or len(indices) == n)):
        raise ValueError("seeds, options and indices need one entry per env")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
    idx = list(range(n)) if indices is None else [int(i) for i in indices]
    probes = dict(probes or {})
    with policy.context():
        stepped = [policy.wrap(env) for env in envs]
        obs, infos = [], []
        for k, env in enumerate(stepped):
            o, info = env.reset(seed=seeds[k], options=None if options is None else options[k])
            obs.append(o)
            infos.append(info)
        policy.begin(envs, idx)
        recs: list[dict[str, list[Any]]] = [
            {name: [probe(env)] for name, probe in probes.items()} for env in envs]
        frames: list[list[np.ndarray]] = [[] for _ in envs]
        totals, lengths = [0.0] * n, [0] * n
        alive = np.ones(n, dtype=bool)
        while alive.any():
            actions, records = policy.step(obs, envs, alive)
            for k in np.flatnonzero(alive):
                rec = recs[k]
                if record_obs:
                    rec.setdefault("obs", []).append(
                        flat_obs(obs[k], envs[k].observation_space).astype(np.float32))
                for name, values in records.items():
                    rec.setdefault(name, []).append(values[k])
                o, reward, terminated, truncated, info = stepped[k].step(actions[k])
                obs[k] = o
                totals[k] += float(as_scalar(reward))
                lengths[k] += 1
                for name, probe in probes.items():
                    rec[name].append(probe(envs[k]))
                if render:
                    frame = envs[k].render()
                    if keep_frames and isinstance(frame, np.ndarray):
                        frames[k].append(frame)
                if bool(as_scalar(terminated)) or bool(as_scalar(truncated)) or (
                        max_steps is not None and lengths[k] >= max_steps):
                    alive[k] = False
                    infos[k] = info
    return [Episode(index=idx[k], seed=seeds[k], total_reward=totals[k], length=lengths[k],
                    info=infos[k], records={name: np.stack(v) for name, v in recs[k].items()},
                    frames=frames[k]) for k in range(n)]


def play(
    env: Any,
    policy: Policy,
    n_episodes: int,
    seed: int | None,
    *,
    options_fn: OptionsFn | None = None,
    first_index: int = 0,
    max_steps: int | None = None,
    record_obs: bool = False,
    probes: dict[str, Callable[[Any], Any]] | None = None,
    render: bool = False,
) -> list[Episode]:
    """``n_episodes`` episodes one after another in ``env`` (batches of one).

    Episode ``k`` has the global index ``i = first_index + k`` and resets with
    ``seed + i`` and ``options_fn(i)``. With ``render`` every step is rendered and the
    frames of the first episode are kept. Other arguments as in :func:`run_episodes`.

    Raises:
        ValueError: ``n_episodes`` is not a positive integer.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    episodes: list[Episode] = []
    for k in range(int(n_episodes)):
        i = int(first_index) + k
        options = options_fn(i) if options_fn is not None else None
        episodes += run_episodes([env], policy, [episode_seed(seed, i)], options=[options],
                                 indices=[i], max_steps=max_steps, record_obs=record_obs,
                                 probes=probes, render=render, keep_frames=render and k == 0)
    return episodes


def play_lockstep(env_factory: Any, policy: Policy, n_episodes: int, seed: int | None, *,
                  options_fn: OptionsFn | None = None, first_index: int = 0,
                  max_steps: int | None = None, record_obs: bool = False,
                  probes: dict[str, Callable[[Any], Any]] | None = None) -> list[Episode]:
    """``n_episodes`` episodes at once, each in a fresh env of ``env_factory`` (an env id or
    a factory), closed afterwards. Seeding and options as in :func:`play`."""
    envs = [make_env(env_factory) for _ in range(int(n_episodes))]
    try:
        indices = [int(first_index) + k for k in range(len(envs))]
        return run_episodes(
            envs, policy, [episode_seed(seed, i) for i in indices],
            options=[options_fn(i) if options_fn is not None else None for i in indices],
            indices=indices, max_steps=max_steps, record_obs=record_obs, probes=probes)
    finally:
        for env in envs:
            env.close()
