"""Closed-loop evaluation of a spiking agent: :func:`evaluate` (Stable-Baselines3 key names).

One env (an id, a factory or an instance) plays its episodes through the package's one
episode loop (:func:`goal_rl.learning.rollout.play`). ``num_envs > 1`` or a ready-made
Gymnasium vector env goes through :func:`_evaluate_vector` instead, a driver of its own:
a vector env resets its sub-envs itself (autoreset, in one of three modes) and keeps
stepping those that finished, so the bookkeeping — which sub-env really stepped, when a
sub-env's neuron state must restart, which episode index a finished episode had — has no
counterpart in the lockstep loop, whose envs play exactly one episode each.

A CPU agent runs in NumPy. On another device, observations are converted with Gymnasium's
own ``NumpyToTorch`` wrappers (``gymnasium.wrappers.NumpyToTorch`` for one env,
``gymnasium.wrappers.vector.NumpyToTorch`` for a vector env), so they arrive as tensors on
the agent's device and the network never leaves it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from goal_rl.learning.rollout import (
    AgentPolicy,
    action_size,
    as_numpy,
    as_scalar,
    clip_actions,
    closed_loop_threads,
    is_discrete,
    obs_size,
    play,
)

__all__ = ["evaluate", "evaluate_expert", "summarise_episodes"]

EnvLike = Any  # str env id | gym.Env | gym.vector.VectorEnv | Callable[[], gym.Env]


def evaluate(
    agent: Any,
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
    exact: bool = False,
) -> dict[str, Any]:
    """Run ``agent`` for ``n_episodes`` episodes and report returns (SB3 key names).

    Args:
        agent: the :class:`~goal_rl.learning.agent.SpikingAgent`.
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
        exact: batch-size-independent results (a CPU agent): each env's products are
            computed as in a batch of one (:meth:`SpikingAgent.batch_exact`), so every
            episode gives the same actions and return whatever ``num_envs``; the default
            (``False``) computes the batch in one product, faster but rounding
            differently from ``num_envs=1``.

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
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    env_kwargs = dict(env_kwargs or {})
    t0 = time.perf_counter()
    exact_ctx = agent.batch_exact(bool(exact)) if hasattr(agent, "batch_exact") else \
        contextlib.nullcontext()
    with closed_loop_threads(agent), exact_ctx:
        res = _evaluate_any(agent, env, int(n_episodes), seed, int(num_envs), render,
                            options_fn, info_keys, info_fn, env_kwargs)
    res["wall_time_s"] = time.perf_counter() - t0
    res["steps_per_s"] = float(sum(res["episode_lengths"]) / max(res["wall_time_s"], 1e-9))
    return res


