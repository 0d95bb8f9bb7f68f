"""Lazy imports of the optional ``planar`` dependencies (pymunk, shapely, matplotlib, zarr).

The core package stays light: these modules are imported only by the planar envs, the zarr
readers and :mod:`imitenvs.viz`, through :func:`require`, which names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = 'pip install "imitenvs[planar]"'


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise a ``ModuleNotFoundError`` that says how to install it.

    Args:
        module: Importable name, e.g. ``"pymunk"`` or ``"matplotlib.pyplot"``.
        purpose: What needs it, for the message (``"the PushT environment"``).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{purpose} needs the optional dependency {module.split('.')[0]!r}; "
            f"install it with: {INSTALL_HINT}"
        ) from exc
