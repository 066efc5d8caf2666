"""Closed-loop speed of the walker spiking agent (N = 500) on BipedalWalker-v3.

Prints env-only steps/s (Gymnasium's env and goal_rl's bit-identical faster one, which
:func:`goal_rl.tasks.walker.pipeline.make_env` builds by default), agent-only steps/s (network step
without env), closed-loop steps/s at batch 1 (on both envs), and batched throughput with
8 and 32 vector envs, plus a profile of where the batch-1 time goes. Run under the shared lock::

    flock /tmp/goal_rl_heavy.lock .venv/bin/python benchmarks/walker_speed.py [--device cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import numpy as np
import torch

from goal_rl.common.threads import torch_threads
from goal_rl.learning.agent import SpikingAgent
from goal_rl.learning.evaluation import evaluate
from goal_rl.learning.rollout import closed_loop_threads
from goal_rl.model.lif import LIFParams
from goal_rl.model.network import SpikingNetwork
from goal_rl.tasks.walker.pipeline import make_env


def random_agent(n_rec: int = 500, device: str = "cpu", seed: int = 0) -> SpikingAgent:
    """An agent with walker-like random weights (speed does not depend on training)."""
    rng = np.random.default_rng(seed)
    w = {"w_in": rng.normal(0, 3, (n_rec, 24)), "w_rec": rng.normal(0, 0.1, (n_rec, n_rec)),
         "w_out": rng.normal(0, 1 / np.sqrt(n_rec), (4, n_rec))}
    net = SpikingNetwork(w, LIFParams(tau_m=0.5, tau_s=1.0, tau_o=1.0))  # walker defaults
    return SpikingAgent(net, obs_shift=np.zeros(24), obs_scale=np.ones(24), obs_clip=10.0,
                        action_low=-1.0, action_high=1.0, device=device)


def env_only(steps: int = 5000, fast: bool = True) -> float:
    """Env steps/s with random actions (``fast``: goal_rl's env, else Gymnasium's)."""
    env = make_env(fast=fast)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (steps, 4)).astype(np.float32)
    t0 = time.perf_counter()
    for a in acts:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def agent_only(agent: SpikingAgent, steps: int = 5000, batch: int = 1,
               numpy: bool = False) -> float:
    """Network steps/s (per trial) without an env: zero observations as a tensor (torch
    path, one torch thread) or, with ``numpy``, as a NumPy array (the NumPy fast path of a
    CPU agent, single-threaded BLAS as in closed loop)."""
    from agent_speed import act_steps_per_s  # benchmarks/ is the script's folder

    if numpy:
        with closed_loop_threads(agent):
            return act_steps_per_s(agent, np.zeros((batch, 24), np.float32), steps, 50)
    with torch_threads(1, agent.device):
        return act_steps_per_s(agent, torch.zeros(batch, 24), steps, 50)


def actor_loop(agent: SpikingAgent, steps: int, compiled: bool, env: bool = False) -> float:
    """Steps/s of the batch-1 actor (``agent.actor()``, the NumPy step, or with ``compiled``
    :func:`~goal_rl.engines.compiled_agent.compiled_actor`, same actions), without an env
    (zero observations) or, with ``env``, in closed loop on goal_rl's env (a plain loop:
    reset at episode end), single-threaded BLAS."""
    from goal_rl.engines.compiled_agent import compiled_actor

    act = agent.actor()
    if compiled:
        act = compiled_actor(agent, act)
    e = make_env() if env else None
    obs = e.reset(seed=0)[0][None] if e is not None else np.zeros((1, 24))
    state = None
    with closed_loop_threads(agent):
        t0 = time.perf_counter()
        for _ in range(steps):
            y, state = act(obs, state)
            if e is not None:
                o, _, term, trunc, _ = e.step(y[0])
                if term or trunc:
                    o, state = e.reset()[0], None
                obs = o[None]
        dt = time.perf_counter() - t0
    return steps / dt


def closed_loop(agent: SpikingAgent, n_episodes: int, num_envs: int, fast: bool = True) -> float:
    """Agent+env steps/s through :func:`goal_rl.learning.evaluation.evaluate` (``fast``: on
    goal_rl's env, else on Gymnasium's)."""
    res = evaluate(agent, lambda: make_env(fast=fast), n_episodes, 0, num_envs=num_envs)
    return float(res["steps_per_s"])


def _spread(values: list[float]) -> str:
    """``median [min, max] steps/s`` of repeated measurements."""
    return (f"{np.median(values):6.0f} [{min(values):.0f}, {max(values):.0f}] steps/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-rec", type=int, default=500)
    p.add_argument("--repeats", type=int, default=7, help="interleaved repeats per figure")
    args = p.parse_args()
    agent = random_agent(args.n_rec, args.device)
    reps = args.repeats
    print(f"N = {args.n_rec}, device {args.device}, torch threads {torch.get_num_threads()}; "
          f"median [min, max] of {reps} interleaved repeats (this VM's speed drifts by "
          "up to ±25 % between minutes, so goal_rl's and Gymnasium's env alternate)")
    fast_env, stock_env, fast_loop, stock_loop = [], [], [], []
    for _ in range(reps):
        fast_env.append(env_only(2000))
        stock_env.append(env_only(2000, fast=False))
        fast_loop.append(closed_loop(agent, 2, 1))
        stock_loop.append(closed_loop(agent, 2, 1, fast=False))
    print(f"env only (random actions)     : {_spread(fast_env)}"
          f"   (Gymnasium's env: {_spread(stock_env)})")
    torch_path = [agent_only(agent, 2000) for _ in range(reps)]
    print(f"agent only, torch path, b. 1  : {_spread(torch_path)}")
    if agent.device.type == "cpu":
        print(f"agent only, NumPy path, b. 1  : "
              f"{_spread([agent_only(agent, 3000, numpy=True) for _ in range(reps)])}")
        from goal_rl.engines.compiled import available, unavailable_reason

        if available():
            t0 = time.perf_counter()
            actor_loop(agent, 1, True)
            print(f"compiled agent step, first call (compile or cache load): "
                  f"{time.perf_counter() - t0:.2f} s")
            pairs: dict[str, list[float]] = {}
            for _ in range(reps):  # interleaved, same run
                for name, comp, env in (("NumPy actor", False, False),
                                        ("compiled actor", True, False),
                                        ("NumPy actor + env", False, True),
                                        ("compiled actor + env", True, True)):
                    pairs.setdefault(name, []).append(actor_loop(agent, 3000, comp, env))
            for name, v in pairs.items():
                print(f"{name + ', b. 1':<30}: {_spread(v)}  ({1e6 / np.median(v):.1f} µs/step)")
        else:
            print(f"compiled agent step unavailable: {unavailable_reason()}")
    print(f"closed loop, batch 1          : {_spread(fast_loop)}"
          f"   (on Gymnasium's env: {_spread(stock_loop)})")
    for k in (8, 32):
        print(f"closed loop, {k:2d} vector envs   : {closed_loop(agent, 2 * k, k):8.0f} steps/s"
              f"   (agent only, batch {k}: {agent_only(agent, 2000, k):8.0f})")
    prof = cProfile.Profile()
    prof.enable()
    closed_loop(agent, 4, 1)
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(12)
    print("\nprofile of the batch-1 closed loop (top 12 by own time):")
    print("\n".join(s.getvalue().splitlines()[6:22]))


if __name__ == "__main__":
    main()
