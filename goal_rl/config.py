"""Settings of goal_rl: the one place where every default lives.

The settings every run shares are declared once and composed:

* :class:`NeuronSettings` — the LIF network (size, time constants, weight scales, bias,
  initial potential, reset current);
* :class:`RuleSettings` — the GOAL rule (feedback rank and level, target timescale τ⋆,
  learning rates, readout ridge).

:class:`GoalConfig` (the open-loop engines and the trajectory task),
:class:`goal_rl.learning.config.CloneConfig` (behavioural cloning) and the task settings
built on them (walker, Button & Food, plugins) inherit both; a task that needs another
default re-declares the field with its value, so the name, meaning and check of a setting
stay in one place.

All time constants are in units of the simulation step ``dt``; ``dt`` itself is in seconds
and only used for reporting. Weight scales are standard deviations.

The feedback rank R has one parser, :func:`parse_rank`, and one range per context:

======================  =================  ==================================================
context                 range              why
======================  =================  ==================================================
GOAL engines,           O ≤ R ≤ N          the first O feedback columns are the readout
trajectory, sweeps
cloning (any task)      1 ≤ R ≤ N          R < O keeps the first R readout rows
walker                  0 ≤ R ≤ N          R = 0: no recurrent learning (readout only)
======================  =================  ==================================================

``None`` (or the words ``ltts``/``none``) means LTTS, diagonal feedback; ``"N"`` means
R = N.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from goal_rl.common.checks import SCALE_LIMIT, check_float, check_int

FEEDBACK_MODES = ("spk", "out")
READOUT_METHODS = ("ridge", "gd")
DTYPES = ("float32", "float64")

#: Named corners of the (R, tau_star) plane. ``rank`` may be ``"N"`` (= n_rec),
#: ``"O"`` (= n_out) or ``None`` (LTTS, diagonal feedback).
PRESETS: dict[str, dict[str, Any]] = {
    "ltts": {"rank": None, "tau_star": 3.0},
    "full_force": {"rank": "N", "tau_star": 100.0},
    "eprop": {"rank": "O", "tau_star": 100.0},
}


#: words that mean LTTS (diagonal feedback, no rank)
LTTS_WORDS = ("ltts", "none")


def parse_rank(value: Any, n_rec: int | None = None, name: str = "rank", *,
               low: int | None = None, low_name: str | None = None) -> int | None:
    """Read a feedback rank R: the one parser behind every ``rank`` setting and flag.

    Args:
        value: an integer (an integral float or a numeric text too), ``"N"`` (= ``n_rec``,
            when it is known), or ``None``/``"ltts"``/``"none"`` for LTTS.
        n_rec: N, the network size (resolves ``"N"``, upper end of the range).
        low: lowest valid R of the context (``n_out`` for the engines, 1 for cloning, 0 for
            the walker); ``None``: no range check.
        low_name: how the message names ``low`` (default: its value), e.g. ``"O"``.
        name: the setting or flag named in a message about unreadable text.

    Returns:
        R as an ``int``, or ``None`` for LTTS.

    Raises:
        ValueError: unreadable text, a non-integer, or R outside ``[low, n_rec]``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        word = value.strip()
        if word.lower() in LTTS_WORDS:
            return None
        if word.upper() == "N" and n_rec is not None:
            rank = int(n_rec)
        else:
            try:
                rank = int(word)
            except ValueError:
                choices = ("an integer, 'N' or 'ltts'" if n_rec is not None
                           else "an integer or 'ltts'")
                raise ValueError(f"invalid {name} {value!r}: {choices}") from None
    elif (isinstance(value, bool) or not isinstance(value, numbers.Real)
          or not math.isfinite(value) or int(value) != value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    else:
        rank = int(value)
    if low is not None and n_rec is not None and not low <= rank <= n_rec:
        label = low if low_name is None else low_name
        raise ValueError(f"rank R={rank} is outside [{label}, N] = [{low}, {n_rec}]")
    return rank


def check_rank(rank: Any, n_out: int, n_rec: int) -> int:
    """R for the GOAL engines: an integer with ``n_out <= R <= n_rec`` (``ValueError`` else).

    LTTS is not a rank here: the engines take ``None`` separately."""
    if rank is None:
        raise ValueError("rank must be an integer, got None")
    return parse_rank(rank, n_rec, low=n_out, low_name="O" if n_out > 1 else None)


class _Settings:
    """``replace`` and ``to_dict`` for every settings dataclass."""

    def replace(self, **changes: Any) -> Any:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every setting."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class NeuronSettings(_Settings):
    """The LIF network, shared by every config.

    ``n_rec`` recurrent units N; ``tau_m``, ``tau_s``, ``tau_o`` membrane, synaptic-trace and
    readout-trace time constants (dt); ``sigma_inp`` std of the input weights W_in,
    ``sigma_trg`` of the teacher projection U of the target outputs, ``sigma_rec`` of the
    initial recurrent weights (diagonal kept at 0); ``v0`` initial membrane potential,
    ``bias`` constant input current, ``reset`` current injected after each spike (a soft
    reset; no hard reset).
    """

    n_rec: int = 150
    tau_m: float = 8.0
    tau_s: float = 2.0
    tau_o: float = 5.0
    sigma_inp: float = 22.0
    sigma_trg: float = 8.0
    sigma_rec: float = 0.0
    v0: float = -4.0
    bias: float = -4.0
    reset: float = -20.0

    def check_neuron(self) -> None:
        """Raise ``ValueError`` naming the first bad network setting."""
        check_int("n_rec", self.n_rec, 1)
        for name in ("tau_m", "tau_s", "tau_o"):
            check_float(name, getattr(self, name), positive=True, limit=SCALE_LIMIT)
        for name in ("sigma_inp", "sigma_trg", "sigma_rec"):
            check_float(name, getattr(self, name), positive=False, limit=SCALE_LIMIT)
        for name in ("v0", "bias", "reset"):
            check_float(name, getattr(self, name), positive=None, limit=SCALE_LIMIT)


@dataclass
class RuleSettings(_Settings):
    """The GOAL rule, shared by every config.

    ``rank`` R of the feedback matrix (``None``: LTTS, diagonal feedback; see
    :func:`parse_rank` for the range of each context), ``feedback`` ``"spk"`` (spike
    level) or ``"out"`` (output level, needs a rank), ``tau_star`` τ⋆ target timescale in dt
    (``None``: equal to ``tau_o``), ``rec_lr`` learning rate of W_rec (``None``: the
    context's default, 5/√N for one trial), ``inp_lr`` learning rate of W_in by the same
    local error and the input's own eligibility trace (0: input weights fixed; the update is
    summed over an epoch and applied at its end), ``ridge`` relative ridge of the readout
    fit (relative to the mean eigenvalue of the spike covariance).
    """

    rank: int | None = None
    feedback: str = "spk"
    tau_star: float | None = None
    rec_lr: float | None = None
    inp_lr: float = 0.0
    ridge: float = 3e-3

    def check_rule(self) -> None:
        """Raise ``ValueError`` naming the first bad rule setting (the rank's range is the
        subclass's concern: it knows N, O and the context)."""
        if self.tau_star is not None:
            check_float("tau_star", self.tau_star, positive=True, limit=SCALE_LIMIT)
        if self.rec_lr is not None:
            check_float("rec_lr", self.rec_lr, positive=False, limit=SCALE_LIMIT)
        for name in ("inp_lr", "ridge"):
            check_float(name, getattr(self, name), positive=False, limit=SCALE_LIMIT)
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"feedback must be one of {FEEDBACK_MODES}, got {self.feedback!r}")

    @property
    def tau_star_eff(self) -> float:
        """Target timescale τ⋆ in dt (``tau_o`` when not set)."""
        return self.tau_star if self.tau_star is not None else self.tau_o  # type: ignore


