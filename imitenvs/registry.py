"""The one table of every environment id imitenvs provides.

Every id lives in :data:`ENTRIES` (built once, at import, by the family functions below) and
is registered with gymnasium under the ``imitenvs/`` namespace by :func:`register_all`, which
``import imitenvs`` calls; the PettingZoo ids (family ``multiagent``) are not gymnasium envs and
are built by :func:`make_parallel` / :func:`make_aec` instead. The CLI (``python -m imitenvs
list|info``), the generated catalogue ``docs/envs.md`` and the conformance tests all read this
table, so a new family is covered by all of them as soon as its entries are added here.

Adding an environment: write the class (its docstring is the spec), then add an
:class:`EnvEntry` to the family function (or a new family function listed in
:func:`_build_entries`), then run ``python -m imitenvs catalogue --write`` to refresh
``docs/envs.md``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import gymnasium
from gymnasium.envs.registration import EnvSpec, WrapperSpec

NAMESPACE = "imitenvs"


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment id.

    Attributes:
        name: Id without the namespace, e.g. ``"RoomDefault-v0"``.
        entry_point: ``"module:callable"`` that builds the single env.
        family: Short family name used by ``list --family`` (``"gridworld"``, ...).
        summary: One line for catalogues and ``info``.
        kwargs: Default constructor kwargs (overridable in ``gymnasium.make``).
        max_episode_steps: Episode length enforced by gymnasium's ``TimeLimit`` for single envs,
            or ``None`` when the env ends its episodes itself (multiagent ids: the env's own
            default episode length, shown in the catalogue).
        batched: ``True`` for natively vectorised envs whose single env is one world of the
            batch (:class:`~imitenvs.core.batched.SingleWorldEnv`); ``vector_entry_point`` is
            then registered too, and ``gymnasium.make(id, num_envs=N)`` returns the batched
            object.
        vector_entry_point: ``"module:callable"`` of the batched class. Batched ids need one;
            a single-env id may have one too (iMuJoCo, Deep RLSP): its single env stays an
            ordinary env with gymnasium's wrappers, and ``gymnasium.make(id, num_envs=N)``
            (the entry point gets ``num_envs``) and ``gymnasium.make_vec(id, N)`` return the
            batched class (see :func:`vectorised_batch`).
        multiagent: ``True`` for PettingZoo ``ParallelEnv`` ids: ``entry_point`` builds the
            parallel env, they are not registered with gymnasium, and :func:`make_parallel` /
            :func:`make_aec` build them.
    """

    name: str
    entry_point: str
    family: str
    summary: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    batched: bool = False
    vector_entry_point: str | None = None
    multiagent: bool = False

    def __post_init__(self) -> None:
        if "/" in self.name or not self.name.split("-v")[-1].isdigit():
            raise ValueError(f"env name {self.name!r} must look like 'Name-vN' with no namespace")
        if self.batched and self.vector_entry_point is None:
            raise ValueError(f"{self.name}: batched ids need a vector_entry_point")
        if self.multiagent and self.vector_entry_point is not None:
            raise ValueError(f"{self.name}: a multiagent id cannot be batched")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @property
    def vectorised(self) -> bool:
        """Whether ``gymnasium.make(id, num_envs=N)`` gives a natively batched env."""
        return self.vector_entry_point is not None

    @property
    def id(self) -> str:
        """The full gymnasium id, ``imitenvs/<name>``."""
        return f"{NAMESPACE}/{self.name}"


# --------------------------------------------------------------------------------------------
# Families. Each returns its entries; the order here is the order of the catalogue.
# --------------------------------------------------------------------------------------------

_GRIDWORLD_EP = "imitenvs.envs.gridworld:make_gridworld"
_GRIDWORLD_HORIZON = 20


