"""The motion library: many clips, weighted sampling and batched state queries.

All clips' frames are concatenated into flat arrays once; a query for ``N`` (clip, time) pairs
is a handful of gathers and interpolations, with no Python loop over queries. The library lives
on numpy (``device=None``) or on torch tensors on a device (``device="cpu"``, ``"cuda"``...);
queries take and return arrays of that kind.

Time semantics per clip (length ``L = (F - 1) / fps``):

* ``"wrap"`` clips repeat: time ``t`` plays ``t mod L``, and the root (and key bodies) are
  shifted horizontally by ``floor(t / L)`` times the clip's root displacement.
* ``"clamp"`` clips hold their ends: ``t`` is clipped to ``[0, L]``.

Between frames ``f0`` and ``f0 + 1``: positions and hinge angles are interpolated linearly
(angles along the shorter way), the root rotation by slerp. Velocities are those of frame
``f0``: forward differences (``(x[f0+1] - x[f0]) * fps``, angular velocity from the relative
rotation), i.e. the exact derivative of the interpolated motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.checks import check_choice, check_positive_int
from imitenvs.motion._xp import as_index, namespace
from imitenvs.motion.clip import MotionClip
from imitenvs.motion.dataset import is_dataset, read_dataset
from imitenvs.motion.humanoid import KEY_BODY_NAMES
from imitenvs.motion.quat import quat_conjugate, quat_mul, quat_slerp, quat_to_exp_map, wrap_angle

Array = Any  # numpy.ndarray or torch.Tensor
TIME_SAMPLING: tuple[str, ...] = ("uniform", "start", "beta")


@dataclass(frozen=True)
class MotionState:
    """A batch of ``N`` reference states (arrays of the library's kind; quaternions xyzw).

    Attributes:
        root_pos: ``(N, 3)``; root_rot: ``(N, 4)``; root_vel, root_ang_vel: ``(N, 3)`` world
        frame; dof_pos, dof_vel: ``(N, D)``; key_pos: ``(N, K, 3)`` world key-body positions.
    """

    root_pos: Array
    root_rot: Array
    root_vel: Array
    root_ang_vel: Array
    dof_pos: Array
    dof_vel: Array
    key_pos: Array


def _frame_arrays(clip: MotionClip, key_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame arrays of one clip, velocities by forward differences (float64)."""
    global_pos, _ = clip.global_pose()
    root_rot = clip.root_rot
    vel = np.diff(clip.root_pos, axis=0) * clip.fps
    drot = quat_mul(root_rot[1:], quat_conjugate(root_rot[:-1]))
    ang_vel = quat_to_exp_map(drot) * clip.fps
    dof_vel = wrap_angle(np.diff(clip.dof_pos, axis=0)) * clip.fps
    last = 0 if clip.loop_mode == "wrap" else -1  # velocity of the final frame
    return {
        "root_pos": clip.root_pos,
        "root_rot": root_rot,
        "dof_pos": clip.dof_pos,
        "key_pos": global_pos[:, key_ids],
        "root_vel": np.concatenate([vel, vel[last:][:1]]),
        "root_ang_vel": np.concatenate([ang_vel, ang_vel[last:][:1]]),
        "dof_vel": np.concatenate([dof_vel, dof_vel[last:][:1]]),
    }


class MotionLibrary:
    """Weighted clips with vectorised sampling and state queries on numpy or torch.

    Args:
        clips: clips of one character (same skeleton and hinge names).
        weights: sampling weight per clip (normalised; default uniform).
        device: ``None`` for numpy arrays, else a torch device for tensors.
        key_bodies: bodies whose world positions ``get_state`` returns (default hands, feet).
        dtype: float dtype name of the arrays (``"float32"`` or ``"float64"``).
    """

    def __init__(
        self,
        clips: Sequence[MotionClip],
        weights: Sequence[float] | None = None,
        *,
        device: Any = None,
        key_bodies: Sequence[str] = KEY_BODY_NAMES,
        dtype: str = "float32",
    ) -> None:
        if not clips:
            raise ValueError("a motion library needs at least one clip")
        check_choice("dtype", dtype, ("float32", "float64"))
        first = clips[0]
        for clip in clips[1:]:
            if not clip.skeleton.matches(first.skeleton) or clip.dof_names != first.dof_names:
                raise ValueError(
                    f"clip {clip.name!r} has another skeleton or hinges than "
                    f"{first.name!r}; a library holds clips of one character"
                )
        weights = np.ones(len(clips)) if weights is None else np.asarray(weights, dtype=float)
        if weights.shape != (len(clips),) or not np.all(np.isfinite(weights) & (weights > 0)):
            raise ValueError(f"weights must be {len(clips)} positive numbers, got {weights}")
        self.clip_names = tuple(c.name for c in clips)
        self.dof_names = first.dof_names
        self.key_body_names = tuple(key_bodies)
        key_ids = np.array([first.skeleton.index(n) for n in self.key_body_names], dtype=np.int64)
        per_clip = [_frame_arrays(c, key_ids) for c in clips]
        frames = {k: np.concatenate([p[k] for p in per_clip]) for k in per_clip[0]}
        counts = np.array([c.num_frames for c in clips], dtype=np.int64)
        displacement = np.array([c.root_pos[-1] - c.root_pos[0] for c in clips])
        displacement[:, 2] = 0.0
        clip_info = {
            "start": np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
            "last_segment": (counts - 2).astype(np.float64),
            "fps": np.array([c.fps for c in clips]),
            "length": np.array([c.duration for c in clips]),
            "wrap": np.array([c.loop_mode == "wrap" for c in clips]),
            "displacement": displacement,
            "weights": weights / weights.sum(),
        }
        self.device = device
        self.dtype = dtype
        self._probabilities = clip_info["weights"]  # float64, for numpy's choice
        self._convert = self._converter(device, dtype)
        self._frames = {k: self._convert(v) for k, v in frames.items()}
        self._clip = {k: self._convert(v) for k, v in clip_info.items()}

    @staticmethod
    def _converter(device: Any, dtype: str) -> Any:
        if device is None:

            def to_numpy(x: np.ndarray) -> np.ndarray:
                return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x

            return to_numpy
        import torch

        torch_dtype = getattr(torch, dtype)

        def to_torch(x: np.ndarray) -> Any:
            kind = torch_dtype if np.issubdtype(x.dtype, np.floating) else None
            return torch.as_tensor(x, dtype=kind, device=device)

        return to_torch

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> MotionLibrary:
        """A library from one motion file or a YAML dataset (``motions: [{file, weight}]``)."""
        from imitenvs.motion.formats import read_motion

        if is_dataset(path):
            entries = read_dataset(path)
            clips = [read_motion(e.file) for e in entries]
            return cls(clips, [e.weight for e in entries], **kwargs)
        return cls([read_motion(path)], **kwargs)

    @property
    def num_clips(self) -> int:
        return len(self.clip_names)

    @property
    def clip_lengths(self) -> Array:
        """``(num_clips,)`` clip durations in seconds."""
        return self._clip["length"]

    @property
    def weights(self) -> Array:
        """``(num_clips,)`` normalised sampling weights."""
        return self._clip["weights"]

    def _check_generator(self, generator: Any) -> None:
        if self.device is None:
            if not isinstance(generator, np.random.Generator):
                raise ValueError(
                    f"a numpy library samples with a numpy.random.Generator, got "
                    f"{type(generator).__name__}"
                )
            return
        import torch

        if not isinstance(generator, torch.Generator):
            raise ValueError(
                f"a torch library samples with a torch.Generator (on "
                f"{self.device}), got {type(generator).__name__}"
            )

    def _uniform(self, n: int, generator: Any) -> Array:
        if self.device is None:
            return generator.random(n).astype(self.clip_lengths.dtype)
        import torch

        return torch.rand(
            n, generator=generator, device=self.clip_lengths.device, dtype=self.clip_lengths.dtype
        )

    def sample_clips(self, n: int, generator: Any) -> Array:
        """``(n,)`` int64 clip ids drawn by weight with ``generator`` (numpy or torch)."""
        n = check_positive_int("n", n)
        self._check_generator(generator)
        if self.device is None:
            return generator.choice(self.num_clips, size=n, p=self._probabilities).astype(np.int64)
        import torch

        return torch.multinomial(self.weights, n, replacement=True, generator=generator)

    def sample_times(
        self, clip_ids: Array, generator: Any, mode: str = "uniform", truncate: float = 0.0
    ) -> Array:
        """Start times ``(n,)`` in the given clips.

        Args:
            clip_ids: ``(n,)`` clip ids.
            generator: numpy ``Generator`` or ``torch.Generator`` (matching the library).
            mode: ``"uniform"`` phase, ``"start"`` (time 0) or ``"beta"`` (phase ~ Beta(1, 3),
                favouring the start, as NEAR's WeightedRandom init).
            truncate: seconds cut from the end of each clip before sampling (>= 0).
        """
        check_choice("mode", mode, TIME_SAMPLING)
        if truncate < 0:
            raise ValueError(f"truncate must be >= 0 seconds, got {truncate}")
        self._check_generator(generator)
        xp = namespace(self.clip_lengths)
        span = xp.clip(
            self.clip_lengths[self.as_array(clip_ids, integer=True)] - truncate, 0.0, None
        )
        u = self._uniform(int(span.shape[0]), generator)
        if mode == "start":
            return 0.0 * u
        phase = u if mode == "uniform" else 1.0 - (1.0 - u) ** (1.0 / 3.0)
        return phase * span

    def as_array(self, values: Any, integer: bool = False) -> Array:
        """``values`` as an array of the library's kind (float dtype, or int64 ids)."""
        if self.device is None:
            return np.asarray(values, dtype=np.int64 if integer else self.dtype)
        import torch

        kind = torch.int64 if integer else getattr(torch, self.dtype)
        return torch.as_tensor(values, dtype=kind, device=self.device)

    def get_state(self, clip_ids: Array, times: Array) -> MotionState:
        """Reference states at ``times (N,)`` seconds of clips ``clip_ids (N,)``."""
        ids = self.as_array(clip_ids, integer=True)
        times = self.as_array(times)
        c, fr = self._clip, self._frames
        xp = namespace(times)
        length = c["length"][ids]
        cycles = xp.where(
            c["wrap"][ids], xp.floor(times / xp.clip(length, 1e-9, None)), 0.0 * times
        )
        frame = xp.clip(times - cycles * length, 0.0 * length, length) * c["fps"][ids]
        f0 = xp.minimum(xp.floor(frame), c["last_segment"][ids])
        w = xp.clip(frame - f0, 0.0, 1.0)
        i0 = c["start"][ids] + as_index(f0)
        i1 = i0 + 1
        shift = cycles[:, None] * c["displacement"][ids]
        wv = w[:, None]
        dof0 = fr["dof_pos"][i0]
        key0 = fr["key_pos"][i0]
        return MotionState(
            root_pos=fr["root_pos"][i0] + wv * (fr["root_pos"][i1] - fr["root_pos"][i0]) + shift,
            root_rot=quat_slerp(fr["root_rot"][i0], fr["root_rot"][i1], w),
            root_vel=fr["root_vel"][i0],
            root_ang_vel=fr["root_ang_vel"][i0],
            dof_pos=wrap_angle(dof0 + wv * wrap_angle(fr["dof_pos"][i1] - dof0)),
            dof_vel=fr["dof_vel"][i0],
            key_pos=key0 + wv[:, None] * (fr["key_pos"][i1] - key0) + shift[:, None],
        )
