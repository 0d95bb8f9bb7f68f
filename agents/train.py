"""One trainer for every agent: ``python -m imitenvs.agents.train --algo ALGO --env ID ...``.

    python -m imitenvs.agents.train --algo amp --env imitenvs/HumanoidAMP-v0
    python -m imitenvs.agents.train --algo deepmimic --num-envs 512    # HumanoidImitate-v0
    python -m imitenvs.agents.train --algo amp --env imitenvs/Maze-v0 --logger none
    python -m imitenvs.agents.train --algo near --env imitenvs/Maze-v0    # trains energy.pt first
    python -m imitenvs.agents.train --algo ppo --env Pendulum-v1 --iterations 100
    python -m imitenvs.agents.train --algo awr --env Pendulum-v1 --num-envs 1
    python -m imitenvs.agents.train --arg-file args.txt --num-envs 64     # the command line wins
    python -m imitenvs.agents.train --algo deepmimic --mode test \\
        --model-file runs/deepmimic/checkpoint_last.pt --episodes 10 --video walk.mp4
    python -m imitenvs.agents.plot_log runs/deepmimic/log.txt --out curves.png
    torchrun --nproc_per_node=2 -m imitenvs.agents.train --algo amp --env imitenvs/Maze-v0

Train mode writes checkpoints, ``log.txt`` (MimicKit-style columns, :mod:`imitenvs.agents.logs`)
and TensorBoard events (``--logger tb``, the default; ``wandb`` needs the wandb package;
``none``) to ``--out`` (default ``runs/<algo>_<family>``), evaluates the final policy
(:mod:`imitenvs.agents.train_outputs`) and prints a JSON summary. ``--resume CKPT`` (or
``--model-file CKPT`` in train mode, as MimicKit) continues a run. Test mode reads
``--model-file`` safely (``weights_only``, checked against its digest), refuses a checkpoint of
another algorithm or env, plays ``--episodes`` episodes of the mean policy and prints return,
length and, on humanoid ids, the DTW pose error; ``--video out.mp4`` (or ``.gif``) records one.

``--arg-file FILE`` reads arguments from a file as MimicKit's ``run.py`` does: whitespace-
separated tokens, ``#`` starts a comment that runs to the end of its line; MimicKit's spelling
``--num_envs`` works too. Arguments given on the command line override the file's.

Adding an algorithm (ADD, ASE, ...): write a builder ``build(args, dist) -> trainer`` where the
trainer has ``run`` (a :class:`~imitenvs.agents.onpolicy.runner.RunConfig` with ``algo`` set,
e.g. from :func:`imitenvs.agents.presets.run_config`), ``train(evaluate=None) -> dict``,
``load(path)``, ``close()``, ``iteration`` and ``global_step`` (a PPO-core extension usually
returns a :class:`~imitenvs.agents.onpolicy.runner.Runner`), and give it one line in
:data:`ALGORITHMS`::

    ALGORITHMS["add"] = Algorithm("add", "imitenvs/HumanoidAMP-v0", build_add, "PPO + ADD")

Its checkpoints must record the name (``RunConfig.algo`` does it for :class:`Runner`
checkpoints) so that test mode can check it; a policy that :func:`imitenvs.agents.evaluation.
load_policy` cannot rebuild (a latent-conditioned ASE actor) passes its own ``test``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; before mujoco is imported

import gymnasium
import torch

from imitenvs.agents import distributed, play, presets, train_outputs
from imitenvs.agents.adversarial import presets as adversarial_presets
from imitenvs.agents.logs import LOGGERS, check_logger
from imitenvs.agents.onpolicy.runner import read_checkpoint
from imitenvs.core.scripts import run_main

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Algorithm:
    """One entry of the trainer's algorithm table."""

    name: str
    """the ``--algo`` value"""
    default_env: str
    """the env id when ``--env`` is not given"""
    build: Callable[[argparse.Namespace, distributed.DistInfo | None], Any]
    """``(args, dist) -> trainer`` (see the module doc)"""
    summary: str = ""
    """one line for ``--help``"""
    test: Callable[[argparse.Namespace], dict[str, Any]] | None = None
    """test mode for a policy :func:`imitenvs.agents.evaluation.load_policy` cannot rebuild
    (``None``: :func:`test_policy`, which plays the PPO actor-critic of the checkpoint)"""


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("ppo", "Pendulum-v1", presets.build_ppo_runner, "PPO on the env's reward"),
        Algorithm("deepmimic", presets.IMITATE, presets.build_ppo_runner, "PPO tracking a clip"),
        Algorithm(
            "amp",
            "imitenvs/HumanoidAMP-v0",
            presets.build_ppo_runner,
            "PPO + adversarial motion prior",
        ),
        Algorithm(
            "near",
            "imitenvs/Maze-v0",
            presets.build_ppo_runner,
            "PPO + noise-conditioned energy reward",
        ),
        Algorithm(
            "awr",
            "Pendulum-v1",
            presets.build_awr_runner,
            "advantage-weighted regression (replay buffer, TD(lambda))",
        ),
        Algorithm(
            "add",
            presets.IMITATE,
            adversarial_presets.build_add_runner,
            "PPO + adversarial differential discriminator (tracking a clip)",
        ),
        Algorithm(
            "ase",
            "imitenvs/HumanoidAMP-v0",
            adversarial_presets.build_ase_runner,
            "adversarial skill embeddings (latent-conditioned policy, multi-clip)",
            test=adversarial_presets.ase_test_command,
        ),
    )
}
"""``--algo`` name -> :class:`Algorithm`; one line per algorithm (see the module doc)"""


