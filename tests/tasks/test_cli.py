"""Tests for ``python -m goal_rl`` (list / train) and its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from goal_rl.common.cli import parse_rank, run_main
from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.evaluation import evaluate
from goal_rl.tasks.button_food.task import record_angle_demos
from goal_rl.tasks.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY_BF = ["n_rec=30", "epochs_rec=3", "n_test=4", "train_angles=60,120"]


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = run_main(main, args, prog="python -m goal_rl")
    out, err = capsys.readouterr()
    return code, out, err


def test_list_subprocess() -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "goal_rl", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    names = [ln.split()[0] for ln in lines]
    assert names == ["button_food", "trajectory", "walker"]
    assert lines[0].split()[1] == "closed_loop" and lines[1].split()[1] == "open_loop"


def test_a_users_tasks_py_and_envs_folder_do_not_shadow_ours(tmp_path) -> None:
    """One import root: from a folder holding its own ``tasks.py`` and ``envs/`` (common
    names in RL projects), ``list`` and ``train`` still find goal_rl's registry and envs."""
    (tmp_path / "tasks.py").write_text("raise ImportError('the user tasks.py was imported')\n")
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("raise ImportError('user envs imported')\n")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "goal_rl", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()] == ["button_food", "trajectory",
                                                                  "walker"]
    proc = subprocess.run([sys.executable, "-m", "goal_rl", "train", "button_food", "--set",
                           *TINY_BF, "--no-progress", "--out", "out"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("button_food R=30 | mean score")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["task"] == "button_food"


def test_train_trajectory_writes_metrics(tmp_path, capsys) -> None:
    code, out, err = cli(["train", "trajectory", "--set", "n_rec=30", "t_seq=40",
                          "epochs_rec=5", "--seed", "3", "--out", str(tmp_path),
                          "--no-progress", "--plot"], capsys)
    assert code == 0, err
    assert "readout-limit MSE" in out and "final spike error dZ" in out
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["task"] == "trajectory" and m["kind"] == "open_loop"
    assert m["config"]["seed"] == 3 and m["epochs_rec"] == 5
    assert np.isfinite(m["final_mse"]) and (tmp_path / "plot.png").is_file()


def test_train_button_food_writes_sb3_metrics_and_agent(tmp_path, capsys) -> None:
    code, out, err = cli(["train", "button_food", "--set", *TINY_BF, "--device", "cpu",
                          "--out", str(tmp_path), "--no-progress"], capsys)
    assert code == 0, err
    assert out.startswith("button_food R=30 | mean score")
    m = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("mean_reward", "std_reward", "n_eval_episodes", "mean_score",
                "reached_fraction"):
        assert key in m
    assert m["n_eval_episodes"] == 4 and m["kind"] == "closed_loop"
    agent = SpikingAgent.load(tmp_path / "agent.pt")
    assert (agent.n_inp, agent.n_out, agent.n_rec) == (80, 2, 30)


def test_train_with_demos_file(tmp_path, capsys) -> None:
    path = record_angle_demos((60.0, 120.0)).save(tmp_path / "demos.npz")
    code, out, err = cli(["train", "button_food", "--set", *TINY_BF[:3], f"demos={path}",
                          "--no-progress"], capsys)
    assert code == 0, err
    assert "mean score" in out


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    nan = tmp_path / "nan.npz"
    obs = np.zeros((4, 80), np.float32)
    obs[2, 5] = np.nan
    np.savez(nan, observations=obs, actions=np.zeros((4, 2)), episode_starts=np.array([0]))
    shape = tmp_path / "shape.npz"
    np.savez(shape, observations=np.zeros((4, 10)), actions=np.zeros((4, 2)),
             episode_starts=np.array([0]))
    return {"missing": tmp_path / "missing.npz", "corrupt": corrupt, "nan": nan,
            "shape": shape}


@pytest.mark.parametrize(("case", "args", "message"), [
    ("unknown task", ["train", "buton_food"], "unknown task 'buton_food'; did you mean "
                                              "'button_food'?"),
    ("bad key", ["train", "button_food", "--set", "n_recc=3"],
     "unknown setting 'n_recc' for task 'button_food' (did you mean 'n_rec'?)"),
    ("bad value", ["train", "button_food", "--set", "n_rec=many"],
     "bad value 'many' for setting 'n_rec' (expected int)"),
    ("no equals", ["train", "button_food", "--set", "n_rec"], "expected KEY=VALUE"),
    ("bad rank", ["train", "button_food", "--set", "rank=0"],
     "rank R=0 is outside [1, N] = [1, 300]"),
    ("missing task module", ["train", "walker"], "task 'walker'"),
    ("missing plugin", ["--plugin", "nope.py", "list"], "plugin file not found"),
    ("bad command", ["fly"], "invalid choice: 'fly'"),
])
def test_bad_input_one_line_exit_2(case, args, message, tmp_path, capsys) -> None:
    if case == "missing task module":
        import importlib.util

        if importlib.util.find_spec("goal_rl.tasks.walker") is not None:
            pytest.skip("goal_rl.tasks.walker has landed")
    code, out, err = cli(args + (["--out", str(tmp_path / "o")] if args[0] == "train" else []),
                         capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "o" / "metrics.json").exists()


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "demonstrations file not found"),
    ("corrupt", "not a valid demonstrations file"),
    ("nan", "observations has a non-finite value"),
    ("shape", "demonstrations have obs/act sizes 10/2 but the env has 80/2"),
])
def test_bad_demos_file_one_line_exit_2(kind, message, tmp_path, capsys) -> None:
    path = _bad_files(tmp_path)[kind]
    out_dir = tmp_path / "out"
    code, out, err = cli(["train", "button_food", "--set", *TINY_BF, f"demos={path}",
                          "--out", str(out_dir), "--no-progress"], capsys)
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out_dir.exists()  # nothing written: not even the folder


