"""The AMP humanoid character, read from its MJCF (``assets/humanoid/amp_humanoid.xml``).

The MJCF is the single source of truth: :func:`load_humanoid` reads bodies, offsets, hinge
joints, ranges and PD gains from the compiled MuJoCo model, and :class:`HumanoidSpec` converts
between the skeleton's local rotations (xyzw) and the 28 hinge angles (MuJoCo's DoF order).

Joint layout (IsaacGymEnvs ``humanoid_amp_base.py`` DoF order; ``(3)`` = hinges about
local x, y, z in that order, composed intrinsically, see :func:`.quat.quat_from_hinge3`)::

    abdomen(3) neck(3) right_shoulder(3) right_elbow(1, y) left_shoulder(3) left_elbow(1, y)
    right_hip(3) right_knee(1, y) right_ankle(3) left_hip(3) left_knee(1, y) left_ankle(3)

MuJoCo ``qpos`` is ``[root_pos(3), root_quat(4, **wxyz**), dof_pos(28)]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.motion._xp import asarray, namespace, to_numpy
from imitenvs.motion.clip import MotionClip
from imitenvs.motion.quat import (
    quat_from_axis_angle,
    quat_from_hinge3,
    quat_rotate,
    quat_to_hinge3,
    quat_twist_angle,
    wxyz_to_xyzw,
    xyzw_to_wxyz,
)
from imitenvs.motion.skeleton import Skeleton

Array = Any  # numpy.ndarray or torch.Tensor

KEY_BODY_NAMES: tuple[str, ...] = ("right_hand", "left_hand", "right_foot", "left_foot")
FOOT_BODY_NAMES: tuple[str, ...] = ("right_foot", "left_foot")
_XYZ = np.eye(3)


def default_xml_path() -> Path:
    """Path of the shipped humanoid MJCF."""
    from imitenvs.assets import asset_path

    return asset_path("humanoid", "amp_humanoid.xml")


@dataclass(frozen=True, eq=False)
class JointGroup:
    """The hinges of one body: three (x, y, z: a ball joint) or one (about ``axis``).

    Attributes:
        name: joint name (``"right_shoulder"``, ``"right_elbow"``...).
        body: skeleton index of the body the hinges move.
        start: index of its first hinge in the DoF vector; num_dofs: 3 or 1.
        axis: ``(3,)`` hinge axis in the body frame (the first hinge's for ball joints).
    """

    name: str
    body: int
    start: int
    num_dofs: int
    axis: np.ndarray


@dataclass(frozen=True, eq=False)
class HumanoidSpec:
    """Skeleton, joints, limits and PD gains of the humanoid (arrays in radians / SI units).

    Attributes:
        skeleton: 15 bodies with MJCF offsets.
        joints: per actuated body, its hinge group (DoF order).
        dof_names: ``D = 28`` hinge names; ``dof_lower``/``dof_upper`` ``(D,)`` ranges;
        kp, kv, force_limit: ``(D,)`` position-actuator gains and torque caps.
        key_body_names: hands and feet, in AMP order.
        foot_body_names: right and left foot.
        sole_points: ``(2, 4, 3)`` bottom corners of each foot's box geom in the foot frame.
        xml_path: the MJCF read.
    """

    skeleton: Skeleton
    joints: tuple[JointGroup, ...]
    dof_names: tuple[str, ...]
    dof_lower: np.ndarray
    dof_upper: np.ndarray
    kp: np.ndarray
    kv: np.ndarray
    force_limit: np.ndarray
    key_body_names: tuple[str, ...]
    foot_body_names: tuple[str, ...]
    sole_points: np.ndarray
    xml_path: Path

    @property
    def num_dofs(self) -> int:
        return len(self.dof_names)

    @property
    def key_body_ids(self) -> np.ndarray:
        return np.array([self.skeleton.index(n) for n in self.key_body_names], dtype=np.int64)

    @property
    def foot_body_ids(self) -> np.ndarray:
        return np.array([self.skeleton.index(n) for n in self.foot_body_names], dtype=np.int64)

    def sole_points_world(self, global_pos: Array, global_rot: Array) -> Array:
        """World positions ``(..., 2, 4, 3)`` of the foot soles' corners.

        Args:
            global_pos, global_rot: ``(..., J, 3)`` / ``(..., J, 4)`` body poses (forward
                kinematics).
        """
        ids = self.foot_body_ids
        points = asarray(self.sole_points, global_pos)
        pos = global_pos[..., ids, None, :]
        rot = global_rot[..., ids, None, :]
        return pos + quat_rotate(rot, points)

    def dof_to_local_rot(self, dof_pos: Array, root_rot: Array) -> Array:
        """Local rotations ``(..., J, 4)`` xyzw from hinge angles ``(..., D)`` and root rotation."""
        xp = namespace(dof_pos, root_rot)
        identity = asarray([0.0, 0.0, 0.0, 1.0], root_rot) + 0.0 * root_rot
        local = [identity] * self.skeleton.num_bodies
        local[0] = root_rot
        for joint in self.joints:
            if joint.num_dofs == 3:
                local[joint.body] = quat_from_hinge3(dof_pos[..., joint.start : joint.start + 3])
            else:
                axis = asarray(joint.axis, dof_pos)
                local[joint.body] = quat_from_axis_angle(axis, dof_pos[..., joint.start])
        return xp.stack(local, axis=-2)

    def clip(
        self,
        root_pos: np.ndarray,
        local_rot: np.ndarray,
        *,
        fps: float,
        loop_mode: str,
        name: str,
        source: str,
    ) -> MotionClip:
        """A clip of this humanoid from root positions ``(F, 3)`` and local rotations
        ``(F, J, 4)`` xyzw; the hinge angles are derived (:meth:`local_rot_to_dof`)."""
        return MotionClip(
            fps=fps,
            loop_mode=loop_mode,
            root_pos=root_pos,
            local_rot=local_rot,
            dof_pos=self.local_rot_to_dof(local_rot),
            skeleton=self.skeleton,
            dof_names=self.dof_names,
            name=name,
            source=source,
        )

    def local_rot_to_dof(self, local_rot: Array) -> Array:
        """Hinge angles ``(..., D)`` from local rotations ``(..., J, 4)`` xyzw.

        Ball joints use the exact x-y-z decomposition (the branch closer to the joint limits);
        1-DoF joints take the twist about their axis (other rotation components are dropped).
        """
        xp = namespace(local_rot)
        parts = []
        for joint in self.joints:
            q = local_rot[..., joint.body, :]
            if joint.num_dofs == 3:
                sl = slice(joint.start, joint.start + 3)
                parts.append(quat_to_hinge3(q, self.dof_lower[sl], self.dof_upper[sl]))
            else:
                parts.append(quat_twist_angle(q, joint.axis)[..., None])
        return xp.concat(parts, axis=-1)

    def qpos(self, root_pos: Array, root_rot: Array, dof_pos: Array) -> np.ndarray:
        """MuJoCo ``qpos (..., 7 + D)``: root position, root quaternion **wxyz**, hinge angles."""
        parts = [to_numpy(root_pos), to_numpy(xyzw_to_wxyz(root_rot)), to_numpy(dof_pos)]
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=-1)


def _joint_groups(model: Any, mujoco: Any) -> tuple[list[JointGroup], list[str]]:
    """Group the hinges by body (consecutive in MuJoCo's DoF order)."""
    hinges = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in hinges]
    groups: list[JointGroup] = []
    start = 0
    while start < len(hinges):
        body = int(model.jnt_bodyid[hinges[start]])
        count = sum(1 for j in hinges[start:] if int(model.jnt_bodyid[j]) == body)
        axes = np.array(model.jnt_axis[hinges[start : start + count]], dtype=np.float64)
        if count not in (1, 3) or (count == 3 and not np.allclose(axes, _XYZ)):
            raise ValueError(
                f"body of joint {names[start]!r} has {count} hinges with axes {axes.tolist()}; "
                "expected one hinge or three about local x, y, z in that order"
            )
        name = names[start].rsplit("_", 1)[0] if count == 3 else names[start]
        groups.append(JointGroup(name, body - 1, start, count, axes[0]))
        start += count
    return groups, names


def _sole_points(model: Any, mujoco: Any, body_names: tuple[str, ...]) -> np.ndarray:
    """Bottom corners of the (single) box geom of each named body, in the body frame."""
    points = []
    for name in body_names:
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        boxes = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body
                 and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX]  # fmt: skip
        if len(boxes) != 1:
            raise ValueError(f"foot body {name!r} needs exactly one box geom, found {len(boxes)}")
        g = boxes[0]
        sx, sy, sz = model.geom_size[g]
        local = np.array([[x, y, -sz] for x in (-sx, sx) for y in (-sy, sy)])
        quat = wxyz_to_xyzw(np.array(model.geom_quat[g], dtype=np.float64))
        points.append(model.geom_pos[g] + quat_rotate(np.broadcast_to(quat, (4, 4)), local))
    return np.array(points)


