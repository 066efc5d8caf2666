"""Settings of behavioural cloning (:class:`CloneConfig`) and of the generic cloning task
(:class:`CloneTaskConfig`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from goal_rl.common.checks import check_float, check_int
from goal_rl.config import GoalConfig

__all__ = ["BACKENDS", "PADDING", "CloneConfig", "CloneTaskConfig"]

BACKENDS = ("auto", "numpy", "torch")
PADDING = ("repeat", "drop")


@dataclass
class CloneConfig:
    """Every setting of :func:`clone` (time constants in env steps = dt).

    Network (SPEC §1): ``n_rec`` units; ``tau_m``, ``tau_s``, ``tau_o`` membrane, synaptic and
    readout time constants; ``sigma_inp`` std of the input weights, ``sigma_trg`` of the
    teacher projection of expert actions, ``sigma_hint`` of the hint projection,
    ``sigma_rec`` of the initial recurrent weights; ``bias``, ``v0``, ``reset`` as in
    :class:`~goal_rl.config.GoalConfig` (same defaults).

    GOAL: ``rank`` R (``None``: LTTS; ``1 <= R <= N``, see the module docstring),
    ``feedback`` ``"spk"``/``"out"``, ``tau_star`` target timescale (``None``: ``tau_o``),
    ``rec_lr`` (``None``: 5/sqrt(N)/M for M trials: the M trials' updates are summed, so
    this keeps one epoch's step the size of the core's single-trial default), ``inp_lr``
    learning rate of ``W_in`` by the same rule (0: input weights fixed, as in the paper; the
    update is summed over the M trials and the epoch), ``epochs_rec`` recurrent epochs,
    ``ridge`` relative ridge of the readout fits, ``refit_readout`` final refit on
    free-running spikes, ``censored_iters`` iterations of the bound-aware (censored) refit
    when action bounds are given (0: plain ridge).

    Data: ``window`` steps per trial (``None``: the longest episode), ``pad``
    ``"repeat"``/``"drop"`` for short windows, ``use_hints``, ``normalize_obs`` with
    ``obs_clip`` and ``obs_std_floor``.

    Run: ``eval_every`` epochs between validation/callback checkpoints (0: only at the
    end), ``keep_best`` return the best checkpoint (highest callback ``"score"``, else
    lowest validation MSE) instead of the last, ``seed``, ``device``, ``dtype``,
    ``backend`` (``"auto"``: NumPy on the CPU, torch on CUDA).
    """

    n_rec: int = 300
    tau_m: float = GoalConfig.tau_m
    tau_s: float = GoalConfig.tau_s
    tau_o: float = GoalConfig.tau_o
    tau_star: float | None = None
    sigma_inp: float = GoalConfig.sigma_inp
    sigma_trg: float = GoalConfig.sigma_trg
    sigma_hint: float = 5.0
    sigma_rec: float = GoalConfig.sigma_rec
    bias: float = GoalConfig.bias
    v0: float = GoalConfig.v0
    reset: float = GoalConfig.reset
    rank: int | None = None
    feedback: str = "spk"
    rec_lr: float | None = None
    inp_lr: float = 0.0
    epochs_rec: int = 500
    ridge: float = GoalConfig.ridge
    refit_readout: bool = True
    censored_iters: int = 0
    window: int | None = None
    pad: str = "repeat"
    use_hints: bool = True
    normalize_obs: bool = False
    obs_clip: float = 10.0
    obs_std_floor: float = 1e-2
    eval_every: int = 0
    keep_best: bool = False
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    backend: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> CloneConfig:
        """Raise ``ValueError`` naming the first bad setting; return ``self``."""
        for name in ("n_rec",):
            check_int(name, getattr(self, name), 1)
        for name in ("epochs_rec", "eval_every", "seed", "censored_iters"):
            check_int(name, getattr(self, name), 0)
        for name in ("tau_m", "tau_s", "tau_o", "obs_clip", "obs_std_floor"):
            check_float(name, getattr(self, name), positive=True)
        for name in ("sigma_inp", "sigma_trg", "sigma_hint", "sigma_rec", "ridge"):
            check_float(name, getattr(self, name), positive=False)
        for name in ("bias", "v0", "reset"):
            check_float(name, getattr(self, name), positive=None)
        for name in ("refit_readout", "use_hints", "normalize_obs", "keep_best"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.tau_star is not None:
            check_float("tau_star", self.tau_star, positive=True)
        if self.rec_lr is not None:
            check_float("rec_lr", self.rec_lr, positive=False)
        check_float("inp_lr", self.inp_lr, positive=False)
        if self.rank is not None:
            check_int("rank", self.rank, 1)
            if self.rank > self.n_rec:
                raise ValueError(f"rank R={self.rank} is outside [1, N] = [1, {self.n_rec}]")
        if self.window is not None:
            check_int("window", self.window, 1)
        if self.feedback not in ("spk", "out"):
            raise ValueError(f"feedback must be 'spk' or 'out', got {self.feedback!r}")
        if self.feedback == "out" and self.rank is None:
            raise ValueError("feedback='out' needs a rank (got rank=None, LTTS)")
        if self.pad not in PADDING:
            raise ValueError(f"pad must be one of {PADDING}, got {self.pad!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not isinstance(self.device, str) or not (self.device == "cpu"
                                                    or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:k]', got {self.device!r}")
        return self

    @property
    def tau_star_eff(self) -> float:
        """Target timescale in dt (``tau_o`` when not set)."""
        return self.tau_star if self.tau_star is not None else self.tau_o

    def replace(self, **changes: Any) -> CloneConfig:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every setting."""
        return dataclasses.asdict(self)

    def eta(self, n_trials: int) -> float:
        """Recurrent learning rate for ``n_trials`` trials (see ``rec_lr``)."""
        if self.rec_lr is not None:
            return float(self.rec_lr)
        return 5.0 / math.sqrt(self.n_rec) / max(int(n_trials), 1)

    def goal_config(self, n_inp: int, n_out: int, t_seq: int, n_trials: int = 1) -> GoalConfig:
        """The :class:`~goal_rl.config.GoalConfig` of the GOAL core for this problem.

        The rank is left out (the core requires O <= R; :func:`clone` handles R < O)."""
        return GoalConfig(
            n_rec=self.n_rec, n_inp=n_inp, n_out=n_out, t_seq=t_seq, epochs_rec=self.epochs_rec,
            rank=None, feedback=self.feedback, tau_star=self.tau_star,
            rec_lr=self.eta(n_trials), inp_lr=self.inp_lr,
            readout="ridge", ridge=self.ridge, tau_m=self.tau_m, tau_s=self.tau_s,
            tau_o=self.tau_o, sigma_inp=self.sigma_inp, sigma_trg=self.sigma_trg,
            sigma_rec=self.sigma_rec, v0=self.v0, bias=self.bias, reset=self.reset,
            seed=self.seed, device=self.device, dtype=self.dtype,
        ).validate()


