"""Reader for DeepMimic motion ``.txt`` files (JSON; ``data/motions/humanoid3d_*.txt``).

Format: ``{"Loop": "wrap" | "none", "Frames": [[duration, root_pos(3), root_rot(4), joints...]]}``
with **y up**, quaternions **wxyz**, and per-frame durations (seconds to the next frame; the
last is usually 0). The 13 moving joints of ``humanoid3d`` in frame order, with the body of our
character each drives::

    chest(4)->torso  neck(4)->head  right_hip(4)->right_thigh  right_knee(1)->right_shin
    right_ankle(4)->right_foot  right_shoulder(4)->right_upper_arm  right_elbow(1)->right_lower_arm
    left_hip(4)->left_thigh  left_knee(1)->left_shin  left_ankle(4)->left_foot
    left_shoulder(4)->left_upper_arm  left_elbow(1)->left_lower_arm

The wrists are fixed in DeepMimic, so our hands are held at the identity. ``humanoid3d`` has our
body offsets in a y-up frame (x forward, z right); ``C = qx(+90°)`` maps it onto ours (z up,
y left): positions ``p' = C p``, every rotation ``q' = C ⊗ q ⊗ C⁻¹``. Revolute joints turn about
DeepMimic's z, i.e. about our -y. Non-uniform frame durations are resampled to a uniform rate.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from imitenvs.motion.clip import MotionClip, resample
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid
from imitenvs.motion.quat import (
    quat_conjugate,
    quat_from_axis_angle,
    quat_mul,
    quat_normalize,
    quat_rotate,
    wxyz_to_xyzw,
)

DEEPMIMIC_LOOP_MODES = {"wrap": "wrap", "none": "clamp"}
# (our body, DeepMimic joint, values per frame)
DEEPMIMIC_JOINTS: tuple[tuple[str, str, int], ...] = (
    ("torso", "chest", 4), ("head", "neck", 4),
    ("right_thigh", "right_hip", 4), ("right_shin", "right_knee", 1),
    ("right_foot", "right_ankle", 4), ("right_upper_arm", "right_shoulder", 4),
    ("right_lower_arm", "right_elbow", 1),
    ("left_thigh", "left_hip", 4), ("left_shin", "left_knee", 1),
    ("left_foot", "left_ankle", 4), ("left_upper_arm", "left_shoulder", 4),
    ("left_lower_arm", "left_elbow", 1),
)  # fmt: skip
FRAME_WIDTH = 1 + 3 + 4 + sum(n for _, _, n in DEEPMIMIC_JOINTS)
Y_UP_TO_Z_UP = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.array(0.5 * math.pi))


def _to_z_up(q: np.ndarray) -> np.ndarray:
    return quat_mul(quat_mul(Y_UP_TO_Z_UP, q), quat_conjugate(Y_UP_TO_Z_UP))


def _parse(path: Path) -> tuple[str, np.ndarray]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a DeepMimic JSON motion ({exc})") from exc
    if not isinstance(data, dict) or "Frames" not in data:
        raise ValueError(f"{path}: not a DeepMimic motion (no 'Frames' list)")
    loop = str(data.get("Loop", "none")).lower()
    if loop not in DEEPMIMIC_LOOP_MODES:
        raise ValueError(
            f"{path}: Loop {loop!r} unknown; expected one of {sorted(DEEPMIMIC_LOOP_MODES)}"
        )
    frames = np.asarray(data["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH:
        raise ValueError(
            f"{path}: frames have shape {frames.shape}; the humanoid3d character "
            f"needs (F, {FRAME_WIDTH})"
        )
    return DEEPMIMIC_LOOP_MODES[loop], frames


def deepmimic_to_local_rot(frames: np.ndarray, humanoid: HumanoidSpec) -> np.ndarray:
    """Our local rotations ``(F, J, 4)`` xyzw from DeepMimic frames ``(F, 44)``."""
    num = frames.shape[0]
    local = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (num, humanoid.skeleton.num_bodies, 1))
    local[:, 0] = _to_z_up(quat_normalize(wxyz_to_xyzw(frames[:, 4:8])))
    revolute_axis = np.array([0.0, 0.0, 1.0])
    col = 8
    for body, _, width in DEEPMIMIC_JOINTS:
        values = frames[:, col : col + width]
        if width == 4:
            q = quat_normalize(wxyz_to_xyzw(values))
        else:
            q = quat_from_axis_angle(revolute_axis, values[:, 0])
        local[:, humanoid.skeleton.index(body)] = _to_z_up(q)
        col += width
    return local


def read_deepmimic_txt(path: str | Path, humanoid: HumanoidSpec | None = None) -> MotionClip:
    """Convert a DeepMimic ``humanoid3d`` motion to a :class:`MotionClip` (z up, xyzw).

    Raises:
        ValueError: not JSON, unknown loop mode, wrong frame width, non-positive durations.
    """
    path = Path(path)
    humanoid = humanoid or load_humanoid()
    loop_mode, frames = _parse(path)
    durations = frames[:-1, 0]
    if np.any(durations <= 0):
        raise ValueError(f"{path}: frame durations must be positive (except the last)")
    local_rot = deepmimic_to_local_rot(frames, humanoid)
    root_pos = quat_rotate(np.broadcast_to(Y_UP_TO_Z_UP, (len(frames), 4)), frames[:, 1:4])
    uniform = np.allclose(durations, durations[0], rtol=1e-4)
    clip = humanoid.clip(
        root_pos,
        local_rot,
        fps=1.0 / float(durations[0] if uniform else np.median(durations)),
        loop_mode=loop_mode,
        name=path.stem,
        source=f"DeepMimic motion {path.name}",
    )
    if uniform:
        return clip
    times = np.concatenate([[0.0], np.cumsum(durations)])
    return resample(clip, times, fps=round(clip.fps))
