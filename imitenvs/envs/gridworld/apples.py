"""Apples: pick apples from regrowing trees into a bucket (Deep RLSP ``apples.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import product
from types import MappingProxyType

import numpy as np

from imitenvs.envs.gridworld.base import (
    STAY,
    GridSpec,
    GridworldEnv,
    Pos,
    all_cells,
    counts_then_ones,
    indicators,
    one_hot_grid,
    shift,
)
from imitenvs.envs.gridworld.render import (
    APPLE,
    Canvas,
    ansi_grid,
    draw_agent,
    draw_bucket,
    draw_tree,
)

#: Action 5: interact with the cell the agent faces.
INTERACT = 5
_ARROWS = "^v><"


@dataclass(frozen=True, slots=True)
class ApplesState:
    """Agent cell and facing (0 N, 1 S, 2 E, 3 W), apple flags of the trees and apple counts of
    the buckets (spec order), and whether the agent carries an apple."""

    agent: Pos
    facing: int
    trees: tuple[bool, ...]
    buckets: tuple[int, ...]
    carrying: bool


@dataclass(frozen=True, kw_only=True)
class ApplesSpec(GridSpec[ApplesState]):
    """Tree and bucket cells, regrowth probability, bucket capacity, location features on/off."""

    trees: tuple[Pos, ...]
    buckets: tuple[Pos, ...]
    regrow_probability: float = 0.1
    bucket_capacity: int = 10
    include_location_features: bool = True


APPLES_SPECS: Mapping[str, ApplesSpec] = MappingProxyType({
    "default": ApplesSpec(
        height=5, width=3,
        init_state=ApplesState((0, 2), 0, (True, True, True), (0,), False),
        observed_state=ApplesState((1, 1), 1, (True, False, True), (2,), False),
        trees=((0, 0), (2, 0), (2, 4)), buckets=((1, 2),),
        r_task=(0,) * 14, r_true=(1,) + (0,) * 13, horizon=11,
    ),
})  # fmt: skip


class ApplesEnv(GridworldEnv[ApplesState]):
    """Trees grow apples; the agent can carry one at a time to a bucket (Deep RLSP "apples").

    The agent faces a direction. Moves 0-3 turn the agent that way and step forward if the cell
    is on the grid and not a tree or bucket (turning happens even when blocked); 4 stays.
    Action 5 (interact) acts on the faced cell: an agent carrying an apple always drops it (into
    the bucket if it faces one, up to ``bucket_capacity``; otherwise the apple is lost); an
    agent with empty hands facing a tree with an apple picks it. Then every tree that was empty
    *before* the step regrows an apple with probability 0.1 (independently, drawn with the
    env's ``np_random``), so a tree picked this step stays empty this step.

    Spec ``default`` (``A`` agent facing north, ``T`` tree with apple, ``B`` bucket)::

        T . T
        . . .
        A B .
        . . .
        . . T

    Observed current state: agent at (1, 1) facing south, trees (0, 0) and (2, 4) with an
    apple, (2, 0) empty, 2 apples in the bucket, not carrying. ``T = 11``. ``r_task`` = 0;
    ``r_true`` = apples in the bucket. 7744 states (4 facings x 11 cells x 2^3 trees x 11
    bucket counts x 2).

    **Actions** ``Discrete(6)``: 0 north, 1 south, 2 east, 3 west, 4 stay, 5 interact.

    **Observation** ``"grid"`` (default): flattened ``(5, 3, 6)`` grid, float32 ``Box(0, 10)``
    (``max(5, bucket_capacity)``):

    == ============== ============================================
    0  agent          facing + 1 at the agent's cell (1 N .. 4 W)
    1  carrying       1 at the agent's cell while it carries an apple
    2  tree_apple     trees with an apple
    3  tree_empty     trees without an apple
    4  bucket         bucket cells
    5  bucket_count   number of apples in each bucket
    == ============== ============================================

    Also ``"features"``, ``"state_index"``, ``"pixels"``.

    **Features** (14), in order: ``apples_in_buckets``, ``apples_on_trees``, ``carrying``,
    then ``at_(x, y)`` for each of the 11 walkable cells, ``x``-major ((0,1), (0,2), (0,3),
    (0,4), (1,0), (1,1), (1,3), (1,4), (2,1), (2,2), (2,3)).

    **Reward**: ``features(s') . w``, ``w`` = ``r_task`` (default) / ``r_true`` / explicit
    vector; ``info`` has ``features``, ``reward_task``, ``reward_true``.

    **Termination**: never; the registered id truncates after 20 steps.

    **Version history**: v0: initial, follows deep-rlsp @81941693.
    """

    problem = "apples"
    specs = APPLES_SPECS
    layer_names = ("agent", "carrying", "tree_apple", "tree_empty", "bucket", "bucket_count")
    n_actions = 6
    problem_spec: ApplesSpec

    @cached_property
    def walkable(self) -> tuple[Pos, ...]:
        """Cells the agent can stand on (not a tree or bucket), ``x``-major."""
        blocked = set(self.problem_spec.trees) | set(self.problem_spec.buckets)
        return tuple(pos for pos in all_cells(self.height, self.width) if pos not in blocked)

    @cached_property
    def _walkable_set(self) -> frozenset[Pos]:
        return frozenset(self.walkable)

    @property
    def feature_names(self) -> tuple[str, ...]:
        spec = self.problem_spec
        locations = [f"at_{p}" for p in self.walkable] if spec.include_location_features else []
        return ("apples_in_buckets", "apples_on_trees", "carrying", *locations)

    @property
    def obs_max(self) -> float:
        return float(max(5, self.problem_spec.bucket_capacity))

    def features(self, state: ApplesState) -> np.ndarray:
        head = [float(sum(state.buckets)), float(state.trees.count(True)), float(state.carrying)]
        if self.problem_spec.include_location_features:
            head += indicators(state.agent, self.walkable)
        return np.array(head, dtype=np.float32)

    def feature_high(self) -> np.ndarray:
        spec = self.problem_spec
        return counts_then_ones(
            len(self.feature_names), spec.bucket_capacity * len(spec.buckets), len(spec.trees)
        )

    def grid(self, state: ApplesState) -> np.ndarray:
        spec = self.problem_spec
        pairs = list(zip(spec.trees, state.trees, strict=True))
        grid = one_hot_grid(
            self.height,
            self.width,
            [
                [state.agent],
                [state.agent] if state.carrying else [],
                [pos for pos, apple in pairs if apple],
                [pos for pos, apple in pairs if not apple],
                spec.buckets,
                [],
            ],
        )
        grid[:, :, 0] *= state.facing + 1
        for (x, y), count in zip(spec.buckets, state.buckets, strict=True):
            grid[y, x, 5] = count
        return grid

    def enumerate_states(self) -> Iterator[ApplesState]:
        spec = self.problem_spec
        for (facing, x, y), trees, buckets, carrying in product(
            product(range(4), range(self.width), range(self.height)),
            product((True, False), repeat=len(spec.trees)),
            product(range(spec.bucket_capacity + 1), repeat=len(spec.buckets)),
            (True, False),
        ):
            if (x, y) in self._walkable_set:
                yield ApplesState((x, y), facing, trees, buckets, carrying)

    def _act(self, state: ApplesState, action: int) -> ApplesState:
        """The deterministic part of a step (everything except regrowth)."""
        spec = self.problem_spec
        agent, facing = state.agent, state.facing
        trees, buckets, carrying = state.trees, state.buckets, state.carrying
        if action < STAY:
            facing = action
            target = shift(agent, action)
            agent = target if target in self._walkable_set else agent
        elif action == INTERACT:
            target = shift(agent, facing)
            if carrying:
                carrying = False
                if target in spec.buckets:
                    k = spec.buckets.index(target)
                    count = min(buckets[k] + 1, spec.bucket_capacity)
                    buckets = (*buckets[:k], count, *buckets[k + 1 :])
            elif target in spec.trees and trees[spec.trees.index(target)]:
                k = spec.trees.index(target)
                trees, carrying = (*trees[:k], False, *trees[k + 1 :]), True
        return ApplesState(agent, facing, trees, buckets, carrying)

    def transitions(self, state: ApplesState, action: int) -> list[tuple[float, ApplesState]]:
        acted = self._act(state, action)
        p = self.problem_spec.regrow_probability
        empty = [k for k, apple in enumerate(state.trees) if not apple]
        outcomes = []
        for grown in product((True, False), repeat=len(empty)):
            prob = 1.0
            trees = list(acted.trees)
            for k, g in zip(empty, grown, strict=True):
                trees[k] = g
                prob *= p if g else 1.0 - p
            if prob > 0.0:
                outcomes.append(
                    (
                        prob,
                        ApplesState(
                            acted.agent, acted.facing, tuple(trees), acted.buckets, acted.carrying
                        ),
                    )
                )
        return outcomes

    def _ansi(self, state: ApplesState) -> str:
        spec = self.problem_spec
        cells = {
            pos: "T* " if apple else "T  "
            for pos, apple in zip(spec.trees, state.trees, strict=True)
        }
        cells.update({pos: f"B{n}" for pos, n in zip(spec.buckets, state.buckets, strict=True)})
        cells[state.agent] = f" {_ARROWS[state.facing]}{'a' if state.carrying else ' '}"
        legend = "^ v > < agent facing N/S/E/W  a carried apple  T* tree with apple  T bare tree"
        status = ["B<n> bucket holding n apples", f"carrying apple: {state.carrying}"]
        return ansi_grid(self.height, self.width, cells, legend, status)

    def _draw(self, canvas: Canvas, state: ApplesState) -> None:
        spec = self.problem_spec
        for pos, apple in zip(spec.trees, state.trees, strict=True):
            draw_tree(canvas, pos, apple)
        for pos, count in zip(spec.buckets, state.buckets, strict=True):
            draw_bucket(canvas, pos, count)
        draw_agent(canvas, state.agent, state.facing, APPLE if state.carrying else None)
