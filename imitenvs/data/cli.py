"""``python -m imitenvs data ...``: inspect and collect demonstration datasets.

Commands:
    data info FILE                              summary of an ``.npz`` (ours) or ``.zarr`` store
    data collect maze|pusht --episodes N --out F  expert demos in our ``.npz`` format
    data collect commons --agents N --episodes E --out F  Apples commons expert demos
    data collect imujoco VARIANT ...            iMuJoCo trajectories (see imitenvs.envs.imujoco.cli)
    data download imujoco --to DIR              the original iMuJoCo files (resume, verify)
    data evaluate POLICY ID --episodes N        mean ± std return of a policy
    data milo stats|collect|expert|convert      MILO offline datasets (see imitenvs.data.milo)
    data export-minari SRC --dataset-id ID      a local Minari dataset (see imitenvs.data.minari)

More sources plug in as further subcommands of ``data`` or of ``data collect``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from imitenvs.data.demos import DemoDataset


def load_any(path: Path) -> DemoDataset:
    """Our ``.npz`` format or a ReplayBuffer-layout ``.zarr`` store (NEAR / Diffusion Policy)."""
    if path.suffix == ".zarr" or (path.is_dir() and (path / "meta").is_dir()):
        from imitenvs.data.zarr_demos import read_zarr_demos

        return read_zarr_demos(path)
    if path.suffix == ".npz":
        return DemoDataset.load(path)
    raise ValueError(f"unknown dataset type {path}; expected an imitenvs .npz or a .zarr store")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _fmt(values: np.ndarray) -> list[float]:
    return np.round(values.astype(np.float64), 3).tolist()


def describe(ds: DemoDataset) -> list[str]:
    """Human-readable summary lines of a dataset."""
    lengths = ds.episode_lengths
    lines = [
        f"rows:        {len(ds.states)}",
        f"episodes:    {ds.num_episodes} (length min {lengths.min()}, median "
        f"{int(np.median(lengths))}, max {lengths.max()})",
        f"states:      {ds.states.shape[1]} dims, {ds.states.dtype}; "
        f"min {_fmt(ds.states.min(axis=0))}, max {_fmt(ds.states.max(axis=0))}",
    ]
    if ds.actions is None:
        lines.append("actions:     none")
    else:
        lines.append(
            f"actions:     {ds.actions.shape[1]} dims, {ds.actions.dtype}; "
            f"min {_fmt(ds.actions.min(axis=0))}, max {_fmt(ds.actions.max(axis=0))}"
        )
    for name, arr in ds.extras.items():
        lines.append(f"extra:       {name} {tuple(arr.shape)} {arr.dtype}")
    lines.append(f"metadata:    {json.dumps(dict(ds.metadata), sort_keys=True)}")
    return lines


def _cmd_info(args: argparse.Namespace) -> int:
    _out(f"file:        {args.file}")
    for line in describe(load_any(args.file)):
        _out(line)
    return 0


def _cmd_collect_planar(args: argparse.Namespace) -> int:
    from imitenvs.data.collect import collect_planar

    ds = collect_planar(args.task, args.episodes, args.seed, not args.keep_failures)
    path = ds.save(args.out)
    rate = ds.metadata["success_rate"]
    _out(
        f"wrote {path}: {ds.num_episodes} episodes, {len(ds.states)} rows; "
        f"expert success rate {rate:.3f} over {ds.metadata['attempts']} attempts"
    )
    return 0


def _cmd_collect_commons(args: argparse.Namespace) -> int:
    import imitenvs
    from imitenvs.envs.multiagent.expert import collect_demos

    env = imitenvs.make_parallel("imitenvs/ApplesCommons-v0", num_agents=args.agents)
    ds = collect_demos(env, args.episodes, args.seed)
    path = ds.save(args.out)
    _out(
        f"wrote {path}: {args.episodes} episodes x {args.agents} agents, {len(ds.states)} rows; "
        f"expert mean return per agent {ds.metadata['mean_return']:.2f}"
    )
    return 0


def _cmd_export_minari(args: argparse.Namespace) -> int:
    from imitenvs.data.minari import export_minari

    dataset = export_minari(args.src, args.dataset_id, args.env, overwrite=args.overwrite)
    _out(
        f"wrote Minari dataset {args.dataset_id}: {dataset.total_episodes} episodes, "
        f"{dataset.total_steps} steps, env {dataset.spec.env_spec.id}"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the top-level CLI."""
    data = subparsers.add_parser("data", help="inspect and collect demonstration datasets")
    sub = data.add_subparsers(dest="data_command", required=True)

    p = sub.add_parser("info", help="summarise a dataset (.npz of ours, or a .zarr store)")
    p.add_argument("file", type=Path)
    p.set_defaults(func=_cmd_info)

    collect = sub.add_parser("collect", help="collect expert demonstrations")
    sources = collect.add_subparsers(dest="source", required=True)
    for task, env_name in (("maze", "Maze-v0"), ("pusht", "PushT-v0")):
        p = sources.add_parser(task, help=f"our {env_name} expert")
        p.add_argument("--episodes", type=int, default=50, help="episodes to keep (default 50)")
        p.add_argument("--out", type=Path, required=True, help="output .npz")
        p.add_argument("--seed", type=int, default=0, help="seed of the first episode")
        p.add_argument(
            "--keep-failures",
            action="store_true",
            help="keep unsuccessful episodes too (default: successes only)",
        )
        p.set_defaults(func=_cmd_collect_planar, task=task)

    p = sources.add_parser("commons", help="the ApplesCommons-v0 scripted expert (PettingZoo)")
    p.add_argument("--agents", type=int, default=2, help="number of agents, 2-4 (default 2)")
    p.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    p.set_defaults(func=_cmd_collect_commons)

    p = sub.add_parser("export-minari", help="write one of our datasets as a local Minari dataset")
    p.add_argument("src", type=Path, help="our demo, iMuJoCo or MILO .npz, or a .zarr store")
    p.add_argument("--dataset-id", required=True, help="Minari id, e.g. imitenvs/maze-expert-v0")
    p.add_argument("--env", default=None, help="env id (when the file does not name it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    p.set_defaults(func=_cmd_export_minari)

    from imitenvs.envs.imujoco.cli import add_data_commands

    add_data_commands(sub, collect_subparsers=sources)

    from imitenvs.data.milo.cli import add_milo_commands

    add_milo_commands(sub)
