"""HumanoidImitate: DeepMimic-style motion tracking on the AMP humanoid, natively batched."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch

from imitenvs.core.batched import WorldStep
from imitenvs.envs.humanoid.base import HumanoidEnv
from imitenvs.envs.humanoid.config import ImitateConfig
from imitenvs.envs.humanoid.obs import heading_cos_sin, to_heading_frame
from imitenvs.motion import MotionState

# DeepMimic humanoid3d DiffWeight per joint, on the AMP humanoid's bodies (wrists: the hands).
DEEPMIMIC_JOINT_WEIGHTS: dict[str, float] = {
    "pelvis": 1.0, "torso": 0.5, "head": 0.3,
    "right_upper_arm": 0.3, "right_lower_arm": 0.2, "right_hand": 0.0,
    "left_upper_arm": 0.3, "left_lower_arm": 0.2, "left_hand": 0.0,
    "right_thigh": 0.5, "right_shin": 0.3, "right_foot": 0.2,
    "left_thigh": 0.5, "left_shin": 0.3, "left_foot": 0.2,
}  # fmt: skip


@dataclass(frozen=True)
class TrackedPose:
    """What the tracking reward compares, for ``N`` characters (torch, quaternions xyzw).

    Attributes:
        state: root pose and velocities (world frame), hinge velocities, end effectors
            (``key_pos``: hands and feet, world).
        local_rot: ``(N, J, 4)`` body rotations relative to their parents (body 0: the root).
        com_vel: ``(N, 3)`` centre-of-mass velocity over the last control step.
    """

    state: MotionState
    local_rot: torch.Tensor
    com_vel: torch.Tensor


def _end_effectors(
    root_pos: torch.Tensor, root_rot: torch.Tensor, key_pos: torch.Tensor
) -> torch.Tensor:
    """``(N, K, 3)`` end effectors ``key_pos (N, K, 3)`` relative to the root in the heading
    frame, with their height above the ground instead of the relative height (DeepMimic)."""
    cos_h, sin_h = heading_cos_sin(root_rot)
    rel = torch.cat([key_pos[..., :2] - root_pos[:, None, :2], key_pos[..., 2:]], dim=-1)
    return to_heading_frame(rel, cos_h, sin_h)


def _sq(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(-1)


def tracking_errors(
    sim: TrackedPose, ref: TrackedPose, joint_w: torch.Tensor, dof_w: torch.Tensor
) -> dict[str, torch.Tensor]:
    """DeepMimic's five errors, each ``(N,)`` (``SceneImitate::CalcRewardImitate``).

    Args:
        joint_w: ``(J,)`` normalised joint weights (body 0 weighs the root rotation).
        dof_w: ``(D,)`` the weight of each hinge's joint.
    """
    s, r = sim.state, ref.state
    dot = (sim.local_rot * ref.local_rot).sum(-1).abs().clamp(max=1.0)
    angle_sq = (2.0 * torch.acos(dot)) ** 2  # (N, J): rotation difference of each joint
    ang_vel_sq = _sq(s.root_ang_vel - r.root_ang_vel)
    both = [torch.cat([a, b]) for a, b in ((s.root_pos, r.root_pos), (s.root_rot, r.root_rot))]
    ends = _end_effectors(*both, torch.cat([s.key_pos, r.key_pos]))
    num = s.root_pos.shape[0]
    return {
        "pose": (angle_sq * joint_w).sum(-1),
        "velocity": joint_w[0] * ang_vel_sq + ((s.dof_vel - r.dof_vel) ** 2 * dof_w).sum(-1),
        "end_effector": _sq(ends[:num] - ends[num:]).sum(-1),
        "root": _sq(s.root_pos - r.root_pos)
        + 0.1 * angle_sq[:, 0]
        + 0.01 * _sq(s.root_vel - r.root_vel)
        + 0.001 * ang_vel_sq,
        "com": 0.1 * _sq(sim.com_vel - ref.com_vel),
    }


class HumanoidImitateEnv(HumanoidEnv):
    """## Description

    DeepMimic-style tracking: the AMP humanoid (see ``HumanoidAMP-v0`` for the character,
    PD control, batching and the fall test) follows a reference clip. Each episode draws a
    clip by weight and a start time (``state_init``, default ``Random`` = reference state
    initialisation) and the reference then advances with the simulation.

    ## Action Space

    ``Box(-1, 1, (28,), float32)``: PD targets as in ``HumanoidAMP-v0``.

    ## Observation Space

    ``Box(-inf, inf, (106 + 110 K,), float32)``: indices 0-104 are the 105-d character
    observation of ``HumanoidAMP-v0`` (layout table there), index 105 the phase of the
    reference clip in ``[0, 1]`` (time / clip length; wrapped for looping clips, clipped
    otherwise). With ``reference_obs_steps=(k_1, ..., k_K)`` each ``k`` appends 110 values: the
    reference ``k`` control steps ahead as a 105-d character observation (in its own heading
    frame), its root position minus the character's, rotated into the character's heading
    frame (3), and the cosine and sine of its heading minus the character's (2).

    ## Rewards

    DeepMimic ``CalcRewardImitate`` with weights ``w`` normalised to sum 1 and scales ``k``:
    ``reward = sum_t w_t exp(-k_t err_t)`` over the terms (``info["reward_terms"]``, which sum
    to the reward), and 0 on the step the character falls:

    * ``pose``: ``sum_j w_j theta_j^2``, ``theta_j`` the angle between the simulated and
      reference rotation of body ``j`` relative to its parent (root: world rotation);
      ``w_j`` DeepMimic's joint weights (:data:`DEEPMIMIC_JOINT_WEIGHTS`, normalised).
    * ``velocity``: ``w_root |d omega_root|^2 + sum_d w_j(d) (d qdot_d)^2`` (hinge velocities).
    * ``end_effector``: ``sum_e |d p_e|^2`` over hands and feet, ``p_e`` relative to the root
      in each character's heading frame with the height above ground as its z.
    * ``root``: ``|d p_root|^2 + 0.1 theta_root^2 + 0.01 |d v_root|^2 + 0.001 |d omega_root|^2``.
    * ``com``: ``0.1 |d v_com|^2``, centre-of-mass velocities over the last control step.

    Defaults (:class:`imitenvs.envs.humanoid.config.ImitateConfig`): weights pose 0.5,
    velocity 0.05, end_effector 0.15, root 0.2, com 0.1; scales 2, 0.1, 10, 5, 10.

    With ``add_obs=True``, ``info["add_obs"]`` ``(N, 214)`` is ``[x_sim, x_ref]`` for ADD:
    each the 105-d character observation and the root's world x, y, of the character after the
    step and of the reference at the same time (``add_observation_space`` gives the size).

    ## Episode End

    Terminated on a fall (as ``HumanoidAMP-v0``, ``termination_height`` 0.3), and, with
    ``pose_termination_distance`` d > 0, when the root or a hand or foot is more than d metres
    from the reference (reward 0 on that step, as on a fall). Truncated after
    ``max_episode_steps`` (300), when a non-looping clip is over, or on divergence.

    ## Arguments

    ``num_envs``, ``device``, ``backend`` (``"auto"``, ``"cpu"`` or ``"warp"``: the physics
    backend, as ``HumanoidAMP-v0``), ``render_mode``, ``nthread`` and the fields of
    :class:`imitenvs.envs.humanoid.config.ImitateConfig` (``motion_file`` default
    ``walk.yaml``, the shared options of ``HumanoidAMP-v0``, the ten weights and scales).

    ## Version History

    * v0: initial version; ``pose_termination_distance``, ``reference_obs_steps`` and
      ``add_obs`` added (defaults: off, the observation, info and episodes as before).
    """

    config_cls = ImitateConfig
    REFERENCE_EXTRA = 5
    """per reference step: relative root position (3), relative heading cos and sin (2)"""
    ADD_EXTRA = 2
    """per side of ``info["add_obs"]``: the root's world x and y after the character obs"""

    @property
    def task_obs_dim(self) -> int:
        """The phase, then ``(105 + 5)`` per entry of ``reference_obs_steps``."""
        per_step = self.character_obs.dim + self.REFERENCE_EXTRA
        return 1 + per_step * len(self.config.reference_obs_steps)

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        super().__init__(num_envs, **kwargs)
        names = self.humanoid.skeleton.names
        weights = np.array([DEEPMIMIC_JOINT_WEIGHTS[n] for n in names])
        weights /= weights.sum()
        dof_w = np.zeros(self.humanoid.num_dofs)
        for joint in self.humanoid.joints:
            dof_w[joint.start : joint.start + joint.num_dofs] = weights[joint.body]
        self._joint_w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        self._dof_w = torch.as_tensor(dof_w, dtype=torch.float32, device=self.device)
        self._weights = self.config.normalised_weights()
        self._scales = {k: getattr(self.config, f"{k}_scale") for k in self._weights}
        n, dev = self.num_envs, self.device
        self._clip = torch.zeros(n, dtype=torch.int64, device=dev)
        self._time = torch.zeros(n, device=dev)
        self._com_sim = torch.zeros(n, 3, device=dev)
        self._com_ref = torch.zeros(n, 3, device=dev)
        if self.config.add_obs:
            dim = 2 * (self.character_obs.dim + self.ADD_EXTRA)
            self.add_observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    @property
    def reference_time(self) -> torch.Tensor:
        """``(N,)`` time of each world's reference in its clip (seconds; a copy)."""
        return self._time.clone()

    def _reference(
        self, clips: torch.Tensor, times: torch.Tensor, sim: MotionState | None = None
    ) -> tuple[MotionState, torch.Tensor, torch.Tensor]:
        """Reference states (end effectors by forward kinematics), their local rotations
        ``(k, J, 4)`` and centres of mass ``(k, 3)``. With ``sim`` states of the same worlds,
        their local rotations follow the reference's (``(2k, J, 4)``, one batched call)."""
        ref = self.motion.get_state(clips, times)
        root_rot, dof_pos = ref.root_rot, ref.dof_pos
        if sim is not None:
            root_rot = torch.cat([root_rot, sim.root_rot])
            dof_pos = torch.cat([dof_pos, sim.dof_pos])
        local = self.kinematics.local_rotations(root_rot, dof_pos)
        pos, rot = self.kinematics.body_poses(ref.root_pos, local[: len(clips)])
        ref = dataclasses.replace(ref, key_pos=pos[:, self.humanoid.key_body_ids])
        return ref, local, self.kinematics.com(pos, rot)

    def _sim_com(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        com = self.physics.subtree_com[:, 1] if ids is None else self.physics.subtree_com[ids, 1]
        return com.to(self.device, torch.float32, copy=True)  # kept beyond the step: no view

    def _task_step(self, state: MotionState, fallen: torch.Tensor) -> WorldStep:
        self._time += self.dt
        ref_state, local, ref_com = self._reference(self._clip, self._time, state)
        sim_com = self._sim_com()
        ref = TrackedPose(ref_state, local[: self.num_envs], (ref_com - self._com_ref) / self.dt)
        sim = TrackedPose(state, local[self.num_envs :], (sim_com - self._com_sim) / self.dt)
        self._com_ref, self._com_sim = ref_com, sim_com
        errors = tracking_errors(sim, ref, self._joint_w, self._dof_w)
        fallen = fallen | self._strayed(state, ref_state)
        alive = (~fallen).float()
        terms = {
            k: self._weights[k] * torch.exp(-self._scales[k] * errors[k]) * alive
            for k in self._weights
        }
        clip_over = ~self.clip_loops[self._clip] & (
            self._time >= self.motion.clip_lengths[self._clip]
        )
        info = {}
        if self.config.add_obs:
            sim_x = torch.cat([self._char_obs, state.root_pos[:, :2]], dim=1)
            ref_x = torch.cat([self.character_obs(ref_state), ref_state.root_pos[:, :2]], dim=1)
            info["add_obs"] = torch.cat([sim_x, ref_x], dim=1)
        return WorldStep(reward_terms=terms, terminated=fallen, truncated=clip_over, info=info)

    def _strayed(self, sim: MotionState, ref: MotionState) -> torch.Tensor:
        """``(N,)`` worlds whose root or a key body is farther than
        ``pose_termination_distance`` from the reference (all False when it is 0)."""
        limit = self.config.pose_termination_distance
        if limit <= 0:
            return torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        root = (sim.root_pos - ref.root_pos).norm(dim=-1)
        keys = (sim.key_pos - ref.key_pos).norm(dim=-1).amax(dim=-1)
        return torch.maximum(root, keys) > limit

    def _task_reset(
        self, ids: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> None:
        clips, times, from_ref = start
        self._clip[ids] = clips
        self._time[ids] = times
        com = self._sim_com(ids.cpu())
        self._com_sim[ids] = com
        if not bool(from_ref.all()):  # worlds on the reference share its centre of mass
            default = ~from_ref
            com = com.clone()
            com[default] = self._reference(clips[default], times[default])[2]
        self._com_ref[ids] = com

    def _task_observation(self, char_obs: torch.Tensor) -> torch.Tensor:
        length = self.motion.clip_lengths[self._clip].clamp_min(1e-6)
        phase = self._time / length
        phase = torch.where(self.clip_loops[self._clip], phase.remainder(1.0), phase.clamp(0, 1))
        parts = [char_obs, phase[:, None]]
        if self.config.reference_obs_steps:
            parts += self._reference_observation()
        return torch.cat(parts, dim=1)

    def _reference_observation(self) -> list[torch.Tensor]:
        """Per ``reference_obs_steps`` entry k: ``(N, 110)``, the reference at ``t + k dt`` as
        a character observation, then its root relative to the simulated root (heading
        frame of the character, 3) and its relative heading (cos, sin)."""
        sim = self.sim_state()
        cos_s, sin_s = heading_cos_sin(sim.root_rot)
        out = []
        for k in self.config.reference_obs_steps:
            ref = self.reference_state(self._clip, self._time + k * self.dt)
            cos_r, sin_r = heading_cos_sin(ref.root_rot)
            offset = to_heading_frame((ref.root_pos - sim.root_pos)[:, None], cos_s, sin_s)[:, 0]
            rel = torch.stack([cos_r * cos_s + sin_r * sin_s, sin_r * cos_s - cos_r * sin_s], -1)
            out.append(torch.cat([self.character_obs(ref), offset, rel], dim=1))
        return out
