"""Deep RLSP's HalfCheetah and Hopper tasks on gymnasium's v5 models, with a time feature.

The original (HumanCompatibleAI/deep-rlsp, ``src/deep_rlsp/__init__.py``) registered
``HalfCheetah-FW-v2``/``-BW-v2`` (its own cheetah class on gym's ``half_cheetah.xml``) and
``Hopper-FW-v2``/``-FW-Penalty-v2`` (gym's ``Hopper-v2``), each wrapped in a
``TimeFeatureWrapper`` that appends the remaining time ``1 - t/1000`` to the observation. Here
each task is one env class built on gymnasium's v5 env of the same robot; the time feature is
part of the env itself, so ``env.unwrapped`` observes it too and
:class:`imitenvs.wrappers.ResetToState` can reset it.

Differences from the originals, common to all four tasks:

* Physics: MuJoCo 3+ through the ``mujoco`` bindings and gymnasium's v5 XMLs instead of
  mujoco-py 2 and gym's v2 XMLs (same bodies, joints, gears and limits; the v5 XMLs use local
  coordinates). Contact and integrator numerics differ slightly, so trajectories are not
  bit-identical and the original's SAC policies can score a little differently.
* API: gymnasium's 5-tuple ``step`` (``truncated`` from ``TimeLimit`` at 1000 steps) and
  ``reset(seed=...)``. ``info`` carries the reward terms and the x position and velocity.
* Observation: float64 throughout; the original's time-feature wrapper declared a float32
  ``Box``. Past ``time_horizon`` steps (possible only without the registry's ``TimeLimit``),
  the feature stays at 0. The original let it go negative.
* Actions follow the imitenvs contract: a numpy array, a torch tensor or a list of the action
  shape. NaN or inf raise ``ValueError``, and finite values pass unchanged. MuJoCo clamps
  ``ctrl`` to ``ctrlrange``, and the control cost uses the action as given, as in v2.
  ``step()`` before ``reset()`` raises ``gymnasium.error.ResetNeeded``. After ``close()``,
  ``step()`` and ``reset()`` raise ``gymnasium.error.ClosedEnvironmentError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.spaces import Box
from gymnasium.utils import EzPickle

from imitenvs.core.checks import CallOrder, box_action, check_choice, check_positive_int
from imitenvs.core.render import default_headless_gl
from imitenvs.envs.imujoco.env import V3_SETTINGS

#: Steps over which the time feature falls from 1 to 0 (the original's ``max_steps``).
TIME_HORIZON = 1000

#: Cheetah settings of the original class (frame_skip 5, control weight 0.1, reset noise 0.1).
CHEETAH_SETTINGS: dict[str, Any] = dict(V3_SETTINGS["halfcheetah"])
#: Hopper-v2's constants, which equal Hopper-v3's (and v5's) defaults.
HOPPER_SETTINGS: dict[str, Any] = dict(V3_SETTINGS["hopper"])


def check_penalty(penalty: Any) -> float | None:
    """``penalty`` as a float, or ``None``; one ValueError for anything else (bools, NaN)."""
    if penalty is not None and (
        isinstance(penalty, bool)
        or not isinstance(penalty, int | float | np.number)
        or not np.isfinite(penalty)
    ):
        raise ValueError(f"penalty must be a finite number or None, got {penalty!r}")
    return None if penalty is None else float(penalty)


class _TimeFeature(CallOrder):
    """Mixin in front of a gymnasium v5 MuJoCo env that appends ``1 - t/time_horizon``.

    ``t`` counts the ``step()`` calls since the last ``reset()``. It is increased before the
    wrapped ``step`` observes, so the observation after step ``t`` carries ``1 - t/H``, and the
    reset observation carries 1. The mixin also enforces the action and call-order contract.
    Call :meth:`_init_time_feature` after the base constructor.
    """

    time_horizon: int = TIME_HORIZON
    _steps: int = 0

    def _init_time_feature(self, time_horizon: int) -> None:
        self.time_horizon = check_positive_int("time_horizon", time_horizon)
        self._steps = 0
        base: Box = self.observation_space  # type: ignore[has-type]
        self.observation_space = Box(
            np.append(base.low, 0.0), np.append(base.high, 1.0), dtype=base.dtype
        )
        # gymnasium v5's description of the observation's parts, extended by ours.
        self.observation_structure = {**self.observation_structure, "time_feature": 1}  # type: ignore[has-type]

    @property
    def time_feature(self) -> float:
        """The current remaining-time feature, ``max(0, 1 - t/time_horizon)``."""
        return max(0.0, 1.0 - self._steps / self.time_horizon)

    def _get_obs(self) -> np.ndarray:
        """The base env's observation with the time feature appended, ``(obs_dim + 1,)``."""
        return np.append(super()._get_obs(), self.time_feature)  # type: ignore[misc]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._check_reset()
        self._steps = 0
        out = super().reset(seed=seed, options=options)  # type: ignore[misc]
        self._mark_ready()
        return out

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_step()
        space = self.action_space  # type: ignore[attr-defined]
        checked = box_action(action, space.low, space.high, clip=False)
        self._steps += 1
        return super().step(checked)  # type: ignore[misc]


