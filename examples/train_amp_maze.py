"""AMP on the maze, then the pictures: learned trajectories and discriminator heat maps.

    python examples/train_amp_maze.py                       # the maze preset, about 30 s
    python examples/train_amp_maze.py --iterations 300 --seed 1 --out runs/amp_maze_s1

Trains with the maze preset of ``examples/train_amp.py`` (every option of that script is
accepted except ``--env``; the script is imported, not copied) and saves to ``--out``
(default ``runs/amp_maze``):

- ``maze_policy.png``: the maze with 10 demonstrations and the mean policy's evaluation episodes;
- ``disc_heatmap.png``: the trained discriminator's style reward of transitions
  ``(s, s + h u)`` at every cell ``s``, averaged over 8 directions ``u`` (``h`` = the median demo
  step). The maze observation is the agent position ``(x, y)`` only, so ``[s, s']`` is the
  whole discriminator input, exactly as :class:`PairedObservation` builds it in training;
- with ``--directions``, one more heat map per direction of travel
  (``disc_heatmap_{right,down,left,up}.png``; y points down).

Prints a JSON summary (success rate, mean episode length, picture paths).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from imitenvs.core.scripts import load_script, run_main

EXAMPLE = Path(__file__).resolve().parent / "train_amp.py"
DIRECTIONS = {"right": (1.0, 0.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "up": (0.0, -1.0)}


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate, draw; returns (and prints) the JSON summary."""
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
        epilog="Other options go to examples/train_amp.py (see its --help).",
    )
    p.add_argument("--directions", action="store_true", help="also one heat map per direction")
    own, rest = p.parse_known_args(argv)
    if any(a == "--env" or a.startswith("--env=") for a in rest):
        p.error("train_amp_maze.py always trains on imitenvs/Maze-v0; drop --env")
    train_amp = load_script(EXAMPLE)
    args = train_amp.parse_args(["--env", "imitenvs/Maze-v0", *rest])
    if args.out is None:
        args.out = Path("runs") / "amp_maze"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    runner = train_amp.build_runner(args)
    if args.resume is not None:
        runner.load(args.resume)
    runner.train()
    out = runner.run.log_dir
    evaluation = train_amp.evaluate_maze(runner, args.eval_episodes, out / "maze_policy.png")
    pictures = {
        "policy": str(out / "maze_policy.png"),
        "heatmap": str(train_amp.save_disc_heatmap(runner, out / "disc_heatmap.png")),
    }
    if own.directions:
        for name, u in DIRECTIONS.items():
            path = train_amp.save_disc_heatmap(runner, out / f"disc_heatmap_{name}.png", u)
            pictures[f"heatmap_{name}"] = str(path)
    summary = {
        "env": args.env,
        "iterations": runner.iteration,
        "env_steps": runner.global_step,
        "checkpoint": str(out / "checkpoint_last.pt"),
        **evaluation,
        "pictures": pictures,
    }
    runner.close()
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
