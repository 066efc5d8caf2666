"""Registry of task definitions: names → factories that build task objects.

A *task* bundles what GOAL needs to learn one problem: inputs and targets (open-loop tasks
such as ``trajectory``) or an environment plus an expert (closed-loop tasks such as
``button_food`` and ``walker``). The registry only maps a name to a *factory*; it knows
nothing about what a task object looks like.

A factory is any callable that takes keyword overrides (``factory(**overrides)``) and
returns a task object. Factories should build their configuration with
:func:`apply_overrides`, so that misspelled or badly typed settings are rejected with a
``ValueError`` that names the setting.

Three ways to add a task
------------------------
1. In code::

       from goal_rl.tasks import register_task
       register_task("my_task", make_my_task, description="...", kind="open_loop")

2. Lazily, by import path (the module is imported only when the task is built)::

       register_task("my_task", "my_pkg.my_task:make", kind="closed_loop")

3. From another installed package, through the ``goal_rl.tasks`` entry-point group. Each
   entry point must load to a **factory**; it is registered under the entry point's name.
   Its ``kind`` and ``description`` are read from the factory's attributes ``kind`` and
   ``description`` when present (defaults: ``"closed_loop"`` and the first line of its
   docstring). In the plugin's ``pyproject.toml``::

       [project.entry-points."goal_rl.tasks"]
       my_task = "my_pkg.my_task:make"

   Entry points are discovered lazily, once, on the first lookup, listing or
   registration. A plugin that fails to load, or that reuses a name already taken, is
   skipped with a ``RuntimeWarning``; it never breaks the other tasks. (An entry point
   naming exactly the same ``module:function`` as an existing lazy registration, such as
   a built-in, is skipped silently.)

Importing this module (or the ``tasks`` package) imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import importlib
import importlib.metadata
import math
import re
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

__all__ = [
    "ENTRY_POINT_GROUP",
    "TaskInfo",
    "apply_overrides",
    "settings_factory",
    "list_tasks",
    "make_task",
    "parse_key_values",
    "register_task",
    "task_info",
    "unregister_task",
]

ENTRY_POINT_GROUP = "goal_rl.tasks"
"""Entry-point group scanned for third-party task factories."""

TaskKind = Literal["closed_loop", "open_loop"]
_KINDS: tuple[str, ...] = ("closed_loop", "open_loop")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")

Factory = Callable[..., Any]


@dataclass(frozen=True)
class TaskInfo:
    """Public description of a registered task.

    Attributes:
        name: registry name, e.g. ``"button_food"``.
        kind: ``"open_loop"`` (fixed inputs → target outputs) or ``"closed_loop"`` (the
            network acts in an environment).
        description: one-line human description.
        source: where the task came from: ``"builtin"``, ``"user"`` or
            ``"entry point <dist>"``.
    """

    name: str
    kind: str
    description: str
    source: str = "user"


@dataclass
class _Entry:
    info: TaskInfo
    factory: Factory | str  # a callable, or a lazy "module:attribute" reference
    ref: str | None = None  # the "module:attribute" it was registered with, if any


_TASKS: dict[str, _Entry] = {}
_ENTRY_POINTS_LOADED = False


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"bad task name {name!r}: use letters, digits, '_', '.' or '-', "
            "starting with a letter"
        )
    return name


def _check_kind(kind: object) -> str:
    if kind not in _KINDS:
        raise ValueError(f"bad task kind {kind!r}; expected one of: {', '.join(_KINDS)}")
    return typing.cast(str, kind)


def _check_factory(factory: object) -> Factory | str:
    if isinstance(factory, str):
        module, sep, attr = factory.partition(":")
        if not sep or not module or not attr:
            raise ValueError(
                f"bad factory reference {factory!r}; expected 'package.module:function'"
            )
        return factory
    if not callable(factory):
        raise TypeError(f"task factory must be callable or a 'module:function' string, "
                        f"got {type(factory).__name__}")
    return typing.cast(Factory, factory)


def _add(name: str, factory: Factory | str, kind: str, description: str, source: str,
         overwrite: bool) -> None:
    if name in _TASKS and not overwrite:
        raise ValueError(
            f"task {name!r} is already registered ({_TASKS[name].info.source}); "
            "pass overwrite=True to replace it"
        )
    _TASKS[name] = _Entry(TaskInfo(name, kind, description, source), factory)


def register_task(
    name: str,
    factory: Factory | str,
    *,
    description: str = "",
    kind: TaskKind = "closed_loop",
    overwrite: bool = False,
) -> None:
    """Register a task factory under ``name``.

    Args:
        name: registry name (letters, digits, ``_``, ``.``, ``-``; starts with a letter).
        factory: callable ``factory(**overrides) -> task``, or a ``"module:function"``
            string resolved (imported) only when the task is first built.
        description: one-line description shown by :func:`list_tasks`.
        kind: ``"closed_loop"`` or ``"open_loop"``.
        overwrite: replace an existing registration instead of raising.

    Raises:
        ValueError: the name is taken (and ``overwrite`` is false), or the name, kind or
            factory reference is malformed.
        TypeError: ``factory`` is neither callable nor a string.
    """
    _check_name(name)
    _check_kind(kind)
    factory = _check_factory(factory)
    _load_entry_points()
    _add(name, factory, kind, str(description), "user", overwrite)


def unregister_task(name: str) -> None:
    """Remove a registered task.

    Raises:
        ValueError: no task of that name (with a spelling suggestion).
    """
    _lookup(name)
    del _TASKS[name]


def _unknown(name: str) -> ValueError:
    known = sorted(_TASKS)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "(none)"
    return ValueError(f"unknown task {name!r}{hint}{'' if close else ';'} known: {listing}")


def _lookup(name: str) -> _Entry:
    _load_entry_points()
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        pass
    raise _unknown(name)


def task_info(name: str) -> TaskInfo:
    """Return the :class:`TaskInfo` of a registered task (ValueError if unknown)."""
    return _lookup(name).info


def list_tasks() -> list[TaskInfo]:
    """All registered tasks (built-in, user and entry-point ones), sorted by name.

    Listing does not import the modules of lazily registered tasks.
    """
    _load_entry_points()
    return [_TASKS[n].info for n in sorted(_TASKS)]


def _resolve(name: str, entry: _Entry) -> Factory:
    ref = entry.factory
    if not isinstance(ref, str):
        return ref
    module_name, _, attr_path = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(f"task {name!r}: cannot import {module_name!r} ({err})") from err
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError as err:
            raise ImportError(f"task {name!r}: {module_name!r} has no attribute "
                              f"{attr_path!r}") from err
    if not callable(obj):
        raise TypeError(f"task {name!r}: {ref!r} is not callable")
    entry.ref, entry.factory = ref, obj  # resolve once; remember where it came from
    return typing.cast(Factory, obj)


def make_task(name: str, **overrides: Any) -> Any:
    """Build the task registered as ``name``, passing ``overrides`` to its factory.

    Override values may be strings (as typed on a command line); factories parse them with
    :func:`apply_overrides`.

    Raises:
        ValueError: unknown task name (message suggests the closest known name), or an
            override the factory rejects.
        ImportError: a lazily registered task whose module cannot be imported.
    """
    entry = _lookup(name)
    return _resolve(name, entry)(**overrides)


# ---------------------------------------------------------------------------------------------
# entry points


def _first_doc_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _entry_points() -> Iterable[Any]:
    # Looked up through the module attribute at call time so tests can monkeypatch it.
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def _load_entry_points() -> None:
    """Discover ``goal_rl.tasks`` entry points, once. Broken ones are skipped with a warning."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True  # set first: a plugin may call register_task while loading
    try:
        eps = list(_entry_points())
    except Exception as err:  # a broken installation must not break the built-in tasks
        warnings.warn(f"could not scan entry points {ENTRY_POINT_GROUP!r}: {err}",
                      RuntimeWarning, stacklevel=3)
        return
    for ep in eps:
        dist = getattr(getattr(ep, "dist", None), "name", None)
        source = f"entry point {dist}" if dist else "entry point"
        where = f"entry point {ep.name!r} ({ep.value})"
        try:
            _check_name(ep.name)
            existing = _TASKS.get(ep.name)
            if existing is not None and getattr(ep, "value", None) in (existing.factory,
                                                                       existing.ref):
                continue  # e.g. a built-in also listed in pyproject.toml: same target, no clash
            if existing is not None:
                raise ValueError(f"name already registered ({_TASKS[ep.name].info.source})")
            factory = ep.load()
            if not callable(factory):
                raise TypeError(f"loads to a {type(factory).__name__}, not a factory")
            kind = _check_kind(getattr(factory, "kind", "closed_loop"))
            description = str(getattr(factory, "description", "") or _first_doc_line(factory))
            _add(ep.name, factory, kind, description, source, overwrite=False)
        except Exception as err:
            warnings.warn(f"skipping task {where}: {err}", RuntimeWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------
# built-in tasks (lazy: their modules are imported by make_task only)

_BUILTINS: tuple[tuple[str, str, str, str], ...] = (
    ("trajectory", "goal_rl.tasks.trajectory:make", "open_loop",
     "store and recall an N-D trajectory from clock inputs (paper Fig 2)"),
    ("button_food", "goal_rl.tasks.button_food:make", "closed_loop",
     "press the button, then reach the food; memory of the unlock (paper Fig 4)"),
    ("walker", "goal_rl.tasks.walker:make", "closed_loop",
     "BipedalWalker-v3 behavioural cloning from an expert (paper Fig 5)"),
)
for _name, _ref, _kind, _desc in _BUILTINS:
    _add(_name, _ref, _kind, _desc, "builtin", overwrite=False)
del _name, _ref, _kind, _desc


# ---------------------------------------------------------------------------------------------
# overrides

C = TypeVar("C")

_NONE_WORDS = frozenset({"none", "null"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f"})


class _BadValue(Exception):
    """Internal: a value does not fit the annotated type."""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        parts = [_type_name(a) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("none")
        return " or ".join(parts)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list) or tp in (tuple, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return f"comma-separated list of {_type_name(args[0])}"
        if origin is tuple and args:
            return f"{len(args)} comma-separated values ({', '.join(_type_name(a) for a in args)})"
        if args:
            return f"comma-separated list of {_type_name(args[0])}"
        return "comma-separated list"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(m.name for m in tp)
    if isinstance(tp, type):
        return tp.__name__
    return str(tp)


def _parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise _BadValue
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _BadValue
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            as_float = float(text)  # accept "1e4"
        except ValueError:
            raise _BadValue from None
        if math.isfinite(as_float) and as_float.is_integer():
            return int(as_float)
    raise _BadValue


def _parse_float(value: object) -> float:
    if isinstance(value, bool):
        raise _BadValue
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise _BadValue from None
    else:
        raise _BadValue
    if math.isnan(out):
        raise _BadValue
    return out


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _BadValue


def _split_sequence(value: object) -> list[object]:
    if isinstance(value, str):
        text = value.strip()
        if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
            text = text[1:-1].strip()
        if not text:
            return []
        return [part.strip() for part in text.split(",")]
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist"):  # numpy arrays, without importing numpy
        listed = value.tolist()
        if isinstance(listed, list):
            return listed
    raise _BadValue


def _parse(value: object, tp: Any) -> Any:
    """Convert ``value`` to annotation ``tp`` or raise ``_BadValue``."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        if type(None) in args and (
            value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS)
        ):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse(value, arg)
            except _BadValue:
                continue
        raise _BadValue
    if origin is Literal:
        for choice in args:
            if value == choice or (isinstance(value, str) and str(choice) == value.strip()):
                return choice
        raise _BadValue
    if tp is tuple or tp is list or origin in (tuple, list):
        items = _split_sequence(value)
        container = tuple if (tp is tuple or origin is tuple) else list
        if not args:
            return container(items)
        if container is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(items) != len(args):
                raise _BadValue
            return tuple(_parse(v, a) for v, a in zip(items, args))
        return container(_parse(v, args[0]) for v in items)
    if tp is bool:
        return _parse_bool(value)
    if tp is int:
        return _parse_int(value)
    if tp is float:
        return _parse_float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _BadValue
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str):
            key = value.strip()
            for member in tp:
                if key == member.name or key == str(member.value):
                    return member
        raise _BadValue
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    if isinstance(value, str):
        raise _BadValue  # no string parser for this annotation
    return value  # unparsed non-string for an exotic annotation: let the dataclass decide


def apply_overrides(config: C, overrides: Mapping[str, object], *, task: str | None = None) -> C:
    """Return a copy of dataclass instance ``config`` with ``overrides`` applied.

    Keys are field names; ``-`` is accepted for ``_`` (``n-rec`` → ``n_rec``). String values
    are parsed into the field's annotated type:

    * ``int``: ``"300"``, also ``"1e4"`` when integral; ``float``: ``"0.5"``, ``"inf"``
      (NaN is rejected); ``bool``: ``true/false``, ``yes/no``, ``on/off``, ``1/0``;
      ``str``: as is;
    * ``tuple[float, ...]``, ``list[int]``, ``tuple[int, int]``: ``"1,2,3"`` (optional
      surrounding ``()`` or ``[]``; ``""`` is the empty sequence);
    * ``X | None``: ``"none"`` or ``"null"`` (any case) → ``None``;
    * ``Literal[...]`` and ``Enum`` fields: one of the allowed values / member names.

    Non-string values are checked against the same types (``True`` is not an ``int``).
    The config's own ``__post_init__`` validation runs on the result.

    Args:
        config: a dataclass instance (typically a task's default configuration).
        overrides: mapping setting-name → value (string or already typed).
        task: task name used in error messages (defaults to the config's class name).

    Returns:
        A new instance of the same class; ``config`` is not modified.

    Raises:
        ValueError: ``"unknown setting 'x' for task 'y'; valid: a, b, c"`` or
            ``"bad value 'abc' for setting 'n_rec' (expected int)"``.
        TypeError: ``config`` is not a dataclass instance.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"apply_overrides needs a dataclass instance, got {type(config).__name__}")
    label = task if task is not None else type(config).__name__
    fields = {f.name: f for f in dataclasses.fields(config) if f.init}
    hints = typing.get_type_hints(type(config))
    changes: dict[str, Any] = {}
    for raw_key, value in overrides.items():
        key = str(raw_key).strip().replace("-", "_")
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown setting {raw_key!r} for task {label!r}{hint}; "
                f"valid: {', '.join(sorted(fields))}"
            )
        tp = hints.get(key, Any)
        try:
            changes[key] = _parse(value, tp)
        except _BadValue:
            shown = value if isinstance(value, str) else repr(value)
            raise ValueError(
                f"bad value '{shown}' for setting {key!r} (expected {_type_name(tp)})"
            ) from None
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def parse_key_values(items: Sequence[str]) -> dict[str, str]:
    """Turn command-line items ``["n_rec=300", "seed=1"]`` into ``{"n_rec": "300", ...}``.

    Raises:
        ValueError: an item without ``=`` or with an empty key, or a key given twice.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"bad setting {item!r}; expected KEY=VALUE")
        if key in out:
            raise ValueError(f"setting {key!r} given twice")
        out[key] = value.strip()
    return out


def settings_factory(task_cls: Callable[[Any], Any], config_cls: Callable[[], Any], name: str,
                     *, kind: str, description: str) -> Factory:
    """The usual factory: ``make(**overrides)`` builds ``task_cls(config)`` from the
    defaults of ``config_cls`` (a dataclass) with the ``--set`` overrides applied by
    :func:`apply_overrides`; ``kind`` and ``description`` are attached for the registry and
    for entry points. A plugin can use it too::

        make = settings_factory(MyTask, MyConfig, "my_task", kind="closed_loop",
                                description="what it learns")
    """
    _check_kind(kind)

    def make(**overrides: Any) -> Any:
        return task_cls(apply_overrides(config_cls(), overrides, task=name))

    make.__doc__ = f"The {name!r} task with ``overrides`` (strings as typed after ``--set``)."
    make.__name__ = make.__qualname__ = "make"
    make.kind = kind  # type: ignore[attr-defined]
    make.description = description  # type: ignore[attr-defined]
    return make
