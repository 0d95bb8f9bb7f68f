"""Minari datasets in and out: export our datasets, read Minari datasets into our episodes.

Sources :func:`export_minari` reads (by file type, never by unpickling):

- our demo ``.npz`` (:class:`~imitenvs.data.demos.DemoDataset`: maze and PushT expert demos,
  Apples commons demos are multi-agent and not exported): each episode's rows are its
  observations (``T + 1``); the action stored at the last row is dropped. No rewards are
  recorded (Minari gets zeros; :func:`load` gives ``rews=None``); an episode ends by
  termination when the file keeps only successes (a success ends maze and PushT), else by
  truncation.
- iMuJoCo ``.npz`` (original ``sac-<variant>.npz`` or ours): episodes by
  :func:`~imitenvs.envs.imujoco.dataset.split_segments` (original files give episode pieces
  without their final observation: stored as truncated, and :func:`load` marks them
  ``complete=False``).
- ``.zarr`` ReplayBuffer stores (NEAR / Diffusion Policy demos) with actions, as our demos.
- MILO ``.npz`` of ours (:class:`~imitenvs.data.milo.MiloDataset`) with actions (offline
  datasets): rewards when its scores are ``ep_rew``, none for ``dtw_cost``; all episodes
  truncated; the env kwargs it was recorded with go into the stored env spec.

The dataset's env spec is the registered id's ``gymnasium`` spec, so
``minari.load_dataset(dataset_id).recover_environment()`` rebuilds our env (with ``imitenvs``
importable). Datasets are stored where Minari stores them: ``$MINARI_DATASETS_PATH`` or
``~/.minari/datasets``. Needs the ``minari`` extra.
"""

from __future__ import annotations

import logging
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from imitenvs.envs.imujoco.dataset import Segment
from imitenvs.registry import get_entry, list_envs

logger = logging.getLogger(__name__)

DATASET_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+-v\d+$")
#: Keys we add to a Minari dataset's metadata.
META_REWARDS = "imitenvs_rewards_recorded"
META_COMPLETE = "imitenvs_complete"
META_SOURCE = "imitenvs_source"
CODE_PERMALINK = "https://github.com/imitenvs/imitenvs"


@dataclass(frozen=True)
class SourceEpisodes:
    """A dataset of ours read for export.

    Attributes:
        env_id: The registered id the episodes belong to.
        episodes: Each with ``obs (T + 1, obs_dim)``, ``acts (T, act_dim)``, ``rews (T,)`` or
            ``None``, ``terminated`` and ``complete``.
        kind: ``"demos"``, ``"imujoco"``, ``"zarr"`` or ``"milo"``.
        env_kwargs: Constructor kwargs the data was recorded with (stored in the env spec).
    """

    env_id: str
    episodes: list[Segment]
    kind: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


def _require_minari() -> Any:
    try:
        import minari
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "Minari datasets need the optional dependency 'minari'; install it with: "
            'pip install "imitenvs[minari]"'
        ) from exc
    return minari


def _check_env_id(env_id: str) -> str:
    """The full id of a registered single-agent env; ValueError otherwise."""
    try:
        entry = get_entry(env_id)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if entry.multiagent:
        raise ValueError(f"{entry.id} is a multiagent id; Minari export needs a single-agent env")
    return entry.id


def _same_env(found: str | None, given: str | None, source: Path) -> str:
    if found is None and given is None:
        raise ValueError(f"{source} does not name its env; pass --env ID")
    if found is not None and given is not None and _check_env_id(found) != _check_env_id(given):
        raise ValueError(f"{source} is a dataset of {found}, not of {_check_env_id(given)}")
    return _check_env_id(found if found is not None else str(given))


def _demo_episodes(dataset: Any, source: Path, env_id: str | None, kind: str) -> SourceEpisodes:
    """Episodes of a :class:`~imitenvs.data.demos.DemoDataset` (rows = observations)."""
    env = _same_env(dataset.metadata.get("env_id"), env_id, source)
    if dataset.actions is None:
        raise ValueError(f"{source} has no actions; a Minari dataset needs them")
    if "num_agents" in dataset.metadata:
        raise ValueError(f"{source} holds multi-agent demos; Minari export is single-agent")
    terminated = bool(dataset.metadata.get("only_success", False))
    episodes = [
        Segment(states, actions[:-1], None, terminated, True)
        for states, actions in dataset.episodes()
        if len(states) >= 2
    ]
    return SourceEpisodes(env, episodes, kind)


