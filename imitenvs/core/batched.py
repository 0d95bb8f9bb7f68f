"""The batched-env contract: one object that is both a ``gymnasium.vector.VectorEnv`` and a
``gymnasium.Env``, so ``gymnasium.make(id, num_envs=N)`` and ``gymnasium.make_vec(id,
num_envs=N)`` return the same natively batched env.

Contract (every batched id follows it):

- ``step(actions)`` takes ``(N, *single_action_shape)`` and returns
  ``obs (N, ...)``, ``reward (N,)``, ``terminated (N,)``, ``truncated (N,)``, ``info``.
  NaN/inf actions raise ``ValueError``; actions are clipped to the action space.
- Autoreset is SAME_STEP: a finished world is reset inside ``step``; its last observation is
  ``info["final_obs"][i]`` where ``info["_final_obs"][i]`` is true (``final_obs`` is a full
  ``(N, ...)`` array; rows of unfinished worlds hold their current observation).
- ``truncated`` marks time-outs (bootstrap the value), ``terminated`` marks failures. Each world
  keeps its own step counter; no gymnasium ``TimeLimit`` is ever put on a batch.
- ``info["reward_terms"]``: ``{name: (N,)}``, the named terms that sum to the reward.
  ``info["diverged"]``: ``(N,)`` bool, worlds whose physics blew up this step; they were reset
  and their episode ends as truncated (no bootstrap through garbage is possible either way).
- Arrays are numpy on CPU devices and torch tensors (on the env's device) otherwise.

Subclasses implement four hooks on torch tensors: :meth:`BatchedEnv._reset_worlds`,
:meth:`BatchedEnv._step_worlds`, :meth:`BatchedEnv._observe` and (optionally)
:meth:`BatchedEnv._render_world`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from imitenvs.core.checks import check_positive_int


@dataclass
class WorldStep:
    """What a task returns from one control step of all worlds (torch, world axis first).

    Attributes:
        reward_terms: ``{name: (N,)}`` weighted terms; their sum is the reward.
        terminated: ``(N,)`` bool, worlds that failed (fall, goal, ...).
        info: extra ``{name: (N, ...)}`` tensors to pass through in ``info``.
        diverged: ``(N,)`` bool, worlds whose physics diverged (reset by the base class).
        truncated: ``(N,)`` bool, worlds the task ends without a failure before the time
            limit (e.g. a reference clip that is over); they end as ``truncated``.
    """

    reward_terms: dict[str, torch.Tensor]
    terminated: torch.Tensor
    info: dict[str, torch.Tensor] = field(default_factory=dict)
    diverged: torch.Tensor | None = None
    truncated: torch.Tensor | None = None


class BatchedEnv(VectorEnv, gymnasium.Env):
    """Base class of natively batched envs (see the module docstring for the contract).

    Args:
        num_envs: number of worlds N (> 0).
        single_observation_space: one world's observation space (a ``Box``).
        single_action_space: one world's action space (a ``Box``).
        max_episode_steps: per-world time limit in control steps.
        device: torch device of the task state (``"cpu"`` gives numpy outputs).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        single_observation_space: gymnasium.spaces.Box,
        single_action_space: gymnasium.spaces.Box,
        max_episode_steps: int,
        device: str | torch.device = "cpu",
    ) -> None:
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.max_episode_steps = check_positive_int("max_episode_steps", max_episode_steps)
        self.device = torch.device(device)
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self._action_low = torch.as_tensor(single_action_space.low, device=self.device)
        self._action_high = torch.as_tensor(single_action_space.high, device=self.device)
        self.episode_steps = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(np.random.SeedSequence().generate_state(1)[0]))
        self._all = torch.arange(self.num_envs, device=self.device)

    # ---- hooks --------------------------------------------------------------------------
    def _reset_worlds(self, ids: torch.Tensor) -> None:
        """Reset the task and physics state of worlds ``ids`` (``(k,)`` int64)."""
        raise NotImplementedError

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        """Apply ``action`` ``(N, act_dim)`` (finite, clipped) and advance one control step."""
        raise NotImplementedError

    def _observe(self) -> torch.Tensor:
        """``(N, obs_dim)`` observation of every world's current state."""
        raise NotImplementedError

    def _render_world(self, world: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 picture of one world."""
        raise NotImplementedError(f"{type(self).__name__} does not render")

    # ---- gymnasium API --------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every world, or only ``options["reset_mask"]`` (``(N,)`` bool)."""
        if seed is not None:
            self.generator.manual_seed(int(seed))
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(int(seed))
        mask = None if options is None else options.get("reset_mask")
        ids = self._all if mask is None else self._all[self._as_tensor(mask).bool()]
        self._reset_worlds(ids)
        self.episode_steps[ids] = 0
        return self._out(self._observe()), {}

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        action = self._check_action(actions)
        result = self._step_worlds(action)
        self.episode_steps += 1
        reward = torch.stack(list(result.reward_terms.values())).sum(0)
        terminated = result.terminated.bool()
        diverged = (
            torch.zeros_like(terminated) if result.diverged is None else result.diverged.bool()
        )
        terminated = terminated & ~diverged
        truncated = (self.episode_steps >= self.max_episode_steps) | diverged
        if result.truncated is not None:
            truncated = truncated | result.truncated.bool()
        truncated = truncated & ~terminated
        reward = torch.where(diverged, torch.zeros_like(reward), reward)
        obs = self._observe()
        done = terminated | truncated
        info: dict[str, Any] = {
            "reward_terms": {k: self._out(v) for k, v in result.reward_terms.items()},
            "diverged": self._out(diverged),
            **{k: self._out(v) for k, v in result.info.items()},
        }
        if bool(done.any()):
            ids = self._all[done]
            info["final_obs"] = self._out(obs.clone())
            info["_final_obs"] = self._out(done)
            self._reset_worlds(ids)
            self.episode_steps[ids] = 0
            obs = self._observe()
        return self._out(obs), self._out(reward), self._out(terminated), self._out(truncated), info

    def render(self) -> np.ndarray | None:
        """Picture of world 0 (``render_mode="rgb_array"``)."""
        if getattr(self, "render_mode", None) != "rgb_array":
            return None
        return self._render_world(0)

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release beyond what subclasses hold; safe to call repeatedly."""

    # ---- helpers --------------------------------------------------------------------------
    def _as_tensor(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(x, device=self.device)

    def _check_action(self, actions: Any) -> torch.Tensor:
        action = self._as_tensor(actions).to(torch.float32)
        expected = (self.num_envs, *self.single_action_space.shape)
        if tuple(action.shape) != expected:
            raise ValueError(f"actions have shape {tuple(action.shape)}, expected {expected}")
        if not bool(torch.isfinite(action).all()):
            bad = self._all[~torch.isfinite(action).reshape(self.num_envs, -1).all(1)]
            raise ValueError(f"actions contain NaN or inf for worlds {bad.tolist()[:10]}")
        return torch.clamp(action, self._action_low, self._action_high)

    def _out(self, x: torch.Tensor) -> Any:
        """numpy on CPU devices (zero-copy where possible), torch elsewhere."""
        return x.numpy() if self.device.type == "cpu" else x


class SingleWorldEnv(gymnasium.Env):
    """An ordinary single ``gymnasium.Env`` over a batch of one world.

    ``gymnasium.make(id)`` returns this for batched ids: it passes
    ``gymnasium.utils.env_checker.check_env``. The episode ends at the batch's own time limit
    (``truncated``); the observation returned on the last step is the world's final one.
    """

    def __init__(self, batch: BatchedEnv) -> None:
        if batch.num_envs != 1:
            raise ValueError(f"SingleWorldEnv needs a batch of one world, got {batch.num_envs}")
        self.batch = batch
        self.observation_space = batch.single_observation_space
        self.action_space = batch.single_action_space
        self.metadata = {**type(batch).metadata}
        self.metadata.pop("autoreset_mode", None)
        self.render_mode = getattr(batch, "render_mode", None)
        self.max_episode_steps = batch.max_episode_steps

    @property
    def stochastic_reset(self) -> bool:
        return bool(getattr(self.batch, "stochastic_reset", True))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self.batch.reset(seed=seed, options=options)
        return self._first(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.batch.step(np.asarray(action)[None])
        done = bool(terminated[0]) or bool(truncated[0])
        if done:
            obs = info["final_obs"]
        out_info = {k: self._first(v) for k, v in info.items() if not k.endswith("final_obs")}
        return self._first(obs), float(reward[0]), bool(terminated[0]), bool(truncated[0]), out_info

    def render(self) -> np.ndarray | None:
        return self.batch.render()

    def close(self) -> None:
        self.batch.close()

    @staticmethod
    def _first(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: SingleWorldEnv._first(v) for k, v in x.items()}
        if isinstance(x, torch.Tensor):
            x = x.cpu().numpy()
        return x[0] if isinstance(x, np.ndarray) and x.ndim > 0 else x
