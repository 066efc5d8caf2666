"""Shared command-line plumbing: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from goal_rl.config import parse_rank

__all__ = ["CLIError", "OneLineParser", "finite_float", "nonneg_float", "nonneg_int",
           "parse_rank", "positive_float", "positive_int", "resolve_device", "run_main"]


class CLIError(Exception):
    """An input error to report as one line on stderr with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None,
             prog: str = "goal_rl") -> int:
    """Run ``main(argv)``; turn user errors into one line on stderr and exit code 2 (a
    message spanning lines, e.g. naming a path with a newline, is folded onto one)."""
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors (already reported) and --help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except (CLIError, ValueError, FileNotFoundError, KeyError, PermissionError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        sys.stderr.write(f"{prog}: error: {' '.join(str(msg).split())}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        val = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if val <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {val}")
    return val


def nonneg_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        val = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if val < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {val}")
    return val


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        val = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not val > 0 or val == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return val


def nonneg_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    val = finite_float(text)
    if val < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return val


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        val = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if val != val or val in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return val


def resolve_device(requested: str, gpu_flag: bool = False) -> str:
    """``"cuda"`` if asked for and available, else ``"cpu"`` with a warning on stderr."""
    want = "cuda" if gpu_flag else requested
    if want.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            sys.stderr.write("warning: CUDA is not available; falling back to CPU\n")
            return "cpu"
        return want
    if want != "cpu":
        raise CLIError(f"unknown device {requested!r}; use 'cpu' or 'cuda[:k]'")
    return "cpu"