# ------------------------------------------------------------------------------- arguments
def read_arg_file(path: str | Path) -> list[str]:
    """The tokens of an argument file (MimicKit's format, see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no argument file at {path}")
    tokens: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        tokens += line.split("#", 1)[0].split()
    return tokens


def _spelling(token: str) -> str:
    """``--num_envs`` -> ``--num-envs`` (MimicKit's spelling); values stay as they are."""
    if token.startswith("--") and "=" not in token:
        return token.replace("_", "-")
    return token


def expand_arguments(argv: list[str]) -> list[str]:
    """``argv`` with every ``--arg-file FILE`` replaced by the file's tokens, placed first so
    that the command line's own values win."""
    argv = [_spelling(t) for t in argv]
    files, rest, i = [], [], 0
    while i < len(argv):
        if argv[i] == "--arg-file":
            if i + 1 >= len(argv):
                raise ValueError("--arg-file needs a file name")
            files += [_spelling(t) for t in read_arg_file(argv[i + 1])]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if "--arg-file" in files:
        raise ValueError("an argument file cannot name another --arg-file")
    return files + rest


def build_parser() -> argparse.ArgumentParser:
    algos = "\n".join(
        f"  {a.name:10s} {a.summary} (default env {a.default_env})" for a in ALGORITHMS.values()
    )
    p = argparse.ArgumentParser(
        prog="python -m imitenvs.agents.train",
        description=__doc__,
        epilog=f"algorithms:\n{algos}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--algo", help=f"one of {', '.join(ALGORITHMS)}")
    p.add_argument("--env", help="env id (train: default the algorithm's; test: the checkpoint's)")
    p.add_argument("--mode", default="train", help="train or test")
    p.add_argument("--model-file", type=Path, help="test: the checkpoint; train: resume from it")
    p.add_argument("--arg-file", help="read arguments from this file (see above)")
    p.add_argument("--num-envs", type=int, help="parallel worlds (preset default)")
    p.add_argument("--iterations", type=int, help="training iterations (preset default)")
    p.add_argument("--num-steps", type=int, help="rollout length per iteration")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="run folder (runs/<algo>_<family>)")
    p.add_argument("--logger", default="tb", help=f"one of {', '.join(LOGGERS)} (log.txt always)")
    p.add_argument("--save-every", type=int, default=50, help="checkpoint period, iterations")
    p.add_argument("--keep-checkpoints", type=int, default=2, help="numbered checkpoints kept")
    p.add_argument("--minutes", type=float, help="stop after this much wall-clock time")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from")
    p.add_argument(
        "--force",
        action="store_true",
        help="use --out even if another live run holds it or it has older checkpoints",
    )
    p.add_argument("--motion-file", help="humanoid clip or YAML list (default walk.yaml)")
    p.add_argument("--task-weight", type=float, help="amp/near: weight of the env reward")
    p.add_argument("--style-weight", type=float, help="amp: weight of the style reward")
    p.add_argument("--energy-weight", type=float, help="near: weight of the energy reward")
    p.add_argument("--sigma-level", type=int, help="near: -1 anneals; else a fixed level")
    p.add_argument("--energy", type=Path, help="near: energy model (default <out>/energy.pt)")
    p.add_argument("--energy-iterations", type=int, help="near: DSM steps if it is trained")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-video", action="store_true", help="train: skip the final GIF / picture")
    p.add_argument("--eval-episodes", type=int, default=10, help="train: final evaluation")
    p.add_argument("--episodes", type=int, default=5, help="test: episodes to play")
    p.add_argument("--video", type=Path, help="test: record one episode (.mp4 or .gif)")
    adversarial_presets.add_ase_test_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--pose-error-every",
        type=float,
        default=1.0,
        help="humanoid: minutes between DTW pose-error evaluations (0: never)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The trainer's arguments (``--arg-file`` expanded); ``ValueError`` for a bad value."""
    args = build_parser().parse_args(expand_arguments(sys.argv[1:] if argv is None else argv))
    if args.algo is None:
        raise ValueError(f"--algo is required: one of {', '.join(ALGORITHMS)}")
    if args.algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {args.algo!r}; choose one of {', '.join(ALGORITHMS)}")
    if args.mode not in ("train", "test"):
        raise ValueError(f"--mode must be train or test, not {args.mode!r}")
    if args.mode == "test" and args.model_file is None:
        raise ValueError("--mode test needs --model-file CHECKPOINT")
    if args.mode == "train" and args.model_file is not None:
        if args.resume is not None and args.resume != args.model_file:
            raise ValueError("give --resume or --model-file in train mode, not both")
        args.resume = args.model_file
    check_logger(args.logger)
    args.env_given = args.env is not None
    args.env = args.env or ALGORITHMS[args.algo].default_env
    return args


