"""DeepMimic: PPO tracking a reference clip on ``imitenvs/HumanoidImitate-v0``.

    python examples/train_deepmimic.py                                   # a short CPU run
    python examples/train_deepmimic.py --iterations 2000 --out runs/deepmimic_walk

A preset of the one trainer (``python -m imitenvs.agents.train --algo deepmimic``; every other
option is the trainer's, see its ``--help``): the DeepMimic preset (reference state
initialisation, early termination on falls and on straying from the clip, the tracking reward
of the env, fixed action noise).
"""

from __future__ import annotations

import argparse
import sys

from imitenvs.agents import train
from imitenvs.agents.onpolicy.runner import Runner
from imitenvs.core.scripts import run_main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The trainer's arguments with ``--algo deepmimic``."""
    return train.parse_args(["--algo", "deepmimic", *(argv or [])])


def build_runner(args: argparse.Namespace, dist: object = None) -> Runner:
    """The trainer's runner for these arguments."""
    return train.build_runner(args, dist)


def main(argv: list[str] | None = None) -> dict:
    """Train, save, evaluate (the trainer with ``--algo deepmimic``)."""
    return train.main(["--algo", "deepmimic", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    run_main(main)
