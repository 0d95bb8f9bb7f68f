"""PPO for batched envs: Gaussian actor-critic, clipped surrogate, value and bounds losses.

Read top to bottom: :class:`PPOConfig` (every hyperparameter, documented and validated), the
loss functions (importable, unit-tested), :class:`ActorCritic` and :class:`PPO` (act, evaluate
values, update on a :class:`~imitenvs.agents.onpolicy.storage.RolloutStorage`). The rollout
loop lives in :mod:`imitenvs.agents.onpolicy.runner`. Defaults follow IsaacGymEnvs'
``HumanoidAMPPPO.yaml`` (``docs/agents.md`` lists them and where we deviate).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from imitenvs.agents import distributed
from imitenvs.agents.distributed import average_gradients
from imitenvs.agents.normalizer import RunningMeanStd
from imitenvs.agents.onpolicy.storage import RolloutStorage

LR_BOUNDS = (1e-5, 1e-2)
"""range of the adaptive learning rate (``PPOConfig.desired_kl``)"""


def require(ok: bool, name: str, value: object, allowed: str) -> None:
    """Raise ``ValueError`` naming the config field when ``ok`` is false."""
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid; {allowed}")


@dataclass
class PPOConfig:
    """PPO hyperparameters (defaults: IsaacGymEnvs HumanoidAMPPPO except the network sizes)."""

    num_steps: int = 16
    """rollout length T per iteration (``horizon_length``)"""
    num_minibatches: int = 2
    """minibatches per epoch; T * num_envs must be divisible by it"""
    epochs: int = 6
    """passes over each rollout (``mini_epochs``)"""
    learning_rate: float = 5e-5
    """Adam learning rate (the initial one when ``desired_kl`` is set)"""
    desired_kl: float | None = None
    """adaptive learning rate (rsl_rl's schedule): after each minibatch the rate is divided
    by 1.5 when the approximate KL exceeds ``2 * desired_kl`` and multiplied by 1.5 when it
    falls below ``desired_kl / 2``, within [1e-5, 1e-2] (``None``: constant rate)"""
    gamma: float = 0.99
    """discount factor"""
    lam: float = 0.95
    """GAE lambda (``tau``)"""
    clip: float = 0.2
    """surrogate ratio clip epsilon (``e_clip``)"""
    value_coef: float = 5.0
    """weight of the value loss (``critic_coef``)"""
    entropy_coef: float = 0.0
    """weight of the entropy bonus"""
    bounds_coef: float = 10.0
    """weight of the soft bound loss on the action mean, |mu| <= 1"""
    max_grad_norm: float | None = 1.0
    """global gradient-norm clip (``None``: no clipping)"""
    init_log_std: float = -2.9
    """initial log standard deviation of the Gaussian policy"""
    learn_std: bool = False
    """learn the log-std (``False``: fixed, as IsaacGymEnvs AMP)"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden sizes of the actor and critic MLPs (IsaacGymEnvs uses (1024, 512))"""
    normalize_obs: bool = True
    """normalise observations with running statistics"""
    normalize_value: bool = True
    """the critic predicts normalised returns (running statistics of the returns)"""
    normalize_advantage: bool = True
    """standardise advantages per minibatch"""

    def __post_init__(self) -> None:
        for name in ("num_steps", "num_minibatches", "epochs"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        for name in ("learning_rate", "clip"):
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be > 0")
        for name in ("gamma", "lam"):
            value = getattr(self, name)
            require(0.0 <= value <= 1.0, name, value, "must lie in [0, 1]")
        for name in ("value_coef", "entropy_coef", "bounds_coef"):
            value = getattr(self, name)
            require(value >= 0.0, name, value, "must be >= 0")
        mgn = self.max_grad_norm
        require(mgn is None or mgn > 0, "max_grad_norm", mgn, "must be > 0 or None")
        kl = self.desired_kl
        require(kl is None or (kl > 0 and math.isfinite(kl)), "desired_kl", kl, "> 0 or None")
        require(math.isfinite(self.init_log_std), "init_log_std", self.init_log_std, "finite")
        self.hidden = tuple(self.hidden)
        ok = len(self.hidden) > 0 and all(isinstance(h, int) and h > 0 for h in self.hidden)
        require(ok, "hidden", self.hidden, "must be a non-empty tuple of positive ints")


# ------------------------------------------------------------------------------- loss pieces
def clipped_surrogate_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``-mean(min(rho A, clip(rho, 1-eps, 1+eps) A))`` with ``rho = exp(log_prob - old)``;
    all inputs ``(B,)``. Also returns ``clip_fraction`` and ``approx_kl`` ((rho-1) - log rho)."""
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    with torch.no_grad():
        stats = {
            "clip_fraction": ((ratio - 1.0).abs() > clip).float().mean(),
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
        }
    return torch.max(pg_loss1, pg_loss2).mean(), stats


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """``mean((V - R)^2)`` (IsaacGymEnvs AMP: ``clip_value False``); inputs ``(B,)``."""
    return (values - returns).pow(2).mean()


def bounds_loss(mu: torch.Tensor, bound: float = 1.0) -> torch.Tensor:
    """Soft bound on the action mean ``mu`` ``(B, A)``: ``mean_b sum_a relu(|mu| - bound)^2``."""
    return (mu.abs() - bound).clamp(min=0.0).pow(2).sum(-1).mean()


def mlp(
    sizes: tuple[int, ...], out_dim: int, activation: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    """MLP ``sizes[0] -> ... -> out_dim`` with ``activation`` (default ReLU) after every hidden
    layer and none on the output."""
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(sizes[-1], out_dim))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs on normalised observations; Gaussian actions.

    ``pi(a|s) = N(mu(s), diag(exp(log_std))^2)``. With ``normalize_value`` the critic's output
    is in normalised units; :meth:`value` returns it in reward units.
    """

    def __init__(self, obs_dim: int, act_dim: int, cfg: PPOConfig) -> None:
        super().__init__()
        self.obs_norm = RunningMeanStd((obs_dim,)) if cfg.normalize_obs else None
        self.value_norm = RunningMeanStd((), clip=None) if cfg.normalize_value else None
        self.actor = mlp((obs_dim, *cfg.hidden), act_dim)
        self.critic = mlp((obs_dim, *cfg.hidden), 1)
        self.log_std = nn.Parameter(
            torch.full((act_dim,), cfg.init_log_std), requires_grad=cfg.learn_std
        )
        nn.init.uniform_(self.actor[-1].weight, -0.01, 0.01)
        nn.init.zeros_(self.actor[-1].bias)

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.obs_norm is None else self.obs_norm.normalize(obs)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        """The policy at ``obs`` ``(B, O)``: a Normal over ``(B, A)``."""
        mu = self.actor(self._norm(obs))
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def raw_value(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B,)`` critic output (normalised units when ``normalize_value``)."""
        return self.critic(self._norm(obs)).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B,)`` value estimate in reward units."""
        v = self.raw_value(obs)
        return v if self.value_norm is None else self.value_norm.denormalize(v)


class PPO:
    """The PPO algorithm: acting with exploration, and the minibatch update.

    Args:
        obs_dim, act_dim: sizes of one world's observation and action.
        cfg: hyperparameters.
        device: torch device of the networks and the storage.
        generator: the torch generator of action noise and minibatch order.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cfg: PPOConfig,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        self.cfg, self.device, self.generator = cfg, device, generator
        self.model = ActorCritic(obs_dim, act_dim, cfg).to(device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.learning_rate)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(actions (N, A), log_probs (N,), values (N,))`` for ``obs`` ``(N, O)``; folds
        ``obs`` into the observation statistics first (they stay fixed during updates)."""
        if self.model.obs_norm is not None:
            self.model.obs_norm.update(obs)
        dist = self.model.distribution(obs)
        noise = torch.randn(dist.mean.shape, generator=self.generator, device=self.device)
        actions = dist.mean + dist.stddev * noise
        return actions, dist.log_prob(actions).sum(-1), self.model.value(obs)

    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mean action ``(N, A)`` (for evaluation)."""
        return self.model.distribution(obs).mean

    @torch.no_grad()
    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.model.value(obs)

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """Run ``epochs`` x ``num_minibatches`` gradient steps on a finished rollout whose
        ``advantages``/``returns`` are filled; returns the mean of each loss term."""
        cfg, model = self.cfg, self.model
        if model.value_norm is not None:
            model.value_norm.update(storage.returns.flatten())
        sums: dict[str, float] = {}
        count = 0
        for _ in range(cfg.epochs):
            for mb in storage.minibatches(cfg.num_minibatches, self.generator):
                losses = self._minibatch_losses(mb)
                self.optimizer.zero_grad(set_to_none=True)
                losses["loss/total"].backward()
                average_gradients(model.parameters())
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if cfg.desired_kl is not None:
                    self._adapt_learning_rate(float(losses["ppo/approx_kl"]))
                count += 1
        out = {k: v / count for k, v in sums.items()}
        out["ppo/learning_rate"] = self.optimizer.param_groups[0]["lr"]
        return out

    def _adapt_learning_rate(self, kl: float) -> None:
        """rsl_rl's adaptive schedule around ``cfg.desired_kl`` (see :class:`PPOConfig`)."""
        kl = float(distributed.global_mean(torch.tensor(kl)))  # equal rates on every rank
        lr = self.optimizer.param_groups[0]["lr"]
        if kl > 2.0 * self.cfg.desired_kl:
            lr = max(LR_BOUNDS[0], lr / 1.5)
        elif kl < 0.5 * self.cfg.desired_kl:
            lr = min(LR_BOUNDS[1], lr * 1.5)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _minibatch_losses(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, model = self.cfg, self.model
        adv = mb["advantages"]
        if cfg.normalize_advantage and adv.numel() > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        dist = model.distribution(mb["obs"])
        log_prob = dist.log_prob(mb["actions"]).sum(-1)
        pg_loss, stats = clipped_surrogate_loss(log_prob, mb["log_probs"], adv, cfg.clip)
        returns = mb["returns"]
        if model.value_norm is not None:
            returns = model.value_norm.normalize(returns)
        v_loss = value_loss(model.raw_value(mb["obs"]), returns)
        b_loss = bounds_loss(dist.mean)
        entropy = dist.entropy().sum(-1).mean()
        total = (
            pg_loss + cfg.value_coef * v_loss + cfg.bounds_coef * b_loss
        ) - cfg.entropy_coef * entropy
        return {
            "loss/policy": pg_loss,
            "loss/value": v_loss,
            "loss/bounds": b_loss,
            "loss/entropy": entropy,
            "loss/total": total,
            "ppo/clip_fraction": stats["clip_fraction"],
            "ppo/approx_kl": stats["approx_kl"],
        }

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
