"""Expert demonstrations: a validated container, ``.npz``/CSV I/O, and a recorder.

Numpy only (no torch import), so demonstrations can be recorded, inspected and converted
on machines without the training stack.

Layout: all episodes are stored back to back along one time axis. Episode ``i`` covers rows
``episode_starts[i] : episode_starts[i + 1]`` (the last one runs to the end). Row ``t``
pairs the observation the expert saw with the action it took there.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from goal_rl.common.io import atomic_write

__all__ = ["Demonstrations", "record_demonstrations"]

FORMAT_VERSION = 1
"""Version stored in every ``.npz`` written by :meth:`Demonstrations.save`."""

_REQUIRED_KEYS = ("observations", "actions", "episode_starts")
_OPTIONAL_KEYS = ("hints", "returns")

Episode = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


def _float_array(name: str, value: Any, ndim: int, dtype: type) -> np.ndarray:
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric: {err}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = first[0] if ndim == 1 else first
        raise ValueError(f"{name} has a non-finite value ({arr[first]}) at index {where}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Demonstrations:
    """Episodes of (observation, action[, hint]) pairs, concatenated along time.

    Attributes:
        observations: ``(T_total, obs_dim)`` float32, what the expert observed.
        actions: ``(T_total, act_dim)`` float32, what it did.
        episode_starts: ``(n_episodes,)`` int64 row indices where episodes begin; first is
            0, strictly increasing, all ``< T_total`` (so no episode is empty).
        hints: ``(T_total, h)`` float32 extra inputs used only while generating internal
            targets (e.g. the Button & Food phase), or ``None``.
        returns: ``(n_episodes,)`` float64 undiscounted episode returns, or ``None``.

    Inputs are copied and coerced to these dtypes; the stored arrays are read-only.
    Invalid shapes, indices or non-finite values raise ``ValueError`` naming the field
    (and, for non-finite values, the first bad index). Two instances compare equal when
    all their arrays are equal.
    """

    observations: np.ndarray
    actions: np.ndarray
    episode_starts: np.ndarray
    hints: np.ndarray | None = None
    returns: np.ndarray | None = None

    def __post_init__(self) -> None:
        obs = _float_array("observations", self.observations, 2, np.float32)
        act = _float_array("actions", self.actions, 2, np.float32)
        n_steps = obs.shape[0]
        if n_steps == 0:
            raise ValueError("observations is empty (T_total = 0)")
        if act.shape[0] != n_steps:
            raise ValueError(f"actions has {act.shape[0]} rows but observations has {n_steps}")

        raw_starts = np.asarray(self.episode_starts)
        if raw_starts.ndim != 1 or raw_starts.size == 0:
            raise ValueError(f"episode_starts must be 1-D and non-empty, got shape "
                             f"{raw_starts.shape}")
        if raw_starts.dtype.kind not in "iu":
            if raw_starts.dtype.kind not in "f" or not np.all(np.isfinite(raw_starts)) or \
                    not np.all(raw_starts == np.round(raw_starts)):
                raise ValueError(f"episode_starts must hold integers, got dtype "
                                 f"{raw_starts.dtype}")
        starts = raw_starts.astype(np.int64)
        if starts[0] != 0:
            raise ValueError(f"episode_starts[0] must be 0, got {starts[0]}")
        steps = np.diff(starts)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0)) + 1
            raise ValueError(f"episode_starts must be strictly increasing; index {i} "
                             f"({starts[i]}) follows {starts[i - 1]}")
        if starts[-1] >= n_steps:
            raise ValueError(f"episode_starts[-1] = {starts[-1]} must be < T_total = {n_steps}")
        starts.setflags(write=False)

        hints = None
        if self.hints is not None:
            hints = _float_array("hints", self.hints, 2, np.float32)
            if hints.shape[0] != n_steps:
                raise ValueError(f"hints has {hints.shape[0]} rows but observations has "
                                 f"{n_steps}")
        returns = None
        if self.returns is not None:
            returns = _float_array("returns", self.returns, 1, np.float64)
            if returns.shape[0] != starts.shape[0]:
                raise ValueError(f"returns has {returns.shape[0]} entries but there are "
                                 f"{starts.shape[0]} episodes")

        object.__setattr__(self, "observations", obs)
        object.__setattr__(self, "actions", act)
        object.__setattr__(self, "episode_starts", starts)
        object.__setattr__(self, "hints", hints)
        object.__setattr__(self, "returns", returns)

    # ------------------------------------------------------------------ views

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return int(self.episode_starts.shape[0])

    @property
    def n_steps(self) -> int:
        """Total number of recorded steps, T_total."""
        return int(self.observations.shape[0])

    @property
    def obs_dim(self) -> int:
        """Observation size."""
        return int(self.observations.shape[1])

    @property
    def act_dim(self) -> int:
        """Action size."""
        return int(self.actions.shape[1])

    @property
    def episode_lengths(self) -> np.ndarray:
        """``(n_episodes,)`` int64 number of steps of each episode."""
        ends = np.append(self.episode_starts[1:], self.n_steps)
        return ends - self.episode_starts

    def __len__(self) -> int:
        return self.n_steps

    def episode(self, i: int) -> Episode:
        """Episode ``i`` (negative counts from the end) as read-only views.

        Returns:
            ``(obs (T_i, obs_dim), act (T_i, act_dim), hints (T_i, h) or None)``.

        Raises:
            IndexError: ``i`` out of range.
        """
        n = self.n_episodes
        if not -n <= i < n:
            raise IndexError(f"episode {i} out of range for {n} episodes")
        i %= n
        start = int(self.episode_starts[i])
        stop = int(self.episode_starts[i + 1]) if i + 1 < n else self.n_steps
        hints = None if self.hints is None else self.hints[start:stop]
        return self.observations[start:stop], self.actions[start:stop], hints

    def episodes(self) -> Iterator[Episode]:
        """Iterate over :meth:`episode` ``(obs, act, hints)`` tuples in order."""
        for i in range(self.n_episodes):
            yield self.episode(i)

    def concat(self, other: Demonstrations) -> Demonstrations:
        """Append ``other``'s episodes after this one's (e.g. DAgger aggregation).

        Hints must be present in both or in neither. Returns are kept only if both have
        them (otherwise the result has ``returns=None``).

        Raises:
            ValueError: different observation/action/hint sizes, or hints in only one.
        """
        if not isinstance(other, Demonstrations):
            raise TypeError(f"can only concat Demonstrations, got {type(other).__name__}")
        if (self.obs_dim, self.act_dim) != (other.obs_dim, other.act_dim):
            raise ValueError(f"cannot concat demonstrations with obs/act dims "
                             f"{self.obs_dim}/{self.act_dim} and {other.obs_dim}/{other.act_dim}")
        if (self.hints is None) != (other.hints is None):
            raise ValueError("cannot concat demonstrations with hints and without hints")
        hints = None
        if self.hints is not None and other.hints is not None:
            if self.hints.shape[1] != other.hints.shape[1]:
                raise ValueError(f"cannot concat hints of sizes {self.hints.shape[1]} and "
                                 f"{other.hints.shape[1]}")
            hints = np.concatenate([self.hints, other.hints])
        returns = None
        if self.returns is not None and other.returns is not None:
            returns = np.concatenate([self.returns, other.returns])
        return Demonstrations(
            observations=np.concatenate([self.observations, other.observations]),
            actions=np.concatenate([self.actions, other.actions]),
            episode_starts=np.concatenate([self.episode_starts,
                                           other.episode_starts + self.n_steps]),
            hints=hints,
            returns=returns,
        )

    def select(self, indices: Sequence[int]) -> Demonstrations:
        """The episodes ``indices`` (in that order) as new demonstrations, with their hints
        and returns.

        Raises:
            IndexError: an index out of range. ValueError: no index.
        """
        if len(indices) == 0:
            raise ValueError("select needs at least one episode index")
        eps = [self.episode(int(i)) for i in indices]
        lengths = [len(obs) for obs, _, _ in eps]
        return Demonstrations(
            observations=np.concatenate([e[0] for e in eps]),
            actions=np.concatenate([e[1] for e in eps]),
            episode_starts=np.cumsum([0] + lengths[:-1]),
            hints=None if self.hints is None else np.concatenate([e[2] for e in eps]),
            returns=None if self.returns is None else self.returns[list(indices)],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Demonstrations):
            return NotImplemented
        for name in ("observations", "actions", "episode_starts", "hints", "returns"):
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None):
                return False
            if a is not None and not np.array_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        hints = "None" if self.hints is None else f"(…, {self.hints.shape[1]})"
        return (f"Demonstrations(n_episodes={self.n_episodes}, n_steps={self.n_steps}, "
                f"obs_dim={self.obs_dim}, act_dim={self.act_dim}, hints={hints}, "
                f"returns={'None' if self.returns is None else 'yes'})")

    @classmethod
    def from_episodes(cls, episodes: Sequence[Any], actions: str = "label",
                      hints: str = "hint") -> Demonstrations:
        """Demonstrations from the episodes of :func:`goal_rl.learning.rollout.run_episodes`.

        Each episode needs the ``"obs"`` record (``record_obs=True``) and the ``actions``
        record (the labels); its ``hints`` record is used if the first episode has one.
        The returns are the episodes' total rewards.
        """
        with_hints = hints in episodes[0].records
        lengths = [ep.length for ep in episodes]
        return cls(
            observations=np.concatenate([ep.records["obs"] for ep in episodes]),
            actions=np.concatenate([ep.records[actions] for ep in episodes]),
            episode_starts=np.cumsum([0] + lengths[:-1]),
            hints=np.concatenate([ep.records[hints] for ep in episodes]) if with_hints
            else None,
            returns=np.asarray([ep.total_reward for ep in episodes], dtype=np.float64),
        )

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an uncompressed ``.npz`` atomically (:func:`goal_rl.common.io.atomic_write`:
        a temporary file in the same folder, then ``os.replace``), so an interrupted save
        never leaves a half-written file.

        ``.npz`` is appended when ``path`` has another suffix. Parent folders are created.

        Returns:
            The path written.
        """
        target = Path(path)
        if target.suffix != ".npz":
            target = target.with_name(target.name + ".npz")
        target.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
            "observations": self.observations,
            "actions": self.actions,
            "episode_starts": self.episode_starts,
        }
        if self.hints is not None:
            arrays["hints"] = self.hints
        if self.returns is not None:
            arrays["returns"] = self.returns
        atomic_write(target, lambda fh: np.savez(fh, **arrays))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Demonstrations:
        """Read a file written by :meth:`save` (``.npz`` is tried when ``path`` lacks it).

        Raises:
            FileNotFoundError: no such file (the message names the path).
            ValueError: not a readable ``.npz``, a missing key, or invalid contents; the
                message names the path and the problem.
        """
        src = Path(path)
        if not src.exists() and src.suffix != ".npz":
            alt = src.with_name(src.name + ".npz")
            if alt.exists():
                src = alt
        if not src.is_file():
            raise FileNotFoundError(f"demonstrations file not found: {src}")
        try:
            # Own the file handle: np.load leaks it when a truncated archive fails to open.
            with open(src, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                keys = set(data.files)
                missing = [k for k in _REQUIRED_KEYS if k not in keys]
                if missing:
                    raise ValueError(f"{src}: missing key(s) {', '.join(missing)} "
                                     f"(found: {', '.join(sorted(keys)) or 'none'})")
                version = int(data["format_version"]) if "format_version" in keys else 1
                if version > FORMAT_VERSION:
                    raise ValueError(f"{src}: format version {version} is newer than "
                                     f"supported ({FORMAT_VERSION})")
                fields = {k: data[k] for k in _REQUIRED_KEYS + _OPTIONAL_KEYS if k in keys}
        except ValueError as err:
            if str(err).startswith(str(src)):
                raise
            if "pickle" in str(err):  # numpy's text would suggest loading it unsafely
                raise ValueError(f"{src}: not a valid demonstrations file (it holds objects "
                                 "other than arrays, which are refused for safety)") from None
            raise ValueError(f"{src}: not a valid demonstrations file ({err})") from err
        except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{src}: not a valid demonstrations file ({err})") from err
        try:
            return cls(**fields)
        except ValueError as err:
            raise ValueError(f"{src}: {err}") from err

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], obs_dim: int,
                 act_dim: int) -> Demonstrations:
        """Read demonstrations from a comma-separated text file.

        Format: one row per step, ``obs_dim`` observation columns, then ``act_dim``
        action columns, then optionally one ``episode`` column holding an episode id; a new
        episode starts wherever the id changes from one row to the next (without the
        column, the file is a single episode). An optional first header row is detected
        when it is not numeric; if it names a column ``episode`` that column is the id,
        wherever it is, and the remaining columns are read in order as observations then
        actions. Blank lines and lines starting with ``#`` are ignored. Hints and
        returns are not part of the format.

        Raises:
            FileNotFoundError: no such file.
            ValueError: wrong column count, unparsable number, or no data rows; the
                message names the path and line.
        """
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"demonstrations file not found: {src}")
        if obs_dim < 1 or act_dim < 1:
            raise ValueError(f"obs_dim and act_dim must be >= 1, got {obs_dim}, {act_dim}")
        width = obs_dim + act_dim
        rows: list[list[float]] = []
        line_numbers: list[int] = []
        episode_col: int | None = None
        n_cols: int | None = None
        with io.StringIO(_csv_text(src), newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                cells = [c.strip() for c in row]
                if not cells or all(c == "" for c in cells) or cells[0].startswith("#"):
                    continue
                if n_cols is None:
                    n_cols = len(cells)
                    if n_cols not in (width, width + 1):
                        raise ValueError(
                            f"{src}:{line_no}: expected {width} columns ({obs_dim} obs + "
                            f"{act_dim} act) or {width + 1} (with episode), got {n_cols}")
                    if n_cols == width + 1:
                        episode_col = n_cols - 1
                    if not _numeric_row(cells):
                        lowered = [c.lower() for c in cells]
                        if n_cols == width + 1:
                            if "episode" not in lowered:
                                raise ValueError(f"{src}:{line_no}: header has {n_cols} "
                                                 "columns but none is named 'episode'")
                            episode_col = lowered.index("episode")
                        continue
                if len(cells) != n_cols:
                    raise ValueError(f"{src}:{line_no}: expected {n_cols} columns, "
                                     f"got {len(cells)}")
                values: list[float] = []
                for cell in cells:
                    try:
                        values.append(float(cell))
                    except ValueError:
                        raise ValueError(f"{src}:{line_no}: could not parse {cell!r} as a "
                                         "number") from None
                rows.append(values)
                line_numbers.append(line_no)
        if not rows:
            raise ValueError(f"{src}: no data rows")
        table = np.array(rows, dtype=np.float64)
        if episode_col is None:
            ids = np.zeros(len(rows))
            data = table
        else:
            ids = table[:, episode_col]
            data = np.delete(table, episode_col, axis=1)
        bad = ~np.isfinite(table)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{src}:{line_numbers[r]}: non-finite value in column {c + 1}")
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ids) != 0) + 1]).astype(np.int64)
        try:
            return cls(observations=data[:, :obs_dim], actions=data[:, obs_dim:],
                       episode_starts=starts)
        except ValueError as err:
            raise ValueError(f"{src}: {err}") from err


