"""Walker tables: one setting trained and tested with several training seeds, pooled.

``python -m goal_rl.walker --expert --seeds 0-5 [--processes 2 | --ray [ADDRESS]]`` runs
each seed as one work unit (one CPU each) of a :mod:`goal_rl.parallel` backend: train
(:func:`~goal_rl.tasks.walker.pipeline.train_walker` with ``seed = S``) and test on the
same seeded episodes as the single run, so seed S's row equals ``python -m goal_rl.walker
--seed S`` run on as many threads (one by default: ``OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 python -m goal_rl.walker --seed S``). The expert is tested once, as a
unit of its own. The driver writes everything, as the units come back::

    OUT/seed_S/agent.pt, OUT/seed_S/metrics.json   each seed's agent and metrics
    OUT/table.json                                 per-seed rows and the pooled table
                                                   (rewritten after every seed)

Pooled figures are over seeds: the mean of the per-seed mean returns ± its standard error
(SEM, sample standard deviation / √n), and the same for the share reaching the end.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.tasks.walker.config import WalkerConfig

__all__ = ["MAX_SEEDS", "parse_seeds", "pool_seeds", "print_seed_table", "run_seed",
           "run_seed_table"]

#: the most seeds one table may hold (a typo such as 0-50000 fails at once)
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0-5"``, ``"0,2,4"`` or a mix (``"0-2,7"``); order kept, repeats
    dropped. ``ValueError`` names a bad part."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if dash else a
        except ValueError:
            raise ValueError(f"--seeds: {part!r} is not a seed (N) or a range (A-B) of "
                             "non-negative integers") from None
        if a < 0 or b < a:
            raise ValueError(f"--seeds: {part!r} is not a range A-B with 0 <= A <= B")
        if b - a + 1 + len(seeds) > MAX_SEEDS:
            raise ValueError(f"--seeds: more than {MAX_SEEDS} seeds")
        seeds += [s for s in range(a, b + 1) if s not in seeds]
    return seeds


def run_seed(cfg: WalkerConfig, threads: int = 1) -> dict[str, Any]:
    """One work unit: train and test ``cfg`` (its ``seed``) with ``threads`` torch and BLAS
    threads; returns ``{"seed", "metrics", "agent_bytes"}``: the metrics dict of
    ``python -m goal_rl.walker`` without the expert's figures and the saved agent file's
    bytes (the driver writes it).

    The thread count is part of the result: at N = 500 a product summed by one thread or
    by two rounds differently in the last digit, and DAgger's rounds carry such a
    difference on to other episodes. Every backend therefore runs a seed on the same
    number of threads (one by default), so the table does not depend on the backend."""
    from goal_rl.common.threads import single_thread_blas, torch_threads
    from goal_rl.tasks.walker.cli import walker_metrics
    from goal_rl.tasks.walker.pipeline import evaluate_walker, train_walker

    t0 = time.perf_counter()
    blas = single_thread_blas() if threads == 1 else contextlib.nullcontext()
    with torch_threads(threads), blas:
        result = train_walker(cfg, progress=False)
        test = evaluate_walker(result.agent, cfg.eval_episodes, cfg.eval_seed,
                               num_envs=cfg.num_envs)
    metrics = walker_metrics(cfg, test, None, result)
    metrics["episode_success"] = test["episode_success"]
    metrics["total_time_s"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="goal_rl_seed_") as tmp:
        path = result.agent.save(Path(tmp) / "agent.pt")
        data = path.read_bytes()
    return {"seed": cfg.seed, "metrics": metrics, "agent_bytes": data}


def _expert_unit(expert: str, n_episodes: int, seed: int) -> dict[str, Any]:
    """The expert's test on the table's episodes (one unit)."""
    from goal_rl.tasks.walker.pipeline import evaluate_expert_cached

    return evaluate_expert_cached(expert, n_episodes, seed)


def _sem(values: Sequence[float]) -> float | None:
    """Standard error of the mean (``None`` for fewer than two values)."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def pool_seeds(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± SEM over seeds of the per-seed mean return, share reaching the end and mean
    episode length; plus all test episodes pooled (``episode_mean_reward``/``std``)."""
    rewards = [m["mean_reward"] for m in per_seed]
    success = [m["success_rate"] for m in per_seed]
    lengths = [m["mean_length"] for m in per_seed]
    episodes = [r for m in per_seed for r in m["episode_returns"]]
    return {
        "n_seeds": len(per_seed),
        "seeds": [m["config"]["seed"] for m in per_seed],
        "mean_reward": float(np.mean(rewards)), "sem_reward": _sem(rewards),
        "success_rate": float(np.mean(success)), "sem_success_rate": _sem(success),
        "mean_length": float(np.mean(lengths)), "sem_length": _sem(lengths),
        "episode_mean_reward": float(np.mean(episodes)),
        "episode_std_reward": float(np.std(episodes)),
        "n_episodes": len(episodes),
    }


def _check_outputs(out: str | Any, seeds: Sequence[int]) -> Path:
    from goal_rl.common.io import check_output_dir, check_output_files

    folder = check_output_dir(out)
    check_output_files(folder, ["table.json"])
    for s in seeds:
        check_output_dir(folder / f"seed_{s}")
        check_output_files(folder / f"seed_{s}", ["agent.pt", "metrics.json"])
    return folder


def run_seed_table(cfg: WalkerConfig, seeds: Sequence[int], *, backend: Any = None,
                   out: str | Any | None = None, progress: bool = True) -> dict[str, Any]:
    """Train and test ``cfg`` with each training seed in ``seeds`` as units of ``backend``
    (``None``: inline) and pool them; see the module docstring for ``out``. Returns the
    table dict (``per_seed`` metrics in seed order, ``pooled``, ``expert``, times)."""
    from goal_rl.common.io import atomic_write, make_output_dir, write_json
    from goal_rl.parallel import InlineBackend, Progress, Unit, run_units
    from goal_rl.tasks.walker.pipeline import load_walker_demos, make_expert

    cfg.validate()
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    if cfg.demos is not None:
        load_walker_demos(cfg.demos)  # a bad file fails before any output
        cfg = cfg.replace(dagger_rounds=0)
    else:
        make_expert(cfg.expert)  # unknown name or bad file: fail early
    folder = None if out is None else _check_outputs(out, seeds)
    backend = backend or InlineBackend()
    threads = backend.threads or 1  # one CPU per seed unless the backend gives more
    units = [Unit(f"seed {s}", run_seed, (cfg.replace(seed=int(s)), threads)) for s in seeds]
    if cfg.demos is None:
        units.append(Unit("expert", _expert_unit,
                          (cfg.expert, cfg.eval_episodes, cfg.eval_seed), size=0))
    table: dict[str, Any] = {"task": "walker", "config": cfg.to_dict(),
                             "seeds": [int(s) for s in seeds], "backend": backend.describe(),
                             "expert": None, "per_seed": {}, "complete": False}
    t0 = time.perf_counter()
    if folder is not None:
        make_output_dir(folder)

    def keep(unit: Any, res: dict[str, Any]) -> None:
        if unit.key == "expert":
            table["expert"] = {k: res[k] for k in ("mean_reward", "std_reward",
                                                  "success_rate", "mean_length")}
            return
        table["per_seed"][res["seed"]] = res["metrics"]
        if folder is not None:
            sub = make_output_dir(folder / f"seed_{res['seed']}")
            atomic_write(sub / "agent.pt", lambda fh: fh.write(res["agent_bytes"]))
            write_json(sub / "metrics.json", res["metrics"])
            write_json(folder / "table.json", _ordered(table, seeds, t0))

    prog = Progress(len(seeds), "walker seeds", unit="seed") if progress else None
    try:
        run_units(backend, units, keep, progress=prog)
    finally:
        if prog is not None:
            prog.close()
    table["complete"] = True
    table = _ordered(table, seeds, t0)
    if folder is not None:
        write_json(folder / "table.json", table)
    return table


def _ordered(table: dict[str, Any], seeds: Sequence[int], t0: float) -> dict[str, Any]:
    """The table with ``per_seed`` as a list in seed order and the pooled figures of the
    seeds finished so far."""
    got = table["per_seed"]
    rows = [got[s] for s in seeds if s in got] if isinstance(got, dict) else list(got)
    return {**table, "per_seed": rows, "pooled": pool_seeds(rows) if rows else None,
            "wall_time_s": time.perf_counter() - t0}


def print_seed_table(table: dict[str, Any]) -> None:
    """Per-seed rows, the pooled row (mean ± SEM over seeds) and the expert's row."""
    n = table["config"]["eval_episodes"]
    print(f"\n{'seed':<16} {'return (' + str(n) + ' episodes)':>20}   {'end':>5}   "
          f"{'length':>6}   {'train+test':>10}")
    for m in table["per_seed"]:
        print(f"{m['config']['seed']:<16} {m['mean_reward']:10.1f} ± {m['std_reward']:6.1f}   "
              f"{100 * m['success_rate']:4.0f}%   {m['mean_length']:6.0f}   "
              f"{m['total_time_s']:9.0f}s")
    p = table["pooled"]

    def err(e: float | None, scale: float = 1.0) -> str:
        return "–" if e is None else f"{scale * e:.1f}"

    print(f"{'mean ± SEM':<16} {p['mean_reward']:10.1f} ± {err(p['sem_reward']):>6}   "
          f"{100 * p['success_rate']:4.0f}% ± {err(p['sem_success_rate'], 100)} (over "
          f"{p['n_seeds']} seed{'s' * (p['n_seeds'] > 1)})")
    if table.get("expert"):
        e = table["expert"]
        print(f"{'expert':<16} {e['mean_reward']:10.1f} ± {e['std_reward']:6.1f}   "
              f"{100 * e['success_rate']:4.0f}%   {e['mean_length']:6.0f}")
    print(f"wall time {table['wall_time_s']:.0f} s on {table['backend']}")
