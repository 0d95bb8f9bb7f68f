"""Readers for the zarr (v2) demonstration stores of NEAR and Diffusion Policy.

Both use Diffusion Policy's ``ReplayBuffer`` layout: per-row arrays under ``data/`` and
``meta/episode_ends`` (one past each episode's last row).

- NEAR's maze demos (``maze_motions.zarr``): ``data/state`` (N, 2) float64 agent positions,
  no actions; 573 teleoperated episodes recorded with NEAR's *older* joystick dynamics
  (relative actions, 0.6 s per step, one state every 10 steps), so their transitions do not
  follow ``Maze-v0``'s dynamics (see ``docs/planar.md``).
- Diffusion Policy's PushT demos (``pusht_cchi_v7_replay.zarr``, which NEAR uses and LeRobot's
  ``pusht`` dataset was converted from): ``data/state`` (N, 5) ``[agent x, y, block x, y,
  angle]``, ``data/action`` (N, 2) absolute targets in [0, 512]^2, ``data/keypoint`` (N, 9, 2),
  ``data/n_contacts`` (N, 1) and, in the full store, ``data/img`` (not read).

zarr (< 3) is imported lazily; it is part of the ``planar`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.data.demos import DemoDataset
from imitenvs.envs.planar._deps import require
from imitenvs.envs.planar.geometry import normalise_target

SKIPPED_ARRAYS = ("img",)


def _open(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"zarr store {path} does not exist")
    zarr = require("zarr", "reading zarr demonstrations")
    root = zarr.open(str(path), mode="r")
    for key in ("data/state", "meta/episode_ends"):
        if key not in root:
            raise ValueError(
                f"{path} lacks {key!r}; expected Diffusion Policy's ReplayBuffer "
                "layout (data/state, meta/episode_ends)"
            )
    return root


def read_zarr_demos(path: str | Path, env_id: str | None = None) -> DemoDataset:
    """Read any ReplayBuffer-layout store: ``data/state`` and ``data/action`` (if present) as
    states/actions, the other ``data/*`` arrays (except images) as extras, as stored."""
    root = _open(path)
    data = root["data"]
    names = [n for n in data.array_keys() if n not in ("state", "action", *SKIPPED_ARRAYS)]
    meta: dict[str, Any] = {"source": str(Path(path).resolve()), "layout": "replay-buffer-zarr"}
    if env_id is not None:
        meta["env_id"] = env_id
    return DemoDataset(
        states=data["state"][:],
        episode_ends=root["meta/episode_ends"][:],
        actions=data["action"][:] if "action" in data else None,
        extras={n: data[n][:] for n in names},
        metadata=meta,
    )


def read_near_maze(path: str | Path) -> DemoDataset:
    """NEAR's teleoperated maze demos as a :class:`DemoDataset` of (N, 2) float64 positions."""
    ds = read_zarr_demos(path, env_id="imitenvs/Maze-v0")
    if ds.states.shape[1] != 2:
        raise ValueError(f"{path}: maze states must be (N, 2), got {ds.states.shape}")
    meta = {
        **ds.metadata,
        "source_project": "NEAR (anishhdiwan/near)",
        "note": "teleoperation dynamics (relative actions, 0.6 s steps, every 10th state)",
    }
    return DemoDataset(ds.states, ds.episode_ends, None, ds.extras, meta)


def read_pusht_zarr(path: str | Path, normalise_actions: bool = True) -> DemoDataset:
    """Diffusion Policy's PushT demos (the store NEAR uses) as a :class:`DemoDataset`.

    States are the 5-d ``PushT-v0`` observation (float64). With ``normalise_actions`` the
    absolute targets become ``PushT-v0`` actions ``target / 256 - 1`` in [-1, 1]; otherwise
    they stay in [0, 512]. ``keypoint`` (N, 9, 2) and ``n_contacts`` (N, 1) are extras.
    """
    ds = read_zarr_demos(path, env_id="imitenvs/PushT-v0")
    if ds.states.shape[1] != 5 or ds.actions is None:
        raise ValueError(f"{path}: PushT needs (N, 5) states and actions, got {ds.states.shape}")
    actions = ds.actions.astype(np.float64)
    if normalise_actions:
        actions = normalise_target(actions)
    meta = {
        **ds.metadata,
        "source_project": "Diffusion Policy (real-stanford/diffusion_policy)",
        "actions": "normalised [-1, 1]" if normalise_actions else "absolute [0, 512]",
    }
    return DemoDataset(ds.states.astype(np.float64), ds.episode_ends, actions, ds.extras, meta)
