"""Physical plausibility of a clip on the humanoid: ground contact, foot sliding, joint limits
and loop closure. Used by the clip generator (which refuses to write clips that fail), by
``motions info`` and by the tests.

Contacts are judged from the foot soles (bottom corners of the MJCF foot boxes): a foot is in
stance in a frame when its lowest corner is below ``contact_height``; its slide in one stance
interval is the largest horizontal distance its sole centre moves from where the stance began.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from imitenvs.motion.clip import MotionClip
from imitenvs.motion.humanoid import HumanoidSpec
from imitenvs.motion.quat import quat_angle, quat_conjugate, quat_mul, wrap_angle


@dataclass(frozen=True)
class ClipQuality:
    """Quality numbers of one clip (metres and radians).

    Attributes:
        min_sole_height: lowest foot-sole point over the clip (negative: under the floor).
        max_stance_slide: largest horizontal slide of a foot during one stance interval.
        max_limit_violation: largest excursion of a hinge beyond its range.
        loop_dof_gap, loop_height_gap, loop_rot_gap: difference between the last and first
            frame's hinge angles, root height and root rotation (0 for clamp clips).
        loop_seam_ratio: second difference across the wrap seam divided by the largest one
            inside the clip (about 1 or less when the loop closes smoothly; 0 for clamp clips).
    """

    min_sole_height: float
    max_stance_slide: float
    max_limit_violation: float
    loop_dof_gap: float
    loop_height_gap: float
    loop_rot_gap: float
    loop_seam_ratio: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def sole_points(clip: MotionClip, humanoid: HumanoidSpec) -> np.ndarray:
    """World sole corners ``(F, 2, 4, 3)`` of both feet over the clip."""
    global_pos, global_rot = clip.global_pose()
    return humanoid.sole_points_world(global_pos, global_rot)


def _contact_intervals(in_contact: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges where ``in_contact`` (F,) is true."""
    edges = np.diff(np.concatenate([[0], in_contact.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def max_stance_slide(soles: np.ndarray, contact_height: float) -> float:
    """Largest horizontal sole-centre slide within one stance interval of either foot."""
    worst = 0.0
    for foot in range(soles.shape[1]):
        centre = soles[:, foot].mean(axis=1)[:, :2]
        lowest = soles[:, foot, :, 2].min(axis=1)
        for start, end in _contact_intervals(lowest < contact_height):
            drift = np.linalg.norm(centre[start:end] - centre[start], axis=-1)
            worst = max(worst, float(drift.max()))
    return worst


def _seam_ratio(values: np.ndarray) -> float:
    """Second difference across the seam (last frame == first) relative to inside the clip."""
    inside = np.abs(np.diff(values, n=2, axis=0)).max()
    seam = np.abs((values[1] - values[0]) - (values[-1] - values[-2])).max()
    return float(seam / max(inside, 1e-9))


def clip_quality(
    clip: MotionClip, humanoid: HumanoidSpec, contact_height: float = 0.01
) -> ClipQuality:
    """Measure a clip of the humanoid (see :class:`ClipQuality`)."""
    soles = sole_points(clip, humanoid)
    over = np.maximum(clip.dof_pos - humanoid.dof_upper, 0.0)
    under = np.maximum(humanoid.dof_lower - clip.dof_pos, 0.0)
    loop = {"loop_dof_gap": 0.0, "loop_height_gap": 0.0, "loop_rot_gap": 0.0,
            "loop_seam_ratio": 0.0}  # fmt: skip
    if clip.loop_mode == "wrap":
        dof = np.unwrap(clip.dof_pos, axis=0)
        rel = quat_mul(quat_conjugate(clip.root_rot[0]), clip.root_rot[-1])
        loop = {
            "loop_dof_gap": float(np.abs(wrap_angle(clip.dof_pos[-1] - clip.dof_pos[0])).max()),
            "loop_height_gap": float(abs(clip.root_pos[-1, 2] - clip.root_pos[0, 2])),
            "loop_rot_gap": float(quat_angle(rel)),
            "loop_seam_ratio": max(_seam_ratio(dof), _seam_ratio(clip.root_pos)),
        }
    return ClipQuality(
        min_sole_height=float(soles[..., 2].min()),
        max_stance_slide=max_stance_slide(soles, contact_height),
        max_limit_violation=float(np.maximum(over, under).max()),
        **loop,
    )


def ground_clip(clip: MotionClip, humanoid: HumanoidSpec, clearance: float = 0.0) -> MotionClip:
    """Shift the clip vertically so its lowest sole point is at height ``clearance``.

    AMP's shipped clips were grounded on the ankle joints, which puts our (and the original)
    foot soles 5 cm under the floor; this moves them onto it.
    """
    lowest = float(sole_points(clip, humanoid)[..., 2].min())
    root_pos = clip.root_pos.copy()
    root_pos[:, 2] += clearance - lowest
    return clip.replace(root_pos=root_pos)
