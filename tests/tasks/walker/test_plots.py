"""Tests of goal_rl.tasks.walker.plots: each figure's content, and the PNG files written."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from goal_rl.tasks.walker import plots

HISTORY = [{"round": r, "select_mean_reward": m, "select_std_reward": s}
           for r, m, s in [(0, 120.0, 30.0), (1, 250.0, 20.0), (2, 290.0, 5.0)]]


def _trace(T: int = 50, N: int = 150, labels: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    agent = np.tanh(rng.normal(size=(T, 4))).astype(np.float32)
    expert = (agent + 0.1 if labels else np.full((T, 4), np.nan)).astype(np.float32)
    spikes = (rng.random((T, N)) < 0.2).astype(np.uint8)
    return {"agent_actions": agent, "expert_actions": expert, "spikes": spikes}


def test_rounds_figure_shows_returns_expert_and_solved_level():
    fig = plots.rounds_figure(HISTORY, {"mean_reward": 300.1})
    (ax,) = fig.axes
    (bars,) = ax.containers  # the agent's mean ± std per round
    assert bars.get_label() == "spiking agent"
    np.testing.assert_array_equal(bars.lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(bars.lines[0].get_ydata(), [120.0, 250.0, 290.0])
    (segments,) = bars.lines[2]
    np.testing.assert_array_equal([seg[:, 1] for seg in segments.get_segments()],
                                  [[90.0, 150.0], [230.0, 270.0], [285.0, 295.0]])
    levels = {line.get_label(): line.get_ydata()[0] for line in ax.lines
              if not line.get_label().startswith("_")}
    assert levels == {"expert": 300.1, "solved (300)": 300}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "expert", "solved (300)", "spiking agent"]
    assert list(ax.get_xticks()) == [0, 1, 2]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("DAgger round", "return (selection episodes)")
    plt.close(fig)
    fig = plots.rounds_figure(HISTORY, None)  # no expert: no dashed line
    assert [line.get_label() for line in fig.axes[0].lines
            if not line.get_label().startswith("_")] == ["solved (300)"]
    plt.close(fig)


def test_action_traces_figure_has_one_panel_per_joint():
    tr = _trace()
    fig = plots.action_traces_figure(tr["agent_actions"], tr["expert_actions"])
    assert len(fig.axes) == 4
    for k, ax in enumerate(fig.axes):
        expert_line, agent_line = ax.lines
        np.testing.assert_array_equal(expert_line.get_ydata(), tr["expert_actions"][:, k])
        np.testing.assert_array_equal(agent_line.get_ydata(), tr["agent_actions"][:, k])
        assert ax.get_ylabel() == plots.ACTION_NAMES[k]
        assert ax.get_ylim() == pytest.approx((-1.1, 1.1))
    assert fig.axes[-1].get_xlabel() == "env step (first 50 steps of test episode 0)"
    plt.close(fig)


def test_raster_figure_plots_every_spike_of_the_first_units():
    spikes = _trace()["spikes"]
    fig = plots.raster_figure(spikes, n_units=100)
    (ax,) = fig.axes
    points = ax.collections[0].get_offsets()
    t, i = np.nonzero(spikes[:, :100])
    np.testing.assert_array_equal(np.asarray(points), np.column_stack([t, i]))
    assert ax.get_title() == (f"spike raster (100 of 150 units, mean rate "
                              f"{spikes.mean():.2f} spikes/step)")
    plt.close(fig)


def test_save_walker_plots_writes_non_blank_pngs(tmp_path):
    paths = plots.save_walker_plots(tmp_path, HISTORY, _trace(), {"mean_reward": 300.0})
    assert [p.name for p in paths] == ["walker_rounds.png", "walker_actions.png",
                                       "walker_raster.png"]
    for p in paths:
        img = mpimg.imread(p)
        assert img.ndim == 3 and min(img.shape[:2]) > 200
        dark = (img[..., :3].mean(axis=-1) < 0.5).mean()  # share of drawn (dark) pixels
        assert 0.005 < dark < 0.5, (p.name, dark)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    # without expert labels there is no action-trace figure
    (tmp_path / "x").mkdir()
    only = plots.save_walker_plots(tmp_path / "x", HISTORY, _trace(labels=False), None)
    assert [p.name for p in only] == ["walker_rounds.png", "walker_raster.png"]
