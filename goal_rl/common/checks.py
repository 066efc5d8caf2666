"""Checks of user-given settings: each raises ``ValueError`` naming the setting and value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["SCALE_LIMIT", "check_float", "check_int"]

#: the largest size accepted for time constants, weight scales, potentials and learning
#: rates: far beyond any useful value, well before float32 currents overflow
SCALE_LIMIT = 1e6


def check_int(name: str, value: Any, low: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_float(name: str, value: Any, positive: bool | None,
                limit: float | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number that is
    positive (``positive=True``), non-negative (``False``) or anything finite (``None``)
    and, with ``limit``, at most ``limit`` in size (beyond it the dynamics overflow)."""
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool) \
        and math.isfinite(value)
    if ok and positive is True:
        ok = value > 0
    elif ok and positive is False:
        ok = value >= 0
    if not ok:
        kind = {True: "a positive", False: "a non-negative", None: "a finite"}[positive]
        raise ValueError(f"{name} must be {kind} number, got {value!r}")
    if limit is not None and abs(value) > limit:
        low = f"{-limit:g}" if positive is None else "0"
        raise ValueError(f"{name} must be in [{low}, {limit:g}] (larger values overflow the "
                         f"network's dynamics), got {value!r}")
