"""DeepMimic: PPO tracking a reference clip on ``imitenvs/HumanoidImitate-v0``.

    python examples/train_deepmimic.py                                   # a short CPU run
    python examples/train_deepmimic.py --iterations 2000 --out runs/deepmimic_walk

The same trainer as ``examples/train_amp.py --algo deepmimic`` (this script only sets the
algorithm; every other option is that script's, see its ``--help``): the DeepMimic preset
(reference state initialisation, early termination on falls and on straying from the clip,
the tracking reward of the env, fixed action noise, adaptive learning rate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imitenvs.agents.runner import Runner
from imitenvs.core.scripts import load_script, run_main

TRAINER = Path(__file__).resolve().parent / "train_amp.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """``train_amp.py``'s arguments with ``--algo deepmimic``."""
    return load_script(TRAINER).parse_args(["--algo", "deepmimic", *(argv or [])])


def build_runner(args: argparse.Namespace, dist: object = None) -> Runner:
    """``train_amp.py``'s runner for these arguments."""
    return load_script(TRAINER).build_runner(args, dist)


def main(argv: list[str] | None = None) -> dict:
    """Train, save, evaluate (``train_amp.main`` with ``--algo deepmimic``)."""

    return load_script(TRAINER).main(
        ["--algo", "deepmimic", *(sys.argv[1:] if argv is None else argv)]
    )


if __name__ == "__main__":
    run_main(main)
