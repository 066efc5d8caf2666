"""goal_rl.engines.torch_batch: feedback matrices, the online update, batches of networks, the
free run against the pure LIF step."""

import math

import numpy as np
import pytest
import torch

from goal_rl.config import GoalConfig
from goal_rl.engines.common import feedback_columns, init_weights
from goal_rl.engines.numpy_engine import NumpyGoal
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.model.lif import init_state, lif_step
from goal_rl.model.network import SpikingNetwork
from goal_rl.tasks.trajectory.benchmark import problem

SMALL = dict(n_rec=40, t_seq=60, n_out=3, n_inp=5, dtype="float64")


def make(cfg, seed, rank, tau_star=5.0):
    w, x, y, rng = problem(cfg, seed)
    gb = GoalBatch(cfg, [w], [rank], [tau_star], [rng])
    gb.set_task(x[:, None, None], y[:, None, None])
    gb.internal_targets()
    gb.fit_readout()
    return gb


@pytest.mark.parametrize("rank", [3, 7, 20, 40])
def test_feedback_rank_and_first_columns(rank):
    cfg = GoalConfig(**SMALL)
    gb = make(cfg, 0, rank)
    learn = gb.build_feedback()
    Q = learn["Q"][0].numpy()
    D = Q @ Q.T
    assert np.linalg.matrix_rank(D) == rank
    np.testing.assert_allclose(D, D.T)
    # first O columns are the trained readout
    np.testing.assert_allclose(Q[:, :3], gb.w_out[0].numpy().T)
    assert learn["c"] is None
    # P = D s̄*
    b = math.exp(-1 / 5)
    z = gb.z_star[:, 0, 0].numpy()
    s_bar = np.zeros_like(z)
    acc = np.zeros(z.shape[1])
    for t in range(z.shape[0]):
        acc = b * acc + (1 - b) * z[t]
        s_bar[t] = acc
    np.testing.assert_allclose(learn["P"][:, 0, 0].numpy(), s_bar @ D, atol=1e-10)


def test_ltts_is_a_scaled_identity():
    cfg = GoalConfig(**SMALL)
    gb = make(cfg, 1, None)
    learn = gb.build_feedback()
    assert learn["Q"] is None
    c = learn["c"]
    # c = mean_i (B Bᵀ)_ii, with B = [w_outᵀ, random]; recompute with the same generator state
    w, _, _, rng = problem(cfg, 1)
    B = feedback_columns(gb.w_out[0].numpy(), cfg.n_rec, rng)
    assert c == pytest.approx(np.mean(np.diag(B @ B.T)), rel=1e-12)
    s_bar_c = learn["P"][:, 0, 0].numpy()
    z = gb.z_star[:, 0, 0].numpy()
    assert np.all((s_bar_c > 0) == (np.cumsum(z, axis=0) > 0))  # P = c·s̄*, c > 0


def test_output_feedback_targets():
    cfg = GoalConfig(**SMALL, feedback="out")
    gb = make(cfg, 2, 6)
    learn = gb.build_feedback()
    Q = learn["Q"][0].numpy()
    P = learn["P"][:, 0, 0].numpy()
    # P = B' Y*, whose projection on the readout columns carries y* exactly
    Y = np.linalg.lstsq(Q, P.T, rcond=None)[0].T
    np.testing.assert_allclose(Y[:, :3], gb.y_star[:, 0, 0].numpy(), atol=1e-8)


def test_online_update_lowers_the_error():
    cfg = GoalConfig(n_rec=60, t_seq=80, dtype="float64")
    gb = make(cfg, 0, None)
    gb.build_feedback()
    h = gb.train_recurrent(60, progress=False)
    first, last = h.mse[:5, 0].mean(), h.mse[-5:, 0].mean()
    assert last < 0.5 * first, (first, last)
    assert h.dz[-5:, 0].mean() < 0.5 * h.dz[:5, 0].mean()
    # the diagonal of W_rec stays zero
    assert torch.all(torch.diagonal(gb.w_rec[0]) == 0)


