"""Deep RLSP's learned models, in torch: a state VAE (the feature space), an inverse dynamics
model and an inverse policy (a mixture density network), with one small trainer.

All three work on observations standardised by the replay data's mean and standard deviation
(:class:`Standardizer`); shapes are ``(B, obs_dim)`` / ``(B, act_dim)`` float32 unless said.

- :class:`StateVAE`: ``q(z|s) = N(mu(s), diag(sigma(s))^2)``, a unit-variance Gaussian decoder,
  loss ``-E[log p(s|z)] + beta * KL(q(z|s) || N(0, prior_std^2 I))``; the features are
  ``phi(s) = mu(s)``.
- :class:`InverseDynamics`: ``s_t = s_{t+1} + delta(s_{t+1}, a_t)``, the delta regressed (MSE) in
  standardised units and clipped to the range seen in the data.
- :class:`InversePolicy`: ``p(a_t | s_{t+1}) = sum_k w_k(s) N(a; m_k(s), sigma^2 I)``, fit by
  maximum likelihood on pairs made by the current forward policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


def trunk(in_dim: int, hidden: int, layers: int, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``layers`` hidden ``Linear + act`` blocks of width ``hidden`` (no output layer)."""
    blocks: list[nn.Module] = []
    for i in range(layers):
        blocks += [nn.Linear(in_dim if i == 0 else hidden, hidden), act()]
    return nn.Sequential(*blocks)


@dataclass(frozen=True)
class Standardizer:
    """Per-dimension ``(x - mean) / std`` with ``std`` floored at 1e-6. Arrays ``(d,)``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray) -> Standardizer:
        """From samples ``(n, d)``."""
        data = np.asarray(data, dtype=np.float64)
        return cls(data.mean(axis=0), np.maximum(data.std(axis=0), 1e-6))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - _t(self.mean, x)) / _t(self.std, x)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * _t(self.std, x) + _t(self.mean, x)


def _t(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


class StateVAE(nn.Module):
    """The learned state representation (``latent_dim`` features)."""

    def __init__(
        self,
        scaler: Standardizer,
        latent_dim: int = 30,
        layers: int = 3,
        hidden: int = 512,
        prior_std: float = 1.0,
        beta: float = 1e-3,
    ) -> None:
        super().__init__()
        obs_dim = scaler.mean.shape[0]
        self.scaler, self.prior_std, self.beta = scaler, prior_std, beta
        self.encoder = trunk(obs_dim, hidden, layers - 1, nn.LeakyReLU)
        self.loc = nn.Linear(hidden, latent_dim)
        self.scale = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            trunk(latent_dim, hidden, layers - 1, nn.LeakyReLU), nn.Linear(hidden, obs_dim)
        )

    def posterior(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` of ``q(z|s)``, each ``(B, latent_dim)``."""
        h = self.encoder(self.scaler(obs))
        return self.loc(h), nn.functional.softplus(self.scale(h)).clamp_min(1e-6)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """``phi(s) = mu(s)``, ``(B, latent_dim)``."""
        return self.posterior(obs)[0]

    def loss(self, obs: torch.Tensor) -> torch.Tensor:
        """Negative ELBO per sample, averaged (reconstruction in standardised units)."""
        mu, sigma = self.posterior(obs)
        z = mu + sigma * torch.randn_like(mu)
        recon = 0.5 * (self.decoder(z) - self.scaler(obs)).pow(2).sum(-1)
        var = (sigma / self.prior_std).pow(2)
        kl = 0.5 * (var + (mu / self.prior_std).pow(2) - 1.0 - var.log()).sum(-1)
        return (recon + self.beta * kl).mean()


