"""PD control of the humanoid: policy actions in ``[-1, 1]`` to joint target angles.

IsaacGymEnvs ``HumanoidAMPBase._build_pd_action_offset_scale``: ``target = offset + scale * a``.

- 3-DoF joints (three hinges): the limits are replaced by ``[-pi, pi]``: offset 0, scale pi.
- 1-DoF joints (elbows, knees): the target range is 140 % of the joint range, centred on it:
  offset ``(lo + hi) / 2``, scale ``0.7 * (hi - lo)``.

The MJCF's position actuators (kp, kv per joint, torque caps) turn targets into torques inside
MuJoCo, at every physics substep.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from imitenvs.motion.humanoid import HumanoidSpec

ONE_DOF_RANGE_SCALE = 1.4  # 1-DoF targets span 140 % of the joint range


class PdActionMap:
    """Affine map between actions ``(..., D)`` and PD targets ``(..., D)`` (radians).

    Args:
        spec: the humanoid (hinge limits and joint groups).
        device: torch device of the maps.

    Attributes:
        offset, scale: ``(D,)`` float32 tensors.
    """

    def __init__(self, spec: HumanoidSpec, device: torch.device | str = "cpu") -> None:
        lower = np.full(spec.num_dofs, -math.pi)
        upper = np.full(spec.num_dofs, math.pi)
        for joint in spec.joints:
            if joint.num_dofs == 1:
                lo, hi = spec.dof_lower[joint.start], spec.dof_upper[joint.start]
                mid, half = 0.5 * (lo + hi), 0.5 * ONE_DOF_RANGE_SCALE * (hi - lo)
                lower[joint.start], upper[joint.start] = mid - half, mid + half
        self.offset = torch.as_tensor(0.5 * (upper + lower), dtype=torch.float32, device=device)
        self.scale = torch.as_tensor(0.5 * (upper - lower), dtype=torch.float32, device=device)

    def targets(self, action: torch.Tensor) -> torch.Tensor:
        """PD targets ``offset + scale * action``."""
        return torch.addcmul(self.offset, self.scale, action)

    def actions(self, targets: torch.Tensor) -> torch.Tensor:
        """The actions whose targets are ``targets`` (unclipped; a pose held by PD control)."""
        return (targets - self.offset) / self.scale
