"""Paired (history) observations for AMP / NEAR: ``info["amp_obs"] = [s_{t-k+1}, ..., s_t]``."""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from imitenvs.core.checks import check_positive_int


class PairedObservation(gymnasium.Wrapper):
    """Adds the last ``num_obs_steps`` observations, oldest first, to ``info["amp_obs"]``.

    With ``num_obs_steps=2`` (NEAR's and AMP's default) this is ``[s_{t-1}, s_t]``, the order
    NEAR's CPU envs (maze, PushT) use for both policy rollouts and demonstrations; the energy
    model / discriminator then scores the transition. After ``reset`` the history is filled with
    the first observation, so the first step gives ``[s_0, s_1]`` (NEAR's ``_past_obs_buf`` is
    set to the reset observation). The policy's own observation is unchanged. The same array is
    also given as ``info["paired_obs"]`` (NEAR's name).

    Attributes:
        paired_observation_space: ``Box(-inf, inf, (num_obs_steps * obs_dim,), float32)``.

    Args:
        env: An env with a flat ``Box`` observation space.
        num_obs_steps: Observations per sample, >= 2.
    """

    def __init__(self, env: gymnasium.Env, num_obs_steps: int = 2) -> None:
        super().__init__(env)
        self.num_obs_steps = check_positive_int("num_obs_steps", num_obs_steps)
        if self.num_obs_steps < 2:
            raise ValueError(
                f"num_obs_steps must be >= 2 to pair observations, got {num_obs_steps}"
            )
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"PairedObservation needs a flat Box observation space, got {space}")
        size = self.num_obs_steps * space.shape[0]
        self.paired_observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self._history: deque[np.ndarray] = deque(maxlen=self.num_obs_steps)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._history.clear()
        self._history.extend([np.asarray(obs, dtype=np.float32)] * self.num_obs_steps)
        return obs, self._augment(info)

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._history.append(np.asarray(obs, dtype=np.float32))
        return obs, reward, terminated, truncated, self._augment(info)

    def _augment(self, info: dict[str, Any]) -> dict[str, Any]:
        paired = np.concatenate(list(self._history))
        info = dict(info)
        info["amp_obs"] = paired
        info["paired_obs"] = paired
        return info
