"""Finite-horizon planning on a tabular MDP: soft / hard value iteration and exact evaluation.

Conventions (those of the RLSP code, so numbers match it):

- A horizon ``T`` counts *states*: a trajectory ``s_0 .. s_{T-1}`` takes ``T - 1`` actions, and the
  state reward is collected at every state, ``s_0`` and ``s_{T-1}`` included. A plan for horizon
  ``T`` is therefore ``T - 1`` policies, float64 ``(T - 1, nS, nA)``; ``policies[t]`` acts in
  ``s_t``.
- Rewards are per state: float64 ``(nS,)`` (the same at every step) or ``(T, nS)`` (one row per
  step, e.g. a time-dependent side-effect penalty).
- Soft value iteration with temperature ``tau > 0`` is the Boltzmann-rational (maximum causal
  entropy) backup ``V_t(s) = tau * log sum_a exp(Q_t(s, a) / tau)``,
  ``pi_t(a | s) = exp((Q_t(s, a) - V_t(s)) / tau)``; ``min(V)`` is subtracted after each backup,
  which leaves the policy unchanged and keeps the numbers small. ``tau = 0`` is hard (optimal)
  value iteration; ties go to the lowest action index.

Transitions are the MDP's CSR matrix of shape ``(nS * nA, nS)``, row ``s * nA + a``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from imitenvs.envs.gridworld.mdp import TabularMDP


def check_horizon(horizon: int, name: str = "horizon") -> int:
    """``horizon`` as an int >= 1, or a ``ValueError`` naming the value."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"{name}={horizon!r} must be an integer >= 1 (states in the trajectory)")
    return int(horizon)


def check_temperature(temperature: float, *, allow_zero: bool = True) -> float:
    """``temperature`` as a finite float > 0 (or >= 0 when ``allow_zero``)."""
    value = float(temperature)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"temperature={temperature!r} must be finite and {bound}")
    return value


def reward_schedule(mdp: TabularMDP, rewards: np.ndarray, horizon: int) -> np.ndarray:
    """State rewards as a read-only ``(T, nS)`` array (a broadcast view for ``(nS,)`` input).

    Raises:
        ValueError: wrong shape or non-finite entries.
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape not in ((mdp.n_states,), (horizon, mdp.n_states)):
        raise ValueError(
            f"state rewards have shape {r.shape}; expected ({mdp.n_states},) or "
            f"({horizon}, {mdp.n_states}) for horizon {horizon}"
        )
    if not np.all(np.isfinite(r)):
        raise ValueError("state rewards contain NaN or inf")
    return np.broadcast_to(r, (horizon, mdp.n_states))


def _backup(mdp: TabularMDP, reward: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``Q(s, a) = r(s) + sum_s' P(s' | s, a) V(s')``, float64 ``(nS, nA)``."""
    future = (mdp.transition_matrix @ value).reshape(mdp.n_states, mdp.n_actions)
    return reward[:, None] + future


def _row_max(q: np.ndarray) -> np.ndarray:
    """``q.max(axis=1)`` for ``(nS, nA)`` with few actions (a column loop is ~6x faster)."""
    peak = q[:, 0].copy()
    for a in range(1, q.shape[1]):
        np.maximum(peak, q[:, a], out=peak)
    return peak


def value_iteration(
    mdp: TabularMDP, rewards: np.ndarray, horizon: int, temperature: float = 1.0
) -> np.ndarray:
    """Finite-horizon soft (``temperature > 0``) or hard (``0``) value iteration.

    Args:
        mdp: The problem.
        rewards: State rewards, ``(nS,)`` or ``(T, nS)``.
        horizon: ``T``, states per trajectory (>= 1).
        temperature: Boltzmann temperature ``tau`` (inverse rationality); 0 plans optimally.

    Returns:
        Policies ``pi_t(a | s)``, float64 ``(T - 1, nS, nA)``; hard policies are one-hot.
    """
    horizon = check_horizon(horizon)
    tau = check_temperature(temperature)
    r = reward_schedule(mdp, rewards, horizon)
    n_s, n_a = mdp.n_states, mdp.n_actions
    policies = np.empty((horizon - 1, n_s, n_a))
    value = r[horizon - 1].copy()
    for t in range(horizon - 2, -1, -1):
        q = _backup(mdp, r[t], value)
        if tau == 0:
            best = np.argmax(q, axis=1)  # first maximum: ties go to the lowest action index
            policies[t] = 0.0
            policies[t, np.arange(n_s), best] = 1.0
            value = q[np.arange(n_s), best]
        else:
            peak = _row_max(q)
            weights = np.exp((q - peak[:, None]) / tau)
            total = weights @ np.ones(n_a)
            policies[t] = weights / total[:, None]
            value = peak + tau * np.log(total)  # tau * logsumexp(q / tau), stably
            value -= value.min()
    return policies


def state_occupancies(mdp: TabularMDP, policies: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Marginal state distributions ``d_t(s) = P(s_t = s)`` of the policies from ``initial``.

    Args:
        policies: ``(T - 1, nS, nA)``.
        initial: ``d_0``, float64 ``(nS,)``.

    Returns:
        float64 ``(T, nS)``; row ``T - 1`` is RLSP's last-step occupancy.
    """
    horizon = policies.shape[0] + 1
    d = np.empty((horizon, mdp.n_states))
    d[0] = initial
    p_t = mdp.transition_matrix_transpose
    for t in range(horizon - 1):
        d[t + 1] = p_t @ (d[t][:, None] * policies[t]).ravel()
    return d


def feature_expectations(mdp: TabularMDP, policies: np.ndarray) -> np.ndarray:
    """``F_t(s) = E[sum_{u >= t} f(s_u) | s_t = s]`` under the policies, to the horizon's end.

    ``F_t`` is also ``dV_t / dtheta`` of soft value iteration on the reward ``f . theta``.

    Returns:
        float64 ``(T, nS, k)``; ``F_{T-1} = f``.
    """
    horizon = policies.shape[0] + 1
    n_s, n_a, k = mdp.n_states, mdp.n_actions, mdp.n_features
    out = np.empty((horizon, n_s, k))
    out[horizon - 1] = mdp.features
    for t in range(horizon - 2, -1, -1):
        future = (mdp.transition_matrix @ out[t + 1]).reshape(n_s, n_a, k)
        out[t] = mdp.features + np.einsum("sa,sak->sk", policies[t], future)
    return out


def policy_value(mdp: TabularMDP, policies: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """Exact expected ``sum_t r_t(s_t)`` over ``T`` states from every start state.

    Args:
        policies: ``(T - 1, nS, nA)``.
        rewards: State rewards, ``(nS,)`` or ``(T, nS)``.

    Returns:
        float64 ``(nS,)``.
    """
    horizon = policies.shape[0] + 1
    r = reward_schedule(mdp, rewards, horizon)
    value = r[horizon - 1].copy()
    for t in range(horizon - 2, -1, -1):
        value = np.sum(policies[t] * _backup(mdp, r[t], value), axis=1)
    return value


def action_transitions(mdp: TabularMDP, action: int) -> sparse.csr_array:
    """``P(s' | s, action)`` as CSR ``(nS, nS)``."""
    if not 0 <= action < mdp.n_actions:
        raise ValueError(f"action={action} is out of range; the MDP has {mdp.n_actions} actions")
    return mdp.transition_matrix[action :: mdp.n_actions]
