"""Shortest paths among convex obstacles (a visibility graph searched with Dijkstra).

Used by the experts: the maze expert plans around the maze boxes inflated by the agent radius,
the PushT expert plans the agent's way around the block to its next pushing spot.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

_EPS = 1e-7


def inflate_convex(polygon: np.ndarray, distance: float) -> np.ndarray:
    """Offset a convex polygon (k, 2) outwards by ``distance`` with mitred corners; the result
    contains every point within ``distance`` of the polygon."""
    v = np.asarray(polygon, dtype=np.float64)
    if _signed_area(v) < 0:
        v = v[::-1]
    edges = np.roll(v, -1, axis=0) - v
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    out = []
    for i in range(len(v)):
        n_prev, n_next = normals[i - 1], normals[i]
        bisector = n_prev + n_next
        scale = distance / max(float(bisector @ n_next), _EPS)
        out.append(v[i] + bisector * scale)
    return np.array(out)


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """(4, 2) counter-clockwise (in maths axes) corners of an axis-aligned box."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def segment_crosses(p: np.ndarray, q: np.ndarray, polygon: np.ndarray) -> bool:
    """True when segment p-q passes through the interior of a convex polygon (touching its
    boundary does not count), by Cyrus-Beck clipping."""
    v = np.asarray(polygon, dtype=np.float64)
    if _signed_area(v) < 0:
        v = v[::-1]
    d = q - p
    t_in, t_out = 0.0, 1.0
    for i in range(len(v)):
        a, b = v[i], v[(i + 1) % len(v)]
        normal = np.array([b[1] - a[1], a[0] - b[0]])  # outward for counter-clockwise order
        num = float(normal @ (a - p))  # > 0: p is inside this edge's half-plane
        den = float(normal @ d)
        if abs(den) < _EPS:
            if num <= _EPS:
                return False
            continue
        t = num / den
        if den < 0:
            t_in = max(t_in, t)
        else:
            t_out = min(t_out, t)
        if t_in >= t_out - 1e-9:
            return False
    return (t_out - t_in) * float(np.linalg.norm(d)) > 1e-6


def point_inside(point: np.ndarray, polygon: np.ndarray) -> bool:
    """True when ``point`` is strictly inside a convex polygon."""
    v = np.asarray(polygon, dtype=np.float64)
    e = np.roll(v, -1, axis=0) - v
    cross = e[:, 0] * (point[1] - v[:, 1]) - e[:, 1] * (point[0] - v[:, 0])
    return bool((cross > _EPS).all() or (cross < -_EPS).all())


class VisibilityGraph:
    """Shortest collision-free polylines among fixed convex obstacles inside a box.

    Args:
        obstacles: Convex polygons (each (k, 2)) the path must not cross (already inflated).
        lower, upper: Corners of the allowed box; graph nodes outside it are dropped.
    """

    def __init__(self, obstacles: list[np.ndarray], lower: float, upper: float) -> None:
        self.obstacles = [np.asarray(o, dtype=np.float64) for o in obstacles]
        corners = [c for o in self.obstacles for c in o]
        self.nodes = [
            c
            for c in corners
            if lower <= c.min()
            and c.max() <= upper
            and not any(point_inside(c, o) for o in self.obstacles)
        ]
        n = len(self.nodes)
        self._adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                if self.visible(self.nodes[i], self.nodes[j]):
                    w = float(np.linalg.norm(self.nodes[i] - self.nodes[j]))
                    self._adj[i].append((j, w))
                    self._adj[j].append((i, w))

    def visible(self, p: np.ndarray, q: np.ndarray, ignore: tuple[int, ...] = ()) -> bool:
        """True when segment p-q crosses no obstacle (except those indexed in ``ignore``)."""
        return not any(
            segment_crosses(p, q, o) for k, o in enumerate(self.obstacles) if k not in ignore
        )

    def shortest_path(self, start: np.ndarray, goal: np.ndarray) -> list[np.ndarray] | None:
        """The shortest polyline ``[start, ..., goal]``, or ``None`` when the goal is walled off.
        Obstacles that contain ``start`` are ignored for the first segment (to leave them)."""
        start, goal = np.asarray(start, dtype=np.float64), np.asarray(goal, dtype=np.float64)
        inside = tuple(k for k, o in enumerate(self.obstacles) if point_inside(start, o))
        if self.visible(start, goal, inside):
            return [start, goal]
        n = len(self.nodes)
        to_goal = {
            i: float(np.linalg.norm(self.nodes[i] - goal))
            for i in range(n)
            if self.visible(self.nodes[i], goal)
        }
        dist = [math.inf] * n
        prev = [-1] * n
        heap: list[tuple[float, int]] = []
        for i in range(n):
            if self.visible(start, self.nodes[i], inside):
                dist[i] = float(np.linalg.norm(self.nodes[i] - start))
                heapq.heappush(heap, (dist[i], i))
        best, best_node = math.inf, -1
        while heap:
            d, i = heapq.heappop(heap)
            if d > dist[i] or d >= best:
                continue
            if i in to_goal and d + to_goal[i] < best:
                best, best_node = d + to_goal[i], i
            for j, w in self._adj[i]:
                if d + w < dist[j]:
                    dist[j], prev[j] = d + w, i
                    heapq.heappush(heap, (d + w, j))
        if best_node < 0:
            return None
        chain = [best_node]
        while prev[chain[-1]] >= 0:
            chain.append(prev[chain[-1]])
        return [start, *(self.nodes[i] for i in reversed(chain)), goal]


def ray_to_box(origin: np.ndarray, through: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """The point where the ray from ``origin`` through ``through`` leaves the box
    ``[lower, upper]^2`` (``through`` itself when the two points coincide)."""
    d = np.asarray(through, dtype=np.float64) - origin
    norm = float(np.linalg.norm(d))
    if norm < _EPS:
        return np.asarray(through, dtype=np.float64)
    ts = [
        (bound - origin[k]) / d[k]
        for k in range(2)
        for bound in (lower, upper)
        if abs(d[k]) > _EPS and (bound - origin[k]) / d[k] > 0
    ]
    return origin + d * min(ts) if ts else np.asarray(through, dtype=np.float64)


def _signed_area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
