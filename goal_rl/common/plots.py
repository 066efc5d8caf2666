"""Plot plumbing shared by every figure: Matplotlib imported lazily, with the
non-interactive Agg backend unless the user chose another one (``MPLBACKEND``)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported on first use (Agg unless ``MPLBACKEND`` is set)."""
    import matplotlib

    if "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
