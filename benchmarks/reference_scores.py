"""Measure the reference scores of `imitenvs bench` into assets/benchmark/reference_scores.json.

For each id two returns, each recorded with how it was measured:

- ``random``: uniform random actions (``RandomPolicy``);
- ``expert``: the best policy we ship or can compute.

Gridworlds (RLSP, tabular, 20 steps): both are *exact* expected returns from the initial state
by finite-horizon dynamic programming on the env's tabular MDP with its default (task) reward:
the optimal policy (``max`` over actions) and the uniform random policy (``mean`` over
actions). A Monte-Carlo mean of random episodes is stored beside the exact value as a check.

Planar: random = mean over ``--random-episodes`` episodes (env seeds 2000, 2001, ...); expert =
mean over ``--expert-episodes`` episodes of the scripted experts ``MazeExpert`` /
``PushTExpert`` (env seeds 1000, 1001, ..., the seeds of ``benchmarks/pusht_expert.py``).
Failed expert episodes are counted (the expert is not filtered to its successes). Example::

    python benchmarks/reference_scores.py --out assets/benchmark/reference_scores.json
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import imitenvs
from imitenvs.bench.evaluation import RandomPolicy, evaluate_policy, summarise
from imitenvs.core.files import atomic_write_json
from imitenvs.core.scripts import run_main
from imitenvs.envs.planar.experts import make_expert

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "benchmark" / "reference_scores.json"


def dp_returns(env_id: str) -> tuple[float, float, int]:
    """Exact (optimal, uniform random) expected returns of a gridworld id, and its horizon."""
    entry = imitenvs.get_entry(env_id)
    env = gymnasium.make(env_id)
    task = env.unwrapped
    mdp = task.mdp
    horizon = int(entry.max_episode_steps)
    reward = mdp.features @ np.asarray(task.reward_weights, dtype=np.float64)
    p = mdp.transition_matrix
    v_opt = np.zeros(mdp.n_states)
    v_rand = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v_opt = (p @ (reward + v_opt)).reshape(mdp.n_states, mdp.n_actions).max(axis=1)
        v_rand = (p @ (reward + v_rand)).reshape(mdp.n_states, mdp.n_actions).mean(axis=1)
    start = mdp.initial_distribution
    env.close()
    return float(start @ v_opt), float(start @ v_rand), horizon


def gridworld_row(env_id: str, mc_episodes: int) -> dict[str, Any]:
    expert, random_exact, horizon = dp_returns(env_id)
    env = gymnasium.make(env_id)
    seeds = list(range(2000, 2000 + mc_episodes))
    mc = summarise(evaluate_policy(env_id, RandomPolicy(env.action_space, 0), seeds))
    env.close()
    how_dp = f"exact expected return over {horizon} steps by finite-horizon dynamic programming"
    return {
        "random": random_exact,
        "expert": expert,
        "random_how": f"uniform random policy, {how_dp} (Monte-Carlo check: {mc['mean']:.4f} "
        f"± {mc['sem']:.4f} over {mc_episodes} episodes)",
        "expert_how": f"optimal policy for the env's default reward, {how_dp}",
        "random_monte_carlo": mc,
    }


def planar_row(env_id: str, task: str, random_episodes: int, expert_episodes: int) -> dict:
    env = gymnasium.make(env_id)
    policy = RandomPolicy(env.action_space, 0)
    env.close()
    rand = summarise(evaluate_policy(env_id, policy, range(2000, 2000 + random_episodes)))
    start = time.perf_counter()
    expert = summarise(
        evaluate_policy(env_id, make_expert(task), range(1000, 1000 + expert_episodes))
    )
    seconds = time.perf_counter() - start
    name = type(make_expert(task)).__name__
    return {
        "random": rand["mean"],
        "expert": expert["mean"],
        "random_how": f"uniform random actions, mean of {random_episodes} episodes "
        f"(env seeds 2000..{2000 + random_episodes - 1}), sem {rand['sem']:.3f}",
        "expert_how": f"scripted {name} (imitenvs.envs.planar.experts), mean of "
        f"{expert_episodes} episodes incl. failures (env seeds 1000..{1000 + expert_episodes - 1}),"
        f" sem {expert['sem']:.3f}; {seconds / expert_episodes:.2f} s per episode",
        "random_stats": rand,
        "expert_stats": expert,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--random-episodes", type=int, default=100)
    parser.add_argument("--expert-episodes", type=int, default=30)
    parser.add_argument("--mc-episodes", type=int, default=200)
    args = parser.parse_args()
    scores: dict[str, Any] = {}
    excluded: dict[str, str] = {}
    for env_id in imitenvs.list_envs("gridworld"):
        row = gridworld_row(env_id, args.mc_episodes)
        print(env_id, row["random"], row["expert"], flush=True)
        if abs(row["expert"] - row["random"]) < 1e-9:  # e.g. a zero task reward
            excluded[env_id] = (
                f"expert and random returns are equal ({row['expert']}): no score scale"
            )
        else:
            scores[env_id] = row
    for env_id, task in (("imitenvs/Maze-v0", "maze"), ("imitenvs/PushT-v0", "pusht")):
        scores[env_id] = planar_row(env_id, task, args.random_episodes, args.expert_episodes)
        print(env_id, scores[env_id]["random"], scores[env_id]["expert"], flush=True)
    document = {
        "format": "imitenvs-reference-scores",
        "format_version": 1,
        "measured_with": "python benchmarks/reference_scores.py "
        f"--random-episodes {args.random_episodes} --expert-episodes {args.expert_episodes} "
        f"--mc-episodes {args.mc_episodes}",
        "imitenvs_version": imitenvs.__version__,
        "python": platform.python_version(),
        "return": "undiscounted sum of the env's reward over one episode of the registered length",
        "scores": scores,
        "excluded": excluded,
    }
    atomic_write_json(args.out, document)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_main(main)
