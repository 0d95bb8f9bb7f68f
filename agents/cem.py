"""Cross-entropy-method (CEM) planning on envs that can save and restore their state.

At every real step the planner snapshots the env (``get_state()``), then for ``iterations``
rounds samples ``num_samples`` action sequences of length ``horizon`` from
``N(mu, sigma)``, scores each by replaying it from the snapshot (``set_state()``), and refits
``mu, sigma`` to the ``elite_fraction`` best. It restores the snapshot and returns ``mu[0]``
(the mean, like most CEM/MPC baselines; NEAR samples once from ``N(mu_0, sigma_0)``), and
shifts ``mu`` one step for the next call (warm start). Works with the maze and PushT
(``MazeEnv`` / ``PushTEnv``), whose ``set_state`` replays futures exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from imitenvs.agents import episode
from imitenvs.agents.onpolicy.ppo import require

Objective = Callable[[float, dict[str, Any]], float]


def task_reward(reward: float, info: dict[str, Any]) -> float:
    """The env's own reward (the default objective)."""
    return reward


@dataclass
class CEMConfig:
    """CEM planner settings (NEAR ``mazeCEM.yaml``: horizon 8, 160 samples, 10 % elites)."""

    horizon: int = 8
    """planned steps per sequence"""
    num_samples: int = 32
    """sequences per round"""
    iterations: int = 3
    """sampling / refitting rounds per real step"""
    elite_fraction: float = 0.1
    """fraction of sequences kept to refit the distribution (at least one)"""
    init_std: float = 1.0
    """standard deviation of the fresh distribution (actions in [-1, 1])"""
    min_std: float = 0.05
    """floor of the refitted standard deviation"""

    def __post_init__(self) -> None:
        for name in ("horizon", "num_samples", "iterations"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        ef = self.elite_fraction
        require(0.0 < ef <= 1.0, "elite_fraction", ef, "must lie in (0, 1]")
        for name in ("init_std", "min_std"):
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be > 0")

    @property
    def num_elites(self) -> int:
        return max(1, math.floor(self.elite_fraction * self.num_samples))


class CEMPlanner:
    """Plans actions for ``env`` (its ``unwrapped`` must have ``get_state``/``set_state``).

    Args:
        env: the env the plan is executed in (simulated rollouts step ``env.unwrapped``, so a
            ``TimeLimit`` wrapper does not count them).
        cfg: planner settings.
        objective: ``(reward, info) -> score`` summed over a planned sequence.
        seed: seed of the planner's sampling generator.
    """

    def __init__(
        self,
        env: gymnasium.Env,
        cfg: CEMConfig,
        objective: Objective = task_reward,
        seed: int | None = None,
    ) -> None:
        self.sim = env.unwrapped
        if not (hasattr(self.sim, "get_state") and hasattr(self.sim, "set_state")):
            raise ValueError(f"{type(self.sim).__name__} has no get_state()/set_state()")
        space = env.action_space
        self.low, self.high = np.asarray(space.low), np.asarray(space.high)
        self.cfg, self.objective = cfg, objective
        self.rng = np.random.default_rng(seed)
        self.mu = np.zeros((cfg.horizon, *space.shape))

    def reset(self) -> None:
        """Forget the warm start (call at the start of each episode)."""
        self.mu = np.zeros_like(self.mu)

    def score(self, sequences: np.ndarray, state: Any) -> np.ndarray:
        """``(K,)`` summed objective of each ``(K, H, A)`` sequence replayed from ``state``;
        a sequence stops scoring once its episode ends."""
        scores = np.zeros(len(sequences))
        for k, seq in enumerate(sequences):
            self.sim.set_state(state)
            for action in seq:
                _, reward, terminated, truncated, info = self.sim.step(action)
                scores[k] += self.objective(float(reward), info)
                if terminated or truncated:
                    break
        return scores

    def plan(self) -> np.ndarray:
        """The action to take now; the env is left in the state it was in."""
        cfg = self.cfg
        state = self.sim.get_state()
        mu, sigma = self.mu, np.full_like(self.mu, cfg.init_std)
        for _ in range(cfg.iterations):
            noise = self.rng.standard_normal((cfg.num_samples, *mu.shape))
            sequences = np.clip(mu + sigma * noise, self.low, self.high).astype(np.float32)
            scores = self.score(sequences, state)
            elites = sequences[np.argsort(scores)[::-1][: cfg.num_elites]]
            mu, sigma = elites.mean(0), np.maximum(elites.std(0), cfg.min_std)
        self.sim.set_state(state)
        self.mu = np.concatenate([mu[1:], np.zeros_like(mu[:1])])
        return mu[0].astype(np.float32)


def run_episode(
    env: gymnasium.Env, planner: CEMPlanner, seed: int, max_steps: int | None = None
) -> dict[str, Any]:
    """Plan and act until the episode ends (see :func:`imitenvs.agents.episode.run_episode`)."""
    planner.reset()
    return episode.run_episode(env, lambda _obs: planner.plan(), seed, max_steps=max_steps)
