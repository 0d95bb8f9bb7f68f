"""The 105-d AMP character observation, written once in torch.

The same :class:`CharacterObservation` turns a simulated state (read from the physics backend)
and a reference state (from the motion library, with key-body positions by forward kinematics)
into observations, so the AMP demo sampler and the env cannot drift apart. Input states are
:class:`imitenvs.motion.MotionState` batches (quaternions **xyzw**, velocities in the world frame).

=======  ====  =========================================================================
index    size  quantity
=======  ====  =========================================================================
0        1     root (pelvis) height above the ground, m
1-6      6     root rotation tan-norm: the pelvis x axis, then its z axis, world frame
7-9      3     root linear velocity in the heading frame, m/s
10-12    3     root angular velocity in the heading frame, rad/s
13-64    52    joint rotations in DoF order: each 3-DoF joint as the tan-norm (6) of its
               rotation, elbows and knees as their angle (1)
65-92    28    hinge velocities, rad/s (MuJoCo DoF order)
93-104   12    right hand, left hand, right foot, left foot positions relative to the root,
               heading frame, m
=======  ====  =========================================================================

The heading frame is the root frame rotated about world z only (yaw; IsaacGymEnvs
``calc_heading_quat_inv``). Difference from IsaacGymEnvs: there, the three hinge angles of a
3-DoF joint are read as an exponential map; here they are composed exactly as MuJoCo composes
them (``Rx(a) Ry(b) Rz(c)``, see :func:`imitenvs.motion.quat.quat_from_hinge3`).
"""

from __future__ import annotations

import torch

from imitenvs.motion import HumanoidSpec, MotionState

OBS_DIM = 105
AMP_OBS_SLICES: dict[str, slice] = {
    "root_height": slice(0, 1),
    "root_rot": slice(1, 7),
    "root_vel": slice(7, 10),
    "root_ang_vel": slice(10, 13),
    "dof_pos": slice(13, 65),
    "dof_vel": slice(65, 93),
    "key_pos": slice(93, 105),
}


def rotation_tan_norm(q: torch.Tensor) -> torch.Tensor:
    """``(..., 6)``: the x axis then the z axis of the frames rotated by xyzw ``q (..., 4)``."""
    x, y, z, w = q.unbind(-1)
    return torch.stack(
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + w * z),
            2.0 * (x * z - w * y),
            2.0 * (x * z + w * y),
            2.0 * (y * z - w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
        dim=-1,
    )


def hinge3_tan_norm(angles: torch.Tensor) -> torch.Tensor:
    """Tan-norm ``(..., 6)`` of 3-hinge joint rotations ``Rx(a) Ry(b) Rz(c)``, ``angles (..., 3)``.

    Equal to ``rotation_tan_norm(quat_from_hinge3(angles))``, from sines and cosines directly.
    """
    c, s = torch.cos(angles), torch.sin(angles)
    ca, cb, cc = c.unbind(-1)
    sa, sb, sc = s.unbind(-1)
    return torch.stack(
        [
            cb * cc,
            ca * sc + sa * sb * cc,
            sa * sc - ca * sb * cc,
            sb,
            -sa * cb,
            ca * cb,
        ],
        dim=-1,
    )


def heading_cos_sin(root_rot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos h, sin h)``, each ``(N,)``, of the heading ``h`` (yaw of the root x axis; 0 when
    that axis points straight up or down, as ``atan2(0, 0)`` in IsaacGymEnvs)."""
    x, y, z, w = root_rot.unbind(-1)
    dx, dy = 1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z)
    norm = torch.sqrt(dx * dx + dy * dy)
    flat = norm < 1e-6
    inv = 1.0 / torch.where(flat, 1.0, norm)
    return torch.where(flat, 1.0, dx * inv), dy * inv


def to_heading_frame(v: torch.Tensor, cos_h: torch.Tensor, sin_h: torch.Tensor) -> torch.Tensor:
    """Rotate world vectors ``v (N, ..., 3)`` by minus the heading (``cos_h``, ``sin_h`` (N,))."""
    shape = (-1,) + (1,) * (v.dim() - 2)
    c, s = cos_h.reshape(shape), sin_h.reshape(shape)
    vx, vy, vz = v.unbind(-1)
    return torch.stack([c * vx + s * vy, c * vy - s * vx, vz], dim=-1)


class CharacterObservation:
    """The AMP observation of a batch of humanoid states (see the module docstring).

    Args:
        spec: the humanoid (joint groups, DoF order, key bodies).
        device: torch device of the index tables.

    Attributes:
        dim: observation size (:data:`OBS_DIM` for the AMP humanoid).
    """

    def __init__(self, spec: HumanoidSpec, device: torch.device | str = "cpu") -> None:
        ball = [j for j in spec.joints if j.num_dofs == 3]
        hinge = [j for j in spec.joints if j.num_dofs == 1]
        self.dim = 13 + 6 * len(ball) + len(hinge) + spec.num_dofs + 3 * len(spec.key_body_names)
        self._ball_dofs = torch.tensor(
            [[j.start, j.start + 1, j.start + 2] for j in ball], device=device
        )
        self._hinge_dofs = torch.tensor([j.start for j in hinge], device=device)
        # Columns of cat([ball tan-norms (6 each), hinge angles]) in DoF order of the joints.
        position = {id(j): 6 * i for i, j in enumerate(ball)}
        position |= {id(j): 6 * len(ball) + i for i, j in enumerate(hinge)}
        order = []
        for joint in spec.joints:
            width = 6 if joint.num_dofs == 3 else 1
            order.extend(range(position[id(joint)], position[id(joint)] + width))
        self._dof_obs_order = torch.tensor(order, device=device)

    def dof_obs(self, dof_pos: torch.Tensor) -> torch.Tensor:
        """``(N, 52)`` joint-rotation features of hinge angles ``dof_pos (N, 28)``."""
        ball = hinge3_tan_norm(dof_pos[:, self._ball_dofs]).flatten(1)
        features = torch.cat([ball, dof_pos[:, self._hinge_dofs]], dim=1)
        return features[:, self._dof_obs_order]

    def __call__(self, state: MotionState) -> torch.Tensor:
        """``(N, 105)`` observations of ``state`` (same dtype as the state)."""
        cos_h, sin_h = heading_cos_sin(state.root_rot)
        world = torch.cat(  # every vector the heading frame sees, rotated in one go
            [
                state.root_vel[:, None],
                state.root_ang_vel[:, None],
                state.key_pos - state.root_pos[:, None, :],
            ],
            dim=1,
        )
        local = to_heading_frame(world, cos_h, sin_h).flatten(1)
        return torch.cat(
            [
                state.root_pos[:, 2:3],
                rotation_tan_norm(state.root_rot),
                local[:, :6],
                self.dof_obs(state.dof_pos),
                state.dof_vel,
                local[:, 6:],
            ],
            dim=1,
        )
