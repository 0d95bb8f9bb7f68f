"""Learning evidence for AMP on HumanoidAMP: reward, episode length and DTW pose error over time.

    python benchmarks/amp_humanoid.py --minutes 20                    # CPU, the example's preset
    python benchmarks/amp_humanoid.py --minutes 10 --device cuda --num-envs 4096

Trains with ``examples/train_amp.py``'s humanoid preset (walk clip) for a wall-clock budget.
Every ``--eval-every`` minutes (and at the start and the end) it evaluates the mean policy:
DTW pose error against the walk clip (:func:`imitenvs.agents.evaluation.humanoid_pose_error`)
and episode length, beside a uniform random policy on the same seeds. Prints one JSON object
with the curve and writes ``curve.png`` (style reward, episode length and pose error against
minutes) and ``result.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

from imitenvs.agents.evaluation import humanoid_pose_error, ppo_policy, random_policy
from imitenvs.core.files import atomic_path, atomic_write_json
from imitenvs.core.scripts import load_script, run_main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_amp.py"


def pose_error(policy: Any, runner: Any, episodes: int) -> dict[str, float]:
    """DTW pose RMSE (m per key body), NEAR's pose error and episode length, means."""
    result = humanoid_pose_error(
        policy, runner.run.env_id, episodes, seed=10_000, env_kwargs=runner.run.env_kwargs
    )
    return {
        "dtw_pose_rmse": round(result["dtw_pose_rmse"]["mean"], 4),
        "dtw_pose_error": round(result["dtw_pose_error"]["mean"], 4),
        "episode_length": round(result["episode_length"]["mean"], 2),
    }


def mean_length(points: list[dict]) -> float | None:
    """Mean training episode length over curve points that finished episodes (else None)."""
    lengths = [c["episode_length"] for c in points if c["episode_length"] is not None]
    return round(float(np.mean(lengths)), 2) if lengths else None


def plot_curve(curve: list[dict], evals: list[dict], random: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.2))
    minutes = [c["minutes"] for c in curve]
    axes[0].plot(minutes, [c["style_reward"] for c in curve], lw=1)
    axes[0].set_ylabel("style reward (rollout mean)")
    done = [c for c in curve if c["episode_length"] is not None]
    axes[1].plot(
        [c["minutes"] for c in done],
        [c["episode_length"] for c in done],
        lw=1,
        label="training episodes",
    )
    axes[1].plot(
        [e["minutes"] for e in evals], [e["episode_length"] for e in evals], "o-", label="eval"
    )
    axes[1].axhline(random["episode_length"], color="grey", ls="--", label="random policy")
    axes[1].set_ylabel("episode length (steps)")
    axes[1].legend(fontsize=7)
    axes[2].plot([e["minutes"] for e in evals], [e["dtw_pose_rmse"] for e in evals], "o-")
    axes[2].axhline(random["dtw_pose_rmse"], color="grey", ls="--", label="random policy")
    axes[2].set_ylabel("DTW pose RMSE (m)")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("minutes")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=20.0, help="training wall-clock budget")
    p.add_argument("--eval-every", type=float, default=5.0, help="minutes between evaluations")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes")
    p.add_argument("--num-envs", type=int, help="parallel worlds (the preset's by default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/bench_amp_humanoid"))
    args = p.parse_args(argv)
    train_amp = load_script(EXAMPLE)
    train_args = ["--device", args.device, "--seed", str(args.seed), "--no-progress"]
    train_args += ["--out", str(args.out), "--save-every", "1000000"]
    if args.num_envs:
        train_args += ["--num-envs", str(args.num_envs)]
    runner = train_amp.build_runner(train_amp.parse_args(train_args))
    space = gymnasium.make(runner.run.env_id, **runner.run.env_kwargs).action_space
    random = pose_error(random_policy(space, args.seed), runner, args.episodes)
    initial = pose_error(ppo_policy(runner.ppo), runner, args.episodes)
    evals = [{"minutes": 0.0, "iteration": 0, **initial}]
    curve: list[dict] = []
    train_time, next_eval = 0.0, args.eval_every
    while train_time < 60 * args.minutes:
        start = time.perf_counter()
        stats = runner.train_iteration()
        train_time += time.perf_counter() - start
        curve.append(
            {
                "minutes": round(train_time / 60, 3),
                "env_steps": runner.global_step,
                "style_reward": round(stats["reward/style"], 4),
                "episode_length": round(stats["episode/length"], 2)
                if "episode/length" in stats
                else None,
            }
        )
        if train_time >= 60 * next_eval or train_time >= 60 * args.minutes:
            with torch.no_grad():
                errors = pose_error(ppo_policy(runner.ppo), runner, args.episodes)
            evals.append({"minutes": round(train_time / 60, 2), "iteration": runner.iteration})
            evals[-1].update(errors)
            next_eval += args.eval_every
    runner.save(args.out / "checkpoint_last.pt")
    runner.close()
    first, last = curve[: max(1, len(curve) // 10)], curve[-max(1, len(curve) // 10) :]
    result = {
        "benchmark": "amp_humanoid",
        "device": args.device,
        "num_envs": runner.run.num_envs,
        "train_minutes": round(train_time / 60, 2),
        "env_steps": runner.global_step,
        "iterations": runner.iteration,
        "style_reward": {
            "first_10pct": round(float(np.mean([c["style_reward"] for c in first])), 4),
            "last_10pct": round(float(np.mean([c["style_reward"] for c in last])), 4),
        },
        "train_episode_length": {
            "first_10pct": mean_length(first),
            "last_10pct": mean_length(last),
        },
        "random_policy": random,
        "evaluations": evals,
        "curve_png": str(plot_curve(curve, evals, random, args.out / "curve.png")),
    }
    atomic_write_json(args.out / "result.json", {**result, "curve": curve})
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run_main(main)
