"""NEAR's PushT (``imitenvs/PushT-v0``): Diffusion Policy's push-T task with NEAR's reward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from imitenvs.core.checks import CallOrder, box_action, check_choice, check_positive_int
from imitenvs.core.render import FrameRenderMixin
from imitenvs.envs.planar import pusht_sim
from imitenvs.envs.planar.geometry import (
    AGENT_RADIUS,
    BOUNDARY_SEGMENTS,
    PUSHT_GOAL_POSE,
    WALL_RADIUS,
    WINDOW_SIZE,
    tee_keypoints_world,
    tee_parts_world,
    unnormalise_action,
)
from imitenvs.envs.planar.raster import Canvas

SUCCESS_COVERAGE = 0.95
THRESHOLD_START, THRESHOLD_STEP, THRESHOLD_TRIGGER = 0.1, 0.1, 0.9
GOAL_DISTANCE_SCALE, AGENT_DISTANCE_SCALE = 725.0, 363.0
REWARDS = ("near", "coverage")
OBS_TYPES = ("state", "keypoints")
BLOCK_MARGIN = 128.0  # the T's size: how far past the arena the block bound reaches


@dataclass(frozen=True)
class PushTState:
    """Everything :meth:`PushTEnv.set_state` restores.

    pymunk's warm-start cache (impulses of the last contacts) is not part of it: a restored
    scene starts with a fresh cache, so restoring the same state and replaying the same actions
    is bit-for-bit repeatable, but it may differ from the original run by a fraction of a unit
    after contacts (pymunk's own ``Space.copy`` mis-restores that cache in pymunk 6.11).

    Attributes:
        agent_position: (2,) agent centre.
        agent_velocity: (2,) agent velocity (the kinematic agent's PD state).
        block_pose: (3,) T block ``(x, y, angle)``; (x, y) is the T's local origin (the middle
            of the bar's outer edge), not its centre of gravity.
        block_velocity: (2,) velocity of the block's centre of gravity.
        block_angular_velocity: Angular velocity of the block (rad/s).
        reward_threshold: NEAR's rising coverage threshold.
        elapsed_steps: Env steps since reset.
        last_target: (2,) absolute target of the last action, or ``None``.
    """

    agent_position: np.ndarray
    agent_velocity: np.ndarray
    block_pose: np.ndarray
    block_velocity: np.ndarray
    block_angular_velocity: float
    reward_threshold: float = THRESHOLD_START
    elapsed_steps: int = 0
    last_target: np.ndarray | None = None


class PushTEnv(CallOrder, FrameRenderMixin, gymnasium.Env[np.ndarray, np.ndarray]):
    """NEAR's PushT: push a T-shaped block onto a fixed goal pose with a kinematic disc.

    A port of ``PushTEnv`` from NEAR (``isaacgymenvs/custom_envs/pusht_env.py``), itself
    Diffusion Policy's PushT, simulated with pymunk 6 (``pip install "imitenvs[planar]"``).
    The 512x512 arena (y down) has four segment walls (5..506, radius 2). The agent is a
    KINEMATIC disc of radius 15; the block is a T of two boxes, bar (-60..60, 0..30) and stem
    (-15..15, 30..120), mass 1, moment ``2 * moment_for_poly(bar)`` (NEAR's doubled bar),
    centre of gravity (0, 45). The goal pose is (256, 256, pi/4). Space damping 0 makes the block
    quasi-static: it moves only while pushed. Shapes are frictionless (pymunk's default 0).

    Dynamics: the action maps to an absolute target ``u = (a + 1) * 256``; each step runs 10
    substeps of dt = 0.01 s (10 Hz control) of ``acc = kp (u - p) + kv (0 - v)``, ``v += acc dt``,
    then one pymunk step, kp = 100, kv = 20.

    Spaces:

    =================  ==========================  ==========================================
    observation        Box(f64, (5,))              ``obs_type="state"``: agent (x, y) in
                                                   [0, 512], block (x, y) in [-128, 640],
                                                   block angle mod 2 pi in [0, 2 pi]
    observation        Box(f64, (20,))             ``obs_type="keypoints"``: DP's 9 block
                                                   keypoints (18) in [-128, 640], then agent
                                                   (x, y) in [0, 512]
    action             Box(-1, 1, (2,), f32)       normalised absolute target
    =================  ==========================  ==========================================

    NEAR and DP declare [0, 512] for the block too, but the kinematic agent can squeeze the
    block a few units into a wall, so our bound adds the T's size on each side. The agent stays
    in [0, 512]: its discrete PD response to targets in that square is a convex combination.

    Coverage ``c = area(T_goal ∩ T_block) / area(T_goal)`` (polygon intersection, shapely).

    Reward (``info["reward_terms"]`` sums to it):

    - ``reward="near"`` (default): ``coverage = clip(c / tau, 0, 1)``,
      ``goal_distance = -|g_xy - b_xy| / 725``, ``agent_distance = -|p - b_xy| / 363``. The
      threshold ``tau`` starts at 0.1 and grows by 0.1 after every step whose coverage term
      exceeds 0.9, while ``tau < 0.95`` (so it ends at 1.0), as in NEAR.
    - ``reward="coverage"``: ``coverage = clip(c / 0.95, 0, 1)`` (Diffusion Policy, gym-pusht).

    Termination: ``c > 0.95`` (``info["is_success"]``). Truncation: 150 steps (``TimeLimit``).
    Reset: agent on the integers [50, 450)^2, block on [100, 400)^2, angle ``N(0,1) 2 pi - pi``
    (Gaussian, as NEAR), drawn in that order from the env's generator; or
    ``options={"state": (ax, ay, bx, by, angle)}``. The block's angle is set before its
    position, then one 0.01 s physics step settles the scene (NEAR's ``_set_state``).
    ``info``: ``pos_agent``, ``vel_agent``, ``block_pose``, ``goal_pose``, ``n_contacts``,
    ``coverage``, ``reward_threshold``, ``is_success``, ``reward_terms``.

    Actions: a numpy array, torch tensor or list of 2 numbers, clipped to [-1, 1] (so targets
    stay in the arena); NaN/inf raise ``ValueError``. ``step()`` before ``reset()`` (or
    ``set_state``) raises ``gymnasium.error.ResetNeeded``, and after ``close()``
    ``gymnasium.error.ClosedEnvironmentError``.

    Args:
        render_mode: ``None``, ``"rgb_array"`` or ``"human"`` (a matplotlib window, drawn on
            every ``reset`` and ``step``).
        render_size: Side of rendered frames in pixels (96 as NEAR/DP by default).
        obs_type: ``"state"`` (NEAR's 5-d vector) or ``"keypoints"`` (DP's low-dim obs).
        reward: ``"near"`` or ``"coverage"``.

    Version history:
        v0: initial port of NEAR de07395 / Diffusion Policy (pymunk 6). Fix within v0:
        out-of-range actions are clipped to [-1, 1] as documented (they used to move targets
        off the arena).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(
        self,
        render_mode: str | None = None,
        render_size: int = 96,
        obs_type: str = "state",
        reward: str = "near",
    ) -> None:
        self.render_mode = check_choice(
            "render_mode", render_mode, [None, *self.metadata["render_modes"]]
        )
        self.render_size = check_positive_int("render_size", render_size)
        self.obs_type = check_choice("obs_type", obs_type, OBS_TYPES)
        self.reward_type = check_choice("reward", reward, REWARDS)
        lo, hi = -BLOCK_MARGIN, WINDOW_SIZE + BLOCK_MARGIN
        if obs_type == "state":
            low = np.array([0.0, 0.0, lo, lo, 0.0])
            high = np.array([WINDOW_SIZE, WINDOW_SIZE, hi, hi, 2 * np.pi])
        else:
            low = np.array([lo] * 18 + [0.0, 0.0])
            high = np.array([hi] * 18 + [WINDOW_SIZE, WINDOW_SIZE])
        self.observation_space = spaces.Box(low, high, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.goal_pose = np.array(PUSHT_GOAL_POSE)
        self._sim = pusht_sim.PushTSim()
        self._threshold = THRESHOLD_START
        self._steps = 0
        self._target: np.ndarray | None = None
        self._coverage = 0.0

    # ------------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._check_reset()
        super().reset(seed=seed)
        state = (options or {}).get("state")
        if state is None:
            rng = self.np_random
            state = np.array(
                [
                    rng.integers(low=50, high=450),
                    rng.integers(low=50, high=450),
                    rng.integers(low=100, high=400),
                    rng.integers(low=100, high=400),
                    rng.normal() * 2 * np.pi - np.pi,
                ],
                dtype=np.float64,
            )
        self._sim.place(_checked_state(state))
        self._threshold = THRESHOLD_START
        self._steps = 0
        self._target = None
        self._coverage = self._sim.coverage(self.goal_pose)
        self._render_human()
        self._mark_ready()
        return self._obs(), self._info(n_contacts=0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_step()
        a = box_action(action, self.action_space.low, self.action_space.high)
        self._target = unnormalise_action(a)
        n_contacts = self._sim.run_action(self._target)
        self._coverage = self._sim.coverage(self.goal_pose)
        terms = self._reward_terms()
        self._steps += 1
        info = self._info(n_contacts)
        info["reward_terms"] = terms
        reward = float(sum(terms.values()))
        self._render_human()
        return self._obs(), reward, bool(self._coverage > SUCCESS_COVERAGE), False, info

    def _draw_frame(self) -> np.ndarray:
        canvas = Canvas(self.render_size)
        for a, b in BOUNDARY_SEGMENTS:
            canvas.capsule(np.array(a), np.array(b), WALL_RADIUS, "wall")
        for part in tee_parts_world(self.goal_pose):
            canvas.convex_polygon(part, "tee_goal")
        for part in tee_parts_world(self._sim.block_pose()):
            canvas.convex_polygon(part, "tee")
        canvas.disc(self._sim.agent_position(), AGENT_RADIUS, "agent")
        if self._target is not None:
            canvas.cross(self._target, 8.0 * 512 / 96 / 2, 512 / 96, "action")
        return canvas.image()

    # ------------------------------------------------------------------- planner interface
    def get_state(self) -> PushTState:
        """A snapshot of the scene and the task counters (see :class:`PushTState`)."""
        sim = self._sim
        return PushTState(
            agent_position=sim.agent_position(),
            agent_velocity=sim.agent_velocity(),
            block_pose=sim.block_pose(),
            block_velocity=sim.block_velocity(),
            block_angular_velocity=sim.block_angular_velocity(),
            reward_threshold=self._threshold,
            elapsed_steps=self._steps,
            last_target=None if self._target is None else self._target.copy(),
        )

    def set_state(self, state: PushTState) -> np.ndarray:
        """Restore a :class:`PushTState`; returns the observation (call on ``env.unwrapped``)."""
        if not isinstance(state, PushTState):
            raise TypeError(f"set_state expects a PushTState, got {type(state).__name__}")
        numbers = np.array(
            [
                *state.agent_position,
                *state.agent_velocity,
                *state.block_pose,
                *state.block_velocity,
                state.block_angular_velocity,
            ],
            dtype=np.float64,
        )
        if numbers.shape != (10,) or not np.all(np.isfinite(numbers)):
            raise ValueError(f"PushTState must hold finite 2-d positions/velocities, got {state}")
        self._sim.load(state)
        self._threshold = float(state.reward_threshold)
        self._steps = int(state.elapsed_steps)
        self._target = None if state.last_target is None else np.array(state.last_target)
        self._coverage = self._sim.coverage(self.goal_pose)
        self._mark_ready()
        return self._obs()

    @property
    def coverage(self) -> float:
        """Fraction of the goal T covered by the block after the last reset/step."""
        return self._coverage

    # ----------------------------------------------------------------------------- helpers
    def _reward_terms(self) -> dict[str, float]:
        if self.reward_type == "coverage":
            return {"coverage": float(np.clip(self._coverage / SUCCESS_COVERAGE, 0.0, 1.0))}
        cover = float(np.clip(self._coverage / self._threshold, 0.0, 1.0))
        if cover > THRESHOLD_TRIGGER and self._threshold < SUCCESS_COVERAGE:
            self._threshold += THRESHOLD_STEP
        block_xy = self._sim.block_pose()[:2]
        return {
            "coverage": cover,
            "goal_distance": -float(np.linalg.norm(self.goal_pose[:2] - block_xy))
            / GOAL_DISTANCE_SCALE,
            "agent_distance": -float(np.linalg.norm(self._sim.agent_position() - block_xy))
            / AGENT_DISTANCE_SCALE,
        }

    def _obs(self) -> np.ndarray:
        agent, pose = self._sim.agent_position(), self._sim.block_pose()
        if self.obs_type == "keypoints":
            return np.concatenate([tee_keypoints_world(pose).ravel(), agent])
        return np.array([*agent, *pose[:2], pose[2] % (2 * np.pi)], dtype=np.float64)

    def _info(self, n_contacts: int) -> dict[str, Any]:
        return {
            "pos_agent": self._sim.agent_position(),
            "vel_agent": self._sim.agent_velocity(),
            "block_pose": self._sim.block_pose(),
            "goal_pose": self.goal_pose.copy(),
            "n_contacts": n_contacts,
            "coverage": self._coverage,
            "reward_threshold": self._threshold,
            "is_success": self._coverage > SUCCESS_COVERAGE,
        }


def _checked_state(state: Any) -> np.ndarray:
    s = np.asarray(state, dtype=np.float64).reshape(-1)
    if s.shape != (5,) or not np.all(np.isfinite(s)):
        raise ValueError(
            f"PushT state must be 5 finite numbers (ax, ay, bx, by, angle), got {state!r}"
        )
    if s[:4].min() < 0 or s[:4].max() > WINDOW_SIZE:
        raise ValueError(f"PushT positions must lie inside [0, 512]^2, got {state!r}")
    return s
