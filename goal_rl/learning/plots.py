"""Figures of a cloning run: training history, checkpoints and closed-loop returns.

:func:`clone_history_figure` builds the Matplotlib figure (so it can be checked or shown);
:func:`plot_clone_history` writes it as a PNG file atomically and closes it. Matplotlib is
imported lazily (Agg unless ``MPLBACKEND`` says otherwise)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.io import save_figure
from goal_rl.common.plots import pyplot

__all__ = ["clone_history_figure", "plot_clone_history", "save_and_close"]


def clone_history_figure(mse: np.ndarray, dz: np.ndarray,
                         checkpoints: Sequence[dict[str, Any]],
                         episode_returns: Sequence[float], *, title: str = "") -> Any:
    """Three panels: free-run MSE (log) and ΔZ per recurrent epoch, the checkpoints'
    open-loop MSEs, the closed-loop return of each evaluation episode.

    Args:
        mse, dz: ``(E,)`` per recurrent epoch.
        checkpoints: :attr:`goal_rl.learning.cloning.CloneResult.checkpoints`.
        episode_returns: closed-loop returns of the final agent.
        title: title of the last panel.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    if len(mse):
        ax.semilogy(np.arange(1, len(mse) + 1), mse, label="free-run MSE (target readout)")
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(dz) + 1), dz, color="C1", lw=0.8)
        ax2.set_ylabel("ΔZ", color="C1")
    ax.set_xlabel("recurrent epoch")
    ax.set_ylabel("MSE")
    ax.set_title("GOAL training")
    ax = axes[1]
    epochs = [c["epoch"] for c in checkpoints]
    for key in ("train_mse", "val_mse"):
        vals = [c.get(key) for c in checkpoints]
        if any(v is not None for v in vals):
            ax.plot(epochs, [np.nan if v is None else v for v in vals], "o-", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("open-loop action MSE (refit readout)")
    ax.legend(fontsize=8)
    ax.set_title("checkpoints")
    ax = axes[2]
    ax.bar(np.arange(len(episode_returns)), episode_returns, color="C2")
    ax.set_xlabel("evaluation episode")
    ax.set_ylabel("return")
    ax.set_title(title or "closed-loop evaluation")
    fig.tight_layout()
    return fig


def save_and_close(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` atomically (format from the suffix) and close it; the path written."""
    try:
        return save_figure(fig, path)
    finally:
        pyplot().close(fig)


def plot_clone_history(mse: np.ndarray, dz: np.ndarray, checkpoints: Sequence[dict[str, Any]],
                       episode_returns: Sequence[float], path: str | os.PathLike, *,
                       title: str = "") -> Path:
    """:func:`clone_history_figure` written to the PNG ``path``."""
    return save_and_close(clone_history_figure(mse, dz, checkpoints, episode_returns,
                                               title=title), path)
