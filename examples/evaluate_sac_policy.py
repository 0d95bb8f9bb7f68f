"""Evaluate an SB3 SAC policy zip on its env: mean/std of the true return, optionally a video.

    python examples/evaluate_sac_policy.py runs/sac_pendulum/policy.zip \\
        --env InvertedPendulum-v5 --rollouts 10 --video pendulum.mp4

The zip is read without unpickling (:func:`imitenvs.envs.imujoco.policies.load_policy`); the
returns come from :func:`imitenvs.agents.reward_inference.experts.evaluate_return`
(deterministic actions unless ``--stochastic``; reset seeds from ``--seed``). ``--video``
renders the first rollout (the same seed, so the same episode) to an ``.mp4``, written
atomically (needs imageio-ffmpeg). Prints one JSON document. This is the original
``evaluate_policy.py`` without its bug (it stepped random actions instead of the policy's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imitenvs.agents.reward_inference.experts import evaluate_return
from imitenvs.core.checks import check_positive_int, check_seed
from imitenvs.core.render import default_headless_gl
from imitenvs.core.scripts import load_script, run_main
from imitenvs.envs.imujoco.policies import VideoWriter, load_policy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("policy", type=Path, help="SB3 SAC zip")
    p.add_argument("--env", required=True, help="gymnasium id the policy was trained on")
    p.add_argument("--rollouts", type=int, default=10)
    p.add_argument("--seed", type=int, default=10_000, help="seed of the first reset")
    p.add_argument("--stochastic", action="store_true", help="sample actions")
    p.add_argument("--video", type=Path, help="render the first rollout (.mp4)")
    args = p.parse_args(argv)
    check_positive_int("--rollouts", args.rollouts)
    check_seed(args.seed)
    if args.video is not None and args.video.suffix.lower() != ".mp4":
        raise ValueError(f"--video {args.video}: write an .mp4")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    make_env = load_script(Path(__file__).with_name("train_sac_expert.py")).make_env
    env = make_env(args.env)
    model = load_policy(args.policy, env=env)
    deterministic = not args.stochastic
    stats = evaluate_return(env, model, args.rollouts, args.seed, deterministic)
    env.close()
    result = {"env": args.env, "policy": str(args.policy), "seed": args.seed,
              "deterministic": deterministic, **stats.as_dict(),
              "returns": [round(float(r), 4) for r in stats.returns]}  # fmt: skip
    if args.video is not None:
        default_headless_gl("rgb_array")
        video_env = make_env(args.env, render_mode="rgb_array")
        fps = float(video_env.metadata.get("render_fps", 30))
        with VideoWriter(args.video, fps) as writer:
            first = evaluate_return(video_env, model, 1, args.seed, deterministic, video=writer)
        video_env.close()
        result["video"] = {"path": str(args.video), "return": first.mean}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    run_main(main)
