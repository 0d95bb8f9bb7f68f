"""Analytic leg inverse kinematics for the humanoid (numpy, batched over frames).

Given the pelvis pose and a target pose for a foot (ankle position and foot rotation), the leg
is solved in closed form: the knee angle from the hip-ankle distance (law of cosines), the hip
rotation that points the thigh-shin chain at the ankle with the knee in the plane of the leg and
a forward direction (no knee swivel), and the ankle rotation that gives the foot its target
rotation. Quaternions are xyzw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imitenvs.motion.humanoid import HumanoidSpec
from imitenvs.motion.quat import (
    quat_conjugate,
    quat_from_axis_angle,
    quat_from_matrix,
    quat_mul,
    quat_rotate,
    quat_to_hinge3,
)

_Y = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class LegSolution:
    """Hinge angles of one leg over ``F`` frames and how far the target was out of reach.

    Attributes:
        hip: ``(F, 3)`` hip x, y, z angles; knee: ``(F,)``; ankle: ``(F, 3)``.
        reach_error: ``(F,)`` metres by which the ankle target was beyond the leg's reach (0
            when reachable).
    """

    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    reach_error: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame(first: np.ndarray, hint: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(F, 3, 3)`` with columns ``first``, ``hint`` made orthogonal, cross."""
    a = _unit(first)
    b = _unit(hint - np.sum(hint * a, axis=-1, keepdims=True) * a)
    return np.stack([a, b, np.cross(a, b)], axis=-1)


def solve_leg(
    humanoid: HumanoidSpec,
    side: str,
    root_pos: np.ndarray,
    root_rot: np.ndarray,
    ankle_pos: np.ndarray,
    foot_rot: np.ndarray,
    max_knee_extension: float = 0.05,
) -> LegSolution:
    """Hinge angles putting the ``side`` ("right"/"left") ankle at ``ankle_pos``.

    Args:
        humanoid: character (offsets and limits).
        root_pos, root_rot: ``(F, 3)``, ``(F, 4)`` pelvis pose.
        ankle_pos, foot_rot: ``(F, 3)``, ``(F, 4)`` target ankle position and foot rotation.
        max_knee_extension: smallest knee angle (rad) kept, so the knee never locks straight.
    """
    sk = humanoid.skeleton
    thigh, shin, foot = (sk.index(f"{side}_{n}") for n in ("thigh", "shin", "foot"))
    l1 = float(np.linalg.norm(sk.offsets[shin]))
    l2 = float(np.linalg.norm(sk.offsets[foot]))
    hip_pos = root_pos + quat_rotate(root_rot, np.broadcast_to(sk.offsets[thigh], root_pos.shape))
    to_ankle = ankle_pos - hip_pos
    dist = np.linalg.norm(to_ankle, axis=-1)
    max_dist = np.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * np.cos(max_knee_extension))
    reach_error = np.maximum(dist - max_dist, 0.0)
    d = np.clip(dist, abs(l1 - l2) + 1e-6, max_dist)
    knee = np.pi - np.arccos(np.clip((l1**2 + l2**2 - d**2) / (2 * l1 * l2), -1.0, 1.0))
    # ankle in the thigh frame (knee bends about +y, shin swings backwards)
    in_thigh = np.stack([-l2 * np.sin(knee), np.zeros_like(knee), -l1 - l2 * np.cos(knee)], -1)
    forward = quat_rotate(foot_rot, np.broadcast_to([1.0, 0.0, 0.0], (*foot_rot.shape[:-1], 3)))
    target = _frame(to_ankle, forward)
    source = _frame(in_thigh, np.broadcast_to([1.0, 0.0, 0.0], in_thigh.shape))
    thigh_rot = quat_from_matrix(target @ np.swapaxes(source, -1, -2))
    shin_rot = quat_mul(thigh_rot, quat_from_axis_angle(_Y, knee))
    hip_local = quat_mul(quat_conjugate(root_rot), thigh_rot)
    ankle_local = quat_mul(quat_conjugate(shin_rot), foot_rot)
    start = {j.body: j.start for j in humanoid.joints}
    hs, fs = slice(start[thigh], start[thigh] + 3), slice(start[foot], start[foot] + 3)
    return LegSolution(
        hip=quat_to_hinge3(hip_local, humanoid.dof_lower[hs], humanoid.dof_upper[hs]),
        knee=knee,
        ankle=quat_to_hinge3(ankle_local, humanoid.dof_lower[fs], humanoid.dof_upper[fs]),
        reach_error=reach_error,
    )
