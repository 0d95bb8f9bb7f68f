"""Quaternion and rotation utilities, written once for numpy arrays and torch tensors.

**Convention: every quaternion in imitenvs.motion is ``xyzw``** (scalar last), as in poselib and
Isaac Gym, and follows the Hamilton product (``quat_mul(a, b)`` rotates by ``b`` first, then
``a``). Conversions happen explicitly at format boundaries: MuJoCo's ``qpos``/``xquat`` and
DeepMimic files are ``wxyz`` (use :func:`wxyz_to_xyzw` / :func:`xyzw_to_wxyz`).

Shapes: quaternions are ``(..., 4)``, vectors and exponential maps ``(..., 3)``, angles
``(...)``; leading dimensions broadcast. Functions keep the array kind, dtype and device.

3-hinge joints: the AMP humanoid models each ball joint as three hinges about the body's local
x, then y, then z axis (joint order in ``amp_humanoid.xml``). MuJoCo composes joints of one body
in their XML order about the already-rotated axes, so the joint rotation is the *intrinsic*
product ``q = qx(a) ⊗ qy(b) ⊗ qz(c)`` (:func:`quat_from_hinge3`); :func:`quat_to_hinge3` is its
exact inverse. (IsaacGymEnvs instead writes exponential-map coordinates straight into the three
hinges, an approximation; imitenvs converts exactly.)
"""

from __future__ import annotations

import math
from typing import Any

from imitenvs.motion._xp import asarray, namespace

Array = Any  # numpy.ndarray or torch.Tensor

_EPS = 1e-8


def xyzw_to_wxyz(q: Array) -> Array:
    """Reorder ``(..., 4)`` quaternions from ``xyzw`` to ``wxyz`` (MuJoCo, DeepMimic)."""
    return namespace(q).concat([q[..., 3:4], q[..., 0:3]], axis=-1)


def wxyz_to_xyzw(q: Array) -> Array:
    """Reorder ``(..., 4)`` quaternions from ``wxyz`` to ``xyzw``."""
    return namespace(q).concat([q[..., 1:4], q[..., 0:1]], axis=-1)


def wrap_angle(a: Array) -> Array:
    """Angles wrapped into ``[-pi, pi)``."""
    return namespace(a).remainder(a + math.pi, 2.0 * math.pi) - math.pi


def quat_normalize(q: Array) -> Array:
    """Unit quaternions ``(..., 4)``."""
    xp = namespace(q)
    return q / xp.clip(xp.linalg.vector_norm(q, axis=-1, keepdims=True), _EPS, None)


def quat_conjugate(q: Array) -> Array:
    """Conjugate (= inverse for unit quaternions) of ``(..., 4)`` xyzw quaternions."""
    xp = namespace(q)
    return xp.concat([-q[..., 0:3], q[..., 3:4]], axis=-1)


def quat_mul(a: Array, b: Array) -> Array:
    """Hamilton product ``a ⊗ b`` of xyzw quaternions (apply ``b`` first, then ``a``)."""
    xp = namespace(a, b)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def _cross(a: Array, b: Array) -> Array:
    xp = namespace(a, b)
    return xp.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        axis=-1,
    )


