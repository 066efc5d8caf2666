"""goal_rl.tasks.walker.seeds: a table over training seeds, one unit per seed, pooled."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from goal_rl.common.threads import single_thread_blas, torch_threads
from goal_rl.learning.agent import SpikingAgent
from goal_rl.parallel.processes import ProcessBackend
from goal_rl.tasks.walker import cli
from goal_rl.tasks.walker.cli import run_walker
from goal_rl.tasks.walker.config import WalkerConfig
from goal_rl.tasks.walker.pipeline import evaluate_walker
from goal_rl.tasks.walker.seeds import parse_seeds, pool_seeds, run_seed_table

SMALL = dict(n_rec=30, epochs_rec=1, dagger_rounds=1, episodes_per_round=1, demo_episodes=1,
             demo_max_steps=60, select_episodes=1, eval_episodes=2)
FLAGS = ["--n-rec", "30", "--epochs", "1", "--rounds", "1", "--episodes-per-round", "1",
         "--demo-episodes", "1", "--demo-steps", "60", "--select-episodes", "1",
         "--eval-episodes", "2", "--no-progress"]
TIMES = ("total_time_s", "train_time_s", "agent_steps_per_s", "history")


def same(m: dict) -> dict:
    """A seed's metrics without its timings (which differ from run to run)."""
    return {k: v for k, v in m.items() if k not in TIMES}


def test_parse_seeds() -> None:
    assert parse_seeds("0-5") == [0, 1, 2, 3, 4, 5]
    assert parse_seeds("4") == [4]
    assert parse_seeds("0-2, 7,1") == [0, 1, 2, 7]
    for bad, needle in [("a", "'a' is not a seed"), ("3-1", "0 <= A <= B"), ("-1", "is not"),
                        ("", "is not a seed"), ("0-20000", "more than 10000 seeds")]:
        with pytest.raises(ValueError, match=needle):
            parse_seeds(bad)


def test_pool_is_mean_and_sem_over_seeds() -> None:
    per_seed = [{"config": {"seed": s}, "mean_reward": r, "success_rate": q, "mean_length": n,
                 "episode_returns": [r - 1, r + 1]}
                for s, r, q, n in [(0, 100.0, 0.5, 400), (1, 200.0, 1.0, 600),
                                   (2, 300.0, 1.0, 500)]]
    p = pool_seeds(per_seed)
    assert p["n_seeds"] == 3 and p["seeds"] == [0, 1, 2] and p["mean_reward"] == 200.0
    assert p["sem_reward"] == pytest.approx(100.0 / math.sqrt(3))
    assert p["success_rate"] == pytest.approx(2.5 / 3)
    assert p["sem_success_rate"] == pytest.approx(np.std([0.5, 1, 1], ddof=1) / math.sqrt(3))
    assert p["n_episodes"] == 6 and p["episode_mean_reward"] == 200.0
    assert pool_seeds(per_seed[:1])["sem_reward"] is None


@pytest.fixture(scope="module")
def inline_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("table") / "t"
    table = run_seed_table(WalkerConfig(**SMALL), [0, 1], out=out, progress=False)
    return out, table


def test_seed_rows_equal_single_runs_and_files_are_written(inline_table) -> None:
    out, table = inline_table
    assert table["complete"] and table["seeds"] == [0, 1]
    assert [m["config"]["seed"] for m in table["per_seed"]] == [0, 1]
    with torch_threads(1), single_thread_blas():  # a table's seed runs on one thread
        single = run_walker(WalkerConfig(**SMALL, seed=1), None, progress=False, plot=False,
                            log=None)
    row = table["per_seed"][1]
    assert row["episode_returns"] == single["episode_returns"]
    assert row["mean_reward"] == single["mean_reward"]
    assert table["expert"]["mean_reward"] == single["expert_mean_reward"]
    saved = json.loads((out / "table.json").read_text())
    assert saved["pooled"]["mean_reward"] == pytest.approx(
        np.mean([m["mean_reward"] for m in table["per_seed"]]))
    agent = SpikingAgent.load(out / "seed_1" / "agent.pt")
    again = evaluate_walker(agent, 2, 1000)
    assert again["episode_returns"] == row["episode_returns"]
    assert same(json.loads((out / "seed_0" / "metrics.json").read_text())) == \
        json.loads(json.dumps(same(table["per_seed"][0])))


def test_processes_give_the_inline_table(inline_table, tmp_path) -> None:
    _, table = inline_table
    with ProcessBackend(2) as backend:
        par = run_seed_table(WalkerConfig(**SMALL), [0, 1], backend=backend,
                             out=tmp_path / "p", progress=False)
    assert [same(m) for m in par["per_seed"]] == [same(m) for m in table["per_seed"]]
    assert par["pooled"] == table["pooled"] and par["expert"] == table["expert"]
    assert par["backend"].startswith("processes (2 workers")


def test_cli_table_mode_prints_and_writes(tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert cli.main(["--expert", "--seeds", "0", "--out", str(out), *FLAGS]) == 0
    text = capsys.readouterr().out
    assert "mean ± SEM" in text and "over 1 seed" in text and "expert" in text
    assert json.loads((out / "table.json").read_text())["pooled"]["n_seeds"] == 1


@pytest.mark.parametrize("argv,needle", [
    (["--seeds", "3-1"], "0 <= A <= B"),
    (["--seeds", "0", "--play", "agent.pt"], "cannot go with --play"),
    (["--processes", "2"], "need --seeds"),
    (["--seeds", "0", "--processes", "0"], "must be > 0"),
    (["--seeds", "0", "--gpus-per-unit", "1"], "--gpus-per-unit needs --ray"),
])
def test_cli_table_bad_input(tmp_path, capsys, argv, needle) -> None:
    out = tmp_path / "never"
    assert cli.main([*argv, "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not out.exists()
