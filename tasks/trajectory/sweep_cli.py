"""``python -m goal_rl.sweep``: the command line of the batched (R, τ⋆, seed) sweep.

It parses, checks every input (grid, settings, the backend: ``--processes N`` or ``--ray
[ADDRESS]``, output folder) before anything is written, calls
:func:`goal_rl.tasks.trajectory.sweep.run_sweep`, and prints the map of final MSEs. With a
backend the batches are work units on local processes or Ray workers; the command stays
the only writer of the output folder (see docs/scale_out.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from goal_rl.common.cli import (
    CLIError,
    OneLineParser,
    nonneg_int,
    parse_rank,
    positive_float,
    positive_int,
)
from goal_rl.config import GoalConfig
from goal_rl.parallel import add_backend_args, backend_from_args
from goal_rl.tasks.trajectory.sweep import (
    DEFAULT_CHUNK,
    PAPER_RANKS,
    PAPER_TAU_STARS,
    check_grid,
    format_map,
    run_sweep,
)

__all__ = ["build_parser", "config_from_args", "main", "rank_arg"]

def rank_arg(text: str) -> int | None:
    """argparse type: an integer rank or ``ltts`` (``None``); see
    :func:`goal_rl.config.parse_rank`."""
    try:
        return parse_rank(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: trajectory flags that make no sense for a sweep (per-point or single-run only)
_DROPPED = ("preset", "savepath", "backend", "plot", "rank", "tau_star", "seed", "out",
            "epochs")


def build_parser() -> OneLineParser:
    """The trajectory command line (shared settings) plus the grid and sweep options."""
    from goal_rl.tasks.trajectory.benchmark import build_parser as trajectory_parser

    p = trajectory_parser()
    p.prog = "python -m goal_rl.sweep"
    p.description = ("Train a grid of (rank R, target timescale tau*, seed) networks on the "
                     "N-D trajectory task as batches of independent networks.")
    for action in list(p._actions):
        if action.dest in _DROPPED:
            p._remove_action(action)
            for opt in action.option_strings:
                p._option_string_actions.pop(opt, None)
            for group in p._action_groups:
                if action in group._group_actions:
                    group._group_actions.remove(action)
        elif action.dest == "n_rec":
            action.required = False
            action.default = GoalConfig.n_rec
            action.help = "number of recurrent units (default %(default)s)"
    d = GoalConfig()
    p.add_argument("--ranks", "-R", "-rank", dest="ranks", type=rank_arg, nargs="+",
                   default=list(PAPER_RANKS),
                   help="feedback ranks in [O, N] and/or 'ltts' (default: the paper's "
                        "3 19 35 52 68 84 101 117 133 150 ltts)")
    p.add_argument("--tau-star", "--tau-stars", dest="tau_stars", type=positive_float,
                   nargs="+", default=list(PAPER_TAU_STARS),
                   help="target timescales tau* in dt (default: 1 2 3 5 8 13 22 36 60 100)")
    p.add_argument("--seeds", "--seed", dest="seeds", type=nonneg_int, nargs="+", default=[0],
                   help="seeds; each point equals the single run with that --seed (default 0)")
    p.add_argument("-E", "-epochs", "--epochs", dest="epochs", type=nonneg_int, nargs=2,
                   default=(d.epochs_out, d.epochs_rec), metavar=("READOUT", "RECURRENT"),
                   help="readout and recurrent epochs (default %(default)s)")
    p.add_argument("--chunk", type=positive_int, default=None,
                   help=f"at most this many networks per batch (default {DEFAULT_CHUNK}; "
                        "with --processes/--ray the grid split into at least one batch per "
                        "worker; when resuming, the size the sweep was started with)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads per batch (default: torch's default; with "
                        "--processes the cores shared out among the workers)")
    p.add_argument("--out", default="runs/sweep",
                   help="output folder (default %(default)s)")
    p.add_argument("--fixed-tau-o", action="store_true",
                   help="vary tau* alone with the readout filter fixed at -To (and the "
                        "learning rate 5/sqrt(N) unless -Rlr is given); default: the paper's "
                        "protocol, tau_o = tau* at every point with -Rlr 0.05 unless given")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out, skipping finished points")
    p.add_argument("--repair", action="store_true",
                   help="resume even if results.jsonl has damaged lines: drop them (the file "
                        "is kept as results.jsonl.bak) and train their points again")
    p.add_argument("--no-figures", action="store_true", help="write tables only")
    add_backend_args(p, what="batch")
    return p


def config_from_args(args: argparse.Namespace) -> GoalConfig:
    """Shared settings from the parsed command line (rank, τ⋆ and seed are per point)."""
    from goal_rl.tasks.trajectory.benchmark import config_from_args

    ns = argparse.Namespace(**vars(args))
    ns.rank, ns.preset, ns.tau_star, ns.seed, ns.backend = None, None, None, 0, "torch"
    feedback = ns.feedback
    ns.feedback = "spk"  # the trajectory CLI would fall back to spk without a rank
    wanted = "cuda" if ns.gpu else ns.device
    remote_cuda = getattr(ns, "ray", None) is not None and wanted.startswith("cuda")
    if remote_cuda:  # the GPUs are the Ray workers', not necessarily this machine's
        ns.gpu, ns.device = False, "cpu"
    cfg = config_from_args(ns)
    return cfg.replace(feedback=feedback, device=wanted if remote_cuda else cfg.device
                       ).validate()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m goal_rl.sweep``; every input is checked (grid, settings,
    memory, output folder) before anything is written."""
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    if args.verbose:
        from goal_rl.tasks.trajectory.benchmark import recap

        print(recap(cfg))
    try:
        ranks, taus, seeds = check_grid(args.ranks, args.tau_stars, args.seeds, cfg)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    n = len(ranks) * len(taus) * len(seeds)
    t0 = time.perf_counter()
    backend = backend_from_args(args, threads=args.threads,
                                default_gpus=1.0 if cfg.device.startswith("cuda") else 0.0)
    try:
        rows = run_sweep(ranks, taus, seeds, cfg, chunk=args.chunk, device=cfg.device,
                         out=args.out, resume=args.resume, repair=args.repair,
                         progress=not args.no_progress, threads=args.threads,
                         figures=not args.no_figures,
                         backend=None if backend.name == "inline" else backend,
                         protocol="fixed_tau_o" if args.fixed_tau_o else "paper")
    finally:
        backend.close()
    wall = time.perf_counter() - t0
    protocol = (f"tau_o fixed at {cfg.tau_o:g}" if args.fixed_tau_o
                else "paper protocol (tau_o = tau*)")
    print(f"{n} points ({len(ranks)} ranks × {len(taus)} tau* × {len(seeds)} seeds), "
          f"{cfg.epochs_rec} recurrent epochs, {protocol}, learning rate "
          f"{rows[0].get('rec_lr', cfg.eta):.4g}, on {backend.describe()}: wall time "
          f"{wall:.1f} s")
    print("final MSE (mean over seeds):")
    print(format_map(rows, "final_mse"))
    print(f"results in {args.out}/")
    sys.stdout.flush()
    return 0
