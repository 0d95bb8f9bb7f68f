"""Reader for AMP / poselib ``SkeletonMotion`` ``.npy`` files (IsaacGymEnvs, NEAR).

The file is ``np.save`` of a pickled dict (poselib ``SkeletonMotion.to_dict``)::

    rotation                {arr: (F, J, 4) local quaternions xyzw}   (body 0: root in world)
    root_translation        {arr: (F, 3)}
    global_velocity         {arr: (F, J, 3)}  # smoothed finite differences, m/s
    global_angular_velocity {arr: (F, J, 3)}
    skeleton_tree           {node_names, parent_indices {arr}, local_translation {arr (J, 3)}}
    is_local, fps, __name__ = "SkeletonMotion"

It is read with the restricted unpickler (numpy arrays and plain containers only). The skeleton
must be the AMP humanoid's (same body names, parents and offsets as our MJCF): the clips then
play on our character without retargeting. poselib clips do not say whether they loop; they are
read as ``"clamp"``, as IsaacGymEnvs' motion library clips the phase to ``[0, 1]`` (the shipped
clips are not cyclic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.motion.clip import MotionClip
from imitenvs.motion.formats.safe_unpickle import safe_load_npy
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid
from imitenvs.motion.skeleton import Skeleton


def _array(tree: dict[str, Any], key: str, path: Path) -> np.ndarray:
    value = tree.get(key)
    if isinstance(value, dict):
        value = value.get("arr")
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{path}: poselib field {key!r} is missing or not an array")
    return value


def read_amp_dict(path: str | Path) -> dict[str, Any]:
    """The raw poselib dict of an AMP ``.npy`` file, loaded safely (arrays as stored)."""
    path = Path(path)
    data = safe_load_npy(path)
    if not isinstance(data, dict) or "skeleton_tree" not in data or "rotation" not in data:
        raise ValueError(
            f"{path}: not a poselib SkeletonMotion file (expected a dict with "
            f"'rotation' and 'skeleton_tree', got {type(data).__name__})"
        )
    if not data.get("is_local", True):
        raise ValueError(f"{path}: global-rotation SkeletonMotion files are not supported")
    return data


def amp_skeleton(data: dict[str, Any], path: Path) -> Skeleton:
    """The skeleton stored in a poselib dict."""
    tree = data["skeleton_tree"]
    names = tree.get("node_names")
    if not isinstance(names, list | tuple):
        raise ValueError(f"{path}: skeleton_tree.node_names missing")
    return Skeleton(
        tuple(names), _array(tree, "parent_indices", path), _array(tree, "local_translation", path)
    )


def read_amp_npy(path: str | Path, humanoid: HumanoidSpec | None = None) -> MotionClip:
    """Convert an AMP poselib ``.npy`` clip to a :class:`MotionClip` of the AMP humanoid.

    Raises:
        ValueError: not a SkeletonMotion, unsafe pickle, or a skeleton other than the humanoid's.
    """
    path = Path(path)
    humanoid = humanoid or load_humanoid()
    data = read_amp_dict(path)
    skeleton = amp_skeleton(data, path)
    if not skeleton.matches(humanoid.skeleton, atol=1e-4):
        raise ValueError(
            f"{path}: its skeleton {skeleton.names} does not match the AMP humanoid's bodies, "
            "parents and offsets; retarget it to the AMP humanoid first"
        )
    local_rot = _array(data, "rotation", path).astype(np.float64)
    root_pos = _array(data, "root_translation", path).astype(np.float64)
    fps = float(np.asarray(data.get("fps", 0)))
    return humanoid.clip(
        root_pos,
        local_rot,
        fps=fps,
        loop_mode="clamp",
        name=path.stem,
        source=f"AMP poselib SkeletonMotion {path.name}",
    )