def _milo_episodes(path: Path, env_id: str | None) -> SourceEpisodes:
    """Episodes of a MILO ``.npz`` of ours with actions (offline datasets; experts have none).

    Per-step ``ep_rew`` scores are the rewards; ``dtw_cost`` scores are per state, not
    rewards, so those episodes have none. Episode ends are not recorded: all truncated."""
    from imitenvs.data.milo.dataset import MiloDataset

    dataset = MiloDataset.load(path)
    env = _same_env(dataset.metadata.get("env_id"), env_id, path)
    if dataset.actions is None:
        raise ValueError(f"{path} has no actions (a MILO expert dataset?); Minari needs them")
    rewarded = dataset.score_name == "ep_rew"
    episodes = [
        Segment(ep["states"], ep["actions"], ep["scores"] if rewarded else None, False, True)
        for ep in dataset.episodes()
        if len(ep["states"]) >= 2
    ]
    kwargs = dict(dataset.metadata.get("env_kwargs") or {})
    return SourceEpisodes(env, episodes, "milo", kwargs)


def _imujoco_env(source: Path, env_id: str | None) -> str:
    match = re.fullmatch(r"sac-(.+)\.npz", source.name)
    found = f"imitenvs/iMuJoCo-{match.group(1)}-v0" if match else None
    if found is not None and found not in list_envs("imujoco"):
        found = None
    return _same_env(found, env_id, source)


def read_source(source: str | Path, env_id: str | None = None) -> SourceEpisodes:
    """Read one of our datasets for export (see the module docstring for the types).

    Args:
        source: ``.npz`` (our demos, iMuJoCo or MILO) or ``.zarr`` store.
        env_id: The env the data belongs to; needed when the file does not say (iMuJoCo files
            not named ``sac-<variant>.npz``, zarr stores); checked against it when it does.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown file type, no env id, a dataset of another env, no actions.
    """
    from imitenvs.data.cli import load_any
    from imitenvs.data.demos import DemoDataset

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"dataset {path} does not exist")
    if path.suffix == ".npz":
        try:
            with zipfile.ZipFile(path) as archive:
                members = {Path(n).stem for n in archive.namelist()}
        except zipfile.BadZipFile:
            raise ValueError(f"{path} is not an .npz archive") from None
        if "data" in members and "states" not in members:
            from imitenvs.envs.imujoco.dataset import load_npz, split_segments

            env = _imujoco_env(path, env_id)
            return SourceEpisodes(env, split_segments(load_npz(path, env)), "imujoco")
        if "episode_states" in members:
            return _milo_episodes(path, env_id)
        return _demo_episodes(DemoDataset.load(path), path, env_id, "demos")
    return _demo_episodes(load_any(path), path, env_id, "zarr")


def _check_dataset_id(dataset_id: str) -> str:
    _require_minari()
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.namespace import NAMESPACE_REGEX

    ok = isinstance(dataset_id, str) and DATASET_ID_RE.match(dataset_id) is not None
    try:
        namespace = parse_dataset_id(dataset_id)[0] if ok else None
    except ValueError:
        namespace = None
    if namespace is None or not NAMESPACE_REGEX.fullmatch(namespace):
        raise ValueError(
            f"dataset id {dataset_id!r} must look like 'imitenvs/<name>-v<N>' (namespace/name-vN)"
        )
    return dataset_id


def _buffers(episodes: Sequence[Segment], env: gymnasium.Env) -> list[Any]:
    """Minari episode buffers, observations and actions cast to the env's space dtypes."""
    from minari.data_collector.episode_buffer import EpisodeBuffer

    obs_space, act_space = env.observation_space, env.action_space
    buffers = []
    for k, e in enumerate(episodes):
        obs = np.asarray(e.obs, dtype=obs_space.dtype).reshape(len(e.obs), *obs_space.shape)
        acts = np.asarray(e.acts, dtype=act_space.dtype).reshape(len(e.acts), *act_space.shape)
        steps = len(acts)
        terminations = np.zeros(steps, dtype=bool)
        terminations[-1] = e.terminated
        rews = np.zeros(steps) if e.rews is None else np.asarray(e.rews, dtype=np.float64)
        buffers.append(
            EpisodeBuffer(
                id=k,
                observations=obs,
                actions=acts,
                rewards=rews,
                terminations=terminations,
                truncations=~terminations & (np.arange(steps) == steps - 1),
            )
        )
    return buffers


def _check_shapes(data: SourceEpisodes, env: gymnasium.Env, source: Path) -> None:
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    for e in data.episodes[:1]:
        if np.prod(e.obs.shape[1:]) != obs_dim or np.prod(e.acts.shape[1:]) != act_dim:
            raise ValueError(
                f"{source}: observations {e.obs.shape[1:]} / actions {e.acts.shape[1:]} do not "
                f"fit {data.env_id} ({env.observation_space.shape} / {env.action_space.shape}); "
                "a dataset of another env?"
            )