@dataclass
class GoalConfig(NeuronSettings, RuleSettings):
    """Every setting of a GOAL run on an open-loop task (network, rule, schedule).

    Network and rule: see :class:`NeuronSettings` and :class:`RuleSettings` (R in
    ``[O, N]``). Problem: ``n_inp`` inputs I, ``n_out`` outputs O, ``t_seq`` steps T per
    trial, ``theta`` spike threshold, ``dt`` step in seconds. Schedule: ``epochs_out``
    readout epochs (gradient-descent readout only), ``epochs_rec`` recurrent epochs,
    ``out_lr`` readout learning rate of the gradient-descent fit, ``readout`` ``"ridge"``
    (exact least squares) or ``"gd"``, ``resample`` redraw the random feedback columns at
    every epoch. Run: ``seed``, ``device``, ``dtype``; ``extra`` free-form notes.
    """

    n_inp: int = 5
    n_out: int = 3
    t_seq: int = 150
    epochs_out: int = 5000
    epochs_rec: int = 10000
    out_lr: float = 0.0025
    resample: bool = False
    readout: str = "ridge"
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

    def validate(self) -> GoalConfig:
        """Raise ``ValueError`` naming the first bad value; return ``self`` when all is fine."""
        self.check_neuron()
        for name in ("n_inp", "n_out", "t_seq"):
            check_int(name, getattr(self, name), 1)
        for name in ("epochs_out", "epochs_rec"):
            check_int(name, getattr(self, name), 0)
        check_float("dt", self.dt, positive=True, limit=SCALE_LIMIT)
        check_float("out_lr", self.out_lr, positive=False, limit=SCALE_LIMIT)
        check_float("theta", self.theta, positive=None, limit=SCALE_LIMIT)
        self.check_rule()
        if self.readout not in READOUT_METHODS:
            raise ValueError(f"readout must be one of {READOUT_METHODS}, got {self.readout!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.rank is not None:
            check_rank(self.rank, self.n_out, self.n_rec)
        return self

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


def apply_preset(cfg: GoalConfig, name: str) -> GoalConfig:
    """Place (rank, tau_star) at a named corner: ``ltts``, ``full_force`` or ``eprop``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    rank = {"N": cfg.n_rec, "O": cfg.n_out}.get(p["rank"], p["rank"])
    return cfg.replace(rank=rank, tau_star=p["tau_star"])


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
