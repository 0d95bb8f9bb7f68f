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


def play(
    env_id: str,
    policy: str | Path,
    out: Path | None = None,
    episodes: int = 5,
    seed: int = 10_000,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Render one episode of ``policy`` to ``out`` and evaluate it on ``episodes`` episodes.

    Raises:
        ValueError: the policy was trained on another env id, or bad arguments.
        FileNotFoundError / CorruptFileError: the policy file is missing or refused.
    """
    if not isinstance(episodes, int) or episodes < 0:
        raise ValueError(f"episodes must be an integer >= 0, got {episodes!r}")
    ppo, run = evaluation.load_policy(policy)
    if run.env_id != env_id:
        raise ValueError(f"{policy} was trained on {run.env_id!r}, not on {env_id!r}")
    env_kwargs = evaluation.evaluation_kwargs(run.env_kwargs)
    probe = gymnasium.make(env_id, **env_kwargs)
    fn = evaluation.ppo_policy(ppo, probe.action_space)
    probe.close()
    result: dict[str, Any] = {"env": env_id, "policy": str(policy)}
    if out is not None:
        result["video"] = str(_record(env_id, env_kwargs, fn, out, seed, max_steps))
    if episodes:
        result.update(_figures(env_id, env_kwargs, fn, episodes, seed))
    return result


def _record(
    env_id: str, env_kwargs: dict, fn: Any, out: Path, seed: int, max_steps: int | None
) -> Path:
    from imitenvs.motion.viewer import write_video

    default_headless_gl("rgb_array")
    env = gymnasium.make(env_id, render_mode="rgb_array", **env_kwargs)
    try:
        episode = run_episode(env, fn, seed=seed, render=True, max_steps=max_steps)
        fps = env.metadata.get("render_fps", 30)
    finally:
        env.close()
    return write_video(np.stack(episode["frames"]), out, fps)


def _figures(env_id: str, env_kwargs: dict, fn: Any, episodes: int, seed: int) -> dict:
    common = {"env_id": env_id, "episodes": episodes, "seed": seed, "env_kwargs": env_kwargs}
    if imitenvs_family(env_id) != "humanoid":
        return evaluation.episode_summary(evaluation.run_episodes(fn, **common))
    scores = evaluation.humanoid_pose_error(fn, **common)
    limit = evaluation.episode_limit(env_id, env_kwargs)
    scores["walk"] = evaluation.walk_verdict(scores, limit)
    return scores


def imitenvs_family(env_id: str) -> str:
    """The registry family of ``env_id``."""
    from imitenvs.registry import get_entry

    return get_entry(env_id).family


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
