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

Each array is checked from its ``.zarray`` metadata before a byte of it is decoded: a numeric
dtype (never object ``|O``, so no codec ever unpickles), a compressor and filters from
:data:`ALLOWED_COMPRESSORS` / :data:`ALLOWED_FILTERS` (no ``pickle`` or other object codec),
and every chunk present (zarr silently fills a missing chunk with the fill value, so an
incomplete copy would otherwise read as zeros). A refusal is one line naming the store and
the array. The ``planar`` extra also requires a numcodecs whose ``Pickle`` codec refuses to
decode by default (0.15.2, 0.16.6, 0.17.1 and later), as a second line of defence.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import CorruptFileError
from imitenvs.data.demos import DemoDataset
from imitenvs.envs.planar._deps import require
from imitenvs.envs.planar.geometry import normalise_target

SKIPPED_ARRAYS = ("img",)
ALLOWED_COMPRESSORS = frozenset({"blosc", "zstd", "lz4", "zlib", "gzip", "bz2", "lzma"})
"""compressor ids we decode (``null``, no compressor, is fine too)"""
ALLOWED_FILTERS = ALLOWED_COMPRESSORS | {"delta", "shuffle", "fixedscaleoffset", "quantize"}
"""filter ids we decode: the compressors and numeric transforms, nothing that makes objects"""
NUMERIC_KINDS = "biuf"
INDEX_KINDS = "iu"


def _metadata(store: Any, path: Path, key: str) -> dict[str, Any]:
    """The parsed ``<key>/.zarray`` of ``store``."""
    try:
        raw = store[f"{key}/.zarray"]
    except KeyError:
        raise ValueError(f"{path}: {key!r} is not a zarr array (no .zarray)") from None
    try:
        meta = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(f"{path}: {key}/.zarray is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: {key}/.zarray is not a JSON object")
    return meta


def _codec_refusal(meta: dict[str, Any]) -> str | None:
    """Why the compressor or a filter is refused, or ``None``."""
    compressor = meta.get("compressor")
    filters = meta.get("filters") or []
    if compressor is not None and not isinstance(compressor, dict):
        return f"malformed compressor {compressor!r}"
    if compressor is not None and compressor.get("id") not in ALLOWED_COMPRESSORS:
        return f"compressor {compressor.get('id')!r} is not one of {sorted(ALLOWED_COMPRESSORS)}"
    if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
        return f"malformed filters {filters!r}"
    bad = [f.get("id") for f in filters if f.get("id") not in ALLOWED_FILTERS]
    if bad:
        return f"filter(s) {bad} not in {sorted(ALLOWED_FILTERS)}"
    return None


def _layout_refusal(meta: dict[str, Any], kinds: str) -> str | None:
    """Why the format, dtype, shape or chunking is refused, or ``None``."""
    if meta.get("zarr_format") != 2:
        return f"zarr_format {meta.get('zarr_format')!r}, expected 2"
    dtype = meta.get("dtype")
    try:
        kind = np.dtype(dtype).kind if isinstance(dtype, str) else None
    except TypeError:
        kind = None
    if kind is None or kind not in kinds:
        return f"dtype {dtype!r} is not a plain numeric type (kinds {kinds!r})"
    shape, chunks = meta.get("shape"), meta.get("chunks")
    if not (
        isinstance(shape, list)
        and isinstance(chunks, list)
        and len(shape) == len(chunks)
        and all(isinstance(n, int) and n >= 0 for n in shape)
        and all(isinstance(c, int) and c > 0 for c in chunks)
    ):
        return f"malformed shape {shape!r} or chunks {chunks!r}"
    if meta.get("dimension_separator", ".") not in (".", "/", None):
        return f"dimension_separator {meta.get('dimension_separator')!r}"
    return None


def _missing_chunks(store: Any, key: str, meta: dict[str, Any]) -> tuple[list[str], int]:
    """``(missing chunk keys, number of chunks)`` of the array ``key``."""
    separator = meta.get("dimension_separator") or "."
    grid = [math.ceil(n / c) for n, c in zip(meta["shape"], meta["chunks"], strict=True)]
    missing = []
    for index in itertools.product(*(range(g) for g in grid)):
        chunk = f"{key}/{separator.join(map(str, index)) or '0'}"
        if chunk not in store:
            missing.append(chunk)
    return missing, math.prod(grid)


def _read(root: Any, path: Path, key: str, kinds: str = NUMERIC_KINDS) -> np.ndarray:
    """The array ``key`` of the opened store, after its metadata and chunks passed."""
    meta = _metadata(root.store, path, key)
    reason = _layout_refusal(meta, kinds) or _codec_refusal(meta)
    if reason is not None:
        raise ValueError(f"{path}: refusing array {key!r}: {reason}")
    missing, total = _missing_chunks(root.store, key, meta)
    if missing:
        raise ValueError(
            f"{path}: array {key!r} lacks {len(missing)} of its {total} chunks (first: "
            f"{missing[0]!r}); the store is incomplete, copy or download it again"
        )
    try:
        return root[key][:]
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(f"{path}: array {key!r} cannot be decoded ({first})") from None


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
    states/actions, the other ``data/*`` arrays (except images) as extras, as stored.

    Raises:
        FileNotFoundError: no such store.
        ValueError: not the ReplayBuffer layout; an array with a non-numeric dtype (integer for
            ``meta/episode_ends``), a codec outside the allow-lists or missing chunks (one
            line naming the store and the array; nothing of it was decoded).
        CorruptFileError: an array's metadata or chunks cannot be decoded.
    """
    path = Path(path)
    root = _open(path)
    data = root["data"]
    names = [n for n in data.array_keys() if n not in ("state", "action", *SKIPPED_ARRAYS)]
    meta: dict[str, Any] = {"source": str(path.resolve()), "layout": "replay-buffer-zarr"}
    if env_id is not None:
        meta["env_id"] = env_id
    return DemoDataset(
        states=_read(root, path, "data/state"),
        episode_ends=_read(root, path, "meta/episode_ends", INDEX_KINDS),
        actions=_read(root, path, "data/action") if "action" in data else None,
        extras={n: _read(root, path, f"data/{n}") for n in names},
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
