"""Motion data for the humanoid: skeleton and forward kinematics, clips and file formats, the
motion library, clip generation and playback. See ``docs/motion.md``.

Quaternions are **xyzw** everywhere in this package (see :mod:`imitenvs.motion.quat`).
"""

from imitenvs.motion.clip import MotionClip, load_clip, save_clip
from imitenvs.motion.formats import convert_motion, read_motion
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid
from imitenvs.motion.library import MotionLibrary, MotionState
from imitenvs.motion.skeleton import Skeleton, forward_kinematics

__all__ = [
    "HumanoidSpec",
    "MotionClip",
    "MotionLibrary",
    "MotionState",
    "Skeleton",
    "convert_motion",
    "forward_kinematics",
    "load_clip",
    "load_humanoid",
    "read_motion",
    "save_clip",
]
