"""Tests for tasks.registry: registration, lookup, entry points and override parsing."""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import json
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from typing import Literal

import pytest

from goal_rl import tasks
from goal_rl.tasks import registry


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the built-ins only, and no installed plugins unless it adds some."""
    snapshot = {name: dataclasses.replace(entry) for name, entry in registry._TASKS.items()}
    monkeypatch.setattr(registry, "_TASKS", snapshot)
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])


@dataclass(frozen=True)
class Toy:
    n: int
    scale: float


def make_toy(**overrides: object) -> Toy:
    """A toy task for the tests."""
    return registry.apply_overrides(Toy(n=1, scale=1.0), overrides, task="toy")


# ------------------------------------------------------------------------------ registration


def test_builtins_listed_with_kinds() -> None:
    infos = {i.name: i for i in tasks.list_tasks()}
    assert sorted(infos) == ["button_food", "trajectory", "walker"]
    assert infos["trajectory"].kind == "open_loop"
    assert infos["button_food"].kind == "closed_loop"
    assert infos["walker"].kind == "closed_loop"
    assert all(i.source == "builtin" and i.description for i in infos.values())


def test_register_make_list() -> None:
    tasks.register_task("toy", make_toy, description="a toy", kind="open_loop")
    assert tasks.make_task("toy") == Toy(1, 1.0)
    assert tasks.make_task("toy", n="7", scale=0.5) == Toy(7, 0.5)
    info = tasks.task_info("toy")
    assert (info.name, info.kind, info.description, info.source) == (
        "toy", "open_loop", "a toy", "user")
    assert [i.name for i in tasks.list_tasks()] == ["button_food", "toy", "trajectory", "walker"]


def test_register_by_import_path(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_toy_mod.py").write_text(
        "def make(**kw):\n    return ('built', kw)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tasks.register_task("lazy", "lazy_toy_mod:make")
    tasks.list_tasks()
    assert "lazy_toy_mod" not in sys.modules
    assert tasks.make_task("lazy", a=1) == ("built", {"a": 1})
    monkeypatch.delitem(sys.modules, "lazy_toy_mod")


def test_duplicate_and_overwrite() -> None:
    tasks.register_task("toy", make_toy)
    with pytest.raises(ValueError, match="'toy' is already registered.*overwrite=True"):
        tasks.register_task("toy", lambda **kw: "other")
    with pytest.raises(ValueError, match="'walker' is already registered \\(builtin\\)"):
        tasks.register_task("walker", make_toy)
    tasks.register_task("toy", lambda **kw: "other", overwrite=True)
    assert tasks.make_task("toy") == "other"


def test_unregister() -> None:
    tasks.register_task("toy", make_toy)
    tasks.unregister_task("toy")
    with pytest.raises(ValueError, match="unknown task 'toy'"):
        tasks.make_task("toy")


def test_unknown_name_suggestion_text() -> None:
    with pytest.raises(ValueError) as err:
        tasks.make_task("buton_food")
    assert str(err.value) == (
        "unknown task 'buton_food'; did you mean 'button_food'? "
        "known: button_food, trajectory, walker")
    assert not isinstance(err.value, KeyError)
    with pytest.raises(ValueError) as err:
        tasks.make_task("zzzz")
    assert str(err.value) == "unknown task 'zzzz'; known: button_food, trajectory, walker"


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"name": "", "factory": make_toy}, ValueError, "bad task name"),
        ({"name": "two words", "factory": make_toy}, ValueError, "bad task name"),
        ({"name": "t", "factory": make_toy, "kind": "loop"}, ValueError, "bad task kind 'loop'"),
        ({"name": "t", "factory": "no_colon"}, ValueError, "bad factory reference"),
        ({"name": "t", "factory": 3}, TypeError, "must be callable"),
    ],
)
def test_register_rejects_bad_arguments(kwargs, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        tasks.register_task(**kwargs)


def test_lazy_builtin_reports_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks.register_task("ghost", "goal_rl_no_such_module_xyz:make")
    with pytest.raises(ImportError, match="task 'ghost': cannot import"):
        tasks.make_task("ghost")


def test_import_tasks_is_light() -> None:
    code = textwrap.dedent("""
        import json, sys
        from goal_rl import tasks
        names = [i.name for i in tasks.list_tasks()]
        heavy = [m for m in ("torch", "numpy", "gymnasium", "goal_rl.tasks.trajectory",
                              "goal_rl.tasks.button_food", "goal_rl.tasks.walker")
                 if m in sys.modules]
        print(json.dumps({"names": names, "heavy": heavy}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"button_food", "trajectory", "walker"} <= set(result["names"])
    assert result["heavy"] == []


# ------------------------------------------------------------------------------ entry points


class _FakeEntryPoint:
    def __init__(self, name: str, obj: object = None, error: Exception | None = None):
        self.name, self.value, self._obj, self._error = name, f"fake:{name}", obj, error
        self.loads = 0

    def load(self) -> object:
        self.loads += 1
        if self._error is not None:
            raise self._error
        return self._obj


def test_entry_points_loaded_lazily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def plugin_factory(**kw):
        """Plugin task from a third-party package.

        More text.
        """
        return ("plugin", kw)

    plugin_factory.kind = "open_loop"  # type: ignore[attr-defined]
    ep = _FakeEntryPoint("plugin_task", plugin_factory)
    calls: list[dict] = []

    def fake_entry_points(**kw):
        calls.append(kw)
        return [ep]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    assert calls == []  # nothing scanned yet
    info = tasks.task_info("plugin_task")
    assert calls == [{"group": "goal_rl.tasks"}]
    assert info.kind == "open_loop"
    assert info.description == "Plugin task from a third-party package."
    assert info.source.startswith("entry point")
    assert tasks.make_task("plugin_task", x=1) == ("plugin", {"x": 1})
    tasks.list_tasks()
    tasks.make_task("plugin_task")
    assert len(calls) == 1 and ep.loads == 1


def test_broken_or_clashing_entry_points_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        _FakeEntryPoint("broken", error=ImportError("boom")),
        _FakeEntryPoint("walker", make_toy),  # clashes with a built-in
        _FakeEntryPoint("not_callable", 42),
        _FakeEntryPoint("good", make_toy),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: eps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [i.name for i in tasks.list_tasks()]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert names == ["button_food", "good", "trajectory", "walker"]
    assert len(messages) == 3
    assert any("'broken'" in m and "boom" in m for m in messages)
    assert any("'walker'" in m and "already registered" in m for m in messages)
    assert any("'not_callable'" in m and "not a factory" in m for m in messages)
    assert tasks.task_info("walker").source == "builtin"
    assert tasks.make_task("good", n="3") == Toy(3, 1.0)


def test_entry_point_repeating_a_builtin_target_is_silent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ep = _FakeEntryPoint("walker", make_toy)
    ep.value = "goal_rl.tasks.walker:make"
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [ep])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tasks.task_info("walker").source == "builtin"
    assert ep.loads == 0


