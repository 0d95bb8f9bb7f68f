"""What the trainer (:mod:`imitenvs.agents.train`) evaluates and draws during and after training.

- during training, on humanoid ids: the DTW pose error of the mean policy every
  ``--pose-error-every`` minutes, logged as ``eval/*`` (:func:`pose_error_logger`);
- at the end (:func:`final_evaluation`): on the maze the success rate, the picture with
  learned trajectories (``maze_policy.png``) and, for AMP, the discriminator's style-reward heat
  map (``disc_heatmap.png``); on a humanoid id a GIF of one episode (``policy.gif``); on any
  other id the return of the mean policy over ``--eval-episodes`` episodes.

Every runner here is a PPO :class:`~imitenvs.agents.onpolicy.runner.Runner` or an
:class:`~imitenvs.agents.offpolicy.awr_runner.AWRRunner`: both have ``run``, ``global_step`` and
a policy with ``act_deterministic`` (``runner.ppo`` / ``runner.agent``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from imitenvs.agents.evaluation import (
    episode_summary,
    evaluation_kwargs,
    humanoid_pose_error,
    ppo_policy,
    run_episodes,
)
from imitenvs.agents.presets import family_of


def policy_of(runner: Any) -> Any:
    """The object with ``act_deterministic`` of a PPO runner or an AWR runner."""
    return runner.ppo if hasattr(runner, "ppo") else runner.agent


def maze_demos() -> list[np.ndarray]:
    """The shipped maze demonstrations (the AMP demos), one ``(T, 2)`` array per episode."""
    from imitenvs.data.demos import load_default_demos

    return [s for s, _ in load_default_demos("maze").episodes()]


def evaluate_maze(
    runner: Any, episodes: int, picture: Path | None, title: str | None = None
) -> dict[str, Any]:
    """Success rate of the mean policy on fresh maze episodes (seeds 10000, 10001, ...);
    optionally the picture of the demos and the learned trajectories."""
    fn = ppo_policy(policy_of(runner))
    results = run_episodes(fn, runner.run.env_id, episodes, 10_000)
    if picture is not None:
        from imitenvs.viz import plot_maze

        name = (runner.run.algo or "amp").upper()
        plot_maze(
            picture,
            demos=maze_demos()[:10],
            policy=[r["observations"] for r in results],
            title=title or f"{name}, {runner.global_step} env steps",
        )
    return {
        "success_rate": float(np.mean([r["success"] for r in results])),
        "mean_length": float(np.mean([r["steps"] for r in results])),
    }


def save_disc_heatmap(
    runner: Any, path: Path, direction: tuple[float, float] | None = None
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


def humanoid_gif(runner: Any, path: Path) -> dict[str, Any]:
    """Render one episode of the mean policy (at most 150 steps) to a GIF."""
    from imitenvs.agents.episode import run_episode
    from imitenvs.viz import save_gif

    kwargs = evaluation_kwargs(runner.run.env_kwargs)
    env = gymnasium.make(runner.run.env_id, render_mode="rgb_array", **kwargs)
    try:
        fn = ppo_policy(policy_of(runner), env.action_space)
        result = run_episode(env, fn, seed=10_000, render=True, max_steps=150)
    finally:
        env.close()
    save_gif(np.stack(result["frames"]), path, fps=30)
    return {"episode_length": len(result["observations"]) - 1, "gif": str(path)}


def pose_error_logger(args: argparse.Namespace) -> Callable[[Any], dict] | None:
    """For humanoid ids: every ``--pose-error-every`` minutes of wall-clock time, the DTW pose
    error of the mean policy (3 episodes; :mod:`imitenvs.agents.evaluation`) as ``eval/*``
    scalars, with the minutes since the start (TensorBoard also records wall time)."""
    if family_of(args.env) != "humanoid" or args.pose_error_every <= 0:
        return None
    start, due = time.perf_counter(), 0.0

    def log_pose_error(runner: Any) -> dict:
        nonlocal due
        minutes = (time.perf_counter() - start) / 60
        if minutes < due:
            return {}
        due = minutes + args.pose_error_every
        kwargs = evaluation_kwargs(runner.run.env_kwargs)  # falls end episodes, not strays
        fn = ppo_policy(policy_of(runner))
        result = humanoid_pose_error(fn, runner.run.env_id, 3, 10_000, kwargs)
        return {
            "eval/dtw_pose_rmse": result["dtw_pose_rmse"]["mean"],
            "eval/dtw_pose_error": result["dtw_pose_error"]["mean"],
            "eval/episode_length": result["episode_length"]["mean"],
            "eval/minutes": minutes,
        }

    return log_pose_error


def final_evaluation(runner: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """The figures and pictures of the module doc (``None``: nothing to do)."""
    out, family = runner.run.log_dir, family_of(args.env)
    if family == "maze":
        picture = None if args.no_video else out / "maze_policy.png"
        result = evaluate_maze(runner, args.eval_episodes, picture)
        if not args.no_video and getattr(runner, "amp", None) is not None:
            result["heatmap"] = str(save_disc_heatmap(runner, out / "disc_heatmap.png"))
        return result
    if family == "humanoid":
        return None if args.no_video else humanoid_gif(runner, out / "policy.gif")
    env = gymnasium.make(runner.run.env_id, **runner.run.env_kwargs)
    space = env.action_space
    env.close()
    fn = ppo_policy(policy_of(runner), space)
    results = run_episodes(fn, runner.run.env_id, args.eval_episodes, 10_000, runner.run.env_kwargs)
    return episode_summary(results)
