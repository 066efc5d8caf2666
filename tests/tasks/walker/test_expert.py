"""Tests of goal_rl.tasks.walker.expert (the experts, their evaluation) and of the expert's
training script goal_rl.tasks.walker.expert_training (without Stable-Baselines3)."""

from __future__ import annotations

import json
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from goal_rl.tasks.walker import expert as we
from goal_rl.tasks.walker import expert_training as wt

# Returns of the shipped expert on test seeds 1000, 1001, 1002, measured when it was
# exported (its 50-episode mean over seeds 1000..1049 is 300.11664044815114).
KNOWN_RETURNS = (300.68369897827506, 299.47958260262385, 299.4120292495936)


@pytest.fixture(scope="module")
def expert() -> we.MLPExpert:
    return we.load_expert("a2c")


def test_shipped_expert_loads_and_walks_as_recorded(expert):
    assert isinstance(expert, we.MLPExpert)
    assert we.DEFAULT_EXPERT_PATH.is_file()
    assert we.DEFAULT_EXPERT_PATH.stat().st_size < 300_000
    assert (expert.obs_dim, expert.act_dim) == (24, 4)
    assert expert.obs_var.min().item() > 0.0
    # Measured, not read from the file: three test episodes give the recorded returns
    # (bit-identical on the reference machine; the tolerance allows another CPU's float
    # rounding) and all reach the end of the terrain.
    res = we.evaluate_expert(expert, n_episodes=3, seed=1000)
    assert res["episode_returns"] == pytest.approx(KNOWN_RETURNS, abs=1e-3)
    assert res["success_rate"] == 1.0
    # ... and agree with the training record the file carries.
    final = expert.meta["evaluation"]["final"]
    assert (final["n_eval_episodes"], final["seed"]) == (50, 1000)
    assert abs(res["mean_reward"] - final["mean_reward"]) < 3 * final["std_reward"]
    assert expert.meta["training"]["steps"] > 0
    # default argument is the shipped expert
    obs = np.zeros(24, dtype=np.float32)
    np.testing.assert_array_equal(we.load_expert()(obs), expert(obs))


def test_seeded_episode_makes_forward_progress(expert):
    env = gym.make(we.ENV_ID)
    try:
        obs, _ = env.reset(seed=1000)
        x0 = float(env.unwrapped.hull.position[0])
        total = 0.0
        for _ in range(300):
            obs, reward, terminated, truncated, _ = env.step(expert(obs))
            total += float(reward)
            assert not terminated and not truncated
        x1 = float(env.unwrapped.hull.position[0])
        assert not env.unwrapped.game_over
    finally:
        env.close()
    assert x1 - x0 > 20.0  # measured 28.4: about a third of the 79-unit course
    assert total > 80.0  # measured 99.0


def test_batch_and_single_shapes(expert):
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(7, 24)).astype(np.float32)
    out = expert(batch)
    assert out.shape == (7, 4) and out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)
    single = expert(batch[3])
    assert single.shape == (4,) and single.dtype == np.float32
    np.testing.assert_allclose(single, out[3], atol=1e-6)  # stateless
    np.testing.assert_array_equal(expert(batch[3]), single)
    t = expert(torch.as_tensor(batch))
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == (7, 4)
    for bad in [(23,), (2, 3, 24), (5, 25), ()]:
        with pytest.raises(ValueError, match=r"shape"):
            expert(np.zeros(bad))
    with pytest.raises(ValueError, match=r"\(5, 25\)"):
        expert(np.zeros((5, 25)))


def test_save_roundtrip(expert, tmp_path):
    path = expert.save(tmp_path / "sub" / "copy.pt")
    assert sorted(p.name for p in path.parent.iterdir()) == ["copy.pt"]
    again = we.load_expert(str(path))
    assert again.meta == expert.meta
    obs = np.random.default_rng(1).normal(size=(5, 24))
    np.testing.assert_array_equal(again(obs), expert(obs))


