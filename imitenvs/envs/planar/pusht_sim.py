"""The pymunk scene behind :class:`~imitenvs.envs.planar.pusht.PushTEnv` (walls, agent, T block).

Kept apart from the env so that the gymnasium class holds only the task (reward, spaces,
resets) and so that planners can reason about the scene's pieces. pymunk and shapely are
imported lazily with an install hint (the ``planar`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from imitenvs.envs.planar._deps import require
from imitenvs.envs.planar.geometry import (
    AGENT_RADIUS,
    BOUNDARY_SEGMENTS,
    TEE_BAR,
    TEE_OUTLINE,
    TEE_STEM,
    WALL_RADIUS,
    local_to_world,
)

if TYPE_CHECKING:
    import pymunk

KP, KV = 100.0, 20.0
SIM_HZ, CONTROL_HZ = 100, 10
SUBSTEPS, DT = SIM_HZ // CONTROL_HZ, 1.0 / SIM_HZ


class PushTSim:
    """pymunk space of NEAR's / Diffusion Policy's PushT with its PD-driven kinematic agent."""

    def __init__(self) -> None:
        self._pymunk = require("pymunk", "the PushT environment")
        self._shapely = require("shapely", "the PushT environment")
        self.space: pymunk.Space
        self.agent: pymunk.Body
        self.block: pymunk.Body
        self._goal_cache: tuple[tuple[float, ...], Any] | None = None
        self._build()

    def _build(self) -> None:
        pm = self._pymunk
        space = pm.Space()
        space.gravity = 0, 0
        space.damping = 0
        space.add(*(pm.Segment(space.static_body, a, b, WALL_RADIUS) for a, b in BOUNDARY_SEGMENTS))
        agent = pm.Body(body_type=pm.Body.KINEMATIC)
        agent.position = (256, 400)
        space.add(agent, pm.Circle(agent, AGENT_RADIUS))
        moment = pm.moment_for_poly(1, vertices=TEE_BAR)
        block = pm.Body(1, moment + moment)  # NEAR/DP count the bar's moment twice
        bar, stem = pm.Poly(block, TEE_BAR), pm.Poly(block, TEE_STEM)
        block.center_of_gravity = (bar.center_of_gravity + stem.center_of_gravity) / 2
        block.position = (256, 300)
        block.angle = 0
        space.add(block, bar, stem)
        self.space, self.agent, self.block = space, agent, block

    def place(self, state: np.ndarray) -> None:
        """Fresh scene at ``state = (ax, ay, bx, by, angle)``: angle before position, then one
        0.01 s step, as NEAR's non-legacy ``_set_state``."""
        self._build()
        self.agent.position = (float(state[0]), float(state[1]))
        self.block.angle = float(state[4])
        self.block.position = (float(state[2]), float(state[3]))
        self.space.step(DT)

    def load(self, state: Any) -> None:
        """Fresh scene with the positions and velocities of a ``PushTState`` (no settle step)."""
        self._build()
        self.agent.position = tuple(map(float, state.agent_position))
        self.agent.velocity = tuple(map(float, state.agent_velocity))
        self.block.angle = float(state.block_pose[2])
        self.block.position = (float(state.block_pose[0]), float(state.block_pose[1]))
        self.block.velocity = tuple(map(float, state.block_velocity))
        self.block.angular_velocity = float(state.block_angular_velocity)

    def run_action(self, target: np.ndarray) -> int:
        """Ten PD substeps towards the absolute ``target``; returns NEAR's ``n_contacts`` (contact
        points summed over substeps, divided by the substep count, rounded up)."""
        tx, ty = float(target[0]), float(target[1])
        agent, block, space = self.agent, self.block, self.space
        counts: list[int] = []

        def count_points(arbiter: pymunk.Arbiter) -> None:
            counts.append(len(arbiter.contact_point_set.points))

        for _ in range(SUBSTEPS):
            (px, py), (vx, vy) = agent.position, agent.velocity
            ax = KP * (tx - px) + KV * (0.0 - vx)
            ay = KP * (ty - py) + KV * (0.0 - vy)
            agent.velocity = (vx + ax * DT, vy + ay * DT)
            space.step(DT)
            block.each_arbiter(count_points)  # every collision involves the block
        return -(-sum(counts) // SUBSTEPS)

    def coverage(self, goal_pose: np.ndarray) -> float:
        """``area(goal T ∩ block T) / area(goal T)`` by polygon intersection."""
        key = tuple(float(v) for v in goal_pose)
        if self._goal_cache is None or self._goal_cache[0] != key:
            self._goal_cache = (key, self._shapely.Polygon(local_to_world(TEE_OUTLINE, goal_pose)))
        goal = self._goal_cache[1]
        block = self._shapely.Polygon(local_to_world(TEE_OUTLINE, self.block_pose()))
        return float(goal.intersection(block).area / goal.area)

    def agent_position(self) -> np.ndarray:
        return np.array(self.agent.position, dtype=np.float64)

    def agent_velocity(self) -> np.ndarray:
        return np.array(self.agent.velocity, dtype=np.float64)

    def block_pose(self) -> np.ndarray:
        """(3,) ``(x, y, angle)`` of the block's local origin (angle not wrapped)."""
        return np.array([*self.block.position, self.block.angle], dtype=np.float64)

    def block_velocity(self) -> np.ndarray:
        return np.array(self.block.velocity, dtype=np.float64)

    def block_angular_velocity(self) -> float:
        return float(self.block.angular_velocity)
