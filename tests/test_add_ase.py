"""ADD and ASE (imitenvs.agents.adversarial): the maths on hand-computed values, the latent
schedule, the env's ADD observation and one tiny training iteration of each method."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.agents.adversarial.add import (
    ADD,
    ADDConfig,
    ADDRunner,
    DiffDiscriminator,
    MeanAbsNormalizer,
    add_discriminator_loss,
    add_gradient_penalty,
    add_reward,
    state_difference,
)
from imitenvs.agents.adversarial.ase import (
    ASEConfig,
    ASERunner,
    LatentAdapter,
    diversity_loss,
    encoder_error,
    encoder_reward,
    latent_hold_steps,
    play_latents,
    sample_latents,
)
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig
from imitenvs.agents.vec import VecStep
from imitenvs.core.scripts import load_script

LN2 = math.log(2.0)
TINY_PPO = PPOConfig(num_steps=4, num_minibatches=2, epochs=1, hidden=(16,))


# ----------------------------------------------------------------------------------- ADD maths
def test_state_difference_is_reference_minus_character() -> None:
    add_obs = torch.tensor([[1.0, 2.0, 4.0, 7.0]])  # x_sim = (1, 2), x_ref = (4, 7)
    assert torch.equal(state_difference(add_obs), torch.tensor([[3.0, 5.0]]))
    with pytest.raises(ValueError, match="two equal halves"):
        state_difference(torch.zeros(2, 3))


def test_add_discriminator_loss_hand_values() -> None:
    # BCE(0, 1) = ln 2; BCE(0, 0) = ln 2; BCE(ln 3, 0) = -ln(1 - 3/4) = ln 4 = 2 ln 2
    pos = torch.tensor([0.0])
    neg = torch.tensor([0.0, math.log(3.0)])
    expected = 0.5 * (LN2 + 0.5 * (LN2 + 2 * LN2))
    assert float(add_discriminator_loss(pos, neg)) == pytest.approx(expected, rel=1e-6)


def test_add_reward_hand_values() -> None:
    logits = torch.tensor([0.0, math.log(3.0), 30.0])
    # -ln(1 - sigmoid(l)) * 2: 2 ln 2, 2 ln 4, and the 1e-4 floor: -2 ln 1e-4
    expected = [2 * LN2, 4 * LN2, -2 * math.log(1e-4)]
    assert add_reward(logits, 2.0).tolist() == pytest.approx(expected, rel=1e-5)


def test_add_gradient_penalty_matches_hand_gradients() -> None:
    # D(d) = w . d (gradient w everywhere) on the positives, D(d) = |d|^2 (gradient 2 d) on
    # the negatives: 0.5 (mean_b |2 d_b|^2 + |w|^2)
    w = torch.tensor([1.0, -2.0, 0.5])
    pos_in = torch.zeros(1, 3, requires_grad=True)
    neg_in = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]], requires_grad=True)
    gp = add_gradient_penalty(pos_in @ w, pos_in, neg_in.pow(2).sum(-1), neg_in)
    by_hand = 0.5 * ((4.0 * 1.0 + 4.0 * 5.0) / 2 + float(w @ w))
    assert float(gp.detach()) == pytest.approx(by_hand, rel=1e-6)


def test_add_gradient_penalty_of_the_network_matches_its_jacobian() -> None:
    torch.manual_seed(0)
    disc = DiffDiscriminator(4, ADDConfig(hidden=(8, 8)))
    neg_in = torch.randn(5, 4, requires_grad=True)
    pos_in = torch.zeros(1, 4, requires_grad=True)
    gp = add_gradient_penalty(disc(pos_in), pos_in, disc(neg_in), neg_in)
    rows = [torch.autograd.functional.jacobian(lambda x: disc(x[None])[0], x) for x in neg_in]
    neg = torch.stack([g.pow(2).sum() for g in rows]).mean()
    pos = torch.autograd.functional.jacobian(lambda x: disc(x[None])[0], pos_in[0]).pow(2).sum()
    assert float(gp.detach()) == pytest.approx(float(0.5 * (neg + pos)), rel=1e-5)
    gp.backward()  # create_graph: the penalty trains the discriminator
    assert disc.head.weight.grad is not None


def test_mean_abs_normalizer_keeps_zero_and_divides_by_mean_abs() -> None:
    norm = MeanAbsNormalizer((2,), min_diff=1e-3)
    norm.update(torch.tensor([[1.0, 0.0], [-3.0, 0.0]]))
    norm.update(torch.tensor([[2.0, 0.0], [2.0, 0.0]]))
    assert norm.mean_abs.tolist() == pytest.approx([2.0, 0.0])
    out = norm.normalize(torch.tensor([[4.0, 1e-3], [0.0, 0.0]]))
    assert out.flatten().tolist() == pytest.approx([2.0, 1.0, 0.0, 0.0])


def test_add_config_validation() -> None:
    with pytest.raises(ValueError, match="grad_penalty"):
        ADDConfig(grad_penalty=-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        ADDConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="replay_keep_prob"):
        ADDConfig(replay_keep_prob=0.0)


def test_add_update_pushes_zero_up_and_policy_differences_down() -> None:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    cfg = ADDConfig(hidden=(16,), optimizer="adam", learning_rate=2e-2, epochs=6, batch_size=32)
    add = ADD(6, cfg, torch.device("cpu"), gen)

    class Storage:  # what ADD reads: amp_obs (T, N, 2D) and the task rewards (T, N)
        amp_obs = torch.cat([torch.zeros(4, 8, 3), 1.0 + torch.rand(4, 8, 3, generator=gen)], -1)
        task_rewards = torch.zeros(4, 8)
        rewards = torch.zeros(4, 8)

    stats = add.update(Storage())
    assert stats["add/accuracy_zero"] > 0.5 and stats["add/accuracy_agent"] > 0.5
    terms = add.rewards(Storage())
    with torch.no_grad():
        zero = float(add_reward(add.disc(torch.zeros(1, 3)), cfg.reward_scale))
    assert float(terms["add"].mean()) < zero
    assert torch.equal(Storage.rewards, terms["add"])  # task weight 0, style weight 1


# ----------------------------------------------------------------------------------- ASE maths
def test_sample_latents_are_unit_norm_and_seeded() -> None:
    z = sample_latents(2000, 8, torch.Generator().manual_seed(3))
    assert z.shape == (2000, 8)
    assert torch.allclose(z.norm(dim=-1), torch.ones(2000), atol=1e-6)
    assert z.mean(0).abs().max() < 0.05  # spread over the sphere
    again = sample_latents(2000, 8, torch.Generator().manual_seed(3))
    assert torch.equal(z, again)
    k = latent_hold_steps(500, 2, 4, torch.Generator().manual_seed(0), "cpu")
    assert set(k.tolist()) == {2, 3, 4}


def test_encoder_error_and_reward_hand_values() -> None:
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    pred = torch.tensor([[0.6, 0.8], [-1.0, 0.0]])
    assert encoder_error(z, pred).tolist() == pytest.approx([-0.6, 1.0])
    assert encoder_reward(z, pred).tolist() == pytest.approx([0.6, 0.0])


def test_diversity_loss_hand_value() -> None:
    mu, mu_new = torch.zeros(1, 2), torch.ones(1, 2)  # mean squared action change 1
    z, z_new = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])  # (1 - 0) / 2 = 0.5
    expected = (1.0 - 1.0 / (0.5 + 1e-5)) ** 2
    assert float(diversity_loss(mu, mu_new, z, z_new, 1.0)) == pytest.approx(expected)
    assert float(diversity_loss(mu, mu_new, z, z_new, 2.0)) == pytest.approx(0.0, abs=1e-3)


def test_ase_config_validation() -> None:
    with pytest.raises(ValueError, match="latent_steps_max"):
        ASEConfig(latent_steps_min=5, latent_steps_max=4)
    with pytest.raises(ValueError, match="latent_dim"):
        ASEConfig(latent_dim=0)
    assert ASEConfig().amp_config().grad_penalty == 5.0


class FakeAdapter:
    """A two-dim VecAdapter stand-in whose ``done`` flags the test sets."""

    def __init__(self, n: int) -> None:
        self.num_envs, self.obs_dim, self.act_dim = n, 2, 1
        self.env, self.device = None, torch.device("cpu")
        self.done = torch.zeros(n, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        return torch.zeros(self.num_envs, 2)

    def step(self, actions: torch.Tensor) -> VecStep:
        n = self.num_envs
        obs = torch.ones(n, 2)
        done, self.done = self.done, torch.zeros(n, dtype=torch.bool)
        return VecStep(obs, torch.zeros(n), done, torch.zeros(n, dtype=torch.bool), obs.clone())

    def close(self) -> None:
        pass


def test_latents_resample_on_reset_on_episode_end_and_on_interval() -> None:
    inner = FakeAdapter(3)
    cfg = ASEConfig(latent_dim=4, latent_steps_min=3, latent_steps_max=3)
    env = LatentAdapter(inner, cfg, torch.Generator().manual_seed(0))
    obs = env.reset(seed=0)
    z0 = obs[:, 2:].clone()
    assert obs.shape == (3, 6)
    assert torch.allclose(z0.norm(dim=-1), torch.ones(3), atol=1e-6)
    inner.done = torch.tensor([True, False, False])
    step = env.step(torch.zeros(3, 1))
    z1 = step.obs[:, 2:]
    assert not torch.equal(z1[0], z0[0]) and torch.equal(z1[1:], z0[1:])  # world 0 ended
    assert torch.equal(step.final_obs[:, 2:], z0)  # the step's own latent, for bootstrapping
    step = env.step(torch.zeros(3, 1))
    assert torch.equal(step.obs[1:, 2:], z0[1:])
    step = env.step(torch.zeros(3, 1))  # worlds 1, 2: three steps held, time up
    assert not torch.equal(step.obs[1, 2:], z0[1]) and not torch.equal(step.obs[2, 2:], z0[2])
    assert torch.equal(step.obs[0, 2:], z1[0])  # world 0 drew again at step 1: 2 steps held
    assert torch.allclose(step.obs[:, 2:].norm(dim=-1), torch.ones(3), atol=1e-6)


# ------------------------------------------------------------------------------ env and runs
def test_imitate_env_add_observation_is_opt_in() -> None:
    plain = gymnasium.make("imitenvs/HumanoidImitate-v0", num_envs=2)
    plain.reset(seed=0)
    *_, info = plain.step(np.zeros((2, 28), np.float32))
    assert "add_obs" not in info
    plain.close()
    env = gymnasium.make("imitenvs/HumanoidImitate-v0", num_envs=2, add_obs=True)
    assert env.unwrapped.add_observation_space.shape == (214,)
    env.reset(seed=0)
    *_, info = env.step(np.zeros((2, 28), np.float32))
    x = info["add_obs"]
    assert x.shape == (2, 214) and np.isfinite(x).all()
    diff = np.abs(x[:, 107:] - x[:, :107])
    assert diff[:, 0].max() < 0.2  # reference start: one step later the heights still agree
    env.close()
    with pytest.raises(ValueError, match="add_obs"):
        gymnasium.make("imitenvs/HumanoidImitate-v0", num_envs=2, add_obs="yes")


def test_add_trains_one_iteration_and_resumes(tmp_path) -> None:
    run = RunConfig(env_id="imitenvs/HumanoidImitate-v0", num_envs=2, iterations=1, progress=False)
    cfg = ADDConfig(hidden=(16,), batch_size=8)
    runner = ADDRunner(run, TINY_PPO, cfg)
    try:
        stats = runner.train()
        assert runner.run.env_kwargs["add_obs"] is True
        assert all(math.isfinite(v) for v in stats.values())
        assert {"reward/add", "add/loss", "add/grad_penalty"} <= set(stats)
        runner.save(tmp_path / "ckpt.pt")
        weights = runner.amp.disc.head.weight.detach().clone()
        runner.amp.disc.head.weight.data.zero_()
        runner.load(tmp_path / "ckpt.pt")
        assert torch.equal(runner.amp.disc.head.weight, weights)
    finally:
        runner.close()


def test_ase_trains_one_iteration_and_plays_latents() -> None:
    run = RunConfig(
        env_id="imitenvs/HumanoidAMP-v0",
        num_envs=2,
        iterations=1,
        progress=False,
        env_kwargs={"motion_file": "default.yaml"},
    )
    cfg = ASEConfig(latent_dim=4, disc_hidden=(16,), enc_hidden=(16,), batch_size=8)
    runner = ASERunner(run, TINY_PPO, cfg)
    try:
        stats = runner.train()
        assert all(math.isfinite(v) for v in stats.values())
        assert {"reward/style", "reward/enc", "enc/loss", "loss/diversity"} <= set(stats)
        assert runner.ppo.model.actor[0].in_features == 105 + 4
        z = torch.eye(4)[:2]
        kwargs = {"motion_file": "default.yaml"}
        a = play_latents(runner.ppo, run.env_id, z, 3, seed=1, env_kwargs=kwargs)
        b = play_latents(runner.ppo, run.env_id, z, 3, seed=1, env_kwargs=kwargs)
        assert a["observations"].shape == (4, 2, 105)
        np.testing.assert_array_equal(a["observations"], b["observations"])
    finally:
        runner.close()


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_train_add_example_runs_and_reports_pose_error(tmp_path: Path) -> None:
    tiny = ["--num-envs", "2", "--iterations", "1", "--num-steps", "4", "--episodes", "1"]
    main = load_script(EXAMPLES / "train_add.py").main
    summary = main([*tiny, "--out", str(tmp_path / "add"), "--no-progress"])
    assert summary["iterations"] == 1 and summary["env_steps"] == 8
    assert summary["eval"]["pose_error"]["policy"]["dtw_pose_rmse"]["mean"] > 0


def test_train_ase_example_runs_and_plays_latents(tmp_path: Path) -> None:
    tiny = ["--num-envs", "2", "--iterations", "1", "--num-steps", "4", "--episodes", "2"]
    main = load_script(EXAMPLES / "train_ase.py").main
    out = ["--out", str(tmp_path / "ase"), "--latent-dim", "4", "--no-progress"]
    summary = main([*tiny, *out])
    rows = summary["test"]["per_latent"]
    assert len(rows) == 2 and all(r["root_height"] > 0 for r in rows)


def test_trainer_runs_ase_and_its_test_mode(tmp_path: Path) -> None:
    from imitenvs.agents import train

    out = str(tmp_path / "ase")
    tiny = ["--num-envs", "2", "--iterations", "1", "--num-steps", "4", "--out", out]
    quiet = ["--no-progress", "--no-video", "--pose-error-every", "0", "--logger", "none"]
    summary = train.main(["--algo", "ase", *tiny, *quiet])
    assert summary["algo"] == "ase" and summary["env_steps"] == 8
    ckpt = str(tmp_path / "ase" / "checkpoint_last.pt")
    result = train.main(
        ["--algo", "ase", "--mode", "test", "--model-file", ckpt, "--episodes", "2"]
    )
    assert len(result["per_latent"]) == 2
    with pytest.raises(ValueError, match="not add"):
        train.main(["--algo", "add", "--mode", "test", "--model-file", ckpt])


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "imitenvs/HumanoidAMP-v0"])
def test_add_refuses_an_env_without_a_reference(env_id: str) -> None:
    from imitenvs.agents.adversarial.presets import build_add_runner

    with pytest.raises(ValueError, match="tracks a reference clip"):
        build_add_runner(argparse.Namespace(env=env_id))


def _tiny_runner(algo: str, log_dir: Path) -> ADDRunner | ASERunner:
    common = {"num_envs": 2, "iterations": 2, "save_every": 1, "progress": False}
    if algo == "add":
        run = RunConfig(env_id="imitenvs/HumanoidImitate-v0", log_dir=log_dir, **common)
        return ADDRunner(run, TINY_PPO, ADDConfig(hidden=(16,), batch_size=8))
    kwargs = {"motion_file": "default.yaml"}
    run = RunConfig(env_id="imitenvs/HumanoidAMP-v0", log_dir=log_dir, env_kwargs=kwargs, **common)
    cfg = ASEConfig(latent_dim=4, disc_hidden=(16,), enc_hidden=(16,), batch_size=8)
    return ASERunner(run, TINY_PPO, cfg)


@pytest.mark.parametrize("algo", ["add", "ase"])
def test_resume_continues_bit_for_bit(algo: str, tmp_path: Path) -> None:
    whole = _tiny_runner(algo, tmp_path / "whole")
    try:
        whole.train()
        expected = [
            p.detach().clone()
            for p in (*whole.ppo.model.parameters(), *whole.amp.disc.parameters())
        ]
    finally:
        whole.close()
    resumed = _tiny_runner(algo, tmp_path / "resumed")
    try:
        for p in (*resumed.ppo.model.parameters(), *resumed.amp.disc.parameters()):
            p.data.add_(1.0)  # whatever the checkpoint does not restore now differs
        resumed.generator.manual_seed(123)
        resumed.load(tmp_path / "whole" / "checkpoint_000001.pt")
        resumed.train()
        got = [*resumed.ppo.model.parameters(), *resumed.amp.disc.parameters()]
        assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))
    finally:
        resumed.close()


def test_trainer_runs_add_and_its_test_mode(tmp_path: Path) -> None:
    from imitenvs.agents import train

    out = str(tmp_path / "add")
    tiny = ["--num-envs", "2", "--iterations", "1", "--num-steps", "4", "--out", out]
    quiet = ["--no-progress", "--no-video", "--pose-error-every", "0", "--logger", "none"]
    summary = train.main(["--algo", "add", *tiny, *quiet])
    assert summary["algo"] == "add" and "reward/add" in summary["last"]
    ckpt = str(tmp_path / "add" / "checkpoint_last.pt")
    result = train.main(
        ["--algo", "add", "--mode", "test", "--model-file", ckpt, "--episodes", "1"]
    )
    assert result["pose_error"]["policy"]["dtw_pose_rmse"]["mean"] > 0
