"""MILO's planner: a Gaussian MLP policy improved by natural policy gradient (mjrl's ``NPG``).

As mjrl (``algos/npg_cg.py``, ``batch_reinforce.py``, ``policies/gaussian_mlp.py``,
``algos/behavior_cloning.py``), which MILO uses:

- policy: ``tanh`` MLP (32, 32) on ``(s − in_shift) / in_scale``, output ``· out_scale +
  out_shift``, state-independent ``log σ`` (initial −0.25, clamped at −2); the shifts and
  scales are the offline data's mean and standard deviation (BC sets them);
- one step: advantages (GAE(γ, λ)) normalised to zero mean and unit std, the vanilla gradient
  ``g`` of ``mean(ratio · Â)`` (+ ``c_bc · mean log π(a_E | s_E)`` with the BC regulariser),
  ``x = F⁻¹ g`` by conjugate gradient on the Fisher (the Hessian of the mean KL, damping
  1e-4, started at ``x₀ = g`` as mjrl), and the step ``θ += √(δ / gᵀx) · x`` with ``δ`` the
  KL step size;
- value function: ReLU MLP (128, 128) fitted for 2 epochs (Adam 1e-3, batch 64, weight decay
  1e-3) — on the λ-returns; mjrl fits Monte-Carlo returns of complete paths, which a batched
  sampler that cuts episodes between iterations does not have;
- BC: MSE between the policy mean and the data's actions, Adam 1e-3, batch 64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from imitenvs.agents.onpolicy.ppo import mlp
from imitenvs.core.checks import check_positive_int


@dataclass
class NPGConfig:
    """Planner settings (defaults: MILO's ``arguments.py``; its Hopper example differs)."""

    policy_hidden: tuple[int, ...] = (32, 32)
    init_log_std: float = -0.25
    min_log_std: float = -2.0
    value_hidden: tuple[int, ...] = (128, 128)
    value_epochs: int = 2
    value_lr: float = 1e-3
    value_batch: int = 64
    value_weight_decay: float = 1e-3
    kl_step: float = 0.05
    """δ, the normalised step size (MILO's ``--kl_dist``)"""
    cg_iters: int = 10
    """conjugate-gradient iterations (Hopper example: 25)"""
    cg_damping: float = 1e-4
    gamma: float = 0.995
    gae_lambda: float = 0.97
    bc_reg_coeff: float = 0.0
    """``c_bc`` of the BC regulariser (MILO's ``--do_bc_reg --bc_reg_coeff``, 0.1; 0: off)"""

    def __post_init__(self) -> None:
        for name in ("value_epochs", "value_batch", "cg_iters"):
            check_positive_int(name, getattr(self, name))
        if not (self.kl_step > 0 and 0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError(
                f"need kl_step > 0, gamma in (0, 1], gae_lambda in [0, 1], got "
                f"{self.kl_step}, {self.gamma}, {self.gae_lambda}"
            )
        if self.bc_reg_coeff < 0 or self.min_log_std > self.init_log_std:
            raise ValueError("bc_reg_coeff must be >= 0 and min_log_std <= init_log_std")


class GaussianPolicy(nn.Module):
    """``π(a|s) = N(μ(s), σ²)`` with data-normalised inputs and outputs (mjrl's MLP policy)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: NPGConfig, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net = mlp((obs_dim, *cfg.policy_hidden), act_dim, nn.Tanh)
        self.log_std = nn.Parameter(torch.full((act_dim,), cfg.init_log_std))
        self.min_log_std = cfg.min_log_std
        for name, dim in (("in_shift", obs_dim), ("out_shift", act_dim)):
            self.register_buffer(name, torch.zeros(dim))
        for name, dim in (("in_scale", obs_dim), ("out_scale", act_dim)):
            self.register_buffer(name, torch.ones(dim))

    def set_normalization(self, obs: torch.Tensor, actions: torch.Tensor) -> None:
        """Shifts and scales from data: ``obs (N, S)``, ``actions (N, A)`` (std + 1e-8)."""
        self.in_shift.copy_(obs.mean(0))
        self.in_scale.copy_(obs.std(0) + 1e-8)
        self.out_shift.copy_(actions.mean(0))
        self.out_scale.copy_(actions.std(0) + 1e-8)

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B, S) → (B, A)``."""
        return self.net((obs - self.in_shift) / self.in_scale) * self.out_scale + self.out_shift

    def std(self) -> torch.Tensor:
        return self.log_std.clamp(min=self.min_log_std).exp()

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log π(a|s)``: ``(B, S), (B, A) → (B,)``."""
        return torch.distributions.Normal(self.mean(obs), self.std()).log_prob(actions).sum(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mu = self.mean(obs)
        return mu + self.std() * torch.randn(mu.shape, generator=generator)


def gaussian_kl(mu0: torch.Tensor, std0: torch.Tensor, mu1: torch.Tensor, std1: torch.Tensor):
    """Mean over rows of ``KL(N(μ0, σ0²) ‖ N(μ1, σ1²))`` summed over action dims."""
    kl = torch.log(std1 / std0) + (std0**2 + (mu0 - mu1) ** 2) / (2 * std1**2) - 0.5
    return kl.sum(-1).mean()


def conjugate_gradient(
    avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int, x0: torch.Tensor
) -> torch.Tensor:
    """Approximately solve ``A x = b`` (A symmetric positive definite, given as ``avp``)."""
    x = x0.clone()
    r = b - avp(x)
    p, rr = r.clone(), r @ r
    for _ in range(iters):
        if rr < 1e-10:
            break
        ap = avp(p)
        alpha = rr / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def _flat(grads: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def npg_step(
    policy: GaussianPolicy,
    obs: torch.Tensor,
    actions: torch.Tensor,
    advantages: torch.Tensor,
    cfg: NPGConfig,
    expert: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, float]:
    """One natural-gradient step on ``(obs (B, S), actions (B, A), advantages (B,))``.

    ``advantages`` are normalised here. ``expert`` = ``(s_E, a_E)`` adds the BC regulariser
    when ``cfg.bc_reg_coeff > 0``. Returns the step size ``alpha``, the surrogate gain and
    the KL of the step.
    """
    params = [p for p in policy.parameters() if p.requires_grad]
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-6)
    with torch.no_grad():
        old_logp = policy.log_prob(obs, actions)
        mu0, std0 = policy.mean(obs), policy.std()

    def surrogate() -> torch.Tensor:
        surr = (torch.exp(policy.log_prob(obs, actions) - old_logp) * adv).mean()
        if expert is not None and cfg.bc_reg_coeff > 0:
            surr = surr + cfg.bc_reg_coeff * policy.log_prob(*expert).mean()
        return surr

    s0 = surrogate()
    g = _flat(torch.autograd.grad(s0, params))
    kl = gaussian_kl(mu0, std0, policy.mean(obs), policy.std())
    grad_kl = _flat(torch.autograd.grad(kl, params, create_graph=True))

    def fvp(v: torch.Tensor) -> torch.Tensor:
        hv = _flat(torch.autograd.grad(grad_kl @ v, params, retain_graph=True))
        return hv + cfg.cg_damping * v

    x = conjugate_gradient(fvp, g, cfg.cg_iters, x0=g)
    alpha = math.sqrt(abs(cfg.kl_step / (float(g @ x) + 1e-20)))
    with torch.no_grad():
        offset = 0
        for p in params:
            n = p.numel()
            p += alpha * x[offset : offset + n].view_as(p)
            offset += n
        gain = float(surrogate() - s0)
        kl_after = float(gaussian_kl(mu0, std0, policy.mean(obs), policy.std()))
    return {"alpha": alpha, "surrogate_gain": gain, "kl": kl_after}


class ValueFunction(nn.Module):
    """``V(s, t/H)``: ReLU MLP on the policy-normalised state and the time fraction."""

    def __init__(self, obs_dim: int, cfg: NPGConfig, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net = mlp((obs_dim + 1, *cfg.value_hidden), 1)
        self.cfg = cfg
        self.opt = torch.optim.Adam(
            self.net.parameters(), lr=cfg.value_lr, weight_decay=cfg.value_weight_decay
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(..., S + 1) → (...)``."""
        return self.net(features).squeeze(-1)

    def fit(self, features: torch.Tensor, targets: torch.Tensor, generator: torch.Generator):
        """Regress ``targets (B,)`` on ``features (B, S + 1)``; returns the final MSE."""
        n = len(features)
        for _ in range(self.cfg.value_epochs):
            perm = torch.randperm(n, generator=generator)
            for i in range(0, n, self.cfg.value_batch):
                idx = perm[i : i + self.cfg.value_batch]
                loss = (self(features[idx]) - targets[idx]).pow(2).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
        with torch.no_grad():
            return float((self(features) - targets).pow(2).mean())


def behaviour_cloning(
    policy: GaussianPolicy,
    obs: torch.Tensor,
    actions: torch.Tensor,
    epochs: int,
    generator: torch.Generator,
    batch_size: int = 64,
    lr: float = 1e-3,
) -> list[float]:
    """Fit the policy mean to ``actions (N, A)`` at ``obs (N, S)`` by MSE; loss per epoch."""
    opt = torch.optim.Adam(policy.net.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        perm, total = torch.randperm(len(obs), generator=generator), 0.0
        for i in range(0, len(obs), batch_size):
            idx = perm[i : i + batch_size]
            loss = (policy.mean(obs[idx]) - actions[idx]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(obs))
    return losses
