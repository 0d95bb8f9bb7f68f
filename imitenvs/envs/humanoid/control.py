"""PD control of the humanoid: policy actions in ``[-1, 1]`` to joint target angles.

``target = offset + scale * a``, with IsaacGymEnvs' scales
(``HumanoidAMPBase._build_pd_action_offset_scale``):

- 3-DoF joints (three hinges): the limits are replaced by ``[-pi, pi]``: scale pi.
- 1-DoF joints (elbows, knees): the target range is 140 % of the joint range: scale
  ``0.7 * (hi - lo)``.

The offset (what action 0 holds) is one of :data:`ACTION_OFFSETS`:

- ``"default_pose"``: the character's default pose (the MJCF ``stand`` keyframe), so a zero
  action holds a standing character upright and an untrained policy starts from a stand.
- ``"joint_range"``: IsaacGymEnvs' offset, the centre of each target range: 0 for 3-DoF joints,
  ``(lo + hi) / 2`` for 1-DoF joints (elbows -80 deg, knees 80 deg: a zero action crouches and
  the character falls after about 0.9 s).

The MJCF's position actuators (kp, kv per joint, torque caps) turn targets into torques inside
MuJoCo, at every physics substep.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from imitenvs.core.checks import check_choice
from imitenvs.motion.humanoid import HumanoidSpec

ONE_DOF_RANGE_SCALE = 1.4  # 1-DoF targets span 140 % of the joint range
ACTION_OFFSETS: tuple[str, ...] = ("default_pose", "joint_range")


class PdActionMap:
    """Affine map between actions ``(..., D)`` and PD targets ``(..., D)`` (radians).

    Args:
        spec: the humanoid (hinge limits and joint groups).
        default_dof_pos: ``(D,)`` hinge angles of the default pose (radians), the offset under
            ``offset="default_pose"``.
        offset: one of :data:`ACTION_OFFSETS` (see the module docstring).
        device: torch device of the maps.

    Attributes:
        offset, scale: ``(D,)`` float32 tensors.
    """

    def __init__(
        self,
        spec: HumanoidSpec,
        default_dof_pos: np.ndarray,
        offset: str = "default_pose",
        device: torch.device | str = "cpu",
    ) -> None:
        check_choice("action_offset", offset, ACTION_OFFSETS)
        default_dof_pos = np.asarray(default_dof_pos, dtype=np.float64)
        if default_dof_pos.shape != (spec.num_dofs,):
            raise ValueError(
                f"default_dof_pos must have shape ({spec.num_dofs},), got {default_dof_pos.shape}"
            )
        lower = np.full(spec.num_dofs, -math.pi)
        upper = np.full(spec.num_dofs, math.pi)
        for joint in spec.joints:
            if joint.num_dofs == 1:
                lo, hi = spec.dof_lower[joint.start], spec.dof_upper[joint.start]
                mid, half = 0.5 * (lo + hi), 0.5 * ONE_DOF_RANGE_SCALE * (hi - lo)
                lower[joint.start], upper[joint.start] = mid - half, mid + half
        centre = 0.5 * (upper + lower) if offset == "joint_range" else default_dof_pos
        self.offset = torch.as_tensor(centre, dtype=torch.float32, device=device)
        self.scale = torch.as_tensor(0.5 * (upper - lower), dtype=torch.float32, device=device)

    def targets(self, action: torch.Tensor) -> torch.Tensor:
        """PD targets ``offset + scale * action``."""
        return torch.addcmul(self.offset, self.scale, action)

    def actions(self, targets: torch.Tensor) -> torch.Tensor:
        """The actions whose targets are ``targets`` (unclipped; a pose held by PD control)."""
        return (targets - self.offset) / self.scale
