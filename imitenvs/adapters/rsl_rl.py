"""rsl_rl (``rsl-rl-lib``) ``VecEnv`` over any natively batched imitenvs env.

rsl_rl's runners expect what Isaac Lab's envs give: observations as a ``TensorDict`` of groups
(``"policy"`` here), torch tensors on one device, finished worlds reset inside ``step`` (our
SAME_STEP mode, the default) and ``extras["time_outs"]`` marking time-outs so PPO bootstraps
them. :class:`RslRlVecEnv` is that view, with no per-world work in Python::

    import gymnasium, imitenvs
    from rsl_rl.runners import OnPolicyRunner
    from imitenvs.adapters.rsl_rl import RslRlVecEnv, default_ppo_config

    env = RslRlVecEnv(gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=64))
    runner = OnPolicyRunner(env, default_ppo_config(), log_dir="runs/rsl", device="cpu")
    runner.learn(num_learning_iterations=100)

Needs the ``rsl`` extra: ``pip install -e ".[rsl]"``.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from imitenvs.core.batched import BatchedEnv

try:
    from rsl_rl.env import VecEnv
    from tensordict import TensorDict
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'imitenvs.adapters.rsl_rl needs rsl-rl-lib: pip install -e ".[rsl]" '
        '(or pip install "imitenvs[rsl]")'
    ) from exc

#: rsl_rl 5.x PPO settings (its ``examples/configs/algorithm/ppo.yaml``), the actor and critic
#: reading the ``"policy"`` group.
PPO_CONFIG: dict[str, Any] = {
    "num_steps_per_env": 24,
    "save_interval": 50,
    "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
    "algorithm": {
        "class_name": "PPO",
        "num_learning_epochs": 5,
        "num_mini_batches": 4,
        "clip_param": 0.2,
        "gamma": 0.99,
        "lam": 0.95,
        "value_loss_coef": 1.0,
        "entropy_coef": 0.0,
        "learning_rate": 3.0e-4,
        "max_grad_norm": 1.0,
        "schedule": "adaptive",
        "desired_kl": 0.01,
    },
    "actor": {
        "class_name": "MLPModel",
        "hidden_dims": [256, 256],
        "activation": "elu",
        "obs_normalization": True,
        "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0},
    },
    "critic": {
        "class_name": "MLPModel",
        "hidden_dims": [256, 256],
        "activation": "elu",
        "obs_normalization": True,
    },
}


def default_ppo_config(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of :data:`PPO_CONFIG` with top-level keys replaced by ``overrides``
    (e.g. ``num_steps_per_env=16``); the runner edits its config, so each run needs a copy."""
    cfg = copy.deepcopy(PPO_CONFIG)
    cfg.update(copy.deepcopy(overrides))
    return cfg


class RslRlVecEnv(VecEnv):
    """rsl_rl view of a :class:`~imitenvs.core.batched.BatchedEnv` (SAME_STEP autoreset).

    Args:
        env: a batched env, e.g. ``gymnasium.make(id, num_envs=N)``.
        device: where observations, rewards and dones go (default: the env's device).
        seed: seed of the first reset (done here: rsl_rl reads observations before stepping).

    ``step(actions (N, A))`` returns ``(obs TensorDict{"policy": (N, O)}, rewards (N,),
    dones (N,) long, extras)`` with ``extras["time_outs"]`` ``(N,)`` bool and
    ``extras["log"]`` the mean of each reward term (``"Reward_terms/<name>"``).
    ``episode_length_buf`` is the env's own per-world step counter, so
    ``runner.learn(..., init_at_random_ep_len=True)`` staggers the time-outs.
    """

    def __init__(
        self, env: gymnasium.Env, device: str | torch.device | None = None, seed: int | None = 0
    ) -> None:
        batch = env.unwrapped
        if not isinstance(batch, BatchedEnv):
            raise TypeError(
                f"RslRlVecEnv needs a natively batched env (gymnasium.make(id, num_envs=N)), got "
                f"{type(batch).__name__}"
            )
        if batch.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                "RslRlVecEnv needs a batched env with autoreset_mode='same_step' (rsl_rl expects "
                f"finished worlds reset inside step), got {batch.autoreset_mode}"
            )
        self.env = batch
        self.num_envs = batch.num_envs
        self.num_actions = int(np.prod(batch.single_action_space.shape))
        self.device = torch.device(device) if device is not None else batch.device
        self.max_episode_length = batch.max_episode_steps
        spec_id = None if batch.spec is None else batch.spec.id
        self.cfg = {"env_id": spec_id, "num_envs": self.num_envs}
        obs, _ = batch.reset(seed=seed)
        self._obs = self._tensor(obs, torch.float32)

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """``(N,)`` int64 steps of each world's running episode (the env's own counter)."""
        return self.env.episode_steps

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.env.episode_steps.copy_(value.to(self.env.episode_steps))

    def get_observations(self) -> TensorDict:
        """The current observations: ``TensorDict{"policy": (N, O)}``."""
        return TensorDict({"policy": self._obs}, batch_size=[self.num_envs], device=self.device)

    def reset(self, seed: int | None = None) -> TensorDict:
        """Reset every world and return the first observations."""
        obs, _ = self.env.reset(seed=seed)
        self._obs = self._tensor(obs, torch.float32)
        return self.get_observations()

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Step every world with ``actions`` ``(N, A)``; see the class docstring."""
        # rsl_rl steps inside torch.inference_mode(); the env's state must stay ordinary
        # tensors, or a later reset outside it could not update them in place.
        with torch.inference_mode(False):
            obs, reward, terminated, truncated, info = self.env.step(actions.detach().clone())
        self._obs = self._tensor(obs, torch.float32)
        terminated = self._tensor(terminated, torch.bool)
        truncated = self._tensor(truncated, torch.bool)
        extras: dict[str, Any] = {
            "time_outs": truncated,
            "log": {
                f"Reward_terms/{k}": self._tensor(v, torch.float32).mean()
                for k, v in info.get("reward_terms", {}).items()
            },
        }
        dones = (terminated | truncated).long()
        return self.get_observations(), self._tensor(reward, torch.float32), dones, extras

    def close(self) -> None:
        self.env.close()

    def _tensor(self, x: Any, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(x).to(self.device, dtype)
