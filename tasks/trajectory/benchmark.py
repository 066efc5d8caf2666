"""N-D trajectory store-and-recall benchmark: ``python -m goal_rl.trajectory``.

A network of N LIF units receives I clock inputs and must produce an O-dimensional
trajectory (sums of sines). Script use, as with the original code::

    from goal_rl.tasks.trajectory.benchmark import build_target, build_clock, default, train
    par = dict(default, n_rec=150, epochs=(5000, 1000))
    res = train(par)
    print(res.readout_mse, res.mse[-1], res.dz[-1])

or with the typed config: ``train(GoalConfig(n_rec=150, epochs_rec=1000))``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.cli import (
    CLIError,
    OneLineParser,
    finite_float,
    nonneg_int,
    positive_float,
    positive_int,
    resolve_device,
)
from goal_rl.common.threads import torch_threads
from goal_rl.config import (
    FEEDBACK_MODES,
    PRESETS,
    READOUT_METHODS,
    GoalConfig,
    apply_preset,
    check_rank,
)

#: Defaults under the original code's parameter names (a plain dict, as the original had).
default: dict[str, Any] = {
    "n_rec": None,
    "n_inp": 5,
    "n_out": 3,
    "t_seq": 150,
    "epochs": (5000, 10000),
    "rank": None,
    "rec_lr": None,
    "out_lr": 0.0025,
    "gpu": False,
    "resample": False,
    "tau_m": 8.0,
    "tau_s": 2.0,
    "tau_o": 5.0,
    "sigma_inp": 22.0,
    "sigma_trg": 8.0,
    "Vo": -4.0,
    "bias": -4.0,
    "reset": -20.0,
    "savepath": None,
    "dt": 0.001,
    "verbose": False,
    # additions of this package
    "feedback": "spk",
    "tau_star": None,
    "sigma_rec": GoalConfig.sigma_rec,
    "seed": 0,
    "readout": GoalConfig.readout,
    "dtype": GoalConfig.dtype,
}

# original dict names that differ from GoalConfig field names
_ALIASES = {"Vo": "v0"}
_NOT_CONFIG = {"gpu", "savepath", "verbose", "epochs"}


#: the target is 0 on its first steps (the network starts from rest)
TARGET_OFFSET = 8


def check_problem(cfg: GoalConfig, networks: int = 1) -> None:
    """Refuse settings under which the task says nothing or the run cannot fit.

    * T > :data:`TARGET_OFFSET`: else the target is all zeros;
    * I ≤ T − 1: every clock input must be on for at least one step;
    * N ≥ O: the feedback's first O columns are the readout (every rule needs them);
    * the weights and buffers of ``networks`` networks fit in the memory available.

    Raises:
        ValueError: naming the setting and its valid range.
    """
    from goal_rl.common.memory import check_memory, network_bytes

    if cfg.t_seq <= TARGET_OFFSET:
        raise ValueError(f"t_seq T={cfg.t_seq} leaves no target: the target is 0 on its first "
                         f"{TARGET_OFFSET} steps, so T must be at least {TARGET_OFFSET + 1}")
    if cfg.n_inp > cfg.t_seq - 1:
        raise ValueError(f"n_inp I={cfg.n_inp} clock inputs do not fit in T - 1 = "
                         f"{cfg.t_seq - 1} steps: each must be on for at least one step "
                         "(I <= T - 1)")
    if cfg.n_rec < cfg.n_out:
        raise ValueError(f"n_rec N={cfg.n_rec} is smaller than n_out O={cfg.n_out}: the "
                         "feedback's first O columns are the readout, so N >= O is needed")
    itemsize = 8 if cfg.dtype == "float64" else 4
    need = network_bytes(cfg.n_rec, cfg.n_inp, cfg.n_out, steps=cfg.t_seq, networks=networks,
                         itemsize=itemsize)
    nets = f" × {networks} networks" if networks > 1 else ""
    w_rec = 8 * cfg.n_rec ** 2 * networks / 1024 ** 3
    check_memory(need, f"n_rec N = {cfg.n_rec}{nets} (the initial W_rec alone is "
                       f"{w_rec:,.1f} GiB in float64; with the engine's {cfg.dtype} copies)")


def build_clock(t_seq: int, n_inp: int) -> np.ndarray:
    """Clock input ``(T, I)``: input k is 1 on steps ``[k·⌊(T−1)/I⌋, (k+1)·⌊(T−1)/I⌋)``."""
    if t_seq <= 0 or n_inp <= 0:
        raise ValueError(f"t_seq and n_inp must be positive, got {t_seq}, {n_inp}")
    x = np.zeros((t_seq, n_inp))
    width = (t_seq - 1) // n_inp
    for k in range(n_inp):
        x[k * width:(k + 1) * width, k] = 1.0
    return x


def build_target(t_seq: int, n_out: int, rng: np.random.Generator | int | None = None
                 ) -> np.ndarray:
    """Target ``(T, O)``: per output, a sum of sines of frequency 1, 2, 3, 5 over [0, 2π]
    with amplitudes U(0, 1) and phases U(0, 2π); the first :data:`TARGET_OFFSET` steps 0;
    divided by the global max.
    """
    if t_seq <= 0 or n_out <= 0:
        raise ValueError(f"t_seq and n_out must be positive, got {t_seq}, {n_out}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    t = np.linspace(0.0, 2.0 * np.pi, t_seq)
    y = np.zeros((t_seq, n_out))
    for o in range(n_out):
        amp = rng.uniform(0.0, 1.0, size=4)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=4)
        for a, f, ph in zip(amp, (1.0, 2.0, 3.0, 5.0), phase):
            y[:, o] += a * np.sin(f * t + ph)
    y[:TARGET_OFFSET] = 0.0
    return y / np.max(np.abs(y))


def problem(cfg: GoalConfig, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                  np.random.Generator]:
    """Everything random about one run, from one seed: initial weights, clock ``(T, I)``,
    target ``(T, O)`` and the generator for feedback columns (three independent streams).
    """
    from goal_rl.engines.common import init_weights

    s_w, s_task, s_fb = np.random.SeedSequence(seed).spawn(3)
    weights = init_weights(cfg.n_inp, cfg.n_rec, cfg.n_out, sigma_inp=cfg.sigma_inp,
                           sigma_trg=cfg.sigma_trg, sigma_rec=cfg.sigma_rec,
                           rng=np.random.default_rng(s_w))
    x = build_clock(cfg.t_seq, cfg.n_inp)
    y = build_target(cfg.t_seq, cfg.n_out, np.random.default_rng(s_task))
    return weights, x, y, np.random.default_rng(s_fb)


@dataclass
class TrajectoryResult:
    """Outcome of one run. ``mse``/``dz`` are ``(E,)`` per recurrent epoch; ``target`` and
    ``output`` ``(T, O)``; ``spikes`` ``(T, N)`` of the last epoch; ``w_rec`` ``(N, N)``."""

    config: GoalConfig
    readout_mse: float
    mse: np.ndarray
    dz: np.ndarray
    wall_time_s: float
    target: np.ndarray
    output: np.ndarray
    spikes: np.ndarray
    target_spikes: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    backend: str = "torch"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged_epoch(self) -> int | None:
        """First recurrent epoch whose MSE is NaN or infinite (``None``: the run stayed
        finite); ``-1`` when the readout fit itself was not finite."""
        if not np.isfinite(self.readout_mse):
            return -1
        bad = np.flatnonzero(~np.isfinite(self.mse))
        return int(bad[0]) if bad.size else None

    @property
    def final_mse(self) -> float:
        """MSE of the last recurrent epoch (NaN without recurrent epochs)."""
        return float(self.mse[-1]) if len(self.mse) else float("nan")

    @property
    def final_dz(self) -> float:
        """Spike error ΔZ of the last recurrent epoch (NaN without recurrent epochs)."""
        return float(self.dz[-1]) if len(self.dz) else float("nan")

    @property
    def conv_epoch(self) -> int:
        """Convergence epoch (see :func:`goal_rl.engines.common.convergence_epoch`)."""
        from goal_rl.engines.common import convergence_epoch

        return int(convergence_epoch(self.mse))

    def as_tuple(self) -> tuple[float, np.ndarray, np.ndarray]:
        """``(readout MSE, per-epoch MSE, per-epoch ΔZ)``, what ``-savepath`` pickles; a
        diverged run keeps only its finite epochs."""
        keep = len(self.mse) if self.diverged_epoch is None else max(self.diverged_epoch, 0)
        return self.readout_mse, self.mse[:keep], self.dz[:keep]

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (the keys of ``summary.json``). Every value is finite: without
        recurrent epochs (readout fit only) or after a divergence the final figures are
        ``None``, and ``diverged``/``diverged_epoch`` say what happened."""
        bad = self.diverged_epoch
        learnt = len(self.mse) > 0 and bad is None
        return {
            "readout_mse": self.readout_mse if bad != -1 else None,
            "final_mse": self.final_mse if learnt else None,
            "final_dz": self.final_dz if learnt else None,
            "min_mse": float(np.min(self.mse)) if learnt else None,
            "conv_epoch": self.conv_epoch if learnt else None,
            "epochs_rec": int(len(self.mse)),
            "readout_only": len(self.mse) == 0,
            "diverged": bad is not None,
            "diverged_epoch": bad,
            "wall_time_s": self.wall_time_s,
            "backend": self.backend,
            "config": self.config.to_dict(),
        }

    def headline(self) -> str:
        """The one-line result the CLI prints."""
        head = f"wall time {self.wall_time_s:.2f} s | readout-limit MSE {self.readout_mse:.5f}"
        if self.diverged_epoch is not None:
            where = "the readout fit" if self.diverged_epoch < 0 else \
                f"recurrent epoch {self.diverged_epoch}"
            return f"{head} | diverged at {where} (MSE not finite)"
        if not len(self.mse):
            return f"{head} | readout fit only (no recurrent epochs)"
        return (f"{head} | final MSE {self.final_mse:.5f} | final spike error dZ "
                f"{self.final_dz:.0f} | converged at epoch {self.conv_epoch}")


