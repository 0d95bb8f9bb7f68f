"""Adversarial Motion Priors (AMP) as a small extension of PPO.

A discriminator ``D(x) = sigmoid(logit(x))`` on AMP observations ``x`` (state transitions from
``info["amp_obs"]``) learns to tell demonstrations (label 1) from policy samples (label 0);
PPO then maximises ``r = w_task * r_task + w_style * r_style`` with the style reward
``r_style = -log(max(1 - D(x), 1e-4)) * reward_scale`` (IsaacGymEnvs ``amp_continuous.py``).
The loss functions are importable and unit-tested; :class:`AMP` owns the discriminator, its
optimiser and the replay buffer of policy samples. Defaults: IsaacGymEnvs HumanoidAMPPPO.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from imitenvs.agents.distributed import average_gradients
from imitenvs.agents.normalizer import RunningMeanStd
from imitenvs.agents.onpolicy.ppo import mlp, require
from imitenvs.agents.onpolicy.storage import RolloutStorage


@dataclass
class AMPConfig:
    """AMP hyperparameters (defaults: IsaacGymEnvs HumanoidAMPPPO except sizes)."""

    hidden: tuple[int, ...] = (256, 256)
    """discriminator MLP hidden sizes (IsaacGymEnvs uses (1024, 512))"""
    loss: str = "bce"
    """``"bce"`` (IsaacGymEnvs) or ``"lsgan"`` (the AMP paper: targets +-1, reward
    ``max(0, 1 - 0.25 (d - 1)^2)``)"""
    learning_rate: float = 5e-5
    """Adam learning rate of the discriminator"""
    epochs: int = 6
    """discriminator passes per iteration"""
    batch_size: int = 512
    """policy samples (and as many demos) per discriminator minibatch (``amp_minibatch``)"""
    logit_reg: float = 0.05
    """weight of ``sum(w_logit^2)`` (the output layer's weights)"""
    grad_penalty: float = 5.0
    """weight of ``mean ||d logit / d x_demo||^2`` (on normalised demo inputs)"""
    weight_decay: float = 1e-4
    """weight of ``sum ||W||^2`` over every discriminator layer"""
    replay_size: int = 100_000
    """policy samples kept in the replay buffer (IsaacGymEnvs: 1,000,000)"""
    replay_keep_prob: float = 0.01
    """once the buffer is full, each new sample is stored with this probability"""
    reward_scale: float = 2.0
    """style reward scale (``disc_reward_scale``)"""
    task_weight: float = 0.0
    """weight of the env's (task) reward"""
    style_weight: float = 1.0
    """weight of the style reward"""
    normalize_amp_obs: bool = True
    """normalise discriminator inputs with running statistics"""
    delta_features: bool = False
    """append the difference of the two halves of each AMP observation (the motion between
    the two states) to the discriminator input; with per-dimension normalisation this makes
    small steps visible next to large positions (the maze: 3-unit steps in a 512-unit arena)"""

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        ok = len(self.hidden) > 0 and all(isinstance(h, int) and h > 0 for h in self.hidden)
        require(ok, "hidden", self.hidden, "must be a non-empty tuple of positive ints")
        require(self.loss in ("bce", "lsgan"), "loss", self.loss, "choose 'bce' or 'lsgan'")
        for name in ("epochs", "batch_size", "replay_size"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        lr = self.learning_rate
        require(lr > 0 and math.isfinite(lr), "learning_rate", lr, "must be > 0")
        for name in ("logit_reg", "grad_penalty", "weight_decay", "reward_scale"):
            value = getattr(self, name)
            require(value >= 0, name, value, "must be >= 0")
        for name in ("task_weight", "style_weight"):
            value = getattr(self, name)
            require(math.isfinite(value), name, value, "must be finite")
        p = self.replay_keep_prob
        require(0.0 < p <= 1.0, "replay_keep_prob", p, "must lie in (0, 1]")


# ------------------------------------------------------------------------------- loss pieces
def discriminator_loss(
    agent_logits: torch.Tensor, demo_logits: torch.Tensor, loss: str = "bce"
) -> torch.Tensor:
    """BCE: ``0.5 (BCE(agent, 0) + BCE(demo, 1))``; LSGAN: ``0.5 (mean (d_agent + 1)^2 +
    mean (d_demo - 1)^2)``. Logits are ``(B,)``."""
    if loss == "bce":
        agent = F.binary_cross_entropy_with_logits(agent_logits, torch.zeros_like(agent_logits))
        demo = F.binary_cross_entropy_with_logits(demo_logits, torch.ones_like(demo_logits))
        return 0.5 * (agent + demo)
    if loss == "lsgan":
        return 0.5 * ((agent_logits + 1.0).pow(2).mean() + (demo_logits - 1.0).pow(2).mean())
    raise ValueError(f"loss={loss!r} is not allowed; choose 'bce' or 'lsgan'")


def gradient_penalty(demo_logits: torch.Tensor, demo_inputs: torch.Tensor) -> torch.Tensor:
    """``mean_b ||d logit_b / d x_b||^2``; ``demo_inputs`` ``(B, D)`` must require grad and
    ``demo_logits`` ``(B,)`` be computed from them."""
    (grad,) = torch.autograd.grad(demo_logits.sum(), demo_inputs, create_graph=True)
    return grad.pow(2).sum(-1).mean()


def style_reward(logits: torch.Tensor, scale: float, loss: str = "bce") -> torch.Tensor:
    """Style reward from discriminator logits (any shape).

    BCE: ``-log(max(1 - sigmoid(logit), 1e-4)) * scale``; LSGAN: ``max(0, 1 - 0.25 (logit -
    1)^2) * scale``.
    """
    if loss == "bce":
        prob = torch.sigmoid(logits)
        return -torch.log(torch.clamp(1.0 - prob, min=1e-4)) * scale
    if loss == "lsgan":
        return torch.clamp(1.0 - 0.25 * (logits - 1.0).pow(2), min=0.0) * scale
    raise ValueError(f"loss={loss!r} is not allowed; choose 'bce' or 'lsgan'")


class Discriminator(nn.Module):
    """``logit(x)`` for AMP observations ``x`` ``(B, D)``: optional delta features, normaliser,
    ReLU MLP, linear head (head weights uniform in +-1, zero bias, as IsaacGymEnvs)."""

    def __init__(self, amp_dim: int, cfg: AMPConfig) -> None:
        super().__init__()
        if cfg.delta_features and amp_dim % 2:
            raise ValueError(f"delta_features needs an even amp_dim (two states), got {amp_dim}")
        self.delta_features = cfg.delta_features
        in_dim = amp_dim + amp_dim // 2 if cfg.delta_features else amp_dim
        self.norm = RunningMeanStd((in_dim,)) if cfg.normalize_amp_obs else None
        self.trunk = mlp((in_dim, *cfg.hidden), cfg.hidden[-1])[:-1]
        self.head = nn.Linear(cfg.hidden[-1], 1)
        nn.init.uniform_(self.head.weight, -1.0, 1.0)
        nn.init.zeros_(self.head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` or, with delta features, ``(B, 3D/2)`` = ``[x, x_b - x_a]``."""
        if not self.delta_features:
            return x
        x_a, x_b = x.chunk(2, dim=-1)
        return torch.cat([x, x_b - x_a], dim=-1)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Features of ``x``, normalised (the input of :meth:`logits_normalized`)."""
        f = self.features(x)
        return f if self.norm is None else self.norm.normalize(f)

    def logits_normalized(self, x_norm: torch.Tensor) -> torch.Tensor:
        """``(B,)`` logits of already normalised inputs."""
        return self.head(self.trunk(x_norm)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_normalized(self.normalize(x))


class ReplayBuffer:
    """Circular buffer of past policy AMP observations; once full, each new sample replaces a
    random slot with probability ``keep_prob`` (IsaacGymEnvs ``amp_replay_keep_prob``)."""

    def __init__(self, capacity: int, dim: int, keep_prob: float, device: torch.device) -> None:
        self.data = torch.zeros(capacity, dim, device=device)
        self.keep_prob, self.size, self.head = keep_prob, 0, 0

    def add(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """Store rows of ``x`` ``(B, D)``."""
        if self.size == len(self.data):
            keep = torch.rand(len(x), generator=generator, device=generator.device)
            x = x[keep.to(x.device) < self.keep_prob]
        n = min(len(x), len(self.data))
        idx = (self.head + torch.arange(n, device=self.data.device)) % len(self.data)
        self.data[idx] = x[:n]
        self.head = int((self.head + n) % len(self.data))
        self.size = min(self.size + n, len(self.data))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, D)`` rows drawn uniformly with replacement."""
        if self.size == 0:
            raise RuntimeError("the replay buffer is empty")
        idx = torch.randint(self.size, (n,), generator=generator, device=generator.device)
        return self.data[idx.to(self.data.device)]

    def state_dict(self) -> dict:
        return {"data": self.data[: self.size].clone(), "head": self.head}

    def load_state_dict(self, state: dict) -> None:
        self.size = len(state["data"])
        self.data[: self.size] = state["data"]
        self.head = int(state["head"])


class DiscriminatorState:
    """Checkpoint state of a style module holding ``disc``, ``optimizer`` and ``replay``
    (AMP, ADD)."""

    disc: nn.Module
    optimizer: torch.optim.Optimizer
    replay: ReplayBuffer

    def state_dict(self) -> dict:
        return {
            "disc": self.disc.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.disc.load_state_dict(state["disc"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])


class AMP(DiscriminatorState):
    """The AMP reward model: style rewards for a rollout and the discriminator update.

    Args:
        amp_dim: size of one AMP observation.
        cfg: hyperparameters.
        device: torch device.
        generator: torch generator of minibatch order and replay sampling.
        sample_demos: ``n -> (n, amp_dim)`` demonstration samples (torch, on ``device``).
    """

    def __init__(
        self,
        amp_dim: int,
        cfg: AMPConfig,
        device: torch.device,
        generator: torch.Generator,
        sample_demos: Callable[[int], torch.Tensor],
    ) -> None:
        self.cfg, self.device, self.generator = cfg, device, generator
        self.sample_demos = sample_demos
        self.disc = Discriminator(amp_dim, cfg).to(device)
        self.optimizer = torch.optim.Adam(self.disc.parameters(), lr=cfg.learning_rate)
        self.replay = ReplayBuffer(cfg.replay_size, amp_dim, cfg.replay_keep_prob, device)

    @torch.no_grad()
    def rewards(self, storage: RolloutStorage) -> dict[str, torch.Tensor]:
        """Fill ``storage.rewards`` with ``w_task * r_task + w_style * r_style`` and return the
        ``(T, N)`` terms ``{"task", "style"}`` (unweighted)."""
        if storage.amp_obs is None:
            raise ValueError("AMP needs a storage with amp_obs (pass amp_dim)")
        logits = self.disc(storage.amp_obs.flatten(0, 1)).view_as(storage.task_rewards)
        r_style = style_reward(logits, self.cfg.reward_scale, self.cfg.loss)
        storage.rewards.copy_(
            self.cfg.task_weight * storage.task_rewards + self.cfg.style_weight * r_style
        )
        return {"task": storage.task_rewards, "style": r_style}

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """Train the discriminator on this rollout's samples (plus as many replayed ones)
        against demos, then add the rollout's samples to the replay buffer; returns mean losses.

        The demos are drawn once per update, one per rollout sample, and every epoch reuses
        them in a new order: drawing a humanoid demo (reference state, forward kinematics,
        observation) costs about as much as a discriminator step on it."""
        cfg = self.cfg
        agent_obs = storage.amp_obs.flatten(0, 1)
        n = len(agent_obs)
        pool = self.sample_demos(n).to(self.device, torch.float32)
        if self.disc.norm is not None:  # statistics of both sides, so demos are not clipped
            self.disc.norm.update(self.disc.features(torch.cat([agent_obs, pool])))
        sums: dict[str, float] = {}
        count = 0
        batch = min(cfg.batch_size, n)
        for _ in range(cfg.epochs):
            order, demo_order = self._permutation(n), self._permutation(n)
            for idx in order.split(batch):
                losses = self._minibatch_losses(agent_obs[idx], pool[demo_order[idx]])
                self.optimizer.zero_grad(set_to_none=True)
                losses["disc/total"].backward()
                average_gradients(self.disc.parameters())
                self.optimizer.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                count += 1
        self.replay.add(agent_obs, self.generator)
        return {k: v / count for k, v in sums.items()}

    def _permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.generator.device).to(
            self.device
        )

    def _minibatch_losses(
        self, agent_obs: torch.Tensor, demo_obs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Losses of one minibatch: ``agent_obs (B, D)`` (plus B replayed samples when the
        buffer holds any) against ``demo_obs (B, D)``; each side's loss is its own mean."""
        cfg, disc = self.cfg, self.disc
        if self.replay.size > 0:
            agent_obs = torch.cat([agent_obs, self.replay.sample(len(agent_obs), self.generator)])
        agent_logits = disc(agent_obs)
        demo_in = disc.normalize(demo_obs).detach().requires_grad_(True)
        demo_logits = disc.logits_normalized(demo_in)
        d_loss = discriminator_loss(agent_logits, demo_logits, cfg.loss)
        gp = gradient_penalty(demo_logits, demo_in)
        logit_reg = disc.head.weight.pow(2).sum()
        decay = sum(m.weight.pow(2).sum() for m in disc.modules() if isinstance(m, nn.Linear))
        total = d_loss + cfg.grad_penalty * gp + cfg.logit_reg * logit_reg
        total = total + cfg.weight_decay * decay
        with torch.no_grad():
            acc_agent = (agent_logits < 0).float().mean()
            acc_demo = (demo_logits > 0).float().mean()
        return {
            "disc/loss": d_loss,
            "disc/grad_penalty": gp,
            "disc/logit_reg": logit_reg,
            "disc/weight_decay": decay,
            "disc/total": total,
            "disc/accuracy_agent": acc_agent,
            "disc/accuracy_demo": acc_demo,
        }
