"""HumanoidAMP and HumanoidNEAR: the IsaacGymEnvs AMP humanoid task, natively batched on MuJoCo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import torch

from imitenvs.core.batched import WorldStep, torch_threads
from imitenvs.core.checks import check_positive_int
from imitenvs.envs.humanoid.base import HumanoidEnv
from imitenvs.envs.humanoid.config import AmpConfig, NearConfig
from imitenvs.motion import MotionState

# NEAR's task-reward terms, each in [0, 1]: (state, root position one control step earlier).
_TASK_TERMS: dict[str, Callable[[MotionState, torch.Tensor], torch.Tensor]] = {
    "time": lambda state, prev: torch.ones_like(state.root_pos[:, 0]),
    "dist": lambda state, prev: (state.root_pos[:, 0] - prev[:, 0]).clamp(0.0, 0.5) / 0.5,
    "height": lambda state, prev: state.root_pos[:, 2].clamp(0.0, 2.5) / 2.5,
}


class HumanoidAMPEnv(HumanoidEnv):
    """## Description

    The AMP humanoid of IsaacGymEnvs (``HumanoidAMP``): 15 bodies, 28 hinges driven by PD
    position actuators, learning a motion style from clips with an adversarial motion prior.
    ``N`` worlds run natively batched on MuJoCo (``mujoco.batch``: every physics substep of
    every world in C threads; or MuJoCo Warp on a GPU, see ``backend``).
    ``gymnasium.make(id)`` gives a single env, ``gymnasium.make(id, num_envs=N)`` and
    ``gymnasium.make_vec(id, num_envs=N)`` the batch (SAME_STEP autoreset,
    ``info["final_obs"]``, unless ``autoreset_mode="next_step"``; see
    :mod:`imitenvs.core.batched`).

    ## Action Space

    ``Box(-1, 1, (28,), float32)``, one PD target per hinge in MuJoCo DoF order
    (``abdomen_x/y/z, neck_x/y/z, right_shoulder_x/y/z, right_elbow, left_shoulder_x/y/z,
    left_elbow, right_hip_x/y/z, right_knee, right_ankle_x/y/z, left_hip_x/y/z, left_knee,
    left_ankle_x/y/z``): ``target = offset + scale * a`` with IsaacGymEnvs' scales (3-DoF joints
    ``pi``; elbows and knees 70 % of their range). The offset is the ``stand`` pose
    (``action_offset="default_pose"``: a zero action stands) or IsaacGymEnvs' range centres
    (``action_offset="joint_range"``); see :mod:`imitenvs.envs.humanoid.control`. Control runs
    at 30 Hz, physics at 120 Hz (4 substeps of the MJCF's 1/120 s).

    ## Observation Space

    ``Box(-inf, inf, (105,), float32)``, the AMP character state (the same function,
    :class:`imitenvs.envs.humanoid.obs.CharacterObservation`, observes the reference clips):

    =======  ====  ======================================================================
    index    size  quantity
    =======  ====  ======================================================================
    0        1     root (pelvis) height, m
    1-6      6     root rotation tan-norm (pelvis x axis, then z axis; world frame)
    7-9      3     root linear velocity, heading frame, m/s
    10-12    3     root angular velocity, heading frame, rad/s
    13-64    52    joint rotations in DoF order: tan-norm (6) of each 3-DoF joint's rotation,
                   angle (1) of each elbow and knee
    65-92    28    hinge velocities, rad/s
    93-104   12    right hand, left hand, right foot, left foot relative to the root,
                   heading frame, m
    =======  ====  ======================================================================

    The heading frame is the root frame turned about world z only. ``info["amp_obs"]``
    ``(N, 210)`` is ``[s_t, s_{t-1}]`` (the discriminator's transition; on a finished world
    it is the final transition), :meth:`sample_amp_demos` draws the same pairs from the clips.

    ## Rewards

    The env's reward is the task reward (the style reward belongs to the AMP agent). With the
    terms ``T`` of ``task_reward`` and ``w = task_reward_weight / |T|``:
    ``reward = sum_{k in T} w * r_k``, with ``r_time = 1``,
    ``r_dist = clip(x_t - x_{t-1}, 0, 0.5) / 0.5`` (pelvis progress along +x per control step),
    ``r_height = clip(z_pelvis, 0, 2.5) / 2.5``. ``info["reward_terms"]`` holds the weighted
    terms; they sum to the reward.

    ## Starting State

    ``state_init``: ``Default`` (the MJCF ``stand`` keyframe at rest), ``Start`` / ``Random`` /
    ``WeightedRandom`` (a clip drawn by weight, at time 0 / uniform / phase ~ Beta(1, 3), the
    character placed exactly on it with its velocities), ``Hybrid`` (``Random`` with
    probability ``hybrid_init_prob``, else ``Default``). Randomness comes from the env's torch
    generator, seeded by ``reset(seed=...)``.

    ## Episode End

    Terminated when the character falls (``enable_early_termination``): a geom of a non-foot
    body is within ``ground_contact_margin`` of the floor and a non-foot body origin is below
    ``termination_height``, from the second step on. Truncated after ``max_episode_steps``
    (300, 10 s) or when a world's physics diverges (``info["diverged"]``).

    ## Arguments

    ``num_envs``, ``device``, ``backend`` (``"auto"``: MuJoCo Warp when ``device`` is CUDA,
    else ``"cpu"``; ``"cpu"``: ``mujoco.batch``, float64; ``"warp"``: MuJoCo Warp on
    ``device``, float32, see ``docs/backends.md``), ``render_mode`` (``"rgb_array"``),
    ``nthread`` (physics threads of the cpu backend, 0 = all CPUs) and the fields of
    :class:`imitenvs.envs.humanoid.config.AmpConfig`:
    ``motion_file`` (default ``run.yaml``), ``state_init`` (``Random``), ``hybrid_init_prob``
    (0.5), ``enable_early_termination`` (True), ``termination_height`` (0.5),
    ``ground_contact_margin`` (0.01), ``max_episode_steps`` (300), ``task_reward``
    (``("time",)``), ``task_reward_weight`` (1.0).

    ## Version History

    * v0: initial version.
    """

    config_cls = AmpConfig

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        super().__init__(num_envs, **kwargs)
        dim = self.character_obs.dim
        self.amp_observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2 * dim,), np.float32)
        self._hist = torch.zeros(self.num_envs, dim, device=self.device)
        self._prev_root_pos = torch.zeros(self.num_envs, 3, device=self.device)

    def _task_step(self, state: MotionState, fallen: torch.Tensor) -> WorldStep:
        amp_obs = torch.cat([self._char_obs, self._hist], dim=1)
        self._hist.copy_(self._char_obs)
        cfg = self.config
        weight = cfg.task_reward_weight / len(cfg.task_reward)
        terms = {k: weight * _TASK_TERMS[k](state, self._prev_root_pos) for k in cfg.task_reward}
        self._prev_root_pos.copy_(state.root_pos)
        return WorldStep(reward_terms=terms, terminated=fallen, info={"amp_obs": amp_obs})

    def _task_reset(
        self, ids: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> None:
        # The first pair of an episode is [s_1, s_0]. (IsaacGymEnvs also fills a reference
        # start's history from the clip at t - dt, but with two-step pairs the shift before the
        # first pair overwrites it, so it is never observed.)
        self._hist[ids] = self._char_obs[ids]
        self._prev_root_pos[ids] = self.physics.qpos[ids.cpu(), 0:3].to(self._prev_root_pos)

    def sample_amp_demos(self, n: int) -> Any:
        """``(n, 210)`` demonstration pairs ``[s_t, s_{t-dt}]`` from the clips: a clip drawn by
        weight, ``t`` uniform in it (IsaacGymEnvs ``fetch_amp_obs_demo``); numpy on CPU."""
        n = check_positive_int("n", n)
        with torch_threads(self.torch_threads):
            clips = self.motion.sample_clips(n, self.generator)
            times = self.motion.sample_times(clips, self.generator)
            pairs = (torch.cat([clips, clips]), torch.cat([times, times - self.dt]))
            obs = self.character_obs(self.reference_state(*pairs))
            return self._out(torch.cat([obs[:n], obs[n:]], dim=1))


class HumanoidNEAREnv(HumanoidAMPEnv):
    """HumanoidAMP with NEAR's defaults (NEAR ``cfg/task/HumanoidNEAR.yaml``).

    Everything is :class:`HumanoidAMPEnv` (same spaces, ``info["amp_obs"]``, demo sampler);
    only the defaults of :class:`imitenvs.envs.humanoid.config.NearConfig` differ:
    ``motion_file="walk.yaml"`` (NEAR trains on its walk dataset), ``termination_height=0.3``,
    ``task_reward=("time", "dist")`` (NEAR's choice for walking clips), ``state_init="Random"``
    with ``hybrid_init_prob=0.5`` as in NEAR's file. NEAR's energy reward is computed by the
    NEAR agent from ``info["amp_obs"]``.

    ## Version History

    * v0: initial version.
    """

    config_cls = NearConfig
