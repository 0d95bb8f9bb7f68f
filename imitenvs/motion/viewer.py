"""Kinematic playback of a clip on the humanoid MJCF: offscreen video or an interactive window.

Each frame sets MuJoCo's ``qpos`` (root position, root quaternion converted xyzw -> **wxyz**,
hinge angles) and calls ``mj_forward``; nothing is simulated.

Headless rendering needs an OpenGL backend chosen *before* ``mujoco`` is imported:
``MUJOCO_GL=egl`` (GPU or Mesa's EGL: Debian ``libegl1`` + ``libegl-mesa0``) or
``MUJOCO_GL=osmesa`` (software: Debian ``libosmesa6``). ``python -m imitenvs motions view``
picks ``egl`` itself when no display is set and ``MUJOCO_GL`` is unset.
GIFs are written with Pillow; ``.mp4`` needs ``imageio-ffmpeg`` (``pip install imitenvs[viewer]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import atomic_path
from imitenvs.motion.clip import MotionClip
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES: tuple[str, ...] = (".gif", ".mp4")


def clip_qpos(clip: MotionClip, humanoid: HumanoidSpec) -> np.ndarray:
    """MuJoCo ``qpos (F, 7 + D)`` of every frame (root quaternion wxyz).

    Raises:
        ValueError: the clip's hinges are not the character's.
    """
    if clip.dof_names != humanoid.dof_names:
        raise ValueError(
            f"clip {clip.name!r} has hinges {clip.dof_names[:3]}...; the viewer's "
            f"character has {humanoid.dof_names[:3]}... (retarget it first)"
        )
    return humanoid.qpos(clip.root_pos, clip.root_rot, clip.dof_pos)


def _output_frames(clip: MotionClip, fps: float) -> np.ndarray:
    """Indices of the clip frames shown at ``fps`` (nearest frame)."""
    count = int(np.floor(clip.duration * fps + 1e-9)) + 1
    return np.minimum(np.round(np.arange(count) / fps * clip.fps).astype(int), clip.num_frames - 1)


def render_clip(
    clip: MotionClip,
    *,
    width: int = 320,
    height: int = 240,
    fps: float | None = None,
    camera: str = "track",
    humanoid: HumanoidSpec | None = None,
) -> tuple[np.ndarray, float]:
    """Render a clip offscreen.

    Returns:
        ``(frames (N, height, width, 3) uint8, fps)``; ``fps`` defaults to ``min(clip.fps, 30)``.
    """
    import mujoco

    humanoid = humanoid or load_humanoid()
    fps = float(fps or min(clip.fps, 30.0))
    qpos = clip_qpos(clip, humanoid)
    model = mujoco.MjModel.from_xml_path(str(humanoid.xml_path))
    data = mujoco.MjData(model)
    frames = []
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        for index in _output_frames(clip, fps):
            data.qpos[:] = qpos[index]
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=camera)
            frames.append(renderer.render().copy())
    return np.stack(frames), fps


def write_video(frames: Sequence[np.ndarray] | np.ndarray, path: str | Path, fps: float) -> Path:
    """Write ``(N, H, W, 3)`` uint8 frames as ``.gif`` (Pillow) or ``.mp4`` (imageio-ffmpeg)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"video file {path.name!r}: suffix must be one of {VIDEO_SUFFIXES}")
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.asarray(f)) for f in frames]
        with atomic_path(path) as tmp:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0,
                           duration=round(1000.0 / fps))  # fmt: skip
        return path
    try:
        import imageio_ffmpeg
    except ModuleNotFoundError as exc:
        raise ValueError(
            "writing .mp4 needs imageio-ffmpeg (pip install imageio-ffmpeg); or write a .gif"
        ) from exc
    height, width = np.asarray(frames[0]).shape[:2]
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps, quality=7,
                                             macro_block_size=1)  # fmt: skip
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    return path


def play_in_window(clip: MotionClip, humanoid: HumanoidSpec | None = None, loops: int = 0) -> None:
    """Play the clip in MuJoCo's interactive viewer until the window closes (``loops=0``)."""
    import mujoco
    import mujoco.viewer

    humanoid = humanoid or load_humanoid()
    qpos = clip_qpos(clip, humanoid)
    model = mujoco.MjModel.from_xml_path(str(humanoid.xml_path))
    data = mujoco.MjData(model)
    played = 0
    with mujoco.viewer.launch_passive(model, data) as window:
        while window.is_running() and (loops == 0 or played < loops):
            for frame in qpos:
                if not window.is_running():
                    break
                data.qpos[:] = frame
                mujoco.mj_forward(model, data)
                window.sync()
                time.sleep(1.0 / clip.fps)
            played += 1


def view_clip(clip: MotionClip, out: str | Path | None = None, **render_kwargs: Any) -> Path | None:
    """Write ``clip`` to the video ``out``, or play it in a window when ``out`` is None."""
    if out is None:
        play_in_window(clip)
        return None
    frames, fps = render_clip(clip, **render_kwargs)
    path = write_video(frames, out, fps)
    logger.info("wrote %d frames at %.1f fps to %s", len(frames), fps, path)
    return path
