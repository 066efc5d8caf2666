"""Configuration of a GOAL run: the one place where every default lives.

All time constants are in units of the simulation step ``dt``; ``dt`` itself is in seconds
and only used for reporting. Weight scales are standard deviations (the original command
line called them "variance").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

FEEDBACK_MODES = ("spk", "out")
READOUT_METHODS = ("ridge", "gd")
DTYPES = ("float32", "float64")

#: Named corners of the (R, tau_star) plane (SPEC §2.5). ``rank`` may be ``"N"`` (= n_rec),
#: ``"O"`` (= n_out) or ``None`` (LTTS, diagonal feedback).
PRESETS: dict[str, dict[str, Any]] = {
    "ltts": {"rank": None, "tau_star": 3.0},
    "full_force": {"rank": "N", "tau_star": 100.0},
    "eprop": {"rank": "O", "tau_star": 100.0},
}


@dataclass
class GoalConfig:
    """Every setting of a GOAL run on an open-loop task (network, rule, schedule).

    Network (SPEC §1): ``n_rec`` recurrent LIF units, ``n_inp`` inputs, ``n_out`` outputs,
    ``t_seq`` steps per trial. Rule (SPEC §2): ``rank`` R of the feedback matrix (``None``:
    LTTS, diagonal feedback), ``feedback`` ``"spk"`` (spike level) or ``"out"`` (output
    level), ``tau_star`` target timescale in dt (``None``: equal to ``tau_o``), ``rec_lr``
    learning rate of ``W_rec`` (``None``: 5/√N), ``inp_lr`` learning rate of ``W_in`` with
    the same local error and the input's own eligibility trace (0: input weights fixed, as
    in the paper; the update is summed over an epoch and applied at its end).
    """

    n_rec: int = 150
    n_inp: int = 5
    n_out: int = 3
    t_seq: int = 150
    epochs_out: int = 5000
    epochs_rec: int = 10000
    rank: int | None = None
    feedback: str = "spk"
    tau_star: float | None = None
    rec_lr: float | None = None
    inp_lr: float = 0.0
    out_lr: float = 0.0025
    resample: bool = False
    readout: str = "ridge"
    ridge: float = 3e-3
    tau_m: float = 8.0
    tau_s: float = 2.0
    tau_o: float = 5.0
    sigma_inp: float = 22.0
    sigma_trg: float = 8.0
    sigma_rec: float = 0.0
    v0: float = -4.0
    bias: float = -4.0
    reset: float = -20.0
    theta: float = 0.0
    dt: float = 0.001
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ derived values
    @property
    def eta(self) -> float:
        """Recurrent learning rate; defaults to 5/sqrt(N)."""
        return self.rec_lr if self.rec_lr is not None else 5.0 / math.sqrt(self.n_rec)

    @property
    def tau_star_eff(self) -> float:
        """Target timescale in dt (``tau_o`` when not set)."""
        return self.tau_star if self.tau_star is not None else self.tau_o

    def validate(self) -> GoalConfig:
        """Raise ``ValueError`` naming the first bad value; return ``self`` when all is fine."""
        for name in ("n_rec", "n_inp", "n_out", "t_seq"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val <= 0:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        for name in ("epochs_out", "epochs_rec"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {val!r}")
        for name in ("tau_m", "tau_s", "tau_o", "dt"):
            val = getattr(self, name)
            if not _finite(val) or val <= 0:
                raise ValueError(f"{name} must be a positive number, got {val!r}")
        if self.tau_star is not None and (not _finite(self.tau_star) or self.tau_star <= 0):
            raise ValueError(f"tau_star must be a positive number, got {self.tau_star!r}")
        for name in ("sigma_inp", "sigma_trg", "sigma_rec", "inp_lr", "out_lr", "ridge"):
            val = getattr(self, name)
            if not _finite(val) or val < 0:
                raise ValueError(f"{name} must be a non-negative number, got {val!r}")
        for name in ("v0", "bias", "reset", "theta"):
            if not _finite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if self.rec_lr is not None and (not _finite(self.rec_lr) or self.rec_lr < 0):
            raise ValueError(f"rec_lr must be a non-negative number, got {self.rec_lr!r}")
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"feedback must be one of {FEEDBACK_MODES}, got {self.feedback!r}")
        if self.readout not in READOUT_METHODS:
            raise ValueError(f"readout must be one of {READOUT_METHODS}, got {self.readout!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.rank is not None:
            check_rank(self.rank, self.n_out, self.n_rec)
        return self

    def replace(self, **changes: Any) -> GoalConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field (plus the effective eta and tau_star)."""
        d = dataclasses.asdict(self)
        d["eta_effective"] = self.eta
        d["tau_star_effective"] = self.tau_star_eff
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GoalConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k not in ("eta_effective", "tau_star_effective")}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
        return cls(**d)


def check_rank(rank: Any, n_out: int, n_rec: int) -> int:
    """Return ``rank`` as int if ``n_out <= rank <= n_rec``, else raise ``ValueError``."""
    if isinstance(rank, bool) or not isinstance(rank, int | float) or int(rank) != rank:
        raise ValueError(f"rank must be an integer, got {rank!r}")
    rank = int(rank)
    if not n_out <= rank <= n_rec:
        raise ValueError(f"rank R={rank} is outside [O, N] = [{n_out}, {n_rec}]")
    return rank


def apply_preset(cfg: GoalConfig, name: str) -> GoalConfig:
    """Place (rank, tau_star) at a named corner: ``ltts``, ``full_force`` or ``eprop``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    rank = {"N": cfg.n_rec, "O": cfg.n_out}.get(p["rank"], p["rank"])
    return cfg.replace(rank=rank, tau_star=p["tau_star"])


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
