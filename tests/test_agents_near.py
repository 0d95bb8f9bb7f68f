"""NEAR: noise schedule, energy net, DSM loss and training, annealing, reward transform,
energy checkpoints, the runner with NEAR (exact resume) and the two NEAR examples."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from imitenvs.agents.adversarial.near import (
    NEAR,
    EnergyModel,
    EnergyNet,
    NEARConfig,
    NoiseAnnealer,
    demo_pairs,
    dsm_loss,
    ema_update,
    energy_reward,
    load_energy,
    save_energy,
    sigma_schedule,
    train_energy,
)
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.agents.onpolicy.storage import RolloutStorage
from imitenvs.core.files import CorruptFileError, save_torch

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
TINY = {"encoder_hidden": (8,), "latent_dim": 8, "decoder_hidden": (8,)}


def test_sigma_schedule_is_geometric_from_sigma_begin_to_sigma_end() -> None:
    sigmas = sigma_schedule(20.0, 0.01, 50)
    assert sigmas.shape == (50,)
    assert sigmas[0].item() == pytest.approx(20.0) and sigmas[-1].item() == pytest.approx(0.01)
    ratios = sigmas[1:] / sigmas[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, (0.01 / 20.0) ** (1 / 49)), rtol=1e-5)


def test_energy_net_scales_with_one_over_sigma() -> None:
    net = EnergyNet(4, NEARConfig(), generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    e1, e2 = net(x, torch.full((5,), 1.0)), net(x, torch.full((5,), 0.25))
    assert e1.shape == (5,)
    assert torch.allclose(e2, 4.0 * e1, rtol=1e-5)
    assert (e1 > -1.0).all()  # the final ELU bounds E * sigma below by -1
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3 + 2 + 2  # encoder 4-32-64-128, decoder 128-64-32-8-1
    assert all(torch.all(m.bias == 0.01) for m in linears)


class _Linear(nn.Module):
    """``E(x, sigma) = w . x / sigma``: its score is ``w / sigma`` everywhere."""

    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return x @ self.w / sigma


def test_dsm_loss_matches_a_hand_computed_value() -> None:
    net = _Linear([1.0, -2.0])
    x = torch.tensor([[0.5, 0.5], [3.0, -1.0]])
    noise = torch.tensor([[1.0, 0.0], [-1.0, 2.0]])
    sigmas, labels = torch.tensor([2.0, 0.5]), torch.tensor([0, 1])
    # score = w / sigma, target = -z / sigma; 1/2 ||(w + z) / sigma||^2 sigma^2 = 1/2 ||w + z||^2
    expected = 0.5 * ((2.0**2 + 2.0**2) + (0.0**2 + 0.0**2)) / 2
    loss = dsm_loss(net, x, sigmas, labels, anneal_power=2.0, noise=noise)
    assert loss.item() == pytest.approx(expected)
    loss.backward()  # the loss trains the net (create_graph): d/dw mean 1/2||w+z||^2 = mean(w+z)
    assert net.w.grad.tolist() == pytest.approx([1.0, -1.0])
    # anneal_power 0: mean of 1/2 ||w + z||^2 / sigma^2 = (8 / 2 / 4 + 0) / 2
    loss0 = dsm_loss(net, x, sigmas, labels, anneal_power=0.0, noise=noise)
    assert loss0.item() == pytest.approx(0.5)


def test_ema_update_moves_towards_the_model() -> None:
    ema, model = _Linear([0.0, 0.0]), _Linear([1.0, 2.0])
    ema_update(ema, model, decay=0.75)
    assert ema.w.tolist() == pytest.approx([0.25, 0.5])


def test_dsm_training_lowers_the_loss_and_puts_high_energy_on_the_data() -> None:
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(512, 2, generator=gen) * torch.tensor([0.2, 1.0]) + torch.tensor([3.0, -1])
    cfg = NEARConfig(**TINY, num_levels=10, sigma_begin=10.0, sigma_end=0.1, iterations=300)
    cfg = replace(cfg, learning_rate=1e-2, ema_decay=0.9)
    model, stats = train_energy(data, cfg, seed=0, progress=False)
    assert stats["iterations"] == 300 and stats["loss_last"] < stats["loss_first"]
    initial = EnergyNet(2, cfg, generator=torch.Generator().manual_seed(0))  # train's init
    x, labels = model.normalize(data), torch.arange(512) % 10
    noise = torch.randn(data.shape, generator=gen)
    before = dsm_loss(initial, x, model.sigmas, labels, noise=noise).item()
    after = dsm_loss(model.net, x, model.sigmas, labels, noise=noise).item()
    # a zero score would give E 1/2 ||z||^2 = 1; the optimum for Gaussian data is the mean
    # over levels of 1 / (1 + sigma^2), about 0.36
    assert after < 0.7 * before
    far = data + torch.tensor([2.0, 6.0])  # 10 and 6 standard deviations away
    for level in (0, 9):
        assert model.energy(data, level).mean() > model.energy(far, level).mean()
    with pytest.raises(ValueError, match="level=10"):
        model.energy(data, 10)


def test_annealing_advances_exactly_when_the_average_crosses_the_threshold() -> None:
    annealer = NoiseAnnealer(num_levels=3, threshold=0.02, length=3)
    # averages of the last 3: 1.0 (the level's init), 1.005, 1.01, then (1.01+1.02+1.05)/3
    for value in (1.0, 1.01, 1.02):
        assert not annealer.observe(value) and annealer.level == 0
    assert annealer.init == 1.0
    assert annealer.observe(1.05) and annealer.level == 1
    assert annealer.init is None and annealer.average != annealer.average  # restarted (NaN)
    for value in (5.0, 1.0, 0.1, 0.0):  # falling energy never takes it back
        assert not annealer.observe(value)
    assert annealer.level == 1 and annealer.init == 5.0
    assert annealer.observe(20.0) and annealer.level == 2  # (1 + 0.1 + 0 + ...) crosses 5.1
    for value in (1.0, 100.0):  # the last level is final
        assert not annealer.observe(value)
    assert annealer.level == 2
    quirk = NoiseAnnealer(num_levels=3)
    assert quirk.observe(-1.0)  # NEAR's rule: a negative init is crossed at once
    restored = NoiseAnnealer(num_levels=3)
    restored.load_state_dict(annealer.state_dict())
    assert restored.state_dict() == annealer.state_dict()


def test_energy_reward_is_tanh_of_the_offset_energy() -> None:
    e = torch.tensor([10.0, 0.0, -30.0])
    expected = [math.tanh(1.0), 0.0, math.tanh(-3.0)]
    assert energy_reward(e, 0.0, 10.0).tolist() == pytest.approx(expected)
    assert energy_reward(e + 5.0, 5.0, 10.0).tolist() == pytest.approx(expected)


class _FirstCoordinate(EnergyModel):
    """An energy model whose energy is the pair's first number (any level)."""

    def energy(self, pairs: torch.Tensor, level: int) -> torch.Tensor:
        return pairs[:, 0] * (level + 1)


