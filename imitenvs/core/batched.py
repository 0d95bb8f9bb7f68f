"""The batched-env contract: one object that is both a ``gymnasium.vector.VectorEnv`` and a
``gymnasium.Env``, so ``gymnasium.make(id, num_envs=N)`` and ``gymnasium.make_vec(id,
num_envs=N)`` return the same natively batched env.

Contract (every batched id follows it; ``docs/architecture.md`` has it as a table):

- ``step(actions)`` takes ``(N, *single_action_shape)`` as a numpy array, a torch tensor (any
  device; moved to the env's) or a nested list, and returns
  ``obs (N, ...)``, ``reward (N,)``, ``terminated (N,)``, ``truncated (N,)``, ``info``.
  NaN/inf actions raise ``ValueError`` naming the worlds; actions are clipped to the space.
- Call order: ``step()`` before the first ``reset()`` raises ``gymnasium.error.ResetNeeded``;
  ``step()`` or ``reset()`` after ``close()`` raises ``gymnasium.error.ClosedEnvironmentError``
  (the env enforces this itself: batched ids are registered without ``OrderEnforcing``).
- ``reset(seed=s)``: ``s`` is an integer >= 0 or ``None``; ``options={"reset_mask": m}`` resets
  only the worlds where ``m`` (bool, shape ``(N,)``) is true, after a first full reset.
  Everything is checked before any generator is touched.
- ``num_envs`` is at most :data:`MAX_NUM_ENVS` and at most what the device's available memory
  holds at the task's estimated bytes per world (:func:`check_num_envs`), checked before
  allocating. ``device="cuda"`` without CUDA is a ``ValueError`` (:func:`check_device`).
- Autoreset (``autoreset_mode``, in the instance's ``metadata``; :func:`check_autoreset_mode`):
  ``SAME_STEP`` (default; our agents, :mod:`imitenvs.adapters.sb3`, rsl_rl): a finished
  world is reset inside ``step``; its last observation is ``info["final_obs"][i]`` where
  ``info["_final_obs"][i]`` is true (``final_obs`` is a full ``(N, ...)`` array; rows of
  unfinished worlds hold their current observation). ``NEXT_STEP`` (gymnasium 1.x's default,
  what its vector wrappers expect): the finishing step returns the last observation in
  ``obs``; the next ``step`` resets those worlds, ignores their actions and gives them reward
  0, ``terminated``/``truncated`` false. ``DISABLED``: finished worlds wait for
  ``reset(options={"reset_mask": ...})``; stepping them first raises ``ResetNeeded``.
- ``truncated`` marks time-outs (bootstrap the value), ``terminated`` marks failures. Each world
  keeps its own step counter (``max_episode_steps``); no gymnasium ``TimeLimit`` is ever put on
  a batch: ``gymnasium.make(id, num_envs=N, max_episode_steps=K)`` sets the per-world limit.
- ``info["reward_terms"]``: ``{name: (N,)}``, the named terms that sum to the reward.
  ``info["diverged"]``: ``(N,)`` bool, worlds whose physics blew up this step; they were reset
  and their episode ends as truncated (no bootstrap through garbage is possible either way).
- Arrays are numpy on CPU devices and torch tensors (on the env's device) otherwise.

Subclasses implement four hooks on torch tensors: :meth:`BatchedEnv._reset_worlds`,
:meth:`BatchedEnv._step_worlds`, :meth:`BatchedEnv._observe` and (optionally)
:meth:`BatchedEnv._render_world`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from imitenvs.core.checks import (
    CallOrder,
    check_box_action,
    check_positive_int,
    check_seed,
    is_tensor,
)


@contextlib.contextmanager
def torch_threads(num: int) -> Iterator[None]:
    """Run torch with ``num`` intra-op threads inside the block, then restore (0: unchanged)."""
    old = torch.get_num_threads()
    change = num > 0 and num != old
    if change:
        torch.set_num_threads(num)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(old)


def check_torch_threads(num: Any) -> int:
    """``num`` as a batched env's ``torch_threads`` (an int >= 0), else one ValueError."""
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise ValueError(f"torch_threads must be an integer >= 0, got {num!r}")
    return num


