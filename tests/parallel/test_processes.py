"""goal_rl.parallel.processes: a pool of spawned workers, retries, no orphans."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goal_rl.parallel import RemoteTraceback, Unit, UnitFailed, crash_once, run_units
from goal_rl.parallel.processes import ProcessBackend


@pytest.fixture(scope="module")
def pool():
    """Two spawned workers shared by the tests of this module (started once)."""
    with ProcessBackend(2, threads=1) as backend:
        yield backend


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state  # a zombie has ended; only its parent's wait is missing


def test_every_unit_once_with_its_result(pool) -> None:
    got: dict[str, object] = {}

    def keep(unit, result):
        assert unit.key not in got
        got[unit.key] = result

    units = [Unit(f"u{i}", operator.pow, (i, 2)) for i in range(7)]
    run_units(pool, units, keep)
    assert got == {f"u{i}": i * i for i in range(7)}
    assert pool.slots == 2 and pool.threads == 1
    assert pool.describe() == "processes (2 workers, 1 thread each)"


def test_workers_get_the_thread_count_and_are_other_processes(pool) -> None:
    got = []
    pool.run([Unit("env", os.getenv, ("OMP_NUM_THREADS",)), Unit("pid", os.getpid)],
             lambda u, r: got.append((u.key, r)))
    got = dict(got)
    assert got["env"] == "1" and got["pid"] != os.getpid()


def test_a_unit_error_reaches_the_driver_with_its_type(pool) -> None:
    with pytest.raises(ValueError, match="invalid literal") as info:
        pool.run([Unit("bad", int, ("x",))], lambda u, r: None)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "ValueError" in str(info.value.__cause__)
    got = []
    pool.run([Unit("after", operator.add, (1, 2))], lambda u, r: got.append(r))
    assert got == [3]  # the pool still works


def test_a_unit_that_kills_its_worker_is_retried_once_and_counted_once(pool, tmp_path) -> None:
    marker = tmp_path / "crashed"
    units = [Unit(f"u{i}", operator.mul, (i, 10)) for i in range(4)]
    units.insert(2, Unit("crash", crash_once, (str(marker), operator.add, 40, 2)))
    got = []
    run_units(pool, units, lambda u, r: got.append((u.key, r)))
    assert marker.exists()  # the first attempt did die
    assert sorted(got) == sorted([(f"u{i}", i * 10) for i in range(4)] + [("crash", 42)])
    assert len(got) == len(units)


def test_a_unit_whose_worker_always_dies_fails_after_its_retries(tmp_path) -> None:
    marker = tmp_path / "crashed"
    with ProcessBackend(1, retries=0) as backend:
        with pytest.raises(UnitFailed, match="'crash'.*died on each of 1 attempts.*code 70"):
            backend.run([Unit("crash", crash_once, (str(marker), abs, -1))],
                        lambda u, r: None)


def test_what_cannot_be_pickled_fails_in_the_driver(pool) -> None:
    with pytest.raises(Exception, match="pickle|lambda"):
        pool.run([Unit("lambda", lambda: 1)], lambda u, r: None)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="processes must be a positive integer, got 0"):
        ProcessBackend(0)
    with pytest.raises(ValueError, match="start_method"):
        ProcessBackend(1, start_method="fork")
    with pytest.raises(ValueError, match="threads"):
        ProcessBackend(1, threads=0)
    assert ProcessBackend(1).threads == max(1, os.cpu_count() or 1)


def test_forkserver_works_too() -> None:
    got = []
    with ProcessBackend(1, start_method="forkserver") as backend:
        backend.run([Unit("x", operator.sub, (9, 4))], lambda u, r: got.append(r))
    assert got == [5]


def test_workers_end_when_their_driver_is_killed() -> None:
    code = ("import os, time; from goal_rl.parallel import Unit; "
            "from goal_rl.parallel.processes import ProcessBackend\n"
            "b = ProcessBackend(1)\n"
            "b.run([Unit('pid', os.getpid)], lambda u, r: print(r, flush=True))\n"
            "b.run([Unit('sleep', time.sleep, (120,))], lambda u, r: None)\n")
    driver = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    worker = int(driver.stdout.readline())
    time.sleep(0.3)
    assert not _gone(worker)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 10
    while time.time() < deadline and not _gone(worker):
        time.sleep(0.1)
    assert _gone(worker)
