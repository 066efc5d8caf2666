"""Tests of goal_rl.learning.plots: the cloning-history figure's content and its PNG."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np

from goal_rl.learning import plots

MSE = np.array([0.5, 0.2, 0.1, 0.05])
DZ = np.array([300.0, 200.0, 150.0, 120.0])
CHECKPOINTS = [{"epoch": 2, "train_mse": 0.3, "val_mse": 0.4}, {"epoch": 4, "train_mse": 0.1}]
RETURNS = [12.0, 30.0, 21.0]


def test_clone_history_figure_panels() -> None:
    fig = plots.clone_history_figure(MSE, DZ, CHECKPOINTS, RETURNS, title="run A")
    train_ax, cp_ax, ret_ax, dz_ax = fig.axes  # the ΔZ twin axis comes last
    (mse_line,) = train_ax.lines
    np.testing.assert_array_equal(mse_line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(mse_line.get_ydata(), MSE)
    assert train_ax.get_yscale() == "log" and train_ax.get_xlabel() == "recurrent epoch"
    np.testing.assert_array_equal(dz_ax.lines[0].get_ydata(), DZ)
    assert dz_ax.get_ylabel() == "ΔZ"
    train, val = cp_ax.lines
    np.testing.assert_array_equal(train.get_xdata(), [2, 4])
    np.testing.assert_array_equal(train.get_ydata(), [0.3, 0.1])
    np.testing.assert_array_equal(val.get_ydata(), [0.4, np.nan])  # missing at epoch 4
    assert [t.get_text() for t in cp_ax.get_legend().get_texts()] == ["train_mse", "val_mse"]
    assert [p.get_height() for p in ret_ax.patches] == RETURNS
    assert ret_ax.get_title() == "run A" and ret_ax.get_ylabel() == "return"
    plt.close(fig)


def test_no_epochs_leaves_the_training_panel_empty() -> None:
    fig = plots.clone_history_figure(np.zeros(0), np.zeros(0), [], [1.0])
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 0
    assert fig.axes[2].get_title() == "closed-loop evaluation"
    plt.close(fig)


def test_plot_clone_history_writes_a_non_blank_png(tmp_path) -> None:
    open_before = set(plt.get_fignums())
    path = plots.plot_clone_history(MSE, DZ, CHECKPOINTS, RETURNS, tmp_path / "h.png")
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # curves and text, not a blank canvas
    assert set(plt.get_fignums()) == open_before  # the figure was closed


ROUNDS = [{"round": 0, "eval": {"mean_reward": 80.0, "test": {"mean_reward": 78.0}}},
          {"round": 1, "eval": {"mean_reward": 90.0, "test": {"mean_reward": 88.5}}},
          {"round": 2, "eval": {"mean_reward": 85.0, "test": {"mean_reward": 91.0}}}]


def test_dagger_rounds_figure_content() -> None:
    fig = plots.dagger_rounds_figure(ROUNDS, 1, expert_mean=89.0, title="mc")
    (ax,) = fig.axes
    sel, test, expert, picked = ax.lines
    np.testing.assert_array_equal(sel.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(sel.get_ydata(), [80.0, 90.0, 85.0])
    np.testing.assert_array_equal(test.get_ydata(), [78.0, 88.5, 91.0])
    assert list(expert.get_ydata()) == [89.0, 89.0]  # the expert's horizontal line
    assert list(picked.get_xdata()) == [1] and list(picked.get_ydata()) == [90.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "selection episodes", "test episodes", "expert (test episodes)", "picked: round 1"]
    assert ax.get_title() == "mc"
    plt.close(fig)


def test_clone_history_legend_and_expert_ticks() -> None:
    fig = plots.clone_history_figure(MSE, DZ, CHECKPOINTS, RETURNS, expert_returns=[20.0] * 3)
    train_ax, _, ret_ax, _ = fig.axes
    assert [t.get_text() for t in train_ax.get_legend().get_texts()] == [
        "free-run MSE (target readout)", "ΔZ (spike error)"]
    (ticks,) = ret_ax.lines
    np.testing.assert_array_equal(ticks.get_ydata(), [20.0] * 3)
    assert sorted(t.get_text() for t in ret_ax.get_legend().get_texts()) == [
        "agent", "expert, same episode"]
    plt.close(fig)
