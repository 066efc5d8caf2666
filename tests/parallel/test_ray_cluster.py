"""goal_rl.parallel.ray_cluster: units as Ray tasks on a local instance (2 CPUs, started
once for this module), retries after a worker dies, one-line errors for bad addresses."""

from __future__ import annotations

import operator
import os
import socket
import sys

import pytest

from goal_rl.parallel import RemoteTraceback, Unit, UnitFailed, crash_once, run_units
from goal_rl.parallel.ray_cluster import RayBackend, check_address, import_ray

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A private local Ray instance with 2 CPUs for this module."""
    backend = RayBackend(num_cpus=2)
    try:
        yield backend
    finally:
        backend.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_unit_once_with_its_result(cluster) -> None:
    got: dict[str, object] = {}

    def keep(unit, result):
        assert unit.key not in got
        got[unit.key] = result

    run_units(cluster, [Unit(f"u{i}", operator.pow, (i, 3)) for i in range(6)], keep)
    assert got == {f"u{i}": i ** 3 for i in range(6)}
    assert cluster.slots == 2 and cluster.threads == 1
    assert cluster.describe().startswith("ray (local instance: 2 unit(s) at once")


def test_tasks_run_in_workers_with_one_thread_each(cluster) -> None:
    got = {}
    cluster.run([Unit("env", os.getenv, ("OMP_NUM_THREADS",)), Unit("pid", os.getpid)],
                lambda u, r: got.update({u.key: r}))
    assert got["env"] == "1" and got["pid"] != os.getpid()


def test_a_unit_error_reaches_the_driver_with_its_type(cluster) -> None:
    with pytest.raises(ValueError, match="invalid literal") as info:
        cluster.run([Unit("bad", int, ("x",))], lambda u, r: None)
    assert isinstance(info.value.__cause__, RemoteTraceback)


def test_a_unit_that_kills_its_worker_is_retried_and_counted_once(cluster, tmp_path) -> None:
    marker = tmp_path / "crashed"
    units = [Unit(f"u{i}", operator.mul, (i, 10)) for i in range(3)]
    units.insert(1, Unit("crash", crash_once, (str(marker), operator.add, 40, 2)))
    got = []
    run_units(cluster, units, lambda u, r: got.append((u.key, r)))
    assert marker.exists()
    assert sorted(got) == sorted([(f"u{i}", i * 10) for i in range(3)] + [("crash", 42)])


def test_without_retries_a_dead_worker_fails_the_unit(tmp_path) -> None:
    backend = RayBackend(retries=0)  # joins the module's session
    with pytest.raises(UnitFailed, match="'crash' failed on the Ray cluster after 1 attempt"):
        backend.run([Unit("crash", crash_once, (str(tmp_path / "m"), abs, -1))],
                    lambda u, r: None)
    backend.close()
    assert ray.is_initialized()  # a session it did not start is left open


def test_a_unit_larger_than_the_cluster_is_refused(cluster) -> None:
    with pytest.raises(ValueError, match="asks for 1 CPU.*and 1 GPU.*has 2 CPU"):
        RayBackend(gpus=1)
    with pytest.raises(ValueError, match="asks for 3 CPU"):
        RayBackend(cpus=3)


def test_bad_addresses_fail_at_once_in_one_line() -> None:
    port = _free_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(ValueError, match="cannot reach the Ray cluster at") as info:
            check_address(address, timeout=2.0)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="is not 'auto'"):
        check_address("no-port-here")
    check_address(None)
    check_address("auto")
    with pytest.raises(ValueError, match="num_cpus sizes a local Ray instance"):
        RayBackend("auto", num_cpus=2)
    with pytest.raises(ValueError, match="cpus per unit must be a number >= 1"):
        RayBackend(cpus=0.5)


def test_without_ray_installed_the_error_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ValueError, match=r"pip install 'goal_rl\[ray\]'"):
        import_ray()
    with pytest.raises(ValueError, match="not installed"):
        RayBackend()
