"""envs.fast_walker: the faster BipedalWalker must step exactly like Gymnasium's."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.box2d.bipedal_walker import BipedalWalker

from goal_rl.envs.fast_walker import _RAYS, FastBipedalWalker, make_walker
from goal_rl.tasks.walker.expert import evaluate_expert
from goal_rl.tasks.walker.pipeline import make_env, make_expert


def _same_step(fast: tuple, ref: tuple, where: str) -> None:
    obs_f, rew_f, term_f, trunc_f, info_f = fast
    obs_r, rew_r, term_r, trunc_r, info_r = ref
    assert obs_f.dtype == obs_r.dtype == np.float32, where
    assert obs_f.tobytes() == obs_r.tobytes(), where
    assert rew_f == rew_r and type(rew_f) is type(rew_r), (where, rew_f, rew_r)
    assert (term_f, trunc_f, info_f) == (term_r, trunc_r, info_r), where


def _play_both(policy: Any, seeds: list[int], max_steps: int = 1600) -> dict[str, int]:
    """Play the same seeded episodes in both envs, asserting every step is equal."""
    fast, ref = make_env(), make_env(fast=False)
    counts = {"steps": 0, "terminated": 0, "reached_end": 0}
    for seed in seeds:
        obs_f, _ = fast.reset(seed=seed)
        obs_r, _ = ref.reset(seed=seed)
        assert obs_f.tobytes() == obs_r.tobytes()
        for t in range(max_steps):
            action = policy(obs_r, ref, t)
            out_f, out_r = fast.step(action), ref.step(action)
            _same_step(out_f, out_r, f"seed {seed} step {t}")
            counts["steps"] += 1
            if out_r[2] or out_r[3]:
                counts["terminated"] += int(out_r[2])
                counts["reached_end"] += int(out_r[4]["reached_end"])
                break
            obs_r = out_r[0]
    return counts


def test_make_env_builds_the_fast_class_with_the_registered_spec() -> None:
    fast, ref = make_env(), make_env(fast=False)
    assert type(fast.unwrapped) is FastBipedalWalker
    assert type(ref.unwrapped) is not FastBipedalWalker
    for env in (fast, ref):
        assert env.spec.id == "BipedalWalker-v3"
        assert env.spec.max_episode_steps == 1600
    assert fast.observation_space == ref.observation_space
    assert fast.action_space == ref.action_space


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_actions_step_bit_identically(dtype: type) -> None:
    """Random actions, partly outside [-1, 1] and partly exactly 0, in both dtypes
    (Gymnasium's reward is a NumPy scalar of the action's dtype): equal obs bytes,
    rewards of the same value and type, equal terminations, over falls and resets."""
    rng = np.random.default_rng(3)

    def policy(obs: np.ndarray, env: Any, t: int) -> np.ndarray:
        a = rng.normal(0.0, 0.9, 4)
        a[rng.random(4) < 0.1] = 0.0
        return a.astype(dtype)

    counts = _play_both(policy, seeds=[0, 1, 2], max_steps=400)
    assert counts["steps"] > 300
    assert counts["terminated"] >= 1  # a fall (reward -100) was compared too
    assert counts["reached_end"] == 0  # ... and a fall is not a finish


def test_expert_episode_to_the_finish_is_bit_identical() -> None:
    """The shipped expert walks one whole episode: equal steps up to the finish line
    (termination at the end of the terrain, reached_end = 1) in both envs."""
    expert = make_expert("a2c")
    counts = _play_both(lambda obs, env, t: expert(obs, env), seeds=[1000])
    assert counts["reached_end"] == 1
    assert 800 < counts["steps"] < 1600


def test_rays_are_cast_in_a_terrain_only_world() -> None:
    """The lidar's ray world holds one edge per terrain edge and nothing else, is rebuilt
    for each new terrain, and its fractions equal those cast in the physics world with
    Gymnasium's callbacks (the legs the rays cross included)."""
    env = FastBipedalWalker()
    env.reset(seed=2)
    world = env._ray_world
    assert world is not None
    edges = [f for b in world.bodies for f in b.fixtures]
    assert len(edges) == len(env.terrain) == len(env.terrain_x) - 1
    env.step(np.array([0.3, -0.2, 0.1, 0.4], dtype=np.float32))
    pos = env.hull.position
    ours = env._lidar(pos, pos[0], pos[1])
    for cb, (dx, dy) in zip(env.lidar, _RAYS):
        cb.fraction = 1.0
        env.world.RayCast(cb, pos, (pos[0] + dx, pos[1] - dy))
    assert ours == [cb.fraction for cb in env.lidar]
    assert min(ours) < 1.0  # the terrain is within range
    env.reset(seed=3)
    assert env._ray_world is not world


def test_hardcore_terrain_steps_bit_identically() -> None:
    """Hardcore terrain (obstacles are polygons): the rays go to the physics world, and
    the steps are still Gymnasium's."""
    fast, ref = FastBipedalWalker(hardcore=True), BipedalWalker(hardcore=True)
    rng = np.random.default_rng(4)
    steps = 0
    for seed in (0, 1):
        obs_f, _ = fast.reset(seed=seed)
        obs_r, _ = ref.reset(seed=seed)
        assert obs_f.tobytes() == obs_r.tobytes()
        assert fast._ray_world is None
        for t in range(300):
            action = rng.uniform(-1, 1, 4).astype(np.float32)
            out_f, out_r = fast.step(action), ref.step(action)
            _same_step(out_f, out_r, f"hardcore seed {seed} step {t}")
            steps += 1
            if out_r[2]:
                break
    assert steps > 100


def test_rendered_frames_are_identical() -> None:
    """rgb_array frames (terrain, walker and lidar rays) match Gymnasium's."""
    fast, ref = make_env("rgb_array"), make_env("rgb_array", fast=False)
    fast.reset(seed=5)
    ref.reset(seed=5)
    action = np.array([0.5, -0.3, 0.2, 0.8], dtype=np.float32)
    for _ in range(15):
        fast.step(action)
        ref.step(action)
    frame_f, frame_r = fast.render(), ref.render()
    assert frame_f.shape == frame_r.shape and frame_f.ndim == 3
    assert np.array_equal(frame_f, frame_r)
    fast.close()
    ref.close()


def test_make_walker_is_gym_make_of_the_registered_spec() -> None:
    """make_walker: the registered spec and wrappers, on either class; the expert's
    evaluation (which runs on it) gives its known return on the shipped expert."""
    for fast, cls in ((True, FastBipedalWalker), (False, BipedalWalker)):
        env = make_walker(fast=fast)
        assert type(env.unwrapped) is cls
        assert env.spec is not None and env.spec.id == "BipedalWalker-v3"
        assert isinstance(env, gym.wrappers.TimeLimit) and env.spec.max_episode_steps == 1600
        obs, _ = env.reset(seed=0)
        assert obs.shape == (24,) and obs.dtype == np.float32
    res = evaluate_expert("a2c", n_episodes=1, seed=1000)
    assert res["success_rate"] == 1.0 and res["mean_reward"] > 295
