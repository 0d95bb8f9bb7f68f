"""Humanoid imitation tasks on MuJoCo, natively batched: HumanoidAMP, HumanoidNEAR and
HumanoidImitate (DeepMimic tracking). See ``docs/humanoid.md``.

Registered ids use the factories below as ``entry_point``: ``gymnasium.make(id)`` gives a
single env (a :class:`~imitenvs.core.batched.SingleWorldEnv` over one world, one physics
thread) and ``gymnasium.make(id, num_envs=N)`` the batched env itself, the same object
``gymnasium.make_vec(id, num_envs=N)`` builds through ``vector_entry_point``.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from imitenvs.core.batched import SingleWorldEnv
from imitenvs.envs.humanoid.amp import HumanoidAMPEnv, HumanoidNEAREnv
from imitenvs.envs.humanoid.base import HumanoidEnv
from imitenvs.envs.humanoid.config import AmpConfig, HumanoidConfig, ImitateConfig, NearConfig
from imitenvs.envs.humanoid.imitate import HumanoidImitateEnv


def make_humanoid(
    cls: type[HumanoidEnv], num_envs: int | None = None, **kwargs: Any
) -> gymnasium.Env:
    """The batched ``cls`` with ``num_envs`` worlds, or a single env when ``num_envs`` is None."""
    if num_envs is None:
        kwargs.setdefault("nthread", 1)
        return SingleWorldEnv(cls(1, **kwargs))
    return cls(num_envs, **kwargs)


def make_amp(num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of ``imitenvs/HumanoidAMP-v0`` (see :func:`make_humanoid`)."""
    return make_humanoid(HumanoidAMPEnv, num_envs, **kwargs)


def make_near(num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of ``imitenvs/HumanoidNEAR-v0`` (see :func:`make_humanoid`)."""
    return make_humanoid(HumanoidNEAREnv, num_envs, **kwargs)


def make_imitate(num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of ``imitenvs/HumanoidImitate-v0`` (see :func:`make_humanoid`)."""
    return make_humanoid(HumanoidImitateEnv, num_envs, **kwargs)


__all__ = [
    "AmpConfig",
    "HumanoidAMPEnv",
    "HumanoidConfig",
    "HumanoidEnv",
    "HumanoidImitateEnv",
    "HumanoidNEAREnv",
    "ImitateConfig",
    "NearConfig",
    "make_amp",
    "make_humanoid",
    "make_imitate",
    "make_near",
]