def _csv_text(src: Path) -> str:
    """The text of a CSV file; ``ValueError`` naming the file if it is not UTF-8 text."""
    try:
        return src.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{src}: not a CSV text file (byte {err.start} is not UTF-8)") \
            from None


def _numeric_row(cells: list[str]) -> bool:
    try:
        for cell in cells:
            float(cell)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------- recording


def record_demonstrations(
    env: Any,
    expert: Callable[[np.ndarray, Any], Any],
    n_episodes: int,
    seed: int,
    *,
    max_steps: int | None = None,
    hint_fn: Callable[[np.ndarray, Any], Any] | None = None,
    options_fn: Callable[[int], dict[str, Any] | None] | None = None,
) -> Demonstrations:
    """Run ``expert`` in ``env`` for ``n_episodes`` episodes and record what it saw and did.

    Episode ``i`` starts with ``env.reset(seed=seed + i, options=options_fn(i))`` (options
    ``None`` without ``options_fn``) and ends on ``terminated`` or ``truncated`` from the
    env, or after ``max_steps`` steps if given. Without ``max_steps`` the env must end its
    episodes itself (e.g. through a ``TimeLimit`` wrapper from ``gym.make``).

    Args:
        env: a Gymnasium env (wrapped or not).
        expert: ``expert(obs, env) -> action``, called once per step with the current
            observation and the env as passed in; e.g. for Button & Food
            ``lambda obs, env: env.unwrapped.expert_action()``.
        n_episodes: number of episodes, >= 1.
        seed: base seed; episode ``i`` uses ``seed + i``.
        max_steps: optional cap on steps per episode.
        hint_fn: optional ``hint_fn(obs, env) -> (h,)`` recorded next to each action,
            e.g. ``lambda obs, env: env.unwrapped.hint()``.
        options_fn: optional ``options_fn(i) -> dict`` of reset options for episode ``i``,
            e.g. ``lambda i: {"angle": angles[i]}``.

    Returns:
        :class:`Demonstrations` with observations and actions flattened to 1-D per step,
        hints if ``hint_fn`` was given, and ``returns`` = sum of rewards per episode.
    """
    from goal_rl.learning.rollout import ExpertPolicy, play

    episodes = play(env, ExpertPolicy(expert, hint_fn), n_episodes, seed,
                    options_fn=options_fn, max_steps=max_steps, record_obs=True)
    return Demonstrations.from_episodes(episodes)
