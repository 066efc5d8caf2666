"""The figure of one trajectory run: target against output, learning curves, a raster.
Matplotlib is imported lazily, with the non-interactive Agg backend unless the user chose
another one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.io import save_figure
from goal_rl.common.plots import pyplot


def plot_trajectory(
    target: np.ndarray,
    output: np.ndarray,
    mse: np.ndarray,
    dz: np.ndarray,
    spikes: np.ndarray,
    path: str | os.PathLike,
    *,
    readout_mse: float | None = None,
    title: str = "",
    n_raster: int = 60,
) -> Path:
    """Write :func:`trajectory_figure` to ``path`` (PNG, atomically); returns the path."""
    plt = pyplot()
    fig = trajectory_figure(target, output, mse, dz, spikes, readout_mse=readout_mse,
                            title=title, n_raster=n_raster)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def trajectory_figure(
    target: np.ndarray,
    output: np.ndarray,
    mse: np.ndarray,
    dz: np.ndarray,
    spikes: np.ndarray,
    *,
    readout_mse: float | None = None,
    title: str = "",
    n_raster: int = 60,
) -> Any:
    """Target vs output per dimension, MSE and ΔZ per epoch (log) and a spike raster.

    Args:
        target: ``(T, O)`` desired output.
        output: ``(T, O)`` the network's output in the last epoch.
        mse: ``(E,)`` MSE per recurrent epoch.
        dz: ``(E,)`` spike error per recurrent epoch.
        spikes: ``(T, N)`` of the last epoch.
        readout_mse: the readout limit, drawn as a line.
        title: the top panel's title.
        n_raster: neurons shown in the raster.

    Returns:
        The Matplotlib figure (close it with ``pyplot().close(fig)``).
    """
    plt = pyplot()
    T, O = target.shape
    fig = plt.figure(figsize=(12, 2.2 * max(O, 2) + 1))
    gs = fig.add_gridspec(max(O, 2), 2, width_ratios=[1.4, 1])
    for o in range(O):
        ax = fig.add_subplot(gs[o, 0])
        ax.plot(target[:, o], "k--", lw=1.5, label="target")
        ax.plot(output[:, o], color=f"C{o}", lw=1.2, label="network")
        ax.set_ylabel(f"y{o + 1}")
        if o == 0:
            ax.legend(loc="upper right", fontsize=8)
            ax.set_title(title or "target vs output (last epoch)")
        if o == O - 1:
            ax.set_xlabel("time step")
    half = max(O, 2) // 2
    ax = fig.add_subplot(gs[:half, 1])
    epochs = np.arange(1, len(mse) + 1)
    if len(mse):
        ax.semilogy(epochs, np.maximum(mse, 1e-12), color="C0", label="MSE")
        if readout_mse is not None:
            ax.axhline(readout_mse, color="gray", ls=":", label="readout limit")
        ax2 = ax.twinx()
        ax2.semilogy(epochs, np.maximum(dz, 0.5), color="C3", alpha=0.7, label="ΔZ")
        ax2.set_ylabel("spike error ΔZ", color="C3")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE", color="C0")
    ax = fig.add_subplot(gs[half:, 1])
    n = min(n_raster, spikes.shape[1])
    t_idx, n_idx = np.nonzero(spikes[:, :n] > 0)
    ax.scatter(t_idx, n_idx, s=2, c="k", marker="|")
    ax.set_xlim(0, T)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    ax.set_title(f"spike raster ({n} of {spikes.shape[1]} neurons)", fontsize=9)
    fig.tight_layout()
    return fig
