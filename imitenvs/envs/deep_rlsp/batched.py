"""Deep RLSP's HalfCheetah and Hopper tasks, natively batched (``gymnasium.make(id,
num_envs=N)``): :class:`~imitenvs.envs.imujoco.batched.BatchedLocomotionEnv` on gymnasium's
v5 models with the time feature and the fall penalty of
:mod:`imitenvs.envs.deep_rlsp.locomotion`.

The registry's entry points (:func:`make_halfcheetah`, :func:`make_hopper`) give the single
env without ``num_envs`` and the batch with it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.envs.mujoco.mujoco_env import expand_model_path

from imitenvs.core.checks import check_choice
from imitenvs.envs.imujoco.batched import BatchedLocomotionEnv, LocomotionTask, _split_settings

#: Steps over which the time feature falls from 1 to 0 (the original's ``max_steps``).
TIME_HORIZON = 1000


class DeepRLSPBatchedHalfCheetahEnv(BatchedLocomotionEnv):
    """Deep RLSP's HalfCheetah running forward (``HalfCheetah-FW``) or backward (``-BW``),
    batched; per world the task of
    :class:`~imitenvs.envs.deep_rlsp.locomotion.DeepRLSPHalfCheetahEnv`.

    * Observation ``(18,)``: qpos[1:], qvel (9), the time feature ``max(0, 1 - t/1000)``.
    * Action ``Box(-1, 1, (6,), float32)``.
    * Reward ``reward_forward + reward_ctrl``: ``reward_forward = +-(x_after - x_before) / dt``
      (sign from ``direction``; ``dt = 0.05``), ``reward_ctrl = -0.1 * |a|^2``.
    * Never terminates; truncation after 1000 steps. Reset: qpos0 + U(-0.1, 0.1), 0.1 N(0, 1)
      velocities, or ``reset(options={"qpos": ..., "qvel": ...})``.

    Everything else: :class:`~imitenvs.envs.imujoco.batched.BatchedLocomotionEnv`. Version
    history: v0 -- first release.
    """

    def __init__(
        self,
        num_envs: int = 1,
        *,
        direction: str = "forward",
        time_horizon: int = TIME_HORIZON,
        **kwargs: Any,
    ) -> None:
        from imitenvs.envs.deep_rlsp.locomotion import CHEETAH_SETTINGS

        check_choice("direction", direction, ("forward", "backward"))
        settings, options = _split_settings("halfcheetah", kwargs)
        settings = {**CHEETAH_SETTINGS, **settings}
        sign = 1.0 if direction == "forward" else -1.0
        settings["forward_reward_weight"] = sign * float(settings["forward_reward_weight"])
        task = LocomotionTask.from_settings("halfcheetah", settings, time_horizon=time_horizon)
        self.direction = direction
        super().__init__(num_envs, expand_model_path("half_cheetah.xml"), task, **options)


class DeepRLSPBatchedHopperEnv(BatchedLocomotionEnv):
    """Deep RLSP's Hopper (``Hopper-FW``) or, with ``penalty``, ``Hopper-FW-Penalty``,
    batched; per world the task of :class:`~imitenvs.envs.deep_rlsp.locomotion.DeepRLSPHopperEnv`.

    * Observation ``(12,)``: qpos[1:], qvel (6) clipped to +-10, the time feature.
    * Action ``Box(-1, 1, (3,), float32)``.
    * Reward ``reward_forward + reward_survive + reward_ctrl`` (+ ``reward_penalty = -penalty``
      on every step that ends unhealthy, when ``penalty`` is set); ``info["is_healthy"]``
      with a penalty.
    * Terminates when a step ends unhealthy, except with a ``penalty`` (never). Truncation
      after 1000 steps.

    Everything else: :class:`~imitenvs.envs.imujoco.batched.BatchedLocomotionEnv`. Version
    history: v0 -- first release.
    """

    def __init__(
        self,
        num_envs: int = 1,
        *,
        penalty: float | None = None,
        time_horizon: int = TIME_HORIZON,
        **kwargs: Any,
    ) -> None:
        from imitenvs.envs.deep_rlsp.locomotion import HOPPER_SETTINGS, check_penalty

        penalty = check_penalty(penalty)
        settings, options = _split_settings("hopper", kwargs)
        task = LocomotionTask.from_settings(
            "hopper",
            {**HOPPER_SETTINGS, **settings},
            penalty=penalty,
            time_horizon=time_horizon,
        )
        self.penalty = task.penalty
        super().__init__(num_envs, expand_model_path("hopper.xml"), task, **options)


def make_halfcheetah(num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of ``HalfCheetah-FW-v0``/``-BW-v0``: the single env, or with ``num_envs``
    the batch."""
    if num_envs is None:
        from imitenvs.envs.deep_rlsp.locomotion import DeepRLSPHalfCheetahEnv

        return DeepRLSPHalfCheetahEnv(**kwargs)
    return DeepRLSPBatchedHalfCheetahEnv(num_envs, **kwargs)


def make_hopper(num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of ``Hopper-FW-v0``/``-FW-Penalty-v0``: the single env, or with
    ``num_envs`` the batch."""
    if num_envs is None:
        from imitenvs.envs.deep_rlsp.locomotion import DeepRLSPHopperEnv

        return DeepRLSPHopperEnv(**kwargs)
    return DeepRLSPBatchedHopperEnv(num_envs, **kwargs)
