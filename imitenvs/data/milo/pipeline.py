"""The three MILO data commands as functions: :func:`record_stats`, :func:`collect_offline`
(with :func:`trajectories_per_checkpoint`, the bucket rule) and :func:`collect_expert`."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from tqdm.auto import tqdm

import imitenvs
from imitenvs.core.files import atomic_write_json
from imitenvs.data.milo.collect import (
    STATS_FORMAT,
    ResetOptions,
    Roller,
    find_checkpoints,
    load_checkpoint_policy,
    score_name_of,
)
from imitenvs.data.milo.dataset import MiloDataset

log = logging.getLogger(__name__)

STAT_KEYS = {"dtw_cost": "dtw", "ep_rew": "rew"}
"""the original's stats keys: ``average_dtw`` / ``std_dtw`` or ``average_rew`` / ``std_rew``"""


def _created_by() -> str:
    return f"imitenvs {imitenvs.__version__}"


# -------------------------------------------------------------------------------- stats
def record_stats(
    run: str | Path,
    env_id: str,
    repetitions: int = 50,
    lower: int = 0,
    upper: int | None = None,
    every: int = 1,
    reset: ResetOptions | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Mean/std score and length of ``repetitions`` episodes of every checkpoint in range.

    Returns the stats dict (written as JSON by the CLI): ``format``, ``env_id``,
    ``env_kwargs``, ``score_name``, ``reset``, ``repetitions``, ``seed`` and ``checkpoints``:
    ``{iteration: {"file", "average_dtw"|"average_rew", "std_...", "average_len", "std_len",
    "discarded"}}`` (the original's keys).
    """
    if not isinstance(repetitions, int) or repetitions < 1:
        raise ValueError(f"repetitions must be an integer >= 1, got {repetitions!r}")
    reset = reset or ResetOptions()
    files = find_checkpoints(run, lower, upper, every)
    score_name = score_name_of(env_id)
    key = STAT_KEYS[score_name]
    first = next(iter(files.values()))
    _, env_kwargs = load_checkpoint_policy(first, env_id)
    roller = Roller(env_id, env_kwargs, repetitions, reset)
    table: dict[str, Any] = {}
    try:
        for it, path in tqdm(files.items(), desc="milo stats", unit="ckpt", disable=not progress):
            ppo, _ = load_checkpoint_policy(path, env_id, env_kwargs)
            eps = roller.episodes(ppo, repetitions, seed=seed + it)
            table[str(it)] = {
                "file": str(path),
                f"average_{key}": float(np.mean(eps["score"])),
                f"std_{key}": float(np.std(eps["score"])),
                "average_len": float(np.mean(eps["length"])),
                "std_len": float(np.std(eps["length"])),
                "discarded": eps["discarded"],
            }
    finally:
        roller.close()
    return {
        "format": STATS_FORMAT,
        "version": 1,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "score_name": score_name,
        "reset": asdict(reset),
        "repetitions": repetitions,
        "seed": seed,
        "run": str(run),
        "created_by": _created_by(),
        "checkpoints": table,
    }


def write_stats(stats: dict[str, Any], path: str | Path) -> Path:
    return atomic_write_json(path, stats)


def read_stats(path: str | Path, env_id: str | None = None) -> dict[str, Any]:
    """A stats file of :func:`record_stats`; ``env_id`` given: it must be that env's.

    Raises:
        FileNotFoundError, ValueError: one line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"stats file {path} does not exist")
    try:
        stats = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not JSON ({exc})") from None
    if not isinstance(stats, dict) or stats.get("format") != STATS_FORMAT:
        raise ValueError(f"{path} is not a MILO stats file (format {STATS_FORMAT!r})")
    if env_id is not None and stats.get("env_id") != env_id:
        raise ValueError(f"{path} holds stats of {stats.get('env_id')!r}, not {env_id!r}")
    if not isinstance(stats.get("checkpoints"), dict) or not stats["checkpoints"]:
        raise ValueError(f"{path} holds no checkpoint statistics")
    return stats


# ----------------------------------------------------------------------- the bucket rule
def bucket_index(score: float, lower_limits: Sequence[float], original: bool = False) -> int | None:
    """The bucket of ``score``: the index of the largest lower limit ``<= score`` (``None``
    below the first limit: no trajectories). ``original``: the fork's
    ``bisect_left(lower_limits, score) - 1``, the largest limit *strictly* below the score,
    where a score ``<= lower_limits[0]`` gives ``-1``, i.e. the *last* bucket (Python's wrap).
    """
    if original:
        return (bisect.bisect_left(lower_limits, score) - 1) % len(lower_limits)
    index = bisect.bisect_right(lower_limits, score) - 1
    return None if index < 0 else index


def trajectories_per_checkpoint(
    stats: dict[str, Any],
    lower_limits: Sequence[float],
    repetitions: Sequence[int],
    use_length: bool = False,
    original_rule: bool = False,
) -> dict[int, int]:
    """Episodes to collect from each checkpoint: ``repetitions[bucket(score)]`` with the
    score ``average_dtw`` / ``average_rew`` (or ``average_len`` with ``use_length``).

    Raises:
        ValueError: ``lower_limits`` and ``repetitions`` differ in length, limits that do
            not increase strictly, or negative repetitions.
    """
    limits, reps = [float(x) for x in lower_limits], [int(x) for x in repetitions]
    if len(limits) != len(reps) or not limits:
        raise ValueError(
            f"lower-limits ({len(limits)} values) and repetitions ({len(reps)} values) must "
            "have the same length (>= 1)"
        )
    if any(b <= a for a, b in itertools.pairwise(limits)):
        raise ValueError(f"lower-limits must increase strictly, got {limits}")
    if any(r < 0 for r in reps):
        raise ValueError(f"repetitions must be >= 0, got {reps}")
    key = "average_len" if use_length else f"average_{STAT_KEYS[stats['score_name']]}"
    out = {}
    for it, row in stats["checkpoints"].items():
        index = bucket_index(float(row[key]), limits, original_rule)
        out[int(it)] = 0 if index is None else reps[index]
    return out


# ---------------------------------------------------------------------------- collection
def collect_offline(
    stats: dict[str, Any],
    counts: dict[int, int],
    reset: ResetOptions | None = None,
    seed: int = 0,
    max_worlds: int = 256,
    progress: bool = True,
) -> MiloDataset:
    """``counts[it]`` valid episodes of each checkpoint of ``stats`` (states, actions,
    per-step scores, episode score). Every checkpoint must be of the stats' env.
    """
    env_id, env_kwargs = stats["env_id"], stats["env_kwargs"]
    reset = reset or ResetOptions(
        **{**stats.get("reset", {}), "time_range": _pair(stats.get("reset", {}).get("time_range"))}
    )
    todo = {it: n for it, n in counts.items() if n > 0}
    if not todo:
        raise ValueError("the bucket rule selects no trajectories from any checkpoint")
    files = {int(k): Path(v["file"]) for k, v in stats["checkpoints"].items()}
    policies = {it: load_checkpoint_policy(files[it], env_id, env_kwargs)[0] for it in todo}
    roller = Roller(env_id, env_kwargs, min(max(todo.values()), max_worlds), reset)
    parts: dict[str, list] = {
        k: []
        for k in ("states", "actions", "scores", "score", "length", "clip", "time", "checkpoint")
    }
    bar = tqdm(total=sum(todo.values()), desc="milo collect", unit="ep", disable=not progress)
    try:
        for it, n in todo.items():
            eps = roller.episodes(policies[it], n, seed=seed + 7919 * it)
            for key in ("states", "actions", "scores", "score", "length", "clip", "time"):
                parts[key].extend(eps[key])
            parts["checkpoint"].extend([it] * n)
            bar.update(n)
    finally:
        bar.close()
        roller.close()
    return MiloDataset(
        states=np.concatenate(parts["states"]),
        episode_states=np.array(parts["length"]) + 1,
        actions=np.concatenate(parts["actions"]),
        scores=np.concatenate(parts["scores"]),
        episode_score=np.array(parts["score"]),
        checkpoint=np.array(parts["checkpoint"]),
        clip=np.array(parts["clip"]),
        start_time=np.array(parts["time"]),
        metadata={
            "kind": "offline",
            "score_name": stats["score_name"],
            "env_id": env_id,
            "env_kwargs": env_kwargs,
            "state": "the env's observation (docs/humanoid.md)",
            "reset": asdict(reset),
            "counts": {str(k): v for k, v in counts.items()},
            "seed": seed,
            "created_by": _created_by(),
        },
    )


def _pair(value: Any) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


def collect_expert(
    env_id: str,
    num_traj: int,
    env_kwargs: dict | None = None,
    seed: int = 0,
    resolve: bool = True,
    progress: bool = True,
) -> MiloDataset:
    """The fork's expert dataset from the clips, with no physics rollout.

    Per clip two "index" trajectories start at its frames 0 and 1 and record their first state
    and ``H`` more (``H + 1`` states); ``num_traj`` more start at clip times drawn uniformly
    (clips by weight) and record the ``H`` states after their start (the original records
    no initial state for them). Each control step the reference advances ``dt`` and every
    world is re-synced onto it (:meth:`~imitenvs.envs.humanoid.base.HumanoidEnv.
    reset_to_reference`, with the ground-penetration resolve), so the states are the env's
    observations of the reference, the same vector as the collected datasets. All
    trajectories are parallel worlds of one batched env.
    """
    if not isinstance(num_traj, int) or num_traj < 0:
        raise ValueError(f"num-traj must be an integer >= 0, got {num_traj!r}")
    kwargs = dict(env_kwargs or {})
    probe = gymnasium.make(env_id, **kwargs).unwrapped.batch
    motion, h = probe.motion, int(probe.max_episode_steps)
    frame = 1.0 / np.asarray(motion._clip["fps"].cpu(), dtype=np.float64)  # clip frame times
    weights = np.asarray(motion.weights.cpu(), dtype=np.float64)
    lengths = np.asarray(motion.clip_lengths.cpu(), dtype=np.float64)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(motion.num_clips, size=num_traj, p=weights / weights.sum())
    clips = np.concatenate([np.repeat(np.arange(motion.num_clips), 2), drawn])
    index_times = np.stack([np.zeros(motion.num_clips), frame], 1).reshape(-1)
    times = np.concatenate([index_times, rng.uniform(0.0, 1.0, num_traj) * lengths[drawn]])
    n_index = 2 * motion.num_clips
    env = gymnasium.make(env_id, num_envs=len(clips), **kwargs)
    batch = env.unwrapped
    states = np.zeros((len(clips), h + 1, batch.single_observation_space.shape[0]), np.float32)
    try:
        for k in tqdm(range(h + 1), desc="milo expert", unit="step", disable=not progress):
            obs = batch.reset_to_reference(
                clips, times + k * float(batch.dt), seed=seed if k == 0 else None, resolve=resolve
            )
            states[:, k] = obs
    finally:
        env.close()
    episodes = [states[i] if i < n_index else states[i, 1:] for i in range(len(clips))]
    return MiloDataset(
        states=np.concatenate(episodes),
        episode_states=np.array([len(e) for e in episodes]),
        checkpoint=np.full(len(clips), -1),
        clip=clips,
        start_time=times,
        metadata={
            "kind": "expert",
            "score_name": None,
            "env_id": env_id,
            "env_kwargs": kwargs,
            "state": "the env's observation (docs/humanoid.md)",
            "index_trajectories": n_index,
            "resolve": resolve,
            "seed": seed,
            "created_by": _created_by(),
        },
    )
