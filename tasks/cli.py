"""``python -m goal_rl``: list and train registered tasks.

Usage::

    python -m goal_rl list
    python -m goal_rl train TASK [--set KEY=VALUE ...] [--seed S] [--device D]
                                 [--out DIR] [--plot] [--no-progress]
    python -m goal_rl --plugin FILE.py train NAME ...     # a file that registers tasks
    python -m goal_rl --import my_pkg.tasks train NAME ...  # a module that registers tasks
    python -m goal_rl evaluate AGENT.pt [--episodes N] [--seed S] [--num-envs K] [--json]
    python -m goal_rl play AGENT.pt [--episodes N] [--seed S] [--video out.mp4|out.gif]

``evaluate`` and ``play`` need only the saved agent: a closed-loop task records its env and
test episodes in ``agent.pt`` (see :mod:`goal_rl.learning.saved`); ``--env ID`` names the
env of an older file that does not. A plugin env is registered with ``--plugin`` as usual.

``train`` builds the task with ``tasks.make_task(TASK, **settings)`` (``--seed`` and
``--device`` are the settings ``seed`` and ``device``), runs it, prints one summary line and,
with ``--out``, writes ``metrics.json`` there (atomically) next to whatever the task saves
(agent, plots). Closed-loop tasks report Stable-Baselines3's key names ``mean_reward``,
``std_reward``, ``n_eval_episodes`` plus their own keys. Input errors (unknown task, bad
setting, missing file) print one line on stderr and exit with code 2.

Task protocol
-------------
A registered factory ``factory(**settings)`` returns an object with

* ``kind``: ``"open_loop"`` or ``"closed_loop"``;
* ``config``: a dataclass instance holding every setting (the ``--set`` keys are its field
  names; build it with :func:`tasks.apply_overrides` so bad keys/values raise
  ``ValueError``); it should have ``seed`` and ``device`` fields for ``--seed``/``--device``;
* ``run(out_dir, *, progress=True, plot=False) -> dict``: do the work, save files into
  ``out_dir`` (a writable folder, or ``None``: save nothing), return JSON-able metrics
  (closed loop: at least ``mean_reward``, ``std_reward``, ``n_eval_episodes``);
* optionally ``summary(metrics) -> str``: the one-line summary printed by the CLI;
* optionally ``check()``: raise ``ValueError`` for bad input (data files, experts, sizes);
  the CLI calls it before it creates the output folder, so bad input writes nothing.

:class:`TaskProtocol` states this for type checkers;
:class:`goal_rl.learning.cloning.ExpertCloningTask` implements it for "clone this expert on
that Gymnasium env".
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from goal_rl.common.cli import CLIError, OneLineParser, resolve_device

__all__ = ["TaskProtocol", "build_parser", "load_plugin", "main"]

PROG = "python -m goal_rl"


@runtime_checkable
class TaskProtocol(Protocol):
    """What ``python -m goal_rl train`` needs from a task object (see the module docstring)."""

    kind: str
    config: Any

    def run(self, out_dir: Path | None = None, *, progress: bool = True,
            plot: bool = False) -> dict[str, Any]:
        """Train/evaluate; save into ``out_dir``; return JSON-able metrics."""
        ...


def build_parser() -> OneLineParser:
    """Argument parser of ``python -m goal_rl``."""
    p = OneLineParser(prog=PROG, description="Train GOAL spiking networks on registered tasks.")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                   help="run this Python file first (it registers tasks); repeatable")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import this module first (it registers tasks); repeatable")
    sub = p.add_subparsers(dest="command", metavar="{list,train,evaluate,play}")
    sub.required = True
    sub.add_parser("list", help="list the registered tasks")
    t = sub.add_parser("train", help="train a task",
                       description="Build TASK with the given settings, run it, print a "
                                   "summary and (with --out) write metrics.json.")
    t.add_argument("task", help="task name (see `list`)")
    t.add_argument("--set", dest="settings", nargs="+", action="extend", default=[],
                   metavar="KEY=VALUE", help="task settings, e.g. --set n_rec=300 rank=100")
    t.add_argument("--seed", type=int, default=None, help="setting 'seed'")
    t.add_argument("--device", default=None, help="setting 'device': cpu or cuda[:k]")
    t.add_argument("--out", default=None, help="folder for metrics.json and the task's files")
    t.add_argument("--plot", action="store_true", help="write the task's figures into --out "
                                                       "(default folder runs/TASK)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    _saved_parsers(sub)
    return p


def _saved_parsers(sub: Any) -> None:
    """The ``evaluate`` and ``play`` sub-commands."""
    e = sub.add_parser("evaluate", help="evaluate a saved agent on its task's test episodes",
                       description="Repeat the task's test evaluation from AGENT.pt alone.")
    p = sub.add_parser("play", help="play a saved agent (window, or --video FILE)",
                       description="Play test episodes of AGENT.pt; --video writes them.")
    for q in (e, p):
        q.add_argument("agent", help="an agent.pt written by `train`")
        q.add_argument("--episodes", type=int, default=None,
                       help="episodes (default: the recorded test count; play: 1)")
        q.add_argument("--seed", type=int, default=None,
                       help="seed of the first episode (default: the recorded one)")
        q.add_argument("--env", default=None, help="env id (for files that record none)")
        q.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    e.add_argument("--num-envs", type=int, default=None,
                   help="parallel envs (default: as recorded)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--batched", action="store_true",
                   help="one product per step for all envs (as the training run with "
                        "num_envs > 1: its figures to the digit) instead of the default "
                        "per-env products (the same returns whatever --num-envs)")
    p.add_argument("--video", default=None, metavar="FILE",
                   help="write the episodes to FILE (.mp4 or .gif; needs the video extra)")


def _where(exc: BaseException, file: str | None) -> str:
    """``" (line N)"`` of the deepest frame of ``exc``'s traceback that ran ``file``."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if file is None or tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return "" if line is None else f" (line {line})"


