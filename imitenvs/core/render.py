"""Offscreen rendering defaults shared by every MuJoCo-rendering env and tool."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import gymnasium
import numpy as np

logger = logging.getLogger(__name__)

OFFSCREEN_MODES = frozenset({"rgb_array", "depth_array", "rgbd_tuple"})


def has_display() -> bool:
    """Whether a window could open: always on non-Linux, else ``$DISPLAY``/``$WAYLAND_DISPLAY``."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def default_headless_gl(render_mode: str | None) -> None:
    """Default ``MUJOCO_GL`` to ``egl`` for offscreen rendering on a display-less Linux box.

    MuJoCo otherwise tries GLFW first, which fails without a display. An explicit
    ``MUJOCO_GL`` (``egl``, ``osmesa``, ``glfw``) is always respected. Call it before the first
    renderer is created.
    """
    if render_mode in OFFSCREEN_MODES and "MUJOCO_GL" not in os.environ and not has_display():
        os.environ["MUJOCO_GL"] = "egl"
        logger.info("no display: MUJOCO_GL defaults to egl for offscreen rendering")


class FrameWindow:
    """A matplotlib window that shows RGB frames, for ``render_mode="human"``.

    Args:
        title: window title.
        fps: frames per second; :meth:`show` pauses ``1 / fps`` seconds.
    """

    def __init__(self, title: str, fps: float) -> None:
        self.title = title
        self.fps = fps
        self._figure: Any = None
        self._image: Any = None

    def show(self, frame: np.ndarray) -> None:
        """Draw ``frame`` (``(H, W, 3)`` uint8) in the window, opening it on first use.

        Raises:
            RuntimeError: there is no display (use ``render_mode="rgb_array"`` instead).
        """
        if not has_display():
            raise RuntimeError(
                "render_mode='human' needs a display; use render_mode='rgb_array' and save the "
                "frames (e.g. imitenvs.viz) on a headless machine"
            )
        import matplotlib.pyplot as plt

        if self._figure is None:
            self._figure, ax = plt.subplots(num=self.title)
            ax.set_axis_off()
            self._image = ax.imshow(frame)
            plt.show(block=False)
        else:
            self._image.set_data(frame)
        plt.pause(1.0 / self.fps)

    def close(self) -> None:
        """Close the window (safe to call repeatedly)."""
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = self._image = None


class FrameRenderMixin:
    """``render()`` for envs that draw numpy frames with ``_draw_frame()``.

    ``"rgb_array"`` returns the frame; ``"human"`` shows it in a :class:`FrameWindow` and returns
    ``None`` (call :meth:`_render_human` at the end of ``reset`` and ``step``, as gymnasium's
    own envs do). Subclasses set ``render_mode`` and ``metadata["render_fps"]``; list the mixin
    before ``gymnasium.Env`` so its ``close`` closes the window.
    """

    render_mode: str | None
    metadata: dict[str, Any]
    _window: FrameWindow | None = None

    def _draw_frame(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 picture of the current state."""
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called without render_mode; pass render_mode='rgb_array'"
            )
            return None
        frame = self._draw_frame()
        if self.render_mode != "human":
            return frame
        if self._window is None:
            self._window = FrameWindow(type(self).__name__, self.metadata.get("render_fps", 30))
        self._window.show(frame)
        return None

    def _render_human(self) -> None:
        if self.render_mode == "human":
            self.render()

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
        super().close()  # type: ignore[misc]
