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
Failed expert episodes are counted (the expert is not filtered to its successes).

Humanoid walk (task ``imitenvs/HumanoidImitate-v0@walk``): the env kwargs are those the shipped
DeepMimic walk policy (``pretrained:deepmimic_walk``) is evaluated with (its run's kwargs with
the training-only pose termination off, ``agents.evaluation.evaluation_kwargs``); random = mean
over ``--humanoid-random-episodes`` episodes of uniform random actions (env seeds 2000, ...);
expert = mean over ``--humanoid-expert-episodes`` episodes of that policy's mean action (env
seeds 1000, ...), one torch thread. ``--only humanoid-walk`` measures just this row and updates
it in an existing table. Example::

    python benchmarks/reference_scores.py --out assets/benchmark/reference_scores.json
    python benchmarks/reference_scores.py --only humanoid-walk
"""

from __future__ import annotations

import argparse
import json
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


HUMANOID_WALK = "imitenvs/HumanoidImitate-v0@walk"
HUMANOID_WALK_POLICY = "deepmimic_walk"


def humanoid_walk_row(random_episodes: int, expert_episodes: int) -> dict[str, Any]:
    import torch

    from imitenvs.agents.evaluation import evaluation_kwargs, load_policy_with_meta
    from imitenvs.bench.algos import pretrained_policy

    torch.set_num_threads(1)
    _, run, meta = load_policy_with_meta(f"pretrained:{HUMANOID_WALK_POLICY}")
    env_id, kwargs = run.env_id, evaluation_kwargs(run.env_kwargs)
    env = gymnasium.make(env_id, **kwargs)
    policy = RandomPolicy(env.action_space, 0)
    env.close()
    rand = summarise(evaluate_policy(env_id, policy, range(2000, 2000 + random_episodes), kwargs))
    start = time.perf_counter()
    expert_fn = pretrained_policy(HUMANOID_WALK_POLICY, env_id, kwargs)
    expert = summarise(
        evaluate_policy(env_id, expert_fn, range(1000, 1000 + expert_episodes), kwargs)
    )
    seconds = time.perf_counter() - start
    return {
        "env_id": env_id,
        "env_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "random": rand["mean"],
        "expert": expert["mean"],
        "random_how": f"uniform random actions, mean of {random_episodes} episodes "
        f"(env seeds 2000..{2000 + random_episodes - 1}), sem {rand['sem']:.3f}",
        "expert_how": f"shipped DeepMimic PPO policy pretrained:{HUMANOID_WALK_POLICY} "
        f"(iteration {meta['iteration']}, {meta['env_steps']} env steps), deterministic mean "
        f"action, mean of {expert_episodes} episodes incl. falls (env seeds "
        f"1000..{1000 + expert_episodes - 1}), sem {expert['sem']:.3f}; "
        f"{seconds / expert_episodes:.2f} s per episode on one CPU thread",
        "random_stats": rand,
        "expert_stats": expert,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--random-episodes", type=int, default=100)
    parser.add_argument("--expert-episodes", type=int, default=30)
    parser.add_argument("--mc-episodes", type=int, default=200)
    parser.add_argument("--humanoid-random-episodes", type=int, default=20)
    parser.add_argument("--humanoid-expert-episodes", type=int, default=10)
    parser.add_argument(
        "--only", choices=["humanoid-walk"], help="measure one row; update it in --out"
    )
    args = parser.parse_args()
    if args.only == "humanoid-walk":
        try:
            document = json.loads(args.out.read_text())
            scores = document["scores"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"--only needs a reference table at {args.out}: {exc}") from None
        scores[HUMANOID_WALK] = humanoid_walk_row(
            args.humanoid_random_episodes, args.humanoid_expert_episodes
        )
        document["measured_with_" + args.only] = (
            f"python benchmarks/reference_scores.py --only {args.only} "
            f"--humanoid-random-episodes {args.humanoid_random_episodes} "
            f"--humanoid-expert-episodes {args.humanoid_expert_episodes}"
        )
        atomic_write_json(args.out, document)
        print(HUMANOID_WALK, scores[HUMANOID_WALK]["random"], scores[HUMANOID_WALK]["expert"])
        print(f"wrote {args.out}")
        return
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
    scores[HUMANOID_WALK] = humanoid_walk_row(
        args.humanoid_random_episodes, args.humanoid_expert_episodes
    )
    print(HUMANOID_WALK, scores[HUMANOID_WALK]["random"], scores[HUMANOID_WALK]["expert"])
    document = {
        "format": "imitenvs-reference-scores",
        "format_version": 1,
        "measured_with": "python benchmarks/reference_scores.py "
        f"--random-episodes {args.random_episodes} --expert-episodes {args.expert_episodes} "
        f"--mc-episodes {args.mc_episodes} "
        f"--humanoid-random-episodes {args.humanoid_random_episodes} "
        f"--humanoid-expert-episodes {args.humanoid_expert_episodes}",
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