def test_register_after_entry_point_is_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [_FakeEntryPoint("plug", make_toy)])
    with pytest.raises(ValueError, match="'plug' is already registered \\(entry point"):
        tasks.register_task("plug", make_toy)


def test_entry_point_from_fake_distribution(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (if minimal) installed distribution found on sys.path by importlib.metadata."""
    monkeypatch.undo()  # the real entry_points, but keep a clean registry
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    (tmp_path / "toy_plugin_pkg.py").write_text(textwrap.dedent('''
        def make(**overrides):
            """Toy plugin task."""
            return {"toy": True, **overrides}
        make.kind = "open_loop"
    '''))
    dist = tmp_path / "toy_goal_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-goal-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[goal_rl.tasks]\ntoy_plugin = toy_plugin_pkg:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    info = tasks.task_info("toy_plugin")
    assert (info.kind, info.description) == ("open_loop", "Toy plugin task.")
    assert info.source == "entry point toy-goal-plugin"
    assert tasks.make_task("toy_plugin", a="1") == {"toy": True, "a": "1"}
    monkeypatch.delitem(sys.modules, "toy_plugin_pkg", raising=False)


# ------------------------------------------------------------------------------ overrides


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Config:
    n_rec: int = 300
    lr: float = 0.0025
    plot: bool = False
    name: str = "x"
    angles: tuple[float, ...] = (50.0, 70.0)
    shape: tuple[int, int] = (2, 3)
    ranks: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    tau_star: float | None = 5.0
    seed: int | None = None
    mode: Literal["spk", "out"] = "spk"
    colour: Colour = Colour.RED

    def __post_init__(self) -> None:
        if self.n_rec < 1:
            raise ValueError(f"n_rec must be >= 1, got {self.n_rec}")


def test_apply_overrides_parses_strings() -> None:
    base = Config()
    new = registry.apply_overrides(base, {
        "n_rec": "150", "lr": "1e-3", "plot": "yes", "name": "run",
        "angles": "30, 90,150", "shape": "(4,5)", "ranks": "[3]", "tau_star": "none",
        "seed": "7", "mode": "out", "colour": "blue",
    })
    assert new == Config(n_rec=150, lr=0.001, plot=True, name="run", angles=(30.0, 90.0, 150.0),
                         shape=(4, 5), ranks=[3], tau_star=None, seed=7, mode="out",
                         colour=Colour.BLUE)
    assert base == Config()  # unchanged
    assert isinstance(new.angles[0], float) and isinstance(new.shape[0], int)


def test_apply_overrides_typed_values_and_aliases() -> None:
    new = registry.apply_overrides(Config(), {
        "n-rec": 10, "lr": 1, "plot": False, "angles": [1, 2], "seed": None, "tau_star": "NULL",
    })
    assert (new.n_rec, new.lr, new.plot, new.angles, new.seed, new.tau_star) == (
        10, 1.0, False, (1.0, 2.0), None, None)
    assert registry.apply_overrides(Config(), {"n_rec": "1e4"}).n_rec == 10000
    assert registry.apply_overrides(Config(), {"angles": ""}).angles == ()
    for word, expected in [("TRUE", True), ("0", False), ("off", False), ("on", True)]:
        assert registry.apply_overrides(Config(), {"plot": word}).plot is expected


def test_apply_overrides_unknown_setting_message() -> None:
    with pytest.raises(ValueError) as err:
        registry.apply_overrides(Config(), {"n_recc": "3"}, task="button_food")
    msg = str(err.value)
    assert msg.startswith("unknown setting 'n_recc' for task 'button_food'")
    assert "did you mean 'n_rec'" in msg
    assert "valid: angles, colour, lr, mode, n_rec, name, plot, ranks, seed, shape, tau_star" in msg


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("n_rec", "abc", "bad value 'abc' for setting 'n_rec' (expected int)"),
        ("n_rec", "2.5", "bad value '2.5' for setting 'n_rec' (expected int)"),
        ("n_rec", True, "bad value 'True' for setting 'n_rec' (expected int)"),
        ("lr", "nan", "bad value 'nan' for setting 'lr' (expected float)"),
        ("plot", "maybe", "bad value 'maybe' for setting 'plot' (expected bool)"),
        ("angles", "1,x", "bad value '1,x' for setting 'angles' "
                          "(expected comma-separated list of float)"),
        ("shape", "1,2,3", "bad value '1,2,3' for setting 'shape' "
                           "(expected 2 comma-separated values (int, int))"),
        ("seed", "abc", "bad value 'abc' for setting 'seed' (expected int or none)"),
        ("n_rec", "none", "bad value 'none' for setting 'n_rec' (expected int)"),
        ("mode", "both", "bad value 'both' for setting 'mode' (expected one of 'spk', 'out')"),
        ("colour", "green", "bad value 'green' for setting 'colour' (expected one of RED, BLUE)"),
        ("name", 3, "bad value '3' for setting 'name' (expected str)"),
    ],
)
def test_apply_overrides_bad_values(key, value, message) -> None:
    with pytest.raises(ValueError) as err:
        registry.apply_overrides(Config(), {key: value})
    assert str(err.value) == message


def test_apply_overrides_runs_config_validation_and_needs_dataclass() -> None:
    with pytest.raises(ValueError, match="n_rec must be >= 1, got 0"):
        registry.apply_overrides(Config(), {"n_rec": "0"})
    with pytest.raises(TypeError, match="dataclass instance"):
        registry.apply_overrides(Config, {})
    with pytest.raises(TypeError, match="dataclass instance"):
        registry.apply_overrides({"n_rec": 1}, {})


def test_factory_rejects_bad_override_via_make_task() -> None:
    tasks.register_task("toy", make_toy)
    with pytest.raises(ValueError, match="unknown setting 'm' for task 'toy'; valid: n, scale"):
        tasks.make_task("toy", m=3)


def test_parse_key_values() -> None:
    assert tasks.parse_key_values(["n_rec=300", " lr = 0.1 ", "angles=1,2"]) == {
        "n_rec": "300", "lr": "0.1", "angles": "1,2"}
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        tasks.parse_key_values(["n_rec"])
    with pytest.raises(ValueError, match="given twice"):
        tasks.parse_key_values(["a=1", "a=2"])
