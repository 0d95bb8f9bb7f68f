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

import torch

from imitenvs.agents.play import evaluate_policy
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
    """Evaluate (:func:`imitenvs.agents.play.evaluate_policy`); returns and prints the JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    result = {"checkpoint": str(args.checkpoint)}
    result.update(
        evaluate_policy(
            args.checkpoint,
            args.episodes,
            args.seed,
            args.device,
            baseline=not args.no_random,
            progress=not args.no_progress,
        )
    )
    text = json.dumps(result, indent=1)
    if args.out is not None:
        atomic_write_text(args.out, text + "\n")
        log.info("wrote %s", args.out)
    print(text)
    return result


if __name__ == "__main__":
    run_main(main)
