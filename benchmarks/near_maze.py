"""Success rate of NEAR on the maze: energy training + RL per seed, with wall times.

    python benchmarks/near_maze.py --seeds 0 1 2

For each seed runs ``examples/train_near_energy.py --env imitenvs/Maze-v0`` (the energy
model) and then ``examples/train_near_maze.py`` (PPO with the energy reward) with their
presets, evaluates the mean policy on ``--eval-episodes`` fresh episodes and prints one JSON
object: per-seed success rate, episode length, final noise level, energy / RL / total seconds,
the mean success rate, and the machine's load average before and after (the bar: >= 90 %
success within 10 minutes per seed on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from imitenvs.core.scripts import load_script, run_main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_seed(seed: int, root: Path, args: argparse.Namespace) -> dict:
    """Energy training, then RL and evaluation, for one seed; returns its JSON row."""
    energy_path = root / "energy.pt"
    argv = ["--env", "imitenvs/Maze-v0", "--seed", str(seed), "--out", str(root)]
    argv += ["--no-picture", "--no-progress"]
    if args.energy_iterations:
        argv += ["--iterations", str(args.energy_iterations)]
    start = time.perf_counter()
    energy = load_script(EXAMPLES / "train_near_energy.py").main(argv)
    energy_seconds = time.perf_counter() - start
    argv = ["--energy", str(energy_path), "--seed", str(seed), "--out", str(root)]
    argv += ["--eval-episodes", str(args.eval_episodes), "--no-progress", "--no-video"]
    if args.iterations:
        argv += ["--iterations", str(args.iterations)]
    start = time.perf_counter()
    summary = load_script(EXAMPLES / "train_near_maze.py").main(argv)
    rl_seconds = time.perf_counter() - start
    return {
        "seed": seed,
        "energy_iterations": energy["iterations"],
        "env_steps": summary["env_steps"],
        "final_level": summary["final_level"],
        "energy_seconds": round(energy_seconds, 1),
        "rl_seconds": round(rl_seconds, 1),
        "seconds": round(energy_seconds + rl_seconds, 1),
        **summary["eval"],
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--energy-iterations", type=int, help="DSM steps (example's preset)")
    p.add_argument("--iterations", type=int, help="PPO iterations (example's preset)")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--out", type=Path, help="keep runs here (default: a temporary directory)")
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for seed in args.seeds:
            runs.append(run_seed(seed, root / f"seed{seed}", args))
    result = {
        "benchmark": "near_maze",
        "mean_success_rate": float(np.mean([r["success_rate"] for r in runs])),
        "max_seconds": max(r["seconds"] for r in runs),
        "cpus": os.cpu_count(),
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "runs": runs,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run_main(main)
