"""Geometry shared by the planar tasks: the 512-unit arena, NEAR's maze walls, the PushT "T" block,
action scaling, rigid transforms and circle contacts.

Coordinates are pymunk world units with **y pointing down** (NEAR and Diffusion Policy draw with
``positive_y_is_up=False``), so world coordinates are also pixel coordinates of a 512x512 frame.
Angles are radians, counter-clockwise in the maths convention of pymunk (clockwise on screen).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

WINDOW_SIZE = 512.0
"""Side of the square arena (and of NEAR's pygame window)."""

WALL_RADIUS = 2.0
BOUNDARY_SEGMENTS: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((5.0, 506.0), (5.0, 5.0)),
    ((5.0, 5.0), (506.0, 5.0)),
    ((506.0, 5.0), (506.0, 506.0)),
    ((5.0, 506.0), (506.0, 506.0)),
)
"""The four arena walls: pymunk segments of radius :data:`WALL_RADIUS` (NEAR, DP PushT)."""

MAZE_WALLS: tuple[tuple[float, float, float, float], ...] = (
    (20.0, 140.0, 40.0, 460.0),
    (100.0, 140.0, 120.0, 380.0),
    (20.0, 460.0, 350.0, 480.0),
    (100.0, 380.0, 350.0, 400.0),
)
"""NEAR's maze as axis-aligned boxes ``(x0, y0, x1, y1)``; together an L-shaped corridor."""

AGENT_RADIUS = 15.0
MAZE_GOAL = (0.85 * WINDOW_SIZE, 0.85 * WINDOW_SIZE)

TEE_BAR: tuple[tuple[float, float], ...] = ((-60.0, 30.0), (60.0, 30.0), (60.0, 0.0), (-60.0, 0.0))
TEE_STEM: tuple[tuple[float, float], ...] = (
    (-15.0, 30.0),
    (-15.0, 120.0),
    (15.0, 120.0),
    (15.0, 30.0),
)
"""The T block's two convex parts in its local frame (``scale=30, length=4`` in NEAR/DP)."""
TEE_OUTLINE: tuple[tuple[float, float], ...] = (
    (-60.0, 0.0),
    (60.0, 0.0),
    (60.0, 30.0),
    (15.0, 30.0),
    (15.0, 120.0),
    (-15.0, 120.0),
    (-15.0, 30.0),
    (-60.0, 30.0),
)
"""The union of bar and stem as one simple polygon (for coverage)."""
TEE_COG = (0.0, 45.0)
"""Centre of gravity: the mean of the two parts' centroids (as NEAR/DP set it)."""
TEE_AREA = 120.0 * 30.0 + 30.0 * 90.0

TEE_KEYPOINTS = np.array(
    [
        [9.2698, 90.0410],
        [-60.9835, -1.1867],
        [60.9128, -1.3934],
        [-0.2705, 25.5436],
        [-14.0649, 122.8159],
        [39.0027, 32.8574],
        [-39.9664, 32.7297],
        [-16.8243, 62.8632],
        [23.5415, -1.7003],
    ]
)
"""(9, 2) Diffusion Policy's block keypoints in the T's local frame, in DP's order. DP draws them
by farthest-point sampling on a rendered mask; these values are the per-point median of
``R(-angle) (keypoint - position)`` over ``pusht_cchi_v7_replay.zarr`` (median error 1.5e-5 units;
``tests/test_pusht.py`` checks them against the real dataset)."""

PUSHT_GOAL_POSE = (256.0, 256.0, math.pi / 4)


class Contact(NamedTuple):
    """A circle touching a static shape: unit ``normal`` from the circle towards the shape and
    signed ``dist`` (negative when overlapping), as in Chipmunk's arbiters."""

    normal: tuple[float, float]
    dist: float


def unnormalise_action(action: np.ndarray) -> np.ndarray:
    """Map a normalised action in [-1, 1]^2 to an absolute target ``(a + 1) * 512 / 2``."""
    return (np.asarray(action, dtype=np.float64) + 1.0) * WINDOW_SIZE / 2.0


def normalise_target(target: np.ndarray) -> np.ndarray:
    """Inverse of :func:`unnormalise_action`: an absolute target in [0, 512]^2 to [-1, 1]^2."""
    return np.asarray(target, dtype=np.float64) * 2.0 / WINDOW_SIZE - 1.0


