"""Saved agents that carry their own test protocol: evaluate or watch an ``agent.pt`` alone.

A closed-loop task records in ``agent.meta["protocol"]`` (:func:`record_protocol`) the task
name, the env id and its ``gym.make`` keyword arguments, and the test episodes (count, first
seed, per-episode reset options, final-info keys, number of parallel envs). Then
:func:`evaluate_saved` repeats the task's test evaluation, and :func:`play_saved` plays
episodes and optionally writes them as a video, with nothing repeated by hand. These back
``python -m goal_rl evaluate AGENT.pt`` and ``python -m goal_rl play AGENT.pt``.

Files saved before the protocol existed still load: :func:`protocol_of` then infers 10
test episodes from seed 1000 on one env, no env keyword arguments and no reset options
(the generic task's defaults), and needs the env id from the caller; it lists what it
inferred.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["PROTOCOL_KEY", "VIDEO_SUFFIXES", "evaluate_saved", "play_saved", "protocol_of",
           "record_protocol", "write_video"]

PROTOCOL_KEY = "protocol"
VIDEO_SUFFIXES = (".mp4", ".gif")
_INFERRED = {"n_episodes": 10, "seed": 1000, "num_envs": 1}


def record_protocol(agent: Any, *, task: str, env_id: Any, n_episodes: int, seed: int,
                    env_kwargs: dict[str, Any] | None = None,
                    options: Sequence[dict[str, Any] | None] | None = None,
                    info_keys: Sequence[str] = (), num_envs: int = 1) -> None:
    """Store the test protocol in ``agent.meta`` (saved with the agent).

    ``env_id`` that is not a string (a factory) is stored as ``None``: such an agent can
    only be evaluated by passing an env id. ``options`` are the reset options of test
    episode ``i`` (JSON-able; ``None``: no options)."""
    opts = None if options is None else json.loads(json.dumps(list(options), default=float))
    agent.meta[PROTOCOL_KEY] = {
        "task": str(task), "env_id": env_id if isinstance(env_id, str) else None,
        "env_kwargs": json.loads(json.dumps(dict(env_kwargs or {}), default=str)),
        "n_episodes": int(n_episodes), "seed": int(seed), "options": opts,
        "info_keys": [str(k) for k in info_keys], "num_envs": int(num_envs),
    }


def protocol_of(agent: Any, env_id: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The agent's test protocol and a list of what had to be inferred (empty when the
    file records everything). ``env_id`` replaces the recorded id.

    Raises:
        ValueError: no env id is recorded and none is given.
    """
    notes: list[str] = []
    recorded = agent.meta.get(PROTOCOL_KEY)
    if isinstance(recorded, dict):
        proto = dict(recorded)
    else:
        proto = {"task": agent.meta.get("task"), "env_id": None, "env_kwargs": {},
                 "options": None, "info_keys": [], **_INFERRED}
        notes.append("the file records no test protocol (saved by an older version): "
                     "inferred 10 episodes from seed 1000 on 1 env, no env kwargs, no reset "
                     "options")
    if env_id is not None:
        proto["env_id"] = env_id
    if not proto.get("env_id"):
        raise ValueError("the agent file records no env id (an older file, or an env made "
                         "by a factory); pass it with --env ID")
    return proto, notes


def _resolve(proto: dict[str, Any], episodes: int | None) -> tuple[int, Any]:
    """Episode count and options function; ValueError when recorded per-episode options
    cannot cover ``episodes``."""
    n = int(proto["n_episodes"]) if episodes is None else int(episodes)
    options = proto.get("options")
    if options is None:
        return n, None
    if n > len(options):
        raise ValueError(f"--episodes {n}: the {proto.get('task') or 'task'} test protocol "
                         f"defines reset options for {len(options)} episodes only")
    return n, (lambda i: options[i])


def _register_envs(env_id: str) -> None:
    """Register the project's env ids when needed; ValueError for an unknown id."""
    import gymnasium as gym

    if env_id.startswith("goal_rl/"):
        import goal_rl.envs  # noqa: F401  (registers the project's env ids)
    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"unknown env id {env_id!r} (a plugin env needs --plugin FILE): "
                         f"{exc}") from None


