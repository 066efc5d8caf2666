"""goal_rl.engines.numpy_engine against the torch engine: equivalence, torch-free import, bad
input.

Equivalence grid, float64, same seed, N = 150, T = 150 (the trajectory task's default), 50
recurrent epochs: every per-epoch spike raster identical, MSE equal to 1e-9, ΔZ equal.

Why LTTS and R = N run at ``rec_lr = 0.01`` and not at the default η = 5/√N ≈ 0.41
(this is NOT a loosened test): at the default η these two rules amplify any rounding-level
difference between the two engines, which sum in a different order (the NumPy engine folds
the rank-one updates in lazily), by 4–90× per epoch (typically ≈ 20×), with no spike flip
needed, because the update depends smoothly on v through σ'(v). Measured at N = 150, seed 0:
max|W_torch − W_numpy| = 3e-14 after epoch 1, 3e-5 after epoch 10, and the rasters part
after epoch 8–27 (seeds 0–2, N = 100–150). Two float64 implementations of the same maths
cannot agree there, whatever their quality. At η = 0.05 the growth is still 1.3–1.7× per
epoch (seed 2 parts at epoch ≈ 50); at η = 0.01 it is ≤ 1.17× per epoch and max|ΔW| after
50 epochs ≤ 2e-12 over seeds 0–5. R = O, ``out`` with R = 2·O and resampling with R = 2·O
amplify slowly enough at the default η: ≤ 1.17× per epoch, max|ΔW| after 50 epochs
≤ 1.4e-10 over seeds 0–5. (Resampling with R = O would be vacuous: there are no random
columns to redraw.)
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goal_rl.common.cli import run_main
from goal_rl.config import GoalConfig
from goal_rl.engines.numpy_engine import NumpyGoal
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.tasks.trajectory import benchmark as tr
from goal_rl.tasks.trajectory.benchmark import problem

REPO = Path(__file__).resolve().parents[2]
N_REC = 150
T_SEQ = 150
EPOCHS = 50
SEED = 0
TAU_STAR = 5.0

#: name -> GoalConfig overrides; see the module docstring for the two ``rec_lr`` values.
GRID: dict[str, dict[str, Any]] = {
    "ltts": {"rank": None, "rec_lr": 0.01},
    "spk_R=O": {"rank": 3},
    "spk_R=N": {"rank": N_REC, "rec_lr": 0.01},
    "out_R=2O": {"rank": 6, "feedback": "out"},
    "resample_R=2O": {"rank": 6, "resample": True},
}


def _record(net: Any, to_numpy: Callable[[Any], np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Wrap ``net.simulate`` to keep a copy of every raster ``(T, N)`` and, after each
    learning epoch, of ``w_rec (N, N)``. The first raster is the internal target z*."""
    rec: dict[str, list[np.ndarray]] = {"z": [], "w": []}
    original = net.simulate

    def simulate(current: Any, learn: dict | None = None, out: Any = None) -> Any:
        z = original(current, learn=learn, out=out)
        rec["z"].append(to_numpy(z).copy())
        if learn is not None:
            rec["w"].append(to_numpy(net.w_rec).copy())
        return z

    net.simulate = simulate
    return rec


def _pair(cfg: GoalConfig) -> tuple[GoalBatch, NumpyGoal]:
    """The two engines on the same problem (same weights, task and feedback generator)."""
    w, x, y, rng = problem(cfg, cfg.seed)
    t = GoalBatch(cfg, [w], [cfg.rank], [cfg.tau_star_eff], [rng])
    t.set_task(x[:, None, None], y[:, None, None])
    w, x, y, rng = problem(cfg, cfg.seed)
    n = NumpyGoal(cfg, w, cfg.rank, cfg.tau_star_eff, rng)
    n.set_task(x[:, None], y[:, None])
    return t, n