@dataclass
class CloneTaskConfig(CloneConfig):
    """Settings of :class:`ExpertCloningTask`: every :class:`CloneConfig` field plus

    ``n_demos`` expert episodes recorded with seeds ``demo_seed + i`` (or ``demos``: path
    of a ``.npz`` written by :meth:`Demonstrations.save`, used instead), ``n_eval``
    evaluation episodes with seeds ``eval_seed + i`` on ``num_envs`` parallel envs,
    ``dagger_rounds`` DAgger rounds of ``dagger_episodes`` episodes with expert-action
    probability ``dagger_beta`` (0 rounds: plain cloning), and ``max_steps`` (optional
    cap on recorded episode length).
    """

    n_demos: int = 5
    demo_seed: int = 0
    demos: str | None = None
    n_eval: int = 10
    eval_seed: int = 1000
    num_envs: int = 1
    dagger_rounds: int = 0
    dagger_episodes: int = 5
    dagger_beta: float = 0.0
    max_steps: int | None = None

    def validate(self) -> CloneTaskConfig:
        """Validate the cloning settings and the task settings."""
        super().validate()
        for name in ("n_demos", "n_eval", "num_envs", "dagger_episodes"):
            check_int(name, getattr(self, name), 1)
        for name in ("demo_seed", "eval_seed", "dagger_rounds"):
            check_int(name, getattr(self, name), 0)
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 1)
        check_float("dagger_beta", self.dagger_beta, positive=False)
        if self.dagger_beta > 1:
            raise ValueError(f"dagger_beta must be in [0, 1], got {self.dagger_beta!r}")
        return self

    def clone_config(self) -> CloneConfig:
        """The :class:`CloneConfig` part of these settings."""
        names = {f.name for f in dataclasses.fields(CloneConfig)}
        return CloneConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})