def evaluate_expert(
    expert: Callable[[Any, Any], Any],
    env: EnvLike,
    n_episodes: int = 10,
    seed: int | None = 0,
    *,
    options_fn: Callable[[int], dict[str, Any] | None] | None = None,
    info_keys: Sequence[str] = (),
    info_fn: Callable[[dict[str, Any]], dict[str, float]] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    reset: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """The expert ``expert(obs, env) -> action`` on the episodes :func:`evaluate` would
    play with the same ``n_episodes``, ``seed`` and ``options_fn`` (episode ``i`` resets
    with ``seed + i``), one after another in one env; the same keys as :func:`evaluate`
    (without the timing), so agent and expert can be compared episode by episode.
    ``reset`` is called at the start of every episode (a stateful controller's)."""
    from goal_rl.learning.rollout import ExpertPolicy, make_env

    own = isinstance(env, str) or not hasattr(env, "step")
    env_ = make_env(env, env_kwargs) if own else env
    try:
        episodes = play(env_, ExpertPolicy(expert, reset=reset), int(n_episodes), seed,
                        options_fn=options_fn)
    finally:
        if own:
            env_.close()
    return _summarise_played(episodes, info_keys, info_fn)


def _evaluate_any(agent: Any, env: EnvLike, n_episodes: int, seed: int | None,
                  num_envs: int, render: bool, options_fn: Any, info_keys: Sequence[str],
                  info_fn: Any, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    import gymnasium as gym

    if isinstance(env, gym.vector.VectorEnv):
        if options_fn is not None:
            raise ValueError("options_fn needs an env id or factory, not a ready-made vector "
                             "env (its autoresets pass no options)")
        return _evaluate_vector(agent, env, None, n_episodes, seed, info_keys, info_fn)
    if num_envs == 1 or render:
        return _evaluate_single(agent, _make_single(env, env_kwargs, render), n_episodes,
                                seed, render, options_fn, info_keys, info_fn,
                                owned=not isinstance(env, gym.Env))
    if isinstance(env, gym.Env):
        raise ValueError("num_envs > 1 needs an env id or a factory, not an env instance")
    num_envs = min(int(num_envs), int(n_episodes))
    schedule = _episode_targets(int(n_episodes), num_envs)

    def factory(j: int) -> Callable[[], gym.Env]:
        def make() -> gym.Env:
            from goal_rl.envs.wrappers import EpisodeSchedule

            inner = gym.make(env, **env_kwargs) if isinstance(env, str) else env()
            return EpisodeSchedule(inner, schedule[j], seed, options_fn)
        return make

    venv = gym.vector.SyncVectorEnv([factory(j) for j in range(num_envs)])
    try:
        return _evaluate_vector(agent, venv, schedule, n_episodes, None, info_keys, info_fn)
    finally:
        venv.close()


# ------------------------------------------------------------------------------ helpers
def _check_env_sizes(agent: Any, obs_space: Any, act_space: Any, name: str) -> None:
    agent.check_obs_size(obs_size(obs_space), f"the observation of env {name}")
    n_act = action_size(act_space)
    if n_act != agent.n_out:
        raise ValueError(f"agent output size mismatch: the network has {agent.n_out} outputs "
                         f"but env {name} takes {n_act} action values")


def _env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return repr(spec.id) if spec is not None and getattr(spec, "id", None) else \
        type(getattr(env, "unwrapped", env)).__name__


def _numpy_loop(agent: Any) -> bool:
    """Closed loops of a CPU agent run in NumPy (no torch dispatch per step)."""
    return agent.device.type == "cpu"


def _space_bounds(agent: Any, space: Any) -> tuple[Any, Any]:
    """Clip to the action space when the agent has no bounds of its own (NumPy arrays for
    a CPU agent, which acts in NumPy, else tensors on its device)."""
    low = getattr(space, "low", None)
    high = getattr(space, "high", None)
    if low is None or high is None:
        return None, None

    def bound(b: Any) -> Any:
        arr = np.asarray(b, dtype=np.float64).reshape(-1)
        if _numpy_loop(agent):
            return arr.astype(agent.numpy_dtype)
        import torch

        return torch.as_tensor(arr, device=agent.device, dtype=agent.dtype)

    return (None if agent.action_low is not None else bound(low),
            None if agent.action_high is not None else bound(high))


def _sub_info(info: dict[str, Any], j: int) -> dict[str, Any]:
    """Sub-env ``j``'s entries of a vector-env info dict (keys whose ``_key`` mask is set)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not bool(as_numpy(mask)[j]):
            continue
        if isinstance(value, dict):
            out[key] = _sub_info(value, j)
        else:
            try:
                out[key] = as_scalar(value[j])
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


def summarise_episodes(returns: Sequence[float], lengths: Sequence[int],
                       extras: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """SB3-style summary: ``mean_reward``, ``std_reward`` (population std),
    ``n_eval_episodes``, ``episode_returns``, ``episode_lengths``, and for every extra
    ``name``: ``mean_name``, ``std_name``, ``episode_name`` (all JSON-able floats)."""
    r = np.asarray(returns, dtype=np.float64)
    res: dict[str, Any] = {
        "mean_reward": float(r.mean()) if r.size else float("nan"),
        "std_reward": float(r.std()) if r.size else float("nan"),
        "n_eval_episodes": int(r.size),
        "episode_returns": [float(x) for x in r],
        "episode_lengths": [int(x) for x in lengths],
    }
    for key, values in (extras or {}).items():
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
        out[key] = float(as_scalar(info[key]))
    if info_fn is not None:
        out.update({k: float(v) for k, v in info_fn(info).items()})
    return out


def _summarise_played(episodes: Sequence[Any], info_keys: Sequence[str], info_fn: Any
                      ) -> dict[str, Any]:
    """:func:`summarise_episodes` of :func:`~goal_rl.learning.rollout.play`'s episodes, with
    the ``info_keys`` / ``info_fn`` extras of each episode's final info."""
    extras: dict[str, list[float]] = {}
    for ep in episodes:
        info = {k: as_scalar(v) if not isinstance(v, dict) else v for k, v in ep.info.items()}
        for k, v in _extras_from(info, info_keys, info_fn).items():
            extras.setdefault(k, []).append(v)
    return summarise_episodes([ep.total_reward for ep in episodes],
                              [ep.length for ep in episodes], extras)


# ------------------------------------------------------------------------------ drivers
def _evaluate_single(agent: Any, env: Any, n_episodes: int, seed: int | None,
                     render: bool, options_fn: Any, info_keys: Sequence[str], info_fn: Any,
                     owned: bool) -> dict[str, Any]:
    _check_env_sizes(agent, env.observation_space, env.action_space, _env_name(env))
    lo, hi = _space_bounds(agent, env.action_space)
    policy = AgentPolicy(agent, low=lo, high=hi, torch_env=True)
    try:
        episodes = play(env, policy, n_episodes, seed, options_fn=options_fn, render=render)
    finally:
        if owned:
            env.close()
    res = _summarise_played(episodes, info_keys, info_fn)
    if episodes[0].frames:
        res["frames"] = episodes[0].frames
    return res


def _evaluate_vector(agent: Any, venv: Any, schedule: list[list[int]] | None,
                     n_episodes: int, seed: int | None, info_keys: Sequence[str],
                     info_fn: Any) -> dict[str, Any]:
    """The vector-env driver (see the module docstring for why it is separate)."""
    from gymnasium.vector import AutoresetMode
    from gymnasium.wrappers.vector import NumpyToTorch

    n = int(venv.num_envs)
    _check_env_sizes(agent, venv.single_observation_space, venv.single_action_space,
                     _env_name(venv))
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
    discrete = is_discrete(venv.single_action_space)
    while (counts < targets).any():
        a, state = agent.act(obs.reshape(n, -1), state, episode_start)
        a = clip_actions(a, lo, hi)
        if discrete:  # Discrete(n): start + argmax of the n outputs
            a = venv.single_action_space.start + as_numpy(a).reshape(n, -1).argmax(axis=1)
        else:
            a = a.reshape(act_shape)
        obs, reward, terminated, truncated, info = tenv.step(a)
        reward = as_numpy(reward).astype(np.float64).reshape(n)
        done = (as_numpy(terminated) | as_numpy(truncated)).astype(bool).reshape(n)
        # which sub-envs really stepped (in NEXT_STEP mode, the ones done last time reset)
        stepped = ~prev_done if mode == AutoresetMode.NEXT_STEP else np.ones(n, dtype=bool)
        cur_ret += np.where(stepped, reward, 0.0)
        cur_len += stepped
        for j in np.flatnonzero(done & stepped):
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
    return summarise_episodes(returns, lengths, extras)
