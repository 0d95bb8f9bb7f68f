"""Quaternion utilities (xyzw) and forward kinematics, on numpy and torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imitenvs.motion import quat as Q
from imitenvs.motion.humanoid import load_humanoid
from imitenvs.motion.skeleton import Skeleton, forward_kinematics


def random_quats(n: int, seed: int = 0) -> np.ndarray:
    return Q.quat_normalize(np.random.default_rng(seed).normal(size=(n, 4)))


def rotation_matrix(q: np.ndarray) -> np.ndarray:
    """Columns: the rotated basis vectors (independent of quat_mul)."""
    basis = np.broadcast_to(np.eye(3), (*q.shape[:-1], 3, 3))
    return np.stack([Q.quat_rotate(q, basis[..., i, :]) for i in range(3)], axis=-1)


def same_rotation(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> bool:
    return bool(np.all(np.abs(np.abs(np.sum(a * b, axis=-1)) - 1.0) < atol))


def test_xyzw_convention_and_wxyz_boundaries() -> None:
    q = Q.quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.array(math.pi / 2))
    np.testing.assert_allclose(q, [0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    np.testing.assert_allclose(Q.quat_rotate(q, np.array([1.0, 0.0, 0.0])), [0, 1, 0], atol=1e-12)
    qs = random_quats(10)
    np.testing.assert_array_equal(Q.wxyz_to_xyzw(Q.xyzw_to_wxyz(qs)), qs)
    np.testing.assert_array_equal(Q.xyzw_to_wxyz(qs)[:, 0], qs[:, 3])


def test_mul_composes_rotations_and_conjugate_inverts() -> None:
    a, b = random_quats(50, 1), random_quats(50, 2)
    np.testing.assert_allclose(
        rotation_matrix(Q.quat_mul(a, b)), rotation_matrix(a) @ rotation_matrix(b), atol=1e-12
    )
    identity = Q.quat_mul(a, Q.quat_conjugate(a))
    np.testing.assert_allclose(identity, np.tile([0, 0, 0, 1.0], (50, 1)), atol=1e-12)
    np.testing.assert_allclose(rotation_matrix(Q.quat_from_matrix(rotation_matrix(a))),
                               rotation_matrix(a), atol=1e-12)  # fmt: skip


def test_exp_map_round_trip_including_small_and_large_angles() -> None:
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(40, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = np.concatenate([[0.0, 1e-9, 1e-7, math.pi - 1e-6], rng.uniform(0, math.pi, 36)])
    e = axes * angles[:, None]
    q = Q.exp_map_to_quat(e)
    assert same_rotation(q, Q.quat_from_axis_angle(axes, angles))
    np.testing.assert_allclose(Q.quat_to_exp_map(q), e, atol=1e-7)
    np.testing.assert_allclose(Q.quat_angle(q), angles, atol=1e-7)


def test_hinge3_is_intrinsic_xyz_and_inverts_exactly() -> None:
    angles = np.random.default_rng(4).uniform(-1.4, 1.4, size=(200, 3))
    x, y, z = np.eye(3)
    expected = Q.quat_mul(
        Q.quat_mul(
            Q.quat_from_axis_angle(x, angles[:, 0]), Q.quat_from_axis_angle(y, angles[:, 1])
        ),
        Q.quat_from_axis_angle(z, angles[:, 2]),
    )
    q = Q.quat_from_hinge3(angles)
    assert same_rotation(q, expected)
    np.testing.assert_allclose(Q.quat_to_hinge3(q), angles, atol=1e-9)
    any_q = random_quats(200, 5)
    assert same_rotation(Q.quat_from_hinge3(Q.quat_to_hinge3(any_q)), any_q)


def test_hinge3_picks_the_solution_inside_the_joint_limits() -> None:
    spec = load_humanoid()
    shoulder = slice(6, 9)  # right shoulder: y in [-180, 60] degrees reaches past -90
    lower, upper = spec.dof_lower[shoulder], spec.dof_upper[shoulder]
    angles = np.array([[-0.4, -2.2, 0.3], [0.2, -1.9, -0.5]])
    q = Q.quat_from_hinge3(angles)
    unconstrained = Q.quat_to_hinge3(q)
    assert np.all(np.abs(unconstrained[:, 1]) <= math.pi / 2)  # the other branch
    np.testing.assert_allclose(Q.quat_to_hinge3(q, lower, upper), angles, atol=1e-9)


def test_slerp_and_twist() -> None:
    a, b = random_quats(30, 6), random_quats(30, 7)
    assert same_rotation(Q.quat_slerp(a, b, np.zeros(30)), a)
    assert same_rotation(Q.quat_slerp(a, b, np.ones(30)), b)
    mid = Q.quat_slerp(a, b, np.full(30, 0.5))
    rel = lambda p, r: Q.quat_angle(Q.quat_mul(Q.quat_conjugate(p), r))  # noqa: E731
    np.testing.assert_allclose(rel(a, mid), rel(mid, b), atol=1e-9)
    np.testing.assert_allclose(2 * rel(a, mid), rel(a, b), atol=1e-9)
    y = np.array([0.0, 1.0, 0.0])
    angles = np.array([-2.5, -0.3, 0.0, 1.2, 3.0])
    np.testing.assert_allclose(Q.quat_twist_angle(Q.quat_from_axis_angle(y, angles), y), angles)


def test_numpy_and_torch_give_the_same_results() -> None:
    a, b = random_quats(20, 8), random_quats(20, 9)
    t = np.linspace(0, 1, 20)
    for fn, args in [
        (Q.quat_mul, (a, b)),
        (Q.quat_slerp, (a, b, t)),
        (Q.quat_to_exp_map, (a,)),
        (Q.quat_to_hinge3, (a,)),
        (Q.quat_from_hinge3, (a[:, :3],)),
        (Q.quat_from_matrix, (rotation_matrix(a),)),
    ]:
        expected = fn(*args)
        got = fn(*(torch.as_tensor(x) for x in args))
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_forward_kinematics_numpy_torch_and_chain() -> None:
    spec = load_humanoid()
    rng = np.random.default_rng(10)
    root = rng.normal(size=(7, 3))
    dof = rng.uniform(-1, 1, size=(7, spec.num_dofs))
    local = spec.dof_to_local_rot(dof, random_quats(7, 11))
    pos, rot = forward_kinematics(spec.skeleton, root, local)
    tpos, trot = forward_kinematics(spec.skeleton, torch.as_tensor(root), torch.as_tensor(local))
    np.testing.assert_allclose(tpos.numpy(), pos, atol=1e-12)
    np.testing.assert_allclose(trot.numpy(), rot, atol=1e-12)
    np.testing.assert_allclose(pos[:, 0], root)
    knee, ankle = spec.skeleton.index("right_shin"), spec.skeleton.index("right_foot")
    step = Q.quat_rotate(rot[:, knee], spec.skeleton.offsets[ankle])
    np.testing.assert_allclose(pos[:, ankle] - pos[:, knee], step, atol=1e-12)
    np.testing.assert_allclose(spec.local_rot_to_dof(local), dof, atol=1e-9)


def test_skeleton_validation() -> None:
    with pytest.raises(ValueError, match="precede"):
        Skeleton(("a", "b"), np.array([-1, 1]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        Skeleton(("a", "b"), np.array([-1, 0]), np.zeros((3, 3)))
    with pytest.raises(KeyError, match="unknown body 'tail'"):
        load_humanoid().skeleton.index("tail")
