"""Numpy-only drawing for the gridworlds: a cell canvas, sprites, the original pixel observation.

Shapes are given in cell-relative coordinates ``(u, v)`` in ``[0, 1]`` (``u`` rightwards, ``v``
downwards) and rasterised as boolean masks over one cell, so no drawing library is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

Pos = tuple[int, int]
Color = tuple[int, int, int]

MIN_CELL_PX = 64
MIN_IMAGE_PX = 256

WALL: Color = (64, 64, 76)
FLOOR: Color = (238, 234, 224)
GRID_LINE: Color = (200, 195, 184)
CARPET: Color = (178, 86, 72)
CARPET_STRIPE: Color = (150, 64, 54)
GOAL: Color = (176, 222, 168)
FLAG: Color = (40, 130, 60)
POLE: Color = (90, 90, 90)
VASE: Color = (58, 108, 200)
VASE_RIM: Color = (34, 70, 140)
TRAIN: Color = (206, 44, 44)
TRAIN_BROKEN: Color = (120, 120, 120)
WHEEL: Color = (30, 30, 30)
RAIL: Color = (214, 204, 188)
BATTERY: Color = (60, 176, 80)
BATTERY_CAP: Color = (150, 150, 150)
BATTERY_GONE: Color = (190, 190, 180)
TRUNK: Color = (120, 80, 42)
CANOPY: Color = (44, 140, 62)
APPLE: Color = (222, 32, 32)
BUCKET: Color = (140, 146, 160)
AGENT: Color = (140, 60, 200)
WHITE: Color = (255, 255, 255)
BLACK: Color = (20, 20, 20)

# 3x5 bitmaps of the digits, one string per row ("#" = on).
_GLYPHS: Mapping[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
}


class Canvas:
    """An RGB picture of a ``height`` x ``width`` grid with a wall border and grid lines.

    Attributes:
        image: uint8 array ``(height * c + 2 b, width * c + 2 b, 3)`` for cell size ``c`` and
            border ``b``.
    """

    def __init__(self, height: int, width: int, cell_px: int | None = None) -> None:
        c = cell_px or max(MIN_CELL_PX, math.ceil(MIN_IMAGE_PX / min(height, width)))
        b = max(4, c // 10)
        self.cell_px, self.border = c, b
        self.image = np.empty((height * c + 2 * b, width * c + 2 * b, 3), dtype=np.uint8)
        self.image[:] = WALL
        self.image[b:-b, b:-b] = FLOOR
        for k in range(1, height):
            self.image[b + k * c - 1 : b + k * c + 1, b:-b] = GRID_LINE
        for k in range(1, width):
            self.image[b:-b, b + k * c - 1 : b + k * c + 1] = GRID_LINE
        centres = (np.arange(c) + 0.5) / c
        self._v, self._u = np.meshgrid(centres, centres, indexing="ij")

    def paint(self, pos: Pos, shape: Callable[[np.ndarray, np.ndarray], np.ndarray], color: Color):
        """Colour the pixels of cell ``pos`` where ``shape(u, v)`` is true."""
        x, y = pos
        c, b = self.cell_px, self.border
        cell = self.image[b + y * c : b + (y + 1) * c, b + x * c : b + (x + 1) * c]
        cell[shape(self._u, self._v)] = color

    def rect(self, pos: Pos, u0: float, v0: float, u1: float, v1: float, color: Color) -> None:
        self.paint(pos, lambda u, v: (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1), color)

    def disc(self, pos: Pos, cu: float, cv: float, r: float, color: Color) -> None:
        self.paint(pos, lambda u, v: (u - cu) ** 2 + (v - cv) ** 2 <= r * r, color)

    def polygon(self, pos: Pos, points: Sequence[tuple[float, float]], color: Color) -> None:
        """Fill a convex polygon given by its vertices (either winding)."""

        def inside(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            sides = []
            for (u0, v0), (u1, v1) in zip(points, [*points[1:], points[0]], strict=True):
                sides.append((u1 - u0) * (v - v0) - (v1 - v0) * (u - u0))
            stacked = np.stack(sides)
            return np.all(stacked >= 0, axis=0) | np.all(stacked <= 0, axis=0)

        self.paint(pos, inside, color)

    def line(
        self, pos: Pos, p0: tuple[float, float], p1: tuple[float, float], width: float, color: Color
    ) -> None:
        """A thick segment from ``p0`` to ``p1``."""
        (u0, v0), (u1, v1) = p0, p1
        du, dv = u1 - u0, v1 - v0
        length2 = du * du + dv * dv

        def near(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            t = np.clip(((u - u0) * du + (v - v0) * dv) / length2, 0.0, 1.0)
            return (u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2 <= (width / 2) ** 2

        self.paint(pos, near, color)

    def number(self, pos: Pos, value: int, cu: float, cv: float, h: float, color: Color) -> None:
        """Write the decimal ``value`` centred at ``(cu, cv)`` with digit height ``h``."""
        text = str(value)
        px = h / 5
        left = cu - (len(text) * 4 - 1) * px / 2
        for k, ch in enumerate(text):
            for row, bits in enumerate(_GLYPHS[ch]):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        u0 = left + (4 * k + col) * px
                        v0 = cv - h / 2 + row * px
                        self.rect(pos, u0, v0, u0 + px, v0 + px, color)


# ------------------------------------------------------------------------------- sprites
def draw_carpet(canvas: Canvas, pos: Pos) -> None:
    canvas.rect(pos, 0.03, 0.03, 0.97, 0.97, CARPET)
    for v in (0.2, 0.4, 0.6, 0.8):
        canvas.rect(pos, 0.08, v - 0.025, 0.92, v + 0.025, CARPET_STRIPE)


def draw_goal(canvas: Canvas, pos: Pos) -> None:
    canvas.rect(pos, 0.03, 0.03, 0.97, 0.97, GOAL)
    canvas.rect(pos, 0.2, 0.12, 0.25, 0.9, POLE)
    canvas.polygon(pos, [(0.25, 0.12), (0.6, 0.24), (0.25, 0.36)], FLAG)


def draw_vase(canvas: Canvas, pos: Pos, intact: bool) -> None:
    if intact:
        canvas.disc(pos, 0.5, 0.62, 0.22, VASE)
        canvas.rect(pos, 0.42, 0.25, 0.58, 0.45, VASE)
        canvas.rect(pos, 0.36, 0.2, 0.64, 0.27, VASE_RIM)
        return
    for shard in (
        [(0.12, 0.9), (0.3, 0.72), (0.36, 0.9)],
        [(0.42, 0.92), (0.55, 0.7), (0.66, 0.92)],
        [(0.7, 0.88), (0.86, 0.7), (0.9, 0.9)],
        [(0.2, 0.66), (0.34, 0.58), (0.28, 0.7)],
    ):
        canvas.polygon(pos, shard, VASE)


def draw_rails(canvas: Canvas, pos: Pos) -> None:
    """Faint sleepers marking a cell of the train's loop."""
    for u in (0.2, 0.4, 0.6, 0.8):
        canvas.rect(pos, u - 0.03, 0.1, u + 0.03, 0.9, RAIL)