#: ``autoreset_mode`` names accepted beside :class:`gymnasium.vector.AutoresetMode` members.
AUTORESET_NAMES: dict[str, AutoresetMode] = {
    **{m.name.lower(): m for m in AutoresetMode},
    **{m.value: m for m in AutoresetMode},
}

#: Hard upper bound on ``num_envs`` of every batched env, whatever the memory.
MAX_NUM_ENVS = 1 << 20
#: The estimate of a MuJoCo world's memory counts this share of MjData's arena (the arena is
#: reserved, not touched; measured on the humanoid's CPU backend: 280 KB per world, estimate
#: 45 KB buffer + 15 MB / 64 = 290 KB).
ARENA_SHARE = 64


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` that exists on this machine.

    Raises:
        ValueError: not a device name, CUDA asked for without CUDA (or with too few GPUs),
            or another device type torch cannot allocate on.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device={device!r} is not a torch device ('cpu', 'cuda', ...)") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} needs CUDA, but torch.cuda.is_available() is False here "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
                "use device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} GPU(s) here")
    elif dev.type != "cpu":
        try:
            torch.empty(0, device=dev)
        except (RuntimeError, AssertionError) as e:
            raise ValueError(f"device={device!r} is not usable here: {e}") from e
    return dev


def check_autoreset_mode(mode: Any) -> AutoresetMode:
    """``mode`` as a :class:`gymnasium.vector.AutoresetMode`: a member, its value
    (``"NextStep"``) or its lower-case name (``"next_step"``, ``"same_step"``, ``"disabled"``).

    Raises:
        ValueError: anything else (the message names the value and the accepted names).
    """
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str) and mode in AUTORESET_NAMES:
        return AUTORESET_NAMES[mode]
    names = ", ".join(repr(m.name.lower()) for m in AutoresetMode)
    raise ValueError(
        f"unknown autoreset_mode={mode!r}: use {names} or a gymnasium.vector.AutoresetMode"
    )


def available_memory(device: torch.device) -> int | None:
    """Bytes free for new allocations on ``device``: CUDA's free memory, or the host's
    ``MemAvailable`` (``/proc/meminfo``; free pages from ``sysconf`` without it); ``None``
    where neither is known."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_num_envs(num_envs: Any, bytes_per_world: int, device: torch.device) -> int:
    """``num_envs`` as ``int`` if it is in ``[1, bound]``, where the bound is
    ``min(MAX_NUM_ENVS, available_memory(device) // bytes_per_world)``.

    Raises:
        ValueError: not a positive integer, or above the bound (the message names both).
    """
    n = check_positive_int("num_envs", num_envs)
    free = available_memory(device)
    by_memory = MAX_NUM_ENVS if free is None else free // max(int(bytes_per_world), 1)
    bound = min(MAX_NUM_ENVS, by_memory)
    if n > bound:
        memory = "unknown" if free is None else f"{free / 2**30:.2f} GiB"
        raise ValueError(
            f"num_envs={n} exceeds the bound {bound} on {device}: min(MAX_NUM_ENVS="
            f"{MAX_NUM_ENVS}, available memory {memory} / ~{bytes_per_world / 2**10:.1f} KiB "
            "per world)"
        )
    return n


def mujoco_world_bytes(model: Any) -> int:
    """Estimated bytes of one MuJoCo world: MjData's buffer plus ``1/ARENA_SHARE`` of its
    arena (what a batched backend holds per world; see :data:`ARENA_SHARE`)."""
    import mujoco

    data = mujoco.MjData(model)
    return int(data.nbuffer) + int(data.narena) // ARENA_SHARE


@dataclass
class WorldStep:
    """What a task returns from one control step of all worlds (torch, world axis first).

    Attributes:
        reward_terms: ``{name: (N,)}`` weighted terms; their sum is the reward.
        terminated: ``(N,)`` bool, worlds that failed (fall, goal, ...).
        info: extra ``{name: (N, ...)}`` tensors to pass through in ``info``.
        diverged: ``(N,)`` bool, worlds whose physics diverged (reset by the base class).
        truncated: ``(N,)`` bool, worlds the task ends without a failure before the time
            limit (e.g. a reference clip that is over); they end as ``truncated``.
    """

    reward_terms: dict[str, torch.Tensor]
    terminated: torch.Tensor
    info: dict[str, torch.Tensor] = field(default_factory=dict)
    diverged: torch.Tensor | None = None
    truncated: torch.Tensor | None = None


class BatchedEnv(CallOrder, VectorEnv, gymnasium.Env):
    """Base class of natively batched envs (see the module docstring for the contract).

    Args:
        num_envs: number of worlds N, in ``[1, bound]`` (:func:`check_num_envs`).
        single_observation_space: one world's observation space (a ``Box``).
        single_action_space: one world's action space (a ``Box``).
        max_episode_steps: per-world time limit in control steps (settable later).
        device: torch device of the task state (``"cpu"`` gives numpy outputs).
        world_bytes: estimated bytes a subclass allocates per world beyond this class's
            buffers (physics, task state; e.g. :func:`mujoco_world_bytes`), for the memory
            bound on ``num_envs``.
        autoreset_mode: ``"same_step"`` (default), ``"next_step"``, ``"disabled"`` or a
            :class:`gymnasium.vector.AutoresetMode` (see the module docstring); the instance's
            ``metadata["autoreset_mode"]`` holds it as an ``AutoresetMode``.

    Entry points of batched ids must accept ``max_episode_steps`` as a keyword (the registry
    passes ``gymnasium.make(..., max_episode_steps=K)`` on to it).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        single_observation_space: gymnasium.spaces.Box,
        single_action_space: gymnasium.spaces.Box,
        max_episode_steps: int,
        device: str | torch.device = "cpu",
        world_bytes: int = 0,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
    ) -> None:
        self._autoreset_mode = check_autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self._autoreset_mode}
        self.device = check_device(device)
        own = 4 * (3 * _size(single_observation_space) + 2 * _size(single_action_space)) + 64
        self.num_envs = check_num_envs(num_envs, own + world_bytes, self.device)
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self._action_low = torch.as_tensor(single_action_space.low, device=self.device)
        self._action_high = torch.as_tensor(single_action_space.high, device=self.device)
        self.episode_steps = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(np.random.SeedSequence().generate_state(1)[0]))
        self._all = torch.arange(self.num_envs, device=self.device)
        #: ``(N,)`` worlds that finished and are not reset yet (NEXT_STEP and DISABLED modes).
        self._finished = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """How finished worlds restart (fixed at construction; also ``metadata``'s)."""
        return self._autoreset_mode

    @property
    def max_episode_steps(self) -> int:
        """Per-world time limit in control steps (a positive integer)."""
        return self._max_episode_steps

    @max_episode_steps.setter
    def max_episode_steps(self, value: int) -> None:
        self._max_episode_steps = check_positive_int("max_episode_steps", value)

    # ---- hooks --------------------------------------------------------------------------
    def _reset_worlds(self, ids: torch.Tensor) -> None:
        """Reset the task and physics state of worlds ``ids`` (``(k,)`` int64)."""
        raise NotImplementedError

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        """Apply ``action`` ``(N, act_dim)`` (finite, clipped) and advance one control step."""
        raise NotImplementedError

    def _observe(self) -> torch.Tensor:
        """``(N, obs_dim)`` observation of every world's current state."""
        raise NotImplementedError

    def _render_world(self, world: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 picture of one world."""
        raise NotImplementedError(f"{type(self).__name__} does not render")

    # ---- gymnasium API --------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every world, or only ``options["reset_mask"]`` (``(N,)`` bool).

        Raises:
            ValueError: ``seed`` is not an integer >= 0 or None, or ``reset_mask`` is not a
                bool array of shape ``(N,)`` (checked before any generator is touched).
            gymnasium.error.ResetNeeded: a ``reset_mask`` before the first full reset.
            gymnasium.error.ClosedEnvironmentError: the env is closed.
        """
        self._check_reset()
        seed = check_seed(seed)
        mask = self._reset_mask(None if options is None else options.get("reset_mask"))
        if mask is not None and self._call_order != "ready":
            raise ResetNeeded("reset(options={'reset_mask': ...}) needs a full reset() first")
        if seed is not None:
            self.generator.manual_seed(seed)
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)
        ids = self._all if mask is None else self._all[mask]
        self._reset_worlds(ids)
        self.episode_steps[ids] = 0
        self._finished[ids] = False
        self._mark_ready()
        return self._out(self._observe()), {}

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step every world with ``actions`` ``(N, *action_shape)``; finished worlds reset as
        ``autoreset_mode`` says (see the module docstring).

        Raises:
            ValueError: actions of the wrong shape, not numbers, or NaN/inf (naming worlds).
            gymnasium.error.ResetNeeded: before the first ``reset()``, or (``DISABLED``) a
                finished world not reset with ``reset_mask`` yet.
        """
        self._check_step()
        action = self._check_action(actions)
        mode = self.autoreset_mode
        pending = self._finished.clone()
        any_pending = bool(pending.any())
        if any_pending and mode == AutoresetMode.DISABLED:
            worlds = self._all[pending].tolist()
            raise ResetNeeded(
                f"worlds {worlds[:10]}{' ...' if len(worlds) > 10 else ''} finished: with "
                "autoreset_mode DISABLED, reset them with reset(options={'reset_mask': ...})"
            )
        if any_pending:  # NEXT_STEP: step them from a sane state, then reset them again below
            self._reset_worlds(self._all[pending])
        result = self._step_worlds(action)
        self.episode_steps += 1
        terms, terminated, truncated, diverged = self._outcome(result, pending)
        reward = torch.stack(list(terms.values())).sum(0)
        obs = self._observe()
        done = terminated | truncated
        info: dict[str, Any] = {
            "reward_terms": {k: self._out(v) for k, v in terms.items()},
            "diverged": self._out(diverged),
            **{k: self._out(v) for k, v in result.info.items()},
        }
        restart = done if mode == AutoresetMode.SAME_STEP else pending
        if mode == AutoresetMode.SAME_STEP and bool(done.any()):
            info["final_obs"] = self._out(obs.clone())
            info["_final_obs"] = self._out(done)
        if bool(restart.any()):
            ids = self._all[restart]
            self._reset_worlds(ids)
            self.episode_steps[ids] = 0
            obs = self._observe()
        if mode != AutoresetMode.SAME_STEP:
            self._finished = done
        return self._out(obs), self._out(reward), self._out(terminated), self._out(truncated), info

    def _outcome(
        self, result: WorldStep, pending: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reward_terms, terminated, truncated, diverged)`` of a step, each ``(N,)``: a
        diverged world gets reward 0 and ends truncated; ``pending`` worlds (NEXT_STEP resets)
        get reward 0 and neither flag."""
        terminated = result.terminated.bool()
        diverged = (
            torch.zeros_like(terminated) if result.diverged is None else result.diverged.bool()
        )
        diverged = diverged & ~pending
        terminated = terminated & ~diverged & ~pending
        truncated = (self.episode_steps >= self.max_episode_steps) | diverged
        if result.truncated is not None:
            truncated = truncated | result.truncated.bool()
        truncated = truncated & ~terminated & ~pending
        silent = diverged | pending
        terms = {
            k: torch.where(silent, torch.zeros_like(v), v) for k, v in result.reward_terms.items()
        }
        return terms, terminated, truncated, diverged

    def render(self) -> np.ndarray | None:
        """Picture of world 0 (``render_mode="rgb_array"``)."""
        if getattr(self, "render_mode", None) != "rgb_array":
            return None
        return self._render_world(0)

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release beyond what subclasses hold; safe to call repeatedly."""

    # ---- helpers --------------------------------------------------------------------------
    def _as_tensor(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(x, device=self.device)

    def _check_action(self, actions: Any) -> torch.Tensor:
        """``actions`` (numpy, torch on any device, nested lists) as checked, clipped float32."""
        try:
            action = self._as_tensor(actions).to(torch.float32)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"actions {actions!r:.80} are not an array of numbers") from e
        expected = (self.num_envs, *self.single_action_space.shape)
        return check_box_action(action, self._action_low, self._action_high, expected)

    def _reset_mask(self, mask: Any) -> torch.Tensor | None:
        """``options["reset_mask"]`` as an ``(N,)`` bool tensor on the env's device."""
        if mask is None:
            return None
        x = mask if is_tensor(mask) else np.asarray(mask)
        is_bool = x.dtype == (torch.bool if is_tensor(x) else np.bool_)
        if tuple(x.shape) != (self.num_envs,) or not is_bool:
            raise ValueError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), got "
                f"shape {tuple(x.shape)} and dtype {x.dtype}"
            )
        return self._as_tensor(x)

    def _out(self, x: torch.Tensor) -> Any:
        """numpy on CPU devices (zero-copy where possible), torch elsewhere."""
        return x.numpy() if self.device.type == "cpu" else x


def _size(space: gymnasium.spaces.Space) -> int:
    return int(np.prod(space.shape or (1,)))


class SingleWorldEnv(gymnasium.Env):
    """An ordinary single ``gymnasium.Env`` over a batch of one world.

    ``gymnasium.make(id)`` returns this for batched ids: it passes
    ``gymnasium.utils.env_checker.check_env``. The episode ends at the batch's own time limit
    (``truncated``; ``max_episode_steps`` reads and sets it); the observation returned on the
    last step is the world's final one. It follows the batched contract for one world: actions
    as numpy arrays, torch tensors or lists, clipped, NaN/inf refused, ``step()`` before
    ``reset()`` or after ``close()`` refused (by the batch), seeds integers >= 0 or ``None``.
    """

    def __init__(self, batch: BatchedEnv) -> None:
        if batch.num_envs != 1:
            raise ValueError(f"SingleWorldEnv needs a batch of one world, got {batch.num_envs}")
        self.batch = batch
        self.observation_space = batch.single_observation_space
        self.action_space = batch.single_action_space
        self.metadata = {**type(batch).metadata}
        self.metadata.pop("autoreset_mode", None)
        self.render_mode = getattr(batch, "render_mode", None)

    @property
    def max_episode_steps(self) -> int:
        """The batch's time limit."""
        return self.batch.max_episode_steps

    @max_episode_steps.setter
    def max_episode_steps(self, value: int) -> None:
        self.batch.max_episode_steps = value

    @property
    def stochastic_reset(self) -> bool:
        return bool(getattr(self.batch, "stochastic_reset", True))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        seed = check_seed(seed)
        obs, info = self.batch.reset(seed=seed, options=options)
        super().reset(seed=seed)
        return self._first(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        one = action if is_tensor(action) else np.asarray(action)
        obs, reward, terminated, truncated, info = self.batch.step(one[None])
        if "final_obs" in info:  # SAME_STEP; other modes return the last observation in obs
            obs = info["final_obs"]
        out_info = {k: self._first(v) for k, v in info.items() if not k.endswith("final_obs")}
        return self._first(obs), float(reward[0]), bool(terminated[0]), bool(truncated[0]), out_info

    def render(self) -> np.ndarray | None:
        return self.batch.render()

    def close(self) -> None:
        self.batch.close()

    @staticmethod
    def _first(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: SingleWorldEnv._first(v) for k, v in x.items()}
        if isinstance(x, torch.Tensor):
            x = x.cpu().numpy()
        return x[0] if isinstance(x, np.ndarray) and x.ndim > 0 else x
