"""Trajectory and sweep figures: their content, not only their files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from goal_rl.common.plots import pyplot
from goal_rl.tasks.trajectory.plots import plot_trajectory, trajectory_figure
from goal_rl.tasks.trajectory.sweep_plots import draw_map, plot_sweep


def _run(T: int = 40, O: int = 3, N: int = 12, E: int = 6):
    rng = np.random.default_rng(0)
    target = rng.normal(size=(T, O))
    output = target + 0.1 * rng.normal(size=(T, O))
    mse = np.geomspace(1.0, 0.01, E)
    dz = np.linspace(300, 10, E)
    spikes = (rng.random((T, N)) < 0.2).astype(np.uint8)
    return target, output, mse, dz, spikes


def test_trajectory_figure_draws_the_run() -> None:
    target, output, mse, dz, spikes = _run()
    fig = trajectory_figure(target, output, mse, dz, spikes, readout_mse=0.005, title="R=3")
    axes = fig.axes
    # three output panels, the curves panel (+ its twin for ΔZ) and the raster
    assert len(axes) == 3 + 2 + 1
    top = axes[0]
    assert top.get_title() == "R=3"
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["target", "network"]
    for o in range(3):
        lines = axes[o].get_lines()
        np.testing.assert_array_equal(lines[0].get_ydata(), target[:, o])
        np.testing.assert_array_equal(lines[1].get_ydata(), output[:, o])
    curves = axes[3]
    np.testing.assert_allclose(curves.get_lines()[0].get_ydata(), mse)
    assert curves.get_lines()[1].get_ydata()[0] == 0.005  # the readout limit
    np.testing.assert_allclose(axes[4].get_lines()[0].get_ydata(), dz)
    raster = axes[5].collections[0].get_offsets()
    assert len(raster) == int(spikes.sum())
    pyplot().close(fig)


def test_trajectory_png_is_not_blank(tmp_path: Path) -> None:
    path = plot_trajectory(*_run(), tmp_path / "plot.png", title="t")
    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 400
    assert img[..., :3].std() > 0.05  # lines and text on a white page, not an empty canvas


def test_readout_only_run_still_draws() -> None:
    target, output, _, _, spikes = _run()
    fig = trajectory_figure(target, output, np.zeros(0), np.zeros(0), spikes)
    assert fig.axes[0].get_title() == "target vs output (last epoch)"
    pyplot().close(fig)


def test_sweep_map_holds_the_seed_means(tmp_path: Path) -> None:
    rows = [{"rank": r, "tau_star": ts, "seed": s, "final_mse": (r or 200) * ts + s,
             "final_dz": 1.0, "conv_epoch": 3, "readout_mse": 0.1, "min_mse": 0.1,
             "tail_mse": 0.1, "curve_epoch": [0, 1], "curve_mse": [1.0, 0.5],
             "curve_dz": [2.0, 1.0]}
            for r in (3, 24, None) for ts in (2.0, 5.0) for s in (0, 1)]
    plt = pyplot()
    fig, ax = plt.subplots()
    im = draw_map(ax, rows, "final_mse", "final MSE")
    data = np.asarray(im.get_array())
    # rows: LTTS on top, then descending rank; columns: ascending τ⋆; seed mean (+0.5)
    np.testing.assert_allclose(data, [[400.5, 1000.5], [48.5, 120.5], [6.5, 15.5]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LTTS", "24", "3"]
    plt.close(fig)
    paths = plot_sweep(rows, tmp_path, n_out=3, n_rec=24)
    assert {p.name for p in paths} >= {"mse_map.png", "dz_map.png", "mse_vs_tau.png"}
    for p in paths:
        assert mpimg.imread(p)[..., :3].std() > 0.02, p.name
