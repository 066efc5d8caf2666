"""goal_rl.parallel.progress: one count of finished items, lines in a log file."""

from __future__ import annotations

import io
import operator

from goal_rl.parallel import InlineBackend, Progress, Unit, run_units


def test_log_lines_count_points_and_show_the_status_at_most_every_interval() -> None:
    log = io.StringIO()
    prog = Progress(10, "sweep", "point", stream=log, interval=3600.0, initial=2)
    assert not prog.is_bar and prog.done == 2
    prog.status("batch 1/2: epoch 5/100")  # within the interval: not written
    prog.update(3)
    prog.update(0)
    assert prog.done == 5
    prog.update(5)
    prog.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0].startswith("sweep:") and "2/10" in lines[0]
    assert "10/10" in lines[-1] and "point" in lines[-1]
    assert not any("| 5/10" in line for line in lines)  # rate-limited
    log2 = io.StringIO()
    prog = Progress(4, "sweep", stream=log2, interval=0.0)
    prog.status("batch 1/1: epoch 7/9")
    prog.close()
    assert "epoch 7/9" in log2.getvalue()


def test_run_units_counts_sizes_after_the_driver_kept_each_result() -> None:
    log = io.StringIO()
    prog = Progress(6, "grid", stream=log, interval=0.0)
    seen = []

    def keep(unit, result):
        seen.append((unit.key, result, prog.done))  # not yet counted while being kept

    units = [Unit("a", operator.add, (1, 1), size=2), Unit("b", operator.add, (2, 2), size=4),
             Unit("extra", operator.add, (0, 0), size=0)]
    run_units(InlineBackend(), units, keep, progress=prog)
    prog.close()
    assert seen == [("a", 2, 0), ("b", 4, 2), ("extra", 0, 6)]
    assert prog.done == 6