@pytest.mark.parametrize("name", list(GRID))
def test_equivalence_grid_every_epoch(name: str) -> None:
    cfg = GoalConfig(n_rec=N_REC, t_seq=T_SEQ, tau_star=TAU_STAR, seed=SEED, dtype="float64",
                     **GRID[name]).validate()
    t, n = _pair(cfg)
    w0 = n.w_rec.copy()
    rec_t = _record(t, lambda a: a.detach().cpu().numpy().reshape(T_SEQ, -1) if a.dim() == 4
                    else a[0].detach().cpu().numpy())
    rec_n = _record(n, lambda a: a.reshape(T_SEQ, -1) if a.ndim == 3 else a)
    ht = t.train(EPOCHS, progress=False)
    hn = n.train(EPOCHS, progress=False)

    assert len(rec_t["z"]) == len(rec_n["z"]) == EPOCHS + 1
    dw = [float(np.abs(a - b).max()) for a, b in zip(rec_t["w"], rec_n["w"])]
    trace = ", ".join(f"{e + 1}:{d:.1e}" for e, d in enumerate(dw) if e % 5 == 4 or e < 3)
    for ep, (zt, zn) in enumerate(zip(rec_t["z"], rec_n["z"])):
        if not np.array_equal(zt, zn):
            what = "internal target z*" if ep == 0 else f"epoch {ep}"
            pytest.fail(f"{name}: rasters differ at {what} ({int(np.abs(zt - zn).sum())} "
                        f"spikes); max|W_torch - W_numpy| per epoch: {trace}")
    np.testing.assert_allclose(ht.readout_mse, hn.readout_mse, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ht.mse[:, 0], hn.mse[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ht.dz[:, 0], hn.dz[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ht.dz[:, 0], hn.dz[:, 0])
    # measured ≤ 1.4e-10 over seeds 0–5 (module docstring): 1e-8 still leaves a margin
    assert dw[-1] < 1e-8, trace
    if cfg.rank is not None:  # the same feedback columns (redrawn 49 times with resample)
        np.testing.assert_allclose(t.learn["Q"][0].numpy(), n.learn["Q"], rtol=0, atol=1e-12)
    # not vacuous: the weights moved and the free-run raster changed during training
    assert np.abs(n.w_rec - w0).max() > 1e-2
    assert not np.array_equal(rec_n["z"][1], rec_n["z"][-1])


def _input_learning_pair(rec_lr: float, inp_lr: float, fold: int | None, dense: bool = False
                         ) -> tuple[GoalBatch, NumpyGoal, dict[str, np.ndarray]]:
    """Both engines on an 8-trial problem (N = 40, T = 60) with input learning."""
    from goal_rl.engines.common import init_weights

    N, T, M, I, O = 40, 60, 8, 3, 2
    cfg = GoalConfig(n_rec=N, n_inp=I, n_out=O, t_seq=T, rank=N, tau_star=3.0, rec_lr=rec_lr,
                     inp_lr=inp_lr, sigma_inp=10.0, dtype="float64").validate()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, M, I))
    y = np.sin(np.linspace(0, 6, T))[:, None, None] * rng.normal(size=(1, M, O))
    w = init_weights(I, N, O, sigma_inp=10.0, sigma_trg=cfg.sigma_trg, sigma_rec=0.0,
                     rng=np.random.default_rng(2))
    t = GoalBatch(cfg, [w], [N], [3.0], [np.random.default_rng(3)])
    t._fold_every = fold
    if dense:  # the chunked path's dense products, as on CUDA
        t._sparse_gather = False
    t.set_task(x[:, None], y[:, None])
    n = NumpyGoal(cfg, w, N, 3.0, np.random.default_rng(3))
    n.set_task(x, y)
    return t, n, w


@pytest.mark.parametrize("rec_lr, fold, dense", [(0.01, 1, False), (0.01, 4, False),
                                                 (0.01, 4, True), (0.0, 1, False),
                                                 (0.0, 4, False)])