def config_from_par(par: Mapping[str, Any] | GoalConfig | None = None, **overrides: Any
                    ) -> GoalConfig:
    """A :class:`GoalConfig` from a parameter dict with the original names (see
    :data:`default`), a config, or keyword overrides. Unknown keys raise ``ValueError``."""
    if isinstance(par, GoalConfig):
        cfg = par
        if overrides:
            cfg = config_from_par({**_config_as_par(cfg), **overrides})
        return cfg.validate()
    merged = dict(default)
    merged.update(par or {})
    merged.update(overrides)
    names = {f.name for f in fields(GoalConfig)}
    unknown = [k for k in merged if k not in names and k not in _ALIASES and k not in _NOT_CONFIG]
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    if merged.get("n_rec") is None:
        raise ValueError("n_rec (the number of recurrent units, -N) is required")
    kw: dict[str, Any] = {}
    for k, v in merged.items():
        if k in _NOT_CONFIG:
            continue
        kw[_ALIASES.get(k, k)] = v
    epochs = merged.get("epochs")
    if epochs is not None:
        if not isinstance(epochs, list | tuple) or len(epochs) != 2:
            raise ValueError(f"epochs must be two integers (readout, recurrent), got {epochs!r}")
        kw["epochs_out"], kw["epochs_rec"] = (int(e) for e in epochs)
    if merged.get("gpu"):
        kw["device"] = "cuda"
    return GoalConfig(**kw).validate()