def _import_error(what: str, exc: BaseException, file: str | None) -> CLIError:
    """One line naming the plugin or module, the file and line, and what went wrong."""
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename or file}, line {exc.lineno}" if exc.lineno else \
            str(exc.filename or file)
        return CLIError(f"{what} has a syntax error ({where}): {exc.msg}")
    if isinstance(exc, UnicodeDecodeError):
        return CLIError(f"{what} is not UTF-8 text ({file}): {exc.reason}")
    return CLIError(f"{what} failed while loading ({file}{_where(exc, file)}): "
                    f"{type(exc).__name__}: {exc}")


def load_plugin(path: str) -> None:
    """Execute a Python file that registers tasks (``--plugin``); any error in it becomes
    one :class:`CLIError` naming the file and line."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"plugin file not found: {path!r}")
    name = f"goal_rl_plugin_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load plugin {path!r} (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - user code: report it in one line
        sys.modules.pop(name, None)
        raise _import_error(f"plugin {path!r}", exc, str(file.resolve()) if spec.origin is None
                            else spec.origin) from None


def import_module(name: str) -> None:
    """Import a module that registers tasks (``--import``); errors as in :func:`load_plugin`."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise CLIError(f"cannot import {name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - user code: report it in one line
        spec = importlib.util.find_spec(name) if "." not in name else None
        raise _import_error(f"module {name!r}", exc, getattr(spec, "origin", None)) from None


def _default_summary(name: str, metrics: dict[str, Any]) -> str:
    scalars = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
               for k, v in metrics.items()
               if isinstance(v, int | float) and not isinstance(v, bool)]
    return f"{name} | " + " | ".join(scalars[:8])


def _cmd_list() -> int:
    from goal_rl.tasks import list_tasks

    infos = list_tasks()
    width = max((len(i.name) for i in infos), default=4)
    for info in infos:
        print(f"{info.name:<{width}}  {info.kind:<11}  {info.description}")
    return 0


def _cmd_train(args: Any) -> int:
    """``train``: build the task, check it and the output folder, create the folder, run,
    then check the metrics can be written before writing them."""
    from goal_rl.common.io import (
        check_output_dir,
        check_output_files,
        json_default,
        json_safe,
        make_output_dir,
        write_json,
    )

    task = _build_task(args)
    out_dir = args.out
    if args.plot and out_dir is None:
        out_dir = f"runs/{args.task}"
    if out_dir is not None:
        out_dir = check_output_dir(out_dir)
        check_output_files(out_dir, ["metrics.json"])
    check = getattr(task, "check", None)
    if callable(check):
        check()  # the task's own inputs (data files, experts, sizes), before any writing
    created = out_dir is not None and not out_dir.exists()
    if out_dir is not None:
        make_output_dir(out_dir)
    try:
        metrics = task.run(out_dir, progress=not args.no_progress, plot=args.plot)
        if not isinstance(metrics, dict):
            raise CLIError(f"task {args.task!r} returned {type(metrics).__name__}, not a dict")
        payload = json_safe({"task": args.task, "kind": task.kind, **metrics})
        try:
            json.dumps(payload, default=json_default)
        except (TypeError, ValueError) as exc:
            raise CLIError(f"task {args.task!r} returned metrics that cannot be written as "
                           f"JSON: {exc}") from None
    except BaseException:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a run that failed before writing leaves no empty folder behind
        raise
    metrics = {k: v for k, v in payload.items() if k not in ("task", "kind")}
    summary = getattr(task, "summary", None)
    print(summary(metrics) if callable(summary) else _default_summary(args.task, metrics))
    if out_dir is not None:
        write_json(Path(out_dir) / "metrics.json", payload)
        print(f"results in {out_dir}/")
    return 0


