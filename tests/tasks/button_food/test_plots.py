"""Tests of goal_rl.tasks.button_food.plots: each figure's content, and the PNG written."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np

from goal_rl.tasks.button_food import plots

RANKS = [1, 100, 300]
SCORES = np.array([[1.0, 5.0, 9.0], [3.0, 7.0, 8.0]])


def test_rank_scan_figure_mean_std_and_paper() -> None:
    fig = plots.rank_scan_figure(RANKS, SCORES, paper={300: 9.1, 1: 0.0}, title="scan")
    (ax,) = fig.axes
    seed_lines = [line for line in ax.lines if line.get_alpha() == 0.35]
    assert len(seed_lines) == 2
    np.testing.assert_array_equal(seed_lines[1].get_ydata(), [3.0, 7.0, 8.0])
    (bars,) = ax.containers
    np.testing.assert_array_equal(bars.lines[0].get_ydata(), [2.0, 6.0, 8.5])
    (segments,) = bars.lines[2]  # ± std over the two seeds
    np.testing.assert_allclose([seg[:, 1] for seg in segments.get_segments()],
                               [[1.0, 3.0], [5.0, 7.0], [8.0, 9.0]])
    (paper,) = [line for line in ax.lines if line.get_label() == "paper (Fig 4)"]
    np.testing.assert_array_equal(paper.get_xdata(), [1, 300])
    np.testing.assert_array_equal(paper.get_ydata(), [0.0, 9.1])
    assert ax.get_title() == "scan" and ax.get_ylim()[0] == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "paper (Fig 4)", "this package (mean of 2 seed(s))"]
    plt.close(fig)


def test_button_food_figure_paths_scores_and_training() -> None:
    paths = [np.array([[0.0, 0.0], [0.1, 0.2], [0.3, 0.5]]), np.array([[0.0, 0.0], [-0.2, 0.4]])]
    angles, scores = [40.0, 90.0, 140.0], [33.3, 10.0, 0.5]
    fig = plots.button_food_figure(paths, [60.0, 120.0], angles, scores, [30.0, 150.0],
                                   np.array([0.4, 0.2]), np.array([50.0, 20.0]), title="R=300")
    arena, per_angle, training, dz_ax = fig.axes
    np.testing.assert_array_equal(arena.lines[0].get_xydata(), paths[0])
    np.testing.assert_array_equal(arena.lines[1].get_xydata(), paths[1])
    centres = [p.center for p in arena.patches]  # food circles at radius 0.7, then the button
    np.testing.assert_allclose(centres[0], [0.7 * np.cos(np.pi / 3), 0.7 * np.sin(np.pi / 3)])
    np.testing.assert_allclose(centres[-1], [0.0, -0.2])
    score_line = per_angle.lines[0]
    np.testing.assert_array_equal(score_line.get_ydata(), scores)
    train_marks = [line.get_xdata()[0] for line in per_angle.lines[1:3]]
    assert train_marks == [30.0, 150.0] and per_angle.get_title() == "R=300"
    assert per_angle.lines[-1].get_ydata()[0] == 1 / 0.03  # the food-reached level
    np.testing.assert_array_equal(training.lines[0].get_ydata(), [0.4, 0.2])
    np.testing.assert_array_equal(dz_ax.lines[0].get_ydata(), [50.0, 20.0])
    plt.close(fig)
    fig = plots.button_food_figure(paths, [60.0, 120.0], angles, scores, [], np.zeros(0),
                                   np.zeros(0))
    assert len(fig.axes) == 3 and not fig.axes[2].axison  # no training curve: panel off
    plt.close(fig)


def test_plots_write_non_blank_pngs(tmp_path) -> None:
    open_before = set(plt.get_fignums())
    p1 = plots.plot_rank_scan(RANKS, SCORES, tmp_path / "scan.png")
    p2 = plots.plot_button_food([np.zeros((3, 2))], [90.0], [90.0], [1.0], [90.0],
                                np.array([0.1]), np.array([1.0]), tmp_path / "bf.png")
    for path in (p1, p2):
        img = mpimg.imread(path)
        assert img.ndim == 3 and img[..., :3].std() > 0.05
    assert set(plt.get_fignums()) == open_before  # the figures were closed
