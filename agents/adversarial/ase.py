"""ASE (adversarial skill embeddings) as a small extension of PPO and AMP.

ASE (Peng et al. 2022, MimicKit ``ase_agent.py``) pre-trains one policy ``pi(a | s, z)`` on a
multi-clip dataset, conditioned on a latent skill ``z`` on the unit hypersphere
(``z = n / |n|``, ``n ~ N(0, I)``). Each world holds its latent for ``k`` control steps,
``k`` uniform in ``[latent_steps_min, latent_steps_max]``, and draws a new one when the time is
up or its episode ends. The reward is

``r = w_task r_task + w_style r_style(D(x)) + w_enc max(z . q(x), 0)``,

with ``x`` the AMP transition, ``D`` AMP's discriminator
(:mod:`imitenvs.agents.adversarial.amp`) and
``q(x)`` the encoder's unit-norm prediction of ``z``: a von Mises-Fisher log-likelihood up to
its concentration and constant. The encoder minimises ``-mean(z . q(x))``. A diversity term
``w_div * mean((target - mean_a (mu(s, z') - mu(s, z))^2 / ((1 - z . z') / 2 + 1e-5))^2)``
joins the PPO loss, so that distant latents give distinct actions.

The latent travels as the last ``latent_dim`` entries of the policy's observation
(:class:`LatentAdapter`), so rollout storage, PPO, the critic and checkpoints are the core's.
Read top to bottom: :class:`ASEConfig`, the maths (:func:`sample_latents`,
:func:`encoder_error`, :func:`encoder_reward`, :func:`diversity_loss`, :func:`latent_hold_steps`),
:class:`LatentAdapter`, :class:`Encoder`, :class:`ASEPPO`, :class:`ASE`, :class:`ASERunner`
and :func:`play_latents` (test mode: chosen latents, mean actions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from imitenvs.agents import distributed
from imitenvs.agents.adversarial.amp import AMP, AMPConfig, style_reward
from imitenvs.agents.adversarial.near import EnergyModel, NEARConfig
from imitenvs.agents.distributed import average_gradients
from imitenvs.agents.onpolicy.ppo import PPO, PPOConfig, mlp, require
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.agents.onpolicy.storage import RolloutStorage
from imitenvs.agents.vec import VecAdapter, VecStep, make_env


@dataclass
class ASEConfig:
    """ASE hyperparameters (MimicKit ``ase_humanoid_agent.yaml`` except where noted)."""

    latent_dim: int = 64
    """size of the latent ``z`` (on the unit sphere in R^latent_dim)"""
    latent_steps_min: int = 1
    """fewest control steps a latent is held (MimicKit ``latent_time_min`` 0 s: resampled
    after the next step at the earliest, which is 1 here)"""
    latent_steps_max: int = 150
    """most control steps a latent is held (``latent_time_max`` 5 s at 30 Hz)"""
    disc_hidden: tuple[int, ...] = (256, 256)
    """discriminator MLP hidden sizes (MimicKit: three layers of 1024; smaller for CPUs)"""
    enc_hidden: tuple[int, ...] = (256, 256)
    """encoder MLP hidden sizes (MimicKit: two layers of 1024)"""
    disc_learning_rate: float = 5e-5
    """Adam learning rate of the discriminator"""
    enc_learning_rate: float = 5e-5
    """Adam learning rate of the encoder"""
    weight_decay: float = 1e-4
    """discriminator weight decay (here as AMP's explicit ``sum ||W||^2`` term)"""
    epochs: int = 2
    """discriminator and encoder passes per rollout (``disc_epochs``, ``enc_epochs``)"""
    batch_size: int = 512
    """samples per discriminator / encoder minibatch (MimicKit: 2 x num_envs)"""
    logit_reg: float = 0.01
    """weight of the discriminator's ``sum(w_logit^2)``"""
    grad_penalty: float = 5.0
    """weight of the discriminator's gradient penalty (on demos only, as our AMP; MimicKit
    averages the demo and policy sides)"""
    reward_scale: float = 2.0
    """style reward scale (``disc_reward_scale``)"""
    replay_size: int = 200_000
    """policy samples kept for the discriminator's replay (``disc_buffer_size``)"""
    replay_keep_prob: float = 0.01
    """once the replay is full, each new sample is stored with this probability"""
    diversity_weight: float = 0.01
    """weight of the diversity loss in the PPO loss"""
    diversity_target: float = 1.0
    """target ratio of action change to latent distance (``diversity_tar``)"""
    task_weight: float = 0.0
    """weight of the env's (task) reward"""
    style_weight: float = 0.5
    """weight of the discriminator's style reward (``disc_reward_weight``)"""
    enc_weight: float = 0.5
    """weight of the encoder reward (``enc_reward_weight``)"""

    def __post_init__(self) -> None:
        for name in ("disc_hidden", "enc_hidden"):
            value = tuple(getattr(self, name))
            ok = len(value) > 0 and all(isinstance(h, int) and h > 0 for h in value)
            require(ok, name, value, "must be a non-empty tuple of positive ints")
            setattr(self, name, value)
        for name in ("latent_dim", "latent_steps_min", "epochs", "batch_size", "replay_size"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        hi = self.latent_steps_max
        ok = isinstance(hi, int) and hi >= self.latent_steps_min
        require(ok, "latent_steps_max", hi, "must be an integer >= latent_steps_min")
        for name in ("disc_learning_rate", "enc_learning_rate"):
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be > 0")
        non_negative = ("weight_decay", "logit_reg", "grad_penalty", "reward_scale")
        for name in (*non_negative, "diversity_weight", "diversity_target"):
            value = getattr(self, name)
            require(value >= 0 and math.isfinite(value), name, value, "must be >= 0")
        for name in ("task_weight", "style_weight", "enc_weight"):
            value = getattr(self, name)
            require(math.isfinite(value), name, value, "must be finite")
        p = self.replay_keep_prob
        require(0.0 < p <= 1.0, "replay_keep_prob", p, "must lie in (0, 1]")

    def amp_config(self) -> AMPConfig:
        """The discriminator's settings as an :class:`AMPConfig` (BCE loss, normalised
        inputs); the weights there are unused (ASE combines the rewards itself)."""
        return AMPConfig(
            hidden=self.disc_hidden,
            learning_rate=self.disc_learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            logit_reg=self.logit_reg,
            grad_penalty=self.grad_penalty,
            weight_decay=self.weight_decay,
            replay_size=self.replay_size,
            replay_keep_prob=self.replay_keep_prob,
            reward_scale=self.reward_scale,
        )


# ------------------------------------------------------------------------------- maths
def sample_latents(
    n: int, dim: int, generator: torch.Generator, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(n, dim)`` latents uniform on the unit sphere: normalised standard normals."""
    z = torch.randn(n, dim, generator=generator, device=generator.device)
    return F.normalize(z, dim=-1).to(device or generator.device)


def latent_hold_steps(
    n: int, low: int, high: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """``(n,)`` int64 steps to hold a new latent, uniform in ``[low, high]``."""
    k = torch.randint(low, high + 1, (n,), generator=generator, device=generator.device)
    return k.to(device)


def encoder_error(z: torch.Tensor, z_pred: torch.Tensor) -> torch.Tensor:
    """``-z . z_pred`` ``(B,)`` for unit latents ``z`` and predictions ``z_pred`` ``(B, d)``
    (the negative vMF log-likelihood up to concentration and constant)."""
    return -(z * z_pred).sum(-1)


def encoder_reward(z: torch.Tensor, z_pred: torch.Tensor) -> torch.Tensor:
    """``max(z . z_pred, 0)`` ``(B,)`` (MimicKit ``_calc_enc_rewards``)."""
    return (-encoder_error(z, z_pred)).clamp_min(0.0)


def diversity_loss(
    mu: torch.Tensor,
    mu_new: torch.Tensor,
    z: torch.Tensor,
    z_new: torch.Tensor,
    target: float,
) -> torch.Tensor:
    """``mean_b (target - mean_a (mu_new - mu)^2 / ((1 - z . z_new) / 2 + 1e-5))^2``: mean
    actions ``mu, mu_new (B, A)`` of the same states under latents ``z, z_new (B, d)``."""
    a_diff = (mu_new - mu).pow(2).mean(-1)
    z_diff = 0.5 - 0.5 * (z * z_new).sum(-1)
    return (target - a_diff / (z_diff + 1e-5)).pow(2).mean()


# ------------------------------------------------------------------------------- pieces
class LatentAdapter:
    """A :class:`~imitenvs.agents.vec.VecAdapter` whose observations end with each world's
    latent ``z`` ``(N, d)``. A world draws a new latent on reset, when its episode ends and when
    its hold time is up (:func:`latent_hold_steps`); ``final_obs`` keeps the latent the step was
    taken with (the critic's bootstrap, as MimicKit).

    Args:
        inner: the env adapter.
        cfg: the latent size and hold times.
        generator: torch generator of latents and hold times.
        resample: ``False`` holds the latents set by :meth:`set_latents` (test mode).
    """

    def __init__(
        self, inner: VecAdapter, cfg: ASEConfig, generator: torch.Generator, resample: bool = True
    ) -> None:
        self.inner, self.cfg, self.generator, self.resample = inner, cfg, generator, resample
        self.env, self.device = inner.env, inner.device
        self.num_envs, self.act_dim = inner.num_envs, inner.act_dim
        self.obs_dim = inner.obs_dim + cfg.latent_dim
        self.latents = torch.zeros(self.num_envs, cfg.latent_dim, device=self.device)
        self.steps_left = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)

    def to_tensor(self, x: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.inner.to_tensor(x, dtype)

    def set_latents(self, z: torch.Tensor) -> None:
        """Give the worlds the latents ``z`` ``(N, d)`` (normalised here)."""
        self.latents.copy_(F.normalize(z.to(self.latents), dim=-1))

    def _draw(self, mask: torch.Tensor) -> None:
        """New latents and hold times for the worlds in ``mask`` ``(N,)``."""
        k = int(mask.sum())
        if k == 0 or not self.resample:
            return
        cfg = self.cfg
        self.latents[mask] = sample_latents(k, cfg.latent_dim, self.generator, self.device)
        self.steps_left[mask] = latent_hold_steps(
            k, cfg.latent_steps_min, cfg.latent_steps_max, self.generator, self.device
        )

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs = self.inner.reset(seed=seed)
        self._draw(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return torch.cat([obs, self.latents], dim=1)

    def step(self, actions: torch.Tensor) -> VecStep:
        out = self.inner.step(actions)
        taken = self.latents.clone()
        self.steps_left -= 1
        self._draw(out.terminated | out.truncated | (self.steps_left <= 0))
        out.obs = torch.cat([out.obs, self.latents], dim=1)
        out.final_obs = torch.cat([out.final_obs, taken], dim=1)
        return out

    def close(self) -> None:
        self.inner.close()


class Encoder(nn.Module):
    """``q(x)``: unit-norm latent predictions ``(B, d)`` from normalised AMP observations
    ``(B, D)`` (ReLU MLP, output layer uniform in +-0.1, zero bias, as MimicKit)."""

    def __init__(self, in_dim: int, cfg: ASEConfig) -> None:
        super().__init__()
        self.net = mlp((in_dim, *cfg.enc_hidden), cfg.latent_dim)
        nn.init.uniform_(self.net[-1].weight, -0.1, 0.1)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x_norm: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x_norm), dim=-1)


class ASEPPO(PPO):
    """PPO on ``[s, z]`` observations plus :func:`diversity_loss` (weight
    ``cfg.diversity_weight``), with a fresh latent per sample of each minibatch. Given
    observations without a latent, :meth:`act_deterministic` appends :attr:`eval_latent` (a
    fixed unit latent), so the env-only evaluations (pose error, GIF) run unchanged."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cfg: PPOConfig,
        ase_cfg: ASEConfig,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        super().__init__(obs_dim, act_dim, cfg, device, generator)
        self.ase_cfg = ase_cfg
        self.env_obs_dim = obs_dim - ase_cfg.latent_dim
        fixed = torch.Generator().manual_seed(0)
        self.eval_latent = sample_latents(1, ase_cfg.latent_dim, fixed).to(device)

    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mean action ``(N, A)`` for ``[s, z]`` ``(N, O + d)`` or for ``s`` ``(N, O)``
        (then with :attr:`eval_latent`)."""
        if obs.shape[-1] == self.env_obs_dim:
            obs = torch.cat([obs, self.eval_latent.expand(len(obs), -1)], dim=-1)
        return super().act_deterministic(obs)

    def _minibatch_losses(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        losses = super()._minibatch_losses(mb)
        w = self.ase_cfg.diversity_weight
        if w == 0:
            return losses
        obs, d = mb["obs"], self.ase_cfg.latent_dim
        z = obs[:, -d:]
        z_new = sample_latents(len(obs), d, self.generator, self.device)
        mu = self.model.distribution(obs).mean
        mu_new = self.model.distribution(torch.cat([obs[:, :-d], z_new], dim=1)).mean
        div = diversity_loss(mu, mu_new, z, z_new, self.ase_cfg.diversity_target)
        losses["loss/diversity"] = div
        losses["loss/total"] = losses["loss/total"] + w * div
        return losses


class ASE:
    """The ASE reward model: AMP's discriminator (style reward, replay, demos) plus the
    encoder; the latents are the last ``latent_dim`` entries of ``storage.obs``.

    Args:
        amp_dim: size of one AMP observation.
        cfg: hyperparameters.
        device: torch device.
        generator: torch generator of minibatch order and replay sampling.
        sample_demos: ``n -> (n, amp_dim)`` demonstration samples.
    """

    def __init__(
        self,
        amp_dim: int,
        cfg: ASEConfig,
        device: torch.device,
        generator: torch.Generator,
        sample_demos: Any,
    ) -> None:
        self.cfg, self.device, self.generator = cfg, device, generator
        self.prior = AMP(amp_dim, cfg.amp_config(), device, generator, sample_demos)
        self.disc = self.prior.disc
        self.encoder = Encoder(amp_dim, cfg).to(device)
        self.enc_optimizer = torch.optim.Adam(self.encoder.parameters(), cfg.enc_learning_rate)

    def _split(self, storage: RolloutStorage) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised AMP observations ``(T N, D)`` and latents ``(T N, d)``."""
        if storage.amp_obs is None:
            raise ValueError("ASE needs a storage with amp_obs (pass amp_dim)")
        x = self.disc.normalize(storage.amp_obs.flatten(0, 1))
        return x, storage.obs.flatten(0, 1)[:, -self.cfg.latent_dim :]

    @torch.no_grad()
    def rewards(self, storage: RolloutStorage) -> dict[str, torch.Tensor]:
        """Fill ``storage.rewards``; returns the ``(T, N)`` terms ``{"task", "style", "enc"}``."""
        cfg = self.cfg
        x, z = self._split(storage)
        shape = storage.task_rewards.shape
        r_style = style_reward(self.disc.logits_normalized(x), cfg.reward_scale).view(shape)
        r_enc = encoder_reward(z, self.encoder(x)).view(shape)
        storage.rewards.copy_(
            cfg.task_weight * storage.task_rewards + cfg.style_weight * r_style
            + cfg.enc_weight * r_enc
        )  # fmt: skip
        return {"task": storage.task_rewards, "style": r_style, "enc": r_enc}

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """The discriminator's update (:meth:`AMP.update`), then the encoder's; mean losses."""
        stats = self.prior.update(storage)
        x, z = self._split(storage)
        n = len(x)
        total, count = 0.0, 0
        for _ in range(self.cfg.epochs):
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            for idx in order.to(self.device).split(min(self.cfg.batch_size, n)):
                loss = encoder_error(z[idx], self.encoder(x[idx])).mean()
                self.enc_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                average_gradients(self.encoder.parameters())
                self.enc_optimizer.step()
                total, count = total + float(loss.detach()), count + 1
        stats["enc/loss"] = total / count
        return stats

    def state_dict(self) -> dict:
        return {
            "prior": self.prior.state_dict(),
            "encoder": self.encoder.state_dict(),
            "enc_optimizer": self.enc_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.prior.load_state_dict(state["prior"])
        self.encoder.load_state_dict(state["encoder"])
        self.enc_optimizer.load_state_dict(state["enc_optimizer"])


class ASERunner(Runner):
    """The on-policy :class:`~imitenvs.agents.onpolicy.runner.Runner` pre-training ASE: envs
    behind a
    :class:`LatentAdapter`, :class:`ASEPPO` as the policy, :class:`ASE` in AMP's slot
    (checkpoints keep it under ``amp`` / ``amp_cfg``). The env must give ``info["amp_obs"]``
    and ``sample_amp_demos`` (``imitenvs/HumanoidAMP-v0``, e.g. on ``default.yaml``)."""

    def __init__(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        ase_cfg: ASEConfig,
        dist: distributed.DistInfo | None = None,
    ) -> None:
        self.ase_cfg = ase_cfg
        super().__init__(run, ppo_cfg, dist=dist)

    def _build(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        amp_cfg: AMPConfig | None,
        near_cfg: NEARConfig | None,
        energy: EnergyModel | None,
    ) -> None:
        """The plain PPO runner, then the latent adapter, ASE's PPO and ASE's reward model."""
        super()._build(run, ppo_cfg, None, None, None)
        cfg = self.ase_cfg
        self.env = LatentAdapter(self.env, cfg, self.generator)
        n, o, a = self.env.num_envs, self.env.obs_dim, self.env.act_dim
        self.ppo = ASEPPO(o, a, ppo_cfg, cfg, self.device, self.generator)
        amp_dim = self._amp_dim()
        ase = ASE(amp_dim, cfg, self.device, self.generator, self._sample_demos)
        self.amp, self.amp_cfg, self.style = ase, cfg, ase  # type: ignore[assignment]
        for module in (self.ppo.model, ase.disc, ase.encoder):
            distributed.broadcast_parameters(module)
        self.storage = RolloutStorage(ppo_cfg.num_steps, n, o, a, self.device, amp_dim)
        self._begin_segment()


@torch.no_grad()
def play_latents(
    ppo: PPO,
    env_id: str,
    latents: torch.Tensor | np.ndarray,
    steps: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Test mode: world ``i`` of a batched env runs the mean action of ``ppo`` with the fixed
    latent ``latents[i]`` (``(K, d)``, normalised here) for ``steps`` control steps (finished
    episodes restart with the same latent).

    Returns:
        ``observations`` ``(steps + 1, K, O)`` (the env's observations, without the latent),
        ``rewards`` and ``done`` ``(steps, K)``.
    """
    z = torch.as_tensor(np.asarray(latents), dtype=torch.float32)
    if z.ndim != 2:
        raise ValueError(f"latents must be (K, d), got shape {tuple(z.shape)}")
    cfg = ASEConfig(latent_dim=int(z.shape[1]))
    inner = make_env(env_id, len(z), str(ppo.device), env_kwargs=env_kwargs)
    env = LatentAdapter(inner, cfg, torch.Generator(), resample=False)
    try:
        env.set_latents(z)
        obs = env.reset(seed=seed)
        observations, rewards, dones = [obs[:, : inner.obs_dim]], [], []
        for _ in range(steps):
            step = env.step(ppo.act_deterministic(obs))
            obs = step.obs
            observations.append(obs[:, : inner.obs_dim])
            rewards.append(step.reward)
            dones.append(step.terminated | step.truncated)
    finally:
        env.close()
    return {
        "observations": torch.stack(observations).cpu().numpy(),
        "rewards": torch.stack(rewards).cpu().numpy() if rewards else np.zeros((0, len(z))),
        "done": torch.stack(dones).cpu().numpy() if dones else np.zeros((0, len(z)), bool),
    }
