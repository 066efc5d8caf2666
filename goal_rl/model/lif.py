r"""Recurrent leaky integrate-and-fire dynamics as pure functions (the model: docs/model.md).

One step from ``t`` to ``t+1``, with :math:`\beta_\tau = e^{-dt/\tau}`:

.. math::

    s &\leftarrow \beta_s s + (1-\beta_s) z_t                  && \text{synaptic trace}\\
    e &\leftarrow \beta_m e + (1-\beta_m) s                    && \text{eligibility trace}\\
    I &= W_{in} x_t + W_{rec} s + b                            && \text{input current}\\
    v &\leftarrow \beta_m v + (1-\beta_m)(I + d_t) + \rho z_t  && \text{membrane (soft reset)}\\
    z_{t+1} &= H(v - \theta)                                   && \text{spikes}\\
    r &\leftarrow \beta_o r + (1-\beta_o) z_{t+1},\quad y = W_{out} r && \text{readout}

Shapes are batch-first inside a step: states are ``(..., N)``; ``W_rec`` is ``(N, N)`` (shared)
or ``(K, N, N)`` with states ``(K, M, N)`` (K independent networks, M trials each).
Time constants are in units of dt. Device and dtype follow the tensors passed in.

:func:`lif_step` is the reference step: the engines' fused kernels
(:mod:`goal_rl.engines`) are tested against it, and :class:`goal_rl.model.network.SpikingNetwork`
runs it. The learning rule's reference is :mod:`goal_rl.engines.rule`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class LIFParams(NamedTuple):
    """Neuron constants; time constants in dt, potentials in arbitrary units."""

    tau_m: float = 8.0
    tau_s: float = 2.0
    tau_o: float = 5.0
    bias: float = -4.0
    v0: float = -4.0
    reset: float = -20.0
    theta: float = 0.0

    @property
    def beta_m(self) -> float:
        return math.exp(-1.0 / self.tau_m)

    @property
    def beta_s(self) -> float:
        return math.exp(-1.0 / self.tau_s)

    @property
    def beta_o(self) -> float:
        return math.exp(-1.0 / self.tau_o)


class LIFState(NamedTuple):
    """Per-trial state, each ``(..., N)``: membrane, spikes, synaptic/eligibility/readout traces."""

    v: Tensor
    z: Tensor
    s: Tensor
    e: Tensor
    r: Tensor


def beta(tau: float) -> float:
    """Decay factor ``exp(-1/tau)`` for a time constant in dt."""
    return math.exp(-1.0 / tau)


def init_state(p: LIFParams, shape: tuple[int, ...], like: Tensor) -> LIFState:
    """Initial state (``v = V0``, the rest 0), each ``shape + (N,)``, device/dtype of ``like``."""
    zeros = like.new_zeros(shape)
    return LIFState(zeros + p.v0, zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone())


def recurrent_current(w_rec: Tensor, s: Tensor) -> Tensor:
    """``W_rec · s`` for shared ``(N, N)`` or per-network ``(K, N, N)`` weights; ``s`` (..., N)."""
    if w_rec.dim() == 2:
        return s @ w_rec.T
    return torch.matmul(s, w_rec.transpose(-1, -2))


def lif_step(
    x_current: Tensor,
    state: LIFState,
    w_rec: Tensor,
    p: LIFParams,
    drive: Tensor | None = None,
) -> LIFState:
    """Advance one step (pure: returns a new state).

    Args:
        x_current: feed-forward current ``W_in x_t + b``, shape ``(..., N)``.
        state: the state at ``t``.
        w_rec: ``(N, N)`` or ``(K, N, N)`` recurrent weights.
        p: neuron constants.
        drive: optional teacher drive ``d_t`` ``(..., N)``.

    Returns:
        The state at ``t+1``; ``state.z`` holds the new spikes ``z_{t+1}``.
    """
    bm, bs, bo = p.beta_m, p.beta_s, p.beta_o
    s = bs * state.s + (1 - bs) * state.z
    e = bm * state.e + (1 - bm) * s
    current = x_current + recurrent_current(w_rec, s)
    if drive is not None:
        current = current + drive
    v = bm * state.v + (1 - bm) * current + p.reset * state.z
    z = (v > p.theta).to(v.dtype)
    r = bo * state.r + (1 - bo) * z
    return LIFState(v, z, s, e, r)


def exp_filter(z: Tensor, b: float | Tensor) -> Tensor:
    """Causal exponential filter along time: ``r_t = b r_{t-1} + (1-b) z_t``, ``r_{-1} = 0``.

    ``z`` is ``(T, ...)``; ``b`` a float or a tensor broadcastable to ``z[0]``. Computed as a
    product with a lower-triangular ``(T, T)`` kernel when ``b`` is a float (one matmul),
    else by the recursion. The NumPy counterpart is
    :func:`goal_rl.engines.common.causal_filter` (kept apart: its kernel is built with
    NumPy's ``power`` in float64, this one with torch's in the tensors' dtype on their device,
    and the kernels differ in the last bits, so each engine keeps its own to keep its figures).
    """
    T = z.shape[0]
    if not isinstance(b, Tensor):
        return (filter_matrix(T, b, z) @ z.reshape(T, -1)).reshape(z.shape)
    out = torch.empty_like(z)
    acc = torch.zeros_like(z[0])
    for t in range(T):
        acc = b * acc + (1 - b) * z[t]
        out[t] = acc
    return out


def filter_matrix(T: int, b: float, like: Tensor) -> Tensor:
    """``(T, T)`` lower-triangular kernel ``L[t, t'] = (1-b) b^(t-t')`` for ``t' <= t``."""
    idx = torch.arange(T, device=like.device, dtype=like.dtype)
    lag = idx[:, None] - idx[None, :]
    mat = (1 - b) * torch.pow(torch.as_tensor(b, dtype=like.dtype, device=like.device),
                              lag.clamp(min=0))
    return torch.where(lag >= 0, mat, torch.zeros((), dtype=like.dtype, device=like.device))
