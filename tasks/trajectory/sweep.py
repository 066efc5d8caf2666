"""Batched (R, τ⋆) sweeps on the N-D trajectory task: ``python -m goal_rl.sweep``.

Every (rank, τ⋆, seed) point of the grid is one independent network; up to ``chunk`` of them
run together as one :class:`goal_rl.engines.torch_batch.GoalBatch` (K networks, M = 1 trial
each), so the paper's Figure 2 grid (11 ranks × 10 τ⋆ × 10⁴ recurrent epochs) is a single
tensor program. Each point draws everything random from its own seed exactly as
``python -m goal_rl.trajectory --seed S`` does
(:func:`goal_rl.tasks.trajectory.benchmark.problem`), so a point of the sweep equals the
single run with that seed (up to floating-point rounding in the order of the weight-update
sums, see ``GoalBatch._simulate_chunked``).

Output folder (``--out``)::

    sweep.json       the configuration (shared settings and grid); --resume checks it
    results.jsonl    one JSON object per finished point, rewritten atomically per chunk
    table.csv/json   rank, tau_star, seed, final MSE, final ΔZ, convergence epoch, readout MSE
    mse_map.png, dz_map.png, conv_map.png, mse_vs_tau.png, sweep_summary.png

Python use::

    from goal_rl.config import GoalConfig
    from goal_rl.tasks.trajectory.sweep import run_sweep
    rows = run_sweep([3, 150, None], [2, 5, 22], [0], GoalConfig(epochs_rec=2000))
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.threads import torch_threads
from goal_rl.config import GoalConfig, check_rank
from goal_rl.tasks.trajectory.benchmark import check_problem

#: The paper's Figure 2 grid; ``None`` is LTTS (diagonal feedback).
PAPER_RANKS: tuple[int | None, ...] = (3, 19, 35, 52, 68, 84, 101, 117, 133, 150, None)
PAPER_TAU_STARS: tuple[float, ...] = (1, 2, 3, 5, 8, 13, 22, 36, 60, 100)

#: Networks per batch when ``chunk`` is not given (the whole paper grid fits in one).
DEFAULT_CHUNK = 128

#: Shared settings that do not change the results (left out of the resume check).
_NOT_COMPARED = ("device", "rank", "tau_star", "seed", "extra")

#: a grid point: (rank, τ⋆, seed, τ_o) — τ_o is the point's readout filter (equal to τ⋆
#: under the paper's protocol, the shared ``-To`` with ``--fixed-tau-o``)
Point = tuple[int | None, float, int, float]

#: the sweep protocols: ``paper`` (τ_o = τ⋆ at every point, the recurrent learning rate of
#: the authors' library, :data:`PAPER_REC_LR`, unless one is given) and ``fixed_tau_o`` (τ⋆
#: varies alone, the readout filter stays at ``-To``; the command line's rate 5/√N)
PROTOCOLS = ("paper", "fixed_tau_o")

#: the recurrent learning rate of the paper protocol (the authors' scan starts from their
#: library's defaults, 0.05, not from their command line's 5/√N)
PAPER_REC_LR = 0.05
Row = dict[str, Any]


# ---------------------------------------------------------------------------- grid
def rank_label(rank: int | None) -> str:
    """``"LTTS"`` for ``None``, else the rank as text."""
    return "LTTS" if rank is None else str(rank)


def check_grid(ranks: Sequence[int | None], tau_stars: Sequence[float], seeds: Sequence[int],
               cfg: GoalConfig) -> tuple[list[int | None], list[float], list[int]]:
    """Validate and de-duplicate the grid (order kept). ``ValueError`` names the first problem:
    an empty axis, a rank outside [O, N], LTTS with output-level feedback, τ⋆ ≤ 0 or not
    finite, a negative or non-integer seed."""
    if not ranks:
        raise ValueError("empty grid: give at least one rank (an integer in [O, N] or 'ltts')")
    if not tau_stars:
        raise ValueError("empty grid: give at least one tau_star")
    if not seeds:
        raise ValueError("empty grid: give at least one seed")
    out_r: list[int | None] = []
    for r in ranks:
        r = None if r is None else check_rank(r, cfg.n_out, cfg.n_rec)
        if r is None and cfg.feedback == "out":
            raise ValueError("output-level feedback ('out') needs a rank: drop 'ltts' from the "
                             "ranks or use spike-level feedback")
        if r not in out_r:
            out_r.append(r)
    out_t: list[float] = []
    for ts in tau_stars:
        if (isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts)
                or ts <= 0):
            raise ValueError(f"tau_star must be a positive number, got {ts!r}")
        if float(ts) not in out_t:
            out_t.append(float(ts))
    out_s: list[int] = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0:
            raise ValueError(f"seed must be a non-negative integer, got {s!r}")
        if int(s) not in out_s:
            out_s.append(int(s))
    return out_r, out_t, out_s


def grid_points(ranks: Sequence[int | None], tau_stars: Sequence[float], seeds: Sequence[int],
                tau_o: float | None = None) -> list[Point]:
    """All (rank, τ⋆, seed, τ_o) points, rank-major: neighbouring points (one chunk) share
    ranks, which keeps the zero padding of the feedback columns small. ``tau_o``: the
    readout filter of every point (``None``: the paper's protocol, τ_o = τ⋆)."""
    return [(r, float(t), int(s), float(t) if tau_o is None else float(tau_o))
            for r in ranks for t in tau_stars for s in seeds]


def point_key(rank: int | None, tau_star: float, seed: int, tau_o: float | None = None) -> str:
    """Stable text key of a point (for resume bookkeeping; τ_o is fixed by the protocol)."""
    return f"{rank_label(rank)}|{float(tau_star)!r}|{int(seed)}"


# ---------------------------------------------------------------------------- engine
@functools.cache
def _sweep_batch_class() -> type:
    """``GoalBatch`` with a faster per-epoch :meth:`metrics` (same values up to rounding).

    ``GoalBatch.metrics`` computes ``Z @ w_outᵀ`` by broadcasting over (T, K), which expands
    ``w_out`` to ``(T, K, N, O)`` and runs T·K tiny products (≈ 12 ms per epoch for 110
    networks, ~10 % of a sweep); here it is one batched product over K, and ΔZ is one pass.
    """
    import torch

    from goal_rl.engines.torch_batch import GoalBatch

    class SweepBatch(GoalBatch):
        def metrics(self, Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """MSE ``(K,)`` (mean over T, M, O) and spike error ΔZ ``(K,)`` of ``Z``."""
            T, K, M, N = Z.shape
            zo = torch.bmm(Z.permute(1, 0, 2, 3).reshape(K, T * M, N),
                           self.w_out.transpose(1, 2))  # (K, T·M, O)
            zo = zo.view(K, T, M, -1).permute(1, 0, 2, 3).reshape(T, -1)
            y = self._out_filter(zo.view(T, K, -1)).view(self.y_star.shape)
            mse = ((y - self.y_star) ** 2).mean(dim=(0, 2, 3))
            dz = (Z - self.z_star).abs_().sum(dim=(0, 2, 3))
            return mse, dz

    return SweepBatch


def build_batch(cfg: GoalConfig, points: Sequence[Point], device: str = "cpu") -> Any:
    """A :class:`~goal_rl.engines.torch_batch.GoalBatch` holding one network per point, task set.

    Every network gets the weights, clock input ``(T, I)``, target ``(T, O)`` and feedback
    generator of :func:`goal_rl.tasks.trajectory.benchmark.problem` for its seed, and its
    own readout filter τ_o, so it is the single run
    ``python -m goal_rl.trajectory --seed S -R rank --tau-star τ⋆ -To τ_o`` with the same
    settings.
    """
    from goal_rl.tasks.trajectory.benchmark import problem

    probs = [problem(cfg, p[2]) for p in points]
    batch = _sweep_batch_class()(cfg, [p[0] for p in probs], [p[0] for p in points],
                                 [p[1] for p in points], [p[3] for p in probs],
                                 device=device, tau_os=[p[3] for p in points])
    x = np.stack([p[1] for p in probs], axis=1)[:, :, None]  # (T, K, 1, I)
    y = np.stack([p[2] for p in probs], axis=1)[:, :, None]  # (T, K, 1, O)
    batch.set_task(x, y)
    return batch


def prepare(batch: Any) -> np.ndarray:
    """Internal targets, readout fit and feedback of a batch; returns the readout MSE ``(K,)``.

    The readout fit runs with one torch thread: the batched ``torch.linalg.solve`` of this
    torch/MKL build fails ("SLASWP parameter 6") for N = 150 with more than one thread.
    """
    batch.internal_targets()
    with torch_threads(1):
        readout = batch.fit_readout()
    batch.build_feedback()
    return readout


def _curve_epochs(n: int, points: int = 60) -> np.ndarray:
    """About ``points`` log-spaced epoch indices in ``[0, n)`` (always the first and last)."""
    if n <= points:
        return np.arange(n)
    idx = np.unique(np.round(np.geomspace(1, n, points)).astype(int) - 1)
    return idx


def rows_from_history(points: Sequence[Point], readout: np.ndarray, mse: np.ndarray,
                      dz: np.ndarray, conv: np.ndarray, eta: float = float("nan")
                      ) -> list[Row]:
    """One result row per point from per-epoch metrics ``mse``/``dz`` ``(E, K)``; ``eta``
    is the recurrent learning rate the batch ran with."""
    E = mse.shape[0]
    tail = max(1, E // 100)
    idx = _curve_epochs(E)
    rows = []
    for k, (rank, ts, seed, tau_o) in enumerate(points):
        m, d = mse[:, k], dz[:, k]
        rows.append({
            "rank": rank,
            "tau_star": ts,
            "seed": seed,
            "tau_o": tau_o,
            "rec_lr": float(eta),
            "final_mse": float(m[-1]),
            "final_dz": float(d[-1]),
            "conv_epoch": int(conv[k]),
            "readout_mse": float(readout[k]),
            "min_mse": float(m.min()),
            "min_mse_epoch": int(m.argmin()),
            "tail_mse": float(m[-tail:].mean()),
            "tail_dz": float(d[-tail:].mean()),
            "epochs": int(E),
            "curve_epoch": [int(i) for i in idx],
            "curve_mse": [float(m[i]) for i in idx],
            "curve_dz": [float(d[i]) for i in idx],
        })
    return rows


def run_points(cfg: GoalConfig, points: Sequence[Point], *, device: str = "cpu",
               progress: bool | Callable[[int, Any, Any], None] = True,
               desc: str = "sweep") -> list[Row]:
    """Train one batch holding every point and return one row per point (input order)."""
    t0 = time.perf_counter()
    batch = build_batch(cfg, points, device=device)
    readout = prepare(batch)
    hist = batch.train_recurrent(cfg.epochs_rec, progress=progress, desc=desc)
    rows = rows_from_history(points, readout, hist.mse, hist.dz, hist.conv_epoch(), cfg.eta)
    wall = time.perf_counter() - t0
    for r in rows:
        r["batch_size"] = len(points)
        r["batch_wall_time_s"] = wall
    return rows


# ---------------------------------------------------------------------------- output folder
def sweep_record(cfg: GoalConfig, ranks: Sequence[int | None], tau_stars: Sequence[float],
                 seeds: Sequence[int], chunk: int = DEFAULT_CHUNK,
                 protocol: str = "paper") -> dict[str, Any]:
    """What ``sweep.json`` holds: the shared settings, the grid, the batch size and the
    protocol (under ``paper`` the shared ``tau_o`` is not used: each point's is its τ⋆)."""
    from goal_rl.tasks.trajectory.sweep_store import RECORD_KIND

    shared = {k: v for k, v in cfg.to_dict().items() if k not in _NOT_COMPARED
              and k not in ("tau_star_effective",)}
    if protocol == "paper":
        shared.pop("tau_o", None)
    return {"kind": RECORD_KIND, "version": 3, "protocol": protocol, "config": shared,
            "grid": {"ranks": list(ranks), "tau_stars": [float(t) for t in tau_stars],
                     "seeds": [int(s) for s in seeds]}, "chunk": int(chunk)}


def write_figures(out: Path, rows: Sequence[Row], cfg: GoalConfig) -> list[Path]:
    """Heatmaps and MSE-vs-τ⋆ curves (see :mod:`goal_rl.sweep_plots`)."""
    from goal_rl.tasks.trajectory.sweep_plots import plot_sweep

    return plot_sweep(rows, out, n_out=cfg.n_out, n_rec=cfg.n_rec)


# ---------------------------------------------------------------------------- API
def run_sweep(ranks: Sequence[int | None], tau_stars: Sequence[float], seeds: Sequence[int],
              base_cfg: GoalConfig | None = None, *, chunk: int | None = None,
              device: str = "cpu", out: str | os.PathLike | None = None, resume: bool = False,
              repair: bool = False, progress: bool = True, threads: int | None = None,
              figures: bool = True, backend: Any = None,
              protocol: str = "paper") -> list[Row]:
    """Train every (rank, τ⋆, seed) point of the grid and return one row per point.

    Args:
        ranks: feedback ranks in [O, N]; ``None`` is LTTS (diagonal feedback).
        tau_stars: target timescales in dt (> 0).
        seeds: seeds (each point equals ``python -m goal_rl.trajectory --seed S``).
        base_cfg: shared settings (``rank``, ``tau_star``, ``seed`` are ignored); the number
            of recurrent epochs is ``base_cfg.epochs_rec``.
        chunk: networks per batch (default :data:`DEFAULT_CHUNK`, or one batch per slot of
            a backend, or a resumed sweep's size); batches are fixed slices of the grid, and
            rows depend on them (float32 sums), never on the backend.
        device: ``"cpu"`` or ``"cuda[:k]"``.
        out: folder for ``sweep.json``, ``results.jsonl``, tables and figures (``None``:
            nothing is written).
        resume: continue the sweep in ``out`` (same configuration), skipping finished points.
        repair: resume despite damaged lines in ``results.jsonl``: dropped (a backup is
            kept) and their points trained again.
        progress: show finished points (and epochs of batches run here); plain lines in a log.
        threads: torch CPU threads of each batch (``None``: torch's default here, the
            backend's share in a worker).
        figures: write the figures into ``out``.
        backend: where the batches run, a :class:`goal_rl.parallel.Backend` (``None``:
            in this process, one after the other); it is not closed here.
        protocol: ``"paper"`` (default): every point's readout filter τ_o equals its τ⋆,
            and the recurrent learning rate is :data:`PAPER_REC_LR` unless
            ``base_cfg.rec_lr`` is set; ``"fixed_tau_o"``: τ⋆ varies alone, τ_o stays at
            ``base_cfg.tau_o`` (rate 5/√N unless set). See :data:`PROTOCOLS`.

    Returns:
        Rows (dicts) in grid order with keys ``rank`` (``None`` for LTTS), ``tau_star``,
        ``seed``, ``final_mse``, ``final_dz``, ``conv_epoch``, ``readout_mse``, ``min_mse``,
        ``tail_mse`` (mean over the last 1 % of epochs), ``tail_dz``, ``epochs``, a
        log-spaced learning curve (``curve_epoch``, ``curve_mse``, ``curve_dz``) and the
        batch's size and wall time.
    """
    from goal_rl.tasks.trajectory.sweep_store import SweepFolder, write_tables

    remote_gpu = backend is not None and backend.name == "ray"  # the driver may lack CUDA
    cfg = _protocol_config(_sweep_config(base_cfg, chunk, device, threads,
                                         check_cuda=not remote_gpu), protocol)
    ranks, tau_stars, seeds = check_grid(ranks, tau_stars, seeds, cfg)
    points = grid_points(ranks, tau_stars, seeds,
                         tau_o=None if protocol == "paper" else cfg.tau_o)
    size = _chunk_size(chunk, out, resume or repair, len(points),
                       1 if backend is None else backend.slots)
    check_problem(cfg, networks=min(size, len(points)))
    keys = {point_key(*p) for p in points}
    folder = None
    done: dict[str, Row] = {}
    if out is not None:
        folder = SweepFolder(out, sweep_record(cfg, ranks, tau_stars, seeds, size, protocol),
                             keys, resume=resume, repair=repair)
        for r in folder.open():
            done[point_key(r["rank"], r["tau_star"], r["seed"])] = r
    try:
        # fixed batch boundaries over the whole grid, so that a resumed sweep batches every
        # point with the same neighbours as an uninterrupted one (float32 sums depend on it)
        chunks = [points[i:i + size] for i in range(0, len(points), size)]
        todo = [c for c in chunks if any(point_key(*p) not in done for p in c)]
        redo = {point_key(*p) for c in todo for p in c}  # a part-done batch runs whole
        finished = [r for k, r in done.items() if k not in redo]
        _run_chunks(cfg, todo, finished, folder, device=device, threads=threads,
                    progress=progress, backend=backend, total=len(points))
        by_key = {point_key(r["rank"], r["tau_star"], r["seed"]): r for r in finished}
        result = [by_key[point_key(*p)] for p in points]
        if folder is not None:
            write_tables(folder.path, result)
            if figures:
                write_figures(folder.path, result, cfg)
    finally:
        if folder is not None:
            folder.close()
    return result


def _protocol_config(cfg: GoalConfig, protocol: str) -> GoalConfig:
    """``cfg`` under ``protocol`` (see :data:`PROTOCOLS`): the paper's learning rate unless
    one is set."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "paper" and cfg.rec_lr is None:
        return cfg.replace(rec_lr=PAPER_REC_LR)
    return cfg


def _chunk_size(chunk: int | None, out: str | os.PathLike | None, resume: bool,
                n_points: int = 1, slots: int = 1) -> int:
    """Networks per batch: ``chunk``; when resuming without one, the size the folder's sweep
    was started with; else :data:`DEFAULT_CHUNK`, or with ``slots`` > 1 batches running at
    once the size that gives each slot at least one batch (at most :data:`DEFAULT_CHUNK`)."""
    if chunk is not None:
        return chunk
    if resume and out is not None:
        record = Path(out) / "sweep.json"
        try:
            stored = json.loads(record.read_text(encoding="utf-8")).get("chunk")
        except (OSError, ValueError, AttributeError):
            stored = None
        if isinstance(stored, int) and not isinstance(stored, bool) and stored >= 1:
            return stored
    if slots <= 1:
        return DEFAULT_CHUNK
    return min(DEFAULT_CHUNK, max(1, math.ceil(n_points / slots)))


def _sweep_config(base_cfg: GoalConfig | None, chunk: int | None, device: str,
                  threads: int | None, check_cuda: bool = True) -> GoalConfig:
    """The shared settings of a sweep (rank, τ⋆ and seed cleared), after checking the
    arguments of :func:`run_sweep` that are not grid values."""
    cfg = (base_cfg or GoalConfig()).replace(rank=None, tau_star=None, seed=0, device=device)
    cfg.validate()
    if cfg.epochs_rec < 1:
        raise ValueError("a sweep needs at least one recurrent epoch (-E READOUT RECURRENT)")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int)
                              or chunk < 1):
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if device.startswith("cuda"):
        import torch

        if check_cuda and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
    elif device != "cpu":
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'cuda[:k]'")
    return cfg


def run_batch(cfg: GoalConfig, points: Sequence[Point], device: str = "cpu",
              threads: int | None = None,
              progress: bool | Callable[[int, Any, Any], None] = False) -> list[Row]:
    """One work unit of a sweep: :func:`run_points` on one batch with ``threads`` torch CPU
    threads (``None``: unchanged). A module-level function, so that a worker process or a
    Ray task can run it."""
    with torch_threads(threads):
        return run_points(cfg, points, device=device, progress=progress)


class _EpochProgress:
    """The engine callback ``(epoch, mse (K,), dz (K,))`` of one batch run in the driver's
    process: a second tqdm bar under the bar of points on a terminal, else the epoch in
    the plain progress lines."""

    def __init__(self, overall: Any, label: str, epochs: int) -> None:
        self.overall, self.label, self.epochs = overall, label, epochs
        self.bar: Any = None

    def __call__(self, ep: int, mse: Any, dz: Any) -> None:
        if not self.overall.is_bar:
            self.overall.status(f"{self.label}: epoch {ep}/{self.epochs}, "
                                f"mean MSE {float(mse.mean()):.4g}")
            return
        if self.bar is None:
            from goal_rl.common.progress import progress_bar

            self.bar = progress_bar(self.epochs, self.label, "ep", inner=True, position=1,
                                    leave=False)
        self.bar.update(ep - self.bar.n)
        self.bar.set_postfix(mse=f"{float(mse.mean()):.4g}", dz=f"{float(dz.mean()):.0f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _sweep_units(cfg: GoalConfig, chunks: Sequence[Sequence[Point]], device: str,
                 threads: int | None) -> list[Any]:
    """One :class:`goal_rl.parallel.Unit` per batch: :func:`run_batch` on its points."""
    from goal_rl.parallel import Unit

    return [Unit(f"batch {i + 1}/{len(chunks)} (K={len(pts)})", run_batch,
                 (cfg, list(pts), device, threads), {}, size=len(pts))
            for i, pts in enumerate(chunks)]


def _run_chunks(cfg: GoalConfig, chunks: Sequence[Sequence[Point]], finished: list[Row],
                folder: Any, *, device: str, threads: int | None, progress: bool,
                backend: Any = None, total: int | None = None) -> None:
    """Train ``chunks`` as work units of ``backend`` (default: inline, one batch after the
    other), appending each batch's rows to ``finished`` and rewriting ``results.jsonl`` of
    ``folder`` (a :class:`SweepFolder`, or ``None``) as each batch comes back, so a killed
    sweep loses at most the batches that were running. The driver is the only writer.
    ``progress``: one display of finished points over the ``total`` of the grid (a bar on a
    terminal, plain lines in a log), with the epochs of an inline batch."""
    from goal_rl.parallel import InlineBackend, Progress, run_units
    from goal_rl.tasks.trajectory.sweep_store import write_results

    backend = InlineBackend(threads) if backend is None else backend
    unit_threads = threads if threads is not None else backend.threads
    prog = None
    if progress and chunks:
        total = sum(len(c) for c in chunks) + len(finished) if total is None else total
        prog = Progress(total, f"sweep ({len(chunks)} batch(es), {backend.describe()})",
                        unit="point", initial=len(finished))
    units = _sweep_units(cfg, chunks, device, unit_threads)
    bars = {}
    if prog is not None and backend.in_process:  # epochs are seen only in this process
        for u in units:
            bars[u.key] = u.kwargs["progress"] = _EpochProgress(prog, u.key, cfg.epochs_rec)

    def keep(unit: Any, rows: list[Row]) -> None:
        if unit.key in bars:
            bars.pop(unit.key).close()
        finished.extend(rows)
        if folder is not None:
            write_results(folder.results, finished)

    try:
        run_units(backend, units, keep, progress=prog)
    finally:
        for bar in bars.values():
            bar.close()
        if prog is not None:
            prog.close()


def mean_map(rows: Sequence[Row], key: str) -> tuple[list[int | None], list[float], np.ndarray]:
    """Mean of ``key`` over seeds on the (rank, τ⋆) grid: ranks (LTTS first, then descending
    rank, as in the paper's figure), τ⋆ (ascending) and the ``(R, τ⋆)`` array (NaN where a
    point is missing)."""
    ranks = sorted({r["rank"] for r in rows}, key=lambda r: (r is not None, -(r or 0)))
    taus = sorted({float(r["tau_star"]) for r in rows})
    acc = np.zeros((len(ranks), len(taus)))
    cnt = np.zeros_like(acc)
    for r in rows:
        val = r.get(key)
        if val is None or not math.isfinite(float(val)):
            continue
        i, j = ranks.index(r["rank"]), taus.index(float(r["tau_star"]))
        acc[i, j] += float(val)
        cnt[i, j] += 1
    with np.errstate(invalid="ignore"):
        return ranks, taus, np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)


def format_map(rows: Sequence[Row], key: str = "final_mse", fmt: str = "{:.4g}") -> str:
    """Markdown table of the seed-mean of ``key`` over (rank, τ⋆)."""
    ranks, taus, m = mean_map(rows, key)
    lines = ["| R \\ τ⋆ | " + " | ".join(f"{t:g}" for t in taus) + " |",
             "|---" * (len(taus) + 1) + "|"]
    for i, r in enumerate(ranks):
        cells = ["–" if not np.isfinite(x) else fmt.format(x) for x in m[i]]
        lines.append(f"| {rank_label(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