def _storage(energy_value: float) -> RolloutStorage:
    storage = RolloutStorage(2, 2, 1, 1, amp_dim=2)
    storage.amp_obs.fill_(energy_value)
    storage.amp_obs[0, 0, 0] = energy_value + 20.0  # one pair above the rest
    storage.task_rewards.fill_(4.0)
    return storage


def test_near_rewards_offset_schedule_and_weights() -> None:
    cfg = NEARConfig(**TINY, sigma_level=0, task_weight=0.5, energy_weight=2.0)
    near = NEAR(cfg, _FirstCoordinate(2, cfg), torch.device("cpu"))
    means, offsets = [], []
    for epoch in range(1, 8):
        storage = _storage(float(epoch))
        terms = near.rewards(storage)
        means.append(epoch + 5.0)  # (4 * epoch + 20) / 4
        offsets.append(near.offset)
        expected = energy_reward(storage.amp_obs[..., 0], near.offset, 10.0)
        assert torch.allclose(terms["energy"], expected)
        assert torch.allclose(storage.rewards, 0.5 * 4.0 + 2.0 * expected)
        assert set(terms) == {"task", "energy"}
    # refreshed at epochs 1, 3, 6 (NEAR: epoch % 3 == 0 or epoch == 1) over the last 3 means
    assert offsets[0] == means[0] and offsets[1] == means[0]
    assert offsets[2] == pytest.approx(sum(means[0:3]) / 3) and offsets[3] == offsets[2]
    assert offsets[5] == pytest.approx(sum(means[3:6]) / 3) and offsets[6] == offsets[5]
    stats = near.update(storage)
    assert stats["near/level"] == 0.0 and stats["near/sigma"] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="amp_obs"):
        near.rewards(RolloutStorage(2, 2, 1, 1))


def test_near_anneals_before_computing_the_rewards() -> None:
    cfg = NEARConfig(**TINY, num_levels=4, average_length=1)
    near = NEAR(cfg, _FirstCoordinate(2, cfg), torch.device("cpu"))
    near.rewards(_storage(1.0))
    assert near.level == 0
    near.rewards(_storage(2.0))  # the rollout's mean energy rose by more than 2 %
    assert near.level == 1 and near.recent_energy[-1] == pytest.approx(2 * (2.0 + 5.0))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sigma_end": 30.0}, "sigma_end"),
        ({"num_levels": 0}, "num_levels"),
        ({"sigma_level": 50}, "sigma_level"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"encoder_hidden": ()}, "encoder_hidden"),
        ({"tanh_scale": 0.0}, "tanh_scale"),
    ],
)
def test_near_config_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        NEARConfig(**kwargs)


def test_delta_features_append_the_step_between_the_two_states() -> None:
    cfg = NEARConfig(**TINY, delta_features=True, normalize_input=False)
    model = EnergyModel(4, cfg)
    pairs = torch.tensor([[1.0, 2.0, 4.0, 7.0]])
    assert model.normalize(pairs).tolist() == [[1.0, 2.0, 4.0, 7.0, 3.0, 5.0]]
    assert model.net.encoder[0].in_features == 6 and model.energy(pairs, 0).shape == (1,)
    with pytest.raises(ValueError, match="even in_dim"):
        EnergyModel(5, cfg)


