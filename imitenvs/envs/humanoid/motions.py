"""Motion data of the humanoid tasks: find the file, read its clips, check they fit."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from imitenvs.motion import HumanoidSpec, MotionClip, MotionLibrary, read_motion
from imitenvs.motion.dataset import is_dataset, read_dataset

logger = logging.getLogger(__name__)


def shipped_motions_dir() -> Path:
    """The folder of the generated clips and datasets shipped with imitenvs."""
    from imitenvs.assets import asset_path

    return asset_path("motions")


def resolve_motion_file(motion_file: str | Path) -> Path:
    """The path of ``motion_file``: as given (absolute or relative to the working directory),
    else a file of that name in :func:`shipped_motions_dir`.

    Raises:
        FileNotFoundError: neither exists; the message lists where it looked and the shipped
            files.
    """
    given = Path(motion_file).expanduser()
    shipped = shipped_motions_dir()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, shipped / given]
    for path in candidates:
        if path.is_file():
            return path
    available = sorted(p.name for p in shipped.iterdir() if p.suffix in {".yaml", ".npz"})
    raise FileNotFoundError(
        f"motion file {str(motion_file)!r} not found; looked for "
        f"{', '.join(str(c) for c in candidates)}. Shipped motions: {', '.join(available)}"
    )


def check_clip(clip: MotionClip, spec: HumanoidSpec, source: Path) -> None:
    """Raise ``ValueError`` unless ``clip`` is a clip of the humanoid ``spec``."""
    if not clip.skeleton.matches(spec.skeleton):
        raise ValueError(
            f"{source}: clip {clip.name!r} has skeleton {clip.skeleton.names} whose bodies, "
            f"parents or offsets differ from the humanoid's {spec.skeleton.names}; retarget it "
            "to the AMP humanoid first"
        )
    if clip.dof_names != spec.dof_names:
        raise ValueError(
            f"{source}: clip {clip.name!r} has hinges {clip.dof_names}, the humanoid "
            f"{spec.dof_names}"
        )


def load_motion_library(
    motion_file: str | Path, spec: HumanoidSpec, device: torch.device
) -> tuple[MotionLibrary, torch.Tensor]:
    """A float32 torch :class:`MotionLibrary` of the clip or YAML dataset ``motion_file``, and
    ``(num_clips,)`` bool: which clips loop (``loop_mode == "wrap"``).

    Raises:
        FileNotFoundError: the file (or a clip a dataset lists) does not exist.
        ValueError: unreadable file, or a clip of another skeleton.
    """
    path = resolve_motion_file(motion_file)
    if is_dataset(path):
        entries = [(e.file, e.weight) for e in read_dataset(path)]
    else:
        entries = [(path, 1.0)]
    clips = []
    for file, _ in entries:
        clip = read_motion(file)
        check_clip(clip, spec, file)
        clips.append(clip)
    logger.info("loaded %d clip(s) from %s", len(clips), path)
    library = MotionLibrary(
        clips, [w for _, w in entries], device=device, key_bodies=spec.key_body_names
    )
    wraps = torch.tensor([c.loop_mode == "wrap" for c in clips], device=device)
    return library, wraps
