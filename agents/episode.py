"""One evaluation episode of any policy on a single gymnasium env."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np


def run_episode(
    env: gymnasium.Env,
    act: Callable[[np.ndarray], np.ndarray],
    seed: int,
    render: bool = False,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Reset ``env`` with ``seed`` and step ``act(obs)`` until the episode ends.

    Returns:
        ``{"observations": (T+1, O), "return": float, "success": bool, "steps": T,
        "frames": list, "success_reported": bool}``; ``success`` is the last
        ``info["is_success"]`` (``success_reported``: whether the env gave that key),
        ``frames`` holds ``env.render()`` before each step when ``render`` is set.
    """
    obs, _ = env.reset(seed=seed)
    observations, frames, total, info, steps = [np.asarray(obs)], [], 0.0, {}, 0
    while max_steps is None or steps < max_steps:
        if render:
            frames.append(env.render())
        obs, reward, terminated, truncated, info = env.step(act(np.asarray(obs)))
        observations.append(np.asarray(obs))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            break
    return {
        "observations": np.stack(observations),
        "return": total,
        "success": bool(info.get("is_success", False)),
        "steps": steps,
        "frames": frames,
        "success_reported": "is_success" in info,
    }
