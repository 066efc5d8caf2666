"""Progress that suits both a terminal and a log file.

On a terminal, :func:`progress_bar` is an ordinary tqdm bar. When stderr is not a terminal
(a log file, a batch job, CI), the same object writes plain, complete lines — at the start,
at most every ``interval_s`` seconds, and at the end — instead of carriage-return updates
that fill a log with one huge line; nested inner bars are silent there.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm.auto import tqdm

__all__ = ["LOG_INTERVAL_S", "is_terminal", "progress_bar"]

#: seconds between two progress lines in a log file
LOG_INTERVAL_S = 30.0


class _LineStream:
    """Passes whole lines to ``stream`` and drops tqdm's lone cursor moves (``"\\n"``,
    ``"\\r"``), which only make sense on a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text in ("", "\n", "\r"):
            return 0
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class _LogLines(tqdm):  # type: ignore[misc]
    """tqdm that prints each refresh as its own line (for files, not terminals)."""

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: D102
        line = msg if msg is not None else self.__str__()
        if line.strip() and line != getattr(self, "_last_line", None):
            self.fp.write(line + "\n")
            self.fp.flush()
            self._last_line = line
        return True


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int | None, desc: str, unit: str = "it", *, inner: bool = False,
                 initial: int = 0, leave: bool = True, position: int | None = None,
                 file: IO[str] | None = None, interval_s: float = LOG_INTERVAL_S,
                 **kwargs: Any) -> tqdm:
    """A progress bar over ``total`` steps of ``unit`` (see the module docstring).

    Args:
        total: number of steps (``None``: unknown).
        desc: the label.
        unit: what a step is (``"ep"``, ``"net"``, ``"step"``...).
        inner: a bar nested inside another (silent when writing to a log file).
        initial: steps already done (a resumed run).
        leave: keep the finished bar on screen.
        position: tqdm's line for nested bars on a terminal.
        file: where to write (default stderr).
        interval_s: seconds between lines in a log file.
        kwargs: passed on to tqdm (``unit_scale``...).
    """
    stream = sys.stderr if file is None else file
    if is_terminal(stream):
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                    position=position, file=stream, dynamic_ncols=True, **kwargs)
    kwargs.pop("mininterval", None)  # a log file gets a line every interval_s
    return _LogLines(total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                     file=_LineStream(stream), disable=inner, mininterval=interval_s,
                     maxinterval=interval_s, ncols=100, ascii=True, **kwargs)
