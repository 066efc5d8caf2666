"""Tests for goal_rl.agent: SpikingAgent (predict, reset, save/load) and evaluate."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import goal_rl.envs  # noqa: F401  (registers goal_rl/ButtonFood-v0)
from goal_rl.engines.common import init_weights
from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.evaluation import evaluate
from goal_rl.model.lif import LIFParams
from goal_rl.model.network import SpikingNetwork

BF = "goal_rl/ButtonFood-v0"


def make_agent(n_inp: int = 80, n_out: int = 2, n_rec: int = 40, seed: int = 0,
               **kwargs) -> SpikingAgent:
    w = init_weights(n_inp, n_rec, n_out, sigma_inp=5.0, sigma_trg=3.0, sigma_rec=1.0,
                     rng=np.random.default_rng(seed))
    w["w_out"] = w["w_out"] * 20.0  # visible actions
    return SpikingAgent(SpikingNetwork(w, LIFParams(tau_m=6.0, tau_o=10.0)), **kwargs)


class Countdown(gym.Env):
    """Episode of ``length`` steps (``options["length"]``, else 1..5 from np_random).

    Observation ``[t, length, 1]`` (t = steps taken), reward 1 per step, so a return
    equals the episode length and a reset observation is recognisable (t = 0)."""

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0.0, 100.0, (3,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.t = self.length = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.length, 1.0], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.length = int(options["length"]) if options else int(self.np_random.integers(1, 6))
        return self._obs(), {"length": self.length}

    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, self.t >= self.length, False, {"length": self.length,
                                                                  "t": self.t}


class SpyAgent(SpikingAgent):
    """Records what ``act`` sees: observations and episode_start masks."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def act(self, obs, state=None, episode_start=None):
        n = obs.shape[0]
        mask = np.ones(n, bool) if episode_start is None else np.asarray(episode_start, bool)
        self.calls.append((np.array(obs), mask.copy()))
        return super().act(obs, state, episode_start)


# ------------------------------------------------------------------------------ predict
def test_predict_shapes_and_types() -> None:
    agent = make_agent()
    obs = np.random.default_rng(0).random(80, dtype=np.float32)
    a, state = agent.predict(obs)
    assert isinstance(a, np.ndarray) and a.shape == (2,) and a.dtype == np.float32
    assert state.v.shape == (1, 40)
    batch = np.random.default_rng(1).random((4, 80), dtype=np.float32)
    a, state = agent.predict(batch, None, episode_start=np.ones(4, bool))
    assert a.shape == (4, 2) and state.z.shape == (4, 40)
    at, st = agent.predict(torch.as_tensor(batch))
    assert isinstance(at, torch.Tensor) and at.shape == (4, 2)
    # NumPy input on a CPU agent runs the NumPy path; float32 products may round differently
    np.testing.assert_allclose(at.numpy(), a, rtol=0, atol=1e-5)


def float64_agent(**kwargs) -> SpikingAgent:
    agent = make_agent(**kwargs)
    agent.network.double()
    return agent.to("cpu")


def test_numpy_path_equals_torch_path_in_float64() -> None:
    """300 steps of random observations with resets: identical spikes, same actions."""
    agent = float64_agent(obs_shift=0.3, obs_scale=2.0, obs_clip=1.5, action_low=-0.5,
                          action_high=0.5)
    rng = np.random.default_rng(3)
    obs = rng.random((300, 3, 80))
    starts = rng.random((300, 3)) < 0.02
    st_t, st_n, n_spikes = None, None, 0
    for t in range(300):
        a_t, st_t = agent.act(torch.as_tensor(obs[t]), st_t, torch.as_tensor(starts[t]))
        a_n, st_n = agent.act(obs[t], st_n, starts[t])
        assert isinstance(a_n, np.ndarray) and isinstance(st_n.v, np.ndarray)
        np.testing.assert_array_equal(st_n.z, st_t.z.numpy())
        np.testing.assert_allclose(a_n, a_t.numpy(), rtol=0, atol=1e-12)
        for name in ("v", "s", "e", "r"):
            np.testing.assert_allclose(getattr(st_n, name), getattr(st_t, name).numpy(),
                                       rtol=0, atol=1e-9)
        n_spikes += int(st_n.z.sum())
    assert n_spikes > 1000  # the comparison covers an active network
    assert np.abs(a_n).max() <= 0.5


def test_numpy_step_without_traces_acts_the_same() -> None:
    """traces=False (evaluate's loop) leaves e untouched and changes nothing else."""
    agent = float64_agent()
    nv = agent._numpy_view()
    rng = np.random.default_rng(5)
    with_e, without_e = None, None
    for _ in range(50):
        obs = rng.random((2, 80))
        a1, with_e = agent._act_numpy(nv, obs, with_e, None)
        a2, without_e = agent._act_numpy(nv, obs, without_e, None, traces=False)
        np.testing.assert_array_equal(a1, a2)
        for name in ("v", "z", "s", "r"):
            np.testing.assert_array_equal(getattr(with_e, name), getattr(without_e, name))
    assert not without_e.e.any() and with_e.e.any()


