"""Motion file formats at the edges of imitenvs, chosen by file suffix.

======  ==========================================  =====================================
suffix  format                                      module
======  ==========================================  =====================================
.npz    imitenvs canonical clip (read and write)    :mod:`imitenvs.motion.clip`
.npy    AMP / poselib SkeletonMotion (read)         :mod:`.amp_npy`
.pkl    MimicKit motion (read)                      :mod:`.mimickit_pkl`
.txt    DeepMimic humanoid3d motion, JSON (read)    :mod:`.deepmimic_txt`
======  ==========================================  =====================================

Pickled formats are read with :mod:`.safe_unpickle`; nothing in a file is ever executed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imitenvs.motion.clip import MotionClip, load_clip, save_clip
from imitenvs.motion.formats.amp_npy import read_amp_npy
from imitenvs.motion.formats.deepmimic_txt import read_deepmimic_txt
from imitenvs.motion.formats.mimickit_pkl import read_mimickit_pkl
from imitenvs.motion.formats.safe_unpickle import UnsafePickleError

READERS: dict[str, Callable[[Path], MotionClip]] = {
    ".npz": load_clip,
    ".npy": read_amp_npy,
    ".pkl": read_mimickit_pkl,
    ".txt": read_deepmimic_txt,
}


def read_motion(path: str | Path) -> MotionClip:
    """Read any supported motion file into a :class:`MotionClip`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix (naming the supported ones) or a malformed / unsafe file.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"{path.name}: unknown motion format {path.suffix!r}; supported: {', '.join(READERS)}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"motion file {path} does not exist")
    return reader(path)


def convert_motion(source: str | Path, target: str | Path) -> MotionClip:
    """Read ``source`` (any supported format) and write it as a canonical ``.npz`` clip."""
    clip = read_motion(source)
    save_clip(clip, target)
    return clip


__all__ = ["READERS", "UnsafePickleError", "convert_motion", "read_motion", "save_clip"]
