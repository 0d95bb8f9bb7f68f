"""Train AMP (PPO + adversarial motion prior) on the humanoid or the maze, or DeepMimic tracking.

    python examples/train_amp.py                      # HumanoidAMP-v0, walk clip, CPU, minutes
    python examples/train_amp.py --algo deepmimic     # PPO tracking the walk clip (HumanoidImitate)
    python examples/train_amp.py --num-envs 4096 --device cuda --iterations 5000
    python examples/train_amp.py --env imitenvs/Maze-v0
    python examples/train_amp.py --resume runs/amp_humanoid/checkpoint_000050.pt
    torchrun --nproc_per_node=2 examples/train_amp.py --env imitenvs/Maze-v0   # 2 ranks
    tensorboard --logdir runs

Writes TensorBoard events and checkpoints to ``--out``; at the end a GIF of the humanoid
policy (``policy.gif``) or, for the maze, the picture with learned trajectories
(``maze_policy.png``) and the discriminator's style-reward heat map (``disc_heatmap.png``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; before mujoco is imported

import gymnasium
import numpy as np
import torch

import imitenvs
from imitenvs.agents import distributed
from imitenvs.agents.amp import AMPConfig
from imitenvs.agents.evaluation import evaluation_kwargs, humanoid_pose_error, ppo_policy
from imitenvs.agents.ppo import PPOConfig
from imitenvs.agents.runner import RunConfig, Runner, play_episode
from imitenvs.core.scripts import run_main

log = logging.getLogger("train_amp")


@dataclass(frozen=True)
class Preset:
    """Defaults of one algorithm on one env family (small enough for a 2-core laptop)."""

    num_envs: int
    iterations: int
    ppo: PPOConfig
    amp: AMPConfig | None
    """the discriminator's config; ``None``: plain PPO on the env's reward (DeepMimic)"""
    env_kwargs: dict
    large_epochs: tuple[int, int] | None = None
    """``(PPO epochs, discriminator epochs)`` once a rollout holds at least
    :data:`LARGE_ROLLOUT` samples (``num_envs x num_steps``): on a CPU the learner's cost per
    sample must stay below the simulator's, so big rollouts take fewer passes (``None``: keep
    the preset's epochs at every size)"""


LARGE_ROLLOUT = 8192
"""rollout size (samples per iteration) from which a preset's ``large_epochs`` apply"""

PRESETS = {
    "humanoid": Preset(
        num_envs=64,
        iterations=300,
        ppo=PPOConfig(num_steps=16, num_minibatches=2, epochs=4, learning_rate=5e-5),
        amp=AMPConfig(
            batch_size=256, epochs=2, replay_size=20_000, task_weight=0.0, style_weight=1.0
        ),
        env_kwargs={"motion_file": "walk.yaml"},
        large_epochs=(2, 1),
    ),
    "maze": Preset(
        num_envs=16,
        iterations=100,
        ppo=PPOConfig(
            num_steps=32,
            num_minibatches=4,
            epochs=4,
            learning_rate=1e-3,
            init_log_std=-1.0,
            value_coef=1.0,
            gamma=0.99,
            lam=0.95,
        ),
        amp=AMPConfig(
            batch_size=128,
            epochs=2,
            learning_rate=1e-4,
            grad_penalty=10.0,
            replay_size=10_000,
            replay_keep_prob=0.1,
            task_weight=0.5,
            style_weight=0.5,
            delta_features=True,
        ),
        env_kwargs={},
    ),
}


