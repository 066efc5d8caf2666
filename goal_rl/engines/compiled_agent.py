"""The closed-loop agent's batch-1 step, compiled (numba), bit-identical to its NumPy step.

:func:`compiled_actor` wraps the NumPy actor of a CPU
:class:`~goal_rl.learning.agent.SpikingAgent` (its ``actor()``, which does not advance the
eligibility trace): a batch of one goes through :func:`agent_step`, anything else through the
NumPy actor. The step is the NumPy one operation by operation (input transform and clip,
``s``, the two products, ``v``, the spikes, ``r``, the readout and the action bounds), with
NumPy's own BLAS (see :mod:`goal_rl.engines.compiled`), so actions and states are the same to
the last bit in float32 and float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from goal_rl.engines import compiled
from goal_rl.model.lif import LIFState

__all__ = ["compiled_actor"]

def _np(t: Any) -> np.ndarray | None:
    return None if t is None else t.detach().numpy()


def compiled_actor(agent: Any, fallback: Callable[[Any, LIFState | None], tuple[Any, LIFState]]
                   ) -> Callable[[Any, LIFState | None], tuple[Any, LIFState]]:
    """``fallback`` (the agent's NumPy actor) with batch-1 steps compiled.

    Returns ``fallback`` itself when the kernels are unavailable, the agent is not a CPU
    float32/float64 agent, or a transform or bound has another dtype than the weights.
    Like the NumPy actor, it reads the weights once (zero-copy views of the CPU tensors) and
    leaves the eligibility trace ``e`` as it was."""
    net = agent.network
    if not compiled.available() or net.w_rec.device.type != "cpu":
        return fallback
    w_in, w_rec, w_out = (_np(t) for t in (net.w_in, net.w_rec, net.w_out))
    dt = w_rec.dtype
    if dt not in (np.float32, np.float64) or any(
            w.dtype != dt or not w.flags.c_contiguous for w in (w_in, w_rec, w_out)):
        return fallback
    opt = [_np(agent.obs_shift), _np(agent.obs_scale), _np(agent.action_low),
           _np(agent.action_high)]
    if any(a is not None and (a.dtype != dt or a.ndim != 1) for a in opt):
        return fallback
    empty = np.zeros(1, dtype=dt)
    shift, scale, low, high = (empty if a is None else a for a in opt)
    clip = dt.type(agent.obs_clip if agent.obs_clip is not None else 0.0)
    flags = np.array([opt[0] is not None, opt[1] is not None, agent.obs_clip is not None,
                      opt[2] is not None, opt[3] is not None])
    p = net.params
    bm, bs, bo = p.beta_m, p.beta_s, p.beta_o
    consts = tuple(dt.type(c) for c in (bm, 1 - bm, bs, 1 - bs, bo, 1 - bo, p.bias, p.reset,
                                        p.theta))
    from goal_rl.engines.compiled_kernels import agent_step as step

    I = w_in.shape[1]

    def act(obs: Any, state: LIFState | None) -> tuple[Any, LIFState]:
        if (state is None or not isinstance(obs, np.ndarray) or obs.shape != (1, I)
                or not isinstance(state.v, np.ndarray) or state.v.shape[0] != 1
                or obs.dtype.kind != "f" or state.v.dtype != dt):
            return fallback(obs, state)
        y, v, z, s, r = step(obs, state.v, state.z, state.s, state.r, w_in, w_rec, w_out,
                             shift, scale, clip, low, high, flags, consts)
        return y, LIFState(v, z, s, state.e, r)

    return act
