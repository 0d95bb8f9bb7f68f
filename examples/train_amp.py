"""Train AMP (PPO + adversarial motion prior) on the humanoid or the maze, or DeepMimic tracking.

    python examples/train_amp.py                      # HumanoidAMP-v0, walk clip, CPU, minutes
    python examples/train_amp.py --algo deepmimic     # PPO tracking the walk clip (HumanoidImitate)
    python examples/train_amp.py --num-envs 4096 --device cuda --iterations 5000
    python examples/train_amp.py --env imitenvs/Maze-v0
    python examples/train_amp.py --resume runs/amp_humanoid/checkpoint_000050.pt
    torchrun --nproc_per_node=2 examples/train_amp.py --env imitenvs/Maze-v0   # 2 ranks
    tensorboard --logdir runs

A preset of the one trainer, ``python -m imitenvs.agents.train`` (:mod:`imitenvs.agents.train`,
``--help`` lists every option): this script only makes ``--algo amp`` the default. It writes
TensorBoard events, ``log.txt`` and checkpoints to ``--out``; at the end a GIF of the humanoid
policy (``policy.gif``) or, for the maze, the picture with learned trajectories
(``maze_policy.png``) and the discriminator's style-reward heat map (``disc_heatmap.png``).
"""

from __future__ import annotations

import argparse
import sys

from imitenvs.agents import train
from imitenvs.agents.onpolicy.runner import Runner
from imitenvs.agents.presets import PRESETS  # noqa: F401  (the presets, for other scripts)
from imitenvs.agents.train_outputs import evaluate_maze, save_disc_heatmap  # noqa: F401
from imitenvs.core.scripts import run_main

DEFAULT_ALGO = "amp"


def with_algo(argv: list[str]) -> list[str]:
    """``argv`` with ``--algo amp`` unless it names an algorithm (or an argument file)."""
    named = any(a in ("--algo", "--arg-file") or a.startswith("--algo=") for a in argv)
    return list(argv) if named else ["--algo", DEFAULT_ALGO, *argv]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The trainer's arguments, ``--algo amp`` by default."""
    return train.parse_args(with_algo(sys.argv[1:] if argv is None else argv))


def build_runner(args: argparse.Namespace, dist: object = None) -> Runner:
    """The trainer's runner for these arguments."""
    return train.build_runner(args, dist)


def main(argv: list[str] | None = None) -> dict:
    """Train, save, evaluate; returns (and prints) the JSON summary (see the trainer)."""
    return train.main(with_algo(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    run_main(main)