def quat_rotate(q: Array, v: Array) -> Array:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``."""
    u = q[..., 0:3]
    t = 2.0 * _cross(u, v)
    return v + q[..., 3:4] * t + _cross(u, t)


def quat_from_axis_angle(axis: Array, angle: Array) -> Array:
    """Quaternions for rotations by ``angle (...)`` about unit ``axis (..., 3)``."""
    xp = namespace(axis, angle)
    half = 0.5 * angle
    return xp.concat([axis * xp.sin(half)[..., None], xp.cos(half)[..., None]], axis=-1)


def quat_angle(q: Array) -> Array:
    """Rotation angle in ``[0, pi]`` of unit quaternions ``(..., 4)``."""
    xp = namespace(q)
    return 2.0 * xp.atan2(xp.linalg.vector_norm(q[..., 0:3], axis=-1), xp.abs(q[..., 3]))


def quat_to_exp_map(q: Array) -> Array:
    """Exponential map (axis * angle, angle in ``[0, pi]``) of unit quaternions -> ``(..., 3)``."""
    xp = namespace(q)
    q = xp.where(q[..., 3:4] < 0, -q, q)
    sin_half = xp.linalg.vector_norm(q[..., 0:3], axis=-1, keepdims=True)
    angle = 2.0 * xp.atan2(sin_half, q[..., 3:4])
    small = sin_half < 1e-6
    scale = xp.where(
        small, 2.0 / xp.clip(q[..., 3:4], _EPS, None), angle / xp.where(small, 1.0, sin_half)
    )
    return q[..., 0:3] * scale


def exp_map_to_quat(e: Array) -> Array:
    """Unit quaternions ``(..., 4)`` from exponential maps ``(..., 3)``."""
    xp = namespace(e)
    angle = xp.linalg.vector_norm(e, axis=-1, keepdims=True)
    small = angle < 1e-6
    sinc_half = xp.where(
        small, 0.5 - angle * angle / 48.0, xp.sin(0.5 * angle) / xp.where(small, 1.0, angle)
    )
    return xp.concat([e * sinc_half, xp.cos(0.5 * angle)], axis=-1)


def quat_slerp(q0: Array, q1: Array, t: Array) -> Array:
    """Spherical linear interpolation between unit quaternions along the shorter arc.

    Args:
        q0, q1: ``(..., 4)`` xyzw quaternions.
        t: ``(...)`` blend weights in ``[0, 1]`` (0 gives ``q0``).
    """
    xp = namespace(q0, q1, t)
    t = asarray(t, q0)[..., None]
    dot = xp.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = xp.where(dot < 0, -q1, q1)
    dot = xp.clip(xp.abs(dot), 0.0, 1.0)
    theta = xp.acos(dot)
    sin_theta = xp.sin(theta)
    near = sin_theta < 1e-4
    denom = xp.where(near, 1.0, sin_theta)
    w0 = xp.where(near, 1.0 - t, xp.sin((1.0 - t) * theta) / denom)
    w1 = xp.where(near, t, xp.sin(t * theta) / denom)
    return quat_normalize(w0 * q0 + w1 * q1)


def quat_from_hinge3(angles: Array) -> Array:
    """Rotation of a 3-hinge joint, hinges about local x, then y, then z (intrinsic).

    Args:
        angles: ``(..., 3)`` hinge angles ``(a_x, a_y, a_z)`` in radians.

    Returns:
        ``(..., 4)`` xyzw quaternions ``qx(a_x) ⊗ qy(a_y) ⊗ qz(a_z)``.
    """
    xp = namespace(angles)
    half = 0.5 * angles
    c, s = xp.cos(half), xp.sin(half)
    cx, cy, cz = c[..., 0], c[..., 1], c[..., 2]
    sx, sy, sz = s[..., 0], s[..., 1], s[..., 2]
    return xp.stack(
        [
            sx * cy * cz + cx * sy * sz,
            cx * sy * cz - sx * cy * sz,
            cx * cy * sz + sx * sy * cz,
            cx * cy * cz - sx * sy * sz,
        ],
        axis=-1,
    )


def _limit_violation(angles: Array, lower: Array | None, upper: Array | None) -> Array:
    xp = namespace(angles)
    if lower is None or upper is None:
        return xp.zeros_like(angles[..., 0])
    lo, hi = asarray(lower, angles), asarray(upper, angles)
    over = xp.clip(angles - hi, 0.0, None) + xp.clip(lo - angles, 0.0, None)
    return xp.sum(over, axis=-1)


def quat_to_hinge3(q: Array, lower: Array | None = None, upper: Array | None = None) -> Array:
    """Hinge angles ``(a_x, a_y, a_z)`` with ``quat_from_hinge3(angles) == ±q``.

    Every rotation has two x-y-z decompositions, ``(a, b, c)`` with ``|b| <= pi/2`` and
    ``(a + pi, pi - b, c + pi)``. With joint limits given (``(..., 3)`` radians, broadcastable),
    the one that violates the limits less is returned (ties keep the first); all angles are
    wrapped into ``[-pi, pi)``.

    Args:
        q: ``(..., 4)`` unit xyzw quaternions.
        lower, upper: optional joint limits used only to choose between the two solutions.

    Returns:
        ``(..., 3)`` hinge angles in radians.
    """
    xp = namespace(q)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    r00 = 1.0 - 2.0 * (y * y + z * z)
    r01 = 2.0 * (x * y - z * w)
    r02 = 2.0 * (x * z + y * w)
    r12 = 2.0 * (y * z - x * w)
    r22 = 1.0 - 2.0 * (x * x + y * y)
    b = xp.asin(xp.clip(r02, -1.0, 1.0))
    a = xp.atan2(-r12, r22)
    c = xp.atan2(-r01, r00)
    first = xp.stack([a, b, c], axis=-1)
    second = wrap_angle(xp.stack([a + math.pi, math.pi - b, c + math.pi], axis=-1))
    use_second = (
        _limit_violation(second, lower, upper) < _limit_violation(first, lower, upper) - 1e-9
    )
    return xp.where(use_second[..., None], second, first)


def quat_twist_angle(q: Array, axis: Array) -> Array:
    """Angle ``(...)`` in ``[-pi, pi)`` of the twist of ``q (..., 4)`` about unit ``axis (3,)``.

    For a pure rotation about ``axis`` this is exactly its hinge angle.
    """
    xp = namespace(q)
    ax = asarray(axis, q)
    return wrap_angle(2.0 * xp.atan2(xp.sum(q[..., 0:3] * ax, axis=-1), q[..., 3]))


def quat_from_matrix(m: Array) -> Array:
    """Unit xyzw quaternions from rotation matrices ``(..., 3, 3)`` (Shepperd's method)."""
    xp = namespace(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    trace = m00 + m11 + m22

    def case(big: Array, a: Array, b: Array, c: Array, order: tuple[int, ...]) -> Array:
        r = xp.sqrt(xp.clip(1.0 + big, _EPS, None))
        s = 0.5 / r
        parts = (0.5 * r, a * s, b * s, c * s)  # (big component, then the other three)
        return xp.stack([parts[i] for i in order], axis=-1)

    q_w = case(trace, m21 - m12, m02 - m20, m10 - m01, (1, 2, 3, 0))
    q_x = case(m00 - m11 - m22, m21 - m12, m01 + m10, m02 + m20, (0, 2, 3, 1))
    q_y = case(m11 - m00 - m22, m02 - m20, m01 + m10, m12 + m21, (2, 0, 3, 1))
    q_z = case(m22 - m00 - m11, m10 - m01, m02 + m20, m12 + m21, (2, 3, 0, 1))
    best_x = (m00 >= m11) & (m00 >= m22)
    best_y = m11 >= m22
    diag = xp.where(best_x[..., None], q_x, xp.where(best_y[..., None], q_y, q_z))
    use_w = trace > xp.maximum(xp.maximum(m00, m11), m22)
    return quat_normalize(xp.where(use_w[..., None], q_w, diag))
