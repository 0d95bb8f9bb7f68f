"""Our small demonstration format and the AMP/NEAR demo sampler built on it.

A :class:`DemoDataset` is a few arrays with rows aligned across episodes, the layout of the
Diffusion Policy / NEAR zarr stores: ``states[t]`` is the observation at step t and
``actions[t]`` the action taken there; ``episode_ends`` holds one past each episode's last row.
On disk it is one ``.npz`` (``np.savez_compressed``, no pickle) with the arrays ``states``,
``episode_ends``, optionally ``actions`` and ``extra/<name>``, and ``metadata`` (a JSON string).
Collected episodes store their final observation as a row too, with the expert's action at it,
so every transition of the episode appears as a pair of consecutive rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import atomic_writer
from imitenvs.core.npz import read_npz

FORMAT = "imitenvs-demos"
FORMAT_VERSION = 1
NPZ_KINDS = {
    "states": "fiu",
    "actions": "fiu",
    "episode_ends": "iu",
    "metadata": "U",
    "extra/*": "biuf",
}
"""dtype kinds of each member (``extra/<name>``: any plain numeric array)"""
DEFAULT_DEMOS = {"maze": "maze_expert.npz", "pusht": "pusht_expert.npz"}


@dataclass(frozen=True)
class DemoDataset:
    """Demonstrations: episodes of states (and actions) concatenated along the first axis.

    Attributes:
        states: (N, obs_dim) observations.
        episode_ends: (E,) int64, strictly increasing, last == N (one past each episode).
        actions: (N, act_dim) actions, or ``None`` (NEAR's maze demos have none).
        extras: Other per-row arrays, each (N, ...), e.g. ``keypoint`` for PushT.
        metadata: JSON-serialisable facts: env id, source, expert, seed, units...
    """

    states: np.ndarray
    episode_ends: np.ndarray
    actions: np.ndarray | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        states = np.asarray(self.states)
        ends = np.asarray(self.episode_ends, dtype=np.int64).reshape(-1)
        if states.ndim != 2 or len(states) == 0:
            raise ValueError(f"states must be a non-empty (N, obs_dim) array, got {states.shape}")
        n = len(states)
        if len(ends) == 0 or ends[-1] != n or np.any(np.diff(ends) <= 0) or ends[0] <= 0:
            shown = f"{ends[:3].tolist()}...{ends[-3:].tolist()}"
            raise ValueError(f"episode_ends must increase strictly and end at N={n}, got {shown}")
        for name, arr in {"actions": self.actions, **self.extras}.items():
            if arr is not None and len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} rows but states has {n}")
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "episode_ends", ends)
        object.__setattr__(self, "extras", dict(self.extras))
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def num_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def episode_starts(self) -> np.ndarray:
        """(E,) first row of each episode."""
        return np.concatenate([[0], self.episode_ends[:-1]])

    @property
    def episode_lengths(self) -> np.ndarray:
        """(E,) rows per episode."""
        return np.diff(np.concatenate([[0], self.episode_ends]))

    def episode(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(states, actions) of episode ``index`` (actions ``None`` when absent)."""
        if not -self.num_episodes <= index < self.num_episodes:
            raise IndexError(f"episode {index} out of range; the dataset has {self.num_episodes}")
        rows = slice(self.episode_starts[index], self.episode_ends[index])
        return self.states[rows], None if self.actions is None else self.actions[rows]

    def episodes(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Every episode's (states, actions)."""
        for i in range(self.num_episodes):
            yield self.episode(i)

    def window_starts(self, num_obs_steps: int = 2) -> np.ndarray:
        """Rows ``t`` such that ``t .. t + num_obs_steps - 1`` lie in one episode."""
        starts = [
            np.arange(s, e - num_obs_steps + 1)
            for s, e in zip(self.episode_starts, self.episode_ends, strict=True)
        ]
        return np.concatenate(starts).astype(np.int64)

    def windows(self, rows: np.ndarray, num_obs_steps: int = 2) -> np.ndarray:
        """(len(rows), num_obs_steps * obs_dim) float32 ``[s_t, s_{t+1}, ...]`` from ``rows``."""
        idx = np.asarray(rows)[:, None] + np.arange(num_obs_steps)[None, :]
        return self.states[idx].reshape(len(idx), -1).astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` (suffix added if missing); returns its path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.metadata}
        arrays: dict[str, np.ndarray] = {
            "states": self.states,
            "episode_ends": self.episode_ends,
            "metadata": np.array(json.dumps(meta, sort_keys=True)),
        }
        if self.actions is not None:
            arrays["actions"] = np.asarray(self.actions)
        arrays.update({f"extra/{k}": np.asarray(v) for k, v in self.extras.items()})
        with atomic_writer(path) as out:
            np.savez_compressed(out, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DemoDataset:
        """Read a file written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not an imitenvs demo file (or a newer format version).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"demo file {path} does not exist")
        data = read_npz(path, NPZ_KINDS, required=("states", "episode_ends", "metadata"))
        try:
            meta = json.loads(str(data["metadata"]))
        except ValueError as exc:
            raise ValueError(f"{path}: metadata is not JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not an imitenvs demo file (format {FORMAT!r})")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path}: format {FORMAT!r} v{meta.get('format_version')}; this reader knows "
                f"v{FORMAT_VERSION}"
            )
        try:
            return cls(
                states=data["states"],
                episode_ends=data["episode_ends"],
                actions=data.get("actions"),
                extras={k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("extra/")},
                metadata=meta,
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


def default_demo_path(task: str) -> Path:
    """Path of the shipped expert demos for ``"maze"`` or ``"pusht"`` (``assets/demos``)."""
    if task not in DEFAULT_DEMOS:
        raise ValueError(f"no default demos for {task!r}; available: {', '.join(DEFAULT_DEMOS)}")
    from imitenvs.assets import asset_path

    return asset_path("demos", DEFAULT_DEMOS[task])


def load_default_demos(task: str) -> DemoDataset:
    """The shipped expert demos of ``"maze"`` or ``"pusht"`` (generated by our experts with
    ``python -m imitenvs data collect``; see ``docs/planar.md``)."""
    return DemoDataset.load(default_demo_path(task))


class AmpDemoSampler:
    """Demonstration samples for AMP / NEAR: windows of consecutive states inside an episode.

    Each sample is ``[s_t, s_{t+1}, ..., s_{t+k-1}]`` flattened (oldest first, as
    :class:`~imitenvs.wrappers.paired_obs.PairedObservation` gives ``info["amp_obs"]``).

    Args:
        dataset: The demonstrations.
        num_obs_steps: States per sample (k >= 2).
        seed: Seed of the sampler's own generator.
    """

    def __init__(self, dataset: DemoDataset, num_obs_steps: int = 2, seed: int | None = None):
        if num_obs_steps < 2:
            raise ValueError(f"num_obs_steps must be >= 2, got {num_obs_steps}")
        self.dataset, self.num_obs_steps = dataset, num_obs_steps
        self._starts = dataset.window_starts(num_obs_steps)
        if len(self._starts) == 0:
            raise ValueError(f"no episode has {num_obs_steps} or more states")
        self._rng = np.random.default_rng(seed)

    @property
    def sample_dim(self) -> int:
        return self.num_obs_steps * self.dataset.states.shape[1]

    def sample_amp_demos(self, n: int) -> np.ndarray:
        """(n, k * obs_dim) float32 windows drawn uniformly (with replacement) over all
        windows of all episodes; the usual AMP demo buffer sampling."""
        return self.dataset.windows(self._rng.choice(self._starts, size=n), self.num_obs_steps)

    def sample_episode_block(self, n: int) -> np.ndarray:
        """(n, k * obs_dim) float32: ``n`` consecutive windows from one random episode with
        more than ``n`` of them, from a random offset (NEAR's ``GymMotionLib.sample_motions``).

        Raises:
            ValueError: no episode is long enough.
        """
        counts = self.dataset.episode_lengths - self.num_obs_steps + 1
        eligible = np.flatnonzero(counts > n)
        if len(eligible) == 0:
            raise ValueError(f"no episode has more than {n} windows (longest: {counts.max()})")
        ep = int(self._rng.choice(eligible))
        offset = int(self._rng.integers(0, counts[ep] - n + 1))
        rows = self.dataset.episode_starts[ep] + offset + np.arange(n)
        return self.dataset.windows(rows, self.num_obs_steps)
