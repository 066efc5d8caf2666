"""The output folder of a sweep: its record, its results, its lock, its tables.

::

    sweep.json       the configuration: shared settings, grid, batch size (``chunk``)
    results.jsonl    one JSON object per finished point, rewritten atomically per batch
    table.csv/json   rank, tau_star, seed, final MSE, final ΔZ, convergence epoch, ...
    .lock            held (``fcntl.flock``) by the one process writing the folder

Every check runs before anything is written: a folder that already holds a sweep is
refused unless resumed; a resumed folder must hold the same configuration; a damaged line
of ``results.jsonl`` is reported with its number and stops the resume until the file is
repaired (``repair=True`` drops such lines, keeps a backup, and the points are trained
again). Only one process at a time may write a folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RECORD_KIND", "ROW_KEYS", "TABLE_KEYS", "SweepFolder", "check_row",
           "differences", "read_results", "write_results", "write_tables"]

RECORD_KIND = "goal_rl.sweep"

#: keys every result row must have
ROW_KEYS = ("rank", "tau_star", "seed", "final_mse", "final_dz", "conv_epoch", "readout_mse")

#: Keys of a result row, in table order.
TABLE_KEYS = ("rank", "tau_star", "seed", "final_mse", "final_dz", "conv_epoch", "readout_mse",
              "min_mse", "tail_mse")

Row = dict[str, Any]


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two records (protocol, settings, grid, batch size), as readable
    items (a record from before protocols existed kept τ_o fixed)."""
    diff = []
    old_protocol = old.get("protocol", "fixed_tau_o")
    if old_protocol != new.get("protocol"):
        diff.append(f"protocol ({old_protocol!r} there, {new.get('protocol')!r} now: "
                    "--fixed-tau-o chooses between them)")
    for key in sorted(set(old.get("config", {})) | set(new["config"])):
        a, b = old.get("config", {}).get(key), new["config"].get(key)
        if a != b and not (isinstance(a, list | tuple) and list(a) == list(b or [])):
            diff.append(f"{key} ({a!r} there, {b!r} now)")
    for key in ("ranks", "tau_stars", "seeds"):
        a, b = old.get("grid", {}).get(key), new["grid"][key]
        if a != b:
            diff.append(f"{key} ({a!r} there, {b!r} now)")
    if old.get("chunk") != new.get("chunk"):
        diff.append(f"chunk ({old.get('chunk')!r} there, {new.get('chunk')!r} now: results in "
                    "float32 depend on how the points are batched)")
    return diff


def check_row(row: Any, keys: set[str]) -> str | None:
    """Why ``row`` is not a result row of the grid whose point keys are ``keys`` (``None``:
    it is one)."""
    from goal_rl.tasks.trajectory.sweep import point_key

    if not isinstance(row, dict):
        return f"not a JSON object ({type(row).__name__})"
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        return f"missing {', '.join(repr(k) for k in missing)}"
    rank, ts, seed = row["rank"], row["tau_star"], row["seed"]
    ok = (rank is None or (isinstance(rank, int) and not isinstance(rank, bool))) and \
        isinstance(ts, int | float) and not isinstance(ts, bool) and \
        isinstance(seed, int) and not isinstance(seed, bool)
    if not ok:
        return f"bad point (rank {rank!r}, tau_star {ts!r}, seed {seed!r})"
    if point_key(rank, ts, seed) not in keys:
        return f"point (rank {rank!r}, tau_star {ts!r}, seed {seed!r}) is not on this grid"
    return None


def read_results(path: Path, keys: set[str]) -> tuple[list[Row], list[tuple[int, str]]]:
    """Read ``results.jsonl`` strictly: the good rows, and ``(line number, reason)`` for
    every damaged line (not JSON, not an object, missing keys, off the grid, a repeat)."""
    from goal_rl.tasks.trajectory.sweep import point_key

    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a results file")
    if not path.exists():
        return [], []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    rows: list[Row] = []
    damaged: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            damaged.append((number, "not valid JSON"))
            continue
        why = check_row(row, keys)
        if why is None:
            key = point_key(row["rank"], row["tau_star"], row["seed"])
            if key in seen:
                why = f"repeats the point of line {seen[key]}"
            else:
                seen[key] = number
        if why is None:
            rows.append(row)
        else:
            damaged.append((number, why))
    return rows, damaged


def write_results(path: Path, rows: Sequence[Row]) -> None:
    """Rewrite ``results.jsonl`` atomically (temp file + fsync + rename), strict JSON.

    Rewriting the whole file instead of appending costs O(rows) per batch, which is nothing
    at this size (≤ a few MB), and the file on disk always holds complete lines: an
    interrupted write leaves the previous version, never half a line.
    """
    from goal_rl.common.io import atomic_write, json_safe

    text = "".join(json.dumps(json_safe(r), allow_nan=False) + "\n" for r in rows)
    atomic_write(path, lambda fh: fh.write(text.encode()))


