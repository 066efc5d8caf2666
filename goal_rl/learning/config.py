"""Settings of behavioural cloning (:class:`CloneConfig`) and of the generic cloning task
(:class:`CloneTaskConfig`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from goal_rl.common.checks import check_float, check_int
from goal_rl.config import GoalConfig, NeuronSettings, RuleSettings, parse_rank

__all__ = ["BACKENDS", "PADDING", "CloneConfig", "CloneTaskConfig"]

BACKENDS = ("auto", "numpy", "torch")
PADDING = ("repeat", "drop")


@dataclass
class CloneConfig(NeuronSettings, RuleSettings):
    """Every setting of :func:`~goal_rl.learning.cloning.clone` (time constants in env
    steps = dt).

    Network and rule: see :class:`~goal_rl.config.NeuronSettings` and
    :class:`~goal_rl.config.RuleSettings` (same defaults as the open-loop
    :class:`~goal_rl.config.GoalConfig` except N = 300); ``rank`` R lies in ``[1, N]``
    (R below the number of actions keeps the first R readout rows as feedback);
    ``rec_lr`` ``None`` means 5/√N/M for M trials (the M trials' updates are summed, so one
    epoch's step keeps the size of the single-trial default); ``inp_lr`` is summed over the
    M trials and the epoch. ``sigma_hint`` std of the hint projection.

    Schedule: ``epochs_rec`` recurrent epochs, ``refit_readout`` final refit on free-running
    spikes, ``censored_iters`` iterations of the bound-aware (censored) refit when action
    bounds are given (0: plain ridge).

    Data: ``window`` steps per trial (``None``: the longest episode), ``pad``
    ``"repeat"``/``"drop"`` for short windows, ``use_hints``, ``normalize_obs`` with
    ``obs_clip`` and ``obs_std_floor``.

    Run: ``eval_every`` epochs between validation/callback checkpoints (0: only at the
    end), ``keep_best`` return the best checkpoint (highest callback ``"score"``, else
    lowest validation MSE) instead of the last, ``seed``, ``device``, ``dtype``,
    ``backend`` (``"auto"``: NumPy on the CPU, torch on CUDA).
    """

    n_rec: int = 300
    sigma_hint: float = 5.0
    epochs_rec: int = 500
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
        self.check_neuron()
        self.check_rule()
        for name in ("epochs_rec", "eval_every", "seed", "censored_iters"):
            check_int(name, getattr(self, name), 0)
        for name in ("obs_clip", "obs_std_floor"):
            check_float(name, getattr(self, name), positive=True)
        check_float("sigma_hint", self.sigma_hint, positive=False)
        for name in ("refit_readout", "use_hints", "normalize_obs", "keep_best"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.rank is not None:
            parse_rank(self.rank, self.n_rec, low=1)
        if self.window is not None:
            check_int("window", self.window, 1)
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
    of a ``.npz`` written by :meth:`Demonstrations.save`, used instead), ``n_eval`` test
    episodes with seeds ``eval_seed + i`` (default 1000, 1001, ...) on ``num_envs``
    parallel envs, ``dagger_rounds`` DAgger rounds of ``dagger_episodes`` episodes with
    expert-action probability ``dagger_beta`` (0 rounds: plain cloning; the rollouts use
    the seeds after the demonstrations', ``demo_seed + n_demos + i``), and ``max_steps``
    (optional cap on recorded episode length).

    Honest selection: DAgger keeps the round whose agent scores best on
    ``select_episodes`` selection episodes with seeds ``select_seed + i`` (default 2000,
    2001, ...), which must not overlap the test seeds; the reported score is then that
    agent's on the test episodes.
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
    select_episodes: int = 10
    select_seed: int = 2000

    def validate(self) -> CloneTaskConfig:
        """Validate the cloning settings and the task settings."""
        super().validate()
        for name in ("n_demos", "n_eval", "num_envs", "dagger_episodes", "select_episodes"):
            check_int(name, getattr(self, name), 1)
        for name in ("demo_seed", "eval_seed", "dagger_rounds", "select_seed"):
            check_int(name, getattr(self, name), 0)
        test, select = self.test_seeds(), self.select_seeds()
        if select[0] < test[1] and test[0] < select[1]:
            raise ValueError(f"selection seeds {select[0]}..{select[1] - 1} (select_seed, "
                             f"select_episodes) overlap the test seeds {test[0]}.."
                             f"{test[1] - 1} (eval_seed, n_eval); they must be disjoint")
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 1)
        check_float("dagger_beta", self.dagger_beta, positive=False)
        if self.dagger_beta > 1:
            raise ValueError(f"dagger_beta must be in [0, 1], got {self.dagger_beta!r}")
        return self

    def test_seeds(self) -> tuple[int, int]:
        """``[first, stop)`` of the test episodes' seeds."""
        return int(self.eval_seed), int(self.eval_seed) + int(self.n_eval)

    def select_seeds(self) -> tuple[int, int]:
        """``[first, stop)`` of the DAgger selection episodes' seeds."""
        return int(self.select_seed), int(self.select_seed) + int(self.select_episodes)

    def clone_config(self) -> CloneConfig:
        """The :class:`CloneConfig` part of these settings."""
        names = {f.name for f in dataclasses.fields(CloneConfig)}
        return CloneConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})