@functools.lru_cache(maxsize=4)
def load_humanoid(xml_path: str | Path | None = None) -> HumanoidSpec:
    """Read the humanoid's skeleton, joints and PD gains from its MJCF (cached per path)."""
    import mujoco

    path = Path(xml_path) if xml_path is not None else default_xml_path()
    model = mujoco.MjModel.from_xml_path(str(path))
    bodies = range(1, model.nbody)
    skeleton = Skeleton(
        names=tuple(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in bodies),
        parents=np.array([int(model.body_parentid[b]) - 1 for b in bodies]),
        offsets=np.array(model.body_pos[1:], dtype=np.float64),
    )
    groups, dof_names = _joint_groups(model, mujoco)
    hinge_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in dof_names]
    by_joint = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)}
    missing = [n for n, j in zip(dof_names, hinge_ids, strict=True) if j not in by_joint]
    if missing:
        raise ValueError(f"{path}: hinges without a position actuator: {missing}")
    acts = [by_joint[j] for j in hinge_ids]
    limits = np.array(model.jnt_range[hinge_ids], dtype=np.float64)
    arrays = {
        "dof_lower": limits[:, 0],
        "dof_upper": limits[:, 1],
        "kp": np.array(model.actuator_gainprm[acts, 0], dtype=np.float64),
        "kv": -np.array(model.actuator_biasprm[acts, 2], dtype=np.float64),
        "force_limit": np.array(model.actuator_forcerange[acts, 1], dtype=np.float64),
    }
    arrays["sole_points"] = _sole_points(model, mujoco, FOOT_BODY_NAMES)
    for value in arrays.values():
        value.setflags(write=False)
    return HumanoidSpec(
        skeleton=skeleton,
        joints=tuple(groups),
        dof_names=tuple(dof_names),
        key_body_names=KEY_BODY_NAMES,
        foot_body_names=FOOT_BODY_NAMES,
        xml_path=path,
        **arrays,
    )
