"""Closed-loop speed of the spiking agent wrapper: agent steps per second.

Prints, for a network of N units (default 300) on the Button & Food env:

* network only: ``SpikingAgent.act`` on a fixed observation batch (batch 1 and 8), for
  tensors (torch path) and, on the CPU, NumPy arrays (NumPy path);
* env + network: :func:`goal_rl.learning.evaluation.evaluate` on one env and on a
  ``SyncVectorEnv`` of 8 envs (NumPy path on the CPU; Gymnasium's ``NumpyToTorch`` wrappers
  on other devices).

Steps per second count agent steps: one network step for one trial is one step, so a
batch of 8 advancing once counts 8. Run: ``python benchmarks/agent_speed.py [--n-rec 300]
[--device cpu|cuda] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import goal_rl.envs  # noqa: E402, F401  (registers goal_rl/ButtonFood-v0)
from goal_rl.common.threads import torch_threads  # noqa: E402
from goal_rl.engines.common import init_weights  # noqa: E402
from goal_rl.learning.agent import SpikingAgent  # noqa: E402
from goal_rl.learning.evaluation import evaluate  # noqa: E402
from goal_rl.learning.rollout import closed_loop_threads  # noqa: E402
from goal_rl.model.lif import LIFParams  # noqa: E402
from goal_rl.model.network import SpikingNetwork  # noqa: E402

ENV_ID = "goal_rl/ButtonFood-v0"


def make_agent(n_rec: int, device: str, seed: int = 0) -> SpikingAgent:
    """An agent with Button & Food sizes (80 inputs, 2 outputs) and random weights
    (speed does not depend on training; σ_rec = 0.5 so the network is active)."""
    w = init_weights(80, n_rec, 2, sigma_inp=5.0, sigma_trg=3.0, sigma_rec=0.5,
                     rng=np.random.default_rng(seed))
    net = SpikingNetwork(w, LIFParams(tau_m=6.0, tau_s=2.0, tau_o=10.0))
    return SpikingAgent(net, action_low=-10.0, action_high=10.0, device=device)


def act_steps_per_s(agent: SpikingAgent, obs: Any, steps: int, warmup: int = 20) -> float:
    """Agent steps per second (per trial) of ``agent.act`` on the fixed batch ``obs``
    ``(B, I)`` after ``warmup`` steps (CUDA work is waited for)."""
    state = None
    for _ in range(warmup):
        _, state = agent.act(obs, state)
    if agent.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        _, state = agent.act(obs, state)
    if agent.device.type == "cuda":
        torch.cuda.synchronize()
    return obs.shape[0] * steps / (time.perf_counter() - t0)


def network_only(agent: SpikingAgent, batch: int, steps: int, numpy: bool = False) -> float:
    """Agent steps per second of ``act`` alone: a tensor already on the device (torch
    path) or, with ``numpy``, a NumPy array (the NumPy path of a CPU agent)."""
    obs: Any = torch.rand(batch, agent.n_inp, device=agent.device)
    return act_steps_per_s(agent, obs.cpu().numpy() if numpy else obs, steps)


def with_env(agent: SpikingAgent, num_envs: int, episodes: int) -> float:
    """Agent steps per second in closed loop through :func:`evaluate` (80-step episodes)."""
    evaluate(agent, ENV_ID, num_envs, 0, num_envs=num_envs)  # warm-up
    res = evaluate(agent, ENV_ID, episodes, 1, num_envs=num_envs)
    return res["steps_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-rec", type=int, default=300)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--steps", type=int, default=2000, help="network-only steps per batch")
    p.add_argument("--episodes", type=int, default=16, help="episodes per env measurement")
    args = p.parse_args()
    agent = make_agent(args.n_rec, args.device)
    print(f"SpikingAgent N={args.n_rec} on {args.device} (torch {torch.__version__}, "
          f"{args.threads} CPU thread(s)); Button & Food, 80 inputs, 2 actions")
    print(f"{'measurement':<38}{'agent steps/s':>15}{'µs per step call':>18}")
    with torch_threads(args.threads, args.device):
        rows = [
            ("network only, torch, batch 1", network_only(agent, 1, args.steps), 1),
            ("network only, torch, batch 8", network_only(agent, 8, args.steps), 8),
        ]
        if agent.device.type == "cpu":
            with closed_loop_threads(agent):  # single-threaded BLAS, as evaluate uses
                rows += [
                    ("network only, NumPy, batch 1", network_only(agent, 1, args.steps, True),
                     1),
                    ("network only, NumPy, batch 8", network_only(agent, 8, args.steps, True),
                     8),
                ]
        rows += [
            ("env + network, 1 env", with_env(agent, 1, args.episodes), 1),
            ("env + network, 8 vector envs", with_env(agent, 8, args.episodes * 4), 8),
        ]
    for name, rate, batch in rows:
        print(f"{name:<38}{rate:>15,.0f}{1e6 * batch / rate:>18,.0f}")


if __name__ == "__main__":
    main()
