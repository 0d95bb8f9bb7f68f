"""One invariant test suite parametrised over every registered single-env id.

New families are covered automatically as soon as their ids are in ``imitenvs.registry``.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import imitenvs
from imitenvs.registry import get_entry

ALL_IDS = [i for i in imitenvs.list_envs() if not get_entry(i).multiagent]  # gymnasium ids
ROLLOUT_STEPS = 30


def _unwrapped_make(env_id: str, **kwargs) -> gymnasium.Env:
    return gymnasium.make(env_id, disable_env_checker=True, **kwargs)


def _rollout(env: gymnasium.Env, seed: int, steps: int = ROLLOUT_STEPS) -> list[np.ndarray]:
    """Observations and rewards of a seeded random rollout (actions seeded too)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [np.asarray(obs, dtype=np.float64).ravel()]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append(np.append(np.asarray(obs, dtype=np.float64).ravel(), reward))
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(np.asarray(obs, dtype=np.float64).ravel())
    return out


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_check_env(env_id: str) -> None:
    env = _unwrapped_make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_check_env(env_id: str) -> None:
    env = _unwrapped_make(env_id)
    sb3_check_env(env, warn=False)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_rollout(env_id: str) -> None:
    a, b = _unwrapped_make(env_id), _unwrapped_make(env_id)
    ra, rb = _rollout(a, seed=123), _rollout(b, seed=123)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(x, y)
    a.close()
    b.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_different_seed_different_initial_state(env_id: str) -> None:
    env = _unwrapped_make(env_id)
    stochastic_reset = getattr(env.unwrapped, "stochastic_reset", True)
    first = [np.asarray(env.reset(seed=s)[0]).copy() for s in range(8)]
    distinct = any(not np.array_equal(first[0], o) for o in first[1:])
    if stochastic_reset:
        assert distinct, f"{env_id}: 8 seeds gave the same initial observation"
    else:
        assert not distinct, f"{env_id}: declares a deterministic reset but seeds changed it"
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_observations_inside_space(env_id: str) -> None:
    env = _unwrapped_make(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(ROLLOUT_STEPS):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), f"{env_id}: observation left its space"
        assert np.isfinite(reward)
        assert isinstance(info, dict)
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_rgb_array(env_id: str) -> None:
    env = _unwrapped_make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    assert frame.shape[0] >= 32 and frame.shape[1] >= 32
    assert frame.std() > 0, "rendered frame is blank"
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_close_is_idempotent(env_id: str) -> None:
    env = _unwrapped_make(env_id)
    env.reset(seed=0)
    env.close()
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_registered_episode_length(env_id: str) -> None:
    entry = get_entry(env_id)
    env = gymnasium.make(env_id)
    assert env.spec is not None
    if entry.batched:
        # Batched ids are registered without TimeLimit (max_episode_steps=None); the env keeps
        # its own per-world limit, which the single env exposes too.
        assert env.spec.max_episode_steps is None
        assert env.unwrapped.max_episode_steps == entry.max_episode_steps
    else:
        assert env.spec.max_episode_steps == entry.max_episode_steps
    env.close()
