"""A stateless BipedalWalker-v3 expert shipped inside the package (SPEC section 3c).

The expert is a small MLP (observation normalisation + 2 x 64 tanh layers + linear action
head) exported from a Stable-Baselines3 A2C agent trained with the recipe in
:func:`train_expert`.  Using the shipped expert needs only torch, numpy and gymnasium;
Stable-Baselines3 is imported only when training (``pip install -e '.[expert]'``).

Command line::

    python -m goal_rl.walker_expert --evaluate [a2c|heuristic|PATH] --episodes 50
    python -m goal_rl.walker_expert --train --steps 3500000 --out PATH \
        [--checkpoint-dir DIR] [--no-resume]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "DEFAULT_EXPERT_PATH",
    "ENV_ID",
    "HeuristicExpert",
    "MLPExpert",
    "evaluate_expert",
    "load_expert",
    "main",
    "train_expert",
]

ENV_ID = "BipedalWalker-v3"
OBS_DIM = 24
ACT_DIM = 4
FILE_FORMAT = "goal_rl.walker_expert.mlp/1"
DEFAULT_EXPERT_PATH = Path(__file__).resolve().parent / "data" / "walker_expert_a2c.pt"
DEFAULT_CHECKPOINT_DIR = Path(tempfile.gettempdir()) / "goal_rl_walker_expert_ckpt"

# Training recipe (SPEC 3c); measured on a 2-core CPU machine with one torch thread.
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


# --------------------------------------------------------------------------------------
# MLP expert
# --------------------------------------------------------------------------------------
class MLPExpert(nn.Module):
    """Deterministic policy: ``clip(head(mlp(clip((obs - mean) / sqrt(var + eps), +-clip))))``.

    Mirrors Stable-Baselines3's ``ActorCriticPolicy`` actor for continuous actions (flatten
    features, ``mlp_extractor.policy_net``, ``action_net``; the deterministic action is the
    distribution mean, clipped to the action space) preceded by ``VecNormalize``'s
    observation normalisation.  Calling it on a numpy array of shape ``(24,)`` or ``(B, 24)``
    returns float32 actions of shape ``(4,)`` or ``(B, 4)``; calling it on a torch tensor
    returns a tensor.  It keeps no state between calls.
    """

    def __init__(
        self,
        obs_dim: int = OBS_DIM,
        act_dim: int = ACT_DIM,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        clip_obs: float = 10.0,
        epsilon: float = 1e-8,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        activations = {"tanh": nn.Tanh, "relu": nn.ReLU}
        if activation not in activations:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {list(activations)}"
            )
        self.obs_dim = int(obs_dim)
        self.act_dim = int(act_dim)
        self.hidden = [int(h) for h in hidden]
        self.activation = activation
        self.clip_obs = float(clip_obs)
        self.epsilon = float(epsilon)
        # float64 like VecNormalize's running statistics.
        self.register_buffer("obs_mean", torch.zeros(self.obs_dim, dtype=torch.float64))
        self.register_buffer("obs_var", torch.ones(self.obs_dim, dtype=torch.float64))
        layers: list[nn.Module] = []
        width = self.obs_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h), activations[activation]()]
            width = h
        self.policy_net = nn.Sequential(*layers)
        self.action_net = nn.Linear(width, self.act_dim)
        self.meta: dict[str, Any] = dict(meta or {})
        self.eval()

    # ---- forward -------------------------------------------------------------------
    def _normalise(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs.to(torch.float64) - self.obs_mean) / torch.sqrt(self.obs_var + self.epsilon)
        return x.clamp(-self.clip_obs, self.clip_obs).to(torch.float32)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.action_net(self.policy_net(self._normalise(obs))).clamp(-1.0, 1.0)

    def hidden_activations(self, obs: Any) -> np.ndarray:
        """The hidden layers' outputs for ``obs (24,)`` or ``(B, 24)``, concatenated:
        float32 ``(sum(hidden),)`` or ``(B, sum(hidden))`` (128 values for 2 x 64 tanh
        units, each in [-1, 1]). The action is a linear function of the last layer."""
        arr = np.asarray(obs, dtype=np.float64)
        self._check_shape(arr.shape)
        outs = []
        with torch.no_grad():
            h = self._normalise(torch.from_numpy(arr))
            for layer in self.policy_net:
                h = layer(h)
                if not isinstance(layer, nn.Linear):
                    outs.append(h)
        return torch.cat(outs, dim=-1).numpy().astype(np.float32, copy=False)

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) not in (1, 2) or shape[-1] != self.obs_dim:
            raise ValueError(
                f"observation must have shape ({self.obs_dim},) or (B, {self.obs_dim}); "
                f"got shape {tuple(shape)}"
            )

    def __call__(self, obs: Any) -> Any:  # type: ignore[override]
        if isinstance(obs, torch.Tensor):
            self._check_shape(tuple(obs.shape))
            return super().__call__(obs)
        arr = np.asarray(obs, dtype=np.float64)
        self._check_shape(arr.shape)
        with torch.no_grad():
            act = super().__call__(torch.from_numpy(arr))
        return act.numpy().astype(np.float32, copy=False)

    # ---- conversion ----------------------------------------------------------------
    @classmethod
    def from_sb3(cls, model: Any, vec_normalize: Any, meta: dict[str, Any] | None = None):
        """Build from a Stable-Baselines3 on-policy model and its ``VecNormalize`` wrapper."""
        policy = model.policy
        linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)]
        acts = {type(m).__name__ for m in policy.mlp_extractor.policy_net}
        activation = "relu" if "ReLU" in acts else "tanh"
        expert = cls(
            obs_dim=linears[0].in_features if linears else policy.action_net.in_features,
            act_dim=policy.action_net.out_features,
            hidden=[m.out_features for m in linears],
            activation=activation,
            clip_obs=float(vec_normalize.clip_obs),
            epsilon=float(vec_normalize.epsilon),
            meta=meta,
        )
        with torch.no_grad():
            expert.policy_net.load_state_dict(policy.mlp_extractor.policy_net.state_dict())
            expert.action_net.load_state_dict(policy.action_net.state_dict())
            expert.obs_mean.copy_(torch.as_tensor(vec_normalize.obs_rms.mean, dtype=torch.float64))
            expert.obs_var.copy_(torch.as_tensor(vec_normalize.obs_rms.var, dtype=torch.float64))
        return expert

    # ---- persistence ---------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        return {
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "clip_obs": self.clip_obs,
            "epsilon": self.epsilon,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``{"format", "architecture", "state_dict", "meta"}`` atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # JSON round trip: plain types only, so the file loads with weights_only=True
        # (raises TypeError early if meta is not JSON-able).
        meta = json.loads(json.dumps(self.meta))
        payload = {
            "format": FILE_FORMAT,
            "architecture": self.architecture(),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "meta": meta,
        }
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            torch.save(payload, tmp)
            os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> MLPExpert:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"expert file not found: {path}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle/zip errors come in many types
            raise ValueError(f"cannot read expert file {path}: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a goal_rl walker expert file (format {FILE_FORMAT})")
        try:
            expert = cls(**payload["architecture"], meta=payload.get("meta") or {})
            expert.load_state_dict(payload["state_dict"])
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise ValueError(f"expert file {path} is inconsistent: {exc}") from None
        expert.eval()
        return expert


# --------------------------------------------------------------------------------------
# Heuristic expert (gymnasium's scripted controller)
# --------------------------------------------------------------------------------------
class HeuristicExpert:
    """Gymnasium's scripted ``BipedalWalkerHeuristics`` controller as a callable.

    Unlike :class:`MLPExpert` it is STATEFUL: it runs a gait state machine (which leg is
    moving, the target knee angle).  Call :meth:`reset` at the start of every episode and
    feed it the observations of a single episode in order, one ``(24,)`` observation per
    call.  It averages about 96 and reaches the end of the terrain in roughly a quarter of
    the episodes.
    """

    def __init__(self) -> None:
        self._controller: Any = None
        self.reset()

    def reset(self) -> None:
        from gymnasium.envs.box2d.bipedal_walker import BipedalWalkerHeuristics

        self._controller = BipedalWalkerHeuristics()
        # The class keeps its action buffer as a class attribute; give this instance its own.
        self._controller.a = np.zeros(ACT_DIM)

    def __call__(self, obs: Any) -> np.ndarray:
        arr = np.asarray(obs, dtype=np.float64)
        if arr.shape != (OBS_DIM,):
            raise ValueError(
                f"the heuristic expert is stateful and takes one observation of shape "
                f"({OBS_DIM},); got shape {arr.shape}"
            )
        act = self._controller.step_heuristic(arr)
        return np.asarray(act, dtype=np.float32).copy()


# --------------------------------------------------------------------------------------
# Loading and evaluation
# --------------------------------------------------------------------------------------
def load_expert(name_or_path: str | os.PathLike = "a2c") -> MLPExpert | HeuristicExpert:
    """``"a2c"``: the shipped expert; ``"heuristic"``: gymnasium's scripted controller
    (stateful, see :class:`HeuristicExpert`); otherwise a path to a ``.pt`` expert file."""
    name = os.fspath(name_or_path)
    if name == "a2c":
        if not DEFAULT_EXPERT_PATH.is_file():
            raise FileNotFoundError(
                f"shipped expert file not found: {DEFAULT_EXPERT_PATH} "
                "(retrain with: python -m goal_rl.walker_expert --train)"
            )
        return MLPExpert.from_file(DEFAULT_EXPERT_PATH)
    if name == "heuristic":
        return HeuristicExpert()
    looks_like_path = (
        name.endswith(".pt")
        or os.sep in name
        or (os.altsep is not None and os.altsep in name)
        or os.path.exists(name)
    )
    if not looks_like_path:
        raise ValueError(
            f"unknown expert {name!r}; choose 'a2c', 'heuristic' or a path to a .pt file"
        )
    return MLPExpert.from_file(name)


def evaluate_expert(
    expert: Callable[[np.ndarray], np.ndarray] | str | os.PathLike,
    n_episodes: int = 50,
    seed: int = 1000,
) -> dict[str, Any]:
    """Run ``n_episodes`` of BipedalWalker-v3; episode ``i`` uses ``reset(seed=seed + i)``.

    ``success_rate`` is the share of episodes that reach the end of the terrain (the env
    terminates without a fall because the hull passed the finish line), as opposed to
    falling or being truncated at the 1600-step limit.  An expert with a ``reset()`` method
    (the stateful heuristic) is reset before every episode.
    """
    from goal_rl.envs.fast_walker import make_walker, reached_end

    if isinstance(expert, (str, os.PathLike)):
        expert = load_expert(expert)
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    env = make_walker()  # steps equal to gym.make(ENV_ID)'s, bit for bit, and faster
    returns: list[float] = []
    lengths: list[int] = []
    successes: list[bool] = []
    try:
        for i in range(int(n_episodes)):
            if hasattr(expert, "reset"):
                expert.reset()
            obs, _ = env.reset(seed=int(seed) + i)
            total, steps = 0.0, 0
            while True:
                action = np.asarray(expert(obs), dtype=np.float32)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                steps += 1
                if terminated or truncated:
                    break
            returns.append(total)
            lengths.append(steps)
            successes.append(reached_end(env, terminated))
    finally:
        env.close()
    r = np.asarray(returns)
    return {
        "mean_reward": float(r.mean()),
        "std_reward": float(r.std()),
        "n_eval_episodes": int(n_episodes),
        "success_rate": float(np.mean(successes)),
        "mean_length": float(np.mean(lengths)),
        "episode_returns": returns,
        "episode_lengths": lengths,
        "seed": int(seed),
    }


# --------------------------------------------------------------------------------------
# Training (Stable-Baselines3 A2C)
# --------------------------------------------------------------------------------------
def _import_sb3():
    try:
        import stable_baselines3  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "training the walker expert needs Stable-Baselines3; install it with "
            "pip install -e '.[expert]'"
        ) from exc
    return stable_baselines3


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _latest_checkpoint(ckpt_dir: Path) -> int | None:
    steps = []
    for p in ckpt_dir.glob("a2c_*.zip"):
        try:
            n = int(p.stem.split("_")[1])
        except (IndexError, ValueError):
            continue
        if (ckpt_dir / f"vecnormalize_{n:09d}.pkl").is_file():
            steps.append(n)
    return max(steps) if steps else None


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
    reported ones); the best mean return so far is kept
    as ``checkpoint_dir/best_expert.pt`` (checkpoints can dip).  With ``resume=True`` the
    run continues from the latest checkpoint in ``checkpoint_dir`` (step count, optimizer,
    normalisation statistics, best-so-far); the learning rate decays linearly from 9.6e-4
    at step 0 to 0 at ``total_steps``, so resuming with a larger ``total_steps`` raises it
    again to the value that schedule has at the resumed step.  The environments are
    re-seeded on resume, so a resumed run is not bit-identical to an uninterrupted one.
    A fresh start (``resume=False`` or no checkpoint) deletes this function's earlier
    checkpoint files (``a2c_*.zip``, ``vecnormalize_*.pkl``, ``state.json``,
    ``best_expert.pt``) from ``checkpoint_dir``.

    At the end the best expert is evaluated on ``final_eval_episodes`` episodes (seeds
    ``1000 + i``) and written to ``out_path``.  Returns a summary dict.
    """
    _import_sb3()
    from stable_baselines3 import A2C
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import LinearSchedule
    from stable_baselines3.common.vec_env import VecNormalize

    total_steps = int(total_steps)
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    ckpt_dir = Path(checkpoint_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    out_path = Path(out_path)
    state_path = ckpt_dir / "state.json"
    best_path = ckpt_dir / "best_expert.pt"
    recipe = dict(A2C_RECIPE)
    n_envs = int(recipe["n_envs"])

    selection = {"n_eval_episodes": int(eval_episodes), "seed": SELECTION_SEED}
    state: dict[str, Any] = {
        "seed": int(seed),
        "selection": selection,
        "history": [],
        "best": None,
        "wall_s": 0.0,
    }
    start = _latest_checkpoint(ckpt_dir) if resume else None
    if start is not None:
        if state_path.is_file():
            state = json.loads(state_path.read_text())
        if int(state.get("seed", seed)) != int(seed):
            raise ValueError(
                f"checkpoint directory {ckpt_dir} holds a run with seed {state['seed']}, not "
                f"{seed}; pass resume=False (--no-resume) or another checkpoint directory"
            )
        if state.get("best") is not None and state.get("selection") != selection:
            # Ranked with other evaluation episodes: re-rank the kept best with these.
            if best_path.is_file():
                res = evaluate_expert(MLPExpert.from_file(best_path), eval_episodes, SELECTION_SEED)
                state["best"] = {
                    **state["best"],
                    **{
                        k: res[k]
                        for k in (
                            "mean_reward",
                            "std_reward",
                            "success_rate",
                            "mean_length",
                            "n_eval_episodes",
                        )
                    },
                }
            else:
                state["best"] = None
            state["selection"] = selection
    else:
        for p in [*ckpt_dir.glob("a2c_*.zip"), *ckpt_dir.glob("vecnormalize_*.pkl")]:
            p.unlink()
        for p in (state_path, best_path):
            if p.exists():
                p.unlink()

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    lr = LinearSchedule(recipe["learning_rate_start"], 0.0, 1.0)  # of progress remaining
    try:
        base_env = make_vec_env(ENV_ID, n_envs=n_envs, seed=int(seed) + (start or 0))
        if start is None:
            venv = VecNormalize(
                base_env, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=recipe["gamma"]
            )
            model = A2C(
                "MlpPolicy",
                venv,
                learning_rate=lr,
                n_steps=recipe["n_steps"],
                gamma=recipe["gamma"],
                gae_lambda=recipe["gae_lambda"],
                ent_coef=recipe["ent_coef"],
                vf_coef=recipe["vf_coef"],
                max_grad_norm=recipe["max_grad_norm"],
                use_rms_prop=recipe["use_rms_prop"],
                normalize_advantage=recipe["normalize_advantage"],
                use_sde=recipe["use_sde"],
                policy_kwargs={
                    "log_std_init": recipe["log_std_init"],
                    "ortho_init": recipe["ortho_init"],
                },
                seed=int(seed),
                device="cpu",
                verbose=0,
            )
            start = 0
        else:
            venv = VecNormalize.load(str(ckpt_dir / f"vecnormalize_{start:09d}.pkl"), base_env)
            venv.training = True
            venv.norm_reward = True
            model = A2C.load(
                str(ckpt_dir / f"a2c_{start:09d}.zip"),
                env=venv,
                device="cpu",
                custom_objects={"learning_rate": lr, "lr_schedule": lr},
            )
            model.set_random_seed(int(seed) + start)

        t_run = time.perf_counter()
        wall_before = float(state.get("wall_s", 0.0))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=total_steps,
                initial=start,
                unit="step",
                unit_scale=True,
                desc="A2C walker",
                mininterval=10.0,
                smoothing=0.05,
            )

        def say(msg: str) -> None:
            if bar is not None:
                bar.write(msg)

        def checkpoint_and_evaluate(steps: int) -> None:
            model.save(str(ckpt_dir / f"a2c_{steps:09d}.zip"), exclude=["lr_schedule"])
            vn_tmp = ckpt_dir / f"vecnormalize_{steps:09d}.pkl.tmp"
            venv.save(str(vn_tmp))
            os.replace(vn_tmp, ckpt_dir / f"vecnormalize_{steps:09d}.pkl")
            expert = MLPExpert.from_sb3(model, venv)
            t0 = time.perf_counter()
            res = evaluate_expert(expert, n_episodes=eval_episodes, seed=SELECTION_SEED)
            entry = {
                "steps": steps,
                "mean_reward": res["mean_reward"],
                "std_reward": res["std_reward"],
                "success_rate": res["success_rate"],
                "mean_length": res["mean_length"],
                "n_eval_episodes": res["n_eval_episodes"],
                "eval_s": round(time.perf_counter() - t0, 1),
            }
            state["history"].append(entry)
            best = state.get("best")
            is_best = best is None or entry["mean_reward"] > best["mean_reward"]
            if is_best:
                state["best"] = entry
                expert.save(best_path)
            state["latest"] = steps
            state["wall_s"] = wall_before + time.perf_counter() - t_run
            _atomic_write_text(state_path, json.dumps(state, indent=1))
            say(
                f"[{steps:>9,d} steps] eval {res['mean_reward']:7.1f} +- "
                f"{res['std_reward']:5.1f}, reached end {res['success_rate']:.0%}, "
                f"{state['wall_s'] / 60:.1f} min{'  (best)' if is_best else ''}"
            )

        class _Hooks(BaseCallback):
            def __init__(self) -> None:
                super().__init__()
                self.next_mark = (start // checkpoint_every + 1) * checkpoint_every
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
                    checkpoint_and_evaluate(n)
                    self.next_mark = (n // checkpoint_every + 1) * checkpoint_every

        if start < total_steps:
            # learn() adds the current step count, so progress (and the LR) is global.
            model.learn(
                total_timesteps=total_steps - start,
                reset_num_timesteps=False,
                callback=_Hooks(),
            )
            if bar is not None:
                bar.update(model.num_timesteps - bar.n)
            checkpoint_and_evaluate(int(model.num_timesteps))
        elif state.get("best") is None or not best_path.is_file():
            state["best"] = None
            checkpoint_and_evaluate(int(model.num_timesteps))
        if bar is not None:
            bar.close()
        venv.close()
    finally:
        torch.set_num_threads(prev_threads)

    best_entry = state["best"]
    expert = MLPExpert.from_file(best_path)
    final = evaluate_expert(expert, n_episodes=final_eval_episodes, seed=1000)
    import stable_baselines3

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
            "final": {
                k: final[k]
                for k in (
                    "mean_reward",
                    "std_reward",
                    "n_eval_episodes",
                    "success_rate",
                    "mean_length",
                    "seed",
                )
            },
        },
        "history": state["history"],
    }
    expert.save(out_path)
    return {"out_path": str(out_path), **expert.meta}


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr instead of usage + message
        raise _UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser(prog: str = "python -m goal_rl.walker_expert") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Train or evaluate the BipedalWalker-v3 expert.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train with the A2C recipe")
    mode.add_argument(
        "--evaluate",
        nargs="?",
        const="a2c",
        metavar="NAME|PATH",
        help="evaluate 'a2c' (default), 'heuristic' or a .pt file",
    )
    p.add_argument("--steps", type=_positive_int, default=3_500_000, help="training steps")
    p.add_argument("--out", default=str(DEFAULT_EXPERT_PATH), help="exported expert file")
    p.add_argument("--checkpoint-dir", default=str(DEFAULT_CHECKPOINT_DIR))
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    p.add_argument("--episodes", type=_positive_int, default=50, help="evaluation episodes")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="training seed (default 0) or first evaluation seed (default 1000)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m goal_rl.walker_expert") -> int:
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        if args.train:
            summary = train_expert(
                out_path=args.out,
                total_steps=args.steps,
                seed=0 if args.seed is None else args.seed,
                checkpoint_dir=args.checkpoint_dir,
                resume=not args.no_resume,
                progress=not args.no_progress,
            )
            fin = summary["evaluation"]["final"]
            print(
                f"wrote {summary['out_path']}: best at {summary['training']['steps']:,d} steps, "
                f"{fin['mean_reward']:.1f} +- {fin['std_reward']:.1f} over "
                f"{fin['n_eval_episodes']} episodes, reached end {fin['success_rate']:.0%}"
            )
            return 0
        seed = 1000 if args.seed is None else args.seed
        expert = load_expert(args.evaluate)
        t0 = time.perf_counter()
        res = evaluate_expert(expert, n_episodes=args.episodes, seed=seed)
        if args.json:
            print(json.dumps({"expert": args.evaluate, **res}))
        else:
            print(
                f"{args.evaluate}: {res['mean_reward']:.1f} +- {res['std_reward']:.1f} over "
                f"{res['n_eval_episodes']} episodes (seeds {seed}..{seed + args.episodes - 1}), "
                f"reached end {res['success_rate']:.0%}, mean length {res['mean_length']:.0f}, "
                f"{time.perf_counter() - t0:.1f} s"
            )
        return 0
    except (FileNotFoundError, ValueError, ImportError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
