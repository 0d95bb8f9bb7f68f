"""NEAR's 2-D maze (``imitenvs/Maze-v0``), simulated by our own integrator of NEAR's pymunk law."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from imitenvs.core.checks import CallOrder, box_action, check_choice, check_positive_int
from imitenvs.core.render import FrameRenderMixin
from imitenvs.envs.planar.geometry import (
    AGENT_RADIUS,
    ALL_MAZE_SHAPES,
    BOUNDARY_SEGMENTS,
    MAZE_GOAL,
    MAZE_WALLS,
    WALL_RADIUS,
    WINDOW_SIZE,
    MazeShapes,
    maze_contacts,
    maze_shapes_near,
    unnormalise_action,
)
from imitenvs.envs.planar.raster import Canvas

KP, KV, PD_GAIN = 100.0, 20.0, 0.1
SUBSTEPS, SUBSTEP_DT, SETTLE_DT = 100, 0.3 / 100, 1.0 / 100
FREE_END_FRACTION = 1.0 - (1.0 - PD_GAIN * KP * SUBSTEP_DT**2) ** SUBSTEPS + 1e-6
# Chipmunk (pymunk 6) defaults that shape the contact response; C computes them in float32:
# slop = 0.1f, bias = pow(1 - 0.1f, 60).
COLLISION_SLOP, COLLISION_BIAS, SOLVER_ITERATIONS = 0.10000000149011612, 0.8999999761581421**60, 10
GOAL_TOLERANCE, STUCK_AFTER, STUCK_FRACTION, HISTORY = 0.05, 250, 0.003, 101
GOAL_REWARD, STUCK_REWARD = 1000.0, -500.0
RESET_LOW, RESET_HIGH = 60, 80


@dataclass(frozen=True)
class MazeState:
    """Everything that determines the maze's future (for planners: ``get_state``/``set_state``).

    Attributes:
        position: (2,) agent centre.
        bias_velocity: (2,) Chipmunk's pending contact push-out velocity (0 away from walls).
        elapsed_steps: Env steps since reset (drives the stuck rule).
        recent_positions: (k, 2), k <= 101, agent positions before each of the last k steps.
        last_target: (2,) absolute target of the last action, or ``None`` right after reset.
    """

    position: np.ndarray
    bias_velocity: np.ndarray
    elapsed_steps: int
    recent_positions: np.ndarray
    last_target: np.ndarray | None = None


class MazeEnv(CallOrder, FrameRenderMixin, gymnasium.Env[np.ndarray, np.ndarray]):
    """NEAR's maze: a disc driven to absolute target points must reach a goal past an L-shaped wall.

    A faithful port of ``MazeEnv`` from NEAR (``isaacgymenvs/custom_envs/maze_env.py``, the
    learning mode, ``normalise_action=True``). The arena is 512x512 units with y pointing down,
    bounded by four pymunk segments (5..506, radius 2); four static boxes form the maze
    (x0, y0, x1, y1): (20, 140, 40, 460), (100, 140, 120, 380), (20, 460, 350, 480),
    (100, 380, 350, 400). The agent is a disc of radius 15 (mass 1, no rotation); the goal is the
    point 0.85 * (512, 512).

    Dynamics: each step maps the action to an absolute target ``u = (a + 1) * 256`` and runs 100
    substeps of dt = 3 ms of NEAR's law ``acc = 0.1 (kp (u - p) + kv (0 - v))``, ``v += acc dt``,
    then one physics step, kp = 100, kv = 20. NEAR's pymunk space has damping 0, which zeroes the
    body velocity at every substep, so in free space ``p <- p + 10 dt^2 (u - p)`` per substep
    (the agent covers ~0.9 % of its distance to the target per step). Contacts follow Chipmunk's
    frictionless, inelastic solver exactly as pymunk 6 runs it: penetration beyond a 0.1 slop is
    pushed out by a bias velocity ``(1 - 0.9^(60 dt)) * depth / dt`` (10 Gauss-Seidel iterations).
    We integrate this ourselves (no pymunk at run time): the state is two vectors, so it can be
    saved and restored exactly, and ``tests/test_maze.py`` checks the trajectories against pymunk.

    Spaces:

    ==============  ========================  ===============================================
    observation     Box(0, 512, (2,), f64)    agent (x, y)
    action          Box(-1, 1, (2,), f32)     normalised absolute target; u = (a + 1) * 256
    ==============  ========================  ===============================================

    Reward ``r = goal + stuck`` (terms in ``info["reward_terms"]``):

    - ``goal`` = +1000 when ``|p - g| / |g| < 0.05`` (within 30.8 units of the goal);
    - ``stuck`` = -500 when ``quit_if_stuck`` and more than 250 steps have passed and the agent
      moved less than 0.3 % of the arena diagonal (2.17 units) between the oldest and newest of
      its last 101 pre-step positions.

    Termination: on ``goal`` or ``stuck``. Truncation: 650 steps (``TimeLimit`` from the
    registry; NEAR's ``max_env_steps``). Reset: agent uniform on the integers [60, 80)^2, or
    ``options={"state": (x, y)}`` (NEAR's ``reset_to_state``). ``info`` has ``pos_agent``,
    ``target`` (after a step), ``distance_to_goal``, ``is_success`` and ``reward_terms``.

    Actions: a numpy array, torch tensor or list of 2 numbers, clipped to [-1, 1] (so targets
    stay in the arena); NaN/inf raise ``ValueError``. ``step()`` before ``reset()`` (or
    ``set_state``) raises ``gymnasium.error.ResetNeeded``, and after ``close()``
    ``gymnasium.error.ClosedEnvironmentError``.

    Args:
        render_mode: ``None``, ``"rgb_array"`` (frames of ``render_size`` pixels) or ``"human"``
            (a matplotlib window, drawn on every ``reset`` and ``step``).
        render_size: Side of rendered frames in pixels.
        quit_if_stuck: Keep NEAR's stuck termination (default ``True``).

    Version history:
        v0: initial port of NEAR de07395 (pymunk 6.6 law; NEAR's own demos were recorded with
        older teleoperation dynamics, see ``docs/planar.md``). Fix within v0: out-of-range
        actions are clipped to [-1, 1] as documented (they used to move targets off the arena).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(
        self, render_mode: str | None = None, render_size: int = 256, quit_if_stuck: bool = True
    ) -> None:
        self.render_mode = check_choice(
            "render_mode", render_mode, [None, *self.metadata["render_modes"]]
        )
        self.render_size = check_positive_int("render_size", render_size)
        self.quit_if_stuck = bool(quit_if_stuck)
        self.observation_space = spaces.Box(0.0, WINDOW_SIZE, shape=(2,), dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.goal = np.array(MAZE_GOAL)
        self._pos = [256.0, 400.0]
        self._bias = [0.0, 0.0]
        self._steps = 0
        self._recent: deque[tuple[float, float]] = deque(maxlen=HISTORY)
        self._target: np.ndarray | None = None

    # ---------------------------------------------------------------------------- physics
    def _substep(self, tx: float | None, ty: float, dt: float, shapes: MazeShapes) -> None:
        """One pymunk step of NEAR's law (``tx=None``: a plain physics step, no PD command);
        only ``shapes`` are tested for contact."""
        px, py = self._pos
        bx, by = self._bias
        vx = vy = 0.0  # damping 0 zeroed the velocity at the end of the previous substep
        if tx is not None:
            vx += (KP * (tx - px) + KV * (0.0 - vx)) * PD_GAIN * dt
            vy += (KP * (ty - py) + KV * (0.0 - vy)) * PD_GAIN * dt
        px, py = px + (vx + bx) * dt, py + (vy + by) * dt
        self._pos = [px, py]
        contacts = maze_contacts(px, py, AGENT_RADIUS, shapes) if shapes[0] or shapes[1] else []
        contacts.reverse()  # the order closest to pymunk's arbiter list (matters at box seams)
        coef = 1.0 - COLLISION_BIAS**dt
        goals = [-coef * min(0.0, c.dist + COLLISION_SLOP) / dt for c in contacts]
        impulses = [0.0] * len(contacts)
        bx = by = 0.0
        for _ in range(SOLVER_ITERATIONS if contacts else 0):
            for i, (c, goal) in enumerate(zip(contacts, goals, strict=True)):
                nx, ny = c.normal
                old = impulses[i]
                impulses[i] = max(old + goal + (bx * nx + by * ny), 0.0)
                bx -= nx * (impulses[i] - old)
                by -= ny * (impulses[i] - old)
        self._bias = [bx, by]

    def _run_action(self, target: np.ndarray) -> None:
        tx, ty = float(target[0]), float(target[1])
        # In free space the substeps stay on the segment from p to FREE_END_FRACTION of the way
        # to the target; the pending bias velocity (non-zero only at walls) adds |bias| * dt.
        p = np.array(self._pos)
        end = p + FREE_END_FRACTION * (target - p)
        margin = AGENT_RADIUS + 1.0 + math.hypot(*self._bias) * SUBSTEP_DT
        shapes = maze_shapes_near(p, end, margin)
        for _ in range(SUBSTEPS):
            self._substep(tx, ty, SUBSTEP_DT, shapes)

    def _place(self, position: np.ndarray) -> None:
        self._pos = [float(position[0]), float(position[1])]
        self._bias = [0.0, 0.0]
        self._substep(None, 0.0, SETTLE_DT, ALL_MAZE_SHAPES)  # NEAR's _set_state step

    # ------------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._check_reset()
        super().reset(seed=seed)
        state = (options or {}).get("state")
        if state is None:
            start = self.np_random.integers(low=RESET_LOW, high=RESET_HIGH, size=2)
        else:
            start = _checked_position(state)
        self._steps = 0
        self._recent.clear()
        self._target = None
        self._place(start)
        self._render_human()
        self._mark_ready()
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_step()
        a = box_action(action, self.action_space.low, self.action_space.high)
        self._target = unnormalise_action(a)
        self._recent.append((self._pos[0], self._pos[1]))
        self._run_action(self._target)

        terms = {"goal": 0.0, "stuck": 0.0}
        success = self.distance_to_goal() / float(np.linalg.norm(self.goal)) < GOAL_TOLERANCE
        if success:
            terms["goal"] = GOAL_REWARD
        stuck = self.quit_if_stuck and self._steps > STUCK_AFTER and self._is_stuck()
        if stuck:
            terms["stuck"] = STUCK_REWARD
        self._steps += 1
        info = self._info()
        info["reward_terms"] = terms
        self._render_human()
        return self._obs(), terms["goal"] + terms["stuck"], bool(success or stuck), False, info

    def _draw_frame(self) -> np.ndarray:
        canvas = Canvas(self.render_size)
        for a, b in BOUNDARY_SEGMENTS:
            canvas.capsule(np.array(a), np.array(b), WALL_RADIUS, "wall")
        for box in MAZE_WALLS:
            canvas.box(*box, "maze")
        canvas.disc(self.goal, 10.0, "maze_goal")
        canvas.disc(np.array(self._pos), AGENT_RADIUS, "agent")
        if self._target is not None:
            canvas.cross(self._target, 5.0, 5.0, "action")
        return canvas.image()

    # ------------------------------------------------------------------- planner interface
    def get_state(self) -> MazeState:
        """A snapshot of the full simulator state (restoring it replays the future exactly)."""
        recent = np.array(self._recent, dtype=np.float64).reshape(-1, 2)
        target = None if self._target is None else self._target.copy()
        return MazeState(np.array(self._pos), np.array(self._bias), self._steps, recent, target)

    def set_state(self, state: MazeState) -> np.ndarray:
        """Restore a :class:`MazeState`; returns the observation. ``TimeLimit`` wrappers keep
        their own step count, so planners should call this on ``env.unwrapped``."""
        if not isinstance(state, MazeState):
            raise TypeError(f"set_state expects a MazeState, got {type(state).__name__}")
        self._pos = [float(v) for v in _checked_position(state.position)]
        self._bias = [float(v) for v in np.asarray(state.bias_velocity, dtype=np.float64)]
        self._steps = int(state.elapsed_steps)
        recent = np.asarray(state.recent_positions, dtype=np.float64).reshape(-1, 2)
        self._recent = deque((tuple(p) for p in recent), maxlen=HISTORY)
        self._target = None if state.last_target is None else np.array(state.last_target)
        self._mark_ready()
        return self._obs()

    def distance_to_goal(self) -> float:
        """Euclidean distance from the agent centre to the goal point."""
        return math.hypot(self._pos[0] - self.goal[0], self._pos[1] - self.goal[1])

    # ----------------------------------------------------------------------------- helpers
    def _is_stuck(self) -> bool:
        first, last = np.abs(self._recent[0]), np.abs(self._recent[-1])
        moved = float(np.linalg.norm(first - last)) / (WINDOW_SIZE * math.sqrt(2.0))
        return moved < STUCK_FRACTION

    def _obs(self) -> np.ndarray:
        return np.array(self._pos, dtype=np.float64)

    def _info(self) -> dict[str, Any]:
        dist = self.distance_to_goal()
        info: dict[str, Any] = {
            "pos_agent": self._obs(),
            "distance_to_goal": dist,
            "is_success": dist / float(np.linalg.norm(self.goal)) < GOAL_TOLERANCE,
        }
        if self._target is not None:
            info["target"] = self._target.copy()
        return info


def _checked_position(state: Any) -> np.ndarray:
    pos = np.asarray(state, dtype=np.float64).reshape(-1)
    if (
        pos.shape != (2,)
        or not np.all(np.isfinite(pos))
        or pos.min() < 0
        or pos.max() > WINDOW_SIZE
    ):
        raise ValueError(f"maze state must be a finite (x, y) inside [0, 512]^2, got {state!r}")
    return pos