class DeepRLSPHalfCheetahEnv(_TimeFeature, HalfCheetahEnv):
    """Deep RLSP's HalfCheetah running forward (``HalfCheetah-FW``) or backward (``-BW``).

    Args:
        direction: ``"forward"`` (the original's task ``"default"``) or ``"backward"``
            (``"run_back"``).
        time_horizon: Steps over which the time feature falls from 1 to 0 (1000).
        **kwargs: Any other gymnasium ``HalfCheetah-v5`` keyword (``render_mode``,
            ``ctrl_cost_weight``, ``forward_reward_weight`` (its sign comes from
            ``direction``), ...). The original's values are pinned as defaults.

    * Observation ``Box(float64, (18,))``: qpos[1:] (torso z, torso angle, bthigh, bshin,
      bfoot, fthigh, fshin, ffoot angles), qvel (9), then the time feature ``1 - t/1000``.
      The last entry is bounded by [0, 1], and the others are unbounded.
    * Action ``Box(-1, 1, (6,), float32)``: torques of bthigh, bshin, bfoot, fthigh, fshin and
      ffoot (gears 120, 90, 60, 120, 60, 30).
    * Reward ``reward_forward + reward_ctrl`` with ``reward_ctrl = -0.1 * |a|^2`` and
      ``reward_forward = (x_after - x_before) / dt`` (forward) or ``(x_before - x_after) / dt``
      (backward). ``dt = 0.05`` (5 frames of 0.01 s), and ``x`` is qpos[0], the root's x.
      ``info`` holds ``reward_forward``, ``reward_ctrl``, ``x_position`` (x after the step) and
      ``x_velocity`` (``(x_after - x_before) / dt``, whatever the direction).
    * Never terminates. Truncation after 1000 steps (registry ``max_episode_steps``).
    * Reset: qpos0 + U(-0.1, 0.1) per coordinate, and qvel0 + 0.1 * N(0, 1).

    Differences from ``HalfCheetah-FW-v2``/``-BW-v2``: see this module's docstring. The
    original's ``info`` named the forward term ``reward_run``. Its ``target_velocity`` task and
    ``expose_all_qpos`` option (``HalfCheetah-QPOS-v2``) are not registered.
    ``exclude_current_positions_from_observation=False`` gives the latter's observation.
    Version history: v0 -- first release.
    """

    def __init__(
        self,
        direction: str = "forward",
        time_horizon: int = TIME_HORIZON,
        **kwargs: Any,
    ) -> None:
        check_choice("direction", direction, ("forward", "backward"))
        default_headless_gl(kwargs.get("render_mode"))
        settings = {**CHEETAH_SETTINGS, **kwargs}
        sign = 1.0 if direction == "forward" else -1.0
        settings["forward_reward_weight"] = sign * float(settings["forward_reward_weight"])
        super().__init__(**settings)
        self.direction = direction
        self._init_time_feature(time_horizon)
        EzPickle.__init__(self, direction=direction, time_horizon=time_horizon, **kwargs)


