"""Tabular view of a gridworld: enumerated states, sparse transitions, features, rewards.

The transition tensor is a ``scipy.sparse.coo_array`` of shape ``(nS, nA, nS)`` (n-dimensional
COO, scipy >= 1.15); :attr:`TabularMDP.transition_matrix` gives the same numbers as a CSR matrix
of shape ``(nS * nA, nS)`` whose row ``s * nA + a`` is ``P(. | s, a)`` (Deep RLSP's
``T_matrix`` layout), which is what value iteration and backward passes multiply with.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

import numpy as np
from scipy import sparse

S = TypeVar("S", bound=Hashable)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


class StateIndex(Mapping[S, int]):
    """Read-only, picklable state -> index mapping."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[S, int]) -> None:
        self._data = data

    def __getitem__(self, state: S) -> int:
        return self._data[state]

    def __contains__(self, state: object) -> bool:
        return state in self._data

    def get(self, state: S, default: int | None = None) -> int | None:  # type: ignore[override]
        return self._data.get(state, default)

    def __iter__(self) -> Iterator[S]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"StateIndex({len(self._data)} states)"


@dataclass(frozen=True)
class StateTable(Generic[S]):
    """Enumerated states and the inverse mapping.

    Attributes:
        states: Every state; ``states[i]`` has index ``i``.
        index: State -> index (read-only mapping).
    """

    states: tuple[S, ...]
    index: Mapping[S, int]

    @classmethod
    def from_states(cls, states: Iterable[S]) -> StateTable[S]:
        """Number ``states`` in iteration order (duplicates keep their first index)."""
        index: dict[S, int] = {}
        for state in states:
            index.setdefault(state, len(index))
        return cls(states=tuple(index), index=StateIndex(index))


@dataclass(frozen=True)
class TabularMDP(Generic[S]):
    """A gridworld problem as a finite MDP (all arrays read-only).

    Attributes:
        states: Every state; index ``i`` <-> ``states[i]``.
        index: State -> index.
        transitions: ``P[s, a, s']``, ``scipy.sparse.coo_array`` of shape ``(nS, nA, nS)``;
            every ``(s, a)`` slice sums to 1.
        features: Feature matrix, float64 ``(nS, k)``; row ``i`` is ``env.features(states[i])``.
        initial_distribution: float64 ``(nS,)``, one-hot on the fixed initial state.
        observed_index: Index of the observed "current state" RLSP reasons from.
        horizon: RLSP planning horizon ``T``.
        r_task: Specified reward weights, float64 ``(k,)``.
        r_true: True reward weights, float64 ``(k,)``.
        feature_names: Names of the ``k`` features.
    """

    states: tuple[S, ...]
    index: Mapping[S, int]
    transitions: sparse.coo_array
    features: np.ndarray
    initial_distribution: np.ndarray
    observed_index: int
    horizon: int
    r_task: np.ndarray
    r_true: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_actions(self) -> int:
        return int(self.transitions.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @cached_property
    def transition_matrix(self) -> sparse.csr_array:
        """``P`` as CSR of shape ``(nS * nA, nS)``; row ``s * nA + a`` is ``P(. | s, a)``."""
        n_s, n_a = self.n_states, self.n_actions
        return self.transitions.reshape((n_s * n_a, n_s)).tocsr()

    @cached_property
    def transition_matrix_transpose(self) -> sparse.csr_array:
        """``P`` transposed, CSR of shape ``(nS, nS * nA)``: pushes ``(s, a)`` mass to ``s'``."""
        return self.transition_matrix.T.tocsr()

    @cached_property
    def is_deterministic(self) -> bool:
        """Whether every ``(s, a)`` has exactly one successor."""
        return self.transition_matrix.nnz == self.n_states * self.n_actions

    def next_distribution(self, state: int, action: int) -> dict[int, float]:
        """``{next_index: probability}`` for state index ``state`` and ``action``."""
        row = self.transition_matrix[[state * self.n_actions + action], :]
        return {int(j): float(p) for j, p in zip(row.indices, row.data, strict=True)}

    def rewards(self, weights: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
        """State rewards ``features @ weights`` (default ``r_task``), float64 ``(nS,)``."""
        w = self.r_task if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n_features,):
            raise ValueError(f"weights have shape {w.shape}; expected ({self.n_features},)")
        return self.features @ w


def build_mdp(
    table: StateTable[S],
    *,
    n_actions: int,
    transitions: Callable[[S, int], list[tuple[float, S]]],
    features: Callable[[S], np.ndarray],
    init_state: S,
    observed_state: S,
    horizon: int,
    r_task: np.ndarray,
    r_true: np.ndarray,
    feature_names: tuple[str, ...],
) -> TabularMDP[S]:
    """Enumerate ``transitions`` for every state and action of ``table``.

    Raises:
        RuntimeError: a transition leaves the enumerated state set (a bug in the dynamics).
    """
    index = table.index
    rows: list[int] = []
    acts: list[int] = []
    cols: list[int] = []
    probs: list[float] = []
    for i, state in enumerate(table.states):
        for a in range(n_actions):
            for p, nxt in transitions(state, a):
                j = index.get(nxt)
                if j is None:
                    raise RuntimeError(
                        f"transition {state!r} --{a}--> {nxt!r} leaves the state set"
                    )
                rows.append(i)
                acts.append(a)
                cols.append(j)
                probs.append(p)
    n_s = len(table.states)
    coords = (np.array(rows), np.array(acts), np.array(cols))
    tensor = sparse.coo_array((np.array(probs), coords), shape=(n_s, n_actions, n_s))
    tensor.sum_duplicates()
    feats = np.array([features(s) for s in table.states], dtype=np.float64)
    p0 = np.zeros(n_s)
    p0[index[init_state]] = 1.0
    return TabularMDP(
        states=table.states,
        index=index,
        transitions=tensor,
        features=_frozen(feats),
        initial_distribution=_frozen(p0),
        observed_index=index[observed_state],
        horizon=horizon,
        r_task=r_task,
        r_true=r_true,
        feature_names=feature_names,
    )
