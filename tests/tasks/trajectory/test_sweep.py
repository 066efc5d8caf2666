"""Batched (R, τ⋆) sweeps: the chunked engine path, ``run_sweep`` and the CLI."""

import json

import numpy as np
import pytest
import torch

from goal_rl.common.cli import run_main
from goal_rl.config import GoalConfig
from goal_rl.engines.torch_batch import GoalBatch
from goal_rl.tasks.trajectory import sweep as sweep_mod
from goal_rl.tasks.trajectory.benchmark import problem
from goal_rl.tasks.trajectory.benchmark import train as single_run
from goal_rl.tasks.trajectory.sweep import check_grid, format_map, run_sweep
from goal_rl.tasks.trajectory.sweep_cli import main

SMALL = dict(n_rec=40, t_seq=60, n_out=3, n_inp=5, dtype="float64")
TINY = dict(n_rec=24, t_seq=40, n_out=3, n_inp=5, epochs_rec=4, dtype="float64")


def _batch(cfg, specs, fold, M=1):
    probs = [problem(cfg, s) for s, _, _ in specs]
    gb = GoalBatch(cfg, [p[0] for p in probs], [r for _, r, _ in specs],
                   [t for _, _, t in specs], [p[3] for p in probs])
    gb._fold_every = fold
    x = np.repeat(np.stack([p[1] for p in probs], axis=1)[:, :, None], M, axis=2)
    y = np.repeat(np.stack([p[2] for p in probs], axis=1)[:, :, None], M, axis=2)
    gb.set_task(x, y)
    return gb


