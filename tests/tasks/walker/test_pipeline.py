"""Tests for the BipedalWalker apprenticeship pipeline (goal_rl.tasks.walker.pipeline).

The expert itself is tested in tests/tasks/walker/test_expert.py. Everything here is small
(N ≤ 200, short episodes); the long runs live in benchmarks/walker_results.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.cloning import clone
from goal_rl.learning.demos import Demonstrations
from goal_rl.tasks.walker import pipeline as wk
from goal_rl.tasks.walker.cli import main as walker_main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def demos() -> Demonstrations:
    return wk.record_walker_demos("a2c", 2, seed=0, max_steps=300)


@pytest.fixture(scope="module")
def small_cfg() -> wk.WalkerConfig:
    # readout only at its own best input scale (σ_in = 15; the default 3 is for learnt W_in)
    return wk.WalkerConfig(n_rec=300, rank=0, window=200, dagger_rounds=0, sigma_inp=15.0)


@pytest.fixture(scope="module")
def trained(small_cfg) -> SpikingAgent:
    full = wk.record_walker_demos("a2c", 4, seed=0)  # 4 whole expert episodes
    res = clone(full, wk.clone_config(small_cfg), progress=False, action_low=-1.0,
                action_high=1.0)
    res.agent.meta.update({"task": wk.TASK})
    return res.agent


def test_walker_config_rank_defaults_to_n() -> None:
    assert wk.WalkerConfig().rank_value == 500
    cfg = wk.WalkerConfig(n_rec=200).validate()  # the default rank "N" follows n_rec
    assert cfg.rank_value == 200 and wk.clone_config(cfg).rank == 200
    assert wk.clone_config(cfg).censored_iters == cfg.censored_iters > 0
    assert wk.clone_config(wk.WalkerConfig(rank=0)).epochs_rec == 0
    with pytest.raises(ValueError, match="invalid rank 'M': an integer, 'N' or 'ltts'"):
        wk.WalkerConfig(rank="M").validate()
    with pytest.raises(ValueError, match="outside"):
        wk.WalkerConfig(n_rec=10, rank=11).validate()


def test_default_clone_learns_the_input_weights(demos):
    """By default GOAL trains W_in as well (inp_lr = 0.15 from σ_in = 3): a 5-epoch clone
    moves W_in and fits the demonstrations better than the readout-only network with the
    same initial weights, which keeps W_in as drawn."""
    cfg = wk.WalkerConfig(n_rec=100, epochs_rec=5, window=100)
    assert cfg.inp_lr == 0.15 and cfg.sigma_inp == 3.0

    def run(c: wk.WalkerConfig):
        return clone(demos, wk.clone_config(c), progress=False, action_low=-1.0,
                     action_high=1.0)

    goal, ro = run(cfg), run(cfg.replace(rank=0))
    w0 = run(cfg.replace(epochs_rec=0)).agent.network.w_in.numpy()  # W_in as drawn
    w_goal = goal.agent.network.w_in.numpy()
    w_ro = ro.agent.network.w_in.numpy()
    np.testing.assert_allclose(w_ro, w0, rtol=1e-6)  # readout only: W_in as drawn
    assert np.abs(w_goal - w0).max() > 0.5  # GOAL moved it
    assert goal.refit_mse < ro.refit_mse


def test_recording_shapes(demos):
    assert demos.n_episodes == 2
    assert demos.observations.shape == (600, 24)
    assert demos.actions.shape == (600, 4)
    np.testing.assert_array_equal(demos.episode_starts, [0, 300])
    assert demos.observations.dtype == np.float32
    assert np.abs(demos.actions).max() <= 1.0
    assert demos.returns is not None and (demos.returns > 50).all()  # walking, not falling


def test_cloning_improves_over_untrained(trained, demos):
    """Readout-only clone (N = 300, 4 expert episodes) vs the same network with random
    readouts. Measured: cloned -99.6 mean return over seeds 1000-1004 (it walks a little,
    then falls), random readouts -119.8 / -102.2 / -108.2; open-loop action MSE on a
    held-out expert episode ≈ 0.1 against ≈ 0.6+ untrained."""
    from goal_rl.learning.cloning import action_mse

    net = trained.network
    before, mse_before = [], []
    for s in range(3):
        rng = np.random.default_rng(s)
        w_out = rng.normal(0, 1 / np.sqrt(net.n_rec), size=(4, net.n_rec))
        raw = type(net)({"w_in": net.w_in, "w_rec": torch.zeros_like(net.w_rec),
                         "w_out": w_out}, net.params)
        base = SpikingAgent(raw, obs_shift=trained.obs_shift, obs_scale=trained.obs_scale,
                            obs_clip=trained.obs_clip, action_low=-1.0, action_high=1.0)
        before.append(wk.evaluate_walker(base, 5, seed=1000)["mean_reward"])
        mse_before.append(action_mse(base, demos))
    after = wk.evaluate_walker(trained, 5, seed=1000)
    assert after["mean_reward"] > np.mean(before) + 5.0
    assert action_mse(trained, demos) < 0.5 * min(mse_before)
    assert set(after) >= {"mean_reward", "std_reward", "n_eval_episodes", "success_rate",
                          "mean_length"}


def test_save_play_round_trip(trained, demos, tmp_path, capsys):
    path = trained.save(tmp_path / "agent.pt")
    again = SpikingAgent.load(path)
    obs = demos.observations[:200]
    s1 = s2 = None
    for o in obs:
        a1, s1 = trained.predict(o, s1)
        a2, s2 = again.predict(o, s2)
        np.testing.assert_array_equal(a1, a2)
    assert again.meta["task"] == "walker"
    rc = walker_main(["--play", str(path), "--eval-episodes", "1", "--out", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert rc == 0 and "spiking agent" in out


def _bad(argv: list[str], capsys) -> str:
    rc = walker_main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_inputs(tmp_path, capsys, demos):
    out = tmp_path / "out"
    base = ["--out", str(out), "--no-plots", "--no-progress"]
    assert "unknown expert" in _bad(["--expert", "nosuch", *base], capsys)
    assert "not found" in _bad(["--demos", str(tmp_path / "missing.npz"), *base], capsys)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not a zip")
    assert "corrupt.npz" in _bad(["--demos", str(corrupt), *base], capsys)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("\n".join(",".join(["0.1"] * 20) for _ in range(5)))
    assert "columns" in _bad(["--demos", str(wrong), *base], capsys)
    nan = tmp_path / "nan.csv"
    rows = [",".join(["0.1"] * 28) for _ in range(5)]
    rows[2] = ",".join(["nan"] + ["0.1"] * 27)
    nan.write_text("\n".join(rows))
    assert "non-finite" in _bad(["--demos", str(nan), *base], capsys)
    small = Demonstrations(observations=np.zeros((5, 10)), actions=np.zeros((5, 4)),
                           episode_starts=[0])
    p = small.save(tmp_path / "small.npz")
    assert "24/4" in _bad(["--demos", str(p), *base], capsys)
    # an agent file made for another task
    other = clone(Demonstrations(observations=np.random.default_rng(0).normal(size=(30, 3)),
                                 actions=np.zeros((30, 2)), episode_starts=[0]),
                  wk.clone_config(wk.WalkerConfig(n_rec=20, rank=0)), progress=False).agent
    other.meta["task"] = "button_food"
    a = other.save(tmp_path / "other.pt")
    assert "not for 'walker'" in _bad(["--play", str(a), *base], capsys)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert "junk.pt" in _bad(["--play", str(tmp_path / "junk.pt"), *base], capsys)
    assert "-0.1" in _bad(["--expert", "--inp-lr", "-0.1", *base], capsys)
    assert "'fast'" in _bad(["--expert", "--inp-lr", "fast", *base], capsys)
    assert "--rank 'R4'" in _bad(["--expert", "--rank", "R4", *base], capsys)
    assert not out.exists() or not any(out.iterdir())  # nothing (half-)written


def test_cli_demos_end_to_end(demos, tmp_path):
    """`--demos` file → trained agent + metrics.json, DAgger refused with a note."""
    path = demos.save(tmp_path / "demos.npz")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "goal_rl.walker", "--demos", str(path), "--n-rec", "100",
           "--epochs", "1", "--select-episodes", "2", "--eval-episodes", "2", "--out", str(out),
           "--no-progress", "--no-hints"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "DAgger is unavailable" in proc.stderr
    import json

    m = json.loads((out / "metrics.json").read_text())
    assert m["n_eval_episodes"] == 2 and m["expert_mean_reward"] is None
    assert {"mean_reward", "std_reward", "success_rate", "history"} <= set(m)
    assert m["config"]["select_episodes"] == 2 and m["config"]["epochs_rec"] == 1
    assert m["config"]["hints"] is False  # --no-hints
    assert len(m["history"]) == 1 and m["best_round"] == 0  # no DAgger round
    agent = SpikingAgent.load(out / "agent.pt")  # the tested agent was saved
    again = wk.evaluate_walker(agent, 2, seed=m["eval_seed"])
    assert again["episode_returns"] == m["episode_returns"]
    import matplotlib.image as mpimg

    assert mpimg.imread(out / "walker_raster.png")[..., :3].std() > 0.05  # not blank


def test_expert_hints_are_its_hidden_layers(demos):
    """The hints are the MLP expert's 2 x 64 tanh outputs: its action is the clipped
    linear head of the last 64 of them."""
    from goal_rl.tasks.walker.expert import load_expert

    hint = wk.make_hint_fn("a2c")
    assert hint is not None and wk.make_hint_fn("heuristic") is None
    h = np.stack([hint(o, None) for o in demos.observations[:50]])
    assert h.shape == (50, 128) and h.dtype == np.float32
    assert np.abs(h).max() <= 1.0 and h.std() > 0.1
    expert = load_expert("a2c")
    with torch.no_grad():
        head = expert.action_net(torch.from_numpy(h[:, 64:])).clamp(-1, 1).numpy()
    np.testing.assert_allclose(head, expert(demos.observations[:50]), atol=1e-5)


def test_train_walker_hints_reach_the_teacher(demos):
    """With hints the demonstrations and DAgger episodes carry the expert's hidden outputs
    and the learned W_rec differs from a run without them; given demonstrations without
    hints still train (with DAgger, the hints are then left out)."""
    cfg = wk.WalkerConfig(n_rec=60, epochs_rec=2, demo_episodes=1, demo_max_steps=120,
                          dagger_rounds=1, episodes_per_round=1, select_episodes=1,
                          window=60).validate()
    with_h = wk.train_walker(cfg, progress=False)
    assert with_h.demos.hints is not None and with_h.demos.hints.shape == (120, 128)
    without = wk.train_walker(cfg.replace(hints=False), progress=False)
    assert without.demos.hints is None
    w1, w0 = with_h.agent.network.w_rec, without.agent.network.w_rec
    assert w1.abs().sum() > 0 and not torch.allclose(w1, w0)
    plain = wk.train_walker(cfg, demos=demos, progress=False)  # no hints in the given demos
    assert plain.demos.hints is None and len(plain.history) == 2
    with pytest.raises(ValueError, match="hints must be True or False"):
        cfg.replace(hints="yes")
    odd = Demonstrations(observations=demos.observations, actions=demos.actions,
                         episode_starts=demos.episode_starts,
                         hints=np.zeros((demos.n_steps, 3), np.float32))
    with pytest.raises(ValueError, match="carry 3 hint values per step but the expert's "
                                         "hidden layers give 128"):
        wk.train_walker(cfg, demos=odd, progress=False)


def test_train_walker_caps_the_data_and_keeps_hints():
    """The data cap (keep_newest) drops the oldest DAgger episodes, never the expert's, and
    the hints stay with their episodes, so later rounds can still add hinted episodes."""
    cfg = wk.WalkerConfig(n_rec=40, epochs_rec=1, demo_episodes=1, demo_max_steps=120,
                          dagger_rounds=2, episodes_per_round=1, select_episodes=1,
                          window=60, max_train_steps=200).validate()
    res = wk.train_walker(cfg, progress=False)
    rows = res.history
    assert [r["round"] for r in rows] == [0, 1, 2] and rows[0]["n_steps"] == 120
    assert rows[2]["n_episodes"] == 2  # expert episode + the newest DAgger episode
    assert all(r["n_steps"] <= 200 or r["n_episodes"] == 2 for r in rows)
    assert res.best_round == int(np.argmax([r["select_mean_reward"] for r in rows]))
    assert res.agent.meta["best_round"] == res.best_round
    assert {"readout_mse", "refit_mse", "final_train_mse", "round_time_s"} <= set(rows[1])


def test_agent_trace_is_the_closed_loop_episode(trained):
    expert = wk.make_expert("a2c")
    tr = wk.agent_trace(trained, expert, seed=1001, max_steps=60)
    assert tr["agent_actions"].shape == tr["expert_actions"].shape == (60, 4)
    assert tr["spikes"].shape == (60, 300) and tr["spikes"].dtype == np.uint8
    env = wk.make_env()
    obs, _ = env.reset(seed=1001)
    state = None
    for t in range(60):
        a, state = trained.act(obs[None], state)
        np.testing.assert_array_equal(tr["agent_actions"][t], a[0])
        np.testing.assert_array_equal(tr["expert_actions"][t], expert(obs, env))
        np.testing.assert_array_equal(tr["spikes"][t], state.z[0])
        obs, *_ = env.step(a[0])
    blind = wk.agent_trace(trained, None, seed=1001, max_steps=60)
    assert np.isnan(blind["expert_actions"]).all()
    np.testing.assert_array_equal(blind["agent_actions"], tr["agent_actions"])