def evaluate_saved(agent: Any, *, episodes: int | None = None, seed: int | None = None,
                   num_envs: int | None = None, env_id: str | None = None,
                   exact: bool = True) -> dict[str, Any]:
    """:func:`~goal_rl.learning.evaluation.evaluate` under the agent's recorded protocol
    (``episodes``, ``seed``, ``num_envs`` and ``env_id`` override it). The result also
    holds ``protocol`` (what was used) and ``inferred`` (see :func:`protocol_of`).

    ``exact`` (the default) gives the same returns whatever ``num_envs``: those of
    ``num_envs=1`` (see ``evaluate``'s ``exact``); ``exact=False`` batches the products
    as the training run did with ``num_envs > 1``, reproducing its figures to the digit."""
    from goal_rl.learning.evaluation import evaluate

    proto, notes = protocol_of(agent, env_id)
    n, options_fn = _resolve(proto, episodes)
    first = int(proto["seed"]) if seed is None else int(seed)
    k = int(proto.get("num_envs", 1)) if num_envs is None else int(num_envs)
    _register_envs(proto["env_id"])
    res = evaluate(agent, proto["env_id"], n, first, num_envs=min(k, n),
                   options_fn=options_fn, info_keys=tuple(proto.get("info_keys") or ()),
                   env_kwargs=proto.get("env_kwargs") or {}, exact=exact)
    res["protocol"] = {**proto, "n_episodes": n, "seed": first, "num_envs": min(k, n),
                       "exact": bool(exact)}
    res["inferred"] = notes
    return res


def play_saved(agent: Any, *, episodes: int = 1, seed: int | None = None,
               video: str | os.PathLike | None = None, env_id: str | None = None
               ) -> dict[str, Any]:
    """Play ``episodes`` test episodes (from the protocol's first seed, or ``seed``).

    With ``video`` the env renders ``rgb_array`` frames (chosen automatically) and every
    episode's frames go to one ``.mp4`` or ``.gif`` (:func:`write_video`); without, the env
    opens its ``human`` window if it has one. Returns ``episode_returns``,
    ``episode_lengths``, ``seed``, ``video`` (the path or ``None``), ``n_frames`` (one
    per step), ``inferred``."""
    import gymnasium as gym

    from goal_rl.learning.rollout import AgentPolicy, play

    proto, notes = protocol_of(agent, env_id)
    n, options_fn = _resolve(proto, episodes)
    first = int(proto["seed"]) if seed is None else int(seed)
    _register_envs(proto["env_id"])
    kwargs = dict(proto.get("env_kwargs") or {})
    modes = gym.spec(proto["env_id"]).kwargs.get("render_mode")
    env = gym.make(proto["env_id"], **kwargs)
    supported = env.metadata.get("render_modes", [])
    env.close()
    wanted = "rgb_array" if video is not None else ("human" if "human" in supported else None)
    if video is not None and "rgb_array" not in supported:
        raise ValueError(f"env {proto['env_id']!r} cannot render rgb_array frames for a video "
                         f"(render modes: {', '.join(supported) or 'none'})")
    if wanted is not None and modes is None:
        kwargs["render_mode"] = wanted
    env = gym.make(proto["env_id"], **kwargs)
    frames: list[Any] = []
    try:
        episodes_ = []
        for k in range(n):  # frames of every episode, not only the first
            ep = play(env, AgentPolicy(agent), 1, first, options_fn=options_fn, first_index=k,
                      render=wanted is not None)
            frames += ep[0].frames
            episodes_ += ep
        fps = int(env.metadata.get("render_fps") or 30)
    finally:
        env.close()
    path = write_video(frames, video, fps) if video is not None else None
    return {"episode_returns": [ep.total_reward for ep in episodes_],
            "episode_lengths": [ep.length for ep in episodes_], "seed": first,
            "video": None if path is None else str(path), "n_frames": len(frames),
            "inferred": notes}


def write_video(frames: Sequence[Any], path: str | os.PathLike, fps: int) -> Path:
    """Write ``rgb_array`` frames ``(H, W, 3)`` uint8 as ``path`` (``.mp4`` through
    Gymnasium's ``save_video``, ``.gif`` through moviepy, which ``save_video`` needs
    anyway: the ``video`` extra), atomically (a temporary file, then renamed).

    Raises:
        ValueError: another suffix, or no frames.
        ImportError: moviepy is not installed (one line naming the extra).
    """
    out = Path(path)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"video {str(out)!r}: the name must end in .mp4 or .gif")
    if not frames:
        raise ValueError("no frames to write (the env rendered nothing)")
    try:
        from gymnasium.utils.save_video import save_video
        from moviepy import ImageSequenceClip
    except Exception:  # noqa: BLE001 - gymnasium raises DependencyNotInstalled
        raise ImportError("writing a video needs moviepy: pip install 'goal_rl[video]'"
                          ) from None
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".video-") as tmp:
        if out.suffix.lower() == ".mp4":
            save_video(list(frames), tmp, fps=fps, name_prefix="play", episode_index=0,
                       episode_trigger=lambda i: True, save_logger=None)
            made = next(Path(tmp).glob("*.mp4"))
        else:
            made = Path(tmp) / "play.gif"
            ImageSequenceClip(list(frames), fps=fps).write_gif(str(made), logger=None)
        os.replace(made, out)
    out.chmod(0o666 & ~_umask())
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
