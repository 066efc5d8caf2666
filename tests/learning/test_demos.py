"""Tests for goal_rl.learning.demos: the Demonstrations container, its files, and recording."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import goal_rl.envs  # noqa: F401  (registers goal_rl/ButtonFood-v0)
from goal_rl.learning.demos import Demonstrations, record_demonstrations


def make_demos(with_extras: bool = True) -> Demonstrations:
    rng = np.random.default_rng(0)
    return Demonstrations(
        observations=rng.normal(size=(10, 3)),
        actions=rng.normal(size=(10, 2)),
        episode_starts=[0, 4, 7],
        hints=rng.normal(size=(10, 2)) if with_extras else None,
        returns=[1.0, 2.0, 3.5] if with_extras else None,
    )


# ------------------------------------------------------------------------------ container


def test_fields_are_coerced_and_read_only() -> None:
    d = make_demos()
    assert d.observations.dtype == np.float32 and d.observations.shape == (10, 3)
    assert d.actions.dtype == np.float32 and d.hints.dtype == np.float32
    assert d.episode_starts.dtype == np.int64 and d.returns.dtype == np.float64
    assert (d.n_episodes, d.n_steps, d.obs_dim, d.act_dim, len(d)) == (3, 10, 3, 2, 10)
    np.testing.assert_array_equal(d.episode_lengths, [4, 3, 3])
    with pytest.raises(ValueError):
        d.observations[0, 0] = 1.0
    with pytest.raises(AttributeError):
        d.actions = np.zeros((10, 2))  # type: ignore[misc]


def test_input_arrays_are_copied() -> None:
    obs = np.zeros((3, 1))
    d = Demonstrations(observations=obs, actions=np.zeros((3, 1)), episode_starts=[0])
    obs[0, 0] = 5.0
    assert d.observations[0, 0] == 0.0
    assert obs.flags.writeable


def test_episode_views() -> None:
    d = make_demos()
    obs, act, hints = d.episode(1)
    np.testing.assert_array_equal(obs, d.observations[4:7])
    np.testing.assert_array_equal(act, d.actions[4:7])
    np.testing.assert_array_equal(hints, d.hints[4:7])
    np.testing.assert_array_equal(d.episode(-1)[0], d.observations[7:])
    assert [len(o) for o, _, _ in d.episodes()] == [4, 3, 3]
    assert make_demos(with_extras=False).episode(0)[2] is None
    with pytest.raises(IndexError, match="episode 3 out of range for 3"):
        d.episode(3)


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"observations": np.zeros(10)}, "observations must be 2-D, got shape \\(10,\\)"),
        ({"actions": np.zeros((9, 2))}, "actions has 9 rows but observations has 10"),
        ({"episode_starts": [1, 4]}, "episode_starts\\[0\\] must be 0, got 1"),
        ({"episode_starts": [0, 4, 4]}, "strictly increasing; index 2 \\(4\\) follows 4"),
        ({"episode_starts": [0, 10]}, "episode_starts\\[-1\\] = 10 must be < T_total = 10"),
        ({"episode_starts": []}, "episode_starts must be 1-D and non-empty"),
        ({"episode_starts": [0.0, 2.5]}, "episode_starts must hold integers"),
        ({"hints": np.zeros((10, 2, 1))}, "hints must be 2-D"),
        ({"hints": np.zeros((8, 2))}, "hints has 8 rows but observations has 10"),
        ({"returns": [1.0]}, "returns has 1 entries but there are 3 episodes"),
        ({"observations": np.zeros((0, 3)), "actions": np.zeros((0, 2))}, "empty"),
        ({"actions": [["a", "b"]] * 10}, "actions must be numeric"),
    ],
)
def test_validation_errors(changes, pattern) -> None:
    fields = {"observations": np.zeros((10, 3)), "actions": np.zeros((10, 2)),
              "episode_starts": [0, 4, 7]} | changes
    with pytest.raises(ValueError, match=pattern):
        Demonstrations(**fields)


def test_non_finite_values_named_with_first_index() -> None:
    obs = np.zeros((10, 3))
    obs[6, 2] = np.nan
    obs[8, 0] = np.inf
    with pytest.raises(ValueError, match=r"observations has a non-finite value \(nan\) at "
                                         r"index \(6, 2\)"):
        Demonstrations(observations=obs, actions=np.zeros((10, 2)), episode_starts=[0])
    with pytest.raises(ValueError, match=r"returns has a non-finite value \(inf\) at index 1"):
        Demonstrations(observations=np.zeros((10, 3)), actions=np.zeros((10, 2)),
                       episode_starts=[0, 5], returns=[0.0, np.inf])
    act = np.zeros((10, 2))
    act[3, 1] = -np.inf
    with pytest.raises(ValueError, match=r"actions has a non-finite value \(-inf\) at "
                                         r"index \(3, 1\)"):
        Demonstrations(observations=np.zeros((10, 3)), actions=act, episode_starts=[0])


def test_equality() -> None:
    assert make_demos() == make_demos()
    assert make_demos() != make_demos(with_extras=False)
    other = make_demos()
    changed = Demonstrations(other.observations + 1, other.actions, other.episode_starts,
                             other.hints, other.returns)
    assert changed != other


def test_concat() -> None:
    a = make_demos()
    b = Demonstrations(observations=np.ones((5, 3)), actions=np.ones((5, 2)),
                       episode_starts=[0, 2], hints=np.ones((5, 2)), returns=[7.0, 8.0])
    c = a.concat(b)
    assert (c.n_episodes, c.n_steps) == (5, 15)
    np.testing.assert_array_equal(c.episode_starts, [0, 4, 7, 10, 12])
    np.testing.assert_array_equal(c.returns, [1.0, 2.0, 3.5, 7.0, 8.0])
    np.testing.assert_array_equal(c.episode(3)[0], np.ones((2, 3)))
    np.testing.assert_array_equal(c.episode(0)[1], a.episode(0)[1])
    # returns are dropped when only one side has them
    b_no_returns = Demonstrations(b.observations, b.actions, b.episode_starts, b.hints)
    assert a.concat(b_no_returns).returns is None
    with pytest.raises(ValueError, match="with hints and without hints"):
        a.concat(make_demos(with_extras=False))
    with pytest.raises(ValueError, match="obs/act dims 3/2 and 4/2"):
        a.concat(Demonstrations(np.zeros((2, 4)), np.zeros((2, 2)), [0], np.zeros((2, 2))))


# ------------------------------------------------------------------------------ files


def test_save_load_round_trip(tmp_path) -> None:
    for demos in (make_demos(), make_demos(with_extras=False)):
        path = demos.save(tmp_path / "d.npz")
        assert path == tmp_path / "d.npz"
        loaded = Demonstrations.load(path)
        assert loaded == demos
        assert loaded.observations.dtype == np.float32
        assert (loaded.hints is None) == (demos.hints is None)


def test_save_adds_suffix_and_creates_folders(tmp_path) -> None:
    path = make_demos().save(tmp_path / "sub" / "expert")
    assert path == tmp_path / "sub" / "expert.npz" and path.is_file()
    assert Demonstrations.load(tmp_path / "sub" / "expert") == make_demos()


def test_atomic_save_leaves_no_temp_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    demos = make_demos()
    demos.save(tmp_path / "d.npz")
    assert sorted(os.listdir(tmp_path)) == ["d.npz"]
    before = (tmp_path / "d.npz").read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        make_demos(with_extras=False).save(tmp_path / "d.npz")
    # The old file is untouched and the temp file was removed.
    assert sorted(os.listdir(tmp_path)) == ["d.npz"]
    assert (tmp_path / "d.npz").read_bytes() == before


def test_interrupted_save_keeps_old_file(tmp_path) -> None:
    """A process killed in the middle of save() leaves the previous file intact."""
    target = tmp_path / "d.npz"
    make_demos().save(target)
    code = (
        "import os, numpy as np\n"
        "from goal_rl.learning.demos import Demonstrations\n"
        "np.savez = lambda fh, **kw: (fh.write(b'PK partial'), os._exit(1))\n"
        f"Demonstrations(np.zeros((2, 3)), np.zeros((2, 2)), [0]).save({str(target)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 1 and result.stderr == b""  # killed mid-write, no error
    assert Demonstrations.load(target) == make_demos()
    # what the killed process left: the old file and its unfinished temporary file
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers[1] == "d.npz" and leftovers[0].startswith(".d.npz.")
    assert oct((tmp_path / "d.npz").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_load_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        Demonstrations.load(tmp_path / "nope.npz")


def test_load_corrupt_file(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match=f"{bad}.*not a valid demonstrations file"):
        Demonstrations.load(bad)
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))  # a plain .npy payload under an .npz name
    with pytest.raises(ValueError, match=f"{npy}.*not a valid demonstrations file"):
        Demonstrations.load(npy)
    truncated = tmp_path / "trunc.npz"
    make_demos().save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="trunc.npz"):
        Demonstrations.load(truncated)


def test_load_missing_keys_and_bad_contents(tmp_path) -> None:
    path = tmp_path / "partial.npz"
    np.savez(path, observations=np.zeros((3, 2)), episode_starts=np.array([0]))
    with pytest.raises(ValueError, match=f"{path}: missing key\\(s\\) actions"):
        Demonstrations.load(path)
    path2 = tmp_path / "nan.npz"
    obs = np.zeros((3, 2))
    obs[1, 1] = np.nan
    np.savez(path2, observations=obs, actions=np.zeros((3, 1)), episode_starts=np.array([0]))
    with pytest.raises(ValueError, match=f"{path2}: observations has a non-finite value"):
        Demonstrations.load(path2)


# ------------------------------------------------------------------------------ CSV


def test_from_csv_with_episode_column(tmp_path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text(
        "o1,o2,a1,episode\n"
        "0.1,0.2,1.0,0\n"
        "0.3,0.4,2.0,0\n"
        "\n"
        "# a comment\n"
        "0.5,0.6,3.0,5\n"
    )
    d = Demonstrations.from_csv(path, obs_dim=2, act_dim=1)
    np.testing.assert_allclose(d.observations, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(d.actions, [[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(d.episode_starts, [0, 2])
    assert d.hints is None and d.returns is None


def test_from_csv_header_episode_column_anywhere(tmp_path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text("episode,o1,a1\n0,1,10\n1,2,20\n1,3,30\n")
    d = Demonstrations.from_csv(path, obs_dim=1, act_dim=1)
    np.testing.assert_array_equal(d.observations[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(d.actions[:, 0], [10, 20, 30])
    np.testing.assert_array_equal(d.episode_starts, [0, 1])


def test_from_csv_without_episode_is_one_episode(tmp_path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text("1,2,3\n4,5,6\n")
    d = Demonstrations.from_csv(path, obs_dim=2, act_dim=1)
    assert d.n_episodes == 1 and d.n_steps == 2


def test_from_csv_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        Demonstrations.from_csv(tmp_path / "missing.csv", 2, 1)
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3,4,5\n")
    with pytest.raises(ValueError, match="bad.csv:1: expected 3 columns .* got 5"):
        Demonstrations.from_csv(path, 2, 1)
    path.write_text("1,2,3\n4,x,6\n")
    with pytest.raises(ValueError, match="bad.csv:2: could not parse 'x'"):
        Demonstrations.from_csv(path, 2, 1)
    path.write_text("1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="bad.csv:2: expected 3 columns, got 2"):
        Demonstrations.from_csv(path, 2, 1)
    path.write_text("1,2,3\n4,nan,6\n")
    with pytest.raises(ValueError, match="bad.csv:2: non-finite value in column 2"):
        Demonstrations.from_csv(path, 2, 1)
    path.write_text("o1,o2,a1\n")
    with pytest.raises(ValueError, match="no data rows"):
        Demonstrations.from_csv(path, 2, 1)


# ------------------------------------------------------------------------------ recording


def test_record_button_food() -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    angles = [30.0, 90.0, 150.0]
    d = record_demonstrations(
        env,
        lambda obs, env: env.unwrapped.expert_action(),
        n_episodes=3,
        seed=10,
        hint_fn=lambda obs, env: env.unwrapped.hint(),
        options_fn=lambda i: {"angle": angles[i]},
    )
    # The expert reaches the food after 78 steps at every angle (see test_envs).
    assert (d.n_episodes, d.n_steps, d.obs_dim, d.act_dim) == (3, 234, 80, 2)
    np.testing.assert_array_equal(d.episode_starts, [0, 78, 156])
    assert d.hints.shape == (234, 2)
    # Locked for the first 23 steps of each episode, unlocked afterwards.
    for _, _, hints in d.episodes():
        np.testing.assert_array_equal(hints[:23], np.tile([1.0, 0.0], (23, 1)))
        np.testing.assert_array_equal(hints[23:], np.tile([0.0, 1.0], (55, 1)))
    # First observation of each episode is the start state for its angle.
    first, _ = env.reset(options={"angle": 90.0})
    np.testing.assert_allclose(d.episode(1)[0][0], first)
    np.testing.assert_allclose(d.actions[0], [0.0, -0.2 / 0.3], rtol=1e-5)
    assert d.returns.shape == (3,) and np.all(d.returns > 33)


def test_record_seeds_and_max_steps() -> None:
    env = gym.make("goal_rl/ButtonFood-v0")
    expert = lambda obs, env: env.unwrapped.expert_action()  # noqa: E731
    a = record_demonstrations(env, expert, n_episodes=2, seed=5, max_steps=10)
    b = record_demonstrations(env, expert, n_episodes=2, seed=5, max_steps=10)
    assert a == b and a.hints is None
    np.testing.assert_array_equal(a.episode_starts, [0, 10])
    # Episode i is reset with seed + i: episode 1 of seed 5 is episode 0 of seed 6.
    c = record_demonstrations(env, expert, n_episodes=1, seed=6, max_steps=10)
    np.testing.assert_array_equal(a.episode(1)[0], c.episode(0)[0])
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        record_demonstrations(env, expert, n_episodes=0, seed=0)


def test_demos_module_does_not_import_torch() -> None:
    # Load the module file on its own, so the check is about demos.py, not goal_rl/__init__.
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('demos_alone', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print('torch' in sys.modules, hasattr(module, 'Demonstrations'))\n"
    )
    path = Path(__file__).resolve().parents[2] / "goal_rl" / "learning" / "demos.py"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False True"