def test_scalar_gives_python_scalars() -> None:
    from goal_rl.learning.rollout import as_scalar as _scalar

    for value, expected in ((True, True), (3, 3), (2.5, 2.5), (np.float32(0.25), 0.25),
                            (np.bool_(True), True), (np.array([1.5]), 1.5),
                            (torch.tensor(2.0), 2.0)):
        out = _scalar(value)
        assert out == expected and type(out) is type(expected), value
    np.testing.assert_array_equal(_scalar(np.array([1, 2])), [1, 2])


def test_numpy_and_torch_states_interchange() -> None:
    """A torch state can continue on the NumPy path and vice versa."""
    agent = float64_agent()
    rng = np.random.default_rng(4)
    obs = rng.random((20, 2, 80))
    ref = None
    for t in range(20):
        a_ref, ref = agent.act(obs[t], ref)
    mixed = None
    for t in range(20):
        x = torch.as_tensor(obs[t]) if t % 2 else obs[t]
        a_mix, mixed = agent.act(x, mixed)
    np.testing.assert_allclose(np.asarray(a_mix), a_ref, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(mixed.z), ref.z)


def test_evaluate_numpy_loop_matches_torch_loop() -> None:
    """evaluate (NumPy loop on CPU) gives the returns of a hand-written torch loop."""
    agent = float64_agent()
    res = evaluate(agent, BF, 3, 5)
    env = gym.make(BF)
    for i in range(3):
        obs, _ = env.reset(seed=5 + i)
        state, total, steps = None, 0.0, 0
        while True:
            a, state = agent.act(torch.as_tensor(obs, dtype=torch.float64)[None], state)
            a = a[0].clamp(-10.0, 10.0).numpy()
            obs, r, term, trunc, _ = env.step(a)
            total, steps = total + float(r), steps + 1
            if term or trunc:
                break
        assert res["episode_lengths"][i] == steps
        assert res["episode_returns"][i] == pytest.approx(total, abs=1e-6)
    env.close()


def test_episode_start_resets_only_marked_trials() -> None:
    agent = make_agent()
    rng = np.random.default_rng(2)
    seq = rng.random((6, 2, 80), dtype=np.float32)
    state = None
    for t in range(3):
        _, state = agent.predict(seq[t], state)
    # trial 0 restarts at t = 3, trial 1 carries on
    a_mixed, _ = agent.predict(seq[3], state, episode_start=[True, False])
    a_fresh, _ = agent.predict(seq[3][:1])
    _, st_keep = agent.predict(seq[3], state)
    assert not np.allclose(st_keep.v[0], agent.initial_state(1).v[0].numpy())
    # (batch 2 vs batch 1 may take other BLAS kernels: equal up to float32 rounding)
    np.testing.assert_allclose(a_mixed[0], a_fresh[0], rtol=0, atol=1e-6)
    a_cont, _ = agent.predict(seq[3], state)
    np.testing.assert_array_equal(a_mixed[1], a_cont[1])


def test_action_bounds_and_obs_transform() -> None:
    agent = make_agent(action_low=-0.01, action_high=0.02)
    a, _ = agent.predict(np.full((3, 80), 0.5, np.float32))
    assert a.min() >= -0.01 and a.max() <= 0.02
    shifted = make_agent(obs_shift=0.5, obs_scale=2.0, obs_clip=0.1)
    x = shifted.transform(torch.full((1, 80), 2.0))
    np.testing.assert_allclose(x.numpy(), 0.1)
    with pytest.raises(ValueError, match="obs_shift must have 80 values"):
        make_agent(obs_shift=np.zeros(3))
    with pytest.raises(ValueError, match="action_low must not exceed action_high"):
        make_agent(action_low=1.0, action_high=-1.0)


def test_input_size_mismatch_names_both_sizes() -> None:
    agent = make_agent(n_inp=24)
    with pytest.raises(ValueError, match=r"takes 24 inputs but the observation has 80 values"):
        agent.predict(np.zeros(80, np.float32))
    with pytest.raises(ValueError, match=r"24 inputs but .*ButtonFood-v0.* has 80 values"):
        evaluate(agent, BF, 1, 0)
    out_agent = make_agent(n_out=3)
    with pytest.raises(ValueError, match=r"3 outputs but env .* takes 2 action values"):
        evaluate(out_agent, BF, 2, 0, num_envs=2)


def test_save_load_round_trip_identical_actions(tmp_path) -> None:
    agent = make_agent(obs_shift=np.linspace(0, 1, 80), obs_scale=1.5, obs_clip=3.0,
                       action_low=-5.0, action_high=5.0, meta={"task": "test"})
    path = agent.save(tmp_path / "agent.pt")
    loaded = SpikingAgent.load(path)
    assert loaded.meta == {"task": "test"} and loaded.n_rec == 40
    seq = np.random.default_rng(3).random((10, 3, 80), dtype=np.float32)
    s1 = s2 = None
    for t in range(10):
        a1, s1 = agent.predict(seq[t], s1)
        a2, s2 = loaded.predict(seq[t], s2)
        np.testing.assert_array_equal(a1, a2)
    with pytest.raises(FileNotFoundError, match="no such agent file"):
        SpikingAgent.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot read agent file"):
        SpikingAgent.load(tmp_path / "junk.pt")


