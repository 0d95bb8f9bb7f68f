"""The iMuJoCo env classes: gymnasium's v5 locomotion envs on a generated variant model.

Each class takes ``variant`` (a name such as ``"hopper-massdec_25_leggeom"``), writes the
variant's MJCF to the cache once (:func:`~imitenvs.envs.imujoco.mjcf.variant_xml_path`) and
builds gymnasium's ``Hopper``/``HalfCheetah``/``Walker2d`` v5 env on it with the v3 settings
the original iMuJoCo data was made with (the original passed only ``xml_file`` to the v3 envs,
so those are v3's defaults; they equal v5's defaults, and we pin them so a change in
gymnasium's defaults cannot move them). Any other v5 keyword (``render_mode``,
``ctrl_cost_weight``, ...) passes through; ``xml_file`` is refused, the variant decides it.

Differences from the v3 envs (mujoco-py) the original data and policies come from:

* Physics: MuJoCo 3+/4 through the ``mujoco`` bindings instead of MuJoCo 1.50/2.0 through
  mujoco-py. Contact and integrator numerics differ slightly, so trajectories are not
  bit-identical and a v3 policy's returns can shift a little.
* Models: gymnasium's v5 XMLs use local coordinates (the v3 ones were ``coordinate="global"``)
  with the same geometry; Walker2d uses ``walker2d.xml`` (v3's feet friction 0.9 right,
  1.9 left), not the v5 default ``walker2d_v5.xml`` (1.9 both). HalfCheetah's deprecated
  ``settotalmass`` is replaced by the equivalent density.
* Hopper and Walker2d: v3 paid ``healthy_reward`` on every step, including the step that
  terminates the episode; v5 pays it only while healthy, so a terminated v3 episode's return is
  higher by exactly ``healthy_reward`` (1.0).
* API: gymnasium's 5-tuple ``step`` and ``reset(seed=...)`` instead of gym's 4-tuple and
  ``seed()``; ``info`` carries the reward terms (``reward_forward``, ``reward_ctrl``,
  ``reward_survive``). The 1000-step limit is the registry's ``max_episode_steps``.

Actions and call order (the contract every imitenvs env follows; a thin check in front of
gymnasium's ``step``, not a fork of its envs): a numpy array, torch tensor (any device) or list
of the action shape; NaN/inf raise ``ValueError`` naming the value (gymnasium would feed them to
MuJoCo, which resets and warns). Finite actions pass unchanged, as in v5: MuJoCo clamps ``ctrl``
to the actuators' ``ctrlrange`` and the control cost uses the action as given. ``step()`` before
``reset()`` raises ``gymnasium.error.ResetNeeded``, and ``step()`` or ``reset()`` after
``close()`` ``gymnasium.error.ClosedEnvironmentError``.

Headless rendering: offscreen ``render_mode`` on a Linux machine without a display defaults
``MUJOCO_GL`` to ``egl`` (set ``MUJOCO_GL=osmesa`` yourself for software rendering).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv
from gymnasium.utils import EzPickle

from imitenvs.core.checks import CallOrder, box_action
from imitenvs.core.render import default_headless_gl
from imitenvs.envs.imujoco.grid import Variant, parse_variant
from imitenvs.envs.imujoco.mjcf import variant_xml_path

#: The v3 keyword defaults of each robot (== gymnasium's v5 defaults), pinned.
V3_SETTINGS: dict[str, dict[str, Any]] = {
    "hopper": {
        "frame_skip": 4,
        "forward_reward_weight": 1.0,
        "ctrl_cost_weight": 1e-3,
        "healthy_reward": 1.0,
        "terminate_when_unhealthy": True,
        "healthy_state_range": (-100.0, 100.0),
        "healthy_z_range": (0.7, float("inf")),
        "healthy_angle_range": (-0.2, 0.2),
        "reset_noise_scale": 5e-3,
        "exclude_current_positions_from_observation": True,
    },
    "halfcheetah": {
        "frame_skip": 5,
        "forward_reward_weight": 1.0,
        "ctrl_cost_weight": 0.1,
        "reset_noise_scale": 0.1,
        "exclude_current_positions_from_observation": True,
    },
    "walker2d": {
        "frame_skip": 4,
        "forward_reward_weight": 1.0,
        "ctrl_cost_weight": 1e-3,
        "healthy_reward": 1.0,
        "terminate_when_unhealthy": True,
        "healthy_z_range": (0.8, 2.0),
        "healthy_angle_range": (-1.0, 1.0),
        "reset_noise_scale": 5e-3,
        "exclude_current_positions_from_observation": True,
    },
}


class _VariantEnv(CallOrder):
    """Shared constructor (parse the variant, write its XML, pin the v3 settings) and the
    action and call-order checks in front of gymnasium's ``reset``/``step``."""

    robot: ClassVar[str]
    variant: Variant

    def __init__(self, variant: str, **kwargs: Any) -> None:
        parsed = parse_variant(variant)
        if parsed.robot.key != self.robot:
            raise ValueError(
                f"{type(self).__name__} builds {self.robot} variants; got {variant!r} "
                f"(a {parsed.robot.key} variant)"
            )
        if "xml_file" in kwargs:
            raise ValueError("xml_file is set by the variant; pass variant=... instead")
        default_headless_gl(kwargs.get("render_mode"))
        self.variant = parsed
        settings = {**V3_SETTINGS[self.robot], **kwargs}
        super().__init__(xml_file=str(variant_xml_path(variant)), **settings)
        EzPickle.__init__(self, variant, **kwargs)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._check_reset()
        out = super().reset(seed=seed, options=options)  # type: ignore[misc]
        self._mark_ready()
        return out

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_step()
        space = self.action_space  # type: ignore[attr-defined]
        return super().step(box_action(action, space.low, space.high, clip=False))  # type: ignore[misc]


