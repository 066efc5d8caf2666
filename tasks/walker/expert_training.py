"""Training script of the shipped walker expert: Stable-Baselines3 A2C with checkpoints.

:func:`train_expert` trains an A2C agent on ``BipedalWalker-v3`` with the recipe
:data:`A2C_RECIPE`, saves a checkpoint every ``checkpoint_every`` steps, ranks every
checkpoint on fixed selection episodes (seeds ``SELECTION_SEED + i``, never the reported
ones) and exports the best one as an :class:`~goal_rl.tasks.walker.expert.MLPExpert` file.
Stable-Baselines3 is imported only here, when training (``pip install -e '.[expert]'``);
using the shipped expert does not need it. See docs/walker.md for the measured figures.

Command line: ``python -m goal_rl.walker_expert --train --steps 3500000 --out PATH
[--checkpoint-dir DIR] [--no-resume]``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from goal_rl.common.io import atomic_write
from goal_rl.tasks.walker.expert import DEFAULT_EXPERT_PATH, ENV_ID, MLPExpert, evaluate_expert

__all__ = ["A2C_RECIPE", "DEFAULT_CHECKPOINT_DIR", "SELECTION_SEED", "private_checkpoint_dir",
           "train_expert"]

#: where checkpoints go by default: a private folder in the user's cache (never a shared
#: /tmp path: SB3 checkpoints are pickles, so whoever can write them can run code here)
DEFAULT_CHECKPOINT_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
    / "goal_rl" / "walker_expert_ckpt"


def private_checkpoint_dir(path: str | os.PathLike) -> Path:
    """The checkpoint folder, made private (mode 0700) if new, and refused unless it and its
    checkpoint files belong to this user and nobody else can write them.

    SB3 checkpoints (``a2c_*.zip``, ``vecnormalize_*.pkl``) are unpickled on resume, so a
    planted file would run its code: only a folder that no other user can write is trusted.

    Raises:
        ValueError: the folder (or a checkpoint in it) is owned by another user or is group-
            or world-writable, or it is not a folder.
    """
    folder = Path(path)
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise ValueError(f"cannot create checkpoint folder {str(folder)!r}: "
                             f"{exc.strerror or exc}") from None
        return folder
    if not folder.is_dir():
        raise ValueError(f"checkpoint folder {str(folder)!r} exists and is not a folder")
    files = [folder, *folder.glob("a2c_*.zip"), *folder.glob("vecnormalize_*.pkl")]
    for item in files:
        st = item.stat()
        if st.st_uid != os.getuid():
            raise ValueError(f"refusing checkpoints in {str(folder)!r}: {str(item)!r} belongs "
                             f"to another user (uid {st.st_uid}); checkpoints are pickles, "
                             "so only a private folder is trusted")
        if st.st_mode & 0o022:
            raise ValueError(f"refusing checkpoints in {str(folder)!r}: {str(item)!r} is group- "
                             "or world-writable; checkpoints are pickles, so only a private "
                             "folder is trusted (chmod go-w, or choose another "
                             "--checkpoint-dir)")
    return folder

# The training recipe of the shipped expert; its time was measured on a 2-core CPU machine
# with one torch thread.
A2C_RECIPE: dict[str, Any] = {
    "n_envs": 16,
    "n_steps": 8,
    "gamma": 0.99,
    "gae_lambda": 0.9,
    "vf_coef": 0.4,
    "ent_coef": 0.0,
    "max_grad_norm": 0.5,
    "use_rms_prop": True,
    "normalize_advantage": False,
    "learning_rate_start": 9.6e-4,
    "learning_rate_schedule": "linear to 0 over total_steps",
    "use_sde": True,
    "log_std_init": -2.0,
    "ortho_init": False,
    "net_arch": {"pi": [64, 64], "vf": [64, 64]},
    "activation": "tanh",
    "vec_normalize": {"norm_obs": True, "norm_reward": True, "clip_obs": 10.0, "gamma": 0.99},
}
# Checkpoints are ranked on these episodes; the reported figures use seeds 1000..1049,
# so selection and reporting never share an episode.
SELECTION_SEED = 500_000
FINAL_SEED = 1000
# Figures of an evaluation kept with a checkpoint (in this order) and in the final report.
_RANK_KEYS = ("mean_reward", "std_reward", "success_rate", "mean_length", "n_eval_episodes")
_FINAL_KEYS = ("mean_reward", "std_reward", "n_eval_episodes", "success_rate", "mean_length",
               "seed")


def _import_sb3() -> Any:
    try:
        import stable_baselines3
    except ImportError as exc:
        raise ImportError(
            "training the walker expert needs Stable-Baselines3; install it with "
            "pip install -e '.[expert]'"
        ) from exc
    return stable_baselines3


def _pick(res: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: res[k] for k in keys}


def _latest_checkpoint(ckpt_dir: Path) -> int | None:
    """Step count of the newest complete checkpoint (model and statistics) in ``ckpt_dir``."""
    steps = []
    for p in ckpt_dir.glob("a2c_*.zip"):
        try:
            n = int(p.stem.split("_")[1])
        except (IndexError, ValueError):
            continue
        if (ckpt_dir / f"vecnormalize_{n:09d}.pkl").is_file():
            steps.append(n)
    return max(steps) if steps else None


def _clear_checkpoints(ckpt_dir: Path) -> None:
    """Delete the files an earlier :func:`train_expert` run left in ``ckpt_dir``."""
    for p in [*ckpt_dir.glob("a2c_*.zip"), *ckpt_dir.glob("vecnormalize_*.pkl")]:
        p.unlink()
    for p in (ckpt_dir / "state.json", ckpt_dir / "best_expert.pt"):
        if p.exists():
            p.unlink()


def _open_run(ckpt_dir: Path, seed: int, resume: bool, eval_episodes: int
              ) -> tuple[dict[str, Any], int | None]:
    """The run's state dict and the step to resume from (``None``: a fresh start, which
    clears ``ckpt_dir``). A kept best checkpoint ranked on other selection episodes is
    ranked again on these.

    Raises:
        ValueError: ``ckpt_dir`` holds a run with another seed.
    """
    selection = {"n_eval_episodes": int(eval_episodes), "seed": SELECTION_SEED}
    state: dict[str, Any] = {"seed": int(seed), "selection": selection, "history": [],
                             "best": None, "wall_s": 0.0}
    start = _latest_checkpoint(ckpt_dir) if resume else None
    if start is None:
        _clear_checkpoints(ckpt_dir)
        return state, None
    state_path, best_path = ckpt_dir / "state.json", ckpt_dir / "best_expert.pt"
    if state_path.is_file():
        state = json.loads(state_path.read_text())
    if int(state.get("seed", seed)) != int(seed):
        raise ValueError(
            f"checkpoint directory {ckpt_dir} holds a run with seed {state['seed']}, not "
            f"{seed}; pass resume=False (--no-resume) or another checkpoint directory"
        )
    if state.get("best") is not None and state.get("selection") != selection:
        if best_path.is_file():
            res = evaluate_expert(MLPExpert.from_file(best_path), eval_episodes, SELECTION_SEED)
            state["best"] = {**state["best"], **_pick(res, _RANK_KEYS)}
        else:
            state["best"] = None
        state["selection"] = selection
    return state, start


def _build_model(ckpt_dir: Path, seed: int, start: int | None, recipe: dict[str, Any]
                 ) -> tuple[Any, Any]:
    """``(model, venv)``: a new A2C agent on normalised vector envs, or the one saved at
    step ``start`` in ``ckpt_dir`` with its normalisation statistics. The learning rate
    decays linearly from the recipe's start value to 0 over the whole run."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import LinearSchedule
    from stable_baselines3.common.vec_env import VecNormalize

    lr = LinearSchedule(recipe["learning_rate_start"], 0.0, 1.0)  # of progress remaining
    base_env = make_vec_env(ENV_ID, n_envs=int(recipe["n_envs"]), seed=int(seed) + (start or 0))
    if start is not None:
        venv = VecNormalize.load(str(ckpt_dir / f"vecnormalize_{start:09d}.pkl"), base_env)
        venv.training = True
        venv.norm_reward = True
        model = A2C.load(str(ckpt_dir / f"a2c_{start:09d}.zip"), env=venv, device="cpu",
                         custom_objects={"learning_rate": lr, "lr_schedule": lr})
        model.set_random_seed(int(seed) + start)
        return model, venv
    venv = VecNormalize(base_env, norm_obs=True, norm_reward=True, clip_obs=10.0,
                        gamma=recipe["gamma"])
    model = A2C(
        "MlpPolicy", venv, learning_rate=lr, n_steps=recipe["n_steps"], gamma=recipe["gamma"],
        gae_lambda=recipe["gae_lambda"], ent_coef=recipe["ent_coef"],
        vf_coef=recipe["vf_coef"], max_grad_norm=recipe["max_grad_norm"],
        use_rms_prop=recipe["use_rms_prop"], normalize_advantage=recipe["normalize_advantage"],
        use_sde=recipe["use_sde"],
        policy_kwargs={"log_std_init": recipe["log_std_init"],
                       "ortho_init": recipe["ortho_init"]},
        seed=int(seed), device="cpu", verbose=0,
    )
    return model, venv


