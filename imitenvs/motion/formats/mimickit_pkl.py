"""Reader for MimicKit motion ``.pkl`` files (``mimickit/anim/motion.py``).

The file is a pickled dict ``{"loop_mode": 0 (CLAMP) | 1 (WRAP), "fps": number, "frames":
(F, 6 + 28)}``; each frame is ``[root_pos(3), root_rot exp-map(3), dofs(28)]`` for MimicKit's
``humanoid.xml``: ball joints as exponential maps, elbows and knees as angles, in the order
abdomen, neck, right_shoulder, right_elbow, left_shoulder, left_elbow, right_hip, right_knee,
right_ankle, left_hip, left_knee, left_ankle (the same body order as ours). World is z-up.

MimicKit's character has our body offsets except the arms, which rest horizontally (T-pose:
upper arms along -y / +y, elbows about z). Its arm rotations are re-expressed for our
arms-down rest pose by a fixed rotation ``C`` of the arm bodies: ``G_ours = G_mimickit ⊗ C``
for the upper/lower arms and hands, with ``C = qx(-90°)`` on the right and ``qx(+90°)`` on the
left, so every arm segment keeps its world direction. The pickle is read with the restricted
unpickler.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from imitenvs.motion.clip import MotionClip
from imitenvs.motion.formats.safe_unpickle import safe_load_file
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid
from imitenvs.motion.quat import (
    exp_map_to_quat,
    quat_conjugate,
    quat_from_axis_angle,
    quat_mul,
)

MIMICKIT_LOOP_MODES = {0: "clamp", 1: "wrap"}
# (our body name, number of MimicKit dofs, MimicKit hinge axis for 1-DoF joints)
MIMICKIT_JOINTS: tuple[tuple[str, int, tuple[float, float, float]], ...] = (
    ("torso", 3, (0, 0, 0)), ("head", 3, (0, 0, 0)),
    ("right_upper_arm", 3, (0, 0, 0)), ("right_lower_arm", 1, (0, 0, 1)),
    ("left_upper_arm", 3, (0, 0, 0)), ("left_lower_arm", 1, (0, 0, 1)),
    ("right_thigh", 3, (0, 0, 0)), ("right_shin", 1, (0, 1, 0)), ("right_foot", 3, (0, 0, 0)),
    ("left_thigh", 3, (0, 0, 0)), ("left_shin", 1, (0, 1, 0)), ("left_foot", 3, (0, 0, 0)),
)  # fmt: skip
ARM_REST_ROTATION = {"right": -0.5 * math.pi, "left": 0.5 * math.pi}  # about x


def arm_rest_quat(side: str) -> np.ndarray:
    """``C`` for one side: xyzw rotation about x mapping our arm rest pose onto MimicKit's."""
    return quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.array(ARM_REST_ROTATION[side]))


def _joint_quats(frames: np.ndarray) -> dict[str, np.ndarray]:
    quats: dict[str, np.ndarray] = {}
    col = 6
    for body, ndof, axis in MIMICKIT_JOINTS:
        values = frames[:, col : col + ndof]
        if ndof == 3:
            quats[body] = exp_map_to_quat(values)
        else:
            quats[body] = quat_from_axis_angle(np.array(axis, dtype=np.float64), values[:, 0])
        col += ndof
    return quats


def mimickit_to_local_rot(frames: np.ndarray, humanoid: HumanoidSpec) -> np.ndarray:
    """Our local rotations ``(F, J, 4)`` xyzw from MimicKit frames ``(F, 34)``."""
    quats = _joint_quats(frames)
    for side in ("right", "left"):
        c = arm_rest_quat(side)
        upper, lower = f"{side}_upper_arm", f"{side}_lower_arm"
        quats[upper] = quat_mul(quats[upper], c)
        quats[lower] = quat_mul(quat_mul(quat_conjugate(c), quats[lower]), c)
    num = frames.shape[0]
    local = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (num, humanoid.skeleton.num_bodies, 1))
    local[:, 0] = exp_map_to_quat(frames[:, 3:6])
    for body, quat in quats.items():
        local[:, humanoid.skeleton.index(body)] = quat
    return local


def read_mimickit_pkl(path: str | Path, humanoid: HumanoidSpec | None = None) -> MotionClip:
    """Convert a MimicKit humanoid ``.pkl`` motion to a :class:`MotionClip`.

    Raises:
        ValueError: unsafe pickle, missing keys, unknown loop mode or wrong frame width.
    """
    path = Path(path)
    humanoid = humanoid or load_humanoid()
    data = safe_load_file(path)
    if not isinstance(data, dict) or not {"loop_mode", "fps", "frames"} <= set(data):
        raise ValueError(
            f"{path}: not a MimicKit motion (expected a dict with loop_mode, fps, frames)"
        )
    loop = int(data["loop_mode"])
    if loop not in MIMICKIT_LOOP_MODES:
        raise ValueError(f"{path}: loop_mode {loop} unknown; MimicKit uses 0 (clamp), 1 (wrap)")
    frames = np.asarray(data["frames"], dtype=np.float64)
    width = 6 + sum(n for _, n, _ in MIMICKIT_JOINTS)
    if frames.ndim != 2 or frames.shape[1] != width:
        raise ValueError(
            f"{path}: frames have shape {frames.shape}; the MimicKit humanoid needs (F, {width})"
        )
    local_rot = mimickit_to_local_rot(frames, humanoid)
    return humanoid.clip(
        frames[:, 0:3],
        local_rot,
        fps=float(data["fps"]),
        loop_mode=MIMICKIT_LOOP_MODES[loop],
        name=path.stem,
        source=f"MimicKit motion {path.name}",
    )
