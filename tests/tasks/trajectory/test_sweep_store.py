"""The sweep's output folder: strict results, repair, one writer, resumable to the digit."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goal_rl.common.cli import run_main
from goal_rl.config import GoalConfig
from goal_rl.tasks.trajectory import sweep as sweep_mod
from goal_rl.tasks.trajectory.sweep import run_sweep
from goal_rl.tasks.trajectory.sweep_cli import main
from goal_rl.tasks.trajectory.sweep_store import read_results

TINY = dict(n_rec=24, t_seq=40, n_out=3, n_inp=5, epochs_rec=4)  # float32: batching matters
GRID = ([3, 24, None], [3.0, 8.0], [0])
KEYS = {"3|3.0|0", "3|8.0|0", "24|3.0|0", "24|8.0|0", "LTTS|3.0|0", "LTTS|8.0|0"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, list[dict]]:
    """An uninterrupted float32 sweep in batches of 2 (three batches)."""
    out = tmp_path_factory.mktemp("ref") / "sw"
    rows = run_sweep(*GRID, GoalConfig(**TINY), chunk=2, out=out, progress=False,
                     figures=False)
    return out, rows


def test_strict_reading_reports_line_numbers(tmp_path: Path, reference) -> None:
    ref, _ = reference
    good = (ref / "results.jsonl").read_text().splitlines()
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join([good[0], "42", "{broken", json.dumps({"tau_star": 3, "seed": 0}),
                               good[1], good[0], json.dumps({**json.loads(good[2]), "rank": 7})])
                    + "\n")
    rows, damaged = read_results(path, KEYS)
    assert len(rows) == 2
    assert damaged == [(2, "not a JSON object (int)"), (3, "not valid JSON"),
                       (4, "missing 'rank', 'final_mse', 'final_dz', 'conv_epoch', "
                           "'readout_mse'"),
                       (6, "repeats the point of line 1"),
                       (7, "point (rank 7, tau_star 3.0, seed 0) is not on this grid")]
    (tmp_path / "dir").mkdir()
    with pytest.raises(ValueError, match="is a folder, not a results file"):
        read_results(tmp_path / "dir", KEYS)


def test_damaged_line_stops_resume_and_repair_recomputes(tmp_path: Path, reference,
                                                         capsys) -> None:
    ref, rows = reference
    out = tmp_path / "sw"
    run_sweep(*GRID, GoalConfig(**TINY), chunk=2, out=out, progress=False, figures=False)
    lines = (out / "results.jsonl").read_text().splitlines()
    lines[2] = "garbage in the middle"
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    before = snapshot(out)
    args = ["-N", "24", "-T", "40", "-E", "5000", "4", "--ranks", "3", "24", "ltts", "--tau-star",
            "3", "8", "--dtype", "float32", "--chunk", "2", "--out", str(out),
            "--no-progress", "--no-figures"]
    code = run_main(main, [*args, "--resume"], prog="sweep")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "line 3 (not valid JSON)" in err
    assert "--repair" in err and snapshot(out) == before
    code = run_main(main, [*args, "--repair"], prog="sweep")
    assert code == 0, capsys.readouterr().err
    assert (out / "results.jsonl.bak").read_bytes() == before["results.jsonl"]
    repaired = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["rank"] or 0, r["tau_star"]) for r in repaired) == \
        sorted((r["rank"] or 0, r["tau_star"]) for r in rows)
    by = {(r["rank"], r["tau_star"]): r["final_mse"] for r in rows}
    assert all(r["final_mse"] == by[(r["rank"], r["tau_star"])] for r in repaired)


def test_resume_after_kill_equals_uninterrupted_float32(tmp_path: Path, reference,
                                                        monkeypatch) -> None:
    _, rows = reference
    out = tmp_path / "sw"
    calls = {"n": 0}
    real = sweep_mod.run_points

    def dies_in_second_batch(cfg, pts, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is stopped in the middle of batch 2
        return real(cfg, pts, **kw)

    monkeypatch.setattr(sweep_mod, "run_points", dies_in_second_batch)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(*GRID, GoalConfig(**TINY), chunk=2, out=out, progress=False, figures=False)
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    monkeypatch.setattr(sweep_mod, "run_points", real)
    # resume without --chunk: the recorded batch size is used, so the batches are the same
    again = run_sweep(*GRID, GoalConfig(**TINY), out=out, resume=True, progress=False,
                      figures=False)
    assert [r["final_mse"] for r in again] == [r["final_mse"] for r in rows]
    assert [r["final_dz"] for r in again] == [r["final_dz"] for r in rows]
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 6 and len({tuple(json.loads(x)[k] for k in ("rank", "tau_star"))
                                    for x in lines}) == 6
    with pytest.raises(ValueError, match="chunk \\(2 there, 3 now"):
        run_sweep(*GRID, GoalConfig(**TINY), chunk=3, out=out, resume=True, progress=False)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    out.mkdir()
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process holds the folder
        with pytest.raises(ValueError, match="another process is writing the sweep"):
            run_sweep(*GRID, GoalConfig(**TINY), out=out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_concurrent_starts_leave_every_point_once(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    cmd = [sys.executable, "-m", "goal_rl.sweep", "-N", "24", "-T", "40", "-E", "5000", "40",
           "--ranks", "3", "24", "--tau-star", "3", "--chunk", "1", "--out", str(out),
           "--resume", "--no-progress", "--no-figures"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    # the loser is refused while the winner holds the folder, or resumes a finished sweep
    assert codes in ([0, 0], [0, 2]), (codes, results)
    for (_, err), p in zip(results, procs):
        if p.returncode == 2:
            assert "another process is writing the sweep" in err and err.count("\n") == 1
    lines = (out / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["rank"] for x in lines) == [3, 24]
    record = json.loads((out / "sweep.json").read_text())
    assert record["config"]["epochs_rec"] == 40 and record["chunk"] == 1


def test_sigkill_of_the_driver_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    cmd = [sys.executable, "-m", "goal_rl.sweep", "-N", "24", "-T", "40", "-E", "5000", "300",
           "--ranks", "3", "24", "ltts", "--tau-star", "3", "--chunk", "1", "--out", str(out),
           "--no-progress", "--no-figures"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    res = out / "results.jsonl"
    while time.time() < deadline and not (res.exists() and res.read_text().strip()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(res.read_text().splitlines())
    assert 1 <= done <= 3
    subprocess.run([*cmd, "--resume"], env=env, check=True, capture_output=True, timeout=300)
    rows = [json.loads(x) for x in res.read_text().splitlines()]
    assert sorted(str(r["rank"]) for r in rows) == ["24", "3", "None"]
    fresh = run_sweep([3, 24, None], [3.0], [0], GoalConfig(n_rec=24, t_seq=40, epochs_rec=300),
                      chunk=1, progress=False)
    by = {r["rank"]: r["final_mse"] for r in fresh}
    assert all(r["final_mse"] == by[r["rank"]] for r in rows)
