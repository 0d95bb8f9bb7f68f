"""Apples commons: 2-4 agents harvest one orchard of regrowing trees (a PettingZoo ParallelEnv).

Every agent follows the RLSP Apples rules of :class:`~imitenvs.envs.gridworld.apples.ApplesEnv`
(the same ``_act`` is applied to each agent's view of the shared state), and the trees regrow as
there: after every step each tree that was empty *before* the step regrows an apple with
probability ``regrow_probability``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from imitenvs.core.checks import check_choice, check_discrete_action
from imitenvs.envs.gridworld.apples import INTERACT, ApplesEnv, ApplesSpec, ApplesState
from imitenvs.envs.gridworld.base import Pos, one_hot_grid
from imitenvs.envs.gridworld.render import (
    APPLE,
    Canvas,
    ansi_grid,
    draw_agent,
    draw_bucket,
    draw_tree,
)

logger = logging.getLogger(__name__)

_ARROWS = "^v><"
MIN_AGENTS, MAX_AGENTS = 2, 4


@dataclass(frozen=True)
class CommonsLayout:
    """A commons orchard: the shared Apples spec and up to four start cells (facing north).

    Attributes:
        apples: Trees, buckets, grid size, regrowth probability and bucket capacity; its
            ``init_state.agent`` is unused (the agents start at ``starts``).
        starts: Start cell of agent ``i`` (``len >= MAX_AGENTS``), distinct walkable cells.
    """

    apples: ApplesSpec
    starts: tuple[Pos, ...]


def _orchard() -> CommonsLayout:
    trees = ((0, 0), (6, 0), (0, 2), (6, 2), (0, 4), (6, 4))
    spec = ApplesSpec(
        height=5,
        width=7,
        init_state=ApplesState((2, 2), 0, (True,) * len(trees), (0, 0), False),
        observed_state=ApplesState((2, 2), 0, (True,) * len(trees), (0, 0), False),
        trees=trees,
        buckets=((3, 0), (3, 4)),
        bucket_capacity=20,
        include_location_features=False,
        r_task=(0.0, 0.0, 0.0),
        r_true=(1.0, 0.0, 0.0),
        horizon=50,
    )
    return CommonsLayout(spec, starts=((2, 2), (4, 2), (2, 1), (4, 3)))


#: Layout name -> layout.
COMMONS_LAYOUTS: Mapping[str, CommonsLayout] = MappingProxyType({"orchard": _orchard()})


class _Rules(ApplesEnv):
    """The single-agent Apples rules on a commons layout (used for ``_act`` and ``walkable``)."""

    specs: ClassVar[Mapping[str, ApplesSpec]] = MappingProxyType(
        {name: layout.apples for name, layout in COMMONS_LAYOUTS.items()}
    )


@dataclass(frozen=True, slots=True)
class AgentState:
    """One agent: cell, facing (0 N, 1 S, 2 E, 3 W), whether it carries an apple."""

    pos: Pos
    facing: int
    carrying: bool


LAYER_NAMES = (
    "self",
    "self_carrying",
    "others",
    "others_carrying",
    "tree_apple",
    "tree_empty",
    "bucket",
    "bucket_count",
)
FEATURE_NAMES = ("delivered", "carrying", "apples_on_trees", "apples_in_buckets")
SIDE_EFFECT_NAMES = ("picked", "dropped_on_floor", "bumped")


class ApplesCommonsEnv(ParallelEnv):
    """2-4 agents share one orchard; each one scores the apples it puts into a bucket.

    Each agent acts by the RLSP Apples rules (:class:`~imitenvs.envs.gridworld.apples.ApplesEnv`):
    moves 0-3 turn the agent and step forward onto a free cell (not a tree, bucket or another
    agent; the turn happens even when blocked), 4 stays, 5 interacts with the faced cell (drop a
    carried apple, into a bucket if faced, else it is lost; or pick an apple from a faced tree).
    Agents act one after another in an order drawn afresh every step from the env's
    ``np_random`` (so two agents reaching for one apple are served fairly); then every tree that
    was empty before the step regrows with probability ``regrow_probability`` (0.1).

    Layout ``orchard`` (7 x 5; ``T`` trees, ``B`` buckets, ``1``-``4`` agent starts)::

        T . . B . . T
        . . 3 . . . .
        T . 1 . 2 . T
        . . . . 4 . .
        T . . B . . T

    **Agents** ``agent_0`` ... ``agent_{n-1}`` (``num_agents`` in 2..4).

    **Actions** ``Discrete(6)`` per agent: 0 north, 1 south, 2 east, 3 west, 4 stay, 5 interact.

    **Observation** per agent: the flattened ``(5, 7, 8)`` grid (float32 ``Box(0, 20)``), the
    channels :data:`LAYER_NAMES`: ``self`` (facing + 1 at the agent's cell), ``self_carrying``,
    ``others`` (facing + 1 of every other agent), ``others_carrying``, ``tree_apple``,
    ``tree_empty``, ``bucket``, ``bucket_count``. Egocentric in identity, not in position, so
    one policy can serve every agent.

    **Reward** per agent: apples it put into a bucket this step (0 or 1), plus ``pick_reward``
    (default 0) for an apple it picked this step (a shaping term for short RL runs).

    **Info** per agent: ``features`` (float32), :data:`FEATURE_NAMES` (apples this agent has
    delivered, carrying, apples on trees, apples in buckets) and, with
    ``side_effect_features=True``, :data:`SIDE_EFFECT_NAMES` (picked an apple this step,
    dropped one on the floor, a move blocked by another agent).

    **Termination**: never; every agent truncates after ``max_cycles`` (50) steps.

    **Version history**: v0: initial.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "apples_commons_v0",
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        num_agents: int = 2,
        *,
        layout: str = "orchard",
        max_cycles: int = 50,
        side_effect_features: bool = False,
        pick_reward: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if not MIN_AGENTS <= int(num_agents) <= MAX_AGENTS:
            raise ValueError(f"num_agents must be in {MIN_AGENTS}..{MAX_AGENTS}, got {num_agents}")
        if int(max_cycles) < 1:
            raise ValueError(f"max_cycles must be >= 1, got {max_cycles}")
        check_choice("layout", layout, list(COMMONS_LAYOUTS))
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.layout = COMMONS_LAYOUTS[layout]
        self.rules = _Rules(layout)
        self.max_cycles = int(max_cycles)
        self.side_effect_features = bool(side_effect_features)
        self.pick_reward = float(pick_reward)
        self.possible_agents = [f"agent_{i}" for i in range(int(num_agents))]
        self.agents: list[str] = []
        spec = self.layout.apples
        self.obs_max = float(max(5, spec.bucket_capacity))
        shape = (spec.height * spec.width * len(LAYER_NAMES),)
        self._obs_space = spaces.Box(0.0, self.obs_max, shape=shape, dtype=np.float32)
        self._obs_spaces = {a: self._obs_space for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(6) for a in self.possible_agents}
        self.np_random, _ = seeding.np_random(None)
        self._reset_state()

    # ------------------------------------------------------------------ PettingZoo interface
    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_spaces[agent]

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of ``info[agent]["features"]``, in order."""
        return FEATURE_NAMES + (SIDE_EFFECT_NAMES if self.side_effect_features else ())

    def _reset_state(self) -> None:
        spec = self.layout.apples
        self.states = {
            a: AgentState(self.layout.starts[i], 0, False)
            for i, a in enumerate(self.possible_agents)
        }
        self.trees: tuple[bool, ...] = spec.init_state.trees
        self.buckets: tuple[int, ...] = (0,) * len(spec.buckets)
        self.delivered = dict.fromkeys(self.possible_agents, 0)
        self.cycles = 0

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Agents back at their starts, every tree with an apple, buckets empty."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self._reset_state()
        self.agents = list(self.possible_agents)
        events = {a: np.zeros(len(SIDE_EFFECT_NAMES), np.float32) for a in self.agents}
        return self._observations(), self._infos(events)

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply every live agent's action (random order), regrow trees, truncate at the end."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"step() needs an action for every live agent; missing {missing}")
        empty_before = [k for k, apple in enumerate(self.trees) if not apple]
        rewards = dict.fromkeys(self.agents, 0.0)
        events = {a: np.zeros(len(SIDE_EFFECT_NAMES), np.float32) for a in self.agents}
        for i in self.np_random.permutation(len(self.agents)):
            agent = self.agents[int(i)]
            action = check_discrete_action(actions[agent], 6)
            rewards[agent] = self._act(agent, action, events[agent])
        p = self.layout.apples.regrow_probability
        grown = self.np_random.random(len(empty_before)) < p
        trees = list(self.trees)
        for k, g in zip(empty_before, grown, strict=True):
            trees[k] = trees[k] or bool(g)
        self.trees = tuple(trees)
        self.cycles += 1
        done = self.cycles >= self.max_cycles
        observations, infos = self._observations(), self._infos(events)
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _act(self, agent: str, action: int, events: np.ndarray) -> float:
        """One agent's Apples step on the shared state; returns its reward, fills ``events``."""
        me = self.states[agent]
        before = ApplesState(me.pos, me.facing, self.trees, self.buckets, me.carrying)
        after = self.rules._act(before, action)  # the RLSP Apples rules, shared
        pos = after.agent
        occupied = {s.pos for a, s in self.states.items() if a != agent}
        if pos in occupied:
            pos, events[2] = me.pos, 1.0
        self.trees, self.buckets = after.trees, after.buckets
        self.states[agent] = AgentState(pos, after.facing, after.carrying)
        events[0] = float(action == INTERACT and after.carrying and not me.carrying)
        put = sum(after.buckets) - sum(before.buckets)
        lost = action == INTERACT and me.carrying and not after.carrying and put == 0
        events[1] = float(lost)
        self.delivered[agent] += put
        return float(put) + self.pick_reward * float(events[0])

    # ------------------------------------------------------------------ observations
    def grid(self, agent: str) -> np.ndarray:
        """``agent``'s layered grid, float32 ``(H, W, 8)`` (channels :data:`LAYER_NAMES`)."""
        spec = self.layout.apples
        me = self.states[agent]
        others = [s for a, s in self.states.items() if a != agent]
        pairs = list(zip(spec.trees, self.trees, strict=True))
        grid = one_hot_grid(
            spec.height,
            spec.width,
            [
                [me.pos],
                [me.pos] if me.carrying else [],
                [s.pos for s in others],
                [s.pos for s in others if s.carrying],
                [pos for pos, apple in pairs if apple],
                [pos for pos, apple in pairs if not apple],
                spec.buckets,
                [],
            ],
        )
        grid[me.pos[1], me.pos[0], 0] = me.facing + 1
        for s in others:
            grid[s.pos[1], s.pos[0], 2] = s.facing + 1
        for (x, y), count in zip(spec.buckets, self.buckets, strict=True):
            grid[y, x, 7] = count
        return grid

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.grid(a).ravel() for a in self.possible_agents}

    def features(self, agent: str, events: np.ndarray | None = None) -> np.ndarray:
        """``agent``'s features (:attr:`feature_names`), float32."""
        head = [
            float(self.delivered[agent]),
            float(self.states[agent].carrying),
            float(sum(self.trees)),
            float(sum(self.buckets)),
        ]
        if self.side_effect_features:
            head += list(np.zeros(3) if events is None else events)
        return np.array(head, dtype=np.float32)

    def _infos(self, events: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        return {a: {"features": self.features(a, events.get(a))} for a in self.agents}

    # ------------------------------------------------------------------ rendering
    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: text grid; ``"rgb_array"``: uint8 ``(H_px, W_px, 3)``; ``"human"``:
        the text grid on stdout."""
        if self.render_mode is None:
            logger.warning("render() called without a render_mode")
            return None
        spec = self.layout.apples
        if self.render_mode == "rgb_array":
            canvas = Canvas(spec.height, spec.width)
            for pos, apple in zip(spec.trees, self.trees, strict=True):
                draw_tree(canvas, pos, apple)
            for pos, count in zip(spec.buckets, self.buckets, strict=True):
                draw_bucket(canvas, pos, count)
            for s in self.states.values():
                draw_agent(canvas, s.pos, s.facing, APPLE if s.carrying else None)
            return canvas.image
        cells = {p: "T* " if a else "T  " for p, a in zip(spec.trees, self.trees, strict=True)}
        cells.update({p: f"B{n}" for p, n in zip(spec.buckets, self.buckets, strict=True)})
        for i, s in enumerate(self.states.values()):
            cells[s.pos] = f"{i}{_ARROWS[s.facing]}{'a' if s.carrying else ''}"
        legend = "<i>^v>< agent i facing N/S/E/W  a carried apple  T* tree with apple  B<n> bucket"
        status = [f"delivered: {self.delivered}", f"step {self.cycles}/{self.max_cycles}"]
        text = ansi_grid(spec.height, spec.width, cells, legend, status)
        if self.render_mode == "human":
            sys.stdout.write(text + "\n")
            return None
        return text

    def close(self) -> None:
        """Nothing to release."""

    def state(self) -> np.ndarray:
        """The global state: the first agent's grid with every agent in ``others``, flattened."""
        grid = self.grid(self.possible_agents[0])
        grid[:, :, 2] += grid[:, :, 0]
        grid[:, :, 3] += grid[:, :, 1]
        grid[:, :, :2] = 0.0
        return grid.ravel()
