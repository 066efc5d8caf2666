"""Atomic file output: every result is written to a temporary file, then renamed into place,
so an interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, writer: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` atomically: ``writer(fileobj)`` fills a temporary file in the target
    folder, which is flushed, fsync'ed and renamed over ``path``; the folder is fsync'ed
    too. Readers see the old file or the new one, never a part; if ``writer`` raises (or
    the process is interrupted), the old file stays whole and the temporary file is
    removed. The new file gets the mode an ordinary ``open(path, "w")`` would give
    (``0o666`` less the umask: ``0o644`` by default), not ``mkstemp``'s private ``0o600``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (NumPy values converted)."""
    text = json.dumps(data, indent=2, default=_json_default, allow_nan=True) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def write_pickle(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically pickle ``obj`` to ``path``."""
    return atomic_write(path, lambda fh: pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Atomically save a Matplotlib figure (format from the suffix of ``path``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi,
                                                      bbox_inches="tight"))


def check_writable_dir(path: str | os.PathLike, create: bool = True) -> Path:
    """Make sure ``path`` is (or can be made) a writable folder; ``ValueError`` otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {str(path)!r} exists and is not a folder")
    if not path.exists():
        if not create:
            raise ValueError(f"output folder {str(path)!r} does not exist")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create output folder {str(path)!r}: "
                             f"{exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {str(path)!r} is not writable")
    return path


def check_writable_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` could be written (its folder exists and is writable)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ValueError(f"save path {str(path)!r} is a folder")
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"cannot write {str(path)!r}: permission denied")
    return path