def _config_as_par(cfg: GoalConfig) -> dict[str, Any]:
    d = {f.name: getattr(cfg, f.name) for f in fields(GoalConfig)}
    d["epochs"] = (d.pop("epochs_out"), d.pop("epochs_rec"))
    d["Vo"] = d.pop("v0")
    return d


BACKENDS = ("auto", "torch", "numpy", "compiled")


def pick_backend(backend: str, device: str) -> str:
    """Resolve ``"auto"``: on the CPU the compiled kernels (numba, same results as NumPy)
    when they can run here, else NumPy (lower per-step overhead than torch, no torch
    import); torch otherwise. ``"numpy"`` or ``"compiled"`` with a CUDA device is an input
    error."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend in ("numpy", "compiled") and device != "cpu":
        raise ValueError(f"the {backend} backend runs on the CPU only, not on device {device!r}")
    if backend == "auto":
        if device != "cpu":
            return "torch"
        from goal_rl.engines.compiled import available
        return "compiled" if available() else "numpy"
    return backend


def train(par: Mapping[str, Any] | GoalConfig | None = None, *, progress: bool = True,
          backend: str = "auto", **overrides: Any) -> TrajectoryResult:
    """Run the whole benchmark for one network: internal target → readout fit → feedback →
    recurrent GOAL epochs. ``par`` is a dict with the original names or a ``GoalConfig``;
    ``backend`` is ``"auto"`` (compiled or NumPy on CPU, torch on CUDA), ``"torch"``,
    ``"numpy"`` or ``"compiled"``.
    """
    cfg = config_from_par(par, **overrides)
    backend = pick_backend(backend, cfg.device)
    check_problem(cfg)
    t0 = time.perf_counter()
    weights, x, y, rng_fb = problem(cfg, cfg.seed)
    desc = f"GOAL N={cfg.n_rec}"
    if backend in ("numpy", "compiled"):
        if backend == "compiled":
            from goal_rl.engines.compiled import CompiledGoal as Engine
        else:
            from goal_rl.engines.numpy_engine import NumpyGoal as Engine

        net = Engine(cfg, weights, cfg.rank, cfg.tau_star_eff, rng_fb)
        net.set_task(x[:, None, :], y[:, None, :])
        hist = net.train(cfg.epochs_rec, progress=progress, desc=desc)
        z = net.z if net.z is not None and cfg.epochs_rec else net.z_star
        out, z, z_star = net.output(z)[:, 0], z[:, 0], net.z_star[:, 0]
        w_rec, w_out = net.w_rec, net.w_out
    else:
        import torch

        from goal_rl.engines.torch_batch import GoalBatch

        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {cfg.device!r} requested but CUDA is not available")
        with torch_threads(1, cfg.device):
            net = GoalBatch(cfg, [weights], [cfg.rank], [cfg.tau_star_eff], [rng_fb])
            net.set_task(x[:, None, None, :], y[:, None, None, :])
            hist = net.train(cfg.epochs_rec, progress=progress, desc=desc)
        zt = net.z if net.z is not None and cfg.epochs_rec else net.z_star
        out = net.output(zt)[:, 0, 0].double().cpu().numpy()
        z, z_star = zt[:, 0, 0].cpu().numpy(), net.z_star[:, 0, 0].cpu().numpy()
        w_rec, w_out = net.w_rec[0].cpu().numpy(), net.w_out[0].cpu().numpy()
    return TrajectoryResult(
        config=cfg,
        readout_mse=float(hist.readout_mse[0]),
        mse=hist.mse[:, 0],
        dz=hist.dz[:, 0],
        wall_time_s=time.perf_counter() - t0,
        target=y,
        output=np.asarray(out, dtype=np.float64),
        spikes=np.asarray(z, dtype=np.uint8),
        target_spikes=np.asarray(z_star, dtype=np.uint8),
        w_rec=np.asarray(w_rec, dtype=np.float64),
        w_out=np.asarray(w_out, dtype=np.float64),
        backend=backend,
    )


# ---------------------------------------------------------------------------- CLI
def build_parser() -> OneLineParser:
    """The command-line interface (original flags plus this package's additions)."""
    p = OneLineParser(prog="python -m goal_rl.trajectory",
                      description="Train a recurrent spiking network with GOAL on the "
                                  "N-D trajectory store-and-recall task.")
    d = GoalConfig()
    p.add_argument("-N", "-n_rec", dest="n_rec", type=positive_int, required=True,
                   help="number of recurrent units")
    p.add_argument("-I", "-n_inp", dest="n_inp", type=positive_int, default=d.n_inp,
                   help="number of clock inputs (default %(default)s)")
    p.add_argument("-O", "-n_out", dest="n_out", type=positive_int, default=d.n_out,
                   help="output dimensions (default %(default)s)")
    p.add_argument("-T", "-t_seq", dest="t_seq", type=positive_int, default=d.t_seq,
                   help="steps per trial (default %(default)s)")
    p.add_argument("-E", "-epochs", dest="epochs", type=nonneg_int, nargs=2,
                   default=(d.epochs_out, d.epochs_rec), metavar=("READOUT", "RECURRENT"),
                   help="readout and recurrent epochs (default %(default)s)")
    p.add_argument("-R", "-rank", dest="rank", type=int, default=None,
                   help="feedback rank R in [O, N] (default: LTTS, diagonal feedback)")
    p.add_argument("-F", "-feedback", dest="feedback", choices=FEEDBACK_MODES, default="spk",
                   help="spike-level (spk) or output-level (out) feedback (default spk)")
    p.add_argument("-Rlr", "-rec_lr", dest="rec_lr", type=positive_float, default=None,
                   help="recurrent learning rate (default 5/sqrt(N))")
    p.add_argument("-Olr", "-out_lr", dest="out_lr", type=positive_float, default=d.out_lr,
                   help="readout learning rate for --readout gd (default %(default)s)")
    p.add_argument("--gpu", action="store_true", help="run on CUDA (falls back to CPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:k] (default cpu)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=d.dtype)
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto: compiled (numba) for one network on the CPU, numpy without "
                        "numba, torch on CUDA; numpy is the oracle")
    p.add_argument("--resample", action="store_true",
                   help="redraw the random feedback columns every epoch")
    p.add_argument("-Tm", "-tau_m", dest="tau_m", type=positive_float, default=d.tau_m,
                   help="membrane time constant in dt (default %(default)s)")
    p.add_argument("-Ts", "-tau_s", dest="tau_s", type=positive_float, default=d.tau_s,
                   help="synaptic time constant in dt (default %(default)s)")
    p.add_argument("-To", "-tau_o", dest="tau_o", type=positive_float, default=d.tau_o,
                   help="readout time constant in dt (default %(default)s)")
    p.add_argument("--tau-star", dest="tau_star", type=positive_float, default=None,
                   help="target timescale tau* in dt (default: tau_o)")
    p.add_argument("-Si", "-sigma_inp", dest="sigma_inp", type=positive_float,
                   default=d.sigma_inp, help="input weight std (default %(default)s)")
    p.add_argument("-St", "-sigma_trg", dest="sigma_trg", type=positive_float,
                   default=d.sigma_trg, help="teacher projection std (default %(default)s)")
    p.add_argument("--sigma-rec", dest="sigma_rec", type=finite_float, default=d.sigma_rec,
                   help="initial recurrent weight std (default %(default)s)")
    p.add_argument("-Vo", dest="v0", type=finite_float, default=d.v0,
                   help="initial membrane potential (default %(default)s)")
    p.add_argument("-B", "-bias", dest="bias", type=finite_float, default=d.bias,
                   help="bias current (default %(default)s)")
    p.add_argument("-rst", "-reset", dest="reset", type=finite_float, default=d.reset,
                   help="reset current after a spike (default %(default)s)")
    p.add_argument("-dt", dest="dt", type=positive_float, default=d.dt,
                   help="time step in seconds (default %(default)s)")
    p.add_argument("--readout", choices=READOUT_METHODS, default=d.readout,
                   help="readout fit: exact ridge least squares or the original gradient "
                        "descent (default %(default)s)")
    p.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="place (R, tau*) at a named corner: " + ", ".join(
                       f"{k} (R={v['rank'] or 'diag'}, tau*={v['tau_star']:g})"
                       for k, v in PRESETS.items()))
    p.add_argument("--seed", type=nonneg_int, default=d.seed, help="random seed")
    p.add_argument("-savepath", dest="savepath", default=None,
                   help="pickle (readout MSE, MSE per epoch, dZ per epoch) here (+ JSON)")
    p.add_argument("--out", default=None, help="folder for summary.json (and plot.png)")
    p.add_argument("--plot", action="store_true", help="write plot.png into --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--V", "--verbose", dest="verbose", action="store_true",
                   help="print a parameter recap")
    return p


