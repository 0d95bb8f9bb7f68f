"""Deep RLSP (agents/reward_inference/deep_rlsp.py, latent_models.py): the models' maths on tiny
data, the gradient estimate's pieces, the reward env, and the pipeline end to end (tiny)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.agents.reward_inference import deep_rlsp as drl
from imitenvs.agents.reward_inference.latent_models import (
    InverseDynamics,
    InversePolicy,
    Standardizer,
    StateVAE,
    fit,
)
from imitenvs.wrappers.reset_to_state import ResetToState

ROOT = Path(__file__).resolve().parents[1]
PENDULUM = "InvertedPendulum-v5"
pytestmark = pytest.mark.usefixtures("single_thread")
TINY = drl.ModelConfig(
    replay_rollouts=6, latent_dim=3, vae_hidden=16, vae_lr=1e-3, vae_epochs=2,
    inverse_layers=2, inverse_hidden=16, inverse_lr=1e-3, inverse_epochs=2, policy_layers=1,
    policy_hidden=16, policy_samples=32, batch_size=16,
)  # fmt: skip


@pytest.fixture(scope="module")
def models() -> drl.LatentModels:
    env = gymnasium.make(PENDULUM)
    data = drl.collect_transitions(env, TINY.replay_rollouts, np.random.default_rng(0))
    return drl.train_models(data, TINY, torch.Generator().manual_seed(0))


def test_vae_learns_and_its_features_are_the_posterior_mean():
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(512, 3)) * [1.0, 5.0, 0.1]).astype(np.float32)
    vae = StateVAE(Standardizer.fit(data), latent_dim=3, hidden=32, beta=1e-3)
    x = torch.as_tensor(data)
    first, last = fit(vae.loss, list(vae.parameters()), (x,), epochs=40, batch_size=64, lr=3e-3,
                      generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert last < 0.5 * first
    mu, sigma = vae.posterior(x[:4])
    torch.testing.assert_close(vae.features(x[:4]), mu)
    assert mu.shape == (4, 3) and bool((sigma > 0).all())


def test_inverse_dynamics_recovers_a_linear_past_and_clips_its_delta():
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(2048, 2)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(2048, 1)).astype(np.float32)
    nxt = obs + 0.3 * act  # s' = s + 0.3 a  ->  s = s' - 0.3 a
    delta = obs - nxt
    model = InverseDynamics(
        Standardizer.fit(nxt), Standardizer.fit(act), Standardizer.fit(delta),
        (delta.min(0), delta.max(0)), layers=2, hidden=64,
    )  # fmt: skip
    data = tuple(torch.as_tensor(v) for v in (obs, act, nxt))
    fit(model.loss, list(model.parameters()), data, epochs=30, batch_size=128, lr=3e-3,
        generator=torch.Generator().manual_seed(0))  # fmt: skip
    with torch.no_grad():
        pred = model.previous(data[2][:64], data[1][:64])
        far = model.previous(data[2][:4], torch.full((4, 1), 50.0))
    assert float((pred - data[0][:64]).abs().max()) < 0.05
    assert bool((far - data[2][:4] >= torch.as_tensor(delta.min(0)) - 1e-6).all())
    assert bool((far - data[2][:4] <= torch.as_tensor(delta.max(0)) + 1e-6).all())


def test_inverse_policy_likelihood_is_the_mixture_density():
    scaler = Standardizer(np.zeros(2), np.ones(2))
    policy = InversePolicy(scaler, act_dim=2, components=3, layers=1, hidden=8, std=0.5)
    s = torch.randn(5, 2)
    a = torch.randn(5, 2)
    log_w, means, stds = policy.mixture(s)
    comp = torch.distributions.Normal(means, stds[..., None]).log_prob(a[:, None]).sum(-1)
    expected = -torch.logsumexp(log_w + comp, dim=-1).mean()
    torch.testing.assert_close(policy.loss(s, a), expected)
    one = policy.sample(s, torch.Generator().manual_seed(3))
    two = policy.sample(s, torch.Generator().manual_seed(3))
    assert one.shape == (5, 2) and torch.equal(one, two)


def test_feature_counts_and_similarity_weights():
    feats = np.zeros((3, 2, 2))  # H = 2, two trajectories
    feats[:, 0] = [1.0, 0.0]
    feats[:, 1] = [0.0, 2.0]
    counts = drl.weighted_feature_counts(feats, np.array([1.0, 3.0]))
    np.testing.assert_allclose(counts, [3 * 1 / 8, 3 * 3 * 2 / 8])
    w = drl.similarity_weights(np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0]]), np.array([1, 0]))
    np.testing.assert_allclose(w, [1.0, 0.0, 1 / math.sqrt(2)])
    np.testing.assert_array_equal(drl.similarity_weights(-np.eye(2), np.ones(2)), [1.0, 1.0])


def test_ablation_rewards(models):
    observed = models.data_states[:5]
    theta = drl.average_features_theta(models, observed)
    assert theta.shape == (TINY.latent_dim,) and np.linalg.norm(theta) == pytest.approx(1.0)
    phi = models.features(observed)
    reward = drl.waypoints_reward(models, observed)
    best = max(float(p @ phi[0]) / np.linalg.norm(p) for p in phi)
    assert reward(phi[0]) == pytest.approx(best)
    assert drl.linear_reward(theta)(phi[1]) == pytest.approx(float(phi[1] @ theta))


def test_reward_env_ignores_termination_cuts_at_the_horizon_and_mixes_starts(models):
    theta = np.ones(TINY.latent_dim)
    env = drl.LatentRewardWrapper(
        ResetToState(gymnasium.make(PENDULUM)), models.features, drl.linear_reward(theta), 40,
        np.random.default_rng(0),
    )  # fmt: skip
    env.reset(seed=0)
    for t in range(40):
        obs, reward, terminated, truncated, info = env.step(np.array([3.0]))
        assert not terminated  # the pendulum falls long before step 40
        assert reward == pytest.approx(float(models.features(obs) @ theta), rel=1e-5)
        assert truncated == (t == 39) and "true_reward" in info
    start = models.data_states[7]
    env.set_starts(start[None], init_prob=1.0)
    obs, _ = env.reset()
    np.testing.assert_allclose(obs, start, atol=1e-6)


def test_simulations_have_the_documented_shapes(models):
    starts = models.data_states[:3]
    back = drl.simulate_backward(models, starts, 4, torch.Generator().manual_seed(0))
    assert back.shape == (5, 3, 4)
    np.testing.assert_array_equal(back[0], starts)
    assert np.all(back >= models.obs_low - 1e-6) and np.all(back <= models.obs_high + 1e-6)

    class Still:
        def predict(self, obs, deterministic=False):
            return np.zeros((1,)), None

    sim = ResetToState(gymnasium.make(PENDULUM))
    fwd = drl.simulate_forward(sim, Still(), back[-1], 3)
    assert fwd.shape == (4, 3, 4)
    np.testing.assert_allclose(fwd[0], back[-1], atol=1e-6)
    nxt = drl.exact_step(sim, back[-1][0], np.zeros(1))
    np.testing.assert_allclose(nxt, fwd[1, 0], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 0}, "horizon=0"),
        ({"epochs": -2}, "epochs=-2"),
        ({"init_prob": 2.0}, "init_prob"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        drl.DeepRLSPConfig(**kwargs)


def test_pipeline_end_to_end_tiny(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "examples" / "deep_rlsp.py"), "--preset", "tiny"]
    cmd += ["--states", "3", "--out", str(out), "--methods", "deep_rlsp", "waypoints"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert set(result["methods"]) == {"deep_rlsp", "waypoints"}
    assert len(result["history"]) == 2 and len(result["theta"]) == 4
    assert json.loads((out / "result.json").read_text()) == result
    assert (out / "expert.zip").is_file() and (out / "deep_rlsp_curve.png").is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "already holds a finished run" in again.stderr
    for bad, message in ((["--states", "0"], "--states=0"), (["--env", "Nope-v9"], "Nope")):
        run = subprocess.run([*cmd[:2], *bad], capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and message in run.stderr
        assert run.stderr.strip().count("\n") == 0


def test_clipped_features_see_out_of_range_states_at_the_data_bounds(models):
    far = models.obs_high + 10.0
    np.testing.assert_allclose(models.clipped_features(far), models.features(models.obs_high))
    inside = models.data_states[:2]
    np.testing.assert_allclose(models.clipped_features(inside), models.features(inside))