def _gridworld_entries() -> list[EnvEntry]:
    """The Deep RLSP / RLSP gridworlds ("Preferences Implicit in the State of the World")."""
    rows = [
        ("RoomDefault-v0", "room", "default", "Room with a vase between the agent and a goal."),
        (
            "RoomDefaultPixel-v0",
            "room",
            "default_pixel",
            "RoomDefault with 64x64x3 RGB observations.",
        ),
        ("RoomAlt-v0", "room", "alt", "RoomDefault with the agent starting at (4, 1)."),
        ("RoomBad-v0", "room", "bad", "Room whose vase is far from the agent's path."),
        ("RoomBig-v0", "room", "big", "10x10 room with one vase."),
        ("ApplesDefault-v0", "apples", "default", "Pick apples from trees into a bucket."),
        ("TrainDefault-v0", "train", "default", "A train loops past a vase; do not break either."),
        (
            "BatteriesDefault-v0",
            "batteries",
            "default",
            "Keep a train alive with batteries (task reward: goal only).",
        ),
        (
            "BatteriesEasy-v0",
            "batteries",
            "easy",
            "Batteries with the train-alive term in the task reward.",
        ),
    ]
    return [
        EnvEntry(
            name=name,
            entry_point=_GRIDWORLD_EP,
            family="gridworld",
            summary=summary,
            kwargs={"problem": problem, "spec": spec},
            max_episode_steps=_GRIDWORLD_HORIZON,
        )
        for name, problem, spec, summary in rows
    ]


def _planar_entries() -> list[EnvEntry]:
    """NEAR's 2-D CPU tasks (maze: our integrator of NEAR's law; PushT: pymunk 6)."""
    return [
        EnvEntry(
            name="Maze-v0",
            entry_point="imitenvs.envs.planar.maze:MazeEnv",
            family="planar",
            summary="NEAR's maze: drive a disc to absolute targets around an L-shaped wall.",
            max_episode_steps=650,
        ),
        EnvEntry(
            name="PushT-v0",
            entry_point="imitenvs.envs.planar.pusht:PushTEnv",
            family="planar",
            summary="NEAR's PushT: push a T block onto its goal pose (needs the planar extra).",
            max_episode_steps=150,
        ),
    ]


def _imujoco_entries() -> list[EnvEntry]:
    """iMuJoCo: 154 Hopper/HalfCheetah/Walker2d variants (gymnasium v5 envs, v3 settings)."""
    from imitenvs.envs.imujoco.grid import REGISTERED_VARIANTS, TRAJECTORY_STEPS, env_name
    from imitenvs.envs.imujoco.grid import parse_variant as parse_imujoco

    batched = "imitenvs.envs.imujoco.batched"
    entries = []
    for name in REGISTERED_VARIANTS:
        variant = parse_imujoco(name)
        entries.append(
            EnvEntry(
                name=env_name(name),
                entry_point=f"{batched}:make_{variant.robot.key}",
                family="imujoco",
                summary=variant.describe(),
                kwargs={"variant": name},
                max_episode_steps=TRAJECTORY_STEPS,
                vector_entry_point=f"{batched}:IMuJoCoBatchedEnv",
            )
        )
    return entries


_DEEP_RLSP_EP = "imitenvs.envs.deep_rlsp.batched"


def _deep_rlsp_entries() -> list[EnvEntry]:
    """Deep RLSP's MuJoCo tasks on gymnasium's v5 models, with the remaining-time feature."""
    rows = [
        (
            "HalfCheetah-FW-v0",
            "halfcheetah",
            {"direction": "forward"},
            "Deep RLSP's cheetah running forward: x velocity - 0.1|a|^2, time feature.",
        ),
        (
            "HalfCheetah-BW-v0",
            "halfcheetah",
            {"direction": "backward"},
            "Deep RLSP's cheetah running backward: -x velocity - 0.1|a|^2, time feature.",
        ),
        (
            "Hopper-FW-v0",
            "hopper",
            {},
            "Hopper-v5 (reward, termination) with Deep RLSP's time feature.",
        ),
        (
            "Hopper-FW-Penalty-v0",
            "hopper",
            {"penalty": 1.0},
            "Hopper-FW without termination: reward - 1 on every unhealthy step.",
        ),
    ]
    classes = {"halfcheetah": "DeepRLSPBatchedHalfCheetahEnv", "hopper": "DeepRLSPBatchedHopperEnv"}
    return [
        EnvEntry(
            name=name,
            entry_point=f"{_DEEP_RLSP_EP}:make_{robot}",
            family="deep_rlsp",
            summary=summary,
            kwargs=kwargs,
            max_episode_steps=1000,
            vector_entry_point=f"{_DEEP_RLSP_EP}:{classes[robot]}",
        )
        for name, robot, kwargs, summary in rows
    ]


