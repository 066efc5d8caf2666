"""One progress display over the finished items (grid points, seeds) of all workers.

:class:`Progress` is a :func:`goal_rl.common.progress.progress_bar` counted in items: a tqdm
bar on a terminal; when stderr is not a terminal (a log file, a batch job), plain lines at
the start, every ``interval`` seconds and at the end, e.g.::

    sweep: 36%|####      | 40/110 [05:12<09:06, ...point/s, batch 3/4: epoch 2000/10000]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TextIO

from goal_rl.common.progress import LOG_INTERVAL_S, is_terminal, progress_bar
from goal_rl.parallel.base import Backend, ResultCallback, Unit

__all__ = ["Progress", "run_units"]


class Progress:
    """Counts finished items.

    Args:
        total: items in all.
        desc: the label, e.g. ``"sweep"``.
        unit: the items' name (``"point"``, ``"seed"``).
        stream: where to write (default ``sys.stderr``).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        initial: items already finished before (a resumed run).
    """

    def __init__(self, total: int, desc: str, unit: str = "point", *,
                 stream: TextIO | None = None, interval: float = LOG_INTERVAL_S,
                 initial: int = 0) -> None:
        self.is_bar = is_terminal(stream)
        self.interval = float(interval)
        self._bar = progress_bar(total, desc, unit, initial=initial, file=stream,
                                 interval_s=interval)
        self._shown = time.perf_counter()

    @property
    def done(self) -> int:
        """Items finished so far (``initial`` included)."""
        return int(self._bar.n)

    def update(self, n: int = 1) -> None:
        """``n`` more items finished."""
        if n > 0:
            self._bar.update(n)

    def status(self, text: str) -> None:
        """Extra state shown with the count (e.g. the epoch of the running batch); in a log
        file it is written at most every ``interval`` seconds."""
        self._bar.set_postfix_str(text, refresh=False)
        now = time.perf_counter()
        if self.is_bar or now - self._shown >= self.interval:
            self._shown = now
            self._bar.refresh()

    def close(self) -> None:
        """End the display."""
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_units(backend: Backend, units: Sequence[Unit], on_result: ResultCallback, *,
              progress: Progress | None = None) -> None:
    """``backend.run(units, on_result)``, counting each finished unit's ``size`` in
    ``progress`` after ``on_result`` has dealt with it (so the count never runs ahead of
    what the driver has saved)."""

    def counted(unit: Unit, result: Any) -> None:
        on_result(unit, result)
        if progress is not None:
            progress.update(unit.size)

    backend.run(units, counted)
