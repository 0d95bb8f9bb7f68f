"""iMuJoCo ``.npz`` demonstrations: loading, writing, episode splitting and the original Sampler.

The original format (``dataset/sac-<variant>.npz``) holds one 2-D array under the key
``data``: one row per step, the observation in columns ``[0, obs_dim)`` and the action in
``[obs_dim, obs_dim + act_dim)`` (further columns are ignored); trajectories are consecutive
blocks of 1000 rows. The original collection loop (README) resets the env whenever an episode
ends and keeps stepping until the block has 1000 rows, so a Hopper or Walker2d block may hold
several episodes, and the observation after a block's last action is not stored.

Files we write (:func:`save_npz`) keep that layout and add optional arrays the original
loader ignores: ``rewards (N,)``, ``terminated (N,)`` (the step ended the episode by
termination), ``truncated (N,)`` (the episode was cut after this step: the block ended) and
``final_observations (E, obs_dim)`` (the observation after the last action of each of the E
episodes, in order). With them, :func:`split_segments` recovers the exact episodes.

:func:`load_npz` reads nothing but those arrays: before any array is read, the archive's
member names (``data`` and the optional arrays above; anything else is an error), each
member's ``.npy`` header (numeric dtypes only: never an object array, so nothing is
unpickled; a header whose shape does not match the member's size is an error) and the shapes
(``data`` wide enough for the robot; the per-row arrays as long as ``data``) are checked.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imitenvs.core.checks import check_positive_int
from imitenvs.core.files import atomic_writer
from imitenvs.core.npz import read_npz
from imitenvs.envs.imujoco.grid import TRAJECTORY_STEPS, Robot, robot_for_env

logger = logging.getLogger(__name__)

DATA_KEY = "data"
EXTRA_KEYS = ("rewards", "terminated", "truncated", "final_observations")
RESET_TOLERANCE = 1e-6
MEMBER_KINDS = {
    DATA_KEY: "fiu",
    "rewards": "fiu",
    "terminated": "biu",
    "truncated": "biu",
    "final_observations": "fiu",
}
"""numpy dtype kinds each member may have (``b`` bool, ``i``/``u`` integers, ``f`` floats)"""
MAX_NPZ_BYTES = 4 << 30
"""most bytes an npz's arrays may hold together (4 GiB; an original file holds ~30 MB)"""


@dataclass(frozen=True)
class ImujocoData:
    """One iMuJoCo demonstration file in memory.

    Attributes:
        robot: The robot the rows belong to (fixes ``obs_dim`` and ``act_dim``).
        observations: ``(N, obs_dim)`` observation of each row.
        actions: ``(N, act_dim)`` action taken in it.
        rewards: ``(N,)`` or ``None`` (original files have none).
        terminated: ``(N,)`` bool or ``None``: the row's step ended its episode by termination.
        truncated: ``(N,)`` bool or ``None``: the episode was cut after the row (block end).
        final_observations: ``(E, obs_dim)`` or ``None``: observation after each episode's
            last action, one per row with ``terminated | truncated``.
    """

    robot: Robot
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray | None = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    final_observations: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, robot = len(self.observations), self.robot
        if self.observations.shape != (n, robot.obs_dim):
            raise ValueError(
                f"observations must be (N, {robot.obs_dim}) for {robot.key}, "
                f"got {self.observations.shape}"
            )
        if self.actions.shape != (n, robot.act_dim):
            raise ValueError(
                f"actions must be ({n}, {robot.act_dim}) for {robot.key}, got {self.actions.shape}"
            )
        flags = (self.terminated, self.truncated, self.final_observations)
        if any(f is not None for f in flags) and any(f is None for f in flags):
            raise ValueError("terminated, truncated and final_observations come together")
        for name in ("rewards", "terminated", "truncated"):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {value.shape}")
        if self.terminated is not None:
            ends = int(np.count_nonzero(self.terminated | self.truncated))
            if self.final_observations.shape != (ends, robot.obs_dim):
                raise ValueError(
                    f"final_observations must be ({ends}, {robot.obs_dim}) (one per episode "
                    f"end), got {self.final_observations.shape}"
                )

    @property
    def has_episode_ends(self) -> bool:
        """Whether the file records episode ends (files we write do, original ones do not)."""
        return self.terminated is not None

    def rows(self) -> np.ndarray:
        """``(N, obs_dim + act_dim)`` float32: the original ``data`` array."""
        return np.concatenate([self.observations, self.actions], axis=1).astype(np.float32)


