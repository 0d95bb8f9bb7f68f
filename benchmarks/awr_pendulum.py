"""AWR solves gymnasium ``Pendulum-v1`` (:mod:`imitenvs.agents.offpolicy.awr`).

    python benchmarks/awr_pendulum.py                       # 160k steps, 8 envs, about a minute
    python benchmarks/awr_pendulum.py --num-envs 1 --timesteps 20000    # one single env
    python benchmarks/awr_pendulum.py --quick               # CI: 2 iterations, no verdict

Trains :class:`~imitenvs.agents.offpolicy.awr_runner.AWRRunner` with the trainer's gym preset
(:data:`imitenvs.agents.presets.AWR_PRESETS`, the same as ``python -m imitenvs.agents.train
--algo awr --env Pendulum-v1``) on one torch thread and prints one JSON object with the mean
return of the deterministic policy over 10 episodes (``solved``: >= -200), the steps and the
wall time.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium
import numpy as np
import torch

from imitenvs.agents.evaluation import ppo_policy, run_episodes
from imitenvs.agents.offpolicy.awr_runner import AWRRunner
from imitenvs.agents.onpolicy.runner import RunConfig
from imitenvs.agents.presets import AWR_PRESETS
from imitenvs.core.scripts import run_main

ENV_ID = "Pendulum-v1"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--timesteps", type=int, default=160_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes")
    p.add_argument("--quick", action="store_true", help="2 iterations and 1 episode (CI)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = AWR_PRESETS["gym"].awr
    per_iteration = cfg.num_steps * args.num_envs
    iterations = 2 if args.quick else max(1, args.timesteps // per_iteration)
    episodes = 1 if args.quick else args.episodes
    run = RunConfig(
        env_id=ENV_ID,
        num_envs=args.num_envs,
        iterations=iterations,
        seed=args.seed,
        save_every=iterations,
        progress=False,
        algo="awr",
    )
    start = time.perf_counter()
    runner = AWRRunner(run, cfg)
    try:
        runner.train()
        seconds = time.perf_counter() - start
        env = gymnasium.make(ENV_ID)
        space = env.action_space
        env.close()
        fn = ppo_policy(runner.agent, space)
        returns = [r["return"] for r in run_episodes(fn, ENV_ID, episodes, 1000)]
    finally:
        runner.close()
    result = {
        "benchmark": "awr_pendulum",
        "num_envs": args.num_envs,
        "seed": args.seed,
        "env_steps": runner.global_step,
        "mean_return": round(float(np.mean(returns)), 1),
        "solved": None if args.quick else bool(np.mean(returns) >= -200.0),
        "train_seconds": round(seconds, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run_main(main)