def draw_train(canvas: Canvas, pos: Pos, intact: bool, life: int | None = None) -> None:
    """A locomotive; broken/dead trains are grey and crossed out; ``life`` is written on it."""
    body = TRAIN if intact else TRAIN_BROKEN
    canvas.rect(pos, 0.12, 0.35, 0.88, 0.72, body)
    canvas.rect(pos, 0.55, 0.18, 0.84, 0.36, body)
    canvas.rect(pos, 0.2, 0.22, 0.3, 0.35, WHEEL)
    for cu in (0.28, 0.5, 0.72):
        canvas.disc(pos, cu, 0.78, 0.08, WHEEL)
    if not intact:
        canvas.line(pos, (0.15, 0.2), (0.85, 0.85), 0.07, BLACK)
        canvas.line(pos, (0.85, 0.2), (0.15, 0.85), 0.07, BLACK)
    if life is not None and intact:
        canvas.number(pos, life, 0.35, 0.535, 0.24, WHITE)


def draw_battery(canvas: Canvas, pos: Pos, present: bool) -> None:
    if present:
        canvas.rect(pos, 0.42, 0.2, 0.58, 0.3, BATTERY_CAP)
        canvas.rect(pos, 0.3, 0.3, 0.7, 0.85, BATTERY)
        canvas.rect(pos, 0.45, 0.45, 0.55, 0.7, WHITE)
        canvas.rect(pos, 0.38, 0.53, 0.62, 0.62, WHITE)
        return
    canvas.paint(
        pos,
        lambda u, v: (
            ((u >= 0.3) & (u <= 0.7) & (v >= 0.3) & (v <= 0.85))
            & ~((u >= 0.34) & (u <= 0.66) & (v >= 0.34) & (v <= 0.81))
        ),
        BATTERY_GONE,
    )


def draw_tree(canvas: Canvas, pos: Pos, has_apple: bool) -> None:
    canvas.rect(pos, 0.44, 0.5, 0.56, 0.92, TRUNK)
    canvas.disc(pos, 0.5, 0.4, 0.3, CANOPY)
    if has_apple:
        canvas.disc(pos, 0.6, 0.45, 0.11, APPLE)


