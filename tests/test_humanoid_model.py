"""The humanoid MJCF: AMP topology, joints, ranges, PD gains, sensors, solver, collisions."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from imitenvs.motion.formats.amp_npy import amp_skeleton, read_amp_dict
from imitenvs.motion.humanoid import load_humanoid
from imitenvs.motion.quat import quat_from_axis_angle, quat_from_hinge3, xyzw_to_wxyz

BODIES = [
    ("pelvis", None), ("torso", "pelvis"), ("head", "torso"),
    ("right_upper_arm", "torso"), ("right_lower_arm", "right_upper_arm"),
    ("right_hand", "right_lower_arm"), ("left_upper_arm", "torso"),
    ("left_lower_arm", "left_upper_arm"), ("left_hand", "left_lower_arm"),
    ("right_thigh", "pelvis"), ("right_shin", "right_thigh"), ("right_foot", "right_shin"),
    ("left_thigh", "pelvis"), ("left_shin", "left_thigh"), ("left_foot", "left_shin"),
]  # fmt: skip
# IsaacGymEnvs amp_humanoid.xml: (joint, range in degrees, stiffness, damping), DoF order.
JOINTS = [
    ("abdomen_x", -60, 60, 600, 60), ("abdomen_y", -60, 90, 600, 60),
    ("abdomen_z", -50, 50, 600, 60), ("neck_x", -50, 50, 50, 5), ("neck_y", -40, 60, 50, 5),
    ("neck_z", -45, 45, 50, 5), ("right_shoulder_x", -180, 45, 200, 20),
    ("right_shoulder_y", -180, 60, 200, 20), ("right_shoulder_z", -90, 90, 200, 20),
    ("right_elbow", -160, 0, 150, 15), ("left_shoulder_x", -45, 180, 200, 20),
    ("left_shoulder_y", -180, 60, 200, 20), ("left_shoulder_z", -90, 90, 200, 20),
    ("left_elbow", -160, 0, 150, 15), ("right_hip_x", -60, 15, 300, 30),
    ("right_hip_y", -140, 60, 300, 30), ("right_hip_z", -60, 35, 300, 30),
    ("right_knee", 0, 160, 300, 30), ("right_ankle_x", -30, 30, 200, 20),
    ("right_ankle_y", -55, 55, 200, 20), ("right_ankle_z", -40, 40, 200, 20),
    ("left_hip_x", -15, 60, 300, 30), ("left_hip_y", -140, 60, 300, 30),
    ("left_hip_z", -35, 60, 300, 30), ("left_knee", 0, 160, 300, 30),
    ("left_ankle_x", -30, 30, 200, 20), ("left_ankle_y", -55, 55, 200, 20),
    ("left_ankle_z", -40, 40, 200, 20),
]  # fmt: skip
TOTAL_MASS = 50.5  # documented in the MJCF header and docs/motion.md


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(load_humanoid().xml_path))


def _name(model: mujoco.MjModel, kind: mujoco.mjtObj, index: int) -> str:
    return mujoco.mj_id2name(model, kind, index)


def test_bodies_and_parents_match_amp(model: mujoco.MjModel) -> None:
    names = [_name(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, model.nbody)]
    assert names == [b for b, _ in BODIES]
    for b, (_, parent) in enumerate(BODIES, start=1):
        parent_name = _name(model, mujoco.mjtObj.mjOBJ_BODY, model.body_parentid[b])
        assert parent_name == (parent or "world")


def test_free_root_and_hinges_with_amp_ranges_and_pd_gains(model: mujoco.MjModel) -> None:
    assert model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert model.jnt_bodyid[0] == 1  # the pelvis
    assert model.nq == 7 + 28 and model.nu == 28
    spec = load_humanoid()
    assert spec.dof_names == tuple(j[0] for j in JOINTS)
    expected = np.array([j[1:] for j in JOINTS], dtype=float)
    np.testing.assert_allclose(np.degrees(spec.dof_lower), expected[:, 0], atol=1e-9)
    np.testing.assert_allclose(np.degrees(spec.dof_upper), expected[:, 1], atol=1e-9)
    np.testing.assert_allclose(spec.kp, expected[:, 2])
    np.testing.assert_allclose(spec.kv, expected[:, 3])
    for a in range(model.nu):  # position actuators: force = kp (ctrl - q) - kv qdot
        assert model.actuator_biastype[a] == mujoco.mjtBias.mjBIAS_AFFINE
        assert model.actuator_gainprm[a, 0] == -model.actuator_biasprm[a, 1]
        joint = _name(model, mujoco.mjtObj.mjOBJ_JOINT, model.actuator_trnid[a, 0])
        assert joint == JOINTS[a][0] == _name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a)


def test_body_offsets_match_the_amp_clip_skeleton(shared_data) -> None:
    path = shared_data / "motions" / "amp" / "amp_humanoid_walk.npy"
    clip_skeleton = amp_skeleton(read_amp_dict(path), path)
    ours = load_humanoid().skeleton
    assert clip_skeleton.names == ours.names
    np.testing.assert_array_equal(clip_skeleton.parents, ours.parents)
    np.testing.assert_allclose(clip_skeleton.offsets[1:], ours.offsets[1:], atol=1e-6)


def test_three_hinge_joints_compose_x_then_y_then_z(model: mujoco.MjModel) -> None:
    spec = load_humanoid()
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    data.qpos[7:] = rng.uniform(-1.0, 1.0, 28)
    mujoco.mj_kinematics(model, data)
    for joint in spec.joints:
        body = joint.body + 1  # MuJoCo body id (0 is the world)
        parent = model.body_parentid[body]
        angles = data.qpos[7 + joint.start : 7 + joint.start + joint.num_dofs]
        if joint.num_dofs == 3:
            local = quat_from_hinge3(angles)
        else:
            local = quat_from_axis_angle(joint.axis, angles[0])
        expected = np.empty(4)
        mujoco.mju_mulQuat(expected, data.xquat[parent], xyzw_to_wxyz(local))
        assert abs(abs(np.dot(expected, data.xquat[body])) - 1.0) < 1e-10, joint.name


def test_key_bodies_feet_sensors_solver_and_keyframe(model: mujoco.MjModel) -> None:
    spec = load_humanoid()
    assert spec.key_body_names == ("right_hand", "left_hand", "right_foot", "left_foot")
    assert model.opt.solver == mujoco.mjtSolver.mjSOL_NEWTON  # MuJoCo Warp: no PGS
    assert model.opt.noslip_iterations == 0
    assert model.opt.integrator in (mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
                                    mujoco.mjtIntegrator.mjINT_EULER)  # fmt: skip
    touch = [
        s for s in range(model.nsensor) if model.sensor_type[s] == mujoco.mjtSensor.mjSENS_TOUCH
    ]
    feet = {_name(model, mujoco.mjtObj.mjOBJ_BODY, model.site_bodyid[model.sensor_objid[s]])
            for s in touch}  # fmt: skip
    assert feet == {"right_foot", "left_foot"}
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    assert model.geom_type[floor] == mujoco.mjtGeom.mjGEOM_PLANE
    assert model.body_subtreemass[1] == pytest.approx(TOTAL_MASS)
    geom_types = {int(t) for t in model.geom_type}
    allowed = {mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_SPHERE,
               mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_BOX}  # fmt: skip
    assert geom_types <= {int(a) for a in allowed}
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(
        model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "stand")
    )
    mujoco.mj_kinematics(model, data)
    qpos = data.qpos[7:]
    assert np.all((qpos >= spec.dof_lower) & (qpos <= spec.dof_upper))
    soles = spec.sole_points_world(data.xpos[None, 1:], data.xquat[None, 1:, [1, 2, 3, 0]])
    assert 0.0 <= soles[..., 2].min() <= 0.01


def _collides(model: mujoco.MjModel, g1: int, g2: int) -> bool:
    b1, b2 = sorted((model.geom_bodyid[g1], model.geom_bodyid[g2]))
    if b1 == b2 or (b1 != 0 and model.body_parentid[b2] == b1):
        return False  # same body or parent-child (not the world): filtered by MuJoCo
    return bool(model.geom_contype[g1] & model.geom_conaffinity[g2]
                or model.geom_contype[g2] & model.geom_conaffinity[g1])  # fmt: skip


def test_contacts_only_with_floor_and_between_legs(model: mujoco.MjModel) -> None:
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    body_name = {g: _name(model, mujoco.mjtObj.mjOBJ_BODY, model.geom_bodyid[g])
                 for g in range(model.ngeom)}  # fmt: skip

    def leg(g: int) -> str | None:
        name = body_name[g]
        if any(part in name for part in ("thigh", "shin", "foot")):
            return name.split("_")[0]
        return None

    for g1 in range(model.ngeom):
        for g2 in range(g1 + 1, model.ngeom):
            expected = floor in (g1, g2) or (
                leg(g1) is not None and leg(g2) is not None and leg(g1) != leg(g2)
            )
            assert _collides(model, g1, g2) == expected, (body_name[g1], body_name[g2])


def test_pd_holds_the_standing_pose(model: mujoco.MjModel) -> None:
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    data.ctrl[:] = data.qpos[7:]
    mujoco.mj_step(model, data, nstep=60)  # 0.5 s
    assert data.qpos[2] > 0.85
    assert np.all(np.isfinite(data.qpos))
    touch = data.sensordata
    assert touch.sum() == pytest.approx(model.body_subtreemass[1] * 9.81, rel=0.1)


@pytest.mark.slow
def test_loads_and_steps_in_mujoco_warp(model: mujoco.MjModel) -> None:
    mjw = pytest.importorskip("mujoco_warp")
    wp = pytest.importorskip("warp")
    wp.set_device("cpu")
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    warp_model = mjw.put_model(model)
    warp_data = mjw.put_data(model, data, nworld=2, nconmax=64, njmax=256)
    for _ in range(10):
        mjw.step(warp_model, warp_data)
    reference = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, reference, 0)
    mujoco.mj_step(model, reference, nstep=10)
    np.testing.assert_allclose(warp_data.qpos.numpy()[0], reference.qpos, atol=1e-3)  # float32
