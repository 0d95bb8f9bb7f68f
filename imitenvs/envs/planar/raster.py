"""A tiny numpy rasteriser for the planar envs' ``rgb_array`` frames (no pygame, no display).

Shapes are given in world units (the 512-unit arena, y down) and drawn onto a square image of
``size`` pixels; each pixel is tested at ``supersample**2`` sub-pixel centres and the colours are
averaged, which anti-aliases edges. Colours are the pygame named colours NEAR and Diffusion
Policy use.
"""

from __future__ import annotations

import numpy as np

from imitenvs.envs.planar.geometry import WINDOW_SIZE

COLORS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "wall": (211, 211, 211),  # LightGray
    "maze": (180, 101, 111),  # #B4656F
    "agent": (65, 105, 225),  # RoyalBlue
    "maze_goal": (34, 139, 34),  # ForestGreen
    "tee": (119, 136, 153),  # LightSlateGray
    "tee_goal": (144, 238, 144),  # LightGreen
    "action": (255, 0, 0),
}


class Canvas:
    """An RGB image of the arena being painted shape by shape (painter's order).

    Args:
        size: Output side in pixels.
        supersample: Sub-pixels per pixel side used for anti-aliasing.
    """

    def __init__(self, size: int, supersample: int = 2) -> None:
        if size < 1 or supersample < 1:
            raise ValueError(f"size and supersample must be >= 1, got {size}, {supersample}")
        self.size = size
        self.supersample = supersample
        n = size * supersample
        centres = (np.arange(n) + 0.5) * (WINDOW_SIZE / n)
        self._x, self._y = np.meshgrid(centres, centres)  # (n, n) world coordinates
        self._img = np.empty((n, n, 3), dtype=np.float32)
        self._img[:] = COLORS["white"]

    def _paint(self, mask: np.ndarray, color: str) -> None:
        self._img[mask] = COLORS[color]

    def box(self, x0: float, y0: float, x1: float, y1: float, color: str) -> None:
        """Fill the axis-aligned box ``[x0, x1] x [y0, y1]``."""
        self._paint((self._x >= x0) & (self._x <= x1) & (self._y >= y0) & (self._y <= y1), color)

    def disc(self, center: np.ndarray, radius: float, color: str) -> None:
        """Fill a disc."""
        cx, cy = float(center[0]), float(center[1])
        self._paint((self._x - cx) ** 2 + (self._y - cy) ** 2 <= radius**2, color)

    def capsule(self, a: np.ndarray, b: np.ndarray, radius: float, color: str) -> None:
        """Fill a rounded segment (all points within ``radius`` of the segment a-b)."""
        ax, ay = float(a[0]), float(a[1])
        abx, aby = float(b[0]) - ax, float(b[1]) - ay
        t = ((self._x - ax) * abx + (self._y - ay) * aby) / max(abx * abx + aby * aby, 1e-12)
        t = np.clip(t, 0.0, 1.0)
        dx, dy = self._x - (ax + t * abx), self._y - (ay + t * aby)
        self._paint(dx * dx + dy * dy <= radius**2, color)

    def convex_polygon(self, vertices: np.ndarray, color: str) -> None:
        """Fill a convex polygon given as (k, 2) vertices in either winding order."""
        v = np.asarray(vertices, dtype=np.float64)
        e = np.roll(v, -1, axis=0) - v
        cross = e[:, 0, None, None] * (self._y - v[:, 1, None, None]) - e[:, 1, None, None] * (
            self._x - v[:, 0, None, None]
        )
        self._paint((cross >= 0).all(axis=0) | (cross <= 0).all(axis=0), color)

    def cross(self, center: np.ndarray, half: float, width: float, color: str) -> None:
        """Draw an X marker of half-size ``half`` and line width ``width`` (world units)."""
        c = np.asarray(center, dtype=np.float64)
        for d in (np.array([half, half]), np.array([half, -half])):
            self.capsule(c - d, c + d, width / 2.0, color)

    def image(self) -> np.ndarray:
        """The frame as (size, size, 3) uint8."""
        s = self.supersample
        img = self._img.reshape(self.size, s, self.size, s, 3).mean(axis=(1, 3))
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)
