"""The canonical motion clip of imitenvs and its ``.npz`` file format (no pickle).

A clip samples a skeleton's pose at ``fps`` frames per second; frame ``i`` is at time ``i / fps``
and the clip lasts ``(F - 1) / fps`` seconds. ``loop_mode`` says what happens past the end:
``"clamp"`` holds the last frame, ``"wrap"`` starts over, with the root shifted horizontally by
the clip's root displacement each cycle (so a wrap clip's last frame repeats its first pose).

File format (``np.savez``-compatible zip of ``.npy`` members, every member a plain array, read
with ``allow_pickle=False``; quaternions **xyzw**):

===============  ==============  ===================================================
key              shape / dtype   meaning
===============  ==============  ===================================================
format_version   () int64        :data:`FORMAT_VERSION`
name, source     () str          clip name; where it came from (free text)
fps              () float64      frames per second
loop_mode        () str          ``"clamp"`` or ``"wrap"``
root_pos         (F, 3) float32  root (pelvis) position, metres, z up
root_rot         (F, 4) float32  root rotation in the world (= ``local_rot[:, 0]``)
local_rot        (F, J, 4) f32   body rotations relative to the parent (body 0: world)
dof_pos          (F, D) float32  the character's hinge angles (radians), MuJoCo order
dof_names        (D,) str        hinge names
body_names       (J,) str        skeleton bodies
parents          (J,) int64      parent index per body (-1 for the root)
offsets          (J, 3) float64  body origin in the parent frame, metres
===============  ==============  ===================================================
"""

from __future__ import annotations

import dataclasses
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imitenvs.core.checks import check_choice
from imitenvs.core.files import atomic_writer
from imitenvs.core.npz import read_npz
from imitenvs.motion.quat import quat_normalize, quat_slerp, wrap_angle
from imitenvs.motion.skeleton import Skeleton, forward_kinematics

FORMAT_VERSION = 1
LOOP_MODES: tuple[str, ...] = ("clamp", "wrap")
_REQUIRED_KEYS = (
    "format_version", "name", "source", "fps", "loop_mode", "root_pos", "root_rot", "local_rot",
    "dof_pos", "dof_names", "body_names", "parents", "offsets",
)  # fmt: skip
_KINDS = {
    "format_version": "iu", "name": "U", "source": "U", "fps": "fiu", "loop_mode": "U",
    "root_pos": "f", "root_rot": "f", "local_rot": "f", "dof_pos": "f", "dof_names": "U",
    "body_names": "U", "parents": "iu", "offsets": "f",
}  # fmt: skip
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: same clip, same bytes