def _build_task(args: Any) -> Any:
    """The task object named on the command line, with its settings (checked)."""
    from goal_rl.tasks import make_task, parse_key_values

    settings = parse_key_values(args.settings)
    if args.seed is not None:
        if args.seed < 0:
            raise CLIError(f"--seed must be >= 0, got {args.seed}")
        settings["seed"] = str(args.seed)
    if args.device is not None:
        settings["device"] = resolve_device(args.device)
    try:
        task = make_task(args.task, **settings)
    except ImportError as exc:  # a registered task whose module is not available
        raise CLIError(str(exc)) from None
    if not isinstance(task, TaskProtocol):
        raise CLIError(f"task {args.task!r} does not follow the task protocol (needs kind, "
                       "config and run(out_dir, progress=, plot=)); see `python -m goal_rl "
                       "--help`")
    return task


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m goal_rl`` (returns the exit code; errors raise)."""
    args = build_parser().parse_args(argv)
    for path in args.plugin:
        load_plugin(path)
    for mod in args.imports:
        import_module(mod)
    if args.command == "list":
        return _cmd_list()
    if args.command in ("evaluate", "play"):
        return _cmd_saved(args)
    return _cmd_train(args)


def _check_saved_args(args: Any) -> Any:
    """Check every argument of ``evaluate``/``play`` and load the agent (CLIError)."""
    from goal_rl.learning.agent import SpikingAgent

    for name in ("episodes", "num_envs"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.seed is not None and args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")
    video = getattr(args, "video", None)
    if video is not None:
        from goal_rl.common.io import check_output_dir, check_output_files
        from goal_rl.learning.saved import VIDEO_SUFFIXES

        path = Path(video)
        if path.suffix.lower() not in VIDEO_SUFFIXES or not path.stem:
            raise CLIError(f"--video {video!r}: the name must end in .mp4 or .gif")
        check_output_files(check_output_dir(path.parent if str(path.parent) else "."),
                           [path.name])
        if not path.parent.is_dir():
            raise CLIError(f"--video {video!r}: folder {str(path.parent)!r} does not exist")
        try:
            import moviepy  # noqa: F401
        except ImportError:
            raise CLIError("--video needs moviepy: pip install 'goal_rl[video]'") from None
    if not Path(args.agent).is_file():
        raise CLIError(f"agent file not found: {args.agent!r}")
    return SpikingAgent.load(args.agent, device=resolve_device(args.device))


def _cmd_saved(args: Any) -> int:
    """``evaluate`` / ``play`` a saved agent under its recorded protocol."""
    from goal_rl.common.io import json_default, json_safe
    from goal_rl.learning.saved import evaluate_saved, play_saved

    agent = _check_saved_args(args)
    if args.command == "evaluate":
        res = evaluate_saved(agent, episodes=args.episodes, seed=args.seed,
                             num_envs=args.num_envs, env_id=args.env,
                             exact=not args.batched)
    else:
        res = play_saved(agent, episodes=args.episodes or 1, seed=args.seed,
                         video=args.video, env_id=args.env)
    for note in res.get("inferred", []):
        print(f"note: {note}", file=sys.stderr)
    if args.command == "evaluate" and args.json:
        print(json.dumps(json_safe({k: v for k, v in res.items() if k != "frames"}),
                         default=json_default))
    elif args.command == "evaluate":
        proto = res["protocol"]
        print(f"{proto.get('task') or proto['env_id']}: mean return {res['mean_reward']:.2f} "
              f"± {res['std_reward']:.2f} over {res['n_eval_episodes']} episodes (seeds "
              f"{proto['seed']}-{proto['seed'] + res['n_eval_episodes'] - 1}, "
              f"{proto['num_envs']} env(s), {'exact' if proto['exact'] else 'batched'})")
    else:
        returns = ", ".join(f"{r:.2f}" for r in res["episode_returns"])
        where = f" | video {res['video']}" if res["video"] else ""
        print(f"played {len(res['episode_returns'])} episode(s) from seed {res['seed']}: "
              f"returns {returns}{where}")
    return 0
