"""Success rate of AMP on the maze: ``examples/train_amp.py --env imitenvs/Maze-v0`` per seed.

    python benchmarks/amp_maze.py --seeds 0 1 2 --iterations 300

Trains with the example's maze preset, evaluates the mean policy on ``--eval-episodes`` fresh
episodes per seed and prints one JSON object (per-seed and mean success rate, wall time).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from imitenvs.core.scripts import load_script, run_main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_amp.py"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--iterations", type=int, help="PPO iterations (example's preset default)")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--out", type=Path, help="keep runs here (default: a temporary directory)")
    args = p.parse_args(argv)
    train_amp = load_script(EXAMPLE)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for seed in args.seeds:
            argv_seed = [
                "--env",
                "imitenvs/Maze-v0",
                "--seed",
                str(seed),
                "--out",
                str(root / f"seed{seed}"),
                "--eval-episodes",
                str(args.eval_episodes),
                "--no-progress",
            ]
            if args.iterations:
                argv_seed += ["--iterations", str(args.iterations)]
            start = time.perf_counter()
            summary = train_amp.main(argv_seed)
            runs.append(
                {
                    "seed": seed,
                    "env_steps": summary["env_steps"],
                    "seconds": round(time.perf_counter() - start, 1),
                    **summary["eval"],
                }
            )
    result = {
        "benchmark": "amp_maze",
        "mean_success_rate": float(np.mean([r["success_rate"] for r in runs])),
        "runs": runs,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run_main(main)
