"""The learned dynamics as a batched gymnasium vector env (MILO's ``MujocoModelWrapper``).

Each world steps ``s ← s + f_k(s, a)`` with its own ensemble member ``k``. Rules, as the
original (``milo/gym_env/wrappers.py``):

- **truncation** after ``horizon`` steps (Hopper/Walker2d 400, HalfCheetah/Ant/Humanoid 500);
- **termination** when ``‖s‖₂ ≥ norm_thresh_coeff · max_expert_norm`` (coefficient 2), or
  when the task's own termination fires on the predicted state (for Hopper/Walker2d the
  healthy checks; HalfCheetah has none), or when the prediction is not finite;
- **reset**: reset number ``c`` (counted over all worlds, in world order) starts from a random
  expert state when ``c % expert_reset_every == 0`` (every 5th), otherwise from a draw of the
  real env's reset distribution (a pool sampled from it beforehand); the member is
  ``(c + 1) % K``, round-robin as the original.

It autoresets in the same step (gymnasium's ``SAME_STEP``: a finished world's observation is
already the new episode's and ``info["final_obs"]`` holds the last one). The reward is
``reward_fn(s, a, s', disc)`` when one is set (MILO sets ``−cost``), else 0.
:meth:`step_torch` is the same step on torch tensors without the numpy round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from imitenvs.agents.offline.dynamics import DynamicsEnsemble
from imitenvs.core.checks import check_positive_int

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TerminationFn = Callable[[torch.Tensor], torch.Tensor]
HORIZONS = {"hopper": 400, "walker2d": 400, "halfcheetah": 500, "ant": 500, "humanoid": 500}
"""the original's model-env horizon per robot"""


@dataclass
class ModelEnvConfig:
    """Model-env rules (defaults: the original's Hopper)."""

    horizon: int = 400
    """steps before truncation"""
    norm_thresh_coeff: float = 2.0
    """terminate when ‖s‖ ≥ this × the largest expert state norm"""
    expert_reset_every: int = 5
    """every n-th reset starts from an expert state (0: never)"""

    def __post_init__(self) -> None:
        check_positive_int("horizon", self.horizon)
        if not self.norm_thresh_coeff > 0 or self.expert_reset_every < 0:
            raise ValueError(
                f"norm_thresh_coeff must be > 0 and expert_reset_every >= 0, got "
                f"{self.norm_thresh_coeff}, {self.expert_reset_every}"
            )


@dataclass
class StepResult:
    """One batched model step (torch). ``obs`` is after autoreset; ``final_obs`` before it."""

    obs: torch.Tensor  # (N, S)
    reward: torch.Tensor  # (N,)
    terminated: torch.Tensor  # (N,) bool
    truncated: torch.Tensor  # (N,) bool
    final_obs: torch.Tensor  # (N, S): s' of this step (for every world)
    disc: torch.Tensor  # (N,) ensemble discrepancy of (s, a)


def healthy_termination(env: gymnasium.Env) -> TerminationFn | None:
    """The task's termination on observations, from a gymnasium MuJoCo v5 env's settings.

    Hopper/Walker2d (observations without x): ``obs[0]`` is the torso height, ``obs[1]`` its
    angle; unhealthy when either leaves the env's healthy range, or (Hopper) when any of
    ``obs[1:]`` leaves ``healthy_state_range``. ``None`` for envs without healthy checks
    (HalfCheetah).
    """
    u = env.unwrapped
    if not hasattr(u, "_healthy_z_range"):
        return None
    if not getattr(u, "_exclude_current_positions_from_observation", True):
        raise ValueError("healthy_termination needs observations without the x position")
    z_lo, z_hi = u._healthy_z_range
    a_lo, a_hi = u._healthy_angle_range
    s_range = getattr(u, "_healthy_state_range", None)

    def terminated(obs: torch.Tensor) -> torch.Tensor:
        z, angle = obs[:, 0], obs[:, 1]
        ok = (z > z_lo) & (z < z_hi) & (angle > a_lo) & (angle < a_hi)
        if s_range is not None:
            ok &= ((obs[:, 1:] > s_range[0]) & (obs[:, 1:] < s_range[1])).all(dim=1)
        return ~ok

    return terminated


def task_termination(env: gymnasium.Env) -> TerminationFn | None:
    """The task's termination on observations: :func:`healthy_termination` for MuJoCo v5
    locomotion; for our humanoids (observation 0 is the pelvis height), a pelvis below the
    env's ``termination_height`` (the env itself checks every fall body; the pelvis is the
    part the observation shows)."""
    batch = getattr(env.unwrapped, "batch", None)
    config = getattr(batch, "config", None)
    height = getattr(config, "termination_height", None)
    if height is not None and getattr(config, "enable_early_termination", True):
        return lambda obs: obs[:, 0] < height
    return healthy_termination(env)


class ModelEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` worlds of a learned model; observations ``(N, S)`` float32, actions ``(N, A)``.

    Args:
        ensemble: The trained dynamics.
        num_envs: Worlds N.
        reset_states: ``(P, S)`` draws of the real env's reset distribution.
        expert_states: ``(M, S)`` expert states (resets and the norm threshold).
        action_space: The real env's single action space (a Box).
        termination: The task's termination on predicted states, or ``None``.
        config: Horizon, norm threshold, expert-reset period.
        seed: Seeds the reset draws.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        ensemble: DynamicsEnsemble,
        num_envs: int,
        reset_states: torch.Tensor,
        expert_states: torch.Tensor,
        action_space: gymnasium.spaces.Box,
        termination: TerminationFn | None = None,
        config: ModelEnvConfig | None = None,
        seed: int = 0,
    ):
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.config = config or ModelEnvConfig()
        s = reset_states.shape[1]
        if expert_states.dim() != 2 or expert_states.shape[1] != s or len(reset_states) == 0:
            raise ValueError(
                f"reset states {tuple(reset_states.shape)} and expert states "
                f"{tuple(expert_states.shape)} must be non-empty with the same width"
            )
        self.ensemble, self.termination = ensemble, termination
        self.reset_states, self.expert_states = reset_states.float(), expert_states.float()
        self.norm_thresh = self.config.norm_thresh_coeff * float(
            torch.linalg.vector_norm(self.expert_states, dim=1).max()
        )
        self.single_observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (s,), np.float32)
        self.single_action_space = action_space
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(action_space, num_envs)
        self.reward_fn: RewardFn | None = None
        self._gen = torch.Generator().manual_seed(seed)
        self._resets = 0
        self.obs = torch.zeros(num_envs, s)
        self.steps = torch.zeros(num_envs, dtype=torch.int64)
        self.members = torch.zeros(num_envs, dtype=torch.int64)

    def _reset_worlds(self, mask: torch.Tensor) -> None:
        """Reset the worlds where ``mask`` ``(N,)`` is true (counter order = world order)."""
        idx = torch.nonzero(mask).squeeze(1)
        if len(idx) == 0:
            return
        count = self._resets + torch.arange(len(idx))
        every = self.config.expert_reset_every
        expert = (count % every == 0) if every > 0 else torch.zeros(len(idx), dtype=torch.bool)
        pick_e = torch.randint(len(self.expert_states), (len(idx),), generator=self._gen)
        pick_r = torch.randint(len(self.reset_states), (len(idx),), generator=self._gen)
        self.obs[idx] = torch.where(
            expert[:, None], self.expert_states[pick_e], self.reset_states[pick_r]
        )
        self.members[idx] = (count + 1) % self.ensemble.n_models
        self.steps[idx] = 0
        self._resets += len(idx)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._gen.manual_seed(seed)
            self._resets = 0
        if options:
            raise ValueError(f"ModelEnv.reset takes no options, got {sorted(options)}")
        self._reset_worlds(torch.ones(self.num_envs, dtype=torch.bool))
        return self.obs.numpy().copy(), {}

    def step_torch(self, actions: torch.Tensor) -> StepResult:
        """One step of every world: ``actions (N, A)`` float32 → :class:`StepResult`."""
        if actions.shape != (self.num_envs, *self.single_action_space.shape):
            raise ValueError(
                f"actions must have shape {(self.num_envs, *self.single_action_space.shape)}, "
                f"got {tuple(actions.shape)}"
            )
        if not torch.isfinite(actions).all():
            raise ValueError("actions hold non-finite values")
        states = self.obs
        nxt, disc = self.ensemble.step(states, actions, self.members)
        self.steps += 1
        finite = torch.isfinite(nxt).all(dim=1)
        nxt = torch.where(finite[:, None], nxt, states)
        terminated = ~finite | (torch.linalg.vector_norm(nxt, dim=1) >= self.norm_thresh)
        if self.termination is not None:
            terminated |= self.termination(nxt)
        truncated = ~terminated & (self.steps >= self.config.horizon)
        reward = (
            torch.zeros(self.num_envs)
            if self.reward_fn is None
            else self.reward_fn(states, actions, nxt, disc)
        )
        self.obs = nxt.clone()
        self._reset_worlds(terminated | truncated)
        return StepResult(self.obs.clone(), reward, terminated, truncated, nxt, disc)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        r = self.step_torch(torch.as_tensor(np.asarray(actions), dtype=torch.float32))
        done = (r.terminated | r.truncated).numpy()
        info: dict[str, Any] = {"disc": r.disc.numpy()}
        if done.any():
            info["final_obs"] = np.where(done[:, None], r.final_obs.numpy(), 0.0)
            info["_final_obs"] = done
        return (
            r.obs.numpy(),
            r.reward.numpy().astype(np.float64),
            r.terminated.numpy(),
            r.truncated.numpy(),
            info,
        )
