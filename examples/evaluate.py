"""Evaluate a checkpoint of ``examples/train_amp.py`` (or any runner checkpoint).

    python examples/evaluate.py runs/amp_maze/checkpoint_last.pt --episodes 20
    python examples/evaluate.py runs/amp_humanoid/checkpoint_last.pt --episodes 10 --out eval.json

Rebuilds the policy from the checkpoint (the run's env id and env kwargs are stored in it),
runs the mean policy for ``--episodes`` episodes on a single env with reset seeds ``--seed``,
``--seed + 1``, ... and prints JSON:

- ``return`` and ``episode_length``: mean and standard deviation over episodes;
- ``success_rate``: when the env reports ``info["is_success"]`` (maze, PushT), else ``null``;
- for humanoid ids, ``pose_error``: the DTW pose error against the clips of the env's motion
  library for the policy and for a uniform random policy on the same seeds
  (``dtw_pose_error``, NEAR's definition, and ``dtw_pose_rmse``, the per-body RMS distance in
  metres; see :mod:`imitenvs.agents.evaluation`); ``forward_speed`` (m/s) beside the clip's
  ``clip_forward_speed``; and ``walk``: the three "walks" checks
  (:data:`imitenvs.agents.evaluation.WALK_CRITERIA`). Episodes end on falls only: a
  ``pose_termination_distance`` of the training env is turned off for evaluation.

``pretrained:deepmimic_walk`` evaluates a policy shipped in ``assets/policies/``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import gymnasium
import torch

import imitenvs
from imitenvs.agents import evaluation
from imitenvs.core.files import atomic_write_text
from imitenvs.core.scripts import run_main

log = logging.getLogger("evaluate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "checkpoint", help="a runner checkpoint (checkpoint_*.pt), a policy file or pretrained:NAME"
    )
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes")
    p.add_argument("--seed", type=int, default=10_000, help="reset seed of the first episode")
    p.add_argument("--out", type=Path, help="also write the JSON result to this file")
    p.add_argument("--device", default="cpu", help="torch device of the policy")
    p.add_argument("--no-random", action="store_true", help="skip the random-policy baseline")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    if args.episodes <= 0:
        p.error(f"--episodes must be > 0, got {args.episodes}")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Evaluate; returns (and prints) the JSON result."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    ppo, run, meta = evaluation.load_policy_with_meta(args.checkpoint, args.device)
    env_id, env_kwargs = run.env_id, evaluation.evaluation_kwargs(run.env_kwargs)
    probe = gymnasium.make(env_id, **env_kwargs)
    action_space = probe.action_space
    probe.close()
    policy = evaluation.ppo_policy(ppo, action_space)
    common = dict(
        env_id=env_id,
        episodes=args.episodes,
        seed=args.seed,
        env_kwargs=env_kwargs,
        progress=not args.no_progress,
    )
    result = {
        "checkpoint": str(args.checkpoint),
        "env": env_id,
        "env_kwargs": env_kwargs,
        "iteration": meta["iteration"],
        "env_steps": meta["env_steps"],
        "seed": args.seed,
    }
    if imitenvs.registry.get_entry(env_id).family == "humanoid":
        scores = {"policy": evaluation.humanoid_pose_error(policy, **common)}
        if not args.no_random:
            baseline = evaluation.random_policy(action_space, args.seed)
            scores["random"] = evaluation.humanoid_pose_error(baseline, **common)
        keys = ("dtw_pose_error", "dtw_pose_rmse", "lengths", "best_clips", "forward_speed")
        result.update({k: v for k, v in scores["policy"].items() if k not in keys})
        result["forward_speed"] = scores["policy"]["forward_speed"]
        limit = evaluation.episode_limit(env_id, env_kwargs)
        result["walk"] = evaluation.walk_verdict(scores["policy"], limit)
        result["pose_error"] = {
            name: {k: s[k] for k in (*keys, "episode_length")} for name, s in scores.items()
        }
    else:
        episodes = evaluation.run_episodes(policy, **common)
        result.update(evaluation.episode_summary(episodes))
    text = json.dumps(result, indent=1)
    if args.out is not None:
        atomic_write_text(args.out, text + "\n")
        log.info("wrote %s", args.out)
    print(text)
    return result


if __name__ == "__main__":
    run_main(main)
