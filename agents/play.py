"""``python -m imitenvs play ID --policy ...``: watch a trained policy and print its figures.

    python -m imitenvs play imitenvs/HumanoidImitate-v0 --policy pretrained:deepmimic_walk \\
        --out walk.mp4
    python -m imitenvs play imitenvs/Maze-v0 --policy runs/amp_maze/checkpoint_last.pt --out m.gif

The policy is a runner checkpoint or a policy file (``pretrained:NAME`` names one shipped in
``assets/policies/``, with its card ``NAME.json``); both are read with ``weights_only`` and
checked against their digest, so loading one never runs code. One episode of the mean policy
is rendered headless (``rgb_array``) to ``--out`` (``.mp4`` or ``.gif``); then ``--episodes``
evaluation episodes give the figures of ``examples/evaluate.py``: return and length, and for
the humanoid ids the DTW pose error, the forward speed against the clip's and the "walks"
verdict (:data:`imitenvs.agents.evaluation.WALK_CRITERIA`). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from imitenvs.agents import evaluation
from imitenvs.agents.episode import run_episode
from imitenvs.core.render import default_headless_gl
from imitenvs.registry import get_entry


def evaluate_policy(
    policy: str | Path,
    episodes: int = 10,
    seed: int = 10_000,
    device: str = "cpu",
    baseline: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """The figures ``examples/evaluate.py`` prints for a runner checkpoint, a policy file or
    ``pretrained:NAME``: the mean policy on ``episodes`` single-env episodes (reset seeds
    ``seed, seed + 1, ...``, the run's env kwargs with training-only terminations off).

    Returns:
        ``env``, ``env_kwargs``, ``iteration``, ``env_steps``, ``seed`` and
        :func:`~imitenvs.agents.evaluation.episode_summary`; for humanoid ids also
        ``clip_forward_speed``, ``forward_speed``, ``walk``
        (:func:`~imitenvs.agents.evaluation.walk_verdict`) and ``pose_error``: ``{"policy":
        ..., "random": ...}`` (the random baseline on the same seeds with ``baseline``).
    """
    if not isinstance(episodes, int) or episodes <= 0:
        raise ValueError(f"episodes must be an integer > 0, got {episodes!r}")
    ppo, run, meta = evaluation.load_policy_with_meta(policy, device)
    env_id, env_kwargs = run.env_id, evaluation.evaluation_kwargs(run.env_kwargs)
    space = _action_space(env_id, env_kwargs)
    common = {"env_id": env_id, "episodes": episodes, "seed": seed, "env_kwargs": env_kwargs,
              "progress": progress}  # fmt: skip
    result: dict[str, Any] = {
        "env": env_id,
        "env_kwargs": env_kwargs,
        "iteration": meta["iteration"],
        "env_steps": meta["env_steps"],
        "seed": seed,
    }
    fn = evaluation.ppo_policy(ppo, space)
    if not env_id.startswith("imitenvs/") or get_entry(env_id).family != "humanoid":
        return {**result, **evaluation.episode_summary(evaluation.run_episodes(fn, **common))}
    scores = {"policy": evaluation.humanoid_pose_error(fn, **common)}
    if baseline:
        random = evaluation.random_policy(space, seed)
        scores["random"] = evaluation.humanoid_pose_error(random, **common)
    keys = ("dtw_pose_error", "dtw_pose_rmse", "lengths", "best_clips", "forward_speed")
    result.update({k: v for k, v in scores["policy"].items() if k not in keys})
    result["forward_speed"] = scores["policy"]["forward_speed"]
    result["walk"] = evaluation.walk_verdict(scores["policy"])
    result["pose_error"] = {
        name: {k: s[k] for k in (*keys, "episode_length")} for name, s in scores.items()
    }
    return result


def record_episode(
    policy: str | Path, seed: int = 10_000, max_steps: int | None = None
) -> tuple[np.ndarray, float]:
    """``(T, H, W, 3)`` frames of one episode of the mean policy rendered headless (the run's
    env kwargs with training-only terminations off), and the env's frame rate."""
    ppo, run = evaluation.load_policy(policy)
    env_kwargs = evaluation.evaluation_kwargs(run.env_kwargs)
    default_headless_gl("rgb_array")
    env = gymnasium.make(run.env_id, render_mode="rgb_array", **env_kwargs)
    try:
        fn = evaluation.ppo_policy(ppo, env.action_space)
        episode = run_episode(env, fn, seed=seed, render=True, max_steps=max_steps)
        fps = float(env.metadata.get("render_fps", 30))
    finally:
        env.close()
    return np.stack(episode["frames"]), fps


def play(
    env_id: str,
    policy: str | Path,
    out: Path | None = None,
    episodes: int = 5,
    seed: int = 10_000,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Render one episode of ``policy`` to ``out`` and evaluate it on ``episodes`` episodes
    (:func:`evaluate_policy` without the random baseline; ``0``: no evaluation).

    Raises:
        ValueError: the policy was trained on another env id, or bad arguments.
        FileNotFoundError / CorruptFileError: the policy file is missing or refused.
    """
    if not isinstance(episodes, int) or episodes < 0:
        raise ValueError(f"episodes must be an integer >= 0, got {episodes!r}")
    _, run = evaluation.load_policy(policy)
    if run.env_id != env_id:
        raise ValueError(f"{policy} was trained on {run.env_id!r}, not on {env_id!r}")
    result: dict[str, Any] = {"env": env_id, "policy": str(policy)}
    if out is not None:
        from imitenvs.motion.viewer import write_video

        frames, fps = record_episode(policy, seed, max_steps)
        result["video"] = str(write_video(frames, out, fps))
    if episodes:
        result.update(evaluate_policy(policy, episodes, seed, baseline=False))
    return result


def _action_space(env_id: str, env_kwargs: dict[str, Any]) -> gymnasium.spaces.Space:
    probe = gymnasium.make(env_id, **env_kwargs)
    try:
        return probe.action_space
    finally:
        probe.close()


def _cmd_play(args: argparse.Namespace) -> int:
    result = play(args.env_id, args.policy, args.out, args.episodes, args.seed, args.max_steps)
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """The ``play`` command of ``python -m imitenvs``."""
    p = subparsers.add_parser(
        "play",
        help="render a trained policy to a video and print its evaluation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("env_id", help="the env id the policy was trained on")
    p.add_argument("--policy", required=True, help="pretrained:NAME or a checkpoint path")
    p.add_argument("--out", type=Path, help="video file (.mp4 or .gif); omit to skip")
    p.add_argument("--episodes", type=int, default=5, help="evaluation episodes (0: none)")
    p.add_argument("--seed", type=int, default=10_000, help="reset seed of the first episode")
    p.add_argument("--max-steps", type=int, help="cut the recorded episode at this many steps")
    p.set_defaults(func=_cmd_play)
