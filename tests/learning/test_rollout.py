"""Tests for goal_rl.learning.rollout: the one episode loop, its drivers and policies.

Each loop result is checked against a plain loop written out here on the same seeded env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import goal_rl.envs  # noqa: F401  (registers goal_rl/ButtonFood-v0)
from goal_rl.engines.common import init_weights
from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.rollout import (
    AgentPolicy,
    ExpertPolicy,
    Policy,
    as_scalar,
    clip_actions,
    episode_seed,
    play,
    play_lockstep,
    run_episodes,
)
from goal_rl.model.lif import LIFParams
from goal_rl.model.network import SpikingNetwork

BF = "goal_rl/ButtonFood-v0"
MC = "MountainCarContinuous-v0"
ANGLES = [35.0, 80.0, 125.0, 150.0]


def bf_agent(seed: int = 0) -> SpikingAgent:
    w = init_weights(80, 60, 2, sigma_inp=5.0, sigma_trg=3.0, sigma_rec=1.0,
                     rng=np.random.default_rng(seed))
    w["w_out"] = w["w_out"] * 60.0  # the agent moves visibly
    return SpikingAgent(SpikingNetwork(w, LIFParams(tau_m=6.0, tau_o=10.0)),
                        action_low=-10.0, action_high=10.0)


def env_expert(obs, env):
    return env.unwrapped.expert_action()


def angle(i: int) -> dict:
    return {"angle": ANGLES[i % len(ANGLES)]}


class Countdown(gym.Env):
    """Episode of ``options["length"]`` steps; observation ``[t, length]``, reward t + 1."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0.0, 100.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.t = self.length = 0
        self.actions: list[np.ndarray] = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, int(options["length"])
        return np.array([0.0, self.length], np.float32), {"seed": seed}

    def step(self, action):
        self.actions.append(np.asarray(action))
        self.t += 1
        return (np.array([self.t, self.length], np.float32), float(self.t),
                self.t >= self.length, False, {"t": self.t})


# ------------------------------------------------------------------------------ helpers
def test_small_helpers() -> None:
    assert episode_seed(None, 3) is None and episode_seed(10, 3) == 13
    for value, expected in ((True, True), (3, 3), (2.5, 2.5), (np.float32(0.25), 0.25),
                            (np.bool_(True), True), (np.array([1.5]), 1.5),
                            (torch.tensor(2.0), 2.0)):
        out = as_scalar(value)
        assert out == expected and type(out) is type(expected), value
    np.testing.assert_array_equal(as_scalar(np.array([1, 2])), [1, 2])
    np.testing.assert_array_equal(clip_actions(np.array([-3.0, 0.5, 3.0]), -1.0, 2.0),
                                  [-1.0, 0.5, 2.0])
    t = clip_actions(torch.tensor([-3.0, 3.0]), torch.tensor(-1.0), None)
    assert t.tolist() == [-1.0, 3.0]
    with pytest.raises(NotImplementedError):
        Policy().step([], [], np.zeros(0, bool))


# ------------------------------------------------------------------------------ the loop
def test_agent_episodes_equal_a_hand_written_loop() -> None:
    """play + AgentPolicy: the returns, lengths and final infos of a plain seeded loop."""
    w = init_weights(2, 40, 1, sigma_inp=5.0, sigma_trg=3.0, sigma_rec=1.0,
                     rng=np.random.default_rng(3))
    agent = SpikingAgent(SpikingNetwork(w, LIFParams(tau_m=2.0, tau_o=3.0)),
                         obs_scale=[2.0, 20.0], action_low=-1.0, action_high=1.0)
    episodes = play(gym.make(MC), AgentPolicy(agent), 3, 5)
    env = gym.make(MC)
    for i, ep in enumerate(episodes):
        obs, _ = env.reset(seed=5 + i)
        state, total, steps = None, 0.0, 0
        while True:
            a, state = agent.act(obs[None], state)
            obs, r, term, trunc, info = env.step(a[0])
            total, steps = total + float(r), steps + 1
            if term or trunc:
                break
        assert (ep.index, ep.seed, ep.length) == (i, 5 + i, steps)
        assert ep.total_reward == total  # bit for bit
        assert ep.info == info
    assert len({ep.total_reward for ep in episodes}) == 3  # the seeds matter
    assert all(ep.total_reward < 0 for ep in episodes)  # the agent pushes (costs reward)


