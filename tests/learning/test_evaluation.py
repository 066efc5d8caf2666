"""Tests for goal_rl.learning.evaluation: evaluate on one env and on vector envs."""

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


def float64_agent(**kwargs) -> SpikingAgent:
    agent = make_agent(**kwargs)
    agent.network.double()
    return agent.to("cpu")


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


def test_env_size_mismatch_names_both_sizes() -> None:
    with pytest.raises(ValueError, match=r"24 inputs but .*ButtonFood-v0.* has 80 values"):
        evaluate(make_agent(n_inp=24), BF, 1, 0)
    with pytest.raises(ValueError, match=r"3 outputs but env .* takes 2 action values"):
        evaluate(make_agent(n_out=3), BF, 2, 0, num_envs=2)


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


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exact_results_do_not_depend_on_num_envs(dtype) -> None:
    """The same 20 episodes give the same returns with 1, 4 and 8 envs (exact products);
    the batched default is checked to really differ, so the test can fail."""
    from goal_rl.learning.cloning import clone
    from goal_rl.learning.config import CloneConfig
    from goal_rl.learning.demos import record_demonstrations

    def push(obs, env):
        return np.array([1.0 if obs[1] >= 0 else -1.0], np.float32)

    demos = record_demonstrations(gym.make("MountainCarContinuous-v0"), push, 2, 0)
    agent = clone(demos, CloneConfig(n_rec=60, sigma_inp=6.0, sigma_trg=3.0, tau_star=3.0,
                                     normalize_obs=True, epochs_rec=5, dtype=dtype),
                  progress=False, action_low=-1.0, action_high=1.0).agent
    runs = {k: evaluate(agent, "MountainCarContinuous-v0", 20, 1000, num_envs=k, exact=True)
            for k in (1, 4, 8)}
    assert runs[1]["episode_returns"] == runs[4]["episode_returns"] \
        == runs[8]["episode_returns"]
    assert runs[1]["episode_lengths"] == runs[8]["episode_lengths"]
    plain = evaluate(agent, "MountainCarContinuous-v0", 20, 1000, num_envs=1)
    assert plain["episode_returns"] == runs[1]["episode_returns"]  # 1 env: exact = plain
    assert not agent.exact_batch  # restored
    if dtype == "float32":
        batched = evaluate(agent, "MountainCarContinuous-v0", 20, 1000, num_envs=8)
        assert batched["episode_returns"] != runs[1]["episode_returns"]