def config_from_args(args: argparse.Namespace) -> GoalConfig:
    if args.backend == "numpy" and (args.gpu or args.device != "cpu"):
        raise CLIError("the numpy backend runs on the CPU only; drop --gpu/--device or use "
                       "--backend torch")
    device = resolve_device(args.device, args.gpu)
    cfg = GoalConfig(
        n_rec=args.n_rec, n_inp=args.n_inp, n_out=args.n_out, t_seq=args.t_seq,
        epochs_out=args.epochs[0], epochs_rec=args.epochs[1], rank=None,
        feedback=args.feedback, tau_star=args.tau_star, rec_lr=args.rec_lr,
        out_lr=args.out_lr, resample=args.resample, readout=args.readout,
        tau_m=args.tau_m, tau_s=args.tau_s, tau_o=args.tau_o, sigma_inp=args.sigma_inp,
        sigma_trg=args.sigma_trg, sigma_rec=args.sigma_rec, v0=args.v0, bias=args.bias,
        reset=args.reset, dt=args.dt, seed=args.seed, device=device, dtype=args.dtype,
    )
    if args.preset:
        cfg = apply_preset(cfg, args.preset)
        if args.tau_star is not None:
            cfg = cfg.replace(tau_star=args.tau_star)
    if args.rank is not None:
        cfg = cfg.replace(rank=check_rank(args.rank, args.n_out, args.n_rec))
    if cfg.feedback == "out" and cfg.rank is None:
        sys.stderr.write("warning: -F out needs a rank (-R); falling back to spike-level "
                         "feedback (spk)\n")
        cfg = cfg.replace(feedback="spk")
    return cfg.validate()


