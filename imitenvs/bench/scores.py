"""Reference scores and suites of ``imitenvs bench``.

The reference returns live in ``imitenvs/assets/benchmark/reference_scores.json`` (written by
``benchmarks/reference_scores.py``): for each id a ``random`` and an ``expert`` return, each
with a sentence on how it was measured. :func:`get_normalized_score` maps a return onto that
scale as D4RL does::

    100 * (return - random) / (expert - random)

so 0 is the random policy and 100 the expert (scores below 0 or above 100 are possible).

A *suite* is a named list of ids that all have reference scores (:data:`SUITES`).

A row may name an env made with keyword arguments: its key is then a *task* name
``<gym id>@<name>`` (e.g. ``imitenvs/HumanoidImitate-v0@walk``) and the row carries ``env_id``
(the id given to ``gymnasium.make``) and ``env_kwargs``; ``bench run`` makes the env with them
and passes them to the algorithm (see :mod:`imitenvs.bench.run`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from imitenvs.assets import asset_path

REFERENCE_FILE = ("benchmark", "reference_scores.json")
"""where the table lives under ``imitenvs.assets``"""

SUITES: dict[str, tuple[str, ...]] = {
    "planar": ("imitenvs/Maze-v0", "imitenvs/PushT-v0"),
    "gridworlds": (
        "imitenvs/RoomDefault-v0",
        "imitenvs/RoomDefaultPixel-v0",
        "imitenvs/RoomAlt-v0",
        "imitenvs/RoomBad-v0",
        "imitenvs/RoomBig-v0",
        "imitenvs/TrainDefault-v0",
        "imitenvs/BatteriesDefault-v0",
        "imitenvs/BatteriesEasy-v0",
    ),
    "maze": ("imitenvs/Maze-v0",),
    "humanoid-walk": ("imitenvs/HumanoidImitate-v0@walk",),
}
"""suite name -> ids; every id has a reference score (checked by the tests)"""


@dataclass(frozen=True)
class ReferenceScore:
    """The two reference returns of one id (or task) and how each was measured.

    ``env_id`` is the table key; ``make_id`` and ``env_kwargs`` are what
    ``gymnasium.make(make_id, **env_kwargs)`` takes (``make_id == env_id`` and no kwargs for a
    plain id).
    """

    env_id: str
    random: float
    expert: float
    random_how: str
    expert_how: str
    make_id: str = ""
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.make_id:
            object.__setattr__(self, "make_id", self.env_id)

    def normalize(self, ret: float) -> float:
        """``100 * (ret - random) / (expert - random)``."""
        return 100.0 * (float(ret) - self.random) / (self.expert - self.random)


def _full_id(env_id: str) -> str:
    return env_id if env_id.startswith("imitenvs/") else f"imitenvs/{env_id}"


def parse_reference_table(
    document: Any, source: str = "reference table"
) -> dict[str, ReferenceScore]:
    """The ``scores`` of a reference-score JSON document, checked.

    Raises:
        ValueError: the document is not a reference table, or a row is incomplete or has
            ``expert == random``.
    """
    if not isinstance(document, dict) or not isinstance(document.get("scores"), dict):
        raise ValueError(f"{source}: not a reference-score table (no 'scores' object)")
    table: dict[str, ReferenceScore] = {}
    for env_id, row in document["scores"].items():
        try:
            ref = ReferenceScore(
                env_id=env_id,
                random=float(row["random"]),
                expert=float(row["expert"]),
                random_how=str(row["random_how"]),
                expert_how=str(row["expert_how"]),
                make_id=str(row.get("env_id", env_id)),
                env_kwargs=_env_kwargs(row.get("env_kwargs", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{source}: bad row for {env_id!r}: {exc}") from None
        if ref.env_kwargs and ref.make_id == env_id:
            raise ValueError(
                f"{source}: {env_id!r} has env_kwargs, so its key must be a task name "
                "'<env_id>@<name>' and the row must give 'env_id'"
            )
        if ref.expert == ref.random:
            raise ValueError(f"{source}: {env_id!r} has expert == random ({ref.expert})")
        table[env_id] = ref
    return table


def _env_kwargs(value: Any) -> dict[str, Any]:
    """A row's ``env_kwargs``: a JSON object; lists become tuples (as env kwargs expect)."""
    if not isinstance(value, dict):
        raise TypeError(f"env_kwargs must be an object, got {type(value).__name__}")
    return {str(k): tuple(v) if isinstance(v, list) else v for k, v in value.items()}


@cache
def reference_scores() -> dict[str, ReferenceScore]:
    """The shipped reference table, id -> :class:`ReferenceScore` (read once)."""
    path = asset_path(*REFERENCE_FILE)
    return parse_reference_table(json.loads(Path(path).read_text()), str(path))


def get_reference(env_id: str) -> ReferenceScore:
    """The reference scores of ``env_id`` (with or without the ``imitenvs/`` prefix).

    Raises:
        ValueError: ``env_id`` has no reference scores.
    """
    table = reference_scores()
    full = _full_id(env_id)
    if full not in table:
        raise ValueError(
            f"no reference scores for {env_id!r}; ids with scores: {', '.join(sorted(table))}"
        )
    return table[full]


def get_normalized_score(env_id: str, ret: float) -> float:
    """D4RL-style normalised score of return ``ret`` on ``env_id``: 0 = random, 100 = expert.

    Raises:
        ValueError: ``env_id`` has no reference scores.
    """
    return get_reference(env_id).normalize(ret)


def suite_ids(name: str) -> tuple[str, ...]:
    """The ids of suite ``name``.

    Raises:
        ValueError: no such suite.
    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of: {', '.join(sorted(SUITES))}")
    return SUITES[name]
