"""ADD: PPO + adversarial differential discriminator, tracking a clip on HumanoidImitate-v0.

    python examples/train_add.py                                  # short CPU run, walk clip
    python examples/train_add.py --minutes 10 --num-envs 128 --out runs/add_walk
    python -m imitenvs.agents.train --algo add                    # the same preset

The preset (``imitenvs.agents.adversarial.presets.ADD_PRESET``) is the DeepMimic preset of
``examples/train_deepmimic.py`` with the env's tracking reward replaced by ADD's reward
(``--task-weight`` mixes the tracking reward back in). Writes TensorBoard events and
checkpoints to ``--out`` and prints JSON: the last iteration's scalars and the DTW pose error
of the mean policy over ``--episodes`` episodes (``imitenvs.agents.play.evaluate_policy``, as
``examples/evaluate.py``).
"""

from __future__ import annotations

import json
import logging
import sys

import torch

from imitenvs.agents.adversarial.presets import build_add_runner, example_parser
from imitenvs.agents.play import evaluate_policy
from imitenvs.core.scripts import run_main


def main(argv: list[str] | None = None) -> dict:
    """Train, then evaluate the last checkpoint; returns (and prints) the JSON summary."""
    args = example_parser(__doc__).parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    runner = build_add_runner(args)
    try:
        if args.resume is not None:
            runner.load(args.resume)
        stats = runner.train()
        checkpoint = runner.run.log_dir / "checkpoint_last.pt"
        summary = {
            "algo": "add",
            "env": runner.run.env_id,
            "iterations": runner.iteration,
            "env_steps": runner.global_step,
            "checkpoint": str(checkpoint),
            "last": {k: round(v, 4) for k, v in stats.items()},
        }
    finally:
        runner.close()
    summary["eval"] = evaluate_policy(checkpoint, args.episodes, baseline=False)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
