"""Collect expert demonstrations into a :class:`~imitenvs.data.demos.DemoDataset`.

Episode ``i`` (the i-th attempt) is reset with seed ``seed + i``, so a collection is
reproducible from its arguments. Every observation of an episode is a row, the final one
included, each with the expert's action at it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from tqdm.auto import tqdm

import imitenvs
from imitenvs.core.checks import check_positive_int
from imitenvs.data.demos import DemoDataset

logger = logging.getLogger(__name__)

PLANAR_TASKS = {"maze": "imitenvs/Maze-v0", "pusht": "imitenvs/PushT-v0"}


def run_episode(
    env: gymnasium.Env, expert: Any, seed: int
) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """One seeded episode of ``expert`` (an :class:`~imitenvs.envs.planar.experts.Expert`).

    Returns:
        states (T+1, obs_dim), actions (T+1, act_dim), success flag, episode return.
    """
    obs, info = env.reset(seed=seed)
    expert.reset(env)
    states, actions, total = [obs], [], 0.0
    while True:
        action = expert(obs)
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        states.append(obs)
        total += float(reward)
        if terminated or truncated:
            break
    actions.append(expert(obs))
    return np.array(states), np.array(actions), bool(info.get("is_success", False)), total


def collect_expert_demos(
    env_id: str,
    expert_factory: Callable[[], Any],
    episodes: int,
    seed: int = 0,
    only_success: bool = True,
    progress: bool = True,
    env_kwargs: dict[str, Any] | None = None,
) -> DemoDataset:
    """Roll out an expert and gather ``episodes`` episodes.

    Args:
        env_id: Registered id (with its ``TimeLimit``).
        expert_factory: Builds the expert (called once).
        episodes: Episodes to keep.
        seed: Seed of the first attempt; attempt ``i`` uses ``seed + i``.
        only_success: Keep only successful episodes (up to ``3 * episodes`` attempts).
        progress: Show a tqdm progress bar.
        env_kwargs: Extra ``gymnasium.make`` kwargs.

    Raises:
        RuntimeError: ``only_success`` and too few attempts succeeded.
    """
    episodes = check_positive_int("episodes", episodes)
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    expert = expert_factory()
    kept_states, kept_actions, returns = [], [], []
    attempts = successes = 0
    max_attempts = 3 * episodes if only_success else episodes
    with tqdm(total=episodes, desc=f"collect {env_id}", disable=not progress) as bar:
        while len(kept_states) < episodes and attempts < max_attempts:
            states, actions, success, ret = run_episode(env, expert, seed + attempts)
            attempts += 1
            successes += success
            if success or not only_success:
                kept_states.append(states)
                kept_actions.append(actions.astype(np.float32))
                returns.append(ret)
                bar.update(1)
            bar.set_postfix(success=f"{successes}/{attempts}")
    env.close()
    if len(kept_states) < episodes:
        raise RuntimeError(
            f"only {len(kept_states)} of {attempts} attempts succeeded; "
            f"wanted {episodes} (pass only_success=False to keep failures)"
        )
    logger.info("collected %d episodes in %d attempts", episodes, attempts)
    metadata = {
        "env_id": env_id,
        "expert": type(expert).__name__,
        "seed": seed,
        "attempts": attempts,
        "success_rate": successes / attempts,
        "only_success": only_success,
        "mean_return": float(np.mean(returns)),
        "created_by": f"imitenvs {imitenvs.__version__}",
        "rows": "observation at each step incl. the final one; action = expert's action there",
    }
    return DemoDataset(
        states=np.concatenate(kept_states),
        episode_ends=np.cumsum([len(s) for s in kept_states]),
        actions=np.concatenate(kept_actions),
        metadata=metadata,
    )


def collect_planar(
    task: str, episodes: int, seed: int = 0, only_success: bool = True, progress: bool = True
) -> DemoDataset:
    """Expert demos of ``"maze"`` or ``"pusht"`` with our experts."""
    from imitenvs.envs.planar.experts import make_expert

    if task not in PLANAR_TASKS:
        raise ValueError(f"unknown planar task {task!r}; choose one of: {', '.join(PLANAR_TASKS)}")
    return collect_expert_demos(
        PLANAR_TASKS[task], lambda: make_expert(task), episodes, seed, only_success, progress
    )
