"""Multi-agent environments (PettingZoo): Apples commons.

Build them with :func:`imitenvs.make_parallel` (the ``ParallelEnv``) or :func:`imitenvs.make_aec`
(PettingZoo's own ``parallel_to_aec`` conversion); they need the ``pettingzoo`` extra. See
``docs/multiagent.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

INSTALL_HINT = 'pip install "imitenvs[pettingzoo]"'


def require_pettingzoo(purpose: str) -> None:
    """Raise a ``ModuleNotFoundError`` naming the extra when PettingZoo is missing."""
    try:
        importlib.import_module("pettingzoo")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{purpose} needs the optional dependency 'pettingzoo'; install it with: {INSTALL_HINT}"
        ) from exc


def make_apples_commons(**kwargs: Any) -> Any:
    """The registry's entry point of ``ApplesCommons-v0`` (imports PettingZoo lazily)."""
    require_pettingzoo("ApplesCommons-v0")
    from imitenvs.envs.multiagent.commons import ApplesCommonsEnv

    return ApplesCommonsEnv(**kwargs)
