"""Results table for BipedalWalker-v3 cloning (docs/results/walker.md).

Every row is tested on the same seeded episodes (seeds ``eval_seed + i``, default
1000–1049) and averaged over training seeds. Rows: the expert; the paper-like setting
(one 400-step demonstration, no DAgger); readout only (W_rec = 0, W_in fixed, no GOAL)
with DAgger, at the default input scale and at its own best one; GOAL-trained recurrent
and input weights with DAgger at several (R, τ⋆) points; GOAL with W_in fixed (the
previous default). Run under the
shared lock::

    flock /tmp/goal_rl_heavy.lock .venv/bin/python benchmarks/walker_results.py \
        --seeds 0 1 2 --episodes 50 --out runs/walker_results.json

Every (row, seed) run is one work unit (:mod:`goal_rl.parallel`): add ``--processes 2`` to
use both cores of a 2-core machine, or ``--ray [ADDRESS]`` for a Ray cluster; rows are
printed as their last seed finishes. Every run uses one thread (``--cpus-per-unit`` for
more), whatever the backend, so the table does not depend on it. Result files of earlier
runs are pooled per row with ``--pool runs/a.json runs/b.json``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from goal_rl.common.io import write_json
from goal_rl.tasks.walker.pipeline import WalkerConfig, evaluate_expert_cached


def rows(n_rec: int) -> list[tuple[str, dict[str, Any]]]:
    """(label, WalkerConfig overrides) of every table row after the expert."""
    return [
        ("paper-like: 1 demo of 400 steps, R=4, τ⋆=1, no DAgger",
         {"rank": 4, "tau_star": 1.0, "demo_episodes": 1, "demo_max_steps": 400,
          "dagger_rounds": 0}),
        ("readout only (W_rec=0, W_in fixed), DAgger", {"rank": 0}),
        ("readout only, σ_in=15 (its best input scale), DAgger", {"rank": 0, "sigma_inp": 15.0}),
        ("GOAL R=4, τ⋆=1, DAgger", {"rank": 4, "tau_star": 1.0}),
        ("GOAL R=4, τ⋆=10, DAgger", {"rank": 4, "tau_star": 10.0}),
        (f"GOAL R={n_rec}, τ⋆=1, DAgger", {"rank": n_rec, "tau_star": 1.0}),
        (f"GOAL R={n_rec}, τ⋆=10, DAgger", {"rank": n_rec, "tau_star": 10.0}),
        (f"GOAL R={n_rec}, τ⋆=1, W_in fixed (inp_lr=0, σ_in=15), DAgger",
         {"rank": n_rec, "tau_star": 1.0, "inp_lr": 0.0, "sigma_inp": 15.0}),
    ]


def _fmt(label: str, r: dict[str, Any]) -> str:
    return (f"| {label} | {r['mean_reward']:.1f} ± {r['std_reward']:.1f} | "
            f"{100 * r['success_rate']:.0f}% | {r['mean_length']:.0f} | {r.get('seeds', '-')} |")


def pool(paths: list[str]) -> None:
    """Print the table of several result files, pooling each row's test episodes."""
    merged: dict[str, dict[str, Any]] = {}
    for path in paths:
        with open(path) as f:
            for row in json.load(f)["rows"]:
                if "episode_returns" not in row:  # the expert row
                    merged.setdefault(row["label"], row)
                    continue
                m = merged.setdefault(row["label"], {"label": row["label"], "per_seed": [],
                                                     "episode_returns": [],
                                                     "episode_lengths": [],
                                                     "episode_success": [], "times": []})
                m["per_seed"] += row["per_seed"]
                m["times"] += [s["time_s"] for s in row["per_seed"]]
                for k in ("episode_returns", "episode_lengths", "episode_success"):
                    m[k] += row[k]
    for label, m in merged.items():
        if "episode_returns" in m:
            m.update(mean_reward=float(np.mean(m["episode_returns"])),
                     std_reward=float(np.std(m["episode_returns"])),
                     success_rate=float(np.mean(m["episode_success"])),
                     mean_length=float(np.mean(m["episode_lengths"])),
                     seeds=len(m["per_seed"]))
            extra = (" per seed " + " / ".join(f"{s['mean_reward']:.1f}" for s in m["per_seed"])
                     + f", {min(m['times']):.0f}–{max(m['times']):.0f} s/run")
        else:
            extra = ""
        print(_fmt(label, m) + extra)