class InverseDynamics(nn.Module):
    """``s_t`` from ``(s_{t+1}, a_t)``: an MLP on standardised inputs predicts the delta."""

    def __init__(
        self,
        obs_scaler: Standardizer,
        act_scaler: Standardizer,
        delta_scaler: Standardizer,
        delta_range: tuple[np.ndarray, np.ndarray],
        layers: int = 5,
        hidden: int = 1024,
    ) -> None:
        super().__init__()
        self.obs_scaler, self.act_scaler, self.delta_scaler = obs_scaler, act_scaler, delta_scaler
        self.delta_low, self.delta_high = (np.asarray(b, dtype=np.float64) for b in delta_range)
        obs_dim, act_dim = obs_scaler.mean.shape[0], act_scaler.mean.shape[0]
        self.net = nn.Sequential(
            trunk(obs_dim + act_dim, hidden, layers), nn.Linear(hidden, obs_dim)
        )

    def _delta(self, next_obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.obs_scaler(next_obs), self.act_scaler(action)], dim=-1)
        return self.net(x)

    def loss(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """MSE of the standardised delta ``s_t - s_{t+1}``."""
        target = self.delta_scaler(obs - next_obs)
        return (self._delta(next_obs, action) - target).pow(2).mean()

    def previous(self, next_obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Predicted ``s_t``, ``(B, obs_dim)``; the delta is clipped to the data's range."""
        delta = self.delta_scaler.inverse(self._delta(next_obs, action))
        delta = torch.clamp(delta, _t(self.delta_low, delta), _t(self.delta_high, delta))
        return next_obs + delta


class InversePolicy(nn.Module):
    """Mixture density network ``p(a_t | s_{t+1})`` with ``components`` Gaussians.

    ``std`` fixes every component's standard deviation (the original's ``gauss_stdev``);
    ``None`` learns one per component.
    """

    def __init__(
        self,
        obs_scaler: Standardizer,
        act_dim: int,
        components: int = 5,
        layers: int = 3,
        hidden: int = 512,
        std: float | None = 0.05,
    ) -> None:
        super().__init__()
        self.obs_scaler, self.act_dim, self.k, self.std = obs_scaler, act_dim, components, std
        self.trunk = trunk(obs_scaler.mean.shape[0], hidden, layers)
        self.means = nn.Linear(hidden, components * act_dim)
        self.logits = nn.Linear(hidden, components)
        self.log_std = nn.Linear(hidden, components) if std is None else None

    def mixture(self, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log weights (B, K), means (B, K, A), stds (B, K))``."""
        h = self.trunk(self.obs_scaler(next_obs))
        means = self.means(h).view(-1, self.k, self.act_dim)
        if self.log_std is None:
            stds = torch.full(means.shape[:2], float(self.std), dtype=h.dtype, device=h.device)
        else:
            stds = self.log_std(h).exp().clamp(1e-6, 1e6)
        return torch.log_softmax(self.logits(h), dim=-1), means, stds

    def loss(self, next_obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``action`` under the mixture, averaged."""
        log_w, means, stds = self.mixture(next_obs)
        sq = (action[:, None, :] - means).pow(2).sum(-1)
        log_n = -0.5 * sq / stds.pow(2) - self.act_dim * (stds.log() + 0.5 * math.log(2 * math.pi))
        return -torch.logsumexp(log_w + log_n, dim=-1).mean()

    @torch.no_grad()
    def sample(self, next_obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One action per row, ``(B, act_dim)``."""
        log_w, means, stds = self.mixture(next_obs)
        pick = torch.multinomial(log_w.exp(), 1, generator=generator)[:, 0]
        rows = torch.arange(len(pick))
        noise = torch.randn(means.shape[0], self.act_dim, generator=generator)
        return means[rows, pick] + stds[rows, pick, None] * noise


def fit(
    loss: Callable[..., torch.Tensor],
    params: list[torch.nn.Parameter],
    data: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> tuple[float, float]:
    """Adam on ``loss(*batch)`` over shuffled minibatches of ``data`` (tensors, same length).

    Returns:
        Mean loss of the first and of the last epoch.
    """
    n = len(data[0])
    if n < batch_size:
        raise ValueError(f"{n} samples are fewer than one batch of {batch_size}")
    optim = torch.optim.Adam(params, lr=lr)
    means: list[float] = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total, count = 0.0, 0
        for lo in range(0, n - batch_size + 1, batch_size):
            idx = order[lo : lo + batch_size]
            value = loss(*(d[idx] for d in data))
            optim.zero_grad()
            value.backward()
            optim.step()
            total, count = total + float(value.detach()), count + 1
        means.append(total / count)
    return means[0], means[-1]
