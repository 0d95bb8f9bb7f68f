"""The tabular MDP of each gridworld agrees with the env's own step, and is well formed."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import time

import numpy as np
import pytest
from scipy import sparse

from imitenvs.envs.gridworld import GridworldEnv, TabularMDP, make_gridworld

SPECS = [
    ("room", "default"),
    ("room", "default_pixel"),
    ("room", "alt"),
    ("room", "bad"),
    ("room", "big"),
    ("apples", "default"),
    ("train", "default"),
    ("batteries", "default"),
    ("batteries", "easy"),
]
COUNTS = {"room": 29, "apples": 7744, "train": 384, "batteries": 7840}


def _stepped_index(env: GridworldEnv, state_index: int, action: int) -> int:
    env.set_state(state_index)
    env.step(action)
    return env.mdp.index[env.get_state()]


@pytest.mark.parametrize(("problem", "spec"), SPECS)
def test_mdp_is_well_formed(problem: str, spec: str) -> None:
    env = make_gridworld(problem, spec)
    mdp = env.mdp
    assert isinstance(mdp, TabularMDP)
    n_s, n_a = mdp.n_states, mdp.n_actions
    assert n_s == (199 if spec == "big" else COUNTS[problem])
    assert isinstance(mdp.transitions, sparse.coo_array)
    assert mdp.transitions.shape == (n_s, n_a, n_s)
    assert mdp.transition_matrix.shape == (n_s * n_a, n_s)
    np.testing.assert_allclose(mdp.transition_matrix.sum(axis=1), 1.0, atol=1e-12)
    assert (mdp.transition_matrix.data > 0).all()
    np.testing.assert_allclose(np.asarray(mdp.transitions.sum(axis=2)), 1.0, atol=1e-12)
    assert mdp.features.shape == (n_s, len(env.feature_names))
    assert mdp.initial_distribution.shape == (n_s,) and mdp.initial_distribution.sum() == 1
    assert mdp.states[int(np.argmax(mdp.initial_distribution))] == env.problem_spec.init_state
    assert all(mdp.index[s] == i for i, s in enumerate(mdp.states))
    assert len(set(mdp.states)) == n_s
    assert mdp.is_deterministic == (problem != "apples")
    np.testing.assert_array_equal(mdp.r_task, env.r_task)
    np.testing.assert_array_equal(mdp.r_true, env.r_true)
    np.testing.assert_array_equal(mdp.rewards(), mdp.features @ env.r_task)
    sample = np.linspace(0, n_s - 1, 25).astype(int)
    for i in sample:
        np.testing.assert_array_equal(mdp.features[i], env.features(mdp.states[i]))
        assert env.observation_space.contains(env.observe(mdp.states[i]))


def test_mdp_is_frozen_read_only_and_cached() -> None:
    env = make_gridworld("train")
    mdp = env.mdp
    assert env.mdp is mdp
    with pytest.raises(dataclasses.FrozenInstanceError):
        mdp.horizon = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        mdp.features[0, 0] = 5.0
    with pytest.raises(TypeError):
        mdp.index[mdp.states[0]] = 3  # type: ignore[index]
    assert make_gridworld("train").mdp is not mdp  # one cache per env instance


@pytest.mark.parametrize(("problem", "spec"), [*SPECS[:5], ("train", "default")])
def test_mdp_matches_env_step_for_every_state_and_action(problem: str, spec: str) -> None:
    env = make_gridworld(problem, spec)
    mdp = env.mdp
    for i in range(mdp.n_states):
        for a in range(mdp.n_actions):
            assert mdp.next_distribution(i, a) == {_stepped_index(env, i, a): 1.0}


@pytest.mark.parametrize("spec", ["default", "easy"])
def test_batteries_mdp_matches_env_step_on_a_sample(spec: str) -> None:
    env = make_gridworld("batteries", spec)
    mdp = env.mdp
    rng = np.random.default_rng(0)
    for i in rng.choice(mdp.n_states, 400, replace=False):
        for a in range(mdp.n_actions):
            assert mdp.next_distribution(int(i), a) == {_stepped_index(env, int(i), a): 1.0}


def test_apples_mdp_matches_env_dynamics_on_a_sample() -> None:
    env = make_gridworld("apples")
    env.reset(seed=7)
    mdp = env.mdp
    rng = np.random.default_rng(0)
    for i in rng.choice(mdp.n_states, 300, replace=False):
        for a in range(mdp.n_actions):
            expected = {mdp.index[s]: p for p, s in env.transitions(mdp.states[int(i)], a)}
            assert mdp.next_distribution(int(i), a) == pytest.approx(expected)
            assert _stepped_index(env, int(i), a) in expected


def test_apples_sampled_next_states_follow_the_mdp_probabilities() -> None:
    env = make_gridworld("apples")
    env.reset(seed=11)
    mdp = env.mdp
    bare = [i for i, s in enumerate(mdp.states) if s.trees.count(False) >= 2]
    rng = np.random.default_rng(1)
    n = 600
    for i in rng.choice(bare, 6, replace=False):
        for a in (4, 5):
            expected = mdp.next_distribution(int(i), a)
            counts: dict[int, int] = {}
            for _ in range(n):
                j = _stepped_index(env, int(i), a)
                counts[j] = counts.get(j, 0) + 1
            assert set(counts) <= set(expected)
            tv = 0.5 * sum(abs(counts.get(j, 0) / n - p) for j, p in expected.items())
            assert tv < 0.06, (mdp.states[int(i)], a, tv)


@pytest.mark.parametrize(("problem", "spec"), SPECS)
def test_observed_state_is_reachable_within_the_horizon(problem: str, spec: str) -> None:
    """T counts the states of a trajectory, so T - 1 actions must reach the observed state."""
    mdp = make_gridworld(problem, spec).mdp
    reach = mdp.initial_distribution > 0
    step = (mdp.transition_matrix > 0).astype(np.int32)
    for _ in range(mdp.horizon - 1):
        successors = step.T @ np.repeat(reach, mdp.n_actions).astype(np.int32)
        reach = reach | (successors > 0)
    assert reach[mdp.observed_index]


def test_enumeration_is_fast() -> None:
    start = time.perf_counter()
    for problem in ("apples", "batteries"):
        assert make_gridworld(problem).mdp.n_states == COUNTS[problem]
    assert time.perf_counter() - start < 5.0


def test_env_and_mdp_pickle_and_deepcopy() -> None:
    env = make_gridworld("train")
    env.reset(seed=0)
    env.step(0)
    mdp = env.mdp
    for clone in (pickle.loads(pickle.dumps(env)), copy.deepcopy(env)):
        assert clone.get_state() == env.get_state()
        assert clone.mdp.n_states == mdp.n_states
        assert (clone.mdp.transition_matrix != mdp.transition_matrix).nnz == 0
    restored = pickle.loads(pickle.dumps(mdp))
    assert restored.index[mdp.states[17]] == 17 and restored.observed_index == mdp.observed_index
