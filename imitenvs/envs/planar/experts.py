"""Our own experts for the planar tasks (used to generate the default demonstrations).

- :class:`MazeExpert`: the shortest path around the maze boxes (visibility graph on the boxes
  inflated by the agent radius plus a clearance), followed with NEAR's PD law by aiming each
  step's target at the arena edge along the ray through the next path vertex (the agent then
  moves at the law's top speed and passes exactly through the vertex).
- :class:`PushTExpert`: a push planner. At each decision it simulates candidate pushes in a
  private copy of the env (``get_state``/``set_state`` lookahead): for every pushing site on the
  T's outline, the agent walks around the block (visibility graph on the inflated T) to the site
  and pushes along the inward normal by one of several lengths; plus short pushes straight from
  where the agent is. It executes the candidate with the best progress rate, i.e. the drop of
  the block's pose error (RMS distance of the T's corners to their goal positions) per step, and
  stops early on success. Deterministic: no random numbers.

Both follow the :class:`Expert` protocol: ``reset(env)`` at the start of an episode, then
``expert(obs)`` returns the action.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium
import numpy as np

from imitenvs.envs.planar.geometry import (
    AGENT_RADIUS,
    MAZE_GOAL,
    MAZE_WALLS,
    PUSHT_GOAL_POSE,
    TEE_COG,
    TEE_OUTLINE,
    WALL_RADIUS,
    WINDOW_SIZE,
    local_to_world,
    normalise_target,
    rotation,
    tee_parts_world,
)
from imitenvs.envs.planar.paths import (
    VisibilityGraph,
    box_polygon,
    inflate_convex,
    point_inside,
    ray_to_box,
)


class Expert(Protocol):
    """A scripted or planning policy for one env."""

    def reset(self, env: gymnasium.Env) -> None:
        """Bind to ``env`` at the start of an episode (after ``env.reset``)."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The action for observation ``obs``."""


class MazeExpert:
    """Shortest-path expert for ``imitenvs/Maze-v0`` (see the module docstring).

    Args:
        clearance: Extra distance kept from the maze boxes and arena walls, beyond the radius.
    """

    def __init__(self, clearance: float = 4.0) -> None:
        inflated = [inflate_convex(box_polygon(*b), AGENT_RADIUS + clearance) for b in MAZE_WALLS]
        margin = WALL_RADIUS + AGENT_RADIUS + clearance
        self._graph = VisibilityGraph(inflated, 5.0 + margin, 506.0 - margin)
        self._goal = np.array(MAZE_GOAL)

    def reset(self, env: gymnasium.Env) -> None:
        """The maze expert needs nothing from the env."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        pos = np.asarray(obs, dtype=np.float64)[:2]
        path = self._graph.shortest_path(pos, self._goal) or [pos, self._goal]
        waypoint = next((p for p in path[1:] if np.linalg.norm(p - pos) > 1.0), path[-1])
        return normalise_target(ray_to_box(pos, waypoint, 0.0, WINDOW_SIZE)).astype(np.float32)


def _push_sites() -> list[tuple[np.ndarray, np.ndarray]]:
    """Pushing sites on the T's outline: (point, outward unit normal) in the T's frame, one per
    ~30 units of each edge."""
    outline = np.array(TEE_OUTLINE)
    sites = []
    for i in range(len(outline)):
        a, b = outline[i], outline[(i + 1) % len(outline)]
        d = b - a
        length = float(np.linalg.norm(d))
        normal = np.array([d[1], -d[0]]) / length
        probe = (a + b) / 2 - normal  # a point just inside the edge if `normal` is outward
        x, y = probe
        if not ((-60 < x < 60 and 0 < y < 30) or (-15 < x < 15 and 30 <= y < 120)):
            normal = -normal
        k = max(1, round(length / 30))
        sites += [(a + f * d, normal) for f in (np.arange(k) + 0.5) / k]
    return sites


PUSH_SITES = _push_sites()


def pose_error(pose: np.ndarray, goal: tuple[float, float, float] = PUSHT_GOAL_POSE) -> float:
    """RMS distance between the T's 8 outline corners at ``pose`` and at ``goal``."""
    outline = np.array(TEE_OUTLINE)
    diff = local_to_world(outline, pose) - local_to_world(outline, np.array(goal))
    return float(np.sqrt((diff**2).sum(axis=1).mean()))


