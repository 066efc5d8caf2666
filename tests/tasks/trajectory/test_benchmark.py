"""The ND-trajectory task, its script API and its command line."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from goal_rl.common.cli import run_main
from goal_rl.config import GoalConfig
from goal_rl.tasks.trajectory import benchmark as tr


def cli(*args):
    return run_main(tr.main, list(args), prog="python -m goal_rl.trajectory")


def test_clock_and_target():
    x = tr.build_clock(150, 5)
    assert x.shape == (150, 5)
    # input k is on for [k·29, (k+1)·29), one input at a time, last step silent
    assert x[0, 0] == 1 and x[28, 0] == 1 and x[29, 0] == 0 and x[29, 1] == 1
    assert x.sum(axis=1).max() == 1 and x[145:].sum() == 0 and x.sum() == 145
    y = tr.build_target(150, 3, 0)
    assert y.shape == (150, 3) and np.abs(y).max() == pytest.approx(1.0)
    assert np.all(y[:8] == 0) and np.all(np.abs(y[8:]).max(axis=0) > 0.1)
    # after the offset each output is exactly a sum of sines of frequency 1, 2, 3 and 5 over
    # [0, 2π]: least squares on that basis leaves no residual, and frequency 4 is absent
    tt = np.linspace(0.0, 2.0 * np.pi, 150)[8:]
    basis = np.stack([g(f * tt) for f in (1, 2, 3, 5) for g in (np.sin, np.cos)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y[8:], rcond=None)
    np.testing.assert_allclose(basis @ coef, y[8:], atol=1e-12)
    # amplitudes (4, O): the U(0, 1) draws of each output (amplitudes then phases), all
    # divided by the same global maximum
    amp = np.hypot(coef[0::2], coef[1::2])
    rng = np.random.default_rng(0)
    drawn = np.zeros((4, 3))
    for o in range(3):
        drawn[:, o] = rng.uniform(0.0, 1.0, 4)
        rng.uniform(0.0, 2.0 * np.pi, 4)  # this output's phases
    scale = amp / drawn
    np.testing.assert_allclose(scale, scale[0, 0], rtol=1e-9)
    four = np.stack([np.sin(4 * tt), np.cos(4 * tt)], axis=1)
    c4, *_ = np.linalg.lstsq(np.concatenate([basis, four], axis=1), y[8:], rcond=None)
    np.testing.assert_allclose(c4[-2:], 0.0, atol=1e-9)
    np.testing.assert_array_equal(y, tr.build_target(150, 3, 0))
    assert not np.allclose(y, tr.build_target(150, 3, 1))


def test_script_api_dict_and_dataclass():
    par = dict(tr.default, n_rec=30, t_seq=40, epochs=(0, 4))
    a = tr.train(par, progress=False)
    b = tr.train(GoalConfig(n_rec=30, t_seq=40, epochs_rec=4), progress=False)
    assert a.mse.shape == (4,) and a.dz.shape == (4,)
    np.testing.assert_array_equal(a.mse, b.mse)  # same defaults, same seed
    with pytest.raises(ValueError, match="unknown parameter"):
        tr.train(dict(tr.default, n_rec=30, bogus=1))
    with pytest.raises(ValueError, match="n_rec"):
        tr.train(dict(tr.default))


def test_same_seed_same_curves_other_seed_differs():
    kw = dict(n_rec=40, t_seq=50, epochs=(0, 5))
    a = tr.train(dict(tr.default, **kw, seed=3), progress=False)
    b = tr.train(dict(tr.default, **kw, seed=3), progress=False)
    c = tr.train(dict(tr.default, **kw, seed=4), progress=False)
    np.testing.assert_array_equal(a.mse, b.mse)
    np.testing.assert_array_equal(a.dz, b.dz)
    assert not np.array_equal(a.mse, c.mse)


def test_torch_backend_same_run_as_numpy_in_float64():
    kw = dict(n_rec=40, t_seq=50, epochs=(0, 8), rank=3, dtype="float64")
    a = tr.train(dict(tr.default, **kw), progress=False, backend="numpy")
    b = tr.train(dict(tr.default, **kw), progress=False, backend="torch")
    assert (a.backend, b.backend) == ("numpy", "torch")
    np.testing.assert_allclose(a.mse, b.mse, atol=1e-9)
    np.testing.assert_array_equal(a.spikes, b.spikes)


def test_parser_every_flag():
    args = tr.build_parser().parse_args(
        "-n_rec 20 -n_inp 4 -n_out 2 -t_seq 30 -epochs 7 9 -rank 5 -rec_lr 0.1 -out_lr 0.01 "
        "--resample -tau_m 6 -tau_s 3 -tau_o 4 -sigma_inp 10 -sigma_trg 2 -Vo -3 -bias -2 "
        "-reset -10 -dt 0.002 --V -feedback out --tau-star 7 --sigma-rec 0.5 --seed 4 "
        "--readout gd --dtype float64 --backend torch -savepath x --out d --plot".split())
    cfg = tr.config_from_args(args)
    assert (cfg.n_rec, cfg.n_inp, cfg.n_out, cfg.t_seq) == (20, 4, 2, 30)
    assert (cfg.epochs_out, cfg.epochs_rec, cfg.rank, cfg.rec_lr, cfg.out_lr) == (7, 9, 5, 0.1,
                                                                                   0.01)
    assert cfg.resample and (cfg.tau_m, cfg.tau_s, cfg.tau_o, cfg.tau_star) == (6, 3, 4, 7)
    assert (cfg.sigma_inp, cfg.sigma_trg, cfg.sigma_rec) == (10, 2, 0.5)
    assert (cfg.v0, cfg.bias, cfg.reset, cfg.dt, cfg.seed) == (-3, -2, -10, 0.002, 4)
    assert (cfg.feedback, cfg.readout, cfg.dtype) == ("out", "gd", "float64")
    assert args.verbose and args.plot and args.savepath == "x" and args.out == "d"
    short = tr.build_parser().parse_args("-N 20 -I 4 -O 2 -T 30 -E 1 2 -R 5 -Rlr 0.1 -Olr 0.01 "
                                         "-Tm 6 -Ts 3 -To 4 -Si 10 -St 2 -B -2 -rst -10 "
                                         "-F spk".split())
    assert (short.n_rec, short.rank, short.tau_o, short.bias, short.reset) == (20, 5, 4, -2, -10)
    pre = tr.config_from_args(tr.build_parser().parse_args("-N 20 --preset eprop".split()))
    assert pre.rank == 3 and pre.tau_star == 100


def test_gpu_and_out_fallbacks(capsys):
    args = tr.build_parser().parse_args("-N 20 -F out".split())
    cfg = tr.config_from_args(args)
    assert cfg.feedback == "spk" and "falling back" in capsys.readouterr().err
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        cfg = tr.config_from_args(tr.build_parser().parse_args("-N 20 --gpu".split()))
        assert cfg.device == "cpu" and "CUDA is not available" in capsys.readouterr().err


def test_savepath_pickle_json_and_out(tmp_path, capsys):
    save = tmp_path / "run1"
    out = tmp_path / "out"
    assert cli("-N", "30", "-T", "40", "-E", "10", "5", "-savepath", str(save), "--out",
               str(out), "--plot", "--no-progress", "--V") == 0
    text = capsys.readouterr().out
    assert "final MSE" in text and "readout-limit MSE" in text and "tau*=5" in text
    readout, mse, dz = pickle.loads((tmp_path / "run1.pkl").read_bytes())
    assert isinstance(readout, float) and mse.shape == (5,) and dz.shape == (5,)
    summary = json.loads((tmp_path / "run1.json").read_text())
    for key in ("readout_mse", "final_mse", "final_dz", "wall_time_s", "config"):
        assert key in summary
    assert summary["final_mse"] == pytest.approx(float(mse[-1]))
    assert summary["readout_mse"] == pytest.approx(readout)
    assert summary["config"]["n_rec"] == 30
    assert json.loads((out / "summary.json").read_text())["final_dz"] == float(dz[-1])
    png = (out / "plot.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000
    # .pkl is not doubled
    assert cli("-N", "20", "-T", "30", "-E", "0", "1", "-savepath", str(tmp_path / "b.pkl"),
               "--no-progress") == 0
    assert (tmp_path / "b.pkl").exists() and not (tmp_path / "b.pkl.pkl").exists()


@pytest.mark.parametrize("args, needle", [
    (["-N", "0"], "-N/-n_rec"),
    (["-N", "abc"], "invalid integer"),
    (["-N", "30", "-R", "2"], "R=2 is outside"),
    (["-N", "30", "-R", "31"], "R=31 is outside"),
    (["-N", "30", "-Tm", "0"], "-Tm/-tau_m"),
    (["-N", "30", "-To", "-1"], "-To/-tau_o"),
    (["-N", "30", "-dt", "0"], "-dt"),
    (["-N", "30", "-E", "5"], "-E/-epochs"),
    (["-N", "30", "--tau-star", "nan"], "--tau-star"),
    (["-N", "30", "--backend", "numpy", "--gpu"], "numpy backend"),
    ([], "required"),
])
def test_bad_input_one_line_exit_2(args, needle, capsys, tmp_path):
    code = cli(*args, "--out", str(tmp_path / "o"))
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unwritable_savepath_writes_nothing(tmp_path, capsys):
    target = tmp_path / "missing_dir" / "run"
    assert cli("-N", "20", "-E", "0", "1", "-savepath", str(target), "--no-progress") == 2
    err = capsys.readouterr().err
    assert "missing_dir" in err and err.count("\n") == 1
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not bind
            pytest.skip("permissions are not enforced for this user")
        assert cli("-N", "20", "-E", "0", "1", "-savepath", str(ro / "r")) == 2
        assert list(ro.iterdir()) == []
    finally:
        os.chmod(ro, 0o700)


def test_module_entry_point_exit_code():
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.run([sys.executable, "-m", "goal_rl.trajectory", "-N", "10", "-R", "99"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "R=99" in proc.stderr
