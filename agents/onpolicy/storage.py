"""Preallocated ``(T, N, ...)`` rollout storage and generalised advantage estimation (GAE)."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(gamma, lambda) with time-out bootstrapping; every tensor is ``(T, N)``.

    ``next_values[t]`` is ``V(s_{t+1})`` of the state the step really reached: for a world whose
    episode ended at ``t`` this is ``V(final_obs)``, not the value of the reset state. Then

    - ``delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)``: a failure
      (``terminated``) has no future, a time-out (``truncated``) bootstraps from ``V(final_obs)``;
    - ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}`` with ``done = terminated |
      truncated``: advantages never flow across an episode boundary.

    Returns:
        ``(advantages, returns)``, both ``(T, N)``, with ``returns = advantages + values``.
    """
    if not (rewards.shape == values.shape == next_values.shape == terminated.shape == done.shape):
        raise ValueError(
            "compute_gae needs equal (T, N) shapes, got "
            f"{[tuple(t.shape) for t in (rewards, values, next_values, terminated, done)]}"
        )
    not_terminal = 1.0 - terminated.to(values.dtype)
    not_done = 1.0 - done.to(values.dtype)
    advantages = torch.zeros_like(values)
    last_gae_lam = torch.zeros_like(values[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * not_terminal[t] * next_values[t] - values[t]
        last_gae_lam = delta + gamma * lam * not_done[t] * last_gae_lam
        advantages[t] = last_gae_lam
    return advantages, advantages + values


class RolloutStorage:
    """One PPO rollout: ``num_steps`` steps of ``num_envs`` worlds, preallocated on ``device``.

    Fields (all ``(T, N, ...)``): ``obs``, ``actions``, ``log_probs``, ``values``,
    ``next_values`` (``V(s_{t+1})``, see :func:`compute_gae`), ``rewards`` (the reward PPO
    optimises, filled before :meth:`compute_returns`), ``task_rewards`` (the env's reward),
    ``terminated``, ``done`` and, when ``amp_dim`` is given, ``amp_obs``.

    :meth:`add` raises ``OverflowError`` past ``num_steps`` and ``ValueError`` on any shape
    mismatch; :meth:`clear` starts the next rollout.
    """

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_dim: int,
        act_dim: int,
        device: torch.device | str = "cpu",
        amp_dim: int | None = None,
    ) -> None:
        self.num_steps, self.num_envs, self.device = num_steps, num_envs, torch.device(device)
        t, n = num_steps, num_envs
        z = {"device": self.device, "dtype": torch.float32}
        self.obs = torch.zeros(t, n, obs_dim, **z)
        self.actions = torch.zeros(t, n, act_dim, **z)
        self.log_probs = torch.zeros(t, n, **z)
        self.values = torch.zeros(t, n, **z)
        self.next_values = torch.zeros(t, n, **z)
        self.task_rewards = torch.zeros(t, n, **z)
        self.rewards = torch.zeros(t, n, **z)
        self.terminated = torch.zeros(t, n, dtype=torch.bool, device=self.device)
        self.done = torch.zeros(t, n, dtype=torch.bool, device=self.device)
        self.amp_obs = None if amp_dim is None else torch.zeros(t, n, amp_dim, **z)
        self.advantages = torch.zeros(t, n, **z)
        self.returns = torch.zeros(t, n, **z)
        self.step = 0

    def add(self, **fields: torch.Tensor) -> None:
        """Store one step: every per-step field by name (``obs=..., actions=..., ...``)."""
        if self.step >= self.num_steps:
            raise OverflowError(
                f"rollout storage is full ({self.num_steps} steps); call clear() first"
            )
        names = {"obs", "actions", "log_probs", "values", "next_values", "task_rewards"}
        names |= {"terminated", "done"} | ({"amp_obs"} if self.amp_obs is not None else set())
        if set(fields) != names:
            raise ValueError(
                f"add() needs exactly the fields {sorted(names)}, got {sorted(fields)}"
            )
        for name, value in fields.items():
            buf = getattr(self, name)
            if tuple(value.shape) != tuple(buf.shape[1:]):
                raise ValueError(
                    f"{name} has shape {tuple(value.shape)}, expected {tuple(buf.shape[1:])}"
                )
            buf[self.step].copy_(value)
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    def compute_returns(self, gamma: float, lam: float) -> None:
        """Fill ``advantages`` and ``returns`` from ``rewards`` (see :func:`compute_gae`)."""
        if self.step != self.num_steps:
            raise RuntimeError(f"rollout holds {self.step} of {self.num_steps} steps")
        self.advantages, self.returns = compute_gae(
            self.rewards, self.values, self.next_values, self.terminated, self.done, gamma, lam
        )

    def minibatches(
        self, num_minibatches: int, generator: torch.Generator
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled minibatches over the flattened ``T * N`` samples (``generator`` orders
        them); each is a dict of ``obs, actions, log_probs, values, advantages, returns``."""
        size = self.num_steps * self.num_envs
        if size % num_minibatches:
            raise ValueError(f"T*N={size} is not divisible by num_minibatches={num_minibatches}")
        flat = {
            name: getattr(self, name).flatten(0, 1)
            for name in ("obs", "actions", "log_probs", "values", "advantages", "returns")
        }
        order = torch.randperm(size, generator=generator, device=generator.device)
        for idx in order.to(self.device).chunk(num_minibatches):
            yield {name: value[idx] for name, value in flat.items()}
