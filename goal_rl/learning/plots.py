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

__all__ = ["clone_history_figure", "dagger_rounds_figure", "plot_clone_history",
           "plot_dagger_rounds", "save_and_close"]


def clone_history_figure(mse: np.ndarray, dz: np.ndarray,
                         checkpoints: Sequence[dict[str, Any]],
                         episode_returns: Sequence[float], *, title: str = "",
                         expert_returns: Sequence[float] | None = None) -> Any:
    """Three panels: free-run MSE (log) and ΔZ per recurrent epoch (with a legend), the
    checkpoints' open-loop MSEs, the closed-loop return of each evaluation episode (with
    the expert's return on the same episode, when given, as black ticks).

    Args:
        mse, dz: ``(E,)`` per recurrent epoch.
        checkpoints: :attr:`goal_rl.learning.cloning.CloneResult.checkpoints`.
        episode_returns: closed-loop returns of the final agent.
        title: title of the last panel.
        expert_returns: the expert's return on each of those episodes.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    if len(mse):
        ax.semilogy(np.arange(1, len(mse) + 1), mse, label="free-run MSE (target readout)")
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(dz) + 1), dz, color="C1", lw=0.8, label="ΔZ (spike error)")
        ax2.set_ylabel("ΔZ", color="C1")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=8, loc="upper right")
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
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set_title("checkpoints")
    ax = axes[2]
    ax.bar(np.arange(len(episode_returns)), episode_returns, color="C2", label="agent")
    if expert_returns is not None:
        ax.plot(np.arange(len(expert_returns)), expert_returns, "k_", ms=14, mew=2,
                label="expert, same episode")
        ax.legend(fontsize=8, loc="lower right")
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
                       title: str = "", expert_returns: Sequence[float] | None = None
                       ) -> Path:
    """:func:`clone_history_figure` written to the PNG ``path``."""
    return save_and_close(clone_history_figure(mse, dz, checkpoints, episode_returns,
                                               title=title, expert_returns=expert_returns),
                          path)


def dagger_rounds_figure(rounds: Sequence[dict[str, Any]], best_round: int, *,
                         expert_mean: float | None = None, key: str = "mean_reward",
                         title: str = "") -> Any:
    """Return per DAgger round: the selection score (which picks the round) and the test
    score of every round's agent, the expert's test score as a dashed line, the picked
    round circled; with a legend.

    Args:
        rounds: :attr:`goal_rl.learning.dagger.DaggerResult.rounds`; each ``eval`` holds
            the selection result and, under ``"test"``, the test result (both with
            ``key`` and ``std_`` of it when there).
        best_round: the picked round.
        expert_mean: the expert's test score (``None``: no line).
        key: the score key.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    r = np.array([rec["round"] for rec in rounds])
    sel = np.array([rec["eval"][key] for rec in rounds], dtype=float)
    ax.plot(r, sel, "o-", color="C0", label="selection episodes")
    if all("test" in rec["eval"] for rec in rounds):
        test = np.array([rec["eval"]["test"][key] for rec in rounds], dtype=float)
        ax.plot(r, test, "s-", color="C2", label="test episodes")
    if expert_mean is not None:
        ax.axhline(expert_mean, color="k", ls="--", lw=1, label="expert (test episodes)")
    ax.plot([best_round], [sel[list(r).index(best_round)]], "o", ms=14, mfc="none",
            color="C3", label=f"picked: round {best_round}")
    ax.set_xticks(r)
    ax.set_xlabel("DAgger round (0 = demonstrations only)")
    ax.set_ylabel(key.replace("_", " "))
    ax.set_title(title or "DAgger")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_dagger_rounds(rounds: Sequence[dict[str, Any]], best_round: int,
                       path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`dagger_rounds_figure` written to the PNG ``path``."""
    return save_and_close(dagger_rounds_figure(rounds, best_round, **kwargs), path)