class DeepRLSPHopperEnv(_TimeFeature, HopperEnv):
    """Deep RLSP's Hopper (``Hopper-FW``), optionally with falls as a penalty (``-Penalty``).

    Args:
        penalty: ``None`` (``Hopper-FW``): gymnasium Hopper-v5's termination. A number
            (``Hopper-FW-Penalty``: 1.0): never terminate, and subtract ``penalty`` from the
            reward of every step that ends unhealthy.
        time_horizon: Steps over which the time feature falls from 1 to 0 (1000).
        **kwargs: Any other gymnasium ``Hopper-v5`` keyword (``render_mode``,
            ``healthy_reward``, ...). Hopper-v2's values are pinned as defaults.

    * Observation ``Box(float64, (12,))``: qpos[1:] (torso z, torso angle, thigh, leg, foot
      angles), qvel (6) clipped to +-10, then the time feature ``1 - t/1000``. The last entry is
      bounded by [0, 1], and the others are unbounded.
    * Action ``Box(-1, 1, (3,), float32)``: torques of the thigh, leg and foot joints (gear 200).
    * Reward ``reward_forward + reward_survive + reward_ctrl + reward_penalty``:
      ``reward_forward = (x_after - x_before) / dt`` (``dt = 0.008``),
      ``reward_survive = 1`` if the step ends healthy else 0, ``reward_ctrl = -0.001 * |a|^2``,
      ``reward_penalty = -penalty`` if the step ends unhealthy and ``penalty`` is set, else 0.
      ``info`` also holds ``x_position``, ``x_velocity``, ``z_distance_from_origin`` and
      ``is_healthy``.
    * Healthy: torso z > 0.7, |torso angle| < 0.2 and every entry of qpos[2:] and qvel inside
      (-100, 100). Without ``penalty``, the episode terminates when a step ends unhealthy.
      With it, ``terminated`` is always False and the hopper keeps being simulated.
      Truncation after 1000 steps (registry ``max_episode_steps``).
    * Reset: qpos0 and qvel0 plus U(-0.005, 0.005) per coordinate.

    Differences from ``Hopper-FW-v2`` and ``Hopper-FW-Penalty-v2``, beyond this module's
    docstring: Hopper-v2 paid the survive reward of 1 on every step, the terminating step
    included. v5 pays it only on healthy steps, so a terminated episode's return is lower by
    exactly 1. The original ``TerminationToPenaltyWrapper`` subtracts the penalty from the
    reward (``reward -= penalty``; it does not replace it) and sets ``done = False``, as here.
    On v2 it subtracted from a reward that still held the survive bonus, so an unhealthy step
    was worth ``reward_forward + reward_ctrl``. On v5 the bonus is gone and the step is worth
    ``reward_forward + reward_ctrl - 1``. ``healthy_reward`` and ``penalty`` are keywords if
    the v2 values are needed. Version history: v0 -- first release.
    """

    def __init__(
        self,
        penalty: float | None = None,
        time_horizon: int = TIME_HORIZON,
        **kwargs: Any,
    ) -> None:
        penalty = check_penalty(penalty)
        default_headless_gl(kwargs.get("render_mode"))
        super().__init__(**{**HOPPER_SETTINGS, **kwargs})
        self.penalty = penalty
        self._init_time_feature(time_horizon)
        EzPickle.__init__(self, penalty=penalty, time_horizon=time_horizon, **kwargs)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        healthy = bool(self.is_healthy)
        penalty = -self.penalty if self.penalty is not None and not healthy else 0.0
        if self.penalty is not None:
            terminated = False
        info["reward_penalty"] = penalty
        info["is_healthy"] = healthy
        return obs, float(reward) + penalty, bool(terminated), truncated, info
