"""RLSP (agents/reward_inference): planning maths on hand-solved MDPs, the exact gradient against
finite differences, the paper's protocol against numbers of the original code, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imitenvs.agents.reward_inference.experiment import (
    ExperimentConfig,
    comparison_grid,
    load_problem,
    run_experiment,
)
from imitenvs.agents.reward_inference.rlsp import (
    Prior,
    RLSPConfig,
    SamplingConfig,
    infer_reward,
    initial_distribution,
    log_likelihood,
    log_likelihood_gradient,
    sample_posterior,
)
from imitenvs.agents.reward_inference.side_effects import (
    baseline_distributions,
    coverage,
    deviation_penalty,
    relative_reachability_penalty,
)
from imitenvs.agents.reward_inference.tabular import (
    feature_expectations,
    policy_value,
    state_occupancies,
    value_iteration,
)
from imitenvs.envs.gridworld.mdp import StateTable, build_mdp

ROOT = Path(__file__).resolve().parents[1]
ROOM = "imitenvs/RoomDefault-v0"
E = math.e


def two_state_mdp():
    """States A (feature 0) and B (feature 1); action 0 stays, action 1 switches."""
    other = {"A": "B", "B": "A"}
    return build_mdp(
        StateTable.from_states(["A", "B"]),
        n_actions=2,
        transitions=lambda s, a: [(1.0, s if a == 0 else other[s])],
        features=lambda s: np.array([0.0 if s == "A" else 1.0]),
        init_state="A",
        observed_state="B",
        horizon=2,
        r_task=np.zeros(1),
        r_true=np.ones(1),
        feature_names=("in_b",),
    )


def test_soft_value_iteration_matches_the_hand_solution():
    mdp = two_state_mdp()
    # T = 2, r = (0, 1): Q(A) = (0, 1), Q(B) = (2, 1) -> softmax rows.
    pi = value_iteration(mdp, np.array([0.0, 1.0]), horizon=2, temperature=1.0)
    assert pi.shape == (1, 2, 2)
    np.testing.assert_allclose(pi[0, 0], [1 / (1 + E), E / (1 + E)], rtol=1e-12)
    np.testing.assert_allclose(pi[0, 1], [E / (1 + E), 1 / (1 + E)], rtol=1e-12)
    # Temperature 0.5 doubles the advantages; T = 3 keeps the same first-step preference.
    pi = value_iteration(mdp, np.array([0.0, 1.0]), horizon=3, temperature=0.5)
    np.testing.assert_allclose(pi[0, 0], [1 / (1 + E**2), E**2 / (1 + E**2)], rtol=1e-12)
    np.testing.assert_allclose(pi.sum(axis=2), 1.0)


def test_hard_value_iteration_breaks_ties_to_the_lowest_action_and_evaluates_exactly():
    mdp = two_state_mdp()
    pi = value_iteration(mdp, np.zeros(2), horizon=4, temperature=0.0)
    assert np.all(pi[..., 0] == 1.0)
    pi = value_iteration(mdp, np.array([0.0, 1.0]), horizon=3, temperature=0.0)
    # From A: switch, then stay: rewards 0 + 1 + 1.
    np.testing.assert_allclose(policy_value(mdp, pi, np.array([0.0, 1.0])), [2.0, 3.0])
    d = state_occupancies(mdp, pi, np.array([1.0, 0.0]))
    np.testing.assert_allclose(d, [[1, 0], [0, 1], [0, 1]])
    # A time-dependent reward: B pays only at the last step.
    schedule = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 5.0]])
    assert policy_value(mdp, value_iteration(mdp, schedule, 3, 0.0), schedule)[0] == 5.0


def test_feature_expectations_are_expected_future_feature_sums():
    mdp = two_state_mdp()
    pi = value_iteration(mdp, np.array([0.0, 1.0]), horizon=2, temperature=1.0)
    big_f = feature_expectations(mdp, pi)
    # From A: f(A) + P(switch) * f(B).
    np.testing.assert_allclose(big_f[0, 0], [E / (1 + E)])
    np.testing.assert_allclose(big_f[1], mdp.features)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("uniform", [False, True])
def test_gradient_of_log_likelihood_matches_finite_differences(temperature, uniform):
    mdp = load_problem(ROOM)
    theta = np.random.default_rng(3).normal(0.0, 0.5, mdp.n_features)
    p0 = initial_distribution(mdp, uniform)
    value, grad = log_likelihood_gradient(mdp, theta, p0, 7, temperature)
    assert value == pytest.approx(log_likelihood(mdp, theta, p0, 7, temperature), abs=1e-12)
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        hi = log_likelihood(mdp, theta + step, p0, 7, temperature)
        lo = log_likelihood(mdp, theta - step, p0, 7, temperature)
        numeric[i] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_gradient_on_a_stochastic_problem_matches_finite_differences():
    mdp = two_state_mdp()
    # Make the switch action slip: P(stay | switch) = 0.3.
    other = {"A": "B", "B": "A"}
    mdp = build_mdp(
        StateTable.from_states(["A", "B"]),
        n_actions=2,
        transitions=lambda s, a: [(1.0, s)] if a == 0 else [(0.7, other[s]), (0.3, s)],
        features=lambda s: np.array([0.0, 1.0]) if s == "B" else np.array([1.0, 0.5]),
        init_state="A",
        observed_state="B",
        horizon=4,
        r_task=np.zeros(2),
        r_true=np.ones(2),
        feature_names=("a", "b"),
    )
    theta = np.array([0.3, -0.2])
    p0 = initial_distribution(mdp, False)
    _, grad = log_likelihood_gradient(mdp, theta, p0, 4, 1.0)
    numeric = [
        (log_likelihood(mdp, theta + d, p0, 4) - log_likelihood(mdp, theta - d, p0, 4)) / 2e-6
        for d in np.eye(2) * 1e-6
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


@pytest.mark.parametrize("kind", ["gaussian", "laplace", "none"])
def test_prior_gradient_matches_its_density(kind):
    prior = Prior(kind, np.array([0.5, -1.0]), 0.5)
    theta = np.array([0.1, 0.3])
    numeric = [
        (prior.log_density(theta + d) - prior.log_density(theta - d)) / 2e-6
        for d in np.eye(2) * 1e-6
    ]
    np.testing.assert_allclose(prior.gradient(theta), numeric, rtol=1e-6, atol=1e-8)


# Numbers printed by the original code (HumanCompatibleAI/rlsp src/run.py, -s 0, the paper's
# experiments.sh commands) on this machine; see docs/rlsp.md.
ORIGINAL_ROOM_RLSP = [-0.25959052, 0.121371, 0.96725259, 0.32955023]
ORIGINAL_ROOM_RLSP_UNIFORM = [-0.16250495, -0.06483496, 0.94488374, 0.43571604]


def test_rlsp_on_room_avoids_the_vase_with_the_original_codes_numbers():
    row = run_experiment(ExperimentConfig(env_id=ROOM, method="rlsp"))
    assert row["true_reward_fraction"] == pytest.approx(1.0)
    np.testing.assert_allclose(row["final_reward"], ORIGINAL_ROOM_RLSP, atol=1e-6)
    assert row["inferred_reward"][0] < 0  # broken vases are bad
    uniform = run_experiment(ExperimentConfig(env_id=ROOM, method="rlsp", uniform_prior=True))
    np.testing.assert_allclose(uniform["final_reward"], ORIGINAL_ROOM_RLSP_UNIFORM, atol=1e-6)
    assert uniform["true_reward_fraction"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("method", "fraction"),
    [("spec", 18 / 37), ("deviation", 1.0), ("reachability", 1.0)],
)
def test_baselines_on_room_match_the_original(method, fraction):
    row = run_experiment(ExperimentConfig(env_id=ROOM, method=method))
    assert row["true_reward_fraction"] == pytest.approx(fraction)
    assert row["inferred_reward"] is None
    assert row["final_reward"] == [0.0, 0.0, 1.0, 0.0]


def test_rlsp_is_deterministic_and_stops_at_the_threshold():
    mdp = load_problem(ROOM)
    cfg = RLSPConfig(horizon=7, epochs=500, threshold=1e-2)
    prior = Prior("gaussian", np.zeros(4), 0.5)
    a = infer_reward(mdp, cfg, prior, np.random.RandomState(1))
    b = infer_reward(mdp, cfg, prior, np.random.RandomState(1))
    np.testing.assert_array_equal(a.theta, b.theta)
    assert len(a.grad_norms) < 500 and a.grad_norms[-1] < 1e-2
    assert np.all(a.grad_norms[:-1] >= 1e-2)
    assert a.log_posteriors[-1] > a.log_posteriors[0]


def test_sampling_is_seeded_and_finds_that_vases_matter():
    mdp = load_problem(ROOM)
    cfg = RLSPConfig(horizon=7)
    prior = Prior("gaussian", np.zeros(4), 0.5)
    sampling = SamplingConfig(n_samples=400, burn_in=100, step_size=0.2)
    a = sample_posterior(mdp, cfg, sampling, prior, np.random.RandomState(0))
    b = sample_posterior(mdp, cfg, sampling, prior, np.random.RandomState(0))
    np.testing.assert_array_equal(a.samples, b.samples)
    assert 0.05 < a.acceptance_rate < 0.95
    assert a.mean[0] < 0
    np.testing.assert_allclose(a.mean, a.samples[100:].mean(axis=0))


def test_side_effect_penalties_on_room():
    mdp = load_problem(ROOM)
    dev = deviation_penalty(mdp)
    assert dev[mdp.observed_index] == 0 and np.all(dev >= 0)
    rr = relative_reachability_penalty(mdp, 20)
    assert rr.shape == (20, mdp.n_states) and rr.min() >= 0 and rr.max() == 1.0
    broken = mdp.features[:, 0] > 0  # feature 0 counts broken vases
    intact = ~broken
    # Breaking the vase makes states unreachable; intact states lose nothing.
    assert rr[:, broken].min() > 0 and np.all(rr[:, intact] == 0)
    base = baseline_distributions(mdp, mdp.observed_index, 3)
    np.testing.assert_allclose(base.sum(axis=1), 1.0)


def test_coverage_of_the_two_state_mdp():
    mdp = two_state_mdp()
    np.testing.assert_allclose(coverage(mdp, 1), np.ones((2, 2)))
    np.testing.assert_allclose(coverage(mdp, 5), np.ones((2, 2)))


def test_comparison_grid_cells():
    grid = comparison_grid(env_ids=(ROOM,), seeds=(0, 1))
    methods = [c.method for c in grid]
    assert methods.count("spec") == 1 and methods.count("rlsp") == 8  # 2 seeds x 2 x 2
    assert all(c.horizon == 7 for c in grid)
    with pytest.raises(ValueError, match="nothing to run"):
        comparison_grid(methods=("spec",), combinations=("bayesian",))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"env_id": "imitenvs/NoSuchRoom-v0"}, "NoSuchRoom"),
        ({"env_id": ROOM, "horizon": 0}, "horizon=0"),
        ({"env_id": ROOM, "evaluation_horizon": -1}, "evaluation_horizon=-1"),
        ({"env_id": ROOM, "method": "magic"}, "method='magic'"),
        ({"env_id": ROOM, "method": "spec", "combination": "bayesian"}, "bayesian"),
        ({"env_id": ROOM, "temperature": -1.0}, "temperature=-1.0"),
        ({"env_id": ROOM, "horizon": 2}, "cannot be reached"),
        ({"env_id": ROOM, "prior": "cauchy"}, "prior='cauchy'"),
    ],
)
def test_bad_input_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(ExperimentConfig(**kwargs))


def test_wrong_theta_length_is_named():
    mdp = load_problem(ROOM)
    p0 = initial_distribution(mdp, False)
    with pytest.raises(ValueError, match=r"shape \(3,\).*4 features"):
        log_likelihood(mdp, np.zeros(3), p0, 7)
    with pytest.raises(ValueError, match="NaN"):
        log_likelihood(mdp, np.array([0.0, np.nan, 0.0, 0.0]), p0, 7)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        value_iteration(mdp, np.zeros(5), 3)


def test_runner_script_prints_json_rows_and_a_figure(tmp_path):
    figure = tmp_path / "weights.png"
    cmd = [sys.executable, str(ROOT / "examples" / "rlsp_gridworlds.py"), "--env", ROOM]
    cmd += ["--method", "spec", "--method", "rlsp", "--json", "--figure", str(figure)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    rows = json.loads(out.stdout)
    assert len(rows) == 5  # spec + rlsp x (known, uniform) x (additive, bayesian)
    keys = {"env_id", "method", "combination", "horizon", "evaluation_horizon", "uniform_prior"}
    keys |= {"seed", "inferred_reward", "final_reward", "true_reward_fraction"}
    assert all(keys <= set(r) for r in rows)
    assert {r["method"] for r in rows} == {"spec", "rlsp"}
    assert figure.stat().st_size > 1000
    table = subprocess.run(
        [*cmd[:-3], "--no-figure"], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    assert table.startswith("| method | Room (vase) |") and "| rlsp | 1.000 |" in table
    bad = subprocess.run([*cmd[:2], "--env", "imitenvs/Nope-v0"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: unknown env id")