def rotation(angle: float) -> np.ndarray:
    """(2, 2) rotation matrix of ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def local_to_world(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` in a body frame to world coordinates for ``pose = (x, y, angle)``."""
    pose = np.asarray(pose, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ rotation(float(pose[2])).T + pose[:2]


def tee_parts_world(pose: np.ndarray) -> list[np.ndarray]:
    """The T's two convex parts, each (4, 2), in world coordinates for ``pose = (x, y, angle)``."""
    return [local_to_world(np.array(part), pose) for part in (TEE_BAR, TEE_STEM)]


def tee_keypoints_world(pose: np.ndarray) -> np.ndarray:
    """(9, 2) Diffusion Policy's block keypoints for ``pose = (x, y, angle)``."""
    return local_to_world(TEE_KEYPOINTS, pose)


def circle_box_contact(
    cx: float, cy: float, radius: float, box: tuple[float, float, float, float]
) -> Contact | None:
    """Contact of a circle with an axis-aligned box, or ``None`` when they are apart."""
    x0, y0, x1, y1 = box
    qx, qy = min(max(cx, x0), x1), min(max(cy, y0), y1)
    dx, dy = qx - cx, qy - cy
    d = math.hypot(dx, dy)
    if d > radius:
        return None
    if d > 0.0:
        return Contact((dx / d, dy / d), d - radius)
    # Centre inside the box: leave through the nearest face (what EPA finds for a box).
    faces = (
        (cx - x0, (1.0, 0.0)),
        (x1 - cx, (-1.0, 0.0)),
        (cy - y0, (0.0, 1.0)),
        (y1 - cy, (0.0, -1.0)),
    )
    depth, normal = min(faces, key=lambda f: f[0])
    return Contact(normal, -depth - radius)


def circle_segment_contact(
    cx: float,
    cy: float,
    radius: float,
    a: tuple[float, float],
    b: tuple[float, float],
    seg_radius: float,
) -> Contact | None:
    """Contact of a circle with a rounded segment (a pymunk ``Segment``), or ``None``."""
    abx, aby = b[0] - a[0], b[1] - a[1]
    t = ((cx - a[0]) * abx + (cy - a[1]) * aby) / (abx * abx + aby * aby)
    t = min(max(t, 0.0), 1.0)
    dx, dy = a[0] + t * abx - cx, a[1] + t * aby - cy
    d = math.hypot(dx, dy)
    rsum = radius + seg_radius
    if d >= rsum or d == 0.0:
        return None
    return Contact((dx / d, dy / d), d - rsum)


MazeShapes = tuple[tuple, tuple]
"""(segments, boxes): a subset of :data:`BOUNDARY_SEGMENTS` and :data:`MAZE_WALLS`."""
ALL_MAZE_SHAPES: MazeShapes = (BOUNDARY_SEGMENTS, MAZE_WALLS)


def maze_contacts(
    cx: float, cy: float, radius: float = AGENT_RADIUS, shapes: MazeShapes = ALL_MAZE_SHAPES
) -> list[Contact]:
    """Every contact of the maze agent at ``(cx, cy)`` with the walls and boxes in ``shapes``."""
    segments, boxes = shapes
    contacts = [circle_segment_contact(cx, cy, radius, a, b, WALL_RADIUS) for a, b in segments]
    contacts += [circle_box_contact(cx, cy, radius, box) for box in boxes]
    return [c for c in contacts if c is not None]


def maze_shapes_near(p: np.ndarray, q: np.ndarray, margin: float) -> MazeShapes:
    """The walls and boxes a disc of radius ``margin`` could touch while moving on segment p-q
    (a conservative bounding-box test that lets the integrator skip far shapes)."""
    lo, hi = np.minimum(p, q) - margin, np.maximum(p, q) + margin

    def near(x0: float, y0: float, x1: float, y1: float) -> bool:
        return not (hi[0] < x0 or lo[0] > x1 or hi[1] < y0 or lo[1] > y1)

    segments = tuple(
        (a, b)
        for a, b in BOUNDARY_SEGMENTS
        if near(
            min(a[0], b[0]) - WALL_RADIUS,
            min(a[1], b[1]) - WALL_RADIUS,
            max(a[0], b[0]) + WALL_RADIUS,
            max(a[1], b[1]) + WALL_RADIUS,
        )
    )
    return segments, tuple(box for box in MAZE_WALLS if near(*box))