def write_tables(out: Path, rows: Sequence[Row]) -> None:
    """``table.csv`` and ``table.json`` (atomic); LTTS is written as ``ltts`` in the CSV."""
    from goal_rl.common.io import atomic_write, write_json

    def order(r: Row) -> tuple:
        return (r["rank"] is None, r["rank"] or 0, r["tau_star"], r["seed"])

    table = [{k: r.get(k) for k in TABLE_KEYS} for r in sorted(rows, key=order)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TABLE_KEYS)
    for r in table:
        w.writerow(["ltts" if r["rank"] is None else r["rank"]]
                   + ["" if r[k] is None else r[k] for k in TABLE_KEYS[1:]])
    atomic_write(out / "table.csv", lambda fh: fh.write(buf.getvalue().encode()))
    write_json(out / "table.json", table)


class SweepFolder:
    """One sweep's output folder, opened for writing by this process only.

    Args:
        path: the folder.
        record: what ``sweep.json`` must hold (settings, grid, ``chunk``).
        keys: the point keys of the grid (:func:`~goal_rl.tasks.trajectory.sweep.point_key`).
        resume: continue a sweep found there (same record); without it, a folder holding a
            sweep is refused.
        repair: with ``resume``, drop damaged lines of ``results.jsonl`` (the file is kept
            as ``results.jsonl.bak``) instead of refusing.
    """

    def __init__(self, path: str | os.PathLike, record: dict[str, Any], keys: set[str], *,
                 resume: bool = False, repair: bool = False) -> None:
        self.path = Path(path)
        self.record, self.keys = record, keys
        self.resume, self.repair = resume or repair, repair
        self.results = self.path / "results.jsonl"
        self._lock: Any = None

    # ------------------------------------------------------------------ checks
    def stored_record(self) -> dict[str, Any] | None:
        """The record found in the folder (``None``: no sweep there). ``ValueError`` if the
        folder holds something else or a different configuration."""
        cfg_file = self.path / "sweep.json"
        if not self.path.is_dir() or not (cfg_file.exists() or self.results.exists()):
            return None
        if not self.resume:
            raise ValueError(f"output folder {str(self.path)!r} already holds a sweep; use "
                             "--resume to continue it or choose another --out")
        if not cfg_file.is_file():
            raise ValueError(f"cannot resume: {str(cfg_file)!r} is missing")
        try:
            old = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot resume: {str(cfg_file)!r} is unreadable ({exc})") \
                from None
        if not isinstance(old, dict) or old.get("kind") != RECORD_KIND:
            raise ValueError(f"cannot resume: {str(cfg_file)!r} is not a goal_rl sweep record")
        diff = differences(old, self.record)
        if diff:
            raise ValueError(f"cannot resume: {str(self.path)!r} holds a different "
                             "configuration: " + "; ".join(diff[:4])
                             + ("; ..." if len(diff) > 4 else ""))
        return old

    def finished_rows(self) -> list[Row]:
        """The rows already in ``results.jsonl``; damaged lines stop a resume (with their
        line numbers) unless ``repair``."""
        rows, damaged = read_results(self.results, self.keys)
        if damaged and not self.repair:
            lines = ", ".join(f"line {n} ({why})" for n, why in damaged[:3])
            more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
            raise ValueError(f"{str(self.results)!r} is damaged: {lines}{more}; repair the file "
                             "or rerun with --repair (drops those lines, keeps a backup and "
                             "trains their points again)")
        self.damaged = damaged
        return rows

    def check(self) -> list[Row]:
        """Every check, writing nothing; returns the finished rows."""
        from goal_rl.common.io import check_output_dir, check_output_files

        check_output_dir(self.path)
        check_output_files(self.path, ["sweep.json", "table.csv", "table.json"])
        if self.stored_record() is None:
            self.damaged = []
            return []
        return self.finished_rows()

    # ------------------------------------------------------------------ writing
    def open(self) -> list[Row]:
        """Check, create the folder, take its lock, write ``sweep.json`` (new sweep) or
        repair ``results.jsonl``; return the rows already finished. Call :meth:`close`
        when done (or use the folder as a context manager)."""
        from goal_rl.common.io import make_output_dir, write_json

        self.check()
        make_output_dir(self.path)
        self._take_lock()
        try:
            rows = self.check()  # again, under the lock: another process may have written
            if self.stored_record() is None:
                write_json(self.path / "sweep.json", self.record)
            elif self.damaged:
                backup = self.results.with_name("results.jsonl.bak")
                shutil.copy2(self.results, backup)
                write_results(self.results, rows)
        except BaseException:
            self.close()
            raise
        return rows

    def _take_lock(self) -> None:
        import fcntl

        fh = open(self.path / ".lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise ValueError(f"another process is writing the sweep in {str(self.path)!r} "
                             "(its lock is held); wait for it to finish") from None
        self._lock = fh

    def close(self) -> None:
        """Release the lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> list[Row]:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or ``None`` when it is NaN or infinite (results stay strict JSON)."""
    x = float(x)
    return x if math.isfinite(x) else None
