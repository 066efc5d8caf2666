"""Checks of user-given settings: each raises ``ValueError`` naming the setting and value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_float", "check_int"]


def check_int(name: str, value: Any, low: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_float(name: str, value: Any, positive: bool | None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number that is
    positive (``positive=True``), non-negative (``False``) or anything finite (``None``)."""
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool) \
        and math.isfinite(value)
    if ok and positive is True:
        ok = value > 0
    elif ok and positive is False:
        ok = value >= 0
    if not ok:
        kind = {True: "a positive", False: "a non-negative", None: "a finite"}[positive]
        raise ValueError(f"{name} must be {kind} number, got {value!r}")
