"""Reference scores and suites of ``imitenvs bench``.

The reference returns live in ``imitenvs/assets/benchmark/reference_scores.json`` (written by
``benchmarks/reference_scores.py``): for each id a ``random`` and an ``expert`` return, each
with a sentence on how it was measured. :func:`get_normalized_score` maps a return onto that
scale as D4RL does::

    100 * (return - random) / (expert - random)

so 0 is the random policy and 100 the expert (scores below 0 or above 100 are possible).

A row may have a ``random`` return only (the iMuJoCo variants without a measured expert
policy): :func:`get_reference` returns it, with ``expert`` ``None``, and
:func:`get_normalized_score` refuses it with one ``ValueError``.

A *suite* is a named list of ids that all have both reference returns (:data:`SUITES`). Most
are fixed lists; a *table suite* (``imujoco-hopper``) is every id of the table with a given
prefix that has an expert row, so it grows as experts are measured.

A row may name an env made with keyword arguments: its key is then a *task* name
``<gym id>@<name>`` (e.g. ``imitenvs/HumanoidImitate-v0@walk``) and the row carries ``env_id``
(the id given to ``gymnasium.make``) and ``env_kwargs``; ``bench run`` makes the env with them
and passes them to the algorithm (see :mod:`imitenvs.bench.run`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from imitenvs.assets import asset_path

REFERENCE_FILE = ("benchmark", "reference_scores.json")
"""where the table lives under ``imitenvs.assets``"""

FIXED_SUITES: dict[str, tuple[str, ...]] = {
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
"""suite name -> ids; every id has both reference returns (checked by the tests)"""

TABLE_SUITES: dict[str, tuple[str, str]] = {
    "imujoco-hopper": ("imitenvs/iMuJoCo-hopper-", "iMuJoCo Hopper variants"),
}
"""suite name -> (id prefix, what): the table's ids with that prefix and an expert row"""


@dataclass(frozen=True)
class ReferenceScore:
    """The two reference returns of one id (or task) and how each was measured.

    ``env_id`` is the table key; ``make_id`` and ``env_kwargs`` are what
    ``gymnasium.make(make_id, **env_kwargs)`` takes (``make_id == env_id`` and no kwargs for a
    plain id).
    """

    env_id: str
    random: float
    expert: float | None
    random_how: str
    expert_how: str | None
    make_id: str = ""
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.make_id:
            object.__setattr__(self, "make_id", self.env_id)

    @property
    def has_expert(self) -> bool:
        """Whether the row has an expert return (else it cannot normalise)."""
        return self.expert is not None

    def require_expert(self) -> float:
        """The expert return.

        Raises:
            ValueError: the row has only a random return.
        """
        if self.expert is None:
            raise ValueError(
                f"{self.env_id!r} has a random reference return ({self.random:.3f}) but no "
                "expert one (no expert policy measured for it), so no normalised score; "
                "measure one with benchmarks/reference_scores.py (see docs/benchmarking.md)"
            )
        return self.expert

    def normalize(self, ret: float) -> float:
        """``100 * (ret - random) / (expert - random)``.

        Raises:
            ValueError: the row has no expert return.
        """
        expert = self.require_expert()
        return 100.0 * (float(ret) - self.random) / (expert - self.random)


def _full_id(env_id: str) -> str:
    return env_id if env_id.startswith("imitenvs/") else f"imitenvs/{env_id}"


def parse_reference_table(
    document: Any, source: str = "reference table"
) -> dict[str, ReferenceScore]:
    """The ``scores`` of a reference-score JSON document, checked.

    A row needs ``random`` and ``random_how``; ``expert`` and ``expert_how`` come together or
    not at all (``expert`` missing or ``null``: a random-only row).

    Raises:
        ValueError: the document is not a reference table, or a row is incomplete or has
            ``expert == random``.
    """
    if not isinstance(document, dict) or not isinstance(document.get("scores"), dict):
        raise ValueError(f"{source}: not a reference-score table (no 'scores' object)")
    table: dict[str, ReferenceScore] = {}
    for env_id, row in document["scores"].items():
        try:
            has_expert = row.get("expert") is not None
            ref = ReferenceScore(
                env_id=env_id,
                random=float(row["random"]),
                expert=float(row["expert"]) if has_expert else None,
                random_how=str(row["random_how"]),
                expert_how=str(row["expert_how"]) if has_expert else None,
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


def get_reference(env_id: str, need_expert: bool = False) -> ReferenceScore:
    """The reference scores of ``env_id`` (with or without the ``imitenvs/`` prefix).

    Args:
        env_id: Id or task name.
        need_expert: Also refuse a row with a random return only.

    Raises:
        ValueError: ``env_id`` has no reference scores (or no expert one, with
            ``need_expert``).
    """
    table = reference_scores()
    full = _full_id(env_id)
    if full not in table:
        both = sorted(k for k, ref in table.items() if ref.has_expert)
        raise ValueError(
            f"no reference scores for {env_id!r}; ids with scores: {', '.join(both)}"
            + _random_only_note(table)
        )
    if need_expert:
        table[full].require_expert()
    return table[full]


def _random_only_note(table: Mapping[str, ReferenceScore]) -> str:
    count = sum(not ref.has_expert for ref in table.values())
    return f" (and {count} ids with a random return only)" if count else ""


def get_normalized_score(env_id: str, ret: float) -> float:
    """D4RL-style normalised score of return ``ret`` on ``env_id``: 0 = random, 100 = expert.

    Raises:
        ValueError: ``env_id`` has no reference scores, or no expert one.
    """
    return get_reference(env_id).normalize(ret)


def table_suite_ids(name: str) -> tuple[str, ...]:
    """The ids of table suite ``name`` (see :data:`TABLE_SUITES`), sorted; may be empty."""
    prefix = TABLE_SUITES[name][0]
    table = reference_scores()
    return tuple(sorted(k for k, ref in table.items() if k.startswith(prefix) and ref.has_expert))


class _Suites(Mapping[str, tuple[str, ...]]):
    """:data:`FIXED_SUITES` and :data:`TABLE_SUITES` as one mapping (table suites are read
    from the reference table when looked up)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        if name in FIXED_SUITES:
            return FIXED_SUITES[name]
        if name in TABLE_SUITES:
            return table_suite_ids(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter([*FIXED_SUITES, *TABLE_SUITES])

    def __len__(self) -> int:
        return len(FIXED_SUITES) + len(TABLE_SUITES)


SUITES: Mapping[str, tuple[str, ...]] = _Suites()
"""suite name -> ids: the fixed suites and the table suites (``imujoco-hopper``)"""


def suite_ids(name: str) -> tuple[str, ...]:
    """The ids of suite ``name``.

    Raises:
        ValueError: no such suite, or a table suite without any id with an expert row.
    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of: {', '.join(sorted(SUITES))}")
    ids = SUITES[name]
    if not ids:
        prefix, what = TABLE_SUITES[name]
        raise ValueError(
            f"suite {name!r} is empty: none of the {what} ({prefix}...) has an expert reference "
            "return yet; measure one with benchmarks/reference_scores.py --only imujoco "
            "--imujoco-policy VARIANT=PATH (docs/benchmarking.md)"
        )
    return ids
