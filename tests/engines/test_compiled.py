"""goal_rl.engines.compiled against the NumPy engine: the same bits.

The compiled kernels perform the NumPy engine's floating-point operations in the same order,
with NumPy's own BLAS and exp (module docstring of goal_rl.engines.compiled), so every raster
and every W_rec after every epoch must be identical, in float64 and float32, for the rules of
the NumPy equivalence grid (LTTS, R = O, R = N, ``out`` feedback, resample), for learnt
inputs, and for several trials per epoch (GEMM paths, the row-sum of the diagonal, in-epoch
folds). Default learning rates: equality to the last bit needs no damping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from goal_rl.config import GoalConfig
from goal_rl.engines import compiled
from goal_rl.engines.common import init_weights
from goal_rl.engines.numpy_engine import NumpyGoal
from goal_rl.tasks.trajectory.benchmark import problem

pytestmark = pytest.mark.skipif(not compiled.available(),
                                reason=f"compiled kernels: {compiled.unavailable_reason()}")

N_REC, T_SEQ, EPOCHS = 100, 100, 50
GRID: dict[str, dict[str, Any]] = {
    "ltts": {"rank": None},
    "spk_R=O": {"rank": 3},
    "spk_R=N": {"rank": N_REC},
    "out_R=2O": {"rank": 6, "feedback": "out"},
    "resample_R=2O": {"rank": 6, "resample": True},
}


def _record(net: Any) -> list[np.ndarray]:
    """Keep every raster and, after each learning epoch, ``w_rec``."""
    seen: list[np.ndarray] = []
    original = net.simulate

    def simulate(current: Any, learn: dict | None = None, out: Any = None) -> Any:
        z = original(current, learn=learn, out=out)
        seen.append(z.copy())
        if learn is not None:
            seen.append(net.w_rec.copy())
        return z

    net.simulate = simulate
    return seen


def _assert_same(a: NumpyGoal, b: NumpyGoal, epochs: int) -> None:
    ra, rb = _record(a), _record(b)
    ha, hb = a.train(epochs, progress=False), b.train(epochs, progress=False)
    assert len(ra) == len(rb) == 1 + 2 * epochs
    for i, (x, y) in enumerate(zip(ra, rb)):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y), f"array {i} differs: max {np.abs(x - y).max()}"
    np.testing.assert_array_equal(ha.mse, hb.mse)
    np.testing.assert_array_equal(ha.dz, hb.dz)
    assert not np.array_equal(ra[1], ra[-2])  # not vacuous: the raster changed


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(GRID))
def test_single_trial_grid_bit_identical(name: str, dtype: str) -> None:
    cfg = GoalConfig(n_rec=N_REC, t_seq=T_SEQ, tau_star=5.0, seed=0, dtype=dtype,
                     **GRID[name]).validate()
    nets = []
    for cls in (NumpyGoal, compiled.CompiledGoal):
        w, x, y, rng = problem(cfg, cfg.seed)
        net = cls(cfg, w, cfg.rank, cfg.tau_star_eff, rng)
        net.set_task(x[:, None], y[:, None])
        nets.append(net)
    w0 = nets[0].w_rec.copy()
    _assert_same(*nets, EPOCHS)
    assert np.abs(nets[0].w_rec - w0).max() > 1e-2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M, rank, inp_lr, rec_lr", [(8, 40, 0.002, 0.01), (1, 40, 0.05, 0.0),
                                                     (20, 2, 0.0, 0.05), (5, None, 0.0, 0.05)])
def test_trials_and_input_learning_bit_identical(M: int, rank: int | None, inp_lr: float,
                                                 rec_lr: float, dtype: str) -> None:
    """Several trials (GEMM products; with M = 20 ≥ 16 folds every second step) and learnt
    inputs; ``rank`` 2 < O is the low-rank feedback the cloning engine uses."""
    N, T, I, O = 40, 30, 3, 4
    cfg = GoalConfig(n_rec=N, n_inp=I, n_out=O, t_seq=T, rank=None, tau_star=3.0,
                     rec_lr=rec_lr, inp_lr=inp_lr, sigma_inp=10.0, dtype=dtype).validate()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, M, I))
    y = np.sin(np.linspace(0, 6, T))[:, None, None] * rng.normal(size=(1, M, O))
    w = init_weights(I, N, O, sigma_inp=10.0, sigma_trg=cfg.sigma_trg, sigma_rec=0.0,
                     rng=np.random.default_rng(2))
    nets = [cls(cfg, w, rank, 3.0, np.random.default_rng(3), low_rank=True)
            for cls in (NumpyGoal, compiled.CompiledGoal)]
    for net in nets:
        net.set_task(x, y)
    _assert_same(*nets, 10)
    if inp_lr:
        np.testing.assert_array_equal(nets[0].w_in, nets[1].w_in)
        assert np.abs(nets[0].w_in - w["w_in"]).max() > 1e-3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_agent_step_bit_identical(dtype: str) -> None:
    """The compiled batch-1 agent step gives the NumPy actor's actions and states, with the
    walker's transforms (shift, scale, clip) and action bounds; other batches fall back."""
    import torch

    from goal_rl.engines.compiled_agent import compiled_actor
    from goal_rl.learning.agent import SpikingAgent
    from goal_rl.model.lif import LIFParams
    from goal_rl.model.network import SpikingNetwork

    rng = np.random.default_rng(0)
    w = {"w_in": rng.normal(0, 3, (60, 5)), "w_rec": rng.normal(0, 0.3, (60, 60)),
         "w_out": rng.normal(0, 0.2, (3, 60))}
    net = SpikingNetwork(w, LIFParams(tau_m=0.5, tau_s=1.0, tau_o=1.0),
                         dtype=getattr(torch, dtype))
    agent = SpikingAgent(net, obs_shift=rng.normal(size=5), obs_scale=rng.uniform(0.5, 2, 5),
                         obs_clip=2.0, action_low=-0.5, action_high=0.5)
    slow = agent.actor()
    fast = compiled_actor(agent, slow)
    assert fast is not slow
    st_a = st_b = None
    spikes, clipped = 0.0, 0
    for obs in rng.normal(0, 2, (200, 1, 5)):
        ya, st_a = slow(obs, st_a)
        yb, st_b = fast(obs, st_b)
        assert ya.dtype == yb.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ya, yb)
        for a, b in zip(st_a, st_b):
            np.testing.assert_array_equal(a, b)
        spikes += float(st_a.z.sum())
        clipped += int((np.abs(ya) == 0.5).sum())
    assert spikes > 100 and clipped > 0  # not vacuous
    batch = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(fast(batch, None)[0], slow(batch, None)[0])
