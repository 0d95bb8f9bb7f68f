"""The RLSP paper's side-effect baselines, as state-reward penalties added to the task reward.

- Deviation: ``-w * ||f(s) - f(s_obs)||_2``, distance in feature space from the observed state.
- Relative reachability (Krakovna et al., 2018, undiscounted, as RLSP's baseline): with the
  coverage ``C(s, x) = max_pi P(reach x from s within H steps)`` and the baseline distribution
  ``b_t`` of doing nothing (STAY) for ``t`` steps from ``s_obs``, the penalty of being in ``s``
  at step ``t`` is ``sum_x b_t(x) sum_y max(C(x, y) - C(s, y), 0)``, normalised by its maximum;
  a time-dependent ``(H, nS)`` penalty.
"""

from __future__ import annotations

import numpy as np

from imitenvs.agents.reward_inference.tabular import action_transitions, check_horizon
from imitenvs.envs.gridworld.base import STAY
from imitenvs.envs.gridworld.mdp import TabularMDP

#: Rows of the ``(rows, nS)`` work array of the reachability penalty (bounds its memory).
_CHUNK = 1024


def deviation_penalty(mdp: TabularMDP, observed: int | None = None) -> np.ndarray:
    """``||f(s) - f(s_obs)||_2`` for every state, float64 ``(nS,)`` (0 at ``s_obs``)."""
    s_obs = mdp.observed_index if observed is None else observed
    return np.linalg.norm(mdp.features - mdp.features[s_obs], axis=1)


def coverage(mdp: TabularMDP, horizon: int) -> np.ndarray:
    """``C[s, x]``: the best probability of being in ``x`` exactly ``horizon`` steps after ``s``.

    The recursion ``C_{i+1}(s, x) = max_a sum_s' P(s'|s,a) C_i(s', x)`` from ``C_0 = I``, as the
    RLSP baseline computes it (for problems with STAY, "after exactly" equals "within").

    Returns:
        float64 ``(nS, nS)``; dense, so ``8 nS^2`` bytes (480 MB for Apples' 7744 states).
    """
    horizon = check_horizon(horizon)
    per_action = [action_transitions(mdp, a) for a in range(mdp.n_actions)]
    cov = np.eye(mdp.n_states)
    for _ in range(horizon):
        best = per_action[0] @ cov
        for p_a in per_action[1:]:
            np.maximum(best, p_a @ cov, out=best)
        cov = best
    return cov


def baseline_distributions(
    mdp: TabularMDP, start: int, horizon: int, action: int = STAY
) -> np.ndarray:
    """State distributions of repeating ``action`` from ``start``: ``b_0 = e_start``.

    Returns:
        float64 ``(horizon, nS)``.
    """
    p_t = action_transitions(mdp, action).T.tocsr()
    out = np.zeros((check_horizon(horizon), mdp.n_states))
    out[0, start] = 1.0
    for t in range(1, horizon):
        out[t] = p_t @ out[t - 1]
    return out


def _shortfall(cov: np.ndarray, x: int) -> np.ndarray:
    """``sum_y max(C[x, y] - C[s, y], 0)`` for every ``s``, float64 ``(nS,)``."""
    out = np.empty(cov.shape[0])
    for lo in range(0, cov.shape[0], _CHUNK):
        block = cov[x] - cov[lo : lo + _CHUNK]
        out[lo : lo + _CHUNK] = np.maximum(block, 0.0).sum(axis=1)
    return out


def relative_reachability_penalty(
    mdp: TabularMDP, horizon: int, start: int | None = None, action: int = STAY
) -> np.ndarray:
    """The normalised relative-reachability penalty of every state at every step.

    Args:
        horizon: ``H``: the coverage horizon and the number of steps (the evaluation horizon).
        start: Where the baseline starts (default: the observed state).
        action: The baseline's "do nothing" action (STAY).

    Returns:
        float64 ``(H, nS)`` in ``[0, 1]`` (all zeros when nothing can be made unreachable).
    """
    s0 = mdp.observed_index if start is None else start
    cov = coverage(mdp, horizon)
    base = baseline_distributions(mdp, s0, horizon, action)
    cache: dict[int, np.ndarray] = {}
    penalty = np.zeros((horizon, mdp.n_states))
    for t in range(horizon):
        for x in np.flatnonzero(base[t]):
            if x not in cache:
                cache[x] = _shortfall(cov, int(x))
            penalty[t] += base[t, x] * cache[x]
    peak = penalty.max()
    return penalty / peak if peak > 0 else penalty
