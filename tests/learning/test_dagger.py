"""Tests for goal_rl.learning.dagger: labelled rollouts, the data hooks and the DAgger rounds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import goal_rl.envs  # noqa: F401
from goal_rl.learning.cloning import CloneConfig, clone
from goal_rl.learning.dagger import (
    cap_steps,
    concat_all,
    dagger,
    keep_newest,
    labelled_rollout,
    stateless_expert,
)
from goal_rl.learning.demos import Demonstrations, record_demonstrations
from goal_rl.tasks.button_food.task import expert_phase_hint, paper_expert

ANGLES = [60.0, 120.0]


def bf_env() -> gym.Env:
    return gym.make("goal_rl/ButtonFood-v0")


def opts(i: int) -> dict:
    return {"angle": ANGLES[i % 2]}


def small_config(**kw) -> CloneConfig:
    return CloneConfig(**{"n_rec": 30, "sigma_inp": 8.0, "sigma_trg": 4.0, "tau_o": 5.0,
                          **kw})


@pytest.fixture(scope="module")
def expert_demos() -> Demonstrations:
    return record_demonstrations(bf_env(), paper_expert, 2, 0, hint_fn=expert_phase_hint,
                                 options_fn=opts)


@pytest.fixture(scope="module")
def agent(expert_demos):
    return clone(expert_demos, small_config(epochs_rec=0), progress=False,
                 action_low=-10.0, action_high=10.0).agent


def toy(lengths: list[int], hints: bool = True) -> Demonstrations:
    """Episode e has ``lengths[e]`` steps whose observations all equal e."""
    obs = np.concatenate([np.full((n, 2), e, np.float32) for e, n in enumerate(lengths)])
    starts = np.cumsum([0] + lengths[:-1])
    return Demonstrations(obs, obs[:, :1] * 2, starts, hints=obs[:, :1] + 0.5 if hints else None,
                          returns=np.arange(len(lengths), dtype=np.float64) * 10)


# ------------------------------------------------------------------------------ rollouts
def test_rollout_with_beta_one_reproduces_expert_demos(expert_demos, agent) -> None:
    got, infos = labelled_rollout(agent, bf_env, paper_expert, 2, 0, beta=1.0, options_fn=opts,
                                  hint_fn=expert_phase_hint)
    assert got == expert_demos  # the expert acted: same states, labels, hints and returns
    assert all(info["score"] == pytest.approx(1 / 0.03) for info in infos)
    agent_run, _ = labelled_rollout(agent, bf_env, paper_expert, 2, 0, options_fn=opts)
    assert agent_run.n_episodes == 2 and agent_run.hints is None
    assert not np.allclose(agent_run.observations[:100], expert_demos.observations[:100])
    with pytest.raises(ValueError, match="beta must be in"):
        labelled_rollout(agent, bf_env, paper_expert, 1, 0, beta=2.0)


def test_rollout_labels_the_agents_states_like_a_reference_loop(agent) -> None:
    """Agent acts, expert labels: the same data as a loop written out by hand."""
    got, _ = labelled_rollout(agent, bf_env, paper_expert, 2, 3, options_fn=opts,
                              first_index=1, max_steps=25)
    envs = [bf_env() for _ in range(2)]
    obs = np.stack([env.reset(seed=3 + 1 + k, options=opts(1 + k))[0] for k, env in
                    enumerate(envs)])
    state, rows, labels, totals = None, [], [], np.zeros(2)
    for _ in range(25):  # the BF episodes last 80 steps: the cap ends both
        a, state = agent.act(obs.astype(np.float32), state)
        rows.append(obs.copy())
        labels.append(np.stack([paper_expert(obs[k], env) for k, env in enumerate(envs)]))
        for k, env in enumerate(envs):
            obs[k], r, *_ = env.step(a[k])
            totals[k] += r
    assert got.n_episodes == 2 and list(got.episode_lengths) == [25, 25]
    for k in range(2):
        np.testing.assert_array_equal(got.episode(k)[0], np.stack(rows)[:, k])
        np.testing.assert_array_equal(got.episode(k)[1], np.stack(labels)[:, k])
    np.testing.assert_array_equal(got.returns, totals)


def test_stateless_expert_adapter() -> None:
    expert = stateless_expert(lambda obs: obs[:, :2] * 2)
    out = expert(np.array([1.0, 2.0, 3.0]), None)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, 4.0])


# ------------------------------------------------------------------------------ data hooks
def test_cap_steps_keeps_the_initial_and_the_newest_episodes() -> None:
    data = toy([5, 5, 4, 6, 3])  # two initial episodes (10 steps), then 4, 6, 3
    capped = cap_steps(data, 2, 20)
    # newest first: 3 (13), 6 (19), 4 would make 23 > 20: dropped
    np.testing.assert_array_equal(capped.observations[:, 0],
                                  np.repeat([0, 1, 3, 4], [5, 5, 6, 3]))
    np.testing.assert_array_equal(capped.episode_starts, [0, 5, 10, 16])
    np.testing.assert_array_equal(capped.returns, [0.0, 10.0, 30.0, 40.0])
    np.testing.assert_array_equal(capped.hints[:, 0], capped.observations[:, 0] + 0.5)
    assert cap_steps(data, 2, 23) is data  # fits: unchanged
    assert cap_steps(data, 5, 1) is data  # nothing but initial episodes
    # the newest episode stays even when it alone exceeds the cap
    assert cap_steps(data, 2, 11).n_episodes == 3


def test_aggregate_hooks() -> None:
    data, new = toy([5, 5]), toy([4, 6])
    assert concat_all(data, new, 2) == data.concat(new)
    agg = keep_newest(15)
    # the newest (6) always stays; 4 more would pass 15
    assert agg(data, new, 2).episode_lengths.tolist() == [5, 5, 6]
    # with one initial episode the second is a DAgger one, the oldest: it goes first
    assert agg(data, new, 1).episode_lengths.tolist() == [5, 4, 6]
    with pytest.raises(ValueError, match="max_steps"):
        keep_newest(0)


# ------------------------------------------------------------------------------ DAgger
def test_dagger_aggregates_and_keeps_best(expert_demos) -> None:
    scores = iter([1.0, 5.0, 2.0])
    rounds_seen = []
    res = dagger(bf_env, paper_expert, small_config(epochs_rec=2), rounds=2,
                 episodes_per_round=3, demos=expert_demos, hint_fn=expert_phase_hint,
                 options_fn=lambda i: {"angle": 30.0 + 10 * i},
                 evaluate_fn=lambda agent: {"mean_reward": next(scores)}, progress=False,
                 on_round=lambda rec: rounds_seen.append(rec["round"]))
    assert [r["n_episodes"] for r in res.rounds] == [2, 5, 8]
    assert [r["n_steps"] for r in res.rounds] == [158, 398, 638]
    assert res.demos.n_episodes == 8 and res.demos.hints is not None
    assert res.best_round == 1 and res.best_score == 5.0
    assert res.summary()["rounds"][2]["score"] == 2.0 and rounds_seen == [0, 1, 2]
    assert all(r["time_s"] > 0 for r in res.rounds)


def test_dagger_rollouts_follow_first_index_and_the_hook(expert_demos) -> None:
    """Round r's episodes are those of labelled_rollout at first_index + (r-1)·n; the hook
    gets the number of initial episodes."""
    calls = []

    def aggregate(data, new, n_initial):
        calls.append((data.n_episodes, new, n_initial))
        return data.concat(new)

    cfg = small_config(epochs_rec=0)
    res = dagger(bf_env, paper_expert, cfg, rounds=2, episodes_per_round=1, seed=7,
                 demos=expert_demos, options_fn=opts, hint_fn=expert_phase_hint,
                 first_index=4, aggregate=aggregate,
                 clone_kwargs={"action_low": -10.0, "action_high": 10.0},
                 evaluate_fn=lambda agent: {"mean_reward": 0.0}, progress=False)
    assert [(n, k) for n, _, k in calls] == [(2, 2), (3, 2)]
    round1_agent = clone(expert_demos, cfg, progress=False, action_low=-10.0,
                         action_high=10.0).agent
    ref, _ = labelled_rollout(round1_agent, bf_env, paper_expert, 1, 7, options_fn=opts,
                              hint_fn=expert_phase_hint, first_index=4)
    assert calls[0][1] == ref  # seed 7 + 4, options_fn(4), labels and hints
    second, _ = labelled_rollout(round1_agent, bf_env, paper_expert, 1, 7, options_fn=opts,
                                 hint_fn=expert_phase_hint, first_index=5)
    assert calls[1][1] != second  # round 2 rolls out round 1's agent, not round 0's
    assert calls[1][1].n_steps > 0 and calls[1][1].hints is not None
    assert res.best_round == 0  # equal scores: the first round is kept


def test_dagger_records_its_own_demonstrations_and_checks_arguments() -> None:
    res = dagger(bf_env, paper_expert, small_config(epochs_rec=0), rounds=0,
                 episodes_per_round=2, seed=0, options_fn=opts, hint_fn=expert_phase_hint,
                 evaluate_fn=lambda agent: {"mean_reward": 1.0}, progress=False)
    ref = record_demonstrations(bf_env(), paper_expert, 2, 0, hint_fn=expert_phase_hint,
                                options_fn=opts)
    assert res.demos == ref and res.best_round == 0
    with pytest.raises(ValueError, match="needs an expert"):
        dagger(bf_env, None, rounds=1)
    with pytest.raises(ValueError, match="score_key 'nope'"):
        dagger(bf_env, paper_expert, small_config(epochs_rec=0), rounds=0, demos=ref,
               evaluate_fn=lambda agent: {"mean_reward": 1.0}, score_key="nope",
               progress=False)
    with pytest.raises(TypeError, match="must be Demonstrations"):
        dagger(bf_env, paper_expert, rounds=0, demos="file.npz")