class _Checkpointer:
    """Saves the model and its statistics at a step count, evaluates the deterministic
    policy on the selection episodes, keeps the best one as ``best_expert.pt`` and writes
    the run's ``state.json``."""

    def __init__(self, model: Any, venv: Any, ckpt_dir: Path, state: dict[str, Any],
                 eval_episodes: int, say: Callable[[str], None]) -> None:
        self.model, self.venv, self.ckpt_dir, self.state = model, venv, ckpt_dir, state
        self.eval_episodes = eval_episodes
        self.say = say
        self.best_path = ckpt_dir / "best_expert.pt"
        self.t_run = time.perf_counter()
        self.wall_before = float(state.get("wall_s", 0.0))

    def __call__(self, steps: int) -> None:
        self.model.save(str(self.ckpt_dir / f"a2c_{steps:09d}.zip"), exclude=["lr_schedule"])
        vn_tmp = self.ckpt_dir / f"vecnormalize_{steps:09d}.pkl.tmp"
        self.venv.save(str(vn_tmp))
        os.replace(vn_tmp, self.ckpt_dir / f"vecnormalize_{steps:09d}.pkl")
        expert = MLPExpert.from_sb3(self.model, self.venv)
        t0 = time.perf_counter()
        res = evaluate_expert(expert, n_episodes=self.eval_episodes, seed=SELECTION_SEED)
        entry = {"steps": steps, **_pick(res, _RANK_KEYS),
                 "eval_s": round(time.perf_counter() - t0, 1)}
        state = self.state
        state["history"].append(entry)
        best = state.get("best")
        is_best = best is None or entry["mean_reward"] > best["mean_reward"]
        if is_best:
            state["best"] = entry
            expert.save(self.best_path)
        state["latest"] = steps
        state["wall_s"] = self.wall_before + time.perf_counter() - self.t_run
        text = json.dumps(state, indent=1)
        atomic_write(self.ckpt_dir / "state.json", lambda fh: fh.write(text.encode()))
        self.say(
            f"[{steps:>9,d} steps] eval {res['mean_reward']:7.1f} +- "
            f"{res['std_reward']:5.1f}, reached end {res['success_rate']:.0%}, "
            f"{state['wall_s'] / 60:.1f} min{'  (best)' if is_best else ''}"
        )


