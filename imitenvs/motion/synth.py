"""Our own kinematic clips for the humanoid: parametric gaits with IK foot placement.

``python -m imitenvs motions synth --out assets/motions`` writes the default set shipped in
``assets/motions/`` (walk, run, turning walk, jump, wave) plus YAML datasets. Everything is
deterministic (no randomness), so regenerating gives the same clips.

Gaits: the pelvis follows a path (straight line or a left-turning circle) at constant speed
with a vertical bob, a lateral sway and a small yaw; each foot is planted flat at a footstep on
the path at its mid-stance time and stays there for the stance phase (so stance feet do not
slide), then swings to the next footstep: the ankle rises and returns on smoothstep curves while
it moves along a smootherstep (zero velocity and acceleration at lift-off and touch-down).
Legs come from :mod:`imitenvs.motion.ik`; the upper body is a function of the gait phase. Every
clip is one or more whole cycles (``"wrap"``) whose last frame repeats the first pose, and must
pass :func:`check_quality` before it is written.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imitenvs.motion.clip import MotionClip, save_clip
from imitenvs.motion.dataset import write_dataset
from imitenvs.motion.humanoid import HumanoidSpec, load_humanoid
from imitenvs.motion.ik import solve_leg
from imitenvs.motion.quality import ClipQuality, clip_quality
from imitenvs.motion.quat import quat_from_axis_angle, quat_mul

logger = logging.getLogger(__name__)

FPS = 30.0
GRAVITY = 9.81
ANKLE_HEIGHT = 0.05  # ankle above the floor when the foot is flat (foot box bottom at -0.05)
SIDES = ("right", "left")
_X, _Y, _Z = np.eye(3)

# Quality bars every generated clip must meet (metres / radians).
MAX_SLIDE = 0.02
MAX_PENETRATION = 0.01
MAX_LIMIT_VIOLATION = 1e-6
MAX_LOOP_GAP = 1e-3
MAX_SEAM_RATIO = 1.5


def smoothstep(x: np.ndarray) -> np.ndarray:
    """C1 ramp from 0 (x <= 0) to 1 (x >= 1) with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def smootherstep(x: np.ndarray) -> np.ndarray:
    """C2 ramp from 0 to 1 with zero slope and curvature at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x**3 * (x * (6.0 * x - 15.0) + 10.0)


def keyframes(t: np.ndarray, times: list[float], values: list[float]) -> np.ndarray:
    """Smoothstep interpolation between key values (zero velocity at every key)."""
    out = np.full_like(t, values[0], dtype=np.float64)
    for (t0, v0), (t1, v1) in itertools.pairwise(zip(times, values, strict=True)):
        inside = (t >= t0) & (t <= t1)
        out[inside] = v0 + (v1 - v0) * smoothstep((t[inside] - t0) / (t1 - t0))
    out[t > times[-1]] = values[-1]
    return out


def hermite(t: np.ndarray, knots: list[tuple[float, float, float]]) -> np.ndarray:
    """Piecewise cubic Hermite curve through ``(time, value, slope)`` knots (t inside them)."""
    out = np.zeros_like(t, dtype=np.float64)
    for (t0, p0, m0), (t1, p1, m1) in itertools.pairwise(knots):
        inside = (t >= t0) & (t <= t1)
        h = t1 - t0
        s = (t[inside] - t0) / h
        out[inside] = ((2 * s**3 - 3 * s**2 + 1) * p0 + (s**3 - 2 * s**2 + s) * h * m0
                       + (-2 * s**3 + 3 * s**2) * p1 + (s**3 - s**2) * h * m1)  # fmt: skip
    return out


def yaw_pitch_quat(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """``qz(yaw) ⊗ qy(pitch)`` (xyzw): heading, then tilt about the new lateral axis."""
    return quat_mul(quat_from_axis_angle(_Z, yaw), quat_from_axis_angle(_Y, pitch))


def assemble(
    name: str,
    root_pos: np.ndarray,
    root_rot: np.ndarray,
    feet: dict[str, tuple[np.ndarray, np.ndarray]],
    upper: dict[str, np.ndarray],
    humanoid: HumanoidSpec,
) -> MotionClip:
    """A wrap clip from a pelvis trajectory, foot targets (IK) and upper-body hinge angles.

    Args:
        root_pos, root_rot: ``(F, 3)``, ``(F, 4)``; feet: side -> (ankle ``(F, 3)``, foot
            rotation ``(F, 4)``); upper: hinge name -> ``(F,)`` angles (others are 0).
    """
    dof = np.zeros((len(root_pos), humanoid.num_dofs))
    for dof_name, values in upper.items():
        dof[:, humanoid.dof_names.index(dof_name)] = values
    for side in SIDES:
        leg = solve_leg(humanoid, side, root_pos, root_rot, *feet[side])
        if leg.reach_error.max() > 1e-4:
            raise ValueError(
                f"{name}: {side} foot target out of reach by "
                f"{leg.reach_error.max():.3f} m; lower the pelvis"
            )
        first = humanoid.dof_names.index(f"{side}_hip_x")
        dof[:, first : first + 7] = np.concatenate([leg.hip, leg.knee[:, None], leg.ankle], -1)
        # The ankle only orients the foot: keep it in range (the quality check catches a
        # stance foot that this tilts into the floor).
        ankle = slice(first + 4, first + 7)
        dof[:, ankle] = np.clip(dof[:, ankle], humanoid.dof_lower[ankle], humanoid.dof_upper[ankle])
    return MotionClip(
        fps=FPS,
        loop_mode="wrap",
        root_pos=root_pos,
        local_rot=humanoid.dof_to_local_rot(dof, root_rot),
        dof_pos=dof,
        skeleton=humanoid.skeleton,
        dof_names=humanoid.dof_names,
        name=name,
        source="imitenvs.motion.synth (procedural)",
    )


@dataclass(frozen=True)
class Gait:
    """Parameters of a periodic gait (metres, seconds, radians).

    ``period`` is one cycle (two steps); the right foot is at mid-stance at t = 0 and the left
    at ``period / 2``. ``radius=None`` walks straight along +x, otherwise on a left-turning
    circle. ``bob > 0`` puts the pelvis highest at mid-stance (walking), ``bob < 0`` lowest
    (running). ``duty`` is the stance fraction of each foot.
    """

    name: str
    period: float
    cycles: int
    duty: float
    speed: float
    height: float
    bob: float
    step_height: float
    radius: float | None = None
    foot_width: float = 0.1
    sway: float = 0.02
    yaw: float = 0.06
    lean: float = 0.04
    arm_swing: float = 0.3
    elbow: float = -0.3
    toe_pitch: float = 0.25

    def path(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point ``(n, 3)`` (z = 0) and heading ``(n,)`` at arc length ``s``."""
        if self.radius is None:
            return np.stack([s, 0 * s, 0 * s], -1), 0 * s
        heading = s / self.radius
        point = self.radius * np.stack([np.sin(heading), 1 - np.cos(heading), 0 * s], -1)
        return point, heading