def _row(label: str, over: dict[str, Any], per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row from its seeds' metrics (``run_seed``'s), test episodes pooled."""
    returns = [r for m in per_seed for r in m["episode_returns"]]
    lengths = [n for m in per_seed for n in m["episode_lengths"]]
    succ = [x for m in per_seed for x in m["episode_success"]]
    seeds = [{"seed": m["config"]["seed"], "mean_reward": m["mean_reward"],
              "success_rate": m["success_rate"], "best_round": m["best_round"],
              "time_s": m["total_time_s"]} for m in per_seed]
    return {"label": label, "overrides": over, "mean_reward": float(np.mean(returns)),
            "std_reward": float(np.std(returns)), "success_rate": float(np.mean(succ)),
            "mean_length": float(np.mean(lengths)), "per_seed": seeds,
            "seeds": len(per_seed), "mean_time_s": float(np.mean([s["time_s"] for s in seeds])),
            "seed_means": " / ".join(f"{s['mean_reward']:.0f}" for s in seeds),
            # per test episode, so runs of different seeds can be pooled afterwards
            "episode_returns": returns, "episode_lengths": lengths, "episode_success": succ}


def main() -> None:
    from goal_rl.parallel import Unit, add_backend_args, backend_from_args, run_units
    from goal_rl.tasks.walker.seeds import run_seed

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--eval-seed", type=int, default=1000)
    p.add_argument("--n-rec", type=int, default=WalkerConfig.n_rec)
    p.add_argument("--only", type=int, nargs="*", default=None, help="row indices to run")
    p.add_argument("--out", default="runs/walker_results.json")
    p.add_argument("--pool", nargs="+", default=None, metavar="JSON",
                   help="only print the pooled table of earlier result files")
    add_backend_args(p, what="(row, seed) run")
    args = p.parse_args()
    if args.pool:
        pool(args.pool)
        return
    base = WalkerConfig(n_rec=args.n_rec, eval_episodes=args.episodes,
                        eval_seed=args.eval_seed)
    chosen = [(i, label, over) for i, (label, over) in enumerate(rows(args.n_rec))
              if args.only is None or i in args.only]
    backend = backend_from_args(args)  # a bad option fails before any training
    threads = backend.threads or 1  # each run on one CPU unless the backend gives more
    units = [Unit(f"{i}|{seed}", run_seed, (base.replace(seed=seed, **over), threads))
             for i, _, over in chosen for seed in args.seeds]
    ex = evaluate_expert_cached(base.expert, args.episodes, args.eval_seed)
    table: list[dict[str, Any]] = [{"label": f"expert ({base.expert})", **{
        k: ex[k] for k in ("mean_reward", "std_reward", "success_rate", "mean_length")}}]
    print(f"| setting | return (mean ± std over all test episodes) | reach end | length | "
          f"seeds |\n|---|---|---|---|---|   ({backend.describe()})")
    print(_fmt(table[0]["label"], table[0]), flush=True)
    done: dict[int, dict[int, dict[str, Any]]] = {i: {} for i, _, _ in chosen}
    finished: dict[int, dict[str, Any]] = {}  # rows by index, written in table order

    def keep(unit: Unit, res: dict[str, Any]) -> None:
        i, seed = (int(x) for x in unit.key.split("|"))
        done[i][seed] = res["metrics"]
        if len(done[i]) < len(args.seeds):
            return
        label, over = next((lab, ov) for j, lab, ov in chosen if j == i)
        finished[i] = row = _row(label, over, [done[i][s] for s in args.seeds])
        print(_fmt(label, row) + f" per seed {row['seed_means']}, "
              f"{row['mean_time_s']:.0f} s/run", flush=True)
        write_json(args.out, {"episodes": args.episodes, "eval_seed": args.eval_seed,
                              "seeds": args.seeds, "backend": backend.describe(),
                              "rows": table + [finished[j] for j in sorted(finished)]})

    try:
        run_units(backend, units, keep)
    finally:
        backend.close()


if __name__ == "__main__":
    main()
