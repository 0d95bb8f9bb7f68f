"""MILO datasets: our ``.npz`` format, converters to and from the original ``torch.save``
layout, and the export to ``imitation`` trajectories.

**Ours** (:class:`MiloDataset`, one ``.npz`` read through :func:`imitenvs.core.npz.read_npz`,
no pickle). Episodes are concatenated along the first axis:

=================  ============  =========================================================
member             shape         meaning
=================  ============  =========================================================
``states``         (ΣS_e, S)     float32 state vectors (the env's observation), S_e per episode
``episode_states`` (E,)          int64 states per episode (``T_e + 1`` for collected ones)
``actions``        (Σ(S_e-1), A) float32 actions (offline datasets; absent for experts)
``scores``         (ΣL_e,)       float64 per-step scores: DTW path costs (``L_e = S_e``, one
                                 per state) or rewards (``L_e = S_e - 1``); absent for experts
``episode_score``  (E,)          float64 the episode's DTW cost or return (offline)
``checkpoint``     (E,)          int64 runner iteration of the policy (-1: the clip, experts)
``clip``           (E,)          int64 clip index in the env's motion library
``start_time``     (E,)          float64 clip time of the reset, s
``metadata``       ()            JSON: format, kind, score name, env id and kwargs, layout
=================  ============  =========================================================

**The original** (``dhruvsreenivas/amp_extensions``, ``milo/milo/collect_data.py`` and
``collect_expert.py``): a ``torch.save`` list of dicts of numpy arrays,
``{'episode': (states (T+1, S), actions (T, A), score_path), 'dtw_cost': float}`` (AMP scenes)
or ``'ep_rew'`` (DeepMimic scenes), and ``[{'episode': [state, ...]}, ...]`` for experts. It is
read with ``torch.load(weights_only=True)``, admitting only numpy arrays, dtypes and scalars
besides plain data: a file that names any other class is refused without running anything.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import CorruptFileError, atomic_write_bytes, atomic_writer
from imitenvs.core.npz import read_npz

FORMAT = "imitenvs.milo"
FORMAT_VERSION = 1
SCORE_NAMES = ("dtw_cost", "ep_rew")
"""the episode score of AMP scenes (DTW cost, lower is better) and of imitate scenes (return)"""
KINDS = ("offline", "expert")
NPZ_KINDS = {
    "states": "f",
    "episode_states": "iu",
    "actions": "f",
    "scores": "f",
    "episode_score": "f",
    "checkpoint": "iu",
    "clip": "iu",
    "start_time": "f",
    "metadata": "U",
}
PER_EPISODE = ("episode_score", "checkpoint", "clip", "start_time")


@dataclass(frozen=True)
class MiloDataset:
    """Episodes of states (and actions and per-step scores) with their episode scores.

    Attributes:
        states: ``(ΣS_e, S)`` float32.
        episode_states: ``(E,)`` states per episode, each >= 1.
        actions: ``(Σ(S_e - 1), A)`` float32 or ``None`` (expert datasets).
        scores: ``(ΣL_e,)`` per-step scores or ``None``; ``L_e = S_e`` for ``dtw_cost``,
            ``S_e - 1`` for ``ep_rew``.
        episode_score: ``(E,)`` or ``None``.
        checkpoint, clip, start_time: ``(E,)`` provenance of each episode.
        metadata: ``kind`` (``offline`` / ``expert``), ``score_name``, ``env_id``,
            ``env_kwargs`` and more (JSON).
    """

    states: np.ndarray
    episode_states: np.ndarray
    actions: np.ndarray | None = None
    scores: np.ndarray | None = None
    episode_score: np.ndarray | None = None
    checkpoint: np.ndarray | None = None
    clip: np.ndarray | None = None
    start_time: np.ndarray | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        states = np.asarray(self.states, dtype=np.float32)
        counts = np.asarray(self.episode_states, dtype=np.int64).reshape(-1)
        if states.ndim != 2 or len(counts) == 0 or np.any(counts < 1):
            raise ValueError(
                f"need (N, S) states and >= 1 episode of >= 1 state, got states {states.shape} "
                f"and episode_states {counts[:5].tolist()}"
            )
        if counts.sum() != len(states):
            raise ValueError(f"episode_states sum to {counts.sum()} but there are {len(states)}")
        e = len(counts)
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("states", states)
        set_("episode_states", counts)
        if self.actions is not None:
            actions = np.asarray(self.actions, dtype=np.float32)
            if actions.ndim != 2 or len(actions) != len(states) - e:
                raise ValueError(f"actions must be ({len(states) - e}, A), got {actions.shape}")
            set_("actions", actions)
        meta = dict(self.metadata)
        name = meta.get("score_name")
        if self.scores is not None:
            if name not in SCORE_NAMES:
                raise ValueError(f"score_name must be one of {SCORE_NAMES}, got {name!r}")
            scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
            want = len(states) - (e if name == "ep_rew" else 0)
            if len(scores) != want:
                raise ValueError(f"{name}: expected {want} per-step scores, got {len(scores)}")
            set_("scores", scores)
        for key in PER_EPISODE:
            value = getattr(self, key)
            if value is not None:
                dtype = np.int64 if key in ("checkpoint", "clip") else np.float64
                value = np.asarray(value, dtype=dtype).reshape(-1)
                if len(value) != e:
                    raise ValueError(f"{key} has {len(value)} entries for {e} episodes")
                set_(key, value)
        if meta.get("kind", "offline") not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {meta.get('kind')!r}")
        set_("metadata", meta)

    # ------------------------------------------------------------------------------ access
    @property
    def num_episodes(self) -> int:
        return len(self.episode_states)

    @property
    def score_name(self) -> str | None:
        return self.metadata.get("score_name")

    def episodes(self) -> Iterator[dict[str, Any]]:
        """Each episode as ``{"states", "actions", "scores", "score", "checkpoint"}``
        (``None`` where absent)."""
        s_end = np.cumsum(self.episode_states)
        per_score = self.episode_states - (1 if self.score_name == "ep_rew" else 0)
        a_end, c_end = np.cumsum(self.episode_states - 1), np.cumsum(per_score)
        for k in range(self.num_episodes):
            s0, a0, c0 = (
                s_end[k] - self.episode_states[k],
                a_end[k] - (self.episode_states[k] - 1),
                c_end[k] - per_score[k],
            )
            yield {
                "states": self.states[s0 : s_end[k]],
                "actions": None if self.actions is None else self.actions[a0 : a_end[k]],
                "scores": None if self.scores is None else self.scores[c0 : c_end[k]],
                "score": None if self.episode_score is None else float(self.episode_score[k]),
                "checkpoint": None if self.checkpoint is None else int(self.checkpoint[k]),
            }

    # ------------------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` atomically (suffix added if missing); returns its path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.metadata}
        arrays = {
            "states": self.states,
            "episode_states": self.episode_states,
            "metadata": np.array(json.dumps(meta, sort_keys=True)),
        }
        for key in ("actions", "scores", *PER_EPISODE):
            if getattr(self, key) is not None:
                arrays[key] = getattr(self, key)
        with atomic_writer(path) as out:
            np.savez_compressed(out, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MiloDataset:
        """Read a file written by :meth:`save` (through the checked ``.npz`` reader).

        Raises:
            FileNotFoundError, CorruptFileError, ValueError: one line naming the file.
        """
        path = Path(path)
        data = read_npz(path, NPZ_KINDS, required=("states", "episode_states", "metadata"))
        try:
            meta = json.loads(str(data.pop("metadata")))
        except ValueError as exc:
            raise ValueError(f"{path}: metadata is not JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not an imitenvs MILO dataset (format {FORMAT!r})")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path}: format version {meta['format_version']} is newer than this")
        try:
            return cls(**data, metadata=meta)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


# ------------------------------------------------------------------------ the original
def _numpy_globals() -> list[Any]:
    """What a ``torch.save`` of numpy arrays and scalars names, and nothing else."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 moved np.core to np._core
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def read_original(path: str | Path) -> list[dict[str, Any]]:
    """The list of dicts of an original MILO ``.pt`` (offline or expert), read with
    ``torch.load(weights_only=True)`` admitting numpy arrays, dtypes and scalars only.

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: any other class or function named in the pickle (nothing is run),
            or an unreadable file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = " ".join(str(exc).split())[:160]
        raise CorruptFileError(
            f"{path}: refused, it names objects other than numpy arrays and plain data "
            f"({reason}); nothing in it was run"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path}: not a readable torch file ({exc})") from None
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ValueError(f"{path}: expected a non-empty list of dicts (the MILO layout)")
    return data


def _array(x: Any, path: Path, what: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    if arr.dtype.hasobject or arr.dtype.kind not in "fiub" or arr.ndim != ndim:
        raise ValueError(
            f"{path}: {what} must be a numeric {ndim}-d array, got {arr.dtype} {arr.shape}"
        )
    return arr


def from_original(path: str | Path, metadata: Mapping[str, Any] | None = None) -> MiloDataset:
    """Our dataset from an original MILO ``.pt`` (offline: ``dtw_cost`` or ``ep_rew``
    entries; expert: ``{'episode': [state, ...]}``). ``metadata`` adds env id etc."""
    path = Path(path)
    data = read_original(path)
    first = data[0]
    score_name = next((k for k in SCORE_NAMES if k in first), None)
    states, counts, actions, scores, totals = [], [], [], [], []
    for k, item in enumerate(data):
        episode = item.get("episode")
        if score_name is None:  # expert: a list of states
            if not isinstance(episode, list | tuple) or not episode:
                raise ValueError(f"{path}: entry {k} has no 'episode' list of states")
            s = np.stack([_array(x, path, f"entry {k} state", 1) for x in episode])
        else:
            if not isinstance(episode, list | tuple) or len(episode) != 3 or score_name not in item:
                raise ValueError(
                    f"{path}: entry {k} is not {{'episode': (s, a, scores), {score_name!r}}}"
                )
            s = _array(episode[0], path, f"entry {k} states", 2)
            actions.append(_array(episode[1], path, f"entry {k} actions", 2))
            scores.append(_array(episode[2], path, f"entry {k} scores", 1))
            totals.append(float(item[score_name]))
        states.append(s)
        counts.append(len(s))
    meta = {"kind": "expert" if score_name is None else "offline", "score_name": score_name}
    meta.update({"converted_from": str(path), **dict(metadata or {})})
    try:
        return MiloDataset(
            states=np.concatenate(states),
            episode_states=np.array(counts),
            actions=np.concatenate(actions) if actions else None,
            scores=np.concatenate(scores) if scores else None,
            episode_score=np.array(totals) if totals else None,
            metadata=meta,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def to_original(dataset: MiloDataset) -> list[dict[str, Any]]:
    """The original layout (numpy arrays, float64 like the fork's ``np.array(path.states)``)."""
    out = []
    for ep in dataset.episodes():
        states = ep["states"].astype(np.float64)
        if dataset.metadata.get("kind") == "expert" or ep["actions"] is None:
            out.append({"episode": list(states)})
            continue
        episode = (states, ep["actions"].astype(np.float64), np.asarray(ep["scores"], np.float64))
        out.append({"episode": episode, dataset.score_name: float(ep["score"])})
    return out


def save_original(dataset: MiloDataset, path: str | Path) -> Path:
    """``torch.save(to_original(dataset), path)``, written atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save(to_original(dataset), buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def to_imitation(dataset: MiloDataset) -> list[Any]:
    """``imitation`` trajectories: ``TrajectoryWithRew`` for ``ep_rew`` datasets (the
    rewards), plain ``Trajectory`` for DTW ones (their per-state costs are no step rewards).

    Raises:
        ValueError: an expert dataset (it has no actions).
    """
    from types import SimpleNamespace

    from imitenvs.adapters.imitation import to_trajectories

    if dataset.actions is None:
        raise ValueError(
            "this MILO dataset has no actions (an expert dataset); imitation trajectories need them"
        )
    rewards = dataset.score_name == "ep_rew"
    episodes = [
        SimpleNamespace(
            obs=ep["states"], acts=ep["actions"], rews=ep["scores"] if rewards else None
        )
        for ep in dataset.episodes()
    ]
    return to_trajectories(episodes, with_rewards=rewards)