def test_energy_checkpoint_round_trip(tmp_path: Path) -> None:
    cfg = NEARConfig(**TINY, iterations=3, batch_size=4)
    data = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    model, stats = train_energy(data, cfg, seed=1, progress=False)
    path = save_energy(tmp_path / "energy.pt", model, stats)
    loaded = load_energy(path)
    assert loaded.cfg == cfg and loaded.in_dim == 4
    assert torch.equal(loaded.energy(data, 7), model.energy(data, 7))
    assert torch.equal(loaded.norm.mean, model.norm.mean)
    save_torch(tmp_path / "other.pt", {"something": 1})
    with pytest.raises(ValueError, match="not a NEAR energy checkpoint"):
        load_energy(tmp_path / "other.pt")
    torch.save({"something": 1}, tmp_path / "unsigned.pt")  # no digest
    with pytest.raises(CorruptFileError, match=r"unsigned\.pt: no checksum"):
        load_energy(tmp_path / "unsigned.pt")
    with pytest.raises(FileNotFoundError):
        load_energy(tmp_path / "missing.pt")
    again, _ = train_energy(data, cfg, seed=1, progress=False)  # seeded: the same weights
    assert torch.equal(again.energy(data, 0), model.energy(data, 0))


@pytest.fixture(scope="module")
def maze_energy() -> EnergyModel:
    pairs = demo_pairs("imitenvs/Maze-v0", 256, seed=0)
    assert pairs.shape == (256, 4)
    cfg = NEARConfig(**TINY, iterations=20)
    return train_energy(pairs, cfg, seed=0, progress=False)[0]


def _near_runner(iterations: int, log_dir: Path | None, energy: EnergyModel) -> Runner:
    run = RunConfig(
        env_id="imitenvs/Maze-v0",
        num_envs=2,
        iterations=iterations,
        seed=3,
        log_dir=log_dir,
        save_every=2,
        progress=False,
    )
    ppo = PPOConfig(num_steps=8, num_minibatches=2, epochs=2, hidden=(16,))
    near = NEARConfig(**TINY, task_weight=0.5, energy_weight=0.5, anneal_threshold=0.0)
    return Runner(run, ppo, near_cfg=near, energy=energy)


def test_runner_with_near_resumes_exactly(tmp_path: Path, maze_energy: EnergyModel) -> None:
    straight = _near_runner(3, tmp_path / "straight", maze_energy)
    stats = straight.train()
    assert {"reward/task", "reward/energy", "near/level", "near/sigma"} <= set(stats)
    assert straight.near.level == 3  # threshold 0: every rollout reaches its level's init
    first = _near_runner(2, tmp_path / "first", maze_energy)
    first.train()
    resumed = _near_runner(3, tmp_path / "resumed", maze_energy)
    resumed.load(tmp_path / "first" / "checkpoint_000002.pt")
    resumed.train()
    for a, b in zip(
        straight.ppo.model.state_dict().values(),
        resumed.ppo.model.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert resumed.near.state_dict()["annealer"] == straight.near.state_dict()["annealer"]
    assert resumed.near.offset == straight.near.offset and resumed.near.epoch == 3
    plain = Runner(replace(straight.run, log_dir=None), straight.ppo_cfg)
    with pytest.raises(ValueError, match="near"):
        plain.load(tmp_path / "first" / "checkpoint_000002.pt")
    with pytest.raises(ValueError, match="both"):
        Runner(straight.run, straight.ppo_cfg, near_cfg=straight.near_cfg)
    for runner in (straight, first, resumed, plain):
        runner.close()


def test_train_near_maze_example_from_scratch(
    tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    train_near_maze = load_example("train_near_maze")
    energy = tmp_path / "energy" / "energy.pt"
    argv = ["--energy", str(energy), "--energy-iterations", "20", "--iterations", "2"]
    argv += ["--num-envs", "2", "--num-steps", "8", "--out", str(tmp_path / "rl")]
    summary = train_near_maze.main([*argv, "--eval-episodes", "1", "--no-progress"])
    assert energy.is_file() and summary["energy_training"]["iterations"] == 20
    assert summary["env_steps"] == 2 * 2 * 8
    assert (tmp_path / "rl" / "maze_policy.png").stat().st_size > 0
    assert (tmp_path / "rl" / "energy_final_level.png").stat().st_size > 0
    assert 0.0 <= summary["eval"]["success_rate"] <= 1.0
    assert {"reward/energy", "reward/task"} <= set(summary["last"])


def test_train_near_energy_example_on_the_humanoid(
    tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    train_near_energy = load_example("train_near_energy")
    argv = ["--env", "imitenvs/HumanoidNEAR-v0", "--iterations", "2", "--num-pairs", "64"]
    summary = train_near_energy.main([*argv, "--out", str(tmp_path), "--no-progress"])
    assert summary["pairs"] == [64, 210]
    model = load_energy(tmp_path / "energy.pt")
    assert model.cfg.latent_dim == 2048 and model.in_dim == 210
