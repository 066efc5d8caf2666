"""Speed of batched GOAL training for (R, τ⋆) sweeps. Prints figures, asserts nothing.

For K = 1, 10, 100 (and the paper grid, K = 110) independent N = 150, T = 150 networks in
one :class:`goal_rl.goal.GoalBatch` (M = 1 trial each; ranks and τ⋆ spread over the paper's
grid, LTTS included), the learning epochs ``simulate(x_current, learn=...)`` are timed one by
one and the time is divided by T·K: µs per (network × step), one network step plus its
online update. The table gives the minimum and the median over the timed epochs for the
chunked update path (buffered rank-M updates folded every C steps, the default for large
K·N²) and the per-step path (``--compare``). The per-epoch metrics that ``train_recurrent``
adds (MSE and ΔZ of the epoch) are timed separately, and the full-grid time (110 networks ×
150 steps × 10⁴ epochs) is extrapolated from the K = 110 row.

Usage::

    python benchmarks/sweep_speed.py [--epochs 12] [--threads 2] [--device cpu|cuda|auto]
                                     [--compare] [--fold C ...] [--sizes 1 10 100 110]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence

import torch

from goal_rl.config import GoalConfig
from goal_rl.tasks.trajectory.sweep import PAPER_RANKS, PAPER_TAU_STARS, build_batch, prepare

N_REC = 150
T_SEQ = 150
FULL_GRID = (len(PAPER_RANKS) * len(PAPER_TAU_STARS), 10_000)  # networks, epochs


def grid_sample(K: int) -> list[tuple[int | None, float, int]]:
    """K points cycling through the paper's ranks (LTTS included) and τ⋆, seeds 0, 1, …."""
    pts = []
    for k in range(K):
        rank = PAPER_RANKS[k % len(PAPER_RANKS)]
        tau = PAPER_TAU_STARS[(k // len(PAPER_RANKS)) % len(PAPER_TAU_STARS)]
        pts.append((rank, float(tau), k))
    return pts


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_epochs(K: int, epochs: int, device: str, fold: int | None) -> dict[str, float]:
    """µs per (network × step) of the learning epochs (min, median) and of the metrics."""
    cfg = GoalConfig(n_rec=N_REC, t_seq=T_SEQ, device=device)
    batch = build_batch(cfg, grid_sample(K), device=device)
    prepare(batch)
    batch._fold_every = fold
    Z = torch.empty_like(batch.x_current)
    per = []
    for ep in range(epochs + 2):  # two warm-up epochs
        _sync(device)
        t0 = time.perf_counter()
        batch.simulate(batch.x_current, learn=batch.learn, out=Z)
        _sync(device)
        if ep >= 2:
            per.append((time.perf_counter() - t0) / (T_SEQ * K) * 1e6)
    met = []
    for _ in range(5):
        _sync(device)
        t0 = time.perf_counter()
        batch.metrics(Z)
        _sync(device)
        met.append((time.perf_counter() - t0) / (T_SEQ * K) * 1e6)
    return {"min": min(per), "median": statistics.median(per), "metrics": min(met),
            "fold": batch._update_every(1, T_SEQ)}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=12, help="timed epochs per size")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (both if CUDA)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, FULL_GRID[0]])
    ap.add_argument("--compare", action="store_true", help="also time the per-step path")
    ap.add_argument("--fold", type=int, nargs="+", default=None,
                    help="chunk lengths C to time (default: the automatic choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"]
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices = ["cuda"] if args.device == "cuda" else ["cpu", "cuda"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), "
          f"{os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.2f}; N={N_REC}, T={T_SEQ}, "
          "float32, M=1")
    folds: list[int | None] = list(args.fold) if args.fold else [None]
    if args.compare:
        folds.append(1)
    print(f"{'device':6s} {'K':>4s} {'fold C':>7s} {'µs/(net·step) min':>18s} "
          f"{'median':>8s} {'+metrics':>9s}")
    full = {}
    for dev in devices:
        for K in args.sizes:
            for fold in folds:
                r = time_epochs(K, args.epochs, dev, fold)
                print(f"{dev:6s} {K:4d} {r['fold']:7d} {r['min']:18.2f} {r['median']:8.2f} "
                      f"{r['metrics']:9.3f}", flush=True)
                if K == FULL_GRID[0] and fold is None:
                    full[dev] = r
    for dev, r in full.items():
        K, E = FULL_GRID
        secs = (r["median"] + r["metrics"]) * 1e-6 * K * T_SEQ * E
        print(f"{dev}: full paper grid ({K} networks × {T_SEQ} steps × {E} epochs) "
              f"extrapolated from the median: {secs / 60:.1f} min")


if __name__ == "__main__":
    main()