def load_npz(path: str | Path, env_name: str) -> ImujocoData:
    """Read an iMuJoCo ``.npz`` (original or ours) for the robot behind ``env_name``.

    ``env_name``: ``"Hopper-v3"`` (the original's names), ``"hopper"``, a v5 id, a variant
    name or an ``imitenvs/iMuJoCo-...`` id. Names, dtypes and shapes are checked before any
    array is read (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: not a zip, or a member that cannot be read (one line naming it).
        ValueError: no ``data`` array, an unexpected member, a non-numeric dtype, ``data`` not
            2-D or with fewer than ``obs_dim + act_dim`` columns, arrays whose lengths
            disagree, non-finite values, or inconsistent extra arrays.
    """
    robot = robot_for_env(env_name)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"iMuJoCo data file {path} does not exist")
    arrays = _read_npz(path, robot)
    data = arrays.pop(DATA_KEY)
    width = robot.obs_dim + robot.act_dim
    if not np.all(np.isfinite(data[:, :width])):
        raise ValueError(f"{path}: {DATA_KEY!r} contains NaN or inf")
    for key in ("terminated", "truncated"):
        if key in arrays:
            arrays[key] = arrays[key].astype(bool)
    try:
        return ImujocoData(
            robot=robot,
            observations=data[:, : robot.obs_dim],
            actions=data[:, robot.obs_dim : width],
            **arrays,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _read_npz(path: Path, robot: Robot) -> dict[str, np.ndarray]:
    """The arrays of ``path``, by key, once their names, headers and shapes passed."""
    return read_npz(
        path,
        MEMBER_KINDS,
        required=(DATA_KEY,),
        check=lambda headers: _check_shapes(path, headers, robot),
        max_bytes=MAX_NPZ_BYTES,
    )


def _check_shapes(
    path: Path, headers: dict[str, tuple[tuple[int, ...], np.dtype]], robot: Robot
) -> None:
    """``data`` is 2-D and wide enough for ``robot``; the other arrays fit its length."""
    shape = headers[DATA_KEY][0]
    width = robot.obs_dim + robot.act_dim
    if len(shape) != 2 or shape[1] < width or shape[0] == 0:
        raise ValueError(
            f"{path}: {DATA_KEY!r} must be a non-empty 2-D array with at least {width} columns "
            f"({robot.obs_dim} observation + {robot.act_dim} action for {robot.key}), "
            f"got shape {shape}"
        )
    rows = shape[0]
    for key in ("rewards", "terminated", "truncated"):
        if key in headers and headers[key][0] != (rows,):
            raise ValueError(
                f"{path}: {key!r} has shape {headers[key][0]}, expected ({rows},): one value "
                f"per row of {DATA_KEY!r}"
            )
    if "final_observations" in headers:
        final = headers["final_observations"][0]
        if len(final) != 2 or final[1] != robot.obs_dim or final[0] > rows:
            raise ValueError(
                f"{path}: 'final_observations' has shape {final}, expected (E, "
                f"{robot.obs_dim}) with E <= {rows} episode ends"
            )


def save_npz(path: str | Path, data: ImujocoData) -> Path:
    """Write ``data`` in the original layout (plus our extra arrays), atomically."""
    path = Path(path)
    arrays = {DATA_KEY: data.rows()}
    for key in EXTRA_KEYS:
        value = getattr(data, key)
        if value is not None:
            arrays[key] = value.astype(np.float32) if value.dtype.kind == "f" else value
    with atomic_writer(path) as out:
        np.savez_compressed(out, **arrays)
    return path


@dataclass(frozen=True)
class Segment:
    """A run of consecutive steps of one episode.

    Attributes:
        obs: ``(T + 1, obs_dim)`` observations, the last one after the last action.
        acts: ``(T, act_dim)`` actions.
        rews: ``(T,)`` rewards or ``None``.
        terminated: The episode ended by termination after the last action.
        complete: ``obs[-1]`` is the episode's final observation (it ended by termination or
            by the time limit); ``False`` for pieces of original files, whose final
            observation is not stored.
    """

    obs: np.ndarray
    acts: np.ndarray
    rews: np.ndarray | None
    terminated: bool
    complete: bool


def reset_rows(data: ImujocoData, reset_noise_scale: float = 5e-3) -> np.ndarray:
    """Rows that look like a fresh reset of Hopper/Walker2d, ``(N,)`` bool.

    A reset sets every joint angle and velocity to ``0 +- reset_noise_scale`` (uniform), which
    a moving robot never shows in all coordinates at once; the torso height (``obs[0]``) is
    excluded because length variants change it. HalfCheetah never terminates: all ``False``.
    """
    if data.robot.key == "halfcheetah":
        return np.zeros(len(data.observations), dtype=bool)
    bound = reset_noise_scale * (1.0 + RESET_TOLERANCE) + RESET_TOLERANCE
    return np.all(np.abs(data.observations[:, 1:]) <= bound, axis=1)


def split_segments(
    data: ImujocoData, steps_per_trajectory: int = TRAJECTORY_STEPS, detect_resets: bool = True
) -> list[Segment]:
    """Cut the rows into episodes (files we write) or episode pieces (original files).

    With recorded episode ends the segments are exactly the episodes. Original files only have
    1000-row blocks: each block is cut before every row that looks like a reset
    (:func:`reset_rows`, when ``detect_resets``), and because the observation after a piece's
    last action is not stored, that action is dropped (the last stored observation closes the
    piece) and the piece is marked neither terminated nor complete. Pieces of fewer than 2 rows
    are skipped.
    """
    check_positive_int("steps_per_trajectory", steps_per_trajectory)
    obs, acts, rews = data.observations, data.actions, data.rewards
    segments: list[Segment] = []
    if data.has_episode_ends:
        ends = np.flatnonzero(data.terminated | data.truncated)
        start = 0
        for k, end in enumerate(ends):
            stop = int(end) + 1
            seg_obs = np.concatenate([obs[start:stop], data.final_observations[k][None]])
            seg_rews = None if rews is None else rews[start:stop]
            terminated = bool(data.terminated[end])
            segments.append(Segment(seg_obs, acts[start:stop], seg_rews, terminated, True))
            start = stop
        if start != len(obs):
            logger.warning("%d rows after the last recorded episode end ignored", len(obs) - start)
        return segments
    cuts = reset_rows(data) if detect_resets else np.zeros(len(obs), dtype=bool)
    cuts[::steps_per_trajectory] = True
    bounds = [*np.flatnonzero(cuts).tolist(), len(obs)]
    for start, stop in itertools.pairwise(bounds):
        if stop - start < 2:
            continue
        seg_rews = None if rews is None else rews[start : stop - 1]
        segments.append(Segment(obs[start:stop], acts[start : stop - 1], seg_rews, False, False))
    return segments


class Sampler:
    """The original iMuJoCo trajectory sampler, with errors instead of ``quit()``.

    Args:
        env_name: ``"Hopper-v3"``, ``"HalfCheetah-v3"`` or ``"Walker2d-v3"`` (also ``"hopper"``,
            v5 ids, variant names).
        data_list: Paths of ``.npz`` files (one per variant).
        portion: ``(a, b)``, ``0 <= a < b <= 1``: the rows ``[int(N a), int(N b))`` of every
            file are used, as in the original (with 100 trajectories, ``(0, 0.75)`` is exactly
            the first 75). Rows after the last whole ``tot_steps`` block are dropped (logged).
        tot_steps: Rows per trajectory (1000 in the original data).
        seed: Seed of the sampler's own random generator (the original used numpy's global one).

    Raises:
        ValueError: empty ``data_list``, bad ``portion`` or ``tot_steps``, unknown ``env_name``,
            or a file that is unreadable, has the wrong columns, or has no whole trajectory in
            its portion.
        FileNotFoundError: a file is missing.
    """

    def __init__(
        self,
        env_name: str,
        data_list: Sequence[str | Path],
        portion: tuple[float, float] = (0.0, 1.0),
        tot_steps: int = TRAJECTORY_STEPS,
        *,
        seed: int | None = None,
    ) -> None:
        if len(data_list) == 0:
            raise ValueError("data_list is empty: pass at least one .npz file")
        lo, hi = (float(p) for p in portion)
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"portion must satisfy 0 <= a < b <= 1, got {tuple(portion)}")
        self.robot = robot_for_env(env_name)
        self.tot_steps = check_positive_int("tot_steps", tot_steps)
        self.dataset_list: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.tot_data = 0
        for filename in data_list:
            data = load_npz(filename, env_name)
            n = len(data.observations)
            start, stop = int(n * lo), int(n * hi)
            whole = (stop - start) // self.tot_steps * self.tot_steps
            if whole == 0:
                raise ValueError(
                    f"{filename}: portion {tuple(portion)} holds {stop - start} rows, "
                    f"less than one trajectory of {self.tot_steps}"
                )
            if whole != stop - start:
                logger.warning(
                    "%s: %d rows after the last whole trajectory dropped",
                    filename,
                    stop - start - whole,
                )
            x = torch.from_numpy(np.ascontiguousarray(data.observations[start : start + whole]))
            y = torch.from_numpy(np.ascontiguousarray(data.actions[start : start + whole]))
            self.dataset_list.append((x.to(torch.float32), y.to(torch.float32)))
            self.tot_data += whole
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of data files."""
        return len(self.dataset_list)

    def sample(
        self, tot_shots: int, idx: int | None = None, replace: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample whole trajectories from one file.

        Args:
            tot_shots: Number of trajectories.
            idx: Index of the file (random if ``None``).
            replace: Sample trajectories with replacement.

        Returns:
            ``(x, y)`` float32: ``[tot_shots, tot_steps, obs_dim]`` observations and
            ``[tot_shots, tot_steps, act_dim]`` actions.

        Raises:
            ValueError: bad ``tot_shots``, ``idx`` out of range, or more shots than
                trajectories without replacement.
        """
        check_positive_int("tot_shots", tot_shots)
        if idx is None:
            idx = int(self._rng.integers(len(self.dataset_list)))
        if not 0 <= idx < len(self.dataset_list):
            raise ValueError(f"idx={idx} out of range for {len(self.dataset_list)} files")
        x, y = self.dataset_list[idx]
        starts = np.arange(0, x.shape[0], self.tot_steps)
        if not replace and tot_shots > len(starts):
            raise ValueError(
                f"cannot draw {tot_shots} trajectories without replacement from file {idx}, "
                f"which has {len(starts)} in this portion"
            )
        chosen = self._rng.choice(starts, size=tot_shots, replace=replace)
        xs = torch.stack([x[s : s + self.tot_steps] for s in chosen])
        ys = torch.stack([y[s : s + self.tot_steps] for s in chosen])
        return xs, ys
