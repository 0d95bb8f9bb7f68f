"""Forward kinematics of the humanoid in torch, batched over worlds and over tree depth.

:func:`imitenvs.motion.forward_kinematics` walks the bodies one by one (general skeletons, numpy
or torch). The tasks need the same result for thousands of reference states per step, so this
version processes all bodies of one tree depth in a single batched operation (5 levels for the
AMP humanoid) and builds every joint rotation from the hinge angles at once. It places bodies
exactly where MuJoCo's own kinematics puts them for the same ``qpos``; the reference
observations and rewards therefore compare like with like.
"""

from __future__ import annotations

import numpy as np
import torch

from imitenvs.motion import HumanoidSpec
from imitenvs.motion.quat import quat_from_axis_angle, quat_from_hinge3


def quat_mul_fast(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of xyzw quaternions ``(..., 4)`` (as
    :func:`imitenvs.motion.quat.quat_mul`, in a few vector kernels instead of many scalar ones)."""
    av, aw = a[..., :3], a[..., 3:]
    bv, bw = b[..., :3], b[..., 3:]
    vec = aw * bv + bw * av + torch.linalg.cross(av, bv.expand_as(av))
    return torch.cat([vec, aw * bw - (av * bv).sum(-1, keepdim=True)], dim=-1)


def quat_rotate_fast(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v (..., 3)`` by unit xyzw quaternions ``q (..., 4)`` (as
    :func:`imitenvs.motion.quat.quat_rotate`, in fewer kernels)."""
    u = q[..., :3]
    t = 2.0 * torch.linalg.cross(u, v.expand_as(u))
    return v + q[..., 3:] * t + torch.linalg.cross(u, t)


class HumanoidKinematics:
    """Body poses and centre of mass from root pose and hinge angles (quaternions xyzw).

    Args:
        spec: the humanoid (skeleton, joint groups).
        body_mass: ``(J,)`` body masses (MuJoCo ``body_mass[1:]``).
        body_ipos: ``(J, 3)`` body centres of mass in the body frames (``body_ipos[1:]``).
        device: torch device; dtype: float dtype of the tables.
    """

    def __init__(
        self,
        spec: HumanoidSpec,
        body_mass: np.ndarray,
        body_ipos: np.ndarray,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        skeleton = spec.skeleton
        self.num_bodies = skeleton.num_bodies
        depth = np.zeros(self.num_bodies, dtype=np.int64)
        for j in range(1, self.num_bodies):
            depth[j] = depth[skeleton.parents[j]] + 1
        table = {"device": device, "dtype": dtype}
        self._levels = [  # (bodies, their parents, their offsets) of each tree depth
            (
                torch.as_tensor(np.flatnonzero(depth == d), device=device),
                torch.as_tensor(np.array(skeleton.parents[depth == d]), device=device),
                torch.as_tensor(np.array(skeleton.offsets[depth == d]), **table),
            )
            for d in range(1, int(depth.max()) + 1)
        ]
        ball = [j for j in spec.joints if j.num_dofs == 3]
        hinge = [j for j in spec.joints if j.num_dofs == 1]
        self._ball_bodies = torch.tensor([j.body for j in ball], device=device)
        self._ball_dofs = torch.tensor(
            [[j.start + k for k in range(3)] for j in ball], device=device
        )
        self._hinge_bodies = torch.tensor([j.body for j in hinge], device=device)
        self._hinge_dofs = torch.tensor([j.start for j in hinge], device=device)
        self._hinge_axes = torch.as_tensor(np.array([j.axis for j in hinge]), **table)
        self._identity = torch.tensor([0.0, 0.0, 0.0, 1.0], **table)
        mass = torch.as_tensor(np.asarray(body_mass, dtype=np.float64), **table)
        self._mass_fraction = mass / mass.sum()
        self._ipos = torch.as_tensor(np.asarray(body_ipos, dtype=np.float64), **table)

    def local_rotations(self, root_rot: torch.Tensor, dof_pos: torch.Tensor) -> torch.Tensor:
        """``(N, J, 4)`` body rotations relative to their parents (body 0: ``root_rot (N, 4)``)
        from hinge angles ``dof_pos (N, D)``."""
        local = self._identity.expand(root_rot.shape[0], self.num_bodies, 4).clone()
        local[:, 0] = root_rot
        local[:, self._ball_bodies] = quat_from_hinge3(dof_pos[:, self._ball_dofs])
        local[:, self._hinge_bodies] = quat_from_axis_angle(
            self._hinge_axes, dof_pos[:, self._hinge_dofs]
        )
        return local

    def body_poses(
        self, root_pos: torch.Tensor, local_rot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """World body positions ``(N, J, 3)`` and rotations ``(N, J, 4)``."""
        num = root_pos.shape[0]
        pos = root_pos.new_empty(num, self.num_bodies, 3)
        rot = torch.empty_like(local_rot)
        pos[:, 0] = root_pos
        rot[:, 0] = local_rot[:, 0]
        for bodies, parents, offsets in self._levels:
            parent_rot = rot[:, parents]
            pos[:, bodies] = pos[:, parents] + quat_rotate_fast(parent_rot, offsets)
            rot[:, bodies] = quat_mul_fast(parent_rot, local_rot[:, bodies])
        return pos, rot

    def forward(
        self, root_pos: torch.Tensor, root_rot: torch.Tensor, dof_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """World body positions ``(N, J, 3)`` and rotations ``(N, J, 4)`` of a ``qpos``."""
        return self.body_poses(root_pos, self.local_rotations(root_rot, dof_pos))

    def com(self, pos: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` centre of mass of the whole character from body poses."""
        centres = pos + quat_rotate_fast(rot, self._ipos)
        return torch.einsum("njk,j->nk", centres, self._mass_fraction)