def export_minari(
    source: str | Path,
    dataset_id: str,
    env_id: str | None = None,
    *,
    overwrite: bool = False,
    description: str | None = None,
) -> Any:
    """Write ``source`` (one of our datasets) as the local Minari dataset ``dataset_id``.

    Returns:
        The ``minari.MinariDataset``.

    Raises:
        FileNotFoundError / ValueError: see :func:`read_source`; a bad ``dataset_id``; no
            episodes.
        FileExistsError: ``dataset_id`` exists locally and ``overwrite`` is false.
    """
    minari = _require_minari()
    _check_dataset_id(dataset_id)
    data = read_source(source, env_id)
    if not data.episodes:
        raise ValueError(f"{source} has no episode with at least one transition")
    if dataset_id in minari.list_local_datasets():
        if not overwrite:
            raise FileExistsError(f"Minari dataset {dataset_id} exists; pass --overwrite")
        minari.delete_dataset(dataset_id)
    spec = gymnasium.spec(data.env_id)
    spec = replace(spec, kwargs={**spec.kwargs, **data.env_kwargs})
    env = gymnasium.make(spec)
    try:
        _check_shapes(data, env, Path(source))
        buffers = _buffers(data.episodes, env)
        recorded = all(e.rews is not None for e in data.episodes)
        text = description or (
            f"{Path(source).name} ({data.kind}) exported by imitenvs; "
            + ("rewards as recorded." if recorded else "no rewards were recorded (zeros).")
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unset author/email fields
            dataset = minari.create_dataset_from_buffers(
                dataset_id,
                buffers,
                env=spec,
                algorithm_name=f"imitenvs {data.kind}",
                author="imitenvs",
                code_permalink=CODE_PERMALINK,
                description=text,
                data_format="arrow",
            )
    finally:
        env.close()
    dataset.storage.update_metadata(
        {
            META_REWARDS: recorded,
            META_COMPLETE: [bool(e.complete) for e in data.episodes],
            META_SOURCE: str(Path(source).name),
        }
    )
    logger.info("wrote Minari dataset %s: %d episodes", dataset_id, len(buffers))
    return dataset


def _load_dataset(dataset_id: str) -> Any:
    minari = _require_minari()

    _check_dataset_id(dataset_id)
    if dataset_id not in minari.list_local_datasets():
        raise ValueError(f"no local Minari dataset {dataset_id!r} (see minari list local)")
    return minari.load_dataset(dataset_id)


def load(dataset_id: str, env_id: str | None = None) -> list[Segment]:
    """A local Minari dataset as our episodes (any Minari dataset with Box/Discrete spaces).

    Args:
        dataset_id: Local Minari dataset id.
        env_id: When given, the dataset must have been recorded in this env.

    Returns:
        One episode (:class:`~imitenvs.envs.imujoco.dataset.Segment`, the type our iMuJoCo
        reader and :func:`imitenvs.adapters.imitation.to_trajectories` use) per Minari
        episode: ``obs (T + 1, obs_dim)``, ``acts (T, act_dim)``, ``rews (T,)`` (``None``
        when the export had no rewards), ``terminated``, ``complete``.

    Raises:
        ValueError: a bad or unknown id, or a dataset of another env than ``env_id``.
    """
    dataset = _load_dataset(dataset_id)
    spec = dataset.spec.env_spec
    if env_id is not None:
        wanted = _check_env_id(env_id)
        if spec is None or spec.id != wanted:
            found = None if spec is None else spec.id
            raise ValueError(f"Minari dataset {dataset_id} is of env {found}, not {wanted}")
    meta = dataset.storage.metadata
    recorded = bool(meta.get(META_REWARDS, True))
    complete = list(meta.get(META_COMPLETE, []))
    episodes = []
    for k, e in enumerate(dataset.iterate_episodes()):
        obs = np.asarray(e.observations)
        acts = np.asarray(e.actions)
        episodes.append(
            Segment(
                obs.reshape(len(obs), -1),
                acts.reshape(len(acts), -1),
                np.asarray(e.rewards, dtype=np.float32) if recorded else None,
                bool(e.terminations[-1]),
                complete[k] if k < len(complete) else True,
            )
        )
    return episodes


def load_trajectories(
    dataset_id: str, env_id: str | None = None, with_rewards: bool | None = None
) -> list[Any]:
    """A local Minari dataset as ``imitation`` trajectories (``TrajectoryWithRew`` when the
    dataset has rewards, unless ``with_rewards`` says otherwise)."""
    from imitenvs.adapters.imitation import to_trajectories

    return to_trajectories(load(dataset_id, env_id), with_rewards)
