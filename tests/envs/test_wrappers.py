"""Tests for goal_rl.envs.wrappers: EpisodeSchedule, DropObjectInfos and ReachedEnd."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from goal_rl.envs.fast_walker import make_walker
from goal_rl.envs.wrappers import DropObjectInfos, EpisodeSchedule, ReachedEnd


class Echo(gym.Env):
    """Returns the seed and options of its last reset; episodes of ``options["n"]`` steps."""

    observation_space = spaces.Box(-1e9, 1e9, (1,), np.float64)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seed_, self.options_, self.t = seed, options, 0
        return np.array([-1.0 if seed is None else seed], np.float64), {}

    def step(self, action):
        self.t += 1
        n = (self.options_ or {}).get("n", 2)
        return np.array([self.t], np.float64), 0.0, self.t >= n, False, {}


def test_episode_schedule_seeds_and_options_by_position() -> None:
    env = EpisodeSchedule(Echo(), [4, 9], base_seed=100, options_fn=lambda i: {"n": i})
    assert env.episode_index == -1
    env.reset()
    assert (env.unwrapped.seed_, env.unwrapped.options_, env.episode_index) == (104, {"n": 4}, 4)
    env.reset(options={"extra": 1})  # explicit options merge over the scheduled ones
    assert (env.unwrapped.seed_, env.unwrapped.options_) == (109, {"n": 9, "extra": 1})
    env.reset()  # schedule used up: unseeded, no options
    assert (env.unwrapped.seed_, env.unwrapped.options_, env.episode_index) == (None, None, -1)
    plain = EpisodeSchedule(Echo(), [0])
    plain.reset()
    assert (plain.unwrapped.seed_, plain.unwrapped.options_) == (None, None)


def test_drop_object_infos_removes_object_arrays_only() -> None:
    venv = gym.vector.SyncVectorEnv(
        [lambda: EpisodeSchedule(Echo(), [0, 1, 2], 0, lambda i: {"n": 1})] * 2,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    venv.reset()
    *_, raw_info = venv.step(np.zeros((2, 1), np.float32))
    assert raw_info["final_obs"].dtype == object  # what NumpyToTorch cannot convert
    wrapped = DropObjectInfos(venv)
    wrapped.reset()
    *_, info = wrapped.step(np.zeros((2, 1), np.float32))
    assert "final_obs" not in info and "_final_obs" not in info
    assert "final_info" in info and info["_final_info"].tolist() == [True, True]


def test_reached_end_flags_the_finish_line_only() -> None:
    from goal_rl.tasks.walker.expert import load_expert

    expert = load_expert("a2c")
    env = ReachedEnd(make_walker())
    obs, _ = env.reset(seed=1000)
    flags = []
    while True:
        obs, _, terminated, truncated, info = env.step(np.asarray(expert(obs), np.float32))
        flags.append(info["reached_end"])
        if terminated or truncated:
            break
    assert terminated and flags[-1] == 1.0 and set(flags[:-1]) == {0.0}
    env.reset(seed=0)
    fall = None
    for _ in range(300):  # full torque on every joint: the walker falls over
        *_, terminated, truncated, info = env.step(np.array([1.0, -1.0, 1.0, -1.0], np.float32))
        if terminated:
            fall = info["reached_end"]
            break
    assert fall == 0.0
