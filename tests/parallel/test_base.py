"""goal_rl.parallel.base: units, the inline backend, the worker-side helpers."""

from __future__ import annotations

import operator
import os
import pickle
import subprocess
import sys
import threading

import pytest

from goal_rl.parallel import InlineBackend, Unit, call_unit, crash_once, run_units
from goal_rl.parallel.base import THREAD_VARIABLES, check_units, portable_error


def test_inline_runs_in_order_and_hands_every_result_back() -> None:
    seen = []
    units = [Unit(f"u{i}", operator.mul, (i, 3)) for i in range(5)]
    with InlineBackend() as backend:
        assert backend.slots == 1 and backend.in_process and backend.threads is None
        run_units(backend, units, lambda u, r: seen.append((u.key, r)))
    assert seen == [("u0", 0), ("u1", 3), ("u2", 6), ("u3", 9), ("u4", 12)]


def test_inline_units_may_hold_callbacks_and_stop_at_the_first_error() -> None:
    calls = []
    units = [Unit("a", calls.append, ("first",)), Unit("b", int, ("x",)),
             Unit("c", calls.append, ("never",))]
    got = []
    with pytest.raises(ValueError, match="invalid literal"):
        InlineBackend().run(units, lambda u, r: got.append(u.key))
    assert calls == ["first"] and got == ["a"]


def test_units_are_checked() -> None:
    with pytest.raises(ValueError, match="two units share the key 'k'"):
        check_units([Unit("k", abs, (1,)), Unit("k", abs, (2,))])
    with pytest.raises(ValueError, match="size must be an integer >= 0"):
        check_units([Unit("k", abs, (1,), size=-1)])
    with pytest.raises(TypeError, match="expected a Unit"):
        check_units([(abs, 1)])


def test_call_unit_sets_the_thread_variables_and_torch(monkeypatch) -> None:
    import torch

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    old = torch.get_num_threads()
    try:
        inside = call_unit(lambda: (os.environ["OMP_NUM_THREADS"], torch.get_num_threads()),
                           (), {}, 1)
        assert inside == ("1", 1)
        assert call_unit(operator.add, (2, 5), {}, None) == 7
    finally:
        torch.set_num_threads(old)


def test_portable_error_keeps_picklable_exceptions_and_wraps_the_rest() -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        got, tb = portable_error(exc)
    assert got.args == ("missing",) and "KeyError" in tb and "test_base.py" in tb

    class Local(Exception):  # a class defined in a function cannot be pickled
        pass

    lock = threading.Lock()
    err = ValueError(lock)  # an argument that cannot be pickled
    for exc in (Local("odd"), err):
        got, _ = portable_error(exc)
        assert type(got) is RuntimeError and pickle.loads(pickle.dumps(got)).args == got.args
    assert str(portable_error(Local("odd"))[0]) == "Local: odd"


def test_crash_once_ends_its_process_on_the_first_call_only(tmp_path) -> None:
    marker = tmp_path / "crashed"
    code = ("import operator, sys; from goal_rl.parallel import crash_once; "
            f"print(crash_once({str(marker)!r}, operator.add, 2, 3))")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.returncode == 70 and first.stdout == "" and marker.exists()
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert second.returncode == 0 and second.stdout == "5\n"
    assert crash_once(marker, operator.mul, 4, 5) == 20  # in-process: marker exists
