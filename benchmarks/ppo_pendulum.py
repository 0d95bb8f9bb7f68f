"""PPO solves gymnasium ``Pendulum-v1`` through the agents' vectorised code path.

    python benchmarks/ppo_pendulum.py --timesteps 200000

Trains :class:`imitenvs.agents.onpolicy.runner.Runner` (PPO only, a SAME_STEP ``SyncVectorEnv``; the
``[-1, 1]`` policy range is mapped onto the torque box) and prints one JSON object with the
mean return of the deterministic policy over 10 episodes (``solved``: >= -200), the steps and
the wall time.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium
import numpy as np
import torch

from imitenvs.agents.onpolicy.runner import RunConfig, Runner, play_episode
from imitenvs.agents.presets import GYM_PPO
from imitenvs.core.scripts import run_main


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--timesteps", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=8)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ppo = GYM_PPO  # the trainer's preset for gymnasium ids (imitenvs.agents.presets)
    iterations = max(1, args.timesteps // (ppo.num_steps * args.num_envs))
    run = RunConfig(
        env_id="Pendulum-v1",
        num_envs=args.num_envs,
        iterations=iterations,
        seed=args.seed,
        save_every=iterations,
        progress=False,
    )
    start = time.perf_counter()
    runner = Runner(run, ppo)
    runner.train()
    seconds = time.perf_counter() - start
    env = gymnasium.make("Pendulum-v1")
    env = gymnasium.wrappers.RescaleAction(env, -1.0, 1.0)  # the policy's units
    returns = [play_episode(runner.ppo, env, seed=1000 + i)["return"] for i in range(10)]
    env.close()
    runner.close()
    result = {
        "benchmark": "ppo_pendulum",
        "env_steps": runner.global_step,
        "mean_return": round(float(np.mean(returns)), 1),
        "solved": bool(np.mean(returns) >= -200.0),
        "train_seconds": round(seconds, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run_main(main)
