"""Stable-Baselines3 ``VecEnv`` over any natively batched imitenvs env.

SB3 ships no adapter for gymnasium vector envs. :class:`Sb3VecEnv` maps the batched-env
contract (:mod:`imitenvs.core.batched`) onto SB3's: ``step_wait`` returns
``(obs, rewards, dones, infos)`` with ``infos`` a list of dicts; a finished world's last
observation is ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]``
marks time-outs, so SB3 bootstraps their values.

    import gymnasium as gym
    from stable_baselines3 import PPO
    from imitenvs.adapters.sb3 import Sb3VecEnv

    venv = Sb3VecEnv(gym.make("imitenvs/HumanoidAMP-v0", num_envs=64))
    PPO("MlpPolicy", venv).learn(10_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
import torch
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
        self.env = batch
        self.info_keys = tuple(info_keys)
        super().__init__(batch.num_envs, batch.single_observation_space, batch.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
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
        infos = self._world_infos(info)
        if dones.any():
            final_obs = _np(info["final_obs"])
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, _np(reward).astype(np.float32), dones, infos

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
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [self.env.render()] + [None] * (self.num_envs - 1)