def _savepath(path: str) -> Path:
    p = Path(path)
    return p if p.suffix == ".pkl" else p.with_name(p.name + ".pkl")


def check_outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """Check every output location of the command line before any work, creating nothing:
    ``-savepath`` (the pickle and the JSON beside it) and ``--out`` (``summary.json``,
    ``plot.png``). Returns the save path (``None``: none) and the output folder."""
    from goal_rl.common.io import check_output_dir, check_output_file, check_output_files

    save = None
    if args.savepath is not None:
        check_output_file(args.savepath)
        save = _savepath(args.savepath)
        check_output_file(save)
        check_output_file(save.with_suffix(".json"))
    out_dir = args.out
    if args.plot and out_dir is None:
        out_dir = str(save.with_suffix("")) + "_out" if save else "runs/trajectory"
    if out_dir is None:
        return save, None
    folder = check_output_dir(out_dir)
    check_output_files(folder, ["summary.json"] + (["plot.png"] if args.plot else []))
    return save, folder


def recap(cfg: GoalConfig) -> str:
    """Multi-line parameter recap printed with ``--verbose``."""
    rank = "LTTS (diagonal)" if cfg.rank is None else str(cfg.rank)
    lines = [
        f"network   N={cfg.n_rec}  I={cfg.n_inp}  O={cfg.n_out}  T={cfg.t_seq}",
        f"neurons   tau_m={cfg.tau_m:g}  tau_s={cfg.tau_s:g}  tau_o={cfg.tau_o:g} (dt="
        f"{cfg.dt:g} s)  V0={cfg.v0:g}  bias={cfg.bias:g}  reset={cfg.reset:g}",
        f"weights   sigma_inp={cfg.sigma_inp:g}  sigma_trg={cfg.sigma_trg:g}  "
        f"sigma_rec={cfg.sigma_rec:g}",
        f"GOAL      rank={rank}  feedback={cfg.feedback}  tau*={cfg.tau_star_eff:g}  "
        f"resample={cfg.resample}",
        f"learning  eta_rec={cfg.eta:.4g}  readout={cfg.readout} (lr {cfg.out_lr:g})  "
        f"epochs readout={cfg.epochs_out} recurrent={cfg.epochs_rec}",
        f"run       seed={cfg.seed}  device={cfg.device}  dtype={cfg.dtype}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m goal_rl.trajectory``: every input is checked before
    anything is written; a run that diverges writes ``diverged: true`` and returns 1."""
    from goal_rl.common.io import make_output_dir, write_json, write_pickle

    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    check_problem(cfg)
    save, out_dir = check_outputs(args)
    if args.verbose:
        print(recap(cfg))
    res = train(cfg, progress=not args.no_progress, backend=args.backend)
    summary = res.summary()
    print(res.headline())
    if save is not None:
        write_pickle(save, res.as_tuple())
        write_json(save.with_suffix(".json"), summary)
        print(f"saved {save} and {save.with_suffix('.json')}")
    if out_dir is not None:
        make_output_dir(out_dir)
        write_json(out_dir / "summary.json", summary)
        if args.plot:
            plot_result(res, out_dir / "plot.png")
        print(f"results in {out_dir}/")
    if res.diverged_epoch is not None:
        sys.stderr.write("python -m goal_rl.trajectory: error: the run diverged (MSE not "
                         "finite); try a smaller -Rlr or weight scales\n")
        return 1
    return 0


def plot_result(res: TrajectoryResult, path: Path) -> None:
    """The run's figure: target and output, learning curves, spike raster."""
    from goal_rl.tasks.trajectory.plots import plot_trajectory

    cfg = res.config
    final = "readout only" if not len(res.mse) else \
        f"final MSE {res.final_mse:.4f}, dZ {res.final_dz:.0f}"
    title = f"N={cfg.n_rec} R={'LTTS' if cfg.rank is None else cfg.rank} " \
        f"tau*={cfg.tau_star_eff:g}: {final}"
    plot_trajectory(res.target, res.output, res.mse, res.dz, res.spikes, path,
                    readout_mse=res.readout_mse, title=title)