PRESETS["deepmimic"] = Preset(
    num_envs=512,
    iterations=200,
    ppo=PPOConfig(
        num_steps=32,
        num_minibatches=8,
        epochs=5,
        learning_rate=1e-4,
        value_coef=1.0,
        init_log_std=-3.0,
    ),
    amp=None,
    env_kwargs={
        "motion_file": "walk.yaml",
        "pose_termination_distance": 0.5,
        "reference_obs_steps": (1,),
    },
)
DISC_MINIBATCHES = 4
"""at most this many discriminator minibatches per epoch: the AMP batch grows with N x T"""
ALGOS = {"amp": "imitenvs/HumanoidAMP-v0", "deepmimic": "imitenvs/HumanoidImitate-v0"}
"""each algorithm and its default env id"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--algo",
        choices=sorted(ALGOS),
        default="amp",
        help="amp: PPO + discriminator (style reward); deepmimic: PPO on the tracking reward",
    )
    p.add_argument("--env", help="env id (amp: HumanoidAMP-v0; deepmimic: HumanoidImitate-v0)")
    p.add_argument("--num-envs", type=int, help="parallel worlds (preset default)")
    p.add_argument("--iterations", type=int, help="PPO iterations (preset default)")
    p.add_argument("--num-steps", type=int, help="rollout length per iteration")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="log/checkpoint dir (runs/amp_<family>)")
    p.add_argument("--save-every", type=int, default=50, help="checkpoint period, iterations")
    p.add_argument(
        "--keep-checkpoints", type=int, default=2, help="numbered checkpoints kept (MILO: all)"
    )
    p.add_argument("--minutes", type=float, help="stop after this much wall-clock time")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from")
    p.add_argument(
        "--force",
        action="store_true",
        help="use --out even if another live run holds it or it has older checkpoints",
    )
    p.add_argument("--motion-file", help="humanoid clip or YAML list (default walk.yaml)")
    p.add_argument("--task-weight", type=float, help="weight of the env reward (preset)")
    p.add_argument("--style-weight", type=float, help="weight of the style reward (preset)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-video", action="store_true", help="skip the final GIF / picture")
    p.add_argument("--eval-episodes", type=int, default=10, help="maze evaluation episodes")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--pose-error-every",
        type=float,
        default=1.0,
        help="humanoid: minutes between DTW pose-error evaluations logged as eval/* (0: never)",
    )
    args = p.parse_args(argv)
    args.env = args.env or ALGOS[args.algo]
    return args


def family_of(env_id: str) -> str:
    entry = imitenvs.registry.get_entry(env_id)
    if entry.family == "humanoid":
        return "humanoid"
    if env_id == "imitenvs/Maze-v0":
        return "maze"
    raise ValueError(
        f"train_amp.py has presets for the humanoid ids and imitenvs/Maze-v0, not {env_id!r}"
    )


def preset_of(args: argparse.Namespace) -> str:
    """The :data:`PRESETS` key of ``--algo`` on ``--env``."""
    family = family_of(args.env)
    if args.algo == "amp":
        return family
    entry_point = imitenvs.registry.get_entry(args.env).entry_point
    if entry_point != imitenvs.registry.get_entry(ALGOS["deepmimic"]).entry_point:
        raise ValueError(
            f"--algo deepmimic tracks a reference clip: use {ALGOS['deepmimic']}, not {args.env!r}"
        )
    return "deepmimic"


def build_runner(args: argparse.Namespace, dist: distributed.DistInfo | None = None) -> Runner:
    name = preset_of(args)
    preset = PRESETS[name]
    ppo = preset.ppo
    if args.num_steps is not None:
        ppo = replace(ppo, num_steps=args.num_steps)
    amp = preset.amp
    samples = ppo.num_steps * (args.num_envs or preset.num_envs)
    large = preset.large_epochs is not None and samples >= LARGE_ROLLOUT
    if large:
        ppo = replace(ppo, epochs=preset.large_epochs[0])
    if amp is not None:
        weights = {"task_weight": args.task_weight, "style_weight": args.style_weight}
        amp = replace(amp, **{k: v for k, v in weights.items() if v is not None})
        amp = replace(amp, batch_size=max(amp.batch_size, samples // DISC_MINIBATCHES))
        if large:
            amp = replace(amp, epochs=preset.large_epochs[1])
    env_kwargs = dict(preset.env_kwargs)
    if args.motion_file:
        env_kwargs["motion_file"] = args.motion_file
    run = RunConfig(
        env_id=args.env,
        num_envs=args.num_envs or preset.num_envs,
        iterations=args.iterations or preset.iterations,
        seed=args.seed,
        device=args.device,
        log_dir=args.out or Path("runs") / (name if name == "deepmimic" else f"amp_{name}"),
        save_every=args.save_every,
        keep_checkpoints=args.keep_checkpoints,
        env_kwargs=env_kwargs,
        progress=not args.no_progress,
        max_minutes=args.minutes,
        force=args.force,
    )
    return Runner(run, ppo, amp, dist=dist)


def evaluate_maze(runner: Runner, episodes: int, picture: Path | None) -> dict:
    """Success rate of the mean policy on fresh maze episodes; optionally the picture."""
    env = gymnasium.make(runner.run.env_id)
    results = [play_episode(runner.ppo, env, seed=10_000 + i) for i in range(episodes)]
    env.close()
    if picture is not None:
        from imitenvs.viz import plot_maze

        plot_maze(
            picture,
            demos=maze_demos()[:10],
            policy=[r["observations"] for r in results],
            title=f"AMP, {runner.global_step} env steps",
        )
    return {
        "success_rate": float(np.mean([r["success"] for r in results])),
        "mean_length": float(np.mean([len(r["observations"]) - 1 for r in results])),
    }


def maze_demos() -> list[np.ndarray]:
    """The shipped maze demonstrations (the AMP demos), one ``(T, 2)`` array per episode."""
    from imitenvs.data.demos import load_default_demos

    return [s for s, _ in load_default_demos("maze").episodes()]


def save_disc_heatmap(
    runner: Runner, path: Path, direction: tuple[float, float] | None = None
) -> Path:
    """Heat map of the trained discriminator's style reward over maze transitions.

    Each cell centre ``s`` is scored at ``s' = s + h u``, ``h`` the median step of the demos,
    ``u`` = ``direction`` or the mean over 8 directions. The discriminator sees ``[s, s']``
    as in training (the maze observation is the position only, so no other field is set).
    """
    from imitenvs.agents.evaluation import transition_style_reward
    from imitenvs.viz import maze_heatmap

    demos = maze_demos()
    steps = np.concatenate([np.linalg.norm(np.diff(d, axis=0), axis=1) for d in demos])
    step = float(np.median(steps))
    how = "mean of 8 directions" if direction is None else f"direction {tuple(direction)}"
    return maze_heatmap(
        transition_style_reward(runner.amp.disc, runner.amp_cfg),
        path,
        step=step,
        direction=direction,
        demos=demos[:10],
        label="style reward",
        title=f"AMP style reward of (s, s + {step:.1f} u), s = (x, y)\n"
        f"{how}, {runner.global_step} env steps",
    )


def humanoid_gif(runner: Runner, path: Path) -> dict:
    """Render one episode of the mean policy (at most 150 steps) to a GIF."""
    from imitenvs.viz import save_gif

    kwargs = evaluation_kwargs(runner.run.env_kwargs)
    env = gymnasium.make(runner.run.env_id, render_mode="rgb_array", **kwargs)
    result = play_episode(runner.ppo, env, seed=10_000, render=True, max_steps=150)
    env.close()
    save_gif(np.stack(result["frames"]), path, fps=30)
    return {"episode_length": len(result["observations"]) - 1, "gif": str(path)}


def main(argv: list[str] | None = None) -> dict:
    """Train, save, evaluate; returns (and prints) a JSON summary. Under ``torchrun`` every
    rank trains; rank 0 evaluates, draws and prints."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    dist, args.device = distributed.init(args.device)
    try:
        runner = build_runner(args, dist)
        if args.resume is not None:
            runner.load(args.resume)
        stats = runner.train(pose_error_logger(args) if dist.is_main else None)
        summary = {
            "env": args.env,
            "ranks": dist.world_size,
            "iterations": runner.iteration,
            "env_steps": runner.global_step,
            "checkpoint": str(runner.run.log_dir / "checkpoint_last.pt"),
            "last": {k: round(v, 4) for k, v in stats.items()},
        }
        if dist.is_main:
            summary["eval"] = evaluate(runner, args)
            print(json.dumps(summary, indent=1))
        runner.close()
    finally:
        distributed.shutdown()
    return summary


def pose_error_logger(args: argparse.Namespace) -> Callable[[Runner], dict] | None:
    """For humanoid ids: every ``--pose-error-every`` minutes of wall-clock time, the DTW pose
    error of the mean policy (3 episodes; :mod:`imitenvs.agents.evaluation`) as ``eval/*``
    scalars, with the minutes since the start (TensorBoard also records wall time)."""
    if family_of(args.env) != "humanoid" or args.pose_error_every <= 0:
        return None
    start, due = time.perf_counter(), 0.0

    def log_pose_error(runner: Runner) -> dict:
        nonlocal due
        minutes = (time.perf_counter() - start) / 60
        if minutes < due:
            return {}
        due = minutes + args.pose_error_every
        kwargs = evaluation_kwargs(runner.run.env_kwargs)  # falls end episodes, not strays
        result = humanoid_pose_error(ppo_policy(runner.ppo), runner.run.env_id, 3, 10_000, kwargs)
        return {
            "eval/dtw_pose_rmse": result["dtw_pose_rmse"]["mean"],
            "eval/dtw_pose_error": result["dtw_pose_error"]["mean"],
            "eval/episode_length": result["episode_length"]["mean"],
            "eval/minutes": minutes,
        }

    return log_pose_error


def evaluate(runner: Runner, args: argparse.Namespace) -> dict | None:
    """The maze's success rate and pictures, or the humanoid GIF (``None``: nothing to do)."""
    out = runner.run.log_dir
    if family_of(args.env) == "maze":
        picture = None if args.no_video else out / "maze_policy.png"
        result = evaluate_maze(runner, args.eval_episodes, picture)
        if not args.no_video:
            result["heatmap"] = str(save_disc_heatmap(runner, out / "disc_heatmap.png"))
        return result
    return None if args.no_video else humanoid_gif(runner, out / "policy.gif")


if __name__ == "__main__":
    run_main(main)
