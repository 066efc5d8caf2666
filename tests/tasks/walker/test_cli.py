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
