"""The Deep RLSP / RLSP gridworlds: Room, Apples, Train, Batteries, with tabular MDP access.

``make_gridworld(problem, spec)`` is the registry's entry point (ids ``RoomDefault-v0``, ...);
``env.unwrapped.mdp`` gives the enumerated :class:`TabularMDP`. See ``docs/gridworlds.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from imitenvs.core.checks import check_choice
from imitenvs.envs.gridworld.apples import ApplesEnv, ApplesSpec, ApplesState
from imitenvs.envs.gridworld.base import ACTION_NAMES, OBS_TYPES, GridSpec, GridworldEnv
from imitenvs.envs.gridworld.batteries import BatteriesEnv, BatteriesSpec, BatteriesState
from imitenvs.envs.gridworld.mdp import StateTable, TabularMDP
from imitenvs.envs.gridworld.room import RoomEnv, RoomSpec, RoomState
from imitenvs.envs.gridworld.train import TrainEnv, TrainSpec, TrainState

#: Problem name -> env class.
PROBLEMS: Mapping[str, type[GridworldEnv]] = MappingProxyType(
    {cls.problem: cls for cls in (RoomEnv, ApplesEnv, TrainEnv, BatteriesEnv)}
)


def make_gridworld(problem: str, spec: str = "default", **kwargs: Any) -> GridworldEnv:
    """Build the gridworld ``problem`` (room, apples, train, batteries) with layout ``spec``.

    ``kwargs`` go to the env class: ``obs_type`` (``"grid"``, ``"features"``, ``"state_index"``,
    ``"pixels"``), ``reward`` (``"task"``, ``"true"`` or a weight vector), ``render_mode``.

    Raises:
        ValueError: unknown ``problem`` or ``spec`` (the message lists the known ones).
    """
    check_choice("problem", problem, list(PROBLEMS))
    return PROBLEMS[problem](spec, **kwargs)


__all__ = [
    "ACTION_NAMES",
    "OBS_TYPES",
    "PROBLEMS",
    "ApplesEnv",
    "ApplesSpec",
    "ApplesState",
    "BatteriesEnv",
    "BatteriesSpec",
    "BatteriesState",
    "GridSpec",
    "GridworldEnv",
    "RoomEnv",
    "RoomSpec",
    "RoomState",
    "StateTable",
    "TabularMDP",
    "TrainEnv",
    "TrainSpec",
    "TrainState",
    "make_gridworld",
]