def _humanoid_entries() -> list[EnvEntry]:
    """Humanoid imitation on MuJoCo, natively batched (``gymnasium.make(id, num_envs=N)``)."""
    rows = [
        (
            "HumanoidAMP-v0",
            "amp",
            "HumanoidAMPEnv",
            "IsaacGymEnvs' AMP humanoid: 28 PD joints at 30 Hz, AMP observation pairs, clips.",
        ),
        (
            "HumanoidNEAR-v0",
            "near",
            "HumanoidNEAREnv",
            "HumanoidAMP with NEAR's defaults (walk clips, 0.3 m fall height, time+dist reward).",
        ),
        (
            "HumanoidImitate-v0",
            "imitate",
            "HumanoidImitateEnv",
            "DeepMimic-style tracking of a reference clip (pose/vel/end-effector/root/CoM).",
        ),
    ]
    return [
        EnvEntry(
            name=name,
            entry_point=f"imitenvs.envs.humanoid:make_{key}",
            family="humanoid",
            summary=summary,
            max_episode_steps=300,
            batched=True,
            vector_entry_point=f"imitenvs.envs.humanoid:{cls}",
        )
        for name, key, cls, summary in rows
    ]


def _multiagent_entries() -> list[EnvEntry]:
    """PettingZoo ``ParallelEnv`` ids (``imitenvs.make_parallel``; the ``pettingzoo`` extra)."""
    return [
        EnvEntry(
            name="ApplesCommons-v0",
            entry_point="imitenvs.envs.multiagent:make_apples_commons",
            family="multiagent",
            summary="2-4 agents harvest one orchard of regrowing apple trees (PettingZoo).",
            kwargs={"num_agents": 2, "max_cycles": 50},
            max_episode_steps=50,
            multiagent=True,
        ),
    ]


def _build_entries() -> tuple[EnvEntry, ...]:
    entries = tuple(_gridworld_entries()) + tuple(_planar_entries())
    entries += tuple(_imujoco_entries())
    entries += tuple(_deep_rlsp_entries())
    entries += tuple(_humanoid_entries())
    entries += tuple(_multiagent_entries())
    names = [e.name for e in entries]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RuntimeError(f"duplicate env names in the registry: {duplicated}")
    return entries


ENTRIES: tuple[EnvEntry, ...] = _build_entries()
_BY_ID: Mapping[str, EnvEntry] = MappingProxyType({e.id: e for e in ENTRIES})


def families() -> list[str]:
    """Family names in catalogue order."""
    return list(dict.fromkeys(e.family for e in ENTRIES))


def list_envs(family: str | None = None) -> list[str]:
    """Full ids (``imitenvs/...``) of every registered env, optionally of one family.

    Raises:
        ValueError: ``family`` is not a known family (the message lists them).
    """
    if family is not None and family not in families():
        raise ValueError(f"unknown family {family!r}; known families: {', '.join(families())}")
    return [e.id for e in ENTRIES if family is None or e.family == family]


