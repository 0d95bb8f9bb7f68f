"""Maths of the reference agents: GAE, storage, normaliser, PPO and AMP losses, configs."""

from __future__ import annotations

import math

import pytest
import torch

from imitenvs.agents.adversarial.amp import (
    AMPConfig,
    Discriminator,
    ReplayBuffer,
    discriminator_loss,
    gradient_penalty,
    style_reward,
)
from imitenvs.agents.cem import CEMConfig
from imitenvs.agents.normalizer import RunningMeanStd
from imitenvs.agents.onpolicy.ppo import PPOConfig, bounds_loss, clipped_surrogate_loss, value_loss
from imitenvs.agents.onpolicy.runner import RunConfig
from imitenvs.agents.onpolicy.storage import RolloutStorage, compute_gae

torch.set_num_threads(1)


def _col(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)[:, None]  # (T, 1)


def test_gae_hand_computed_with_truncation_bootstrap() -> None:
    gamma, lam = 0.9, 0.5
    r, v = _col(1.0, 2.0, 3.0), _col(0.5, 1.0, 1.5)
    # step 1 is a time-out whose final state is worth 4; step 2 continues, V(s_3) = 2.
    nv = _col(1.0, 4.0, 2.0)
    term = _col(0, 0, 0).bool()
    done = _col(0, 1, 0).bool()
    adv, ret = compute_gae(r, v, nv, term, done, gamma, lam)
    d2 = 3.0 + 0.9 * 2.0 - 1.5
    d1 = 2.0 + 0.9 * 4.0 - 1.0  # bootstrapped from V(final_obs), no flow from step 2
    d0 = 1.0 + 0.9 * 1.0 - 0.5
    expected = [d0 + 0.45 * d1, d1, d2]
    assert adv[:, 0].tolist() == pytest.approx(expected)
    assert ret[:, 0].tolist() == pytest.approx((torch.tensor(expected) + v[:, 0]).tolist())


def test_gae_termination_does_not_bootstrap() -> None:
    r, v, nv = _col(1.0, 1.0), _col(0.0, 0.0), _col(10.0, 10.0)
    term = _col(1, 0).bool()
    adv, _ = compute_gae(r, v, nv, term, term, 0.5, 1.0)
    assert adv[0, 0].item() == pytest.approx(1.0)  # V(final) ignored, nothing from step 1
    assert adv[1, 0].item() == pytest.approx(1.0 + 0.5 * 10.0)


def test_gae_rejects_mismatched_shapes() -> None:
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="shapes"):
        compute_gae(x, x, torch.zeros(3, 1), x.bool(), x.bool(), 0.9, 0.9)


def _fields(n: int = 2, o: int = 3, a: int = 1) -> dict[str, torch.Tensor]:
    z = torch.zeros
    return dict(
        obs=z(n, o),
        actions=z(n, a),
        log_probs=z(n),
        values=z(n),
        next_values=z(n),
        task_rewards=z(n),
        terminated=z(n, dtype=torch.bool),
        done=z(n, dtype=torch.bool),
    )


