"""The engines' fused learning kernels against a plain loop of the reference functions.

The loop below is built only from :func:`goal_rl.model.lif.lif_step` and the pure rule of
:mod:`goal_rl.engines.rule`, one step at a time, in float64. Each engine path — the NumPy
engine (buffered rank-one updates, folded into W_rec within the epoch), the torch engine's
per-step path and its chunked path (sparse spike gathers on the CPU, dense products as on
CUDA, the feedback as one matrix when 2R > N, several networks at once) — must give the
same spike rasters, every epoch, and the same W_rec and W_in to ~1e-10. The learning rate is
small (η = 0.02): at large η the rule amplifies rounding-level differences of the summation
order from epoch to epoch, which says nothing about the kernels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from goal_rl.config import GoalConfig
from goal_rl.engines.common import init_weights
from goal_rl.engines.numpy_engine import NumpyGoal
from goal_rl.engines.rule import (
    Feedback,
    GoalParams,
    error_signal,
    goal_step,
    init_goal_state,
    pseudo_derivative,
    recurrent_update,
    target_trace,
)
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.model.lif import LIFParams, init_state, lif_step

N, T, I, O = 30, 70, 3, 2
EPOCHS = 3
F64 = torch.float64


def _t(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=F64)


# ------------------------------------------------------------------ the reference loop
def reference_run(cfg: GoalConfig, w: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                  fb: Feedback, tau_star: float, epochs: int) -> dict[str, Any]:
    """Internal targets and ``epochs`` learning epochs from the reference functions alone.

    ``x (T, M, I)``, ``y (T, M, O)``; the feedback ``fb`` (drawn by an engine: its columns
    come from the readout the engine fitted). Returns the target raster, every epoch's
    raster ``(T, M, N)`` and the final W_rec, W_in."""
    p = LIFParams(cfg.tau_m, cfg.tau_s, cfg.tau_o, cfg.bias, cfg.v0, cfg.reset, cfg.theta)
    gp = GoalParams(cfg.eta, math.exp(-1.0 / tau_star), cfg.inp_lr, p.beta_m)
    x, y = _t(x), _t(y)
    w_in, w_rec, u = _t(w["w_in"]), _t(w["w_rec"]), _t(w["u"])
    M = x.shape[1]

    def run(current: torch.Tensor, drive: torch.Tensor | None, learn: bool) -> torch.Tensor:
        nonlocal w_rec, w_in
        st = init_state(p, (M, N), current)
        gs = init_goal_state(M, N, I, current)
        dw_in = torch.zeros_like(w_in)
        zs = []
        for t in range(T):
            st = lif_step(current[t], st, w_rec, p, None if drive is None else drive[t])
            zs.append(st.z)
            if learn:
                gs, dw, dwi = goal_step(st.v, st.z, st.e, x[t], gs, s_bar[t], fb, gp, y[t])
                w_rec = w_rec + dw
                if dwi is not None:
                    dw_in = dw_in + dwi
        w_in = w_in + dw_in
        return torch.stack(zs)

    z_star = run(x @ w_in.T + cfg.bias, y @ u.T, learn=False)
    s_bar = torch.zeros_like(z_star)
    acc = torch.zeros_like(z_star[0])
    for t in range(T):
        acc = target_trace(acc, z_star[t], gp.beta_star)
        s_bar[t] = acc
    rasters = [run(x @ w_in.T + cfg.bias, None, learn=True) for _ in range(epochs)]
    return {"z_star": z_star, "rasters": rasters, "w_rec": w_rec, "w_in": w_in}


# ------------------------------------------------------------------ problems and engines
def _config(rank: int | None, feedback: str = "spk", inp_lr: float = 0.0) -> GoalConfig:
    return GoalConfig(n_rec=N, n_inp=I, n_out=O, t_seq=T, rank=rank, feedback=feedback,
                      rec_lr=0.02, inp_lr=inp_lr, sigma_inp=10.0, dtype="float64").validate()


def _problem(M: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, M, I))
    y = np.sin(np.linspace(0, 6, T))[:, None, None] * rng.normal(size=(1, M, O))
    w = init_weights(I, N, O, sigma_inp=10.0, sigma_trg=4.0, sigma_rec=0.0,
                     rng=np.random.default_rng(seed + 100))
    return w, x, y


def _feedback(cfg: GoalConfig, rank: int | None, Q: Any, c: Any) -> Feedback:
    if rank is None:
        return Feedback("ltts", c=float(c))
    return Feedback("out" if cfg.feedback == "out" else "spk", B=_t(Q)[:, :rank])


def _engine_run(net: Any, epochs: int, to_np: Any) -> dict[str, Any]:
    """Epochs of an engine after its targets, readout and feedback; rasters as NumPy."""
    rasters = []
    for _ in range(epochs):
        rasters.append(to_np(net.simulate(net.x_current, learn=net.learn)).copy())
    return {"z_star": to_np(net.z_star), "rasters": rasters}


def _compare(ref: dict[str, Any], eng: dict[str, Any], w_rec: np.ndarray, w_in: np.ndarray,
             w0: dict[str, np.ndarray], learns_inputs: bool) -> None:
    np.testing.assert_array_equal(eng["z_star"], ref["z_star"].numpy())
    for ep, (a, b) in enumerate(zip(eng["rasters"], ref["rasters"])):
        assert np.array_equal(a, b.numpy()), f"rasters differ in epoch {ep + 1}"
    np.testing.assert_allclose(w_rec, ref["w_rec"].numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(w_in, ref["w_in"].numpy(), rtol=0, atol=1e-10)
    # not vacuous: the weights moved far beyond the tolerance, the network spikes and its
    # raster changed
    assert np.abs(w_rec - w0["w_rec"]).max() > 1e-5
    if learns_inputs:
        assert np.abs(w_in - w0["w_in"]).max() > 1e-5
    else:
        np.testing.assert_array_equal(w_in, w0["w_in"])
    assert eng["rasters"][0].sum() > 0
    assert not np.array_equal(eng["z_star"], eng["rasters"][-1])


# ------------------------------------------------------------------ NumPy engine
@pytest.mark.parametrize("rank, feedback, M, inp_lr", [
    (O, "spk", 1, 0.0),      # T > N: the buffered updates fold twice within the epoch
    (N, "spk", 1, 0.002),    # with input learning
    (None, "spk", 1, 0.0),   # LTTS
    (4, "out", 1, 0.0),
    (5, "spk", 20, 0.002),   # 20 trials: folds every second step
    (None, "spk", 20, 0.0),
])
def test_numpy_engine_equals_reference(rank: int | None, feedback: str, M: int,
                                       inp_lr: float) -> None:
    cfg = _config(rank, feedback, inp_lr)
    w, x, y = _problem(M, seed=M)
    net = NumpyGoal(cfg, w, rank, 4.0, np.random.default_rng(7))
    net.set_task(x, y)
    net.internal_targets()
    net.fit_readout()
    learn = net.build_feedback()
    eng = _engine_run(net, EPOCHS, np.asarray)
    fb = _feedback(cfg, rank, learn["Q"], learn["c"])
    ref = reference_run(cfg, w, x, y, fb, 4.0, EPOCHS)
    _compare(ref, eng, net.w_rec, net.w_in, w, inp_lr > 0)


# ------------------------------------------------------------------ torch engine
TORCH_PATHS = {  # name -> (_fold_every, _sparse_gather)
    "per-step": (1, None),
    "chunked-sparse": (8, None),
    "chunked-dense": (8, False),
}


@pytest.mark.parametrize("path", list(TORCH_PATHS))
@pytest.mark.parametrize("rank, feedback, M, inp_lr", [
    (O, "spk", 1, 0.0),
    (N, "spk", 1, 0.002),    # 2R > N: the dense chunked path uses D = Q Qᵀ as one matrix
    (None, "spk", 3, 0.0),
    (4, "out", 3, 0.0),
])
def test_torch_engine_paths_equal_reference(path: str, rank: int | None, feedback: str,
                                            M: int, inp_lr: float) -> None:
    cfg = _config(rank, feedback, inp_lr)
    w, x, y = _problem(M, seed=M + 1)
    gb = GoalBatch(cfg, [w], [rank], [4.0], [np.random.default_rng(7)])
    gb._fold_every, gb._sparse_gather = TORCH_PATHS[path]
    gb.set_task(x[:, None], y[:, None])
    gb.internal_targets()
    gb.fit_readout()
    learn = gb.build_feedback()
    eng = _engine_run(gb, EPOCHS, lambda a: a[:, 0].numpy())
    Q = None if learn["Q"] is None else learn["Q"][0]
    fb = _feedback(cfg, rank, Q, learn["c"])
    ref = reference_run(cfg, w, x, y, fb, 4.0, EPOCHS)
    _compare(ref, eng, gb.w_rec[0].numpy(), gb.w_in[0].numpy(), w, inp_lr > 0)


@pytest.mark.parametrize("path", list(TORCH_PATHS))
def test_torch_batch_of_networks_equals_reference_per_network(path: str) -> None:
    """K = 3 networks with their own rank (one LTTS) and τ⋆ in one batch: each equals its
    own reference run (per-network decay and LTTS scale are tensors on this path)."""
    ranks, taus = [None, O, 12], [3.0, 6.0, 4.0]
    cfg = _config(O)
    probs = [_problem(2, seed=10 + k) for k in range(3)]
    gb = GoalBatch(cfg, [p[0] for p in probs], ranks, taus,
                   [np.random.default_rng(20 + k) for k in range(3)])
    gb._fold_every, gb._sparse_gather = TORCH_PATHS[path]
    gb.set_task(np.stack([p[1] for p in probs], 1), np.stack([p[2] for p in probs], 1))
    gb.internal_targets()
    gb.fit_readout()
    learn = gb.build_feedback()
    assert isinstance(learn["c"], torch.Tensor) and isinstance(learn["beta_star"], torch.Tensor)
    rasters = [gb.simulate(gb.x_current, learn=learn).numpy().copy() for _ in range(EPOCHS)]
    for k, ((w, x, y), rank, ts) in enumerate(zip(probs, ranks, taus)):
        fb = _feedback(cfg, rank, learn["Q"][k], learn["c"].reshape(-1)[k])
        ref = reference_run(cfg, w, x, y, fb, ts, EPOCHS)
        eng = {"z_star": gb.z_star[:, k].numpy(), "rasters": [r[:, k] for r in rasters]}
        _compare(ref, eng, gb.w_rec[k].numpy(), gb.w_in[k].numpy(), w, False)


# ------------------------------------------------------------------ the reference itself
def test_reference_pieces_by_hand() -> None:
    """Each reference function on numbers small enough to check by hand."""
    s_hat = target_trace(_t([[0.5, 0.0]]), _t([[1.0, 1.0]]), 0.75)
    np.testing.assert_allclose(s_hat.numpy(), [[0.625, 0.25]])
    B = _t([[1.0], [2.0]])
    g = error_signal(Feedback("spk", B=B), _t([[1.0, 0.0]]), _t([[0.0, 0.5]]))
    np.testing.assert_allclose(g.numpy(), [[0.0, 0.0]])  # Bᵀ(s̄ − ŝ) = 1 − 1 = 0
    g = error_signal(Feedback("spk", B=B), _t([[1.0, 1.0]]), _t([[0.0, 0.0]]))
    np.testing.assert_allclose(g.numpy(), [[3.0, 6.0]])
    g = error_signal(Feedback("ltts", c=2.0), _t([[1.0, 1.0]]), _t([[0.5, 0.0]]))
    np.testing.assert_allclose(g.numpy(), [[1.0, 2.0]])
    # output feedback: the readout entries of Y* are the target outputs, not B'ᵀ s̄*
    B2 = _t([[1.0, 0.0], [0.0, 1.0]])
    g = error_signal(Feedback("out", B=B2), _t([[9.0, 3.0]]), _t([[1.0, 1.0]]), _t([[2.0]]))
    np.testing.assert_allclose(g.numpy(), [[1.0, 2.0]])
    assert pseudo_derivative(_t([0.0])).item() == pytest.approx(0.25)
    dw = recurrent_update(_t([[1.0, 2.0]]), _t([[3.0, 4.0]]), 0.5)
    np.testing.assert_allclose(dw.numpy(), [[0.0, 2.0], [3.0, 0.0]])
    with pytest.raises(ValueError, match="feedback kind"):
        error_signal(Feedback("both", B=B), _t([[1.0, 1.0]]), _t([[0.0, 0.0]]))
