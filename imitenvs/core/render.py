"""Offscreen rendering defaults shared by every MuJoCo-rendering env and tool."""

from __future__ import annotations

import logging
import os
import sys

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
