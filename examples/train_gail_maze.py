"""GAIL (``imitation`` library) on the maze, from the shipped expert demonstrations.

1. Read the maze demos (``load_default_demos("maze")``: 50 successful expert episodes of about
   172 steps) through the ``imitation`` bridge with ``horizon=H``: every episode becomes an
   ``H``-step trajectory, padded after the goal with the absorbing state
   (:func:`imitenvs.adapters.imitation.demo_dataset_trajectories`).
2. Train GAIL with a PPO generator on ``H``-step episodes of ``imitenvs/Maze-v0``
   (:func:`imitenvs.adapters.imitation.fixed_horizon_vec_env`: after the goal the episode goes
   on in the same absorbing state, so the episode length says nothing to the discriminator).
3. Print the learner's success rate and return beside the demos'.

Needs the ``imitation`` extra (``pip install -e ".[imitation]"`` and
``pip install --no-deps imitation==1.0.1``). A real run (defaults) takes an hour or more on a
CPU; for a smoke test::

    python examples/train_gail_maze.py --gail-steps 128 --n-envs 1 --eval-episodes 1
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import gymnasium
import numpy as np
import torch
from stable_baselines3 import PPO

from imitenvs.adapters.imitation import demo_dataset_trajectories, train_gail
from imitenvs.core.checks import check_positive_int
from imitenvs.core.scripts import run_main
from imitenvs.data.demos import load_default_demos

ENV_ID = "imitenvs/Maze-v0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--horizon", type=int, default=200, help="fixed episode length (steps)")
    p.add_argument("--gail-steps", type=int, default=500_000, help="generator env steps")
    p.add_argument("--n-envs", type=int, default=4, help="parallel envs of the generator")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="folder for the logs and policy (default: temp)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    args = p.parse_args(argv)
    for name in ("horizon", "gail_steps", "n_envs", "eval_episodes", "torch_threads"):
        check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    return args


def train_maze_gail(args: argparse.Namespace, logs: Path) -> PPO:
    """GAIL with a PPO generator on ``args.horizon``-step maze episodes."""
    trajectories = demo_dataset_trajectories(load_default_demos("maze"), horizon=args.horizon)
    if not trajectories:
        raise ValueError(f"no demonstration fits --horizon {args.horizon}")
    return train_gail(
        ENV_ID, trajectories, args.gail_steps, args.seed, n_envs=args.n_envs,
        horizon=args.horizon, log_dir=logs, ent_coef=0.0,
    )  # fmt: skip


def evaluate(model: PPO, episodes: int, seed: int) -> tuple[float, float]:
    """(success rate, mean return) of ``model`` over ``episodes`` maze episodes."""
    env = gymnasium.make(ENV_ID)
    successes, returns = [], []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        total, done, info = 0.0, False, {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        successes.append(bool(info.get("is_success", False)))
        returns.append(total)
        obs, _ = env.reset()
    env.close()
    return float(np.mean(successes)), float(np.mean(returns))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="gail-maze-"))
    learner = train_maze_gail(args, out / "logs")
    learner.save(out / "gail_maze_policy.zip")
    success, mean_return = evaluate(learner, args.eval_episodes, args.seed + 1)
    demos = load_default_demos("maze").metadata
    print(f"demos: success {demos.get('success_rate')}, return {demos.get('mean_return')}")
    print(f" GAIL: success {success:.2f}, return {mean_return:.1f} ({out})")
    return {"success_rate": success, "mean_return": mean_return}


if __name__ == "__main__":
    run_main(main)
