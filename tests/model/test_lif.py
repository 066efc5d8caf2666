"""goal_rl.model.lif: the LIF step and the causal filter, checked against numbers computed by
hand."""

import math

import numpy as np
import torch

from goal_rl.model.lif import LIFParams, exp_filter, init_state, lif_step


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
