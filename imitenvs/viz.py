"""Pictures of the planar tasks, saved to files (matplotlib's Agg canvas; Pillow for GIFs).

- :func:`plot_maze`: the maze with demonstration and policy trajectories.
- :func:`maze_heatmap`: a heat map over the maze of any transition score ``f(s, s')``, such as
  NEAR's energy or AMP's discriminator. Each cell centre ``s`` is scored at ``s' = s + h u``:
  for one given direction ``u``, or averaged over ``directions`` evenly spaced unit vectors
  (``direction=None``), with step ``h`` (default 9 units, the median displacement of NEAR's
  maze demos). Cells whose ``s`` lies inside a wall are left blank.
- :func:`pusht_frames` / :func:`save_gif` / :func:`save_frame_strip`: frames of a PushT episode
  rendered from its states, as an animated GIF or a strip of stills; :func:`save_frame_grid`:
  labelled rows of stills (ASE: one row per latent).
- :func:`reward_weight_bars`: grouped bars of reward weights per feature (RLSP's inferred
  rewards), one panel per problem; :func:`line_plots`: learning curves side by side;
  :func:`band_plot`: mean ± std curves and reference levels on one chart.

matplotlib is imported lazily (the ``planar`` extra) and only through its object API
(``Figure`` + Agg canvas), so no global backend or pyplot state is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import atomic_path
from imitenvs.envs.planar._deps import require
from imitenvs.envs.planar.geometry import (
    AGENT_RADIUS,
    MAZE_GOAL,
    MAZE_WALLS,
    WALL_RADIUS,
    WINDOW_SIZE,
)

TransitionScore = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``f(s, s_next)``: two (M, 2) arrays of maze positions -> (M,) scores."""


def _figure(size: tuple[float, float] = (5.0, 5.0)) -> Any:
    require("matplotlib", "imitenvs.viz")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _draw_maze(ax: Any) -> None:
    from matplotlib.patches import Circle, Rectangle

    inner = 5.0 + WALL_RADIUS
    ax.add_patch(
        Rectangle(
            (inner, inner),
            506.0 - WALL_RADIUS - inner,
            506.0 - WALL_RADIUS - inner,
            fill=False,
            ec="0.6",
            lw=1.5,
        )
    )
    for x0, y0, x1, y1 in MAZE_WALLS:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="#B4656F", zorder=3))
    ax.add_patch(Circle(MAZE_GOAL, 10.0, color="forestgreen", zorder=4))
    ax.add_patch(
        Circle(
            MAZE_GOAL, 0.05 * np.hypot(*MAZE_GOAL), fill=False, ec="forestgreen", ls="--", zorder=4
        )
    )
    ax.set_xlim(0, WINDOW_SIZE)
    ax.set_ylim(WINDOW_SIZE, 0)  # y points down, as in the simulator and NEAR's window
    ax.set_aspect("equal")


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, bbox_inches="tight", format=path.suffix.lstrip(".") or None)
    return path


