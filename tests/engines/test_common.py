"""Tests for goal_rl.engines.common: feedback columns, the causal filter, convergence epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from goal_rl.config import GoalConfig
from goal_rl.engines.common import (
    causal_filter,
    convergence_epoch,
    feedback_columns,
    filter_matrix_np,
    min_rank,
)


def test_feedback_columns_start_with_the_readout_and_draw_the_rest() -> None:
    rng = np.random.default_rng(0)
    w_out = rng.normal(size=(3, 20))
    B = feedback_columns(w_out, 7, np.random.default_rng(5))
    np.testing.assert_array_equal(B[:, :3], w_out.T)
    expect = np.random.default_rng(5).normal(0.0, 2.0 * np.std(w_out), size=(20, 4))
    np.testing.assert_array_equal(B[:, 3:], expect)


def test_feedback_columns_below_the_outputs_are_readout_rows_and_draw_nothing() -> None:
    w_out = np.random.default_rng(0).normal(size=(3, 20))
    rng = np.random.default_rng(5)
    B = feedback_columns(w_out, 2, rng)
    np.testing.assert_array_equal(B, w_out[:2].T)
    assert rng.normal() == np.random.default_rng(5).normal()  # generator untouched
    B[0, 0] = 99.0  # a copy, not a view of the readout
    assert w_out[0, 0] != 99.0


def test_min_rank_allows_low_ranks_for_spike_feedback_only() -> None:
    cfg = GoalConfig(n_out=3, n_rec=20)
    assert min_rank(cfg, False) == 3
    assert min_rank(cfg, True) == 1
    assert min_rank(cfg.replace(feedback="out", rank=3), True) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_causal_filter_orders_agree_with_the_recursion(dtype) -> None:
    z = (np.random.default_rng(1).random((30, 2, 5)) < 0.3).astype(dtype)
    b = math.exp(-1.0 / 5.0)
    ref = np.zeros((30, 2, 5))
    acc = np.zeros((2, 5))
    for t in range(30):
        acc = b * acc + (1 - b) * z[t].astype(np.float64)
        ref[t] = acc
    kern = causal_filter(z, b)
    rec = causal_filter(z, b, recursive=True)
    assert kern.dtype == dtype and rec.dtype == np.float64
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(kern, ref, atol=tol)
    np.testing.assert_allclose(rec, ref, atol=tol)
    assert causal_filter(z, b, recursive=True, dtype=dtype).dtype == dtype
    L = filter_matrix_np(4, 0.5)
    np.testing.assert_array_equal(L, [[0.5, 0, 0, 0], [0.25, 0.5, 0, 0],
                                      [0.125, 0.25, 0.5, 0], [0.0625, 0.125, 0.25, 0.5]])


def test_convergence_epoch_is_the_first_reach_of_the_final_level() -> None:
    # short curves: the window is one epoch, the level the last epoch
    mse = np.array([[10.0, 1.0], [2.0, 1.0], [1.05, 1.0], [0.95, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(convergence_epoch(mse, 0.1), [2, 0])
    assert convergence_epoch(mse[:, 0], 0.01) == 3  # 0.95 is the first within 1 % above 1.0
    assert convergence_epoch(np.zeros((0, 2))).shape == (2,)
    assert convergence_epoch(np.array([0.1, 0.1])) == 0
    both = convergence_epoch(np.stack([mse[:, 0], mse[::-1, 0]], axis=1))
    assert both.shape == (2,) and both[0] == 2


def test_fluctuating_runs_converge_when_they_reach_their_level() -> None:
    """Over 10⁴ epochs, a fast run that keeps fluctuating (multiplicative noise ±30 %)
    converges within its first hundreds of epochs, a slow one late; the old "last exit
    from a ±10 % band" put both near the end."""
    rng = np.random.default_rng(0)
    e = np.arange(10_000)
    fast = (0.01 + 0.5 * np.exp(-e / 20)) * (1 + 0.3 * rng.standard_normal(e.size)) ** 2
    slow = 0.002 + 0.5 * np.exp(-e / 1500)
    conv = convergence_epoch(np.stack([fast, slow], axis=1))
    assert 60 <= conv[0] <= 200 and conv[1] > 8000
    # the smoothing window grows with time: a single late spike does not count
    spiky = 0.01 + 0.5 * np.exp(-e / 20)
    spiky[5000] = 1.0
    assert convergence_epoch(spiky) == convergence_epoch(0.01 + 0.5 * np.exp(-e / 20))
    # a run that never gets close to its level (diverging upwards) reports its last epoch
    assert convergence_epoch(np.full(100, np.nan)) == 99


def test_random_columns_scale():
    rng = np.random.default_rng(0)
    w_out = rng.normal(0, 0.3, size=(3, 400))
    B = feedback_columns(w_out, 400, rng)
    assert B.shape == (400, 400)
    np.testing.assert_array_equal(B[:, :3], w_out.T)
    assert abs(B[:, 3:].std() - 2 * w_out.std()) < 0.02 * w_out.std()