class PushTExpert:
    """Push-planning expert for ``imitenvs/PushT-v0`` (see the module docstring).

    Args:
        push_lengths: Distances (world units) of the pushes from a site.
        push_steps: Env steps each push holds its target.
        direct_lengths: Lengths of the pushes straight from the agent's position.
        direct_directions: Number of directions of those pushes.
        clearance: Distance kept from the block while walking around it, beyond the radius.
        rate_offset: Steps added to a candidate's length when ranking progress per step
            (larger values favour bigger gains over quick ones).
        max_approach: Most env steps a walk to a site may take.
    """

    def __init__(
        self,
        push_lengths: tuple[float, ...] = (4.0, 12.0, 30.0, 60.0),
        push_steps: int = 4,
        direct_lengths: tuple[float, ...] = (12.0, 30.0),
        direct_directions: int = 8,
        clearance: float = 6.0,
        rate_offset: float = 10.0,
        max_approach: int = 15,
    ) -> None:
        from imitenvs.envs.planar.pusht import PushTEnv

        self.push_lengths, self.push_steps = push_lengths, push_steps
        angles = np.arange(direct_directions) * 2 * np.pi / max(direct_directions, 1)
        self._directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self.direct_lengths = direct_lengths
        self.clearance, self.rate_offset, self.max_approach = clearance, rate_offset, max_approach
        self._sim = PushTEnv()
        self._sim.reset(seed=0)
        self._env: Any = None
        self._plan: list[np.ndarray] = []

    def reset(self, env: gymnasium.Env) -> None:
        from imitenvs.envs.planar.pusht import PushTEnv

        if not isinstance(env.unwrapped, PushTEnv):
            raise TypeError(f"PushTExpert needs a PushT env, got {type(env.unwrapped).__name__}")
        self._env = env.unwrapped
        self._plan = []

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self._env is None:
            raise RuntimeError("call PushTExpert.reset(env) before asking for actions")
        if not self._plan:
            self._plan = self._replan()
        return normalise_target(self._plan.pop(0)).astype(np.float32)

    # --------------------------------------------------------------------------- planning
    def _replan(self) -> list[np.ndarray]:
        state = self._env.get_state()
        base = pose_error(state.block_pose)
        best: tuple[float, list[np.ndarray]] = (0.0, [])
        fallback: tuple[float, list[np.ndarray]] = (np.inf, [])
        for site, normal in PUSH_SITES:
            route = self._route_to_site(state.agent_position, state.block_pose, site, normal)
            if route is None:
                continue
            waypoints, start, push_dir = route
            approach = self._walk(state, waypoints)
            if approach is None:
                continue
            after = self._sim.get_state()
            for length in self.push_lengths:
                target = start + push_dir * length
                score, steps, final = self._push(after, target, base, len(approach))
                if final < fallback[0]:
                    fallback = (final, [*approach, *[target] * self.push_steps])
                if score < best[0]:
                    best = (score, [*approach, *[target] * steps])
        for direction in self._directions:
            for length in self.direct_lengths:
                target = np.clip(state.agent_position + direction * length, 0.0, WINDOW_SIZE)
                score, steps, _ = self._push(state, target, base, 0)
                if score < best[0]:
                    best = (score, [target] * steps)
        return best[1] or fallback[1] or [state.agent_position]

    def _push(
        self, state: Any, target: np.ndarray, base: float, done_steps: int
    ) -> tuple[float, int, float]:
        """Simulate holding ``target`` from ``state``; returns (best score, steps to reach it,
        final pose error). Scores are minus the error drop per step (lower is better), with a
        large bonus on success."""
        self._sim.set_state(state)
        scores, error = [], base
        for k in range(self.push_steps):
            _, _, success, _, info = self._sim.step(normalise_target(target))
            error = pose_error(info["block_pose"])
            scores.append(-(base - error) / (done_steps + k + 1 + self.rate_offset) - 100 * success)
            if success:
                break
        k = int(np.argmin(scores))
        return scores[k], k + 1, error

    def _walk(self, state: Any, waypoints: list[np.ndarray]) -> list[np.ndarray] | None:
        """Simulate walking through ``waypoints``; returns the targets used, or ``None``."""
        self._sim.set_state(state)
        targets, i, agent = [], 0, state.agent_position
        for _ in range(self.max_approach):
            while i < len(waypoints) and np.linalg.norm(agent - waypoints[i]) < 8.0:
                i += 1
            if i == len(waypoints):
                return targets
            targets.append(waypoints[i])
            agent = self._sim.step(normalise_target(waypoints[i]))[4]["pos_agent"]
        return None

    def _route_to_site(
        self, agent: np.ndarray, pose: np.ndarray, site: np.ndarray, normal: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray] | None:
        """Waypoints from the agent to just outside ``site`` (T frame) avoiding the block, the
        push's start point and its direction (world), or ``None`` if the site is unreachable."""
        contact = local_to_world(site[None], pose)[0]
        outward = rotation(float(pose[2])) @ normal
        start = contact + outward * (AGENT_RADIUS + 3.0)
        entry = contact + outward * (AGENT_RADIUS + 28.0)
        if min(start.min(), entry.min()) < 0 or max(start.max(), entry.max()) > WINDOW_SIZE:
            return None
        parts = tee_parts_world(pose)
        if any(point_inside(start, inflate_convex(p, AGENT_RADIUS + 0.5)) for p in parts):
            return None  # the disc would overlap the other part of the T (inner corners)
        obstacles = [inflate_convex(p, AGENT_RADIUS + self.clearance) for p in parts]
        prefix: list[np.ndarray] = []
        if any(point_inside(agent, o) for o in obstacles):
            cog = local_to_world(np.array([TEE_COG]), pose)[0]
            away = (agent - cog) / max(float(np.linalg.norm(agent - cog)), 1e-6)
            agent = np.clip(agent + away * (AGENT_RADIUS + self.clearance + 5.0), 0, WINDOW_SIZE)
            prefix = [agent]
        path = VisibilityGraph(obstacles, 0.0, WINDOW_SIZE).shortest_path(agent, entry)
        if path is None:
            return None
        return [*prefix, *path[1:]], start, -outward


def make_expert(task: str) -> Expert:
    """The expert for ``"maze"`` or ``"pusht"``."""
    experts = {"maze": MazeExpert, "pusht": PushTExpert}
    if task not in experts:
        raise ValueError(f"unknown planar task {task!r}; choose one of: {', '.join(experts)}")
    return experts[task]()
