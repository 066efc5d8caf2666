"""Atomic file output: every result is written to a temporary file, then renamed into place,
so an interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def json_default(obj: Any) -> Any:
    """``json.dumps`` ``default=``: NumPy arrays and scalars, paths; ``TypeError`` else."""
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


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (NumPy scalars and arrays included) replaced
    by ``None``, so that it can be written as strict JSON."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomically write ``data`` as indented, strict JSON (NumPy values converted; a NaN or
    infinity, which strict JSON cannot hold, is written as ``null``). Raises ``TypeError``
    before writing anything if ``data`` holds a value JSON cannot represent."""
    text = json.dumps(json_safe(data), indent=2, default=json_default, allow_nan=False) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def write_pickle(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically pickle ``obj`` to ``path``."""
    return atomic_write(path, lambda fh: pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Atomically save a Matplotlib figure (format from the suffix of ``path``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi,
                                                      bbox_inches="tight"))


def _probe(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder``: the one sure test that it can be written
    (``os.access`` says yes to root for read-only mounts and for ``/proc``)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".goal_rl_probe_")
    except OSError as exc:
        raise ValueError(f"cannot write {what}: {exc.strerror or exc} in {str(folder)!r}") \
            from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a writable folder, or could be created as one, without
    creating anything (validate first, write later). ``ValueError`` names the problem."""
    text = os.fspath(path)
    if not str(text).strip():
        raise ValueError("output folder must not be empty")
    folder = Path(text)
    if folder.exists():
        if not folder.is_dir():
            raise ValueError(f"output folder {str(folder)!r} exists and is not a folder")
        _probe(folder, f"into output folder {str(folder)!r}")
        return folder
    base = folder.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"cannot create output folder {str(folder)!r}: {str(base)!r} is not "
                         "a folder")
    _probe(base, f"output folder {str(folder)!r}")
    return folder


def check_output_files(folder: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    """Check that none of ``folder/name`` is a folder (a file there will be replaced)."""
    paths = [Path(folder) / n for n in names]
    for path in paths:
        if path.is_dir():
            raise ValueError(f"{str(path)!r} is a folder, so the result file cannot be written "
                             "there: remove it or choose another output folder")
    return paths


def check_output_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` can be written as a file (its folder exists and takes files),
    creating nothing."""
    text = os.fspath(path)
    if not str(text).strip():
        raise ValueError("output file name must not be empty")
    target = Path(text)
    if target.name in ("", ".", "..") or str(text).endswith(os.sep) or target.is_dir():
        raise ValueError(f"save path {str(text)!r} is a folder, not a file name")
    parent = target.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(target)!r}: folder {str(parent)!r} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"cannot write {str(target)!r}: permission denied")
    _probe(parent, f"{str(target)!r}")
    return target


def make_output_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and its parents) once every input has been checked."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output folder {str(folder)!r}: "
                         f"{exc.strerror or exc}") from None
    return folder


def check_writable_dir(path: str | os.PathLike, create: bool = True) -> Path:
    """Check ``path`` (:func:`check_output_dir`) and, with ``create``, make it.

    Prefer :func:`check_output_dir` while validating and :func:`make_output_dir` once
    everything is checked, so that bad input leaves nothing behind."""
    folder = Path(os.fspath(path))
    if not create and not folder.exists():
        raise ValueError(f"output folder {str(folder)!r} does not exist")
    check_output_dir(folder)
    return make_output_dir(folder) if create else folder


def check_writable_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` could be written (see :func:`check_output_file`)."""
    return check_output_file(path)


def load_torch_file(path: str | os.PathLike, what: str, file_format: str,
                    map_location: Any = "cpu") -> dict[str, Any]:
    """Load a goal_rl ``.pt`` file safely: weights only, never arbitrary pickled code.

    Args:
        path: the file.
        what: what it should be, for messages (``"agent file"``, ``"expert file"``).
        file_format: the ``"format"`` tag the payload must carry.
        map_location: where tensors go (``torch.load``'s ``map_location``).

    Returns:
        The payload dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: one line for anything else — not a torch file, a file holding more
            than weights (such files are refused, never unpickled), another format.
    """
    import pickle
    import warnings
    import zipfile

    import torch

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{what} not found: {str(file)!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            payload = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(f"cannot read {what} {str(file)!r}: it holds objects other than "
                         "weights (refused, for safety) or is not a torch file") from None
    except (RuntimeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read {what} {str(file)!r}: not a torch file "
                         f"({one_sentence(exc)})") from None
    except Exception:  # noqa: BLE001 - the safe unpickler fails on damaged bytes in many ways
        raise ValueError(f"cannot read {what} {str(file)!r}: the file is damaged or not a "
                         "torch file") from None
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise ValueError(f"{str(file)!r} is not a goal_rl {what} (format {file_format})")
    return payload


def one_sentence(exc: BaseException) -> str:
    """The first line/sentence of an exception's text (libraries' messages can run long)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(". ")[0].rstrip(".")[:160]
