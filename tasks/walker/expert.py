"""The BipedalWalker-v3 experts the spiking agent learns from, and their evaluation.

* :class:`MLPExpert` — the shipped, stateless expert: observation normalisation, two
  64-unit tanh layers and a linear action head, exported from a Stable-Baselines3 A2C agent
  (trained by :mod:`goal_rl.tasks.walker.expert_training`; see docs/walker.md);
* :class:`HeuristicExpert` — Gymnasium's scripted controller (stateful);
* :func:`load_expert` by name or path, :func:`evaluate_expert` on seeded episodes.

Using the shipped expert needs only torch, numpy and gymnasium; Stable-Baselines3 is
imported only when training (``pip install -e '.[expert]'``).

Command line (:func:`goal_rl.tasks.walker.cli.expert_main`)::

    python -m goal_rl.walker_expert --evaluate [a2c|heuristic|PATH] --episodes 50
    python -m goal_rl.walker_expert --train --steps 3500000 --out PATH \
        [--checkpoint-dir DIR] [--no-resume]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from goal_rl.common.io import atomic_write

__all__ = [
    "DEFAULT_EXPERT_PATH",
    "ENV_ID",
    "HeuristicExpert",
    "MLPExpert",
    "evaluate_expert",
    "load_expert",
]

ENV_ID = "BipedalWalker-v3"
OBS_DIM = 24
ACT_DIM = 4
FILE_FORMAT = "goal_rl.walker_expert.mlp/1"
DEFAULT_EXPERT_PATH = Path(__file__).resolve().parent / "data" / "walker_expert_a2c.pt"


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
        return atomic_write(path, lambda fh: torch.save(payload, fh))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> MLPExpert:
        from goal_rl.common.io import load_torch_file

        path = Path(path)
        payload = load_torch_file(path, "walker expert file", FILE_FORMAT)
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
    (the stateful heuristic) is reset before every episode. The episodes run through
    :func:`goal_rl.learning.rollout.play`, the package's one episode loop.

    Returns:
        ``mean_reward``, ``std_reward``, ``success_rate``, ``mean_length`` (steps),
        ``n_eval_episodes``, ``seed``, and per episode ``episode_returns`` /
        ``episode_lengths``.

    Raises:
        ValueError: ``n_episodes`` < 1, or an unknown expert name / unreadable file.
        FileNotFoundError: no such expert file.
    """
    from goal_rl.envs.fast_walker import make_walker
    from goal_rl.envs.wrappers import ReachedEnd
    from goal_rl.learning.rollout import ExpertPolicy, play

    if isinstance(expert, (str, os.PathLike)):
        expert = load_expert(expert)
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    policy = ExpertPolicy(lambda obs, env: np.asarray(expert(obs), dtype=np.float32),
                          reset=getattr(expert, "reset", None))
    env = ReachedEnd(make_walker())  # steps equal to gym.make(ENV_ID)'s, bit for bit, faster
    try:
        episodes = play(env, policy, int(n_episodes), int(seed))
    finally:
        env.close()
    returns = [ep.total_reward for ep in episodes]
    lengths = [ep.length for ep in episodes]
    successes = [bool(ep.info["reached_end"]) for ep in episodes]
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
