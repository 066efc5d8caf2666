"""Tests for goal_rl.envs.button_food and its Gymnasium registration."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from goal_rl import envs
from goal_rl.envs.button_food import ButtonFoodEnv, population_code

CENTRES = np.linspace(-1.0, 1.0, 20)


def code(x: float) -> np.ndarray:
    """Reference encoding of one clipped coordinate, written out independently."""
    x = min(max(x, -1.0), 1.0)
    return np.exp(-((x - CENTRES) ** 2) / (2 * 0.1**2))


def run_expert(env: gym.Env, angle: float) -> tuple[int, bool, bool, dict, float]:
    env.reset(seed=0, options={"angle": angle})
    steps, total = 0, 0.0
    while True:
        _, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        steps += 1
        total += reward
        if terminated or truncated:
            return steps, terminated, truncated, info, total


def test_check_env_passes() -> None:
    for mode in (None, "rgb_array"):
        env = gym.make("goal_rl/ButtonFood-v0", render_mode=mode).unwrapped
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env)
        # The only remark allowed: the action bound is not [-1, 1] (by design: speeds up to 10).
        others = [str(w.message) for w in caught if "normalized space" not in str(w.message)]
        assert others == []


def test_spaces_and_metadata() -> None:
    env = ButtonFoodEnv()
    assert env.observation_space.shape == (80,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space.shape == (2,)
    assert np.all(env.action_space.low == -10) and np.all(env.action_space.high == 10)
    assert env.metadata == {"render_modes": ["rgb_array"], "render_fps": 30}
    assert env.step_scale == pytest.approx(0.01)


def test_hand_driven_trajectory_numbers() -> None:
    env = ButtonFoodEnv()
    obs, info = env.reset(options={"angle": 90.0})
    np.testing.assert_allclose(env.food, [0.0, 0.7], atol=1e-12)
    np.testing.assert_allclose(env.agent, [0.0, 0.0])
    assert info == {"unlocked": False, "distance": pytest.approx(0.7), "score": 0.0,
                    "angle": 90.0, "t": 0}

    # Down towards the button at 0.06 per step: unlocks on step 3 (0.02 from the button).
    for k, (dist_button, unlocked) in enumerate([(0.14, False), (0.08, False), (0.02, True)], 1):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, -6.0], np.float32))
        np.testing.assert_allclose(env.agent, [0.0, -0.06 * k], atol=1e-6)
        assert np.linalg.norm(env.button - env.agent) == pytest.approx(dist_button, abs=1e-6)
        assert info["unlocked"] is unlocked
        assert info["distance"] == pytest.approx(0.7 + 0.06 * k, abs=1e-6)
        assert reward == pytest.approx(1 / (0.7 + 0.06 * k) if unlocked else 0.0, rel=1e-5)
        assert not terminated and not truncated
    assert info["score"] == pytest.approx(1 / 0.88, rel=1e-5)

    # Up at 0.1 per step: 1/d rises, and step 9 lands 0.02 from the food: terminates,
    # paying 1 / 0.03 (reward floor at the food radius).
    for k in range(1, 10):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 10.0], np.float32))
        d = abs(0.7 - (-0.18 + 0.1 * k))
        assert info["distance"] == pytest.approx(d, abs=1e-6)
        if k < 9:
            assert reward == pytest.approx(1 / d, rel=1e-5)
            assert not terminated
    assert terminated and not truncated
    assert reward == pytest.approx(1 / 0.03)
    assert info["score"] == pytest.approx(1 / 0.03)
    assert info["t"] == 12


def test_raw_reward_without_floor() -> None:
    env = ButtonFoodEnv(reward_floor_distance=None)
    env.reset(options={"angle": 90.0})
    for _ in range(3):
        env.step(np.array([0.0, -6.0]))
    for _ in range(9):
        _, reward, terminated, _, _ = env.step(np.array([0.0, 10.0]))
    assert terminated and reward == pytest.approx(1 / 0.02, rel=1e-4)


def test_locked_food_pays_nothing_and_does_not_terminate() -> None:
    env = ButtonFoodEnv()
    env.reset(options={"angle": 90.0})
    for _ in range(7):  # straight to the food without pressing the button
        _, reward, terminated, _, info = env.step(np.array([0.0, 10.0]))
        assert reward == 0.0 and not terminated
    assert info["distance"] == pytest.approx(0.0, abs=1e-6)
    assert info["unlocked"] is False and info["score"] == 0.0


def test_actions_are_clipped_and_checked() -> None:
    env = ButtonFoodEnv()
    env.reset(options={"angle": 90.0})
    env.step(np.array([100.0, -100.0]))
    np.testing.assert_allclose(env.agent, [0.1, -0.1])
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="2 components"):
        env.step(np.zeros(3))


def test_observation_encoding_at_known_points() -> None:
    env = ButtonFoodEnv()
    obs, _ = env.reset(options={"angle": 90.0})
    assert obs.shape == (80,) and obs.dtype == np.float32
    # food - agent = (0, 0.7), button - agent = (0, -0.2)
    for k, x in enumerate([0.0, 0.7, 0.0, -0.2]):
        np.testing.assert_allclose(obs[20 * k:20 * (k + 1)], code(x), rtol=1e-6, atol=1e-7)
    # Hand-computed: centre 16 is 13/19 = 0.6842, 0.0158 from 0.7.
    assert int(np.argmax(obs[20:40])) == 16
    assert obs[36] == pytest.approx(np.exp(-((0.7 - 13 / 19) ** 2) / 0.02), rel=1e-6)
    assert obs[36] == pytest.approx(0.98761, abs=1e-5)
    # 0 sits between centres 9 and 10 (±1/19): both respond exp(-(1/19)^2 / 0.02) = 0.87066.
    assert obs[9] == pytest.approx(0.87066, abs=1e-5) and obs[10] == pytest.approx(obs[9])

    # Clipping: agent at (-0.5, 0) with food at (0.7, 0): food-x = 1.2 → encoded as 1.0.
    obs, _ = env.reset(options={"angle": 0.0})
    for _ in range(5):
        obs, *_ = env.step(np.array([-10.0, 0.0]))
    np.testing.assert_allclose(env.agent, [-0.5, 0.0], atol=1e-9)
    np.testing.assert_allclose(obs[:20], code(1.0), rtol=1e-6, atol=1e-7)
    assert obs[19] == pytest.approx(1.0)
    np.testing.assert_allclose(obs[40:60], code(0.5), rtol=1e-6, atol=1e-7)


def test_population_code_shape_and_order() -> None:
    out = population_code(np.array([-1.0, 1.0]), CENTRES, 0.1)
    assert out.shape == (40,) and out.dtype == np.float32
    assert out[0] == pytest.approx(1.0) and out[39] == pytest.approx(1.0)
    assert out[19] == pytest.approx(np.exp(-200.0), abs=1e-30)


def test_random_angle_uses_np_random() -> None:
    env = ButtonFoodEnv()
    angles = [env.reset(seed=s)[1]["angle"] for s in range(200)]
    assert all(30.0 <= a <= 150.0 for a in angles)
    assert max(angles) - min(angles) > 100
    assert env.reset(seed=5)[1]["angle"] == angles[5]
    with pytest.raises(ValueError, match="finite"):
        env.reset(options={"angle": float("nan")})


@pytest.mark.parametrize("angle", [30.0, 90.0, 150.0])
def test_expert_reaches_food(angle: float) -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    steps, terminated, truncated, info, _ = run_expert(env, angle)
    assert terminated and not truncated and steps <= 80
    assert info["unlocked"] and info["distance"] <= 0.03
    assert info["score"] == pytest.approx(1 / 0.03)


def test_expert_reaches_food_on_all_test_angles() -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    results = [run_expert(env, a) for a in np.linspace(30.0, 150.0, 120)]
    assert all(term and not trunc for _, term, trunc, _, _ in results)
    assert np.mean([info["score"] for *_, info, _ in results]) == pytest.approx(1 / 0.03)


def test_expert_geometry_and_hint() -> None:
    env = ButtonFoodEnv()
    env.reset(options={"angle": 90.0})
    # From the start: the button (0.2 away) in 30 steps → 0.2 / (30 * 0.01) per axis.
    np.testing.assert_allclose(env.expert_action(), [0.0, -0.2 / 0.3], rtol=1e-6)
    np.testing.assert_array_equal(env.hint(), [1.0, 0.0])
    assert env.hint().dtype == np.float32
    # Constant velocity while locked; unlocks on step 23 (0.2 - 23 * 0.2/30 < 0.05).
    for t in range(1, 24):
        action = env.expert_action()
        np.testing.assert_allclose(action, [0.0, -0.2 / 0.3], rtol=1e-5)
        _, _, _, _, info = env.step(action)
        assert info["unlocked"] is (t >= 23)
    np.testing.assert_array_equal(env.hint(), [0.0, 1.0])
    # Unlocked: straight at the food, covering the distance in the 57 remaining steps.
    expected = (env.food - env.agent) / (57 * 0.01)
    np.testing.assert_allclose(env.expert_action(), expected, rtol=1e-5)


def test_expert_labels_off_course_states() -> None:
    env = ButtonFoodEnv()
    env.reset(options={"angle": 45.0})
    for _ in range(40):  # wander away; still locked, button phase over
        env.step(np.array([3.0, 3.0]))
    assert not env.unlocked and env.t == 40
    action = env.expert_action()
    direction = (env.button - env.agent) / np.linalg.norm(env.button - env.agent)
    np.testing.assert_allclose(action / np.linalg.norm(action), direction, rtol=1e-5)
    assert np.max(np.abs(action)) == pytest.approx(10.0)  # capped at the action bound


def test_rgb_array_render() -> None:
    env = ButtonFoodEnv(render_mode="rgb_array")
    env.reset(options={"angle": 90.0})
    img = env.render()
    assert img.shape == (200, 200, 3) and img.dtype == np.uint8
    assert tuple(img[100, 100]) == (40, 80, 220)  # agent at the centre
    assert tuple(img[120, 100]) == (210, 50, 50)  # locked button at (0, -0.2)
    assert tuple(img[30, 100]) == (150, 150, 150)  # locked food at (0, 0.7)
    for _ in range(3):
        env.step(np.array([0.0, -6.0]))
    img = env.render()
    # button pixel beside the agent (now at (0, -0.18)): x = 0.04, y = -0.2
    assert tuple(img[120, 104]) == (60, 170, 60) and tuple(img[30, 100]) == (240, 140, 20)
    assert tuple(img[118, 100]) == (40, 80, 220)
    assert ButtonFoodEnv().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        ButtonFoodEnv(render_mode="human")


def test_registration_and_reimport_is_quiet() -> None:
    spec = gym.spec("goal_rl/ButtonFood-v0")
    assert spec.max_episode_steps == 80
    assert spec.entry_point == "goal_rl.envs.button_food:ButtonFoodEnv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(envs)
    assert gym.spec("goal_rl/ButtonFood-v0").max_episode_steps == 80


def test_gym_make_in_fresh_interpreter() -> None:
    code_ = textwrap.dedent("""
        import json, warnings
        import gymnasium as gym
        import numpy as np
        env = gym.make("goal_rl.envs:goal_rl/ButtonFood-v0")
        obs, info = env.reset(seed=3)
        steps = 0
        while True:
            obs, r, term, trunc, info = env.step(np.zeros(2, dtype=np.float32))
            steps += 1
            if term or trunc:
                break
        print(json.dumps({"obs": list(obs.shape), "steps": steps, "trunc": trunc,
                          "term": term, "max": env.spec.max_episode_steps}))
    """)
    out = subprocess.run([sys.executable, "-c", code_], capture_output=True, text=True,
                         check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"obs": [80], "steps": 80, "trunc": True, "term": False, "max": 80}


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="button_steps"):
        ButtonFoodEnv(button_steps=90)
    with pytest.raises(ValueError, match="food_radius"):
        ButtonFoodEnv(food_radius=0.0)
    with pytest.raises(ValueError, match="min_angle"):
        ButtonFoodEnv(min_angle=100, max_angle=50)