@dataclass(frozen=True, eq=False)
class MotionClip:
    """One motion clip of a skeleton (arrays float64; quaternions xyzw).

    Attributes:
        fps: frames per second (> 0).
        loop_mode: ``"clamp"`` or ``"wrap"``.
        root_pos: ``(F, 3)`` root positions, ``F >= 2``.
        local_rot: ``(F, J, 4)`` unit quaternions; ``local_rot[:, 0]`` is the root rotation.
        dof_pos: ``(F, D)`` hinge angles of the character (radians).
        skeleton: the skeleton the rotations refer to.
        dof_names: ``D`` hinge names.
        name, source: label and provenance.
    """

    fps: float
    loop_mode: str
    root_pos: np.ndarray
    local_rot: np.ndarray
    dof_pos: np.ndarray
    skeleton: Skeleton
    dof_names: tuple[str, ...]
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        fps = float(self.fps)
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive finite number, got {self.fps!r}")
        check_choice("loop_mode", self.loop_mode, LOOP_MODES)
        root_pos = np.array(self.root_pos, dtype=np.float64)
        local_rot = np.array(self.local_rot, dtype=np.float64)
        dof_pos = np.array(self.dof_pos, dtype=np.float64)
        dof_names = tuple(str(n) for n in self.dof_names)
        num, joints = len(root_pos), self.skeleton.num_bodies
        expected = {"root_pos": (num, 3), "local_rot": (num, joints, 4),
                    "dof_pos": (num, len(dof_names))}  # fmt: skip
        for key, arr in (("root_pos", root_pos), ("local_rot", local_rot), ("dof_pos", dof_pos)):
            if arr.shape != expected[key]:
                raise ValueError(f"{key} has shape {arr.shape}, expected {expected[key]}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{key} contains NaN or infinite values")
        if num < 2:
            raise ValueError(f"a clip needs at least 2 frames, got {num}")
        norms = np.linalg.norm(local_rot, axis=-1)
        if np.max(np.abs(norms - 1.0)) > 1e-2:
            raise ValueError(
                f"local_rot must hold unit quaternions; norms range "
                f"[{norms.min():.4f}, {norms.max():.4f}]"
            )
        for arr in (root_pos, dof_pos):
            arr.setflags(write=False)
        local_rot = quat_normalize(local_rot)
        local_rot.setflags(write=False)
        for key, value in (
            ("fps", fps),
            ("root_pos", root_pos),
            ("local_rot", local_rot),
            ("dof_pos", dof_pos),
            ("dof_names", dof_names),
        ):
            object.__setattr__(self, key, value)

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds, ``(F - 1) / fps``."""
        return (self.num_frames - 1) / self.fps

    @property
    def root_rot(self) -> np.ndarray:
        """``(F, 4)`` xyzw root rotations."""
        return self.local_rot[:, 0]

    def global_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World body positions ``(F, J, 3)`` and rotations ``(F, J, 4)`` by forward kinematics."""
        return forward_kinematics(self.skeleton, self.root_pos, self.local_rot)

    def replace(self, **changes: object) -> MotionClip:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def resample(clip: MotionClip, times: np.ndarray, fps: float) -> MotionClip:
    """Re-time a clip whose frame ``i`` is at ``times[i]`` onto a uniform ``fps`` grid.

    Root positions and hinge angles are interpolated linearly (angles along the shorter way),
    rotations by slerp. ``times`` must increase strictly.
    """
    times = np.asarray(times, dtype=np.float64)
    if times.shape != (clip.num_frames,) or np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing, one per frame")
    num = math.floor((times[-1] - times[0]) * fps + 1e-6) + 1
    new_t = times[0] + np.arange(num) / fps
    i0 = np.clip(np.searchsorted(times, new_t, side="right") - 1, 0, clip.num_frames - 2)
    w = np.clip((new_t - times[i0]) / (times[i0 + 1] - times[i0]), 0.0, 1.0)
    lerp = clip.root_pos[i0] + w[:, None] * (clip.root_pos[i0 + 1] - clip.root_pos[i0])
    dof = clip.dof_pos[i0] + w[:, None] * wrap_angle(clip.dof_pos[i0 + 1] - clip.dof_pos[i0])
    rot = quat_slerp(
        clip.local_rot[i0],
        clip.local_rot[i0 + 1],
        np.repeat(w[:, None], clip.skeleton.num_bodies, 1),
    )
    return clip.replace(fps=fps, root_pos=lerp, local_rot=rot, dof_pos=wrap_angle(dof))


def save_clip(clip: MotionClip, path: str | Path) -> Path:
    """Write ``clip`` to ``path`` (``.npz``) in the canonical format; returns the path.

    The zip is written deterministically (fixed timestamps, member order), so regenerating a
    clip gives byte-identical files on the same platform.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"canonical clips are .npz files, got {path.name!r}")
    members = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "name": np.array(clip.name),
        "source": np.array(clip.source),
        "fps": np.array(clip.fps, dtype=np.float64),
        "loop_mode": np.array(clip.loop_mode),
        "root_pos": clip.root_pos.astype(np.float32),
        "root_rot": clip.root_rot.astype(np.float32),
        "local_rot": clip.local_rot.astype(np.float32),
        "dof_pos": clip.dof_pos.astype(np.float32),
        "dof_names": np.array(clip.dof_names, dtype=str),
        "body_names": np.array(clip.skeleton.names, dtype=str),
        "parents": clip.skeleton.parents.astype(np.int64),
        "offsets": clip.skeleton.offsets.astype(np.float64),
    }
    with atomic_writer(path) as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return path


def load_clip(path: str | Path) -> MotionClip:
    """Read a canonical ``.npz`` clip (never unpickles; object arrays are refused).

    Raises:
        ValueError: not a canonical clip (missing keys, wrong version, inconsistent arrays).
    """
    path = Path(path)
    arrays = read_npz(path, _KINDS, required=_REQUIRED_KEYS)
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {version}; this imitenvs reads {FORMAT_VERSION}")
    if not np.allclose(arrays["root_rot"], arrays["local_rot"][:, 0], atol=1e-5):
        raise ValueError(f"{path}: root_rot differs from local_rot[:, 0]")
    skeleton = Skeleton(tuple(arrays["body_names"].tolist()), arrays["parents"], arrays["offsets"])
    return MotionClip(
        fps=float(arrays["fps"]),
        loop_mode=str(arrays["loop_mode"]),
        root_pos=arrays["root_pos"],
        local_rot=arrays["local_rot"],
        dof_pos=arrays["dof_pos"],
        skeleton=skeleton,
        dof_names=tuple(arrays["dof_names"].tolist()),
        name=str(arrays["name"]),
        source=str(arrays["source"]),
    )