@pytest.mark.parametrize("feedback,M", [("spk", 1), ("spk", 2), ("out", 1)])
def test_chunked_update_equals_per_step(feedback, M):
    """Buffered rank-M updates folded every C steps (dense on any device, spike-gathered on
    the CPU) give the per-step path's spikes and MSE (float64, to 1e-12) and its weights up to
    rounding. The weights' tolerance is set by the task, not by the engine: for R = N at small
    τ⋆ a one-ulp change of the targets P already moves W by ~1e-10 after two epochs, because
    g = P − D ŝ cancels."""
    cfg = GoalConfig(**SMALL, feedback=feedback, sigma_rec=0.3)
    specs = ([(0, None, 5.0), (1, 3, 22.0), (2, 40, 2.0), (0, 10, 8.0)] if feedback == "spk"
             else [(1, 3, 22.0), (2, 40, 2.0), (0, 25, 8.0)])
    ref = _batch(cfg, specs, 1, M)
    h_ref = ref.train(2, progress=False)
    scale = ref.w_rec.abs().max()
    for fold in (2, 7, 16):
        gb = _batch(cfg, specs, fold, M)
        h = gb.train(2, progress=False)
        np.testing.assert_allclose(h.mse, h_ref.mse, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(h.dz, h_ref.dz)
        assert torch.equal(gb.z, ref.z)
        assert ((gb.w_rec - ref.w_rec).abs().max() / scale).item() < 1e-8
        assert torch.all(torch.diagonal(gb.w_rec, dim1=1, dim2=2) == 0)


def test_chunked_dense_path_and_auto_choice():
    """The dense chunked path (used off the CPU) equals the per-step path too; the automatic
    choice keeps the per-step path for one network and makes equal chunks for large K·N²."""
    cfg = GoalConfig(**SMALL)
    specs = [(0, None, 5.0), (1, 40, 2.0), (2, 3, 13.0)]
    ref = _batch(cfg, specs, 1)
    h_ref = ref.train(2, progress=False)
    gb = _batch(cfg, specs, 5)
    gb._sparse_gather = False
    h = gb.train(2, progress=False)
    assert gb._G is None  # the spike-gather table was not used
    np.testing.assert_allclose(h.mse, h_ref.mse, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(h.dz, h_ref.dz)
    single = _batch(GoalConfig(n_rec=150, t_seq=20), [(0, None, 5.0)], None)
    assert single._update_every(1, 150) == 1
    many = _batch(GoalConfig(n_rec=150, t_seq=20), [(s, None, 5.0) for s in range(8)], None)
    assert many._update_every(1, 150) == 30 and many._update_every(1, 20) == 20


@pytest.mark.parametrize("protocol", ["paper", "fixed_tau_o"])
def test_sweep_rows_equal_single_runs(protocol):
    """Every point of a batched sweep equals ``python -m goal_rl.trajectory`` with that seed:
    under the paper's protocol with ``-To τ⋆ -Rlr 0.05``, with ``--fixed-tau-o`` as given."""
    cfg = GoalConfig(**TINY)
    rows = run_sweep([3, None], [2.0, 8.0], [0, 1], cfg, chunk=3, progress=False,
                     protocol=protocol)
    assert [(r["rank"], r["tau_star"], r["seed"]) for r in rows] == [
        (3, 2.0, 0), (3, 2.0, 1), (3, 8.0, 0), (3, 8.0, 1),
        (None, 2.0, 0), (None, 2.0, 1), (None, 8.0, 0), (None, 8.0, 1)]
    for r in rows:
        assert r["tau_o"] == (r["tau_star"] if protocol == "paper" else cfg.tau_o)
        assert r["rec_lr"] == pytest.approx(0.05 if protocol == "paper" else cfg.eta)
    for r in rows[::3]:
        point = cfg.replace(rank=r["rank"], tau_star=r["tau_star"], seed=r["seed"])
        if protocol == "paper":
            point = point.replace(tau_o=r["tau_star"], rec_lr=0.05)
        one = single_run(point, progress=False, backend="torch")
        assert r["final_mse"] == pytest.approx(one.final_mse, rel=1e-10)
        assert r["final_dz"] == one.final_dz
        assert r["readout_mse"] == pytest.approx(one.readout_mse, rel=1e-10)
        assert r["conv_epoch"] == one.conv_epoch
        assert r["min_mse"] == pytest.approx(float(np.min(one.mse)), rel=1e-10)


def test_resume_refuses_the_other_protocol(tmp_path):
    out = tmp_path / "sw"
    cfg = GoalConfig(**TINY)
    run_sweep([3], [3.0], [0], cfg, out=out, progress=False, figures=False)
    assert json.loads((out / "sweep.json").read_text())["protocol"] == "paper"
    with pytest.raises(ValueError, match="protocol \\('paper' there, 'fixed_tau_o' now"):
        run_sweep([3], [3.0], [0], cfg, out=out, resume=True, progress=False,
                  protocol="fixed_tau_o")
    with pytest.raises(ValueError, match="protocol must be one of"):
        run_sweep([3], [3.0], [0], cfg, protocol="paperish")


def test_outputs_resume_and_foreign_config(tmp_path, monkeypatch):
    out = tmp_path / "sw"
    cfg = GoalConfig(**TINY)
    rows = run_sweep([3, 24], [3.0], [0], cfg, out=out, progress=False)
    for name in ("sweep.json", "results.jsonl", "table.csv", "table.json", "mse_map.png",
                 "dz_map.png", "conv_map.png", "mse_vs_tau.png", "sweep_summary.png"):
        assert (out / name).stat().st_size > 0, name
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["rank"] == 3
    header = (out / "table.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["rank", "tau_star", "seed", "final_mse", "final_dz", "conv_epoch",
                          "readout_mse"]
    # an interrupted sweep: one point of the batch finished; resume trains the batch again
    # whole (fixed batch boundaries), so the rows equal the uninterrupted run's exactly
    (out / "results.jsonl").write_text(lines[0] + "\n")
    trained = []
    real = sweep_mod.run_points

    def spy(c, pts, **kw):
        trained.extend(pts)
        return real(c, pts, **kw)

    monkeypatch.setattr(sweep_mod, "run_points", spy)
    again = run_sweep([3, 24], [3.0], [0], cfg, out=out, resume=True, progress=False)
    assert [p[:3] for p in trained] == [(3, 3.0, 0), (24, 3.0, 0)]
    assert [r["final_mse"] for r in again] == [r["final_mse"] for r in rows]
    assert len((out / "results.jsonl").read_text().splitlines()) == 2  # each point once
    trained.clear()
    run_sweep([3, 24], [3.0], [0], cfg, out=out, resume=True, progress=False, figures=False)
    assert trained == []
    # a different configuration is refused and nothing is touched
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ValueError, match="different configuration.*n_rec"):
        run_sweep([3], [3.0], [0], cfg.replace(n_rec=30), out=out, resume=True,
                  progress=False)
    with pytest.raises(ValueError, match="different configuration.*tau_stars"):
        run_sweep([3, 24], [5.0], [0], cfg, out=out, resume=True, progress=False)
    with pytest.raises(ValueError, match="already holds a sweep"):
        run_sweep([3, 24], [3.0], [0], cfg, out=out, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("argv,needle", [
    (["--ranks"], "expected at least one argument"),
    (["--ranks", "2"], "outside [O, N]"),
    (["--ranks", "41"], "outside [O, N]"),
    (["--ranks", "abc"], "invalid rank"),
    (["--tau-star", "0"], "must be a positive number"),
    (["--tau-star", "-3"], "must be a positive number"),
    (["--seeds", "-1"], "must be >= 0"),
    (["-F", "out", "--ranks", "3", "ltts"], "needs a rank"),
    (["-E", "10", "0", "--ranks", "3"], "at least one recurrent epoch"),
])
def test_cli_bad_input(tmp_path, capsys, argv, needle):
    out = tmp_path / "never"
    code = run_main(main, ["-N", "40", "--out", str(out), "--no-progress", *argv],
                    prog="python -m goal_rl.sweep")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and needle in err, err
    assert not out.exists()


def test_cli_resume_foreign_dir_and_empty_grid(tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["-N", "24", "-T", "30", "-E", "5", "2", "--ranks", "3", "--tau-star", "4",
            "--out", str(out), "--no-progress", "--no-figures", "--dtype", "float64"]
    assert run_main(main, args) == 0
    assert "| 3 |" in capsys.readouterr().out
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run_main(main, [*args, "--resume", "-T", "31"], prog="sweep") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different configuration" in err and "t_seq" in err
    assert run_main(main, args, prog="sweep") == 2  # without --resume
    assert "--resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(ValueError, match="empty grid"):
        check_grid([], [1.0], [0], GoalConfig())
    with pytest.raises(ValueError, match="empty grid"):
        run_sweep([3], [], [0], GoalConfig(**TINY), progress=False)


def test_format_map_and_mean_over_seeds():
    rows = [{"rank": r, "tau_star": t, "seed": s, "final_mse": v}
            for (r, t, s, v) in [(3, 1.0, 0, 0.1), (3, 1.0, 1, 0.3), (None, 1.0, 0, 0.5)]]
    text = format_map(rows)
    assert "| LTTS | 0.5 |" in text and "| 3 | 0.2 |" in text
    assert text.count("\n") == 3