def test_input_learning_same_in_both_engines(rec_lr: float, fold: int, dense: bool) -> None:
    """``inp_lr`` > 0 trains W_in by the same rule (input eligibility trace): both engines,
    torch per step (fold 1) and chunked (fold 4; sparse CPU gathers or the dense products
    used on CUDA), give the same W_in, W_rec and errors; with ``rec_lr`` = 0 only W_in
    moves."""
    t, n, w = _input_learning_pair(rec_lr, 0.002, fold, dense)
    ht = t.train(15, progress=False)
    hn = n.train(15, progress=False)
    np.testing.assert_allclose(ht.mse[:, 0], hn.mse[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.w_in[0].numpy(), n.w_in, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.w_rec[0].numpy(), n.w_rec, rtol=0, atol=1e-10)
    np.testing.assert_allclose(t.x_current[:, 0, :, :].numpy(), n.x_current, atol=1e-8)
    assert np.abs(n.w_in - w["w_in"]).max() > 0.05  # the input weights moved
    if rec_lr == 0:
        assert np.array_equal(n.w_rec, w["w_rec"])
    else:
        assert np.abs(n.w_rec - w["w_rec"]).max() > 0.05


@pytest.mark.parametrize("rank, M", [(2, 8), (40, 8), (None, 8), (40, 20)])
def test_equivalence_many_trials_with_folds(rank: int | None, M: int) -> None:
    """M trials of T = 60 steps, N = 40: the NumPy engine folds its buffered updates into
    ``w_rec`` every N / M = 5 steps (M = 8) or every 2 steps (M = 20; the walker clones train
    on ~100 trials); rasters of every epoch, MSE and the final weights still equal the
    torch engine's (float64)."""
    from goal_rl.engines.common import init_weights

    N, T, I, O, ts = 40, 60, 3, 2, 3.0
    cfg = GoalConfig(n_rec=N, n_inp=I, n_out=O, t_seq=T, rank=rank, tau_star=ts, rec_lr=0.01,
                     sigma_inp=10.0, dtype="float64").validate()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, M, I))
    y = np.sin(np.linspace(0, 6, T))[:, None, None] * rng.normal(size=(1, M, O))
    w = init_weights(I, N, O, sigma_inp=10.0, sigma_trg=cfg.sigma_trg, sigma_rec=0.0,
                     rng=np.random.default_rng(2))
    t = GoalBatch(cfg, [w], [rank], [ts], [np.random.default_rng(3)])
    t.set_task(x[:, None], y[:, None])
    n = NumpyGoal(cfg, w, rank, ts, np.random.default_rng(3))
    n.set_task(x, y)
    rec_t = _record(t, lambda a: a.detach().cpu().numpy().reshape(T, -1) if a.dim() == 4
                    else a[0].detach().cpu().numpy())
    rec_n = _record(n, lambda a: a.reshape(T, -1) if a.ndim == 3 else a)
    ht = t.train(20, progress=False)
    hn = n.train(20, progress=False)
    for ep, (zt, zn) in enumerate(zip(rec_t["z"], rec_n["z"])):
        assert np.array_equal(zt, zn), f"rasters differ at epoch {ep}"
    np.testing.assert_allclose(ht.mse[:, 0], hn.mse[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.w_rec[0].numpy(), n.w_rec, rtol=0, atol=1e-10)
    assert np.abs(n.w_rec - w["w_rec"]).max() > 0.1  # the weights did move
    assert np.all(np.diag(n.w_rec) == 0.0)


def test_equivalence_through_the_command_line(tmp_path: Path) -> None:
    """``--dtype float64 --seed 0``: the saved curves of both ``--backend`` values agree."""
    curves = {}
    for backend in ("numpy", "torch"):
        save = tmp_path / backend
        code = run_main(tr.main, ["-N", str(N_REC), "-T", str(T_SEQ), "-R", "3", "-E", "0",
                                  str(EPOCHS), "--dtype", "float64", "--seed", str(SEED),
                                  "--backend", backend, "--no-progress", "-savepath",
                                  str(save)], prog="python -m goal_rl.trajectory")
        assert code == 0
        curves[backend] = pickle.loads(save.with_suffix(".pkl").read_bytes())
    (rn, mn, dn), (rt, mt, dt) = curves["numpy"], curves["torch"]
    assert rn == pytest.approx(rt, rel=1e-9)
    np.testing.assert_allclose(mn, mt, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(dn, dt)


# ------------------------------------------------------------------ torch absent
_BLOCK_TORCH = """
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoTorch())
try:
    import torch  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("the torch block did not work")
"""

_USE_NUMPY_BACKEND = """
import runpy
import sys

import numpy as np

import goal_rl
import goal_rl.engines.numpy_engine as nb
from goal_rl.tasks.trajectory import benchmark as tr

assert goal_rl.NumpyGoal is nb.NumpyGoal
par = dict(tr.default, n_rec=30, t_seq=40, epochs=(0, 5), rank=3)
res = tr.train(par, progress=False, backend="numpy")
assert res.backend == "numpy" and res.mse.shape == (5,) and np.all(np.isfinite(res.mse))
auto = tr.train(par, progress=False, backend="auto")
assert auto.backend in ("numpy", "compiled")  # compiled when numba is installed
np.testing.assert_array_equal(auto.mse, res.mse)
ltts = tr.train(dict(par, rank=None, resample=True), progress=False, backend="numpy")
assert ltts.dz.shape == (5,)
sys.argv = ["goal_rl.trajectory", "-N", "20", "-T", "30", "-E", "0", "3", "--no-progress",
            "--backend", "numpy", "--out", OUT, "--plot"]
try:
    runpy.run_module("goal_rl.trajectory", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    assert exc.code == 0, exc.code
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not loaded, loaded
if BLOCKED:
    try:
        tr.train(par, progress=False, backend="torch")
    except ImportError:
        pass
    else:
        raise AssertionError("backend='torch' ran without torch")
print("numpy backend OK")
"""


@pytest.mark.parametrize("blocked", [True, False], ids=["torch-blocked", "torch-installed"])
def test_numpy_backend_runs_without_torch(blocked: bool, tmp_path: Path) -> None:
    """Blocked: the NumPy path works with torch absent. Installed: it never loads torch."""
    out = tmp_path / "out"
    code = (_BLOCK_TORCH if blocked else "") + f"\nOUT = {str(out)!r}\nBLOCKED = {blocked}\n" \
        + textwrap.dedent(_USE_NUMPY_BACKEND)
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg", SDL_VIDEODRIVER="dummy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "numpy backend OK" in proc.stdout
    assert (out / "summary.json").exists() and (out / "plot.png").exists()


# ------------------------------------------------------------------ bad input, both engines
def _errors(make_numpy: Callable[[], Any], make_torch: Callable[[], Any]) -> tuple[str, str]:
    """Run both constructors; each must raise ``ValueError``. Returns the two messages."""
    msgs = []
    for make in (make_numpy, make_torch):
        with pytest.raises(ValueError) as info:
            make()
        msgs.append(str(info.value))
    return msgs[0], msgs[1]


SMALL = GoalConfig(n_rec=20, t_seq=30, dtype="float64")


@pytest.mark.parametrize("rank, tau_star, needle", [
    (2, 5.0, "rank R=2 is outside [O, N] = [3, 20]"),
    (21, 5.0, "rank R=21 is outside [O, N] = [3, 20]"),
    (0, 5.0, "rank R=0 is outside"),
    (3.5, 5.0, "rank must be an integer"),
    (True, 5.0, "rank must be an integer"),
    (3, 0.0, "tau_star must be a positive number, got 0.0"),
    (3, -2.0, "tau_star must be a positive number"),
    (None, float("nan"), "tau_star must be a positive number, got nan"),
    (None, float("inf"), "tau_star must be a positive number, got inf"),
    (3, "5", "tau_star must be a positive number"),
])
def test_bad_rank_and_tau_star_same_error(rank: Any, tau_star: Any, needle: str) -> None:
    w, _, _, rng = problem(SMALL, 0)
    msg_n, msg_t = _errors(lambda: NumpyGoal(SMALL, w, rank, tau_star, rng),
                           lambda: GoalBatch(SMALL, [w], [rank], [tau_star], [rng]))
    assert msg_n == msg_t
    assert needle in msg_n


def test_out_feedback_without_rank_rejected_by_both() -> None:
    cfg = SMALL.replace(feedback="out")
    w, _, _, rng = problem(cfg, 0)
    msg_n, msg_t = _errors(lambda: NumpyGoal(cfg, w, None, 5.0, rng),
                           lambda: GoalBatch(cfg, [w], [None], [5.0], [rng]))
    # same sentence; the torch one adds "for every network" (it holds K networks)
    for msg in (msg_n, msg_t):
        assert msg.startswith("output-level feedback ('out') needs a rank")


def test_wrong_task_shapes_same_error() -> None:
    w, x, y, rng = problem(SMALL, 0)
    t = GoalBatch(SMALL, [w], [3], [5.0], [rng])
    n = NumpyGoal(SMALL, w, 3, 5.0, rng)
    # wrong number of inputs / outputs: identical messages
    x4, y2 = x[:, :4], y[:, :2]
    msg_n, msg_t = _errors(lambda: n.set_task(x4[:, None], y[:, None]),
                           lambda: t.set_task(x4[:, None, None], y[:, None, None]))
    assert msg_n == msg_t == "x has 4 inputs, network expects 5"
    msg_n, msg_t = _errors(lambda: n.set_task(x[:, None], y2[:, None]),
                           lambda: t.set_task(x[:, None, None], y2[:, None, None]))
    assert msg_n == msg_t == "y_star has 2 outputs, network has 3"
    # missing trial axes: each engine names its own layout, (T, M, ·) or (T, K, M, ·)
    msg_n, msg_t = _errors(lambda: n.set_task(x, y), lambda: t.set_task(x, y))
    assert msg_n.startswith("x and y_star must be 3-D (T, M, ·)")
    assert msg_t.startswith("x and y_star must be 4-D (T, K, M, ·)")
    # hints for a network without hint weights
    h = np.zeros((SMALL.t_seq, 2))
    msg_n, msg_t = _errors(lambda: n.set_task(x[:, None], y[:, None], h[:, None]),
                           lambda: t.set_task(x[:, None, None], y[:, None, None],
                                              h[:, None, None]))
    assert "no hint weights" in msg_n and "no hint weights" in msg_t


@pytest.mark.parametrize("overrides, needle", [
    ({"rank": 2}, "rank R=2 is outside [O, N] = [3, 20]"),
    ({"rank": 21}, "rank R=21 is outside [O, N] = [3, 20]"),
    ({"tau_star": 0.0}, "tau_star must be a positive number"),
    ({"tau_star": -1.0}, "tau_star must be a positive number"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"feedback": "both"}, "feedback must be one of"),
    ({"n_rec": 0}, "n_rec must be an integer >= 1"),
    ({"epochs": (0,)}, "epochs must be two integers"),
    ({"feedback": "out"}, "output-level feedback ('out') needs a rank"),
])
def test_train_bad_input_same_for_both_backends(overrides: dict, needle: str) -> None:
    par = {**tr.default, "n_rec": 20, "t_seq": 30, "epochs": (0, 1), "dtype": "float64",
           **overrides}
    msgs = []
    for backend in ("numpy", "torch"):
        with pytest.raises(ValueError) as info:
            tr.train(par, progress=False, backend=backend)
        msgs.append(str(info.value))
    assert needle in msgs[0] and needle in msgs[1]
    if overrides != {"feedback": "out"}:  # see test_out_feedback_without_rank_rejected_by_both
        assert msgs[0] == msgs[1]


def test_numpy_backend_on_cuda_is_an_input_error() -> None:
    par = dict(tr.default, n_rec=20, t_seq=30, epochs=(0, 1), gpu=True)
    with pytest.raises(ValueError, match="numpy backend runs on the CPU only"):
        tr.train(par, progress=False, backend="numpy")
    with pytest.raises(ValueError, match="CPU only"):
        NumpyGoal(GoalConfig(n_rec=20, device="cuda"), problem(SMALL, 0)[0], 3, 5.0,
                  np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown backend"):
        tr.train(dict(par, gpu=False), progress=False, backend="jax")


@pytest.mark.parametrize("args", [["-R", "2"], ["-R", "21"], ["--tau-star", "0"],
                                  ["--dtype", "float16"], ["-F", "both"]])
def test_cli_bad_input_same_for_both_backends(args: list[str], capsys: Any) -> None:
    errs = []
    for backend in ("numpy", "torch"):
        code = run_main(tr.main, ["-N", "20", "-T", "30", "-E", "0", "1", "--backend", backend,
                                  *args], prog="python -m goal_rl.trajectory")
        assert code == 2
        errs.append(capsys.readouterr().err)
    assert errs[0] == errs[1] and errs[0].count("\n") == 1
