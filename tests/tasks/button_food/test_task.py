"""Tests for goal_rl.tasks.button_food.task: the paper expert, cloning improves the score,
closed-loop paths, the single run and the rank scan."""

from __future__ import annotations

import json

import gymnasium as gym
import matplotlib.image as mpimg
import numpy as np
import pytest

import goal_rl.envs  # noqa: F401
from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.cloning import clone
from goal_rl.tasks.button_food.task import (
    FOOD_SCORE,
    PAPER_RANKS,
    PAPER_SCORES,
    ButtonFoodConfig,
    ButtonFoodTask,
    closed_loop_paths,
    evaluate_angles,
    expert_phase_hint,
    make,
    paper_expert,
    record_angle_demos,
)


def test_paper_expert_reaches_food_through_button_centre() -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    for angle in np.linspace(30, 150, 120):
        env.reset(options={"angle": angle})
        hints = []
        while True:
            hints.append(expert_phase_hint(None, env))
            _, _, term, trunc, info = env.step(paper_expert(None, env))
            e = env.unwrapped
            if e.t == 30:  # at the button centre after 30 constant-velocity steps
                np.testing.assert_allclose(e.agent, e.button, atol=1e-9)
            if term or trunc:
                break
        assert term and info["score"] == pytest.approx(1 / 0.03)
        hints = np.array(hints)
        np.testing.assert_array_equal(hints[:30], [[1, 0]] * 30)
        np.testing.assert_array_equal(hints[30:], [[0, 1]] * (len(hints) - 30))


def test_paper_expert_labels_off_course_states() -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    env.reset(options={"angle": 90.0})
    for _ in range(35):  # wander off without touching the button
        env.step(np.array([2.0, 2.0], np.float32))
    a = paper_expert(None, env)  # still locked after step 30: capped speed to the button
    assert np.max(np.abs(a)) == pytest.approx(3.0)
    assert np.all(np.sign(a) == np.sign(env.unwrapped.button - env.unwrapped.agent))
    np.testing.assert_array_equal(expert_phase_hint(None, env), [1.0, 0.0])


def test_demonstrations_shapes() -> None:
    d = record_angle_demos((50.0, 90.0))
    assert d.n_episodes == 2 and d.obs_dim == 80 and d.act_dim == 2
    assert d.hints.shape == (d.n_steps, 2)
    np.testing.assert_allclose(d.returns > 0, True)
    with pytest.raises(ValueError, match="unknown expert 'x'"):
        record_angle_demos((50.0,), expert="x")


def test_config_defaults_and_rank_resolution() -> None:
    c = ButtonFoodConfig()
    assert (c.n_rec, c.tau_m, c.tau_s, c.tau_o, c.tau_star) == (300, 6.0, 2.0, 10.0, 5.0)
    assert (c.sigma_inp, c.sigma_trg, c.sigma_hint) == (5.0, 3.0, 5.0)
    assert c.train_angles == (50.0, 70.0, 90.0, 110.0, 130.0)
    np.testing.assert_allclose(c.test_angles()[[0, -1]], [30.0, 150.0])
    assert len(c.test_angles()) == 120
    assert c.clone_config().rank == 300
    assert make(rank="ltts").config.clone_config().rank is None
    assert make(rank="1").config.clone_config().rank == 1  # R < O allowed in cloning
    assert make(n_rec="50", rank="N").config.clone_config().rank == 50
    assert make(ranks="1,34,300").config.ranks == (1, 34, 300)
    val = c.val_angles()
    assert len(val) == 30 and not set(np.round(val, 6)) & set(np.round(c.test_angles(), 6))


