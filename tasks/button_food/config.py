"""Settings of the Button & Food task (:class:`ButtonFoodConfig`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from goal_rl.common.checks import check_float, check_int
from goal_rl.config import parse_rank
from goal_rl.learning.config import CloneConfig

__all__ = ["EXPERT_NAMES", "TRAIN_ANGLES", "ButtonFoodConfig"]

#: training angles of the paper (deg)
TRAIN_ANGLES: tuple[float, ...] = (50.0, 70.0, 90.0, 110.0, 130.0)
#: names of the built-in experts (``paper``: the constant-velocity paths; ``env``: the env's own)
EXPERT_NAMES: tuple[str, ...] = ("paper", "env")


@dataclass
class ButtonFoodConfig(CloneConfig):
    """Button & Food settings: the cloning settings (the paper's values as defaults) plus
    the task's.

    Network defaults: N = 300, tau_m = 6, tau_s = 2, tau_o = 10, tau* = 5 (dt =
    1 ms), sigma_in = 5, sigma_trg = 3, sigma_hint = 5, W_rec starting at 0.

    Task settings:
        rank: R (``1 <= R <= N``, R < O = 2 allowed), ``"N"`` (= n_rec, the default) or
            ``"ltts"``/``none`` (diagonal feedback).
        train_angles: food angles of the demonstrations (degrees).
        n_test, test_min, test_max: test angles ``linspace(test_min, test_max, n_test)``.
        expert: ``"paper"`` or ``"env"`` (see the module docstring).
        ranks: non-empty → rank scan over these R (``seeds`` → repeated per seed).
        seeds: network seeds of a rank scan (empty: ``seed`` only).
        dagger_rounds, dagger_episodes, dagger_beta: DAgger (0 rounds: plain cloning);
            rollout angles are drawn uniformly in ``[test_min, test_max]``.
        n_val: selection angles (``n_val`` uniform draws of a fixed generator in
            ``[test_min, test_max]``, distinct from the test grid) that pick the best
            DAgger round (and ``keep_best`` checkpoints); the reported score is the picked
            agent's on the test grid, and ``metrics.json`` lists both (``selection_angles``,
            ``test_angles``).
        num_envs: parallel envs of the closed-loop evaluation.
        demos: path of saved demonstrations to train on instead of recording them.
    """

    n_rec: int = 300
    tau_m: float = 6.0
    tau_s: float = 2.0
    tau_o: float = 10.0
    tau_star: float | None = 5.0
    sigma_inp: float = 5.0
    sigma_trg: float = 3.0
    sigma_hint: float = 5.0
    sigma_rec: float = 0.0
    rank: int | str | None = "N"  # type: ignore[assignment]
    epochs_rec: int = 500
    train_angles: tuple[float, ...] = TRAIN_ANGLES
    n_test: int = 120
    test_min: float = 30.0
    test_max: float = 150.0
    expert: str = "paper"
    ranks: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()
    dagger_rounds: int = 0
    dagger_episodes: int = 20
    dagger_beta: float = 0.0
    n_val: int = 30
    num_envs: int = 120
    demos: str | None = None

    def resolved_rank(self, rank: Any = "config") -> int | None:
        """``rank`` (default: this config's) as an int or ``None`` (LTTS), ``"N"`` = n_rec;
        the range [1, N] is checked by :class:`CloneConfig`."""
        return parse_rank(self.rank if rank == "config" else rank, self.n_rec)

    def clone_config(self, **changes: Any) -> CloneConfig:
        """The :class:`~goal_rl.learning.config.CloneConfig` part (rank resolved), with changes."""
        names = {f.name for f in dataclasses.fields(CloneConfig)}
        kw = {f: getattr(self, f) for f in names}
        kw["rank"] = self.resolved_rank(changes.pop("rank", "config"))
        kw.update(changes)
        return CloneConfig(**kw)

    def validate(self) -> ButtonFoodConfig:  # type: ignore[override]
        """Raise ``ValueError`` naming the first bad setting."""
        self.clone_config()
        if not self.train_angles:
            raise ValueError("train_angles must list at least one angle")
        for a in (*self.train_angles, self.test_min, self.test_max):
            check_float("angle", a, positive=None)
        if self.test_min > self.test_max:
            raise ValueError(f"test_min ({self.test_min}) must not exceed test_max "
                             f"({self.test_max})")
        for name in ("n_test", "n_val", "num_envs", "dagger_episodes"):
            check_int(name, getattr(self, name), 1)
        check_int("dagger_rounds", self.dagger_rounds, 0)
        check_float("dagger_beta", self.dagger_beta, positive=False)
        if self.dagger_beta > 1:
            raise ValueError(f"dagger_beta must be in [0, 1], got {self.dagger_beta}")
        if self.expert not in EXPERT_NAMES:
            raise ValueError(f"bad value {self.expert!r} for setting 'expert' (expected one "
                             f"of {', '.join(EXPERT_NAMES)})")
        for r in self.ranks:
            self.clone_config(rank=r)
        for s in self.seeds:
            check_int("seeds", s, 0)
        return self

    def test_angles(self) -> np.ndarray:
        """``(n_test,)`` test angles in degrees."""
        return np.linspace(self.test_min, self.test_max, self.n_test)

    def val_angles(self) -> np.ndarray:
        """``(n_val,)`` validation angles: uniform draws (fixed generator, not the test grid)."""
        rng = np.random.default_rng(np.random.SeedSequence([20_220_622, self.n_val]))
        return rng.uniform(self.test_min, self.test_max, self.n_val)
