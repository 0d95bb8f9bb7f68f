"""CEM planning in the maze, then the maze picture with the planned trajectories.

    python examples/cem_maze.py --episodes 3 --out runs/cem_maze.png

The maze's own reward is sparse (+1000 at the goal), so the planner scores a sequence by
``reward - distance_to_goal`` summed over its steps (``--objective task`` uses the reward only).
Prints a JSON summary (success rate, steps, seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.agents.cem import CEMConfig, CEMPlanner, run_episode, task_reward
from imitenvs.core.scripts import run_main
from imitenvs.viz import plot_maze


def reward_minus_distance(reward: float, info: dict[str, Any]) -> float:
    """Dense maze objective: the task reward minus the distance to the goal (arena units)."""
    return reward - float(info["distance_to_goal"])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--horizon", type=int, default=8)
    p.add_argument("--num-samples", type=int, default=16)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--max-steps", type=int, help="stop episodes early (default: time limit)")
    p.add_argument("--objective", choices=("distance", "task"), default="distance")
    p.add_argument("--out", type=Path, default=Path("runs/cem_maze.png"))
    args = p.parse_args(argv)

    env = gymnasium.make("imitenvs/Maze-v0")
    cfg = CEMConfig(horizon=args.horizon, num_samples=args.num_samples, iterations=args.iterations)
    objective = reward_minus_distance if args.objective == "distance" else task_reward
    planner = CEMPlanner(env, cfg, objective, seed=args.seed)
    start = time.perf_counter()
    results = [
        run_episode(env, planner, seed=args.seed + i, max_steps=args.max_steps)
        for i in range(args.episodes)
    ]
    seconds = time.perf_counter() - start
    env.close()
    plot_maze(args.out, policy=[r["observations"] for r in results], title="CEM planner")
    summary = {
        "success_rate": float(np.mean([r["success"] for r in results])),
        "mean_steps": float(np.mean([r["steps"] for r in results])),
        "seconds": round(seconds, 2),
        "picture": str(args.out),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    run_main(main)