def plot_maze(
    path: str | Path,
    demos: Sequence[np.ndarray] = (),
    policy: Sequence[np.ndarray] = (),
    title: str | None = None,
) -> Path:
    """Save the maze with trajectories (each (T, 2) positions) to ``path`` (png, svg, pdf...).

    Demonstrations are drawn in thin blue, policy rollouts in orange with their start marked.
    """
    fig = _figure()
    ax = fig.add_subplot()
    _draw_maze(ax)
    for i, traj in enumerate(demos):
        t = np.asarray(traj)
        ax.plot(
            t[:, 0],
            t[:, 1],
            color="tab:blue",
            lw=0.8,
            alpha=0.5,
            label="demonstrations" if i == 0 else None,
        )
    for i, traj in enumerate(policy):
        t = np.asarray(traj)
        ax.plot(t[:, 0], t[:, 1], color="tab:orange", lw=1.5, label="policy" if i == 0 else None)
        ax.plot(t[0, 0], t[0, 1], "o", color="tab:orange", ms=4)
    if len(demos) or len(policy):
        ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def transition_grid(
    f: TransitionScore,
    resolution: int = 64,
    step: float = 9.0,
    direction: tuple[float, float] | None = None,
    directions: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate ``f`` on a ``resolution x resolution`` grid of the arena.

    Returns:
        centres (resolution,) cell-centre coordinates (same for x and y) and values
        (resolution, resolution) indexed ``[row = y, col = x]``; NaN inside the maze boxes
        and within the agent radius of the arena walls.
    """
    centres = (np.arange(resolution) + 0.5) * WINDOW_SIZE / resolution
    xx, yy = np.meshgrid(centres, centres)
    s = np.stack([xx.ravel(), yy.ravel()], axis=1)
    if direction is None:
        angles = np.arange(directions) * 2 * np.pi / directions
        units = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        u = np.asarray(direction, dtype=np.float64)
        if u.shape != (2,) or not np.linalg.norm(u) > 0:
            raise ValueError(f"direction must be a non-zero (dx, dy), got {direction!r}")
        units = (u / np.linalg.norm(u))[None]
    values = np.mean([np.asarray(f(s, s + step * u), dtype=np.float64) for u in units], axis=0)
    lo, hi = 5.0 + WALL_RADIUS + AGENT_RADIUS, 506.0 - WALL_RADIUS - AGENT_RADIUS
    blocked = (s < lo).any(axis=1) | (s > hi).any(axis=1)
    for x0, y0, x1, y1 in MAZE_WALLS:
        blocked |= (s[:, 0] >= x0) & (s[:, 0] <= x1) & (s[:, 1] >= y0) & (s[:, 1] <= y1)
    values = np.where(blocked, np.nan, values.reshape(-1))
    return centres, values.reshape(resolution, resolution)


def maze_heatmap(
    f: TransitionScore,
    path: str | Path,
    resolution: int = 64,
    step: float = 9.0,
    direction: tuple[float, float] | None = None,
    directions: int = 8,
    demos: Sequence[np.ndarray] = (),
    title: str | None = None,
    label: str = "f(s, s')",
) -> Path:
    """Save a heat map of ``f(s, s + step * u)`` over the maze (see the module docstring)."""
    _, values = transition_grid(f, resolution, step, direction, directions)
    fig = _figure((5.6, 5.0))
    ax = fig.add_subplot()
    image = ax.imshow(
        values,
        extent=(0, WINDOW_SIZE, WINDOW_SIZE, 0),
        origin="upper",
        cmap="viridis",
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, label=label)
    _draw_maze(ax)
    for traj in demos:
        t = np.asarray(traj)
        ax.plot(t[:, 0], t[:, 1], color="white", lw=0.6, alpha=0.6)
    how = "mean over directions" if direction is None else f"direction {tuple(direction)}"
    ax.set_title(title or f"{label}, step {step:g}, {how}", fontsize=9)
    return _save(fig, path)


def pusht_frames(states: np.ndarray, size: int = 96) -> np.ndarray:
    """(T, size, size, 3) uint8 frames of PushT states (T, 5) ``[ax, ay, bx, by, angle]``."""
    from imitenvs.envs.planar.pusht import PushTEnv, PushTState

    env = PushTEnv(render_mode="rgb_array", render_size=size)
    env.reset(seed=0)
    frames = []
    for s in np.asarray(states, dtype=np.float64):
        env.set_state(
            PushTState(s[:2], np.zeros(2), np.array([s[2], s[3], s[4]]), np.zeros(2), 0.0)
        )
        frames.append(env.render())
    env.close()
    return np.stack(frames)


def save_gif(frames: np.ndarray, path: str | Path, fps: int = 10) -> Path:
    """Save (T, H, W, 3) uint8 frames as an animated GIF (looping)."""
    image_module = require("PIL.Image", "imitenvs.viz GIFs")

    path = Path(path)
    images = [image_module.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(1, round(1000 / fps)),
            loop=0,
        )
    return path


def save_frame_strip(frames: np.ndarray, path: str | Path, count: int = 6) -> Path:
    """Save ``count`` evenly spaced frames side by side (png, svg...), titled by step index."""
    frames = np.asarray(frames)
    picks = np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))
    fig = _figure((1.8 * len(picks), 2.0))
    for k, i in enumerate(picks):
        ax = fig.add_subplot(1, len(picks), k + 1)
        ax.imshow(frames[i])
        ax.set_title(f"t = {i}", fontsize=8)
        ax.axis("off")
    return _save(fig, path)


def save_frame_grid(
    rows: Sequence[tuple[str, Sequence[tuple[int, np.ndarray]]]], path: str | Path
) -> Path:
    """Save a grid of frames, one row per ``(label, [(step, frame (H, W, 3)), ...])``: the
    label on the left of its row, each frame titled by its step (png, svg... by suffix)."""
    if not rows:
        raise ValueError("save_frame_grid needs at least one row")
    columns = max(len(frames) for _, frames in rows)
    fig = _figure((1.8 * columns + 0.6, 1.6 * len(rows)))
    for r, (label, frames) in enumerate(rows):
        for c, (step, frame) in enumerate(frames):
            ax = fig.add_subplot(len(rows), columns, r * columns + c + 1)
            ax.imshow(np.asarray(frame))
            ax.set_title(f"t = {step}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def reward_weight_bars(
    panels: Sequence[tuple[str, Sequence[str], dict[str, np.ndarray]]],
    path: str | Path,
    columns: int = 2,
) -> Path:
    """Grouped bar charts of reward weights, one panel per problem, saved atomically.

    Args:
        panels: ``(title, feature_names, {series label: weights (k,)})`` per panel; every
            series of a panel has one weight per feature name.
        path: Output image (png/svg/pdf by suffix).
        columns: Panels per row.
    """
    rows = -(-len(panels) // columns)
    fig = _figure((6.5 * columns, 3.6 * rows))
    for i, (title, names, series) in enumerate(panels):
        ax = fig.add_subplot(rows, columns, i + 1)
        x = np.arange(len(names))
        width = 0.8 / max(len(series), 1)
        for j, (label, weights) in enumerate(series.items()):
            values = np.asarray(weights, dtype=np.float64)
            if values.shape != (len(names),):
                raise ValueError(
                    f"panel {title!r}, series {label!r}: {values.shape[0]} weights for "
                    f"{len(names)} features"
                )
            ax.bar(x + (j - (len(series) - 1) / 2) * width, values, width, label=label)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xticks(x, list(names), rotation=60, ha="right", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("weight")
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (3.6 * rows)))
    return _save(fig, path)


def line_plots(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    xlabel: str = "",
    title: str = "",
) -> Path:
    """One small line chart per series (``label -> (x, y)``), side by side, saved atomically."""
    fig = _figure((4.5 * len(series), 3.4))
    for i, (label, (x, y)) in enumerate(series.items()):
        if len(x) != len(y):
            raise ValueError(f"series {label!r} has {len(x)} x values and {len(y)} y values")
        ax = fig.add_subplot(1, len(series), i + 1)
        ax.plot(x, y, marker="o", ms=3)
        ax.set_xlabel(xlabel)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def band_plot(
    curves: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    path: str | Path,
    levels: dict[str, tuple[float, float]] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
) -> Path:
    """Curves with ±std bands (``label -> (x, mean, std)``) and horizontal reference levels
    (``label -> (mean, std)``, drawn as dashed lines with bands) on one chart, saved atomically.
    """
    fig = _figure((6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for label, (x, mean, std) in curves.items():
        x, mean, std = (np.asarray(v, dtype=float) for v in (x, mean, std))
        if not len(x) == len(mean) == len(std):
            raise ValueError(f"curve {label!r}: x, mean and std differ in length")
        (line,) = ax.plot(x, mean, marker="o", ms=3, label=label)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for i, (label, (mean, std)) in enumerate((levels or {}).items()):
        color = f"C{len(curves) + i}"
        ax.axhline(mean, ls="--", lw=1.2, color=color, label=label)
        ax.axhspan(mean - std, mean + std, color=color, alpha=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
