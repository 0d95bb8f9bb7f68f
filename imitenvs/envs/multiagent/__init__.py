"""Multi-agent environments (PettingZoo): Apples commons.

Build them with :func:`imitenvs.make_parallel` (the ``ParallelEnv``) or :func:`imitenvs.make_aec`
(PettingZoo's own ``parallel_to_aec`` conversion); they need the ``pettingzoo`` extra. See
``docs/multiagent.md``.
"""

from __future__ import annotations

from typing import Any


def make_apples_commons(**kwargs: Any) -> Any:
    """The registry's entry point of ``ApplesCommons-v0`` (imports PettingZoo lazily)."""
    from imitenvs.envs.multiagent.commons import ApplesCommonsEnv

    return ApplesCommonsEnv(**kwargs)
