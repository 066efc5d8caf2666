r"""The GOAL online update written once, plainly, as pure functions (the reference).

The engines (:mod:`~goal_rl.engines.numpy_engine`, :mod:`~goal_rl.engines.torch_batch`) fuse
this rule with the LIF step (:func:`goal_rl.model.lif.lif_step`) into fast kernels; the
functions here are the readable definition the kernels are tested against. Settings and
state are small records (``NamedTuple``); every function returns new values and changes
nothing it is given. States are ``(M, N)`` tensors for M trials of one network of N units.

What one learning step does, after the network step that produced the spikes ``z_t`` from
the membrane ``v_t`` with the eligibility trace ``e_t`` (see :mod:`goal_rl.model.lif`):

1. *Trace at the target timescale.* The free-running spikes are filtered with the target
   timescale τ⋆ (``β⋆ = exp(−1/τ⋆)``): ``ŝ_t = β⋆ ŝ_{t−1} + (1 − β⋆) z_t``. The internal
   target spikes ``z*`` filtered the same way give ``s̄*_t``.
2. *Error fed back to every unit.* The mismatch of the two traces, seen through the feedback
   ``D``: ``g_t = D (s̄*_t − ŝ_t)``. Spike-level feedback of rank R uses
   ``D = B_R B_Rᵀ`` with ``B_R (N, R)`` the readout rows ``W_outᵀ`` followed by random columns;
   LTTS (no rank) uses the diagonal ``D = c I``, ``c`` the mean squared row norm of a full
   ``N × N`` feedback matrix; output-level feedback uses ``g_t = B' (Y*_t − B'ᵀ ŝ_t)``, where
   the first O entries of ``Y*_t`` are the target outputs ``y*_t`` and the others
   ``B'ᵀ s̄*_t`` (so the readout part of the error is an output error).
3. *Local factor.* The surrogate derivative of the spike function,
   ``σ(v_t)(1 − σ(v_t))`` with the logistic ``σ``.
4. *Recurrent update.* ``ΔW_rec = η Σ_trials (g_t ⊙ σ'(v_t)) e_tᵀ`` with its diagonal set to
   zero (no unit feeds itself), applied before the next step.
5. *Input update (optional, η_in > 0).* With the input eligibility
   ``ε_t = β_m ε_{t−1} + (1 − β_m) x_t`` of the raw inputs ``x_t``,
   ``ΔW_in = η_in Σ_trials (g_t ⊙ σ'(v_t)) ε_tᵀ``; the engines sum it over an epoch and apply
   it at the end of the epoch (the feed-forward current is fixed within an epoch).

The model pages (docs/model.md) give the same rule with its motivation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Feedback", "GoalParams", "GoalState", "error_signal", "goal_step",
           "init_goal_state", "input_update", "pseudo_derivative", "recurrent_update",
           "target_trace"]

FEEDBACK_KINDS = ("spk", "ltts", "out")


class GoalParams(NamedTuple):
    """Rule settings: ``eta`` η (recurrent rate), ``beta_star`` = exp(−1/τ⋆), ``eta_in`` η_in
    (input rate, 0: inputs fixed), ``beta_m`` = exp(−1/τ_m) (input eligibility decay)."""

    eta: float
    beta_star: float
    eta_in: float = 0.0
    beta_m: float = 0.0


class Feedback(NamedTuple):
    """How the error reaches the units: ``kind`` ``"spk"``, ``"ltts"`` or ``"out"``;
    ``B`` the feedback columns ``(N, R)`` (``"spk"``, ``"out"``; the first O are ``W_outᵀ``);
    ``c`` the LTTS scale."""

    kind: str
    B: Tensor | None = None
    c: float = 0.0


class GoalState(NamedTuple):
    """Rule state: ``s_hat`` ŝ ``(M, N)``, ``eps`` the input eligibility ε ``(M, I)``."""

    s_hat: Tensor
    eps: Tensor


def init_goal_state(n_trials: int, n_rec: int, n_inp: int, like: Tensor) -> GoalState:
    """Zero traces for ``n_trials`` trials (device and dtype of ``like``)."""
    return GoalState(like.new_zeros((n_trials, n_rec)), like.new_zeros((n_trials, n_inp)))


def target_trace(s_hat: Tensor, z: Tensor, beta_star: float) -> Tensor:
    """``β⋆ ŝ + (1 − β⋆) z``: the trace of the spikes ``z`` at the target timescale."""
    return beta_star * s_hat + (1.0 - beta_star) * z


def error_signal(fb: Feedback, s_bar: Tensor, s_hat: Tensor, y_star: Tensor | None = None
                 ) -> Tensor:
    """Error ``g (M, N)`` from the target trace ``s̄* (M, N)`` and the free trace ``ŝ (M, N)``;
    ``y_star (M, O)`` (the target outputs) only for ``"out"``."""
    if fb.kind == "ltts":
        return fb.c * (s_bar - s_hat)
    if fb.B is None:
        raise ValueError(f"{fb.kind!r} feedback needs its columns B")
    if fb.kind == "spk":
        return (s_bar - s_hat) @ fb.B @ fb.B.T
    if fb.kind == "out":
        if y_star is None:
            raise ValueError("output-level feedback needs the target outputs y_star")
        y_bar = s_bar @ fb.B
        y_bar = torch.cat([y_star, y_bar[:, y_star.shape[-1]:]], dim=-1)
        return (y_bar - s_hat @ fb.B) @ fb.B.T
    raise ValueError(f"feedback kind must be one of {FEEDBACK_KINDS}, got {fb.kind!r}")


def pseudo_derivative(v: Tensor) -> Tensor:
    """``σ(v)(1 − σ(v))``, the surrogate slope of the spike function at the membrane ``v``."""
    sig = torch.sigmoid(v)
    return sig * (1.0 - sig)


def recurrent_update(a: Tensor, e: Tensor, eta: float) -> Tensor:
    """``η Σ_m a_m e_mᵀ (N, N)`` for the rows ``a = g ⊙ σ'(v)`` and eligibilities ``e``
    (each ``(M, N)``), with a zero diagonal."""
    dw = eta * (a.T @ e)
    return dw - torch.diag_embed(torch.diagonal(dw))


def input_update(a: Tensor, eps: Tensor, eta_in: float) -> Tensor:
    """``η_in Σ_m a_m ε_mᵀ (N, I)`` for the rows ``a (M, N)`` and input eligibilities
    ``ε (M, I)``."""
    return eta_in * (a.T @ eps)


def goal_step(v: Tensor, z: Tensor, e: Tensor, x: Tensor, state: GoalState, s_bar: Tensor,
              fb: Feedback, p: GoalParams, y_star: Tensor | None = None
              ) -> tuple[GoalState, Tensor, Tensor | None]:
    """One learning step after a network step.

    Args:
        v, z, e: membrane, new spikes and eligibility trace of the step, each ``(M, N)``.
        x: the raw inputs of the step ``(M, I)`` (used only with ``p.eta_in > 0``).
        state: the rule state before the step.
        s_bar: the target trace ``s̄*`` at this step ``(M, N)``.
        fb: the feedback; ``y_star (M, O)`` the target outputs (``"out"`` only).
        p: rule settings.

    Returns:
        ``(new state, ΔW_rec (N, N), ΔW_in (N, I) or None)``.
    """
    s_hat = target_trace(state.s_hat, z, p.beta_star)
    a = error_signal(fb, s_bar, s_hat, y_star) * pseudo_derivative(v)
    dw_rec = recurrent_update(a, e, p.eta)
    if not p.eta_in:
        return GoalState(s_hat, state.eps), dw_rec, None
    eps = p.beta_m * state.eps + (1.0 - p.beta_m) * x
    return GoalState(s_hat, eps), dw_rec, input_update(a, eps, p.eta_in)
