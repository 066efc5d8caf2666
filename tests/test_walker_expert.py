"""Tests for the shipped BipedalWalker-v3 expert (goal_rl.walker_expert)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from goal_rl.tasks.walker import expert as we

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def expert() -> we.MLPExpert:
    return we.load_expert("a2c")


def test_shipped_expert_loads_with_meta(expert):
    assert isinstance(expert, we.MLPExpert)
    assert we.DEFAULT_EXPERT_PATH.is_file()
    assert we.DEFAULT_EXPERT_PATH.stat().st_size < 300_000
    assert (expert.obs_dim, expert.act_dim) == (24, 4)
    assert expert.obs_var.min().item() > 0.0
    final = expert.meta["evaluation"]["final"]
    assert final["n_eval_episodes"] == 50
    assert final["mean_reward"] >= 300.0
    assert final["success_rate"] >= 0.95
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


def test_save_roundtrip_is_atomic(expert, tmp_path):
    path = expert.save(tmp_path / "sub" / "copy.pt")
    assert sorted(p.name for p in path.parent.iterdir()) == ["copy.pt"]
    again = we.load_expert(str(path))
    assert again.meta == expert.meta
    obs = np.random.default_rng(1).normal(size=(5, 24))
    np.testing.assert_array_equal(again(obs), expert(obs))


def test_evaluate_expert_reports_success(expert):
    res = we.evaluate_expert(expert, n_episodes=2, seed=1000)
    assert res["n_eval_episodes"] == 2
    assert len(res["episode_returns"]) == len(res["episode_lengths"]) == 2
    assert res["success_rate"] == 1.0
    assert res["mean_reward"] > 280.0
    assert 500 < res["mean_length"] < 1600
    assert res["mean_reward"] == pytest.approx(np.mean(res["episode_returns"]))


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
        we.train_expert(tmp_path / "x.pt", total_steps=10, checkpoint_dir=tmp_path / "ck")


def test_main_in_process_errors(capsys):
    assert we.main(["--evaluate", "ppo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown expert 'ppo'" in err[0]
    assert we.main(["--train", "--evaluate"]) == 2
    assert we.main(["--evaluate", "heuristic", "--episodes", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("error:" in line for line in err)


def test_main_evaluate_prints_json(capsys):
    assert we.main(["--evaluate", "a2c", "--episodes", "1", "--seed", "1000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expert"] == "a2c" and out["n_eval_episodes"] == 1
    assert out["success_rate"] == 1.0 and out["mean_reward"] > 280.0


def test_cli_bad_argument_exits_2_with_one_line():
    env = {**os.environ, "MPLBACKEND": "Agg", "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.run(
        [sys.executable, "-m", "goal_rl.walker_expert", "--evaluate", "a2c", "--bogus"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0] and "--bogus" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