# ------------------------------------------------------------------------------ evaluate
def test_evaluate_keys_and_determinism_across_num_envs() -> None:
    agent = make_agent(action_low=-10, action_high=10)
    angles = [40.0, 75.0, 90.0, 120.0, 145.0]
    kw = dict(options_fn=lambda i: {"angle": angles[i]}, info_keys=("score", "angle"))
    r1 = evaluate(agent, BF, 5, 0, **kw)
    r3 = evaluate(agent, BF, 5, 0, num_envs=3, **kw)
    for key in ("mean_reward", "std_reward", "n_eval_episodes", "episode_returns",
                "episode_lengths", "mean_score", "episode_score", "wall_time_s"):
        assert key in r1
    assert r1["n_eval_episodes"] == 5
    assert r1["episode_angle"] == angles == r3["episode_angle"]
    np.testing.assert_allclose(r1["episode_returns"], r3["episode_returns"], rtol=1e-5)
    assert r1["episode_lengths"] == r3["episode_lengths"]
    assert r1["mean_reward"] == pytest.approx(np.mean(r1["episode_returns"]))


def _countdown_lengths(i: int) -> dict:
    return {"length": [3, 7, 2, 5, 4, 6][i]}


@pytest.mark.parametrize("mode", ["NextStep", "SameStep", "Disabled"])
def test_vector_autoreset_resets_only_finished_sub_env(mode: str) -> None:
    """Sub-env 0 plays episodes of 3 and 2 steps, sub-env 1 one of 7 (then more): only the
    sub-env that starts a new episode is reset, exactly when its first observation comes."""
    from goal_rl.envs.wrappers import EpisodeSchedule

    agent = SpyAgent(make_agent(n_inp=3).network)
    schedule = [[0, 2, 4], [1, 3, 5]]
    venv = gym.vector.SyncVectorEnv(
        [lambda j=j: EpisodeSchedule(Countdown(), schedule[j], 0, _countdown_lengths)
         for j in range(2)], autoreset_mode=gym.vector.AutoresetMode(mode))
    res = evaluate(agent, venv, 4, 0)  # sub-env 0 plays episodes 0 and 2, sub-env 1 1 and 3
    assert res["episode_lengths"] == [3, 2, 7, 5]
    assert res["episode_returns"] == [3.0, 2.0, 7.0, 5.0]
    masks = []
    for obs, mask in agent.calls:
        # reset exactly at the first observation of an episode (t = 0), nowhere else
        np.testing.assert_array_equal(mask, obs[:, 0] == 0)
        masks.append(mask)
    masks = np.array(masks)
    # sub-env 0 restarts (3-step episode over) while sub-env 1 is mid-way through its 7 steps
    second = int(np.flatnonzero(masks[1:, 0])[0]) + 1
    assert second == (4 if mode == "NextStep" else 3)
    assert not masks[1:7, 1].any()


def test_vector_state_of_running_sub_env_is_untouched() -> None:
    """The state of a sub-env mid-episode equals the state of the same episode run alone."""
    from goal_rl.envs.wrappers import EpisodeSchedule

    agent = make_agent(n_inp=3)
    captured = []

    class Capture(SpikingAgent):
        def act(self, obs, state=None, episode_start=None):
            y, st = super().act(obs, state, episode_start)
            captured.append(np.array(st.v))
            return y, st

    cap = Capture(agent.network)
    venv = gym.vector.SyncVectorEnv(
        [lambda j=j: EpisodeSchedule(Countdown(), [[0, 2], [1]][j], 0,
                                     lambda i: {"length": [2, 6, 2][i]}) for j in range(2)])
    evaluate(cap, venv, 3, 0)
    # sub-env 1 runs one 6-step episode on obs [t, 6, 1]; replay it alone
    state = None
    for t in range(6):
        _, state = agent.act(torch.tensor([[t, 6.0, 1.0]]), state)
        # equal up to float rounding (a batch of 2 vs 1 may take other BLAS kernels)
        np.testing.assert_allclose(captured[t][1], state.v[0].numpy(), atol=1e-4)


def test_evaluate_bad_arguments() -> None:
    agent = make_agent()
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        evaluate(agent, BF, 0, 0)
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        evaluate(agent, BF, 2, 0, num_envs=0)
    with pytest.raises(ValueError, match="num_envs > 1 needs an env id or a factory"):
        evaluate(agent, gym.make(BF), 2, 0, num_envs=2)
    with pytest.raises(ValueError, match="info key 'nope'"):
        evaluate(agent, BF, 1, 0, info_keys=("nope",))


def test_render_returns_frames() -> None:
    agent = make_agent()
    res = evaluate(agent, BF, 1, 0, render=True)
    assert res["frames"] and res["frames"][0].shape == (200, 200, 3)
    assert len(res["frames"]) == res["episode_lengths"][0]
