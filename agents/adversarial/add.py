"""ADD (adversarial differential discriminator) as a small extension of PPO.

ADD (Zhang et al. 2025, MimicKit ``add_agent.py``) tracks a reference motion without a
hand-tuned tracking reward. At every step the env gives the character's features ``x_sim`` and
the reference's ``x_ref`` at the same time (``HumanoidImitate-v0`` with ``add_obs=True``:
``info["add_obs"] = [x_sim, x_ref]``). The discriminator sees only the normalised difference
``d = (x_ref - x_sim) / mean|x_ref - x_sim|``: the single positive sample is ``d = 0`` (perfect
tracking), the negatives are the policy's differences (this rollout plus a replay buffer).
PPO maximises ``r = w_task r_task + w_style * -log(max(1 - D(d), 1e-4)) * scale``.

Read top to bottom: :class:`ADDConfig`, the maths (:func:`state_difference`,
:func:`add_discriminator_loss`, :func:`add_gradient_penalty`, :func:`add_reward`),
:class:`MeanAbsNormalizer`, :class:`DiffDiscriminator`, :class:`ADD` (the style module) and
:class:`ADDRunner` (the on-policy runner with ADD in AMP's place).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from imitenvs.agents import distributed
from imitenvs.agents.adversarial.amp import (
    AMPConfig,
    DiscriminatorState,
    ReplayBuffer,
    discriminator_loss,
    gradient_penalty,
    style_reward,
)
from imitenvs.agents.adversarial.near import EnergyModel, NEARConfig
from imitenvs.agents.distributed import average_gradients
from imitenvs.agents.onpolicy.ppo import PPOConfig, mlp, require
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.agents.onpolicy.storage import RolloutStorage

ADD_INFO_KEY = "add_obs"
"""the ``info`` key of ``[x_sim, x_ref]`` (``HumanoidImitate-v0`` with ``add_obs=True``)"""


@dataclass
class ADDConfig:
    """ADD hyperparameters (MimicKit ``add_humanoid_agent.yaml`` except where noted)."""

    hidden: tuple[int, ...] = (256, 256)
    """discriminator MLP hidden sizes (MimicKit: (1024, 1024); smaller for CPUs)"""
    optimizer: str = "sgd"
    """``"sgd"`` (MimicKit: SGD with momentum 0.9) or ``"adam"``"""
    learning_rate: float = 2.5e-4
    """discriminator learning rate"""
    momentum: float = 0.9
    """SGD momentum (MimicKit's ``MPOptimizer``; ignored by Adam)"""
    weight_decay: float = 1e-4
    """the optimiser's L2 weight decay on every discriminator parameter"""
    epochs: int = 2
    """discriminator passes over each rollout (``disc_epochs``)"""
    batch_size: int = 512
    """rollout differences per minibatch, plus as many replayed ones (MimicKit:
    ``disc_batch_size`` 2 x num_envs)"""
    logit_reg: float = 0.01
    """weight of ``sum(w_logit^2)`` (the output layer's weights)"""
    grad_penalty: float = 2.0
    """weight of ``0.5 (mean ||dD/dd_neg||^2 + ||dD/dd_pos||^2)`` (``disc_grad_penalty``)"""
    reward_scale: float = 2.0
    """scale of the ADD reward (``disc_reward_scale``)"""
    replay_size: int = 200_000
    """policy differences kept in the replay buffer (``disc_buffer_size``)"""
    replay_keep_prob: float = 0.01
    """once the buffer is full, each new difference is stored with this probability
    (MimicKit stores 1000 random samples per iteration, about 1 % of 4096 x 32)"""
    task_weight: float = 0.0
    """weight of the env's (tracking) reward"""
    style_weight: float = 1.0
    """weight of the ADD reward (``disc_reward_weight``)"""
    min_diff: float = 1e-4
    """floor of the normaliser's mean absolute difference per feature (``DiffNormalizer``)"""

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        ok = len(self.hidden) > 0 and all(isinstance(h, int) and h > 0 for h in self.hidden)
        require(ok, "hidden", self.hidden, "must be a non-empty tuple of positive ints")
        opt = self.optimizer
        require(opt in ("sgd", "adam"), "optimizer", opt, "choose 'sgd' or 'adam'")
        for name in ("epochs", "batch_size", "replay_size"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        for name in ("learning_rate", "min_diff"):
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be > 0")
        for name in ("momentum", "weight_decay", "logit_reg", "grad_penalty", "reward_scale"):
            value = getattr(self, name)
            require(value >= 0 and math.isfinite(value), name, value, "must be >= 0")
        require(self.momentum < 1.0, "momentum", self.momentum, "must be < 1")
        for name in ("task_weight", "style_weight"):
            value = getattr(self, name)
            require(math.isfinite(value), name, value, "must be finite")
        p = self.replay_keep_prob
        require(0.0 < p <= 1.0, "replay_keep_prob", p, "must lie in (0, 1]")


# ------------------------------------------------------------------------------- maths
def state_difference(add_obs: torch.Tensor) -> torch.Tensor:
    """``x_ref - x_sim`` ``(..., D)`` from ``add_obs = [x_sim, x_ref]`` ``(..., 2D)``."""
    if add_obs.shape[-1] % 2:
        raise ValueError(f"add_obs must hold two equal halves, got {add_obs.shape[-1]} values")
    x_sim, x_ref = add_obs.chunk(2, dim=-1)
    return x_ref - x_sim


def add_discriminator_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor) -> torch.Tensor:
    """``0.5 (BCE(D(0), 1) + BCE(D(d_agent), 0))``: the zero difference ``pos_logits (P,)`` is
    real, the policy's differences ``neg_logits (B,)`` are fake; each side is its own mean."""
    return discriminator_loss(neg_logits, pos_logits, "bce")


def add_gradient_penalty(
    pos_logits: torch.Tensor,
    pos_inputs: torch.Tensor,
    neg_logits: torch.Tensor,
    neg_inputs: torch.Tensor,
) -> torch.Tensor:
    """``0.5 (mean_b ||dD/dd||^2 on the negatives + the same on the positives)``; inputs
    ``(B, D)`` / ``(P, D)`` require grad and the logits ``(B,)`` / ``(P,)`` come from them."""
    neg = gradient_penalty(neg_logits, neg_inputs)
    pos = gradient_penalty(pos_logits, pos_inputs)
    return 0.5 * (neg + pos)


def add_reward(logits: torch.Tensor, scale: float) -> torch.Tensor:
    """``-log(max(1 - sigmoid(logit), 1e-4)) * scale`` (any shape): high when the
    discriminator takes the difference for zero (MimicKit ``_calc_disc_rewards``)."""
    return style_reward(logits, scale, "bce")


class MeanAbsNormalizer(nn.Module):
    """Divides each feature by its running mean absolute value (MimicKit ``DiffNormalizer``):
    no centring, so the zero difference stays zero. Statistics are buffers (checkpointed)
    and, under ``torch.distributed``, pooled over every rank.

    Args:
        shape: shape of one sample, e.g. ``(D,)``.
        min_diff: floor of the divisor.
    """

    def __init__(self, shape: tuple[int, ...], min_diff: float = 1e-4) -> None:
        super().__init__()
        self.min_diff = min_diff
        self.register_buffer("mean_abs", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch ``x`` ``(B, *shape)`` into the mean absolute value."""
        x = x.to(torch.float64)
        n = distributed.all_sum(
            torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device)
        )
        total = distributed.all_sum(x.abs().sum(0))
        new = self.count + n.to(self.count.device)
        self.mean_abs.mul_(self.count / new).add_(total.to(self.mean_abs.device) / new)
        self.count.copy_(new)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x / max(mean|x|, min_diff)``; same shape and dtype as ``x``."""
        return x / self.mean_abs.clamp_min(self.min_diff).to(x.dtype)


class DiffDiscriminator(nn.Module):
    """``D(d)`` logits for normalised differences ``d`` ``(B, D)``: ReLU MLP and a linear head
    (weights uniform in +-1, zero bias, as MimicKit); :attr:`norm` holds the statistics."""

    def __init__(self, dim: int, cfg: ADDConfig) -> None:
        super().__init__()
        self.norm = MeanAbsNormalizer((dim,), cfg.min_diff)
        self.trunk = mlp((dim, *cfg.hidden), cfg.hidden[-1])[:-1]
        self.head = nn.Linear(cfg.hidden[-1], 1)
        nn.init.uniform_(self.head.weight, -1.0, 1.0)
        nn.init.zeros_(self.head.bias)

    def forward(self, d_norm: torch.Tensor) -> torch.Tensor:
        """``(B,)`` logits of already normalised differences ``(B, D)``."""
        return self.head(self.trunk(d_norm)).squeeze(-1)


class ADD(DiscriminatorState):
    """The ADD reward model: rewards for a rollout and the discriminator update.

    Args:
        add_dim: size of one ``add_obs`` row (``2 D``).
        cfg: hyperparameters.
        device: torch device.
        generator: torch generator of minibatch order and replay sampling.
    """

    def __init__(
        self, add_dim: int, cfg: ADDConfig, device: torch.device, generator: torch.Generator
    ) -> None:
        if add_dim % 2:
            raise ValueError(f"add_dim must be even ([x_sim, x_ref]), got {add_dim}")
        self.cfg, self.device, self.generator = cfg, device, generator
        dim = add_dim // 2
        self.disc = DiffDiscriminator(dim, cfg).to(device)
        params = list(self.disc.parameters())
        if cfg.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params, cfg.learning_rate, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        else:
            self.optimizer = torch.optim.Adam(
                params, cfg.learning_rate, weight_decay=cfg.weight_decay
            )
        self.replay = ReplayBuffer(cfg.replay_size, dim, cfg.replay_keep_prob, device)

    @torch.no_grad()
    def rewards(self, storage: RolloutStorage) -> dict[str, torch.Tensor]:
        """Fill ``storage.rewards`` with ``w_task r_task + w_style r_add``; returns the
        ``(T, N)`` terms ``{"task", "add"}`` (unweighted)."""
        if storage.amp_obs is None:
            raise ValueError("ADD needs a storage with the add_obs rows (pass amp_dim)")
        diff = state_difference(storage.amp_obs.flatten(0, 1))
        logits = self.disc(self.disc.norm.normalize(diff)).view_as(storage.task_rewards)
        r_add = add_reward(logits, self.cfg.reward_scale)
        storage.rewards.copy_(
            self.cfg.task_weight * storage.task_rewards + self.cfg.style_weight * r_add
        )
        return {"task": storage.task_rewards, "add": r_add}

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """Fold the rollout's differences into the normaliser, train the discriminator on them
        (plus as many replayed ones) against the zero difference, then store them for replay;
        returns the mean of each logged term."""
        diffs = state_difference(storage.amp_obs.flatten(0, 1))
        self.disc.norm.update(diffs)
        n, batch = len(diffs), min(self.cfg.batch_size, len(diffs))
        sums: dict[str, float] = {}
        count = 0
        for _ in range(self.cfg.epochs):
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            for idx in order.to(self.device).split(batch):
                losses = self._minibatch_losses(diffs[idx])
                self.optimizer.zero_grad(set_to_none=True)
                losses["add/total"].backward()
                average_gradients(self.disc.parameters())
                self.optimizer.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                count += 1
        self.replay.add(diffs, self.generator)
        return {k: v / count for k, v in sums.items()}

    def _minibatch_losses(self, diffs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of one minibatch of policy differences ``(B, D)`` (plus B replayed)."""
        cfg, disc = self.cfg, self.disc
        if self.replay.size > 0:
            diffs = torch.cat([diffs, self.replay.sample(len(diffs), self.generator)])
        neg_in = disc.norm.normalize(diffs).detach().requires_grad_(True)
        pos_in = torch.zeros(1, diffs.shape[1], device=self.device, requires_grad=True)
        neg_logits, pos_logits = disc(neg_in), disc(pos_in)
        d_loss = add_discriminator_loss(pos_logits, neg_logits)
        gp = add_gradient_penalty(pos_logits, pos_in, neg_logits, neg_in)
        logit_reg = disc.head.weight.pow(2).sum()
        total = d_loss + cfg.grad_penalty * gp + cfg.logit_reg * logit_reg
        with torch.no_grad():
            acc_neg = (neg_logits < 0).float().mean()
            acc_pos = (pos_logits > 0).float().mean()
        return {
            "add/loss": d_loss,
            "add/grad_penalty": gp,
            "add/logit_reg": logit_reg,
            "add/total": total,
            "add/accuracy_agent": acc_neg,
            "add/accuracy_zero": acc_pos,
            "add/logit_zero": pos_logits.detach().mean(),
            "add/logit_agent": neg_logits.detach().mean(),
        }


class ADDRunner(Runner):
    """The on-policy :class:`~imitenvs.agents.onpolicy.runner.Runner` with :class:`ADD` as its style
    module, on a tracking env that gives ``info["add_obs"]`` (``add_obs=True`` is added to
    ``run.env_kwargs``). Checkpoints keep ADD where AMP's state goes (``amp`` / ``amp_cfg``).

    Args:
        run: what to train on (e.g. ``imitenvs/HumanoidImitate-v0``).
        ppo_cfg: PPO hyperparameters.
        add_cfg: ADD hyperparameters.
        dist: the rank's distributed info (``None``: one process).
    """

    def __init__(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        add_cfg: ADDConfig,
        dist: distributed.DistInfo | None = None,
    ) -> None:
        self.add_cfg = add_cfg
        run = dataclasses.replace(run, env_kwargs={**run.env_kwargs, ADD_INFO_KEY: True})
        super().__init__(run, ppo_cfg, dist=dist)

    def _build(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        amp_cfg: AMPConfig | None,
        near_cfg: NEARConfig | None,
        energy: EnergyModel | None,
    ) -> None:
        """The plain PPO runner, then ADD in AMP's slot and a storage for ``add_obs``."""
        super()._build(run, ppo_cfg, None, None, None)
        space = getattr(self.env.env.unwrapped, "add_observation_space", None)
        if space is None:
            raise ValueError(f"{run.env_id} gives no info['add_obs']; ADD needs a tracking env")
        add_dim = int(space.shape[0])
        self.env.style_key = ADD_INFO_KEY
        self.amp = ADD(add_dim, self.add_cfg, self.device, self.generator)  # type: ignore[assignment]
        self.amp_cfg = self.add_cfg  # type: ignore[assignment]
        self.style = self.amp
        distributed.broadcast_parameters(self.amp.disc)
        n, o, a = self.env.num_envs, self.env.obs_dim, self.env.act_dim
        self.storage = RolloutStorage(ppo_cfg.num_steps, n, o, a, self.device, add_dim)

    def _begin_segment(self) -> None:
        # ADD's positives come with every step (the reference), not from a demo sampler:
        # the runner's segment start without its AMP demo source.
        add, self.amp = self.amp, None
        try:
            super()._begin_segment()
        finally:
            self.amp = add
