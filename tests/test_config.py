"""goal_rl.config: the settings records composed into every config, and the one rank parser."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from goal_rl.config import (
    GoalConfig,
    NeuronSettings,
    RuleSettings,
    apply_preset,
    check_rank,
    parse_rank,
)
from goal_rl.learning.config import CloneConfig, CloneTaskConfig
from goal_rl.tasks.button_food.config import ButtonFoodConfig
from goal_rl.tasks.walker.config import WalkerConfig, clone_config

SHARED = {f.name for f in dataclasses.fields(NeuronSettings)} | \
    {f.name for f in dataclasses.fields(RuleSettings)}


@pytest.mark.parametrize("cls", [GoalConfig, CloneConfig, CloneTaskConfig, ButtonFoodConfig,
                                 WalkerConfig])
def test_every_config_is_composed_from_the_shared_records(cls) -> None:
    assert issubclass(cls, NeuronSettings) and issubclass(cls, RuleSettings)
    assert SHARED <= {f.name for f in dataclasses.fields(cls)}


def test_task_defaults_override_only_their_own_values() -> None:
    g, c, w, b = GoalConfig(), CloneConfig(), WalkerConfig(), ButtonFoodConfig()
    assert (g.n_rec, c.n_rec, w.n_rec, b.n_rec) == (150, 300, 500, 300)
    assert (g.tau_m, c.tau_m, w.tau_m, b.tau_m) == (8.0, 8.0, 0.5, 6.0)
    assert (g.ridge, c.ridge, w.ridge) == (3e-3, 3e-3, 1e-4)
    assert (g.bias, c.bias, w.bias, b.bias) == (-4.0,) * 4  # not redeclared: one default
    # the walker's cloning settings carry its network and rule values through
    cc = clone_config(w)
    for name in SHARED - {"rank"}:
        assert getattr(cc, name) == getattr(w, name), name
    assert cc.rank == 500 and cc.use_hints is w.hints


@pytest.mark.parametrize(("cls", "kw", "msg"), [
    (GoalConfig, {"tau_m": 0.0}, "tau_m must be a positive number, got 0.0"),
    (CloneConfig, {"tau_m": -1.0}, "tau_m must be a positive number, got -1.0"),
    (WalkerConfig, {"tau_m": float("nan")}, "tau_m must be a positive number, got nan"),
    (GoalConfig, {"sigma_trg": -1.0}, "sigma_trg must be a non-negative number"),
    (WalkerConfig, {"reset": float("inf")}, "reset must be a finite number"),
    (CloneConfig, {"feedback": "spikes"}, "feedback must be one of"),
    (WalkerConfig, {"n_rec": 0}, "n_rec must be an integer >= 1, got 0"),
])
def test_shared_checks_name_the_setting(cls, kw, msg) -> None:
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        cls(**kw).validate()


@pytest.mark.parametrize(("value", "n_rec", "expected"), [
    (3, None, 3), ("12", None, 12), (" 7 ", 10, 7), (5.0, None, 5), (np.int64(4), 10, 4),
    (None, None, None), ("ltts", None, None), ("None", 5, None), ("N", 150, 150),
    ("n", 20, 20),
])
def test_parse_rank_reads_every_spelling(value, n_rec, expected) -> None:
    assert parse_rank(value, n_rec) == expected


@pytest.mark.parametrize(("value", "kw", "msg"), [
    ("N", {}, "invalid rank 'N': an integer or 'ltts'"),
    ("abc", {"n_rec": 5}, "invalid rank 'abc': an integer, 'N' or 'ltts'"),
    ("4.5", {"n_rec": 5, "name": "--rank"}, "invalid --rank '4.5'"),
    (2.5, {}, "rank must be an integer, got 2.5"),
    (True, {}, "rank must be an integer, got True"),
    (float("nan"), {}, "rank must be an integer, got nan"),
    (2, {"n_rec": 20, "low": 3, "low_name": "O"}, r"rank R=2 is outside \[O, N\] = \[3, 20\]"),
    (21, {"n_rec": 20, "low": 1}, r"rank R=21 is outside \[1, N\] = \[1, 20\]"),
    (-1, {"n_rec": 20, "low": 0}, r"rank R=-1 is outside \[0, N\] = \[0, 20\]"),
])
def test_parse_rank_errors_name_value_and_range(value, kw, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_rank(value, **kw)


def test_each_context_has_its_range() -> None:
    assert check_rank(3, 3, 150) == 3
    with pytest.raises(ValueError, match=r"\[O, N\] = \[3, 150\]"):
        GoalConfig(rank=2).validate()
    assert CloneConfig(n_rec=40, rank=1).rank == 1  # cloning: R < O allowed
    with pytest.raises(ValueError, match=r"\[1, N\] = \[1, 40\]"):
        CloneConfig(n_rec=40, rank=0)
    assert WalkerConfig(rank=0).validate().readout_only  # walker: R = 0 is readout only
    with pytest.raises(ValueError, match=r"\[0, N\] = \[0, 500\]"):
        WalkerConfig(rank=501).validate()
    assert ButtonFoodConfig(n_rec=50).resolved_rank() == 50  # "N" follows n_rec
    with pytest.raises(ValueError, match="rank must be an integer, got None"):
        check_rank(None, 3, 150)


def test_presets_place_rank_and_tau_star() -> None:
    cfg = GoalConfig(n_rec=40)
    assert (apply_preset(cfg, "eprop").rank, apply_preset(cfg, "eprop").tau_star) == (3, 100.0)
    assert apply_preset(cfg, "full_force").rank == 40
    assert apply_preset(cfg, "ltts").rank is None
    with pytest.raises(ValueError, match="unknown preset 'lts'"):
        apply_preset(cfg, "lts")


def test_round_trip_and_replace() -> None:
    cfg = GoalConfig(n_rec=40, rank=5, tau_star=13.0)
    d = cfg.to_dict()
    assert d["eta_effective"] == pytest.approx(5 / np.sqrt(40)) and d["tau_star_effective"] == 13
    assert GoalConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="unknown config key"):
        GoalConfig.from_dict({**d, "tau_x": 1})
    assert cfg.replace(tau_star=None).tau_star_eff == cfg.tau_o
    assert WalkerConfig().to_dict()["n_rec"] == 500


def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="rank R=2 is outside"):
        check_rank(2, 3, 150)
    with pytest.raises(ValueError, match="tau_m"):
        GoalConfig(tau_m=0).validate()
    with pytest.raises(ValueError, match="n_rec"):
        GoalConfig(n_rec=0).validate()
    cfg = GoalConfig(n_rec=150)
    assert apply_preset(cfg, "ltts").rank is None
    ff = apply_preset(cfg, "full_force")
    ep = apply_preset(cfg, "eprop")
    assert ff.rank == 150 and ep.rank == 3 and ff.tau_star > 20 and ep.tau_star > 20
    assert apply_preset(cfg, "ltts").tau_star < 5
    assert cfg.tau_star_eff == cfg.tau_o and cfg.eta == pytest.approx(5 / math.sqrt(150))
    assert GoalConfig.from_dict(cfg.to_dict()) == cfg