# ------------------------------------------------------------------------------------ modes
def build_runner(args: argparse.Namespace, dist: distributed.DistInfo | None = None) -> Any:
    """The trainer of ``args.algo`` (its :class:`Algorithm` builder)."""
    return ALGORITHMS[args.algo].build(args, dist)


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train, save, evaluate; returns (rank 0 prints) the JSON summary. Under ``torchrun``
    every rank trains; rank 0 evaluates, draws and prints."""
    dist, args.device = distributed.init(args.device)
    try:
        runner = build_runner(args, dist)
        try:
            if args.resume is not None:
                runner.load(args.resume)
            logger = train_outputs.pose_error_logger(args) if dist.is_main else None
            stats = runner.train(logger)
            summary = {
                "algo": args.algo,
                "env": args.env,
                "ranks": dist.world_size,
                "iterations": runner.iteration,
                "env_steps": runner.global_step,
                "checkpoint": str(runner.run.log_dir / "checkpoint_last.pt"),
                "log": str(runner.run.log_dir / "log.txt"),
                "last": {k: round(v, 4) for k, v in stats.items()},
            }
            if dist.is_main:
                summary["eval"] = train_outputs.final_evaluation(runner, args)
                sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        finally:
            runner.close()
    finally:
        distributed.shutdown()
    return summary


def checkpoint_algo(state: dict[str, Any]) -> str | None:
    """The algorithm a runner checkpoint was trained with: recorded, or for older files
    inferred (``amp`` / ``near`` from their state; ``None`` for plain PPO, which may be
    ``ppo`` or ``deepmimic``)."""
    recorded = state.get("algo") or state["run"].get("algo")
    if recorded:
        return recorded
    if state.get("amp") is not None:
        return "amp"
    if state.get("near") is not None:
        return "near"
    return None


def check_checkpoint(args: argparse.Namespace) -> str:
    """The env id of ``--model-file``; ``ValueError`` when it was trained with another
    algorithm than ``--algo`` or on another env than an explicit ``--env``."""
    path = args.model_file
    state = read_checkpoint(path, "cpu")
    saved = checkpoint_algo(state)
    if saved is None and args.algo not in ("ppo", "deepmimic"):
        saved = "ppo"
    if saved is not None and saved != args.algo:
        raise ValueError(f"{path} was trained with --algo {saved}, not {args.algo}")
    env_id = state["run"]["env_id"]
    if args.env_given and args.env != env_id:
        raise ValueError(f"{path} was trained on {env_id!r}, not on {args.env!r}")
    return env_id


def test_policy(args: argparse.Namespace) -> dict[str, Any]:
    """Play ``--episodes`` episodes of the checkpoint's mean policy (see the module doc)."""
    path = args.model_file
    env_id = check_checkpoint(args)
    result: dict[str, Any] = {"algo": args.algo, "env": env_id, "checkpoint": str(path)}
    if args.video is not None:
        from imitenvs.motion.viewer import write_video

        try:
            frames, fps = play.record_episode(path, 10_000 + args.seed)
        except gymnasium.error.DependencyNotInstalled as exc:
            raise ValueError(f"cannot record a video of {env_id}: {exc}") from None
        result["video"] = str(write_video(frames, args.video, fps))
    figures = play.evaluate_policy(
        path,
        args.episodes,
        10_000 + args.seed,
        args.device,
        baseline=False,
        progress=not args.no_progress,
    )
    result.update(figures)
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments and train or test; returns the printed JSON summary."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    if args.mode == "train":
        return train(args)
    return (ALGORITHMS[args.algo].test or test_policy)(args)


if __name__ == "__main__":
    run_main(main)
