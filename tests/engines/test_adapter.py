"""Tests for goal_rl.engines.adapter: one network × M trials on either engine."""

from __future__ import annotations

import numpy as np
import pytest

from goal_rl.config import GoalConfig
from goal_rl.engines.adapter import TrialEngine
from goal_rl.engines.common import init_weights
from goal_rl.engines.numpy_engine import NumpyGoal


def _problem(T: int = 40, M: int = 3, n_inp: int = 4, n_out: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None]
    x = np.sin(0.2 * t + rng.normal(size=(1, M, n_inp)))
    y = np.cos(0.1 * t + rng.normal(size=(1, M, n_out)))
    return x, y


def _cfg(**kw) -> GoalConfig:
    base = dict(n_inp=4, n_rec=50, n_out=2, t_seq=40, sigma_inp=8.0, sigma_trg=4.0,
                sigma_rec=0.0,
                rec_lr=0.05, dtype="float64")
    base.update(kw)
    return GoalConfig(**base)


def _weights(cfg: GoalConfig) -> dict[str, np.ndarray]:
    return init_weights(cfg.n_inp, cfg.n_rec, cfg.n_out, sigma_inp=cfg.sigma_inp,
                        sigma_trg=cfg.sigma_trg, sigma_rec=cfg.sigma_rec,
                        rng=np.random.default_rng(1))


def test_rank_below_outputs_matches_narrowing_the_readout() -> None:
    """R = 1 < O = 2 equals what cloning did before the engines took R < O: a rank-O engine
    whose readout is narrowed to its first R rows while the feedback is drawn."""
    cfg = _cfg()
    x, y = _problem()
    eng = TrialEngine(cfg, _weights(cfg), 1, 5.0, np.random.default_rng(2), "numpy")
    eng.set_task(x, y, None)
    eng.targets_and_readout()
    eng.build_feedback()
    mse, dz = eng.train(3)

    old = NumpyGoal(cfg, _weights(cfg), 2, 5.0, np.random.default_rng(2))
    old.set_task(x, y)
    old.internal_targets()
    old.fit_readout()
    full = old.w_out
    old.rank, old.w_out = 1, full[:1]
    old.build_feedback()
    old.w_out = full
    hist = old.train_recurrent(3, progress=False)

    np.testing.assert_array_equal(eng.net.learn["Q"], old.learn["Q"])
    np.testing.assert_array_equal(eng.net.learn["P"], old.learn["P"])
    np.testing.assert_array_equal(eng.w_rec, old.w_rec)
    np.testing.assert_array_equal(mse, hist.mse[:, 0])
    np.testing.assert_array_equal(dz, hist.dz[:, 0])
    assert eng.w_out.shape == (2, 50)
    np.testing.assert_array_equal(eng.net.learn["Q"][:, 0], eng.w_out[0])


def test_backends_agree_through_the_adapter() -> None:
    cfg = _cfg()
    x, y = _problem()
    runs = {}
    for backend in ("numpy", "torch"):
        eng = TrialEngine(cfg, _weights(cfg), 1, 5.0, np.random.default_rng(2), backend)
        eng.set_task(x, y, None)
        readout = eng.targets_and_readout()
        eng.build_feedback()
        mse, dz = eng.train(2)
        runs[backend] = (readout, mse, dz, eng.free_run(), eng.w_rec, eng.weights("u"))
    a, b = runs["numpy"], runs["torch"]
    assert a[0] == pytest.approx(b[0], rel=1e-9)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-8)
    np.testing.assert_array_equal(a[2], b[2])
    assert a[3].shape == (40, 3, 50)
    np.testing.assert_array_equal(a[3], b[3])
    np.testing.assert_allclose(a[4], b[4], atol=1e-10)
    assert a[5].dtype == np.float64 and a[5].shape == (50, 2)


def test_engines_refuse_low_ranks_unless_asked() -> None:
    cfg = _cfg()
    with pytest.raises(ValueError, match="rank R=1 is outside"):
        NumpyGoal(cfg, _weights(cfg), 1, 5.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rank R=1 is outside"):
        NumpyGoal(cfg.replace(feedback="out", rank=2), _weights(cfg), 1, 5.0,
                  np.random.default_rng(0), low_rank=True)
