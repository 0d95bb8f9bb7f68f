"""Success rate of our planar experts over many seeded episodes (PushT by default).

Runs ``--episodes`` episodes of ``imitenvs/PushT-v0`` (and, with ``--maze``, of
``imitenvs/Maze-v0``) with seeds ``--seed``, ``--seed + 1``, ... and prints one JSON document:
success rate with a 95 % Wilson interval, episode lengths, returns and wall time per episode.
The seeds default to 1000 onwards, away from the 0.. used for the shipped demos. Example::

    python benchmarks/pusht_expert.py --episodes 100 --maze
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import gymnasium
import numpy as np

import imitenvs
from imitenvs.core.scripts import run_main
from imitenvs.data.collect import run_episode
from imitenvs.envs.planar.experts import make_expert


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(task: str, env_id: str, episodes: int, seed: int) -> dict:
    env = gymnasium.make(env_id)
    expert = make_expert(task)
    lengths, returns, successes = [], [], 0
    start = time.perf_counter()
    for i in range(episodes):
        states, _, success, ret = run_episode(env, expert, seed + i)
        lengths.append(len(states) - 1)
        returns.append(ret)
        successes += success
    elapsed = time.perf_counter() - start
    low, high = wilson_interval(successes, episodes)
    return {
        "env_id": env_id,
        "expert": type(expert).__name__,
        "episodes": episodes,
        "seeds": [seed, seed + episodes - 1],
        "success_rate": successes / episodes,
        "success_rate_95ci": [round(low, 4), round(high, 4)],
        "mean_length": float(np.mean(lengths)),
        "mean_return": float(np.mean(returns)),
        "seconds_per_episode": elapsed / episodes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--maze", action="store_true", help="also evaluate the maze expert")
    args = parser.parse_args()
    results = [evaluate("pusht", "imitenvs/PushT-v0", args.episodes, args.seed)]
    if args.maze:
        results.append(evaluate("maze", "imitenvs/Maze-v0", args.episodes, args.seed))
    report = {
        "imitenvs": imitenvs.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
