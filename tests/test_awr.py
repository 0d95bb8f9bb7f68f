"""AWR: TD(lambda) targets and advantage weights against hand-computed values, the replay
buffer's order, the actor update's direction, exact resume, config validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from imitenvs.agents.offpolicy.awr import (
    AWR,
    AWRConfig,
    ReplayBuffer,
    awr_actor_loss,
    awr_weights,
    td_lambda_returns,
)
from imitenvs.agents.offpolicy.awr_runner import AWRRunner
from imitenvs.agents.onpolicy.runner import RunConfig, read_checkpoint


def test_td_lambda_returns_against_hand_computed_values() -> None:
    # three steps of three worlds: no boundary, a time-out at t=1, a failure at t=1
    rewards = torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    next_values = torch.tensor([[10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [30.0, 30.0, 30.0]])
    terminated = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.bool)
    done = torch.tensor([[0, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=torch.bool)
    returns = td_lambda_returns(rewards, next_values, terminated, done, gamma=0.5, lam=0.5)
    # R2 = 3 + .5 * 30 = 18 everywhere
    # world 0: R1 = 2 + .5 (.5 * 20 + .5 * 18) = 11.5;  R0 = 1 + .5 (.5 * 10 + .5 * 11.5) = 6.375
    # world 1 (time-out at 1): R1 = 2 + .5 * 20 = 12;  R0 = 1 + .5 (5 + 6) = 6.5
    # world 2 (failure at 1): R1 = 2;  R0 = 1 + .5 (5 + 1) = 4
    expected = torch.tensor([[6.375, 6.5, 4.0], [11.5, 12.0, 2.0], [18.0, 18.0, 18.0]])
    torch.testing.assert_close(returns, expected)


def test_td_lambda_limits_are_one_step_td_and_monte_carlo() -> None:
    gen = torch.Generator().manual_seed(0)
    r, v = torch.randn(5, 2, generator=gen), torch.randn(5, 2, generator=gen)
    no = torch.zeros(5, 2, dtype=torch.bool)
    torch.testing.assert_close(td_lambda_returns(r, v, no, no, 0.9, 0.0), r + 0.9 * v)
    mc = td_lambda_returns(r, v, no, no, 0.9, 1.0)
    discounts = 0.9 ** torch.arange(5.0)
    expected0 = (discounts[:, None] * r).sum(0) + 0.9**5 * v[-1]
    torch.testing.assert_close(mc[0], expected0)
    with pytest.raises(ValueError, match="equal"):
        td_lambda_returns(r, v[:4], no, no, 0.9, 0.5)


def test_awr_weights_standardise_exponentiate_and_clip() -> None:
    adv = torch.tensor([-1.0, 0.0, 1.0])
    weights, stats = awr_weights(adv, temperature=1.0, max_weight=2.0)
    z = 1.0 / math.sqrt(2.0 / 3.0)  # (A - 0) / population std
    torch.testing.assert_close(weights, torch.tensor([math.exp(-z), 1.0, 2.0]))
    assert float(stats["weight_max"]) == 2.0 and float(stats["adv_mean"]) == 0.0
    raw, _ = awr_weights(adv, temperature=0.5, max_weight=20.0, normalize=False)
    torch.testing.assert_close(raw, torch.tensor([math.exp(-2.0), 1.0, math.exp(2.0)]))
    loss = awr_actor_loss(torch.tensor([-1.0, -2.0]), torch.tensor([3.0, 1.0]))
    assert float(loss) == pytest.approx((3.0 + 2.0) / 2)


def test_replay_buffer_keeps_the_newest_steps_oldest_first() -> None:
    buffer = ReplayBuffer(3, 2, obs_dim=1, act_dim=1, device=torch.device("cpu"))
    for t in range(5):
        step = torch.full((2,), float(t))
        buffer.add(obs=step[:, None], actions=step[:, None], rewards=step, next_obs=step[:, None],
                   terminated=step > 10, done=step > 10)  # fmt: skip
        if t == 1:
            assert buffer.ordered("rewards")[:, 0].tolist() == [0.0, 1.0]
    assert buffer.ordered("rewards")[:, 0].tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="exactly"):
        buffer.add(obs=step[:, None])


def test_actor_update_moves_the_mean_towards_high_advantage_actions() -> None:
    """A one-step bandit: reward -(a - 0.5)^2 at a constant observation."""
    cfg = AWRConfig(num_steps=1, buffer_steps=1, hidden=(8,), optimizer="adam",
                    actor_learning_rate=0.05, init_log_std=math.log(0.5), temperature=0.5,
                    actor_batch_size=1.0, critic_batch_size=1.0)  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    agent = AWR(1, 1, cfg, torch.device("cpu"), gen)
    buffer = ReplayBuffer(1, 256, 1, 1, torch.device("cpu"))
    obs = torch.zeros(256, 1)
    for _ in range(30):
        actions = agent.act(obs)
        rewards = -((actions[:, 0] - 0.5) ** 2)
        ones = torch.ones(256, dtype=torch.bool)
        buffer.add(obs=obs, actions=actions, rewards=rewards, next_obs=obs, terminated=ones,
                   done=ones)  # fmt: skip
        stats = agent.update(buffer)
    assert abs(float(agent.act_deterministic(obs[:1])) - 0.5) < 0.1
    assert stats["awr/weight_max"] <= cfg.max_weight


def _runner(tmp: Path | None, iterations: int, num_envs: int = 1) -> AWRRunner:
    run = RunConfig(
        env_id="Pendulum-v1",
        num_envs=num_envs,
        iterations=iterations,
        seed=3,
        log_dir=tmp,
        save_every=1,
        progress=False,
        logger="none",
        algo="awr",
    )
    cfg = AWRConfig(num_steps=8, buffer_steps=16, hidden=(16,), actor_batch_size=2.0,
                    critic_batch_size=2.0, actor_epochs=1, critic_epochs=1)  # fmt: skip
    return AWRRunner(run, cfg)


def test_awr_on_a_single_pendulum_resumes_exactly(tmp_path: Path) -> None:
    whole = _runner(tmp_path / "a", iterations=2)
    whole.train()
    whole.close()
    resumed = _runner(tmp_path / "b", iterations=2)
    resumed.load(tmp_path / "a" / "checkpoint_000001.pt")
    resumed.train()
    resumed.close()
    a = read_checkpoint(tmp_path / "a" / "checkpoint_last.pt")
    b = read_checkpoint(tmp_path / "b" / "checkpoint_last.pt")
    assert a["global_step"] == b["global_step"] == 16 and a["algo"] == "awr"
    for key, value in a["awr"]["model"].items():
        assert torch.equal(value, b["awr"]["model"][key]), key
    assert torch.equal(a["buffer"]["rewards"], b["buffer"]["rewards"])
    log = (tmp_path / "a" / "log.txt").read_text().splitlines()
    assert log[0].split()[:3] == ["Iteration", "Samples", "Wall_Time"] and len(log) == 3
    other = _runner(tmp_path / "c", iterations=2, num_envs=2)
    with pytest.raises(ValueError, match="num_envs"):
        other.load(tmp_path / "a" / "checkpoint_000001.pt")
    other.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"buffer_steps": 4, "num_steps": 8}, "buffer_steps"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"temperature": 0.0}, "temperature"),
        ({"lam": 1.5}, "lam"),
        ({"hidden": ()}, "hidden"),
    ],
)
def test_awr_config_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AWRConfig(**kwargs)
