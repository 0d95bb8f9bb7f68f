"""NEAR on the maze: PPO with the energy reward (stage 2 of NEAR).

    python examples/train_near_maze.py                  # trains the energy model first if missing
    python examples/train_near_maze.py --energy runs/near_maze/energy.pt --iterations 200
    python examples/train_near_maze.py --sigma-level -1   # NEAR's annealing from sigma = 20
    python examples/train_near_maze.py --resume runs/near_maze/checkpoint_000050.pt
    tensorboard --logdir runs

Loads the energy model from ``--energy`` (``examples/train_near_energy.py`` writes it; when the
file is missing this script trains it first, so one command works from scratch), then trains
PPO on ``w_task * r_task + w_energy * tanh((E - offset) / 10)`` at the sharpest noise level
(sigma = 0.01). Writes TensorBoard events and checkpoints to ``--out``, evaluates the mean
policy on fresh episodes and saves ``maze_policy.png`` (demonstrations and learned
trajectories) and ``energy_final_level.png`` (the energy at the level used last). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import gymnasium
import numpy as np
import torch

from imitenvs.agents.adversarial.near import NEARConfig, load_energy
from imitenvs.agents.onpolicy.runner import RunConfig, Runner, play_episode
from imitenvs.agents.presets import PRESETS
from imitenvs.core.scripts import load_script, run_main

log = logging.getLogger("train_near_maze")
ENV_ID = "imitenvs/Maze-v0"
# The trainer's NEAR maze preset (imitenvs.agents.presets, where the choices are explained).
PRESET = PRESETS[("near", "maze")]
PPO, NEAR_RL = PRESET.ppo, PRESET.near
NUM_ENVS, ITERATIONS = PRESET.num_envs, PRESET.iterations


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--energy", type=Path, default=Path("runs/near_maze/energy.pt"))
    p.add_argument("--energy-iterations", type=int, help="DSM steps if the energy is trained")
    p.add_argument("--num-envs", type=int, default=NUM_ENVS, help="parallel worlds")
    p.add_argument("--iterations", type=int, default=ITERATIONS, help="PPO iterations")
    p.add_argument("--num-steps", type=int, help="rollout length per iteration")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/near_maze"), help="log/checkpoint dir")
    p.add_argument("--save-every", type=int, default=50, help="checkpoint period, iterations")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from")
    p.add_argument(
        "--force",
        action="store_true",
        help="use --out even if another live run holds it or it has older checkpoints",
    )
    p.add_argument("--task-weight", type=float, default=NEAR_RL.task_weight)
    p.add_argument("--energy-weight", type=float, default=NEAR_RL.energy_weight)
    p.add_argument(
        "--sigma-level", type=int, default=NEAR_RL.sigma_level, help="-1: anneal; else fixed level"
    )
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--eval-episodes", type=int, default=20, help="evaluation episodes")
    p.add_argument("--no-video", action="store_true", help="skip the pictures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p.parse_args(argv)


def ensure_energy(args: argparse.Namespace) -> dict | None:
    """Train the energy model into ``args.energy`` when the file is missing."""
    if args.energy.is_file():
        return None
    log.info("%s is missing: training the energy model first", args.energy)
    argv = ["--env", ENV_ID, "--seed", str(args.seed), "--out", str(args.energy.parent)]
    argv += ["--energy", str(args.energy)]
    if args.energy_iterations is not None:
        argv += ["--iterations", str(args.energy_iterations)]
    argv += ["--no-picture"] * args.no_video + ["--no-progress"] * args.no_progress
    return load_script(Path(__file__).with_name("train_near_energy.py")).main(argv)


def build_runner(args: argparse.Namespace) -> Runner:
    ppo = PPO if args.num_steps is None else replace(PPO, num_steps=args.num_steps)
    near = NEARConfig(
        task_weight=args.task_weight, energy_weight=args.energy_weight, sigma_level=args.sigma_level
    )
    run = RunConfig(
        env_id=ENV_ID,
        num_envs=args.num_envs,
        iterations=args.iterations,
        seed=args.seed,
        log_dir=args.out,
        save_every=args.save_every,
        progress=not args.no_progress,
        force=args.force,
    )
    return Runner(run, ppo, near_cfg=near, energy=load_energy(args.energy))


def evaluate(runner: Runner, episodes: int, out: Path | None) -> dict:
    """Success rate and length of the mean policy on fresh episodes; optionally the pictures."""
    env = gymnasium.make(ENV_ID)
    results = [play_episode(runner.ppo, env, seed=10_000 + i) for i in range(episodes)]
    env.close()
    summary = {
        "success_rate": float(np.mean([r["success"] for r in results])),
        "mean_length": float(np.mean([r["steps"] for r in results])),
    }
    if out is not None:
        from imitenvs.data.demos import load_default_demos
        from imitenvs.viz import plot_maze

        near = runner.near
        demos = [s for s, _ in load_default_demos("maze").episodes()][:10]
        title = f"NEAR, {runner.global_step} env steps, level {near.level}"
        summary["picture"] = str(
            plot_maze(
                out / "maze_policy.png",
                demos=demos,
                policy=[r["observations"] for r in results],
                title=title,
            )
        )
        heatmap = load_script(Path(__file__).with_name("train_near_energy.py")).save_heatmap(
            near.energy.cpu(), near.level, out / "energy_final_level.png", "NEAR maze, final"
        )
        summary["heatmap"] = str(heatmap)
    return summary


def main(argv: list[str] | None = None) -> dict:
    """Train (the energy model if needed, then the policy), evaluate; returns a JSON summary."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    energy_summary = ensure_energy(args)
    runner = build_runner(args)
    if args.resume is not None:
        runner.load(args.resume)
    stats = runner.train()
    summary = {
        "env": ENV_ID,
        "energy": str(args.energy),
        "energy_training": energy_summary,
        "iterations": runner.iteration,
        "env_steps": runner.global_step,
        "checkpoint": str(args.out / "checkpoint_last.pt"),
        "final_level": runner.near.level,
        "final_sigma": runner.near.sigma,
        "last": {k: round(v, 4) for k, v in stats.items()},
        "eval": evaluate(runner, args.eval_episodes, None if args.no_video else args.out),
    }
    runner.close()
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
