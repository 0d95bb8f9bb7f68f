"""iMuJoCo commands of ``python -m imitenvs data``: ``download``, ``evaluate``, ``collect imujoco``.

::

    python -m imitenvs data download imujoco --parts xml,policies,dataset --to DIR
    python -m imitenvs data evaluate POLICY ID --episodes N [--video out.mp4]
    python -m imitenvs data collect imujoco VARIANT --policy P --trajectories 100 --out F.npz
    python -m imitenvs data collect imujoco VARIANT --policy P --train-expert 1000000 ...

:func:`add_data_commands` adds them to the ``data`` command group's subparsers; pass the
subparsers of an existing ``data collect`` command as ``collect_subparsers`` to add
``imujoco`` beside its other datasets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imitenvs.envs.imujoco.grid import TRAJECTORY_STEPS
from imitenvs.envs.imujoco.sources import PARTS


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {bad or text!r}; choose from {', '.join(PARTS)} (comma-separated)"
        )
    return parts


def _cmd_download(args: argparse.Namespace) -> int:
    from imitenvs.data.download import DownloadError
    from imitenvs.envs.imujoco.sources import fetch

    try:
        zips = fetch(
            args.parts,
            args.to,
            base_url=args.base_url,
            timeout=args.timeout,
            extract=not args.no_extract,
            progress=not args.quiet,
        )
    except DownloadError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    for path in zips:
        _write(f"{path} ({'kept zipped' if args.no_extract else 'extracted'})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import gymnasium

    from imitenvs.envs.imujoco.policies import (
        VideoWriter,
        as_policy,
        evaluate,
        load_policy,
        resolve_env_id,
    )

    env_id = resolve_env_id(args.id)
    limit = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    env = gymnasium.make(env_id, render_mode="rgb_array" if args.video else None, **limit)
    video = None
    try:
        model = load_policy(args.policy, env=env, algo=args.algo)
        if args.video:
            video = VideoWriter(args.video, fps=env.metadata.get("render_fps", 30))
        returns = evaluate(
            as_policy(model, deterministic=not args.stochastic),
            env,
            args.episodes,
            seed=args.seed,
            window=args.window,
            video=video,
        )
    except BaseException:
        if video is not None:
            video.discard()
        raise
    else:
        if video is not None:
            video.close()
    finally:
        env.close()
    protocol = f"{args.window}-step windows" if args.window else "episodes"
    _write(
        f"{env_id}: return {returns.mean():.2f} ± {returns.std():.2f} "
        f"over {args.episodes} {protocol} (min {returns.min():.2f}, max {returns.max():.2f})"
    )
    if args.video:
        _write(f"video: {args.video}")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    import gymnasium

    from imitenvs.envs.imujoco.collect import collect, train_expert
    from imitenvs.envs.imujoco.dataset import save_npz
    from imitenvs.envs.imujoco.policies import as_policy, load_policy, resolve_env_id

    if args.train_expert is not None:
        saved = train_expert(
            args.variant,
            args.train_expert,
            args.policy,
            seed=args.seed,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            progress=not args.quiet,
        )
        _write(f"expert: {saved}")
        args.policy = saved
    env = gymnasium.make(resolve_env_id(args.variant))
    try:
        model = load_policy(args.policy, env=env, algo=args.algo, seed=args.seed)
    finally:
        env.close()
    data = collect(
        args.variant,
        as_policy(model, deterministic=not args.stochastic),
        args.trajectories,
        steps=args.steps,
        seed=args.seed,
        progress=not args.quiet,
    )
    out = save_npz(args.out, data)
    episodes = int((data.terminated | data.truncated).sum())
    _write(
        f"{out}: {len(data.observations)} rows, {args.trajectories} trajectories, "
        f"{episodes} episodes, mean reward per step {data.rewards.mean():.3f}"
    )
    return 0


def add_collect_imujoco(collect_subparsers: argparse._SubParsersAction) -> None:
    """Add ``imujoco`` to the subparsers of a ``data collect`` command."""
    from imitenvs.envs.imujoco.policies import ALGORITHMS

    p = collect_subparsers.add_parser(
        "imujoco", help="roll a policy out on an iMuJoCo variant into an original-format .npz"
    )
    p.add_argument("variant", help="variant name, e.g. hopper-massdec_25_leggeom")
    p.add_argument("--policy", type=Path, required=True, help="SB3 policy zip (read or written)")
    p.add_argument("--trajectories", type=int, default=100, help="1000-row blocks to collect")
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument("--steps", type=int, default=TRAJECTORY_STEPS, help="rows per trajectory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algo", choices=ALGORITHMS, default="sac")
    p.add_argument("--stochastic", action="store_true", help="sample actions (default: mean)")
    p.add_argument(
        "--train-expert",
        type=int,
        metavar="STEPS",
        help="first train a SAC expert for STEPS env steps and save it to --policy",
    )
    p.add_argument("--checkpoint-every", type=int, default=50_000, help="training checkpoints")
    p.add_argument("--resume", type=Path, help="continue training from this checkpoint zip")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_collect)


def add_data_commands(
    data_subparsers: argparse._SubParsersAction,
    collect_subparsers: argparse._SubParsersAction | None = None,
) -> None:
    """Add ``download``, ``evaluate`` and ``collect imujoco`` to the ``data`` group.

    Args:
        data_subparsers: The ``data`` group's subparsers.
        collect_subparsers: The subparsers of an existing ``data collect`` command; when
            ``None``, a ``collect`` command holding only ``imujoco`` is created.
    """
    from imitenvs.data.download import ZENODO
    from imitenvs.envs.imujoco.policies import ALGORITHMS

    p = data_subparsers.add_parser(
        "download", help="download (resume, verify) and unzip a dataset's original files"
    )
    p.add_argument("dataset", choices=["imujoco"])
    p.add_argument(
        "--parts", type=_parts, default=list(PARTS), help=f"comma-separated: {','.join(PARTS)}"
    )
    p.add_argument("--to", type=Path, required=True, help="folder to download and unzip into")
    p.add_argument("--base-url", default=ZENODO, help="Zenodo server (tests use a local one)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per network operation")
    p.add_argument("--no-extract", action="store_true", help="keep the zips zipped")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_download)

    p = data_subparsers.add_parser("evaluate", help="mean ± std return of an SB3 policy zip")
    p.add_argument("policy", type=Path, help="SB3 model zip (e.g. sac-<variant>.zip)")
    p.add_argument("id", help="env id or iMuJoCo variant name")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algo", choices=ALGORITHMS, default="sac")
    p.add_argument("--stochastic", action="store_true", help="sample actions (default: mean)")
    p.add_argument(
        "--window",
        type=int,
        help="the original README's protocol: sum W steps per return, resetting inside",
    )
    p.add_argument("--max-episode-steps", type=int, help="override the id's episode length")
    p.add_argument("--video", type=Path, help="write an mp4 of the evaluation")
    p.set_defaults(func=_cmd_evaluate)

    if collect_subparsers is None:
        p = data_subparsers.add_parser("collect", help="collect demonstrations")
        collect_subparsers = p.add_subparsers(dest="dataset", required=True)
    add_collect_imujoco(collect_subparsers)
