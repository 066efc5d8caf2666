"""``SpikingNetwork``: the trained network as a ``torch.nn.Module`` for closed-loop use.

The module holds the weights as buffers (GOAL does not use autograd) and wraps the pure
step :func:`goal_rl.model.lif.lif_step`. ``forward(x, state=None) -> (y, state)`` in Norse style:
``x`` is ``(B, I)`` for one step or ``(T, B, I)`` for a sequence; the state is a
:class:`goal_rl.model.lif.LIFState` of ``(B, N)`` tensors. Device and dtype follow the weights, so
``net.to("cuda")`` or ``net.double()`` just work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from goal_rl.common.io import atomic_write
from goal_rl.model.lif import LIFParams, LIFState, init_state, lif_step

_WEIGHTS = ("w_in", "w_rec", "w_out", "u")


class SpikingNetwork(nn.Module):
    """Recurrent LIF network with a linear readout of the filtered spikes.

    Args:
        weights: ``w_in (N, I)``, ``w_rec (N, N)``, ``w_out (O, N)``, optional ``u (N, O)``
            (teacher projection) and ``w_hint (N, H)`` — NumPy arrays or tensors.
        params: neuron constants (time constants in dt).
        meta: free-form JSON-able description saved with the weights (task, config, ...).
    """

    def __init__(self, weights: dict[str, Any], params: LIFParams | None = None,
                 meta: dict[str, Any] | None = None, dtype: torch.dtype = torch.float32
                 ) -> None:
        super().__init__()
        for key in ("w_in", "w_rec", "w_out"):
            if key not in weights:
                raise ValueError(f"weights lack {key!r}")
        for key, val in weights.items():
            self.register_buffer(key, torch.as_tensor(np.asarray(val), dtype=dtype).clone())
        n = self.w_rec.shape[0]
        if self.w_rec.shape != (n, n) or self.w_in.shape[0] != n or self.w_out.shape[1] != n:
            raise ValueError(f"inconsistent weight shapes: w_in {tuple(self.w_in.shape)}, "
                             f"w_rec {tuple(self.w_rec.shape)}, w_out {tuple(self.w_out.shape)}")
        self.params = params or LIFParams()
        self.meta = dict(meta or {})

    @property
    def n_rec(self) -> int:
        return int(self.w_rec.shape[0])

    @property
    def n_inp(self) -> int:
        return int(self.w_in.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.w_out.shape[0])

    def initial_state(self, batch: int) -> LIFState:
        """Initial state for ``batch`` trials, ``(batch, N)`` tensors on the weights' device."""
        return init_state(self.params, (batch, self.n_rec), self.w_rec)

    def reset_state(self, state: LIFState, mask: Tensor) -> LIFState:
        """Return ``state`` with the trials where ``mask (B,)`` is true set to the initial state."""
        fresh = self.initial_state(mask.shape[0])
        m = mask.to(device=self.w_rec.device, dtype=torch.bool).unsqueeze(-1)
        return LIFState(*(torch.where(m, f, s) for f, s in zip(fresh, state)))

    @torch.no_grad()
    def step(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """One step: ``x (B, I)`` → output ``y (B, O)`` and the new state."""
        if x.dim() != 2 or x.shape[-1] != self.n_inp:
            raise ValueError(f"input must be (B, {self.n_inp}), got {tuple(x.shape)}")
        x = x.to(device=self.w_rec.device, dtype=self.w_rec.dtype)
        if state is None:
            state = self.initial_state(x.shape[0])
        current = x @ self.w_in.T + self.params.bias
        state = lif_step(current, state, self.w_rec, self.params)
        return state.r @ self.w_out.T, state

    @torch.no_grad()
    def forward(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """``x (B, I)`` → ``(y (B, O), state)``; ``x (T, B, I)`` → ``(y (T, B, O), state)``."""
        if x.dim() == 2:
            return self.step(x, state)
        if x.dim() != 3:
            raise ValueError(f"input must be (B, I) or (T, B, I), got {tuple(x.shape)}")
        ys = []
        for t in range(x.shape[0]):
            y, state = self.step(x[t], state)
            ys.append(y)
        return torch.stack(ys), state

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write weights, neuron constants and ``meta`` to ``path`` (atomically)."""
        payload = {
            "format": "goal_rl.SpikingNetwork/1",
            "weights": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "params": self.params._asdict(),
            "meta": self.meta,
        }
        return atomic_write(path, lambda fh: torch.save(payload, fh))

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
             ) -> SpikingNetwork:
        """Inverse of :meth:`save`; clear errors for a missing or foreign file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such network file: {str(path)!r}")
        try:
            payload = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ValueError(f"cannot read network file {str(path)!r}: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != "goal_rl.SpikingNetwork/1":
            raise ValueError(f"{str(path)!r} is not a goal_rl network file")
        w = payload["weights"]
        return cls({k: v for k, v in w.items()}, LIFParams(**payload["params"]),
                   payload.get("meta"), dtype=w["w_rec"].dtype)
