"""Bad input on every command line: one line on stderr, exit code 2, no traceback, nothing
written. Each case runs the CLI in-process (through goal_rl.common.cli.run_main, as the
``python -m`` entry modules do) from an empty working folder."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from goal_rl.common.cli import run_main

TRAJ = ["-N", "20", "-T", "30", "-E", "5", "3", "--no-progress"]
SWEEP = ["-N", "20", "-T", "30", "-E", "5", "3", "--ranks", "3", "--tau-star", "3",
         "--no-progress", "--out", "sw"]
BF = ["train", "button_food", "--no-progress", "--out", "o", "--set", "n_rec=20",
      "epochs_rec=2", "n_test=2", "train_angles=60,120"]

#: (entry, arguments): the CLI and a bad command line; files are made by ``_files``
CASES: list[tuple[str, list[str]]] = [
    # ----------------------------------------------------------------- trajectory: values
    ("trajectory", []),                                     # -N missing
    ("trajectory", ["-N", "abc"]),
    ("trajectory", ["-N", "0"]),
    ("trajectory", ["-N", "2", "-T", "20", "-E", "5", "5"]),  # N < O without a rank
    ("trajectory", ["-N", "5", "-O", "6"]),
    ("trajectory", ["-N", "200000"]),                       # does not fit in memory
    ("trajectory", ["-N", "20", "-T", "1"]),
    ("trajectory", ["-N", "20", "-T", "8"]),                # the target is all zeros
    ("trajectory", ["-N", "20", "-I", "50", "-T", "20"]),   # a clock input never on
    ("trajectory", ["-N", "20", "-R", "2"]),
    ("trajectory", ["-N", "20", "-R", "99"]),
    ("trajectory", ["-N", "20", "-R", "x"]),
    ("trajectory", ["-N", "20", "-Tm", "1e300"]),
    ("trajectory", ["-N", "20", "-Rlr", "1e300"]),
    ("trajectory", ["-N", "20", "-Si", "1e300"]),
    ("trajectory", ["-N", "20", "--sigma-rec", "1e300"]),
    ("trajectory", ["-N", "20", "-Vo", "1e300"]),
    ("trajectory", ["-N", "20", "-B", "-1e300"]),
    ("trajectory", ["-N", "20", "-Tm", "nan"]),
    ("trajectory", ["-N", "20", "-Ts", "-1"]),
    ("trajectory", ["-N", "20", "--tau-star", "0"]),
    ("trajectory", ["-N", "20", "-E", "5"]),
    ("trajectory", ["-N", "20", "-E", "-1", "3"]),
    ("trajectory", ["-N", "20", "--dtype", "float16"]),
    ("trajectory", ["-N", "20", "--device", "tpu"]),
    ("trajectory", ["-N", "20", "--backend", "numpy", "--device", "cuda"]),
    ("trajectory", ["-N", "20", "--preset", "nope"]),
    ("trajectory", ["-N", "20", "--seed", "-1"]),
    # ----------------------------------------------------------------- trajectory: paths
    ("trajectory", [*TRAJ, "-savepath", ""]),
    ("trajectory", [*TRAJ, "-savepath", "."]),
    ("trajectory", [*TRAJ, "-savepath", "/proc/x.pkl"]),
    ("trajectory", [*TRAJ, "-savepath", "missing/a.pkl"]),
    ("trajectory", [*TRAJ, "-savepath", "adir"]),           # a folder named a.json beside
    ("trajectory", [*TRAJ, "--out", ""]),
    ("trajectory", [*TRAJ, "--out", "afile"]),
    ("trajectory", [*TRAJ, "--out", "outdir"]),             # summary.json is a folder there
    ("trajectory", [*TRAJ, "--out", "plotdir", "--plot"]),  # plot.png is a folder there
    ("trajectory", [*TRAJ, "--out", "/proc/x"]),
    # ----------------------------------------------------------------- sweep
    ("sweep", ["--ranks"]),
    ("sweep", ["-N", "20", "--ranks", "2", "--out", "sw"]),
    ("sweep", ["-N", "20", "--ranks", "41", "--out", "sw"]),
    ("sweep", ["-N", "20", "--ranks", "abc", "--out", "sw"]),
    ("sweep", ["-N", "2", "-O", "3", "--ranks", "ltts", "--out", "sw"]),  # N < O
    ("sweep", ["-N", "200000", "--ranks", "3", "--out", "sw"]),
    ("sweep", ["--tau-star", "0"]),
    ("sweep", ["--tau-star", "-3"]),
    ("sweep", ["-N", "20", "-E", "5", "0", "--out", "sw"]),
    ("sweep", ["-N", "20", "-F", "out", "--ranks", "ltts", "--out", "sw"]),
    ("sweep", ["-N", "20", "--chunk", "0"]),
    ("sweep", [*SWEEP[:-2], "--out", "afile"]),
    ("sweep", [*SWEEP[:-2], "--out", "/proc/x"]),
    ("sweep", [*SWEEP[:-2], "--out", "jsonl_dir", "--resume"]),   # results.jsonl a folder
    ("sweep", [*SWEEP[:-2], "--out", "not_object", "--resume"]),  # a line "42"
    ("sweep", [*SWEEP[:-2], "--out", "garbage", "--resume"]),     # a garbage line
    ("sweep", [*SWEEP[:-2], "--out", "norank", "--resume"]),      # a row without rank
    ("sweep", [*SWEEP[:-2], "--out", "foreign"]),                 # holds a sweep already
    # ----------------------------------------------------------------- python -m goal_rl
    ("goal_rl", []),
    ("goal_rl", ["fly"]),
    ("goal_rl", ["train"]),
    ("goal_rl", ["train", "buton_food"]),
    ("goal_rl", ["train", "button_food", "--set", "n_rec"]),
    ("goal_rl", ["train", "button_food", "--set", "n_rec=many"]),
    ("goal_rl", ["train", "button_food", "--set", "bogus=1"]),
    ("goal_rl", ["train", "button_food", "--set", "rank=0"]),
    ("goal_rl", ["train", "button_food", "--set", "rank=abc"]),
    ("goal_rl", ["train", "button_food", "--seed", "-2"]),
    ("goal_rl", ["train", "button_food", "--device", "tpu"]),
    ("goal_rl", [*BF, "demos=missing.npz"]),
    ("goal_rl", [*BF, "demos=corrupt.npz"]),
    ("goal_rl", ["train", "trajectory", "--set", "n_rec=1", "--out", "o"]),
    ("goal_rl", ["train", "trajectory", "--set", "t_seq=5", "--out", "o"]),
    ("goal_rl", ["train", "trajectory", "--set", "tau_m=1e300", "--out", "o"]),
    ("goal_rl", ["train", "trajectory", "--set", "n_rec=20", "--out", "afile"]),
    ("goal_rl", ["train", "trajectory", "--set", "n_rec=20", "--out", "outdir_m"]),
    ("goal_rl", ["train", "walker", "--set", "expert=foo", "--out", "o"]),
    ("goal_rl", ["train", "walker", "--set", "rank=M", "--out", "o"]),
    ("goal_rl", ["--plugin", "nope.py", "list"]),
    ("goal_rl", ["--plugin", "syntax.py", "list"]),
    ("goal_rl", ["--plugin", "raises.py", "list"]),
    ("goal_rl", ["--plugin", "latin1.py", "list"]),
    ("goal_rl", ["--import", "goal_rl_no_such_module", "list"]),
    ("goal_rl", ["--plugin", "nonjson.py", "train", "nonjson", "--out", "o"]),
    ("goal_rl", ["--plugin", "badreturn.py", "train", "badreturn", "--out", "o"]),
    # ----------------------------------------------------------------- walker CLIs
    ("walker", ["--bogus"]),
    ("walker", ["--expert", "foo", "--out", "o"]),
    ("walker", ["--demos", "missing.npz", "--out", "o"]),
    ("walker", ["--demos", "binary.csv", "--out", "o"]),     # not text: named, one line
    ("goal_rl", [*BF, "demos=binary.csv"]),                  # never "load it unsafely"
    ("walker", ["--expert", "--n-rec", "0", "--out", "o"]),
    ("walker", ["--expert", "--rank", "4.5", "--out", "o"]),
    ("walker", ["--play", "missing.pt"]),
    ("walker", ["--expert", "--out", "afile"]),
    ("walker", ["--expert", "--out", "walker_out"]),     # agent.pt is a folder there
    ("walker", ["--expert", "--out", "/proc/x"]),
    ("walker_expert", ["--evaluate", "missing.pt"]),
    ("walker_expert", ["--evaluate", "corrupt.pt"]),
    ("walker_expert", ["--evaluate", "raw_pickle.pt"]),
    ("walker", ["--play", "corrupt.pt"]),
    ("walker", ["--play", "raw_pickle.pt"]),
    ("walker", ["--play", "agent_new_key.pt"]),             # params gained an unknown key
    ("walker_expert", ["--evaluate", "a2c", "--episodes", "0"]),
    ("walker_expert", ["--bogus"]),
    # ----------------------------------------------------------------- evaluate / play
    ("goal_rl", ["evaluate"]),
    ("goal_rl", ["evaluate", "missing.pt"]),
    ("goal_rl", ["evaluate", "corrupt.pt"]),
    ("goal_rl", ["evaluate", "raw_pickle.pt"]),
    ("goal_rl", ["evaluate", "agent_new_key.pt"]),
    ("goal_rl", ["evaluate", "old_agent.pt"]),                 # records no env id
    ("goal_rl", ["evaluate", "old_agent.pt", "--env", "NoSuchEnv-v0"]),
    ("goal_rl", ["evaluate", "old_agent.pt", "--env", "MountainCarContinuous-v0"]),  # sizes
    ("goal_rl", ["evaluate", "old_agent.pt", "--episodes", "0"]),
    ("goal_rl", ["evaluate", "old_agent.pt", "--episodes", "x"]),
    ("goal_rl", ["evaluate", "old_agent.pt", "--seed", "-1"]),
    ("goal_rl", ["evaluate", "old_agent.pt", "--num-envs", "0"]),
    ("goal_rl", ["evaluate", "old_agent.pt", "--device", "tpu"]),
    ("goal_rl", ["play", "missing.pt", "--video", "v.mp4"]),
    ("goal_rl", ["play", "old_agent.pt", "--video", "v.avi"]),
    ("goal_rl", ["play", "old_agent.pt", "--video", ".mp4"]),
    ("goal_rl", ["play", "old_agent.pt", "--video", "missing/v.mp4"]),
    ("goal_rl", ["play", "old_agent.pt", "--video", "vid.mp4"]),  # a folder of that name
    ("goal_rl", ["play", "old_agent.pt", "--video", "afile/v.gif"]),
    ("goal_rl", ["play", "old_agent.pt", "--episodes", "-3"]),
    ("goal_rl", ["play", "old_agent.pt"]),                     # records no env id
]

PLUGIN_TASK = '''
from goal_rl.tasks import register_task


class Task:
    kind = "open_loop"
    config = None

    def run(self, out_dir=None, *, progress=True, plot=False):
        return RESULT


register_task(NAME, lambda **kw: Task(), kind="open_loop", overwrite=True)
'''


def _files(folder: Path) -> None:
    """Every file and folder the cases name."""
    (folder / "afile").write_text("not a folder\n")
    (folder / "adir.json").mkdir()
    for name, inner in (("outdir", "summary.json"), ("plotdir", "plot.png"),
                        ("outdir_m", "metrics.json"), ("jsonl_dir", "results.jsonl"),
                        ("walker_out", "agent.pt")):
        (folder / name / inner).mkdir(parents=True)
    (folder / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "binary.csv").write_bytes(b"\xff\xfe\x00binary junk\x00\x01")
    (folder / "corrupt.pt").write_bytes(b"\x80\x04 not a torch file")
    (folder / "raw_pickle.pt").write_bytes(pickle.dumps({"format": "goal_rl.SpikingAgent/1",
                                                         "code": print}))
    _agent_file(folder / "agent_new_key.pt")
    _agent_file(folder / "old_agent.pt", new_key=False)
    (folder / "vid.mp4").mkdir()
    (folder / "syntax.py").write_text("def f(:\n    pass\n")
    (folder / "raises.py").write_text("x = 1\nraise RuntimeError('plugin exploded')\n")
    (folder / "latin1.py").write_bytes(b"name = '\xe9t\xe9'\n")
    (folder / "nonjson.py").write_text(PLUGIN_TASK.replace("RESULT", "{'a': {1, 2}}")
                                       .replace("NAME", "'nonjson'"))
    (folder / "badreturn.py").write_text(PLUGIN_TASK.replace("RESULT", "[1, 2]")
                                         .replace("NAME", "'badreturn'"))
    record = {"kind": "goal_rl.sweep", "version": 2, "config": {}, "grid": {}, "chunk": 128}
    for name, line in (("not_object", "42"), ("garbage", "{oops"),
                       ("norank", json.dumps({"tau_star": 3, "seed": 0})), ("foreign", None)):
        (folder / name).mkdir()
        (folder / name / "sweep.json").write_text(json.dumps(record))
        if line is not None:
            (folder / name / "results.jsonl").write_text(line + "\n")
    (folder / "jsonl_dir" / "sweep.json").write_text(json.dumps(record))


def _agent_file(path: Path, new_key: bool = True) -> None:
    """A real walker-sized agent file (no test protocol: an older file) whose neuron
    parameters gained a key (``new_key``)."""
    import torch

    from goal_rl.engines.common import init_weights
    from goal_rl.learning.agent import SpikingAgent
    from goal_rl.model.lif import LIFParams
    from goal_rl.model.network import SpikingNetwork

    w = init_weights(24, 10, 4, sigma_inp=1.0, sigma_trg=1.0, sigma_rec=0.0,
                     rng=np.random.default_rng(0))
    agent = SpikingAgent(SpikingNetwork(w, LIFParams()), meta={"task": "walker"})
    agent.save(path)
    if not new_key:
        return
    payload = torch.load(path, weights_only=True)
    payload["params"]["gain"] = 2.0
    torch.save(payload, path)


def _main(entry: str):
    if entry == "trajectory":
        from goal_rl.tasks.trajectory.benchmark import main
    elif entry == "sweep":
        from goal_rl.tasks.trajectory.sweep_cli import main
    elif entry == "goal_rl":
        from goal_rl.tasks.cli import main
    elif entry == "walker":
        from goal_rl.tasks.walker.cli import main as walker_main

        return lambda argv: walker_main(argv)
    else:
        from goal_rl.tasks.walker.cli import expert_main as main
    return main


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*")) if "__pycache__" not in p.parts}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from goal_rl.tasks import registry

    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(("entry", "argv"), CASES,
                         ids=[f"{e}:{' '.join(a)[:60]}" for e, a in CASES])
def test_bad_input_one_line_exit_2_nothing_written(entry: str, argv: list[str], workdir: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    before = _tree(workdir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = run_main(_main(entry), argv, prog=entry)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert not [w for w in caught if issubclass(w.category, UserWarning)], caught
    assert "weights_only" not in err and "allow_pickle" not in err  # never suggest unsafe loads
    assert err.count("\n") == 1 and ": error: " in err, err
    assert "Traceback" not in err + out
    assert _tree(workdir) == before


def test_unexpected_errors_are_one_line_with_a_debug_hint(capsys) -> None:
    def broken(argv):
        return {}["missing"] if argv == ["--key"] else 1 / 0

    assert run_main(broken, ["--x"], prog="tool") == 1
    err = capsys.readouterr().err
    assert err == ("tool: internal error: ZeroDivisionError: division by zero (rerun with "
                   "--debug for a traceback)\n")
    assert run_main(broken, ["--x", "--debug"], prog="tool") == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err


def test_no_nan_reaches_a_results_file(tmp_path: Path, monkeypatch, capsys) -> None:
    """A run whose MSE becomes NaN writes diverged/diverged_epoch, null figures, exit 1."""
    from goal_rl.tasks.trajectory import benchmark

    real = benchmark.train

    def diverging(*args, **kw):
        res = real(*args, **kw)
        res.mse = res.mse.copy()
        res.mse[1:] = np.nan
        return res

    monkeypatch.setattr(benchmark, "train", diverging)
    os.chdir(tmp_path)
    code = run_main(benchmark.main, [*TRAJ, "--out", "o", "-savepath", "s.pkl"], prog="t")
    assert code == 1 and "diverged" in capsys.readouterr().err
    for name in ("o/summary.json", "s.json"):
        text = (tmp_path / name).read_text()
        assert "NaN" not in text and "Infinity" not in text
        summary = json.loads(text)
        assert summary["diverged"] is True and summary["diverged_epoch"] == 1
        assert summary["final_mse"] is None
    readout, mse, dz = pickle.loads((tmp_path / "s.pkl").read_bytes())
    assert np.isfinite(readout) and mse.shape == (1,) and np.all(np.isfinite(mse))
