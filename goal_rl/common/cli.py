"""Shared command-line plumbing: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from goal_rl.config import parse_rank

__all__ = ["INPUT_ERRORS", "CLIError", "OneLineParser", "finite_float", "nonneg_float",
           "nonneg_int", "one_line", "parse_rank", "positive_float", "positive_int",
           "resolve_device", "run_main"]


class CLIError(Exception):
    """An input error to report as one line on stderr with exit code 2."""


#: exceptions that mean "the input is wrong": one line, exit code 2
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    CLIError, ValueError, FileNotFoundError, KeyError, PermissionError, IsADirectoryError,
    NotADirectoryError, FileExistsError,
)


class OneLineParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are a single line on stderr and exit code 2; every
    parser (and sub-command) has ``--debug`` (see :func:`run_main`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true",
                          help="on an error, show the full traceback")

    def error(self, message: str) -> NoReturn:  # noqa: D102
        sys.stderr.write(f"{self.prog}: error: {one_line(message)}\n")
        raise SystemExit(2)


def one_line(message: object) -> str:
    """``message`` as one line (white space, newlines included, folded to single spaces)."""
    return " ".join(str(message).split())


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None,
             prog: str = "goal_rl") -> int:
    """Run ``main(argv)`` so that no traceback reaches the user unless asked for.

    * input errors (:data:`INPUT_ERRORS`) → one line ``PROG: error: …`` on stderr, exit 2;
    * any other exception (a bug, or a resource the machine lacks) → one line ``PROG:
      internal error: Type: …`` and a hint to rerun with ``--debug``, exit 1;
    * Ctrl-C → ``PROG: interrupted``, exit 130;
    * ``--debug`` anywhere on the command line → the full traceback as well.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors (already reported) and --help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except INPUT_ERRORS as exc:
        if debug:
            traceback.print_exc()
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        sys.stderr.write(f"{prog}: error: {one_line(msg)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence of every CLI
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (rerun with --debug for a traceback)"
        sys.stderr.write(f"{prog}: internal error: {type(exc).__name__}: "
                         f"{one_line(exc)}{hint}\n")
        return 1


def _integer(text: str, low: int) -> int:
    """``text`` as an integer ``>= low`` (argparse's one-line error otherwise)."""
    try:
        val = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if val < low:
        bound = "> 0" if low == 1 else f">= {low}"
        raise argparse.ArgumentTypeError(f"must be {bound}, got {val}")
    return val


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return _integer(text, 1)


def nonneg_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer(text, 0)


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