def test_storage_overflow_and_shape_errors() -> None:
    storage = RolloutStorage(2, 2, 3, 1)
    storage.add(**_fields())
    with pytest.raises(ValueError, match="obs has shape"):
        storage.add(**{**_fields(), "obs": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="exactly the fields"):
        storage.add(**{k: v for k, v in _fields().items() if k != "values"})
    with pytest.raises(RuntimeError, match="1 of 2"):
        storage.compute_returns(0.9, 0.9)
    storage.add(**_fields())
    with pytest.raises(OverflowError, match="full"):
        storage.add(**_fields())
    storage.clear()
    storage.add(**_fields())


def test_storage_minibatches_cover_every_sample_once() -> None:
    storage = RolloutStorage(3, 4, 1, 1)
    for t in range(3):
        storage.add(**{**_fields(4, 1, 1), "obs": torch.arange(4.0)[:, None] + 10 * t})
    storage.compute_returns(0.9, 0.9)
    gen = torch.Generator().manual_seed(0)
    seen = torch.cat([mb["obs"][:, 0] for mb in storage.minibatches(4, gen)])
    assert sorted(seen.tolist()) == sorted(
        (torch.arange(4.0) + 10 * torch.arange(3.0)[:, None]).flatten().tolist()
    )
    with pytest.raises(ValueError, match="divisible"):
        next(storage.minibatches(5, gen))


def test_running_mean_std_matches_batch_statistics() -> None:
    x = torch.randn(1000, 3, generator=torch.Generator().manual_seed(0)) * 4 + 2
    rms = RunningMeanStd((3,), clip=None)
    for chunk in x.split(137):
        rms.update(chunk)
    assert torch.allclose(rms.mean.float(), x.mean(0), atol=1e-4)
    assert torch.allclose(rms.var.float(), x.var(0, unbiased=False), rtol=1e-3)
    y = rms.normalize(x)
    assert torch.allclose(rms.denormalize(y), x, atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        rms.update(torch.zeros(4, 2))


def test_clipped_surrogate_loss() -> None:
    old = torch.zeros(2)
    new = torch.log(torch.tensor([1.5, 0.5]))  # ratios 1.5 and 0.5
    adv = torch.tensor([1.0, -1.0])
    loss, stats = clipped_surrogate_loss(new, old, adv, clip=0.2)
    # positive advantage: min(1.5, 1.2) = 1.2; negative: max(-0.5, -0.8) -> -0.8 clipped
    assert loss.item() == pytest.approx(-(1.2 + -0.8) / 2)
    assert stats["clip_fraction"].item() == pytest.approx(1.0)
    same, stats = clipped_surrogate_loss(old, old, adv, clip=0.2)
    assert same.item() == pytest.approx(0.0) and stats["approx_kl"].item() == pytest.approx(0.0)


def test_value_and_bounds_losses() -> None:
    assert value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == 5.0
    mu = torch.tensor([[0.5, -1.5], [2.0, 0.0]])
    assert bounds_loss(mu).item() == pytest.approx((0.25 + 1.0) / 2)


def test_discriminator_losses_and_style_reward() -> None:
    a, d = torch.tensor([0.0, 2.0]), torch.tensor([1.0])
    bce = 0.5 * ((math.log(2) + math.log(1 + math.e**2)) / 2 + math.log(1 + math.e**-1))
    assert discriminator_loss(a, d, "bce").item() == pytest.approx(bce, rel=1e-5)
    assert discriminator_loss(a, d, "lsgan").item() == pytest.approx(0.5 * ((1 + 9) / 2 + 0))
    logits = torch.tensor([0.0, 20.0, -3.0])
    expected = [-math.log(0.5) * 2, -math.log(1e-4) * 2, -math.log(1 - 1 / (1 + math.e**3)) * 2]
    assert style_reward(logits, 2.0).tolist() == pytest.approx(expected, rel=1e-5)
    assert style_reward(torch.tensor([1.0, 5.0]), 1.0, "lsgan").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="lsgan"):
        style_reward(logits, 1.0, "wgan")


def test_gradient_penalty_of_a_linear_logit() -> None:
    w = torch.tensor([3.0, -4.0])
    x = torch.randn(5, 2).requires_grad_(True)
    assert gradient_penalty(x @ w, x).item() == pytest.approx(25.0)
    disc = Discriminator(4, AMPConfig(hidden=(8,)))
    x = torch.randn(6, 4).requires_grad_(True)
    gp = gradient_penalty(disc.logits_normalized(x), x)
    gp.backward()  # differentiable w.r.t. the discriminator (create_graph)
    assert disc.head.weight.grad is not None and gp.item() > 0


def test_replay_buffer_fills_then_keeps_with_probability() -> None:
    gen = torch.Generator().manual_seed(0)
    buf = ReplayBuffer(10, 1, keep_prob=0.5, device=torch.device("cpu"))
    with pytest.raises(RuntimeError, match="empty"):
        buf.sample(1, gen)
    buf.add(torch.arange(6.0)[:, None], gen)
    buf.add(torch.arange(6.0, 12.0)[:, None], gen)
    assert buf.size == 10 and buf.data[:2, 0].tolist() == [10.0, 11.0]
    buf.add(torch.full((1000, 1), -1.0), gen)
    assert 0 < int((buf.data == -1).sum()) <= 10
    restored = ReplayBuffer(10, 1, 0.5, torch.device("cpu"))
    restored.load_state_dict(buf.state_dict())
    assert torch.equal(restored.data, buf.data) and restored.head == buf.head


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (PPOConfig, {"num_steps": 0}, "num_steps"),
        (PPOConfig, {"gamma": 1.5}, "gamma"),
        (PPOConfig, {"hidden": (64, -1)}, "hidden"),
        (PPOConfig, {"max_grad_norm": 0.0}, "max_grad_norm"),
        (AMPConfig, {"loss": "wgan"}, "loss"),
        (AMPConfig, {"replay_keep_prob": 0.0}, "replay_keep_prob"),
        (AMPConfig, {"grad_penalty": -1.0}, "grad_penalty"),
        (CEMConfig, {"elite_fraction": 2.0}, "elite_fraction"),
        (RunConfig, {"num_envs": 0}, "num_envs"),
    ],
)
def test_config_validation_names_the_field(cls: type, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


def test_delta_features_append_the_step_between_the_two_states() -> None:
    disc = Discriminator(4, AMPConfig(hidden=(8,), delta_features=True))
    x = torch.tensor([[1.0, 2.0, 4.0, 7.0]])
    assert disc.features(x).tolist() == [[1.0, 2.0, 4.0, 7.0, 3.0, 5.0]]
    assert disc(x).shape == (1,)
    with pytest.raises(ValueError, match="even amp_dim"):
        Discriminator(5, AMPConfig(delta_features=True))
