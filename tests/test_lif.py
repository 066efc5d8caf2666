"""The neuron model of SPEC §1, checked against numbers computed by hand."""

import math

import numpy as np
import pytest
import torch

from goal_rl.config import GoalConfig
from goal_rl.engines.common import init_weights
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.model.lif import LIFParams, exp_filter, init_state, lif_step
from goal_rl.model.network import SpikingNetwork


def test_one_step_by_hand():
    p = LIFParams(tau_m=8.0, tau_s=2.0, tau_o=5.0, bias=-4.0, v0=-4.0, reset=-20.0)
    bm, bs, bo = math.exp(-1 / 8), math.exp(-1 / 2), math.exp(-1 / 5)
    # two neurons; neuron 0 spiked at t, neuron 1 did not
    st = init_state(p, (1, 2), torch.zeros(1, dtype=torch.float64))
    st = st._replace(z=torch.tensor([[1.0, 0.0]], dtype=torch.float64),
                     s=torch.tensor([[0.5, 0.2]], dtype=torch.float64),
                     e=torch.tensor([[0.1, 0.3]], dtype=torch.float64),
                     v=torch.tensor([[2.0, 30.0]], dtype=torch.float64))
    w_rec = torch.tensor([[0.0, 3.0], [10.0, 0.0]], dtype=torch.float64)
    x_cur = torch.tensor([[1.0, -2.0]], dtype=torch.float64)  # W_in x + b
    new = lif_step(x_cur, st, w_rec, p)
    s = [bs * 0.5 + (1 - bs) * 1.0, bs * 0.2]
    e = [bm * 0.1 + (1 - bm) * s[0], bm * 0.3 + (1 - bm) * s[1]]
    cur = [1.0 + 3.0 * s[1], -2.0 + 10.0 * s[0]]
    v = [bm * 2.0 + (1 - bm) * cur[0] - 20.0, bm * 30.0 + (1 - bm) * cur[1]]
    z = [float(vi > 0) for vi in v]
    r = [(1 - bo) * zi for zi in z]
    np.testing.assert_allclose(new.s[0].numpy(), s, rtol=1e-12)
    np.testing.assert_allclose(new.e[0].numpy(), e, rtol=1e-12)
    np.testing.assert_allclose(new.v[0].numpy(), v, rtol=1e-12)
    assert new.z[0].tolist() == z == [0.0, 1.0]
    np.testing.assert_allclose(new.r[0].numpy(), r, rtol=1e-12)


def test_exp_filter_matches_recursion():
    z = torch.tensor(np.random.default_rng(0).integers(0, 2, (20, 3)), dtype=torch.float64)
    b = math.exp(-1 / 5)
    r = exp_filter(z, b)
    acc = torch.zeros(3, dtype=torch.float64)
    for t in range(20):
        acc = b * acc + (1 - b) * z[t]
        np.testing.assert_allclose(r[t].numpy(), acc.numpy(), rtol=1e-12)


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


def test_network_save_load_roundtrip(tmp_path):
    cfg = GoalConfig(n_rec=12, n_inp=3, n_out=2)
    w = init_weights(3, 12, 2, sigma_inp=5, sigma_trg=1, sigma_rec=1, rng=np.random.default_rng(1))
    net = SpikingNetwork(w, LIFParams(tau_m=6.0), meta={"task": "x"})
    path = net.save(tmp_path / "net.pt")
    back = SpikingNetwork.load(path)
    assert back.meta == {"task": "x"} and back.params.tau_m == 6.0
    x = torch.randn(10, 2, 3)
    assert torch.equal(net(x)[0], back(x)[0])
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        SpikingNetwork.load(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="bad.pt"):
        SpikingNetwork.load(tmp_path / "bad.pt")
    del cfg


def test_reset_state_only_masked_trials():
    w = init_weights(3, 8, 2, sigma_inp=20, sigma_trg=1, sigma_rec=1, rng=np.random.default_rng(2))
    net = SpikingNetwork(w)
    _, st = net(torch.ones(5, 3, 3))
    new = net.reset_state(st, torch.tensor([True, False, True]))
    assert torch.all(new.v[0] == net.params.v0) and torch.all(new.s[2] == 0)
    assert torch.equal(new.v[1], st.v[1])


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
