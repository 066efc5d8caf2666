"""Tests of goal_rl.tasks.walker.cli: the command lines ``python -m goal_rl.walker_expert``
and ``python -m goal_rl.walker`` (flags, one-line errors, exit codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from goal_rl.tasks.walker import cli

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "MPLBACKEND": "Agg", "SDL_VIDEODRIVER": "dummy"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=120)


def test_expert_main_in_process_errors(capsys):
    assert cli.expert_main(["--evaluate", "ppo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown expert 'ppo'" in err[0]
    assert cli.expert_main(["--train", "--evaluate"]) == 2
    assert cli.expert_main(["--evaluate", "heuristic", "--episodes", "0"]) == 2
    assert cli.expert_main([]) == 2  # one of --train / --evaluate is required
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith(f"{cli.EXPERT_PROG}: error:") for line in err)
    assert "--episodes" in err[1] and "--train" in err[2]


def test_expert_main_without_sb3_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    rc = cli.expert_main(["--train", "--steps", "10", "--out", str(tmp_path / "x.pt"),
                          "--checkpoint-dir", str(tmp_path / "ck")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "pip install -e '.[expert]'" in err[0]
    assert not (tmp_path / "x.pt").exists()


def test_expert_main_evaluate_prints_json_and_text(capsys):
    assert cli.expert_main(["--evaluate", "a2c", "--episodes", "1", "--seed", "1000",
                            "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expert"] == "a2c" and out["n_eval_episodes"] == 1
    assert out["success_rate"] == 1.0
    assert out["mean_reward"] == pytest.approx(300.68369897827506, abs=1e-3)
    assert cli.expert_main(["--evaluate", "--episodes", "1"]) == 0  # a2c is the default
    text = capsys.readouterr().out
    assert text.startswith("a2c: 300.7 +- 0.0 over 1 episodes (seeds 1000..1000), "
                           "reached end 100%")


def test_expert_cli_bad_argument_exits_2_with_one_line():
    proc = _run("goal_rl.walker_expert", "--evaluate", "a2c", "--bogus")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0] and "--bogus" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_expert_help_lists_every_flag(capsys):
    assert cli.expert_main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--train", "--evaluate", "--steps", "--out", "--checkpoint-dir",
                 "--no-resume", "--episodes", "--seed", "--no-progress", "--json"):
        assert flag in out


WALKER_FLAGS = ("--expert", "--demos", "--play", "--train-expert", "--out", "--n-rec", "--rank",
                "--tau-star", "--epochs", "--inp-lr", "--censored-iters", "--demo-episodes",
                "--demo-steps", "--rounds", "--episodes-per-round", "--select-episodes",
                "--eval-episodes", "--eval-seed", "--seed", "--device", "--num-envs",
                "--render", "--no-hints", "--no-plots", "--no-progress")


def test_walker_help_lists_every_flag(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {cli.PROG} ")
    for flag in WALKER_FLAGS:
        assert flag in out


def test_walker_cli_bad_flag_exits_2_with_one_line():
    proc = _run("goal_rl.walker", "--bogus")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "python -m goal_rl.walker: error: unrecognized arguments: --bogus"]


def test_walker_main_user_errors_fail_before_any_output(tmp_path, capsys):
    out = tmp_path / "run"
    cases = [(["--expert", "ppo"], "unknown expert 'ppo'"),
             (["--rank", "M"], "invalid --rank 'M'"),
             (["--n-rec", "0"], "--n-rec"),
             (["--expert", "--demos", "x.npz"], "not allowed with argument"),
             (["--demos", str(tmp_path / "none.npz")], "demonstrations file not found"),
             (["--device", "tpu"], "unknown device 'tpu'")]
    for argv, message in cases:
        assert cli.main([*argv, "--out", str(out), "--no-progress"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"{cli.PROG}: error: "), err
        assert message in err[0], err
    assert not out.exists()


def test_walker_train_expert_hands_over_to_the_expert_cli(capsys):
    assert cli.main(["--train-expert", "--steps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{cli.PROG} --train-expert: error: argument --steps: must be > 0, got 0"]


def test_print_table_rows(capsys):
    agent = {"mean_reward": 292.44, "std_reward": 42.4, "success_rate": 0.96,
             "mean_length": 901.2}
    expert = {"mean_reward": 300.12, "std_reward": 0.95, "success_rate": 1.0,
              "mean_length": 829.8}
    cli.print_table(expert, agent, 50)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ""
    assert lines[1].split() == ["return", "(50", "episodes)", "end", "length"]
    assert lines[2].split() == ["expert", "300.1", "±", "0.9", "100%", "830"]
    assert lines[3].split() == ["spiking", "agent", "292.4", "±", "42.4", "96%", "901"]
    cli.print_table(None, agent, 5)
    assert [ln.split()[0] for ln in capsys.readouterr().out.splitlines()[2:]] == ["spiking"]
