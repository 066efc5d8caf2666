"""goal_rl.common.progress: bars on a terminal, plain lines in a log file."""

from __future__ import annotations

import io

from goal_rl.common import progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_file_gets_whole_lines_without_carriage_returns() -> None:
    log = io.StringIO()
    bar = progress.progress_bar(100, "GOAL", "ep", file=log, interval_s=0.0)
    for _ in range(100):
        bar.update(1)
    bar.close()
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) >= 2 and lines[0].startswith("GOAL:") and "0/100" in lines[0]
    assert "100/100" in lines[-1]


def test_log_file_lines_are_rate_limited() -> None:
    log = io.StringIO()
    bar = progress.progress_bar(10_000, "sweep", "net", file=log, interval_s=3600.0)
    for _ in range(10_000):
        bar.update(1)
    bar.close()
    assert len(log.getvalue().splitlines()) <= 3  # start, (maybe one), end


def test_inner_bars_are_silent_in_a_log_file() -> None:
    log = io.StringIO()
    bar = progress.progress_bar(5, "batch 1/3", "ep", inner=True, file=log)
    bar.update(5)
    bar.close()
    assert log.getvalue() == ""


def test_terminal_gets_a_normal_bar() -> None:
    tty = FakeTTY()
    assert progress.is_terminal(tty) and not progress.is_terminal(io.StringIO())
    bar = progress.progress_bar(3, "walk", "step", file=tty)
    bar.update(3)
    bar.close()
    assert "\r" in tty.getvalue() and "3/3" in tty.getvalue()
