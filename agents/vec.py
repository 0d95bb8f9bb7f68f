"""One interface over batched imitenvs envs and gymnasium vector envs, in torch tensors.

:class:`VecAdapter` wraps either a natively batched env (:class:`imitenvs.core.batched.
BatchedEnv`, e.g. ``gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=N)``) or a
``gymnasium.vector.VectorEnv`` in SAME_STEP autoreset mode (e.g. ``SyncVectorEnv`` over single
envs). Each step gives a :class:`VecStep` whose ``final_obs`` / ``amp_obs`` rows of finished
worlds hold the episode's real last observation / transition, never the reset one.
:func:`make_env` builds either from an id and :func:`demo_source` finds the AMP demonstrations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from imitenvs.core.batched import BatchedEnv
from imitenvs.data.demos import AmpDemoSampler, load_default_demos
from imitenvs.registry import get_entry
from imitenvs.wrappers.paired_obs import PairedObservation

DEMO_TASKS = {"imitenvs/Maze-v0": "maze", "imitenvs/PushT-v0": "pusht"}


@dataclass
class VecStep:
    """One step of every world, as float32 / bool torch tensors on the adapter's device.

    Attributes:
        obs: ``(N, O)`` observations to act on (reset ones for finished worlds).
        reward: ``(N,)`` env reward.
        terminated: ``(N,)`` failures / goals (no bootstrap).
        truncated: ``(N,)`` time-outs (bootstrap from ``final_obs``).
        final_obs: ``(N, O)`` the state each step reached (``obs`` where not done).
        amp_obs: ``(N, D)`` ``info["amp_obs"]`` (or the adapter's ``style_key``) of this
            transition, or ``None``.
        reward_terms: ``{name: (N,)}`` named reward terms when the env gives them.
        success: ``(N,)`` ``info["is_success"]`` when the env gives it, else ``None``.
    """

    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    amp_obs: torch.Tensor | None = None
    reward_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    success: torch.Tensor | None = None


class VecAdapter:
    """Torch view of a batched env or a SAME_STEP gymnasium vector env (see module doc)."""

    def __init__(self, env: Any, device: torch.device | str = "cpu") -> None:
        mode = env.metadata.get("autoreset_mode")
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP.value):
            raise ValueError(
                f"the env's autoreset_mode is {mode!r}; VecAdapter needs SAME_STEP so that "
                "final observations are available (batched envs: autoreset_mode='same_step', "
                "the default)"
            )
        self.env, self.device = env, torch.device(device)
        self.num_envs = int(env.num_envs)
        self.obs_dim = int(np.prod(env.single_observation_space.shape))
        self.act_dim = int(np.prod(env.single_action_space.shape))
        self.batched = isinstance(env.unwrapped, BatchedEnv)
        self.style_key = "amp_obs"
        """the ``info`` key read into :attr:`VecStep.amp_obs` (ADD reads ``"add_obs"``)"""
        low = np.asarray(env.single_action_space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(env.single_action_space.high, dtype=np.float64).reshape(-1)
        self._rescale = None
        if np.all(np.isfinite(low) & np.isfinite(high)) and not (
            np.all(low == -1.0) and np.all(high == 1.0)
        ):  # the policy acts in [-1, 1]; map that onto the env's box
            self._rescale = (self.to_tensor(low), self.to_tensor(high))

    def to_tensor(self, x: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``x`` (numpy or torch) as a tensor of ``dtype`` on the adapter's device."""
        return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(
            self.device, dtype
        )

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs, _ = self.env.reset(seed=seed)
        return self.to_tensor(obs).reshape(self.num_envs, self.obs_dim)

    def step(self, actions: torch.Tensor) -> VecStep:
        """Step with ``actions`` ``(N, A)`` in policy units: ``[-1, 1]`` maps linearly onto a
        bounded action box other than ``[-1, 1]`` (the env clips beyond it)."""
        if self._rescale is not None:
            low, high = self._rescale
            actions = low + (actions + 1.0) * 0.5 * (high - low)
        if self.batched and self.env.unwrapped.device.type != "cpu":
            act: Any = actions.to(self.env.unwrapped.device)
        else:
            act = actions.detach().cpu().numpy()
        obs, reward, terminated, truncated, info = self.env.step(act)
        done = np.asarray(terminated) | np.asarray(truncated) if not self.batched else None
        n, o = self.num_envs, self.obs_dim
        out = VecStep(
            obs=self.to_tensor(obs).reshape(n, o),
            reward=self.to_tensor(reward),
            terminated=self.to_tensor(terminated, torch.bool),
            truncated=self.to_tensor(truncated, torch.bool),
            final_obs=self.to_tensor(obs).reshape(n, o),
        )
        if "final_obs" in info:
            mask = self.to_tensor(info["_final_obs"], torch.bool)
            final = info["final_obs"]
            if final.dtype == object:  # gymnasium vector envs: None for unfinished worlds
                final = np.stack([f if m else x for f, m, x in zip(final, mask, obs, strict=True)])
            out.final_obs = torch.where(mask[:, None], self.to_tensor(final).reshape(n, o), out.obs)
        for key in (self.style_key, "reward_terms", "is_success"):
            value = self._final_value(info, key, done)
            if value is None:
                continue
            if key == "reward_terms":
                out.reward_terms = {
                    k: self.to_tensor(v) for k, v in value.items() if not k.startswith("_")
                }
            elif key == self.style_key:
                out.amp_obs = self.to_tensor(value).reshape(n, -1)
            else:
                out.success = self.to_tensor(value, torch.bool)
        return out

    @staticmethod
    def _final_value(info: dict[str, Any], key: str, done: np.ndarray | None) -> Any:
        """``info[key]`` with rows of finished sub-envs taken from ``final_info`` (gymnasium
        vector envs reset those sub-envs and report the reset step's info in ``info``)."""
        if done is None or not done.any() or "final_info" not in info:
            return info.get(key)
        final = info["final_info"]
        if key not in final:
            return info.get(key)
        if key not in info:  # every sub-env finished: only the final infos have it
            return final[key]
        return _merge_rows(info[key], final[key], done)

    def close(self) -> None:
        self.env.close()


def _merge_rows(current: Any, final: Any, done: np.ndarray) -> Any:
    if isinstance(current, dict):
        return {k: _merge_rows(current[k], final[k], done) for k in current if k in final}
    current, final = np.asarray(current), np.asarray(final)
    mask = done.reshape((-1,) + (1,) * (current.ndim - 1))
    return np.where(mask, final, current)


def make_env(
    env_id: str,
    num_envs: int,
    device: str = "cpu",
    paired: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> VecAdapter:
    """A :class:`VecAdapter` for ``env_id``: the batched env itself (on ``device``) for batched
    ids and, unless ``paired``, for single-env ids with a batched twin (iMuJoCo, Deep RLSP:
    ``gymnasium.make(id, num_envs=N)``); else a SAME_STEP ``SyncVectorEnv`` of ``num_envs``
    single envs (wrapped in :class:`PairedObservation` when ``paired``, for AMP)."""
    kwargs = dict(env_kwargs or {})
    entry = get_entry(env_id) if env_id.startswith("imitenvs/") else None
    if entry is not None and (entry.batched or (entry.vectorised and not paired)):
        env = gymnasium.make(env_id, num_envs=num_envs, device=device, **kwargs)
    else:

        def thunk() -> gymnasium.Env:
            single = gymnasium.make(env_id, **kwargs)
            return PairedObservation(single) if paired else single

        env = SyncVectorEnv([thunk] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    return VecAdapter(env, device)


def demo_source(adapter: VecAdapter, env_id: str, seed: int) -> Callable[[int], torch.Tensor]:
    """``n -> (n, D)`` AMP demonstration samples for the env behind ``adapter``: the batched
    env's own ``sample_amp_demos``, or the shipped demos of the maze / PushT (seeded by
    ``seed``) in the order of :class:`PairedObservation` (``[s_{t-1}, s_t]``)."""
    unwrapped = adapter.env.unwrapped
    if hasattr(unwrapped, "sample_amp_demos"):
        return lambda n: adapter.to_tensor(unwrapped.sample_amp_demos(n))
    if env_id not in DEMO_TASKS:
        raise ValueError(
            f"no AMP demonstrations known for {env_id!r}; batched envs with sample_amp_demos or "
            f"{', '.join(DEMO_TASKS)} are supported"
        )
    sampler = AmpDemoSampler(load_default_demos(DEMO_TASKS[env_id]), seed=seed)
    return lambda n: adapter.to_tensor(sampler.sample_amp_demos(n))