def _left_normal(heading: np.ndarray) -> np.ndarray:
    return np.stack([-np.sin(heading), np.cos(heading), 0 * heading], -1)


def _foot_track(
    gait: Gait, t: np.ndarray, phase: float, lateral: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ankle positions and foot rotations of one foot over times ``t``."""
    u = t / gait.period - phase
    step = np.floor(u + gait.duty / 2)
    local = u - step
    swing = np.clip((local - gait.duty / 2) / (1 - gait.duty), 0.0, 1.0)  # 0 during stance

    def plant(i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        point, heading = gait.path(gait.speed * gait.period * (i + phase))
        return point + lateral * _left_normal(heading), heading

    (p0, h0), (p1, h1) = plant(step), plant(step + 1)
    move = smootherstep(swing)  # zero velocity and acceleration at lift-off and touch-down
    pos = p0 + move[:, None] * (p1 - p0)
    lift = np.where(swing < 0.5, smoothstep(2 * swing), smoothstep(2 - 2 * swing))
    pos[:, 2] = ANKLE_HEIGHT + gait.step_height * lift
    pitch = gait.toe_pitch * lift * np.cos(np.pi * swing)  # toe down early, up late
    return pos, yaw_pitch_quat(h0 + move * (h1 - h0), pitch)


def gait_clip(gait: Gait, humanoid: HumanoidSpec) -> MotionClip:
    """A looping clip of ``gait.cycles`` cycles."""
    frames = round(gait.cycles * gait.period * FPS) + 1
    t = np.arange(frames) / FPS
    cycle = 2 * np.pi * t / gait.period
    point, heading = gait.path(gait.speed * t)
    root_pos = point - gait.sway * np.cos(cycle)[:, None] * _left_normal(heading)
    root_pos[:, 2] = gait.height + gait.bob * np.cos(2 * cycle)
    yaw = -gait.yaw * np.cos(cycle)
    root_rot = yaw_pitch_quat(heading + yaw, np.full_like(t, gait.lean))
    feet = {
        side: _foot_track(gait, t, phase, lateral)
        for side, phase, lateral in (
            ("right", 0.0, -gait.foot_width),
            ("left", 0.5, gait.foot_width),
        )
    }
    swing = gait.arm_swing * np.sin(cycle)
    upper = {
        "abdomen_y": np.full_like(t, 0.5 * gait.lean),
        "abdomen_z": -0.6 * yaw,
        "neck_y": np.full_like(t, -1.2 * gait.lean),
        "right_shoulder_x": np.full_like(t, -0.12),
        "left_shoulder_x": np.full_like(t, 0.12),
        "right_shoulder_y": -swing - 0.05,
        "left_shoulder_y": swing - 0.05,
        "right_elbow": gait.elbow - 0.25 * np.maximum(swing, 0.0),
        "left_elbow": gait.elbow - 0.25 * np.maximum(-swing, 0.0),
    }
    return assemble(gait.name, root_pos, root_rot, feet, upper, humanoid)


def _standing_feet(num: int, width: float = 0.1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Flat feet planted under the hips, ``num`` frames."""
    feet = {}
    for side, y in (("right", -width), ("left", width)):
        pos = np.tile([0.0, y, ANKLE_HEIGHT], (num, 1))
        feet[side] = (pos, np.tile([0.0, 0.0, 0.0, 1.0], (num, 1)))
    return feet


def jump_clip(humanoid: HumanoidSpec) -> MotionClip:
    """A vertical jump in place: crouch, push off, 0.4 s of flight, land, stand up."""
    t = np.arange(round(2.2 * FPS) + 1) / FPS
    take_off, flight, stand, base = 0.85, 0.4, 0.86, 0.87
    v0 = 0.5 * GRAVITY * flight
    land = take_off + flight
    z = hermite(t, [(0.0, stand, 0.0), (0.6, 0.63, 0.0), (take_off, base, v0)])
    in_air = (t > take_off) & (t < land)
    dt = t[in_air] - take_off
    z[in_air] = base + v0 * dt - 0.5 * GRAVITY * dt**2
    after = t >= land
    z[after] = hermite(t[after], [(land, base, -v0), (land + 0.3, 0.7, 0.0), (2.2, stand, 0.0)])
    pitch = keyframes(t, [0.0, 0.6, take_off, land, land + 0.3, 2.2], [0, 0.35, 0.05, 0.05, 0.3, 0])
    root_pos = np.stack([np.zeros_like(t), np.zeros_like(t), z], -1)
    root_rot = yaw_pitch_quat(np.zeros_like(t), pitch)
    feet = _standing_feet(len(t))
    tuck = np.zeros_like(t)
    tuck[in_air] = 0.12 * np.sin(np.pi * (t[in_air] - take_off) / flight)
    for side in SIDES:
        feet[side][0][in_air, 2] += z[in_air] - base + tuck[in_air]
    arm = keyframes(t, [0.0, 0.6, 0.95, land, land + 0.3, 2.2], [0, 0.7, -2.5, -1.2, -0.2, 0])
    upper = {
        "abdomen_y": 0.6 * pitch,
        "neck_y": -0.9 * pitch,
        "right_shoulder_y": arm,
        "left_shoulder_y": arm,
        "right_shoulder_x": np.full_like(t, -0.1),
        "left_shoulder_x": np.full_like(t, 0.1),
        "right_elbow": keyframes(t, [0.0, 0.6, 0.95, 2.2], [-0.2, -0.3, -0.6, -0.2]),
        "left_elbow": keyframes(t, [0.0, 0.6, 0.95, 2.2], [-0.2, -0.3, -0.6, -0.2]),
    }
    return assemble("jump", root_pos, root_rot, feet, upper, humanoid)


def wave_clip(humanoid: HumanoidSpec) -> MotionClip:
    """Standing still, raising the right hand and waving three times, then lowering it."""
    t = np.arange(round(3.0 * FPS) + 1) / FPS
    raise_arm = keyframes(t, [0.0, 0.6, 2.4, 3.0], [0.0, 1.0, 1.0, 0.0])
    waving = np.where((t > 0.6) & (t < 2.4), np.sin(2 * np.pi * (t - 0.6) / 0.6), 0.0)
    sway = 0.01 * np.sin(2 * np.pi * t / 3.0)
    root_pos = np.stack([np.zeros_like(t), sway, np.full_like(t, 0.865)], -1)
    root_rot = yaw_pitch_quat(np.zeros_like(t), np.full_like(t, 0.02))
    upper = {
        "right_shoulder_x": -1.45 * raise_arm - 0.1,
        "right_shoulder_z": -1.3 * raise_arm,
        "right_elbow": -1.5 * raise_arm - 0.15 + 0.35 * waving * raise_arm,
        "left_shoulder_x": np.full_like(t, 0.1),
        "left_elbow": np.full_like(t, -0.2),
        "abdomen_x": 0.08 * raise_arm,
        "neck_z": -0.25 * raise_arm,
    }
    return assemble("wave", root_pos, root_rot, _standing_feet(len(t)), upper, humanoid)


WALK = Gait("walk", period=1.0, cycles=1, duty=0.6, speed=1.0, height=0.815, bob=0.015,
            step_height=0.09)  # fmt: skip
RUN = Gait("run", period=2 / 3, cycles=1, duty=0.32, speed=2.7, height=0.775, bob=-0.018,
           step_height=0.22, sway=0.01, yaw=0.08, lean=0.12, arm_swing=0.5, elbow=-1.3)  # fmt: skip
TURN_WALK = Gait("turn_walk", period=1.0, cycles=8, duty=0.6, speed=2 * np.pi * 1.3 / 8,
                 height=0.8, bob=0.015, step_height=0.09, radius=1.3)  # fmt: skip


def default_clips(humanoid: HumanoidSpec | None = None) -> list[MotionClip]:
    """The default set: walk, run, turn_walk, jump, wave."""
    humanoid = humanoid or load_humanoid()
    gaits = [gait_clip(g, humanoid) for g in (WALK, RUN, TURN_WALK)]
    return [*gaits, jump_clip(humanoid), wave_clip(humanoid)]


def check_quality(clip: MotionClip, humanoid: HumanoidSpec) -> ClipQuality:
    """Measure ``clip`` and raise ``ValueError`` naming every quality bar it misses."""
    q = clip_quality(clip, humanoid)
    bars = [
        ("max_stance_slide", q.max_stance_slide, MAX_SLIDE),
        ("penetration", -q.min_sole_height, MAX_PENETRATION),
        ("max_limit_violation", q.max_limit_violation, MAX_LIMIT_VIOLATION),
        ("loop_dof_gap", q.loop_dof_gap, MAX_LOOP_GAP),
        ("loop_height_gap", q.loop_height_gap, MAX_LOOP_GAP),
        ("loop_rot_gap", q.loop_rot_gap, MAX_LOOP_GAP),
        ("loop_seam_ratio", q.loop_seam_ratio, MAX_SEAM_RATIO),
    ]
    failed = [f"{n} = {v:.4g} > {limit:g}" for n, v, limit in bars if v > limit]
    if failed:
        raise ValueError(f"clip {clip.name!r} misses quality bars: {'; '.join(failed)}")
    return q


def write_default_set(out_dir: str | Path) -> list[Path]:
    """Generate, check and write the default clips and datasets into ``out_dir``.

    Writes ``<name>.npz`` and ``<name>.yaml`` per clip and ``default.yaml`` with all of them.
    Returns the written paths.
    """
    out_dir = Path(out_dir)
    humanoid = load_humanoid()
    written = []
    for clip in default_clips(humanoid):
        quality = check_quality(clip, humanoid)
        logger.info("%s: %d frames, %s", clip.name, clip.num_frames, quality.as_dict())
        written.append(save_clip(clip, out_dir / f"{clip.name}.npz"))
        written.append(write_dataset(out_dir / f"{clip.name}.yaml", [(f"{clip.name}.npz", 1.0)]))
    entries = [(p.name, 1.0) for p in written if p.suffix == ".npz"]
    written.append(write_dataset(out_dir / "default.yaml", entries))
    return written
