"""goal_rl.model.network: the SpikingNetwork module (persistence, state reset)."""

import numpy as np
import pytest
import torch

from goal_rl.engines.common import init_weights
from goal_rl.model.lif import LIFParams
from goal_rl.model.network import SpikingNetwork


def test_network_save_load_roundtrip(tmp_path):
    w = init_weights(3, 12, 2, sigma_inp=5, sigma_trg=1, sigma_rec=1, rng=np.random.default_rng(1))
    net = SpikingNetwork(w, LIFParams(tau_m=6.0), meta={"task": "x"})
    path = net.save(tmp_path / "net.pt")
    back = SpikingNetwork.load(path)
    assert back.meta == {"task": "x"} and back.params.tau_m == 6.0
    x = torch.randn(10, 2, 3, generator=torch.Generator().manual_seed(0))
    y = net(x)[0]
    assert y.shape == (10, 2, 2) and y.abs().sum() > 0  # the network does spike
    assert torch.equal(y, back(x)[0])
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        SpikingNetwork.load(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="bad.pt"):
        SpikingNetwork.load(tmp_path / "bad.pt")


def test_reset_state_only_masked_trials():
    w = init_weights(3, 8, 2, sigma_inp=20, sigma_trg=1, sigma_rec=1, rng=np.random.default_rng(2))
    net = SpikingNetwork(w)
    _, st = net(torch.ones(5, 3, 3))
    new = net.reset_state(st, torch.tensor([True, False, True]))
    assert torch.all(new.v[0] == net.params.v0) and torch.all(new.s[2] == 0)
    assert torch.equal(new.v[1], st.v[1])
