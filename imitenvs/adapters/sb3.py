"""Stable-Baselines3 ``VecEnv`` over any natively batched imitenvs env.

SB3 ships no adapter for gymnasium vector envs. :class:`Sb3VecEnv` maps the batched-env
contract (:mod:`imitenvs.core.batched`) onto SB3's: ``step_wait`` returns
``(obs, rewards, dones, infos)`` with ``infos`` a list of dicts; a finished world's last
observation is ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]``
marks time-outs, so SB3 bootstraps their values. Finished episodes are reported as SB3's
``Monitor`` does (``infos[i]["episode"] = {"r": return, "l": length, "t": seconds}``), so SB3
logs ``rollout/ep_rew_mean`` and ``rollout/ep_len_mean`` without a ``VecMonitor``, and
``evaluate_policy`` counts whole episodes. The env must use SAME_STEP autoreset (the default).

    import gymnasium as gym
    from stable_baselines3 import PPO
    from imitenvs.adapters.sb3 import Sb3VecEnv

    venv = Sb3VecEnv(gym.make("imitenvs/HumanoidAMP-v0", num_envs=64))
    PPO("MlpPolicy", venv).learn(10_000)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from imitenvs.core.batched import BatchedEnv


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class Sb3VecEnv(VecEnv):
    """SB3 view of a :class:`~imitenvs.core.batched.BatchedEnv` (numpy out, whatever its device).

    Args:
        env: a batched env, e.g. ``gymnasium.make(id, num_envs=N)``.
        info_keys: per-world entries of the batched ``info`` to copy into each world's dict
            (``reward_terms`` is always copied).
    """

    def __init__(self, env: gymnasium.Env, info_keys: Sequence[str] = ()) -> None:
        batch = env.unwrapped
        if not isinstance(batch, BatchedEnv):
            raise TypeError(
                f"Sb3VecEnv needs a natively batched env (gymnasium.make(id, num_envs=N)), got "
                f"{type(batch).__name__}; wrap single envs with SB3's DummyVecEnv instead"
            )
        if batch.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"Sb3VecEnv needs a batched env with autoreset_mode='same_step' (SB3 reads the "
                f"last observation from terminal_observation), got {batch.autoreset_mode}"
            )
        self.env = batch
        self.info_keys = tuple(info_keys)
        super().__init__(batch.num_envs, batch.single_observation_space, batch.single_action_space)
        self._actions: np.ndarray | None = None
        self._t_start = time.time()
        #: ``(N,)`` return and length of each world's running episode (Monitor's bookkeeping).
        self._episode_return = np.zeros(self.num_envs, np.float64)
        self._episode_length = np.zeros(self.num_envs, np.int64)

    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        return _np(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(
            self.num_envs, *self.action_space.shape
        )

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait called before step_async")
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        self._actions = None
        obs, terminated, truncated = _np(obs), _np(terminated), _np(truncated)
        dones = terminated | truncated
        reward = _np(reward).astype(np.float32)
        self._episode_return += reward
        self._episode_length += 1
        infos = self._world_infos(info)
        if dones.any():
            final_obs = _np(info["final_obs"])
            seconds = round(time.time() - self._t_start, 6)
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                infos[i]["episode"] = {
                    "r": round(float(self._episode_return[i]), 6),
                    "l": int(self._episode_length[i]),
                    "t": seconds,
                }
            self._episode_return[dones] = 0.0
            self._episode_length[dones] = 0
        return obs, reward, dones, infos

    def _world_infos(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        terms = {k: _np(v) for k, v in info.get("reward_terms", {}).items()}
        extra = {k: _np(info[k]) for k in self.info_keys if k in info}
        return [
            {"reward_terms": {k: float(v[i]) for k, v in terms.items()}}
            | {k: v[i] for k, v in extra.items()}
            for i in range(self.num_envs)
        ]

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if indices is not None and len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("a batched env shares its attributes: set them for all worlds")
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        method = getattr(self.env, method_name)
        return [method(*method_args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """``True`` for SB3's ``Monitor`` only: the adapter reports episodes as it does."""
        monitored = isinstance(wrapper_class, type) and issubclass(Monitor, wrapper_class)
        return [monitored for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [self.env.render()] + [None] * (self.num_envs - 1)
