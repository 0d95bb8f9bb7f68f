"""The batched humanoid env shared by every humanoid task (AMP, NEAR, Imitate).

It owns the character (MJCF, PD control), the physics backend, the motion library, the state
initialisation, the fall test, the 105-d character observation and rendering. A task subclass
adds its reward and extra observations through three hooks: :meth:`HumanoidEnv._task_step`,
:meth:`HumanoidEnv._task_reset` and :meth:`HumanoidEnv._task_observation`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from imitenvs.core.batched import (
    BatchedEnv,
    WorldStep,
    check_autoreset_mode,
    check_device,
    check_torch_threads,
    mujoco_world_bytes,
    torch_threads,
)
from imitenvs.core.checks import check_choice, check_positive_int
from imitenvs.envs.humanoid.config import HumanoidConfig
from imitenvs.envs.humanoid.control import PdActionMap
from imitenvs.envs.humanoid.kinematics import HumanoidKinematics, quat_rotate_fast
from imitenvs.envs.humanoid.motions import load_motion_library
from imitenvs.envs.humanoid.obs import CharacterObservation
from imitenvs.motion import MotionState, load_humanoid
from imitenvs.motion.quat import quat_conjugate
from imitenvs.sim import make_backend
from imitenvs.sim.base import BACKENDS

CONTROL_HZ = 30
MIN_PHYSICS_HZ = 120
RENDER_SIZE = (240, 320)  # (height, width) of rgb_array frames
TASK_ROWS = 16  # observation-sized float32 rows of task state per world (memory estimate)
_TIME_SAMPLING = {"Default": "start", "Start": "start", "WeightedRandom": "beta"}
# Lowest point of a geom below its centre: radius + sum_i |R[2, i]| * half_extent_i.
_GEOM_EXTENT = {
    int(mujoco.mjtGeom.mjGEOM_SPHERE): lambda size: (size[0], (0.0, 0.0, 0.0)),
    int(mujoco.mjtGeom.mjGEOM_CAPSULE): lambda size: (size[0], (0.0, 0.0, size[1])),
    int(mujoco.mjtGeom.mjGEOM_BOX): lambda size: (0.0, tuple(size)),
}


class HumanoidEnv(BatchedEnv):
    """Natively batched AMP humanoid on MuJoCo (see the task classes for the full spec).

    Args:
        num_envs: number of worlds N, at most ``MAX_NUM_ENVS`` and what the available memory
            holds at ``mujoco_world_bytes(model)`` plus the task rows per world
            (:func:`imitenvs.core.batched.check_num_envs`), checked before allocating.
        device: torch device of the task maths and outputs (``"cpu"``: numpy outputs);
            ``"cuda"`` without CUDA is a ``ValueError``.
        backend: physics backend (:mod:`imitenvs.sim`): ``"auto"`` (``"warp"`` when ``device``
            is CUDA, else ``"cpu"``), ``"cpu"`` (``mujoco.batch``, float64, on CPU threads
            whatever ``device`` is) or ``"warp"`` (MuJoCo Warp on ``device``, float32; with
            ``device="cpu"`` on warp's CPU device, for tests).
        render_mode: ``None`` or ``"rgb_array"`` (world 0, tracking camera).
        nthread: physics threads of the ``"cpu"`` backend (0: every CPU; unused by ``"warp"``).
        torch_threads: torch intra-op threads while the env runs (0: leave torch's setting).
            One by default: the task maths works on small tensors, and idle OpenMP workers
            spinning beside the physics threads slow the physics down (restored on return).
        autoreset_mode: ``"same_step"`` (default; our agents, SB3, rsl_rl), ``"next_step"``
            (gymnasium's vector wrappers) or ``"disabled"``
            (:func:`imitenvs.core.batched.check_autoreset_mode`).
        **kwargs: task options, the fields of :attr:`config_cls` (``max_episode_steps``
            among them: ``gymnasium.make(id, num_envs=N, max_episode_steps=K)`` sets it).

    Actions, seeds, ``reset_mask`` and the call order follow the batched contract
    (:mod:`imitenvs.core.batched`).
    """

    metadata: dict[str, Any] = {
        **BatchedEnv.metadata,
        "render_modes": ["rgb_array"],
        "render_fps": CONTROL_HZ,
    }
    config_cls: ClassVar[type[HumanoidConfig]] = HumanoidConfig
    task_obs_dim: ClassVar[int] = 0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        device: str | torch.device = "cpu",
        backend: str = "auto",
        render_mode: str | None = None,
        nthread: int = 0,
        torch_threads: int = 1,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
        **kwargs: Any,
    ) -> None:
        check_positive_int("num_envs", num_envs)
        autoreset_mode = check_autoreset_mode(autoreset_mode)
        self.torch_threads = check_torch_threads(torch_threads)
        check_choice("render_mode", render_mode, (None, "rgb_array"))
        check_choice("backend", backend, ("auto", *BACKENDS))
        self.config = self.config_cls.from_kwargs(kwargs)
        self.humanoid = load_humanoid()
        self.model = mujoco.MjModel.from_xml_path(str(self.humanoid.xml_path))
        device = check_device(device)
        self.character_obs = CharacterObservation(self.humanoid, device)
        box = gymnasium.spaces.Box
        obs_dim = self.character_obs.dim + self.task_obs_dim
        super().__init__(
            num_envs,
            box(-np.inf, np.inf, (obs_dim,), np.float32),
            box(-1.0, 1.0, (self.humanoid.num_dofs,), np.float32),
            self.config.max_episode_steps,
            device,
            world_bytes=mujoco_world_bytes(self.model) + TASK_ROWS * 4 * obs_dim,
            autoreset_mode=autoreset_mode,
        )
        self.render_mode = render_mode
        self.substeps = self._substeps(self.model.opt.timestep)
        self.dt = self.substeps * float(self.model.opt.timestep)
        if backend == "auto":
            backend = "warp" if self.device.type == "cuda" else "cpu"
        self.physics = make_backend(
            backend,
            self.model,
            num_envs,
            nthread=nthread if backend == "cpu" else 0,
            outputs=("geom_xpos", "geom_xmat"),
            device=self.device if backend == "warp" else "cpu",
        )
        self.motion, self.clip_loops = load_motion_library(
            self.config.motion_file, self.humanoid, self.device
        )
        self.kinematics = HumanoidKinematics(
            self.humanoid, self.model.body_mass[1:], self.model.body_ipos[1:], self.device
        )
        self._build_tables()
        self.pd = PdActionMap(
            self.humanoid, self._default_qpos[7:].numpy(), self.config.action_offset, self.device
        )
        self._char_obs = torch.zeros(num_envs, self.character_obs.dim, device=self.device)
        self._renderer: Any = None

    # ---- set-up -----------------------------------------------------------------------------
    @staticmethod
    def _substeps(timestep: float) -> int:
        """Physics steps per 30 Hz control step; the model must run at >= 120 Hz."""
        ratio = 1.0 / (CONTROL_HZ * timestep)
        substeps = round(ratio)
        if abs(ratio - substeps) > 1e-3 or substeps * CONTROL_HZ < MIN_PHYSICS_HZ:
            raise ValueError(
                f"model timestep {timestep} s must divide the 1/{CONTROL_HZ} s control step "
                f"into substeps at >= {MIN_PHYSICS_HZ} Hz"
            )
        return substeps

    def _build_tables(self) -> None:
        """Index tables: key bodies, the fall test's bodies and geoms (on the physics device,
        in its dtype), the default pose."""
        model, spec = self.model, self.humanoid
        dev, dtype = self.physics.device, self.physics.qpos.dtype
        self._key_bodies = torch.as_tensor(spec.key_body_ids + 1, device=dev)  # world = 0
        feet = set((spec.foot_body_ids + 1).tolist())
        self._fall_bodies = torch.tensor(
            [b for b in range(1, model.nbody) if b not in feet], device=dev
        )
        geoms = [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) not in feet | {0}]
        radius, half = [], []
        for g in geoms:
            extent = _GEOM_EXTENT.get(int(model.geom_type[g]))
            if extent is None:
                name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
                raise ValueError(f"geom {name!r}: the fall test handles spheres, capsules, boxes")
            r, h = extent(model.geom_size[g])
            radius.append(r)
            half.append(h)
        self._fall_geoms = torch.tensor(geoms, device=dev)
        self._geom_radius = torch.tensor(radius, dtype=dtype, device=dev)
        self._geom_half = torch.tensor(half, dtype=dtype, device=dev)
        key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "stand")
        default = model.key_qpos[key] if key >= 0 else model.qpos0
        self._default_qpos = torch.as_tensor(np.array(default), dtype=torch.float32)

    # ---- hooks for the tasks -----------------------------------------------------------------
    def _task_step(self, state: MotionState, fallen: torch.Tensor) -> WorldStep:
        """Reward terms (and info, truncation) after a control step; ``fallen (N,)``."""
        raise NotImplementedError

    def _task_reset(
        self, ids: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> None:
        """Task state of worlds ``ids`` after their reset from ``start = (clip ids, times,
        from_reference)`` (each ``(k,)``); ``self._char_obs[ids]`` is already current."""

    def _task_observation(self, char_obs: torch.Tensor) -> torch.Tensor:
        """The observation from the character observation ``(N, 105)`` (default: a copy)."""
        return char_obs.clone()

    # ---- gymnasium API (the base class's, with the env's torch threads) ---------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        with torch_threads(self.torch_threads):
            return super().reset(seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        with torch_threads(self.torch_threads):
            return super().step(actions)

    # ---- BatchedEnv hooks ----------------------------------------------------------------
    def _reset_worlds(self, ids: torch.Tensor) -> None:
        if len(ids) == 0:
            return
        start = self._sample_starts(len(ids))
        qpos, qvel = self._start_state(self.motion.get_state(start[0], start[1]), start[2])
        self.physics.set_state(ids.to(self.physics.device), qpos, qvel)
        self._char_obs[ids] = self.character_obs(self.sim_state(ids))
        self._task_reset(ids, start)

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        diverged = self.physics.step(self.pd.targets(action), self.substeps).to(self.device)
        state = self.sim_state()
        self._char_obs = self.character_obs(state)
        if bool(diverged.any()):  # MuJoCo reset these worlds; their last observation is 0
            self._char_obs[diverged] = 0.0
        if self.config.enable_early_termination:
            fallen = self._fallen()
        else:
            fallen = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        result = self._task_step(state, fallen)
        result.diverged = diverged
        return result

    def _observe(self) -> torch.Tensor:
        return self._task_observation(self._char_obs)

    # ---- state ------------------------------------------------------------------------------
    @property
    def stochastic_reset(self) -> bool:
        """Whether seeds change the first observation (not for ``state_init="Default"``)."""
        return self.config.state_init != "Default"

    def sim_state(self, ids: torch.Tensor | None = None) -> MotionState:
        """The simulated character of every world (or of worlds ``ids``), float32, xyzw; copies,
        never views of the physics buffers."""
        p = self.physics
        if ids is None:
            qpos, qvel, key = p.qpos, p.qvel, p.xpos[:, self._key_bodies]
        else:
            rows = ids.to(p.device)
            qpos, qvel, key = p.qpos[rows], p.qvel[rows], p.xpos[rows[:, None], self._key_bodies]
        qpos = qpos.to(self.device, torch.float32, copy=True)
        qvel = qvel.to(self.device, torch.float32, copy=True)
        root_rot = qpos[:, [4, 5, 6, 3]]  # MuJoCo wxyz -> xyzw
        return MotionState(
            root_pos=qpos[:, 0:3],
            root_rot=root_rot,
            root_vel=qvel[:, 0:3],
            root_ang_vel=quat_rotate_fast(root_rot, qvel[:, 3:6]),  # body frame -> world
            dof_pos=qpos[:, 7:],
            dof_vel=qvel[:, 6:],
            key_pos=key.to(self.device, torch.float32),
        )

    def reference_state(self, clip_ids: torch.Tensor, times: torch.Tensor) -> MotionState:
        """Reference states of the motion library, with the key bodies placed by forward
        kinematics of the hinge angles (where MuJoCo puts them for that ``qpos``)."""
        ref = self.motion.get_state(clip_ids, times)
        pos, _ = self.kinematics.forward(ref.root_pos, ref.root_rot, ref.dof_pos)
        return dataclasses.replace(ref, key_pos=pos[:, self.humanoid.key_body_ids])

    def reset_to_reference(
        self,
        clip_ids: Any,
        times: Any,
        *,
        seed: int | None = None,
        pose_noise: float = 0.0,
        vel_noise: float = 0.0,
        velocity_scale: float = 1.0,
        resolve: bool = True,
    ) -> Any:
        """Reset every world onto the reference: world ``i`` on clip ``clip_ids[i]`` at time
        ``times[i]`` (each ``(N,)``), as DeepMimic's ``reset_time`` (MILO's data collection).

        Args:
            seed: seeds the env's generator first, as ``reset(seed=...)``.
            pose_noise: each hinge angle gets ``U(-pose_noise, pose_noise)`` rad.
            vel_noise: each hinge velocity gets ``U(-vel_noise, vel_noise)`` rad/s.
            velocity_scale: the reference velocities are scaled by it (DeepMimic's
                ``interpolation``: 1 the clip's, 0 at rest).
            resolve: lift a character whose lowest geom point is below the floor until it
                touches it (DeepMimic's ground-intersection resolve).

        Returns:
            the observation ``(N, O)``; the task (reward reference, phase) starts from there.
        """
        self.reset(seed=seed)
        with torch_threads(self.torch_threads):
            clips = torch.as_tensor(clip_ids, device=self.device, dtype=torch.int64).reshape(-1)
            t = torch.as_tensor(times, device=self.device, dtype=torch.float32).reshape(-1)
            if clips.shape != (self.num_envs,) or t.shape != (self.num_envs,):
                raise ValueError(f"clip_ids and times must both have {self.num_envs} entries")
            ref = self.motion.get_state(clips, t)
            ref = dataclasses.replace(
                ref,
                dof_pos=ref.dof_pos + self._uniform_noise(ref.dof_pos, pose_noise),
                root_vel=ref.root_vel * velocity_scale,
                root_ang_vel=ref.root_ang_vel * velocity_scale,
                dof_vel=ref.dof_vel * velocity_scale + self._uniform_noise(ref.dof_vel, vel_noise),
            )
            on_ref = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
            qpos, qvel = self._start_state(ref, on_ref)
            self.physics.set_state(self._all.to(self.physics.device), qpos, qvel)
            if resolve:
                lift = (-self._lowest_geom_point()).clamp_min(0.0)
                if bool((lift > 0).any()):
                    qpos = qpos.clone()
                    qpos[:, 2] += lift.to(qpos)
                    self.physics.set_state(self._all.to(self.physics.device), qpos, qvel)
            self._char_obs = self.character_obs(self.sim_state())
            self._task_reset(self._all, (clips, t, on_ref))
            return self._out(self._observe())

    def _uniform_noise(self, like: torch.Tensor, scale: float) -> torch.Tensor:
        """``U(-scale, scale)`` of ``like``'s shape, from the env's generator (0: zeros)."""
        if scale == 0.0:
            return torch.zeros_like(like)
        draw = torch.rand(like.shape, generator=self.generator, device=like.device)
        return (2.0 * draw - 1.0) * scale

    def _lowest_geom_point(self) -> torch.Tensor:
        """``(N,)`` height of the lowest point of every world's character geoms."""
        if not hasattr(self, "_all_geoms"):
            model, dev, dtype = self.model, self.physics.device, self.physics.qpos.dtype
            geoms = [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) != 0]
            parts = [_GEOM_EXTENT[int(model.geom_type[g])](model.geom_size[g]) for g in geoms]
            self._all_geoms = torch.tensor(geoms, device=dev)
            self._all_radius = torch.tensor([r for r, _ in parts], dtype=dtype, device=dev)
            self._all_half = torch.tensor([h for _, h in parts], dtype=dtype, device=dev)
        p = self.physics
        axes_z = p.geom_xmat[:, self._all_geoms, 6:9].abs()
        z = p.geom_xpos[:, self._all_geoms, 2] - self._all_radius
        return (z - (axes_z * self._all_half).sum(-1)).amin(1)

    def _sample_starts(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Clip ids, clip times and the reference-start mask (each ``(k,)``) of ``k`` resets."""
        mode = self.config.state_init
        clips = self.motion.sample_clips(k, self.generator)
        times = self.motion.sample_times(clips, self.generator, _TIME_SAMPLING.get(mode, "uniform"))
        if mode == "Hybrid":
            draw = torch.rand(k, generator=self.generator, device=self.device)
            from_ref = draw < self.config.hybrid_init_prob
        else:
            from_ref = torch.full((k,), mode != "Default", device=self.device)
        return clips, times, from_ref

    def _start_state(
        self, ref: MotionState, from_ref: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MuJoCo ``qpos (k, 35)`` (root quaternion wxyz) and ``qvel (k, 34)`` (root angular
        velocity in the body frame) of reference states, or of the default pose; on the
        physics device, in its dtype."""
        ref_qpos = torch.cat([ref.root_pos, ref.root_rot[:, [3, 0, 1, 2]], ref.dof_pos], dim=1)
        body_ang_vel = quat_rotate_fast(quat_conjugate(ref.root_rot), ref.root_ang_vel)
        ref_qvel = torch.cat([ref.root_vel, body_ang_vel, ref.dof_vel], dim=1)
        use = from_ref[:, None]
        qpos = torch.where(use, ref_qpos, self._default_qpos.to(ref_qpos))
        qvel = torch.where(use, ref_qvel, torch.zeros_like(ref_qvel))
        return qpos.to(self.physics.qpos), qvel.to(self.physics.qvel)

    def _fallen(self) -> torch.Tensor:
        """``(N,)`` IsaacGymEnvs fall test: a non-foot geom touches the ground and a non-foot
        body origin is below ``termination_height``, from the second control step on. Runs
        on the physics tensors' device and dtype (float64 on CPU, float32 on MuJoCo Warp)."""
        p, cfg = self.physics, self.config
        geom_z = p.geom_xpos[:, self._fall_geoms, 2]
        axes_z = p.geom_xmat[:, self._fall_geoms, 6:9].abs()  # rows R[2, :]
        lowest = geom_z - self._geom_radius - (axes_z * self._geom_half).sum(-1)
        contact = (lowest < cfg.ground_contact_margin).any(1)
        low = (p.xpos[:, self._fall_bodies, 2] < cfg.termination_height).any(1)
        return (contact & low).to(self.device) & (self.episode_steps >= 1)

    # ---- rendering ----------------------------------------------------------------------------
    def _render_world(self, world: int) -> np.ndarray:
        from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

        from imitenvs.core.render import default_headless_gl

        if self._renderer is None:
            default_headless_gl(self.render_mode)
            height, width = RENDER_SIZE
            data = mujoco.MjData(self.model)
            self._renderer = MujocoRenderer(
                self.model, data, width=width, height=height, camera_name="track"
            )
        data = self._renderer.data
        data.qpos[:] = self.physics.qpos[world].cpu().numpy()
        data.qvel[:] = self.physics.qvel[world].cpu().numpy()
        mujoco.mj_forward(self.model, data)
        return self._renderer.render("rgb_array")

    def close_extras(self, **kwargs: Any) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_envs={self.num_envs}, {self.config})"