def get_entry(env_id: str) -> EnvEntry:
    """The registry entry for ``env_id`` (with or without the ``imitenvs/`` prefix).

    Raises:
        KeyError: unknown id; the message suggests close matches.
    """
    full = env_id if env_id.startswith(f"{NAMESPACE}/") else f"{NAMESPACE}/{env_id}"
    if full in _BY_ID:
        return _BY_ID[full]
    import difflib

    close = difflib.get_close_matches(full, list(_BY_ID), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown env id {env_id!r}.{hint} Run `python -m imitenvs list` for all ids.")


def own_time_limit(env: gymnasium.Env) -> gymnasium.Env:
    """The last step of ``gymnasium.make`` for batched ids: undo its ``TimeLimit``.

    ``gymnasium.make(id, max_episode_steps=K)`` consumes ``K`` itself (the entry point never
    sees it) and wraps the result in a single-env ``TimeLimit``, which would turn a batch's
    ``(N,)`` ``truncated`` into one value at step K and never reset the worlds. Registered as
    the batched ids' only additional wrapper, this moves ``K`` into the env's own per-world
    ``max_episode_steps`` (and into its spec's kwargs, so ``gymnasium.make(env.spec)`` rebuilds
    it) and returns the env without the ``TimeLimit``.
    """
    if not isinstance(env, gymnasium.wrappers.TimeLimit):
        return env
    limit = env._max_episode_steps  # TimeLimit's own record of K (no public accessor)
    base = env.unwrapped
    base.max_episode_steps = limit
    if base.spec is not None:
        base.spec.kwargs["max_episode_steps"] = limit
    return env.env


def vectorised_batch(env: gymnasium.Env) -> gymnasium.Env:
    """The last step of ``gymnasium.make`` for single-env ids with a ``vector_entry_point``.

    Their entry point returns the ordinary single env, which keeps gymnasium's wrappers
    (``PassiveEnvChecker``, ``OrderEnforcing``, ``TimeLimit``), unless ``num_envs`` is given:
    then it returns the batched env, and this strips those single-env wrappers from it
    (they assume one env) and moves ``TimeLimit``'s ``K`` into its per-world
    ``max_episode_steps`` (as :func:`own_time_limit`). A single env passes unchanged.
    """
    if not isinstance(env.unwrapped, gymnasium.vector.VectorEnv):
        return env
    base = env.unwrapped
    layer: Any = env
    while layer is not base:
        if isinstance(layer, gymnasium.wrappers.TimeLimit):
            limit = layer._max_episode_steps  # TimeLimit's own record of K
            base.max_episode_steps = limit
            if base.spec is not None:
                base.spec.kwargs["max_episode_steps"] = limit
        layer = layer.env
    return base


_OWN_TIME_LIMIT = WrapperSpec("OwnTimeLimit", f"{__name__}:own_time_limit", {})
_VECTORISED_BATCH = WrapperSpec("VectorisedBatch", f"{__name__}:vectorised_batch", {})


class BatchedEnvSpec(EnvSpec):
    """The ``EnvSpec`` of an id with a ``vector_entry_point``: :func:`own_time_limit` (batched
    ids) or :func:`vectorised_batch` (single-env ids with a batched twin) is its additional
    wrapper.

    ``gymnasium.make_vec`` deep-copies the spec and refuses additional wrappers beside a
    ``vector_entry_point`` (and needs none: ``max_episode_steps`` reaches the constructor as a
    keyword there), so a deep copy is a plain ``EnvSpec`` without it.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> EnvSpec:
        plain = {
            f.name: copy.deepcopy(getattr(self, f.name), memo)
            for f in dataclasses.fields(EnvSpec)
            if f.init
        }
        plain["additional_wrappers"] = ()
        return EnvSpec(**plain)


def register_all() -> None:
    """Register every entry with gymnasium (idempotent).

    Batched ids keep their own per-world counters; gymnasium's single-env wrappers
    (``TimeLimit``, ``OrderEnforcing``, ``PassiveEnvChecker``) would break them, so they are
    registered without them (the batched env enforces the call order itself) and with
    :func:`own_time_limit` as a :class:`BatchedEnvSpec`. Single-env ids with a
    ``vector_entry_point`` keep those wrappers, with :func:`vectorised_batch` after them to
    strip them again from a batch (``num_envs=N``).
    """
    for entry in ENTRIES:
        if entry.id in gymnasium.registry or entry.multiagent:
            continue
        if not entry.vectorised:
            gymnasium.register(
                id=entry.id,
                entry_point=entry.entry_point,
                kwargs=dict(entry.kwargs),
                max_episode_steps=entry.max_episode_steps,
            )
            continue
        if not entry.batched:  # an ordinary single env, a batched class with num_envs
            gymnasium.registry[entry.id] = BatchedEnvSpec(
                id=entry.id,
                entry_point=entry.entry_point,
                kwargs=dict(entry.kwargs),
                max_episode_steps=entry.max_episode_steps,
                additional_wrappers=(_VECTORISED_BATCH,),
                vector_entry_point=entry.vector_entry_point,
            )
            continue
        gymnasium.registry[entry.id] = BatchedEnvSpec(
            id=entry.id,
            entry_point=entry.entry_point,
            kwargs=dict(entry.kwargs),
            max_episode_steps=None,
            order_enforce=False,
            disable_env_checker=True,
            additional_wrappers=(_OWN_TIME_LIMIT,),
            vector_entry_point=entry.vector_entry_point,
        )


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """The PettingZoo ``ParallelEnv`` of a ``multiagent`` id; ``kwargs`` override its defaults.

    Raises:
        KeyError: unknown id.
        ValueError: ``env_id`` is not a multiagent id (build it with ``gymnasium.make``).
    """
    entry = get_entry(env_id)
    if not entry.multiagent:
        raise ValueError(f"{entry.id!r} is not a multiagent id; build it with gymnasium.make")
    import importlib

    module, _, name = entry.entry_point.partition(":")
    return getattr(importlib.import_module(module), name)(**{**entry.kwargs, **kwargs})


def make_aec(env_id: str, **kwargs: Any) -> Any:
    """The AEC form of a ``multiagent`` id, by PettingZoo's own ``parallel_to_aec``."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(make_parallel(env_id, **kwargs))
