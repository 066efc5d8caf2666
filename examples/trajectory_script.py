"""Launch the N-D trajectory task from a Python script, the two supported ways.

1. The original style: a plain parameter dict with the original names (``n_rec``,
   ``t_seq``, ``epochs=(readout, recurrent)``, ``rank``, ``rec_lr``, ``Vo``, ...), built on
   ``default``, and handed to ``train``.
2. The typed style: a :class:`goal_rl.config.GoalConfig` (every field checked by
   ``validate``), handed to the same ``train``.

Both return a ``TrajectoryResult`` (readout-limit MSE, per-epoch MSE and ΔZ, the output and
spikes of the last epoch, the trained weights). ``backend="auto"`` runs the NumPy engine for
one network on the CPU and torch on CUDA; ``"numpy"`` and ``"torch"`` force one.

The default run is short (N = 150, T = 150, 300 recurrent epochs, ≈ 10 s in all on a
2-core CPU). The paper's setting is 10⁴ recurrent epochs::

    python examples/trajectory_script.py --epochs 10000

Figures (target vs output, MSE/ΔZ per epoch, raster) go to ``--out`` (default
``runs/trajectory_script``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__":
    _root = str(Path(__file__).resolve().parents[1])
    if _root not in sys.path:  # run from anywhere without installing the package
        sys.path.insert(0, _root)

from goal_rl.config import GoalConfig  # noqa: E402
from goal_rl.tasks.trajectory.benchmark import (  # noqa: E402
    TrajectoryResult,
    build_clock,
    build_target,
    default,
    train,
)
from goal_rl.tasks.trajectory.plots import plot_trajectory  # noqa: E402


def report(name: str, res: TrajectoryResult, out_dir: Path) -> Path:
    """Print the headline numbers of a run and save its figure; returns the PNG path."""
    cfg = res.config
    rank = "LTTS" if cfg.rank is None else f"R={cfg.rank}"
    print(f"{name}: N={cfg.n_rec} {rank} tau*={cfg.tau_star_eff:g} ({res.backend} backend, "
          f"{res.wall_time_s:.1f} s)")
    print(f"    readout-limit MSE {res.readout_mse:.5f} | final MSE {res.final_mse:.5f} | "
          f"final spike error dZ {res.final_dz:.0f} (of N*T = {cfg.n_rec * cfg.t_seq}) | "
          f"converged at epoch {res.conv_epoch}")
    path = plot_trajectory(res.target, res.output, res.mse, res.dz, res.spikes,
                           out_dir / f"{name}.png", readout_mse=res.readout_mse,
                           title=f"{name}: {rank}, tau*={cfg.tau_star_eff:g}, final MSE "
                                 f"{res.final_mse:.4f}, dZ {res.final_dz:.0f}")
    print(f"    figure: {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the two examples; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=300,
                   help="recurrent epochs per run (default 300; the paper used 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--backend", choices=("auto", "numpy", "torch"), default="auto")
    p.add_argument("--out", type=Path, default=Path("runs/trajectory_script"),
                   help="folder for the figures (default %(default)s)")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    args.out.mkdir(parents=True, exist_ok=True)

    # The task itself: 5 clock inputs (one active at a time) and a 3-D target, (T, I) and
    # (T, O). train() draws its own target from the seed; these helpers are for inspection
    # or for building a variant of the task.
    clock, target = build_clock(150, 5), build_target(150, 3, rng=args.seed)
    print(f"task: clock {clock.shape}, each input on for {int(clock[:, 0].sum())} steps; "
          f"target {target.shape} in [{target.min():.2f}, {target.max():.2f}]")

    # 1. original style: a dict with the original parameter names.
    #    epochs = (readout epochs, recurrent epochs); the readout epochs only matter for
    #    readout="gd" (the default "ridge" solves the least-squares fit exactly).
    par = dict(default, n_rec=150, t_seq=150, n_out=3, epochs=(5000, args.epochs),
               rank=None, seed=args.seed)  # rank None: LTTS (diagonal feedback), tau* = tau_o
    res_dict = train(par, progress=False, backend=args.backend)
    report("dict_ltts", res_dict, args.out)

    # 2. typed style: GoalConfig, here at the e-prop-like corner (R = O, slow tau*), the
    #    low-rank region that does well for tau* >= 8 dt in the paper's Fig 2D.
    cfg = GoalConfig(n_rec=150, t_seq=150, n_out=3, epochs_rec=args.epochs, rank=3,
                     tau_star=22.0, seed=args.seed)
    res_cfg = train(cfg, progress=False, backend=args.backend)
    report("config_rank3", res_cfg, args.out)

    # the per-epoch curves are plain arrays, ready for your own analysis
    print(f"MSE after 10 / {args.epochs} epochs: LTTS {res_dict.mse[min(9, args.epochs - 1)]:.4f}"
          f" / {res_dict.final_mse:.4f}, R=3 {res_cfg.mse[min(9, args.epochs - 1)]:.4f} / "
          f"{res_cfg.final_mse:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