def test_lockstep_batch_equals_a_hand_written_batch_loop() -> None:
    """run_episodes on 3 envs: the network steps the whole batch, finished envs included."""
    agent = bf_agent(1)
    envs = [gym.make(BF) for _ in range(3)]
    episodes = run_episodes(envs, AgentPolicy(agent, record_actions=True), [0, 1, 2],
                            options=[angle(k) for k in range(3)], indices=[7, 8, 9],
                            probes={"pos": lambda env: env.unwrapped.agent.copy()})
    ref_envs = [gym.make(BF) for _ in range(3)]
    obs = np.stack([e.reset(seed=k, options=angle(k))[0] for k, e in enumerate(ref_envs)])
    alive, totals, acts = np.ones(3, bool), [0.0] * 3, [[], [], []]
    paths = [[e.unwrapped.agent.copy()] for e in ref_envs]
    state = None
    while alive.any():
        a, state = agent.act(obs, state)
        for k in np.flatnonzero(alive):
            acts[k].append(a[k])
            obs[k], r, term, trunc, _ = ref_envs[k].step(a[k])
            totals[k] += float(r)
            paths[k].append(ref_envs[k].unwrapped.agent.copy())
            alive[k] = not (term or trunc)
    for k, ep in enumerate(episodes):
        assert ep.index == 7 + k and ep.total_reward == totals[k]
        np.testing.assert_array_equal(ep.records["action"], np.stack(acts[k]))
        np.testing.assert_array_equal(ep.records["pos"], np.stack(paths[k]))
        assert ep.records["pos"].shape == (ep.length + 1, 2)


def test_expert_recording_and_seeding() -> None:
    """ExpertPolicy records what the expert saw and did; episode i is reset with seed + i."""
    env = gym.make(BF)
    eps = play(env, ExpertPolicy(env_expert, lambda o, e: e.unwrapped.hint()), 2, 10,
               options_fn=angle, record_obs=True)
    again = play(env, ExpertPolicy(env_expert), 1, 10, options_fn=angle, first_index=1)
    assert again[0].index == 1 and again[0].seed == 11
    assert again[0].total_reward == eps[1].total_reward
    for i, ep in enumerate(eps):
        obs, _ = env.reset(seed=10 + i, options=angle(i))
        total, rows, labels = 0.0, [], []
        while True:
            a = env.unwrapped.expert_action()
            rows.append(obs)
            labels.append(a)
            obs, r, term, trunc, _ = env.step(a)
            total += float(r)
            if term or trunc:
                break
        assert ep.total_reward == total and ep.length == len(rows) == 78
        np.testing.assert_array_equal(ep.records["obs"], np.stack(rows))
        np.testing.assert_array_equal(ep.records["label"], np.stack(labels))
        assert ep.records["hint"].shape == (78, 2) and ep.records["hint"][0].tolist() == [1, 0]


def test_max_steps_reset_callback_frames_and_errors() -> None:
    env = Countdown()
    resets: list[int] = []
    policy = ExpertPolicy(lambda obs, env: np.array([obs[0] / 10], np.float32),
                          reset=lambda: resets.append(1))
    eps = play(env, policy, 3, None, options_fn=lambda i: {"length": [2, 9, 4][i]},
               max_steps=5)
    assert [ep.length for ep in eps] == [2, 5, 4] and len(resets) == 3
    assert [ep.total_reward for ep in eps] == [3.0, 15.0, 10.0]
    assert eps[0].seed is None and eps[1].info == {"t": 5}
    np.testing.assert_array_equal(eps[1].records["label"][:, 0],
                                  np.arange(5, dtype=np.float32) / 10)
    bad = ExpertPolicy(lambda obs, env: np.zeros(1 + int(obs[0] >= 2), np.float32))
    with pytest.raises(ValueError, match="expert returned 2 action values in episode 0, "
                                         "step 2; earlier 1"):
        play(Countdown(), bad, 1, 0, options_fn=lambda i: {"length": 5})
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        play(env, policy, 1, 0, options_fn=lambda i: {"length": 5}, max_steps=0)
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        play(env, policy, 0, 0)
    with pytest.raises(ValueError, match="one entry per env"):
        run_episodes([env], policy, [0, 1])
    frames = play(gym.make(BF, render_mode="rgb_array"), AgentPolicy(bf_agent()), 2, 0,
                  render=True)
    assert len(frames[0].frames) == frames[0].length and frames[1].frames == []
    assert frames[0].frames[0].shape == (200, 200, 3)


def test_dagger_mixing_beta_one_is_the_expert() -> None:
    """AgentPolicy with beta = 1 executes the expert's labels: the expert's own episodes."""
    agent = bf_agent()
    mixed = AgentPolicy(agent, obs_dtype=np.float32, cast_actions=True, expert=env_expert,
                        beta=1.0, rng=np.random.default_rng(0))
    got = play_lockstep(BF, mixed, 2, 3, options_fn=angle)
    ref = play(gym.make(BF), ExpertPolicy(env_expert), 2, 3, options_fn=angle)
    assert [ep.total_reward for ep in got] == [ep.total_reward for ep in ref]
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g.records["label"], r.records["label"])
    with pytest.raises(ValueError, match="beta > 0 needs an expert and an rng"):
        AgentPolicy(agent, beta=0.5)
    with pytest.raises(ValueError, match="takes 80 inputs but the env's observation has 2"):
        play(Countdown(), AgentPolicy(agent), 1, 0, options_fn=lambda i: {"length": 2})


