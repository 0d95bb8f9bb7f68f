"""Quick start: list the families, make one env of each, roll out a random policy.

    python examples/quickstart.py [--episodes 3] [--seed 0]

Prints each family's ids and, for one env per family, the mean return of a random policy.
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

import imitenvs
from imitenvs.core.scripts import run_main


def random_returns(env_id: str, episodes: int, seed: int) -> list[float]:
    """Undiscounted returns of a uniformly random policy (env and action sampling seeded)."""
    env = gymnasium.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3, help="episodes per env")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"imitenvs {imitenvs.__version__}: {len(imitenvs.list_envs())} registered ids")
    for family in imitenvs.families():
        ids = imitenvs.list_envs(family)
        print(
            f"\n[{family}] {len(ids)} ids: {', '.join(i.split('/')[1] for i in ids[:6])}"
            + (", ..." if len(ids) > 6 else "")
        )
        env_id = ids[0]
        if imitenvs.get_entry(env_id).multiagent:
            print(
                f"  {env_id}: PettingZoo env, built with imitenvs.make_parallel (extra pettingzoo)"
            )
            continue
        start = time.perf_counter()
        returns = random_returns(env_id, args.episodes, args.seed)
        elapsed = time.perf_counter() - start
        print(
            f"  {env_id}: random-policy return {np.mean(returns):.2f} ± {np.std(returns):.2f} "
            f"over {args.episodes} episodes ({elapsed:.1f} s)"
        )


if __name__ == "__main__":
    run_main(main)
