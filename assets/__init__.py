"""Data files shipped with imitenvs (installed as ``imitenvs.assets``).

Use :func:`asset_path` rather than paths relative to the source tree, so installed wheels work.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """Path of a shipped asset, e.g. ``asset_path("motions", "walk.npz")``.

    Raises:
        FileNotFoundError: the asset is not part of the installed package.
    """
    path = Path(str(resources.files(__name__).joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)!r} not found under {path.parent}")
    return path