class IMuJoCoHopperEnv(_VariantEnv, HopperEnv):
    """Hopper on an iMuJoCo variant model, with the Hopper-v3 settings of the iMuJoCo data.

    ``variant``: a Hopper variant name, e.g. ``"hopper-massdec_25_leggeom"``
    (:mod:`imitenvs.envs.imujoco.grid`); what it changes: :mod:`imitenvs.envs.imujoco.mjcf`.

    * Observation ``Box(-inf, inf, (11,), float64)``: qpos[1:] (torso height z, torso angle,
      thigh, leg, foot angles), then qvel (6) clipped to +-10.
    * Action ``Box(-1, 1, (3,), float32)``: torques of the thigh, leg and foot joints (gear 200).
    * Reward ``forward_reward_weight * x_velocity + healthy_reward * healthy
      - ctrl_cost_weight * |a|^2``; ``info``: ``reward_forward``, ``reward_survive``,
      ``reward_ctrl``.
    * Termination when unhealthy: ``z <= 0.7``, ``|angle| >= 0.2``, or any of qpos[2:] and
      qvel outside +-100. Truncation after 1000 steps (registry ``max_episode_steps``).
    * Reset: ``qpos0`` and ``qvel0`` plus uniform noise of +-0.005.

    Differences from Hopper-v3: see this module's docstring. Version history: v0 -- first
    release (gymnasium's Hopper v5 model and code, v3 settings).
    """

    robot = "hopper"


class IMuJoCoHalfCheetahEnv(_VariantEnv, HalfCheetahEnv):
    """HalfCheetah on an iMuJoCo variant model, with the HalfCheetah-v3 settings of the data.

    ``variant``: a HalfCheetah variant name, e.g. ``"halfcheetah-jointdec_25_bfoot"``.

    * Observation ``Box(-inf, inf, (17,), float64)``: qpos[1:] (torso z, torso angle, bthigh,
      bshin, bfoot, fthigh, fshin, ffoot angles), then qvel (9).
    * Action ``Box(-1, 1, (6,), float32)``: torques of bthigh, bshin, bfoot, fthigh, fshin,
      ffoot (gears 120, 90, 60, 120, 60, 30).
    * Reward ``forward_reward_weight * x_velocity - ctrl_cost_weight * |a|^2`` (weight 0.1);
      ``info``: ``reward_forward``, ``reward_ctrl``.
    * Never terminates. Truncation after 1000 steps (registry ``max_episode_steps``).
    * Reset: ``qpos0`` plus uniform noise of +-0.1, ``qvel0`` plus 0.1 * standard normal.

    Differences from HalfCheetah-v3: see this module's docstring. Version history: v0 -- first
    release.
    """

    robot = "halfcheetah"


class IMuJoCoWalker2dEnv(_VariantEnv, Walker2dEnv):
    """Walker2d on an iMuJoCo variant model, with the Walker2d-v3 settings of the iMuJoCo data.

    ``variant``: a Walker2d variant name, e.g. ``"walker2d-frictiondec_50_footleftgeom"``.

    * Observation ``Box(-inf, inf, (17,), float64)``: qpos[1:] (torso z, torso angle, right
      thigh, leg, foot, left thigh, leg, foot angles), then qvel (9) clipped to +-10.
    * Action ``Box(-1, 1, (6,), float32)``: torques of the six leg joints (gear 100).
    * Reward ``forward_reward_weight * x_velocity + healthy_reward * healthy
      - ctrl_cost_weight * |a|^2``; ``info``: ``reward_forward``, ``reward_survive``,
      ``reward_ctrl``.
    * Termination when unhealthy: torso z outside ``(0.8, 2.0)`` or torso angle outside
      ``(-1, 1)``. Truncation after 1000 steps (registry ``max_episode_steps``).
    * Reset: ``qpos0`` and ``qvel0`` plus uniform noise of +-0.005.

    Differences from Walker2d-v3: see this module's docstring. Version history: v0 -- first
    release (model from ``walker2d.xml``, v3's feet friction).
    """

    robot = "walker2d"


ENV_CLASSES: dict[str, type] = {
    "hopper": IMuJoCoHopperEnv,
    "halfcheetah": IMuJoCoHalfCheetahEnv,
    "walker2d": IMuJoCoWalker2dEnv,
}
