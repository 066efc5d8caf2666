"""Command lines of the walker task.

* ``python -m goal_rl.walker_expert`` (:func:`expert_main`): evaluate or train the expert.

User errors end as one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from goal_rl.common.cli import CLIError, OneLineParser, positive_int, run_main

__all__ = ["EXPERT_PROG", "build_expert_parser", "expert_main"]

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
