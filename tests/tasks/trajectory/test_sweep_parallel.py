"""The sweep on the three backends: the same rows, no point lost or written twice when a
worker or the driver dies, one-line errors for bad backend options (Ray: one local
instance with 2 CPUs for this module)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goal_rl.common.cli import run_main
from goal_rl.config import GoalConfig
from goal_rl.parallel import Unit, crash_once
from goal_rl.parallel.processes import ProcessBackend
from goal_rl.tasks.trajectory import sweep as sweep_mod
from goal_rl.tasks.trajectory.sweep import run_sweep
from goal_rl.tasks.trajectory.sweep_cli import main

ray = pytest.importorskip("ray")
from goal_rl.parallel.ray_cluster import RayBackend  # noqa: E402

TINY = dict(n_rec=24, t_seq=40, n_out=3, n_inp=5, epochs_rec=4)
GRID = ([3, 24, None], [3.0, 8.0], [0])
ENV = {**os.environ, "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def backends():
    """The parallel backends, started once: 2 worker processes and a local Ray (2 CPUs)."""
    pool = ProcessBackend(2, threads=1)
    cluster = RayBackend(num_cpus=2)
    try:
        yield {"processes": pool, "ray": cluster}
    finally:
        pool.close()
        cluster.close()


def strip(rows: list[dict]) -> list[dict]:
    """Rows without the batch's wall time (the only field that may differ)."""
    return [{k: v for k, v in r.items() if k != "batch_wall_time_s"} for r in rows]


def lines_of(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def key(r: dict) -> tuple:
    return (str(r["rank"]), r["tau_star"], r["seed"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rows_do_not_depend_on_the_backend(backends, dtype) -> None:
    cfg = GoalConfig(**TINY, dtype=dtype)
    ref = run_sweep(*GRID, cfg, chunk=2, progress=False, threads=1)
    for name, backend in backends.items():
        rows = run_sweep(*GRID, cfg, chunk=2, progress=False, backend=backend)
        assert strip(rows) == strip(ref), name
        assert [r["batch_size"] for r in rows] == [2] * 6


def test_parallel_default_gives_every_worker_a_batch(backends, tmp_path) -> None:
    cfg = GoalConfig(**TINY)
    out = tmp_path / "sw"
    rows = run_sweep(*GRID, cfg, out=out, progress=False, figures=False,
                     backend=backends["processes"])
    assert json.loads((out / "sweep.json").read_text())["chunk"] == 3
    assert strip(rows) == strip(run_sweep(*GRID, cfg, chunk=3, progress=False, threads=1))
    assert sorted(map(key, lines_of(out))) == sorted(map(key, rows))


@pytest.mark.parametrize("name", ["processes", "ray"])
def test_a_batch_that_kills_its_worker_loses_and_repeats_nothing(backends, name, tmp_path,
                                                                 monkeypatch) -> None:
    cfg = GoalConfig(**TINY)
    marker = tmp_path / "crashed"
    real = sweep_mod._sweep_units

    def second_batch_dies_once(*args, **kwargs):
        units = real(*args, **kwargs)
        u = units[1]
        units[1] = Unit(u.key, crash_once, (str(marker), u.fn, *u.args), u.kwargs, u.size)
        return units

    monkeypatch.setattr(sweep_mod, "_sweep_units", second_batch_dies_once)
    out = tmp_path / "sw"
    rows = run_sweep(*GRID, cfg, chunk=2, out=out, progress=False, figures=False,
                     backend=backends[name])
    assert marker.exists()  # the worker running batch 2 did die once
    lines = lines_of(out)
    assert len(lines) == 6 and len({key(r) for r in lines}) == 6
    ref = {key(r): r["final_mse"] for r in run_sweep(*GRID, cfg, chunk=2, progress=False)}
    assert all(r["final_mse"] == ref[key(r)] for r in lines + rows)


def _driver(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "goal_rl.sweep", "-N", "24", "-T", "40", "-E", "5000",
            "300", "--ranks", "3", "24", "ltts", "--tau-star", "3", "--chunk", "1", "--out",
            str(out), "--no-progress", "--no-figures", *extra]


@pytest.mark.parametrize("first,then", [("processes", "ray"), ("ray", "processes")])
def test_sigkill_of_the_driver_then_resume_on_another_backend(backends, tmp_path, first,
                                                              then) -> None:
    out = tmp_path / "sw"
    flag = ["--processes", "2"] if first == "processes" else ["--ray"]
    proc = subprocess.Popen(_driver(out, *flag), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    res = out / "results.jsonl"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (res.exists() and res.read_text().strip()):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:  # what the driver started (its workers, a local Ray) goes too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert 1 <= len(lines_of(out)) <= 3
    cfg = GoalConfig(n_rec=24, t_seq=40, epochs_rec=300)
    rows = run_sweep([3, 24, None], [3.0], [0], cfg, out=out, resume=True, progress=False,
                     figures=False, backend=backends[then])
    lines = lines_of(out)
    assert sorted(map(key, lines)) == sorted(map(key, rows)) and len(lines) == 3
    fresh = run_sweep([3, 24, None], [3.0], [0], cfg, chunk=1, progress=False)
    by = {key(r): r["final_mse"] for r in fresh}
    assert all(r["final_mse"] == by[key(r)] for r in lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_on_ray_and_processes(backends, tmp_path, capsys) -> None:
    args = ["-N", "24", "-T", "40", "-E", "5", "4", "--ranks", "3", "ltts", "--tau-star",
            "3", "--no-figures", "--no-progress", "--dtype", "float64"]
    assert run_main(main, [*args, "--out", str(tmp_path / "a"), "--ray"]) == 0
    assert "on ray (local instance" in capsys.readouterr().out
    assert run_main(main, [*args, "--out", str(tmp_path / "b"), "--processes", "2"]) == 0
    assert "on processes (2 workers, 1 thread each)" in capsys.readouterr().out
    a, b = (sorted(strip(lines_of(tmp_path / x)), key=key) for x in "ab")
    assert a == b  # results.jsonl is in the order the batches finished


@pytest.mark.parametrize("extra,needle", [
    (["--processes", "0"], "argument --processes: must be > 0, got 0"),
    (["--ray", "127.0.0.1:PORT"], "cannot reach the Ray cluster at '127.0.0.1:PORT'"),
    (["--ray", "ray://127.0.0.1:PORT"], "cannot reach the Ray cluster"),
    (["--ray", "--gpus-per-unit", "1"], "asks for 1 CPU(s) and 1 GPU(s)"),
    (["--gpus-per-unit", "1", "--processes", "2"], "--gpus-per-unit needs --ray"),
    (["--ray", "NO_RAY"], "pip install 'goal_rl[ray]'"),
])
def test_cli_bad_backend_is_one_line_exit_2_nothing_written(backends, tmp_path, capsys,
                                                           monkeypatch, extra, needle) -> None:
    port = str(_free_port())
    extra = [x.replace("PORT", port) for x in extra]
    needle = needle.replace("PORT", port)
    if "NO_RAY" in extra:
        extra.remove("NO_RAY")
        monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    out = tmp_path / "never"
    code = run_main(main, ["-N", "24", "-T", "40", "-E", "5", "4", "--ranks", "3",
                           "--tau-star", "3", "--out", str(out), *extra], prog="sweep")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not out.exists()
