"""Tests for goal_rl.learning.task: ExpertCloningTask (record, clone or DAgger, evaluate, save)
and load_demos_for."""

from __future__ import annotations

import gymnasium as gym
import matplotlib.image as mpimg
import numpy as np
import pytest

from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.config import CloneTaskConfig
from goal_rl.learning.demos import record_demonstrations
from goal_rl.learning.evaluation import evaluate
from goal_rl.learning.task import ExpertCloningTask, load_demos_for

MC = "MountainCarContinuous-v0"


def push(obs, env):
    """Full throttle in the direction of the velocity."""
    return np.array([1.0 if obs[1] >= 0 else -1.0], np.float32)


def small(**kw) -> CloneTaskConfig:
    return CloneTaskConfig(**{"n_rec": 40, "sigma_inp": 6.0, "normalize_obs": True,
                              "epochs_rec": 3, "n_demos": 1, "n_eval": 2, "num_envs": 2,
                              "max_steps": 150, **kw})


def test_expert_cloning_task_runs_and_saves(tmp_path) -> None:
    task = ExpertCloningTask("mc", MC, push, small())
    m = task.run(tmp_path, progress=False, plot=True)
    assert m["n_eval_episodes"] == 2 and m["n_demo_episodes"] == 1
    ref = record_demonstrations(gym.make(MC), push, 1, task.config.demo_seed, max_steps=150)
    assert m["n_demo_steps"] == ref.n_steps == 106  # the expert reaches the flag
    assert m["demo_mean_return"] == pytest.approx(float(ref.returns[0]), abs=0)
    # the expert on the test episodes (seeds eval_seed, eval_seed + 1), no DAgger selection
    expert_ref = [record_demonstrations(gym.make(MC), push, 1, task.config.eval_seed + i,
                                        max_steps=999).returns[0] for i in range(2)]
    assert m["expert_episode_returns"] == pytest.approx(expert_ref, abs=1e-9)
    assert m["expert_mean_reward"] == pytest.approx(np.mean(expert_ref), abs=1e-9)
    assert m["test_seeds"] == [1000, 1001] and "selection_seeds" not in m
    # the saved agent is the evaluated one
    loaded = SpikingAgent.load(tmp_path / "agent.pt")
    again = evaluate(loaded, MC, 2, task.config.eval_seed, num_envs=2)
    assert again["episode_returns"] == m["episode_returns"]
    assert m["mean_reward"] == pytest.approx(np.mean(m["episode_returns"]))
    assert m["clone"]["epochs_rec"] == 3 and "dagger" not in m
    assert mpimg.imread(tmp_path / "plot.png")[..., :3].std() > 0.05  # not blank
    assert task.summary(m).startswith(f"mc: mean return {m['mean_reward']:.2f} ± ")
    with pytest.raises(ValueError, match="dagger_beta must be in"):
        CloneTaskConfig(dagger_beta=1.5)


def test_expert_cloning_task_with_dagger_rounds(tmp_path) -> None:
    task = ExpertCloningTask("mc", MC, push, small(dagger_rounds=1, dagger_episodes=1))
    m = task.run(tmp_path, progress=False, plot=True)
    rounds = m["dagger"]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1] and "clone" not in m
    assert [r["n_episodes"] for r in rounds] == [1, 2]
    assert 106 < rounds[1]["n_steps"] <= 106 + 150  # the rollout is capped at max_steps too
    assert m["dagger"]["best_score"] == max(r["score"] for r in rounds)
    # honest selection: rounds scored on the selection seeds, the test score is separate
    assert m["selection_seeds"] == [2000, 2009] and m["test_seeds"] == [1000, 1001]
    assert all(r["eval"]["n_eval_episodes"] == 10 for r in rounds)
    picked = task.select(task_agent := SpikingAgent.load(tmp_path / "agent.pt"))
    assert picked["mean_reward"] == m["dagger"]["best_score"]
    assert task.evaluate(task_agent)["episode_returns"] == m["episode_returns"]
    assert "picked on seeds 2000-2009" in task.summary(m)
    # each round is also scored on the test episodes (reported, not used to pick)
    best = rounds[m["dagger"]["best_round"]]["eval"]["test"]
    assert best["episode_returns"] == m["episode_returns"]
    img = mpimg.imread(tmp_path / "dagger.png")  # the return-per-round figure
    assert img.shape[1] > 500 and img[..., :3].std() > 0.05
    assert not (tmp_path / "plot.png").exists()


def test_selection_seeds_must_not_overlap_the_test_seeds() -> None:
    with pytest.raises(ValueError, match=r"selection seeds 1005\.\.1014 .* overlap the test "
                                         r"seeds 1000\.\.1009"):
        CloneTaskConfig(select_seed=1005)
    assert CloneTaskConfig(select_seed=1010).select_seeds() == (1010, 1020)


def test_load_demos_for_checks_the_sizes(tmp_path) -> None:
    demos = record_demonstrations(gym.make(MC), push, 1, 0, max_steps=5)
    path = demos.save(tmp_path / "d.npz")
    assert load_demos_for(str(path), 2, 1) == demos
    with pytest.raises(ValueError, match="obs/act sizes 2/1 but the env has 80/2"):
        load_demos_for(str(path), 80, 2)
    task = ExpertCloningTask("mc", MC, push, small(demos=str(path)))
    assert task.demonstrations() == demos  # loaded, not recorded
