"""Advantage-weighted regression (AWR; Peng et al. 2019), as MimicKit's ``AWRAgent``.

Read top to bottom: :class:`AWRConfig` (defaults: MimicKit's
``deepmimic_humanoid_awr_agent.yaml``), the maths as importable functions
(:func:`td_lambda_returns`, :func:`awr_weights`, :func:`awr_actor_loss`), the preallocated
:class:`ReplayBuffer` and :class:`AWR` (acting, value targets, critic and actor updates). The
loop (rollouts, logs, checkpoints) is :mod:`imitenvs.agents.offpolicy.awr_runner`.

Each iteration: fill the buffer with ``num_steps`` steps of every world, compute TD(lambda)
returns ``R`` over the whole buffer with the current critic, advantages ``A = R - V(s)``
(standardised), weights ``w = min(exp(A / temperature), max_weight)``; fit the critic to ``R``
(mean squared error), then the actor by weighted log-likelihood ``-mean(w log pi(a|s))`` plus
MimicKit's soft action bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from imitenvs.agents.onpolicy.ppo import ActorCritic, bounds_loss, require, value_loss

OPTIMIZERS = ("sgd", "adam")


@dataclass
class AWRConfig:
    """AWR hyperparameters (defaults: MimicKit ``deepmimic_humanoid_awr_agent.yaml``)."""

    num_steps: int = 32
    """env steps per world collected each iteration (``steps_per_iter``)"""
    buffer_steps: int = 32
    """steps per world the replay buffer keeps, ``>= num_steps`` (MimicKit: one iteration's)"""
    actor_epochs: int = 5
    """passes of actor minibatches over the buffer per iteration"""
    actor_batch_size: float = 4.0
    """actor minibatch size per world (times ``num_envs``, rounded up)"""
    critic_epochs: int = 2
    """passes of critic minibatches over the buffer per iteration"""
    critic_batch_size: float = 2.0
    """critic minibatch size per world (times ``num_envs``, rounded up)"""
    actor_learning_rate: float = 1e-4
    """actor step size"""
    critic_learning_rate: float = 1e-4
    """critic step size"""
    optimizer: str = "sgd"
    """``sgd`` (momentum ``momentum``, as MimicKit) or ``adam``"""
    momentum: float = 0.9
    """SGD momentum"""
    gamma: float = 0.99
    """discount factor (``discount``)"""
    lam: float = 0.95
    """TD(lambda) parameter (``td_lambda``)"""
    temperature: float = 1.0
    """beta in ``exp(A / beta)`` (``awr_temp``)"""
    max_weight: float = 20.0
    """clip of the advantage weights (``a_weight_clip``)"""
    normalize_advantage: bool = True
    """standardise the advantages over the buffer before the exponential (MimicKit does)"""
    bounds_coef: float = 10.0
    """weight of the soft bound on the action mean, ``|mu| <= 1`` (``action_bound_weight``)"""
    entropy_coef: float = 0.0
    """weight of the entropy bonus (``action_entropy_weight``)"""
    max_grad_norm: float | None = None
    """global gradient-norm clip of each step (``None``: none, as MimicKit)"""
    init_log_std: float = math.log(0.05)
    """log standard deviation of the Gaussian policy (``action_std: 0.05``)"""
    learn_std: bool = False
    """learn the log-std (MimicKit: ``FIXED``)"""
    hidden: tuple[int, ...] = (1024, 1024)
    """hidden sizes of the actor and critic MLPs (``fc_2layers_1024units``)"""
    normalize_obs: bool = True
    """normalise observations with running statistics"""
    normalize_value: bool = False
    """the critic predicts normalised returns (running statistics of the targets)"""
    eval_batch_size: int = 65_536
    """samples per chunk when the critic scores the whole buffer"""

    def __post_init__(self) -> None:
        for name in ("num_steps", "buffer_steps", "actor_epochs", "critic_epochs"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        require(isinstance(self.eval_batch_size, int) and self.eval_batch_size > 0,
                "eval_batch_size", self.eval_batch_size, "must be an integer > 0")  # fmt: skip
        ok = self.buffer_steps >= self.num_steps
        require(ok, "buffer_steps", self.buffer_steps, f"must be >= num_steps={self.num_steps}")
        for name in ("actor_batch_size", "critic_batch_size", "actor_learning_rate",
                     "critic_learning_rate", "temperature", "max_weight"):  # fmt: skip
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be finite and > 0")
        require(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, f"one of {OPTIMIZERS}")
        for name in ("gamma", "lam", "momentum"):
            value = getattr(self, name)
            require(0.0 <= value <= 1.0, name, value, "must lie in [0, 1]")
        for name in ("bounds_coef", "entropy_coef"):
            value = getattr(self, name)
            require(value >= 0.0 and math.isfinite(value), name, value, "must be >= 0")
        mgn = self.max_grad_norm
        require(mgn is None or mgn > 0, "max_grad_norm", mgn, "must be > 0 or None")
        require(math.isfinite(self.init_log_std), "init_log_std", self.init_log_std, "finite")
        self.hidden = tuple(self.hidden)
        ok = len(self.hidden) > 0 and all(isinstance(h, int) and h > 0 for h in self.hidden)
        require(ok, "hidden", self.hidden, "must be a non-empty tuple of positive ints")


# ------------------------------------------------------------------------------------ maths
def td_lambda_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """TD(lambda) returns ``(T, N)`` of a chronological ``(T, N)`` block of steps.

    ``next_values[t]`` is ``V(s_{t+1})`` of the state step ``t`` reached (``V(final_obs)`` at
    an episode's end); a failure (``terminated``) has value 0 there. With
    ``v_t = (1 - terminated_t) next_values[t]`` and ``lambda_t = lam (1 - done_t)``:

    - ``R_{T-1} = r_{T-1} + gamma v_{T-1}``;
    - ``R_t = r_t + gamma ((1 - lambda_t) v_t + lambda_t R_{t+1})``: no return flows across an
      episode boundary (``done = terminated | truncated``; a time-out bootstraps from ``v_t``).
    """
    shapes = {tuple(t.shape) for t in (rewards, next_values, terminated, done)}
    if len(shapes) != 1 or rewards.ndim != 2:
        raise ValueError(f"td_lambda_returns needs equal (T, N) shapes, got {sorted(shapes)}")
    v = next_values * (1.0 - terminated.to(next_values.dtype))
    lam_t = lam * (1.0 - done.to(next_values.dtype))
    returns = torch.empty_like(rewards)
    returns[-1] = rewards[-1] + gamma * v[-1]
    for t in reversed(range(rewards.shape[0] - 1)):
        returns[t] = rewards[t] + gamma * ((1.0 - lam_t[t]) * v[t] + lam_t[t] * returns[t + 1])
    return returns


def awr_weights(
    advantages: torch.Tensor, temperature: float, max_weight: float, normalize: bool = True
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``w = min(exp(A' / temperature), max_weight)`` (any shape), ``A'`` the advantages
    standardised over all of them (``(A - mean) / max(std, 1e-5)``) when ``normalize``, else
    ``A``. Also returns the advantages' mean and std and the weights' mean, min and max."""
    mean, std = advantages.mean(), advantages.std(unbiased=False)
    a = (advantages - mean) / std.clamp_min(1e-5) if normalize else advantages
    weights = torch.exp(a / temperature).clamp_max(max_weight)
    stats = {"adv_mean": mean, "adv_std": std, "weight_mean": weights.mean(),
             "weight_min": weights.min(), "weight_max": weights.max()}  # fmt: skip
    return weights, stats


def awr_actor_loss(log_prob: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted negative log-likelihood ``-mean(w log pi(a|s))``; inputs ``(B,)``."""
    return -(weights * log_prob).mean()


# ------------------------------------------------------------------------------ the buffer
class ReplayBuffer:
    """The last ``capacity`` steps of ``num_envs`` worlds, preallocated, as a ring over time.

    Fields ``(capacity, N, ...)``: ``obs``, ``actions``, ``rewards``, ``next_obs`` (the state
    the step reached: ``final_obs`` at an episode's end), ``terminated``, ``done``.
    :meth:`ordered` gives a field's filled rows oldest first (the order TD(lambda) needs).
    """

    FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated", "done")

    def __init__(
        self, capacity: int, num_envs: int, obs_dim: int, act_dim: int, device: torch.device
    ) -> None:
        self.capacity, self.num_envs = capacity, num_envs
        shape = (capacity, num_envs)
        self.data = {
            "obs": torch.zeros(*shape, obs_dim, device=device),
            "actions": torch.zeros(*shape, act_dim, device=device),
            "rewards": torch.zeros(shape, device=device),
            "next_obs": torch.zeros(*shape, obs_dim, device=device),
            "terminated": torch.zeros(shape, dtype=torch.bool, device=device),
            "done": torch.zeros(shape, dtype=torch.bool, device=device),
        }
        self.pos, self.size = 0, 0

    def add(self, **fields: torch.Tensor) -> None:
        """Store one step: each of :attr:`FIELDS` as ``(N, ...)``."""
        if set(fields) != set(self.FIELDS):
            raise ValueError(f"ReplayBuffer.add needs exactly {self.FIELDS}, got {sorted(fields)}")
        for name, value in fields.items():
            self.data[name][self.pos] = value
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def ordered(self, name: str) -> torch.Tensor:
        """``(size, N, ...)`` rows of ``name``, oldest first."""
        x = self.data[name]
        if self.size < self.capacity:
            return x[: self.size]
        return torch.roll(x, -self.pos, dims=0)

    def state_dict(self) -> dict:
        return {"pos": self.pos, "size": self.size, **self.data}

    def load_state_dict(self, state: dict) -> None:
        for name in self.FIELDS:
            self.data[name].copy_(state[name])
        self.pos, self.size = int(state["pos"]), int(state["size"])


# ------------------------------------------------------------------------------- the agent
class AWR:
    """The AWR learner: a Gaussian actor and a critic (:class:`ActorCritic`), each with its
    own optimiser.

    Args:
        obs_dim, act_dim: sizes of one world's observation and action.
        cfg: hyperparameters.
        device: torch device of the networks.
        generator: the torch generator of action noise and minibatch draws.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cfg: AWRConfig,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        self.cfg, self.device, self.generator = cfg, device, generator
        self.model = ActorCritic(obs_dim, act_dim, cfg).to(device)  # reads the shared fields
        actor = [*self.model.actor.parameters()]
        if cfg.learn_std:
            actor.append(self.model.log_std)
        self.actor_optimizer = self._optimizer(actor, cfg.actor_learning_rate)
        critic = self.model.critic.parameters()
        self.critic_optimizer = self._optimizer(critic, cfg.critic_learning_rate)

    def _optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=self.cfg.momentum)
        return torch.optim.Adam(params, lr=lr)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Sampled actions ``(N, A)`` for ``obs`` ``(N, O)``; folds ``obs`` into the
        observation statistics first."""
        if self.model.obs_norm is not None:
            self.model.obs_norm.update(obs)
        dist = self.model.distribution(obs)
        noise = torch.randn(dist.mean.shape, generator=self.generator, device=self.device)
        return dist.mean + dist.stddev * noise

    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mean action ``(N, A)`` (for evaluation)."""
        return self.model.distribution(obs).mean

    @torch.no_grad()
    def _values(self, obs: torch.Tensor) -> torch.Tensor:
        """``V`` in reward units of ``obs`` ``(T, N, O)`` -> ``(T, N)``, scored in chunks."""
        flat = obs.reshape(-1, obs.shape[-1])
        chunks = flat.split(self.cfg.eval_batch_size)
        return torch.cat([self.model.value(c) for c in chunks]).reshape(obs.shape[:2])

    @torch.no_grad()
    def targets(self, buffer: ReplayBuffer) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """TD(lambda) returns and advantage weights of every buffered step, flattened to
        ``(M,)`` with ``obs (M, O)`` and ``actions (M, A)``; and their statistics."""
        cfg = self.cfg
        obs = buffer.ordered("obs")
        returns = td_lambda_returns(
            buffer.ordered("rewards"),
            self._values(buffer.ordered("next_obs")),
            buffer.ordered("terminated"),
            buffer.ordered("done"),
            cfg.gamma,
            cfg.lam,
        )
        adv = returns - self._values(obs)
        weights, stats = awr_weights(adv, cfg.temperature, cfg.max_weight, cfg.normalize_advantage)
        batch = {
            "obs": obs.reshape(-1, obs.shape[-1]),
            "actions": buffer.ordered("actions").reshape(-1, buffer.data["actions"].shape[-1]),
            "returns": returns.reshape(-1),
            "weights": weights.reshape(-1),
        }
        out = {f"awr/{k}": float(v) for k, v in stats.items()}
        out["awr/return_mean"] = float(returns.mean())
        return batch, out

    def update(self, buffer: ReplayBuffer) -> dict[str, float]:
        """Critic then actor steps on the buffer (MimicKit's counts: ``ceil(M / batch) *
        epochs`` steps of ``batch_size * num_envs`` samples drawn uniformly); returns the mean
        of each loss term and the target statistics."""
        cfg, model = self.cfg, self.model
        batch, stats = self.targets(buffer)
        if model.value_norm is not None:
            model.value_norm.update(batch["returns"])
        n, m = buffer.num_envs, len(batch["returns"])
        sums: dict[str, float] = {}
        for role, size, epochs in (("critic", cfg.critic_batch_size, cfg.critic_epochs),
                                   ("actor", cfg.actor_batch_size, cfg.actor_epochs)):  # fmt: skip
            size = min(m, math.ceil(size * n))
            steps = math.ceil(m / size) * epochs
            for _ in range(steps):
                idx = torch.randint(m, (size,), generator=self.generator, device=self.device)
                mb = {k: v[idx] for k, v in batch.items()}
                losses = self._critic_losses(mb) if role == "critic" else self._actor_losses(mb)
                self._step(role, losses[f"loss/{role}_total"])
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / steps
        return {**stats, **sums}

    def _step(self, role: str, loss: torch.Tensor) -> None:
        optimizer = self.critic_optimizer if role == "critic" else self.actor_optimizer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.max_grad_norm is not None:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.cfg.max_grad_norm)
        optimizer.step()

    def _critic_losses(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        returns = mb["returns"]
        if self.model.value_norm is not None:
            returns = self.model.value_norm.normalize(returns)
        loss = value_loss(self.model.raw_value(mb["obs"]), returns)
        return {"loss/critic_total": loss}

    def _actor_losses(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        dist = self.model.distribution(mb["obs"])
        log_prob = dist.log_prob(mb["actions"]).sum(-1)
        pg = awr_actor_loss(log_prob, mb["weights"])
        b_loss = bounds_loss(dist.mean)
        entropy = dist.entropy().sum(-1).mean()
        total = pg + cfg.bounds_coef * b_loss - cfg.entropy_coef * entropy
        return {"loss/actor": pg, "loss/bounds": b_loss, "loss/entropy": entropy,
                "loss/actor_total": total}  # fmt: skip

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