def draw_bucket(canvas: Canvas, pos: Pos, count: int) -> None:
    canvas.polygon(pos, [(0.15, 0.3), (0.85, 0.3), (0.74, 0.92), (0.26, 0.92)], BUCKET)
    canvas.rect(pos, 0.12, 0.26, 0.88, 0.32, BLACK)
    canvas.number(pos, count, 0.5, 0.61, 0.3, BLACK)


def draw_agent(
    canvas: Canvas,
    pos: Pos,
    facing: int | None = None,
    carrying: Color | None = None,
    shared: bool = False,
) -> None:
    """The agent as a disc; ``facing`` (0 N, 1 S, 2 E, 3 W) adds a pointer, ``carrying`` a badge.

    ``shared``: the cell also holds an object (broken vase, train), so the agent is drawn
    smaller, in the top-left corner with a white outline, leaving the object visible.
    """
    if shared:
        canvas.disc(pos, 0.26, 0.26, 0.2, WHITE)
        canvas.disc(pos, 0.26, 0.26, 0.16, AGENT)
    else:
        canvas.disc(pos, 0.5, 0.5, 0.27, AGENT)
    if facing is not None:
        tip, base = {
            0: ((0.5, 0.08), 0.3),
            1: ((0.5, 0.92), 0.7),
            2: ((0.92, 0.5), 0.7),
            3: ((0.08, 0.5), 0.3),
        }[facing]
        if facing < 2:
            canvas.polygon(pos, [tip, (0.38, base), (0.62, base)], AGENT)
        else:
            canvas.polygon(pos, [tip, (base, 0.38), (base, 0.62)], AGENT)
        canvas.disc(pos, 0.5 + (tip[0] - 0.5) * 0.35, 0.5 + (tip[1] - 0.5) * 0.35, 0.06, WHITE)
    if carrying is not None:
        badge = 0.44 if shared else 0.78
        canvas.disc(pos, badge, badge, 0.14, BLACK)
        canvas.disc(pos, badge, badge, 0.11, carrying)


# ------------------------------------------------------------------- original pixel observation
#: Deep RLSP's layer colours: blue for layer 0 (the agent), then seaborn's "deep" palette.
_LAYER_COLORS: tuple[Color, ...] = (
    (0, 0, 255),
    (76, 114, 176),
    (221, 132, 82),
    (85, 168, 104),
    (196, 78, 82),
    (129, 114, 179),
    (147, 120, 96),
    (218, 139, 195),
    (140, 140, 140),
    (204, 185, 116),
    (100, 181, 205),
)


def layers_to_pixels(grid: np.ndarray, size: int = 64) -> np.ndarray:
    """Deep RLSP's pixel observation of a layered grid.

    A ``size`` x ``size`` canvas of grey 200; each cell is a ``size // max(H, W)`` square from
    the top-left corner, painted with the colour of every non-zero layer in the order
    1, 2, ..., C-1, then 0 (so the agent is on top).

    Args:
        grid: ``(H, W, C)`` layered grid.

    Returns:
        uint8 ``(size, size, 3)``.
    """
    height, width, n_layers = grid.shape
    scale = size // max(height, width)
    rgb = np.full((size, size, 3), 200, dtype=np.uint8)
    for layer in [*range(1, n_layers), 0]:
        color = _LAYER_COLORS[layer % len(_LAYER_COLORS)]
        for y, x in zip(*np.nonzero(grid[:, :, layer]), strict=True):
            rgb[y * scale : (y + 1) * scale, x * scale : (x + 1) * scale] = color
    return rgb


# ------------------------------------------------------------------------------------ text
def ansi_grid(
    height: int, width: int, cells: Mapping[Pos, str], legend: str, status: Sequence[str] = ()
) -> str:
    """A boxed text grid: each cell shows up to 3 characters, then the legend and status lines."""
    rule = "+" + "+".join(["---"] * width) + "+"
    lines = [rule]
    for y in range(height):
        row = (cells.get((x, y), "")[:3].ljust(3) for x in range(width))
        lines += ["|" + "|".join(row) + "|", rule]
    return "\n".join([*lines, legend, *status])


def mark_track(cells: dict[Pos, str], track: Sequence[Pos]) -> None:
    """Show ``=`` in the (blank) terrain slot of every cell of a train's loop, in place."""
    for pos in track:
        text = cells.get(pos, "").ljust(3)
        if text[0] == " ":
            cells[pos] = "=" + text[1:]