def test_batch_equals_separate_runs():
    cfg = GoalConfig(**SMALL)
    specs = [(0, None, 5.0), (1, 3, 22.0), (2, 40, 2.0), (0, 10, 8.0)]
    probs = [problem(cfg, s) for s, _, _ in specs]
    batch = GoalBatch(cfg, [p[0] for p in probs], [r for _, r, _ in specs],
                      [t for _, _, t in specs], [p[3] for p in probs])
    x = np.stack([p[1] for p in probs], axis=1)[:, :, None]
    y = np.stack([p[2] for p in probs], axis=1)[:, :, None]
    batch.set_task(x, y)
    hb = batch.train(6, progress=False)
    for k, (seed, rank, ts) in enumerate(specs):
        single = make(cfg, seed, rank, ts)
        single.build_feedback()
        hs = single.train_recurrent(6, progress=False)
        np.testing.assert_allclose(hb.mse[:, k], hs.mse[:, 0], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(hb.dz[:, k], hs.dz[:, 0])
        assert torch.equal(batch.z[:, k], single.z[:, 0])


def test_resample_draws_new_columns_each_epoch():
    cfg = GoalConfig(**SMALL, resample=True)
    gb = make(cfg, 0, 10)
    q0 = gb.build_feedback()["Q"].clone()
    gb.train_recurrent(3, progress=False)
    q1 = gb.learn["Q"]
    np.testing.assert_allclose(q0[0, :, :3], q1[0, :, :3])  # readout part is fixed
    assert not torch.allclose(q0[0, :, 3:], q1[0, :, 3:])


def test_numpy_and_torch_agree_quickly():
    cfg = GoalConfig(**SMALL)
    t = make(cfg, 3, 5)
    t.build_feedback()
    ht = t.train_recurrent(10, progress=False)
    w, x, y, rng = problem(cfg, 3)
    n = NumpyGoal(cfg, w, 5, 5.0, rng)
    n.set_task(x[:, None], y[:, None])
    hn = n.train(10, progress=False)
    np.testing.assert_allclose(ht.mse[:, 0], hn.mse[:, 0], atol=1e-9)
    np.testing.assert_array_equal(ht.dz[:, 0], hn.dz[:, 0])


def _batch(cfg, seed=0, T=40):
    rng = np.random.default_rng(seed)
    w = init_weights(cfg.n_inp, cfg.n_rec, cfg.n_out, sigma_inp=cfg.sigma_inp,
                     sigma_trg=cfg.sigma_trg, sigma_rec=1.0, rng=rng)
    x = rng.normal(size=(T, 1, 1, cfg.n_inp))
    y = rng.normal(size=(T, 1, 1, cfg.n_out))
    gb = GoalBatch(cfg, [w], [None], [5.0], [rng], dtype=torch.float64)
    gb.set_task(x, y)
    return gb, w, x


def test_inplace_simulation_equals_pure_step_and_module():
    cfg = GoalConfig(n_rec=30, n_inp=4, n_out=2, sigma_inp=3.0)
    gb, w, x = _batch(cfg)
    Z = gb.simulate(gb.x_current)
    p = gb.params
    st = init_state(p, (1, 1, 30), gb.x_current)
    for t in range(x.shape[0]):
        st = lif_step(gb.x_current[t], st, gb.w_rec, p)
        assert torch.equal(st.z, Z[t]), t
    net = SpikingNetwork(w, p, dtype=torch.float64)
    y, _ = net(torch.as_tensor(x[:, 0], dtype=torch.float64))
    assert y.shape == (x.shape[0], 1, 2)
    y_ref = gb.output(Z)[:, 0]
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=1e-10)
    assert Z.sum() > 0  # the test is about something: the network does spike


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_simulation_matches_cpu():
    cfg = GoalConfig(n_rec=30, n_inp=4, n_out=2, sigma_inp=3.0, dtype="float64")
    gb, w, x = _batch(cfg)
    Z = gb.simulate(gb.x_current)
    rng = np.random.default_rng(0)
    g2 = GoalBatch(cfg, [w], [None], [5.0], [rng], device="cuda", dtype=torch.float64)
    g2.set_task(x, gb.y_star.cpu().numpy())
    assert torch.equal(g2.simulate(g2.x_current).cpu(), Z)