def test_interrupted_save_keeps_the_old_file_whole(expert, tmp_path, monkeypatch):
    path = expert.save(tmp_path / "expert.pt")
    before = path.read_bytes()
    other = we.MLPExpert(meta={"note": "half written"})

    def crash_midway(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(we.torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        other.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expert.pt"]  # no temporary left
    np.testing.assert_array_equal(we.load_expert(str(path))(np.ones(24)), expert(np.ones(24)))
    with pytest.raises(TypeError):  # meta must be JSON: refused before anything is written
        we.MLPExpert(meta={"bad": object()}).save(path)
    assert path.read_bytes() == before


def test_evaluate_expert_reports_success(expert):
    res = we.evaluate_expert(expert, n_episodes=2, seed=1000)
    assert res["n_eval_episodes"] == 2
    assert len(res["episode_returns"]) == len(res["episode_lengths"]) == 2
    assert res["success_rate"] == 1.0
    assert res["mean_reward"] > 280.0
    assert 500 < res["mean_length"] < 1600
    assert res["mean_reward"] == pytest.approx(np.mean(res["episode_returns"]))


def test_evaluate_heuristic_resets_it_every_episode():
    """The stateful heuristic is reset before every episode: its figures on seeds
    1000..1003 are the ones measured when each episode ran with a fresh controller."""

    class Counting(we.HeuristicExpert):
        resets = 0

        def reset(self) -> None:
            Counting.resets += 1
            super().reset()

    h = Counting()
    Counting.resets = 0
    res = we.evaluate_expert(h, n_episodes=4, seed=1000)
    assert Counting.resets == 4
    assert res["episode_returns"] == pytest.approx(
        [314.9522518427111, 12.852158220135607, 315.1755610649707, -23.694852041080594],
        abs=1e-3)
    assert res["episode_lengths"] == [1576, 621, 1555, 424]
    assert res["success_rate"] == 0.5  # episodes 0 and 2 reach the end, 1 and 3 fall
    assert we.evaluate_expert("heuristic", 4, 1000)["episode_returns"] == \
        res["episode_returns"]
    with pytest.raises(ValueError, match="n_episodes must be >= 1, got 0"):
        we.evaluate_expert(h, n_episodes=0)


def test_heuristic_expert_is_stateful_with_reset():
    h = we.load_expert("heuristic")
    assert isinstance(h, we.HeuristicExpert) and callable(h.reset)
    env = gym.make(we.ENV_ID)
    try:
        obs, _ = env.reset(seed=3)
        x0 = float(env.unwrapped.hull.position[0])
        actions = []
        for _ in range(200):
            a = h(obs)
            assert a.shape == (4,) and a.dtype == np.float32
            assert np.all(np.abs(a) <= 1.0)
            actions.append(a)
            obs, _, terminated, truncated, _ = env.step(a)
            assert not terminated and not truncated
        assert float(env.unwrapped.hull.position[0]) - x0 > 5.0  # measured 7-8
        # after reset the same episode gives the same actions
        h.reset()
        obs, _ = env.reset(seed=3)
        for k in range(20):
            a = h(obs)
            np.testing.assert_array_equal(a, actions[k])
            obs, *_ = env.step(a)
    finally:
        env.close()
    with pytest.raises(ValueError, match=r"stateful.*\(2, 24\)"):
        h(np.zeros((2, 24)))


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown expert 'ppo'; choose 'a2c', 'heuristic'"):
        we.load_expert("ppo")
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        we.load_expert(str(missing))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a torch file")
    with pytest.raises(ValueError, match=str(corrupt)):
        we.load_expert(str(corrupt))
    wrong = tmp_path / "wrong.pt"
    torch.save({"state_dict": {}}, wrong)
    with pytest.raises(ValueError, match=str(wrong)):
        we.MLPExpert.from_file(wrong)


def test_train_without_sb3_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[expert\]'"):
        wt.train_expert(tmp_path / "x.pt", total_steps=10, checkpoint_dir=tmp_path / "ck")


def test_latest_checkpoint_needs_both_files(tmp_path):
    assert wt._latest_checkpoint(tmp_path) is None
    for name in ("a2c_000000256.zip", "vecnormalize_000000256.pkl", "a2c_000000512.zip",
                 "a2c_junk.zip"):
        (tmp_path / name).write_bytes(b"")
    assert wt._latest_checkpoint(tmp_path) == 256  # 512 has no statistics file


def test_fresh_run_clears_and_resume_checks_the_seed(tmp_path):
    names = ["a2c_000000256.zip", "vecnormalize_000000256.pkl", "state.json",
             "best_expert.pt", "notes.txt"]
    for name in names:
        (tmp_path / name).write_text("{}")
    (tmp_path / "state.json").write_text(json.dumps(
        {"seed": 7, "selection": {"n_eval_episodes": 5, "seed": wt.SELECTION_SEED},
         "history": [], "best": None, "wall_s": 1.0}))
    state, start = wt._open_run(tmp_path, seed=7, resume=True, eval_episodes=5)
    assert start == 256 and state["wall_s"] == 1.0
    with pytest.raises(ValueError, match=r"holds a run with seed 7, not 8"):
        wt._open_run(tmp_path, seed=8, resume=True, eval_episodes=5)
    state, start = wt._open_run(tmp_path, seed=8, resume=False, eval_episodes=5)
    assert start is None
    assert state == {"seed": 8, "selection": {"n_eval_episodes": 5, "seed": 500_000},
                     "history": [], "best": None, "wall_s": 0.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # only ours deleted
