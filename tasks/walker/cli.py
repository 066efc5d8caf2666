"""Command lines of the walker task, and the whole run they start.

* ``python -m goal_rl.walker`` (:func:`main`): clone an expert into a spiking agent
  (``--expert``, the default), clone from a demonstrations file (``--demos``), test a saved
  agent (``--play``) or hand over to the expert's training (``--train-expert``); with
  ``--seeds 0-5`` (and ``--processes N`` or ``--ray [ADDRESS]``) a table over training
  seeds (:mod:`goal_rl.tasks.walker.seeds`);
* :func:`run_walker`: that run as a function — train, test the agent and the expert on the
  same seeded episodes, print the table, save ``agent.pt``, ``metrics.json`` and the plots
  (the registry task ``walker`` calls it too);
* ``python -m goal_rl.walker_expert`` (:func:`expert_main`): evaluate or train the expert.

User errors end as one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.cli import (
    CLIError,
    OneLineParser,
    nonneg_float,
    nonneg_int,
    parse_rank,
    positive_float,
    positive_int,
    resolve_device,
    run_main,
)
from goal_rl.parallel import add_backend_args, backend_from_args
from goal_rl.tasks.walker.pipeline import (
    ACT_DIM,
    OBS_DIM,
    TASK,
    WalkerConfig,
    WalkerResult,
    agent_trace,
    evaluate_expert_cached,
    evaluate_walker,
    load_walker_demos,
    make_expert,
    train_walker,
)

__all__ = ["EXPERT_PROG", "PROG", "build_expert_parser", "build_parser", "config_from_args",
           "expert_main", "main", "print_table", "run_walker", "walker_metrics"]

PROG = "python -m goal_rl.walker"
EXPERT_PROG = "python -m goal_rl.walker_expert"


# ------------------------------------------------------------------------------ expert
def build_expert_parser(prog: str = EXPERT_PROG) -> argparse.ArgumentParser:
    """Argument parser of ``python -m goal_rl.walker_expert``."""
    from goal_rl.tasks.walker.expert import DEFAULT_EXPERT_PATH
    from goal_rl.tasks.walker.expert_training import DEFAULT_CHECKPOINT_DIR

    p = OneLineParser(prog=prog, description="Train or evaluate the BipedalWalker-v3 expert.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train with the A2C recipe")
    mode.add_argument("--evaluate", nargs="?", const="a2c", metavar="NAME|PATH",
                      help="evaluate 'a2c' (default), 'heuristic' or a .pt file")
    p.add_argument("--steps", type=positive_int, default=3_500_000, help="training steps")
    p.add_argument("--out", default=str(DEFAULT_EXPERT_PATH), help="exported expert file")
    p.add_argument("--checkpoint-dir", default=str(DEFAULT_CHECKPOINT_DIR))
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    p.add_argument("--episodes", type=positive_int, default=50, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=None,
                   help="training seed (default 0) or first evaluation seed (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    return p


def _train_expert(args: argparse.Namespace) -> int:
    from goal_rl.tasks.walker.expert_training import train_expert

    summary = train_expert(out_path=args.out, total_steps=args.steps,
                           seed=0 if args.seed is None else args.seed,
                           checkpoint_dir=args.checkpoint_dir, resume=not args.no_resume,
                           progress=not args.no_progress)
    fin = summary["evaluation"]["final"]
    print(f"wrote {summary['out_path']}: best at {summary['training']['steps']:,d} steps, "
          f"{fin['mean_reward']:.1f} +- {fin['std_reward']:.1f} over "
          f"{fin['n_eval_episodes']} episodes, reached end {fin['success_rate']:.0%}")
    return 0


def _evaluate_expert(args: argparse.Namespace) -> int:
    from goal_rl.tasks.walker.expert import evaluate_expert, load_expert

    seed = 1000 if args.seed is None else args.seed
    expert = load_expert(args.evaluate)
    t0 = time.perf_counter()
    res = evaluate_expert(expert, n_episodes=args.episodes, seed=seed)
    if args.json:
        print(json.dumps({"expert": args.evaluate, **res}))
    else:
        print(f"{args.evaluate}: {res['mean_reward']:.1f} +- {res['std_reward']:.1f} over "
              f"{res['n_eval_episodes']} episodes (seeds {seed}..{seed + args.episodes - 1}), "
              f"reached end {res['success_rate']:.0%}, mean length {res['mean_length']:.0f}, "
              f"{time.perf_counter() - t0:.1f} s")
    return 0


def expert_main(argv: Sequence[str] | None = None, prog: str = EXPERT_PROG) -> int:
    """Entry point of ``python -m goal_rl.walker_expert``: ``--evaluate [NAME|PATH]`` or
    ``--train``. Returns the exit code: 0, 2 for a user error or a missing
    Stable-Baselines3 (one line on stderr), 130 when interrupted."""

    def run(args_in: Sequence[str] | None) -> int:
        args = build_expert_parser(prog).parse_args(args_in)
        try:
            return _train_expert(args) if args.train else _evaluate_expert(args)
        except ImportError as exc:  # the expert extra is missing
            raise CLIError(str(exc)) from None

    return run_main(run, argv, prog)


# ------------------------------------------------------------------------------ walker
def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m goal_rl.walker`` (defaults from :class:`WalkerConfig`)."""
    d = WalkerConfig()
    p = OneLineParser(prog=PROG, description="BipedalWalker-v3: clone an expert into a "
                      "spiking agent with GOAL and DAgger (see docs/walker.md).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--expert", nargs="?", const=d.expert, default=None, metavar="NAME|PATH",
                      help="expert to clone: a2c (shipped, default), heuristic, or a .pt file")
    mode.add_argument("--demos", metavar="PATH",
                      help="clone from a .npz/.csv file of states (T,24), actions (T,4); "
                           "no DAgger")
    mode.add_argument("--play", metavar="PATH", help="reload a saved agent and test it")
    mode.add_argument("--train-expert", action="store_true",
                      help="train a new expert (hands the remaining arguments to "
                           "python -m goal_rl.walker_expert --train)")
    p.add_argument("--out", default="runs/walker", help="output folder (default runs/walker)")
    p.add_argument("--n-rec", type=positive_int, default=d.n_rec, help="N recurrent units")
    p.add_argument("--rank", default="N",
                   help="feedback rank R: 1..N, 'N' (= --n-rec, default), 'ltts', or 0 = "
                        "readout only (no GOAL)")
    p.add_argument("--tau-star", type=positive_float, default=d.tau_star, help="τ⋆ in steps")
    p.add_argument("--epochs", type=nonneg_int, default=d.epochs_rec,
                   help="recurrent GOAL epochs per round")
    p.add_argument("--inp-lr", type=nonneg_float, default=d.inp_lr,
                   help=f"learning rate of the input weights W_in (0: fixed; default {d.inp_lr})")
    p.add_argument("--censored-iters", type=nonneg_int, default=d.censored_iters,
                   help="iterations of the bound-aware readout refit (0: plain ridge)")
    p.add_argument("--demo-episodes", type=positive_int, default=d.demo_episodes)
    p.add_argument("--demo-steps", type=positive_int, default=None,
                   help="cap on steps per expert episode (paper: one episode of 400)")
    p.add_argument("--rounds", type=nonneg_int, default=d.dagger_rounds, help="DAgger rounds")
    p.add_argument("--episodes-per-round", type=positive_int, default=d.episodes_per_round)
    p.add_argument("--select-episodes", type=positive_int, default=d.select_episodes,
                   help="episodes (seeds 2000+) that pick the best DAgger round")
    p.add_argument("--eval-episodes", type=positive_int, default=d.eval_episodes)
    p.add_argument("--eval-seed", type=nonneg_int, default=d.eval_seed)
    p.add_argument("--seed", type=nonneg_int, default=d.seed)
    p.add_argument("--seeds", default=None, metavar="SEEDS",
                   help="a table over training seeds instead of one run, e.g. 0-5 or 0,2,4: "
                        "each seed is trained and tested as one unit (see --processes, "
                        "--ray), pooled as mean ± SEM; replaces --seed")
    p.add_argument("--device", default=d.device, help="cpu or cuda[:k]")
    p.add_argument("--num-envs", type=positive_int, default=d.num_envs,
                   help="vector envs for evaluation (K episodes at once)")
    p.add_argument("--render", action="store_true",
                   help="with --play: save a GIF of the first episode (needs imageio)")
    p.add_argument("--no-hints", action="store_true",
                   help="do not add the MLP expert's hidden-layer outputs to GOAL's teacher "
                        "drive (hints are used only in training, never as agent inputs)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_backend_args(p, what="seed run")
    return p


def _row(name: str, m: dict[str, Any]) -> str:
    return (f"{name:<16} {m['mean_reward']:8.1f} ± {m['std_reward']:6.1f}   "
            f"{100 * m['success_rate']:5.0f}%   {m['mean_length']:7.0f}")


def print_table(expert: dict[str, Any] | None, agent: dict[str, Any], n: int) -> None:
    """Expert vs agent: mean ± std return, share reaching the end, mean length."""
    print(f"\n{'':<16} {'return (' + str(n) + ' episodes)':>17}   {'end':>6}   {'length':>7}")
    if expert is not None:
        print(_row("expert", expert))
    print(_row("spiking agent", agent))


def walker_metrics(cfg: WalkerConfig, test: dict[str, Any], expert: dict[str, Any] | None,
                   result: WalkerResult | None) -> dict[str, Any]:
    """The ``metrics.json`` dict of a run: the agent's test (``test``), the expert's on the
    same episodes (``expert``, or ``None``), the settings and the training history."""
    out: dict[str, Any] = {
        "task": TASK,
        "mean_reward": test["mean_reward"], "std_reward": test["std_reward"],
        "n_eval_episodes": test["n_eval_episodes"], "success_rate": test["success_rate"],
        "mean_length": test["mean_length"], "eval_seed": cfg.eval_seed,
        "episode_returns": test["episode_returns"], "episode_lengths": test["episode_lengths"],
        "expert_mean_reward": None if expert is None else expert["mean_reward"],
        "expert_std_reward": None if expert is None else expert["std_reward"],
        "expert_success_rate": None if expert is None else expert["success_rate"],
        "expert_mean_length": None if expert is None else expert["mean_length"],
        "config": cfg.to_dict(),
        "agent_steps_per_s": test.get("steps_per_s"),
    }
    if result is not None:
        out.update({"best_round": result.best_round, "history": result.history,
                    "train_time_s": result.wall_time_s})
    return out


def _save_gif(frames: list[np.ndarray], path: Path) -> str:
    try:
        import imageio.v2 as imageio
    except ImportError:
        return ("--render: no video written; install the video extra "
                "(pip install 'goal_rl[video]', i.e. imageio) to save a GIF")
    from goal_rl.common.io import atomic_write

    atomic_write(path, lambda fh: imageio.mimwrite(fh, frames[::2], format="GIF", duration=0.04))
    return f"video: {path}"


def _play(args: argparse.Namespace, device: str) -> int:
    from goal_rl.common.io import (
        check_output_dir,
        check_output_files,
        make_output_dir,
        write_json,
    )
    from goal_rl.learning.agent import SpikingAgent

    agent = SpikingAgent.load(args.play, device=device)
    task = agent.meta.get("task")
    if task != TASK or agent.n_inp != OBS_DIM or agent.n_out != ACT_DIM:
        raise ValueError(f"{args.play} is an agent for task {task!r} "
                         f"({agent.n_inp} inputs, {agent.n_out} actions), not for {TASK!r}")
    out = None
    if args.render:
        out = check_output_dir(args.out)
        check_output_files(out, ["walker_play.gif", "play_metrics.json"])
        out = make_output_dir(out)
    test = evaluate_walker(agent, args.eval_episodes, args.eval_seed,
                           num_envs=1 if args.render else args.num_envs, render=args.render)
    frames = test.pop("frames", None)
    print_table(None, test, test["n_eval_episodes"])
    if args.render and out is not None:
        print(_save_gif(frames, out / "walker_play.gif") if frames else
              "--render: the env returned no frames")
        write_json(out / "play_metrics.json", {k: v for k, v in test.items()})
    return 0


def run_walker(cfg: WalkerConfig, out: str | os.PathLike | None = None, *,
               progress: bool = True, plot: bool = True, demos: Any = None,
               log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """The whole apprenticeship run: train (:func:`train_walker`), test the agent and the
    expert on the same ``cfg.eval_episodes`` seeded episodes, save ``agent.pt``,
    ``metrics.json`` and the plots in ``out`` (if given). Returns the metrics dict
    (``mean_reward``, ``std_reward``, ``n_eval_episodes``, ``success_rate``,
    ``expert_mean_reward``, ``expert_success_rate``, ``history`` …)."""
    from goal_rl.common.io import (
        check_output_dir,
        check_output_files,
        make_output_dir,
        write_json,
    )
    from goal_rl.tasks.walker.plots import PLOT_FILES

    say = log or (lambda msg: None)
    cfg.validate()
    expert_fn = None
    if cfg.demos is not None:
        if demos is None:
            demos = load_walker_demos(cfg.demos)  # fail before any output
        if cfg.dagger_rounds:
            print(f"note: DAgger is unavailable with --demos (no expert to label new "
                  f"states); {cfg.dagger_rounds} round(s) skipped", file=sys.stderr)
        cfg = cfg.replace(dagger_rounds=0)
    else:
        expert_fn = make_expert(cfg.expert)  # unknown name / bad file: fail early
    folder = None
    if out is not None:  # checked now, created now: before the minutes of training
        folder = check_output_dir(out)
        check_output_files(folder, ["agent.pt", "metrics.json", *PLOT_FILES])
        folder = make_output_dir(folder)
    t0 = time.perf_counter()
    result = train_walker(cfg, demos, progress=progress, log=say)
    expert = None
    if cfg.demos is None:
        expert = evaluate_expert_cached(cfg.expert, cfg.eval_episodes, cfg.eval_seed)
    test = evaluate_walker(result.agent, cfg.eval_episodes, cfg.eval_seed,
                           num_envs=cfg.num_envs)
    metrics = walker_metrics(cfg, test, expert, result)
    metrics["total_time_s"] = time.perf_counter() - t0
    if log is not None:
        print_table(expert, test, cfg.eval_episodes)
        if expert is not None:
            say(f"agent / expert return: {test['mean_reward'] / expert['mean_reward']:.3f}")
    if folder is not None:
        result.agent.save(folder / "agent.pt")
        write_json(folder / "metrics.json", metrics)
        if plot:
            from goal_rl.tasks.walker.plots import save_walker_plots

            trace = agent_trace(result.agent, expert_fn, cfg.eval_seed)
            for path in save_walker_plots(folder, result.history, trace, expert):
                say(f"plot: {path}")
        say(f"saved {folder / 'agent.pt'} and {folder / 'metrics.json'} "
            f"(total {metrics['total_time_s']:.0f} s)")
    return metrics


def config_from_args(args: argparse.Namespace, device: str) -> WalkerConfig:
    """The validated :class:`WalkerConfig` of a parsed command line."""
    return WalkerConfig(expert=args.expert or "a2c", demos=args.demos, n_rec=args.n_rec,
                       rank=parse_rank(args.rank, args.n_rec, "--rank"), tau_star=args.tau_star,
                       epochs_rec=args.epochs, inp_lr=args.inp_lr,
                       censored_iters=args.censored_iters,
                       demo_episodes=args.demo_episodes,
                       demo_max_steps=args.demo_steps, dagger_rounds=args.rounds,
                       episodes_per_round=args.episodes_per_round,
                       select_episodes=args.select_episodes,
                       eval_episodes=args.eval_episodes, eval_seed=args.eval_seed,
                       seed=args.seed, device=device, num_envs=args.num_envs,
                       hints=not args.no_hints).validate()


def _train(args: argparse.Namespace, device: str) -> int:
    cfg = config_from_args(args, device)
    run_walker(cfg, args.out, progress=not args.no_progress, plot=not args.no_plots,
               log=lambda m: print(m, flush=True))
    return 0


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--train-expert" in argv:
        rest = [a for a in argv if a != "--train-expert"]
        return expert_main(["--train", *rest], prog=f"{PROG} --train-expert")
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    parallel = args.processes is not None or args.ray is not None
    if args.seeds is not None:
        if args.play:
            raise CLIError("--seeds trains a table of runs; it cannot go with --play")
        return _seed_table(args, device)
    if parallel or args.cpus_per_unit is not None or args.gpus_per_unit is not None:
        raise CLIError("--processes, --ray and the unit options need --seeds (one unit per "
                       "training seed)")
    if args.play:
        return _play(args, device)
    return _train(args, device)


def _seed_table(args: argparse.Namespace, device: str) -> int:
    """``--seeds``: every input checked (seeds, settings, output folder, backend) before the
    first unit runs; the table printed and written to ``OUT/table.json``."""
    from goal_rl.tasks.walker.seeds import parse_seeds, print_seed_table, run_seed_table

    seeds = parse_seeds(args.seeds)
    cfg = config_from_args(args, device)
    backend = backend_from_args(args)
    try:
        table = run_seed_table(cfg, seeds, backend=backend, out=args.out,
                               progress=not args.no_progress)
    finally:
        backend.close()
    print_seed_table(table)
    print(f"table: {Path(args.out) / 'table.json'}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m goal_rl.walker``; user errors → one line on stderr, exit
    code 2."""
    return run_main(_main, argv, PROG)
