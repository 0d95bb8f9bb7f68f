"""Transitions for offline imitation, read from our dataset formats.

- iMuJoCo ``.npz`` (:mod:`imitenvs.envs.imujoco.dataset`): files we write record episode
  ends, so every step's next state is known (the episode's final observation closes it);
  original files do not, and each piece loses its last action (see
  :func:`~imitenvs.envs.imujoco.dataset.split_segments`).
- MILO ``.npz`` (:mod:`imitenvs.data.milo`): ``states[:-1], actions, states[1:]`` per episode
  (the original's ``get_db_mjrl``); expert datasets have no actions (the ``"ss"`` cost).

Nothing here unpickles: both readers are the checked ``npz`` readers of those modules.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imitenvs.core.files import CorruptFileError


@dataclass(frozen=True)
class Transitions:
    """Aligned transitions.

    Attributes:
        states: ``(N, S)`` float32.
        actions: ``(N, A)`` float32, or ``None`` (state-only data).
        next_states: ``(N, S)`` float32.
        episodes: Number of episodes (or pieces) they came from.
        source: Where they were read from (for messages).
        env_id, env_kwargs: The env the data was recorded on, when the file says (MILO files).
    """

    states: torch.Tensor
    actions: torch.Tensor | None
    next_states: torch.Tensor
    episodes: int
    source: str
    env_id: str | None = None
    env_kwargs: dict | None = None

    def __post_init__(self) -> None:
        n = len(self.states)
        if n == 0:
            raise ValueError(f"{self.source}: no transitions")
        if self.next_states.shape != self.states.shape or (
            self.actions is not None and len(self.actions) != n
        ):
            raise ValueError(f"{self.source}: states, actions and next states are not aligned")
        for name in ("states", "actions", "next_states"):
            t = getattr(self, name)
            if t is not None and not torch.isfinite(t).all():
                raise ValueError(f"{self.source}: {name} hold non-finite values")

    @property
    def state_dim(self) -> int:
        return self.states.shape[1]

    def subsample(self, n: int, generator: torch.Generator) -> Transitions:
        """``n`` transitions drawn without replacement (MILO's ``--subsample_expert``)."""
        if n >= len(self.states):
            return self
        idx = torch.randperm(len(self.states), generator=generator)[:n]
        acts = None if self.actions is None else self.actions[idx]
        return dataclasses.replace(
            self, states=self.states[idx], actions=acts, next_states=self.next_states[idx]
        )


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)


def from_imujoco_npz(
    path: str | Path, env_name: str, max_episodes: int | None = None
) -> Transitions:
    """Transitions of an iMuJoCo ``.npz`` for the env ``env_name`` (id or variant name).

    Args:
        path: The file.
        env_name: Fixes the robot; a file of another robot is an error.
        max_episodes: Keep only the first episodes (MILO's ``num_trajs``).
    """
    from imitenvs.envs.imujoco.dataset import load_npz, split_segments

    segments = split_segments(load_npz(path, env_name))
    if max_episodes is not None:
        segments = segments[:max_episodes]
    if not segments:
        raise ValueError(f"{path}: no episode of >= 2 rows")
    states = np.concatenate([s.obs[:-1] for s in segments])
    nxt = np.concatenate([s.obs[1:] for s in segments])
    acts = np.concatenate([s.acts for s in segments])
    return Transitions(_tensor(states), _tensor(acts), _tensor(nxt), len(segments), str(path))


def from_milo_npz(path: str | Path, max_episodes: int | None = None) -> Transitions:
    """Transitions of a MILO ``.npz`` (offline: with actions; expert: states only)."""
    from imitenvs.data.milo import MiloDataset

    data = MiloDataset.load(path)
    s, a, n = [], [], []
    for k, ep in enumerate(data.episodes()):
        if max_episodes is not None and k >= max_episodes:
            break
        if len(ep["states"]) < 2:
            continue
        s.append(ep["states"][:-1])
        n.append(ep["states"][1:])
        if ep["actions"] is not None:
            a.append(ep["actions"])
    if not s:
        raise ValueError(f"{path}: no episode of >= 2 states")
    acts = _tensor(np.concatenate(a)) if data.actions is not None else None
    meta = data.metadata
    return Transitions(
        _tensor(np.concatenate(s)), acts, _tensor(np.concatenate(n)), len(s), str(path),
        meta.get("env_id"), meta.get("env_kwargs"),
    )  # fmt: skip


def load_transitions(
    path: str | Path, env_name: str, max_episodes: int | None = None
) -> Transitions:
    """Read either format: a MILO file (it has a ``metadata`` member) or an iMuJoCo file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFileError(f"{path} is not a readable .npz archive: {exc}") from None
    if "metadata.npy" in names:
        return from_milo_npz(path, max_episodes)
    return from_imujoco_npz(path, env_name, max_episodes)
