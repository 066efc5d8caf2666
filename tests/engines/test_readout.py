"""Tests for goal_rl.engines.readout: the relative ridge and the censored readout fit."""

from __future__ import annotations

import numpy as np
import pytest

from goal_rl.engines.readout import relative_ridge, ridge_readout


def test_relative_ridge_scales_with_the_gram_diagonal() -> None:
    C = np.diag([2.0, 4.0, 6.0])
    assert relative_ridge(C, 0.5) == pytest.approx(2.0)
    assert relative_ridge(np.zeros((3, 3)), 0.5) == pytest.approx(0.5e-12)


def test_plain_ridge_solves_the_normal_equations_over_valid_steps() -> None:
    rng = np.random.default_rng(3)
    T, M, N, O = 40, 3, 8, 2
    r = rng.random((T, M, N))
    y = rng.normal(size=(T, M, O))
    valid = rng.random((T, M)) > 0.3
    w, mse = ridge_readout(r, y, valid, 1e-3)
    rv, yv = r[valid], y[valid]
    C = rv.T @ rv
    lam = 1e-3 * np.mean(np.diag(C))
    w_ref = np.linalg.solve(C + lam * np.eye(N), rv.T @ yv).T
    np.testing.assert_allclose(w, w_ref, rtol=1e-9, atol=1e-12)
    assert mse == pytest.approx(float(np.mean((rv @ w.T - yv) ** 2)))
    # padded steps do not count: changing their labels leaves the fit alone
    y2 = y.copy()
    y2[~valid] = 1e3
    np.testing.assert_array_equal(ridge_readout(r, y2, valid, 1e-3)[0], w)


def test_censored_readout_fits_clipped_actions_better() -> None:
    """Bang-bang labels: the bound-aware refit lowers the error of the clipped output, and a
    label at a bound is matched by any output beyond it."""
    rng = np.random.default_rng(0)
    T, M, N = 200, 4, 30
    r = rng.random((T, M, N))
    w_true = rng.normal(0, 1.0, (2, N))
    y = np.clip(np.einsum("tmn,on->tmo", r, w_true), -1.0, 1.0)  # mostly saturated
    assert np.mean(np.abs(y) == 1.0) > 0.5
    valid = np.ones((T, M), bool)
    w_plain, mse_plain = ridge_readout(r, y, valid, 1e-6)
    w_cens, mse_cens = ridge_readout(r, y, valid, 1e-6, -1.0, 1.0, iters=50)
    clipped = np.clip(np.einsum("tmn,on->tmo", r, w_plain), -1, 1)
    assert mse_plain == pytest.approx(float(np.mean((r @ w_plain.T - y) ** 2)))
    assert float(np.mean((clipped - y) ** 2)) > 5 * mse_cens
    assert mse_cens < 1e-3
    # no iterations = plain ridge
    w0, _ = ridge_readout(r, y, valid, 1e-6, -1.0, 1.0, iters=0)
    np.testing.assert_allclose(w0, w_plain, atol=1e-10)


def test_engine_readout_fit_is_the_same_ridge_problem() -> None:
    """NumpyGoal's own fit (normal equations per trial, LU solve) and ridge_readout (Cholesky
    over every step) solve the same relative-ridge problem; they differ only in rounding."""
    from goal_rl.config import GoalConfig
    from goal_rl.engines.common import init_weights
    from goal_rl.engines.numpy_engine import NumpyGoal

    cfg = GoalConfig(n_rec=30, n_inp=3, n_out=2, t_seq=50, dtype="float64", ridge=1e-2)
    rng = np.random.default_rng(4)
    w = init_weights(3, 30, 2, sigma_inp=10.0, sigma_trg=4.0, sigma_rec=0.0, rng=rng)
    net = NumpyGoal(cfg, w, 2, 5.0, rng)
    net.set_task(rng.normal(size=(50, 4, 3)), rng.normal(size=(50, 4, 2)))
    net.internal_targets()
    mse = net.fit_readout()
    w_ref, mse_ref = ridge_readout(net.r_star, net.y_star, np.ones((50, 4), bool), cfg.ridge)
    assert net.r_star.std() > 0.01  # the targets spike: the fit is not of zeros
    np.testing.assert_allclose(net.w_out, w_ref, rtol=1e-8, atol=1e-10)
    assert mse[0] == pytest.approx(mse_ref, rel=1e-8)