def test_module_entry_exit_code_subprocess(tmp_path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "goal_rl", "train", "button_food", "--set",
                           "n_rec=oops"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("python -m goal_rl: error: bad value 'oops' for setting "
                                   "'n_rec' (expected int)")


def test_parse_rank() -> None:
    """The rank text of the CLIs: integers, ltts/none (diagonal feedback), N when known."""
    assert parse_rank(" 12 ") == 12 and parse_rank("0", 50) == 0
    assert parse_rank("LTTS") is None and parse_rank("none", 50) is None
    assert parse_rank("N", 500) == 500
    with pytest.raises(ValueError, match="invalid rank 'N': an integer or 'ltts'"):
        parse_rank("N")  # no N to stand for
    with pytest.raises(ValueError, match="invalid --rank '4.5': an integer, 'N' or 'ltts'"):
        parse_rank("4.5", 500, "--rank")


EXAMPLE = ROOT / "examples" / "register_custom_task.py"
SHORT_MC = ["n_rec=40", "epochs_rec=5", "n_demos=1", "n_eval=3", "num_envs=3",
            "max_steps=150", "dagger_rounds=1", "dagger_episodes=1", "select_episodes=2"]


def test_evaluate_and_play_from_the_saved_agent_alone(tmp_path, capsys, monkeypatch) -> None:
    from goal_rl.tasks import registry

    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    out = tmp_path / "run"
    code, _, err = cli(["--plugin", str(EXAMPLE), "train", "mountain_car_clone", "--set",
                        *SHORT_MC, "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    # nothing repeated: the file knows its env and its test episodes
    code, stdout, err = cli(["evaluate", str(out / "agent.pt"), "--json", "--batched"], capsys)
    assert code == 0 and err == "", err
    res = json.loads(stdout)  # batched as the run (3 envs): its figures to the digit
    assert res["episode_returns"] == m["episode_returns"] and res["n_eval_episodes"] == 3
    # the default: per-env products, the returns of 1 env whatever --num-envs
    one = evaluate(SpikingAgent.load(out / "agent.pt"), "MountainCarContinuous-v0", 3, 1000)
    for k in ("1", "3"):
        code, stdout, _ = cli(["evaluate", str(out / "agent.pt"), "--json", "--num-envs", k],
                              capsys)
        assert json.loads(stdout)["episode_returns"] == one["episode_returns"]
    assert {"mean_reward", "std_reward", "n_eval_episodes", "episode_returns"} <= set(res)
    assert res["protocol"]["task"] == "mountain_car_clone"
    assert res["protocol"]["env_id"] == "MountainCarContinuous-v0"
    code, stdout, _ = cli(["evaluate", str(out / "agent.pt"), "--episodes", "2", "--seed",
                           "1001"], capsys)
    assert code == 0 and "over 2 episodes (seeds 1001-1002" in stdout
    code, stdout, _ = cli(["evaluate", str(out / "agent.pt"), "--episodes", "1", "--seed",
                           "1001", "--json"], capsys)
    assert json.loads(stdout)["episode_returns"] == one["episode_returns"][1:2]
    for name in ("play.mp4", "play.gif"):
        code, stdout, err = cli(["play", str(out / "agent.pt"), "--video",
                                 str(tmp_path / name)], capsys)
        assert code == 0, err
        assert f"returns {one['episode_returns'][0]:.2f}" in stdout
    import imageio
    import imageio.v3 as iio

    from goal_rl.learning.saved import play_saved

    length = one["episode_lengths"][0]
    res = play_saved(SpikingAgent.load(out / "agent.pt"), video=tmp_path / "again.mp4")
    assert res["n_frames"] == length and res["episode_returns"] == one["episode_returns"][:1]
    with imageio.get_reader(tmp_path / "play.mp4") as reader:  # the ffmpeg reader
        assert reader.count_frames() == length
    gif = iio.imread(tmp_path / "play.gif", index=None)
    assert gif.ndim == 4 and gif.shape[0] > length // 4 and gif.std() > 10  # not blank
    assert gif.shape[1:3] == (400, 600)  # MountainCar's rgb_array frame


def test_evaluate_an_older_agent_file_with_env(tmp_path, capsys) -> None:
    from goal_rl.tasks.button_food.task import ButtonFoodConfig, ButtonFoodTask

    task = ButtonFoodTask(ButtonFoodConfig(n_rec=20, epochs_rec=2, n_test=3,
                                           train_angles=(60.0, 120.0)))
    m = task.run(tmp_path, progress=False)
    code, stdout, err = cli(["evaluate", str(tmp_path / "agent.pt"), "--json", "--batched"],
                            capsys)
    assert code == 0, err
    assert json.loads(stdout)["episode_score"] == m["episode_score"]  # angles recorded
    agent = SpikingAgent.load(tmp_path / "agent.pt")
    del agent.meta["protocol"]  # as saved before the protocol existed
    agent.save(tmp_path / "old.pt")
    code, _, err = cli(["evaluate", str(tmp_path / "old.pt")], capsys)
    assert code == 2 and "records no env id" in err and "--env ID" in err
    code, stdout, err = cli(["evaluate", str(tmp_path / "old.pt"), "--env",
                             "goal_rl/ButtonFood-v0", "--episodes", "2", "--json"], capsys)
    assert code == 0 and "inferred 10 episodes from seed 1000" in err
    ref = evaluate(agent, "goal_rl/ButtonFood-v0", 2, 1000)
    assert json.loads(stdout)["episode_returns"] == ref["episode_returns"]