@pytest.mark.parametrize(("kw", "msg"), [
    ({"rank": "abc"}, "invalid rank 'abc': an integer, 'N' or 'ltts'"),
    ({"rank": "301"}, r"rank R=301 is outside \[1, N\]"),
    ({"ranks": "1,400"}, r"rank R=400 is outside"),
    ({"expert": "oracle"}, "bad value 'oracle' for setting 'expert'"),
    ({"test_min": "160"}, "test_min .* must not exceed test_max"),
    ({"train_angles": ""}, "train_angles must list at least one angle"),
    ({"n_rec": "x"}, "bad value 'x' for setting 'n_rec' \\(expected int\\)"),
    ({"nrec": "3"}, "unknown setting 'nrec' for task 'button_food'"),
])
def test_config_rejects_bad_settings(kw, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        make(**kw)


def test_cloning_improves_score_over_untrained_agent() -> None:
    """Tiny setting (N = 100, 200 epochs, 24 test angles): the GOAL-trained agent presses
    the button and approaches the food; the untrained one (readout only) does not."""
    demos = record_angle_demos((50.0, 70.0, 90.0, 110.0, 130.0))
    angles = np.linspace(30, 150, 24)
    untrained = clone(demos, ButtonFoodConfig(n_rec=100, epochs_rec=0, refit_readout=False)
                      .clone_config(), progress=False)
    trained = clone(demos, ButtonFoodConfig(n_rec=100, epochs_rec=200, refit_readout=False)
                    .clone_config(), progress=False)
    s0 = evaluate_angles(untrained.agent, angles)
    s1 = evaluate_angles(trained.agent, angles)
    assert s0["mean_score"] < 0.5 and s0["mean_unlocked"] < 0.1
    assert s1["mean_score"] > s0["mean_score"] + 2.0
    assert s1["mean_unlocked"] > 0.3
    assert trained.mse[-1] < 0.5 * trained.mse[0]
    paths = closed_loop_paths(trained.agent, [60.0, 120.0])
    lengths = evaluate_angles(trained.agent, [60.0, 120.0])["episode_lengths"]
    env = gym.make("goal_rl/ButtonFood-v0")
    for p, a, n in zip(paths, [60.0, 120.0], lengths):
        env.reset(seed=0, options={"angle": a})
        assert p.shape == (n + 1, 2)  # the start, then one position per step
        np.testing.assert_array_equal(p[0], env.unwrapped.agent)
        assert np.abs(np.diff(p, axis=0)).max() > 0  # the agent moves


def test_single_run_and_rank_scan_write_files(tmp_path) -> None:
    task = make(n_rec="30", epochs_rec="3", n_test="6", train_angles="60,120")
    m = task.run(tmp_path, progress=False, plot=True)
    assert {"mean_reward", "std_reward", "n_eval_episodes", "mean_score"} <= set(m)
    assert m["n_eval_episodes"] == 6 and len(m["episode_score"]) == 6 and m["rank"] == 30
    # the saved agent is the evaluated one: reloaded, it scores the same on the test angles
    loaded = SpikingAgent.load(tmp_path / "agent.pt")
    again = evaluate_angles(loaded, task.config.test_angles(), num_envs=task.config.num_envs)
    assert again["episode_score"] == m["episode_score"]
    assert mpimg.imread(tmp_path / "button_food.png")[..., :3].std() > 0.05  # not blank
    assert "button_food R=30 | mean score" in task.summary(m)
    # the expert on the same six test angles: it reaches the food every time
    assert m["expert_episode_score"] == pytest.approx([FOOD_SCORE] * 6)
    assert m["expert_success_rate"] == 1.0 and "expert 33.33 (reached 100%)" in task.summary(m)
    assert m["success_rate"] == m["reached_fraction"] and "selection_angles" not in m
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    scan = make(n_rec="30", epochs_rec="2", n_test="4", train_angles="60,120",
                ranks="1,30", seeds="0,1")
    m = scan.run(scan_dir, progress=False, plot=True)
    table = json.loads((scan_dir / "rank_scan.json").read_text())
    assert [row["rank"] for row in table["table"]] == [1, 30] == m["ranks"]
    assert [row["paper"] for row in table["table"]] == [PAPER_SCORES[1], None]
    assert len(table["runs"]) == 4
    assert mpimg.imread(scan_dir / "rank_scan.png")[..., :3].std() > 0.05
    assert m["mean_score_by_rank"][0] == pytest.approx(
        np.mean([r["mean_score"] for r in table["runs"] if r["rank"] == 1]))
    assert "rank scan" in scan.summary(m)


def test_dagger_picks_its_round_on_the_selection_angles(tmp_path) -> None:
    task = make(n_rec="30", epochs_rec="2", n_test="5", n_val="4", train_angles="60,120",
                dagger_rounds="1", dagger_episodes="2")
    m = task.run(tmp_path, progress=False)
    rounds = m["dagger"]["rounds"]
    val = task.config.val_angles()
    assert m["selection_angles"] == pytest.approx(list(val))
    assert not set(np.round(val, 9)) & set(np.round(m["test_angles"], 9))  # disjoint
    assert all(r["eval"]["angles"] == pytest.approx(list(val)) for r in rounds)
    picked = SpikingAgent.load(tmp_path / "agent.pt")
    assert evaluate_angles(picked, val)["mean_score"] == m["dagger"]["best_score"]
    assert evaluate_angles(picked, m["test_angles"])["episode_score"] == m["episode_score"]


def test_task_protocol_and_paper_reference() -> None:
    from goal_rl.tasks.cli import TaskProtocol

    task = make()
    assert isinstance(task, ButtonFoodTask) and isinstance(task, TaskProtocol)
    assert task.kind == "closed_loop" and task.config.n_rec == 300
    # the paper's grid: ten ranks from 1 to N = 300, evenly spaced, rounded down
    assert PAPER_RANKS == tuple(int(r) for r in np.floor(np.linspace(1, task.config.n_rec, 10)))
    assert tuple(PAPER_SCORES) == PAPER_RANKS
    scores = list(PAPER_SCORES.values())
    assert scores[0] == 0.0 and np.all(np.diff(scores) >= 0)  # the score grows with R
