"""Settings of the walker apprenticeship run (:class:`WalkerConfig`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from goal_rl.common.checks import check_float, check_int
from goal_rl.config import NeuronSettings, RuleSettings, parse_rank

__all__ = ["WalkerConfig", "clone_config"]


@dataclass
class WalkerConfig(NeuronSettings, RuleSettings):
    """Every setting of the walker apprenticeship run (time constants in env steps).

    Network and rule: see :class:`~goal_rl.config.NeuronSettings` and
    :class:`~goal_rl.config.RuleSettings`; here ``rank`` R lies in ``[0, N]`` (``None``:
    LTTS; ``0``: no recurrent learning — readout only, W_rec = 0; ``"N"``: R = N),
    ``rec_lr`` ``None`` means 5/√N, ``inp_lr`` learns the input weights W_in by the same
    GOAL error (0: fixed, as in the paper; readout-only runs never learn W_in), and
    ``sigma_inp`` is the initial std of W_in on the normalised observations.
    ``epochs_rec`` recurrent epochs per round; ``hints``: add the MLP expert's hidden-layer
    outputs through ``W_hint`` (std ``sigma_hint``) to the teacher drive (see
    :func:`~goal_rl.tasks.walker.pipeline.make_hint_fn`; ignored for the heuristic expert;
    given demonstrations are used with their own hints, if any); ``censored_iters``
    iterations of the bound-aware readout refit (actions are clipped to [−1, 1], so a
    label at ±1 is matched by any output beyond it; 0: plain ridge); ``window`` steps per
    training trial.

    Data: ``expert`` name or path, ``demos`` file (then no DAgger), ``demo_episodes``
    expert episodes of at most ``demo_max_steps`` steps, ``dagger_rounds`` rounds of
    ``episodes_per_round`` labelled agent episodes, ``max_train_steps`` cap on the data.

    Evaluation: ``select_episodes`` (seeds ``select_seed + i``) pick the best round,
    ``eval_episodes`` (seeds ``eval_seed + i``) test it; ``num_envs`` vector envs.

    The defaults were chosen by measurement; the measurements are on the docs' walker
    results page.
    """

    n_rec: int = 500
    rank: int | str | None = "N"  # type: ignore[assignment]
    tau_star: float = 1.0
    rec_lr: float | None = 0.05
    inp_lr: float = 0.15
    tau_m: float = 0.5
    tau_s: float = 1.0
    tau_o: float = 1.0
    sigma_inp: float = 3.0
    sigma_trg: float = 20.0
    ridge: float = 1e-4
    expert: str = "a2c"
    demos: str | None = None
    epochs_rec: int = 30
    hints: bool = True
    sigma_hint: float = 5.0
    censored_iters: int = 20
    window: int = 200
    demo_episodes: int = 6
    demo_max_steps: int | None = None
    dagger_rounds: int = 6
    episodes_per_round: int = 6
    max_train_steps: int = 40_000
    select_episodes: int = 30
    select_seed: int = 2000
    eval_episodes: int = 50
    eval_seed: int = 1000
    seed: int = 0
    device: str = "cpu"
    num_envs: int = 1

    def validate(self) -> WalkerConfig:
        """Raise ``ValueError`` naming the first bad setting; return ``self``."""
        self.check_neuron()
        self.check_rule()
        for name in ("window", "demo_episodes", "episodes_per_round",
                     "max_train_steps", "select_episodes", "eval_episodes", "num_envs"):
            check_int(name, getattr(self, name), 1)
        for name in ("epochs_rec", "dagger_rounds", "seed", "select_seed", "eval_seed"):
            check_int(name, getattr(self, name), 0)
        parse_rank(self.rank, self.n_rec, low=0)
        check_int("censored_iters", self.censored_iters, 0)
        if self.demo_max_steps is not None:
            check_int("demo_max_steps", self.demo_max_steps, 1)
        check_float("sigma_hint", self.sigma_hint, positive=False)
        if not isinstance(self.hints, bool):
            raise ValueError(f"hints must be True or False, got {self.hints!r}")
        return self

    @property
    def rank_value(self) -> int | None:
        """The rank as a number: ``"N"`` resolves to ``n_rec``; ``None`` is LTTS."""
        return parse_rank(self.rank, self.n_rec)

    @property
    def readout_only(self) -> bool:
        """True when R = 0: no recurrent learning (W_rec stays 0), readout fit only."""
        return self.rank_value == 0

    def replace(self, **changes: Any) -> WalkerConfig:
        """A validated copy with some settings changed."""
        return dataclasses.replace(self, **changes).validate()


def clone_config(cfg: WalkerConfig) -> Any:
    """The :class:`~goal_rl.learning.config.CloneConfig` for one training round of ``cfg``."""
    from goal_rl.learning.config import CloneConfig

    return CloneConfig(
        n_rec=cfg.n_rec, tau_m=cfg.tau_m, tau_s=cfg.tau_s, tau_o=cfg.tau_o,
        tau_star=cfg.tau_star, sigma_inp=cfg.sigma_inp, sigma_trg=cfg.sigma_trg,
        sigma_hint=cfg.sigma_hint, use_hints=cfg.hints, sigma_rec=cfg.sigma_rec,
        v0=cfg.v0, bias=cfg.bias, reset=cfg.reset, feedback=cfg.feedback,
        rank=None if cfg.rank_value in (None, 0) else cfg.rank_value,
        rec_lr=cfg.rec_lr, inp_lr=cfg.inp_lr, epochs_rec=0 if cfg.readout_only else cfg.epochs_rec,
        ridge=cfg.ridge, refit_readout=True, censored_iters=cfg.censored_iters,
        window=cfg.window, pad="repeat",
        normalize_obs=True, obs_clip=10.0, seed=cfg.seed, device=cfg.device,
    )
