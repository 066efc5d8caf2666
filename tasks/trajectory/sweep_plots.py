"""Figures of an (R, τ⋆) sweep, in the style of the paper's Figure 2.

Matplotlib is imported lazily (Agg unless the user chose a backend); every figure is saved
atomically. Rows are the dicts of :func:`goal_rl.sweep.run_sweep` (keys ``rank`` — ``None``
for LTTS —, ``tau_star``, ``seed``, ``final_mse``, ``final_dz``, ``conv_epoch``,
``readout_mse``); every map shows the mean over seeds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.io import save_figure
from goal_rl.common.plots import pyplot

#: (row key, title, log colour scale, colour map, file name) of the three heatmaps
MAPS = (
    ("final_mse", "final MSE", True, "viridis", "mse_map.png"),
    ("final_dz", "final spike error ΔZ", False, "magma", "dz_map.png"),
    ("conv_epoch", "convergence epoch", False, "cividis", "conv_map.png"),
)


def _label(rank: int | None) -> str:
    return "LTTS" if rank is None else str(rank)


def _fmt(x: float, log: bool) -> str:
    if not np.isfinite(x):
        return ""
    if log:
        return f"{x:.0e}" if x < 1e-3 else f"{x:.3f}".rstrip("0") if x < 1 else f"{x:.2g}"
    return f"{x:.0f}"


def draw_map(ax: Any, rows: Sequence[dict], key: str, title: str, log: bool = False,
             cmap: str = "viridis", annotate: bool = True) -> Any:
    """Heatmap of the seed-mean of ``key`` on axes ``ax``: rows = ranks (LTTS on top, then
    descending R), columns = τ⋆ (ascending, categorical). Returns the image."""
    from matplotlib.colors import LogNorm, Normalize

    from goal_rl.tasks.trajectory.sweep import mean_map

    ranks, taus, m = mean_map(rows, key)
    finite = m[np.isfinite(m)]
    if log:
        pos = finite[finite > 0]
        lo, hi = (pos.min(), pos.max()) if pos.size else (1e-4, 1.0)
        norm = LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001))
        data = np.where(m > 0, m, np.nan)
    else:
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
        data = m
    im = ax.imshow(data, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_xticks(range(len(taus)), [f"{t:g}" for t in taus])
    ax.set_yticks(range(len(ranks)), [_label(r) for r in ranks])
    ax.set_xlabel("τ⋆ (dt)")
    ax.set_ylabel("feedback rank R")
    ax.set_title(title)
    if annotate and m.size <= 200:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if not np.isfinite(m[i, j]):
                    continue
                rgba = im.cmap(im.norm(data[i, j])) if np.isfinite(data[i, j]) else (1, 1, 1, 1)
                lum = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
                ax.text(j, i, _fmt(m[i, j], log), ha="center", va="center", fontsize=6,
                        color="black" if lum > 0.5 else "white")
    return im


def draw_mse_vs_tau(ax: Any, rows: Sequence[dict], n_out: int, n_rec: int) -> None:
    """Final MSE vs τ⋆ (log-log, mean ± std over seeds) for the error-based end R = O, the
    target-based end R = N and LTTS (whichever are in the sweep), with the readout limit."""
    groups = [(n_out, f"R = O = {n_out} (error-based)", "C0"),
              (n_rec, f"R = N = {n_rec} (target-based)", "C3"),
              (None, "LTTS (diagonal)", "C2")]
    drawn = 0
    for rank, label, colour in groups:
        sel = [r for r in rows if r["rank"] == rank]
        if not sel:
            continue
        taus = sorted({float(r["tau_star"]) for r in sel})
        vals = [[r["final_mse"] for r in sel if float(r["tau_star"]) == t] for t in taus]
        mean = np.array([np.mean(v) for v in vals])
        std = np.array([np.std(v) for v in vals])
        ax.plot(taus, mean, "o-", color=colour, label=label, lw=1.5, ms=4)
        if any(len(v) > 1 for v in vals):
            ax.fill_between(taus, np.maximum(mean - std, mean * 0.05), mean + std,
                            color=colour, alpha=0.2)
        drawn += 1
    readout = [r["readout_mse"] for r in rows if r.get("readout_mse") is not None]
    if readout:
        ax.axhline(float(np.mean(readout)), color="gray", ls=":", label="readout limit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("τ⋆ (dt)")
    ax.set_ylabel("final MSE")
    ax.set_title("MSE vs τ⋆ at the ends of the rank axis")
    if drawn or readout:
        ax.legend(fontsize=8)


def plot_sweep(rows: Sequence[dict], out: str | os.PathLike, *, n_out: int, n_rec: int,
               dpi: int = 110) -> list[Path]:
    """Write ``mse_map.png``, ``dz_map.png``, ``conv_map.png``, ``mse_vs_tau.png`` and the
    four together in ``sweep_summary.png`` into folder ``out``; returns the paths."""
    plt = pyplot()
    out = Path(out)
    paths = []
    for key, title, log, cmap, name in MAPS:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        im = draw_map(ax, rows, key, title + " (mean over seeds)", log, cmap)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        paths.append(save_figure(fig, out / name, dpi=dpi))
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 5))
    draw_mse_vs_tau(ax, rows, n_out, n_rec)
    fig.tight_layout()
    paths.append(save_figure(fig, out / "mse_vs_tau.png", dpi=dpi))
    plt.close(fig)
    fig, axes = plt.subplots(2, 2, figsize=(15, 10.5))
    for ax, (key, title, log, cmap, _) in zip(axes.flat, MAPS):
        im = draw_map(ax, rows, key, title, log, cmap)
        fig.colorbar(im, ax=ax)
    draw_mse_vs_tau(axes.flat[3], rows, n_out, n_rec)
    epochs = {r.get("epochs") for r in rows}
    seeds = {r["seed"] for r in rows}
    fig.suptitle(f"GOAL on the {n_out}-D trajectory task, N = {n_rec}: "
                 f"{'/'.join(str(e) for e in sorted(x for x in epochs if x))} recurrent "
                 f"epochs, {len(seeds)} seed(s)")
    fig.tight_layout()
    paths.append(save_figure(fig, out / "sweep_summary.png", dpi=dpi))
    plt.close(fig)
    return paths