@pytest.mark.parametrize(("expert", "message"), [
    (lambda o, e: np.zeros(3), r"env 'MountainCarContinuous-v0', episode 0, step 0: the "
                               r"expert returned 3 action value\(s\) but the action space "
                               r"takes shape \(1,\)"),
    (lambda o, e: np.array([np.nan]), r"step 0: the expert returned a non-finite action \[nan\]"),
])
def test_expert_boundary_errors_are_one_line(expert, message) -> None:
    import gymnasium as gym

    from goal_rl.learning.demos import record_demonstrations

    with pytest.raises(ValueError, match=message) as info:
        record_demonstrations(gym.make("MountainCarContinuous-v0"), expert, 1, 0, max_steps=5)
    assert "\n" not in str(info.value)


def test_out_of_range_expert_actions_are_clipped_with_one_warning() -> None:
    import gymnasium as gym

    from goal_rl.learning.demos import record_demonstrations

    with pytest.warns(UserWarning, match="outside the action space bounds") as caught:
        demos = record_demonstrations(gym.make("MountainCarContinuous-v0"),
                                      lambda o, e: np.array([5.0]), 2, 0, max_steps=4)
    assert len([w for w in caught if "outside" in str(w.message)]) == 1
    np.testing.assert_array_equal(demos.actions, np.ones((8, 1), np.float32))


def test_discrete_actions_one_hot_labels_and_argmax() -> None:
    """Discrete(n): n outputs, one-hot expert labels, the argmax acts (start honoured);
    a value outside the space is one line naming it."""
    import gymnasium as gym
    from gymnasium.spaces import Discrete

    from goal_rl.learning.demos import record_demonstrations
    from goal_rl.learning.rollout import action_size, discrete_action, one_hot_label

    space = Discrete(3, start=-1)
    assert action_size(space) == 3
    np.testing.assert_array_equal(one_hot_label(1, space), [0.0, 0.0, 1.0])
    assert discrete_action(np.array([0.1, 0.7, 0.2]), space) == 0
    with pytest.raises(ValueError, match=r"returned 2 but the action space .* -1\.\.1"):
        one_hot_label(2, space)
    with pytest.raises(ValueError, match="takes one integer"):
        one_hot_label(0.5, space)

    def lean(obs, env):
        return int(obs[2] + 0.5 * obs[3] > 0)

    demos = record_demonstrations(gym.make("CartPole-v1"), lean, 1, 0, max_steps=30)
    assert demos.act_dim == 2 and demos.n_steps == 30
    assert set(demos.actions.sum(axis=1)) == {1.0}  # one-hot rows
    with pytest.raises(ValueError, match="CartPole-v1', episode 0, step 0: the expert "
                                         "returned 7"):
        record_demonstrations(gym.make("CartPole-v1"), lambda o, e: 7, 1, 0, max_steps=3)


def test_discrete_agent_acts_by_argmax_in_one_and_many_envs() -> None:
    import gymnasium as gym

    from goal_rl.learning.cloning import clone
    from goal_rl.learning.config import CloneConfig
    from goal_rl.learning.demos import record_demonstrations
    from goal_rl.learning.evaluation import evaluate

    def lean(obs, env):
        return int(obs[2] + 0.5 * obs[3] > 0)

    demos = record_demonstrations(gym.make("CartPole-v1"), lean, 2, 0, max_steps=100)
    agent = clone(demos, CloneConfig(n_rec=40, epochs_rec=2, normalize_obs=True,
                                     sigma_inp=6.0, sigma_trg=3.0), progress=False).agent
    assert agent.n_out == 2
    one = evaluate(agent, "CartPole-v1", 4, 1000, num_envs=1)
    four = evaluate(agent, "CartPole-v1", 4, 1000, num_envs=4, exact=True)
    assert one["episode_returns"] == four["episode_returns"]
    assert min(one["episode_lengths"]) >= 8  # it acts (an episode lasts at least 8 steps)


def test_dict_observations_are_flattened_with_gymnasiums_utilities() -> None:
    import gymnasium as gym
    from gymnasium import spaces

    from goal_rl.learning.demos import record_demonstrations
    from goal_rl.learning.rollout import flat_obs

    class DictObs(gym.ObservationWrapper):
        def __init__(self, env):
            super().__init__(env)
            self.observation_space = spaces.Dict({"pos": spaces.Box(-2, 1, (1,)),
                                                  "vel": spaces.Box(-1, 1, (1,))})

        def observation(self, obs):
            return {"pos": obs[:1], "vel": obs[1:]}

    env = DictObs(gym.make("MountainCarContinuous-v0"))
    demos = record_demonstrations(env, lambda o, e: np.array([1.0 if o["vel"][0] >= 0
                                                             else -1.0]), 1, 0, max_steps=20)
    plain = record_demonstrations(gym.make("MountainCarContinuous-v0"),
                                  lambda o, e: np.array([1.0 if o[1] >= 0 else -1.0]), 1, 0,
                                  max_steps=20)
    assert demos.obs_dim == 2
    np.testing.assert_array_equal(demos.observations, plain.observations)  # keys sorted
    np.testing.assert_array_equal(flat_obs({"vel": [3.0], "pos": [4.0]},
                                           env.observation_space), [4.0, 3.0])
