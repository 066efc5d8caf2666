"""Figures of a walker run: return per DAgger round, action traces, spike raster.

Every ``*_figure`` function takes plain arrays/dicts (from
:func:`goal_rl.tasks.walker.pipeline.train_walker` and
:func:`goal_rl.tasks.walker.pipeline.agent_trace`) and returns a Matplotlib figure; the
``plot_*`` functions write it as a PNG file atomically and close it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.io import save_figure
from goal_rl.common.plots import pyplot

__all__ = ["ACTION_NAMES", "action_traces_figure", "plot_action_traces", "plot_raster",
           "plot_rounds", "raster_figure", "rounds_figure", "save_walker_plots"]

#: the figures of a run, in the order :func:`save_walker_plots` writes them
PLOT_FILES = ("walker_rounds.png", "walker_actions.png", "walker_raster.png")

ACTION_NAMES = ("hip 1", "knee 1", "hip 2", "knee 2")


def _save(fig: Any, path: Path) -> Path:
    save_figure(fig, path)
    pyplot().close(fig)
    return path


def rounds_figure(history: list[dict[str, Any]], expert: dict[str, Any] | None) -> Any:
    """Selection return (mean ± std) per DAgger round, expert mean as a dashed line and the
    'solved' level 300 as a dotted one."""
    plt = pyplot()
    r = np.array([h["round"] for h in history])
    m = np.array([h["select_mean_reward"] for h in history])
    s = np.array([h["select_std_reward"] for h in history])
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.errorbar(r, m, yerr=s, marker="o", capsize=3, label="spiking agent")
    if expert is not None:
        ax.axhline(expert["mean_reward"], ls="--", c="k", lw=1, label="expert")
    ax.axhline(300, ls=":", c="grey", lw=1, label="solved (300)")
    ax.set_xlabel("DAgger round")
    ax.set_ylabel("return (selection episodes)")
    ax.set_xticks(r)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def action_traces_figure(agent_actions: np.ndarray, expert_actions: np.ndarray) -> Any:
    """Agent actions ``(T, 4)`` vs the expert's labels ``(T, 4)`` on the agent's states,
    one panel per joint."""
    plt = pyplot()
    T = agent_actions.shape[0]
    fig, axes = plt.subplots(4, 1, figsize=(7, 6), sharex=True)
    for k, ax in enumerate(axes):
        ax.plot(expert_actions[:, k], c="k", lw=1, label="expert")
        ax.plot(agent_actions[:, k], c="C1", lw=1, label="spiking agent")
        ax.set_ylabel(ACTION_NAMES[k], fontsize=8)
        ax.set_ylim(-1.1, 1.1)
    axes[0].legend(fontsize=8, ncol=2, loc="upper right")
    axes[-1].set_xlabel(f"env step (first {T} steps of test episode 0)")
    fig.tight_layout()
    return fig


def raster_figure(spikes: np.ndarray, n_units: int = 100) -> Any:
    """Spike raster of the first ``n_units`` units, ``spikes (T, N)`` 0/1."""
    plt = pyplot()
    z = spikes[:, :n_units]
    t, i = np.nonzero(z)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.scatter(t, i, s=1.5, c="k", marker="|")
    ax.set_xlabel("env step")
    ax.set_ylabel("unit")
    ax.set_title(f"spike raster ({z.shape[1]} of {spikes.shape[1]} units, "
                 f"mean rate {spikes.mean():.2f} spikes/step)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_rounds(history: list[dict[str, Any]], expert: dict[str, Any] | None, path: Path
                ) -> Path:
    """Write :func:`rounds_figure` to ``path``."""
    return _save(rounds_figure(history, expert), path)


def plot_action_traces(agent_actions: np.ndarray, expert_actions: np.ndarray, path: Path
                       ) -> Path:
    """Write :func:`action_traces_figure` to ``path``."""
    return _save(action_traces_figure(agent_actions, expert_actions), path)


def plot_raster(spikes: np.ndarray, path: Path, n_units: int = 100) -> Path:
    """Write :func:`raster_figure` to ``path``."""
    return _save(raster_figure(spikes, n_units), path)


def save_walker_plots(out: Path, history: list[dict[str, Any]], trace: dict[str, np.ndarray],
                      expert: dict[str, Any] | None) -> list[Path]:
    """All figures of a run into ``out`` (``walker_rounds.png``, ``walker_actions.png``
    when the trace has expert labels, ``walker_raster.png``); returns the paths written."""
    out = Path(out)
    rounds, actions, raster = (out / name for name in PLOT_FILES)
    paths = [plot_rounds(history, expert, rounds)]
    if not np.isnan(trace["expert_actions"]).all():
        paths.append(plot_action_traces(trace["agent_actions"], trace["expert_actions"],
                                        actions))
    paths.append(plot_raster(trace["spikes"], raster))
    return paths
