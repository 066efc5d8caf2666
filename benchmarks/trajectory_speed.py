"""Speed of the GOAL engines on the ND-trajectory task. Prints figures, asserts nothing.

Three measurements:

(a) µs per learning step (one network step + one online weight update) at N = 150,
    T = 150, one network, one trial: the NumPy engine (float32 and float64) and the torch
    engine with one thread (and on CUDA when used); first, the compiled kernels (numba, same
    results as NumPy), after their one-off compile or cache load (printed). Each epoch of
    ``simulate(x_current, learn=...)`` is timed separately and divided by T; the table gives
    the minimum and the median over the epochs, for LTTS, R = O and R = N.
(b) wall time of the whole command ``python -m goal_rl.trajectory -N 150 -T 150 -O 3
    -E 5000 1000 --seed 0`` as a subprocess (interpreter start-up included), with the final
    MSE and ΔZ it prints, for the default backend (``auto``: compiled when numba is
    installed), ``--backend numpy`` and ``--backend torch``.
(c) µs per (network × step) when K = 100 independent N = 150 networks (different seeds,
    LTTS and a spread of ranks and τ⋆) run as one batch in ``GoalBatch`` (K = 100, M = 1):
    on the CPU with torch's default thread count, and on CUDA when available.

Usage::

    python benchmarks/trajectory_speed.py [--quick] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from goal_rl.config import GoalConfig
from goal_rl.engines.compiled import CompiledGoal, available
from goal_rl.engines.numpy_engine import NumpyGoal
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.tasks.trajectory.benchmark import problem

REPO = Path(__file__).resolve().parents[1]
N_REC = 150
T_SEQ = 150
N_OUT = 3


# ---------------------------------------------------------------------------- machine
def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_header(devices: list[str]) -> str:
    """Date, CPU, cores, library versions and (if used) the GPU, one item a line."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    lines = [
        f"date      {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"cpu       {cpu_model()}",
        f"cores     {usable} usable ({os.cpu_count()} online); torch default threads "
        f"{torch.get_num_threads()}",
        f"python    {platform.python_version()}  numpy {np.__version__}  torch {torch.__version__}",
    ]
    if "cuda" in devices:
        lines.append(f"gpu       {torch.cuda.get_device_name(0)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- helpers
def _sync(device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def _prepare(engine: str, cfg: GoalConfig, device: str = "cpu") -> tuple[Any, Any, dict]:
    """Build one network, fit its readout and feedback: returns ``(net, Z buffer, learn)``."""
    w, x, y, rng = problem(cfg, cfg.seed)
    if engine in ("numpy", "compiled"):
        cls = CompiledGoal if engine == "compiled" else NumpyGoal
        net: Any = cls(cfg, w, cfg.rank, cfg.tau_star_eff, rng)
        net.set_task(x[:, None], y[:, None])
        buf: Any = np.empty_like(net.x_current)
    else:
        net = GoalBatch(cfg, [w], [cfg.rank], [cfg.tau_star_eff], [rng], device=device)
        net.set_task(x[:, None, None], y[:, None, None])
        buf = torch.empty_like(net.x_current)
    net.internal_targets()
    net.fit_readout()
    return net, buf, net.build_feedback()


def _time_epochs(net: Any, buf: Any, learn: dict | None, sync: Callable[[], None], epochs: int,
                 warmup: int = 2) -> list[float]:
    """Seconds per epoch of ``net.simulate(net.x_current, learn=learn, out=buf)``, timed one
    epoch at a time after ``warmup`` untimed epochs (with ``learn`` the weights keep learning).
    """
    for _ in range(warmup):
        net.simulate(net.x_current, learn=learn, out=buf)
    sync()
    out = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.simulate(net.x_current, learn=learn, out=buf)
        sync()
        out.append(time.perf_counter() - t0)
    return out


def _fmt_us(seconds: list[float], per: int) -> tuple[str, str]:
    us = [s / per * 1e6 for s in seconds]
    return f"{min(us):8.1f}", f"{statistics.median(us):8.1f}"


# ---------------------------------------------------------------------------- (a)
def first_call_s() -> float:
    """Seconds of the compiled kernels' first use in this process (float32 and float64, free
    run and learning epoch): a compile on a cold cache, a load from the on-disk cache after."""
    t0 = time.perf_counter()
    for dtype in ("float32", "float64"):
        cfg = GoalConfig(n_rec=20, t_seq=10, n_out=N_OUT, rank=N_OUT, dtype=dtype)
        net, _, _ = _prepare("compiled", cfg)
        net.train_recurrent(1, progress=False)
    return time.perf_counter() - t0


def bench_single(epochs: int, devices: list[str]) -> None:
    """(a) µs per learning step (and per free-running step) for one network, batch 1."""
    print(f"\n(a) one network, N={N_REC}, T={T_SEQ}, batch 1: µs per step over {epochs} "
          "epochs (min / median)")
    print("    learning step = network step + online update (simulate(x, learn=...));")
    print("    free step = network step only (simulate(x)). NumPy: single-threaded BLAS.")
    engines = [("compiled", "float32", "cpu"), ("compiled", "float64", "cpu")] * available()
    engines += [("numpy", "float32", "cpu"), ("numpy", "float64", "cpu"),
               ("torch", "float32", "cpu"), ("torch", "float64", "cpu")]
    if "cuda" in devices:
        engines.append(("torch", "float32", "cuda"))
    ranks: list[tuple[str, int | None]] = [("LTTS", None), ("R=O=3", N_OUT), ("R=N=150", N_REC)]
    header = (f"    {'engine':24s}{'feedback':10s}{'learn min':>10s}{'learn med':>10s}"
              f"{'free min':>10s}{'free med':>10s}")
    print(header)
    print("    " + "-" * (len(header) - 4))
    old_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        for engine, dtype, device in engines:
            label = f"{engine} {dtype}" + (" 1 thread" if engine == "torch" and device == "cpu"
                                           else f" {device}" if engine == "torch" else "")
            for rname, rank in ranks:
                cfg = GoalConfig(n_rec=N_REC, t_seq=T_SEQ, n_out=N_OUT, rank=rank, dtype=dtype,
                                 device=device, epochs_rec=epochs)
                net, buf, learn = _prepare(engine, cfg, device)
                sync = _sync(device)
                t_learn = _time_epochs(net, buf, learn, sync, epochs)
                t_free = _time_epochs(net, buf, None, sync, epochs)
                lmin, lmed = _fmt_us(t_learn, T_SEQ)
                fmin, fmed = _fmt_us(t_free, T_SEQ)
                print(f"    {label:24s}{rname:10s}{lmin:>10s}{lmed:>10s}{fmin:>10s}{fmed:>10s}",
                      flush=True)
    finally:
        torch.set_num_threads(old_threads)


# ---------------------------------------------------------------------------- (b)
_SUMMARY = re.compile(r"wall time (?P<wall>[\d.]+) s \| readout-limit MSE (?P<ro>[\d.eE+-]+) \| "
                      r"final MSE (?P<mse>[\d.eE+-]+) \| final spike error dZ (?P<dz>[\d.]+)")


def bench_command(rec_epochs: int) -> None:
    """(b) the whole command line as a subprocess, start-up included."""
    base = [sys.executable, "-m", "goal_rl.trajectory", "-N", str(N_REC), "-T", str(T_SEQ),
            "-O", str(N_OUT), "-E", "5000", str(rec_epochs), "--seed", "0"]
    print(f"\n(b) whole command, subprocess wall time (interpreter start-up included), "
          f"{rec_epochs} recurrent epochs")
    print("    (readout fit: the default exact ridge solve, so the 5000 readout epochs of -E "
          "are not iterated)")
    env = dict(os.environ, MPLBACKEND="Agg", SDL_VIDEODRIVER="dummy")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    for extra in ([], ["--backend", "numpy"], ["--backend", "torch"]):
        cmd = base + extra
        shown = "python " + " ".join(cmd[1:])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
        wall = time.perf_counter() - t0
        print(f"    $ {shown}")
        m = _SUMMARY.search(proc.stdout)
        if proc.returncode != 0 or m is None:
            print(f"      failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
            continue
        steps = rec_epochs * T_SEQ
        print(f"      wall {wall:6.2f} s (in-process {float(m['wall']):.2f} s, "
              f"{float(m['wall']) / steps * 1e6:.1f} µs per learning step incl. set-up and "
              "metrics) | "
              f"readout MSE {float(m['ro']):.5f} | final MSE {float(m['mse']):.5f} | "
              f"final dZ {float(m['dz']):.0f}", flush=True)


# ---------------------------------------------------------------------------- (c)
SWEEP_RANKS: tuple[int | None, ...] = (None, 3, 19, 52, 101, 150)
SWEEP_TAU_STARS = (2.0, 3.0, 5.0, 8.0, 13.0, 22.0, 36.0)


def bench_batch(k: int, epochs: int, device: str) -> None:
    """(c) µs per (network × step) for ``k`` independent networks in one ``GoalBatch``."""
    cfg = GoalConfig(n_rec=N_REC, t_seq=T_SEQ, n_out=N_OUT, device=device)
    probs = [problem(cfg, seed) for seed in range(k)]
    ranks = [SWEEP_RANKS[i % len(SWEEP_RANKS)] for i in range(k)]
    tau_stars = [SWEEP_TAU_STARS[i % len(SWEEP_TAU_STARS)] for i in range(k)]
    t0 = time.perf_counter()
    net = GoalBatch(cfg, [p[0] for p in probs], ranks, tau_stars, [p[3] for p in probs],
                    device=device)
    x = np.stack([p[1] for p in probs], axis=1)[:, :, None]
    y = np.stack([p[2] for p in probs], axis=1)[:, :, None]
    net.set_task(x, y)
    net.internal_targets()
    # One thread for the readout fit: once torch.set_num_threads(n >= 2) has been called in
    # the process (as (a) does when it restores the count), this torch 2.13 / MKL 2024.2
    # build hangs in the batched torch.linalg.solve for N >= ~150, K >= 2 ("oneMKL ERROR:
    # Parameter 6 was incorrect on entry to SLASWP").
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net.fit_readout()
    finally:
        torch.set_num_threads(threads)
    learn = net.build_feedback()
    sync = _sync(device)
    sync()
    setup = time.perf_counter() - t0
    buf = torch.empty_like(net.x_current)
    t_learn = _time_epochs(net, buf, learn, sync, epochs, warmup=1)
    t_free = _time_epochs(net, buf, None, sync, epochs, warmup=1)
    lmin, lmed = _fmt_us(t_learn, T_SEQ * k)
    fmin, fmed = _fmt_us(t_free, T_SEQ * k)
    where = (f"cpu, {torch.get_num_threads()} torch threads" if device == "cpu"
             else torch.cuda.get_device_name(0))
    print(f"    {device:6s}({where}): learning {lmin} / {lmed} µs, free {fmin} / {fmed} µs "
          f"per network-step (min / median; epoch {statistics.median(t_learn) * 1e3:.0f} ms; "
          f"set-up {setup:.1f} s)", flush=True)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Parse the options, print the machine and run (a), (b), (c)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer epochs: (a) 20, (b) 200 recurrent, (c) 3")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: add CUDA figures when a GPU is present (default); cpu: CPU only; "
                        "cuda: ask for CUDA (reported if missing)")
    p.add_argument("--batch", type=int, default=100, help="networks K in (c) (default 100)")
    args = p.parse_args(argv)
    devices = ["cpu"]
    has_cuda = torch.cuda.is_available()
    if args.device in ("auto", "cuda") and has_cuda:
        devices.append("cuda")
    print(f"GOAL trajectory speed benchmark ({'quick' if args.quick else 'full'} run)")
    print(machine_header(devices))
    if available():
        print(f"\ncompiled kernels, first call in this process: {first_call_s():.2f} s "
              "(compile on a cold cache, cache load otherwise)")
    bench_single(20 if args.quick else 50, devices)
    bench_command(200 if args.quick else 1000)
    print(f"\n(c) K={args.batch} independent networks, N={N_REC}, T={T_SEQ}, M=1, one GoalBatch "
          f"(float32; ranks cycle {['LTTS' if r is None else r for r in SWEEP_RANKS]}, "
          f"tau* cycles {[int(t) for t in SWEEP_TAU_STARS]})")
    for device in devices:
        bench_batch(args.batch, 3 if args.quick else 10, device)
    if args.device == "cuda" and not has_cuda:
        print("    cuda  : not available on this machine (skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
