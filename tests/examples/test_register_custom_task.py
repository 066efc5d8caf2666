"""The custom-task example registers a task and trains it through the generic CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from goal_rl.common.cli import run_main
from goal_rl.tasks import registry
from goal_rl.tasks.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "register_custom_task.py"
SHORT = ["n_rec=40", "epochs_rec=5", "n_demos=1", "n_eval=2", "num_envs=2", "max_steps=150"]


@pytest.fixture(autouse=True)
def restore_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))


def test_example_as_plugin(tmp_path, capsys) -> None:
    code = run_main(main, ["--plugin", str(EXAMPLE), "list"])
    out = capsys.readouterr().out
    assert code == 0 and "mountain_car_clone  closed_loop" in out
    code = run_main(main, ["--plugin", str(EXAMPLE), "train", "mountain_car_clone", "--set",
                           *SHORT, "--out", str(tmp_path), "--no-progress", "--plot"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("mountain_car_clone: mean return")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["n_eval_episodes"] == 2 and {"mean_reward", "std_reward"} <= set(m)
    assert m["demo_mean_return"] > 80  # the scripted expert reaches the flag
    # the expert on the test episodes, next to the agent
    assert len(m["expert_episode_returns"]) == 2 and m["expert_mean_reward"] > 80
    assert (tmp_path / "agent.pt").is_file()
    assert mpimg.imread(tmp_path / "plot.png")[..., :3].std() > 0.05  # a figure, not blank


def test_example_script_subprocess(tmp_path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--set", *SHORT, "--out",
                           str(tmp_path), "--no-progress"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "mountain_car_clone: mean return" in proc.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["task"] == "mountain_car_clone"
    bad = subprocess.run([sys.executable, str(EXAMPLE), "--set", "n_rec=-3"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "n_rec must be an integer >= 1" in bad.stderr


LANDER = EXAMPLE.parent / "lunar_lander_task.py"


def test_lunar_lander_plugin_dagger_then_evaluate_and_play(tmp_path, capsys) -> None:
    """The LunarLanderContinuous plugin: train with DAgger, then evaluate and play from the
    saved file alone; the test score sits next to the expert's on the same episodes."""
    short = ["n_rec=60", "epochs_rec=5", "n_demos=2", "n_eval=2", "num_envs=2",
             "dagger_rounds=1", "dagger_episodes=1", "select_episodes=2", "max_steps=200"]
    out = tmp_path / "lander"
    code = run_main(main, ["--plugin", str(LANDER), "train", "lunar_lander_clone", "--set",
                           *short, "--out", str(out), "--no-progress", "--plot"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_seeds"] == [1000, 1001] and m["selection_seeds"] == [2000, 2001]
    assert len(m["expert_episode_returns"]) == 2 and m["expert_mean_reward"] > 100
    assert "| expert " in stdout and "picked on seeds 2000-2001" in stdout
    assert mpimg.imread(out / "dagger.png")[..., :3].std() > 0.05
    code = run_main(main, ["evaluate", str(out / "agent.pt"), "--json", "--batched"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(stdout)["episode_returns"] == m["episode_returns"]
    code = run_main(main, ["play", str(out / "agent.pt"), "--video", str(tmp_path / "l.gif")])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "l.gif").stat().st_size > 1000


def test_cartpole_plugin_discrete_train_evaluate_play(tmp_path, capsys) -> None:
    """A Discrete(2) task through the whole CLI: train, evaluate, play from agent.pt."""
    cartpole = EXAMPLE.parent / "cartpole_task.py"
    out = tmp_path / "cp"
    code = run_main(main, ["--plugin", str(cartpole), "train", "cartpole_clone", "--set",
                           "n_rec=40", "epochs_rec=3", "n_demos=1", "n_eval=3", "num_envs=3",
                           "--out", str(out), "--no-progress"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["expert_episode_returns"] == [500.0] * 3  # the scripted expert never fails
    assert m["n_demo_steps"] == 500
    code = run_main(main, ["evaluate", str(out / "agent.pt"), "--json"])
    res = json.loads(capsys.readouterr()[0])
    assert code == 0 and res["n_eval_episodes"] == 3
    assert all(8 <= r <= 500 for r in res["episode_returns"])
    code = run_main(main, ["play", str(out / "agent.pt"), "--video", str(tmp_path / "c.gif")])
    assert code == 0 and (tmp_path / "c.gif").stat().st_size > 1000
