"""Shared machinery of the RLSP gridworlds: geometry, observations, rewards, the gymnasium API.

Coordinates are ``(x, y)`` with ``y`` growing downwards; grids are ``(height, width)`` arrays
indexed ``[y, x]``, as in Deep RLSP (``deep_rlsp/envs/gridworlds/env.py``). Each problem
(room, apples, train, batteries) subclasses :class:`GridworldEnv` and supplies its state type,
its spec table and its dynamics; everything else (spaces, sampling, rewards, ``info``, the lazily
built :class:`~imitenvs.envs.gridworld.mdp.TabularMDP`, rendering plumbing) lives here.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

import gymnasium
import numpy as np
from gymnasium import spaces

from imitenvs.core.checks import CallOrder, check_choice, check_discrete_action
from imitenvs.envs.gridworld.mdp import StateTable, TabularMDP, build_mdp
from imitenvs.envs.gridworld.render import Canvas, layers_to_pixels

Pos = tuple[int, int]
S = TypeVar("S", bound=Hashable)

#: Action index -> (dx, dy): 0 north, 1 south, 2 east, 3 west, 4 stay (Deep RLSP's order).
MOVES: tuple[Pos, ...] = ((0, -1), (0, 1), (1, 0), (-1, 0), (0, 0))
ACTION_NAMES: tuple[str, ...] = ("north", "south", "east", "west", "stay")
STAY = 4
OBS_TYPES: tuple[str, ...] = ("grid", "features", "state_index", "pixels")
REWARD_NAMES: tuple[str, ...] = ("task", "true")


def shift(pos: Pos, action: int) -> Pos:
    """The cell one step from ``pos`` in the direction of move ``action`` (0-4), unclipped."""
    dx, dy = MOVES[action]
    return pos[0] + dx, pos[1] + dy


def in_grid(pos: Pos, height: int, width: int) -> bool:
    """Whether ``pos`` lies on a ``height`` x ``width`` grid."""
    return 0 <= pos[0] < width and 0 <= pos[1] < height


def move_clipped(pos: Pos, action: int, height: int, width: int) -> Pos:
    """Move ``pos`` by ``action``; a move off the grid leaves the agent where it was."""
    new = shift(pos, action)
    return new if in_grid(new, height, width) else pos


def all_cells(height: int, width: int) -> Iterator[Pos]:
    """Every cell, ``x``-major (``itertools.product(range(width), range(height))`` order)."""
    for x in range(width):
        for y in range(height):
            yield x, y


def indicators(pos: Pos, locations: Sequence[Pos]) -> list[float]:
    """One 0/1 entry per location in ``locations``: whether ``pos`` is that location."""
    return [float(pos == loc) for loc in locations]


def split_by_flag(cells: Sequence[Pos], flags: Sequence[bool]) -> tuple[list[Pos], list[Pos]]:
    """The cells whose flag is true and those whose flag is false (intact/broken vases, ...)."""
    pairs = list(zip(cells, flags, strict=True))
    return [p for p, f in pairs if f], [p for p, f in pairs if not f]


def counts_then_ones(num_features: int, *counts: float) -> np.ndarray:
    """Feature upper bounds: the maxima of the leading count features, then 1 for indicators.

    Returns:
        float32 array of shape ``(num_features,)``.
    """
    high = np.ones(num_features, dtype=np.float32)
    high[: len(counts)] = counts
    return high


@functools.cache
def track_successors(track: tuple[Pos, ...]) -> Mapping[Pos, Pos]:
    """Where a train on ``track`` goes next: ``track[i] -> track[i + 1]``, wrapping around
    (built once per track, read-only)."""
    if len(set(track)) != len(track):
        raise ValueError(f"train track {track} visits a cell twice")
    return MappingProxyType({pos: track[(i + 1) % len(track)] for i, pos in enumerate(track)})


def one_hot_grid(height: int, width: int, layers: Sequence[Iterable[Pos]]) -> np.ndarray:
    """Stack of 0/1 layers, one per iterable of marked cells.

    Returns:
        float32 array of shape ``(height, width, len(layers))``.
    """
    grid = np.zeros((height, width, len(layers)), dtype=np.float32)
    for channel, cells in enumerate(layers):
        for x, y in cells:
            grid[y, x, channel] = 1.0
    return grid


@dataclass(frozen=True, kw_only=True)
class GridSpec(Generic[S]):
    """What every problem spec has: grid size, initial and observed state, rewards, horizon.

    Attributes:
        height: Grid rows (``y`` in ``[0, height)``).
        width: Grid columns (``x`` in ``[0, width)``).
        init_state: The fixed state every episode starts from.
        observed_state: The "current state" RLSP observes and infers preferences from.
        r_task: Weights of the specified (task) reward over the features, shape ``(k,)``.
        r_true: Weights of the true reward over the features, shape ``(k,)``.
        horizon: Planning horizon ``T`` RLSP assumes elapsed before ``observed_state``.
        obs_type: Default observation type of this spec (``"grid"`` or ``"pixels"``).
    """

    height: int
    width: int
    init_state: S
    observed_state: S
    r_task: tuple[float, ...]
    r_true: tuple[float, ...]
    horizon: int
    obs_type: str = "grid"


class GridworldEnv(CallOrder, gymnasium.Env[Any, np.int64], Generic[S], ABC):
    """Base class of the RLSP gridworlds; see the problem classes for the per-problem spec.

    Actions: an integer in ``[0, 5)`` as a Python or numpy int, a one-element integer array,
    list or torch tensor; anything else raises ``ValueError``. ``step()`` before ``reset()`` (or
    ``set_state``) raises ``gymnasium.error.ResetNeeded``, and after ``close()``
    ``gymnasium.error.ClosedEnvironmentError``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    #: The initial state is fixed (seeds change only the Apples regrowth draws).
    stochastic_reset: ClassVar[bool] = False
    #: Problem name used by :func:`imitenvs.envs.gridworld.make_gridworld`.
    problem: ClassVar[str]
    #: Spec name -> spec (the published layouts).
    specs: ClassVar[Mapping[str, GridSpec]]
    #: Names of the channels of the ``"grid"`` observation, in order.
    layer_names: ClassVar[tuple[str, ...]]
    n_actions: ClassVar[int] = 5

    def __init__(
        self,
        spec: str = "default",
        *,
        obs_type: str | None = None,
        reward: str | Sequence[float] | np.ndarray = "task",
        render_mode: str | None = None,
    ) -> None:
        self.spec_name: str = check_choice(f"{self.problem} spec", spec, list(self.specs))
        self.problem_spec: GridSpec[S] = self.specs[spec]
        self.obs_type: str = check_choice(
            "obs_type", self.problem_spec.obs_type if obs_type is None else obs_type, OBS_TYPES
        )
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.height, self.width = self.problem_spec.height, self.problem_spec.width
        self.r_task = self._weights("r_task", self.problem_spec.r_task)
        self.r_true = self._weights("r_true", self.problem_spec.r_true)
        self.reward_weights = self._parse_reward(reward)
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = self._make_observation_space()
        self._state: S = self.problem_spec.init_state

    # ---------------------------------------------------------------- per-problem interface
    @property
    @abstractmethod
    def feature_names(self) -> tuple[str, ...]:
        """Names of the ``k`` features, in the order of :meth:`features`."""

    @abstractmethod
    def features(self, state: S) -> np.ndarray:
        """Feature vector of ``state``: float32, shape ``(k,)``."""

    @abstractmethod
    def feature_high(self) -> np.ndarray:
        """Largest value each feature can take: float32, shape ``(k,)``."""

    @property
    @abstractmethod
    def obs_max(self) -> float:
        """Largest entry of the ``"grid"`` observation."""

    @abstractmethod
    def grid(self, state: S) -> np.ndarray:
        """Layered grid of ``state``: float32, shape ``(height, width, len(layer_names))``."""

    @abstractmethod
    def enumerate_states(self) -> Iterable[S]:
        """Every state of the tabular MDP, in the original's enumeration order."""

    @abstractmethod
    def transitions(self, state: S, action: int) -> list[tuple[float, S]]:
        """``[(probability, next_state), ...]`` after ``action`` in ``state`` (probs sum to 1)."""

    @abstractmethod
    def _ansi(self, state: S) -> str:
        """Text picture of ``state`` with a legend."""

    @abstractmethod
    def _draw(self, canvas: Canvas, state: S) -> None:
        """Paint ``state`` onto ``canvas``."""

    # ---------------------------------------------------------------- construction helpers
    def _weights(self, name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
        k = len(self.feature_names)
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (k,):
            raise ValueError(
                f"{name} has shape {arr.shape}; expected ({k},), one weight per feature of "
                f"{type(self).__name__}: {', '.join(self.feature_names)}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {arr.tolist()}")
        arr.setflags(write=False)
        return arr

    def _parse_reward(self, reward: str | Sequence[float] | np.ndarray) -> np.ndarray:
        if isinstance(reward, str):
            if reward not in REWARD_NAMES:
                raise ValueError(
                    f"reward={reward!r} is not allowed; choose 'task', 'true' or a weight vector "
                    f"of length {len(self.feature_names)} ({', '.join(self.feature_names)})"
                )
            return self.r_task if reward == "task" else self.r_true
        return self._weights("reward", reward)

    def _make_observation_space(self) -> spaces.Space:
        if self.obs_type == "grid":
            shape = (self.height * self.width * len(self.layer_names),)
            return spaces.Box(0.0, float(self.obs_max), shape=shape, dtype=np.float32)
        if self.obs_type == "features":
            high = self.feature_high().astype(np.float32)
            return spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        if self.obs_type == "state_index":
            return spaces.Discrete(len(self.state_table.states))
        return spaces.Box(0, 255, shape=(64, 64, 3), dtype=np.uint8)

    # ---------------------------------------------------------------- tabular access
    @cached_property
    def state_table(self) -> StateTable[S]:
        """Enumerated states and their indices (built on first access, cached)."""
        return StateTable.from_states(self.enumerate_states())

    @cached_property
    def mdp(self) -> TabularMDP[S]:
        """The whole problem as a tabular MDP (built on first access, cached per instance)."""
        spec = self.problem_spec
        return build_mdp(
            self.state_table,
            n_actions=self.n_actions,
            transitions=self.transitions,
            features=self.features,
            init_state=spec.init_state,
            observed_state=spec.observed_state,
            horizon=spec.horizon,
            r_task=self.r_task,
            r_true=self.r_true,
            feature_names=self.feature_names,
        )

    @property
    def observed_state(self) -> S:
        """The problem's observed "current state" (what RLSP infers preferences from)."""
        return self.problem_spec.observed_state

    @property
    def horizon(self) -> int:
        """RLSP's planning horizon ``T`` for this spec."""
        return self.problem_spec.horizon

    def get_state(self) -> S:
        """The current state (immutable)."""
        return self._state

    def set_state(self, state: S | int) -> None:
        """Put the env in ``state`` (a state object or an index into ``state_table.states``).

        Raises:
            ValueError: not a state of this problem (wrong type, invalid or out of range).
        """
        self._state = self._resolve_state(state)
        self._mark_ready()

    def _resolve_state(self, state: S | int) -> S:
        table = self.state_table
        if isinstance(state, int | np.integer) and not isinstance(state, bool):
            if not 0 <= int(state) < len(table.states):
                raise ValueError(
                    f"state index {int(state)} is out of range; {self.problem} {self.spec_name} "
                    f"has {len(table.states)} states (0..{len(table.states) - 1})"
                )
            return table.states[int(state)]
        if state not in table.index:
            raise ValueError(
                f"{state!r} is not a state of {self.problem} spec {self.spec_name!r}; "
                f"expected a valid {type(self.problem_spec.init_state).__name__} or a state index"
            )
        return state

    # ---------------------------------------------------------------- gymnasium API
    def observe(self, state: S) -> Any:
        """Observation of ``state`` under this env's ``obs_type``."""
        if self.obs_type == "grid":
            return self.grid(state).ravel()
        if self.obs_type == "features":
            return self.features(state)
        if self.obs_type == "state_index":
            return np.int64(self.state_table.index[state])
        return layers_to_pixels(self.grid(state))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start from the spec's initial state, or from ``options["state"]`` (state or index)."""
        self._check_reset()
        super().reset(seed=seed)
        start = (options or {}).get("state")
        self._state = self.problem_spec.init_state if start is None else self._resolve_state(start)
        self._mark_ready()
        return self.observe(self._state), {"features": self.features(self._state)}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Sample the next state; reward = features(next state) . reward weights. Never ends."""
        self._check_step()
        a = check_discrete_action(action, self.n_actions)
        outcomes = self.transitions(self._state, a)
        if len(outcomes) == 1:
            self._state = outcomes[0][1]
        else:
            probs = np.array([p for p, _ in outcomes])
            self._state = outcomes[int(self.np_random.choice(len(outcomes), p=probs))][1]
        f = self.features(self._state)
        info = {
            "features": f,
            "reward_task": float(f @ self.r_task),
            "reward_true": float(f @ self.r_true),
        }
        return self.observe(self._state), float(f @ self.reward_weights), False, False, info

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: text grid with legend; ``"rgb_array"``: uint8 ``(H_px, W_px, 3)``."""
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'"
            )
            return None
        if self.render_mode == "ansi":
            return self._ansi(self._state)
        canvas = Canvas(self.height, self.width)
        self._draw(canvas, self._state)
        return canvas.image
