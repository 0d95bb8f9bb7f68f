"""``python -m imitenvs data milo ...``: MILO's offline-data commands (see ``docs/milo.md``).

Commands:
    milo stats --run DIR --env ID --out stats.json     score/length statistics per checkpoint
    milo collect --stats F --lower-limits ... --repetitions ... --out F.npz|F.pt
    milo expert --env ID --num-traj N --out F.npz|F.pt  expert states from the clips
    milo convert IN OUT                                 ours (.npz) <-> the original (.pt)

Every command checks its input before it writes anything, and writes atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _reset_options(args: argparse.Namespace) -> Any:
    from imitenvs.data.milo.collect import ResetOptions

    return ResetOptions(
        time_range=None if args.time_range is None else tuple(args.time_range),
        pose_noise=args.pose_noise,
        vel_noise=args.vel_noise,
        velocity_scale=args.velocity_scale,
        resolve=not args.no_resolve,
    )


def _save(dataset: Any, path: Path) -> Path:
    from imitenvs.data.milo.dataset import save_original

    return save_original(dataset, path) if path.suffix == ".pt" else dataset.save(path)


def _check_out(path: Path, suffixes: tuple[str, ...] = (".npz", ".pt")) -> None:
    if path.suffix not in suffixes:
        raise ValueError(f"--out {path}: expected one of {', '.join(suffixes)}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out {path}: folder {path.parent} does not exist")


def _cmd_stats(args: argparse.Namespace) -> int:
    from imitenvs.data.milo.pipeline import record_stats, write_stats

    _check_out(args.out, (".json",))
    stats = record_stats(
        args.run,
        args.env,
        args.repetitions,
        args.lower,
        args.upper,
        args.every,
        _reset_options(args),
        args.seed,
        progress=not args.no_progress,
    )
    path = write_stats(stats, args.out)
    key = "average_dtw" if stats["score_name"] == "dtw_cost" else "average_rew"
    for it, row in stats["checkpoints"].items():
        _out(f"checkpoint {it:>8}: {key} {row[key]:9.3f}  average_len {row['average_len']:6.1f}")
    _out(f"wrote {path}: {len(stats['checkpoints'])} checkpoints x {args.repetitions} episodes")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from imitenvs.data.milo.pipeline import collect_offline, read_stats, trajectories_per_checkpoint

    _check_out(args.out)
    stats = read_stats(args.stats, args.env)
    counts = trajectories_per_checkpoint(
        stats, args.lower_limits, args.repetitions, args.use_length, args.original_bucket_rule
    )
    reset = None if not args.override_reset else _reset_options(args)
    dataset = collect_offline(
        stats, counts, reset, args.seed, args.max_worlds, progress=not args.no_progress
    )
    path = _save(dataset, args.out)
    chosen = ", ".join(f"{it}: {n}" for it, n in counts.items())
    _out(f"episodes per checkpoint: {chosen}")
    _out(f"wrote {path}: {dataset.num_episodes} episodes, {len(dataset.states)} states")
    return 0


def _cmd_expert(args: argparse.Namespace) -> int:
    from imitenvs.data.milo.pipeline import collect_expert, read_stats

    _check_out(args.out)
    kwargs: dict[str, Any] = {}
    if args.stats is not None:
        kwargs = dict(read_stats(args.stats, args.env)["env_kwargs"])
    if args.motion_file is not None:
        kwargs["motion_file"] = args.motion_file
    if args.max_episode_steps is not None:
        kwargs["max_episode_steps"] = args.max_episode_steps
    dataset = collect_expert(
        args.env, args.num_traj, kwargs, args.seed, not args.no_resolve, not args.no_progress
    )
    path = _save(dataset, args.out)
    _out(f"wrote {path}: {dataset.num_episodes} trajectories, {len(dataset.states)} states")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from imitenvs.data.milo.dataset import MiloDataset, from_original, save_original

    src, dst = args.source, args.target
    pair = (src.suffix, dst.suffix)
    if pair == (".pt", ".npz"):
        meta = {} if args.env is None else {"env_id": args.env}
        dataset = from_original(src, meta)
        _check_out(dst)
        path = dataset.save(dst)
    elif pair == (".npz", ".pt"):
        dataset = MiloDataset.load(src)
        _check_out(dst)
        path = save_original(dataset, dst)
    else:
        raise ValueError(f"convert .pt -> .npz or .npz -> .pt, not {src.name} -> {dst.name}")
    kind = dataset.metadata.get("kind")
    _out(f"wrote {path}: {dataset.num_episodes} {kind} episodes, {len(dataset.states)} states")
    return 0


def _add_reset_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("episode starts (the original's reset_time parameters)")
    g.add_argument(
        "--time-range", type=float, nargs=2, metavar=("LO", "HI"), help="clip times U(LO, HI)"
    )
    g.add_argument("--pose-noise", type=float, default=0.0, help="U(-x, x) rad per hinge")
    g.add_argument("--vel-noise", type=float, default=0.0, help="U(-x, x) rad/s per hinge")
    g.add_argument(
        "--velocity-scale", type=float, default=1.0, help="reference velocity factor (1)"
    )
    g.add_argument("--no-resolve", action="store_true", help="no ground-penetration resolve")


def add_milo_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``milo`` and its commands to the ``data`` command group."""
    milo = subparsers.add_parser("milo", help="MILO offline datasets: stats, collect, expert")
    sub = milo.add_subparsers(dest="milo_command", required=True)

    p = sub.add_parser("stats", help="score and length statistics of every checkpoint of a run")
    p.add_argument("--run", type=Path, required=True, help="run folder with checkpoint_*.pt")
    p.add_argument("--env", required=True, help="env id the run was trained on")
    p.add_argument("--repetitions", type=int, default=50, help="episodes per checkpoint (50)")
    p.add_argument("--lower", type=int, default=0, help="first iteration (0)")
    p.add_argument("--upper", type=int, default=None, help="last iteration (all)")
    p.add_argument("--every", type=int, default=1, help="iteration stride from --lower (1)")
    p.add_argument("--out", type=Path, required=True, help="stats .json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    _add_reset_arguments(p)
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("collect", help="an offline dataset, episodes per checkpoint by bucket")
    p.add_argument("--stats", type=Path, required=True, help="stats .json of `milo stats`")
    p.add_argument("--env", help="refuse a stats file of another env id")
    p.add_argument("--lower-limits", type=float, nargs="+", required=True)
    p.add_argument("--repetitions", type=int, nargs="+", required=True)
    p.add_argument("--use-length", action="store_true", help="bucket by average length")
    p.add_argument(
        "--original-bucket-rule",
        action="store_true",
        help="the fork's bisect_left(limits, score) - 1 (a score <= the first limit wraps to "
        "the last bucket); default: the largest limit <= score, none below the first",
    )
    p.add_argument("--out", type=Path, required=True, help=".npz (ours) or .pt (original)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-worlds", type=int, default=256, help="parallel worlds at most (256)")
    p.add_argument(
        "--override-reset", action="store_true", help="use the reset options below, not the stats'"
    )
    p.add_argument("--no-progress", action="store_true")
    _add_reset_arguments(p)
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("expert", help="expert states from the clips (kinematic re-sync)")
    p.add_argument("--env", required=True, help="humanoid env id")
    p.add_argument("--num-traj", type=int, default=198, help="random-time trajectories (198)")
    p.add_argument("--stats", type=Path, help="take the env kwargs of this stats file")
    p.add_argument("--motion-file", help="clip or YAML dataset (the env's default)")
    p.add_argument("--max-episode-steps", type=int, help="horizon H (the env's, 300)")
    p.add_argument("--out", type=Path, required=True, help=".npz (ours) or .pt (original)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-resolve", action="store_true", help="no ground-penetration resolve")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_expert)

    p = sub.add_parser("convert", help="ours (.npz) <-> the original torch.save layout (.pt)")
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--env", help="env id to record in a converted .npz")
    p.set_defaults(func=_cmd_convert)
