"""Evaluation episodes shared by ``bench run`` and the reference-score measurements.

A *policy* is any callable ``policy(obs) -> action``. If it also has a ``reset(env)`` method
(as the planar experts do, :class:`imitenvs.envs.planar.experts.Expert`), that is called after
every ``env.reset`` with the env, so planners can read the simulator state.

The return of an episode is the undiscounted sum of the env's own ``reward`` over one episode
of the registered length (``terminated`` or ``truncated`` ends it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np

Policy = Callable[[Any], Any]
"""``policy(obs) -> action``; optionally with ``reset(env)`` called after each env reset."""

EVAL_SEED_BASE = 1_000_000
"""evaluation episodes use env seeds from here on, away from demo (0..) and expert (1000..) seeds"""


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    """Env seeds of the ``episodes`` evaluation episodes of training seed ``seed``."""
    if seed < 0 or episodes < 1:
        raise ValueError(f"need seed >= 0 and episodes >= 1, got seed={seed}, episodes={episodes}")
    start = EVAL_SEED_BASE + 1000 * seed
    return list(range(start, start + episodes))


def run_episode(env: gymnasium.Env, policy: Policy, seed: int) -> float:
    """One episode of ``policy`` from ``env.reset(seed=seed)``; returns its undiscounted return."""
    obs, _ = env.reset(seed=seed)
    reset = getattr(policy, "reset", None)
    if callable(reset):
        reset(env)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += float(reward)
        if terminated or truncated:
            return total


def evaluate_policy(
    env_id: str,
    policy: Policy,
    seeds: Sequence[int],
    env_kwargs: Mapping[str, Any] | None = None,
) -> list[float]:
    """Returns of one episode of ``policy`` per env seed, in a fresh
    ``gymnasium.make(env_id, **env_kwargs)``."""
    env = gymnasium.make(env_id, **dict(env_kwargs or {}))
    try:
        return [run_episode(env, policy, int(s)) for s in seeds]
    finally:
        env.close()


class RandomPolicy:
    """Uniform random actions from an action space, seeded (reproducible)."""

    def __init__(self, action_space: gymnasium.Space, seed: int) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def __call__(self, obs: Any) -> Any:
        return self.action_space.sample()


def summarise(returns: Sequence[float]) -> dict[str, float | int]:
    """Mean, standard deviation, standard error and count of episode returns."""
    arr = np.asarray(returns, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {
        "mean": float(arr.mean()),
        "std": std,
        "sem": std / float(np.sqrt(len(arr))),
        "episodes": len(arr),
    }