def _progress_bar(progress: bool, total_steps: int, start: int) -> Any:
    if not progress:
        return None
    from goal_rl.common.progress import progress_bar

    return progress_bar(total_steps, "A2C walker", "step", initial=start, unit_scale=True,
                        mininterval=10.0, smoothing=0.05)


def _hooks(checkpoint: _Checkpointer, start: int, every: int, total_steps: int, bar: Any
           ) -> Any:
    """SB3 callback: moves the bar and checkpoints at every multiple of ``every`` steps
    (below ``total_steps``) when a rollout starts."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Hooks(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_mark = (start // every + 1) * every
            self.shown = start

        def _on_step(self) -> bool:
            return True

        def _on_rollout_start(self) -> None:
            # Parameters now reflect every collected step: a consistent checkpoint.
            n = self.model.num_timesteps
            if bar is not None:
                bar.update(n - self.shown)
                self.shown = n
            if n >= self.next_mark and n < total_steps:
                checkpoint(n)
                self.next_mark = (n // every + 1) * every

    return Hooks()


def _export(best_path: Path, state: dict[str, Any], seed: int, total_steps: int,
            recipe: dict[str, Any], final_eval_episodes: int, out_path: Path) -> dict[str, Any]:
    """Evaluate the best checkpoint on the reported episodes (seeds ``1000 + i``), write it
    with its training record to ``out_path`` and return the summary."""
    import stable_baselines3

    best_entry = state["best"]
    expert = MLPExpert.from_file(best_path)
    final = evaluate_expert(expert, n_episodes=final_eval_episodes, seed=FINAL_SEED)
    expert.meta = {
        "env_id": ENV_ID,
        "training": {
            "algorithm": "A2C",
            "library": f"stable-baselines3 {stable_baselines3.__version__}",
            "torch": str(torch.__version__),
            "seed": int(seed),
            "steps": int(best_entry["steps"]),
            "total_steps": int(state.get("latest", total_steps)),
            "wall_s": round(float(state["wall_s"]), 1),
            "recipe": recipe,
        },
        "evaluation": {
            "selection": {**best_entry, "seed": SELECTION_SEED},
            "final": _pick(final, _FINAL_KEYS),
        },
        "history": state["history"],
    }
    expert.save(out_path)
    return {"out_path": str(out_path), **expert.meta}


def train_expert(
    out_path: str | os.PathLike = DEFAULT_EXPERT_PATH,
    total_steps: int = 3_500_000,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    resume: bool = True,
    progress: bool = True,
    checkpoint_every: int = 250_000,
    eval_episodes: int = 50,
    final_eval_episodes: int = 50,
) -> dict[str, Any]:
    """Train the A2C walker expert and export the best checkpoint to ``out_path``.

    Every ``checkpoint_every`` steps the SB3 model and its ``VecNormalize`` statistics are
    saved to ``checkpoint_dir`` and the deterministic policy is evaluated on
    ``eval_episodes`` fixed seeded episodes (seeds ``500000 + i``, disjoint from the
    reported ones); the best mean return so far is kept as ``checkpoint_dir/best_expert.pt``
    (checkpoints can dip). With ``resume=True`` the run continues from the latest
    checkpoint in ``checkpoint_dir`` (step count, optimizer, normalisation statistics,
    best-so-far); the learning rate decays linearly from 9.6e-4 at step 0 to 0 at
    ``total_steps``, so resuming with a larger ``total_steps`` raises it again to the value
    that schedule has at the resumed step. The environments are re-seeded on resume, so a
    resumed run is not bit-identical to an uninterrupted one. A fresh start
    (``resume=False`` or no checkpoint) deletes this function's earlier checkpoint files
    (``a2c_*.zip``, ``vecnormalize_*.pkl``, ``state.json``, ``best_expert.pt``) from
    ``checkpoint_dir``.

    At the end the best expert is evaluated on ``final_eval_episodes`` episodes (seeds
    ``1000 + i``) and written to ``out_path``. Returns a summary dict (``out_path`` and
    the file's ``env_id``, ``training``, ``evaluation``, ``history`` records).

    Raises:
        ImportError: Stable-Baselines3 is not installed (names the ``expert`` extra).
        ValueError: ``total_steps`` ≤ 0, or ``checkpoint_dir`` holds a run with another seed.
    """
    _import_sb3()
    total_steps = int(total_steps)
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    ckpt_dir = private_checkpoint_dir(checkpoint_dir)
    best_path = ckpt_dir / "best_expert.pt"
    recipe = dict(A2C_RECIPE)
    state, start = _open_run(ckpt_dir, seed, resume, eval_episodes)

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, venv = _build_model(ckpt_dir, seed, start, recipe)
        start = start or 0
        bar = _progress_bar(progress, total_steps, start)
        say = (lambda msg: None) if bar is None else bar.write
        checkpoint = _Checkpointer(model, venv, ckpt_dir, state, eval_episodes, say)
        if start < total_steps:
            # learn() adds the current step count, so progress (and the LR) is global.
            model.learn(total_timesteps=total_steps - start, reset_num_timesteps=False,
                        callback=_hooks(checkpoint, start, checkpoint_every, total_steps, bar))
            if bar is not None:
                bar.update(model.num_timesteps - bar.n)
            checkpoint(int(model.num_timesteps))
        elif state.get("best") is None or not best_path.is_file():
            state["best"] = None
            checkpoint(int(model.num_timesteps))
        if bar is not None:
            bar.close()
        venv.close()
    finally:
        torch.set_num_threads(prev_threads)
    return _export(best_path, state, seed, total_steps, recipe, final_eval_episodes,
                   Path(out_path))
