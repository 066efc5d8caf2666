"""Figures of the Button & Food task: arena paths and score per angle, rank scans.

``*_figure`` functions build the Matplotlib figure (so it can be checked or shown);
``plot_*`` functions write it as a PNG file atomically and close it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.plots import pyplot
from goal_rl.learning.plots import save_and_close

__all__ = ["button_food_figure", "plot_button_food", "plot_rank_scan", "rank_scan_figure"]


def rank_scan_figure(ranks: Sequence[int], scores: np.ndarray, *,
                     paper: dict[int, float] | None = None, title: str = "") -> Any:
    """Mean score vs feedback rank R: each seed's points, the mean ± std over seeds and
    the paper's values.

    Args:
        ranks: ``(R,)`` feedback ranks.
        scores: ``(S, R)`` mean test score per seed and rank (one row per seed).
        paper: optional reference ``{R: score}`` drawn dashed.
        title: axes title.
    """
    plt = pyplot()
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    ranks = np.asarray(ranks)
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in scores:
        ax.plot(ranks, row, "o", color="C0", alpha=0.35, ms=4)
    mean, std = scores.mean(axis=0), scores.std(axis=0)
    ax.errorbar(ranks, mean, yerr=std if len(scores) > 1 else None, color="C0", marker="o",
                lw=2, capsize=3, label=f"this package (mean of {len(scores)} seed(s))")
    if paper:
        keys = sorted(paper)
        ax.plot(keys, [paper[k] for k in keys], "k--", marker="s", ms=4, label="paper (Fig 4)")
    ax.set_xlabel("feedback rank R")
    ax.set_ylabel("mean score over test angles")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "score vs rank")
    return fig


def plot_rank_scan(ranks: Sequence[int], scores: np.ndarray, path: str | os.PathLike, *,
                   paper: dict[int, float] | None = None, title: str = "") -> Path:
    """:func:`rank_scan_figure` written to the PNG ``path``."""
    return save_and_close(rank_scan_figure(ranks, scores, paper=paper, title=title), path)


def button_food_figure(paths: Sequence[np.ndarray], path_angles: Sequence[float],
                       test_angles: Sequence[float], test_scores: Sequence[float],
                       train_angles: Sequence[float], mse: np.ndarray, dz: np.ndarray, *,
                       title: str = "") -> Any:
    """Three panels: closed-loop paths in the arena, score per test angle, training curve.

    Args:
        paths: per shown angle, agent positions ``(T_i, 2)`` (arena units).
        path_angles: the food angles of ``paths`` (degrees).
        test_angles, test_scores: ``(n_test,)`` angles (degrees) and episode scores.
        train_angles: demonstration angles (degrees), marked.
        mse, dz: ``(E,)`` free-run action MSE and spike error per epoch (may be empty).
        title: title of the middle panel.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axes[0]
    cmap = plt.get_cmap("viridis")
    for k, (p, a) in enumerate(zip(paths, path_angles)):
        colour = cmap(k / max(len(paths) - 1, 1))
        rad = np.deg2rad(a)
        ax.plot(p[:, 0], p[:, 1], color=colour, lw=1.2)
        ax.add_patch(plt.Circle((0.7 * np.cos(rad), 0.7 * np.sin(rad)), 0.03, color=colour,
                                alpha=0.5))
    ax.add_patch(plt.Circle((0.0, -0.2), 0.05, color="red", alpha=0.4))
    ax.plot(0, 0, "k+")
    ax.set_aspect("equal")
    ax.set_xlim(-0.9, 0.9)
    ax.set_ylim(-0.35, 0.85)
    ax.set_title("closed-loop paths (button red, food circles)")
    ax = axes[1]
    ax.plot(test_angles, test_scores, ".-", lw=0.8)
    for a in train_angles:
        ax.axvline(a, color="grey", ls=":", lw=1)
    ax.axhline(1 / 0.03, color="k", ls="--", lw=0.8)
    ax.set_xlabel("food angle (deg); dotted: training angles")
    ax.set_ylabel("episode score (max reward)")
    ax.set_title(title or "score per test angle")
    ax = axes[2]
    if len(mse):
        epochs = np.arange(1, len(mse) + 1)
        ax.semilogy(epochs, mse, color="C0", label="free-run action MSE")
        ax.set_xlabel("recurrent epoch")
        ax.set_ylabel("MSE", color="C0")
        ax2 = ax.twinx()
        ax2.plot(epochs, dz, color="C1", lw=0.8, label="spike error ΔZ")
        ax2.set_ylabel("ΔZ", color="C1")
        ax.set_title("GOAL training")
    else:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_button_food(paths: Sequence[np.ndarray], path_angles: Sequence[float],
                     test_angles: Sequence[float], test_scores: Sequence[float],
                     train_angles: Sequence[float], mse: np.ndarray, dz: np.ndarray,
                     path: str | os.PathLike, *, title: str = "") -> Path:
    """:func:`button_food_figure` written to the PNG ``path``."""
    return save_and_close(button_food_figure(paths, path_angles, test_angles, test_scores,
                                             train_angles, mse, dz, title=title), path)
