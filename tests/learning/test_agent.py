"""Tests for goal_rl.learning.agent: SpikingAgent (predict, act, actor, reset, save/load)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from goal_rl.engines.common import init_weights
from goal_rl.learning.agent import SpikingAgent
from goal_rl.model.lif import LIFParams
from goal_rl.model.network import SpikingNetwork


def make_agent(n_inp: int = 80, n_out: int = 2, n_rec: int = 40, seed: int = 0,
               **kwargs) -> SpikingAgent:
    w = init_weights(n_inp, n_rec, n_out, sigma_inp=5.0, sigma_trg=3.0, sigma_rec=1.0,
                     rng=np.random.default_rng(seed))
    w["w_out"] = w["w_out"] * 20.0  # visible actions
    return SpikingAgent(SpikingNetwork(w, LIFParams(tau_m=6.0, tau_o=10.0)), **kwargs)


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
    with pytest.raises(FileNotFoundError, match="agent file not found"):
        SpikingAgent.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot read agent file"):
        SpikingAgent.load(tmp_path / "junk.pt")


def test_actor_acts_like_act_and_skips_the_eligibility_trace() -> None:
    """actor() (the loops' fast step) gives act's actions and spikes, leaves e at zero."""
    agent = make_agent(action_low=-3.0, action_high=3.0)
    actor = agent.actor()
    rng = np.random.default_rng(8)
    s_act = s_fast = None
    for _ in range(40):
        obs = rng.random((3, 80), dtype=np.float32)
        a1, s_act = agent.act(obs, s_act)
        a2, s_fast = actor(obs, s_fast)
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(s_act.z, s_fast.z)
        np.testing.assert_array_equal(s_act.v, s_fast.v)
    assert s_act.z.sum() > 0 and s_act.e.any() and not s_fast.e.any()
    assert agent.numpy_dtype is np.float32 and a2.dtype == np.float32
