"""Natively batched gymnasium v5 locomotion tasks (Hopper, HalfCheetah, Walker2d) on
:mod:`imitenvs.sim`: N worlds of one model, the task maths once over the world axis.

:class:`BatchedLocomotionEnv` is the task: gymnasium's v5 ``Hopper``/``HalfCheetah``/
``Walker2d`` observation, reward terms, health test, termination and reset noise, written as
torch operations on the backend's ``(N, ...)`` state tensors (no Python loop over worlds).
:class:`IMuJoCoBatchedEnv` runs it on an iMuJoCo variant model
(``gymnasium.make("imitenvs/iMuJoCo-<variant>-v0", num_envs=N)``); the Deep RLSP tasks add a
time feature and a fall penalty (:mod:`imitenvs.envs.deep_rlsp.batched`).

The single envs (``gymnasium.make(id)`` without ``num_envs``) stay gymnasium's own v5 envs
(:mod:`imitenvs.envs.imujoco.env`); the registry's entry points (:func:`make_hopper`, ...)
pick one or the other. From the same state and the same actions, a world of the batch and the
single env agree to float64 round-off on the CPU backend (``tests/test_imujoco_batched.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
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
from imitenvs.core.checks import check_choice, check_positive_int, is_tensor
from imitenvs.sim import make_backend
from imitenvs.sim.base import BACKENDS

#: Keywords of gymnasium's v5 envs that the batched tasks take, per robot (their v3 defaults,
#: pinned in :data:`imitenvs.envs.imujoco.env.V3_SETTINGS`).
TASK_KEYWORDS: dict[str, tuple[str, ...]] = {
    "hopper": (
        "frame_skip",
        "forward_reward_weight",
        "ctrl_cost_weight",
        "healthy_reward",
        "terminate_when_unhealthy",
        "healthy_state_range",
        "healthy_z_range",
        "healthy_angle_range",
        "reset_noise_scale",
        "exclude_current_positions_from_observation",
    ),
    "halfcheetah": (
        "frame_skip",
        "forward_reward_weight",
        "ctrl_cost_weight",
        "reset_noise_scale",
        "exclude_current_positions_from_observation",
    ),
    "walker2d": (
        "frame_skip",
        "forward_reward_weight",
        "ctrl_cost_weight",
        "healthy_reward",
        "terminate_when_unhealthy",
        "healthy_z_range",
        "healthy_angle_range",
        "reset_noise_scale",
        "exclude_current_positions_from_observation",
    ),
}
#: v5 clips the velocities of Hopper's and Walker2d's observation to +-10.
QVEL_CLIP: dict[str, float | None] = {"hopper": 10.0, "halfcheetah": None, "walker2d": 10.0}
#: Keywords of :class:`BatchedLocomotionEnv` besides the task's.
ENV_OPTIONS = (
    "max_episode_steps",
    "device",
    "backend",
    "nthread",
    "torch_threads",
    "autoreset_mode",
    "render_mode",
)
#: Float32 rows of task state per world beside the physics (memory estimate of num_envs).
_TASK_ROWS = 8


@dataclasses.dataclass(frozen=True)
class LocomotionTask:
    """The constants of one v5 locomotion task (gymnasium's keywords, checked).

    Attributes:
        robot: ``"hopper"``, ``"halfcheetah"`` or ``"walker2d"`` (which health test).
        frame_skip: physics steps per control step.
        forward_reward_weight, ctrl_cost_weight, healthy_reward: reward weights.
        terminate_when_unhealthy: end the episode (``terminated``) when a step ends unhealthy.
        healthy_state_range: Hopper: every entry of ``qpos[2:]`` and ``qvel`` strictly inside.
        healthy_z_range, healthy_angle_range: torso height ``qpos[1]`` and angle ``qpos[2]``
            strictly inside (HalfCheetah: none, always healthy).
        reset_noise_scale: reset noise ``s`` (see :class:`BatchedLocomotionEnv`).
        exclude_current_positions_from_observation: drop ``qpos[0]`` from the observation.
        penalty: Deep RLSP's ``-Penalty`` tasks: never terminate; ``-penalty`` on every step
            that ends unhealthy (term ``reward_penalty``). ``None``: no such term.
        time_horizon: Deep RLSP's time feature ``max(0, 1 - t/time_horizon)`` appended to the
            observation (``None``: none).
    """

    robot: str
    frame_skip: int
    forward_reward_weight: float
    ctrl_cost_weight: float
    reset_noise_scale: float
    exclude_current_positions_from_observation: bool
    healthy_reward: float = 0.0
    terminate_when_unhealthy: bool = False
    healthy_state_range: tuple[float, float] | None = None
    healthy_z_range: tuple[float, float] | None = None
    healthy_angle_range: tuple[float, float] | None = None
    penalty: float | None = None
    time_horizon: int | None = None

    @classmethod
    def from_settings(
        cls,
        robot: str,
        settings: dict[str, Any],
        *,
        penalty: float | None = None,
        time_horizon: int | None = None,
    ) -> LocomotionTask:
        """The task of ``robot`` from gymnasium v5 keywords (all of :data:`TASK_KEYWORDS`).

        Raises:
            ValueError: an unknown robot, a keyword the robot's v5 env does not have (or
                that the batched task does not support, such as ``xml_file`` or
                ``render_mode``), or a missing one.
        """
        check_choice("robot", robot, tuple(TASK_KEYWORDS))
        known = TASK_KEYWORDS[robot]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(
                f"the batched {robot} task does not take {unknown}; its keywords: {list(known)}"
            )
        missing = sorted(set(known) - set(settings))
        if missing:
            raise ValueError(f"the batched {robot} task needs {missing}")
        values = dict(settings)
        values["frame_skip"] = check_positive_int("frame_skip", values["frame_skip"])
        for name in ("healthy_state_range", "healthy_z_range", "healthy_angle_range"):
            if name in values:
                low, high = values[name]
                values[name] = (float(low), float(high))
        if time_horizon is not None:
            time_horizon = check_positive_int("time_horizon", time_horizon)
        return cls(robot=robot, penalty=penalty, time_horizon=time_horizon, **values)

    @property
    def has_health(self) -> bool:
        """Whether the robot has a health test (Hopper, Walker2d)."""
        return self.robot != "halfcheetah"


class BatchedLocomotionEnv(BatchedEnv):
    """N worlds of a gymnasium v5 locomotion task (Hopper, HalfCheetah, Walker2d) on one model.

    Per world, everything is gymnasium v5's (``hopper_v5.py``, ``half_cheetah_v5.py``,
    ``walker2d_v5.py``) with the keywords of ``task`` (:class:`LocomotionTask`):

    * Observation ``Box(-inf, inf, (O,))``, float64 on the ``"cpu"`` backend (the single env's
      space) and float32 on ``"warp"``: ``qpos[1:]`` (``qpos`` whole with
      ``exclude_current_positions_from_observation=False``), then ``qvel`` (Hopper and
      Walker2d: clipped to +-10), then (Deep RLSP tasks) the time feature
      ``max(0, 1 - t/time_horizon)``, ``t`` the world's steps since its reset.
    * Action ``Box(ctrlrange, (nu,), float32)`` (v5's; ``[-1, 1]`` for these robots): the
      actuators' controls, clipped to the space (the batched contract; the single v5 env
      passes them on unclipped and MuJoCo clamps them, so only the control cost of an action
      outside the space differs).
    * Reward, terms in ``info["reward_terms"]`` (each ``(N,)``), summing to the reward:
      ``reward_forward = forward_reward_weight * (x_after - x_before) / dt`` (``x = qpos[0]``,
      ``dt = frame_skip * timestep``), ``reward_ctrl = -ctrl_cost_weight * |a|^2``, and for
      Hopper and Walker2d ``reward_survive = healthy_reward * healthy``; with a ``penalty``,
      ``reward_penalty = -penalty * (1 - healthy)``.
    * ``info`` also holds ``x_position`` (x after the step), ``x_velocity`` and (Hopper,
      Walker2d) ``z_distance_from_origin = qpos[1] - qpos0[1]``; with a ``penalty``,
      ``is_healthy``. All ``(N,)``.
    * Healthy (after the step): Hopper: ``qpos[1]`` (torso z) and ``qpos[2]`` (torso angle)
      strictly inside ``healthy_z_range`` and ``healthy_angle_range``, and every entry of
      ``qpos[2:]`` and ``qvel`` strictly inside ``healthy_state_range``. Walker2d: z and angle
      only. HalfCheetah: always.
    * ``terminated``: the step ends unhealthy and ``terminate_when_unhealthy`` (never with a
      ``penalty``). ``truncated``: the world's ``max_episode_steps`` (1000) is reached, or its
      physics diverged (``info["diverged"]``).
    * Reset: ``qpos0 + U(-s, s)`` per coordinate; ``qvel`` ``U(-s, s)`` (Hopper, Walker2d) or
      ``s * N(0, 1)`` (HalfCheetah), ``s = reset_noise_scale``, drawn from the env's torch
      generator (seeded by ``reset(seed=...)``; not the single env's numpy draws).
      ``reset(options={"qpos": (N, nq), "qvel": (N, nv)})`` puts the worlds at those states
      instead (with ``reset_mask``, only the masked rows are used and checked for finiteness).

    Args:
        num_envs: number of worlds N (bounded by :func:`imitenvs.core.batched.check_num_envs`).
        xml_path: the MJCF model.
        task: the task constants.
        max_episode_steps: per-world time limit (``gymnasium.make(..., max_episode_steps=K)``).
        device: torch device of the outputs (``"cpu"``: numpy); ``"cuda"`` without CUDA is a
            ``ValueError``.
        backend: ``"auto"`` (``"warp"`` on a CUDA device, else ``"cpu"``), ``"cpu"``
            (``mujoco.batch``, float64) or ``"warp"`` (MuJoCo Warp, float32; on ``device``).
        nthread: C threads of the ``"cpu"`` backend (0: every CPU).
        torch_threads: torch intra-op threads while the env runs (0: unchanged).
        autoreset_mode: ``"same_step"`` (default), ``"next_step"`` or ``"disabled"``.
        render_mode: only ``None`` (batched worlds do not render; the single env does).
    """

    metadata: dict[str, Any] = {**BatchedEnv.metadata}
    #: ``info`` keys besides the reward terms, for documentation and tests.
    info_keys: ClassVar[tuple[str, ...]] = ("x_position", "x_velocity")

    def __init__(
        self,
        num_envs: int,
        xml_path: str | Path,
        task: LocomotionTask,
        *,
        max_episode_steps: int = 1000,
        device: str | torch.device = "cpu",
        backend: str = "auto",
        nthread: int = 0,
        torch_threads: int = 1,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
        render_mode: str | None = None,
    ) -> None:
        check_positive_int("num_envs", num_envs)
        autoreset_mode = check_autoreset_mode(autoreset_mode)
        check_choice("backend", backend, ("auto", *BACKENDS))
        if render_mode is not None:
            raise ValueError(
                f"render_mode={render_mode!r}: the batched locomotion envs do not render; "
                "make the single env (no num_envs) to render"
            )
        self.task = task
        self.torch_threads = check_torch_threads(torch_threads)
        self.model = mujoco.MjModel.from_xml_path(str(xml_path))
        device = check_device(device)
        if backend == "auto":
            backend = "warp" if device.type == "cuda" else "cpu"
        self.backend = backend
        dtype = np.float64 if backend == "cpu" else np.float32
        nq, nv = self.model.nq, self.model.nv
        self._pos_start = 1 if task.exclude_current_positions_from_observation else 0
        obs_dim = nq - self._pos_start + nv + (task.time_horizon is not None)
        low = np.full(obs_dim, -np.inf, dtype)
        high = np.full(obs_dim, np.inf, dtype)
        if task.time_horizon is not None:
            low[-1], high[-1] = 0.0, 1.0
        box = gymnasium.spaces.Box
        ctrl = self.model.actuator_ctrlrange.astype(np.float32)  # v5's action space
        super().__init__(
            num_envs,
            box(low, high, (obs_dim,), dtype),
            box(ctrl[:, 0], ctrl[:, 1], (self.model.nu,), np.float32),
            max_episode_steps,
            device,
            world_bytes=mujoco_world_bytes(self.model) + _TASK_ROWS * 4 * obs_dim,
            autoreset_mode=autoreset_mode,
        )
        self.render_mode = None
        self.physics = make_backend(
            backend,
            self.model,
            self.num_envs,
            nthread=nthread if backend == "cpu" else 0,
            device=self.device if backend == "warp" else "cpu",
        )
        self.dt = float(self.model.opt.timestep) * task.frame_skip
        self._build_buffers()

    def _build_buffers(self) -> None:
        """Constants and preallocated per-step buffers on the physics device and dtype."""
        p, task = self.physics, self.task
        dev, dtype = p.qpos.device, p.qpos.dtype
        self._qpos0 = torch.as_tensor(np.array(self.model.qpos0), dtype=dtype, device=dev)
        self._qvel0 = torch.zeros(self.model.nv, dtype=dtype, device=dev)
        self._x_before = torch.zeros(self.num_envs, dtype=dtype, device=dev)
        self._clip = QVEL_CLIP[task.robot]
        #: Reset states given in ``reset(options=...)`` for the current reset (or None).
        self._given: tuple[torch.Tensor, torch.Tensor] | None = None
        self._no_flag = torch.zeros(self.num_envs, dtype=torch.bool, device=dev)
        self._obs_shape = (self.num_envs, *self.single_observation_space.shape)
        self._health_bounds = self._bounds(dtype, dev)

    # ---- gymnasium API ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """The batched contract's ``reset``, and ``options={"qpos": (N, nq), "qvel": (N, nv)}``
        to start the worlds (with ``reset_mask``: the masked ones) at given states.

        Raises:
            ValueError: besides the contract's checks, ``qpos``/``qvel`` of the wrong shape,
                not numbers, NaN/inf in a row that is used, or one given without the other.
        """
        self._check_reset()
        given = None if options is None else self._given_state(options)
        with torch_threads(self.torch_threads):
            self._given = given
            try:
                return super().reset(seed=seed, options=options)
            finally:
                self._given = None

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        with torch_threads(self.torch_threads):
            return super().step(actions)

    @property
    def stochastic_reset(self) -> bool:
        """Seeds change the first observation unless ``reset_noise_scale`` is 0."""
        return self.task.reset_noise_scale != 0.0

    # ---- BatchedEnv hooks ---------------------------------------------------------------
    def _reset_worlds(self, ids: torch.Tensor) -> None:
        if len(ids) == 0:
            return
        rows = ids.to(self.physics.device)
        if self._given is not None:
            qpos, qvel = self._given[0][rows], self._given[1][rows]
        else:
            qpos, qvel = self._noisy_start(len(ids))
        self.physics.set_state(rows, qpos, qvel)

    def _noisy_start(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``qpos (k, nq)`` and ``qvel (k, nv)`` of v5's reset noise, on the physics device."""
        s = self.task.reset_noise_scale
        gen, dev = self.generator, self.device
        dtype = self._qpos0.dtype
        nq, nv = self.model.nq, self.model.nv
        qpos_noise = (2.0 * torch.rand((k, nq), generator=gen, device=dev, dtype=dtype) - 1) * s
        if self.task.robot == "halfcheetah":
            qvel_noise = s * torch.randn((k, nv), generator=gen, device=dev, dtype=dtype)
        else:
            qvel_noise = (2.0 * torch.rand((k, nv), generator=gen, device=dev, dtype=dtype) - 1) * s
        qpos = self._qpos0 + qpos_noise.to(self._qpos0.device)
        qvel = self._qvel0 + qvel_noise.to(self._qvel0.device)
        return qpos, qvel

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        p, task = self.physics, self.task
        self._x_before.copy_(p.qpos[:, 0])
        diverged = p.step(action, task.frame_skip)
        qpos, qvel = p.qpos, p.qvel
        x = qpos[:, 0]
        x_velocity = (x - self._x_before) / self.dt
        act = action.to(qpos.device, qpos.dtype)
        terms = {"reward_forward": task.forward_reward_weight * x_velocity}
        info = {"x_position": x.clone(), "x_velocity": x_velocity}
        terminated = self._no_flag
        if task.has_health:
            healthy = self._healthy(qpos, qvel)
            terms["reward_survive"] = healthy.to(qpos.dtype) * task.healthy_reward
            info["z_distance_from_origin"] = qpos[:, 1] - self._qpos0[1]
            if task.penalty is not None:
                terms["reward_penalty"] = (~healthy).to(qpos.dtype) * -task.penalty
                info["is_healthy"] = healthy
            elif task.terminate_when_unhealthy:
                terminated = ~healthy
        terms["reward_ctrl"] = act.square().sum(1) * -task.ctrl_cost_weight
        dev = self.device
        if qpos.device != dev:  # the cpu backend under a CUDA device
            terms = {k: v.to(dev) for k, v in terms.items()}
            info = {k: v.to(dev) for k, v in info.items()}
            terminated, diverged = terminated.to(dev), diverged.to(dev)
        return WorldStep(terms, terminated, info, diverged)

    def _healthy(self, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
        """``(N,)`` bool: v5's ``is_healthy`` of every world (see the class docstring): every
        bounded entry of ``qpos[1:]`` (and Hopper's ``qvel``) strictly inside its bounds."""
        low, high, vel_low, vel_high = self._health_bounds
        rest = qpos[:, 1:]
        healthy = ((rest > low) & (rest < high)).all(1)
        if vel_low is not None:
            healthy &= ((qvel > vel_low) & (qvel < vel_high)).all(1)
        return healthy

    def _bounds(self, dtype: torch.dtype, device: torch.device) -> tuple[Any, ...]:
        """``(low, high)`` of ``qpos[1:]`` (``(nq - 1,)`` each) and of ``qvel`` (``(nv,)``, or
        None) whose strict insides are v5's health test: the z and angle ranges on
        ``qpos[1]``, ``qpos[2]``, intersected with Hopper's state range on ``qpos[2:]`` and
        ``qvel``; +-inf elsewhere. HalfCheetah: no bounds (None)."""
        task = self.task
        if task.healthy_z_range is None or task.healthy_angle_range is None:
            return (None, None, None, None)
        low = np.full(self.model.nq - 1, -np.inf)
        high = np.full(self.model.nq - 1, np.inf)
        vel = None
        if task.healthy_state_range is not None:
            low[1:], high[1:] = task.healthy_state_range
            vel = np.array([task.healthy_state_range] * self.model.nv)
        for col, (lo, hi) in ((0, task.healthy_z_range), (1, task.healthy_angle_range)):
            low[col], high[col] = max(low[col], lo), min(high[col], hi)

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=dtype, device=device)

        if vel is None:
            return (tensor(low), tensor(high), None, None)
        return (tensor(low), tensor(high), tensor(vel[:, 0]), tensor(vel[:, 1]))

    def _observe(self) -> torch.Tensor:
        p = self.physics
        nq = self.model.nq - self._pos_start
        nv = self.model.nv
        obs = torch.empty(self._obs_shape, dtype=p.qpos.dtype, device=p.qpos.device)
        obs[:, :nq] = p.qpos[:, self._pos_start :]
        if self._clip is None:
            obs[:, nq : nq + nv] = p.qvel
        else:
            torch.clamp(p.qvel, -self._clip, self._clip, out=obs[:, nq : nq + nv])
        if self.task.time_horizon is not None:
            steps = self.episode_steps.to(obs.device, obs.dtype)
            obs[:, -1] = (1.0 - steps / self.task.time_horizon).clamp_min(0.0)
        return obs.to(self.device)

    # ---- reset to given states ------------------------------------------------------------
    def _given_state(self, options: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``options["qpos"]``/``["qvel"]`` as checked ``(N, nq)``/``(N, nv)`` tensors on the
        physics device (None when neither is given); only masked rows must be finite."""
        has_qpos, has_qvel = "qpos" in options, "qvel" in options
        if not (has_qpos or has_qvel):
            return None
        if has_qpos != has_qvel:
            given, other = ("qpos", "qvel") if has_qpos else ("qvel", "qpos")
            raise ValueError(
                f"options[{given!r}] needs options[{other!r}] too: a reset to a state sets both"
            )
        mask = self._reset_mask(options.get("reset_mask"))
        p = self.physics
        out = []
        for name, width in (("qpos", self.model.nq), ("qvel", self.model.nv)):
            value = options[name]
            try:
                x = torch.as_tensor(value if is_tensor(value) else np.asarray(value))
                x = x.to(p.qpos.device, torch.float64)
            except (TypeError, ValueError, RuntimeError) as e:
                raise ValueError(f"options[{name!r}] is not an array of numbers: {e}") from e
            if tuple(x.shape) != (self.num_envs, width):
                raise ValueError(
                    f"options[{name!r}] must have shape ({self.num_envs}, {width}), "
                    f"got {tuple(x.shape)}"
                )
            used = x if mask is None else x[mask.to(x.device)]
            finite = used.isfinite().all(1)
            if not bool(finite.all()):
                worlds = torch.arange(self.num_envs, device=x.device)
                worlds = worlds if mask is None else worlds[mask.to(x.device)]
                bad = worlds[~finite][:10].tolist()
                raise ValueError(f"options[{name!r}] has NaN or inf in the rows of worlds {bad}")
            out.append(x.to(p.qpos.dtype))
        return out[0], out[1]


class IMuJoCoBatchedEnv(BatchedLocomotionEnv):
    """An iMuJoCo variant, natively batched: ``gymnasium.make(id, num_envs=N)``.

    ``variant`` (e.g. ``"hopper-massdec_25_leggeom"``) picks the robot and the model; the
    task is the single env's (:class:`imitenvs.envs.imujoco.env.IMuJoCoHopperEnv`, ...):
    gymnasium's v5 task with the v3 settings of the iMuJoCo data. Spaces, reward terms,
    termination and reset: :class:`BatchedLocomotionEnv`. v5 keywords of the task
    (``ctrl_cost_weight``, ``healthy_z_range``, ...) override the settings; the other
    keywords are :class:`BatchedLocomotionEnv`'s.

    Version history: v0 -- first release.
    """

    def __init__(self, num_envs: int = 1, *, variant: str, **kwargs: Any) -> None:
        from imitenvs.envs.imujoco.env import V3_SETTINGS
        from imitenvs.envs.imujoco.grid import parse_variant
        from imitenvs.envs.imujoco.mjcf import variant_xml_path

        parsed = parse_variant(variant)
        robot = parsed.robot.key
        settings, options = _split_settings(robot, kwargs)
        task = LocomotionTask.from_settings(robot, {**V3_SETTINGS[robot], **settings})
        self.variant = parsed
        super().__init__(num_envs, variant_xml_path(variant), task, **options)


def _split_settings(robot: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``kwargs`` split into the robot's v5 task keywords and everything else."""
    if "xml_file" in kwargs:
        raise ValueError("xml_file is set by the task; the batched env does not take it")
    known = TASK_KEYWORDS[robot]
    unknown = sorted(set(kwargs) - set(known) - set(ENV_OPTIONS))
    if unknown:
        raise ValueError(
            f"the batched {robot} env does not take {unknown}; task keywords: {list(known)}, "
            f"env options: {list(ENV_OPTIONS)}"
        )
    settings = {k: v for k, v in kwargs.items() if k in known}
    return settings, {k: v for k, v in kwargs.items() if k not in known}


def _make(robot: str, variant: str, num_envs: int | None, kwargs: dict[str, Any]) -> gymnasium.Env:
    if num_envs is None:
        from imitenvs.envs.imujoco.env import ENV_CLASSES

        return ENV_CLASSES[robot](variant, **kwargs)
    return IMuJoCoBatchedEnv(num_envs, variant=variant, **kwargs)


def make_hopper(variant: str, num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of the iMuJoCo Hopper ids: the single v5 env
    (:class:`~imitenvs.envs.imujoco.env.IMuJoCoHopperEnv`), or with ``num_envs`` the batch
    (:class:`IMuJoCoBatchedEnv`)."""
    return _make("hopper", variant, num_envs, kwargs)


def make_halfcheetah(variant: str, num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of the iMuJoCo HalfCheetah ids (see :func:`make_hopper`)."""
    return _make("halfcheetah", variant, num_envs, kwargs)


def make_walker2d(variant: str, num_envs: int | None = None, **kwargs: Any) -> gymnasium.Env:
    """Entry point of the iMuJoCo Walker2d ids (see :func:`make_hopper`)."""
    return _make("walker2d", variant, num_envs, kwargs)
