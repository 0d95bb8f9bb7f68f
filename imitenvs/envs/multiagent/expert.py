"""A scripted expert for Apples commons and demos collected from it.

Each agent, independently: with an apple, walk to the nearest cell beside a bucket, face the
bucket and drop it in; with empty hands, walk to the nearest cell beside a tree that has an
apple, face it and pick; with no apple anywhere, walk towards the nearest tree and wait there.
Paths are shortest paths on the walkable cells, other agents counted as obstacles (when every
path is blocked the agent waits).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from imitenvs.data.demos import DemoDataset
from imitenvs.envs.gridworld.apples import INTERACT
from imitenvs.envs.gridworld.base import STAY, Pos, shift
from imitenvs.envs.multiagent.commons import ApplesCommonsEnv


def _first_move(start: Pos, goals: set[Pos], free: set[Pos]) -> int | None:
    """First move (0-3) of a shortest path from ``start`` into ``goals`` over ``free`` cells;
    ``STAY`` when ``start`` is a goal, ``None`` when no goal is reachable."""
    if start in goals:
        return STAY
    first: dict[Pos, int] = {}
    queue: deque[Pos] = deque([start])
    seen = {start}
    while queue:
        cell = queue.popleft()
        for move in range(4):
            nxt = shift(cell, move)
            if nxt in seen or nxt not in free:
                continue
            seen.add(nxt)
            first[nxt] = first.get(cell, move)
            if nxt in goals:
                return first[nxt]
            queue.append(nxt)
    return None


def _approach(env: ApplesCommonsEnv, agent: str, targets: Sequence[Pos]) -> int:
    """Action that brings ``agent`` towards facing one of ``targets`` (interact when facing)."""
    me = env.states[agent]
    for move in range(4):
        if shift(me.pos, move) in targets:
            return INTERACT if me.facing == move else move
    occupied = {s.pos for a, s in env.states.items() if a != agent}
    free = set(env.rules.walkable) - occupied
    goals = {shift(t, m) for t in targets for m in range(4)} & free
    move = _first_move(me.pos, goals, free)
    return STAY if move is None else move


def expert_action(env: ApplesCommonsEnv, agent: str) -> int:
    """The scripted expert's action for ``agent`` in the env's current state."""
    spec = env.layout.apples
    if env.states[agent].carrying:
        return _approach(env, agent, spec.buckets)
    ripe = [t for t, apple in zip(spec.trees, env.trees, strict=True) if apple]
    if ripe:
        return _approach(env, agent, ripe)
    me = env.states[agent]
    if any(shift(me.pos, m) in spec.trees for m in range(4)):
        return STAY
    return _approach(env, agent, spec.trees)


def expert_actions(env: ApplesCommonsEnv) -> dict[str, int]:
    """The expert's action for every live agent."""
    return {a: expert_action(env, a) for a in env.agents}


def run_episode(
    env: ApplesCommonsEnv,
    seed: int,
    policy: Callable[[ApplesCommonsEnv], Mapping[str, int]] = expert_actions,
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, float]]:
    """One episode; per agent the observations (T + 1 rows), actions (T) and the return."""
    obs, _ = env.reset(seed=seed)
    observations = {a: [o] for a, o in obs.items()}
    actions: dict[str, list[int]] = {a: [] for a in obs}
    returns = dict.fromkeys(obs, 0.0)
    while env.agents:
        act = dict(policy(env))
        obs, rewards, _, _, _ = env.step(act)
        for a in act:
            observations[a].append(obs[a])
            actions[a].append(int(act[a]))
            returns[a] += rewards[a]
    return observations, actions, returns


def collect_demos(env: ApplesCommonsEnv, episodes: int, seed: int = 0) -> DemoDataset:
    """Expert demos, one dataset episode per (episode, agent), in our :class:`DemoDataset`.

    Rows are that agent's observations; the final observation is stored with action ``STAY``
    (so every transition is a pair of consecutive rows). ``extras["agent"]`` is the agent index.

    Returns:
        states ``(episodes * n_agents * (T + 1), obs_dim)``, actions ``(same rows, 1)`` int64.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    states, actions, agent_index, ends, returns = [], [], [], [], []
    for e in range(episodes):
        obs, act, ret = run_episode(env, seed + e)
        for i, agent in enumerate(env.possible_agents):
            states.append(np.stack(obs[agent]))
            actions.append(np.array([*act[agent], STAY], dtype=np.int64)[:, None])
            agent_index.append(np.full(len(obs[agent]), i, dtype=np.int64))
            ends.append(sum(len(s) for s in states))
            returns.append(ret[agent])
    return DemoDataset(
        states=np.concatenate(states).astype(np.float32),
        episode_ends=np.array(ends),
        actions=np.concatenate(actions),
        extras={"agent": np.concatenate(agent_index)},
        metadata={
            "env_id": "imitenvs/ApplesCommons-v0",
            "num_agents": len(env.possible_agents),
            "max_cycles": env.max_cycles,
            "expert": "imitenvs.envs.multiagent.expert:expert_actions",
            "seed": seed,
            "mean_return": float(np.mean(returns)),
        },
    )
