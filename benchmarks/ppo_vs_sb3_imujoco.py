"""Our PPO on a natively batched iMuJoCo hopper against SB3's PPO on N single envs.

    nice -n 5 python benchmarks/ppo_vs_sb3_imujoco.py          # 1M env steps per arm
    python benchmarks/ppo_vs_sb3_imujoco.py --timesteps 1000000 --num-envs 64 --seed 1
    python benchmarks/ppo_vs_sb3_imujoco.py --quick            # CI: 2 iterations, no files

Two arms on one iMuJoCo variant (default ``imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0``),
with the same N, the same env-step budget and the same PPO settings (:data:`SETTINGS`):

* ``ours``: :class:`imitenvs.agents.runner.Runner` (the PPO core behind ``python -m
  imitenvs.agents.train --algo ppo``) on ``gymnasium.make(id, num_envs=N)``, the batched env
  (:func:`imitenvs.agents.vec.make_env` picks it for every id with a batched twin);
* ``sb3``: Stable-Baselines3 PPO on SB3's ``DummyVecEnv`` of N single ``gymnasium.make(id)``
  envs (``make_vec_env``; each in SB3's ``Monitor``) under ``VecNormalize``, what an SB3 user
  writes (rl-zoo's MuJoCo setting). ``DummyVecEnv`` steps the N v5 envs one after the other
  in Python, as ``gymnasium.make_vec(id, N, vectorization_mode="sync")`` does; SB3 has no
  adapter for gymnasium vector envs, and :class:`imitenvs.adapters.sb3.Sb3VecEnv` takes batched
  envs only.

Both arms run in this process, one after the other, on one torch thread
(``torch.set_num_threads(1)``). At ``--points`` evenly spaced step counts (and at step 0), the
deterministic policy plays ``--episodes`` episodes of the single env ``gymnasium.make(id)``
(v5, 1000-step limit; reset seeds 1000, 1001, ...); evaluation time is not counted in the
training wall time. Prints one JSON object: per arm the training wall time, env steps/s over
the whole training (rollouts and updates), the learning curve (return against env steps and
against training seconds), and the load average before and after. ``--out`` also writes the
JSON and a two-panel plot (``<out>.json``, ``<out>.png``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import imitenvs
from imitenvs.agents.evaluation import ppo_policy, run_episodes
from imitenvs.agents.ppo import PPOConfig
from imitenvs.agents.runner import RunConfig, Runner
from imitenvs.core.files import atomic_path, atomic_write_json
from imitenvs.core.scripts import run_main

log = logging.getLogger(__name__)

ENV_ID = "imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0"
EVAL_SEED = 1000

SETTINGS: dict[str, Any] = {
    "num_steps": 32,
    "epochs": 10,
    "num_minibatches": 8,
    "learning_rate": 3e-4,
    "gamma": 0.99,
    "lam": 0.95,
    "clip": 0.2,
    "value_coef": 0.5,
    "entropy_coef": 0.0,
    "max_grad_norm": 0.5,
    "init_log_std": 0.0,
    "hidden": [64, 64],
    "activation": "relu",
}
"""The PPO settings of both arms: SB3's (and rl-zoo's MuJoCo) defaults (lr 3e-4, 10 epochs,
gamma 0.99, lambda 0.95, clip 0.2, value coefficient 0.5, no entropy bonus, gradient clip 0.5,
log-std 0 learned, two hidden layers of 64) with ReLU for both and minibatches of N*T/8 (SB3's
default 64 would make the CPU update, not the env, the cost being compared)."""


def ppo_config(settings: dict[str, Any]) -> PPOConfig:
    """Our :class:`PPOConfig` for :data:`SETTINGS`: learned log-std, no bounds loss (SB3 has
    none), observations and values normalised by running statistics (SB3's arm normalises
    observations and rewards with ``VecNormalize``)."""
    keys = ("num_steps", "epochs", "num_minibatches", "learning_rate", "gamma", "lam", "clip")
    return PPOConfig(
        **{k: settings[k] for k in keys},
        value_coef=settings["value_coef"],
        entropy_coef=settings["entropy_coef"],
        max_grad_norm=settings["max_grad_norm"],
        init_log_std=settings["init_log_std"],
        learn_std=True,
        bounds_coef=0.0,
        hidden=tuple(settings["hidden"]),
    )


class Curve:
    """Evaluation points of one arm; the time spent evaluating is kept out of the wall time."""

    def __init__(self, env_id: str, episodes: int, at_steps: list[int]) -> None:
        self.env_id, self.episodes, self.at_steps = env_id, episodes, set(at_steps)
        self.points: list[dict[str, float]] = []
        self.eval_seconds = 0.0
        self.start = time.perf_counter()

    def train_seconds(self) -> float:
        return time.perf_counter() - self.start - self.eval_seconds

    def maybe_evaluate(self, steps: int, policy: Callable[[np.ndarray], np.ndarray]) -> None:
        if steps not in self.at_steps or any(p["env_steps"] == steps for p in self.points):
            return
        seconds = self.train_seconds()
        t0 = time.perf_counter()
        results = run_episodes(policy, self.env_id, self.episodes, EVAL_SEED)
        self.eval_seconds += time.perf_counter() - t0
        returns = np.array([r["return"] for r in results])
        lengths = np.array([r["steps"] for r in results])
        point = {
            "env_steps": steps,
            "train_seconds": round(seconds, 2),
            "return_mean": round(float(returns.mean()), 1),
            "return_std": round(float(returns.std()), 1),
            "length_mean": round(float(lengths.mean()), 1),
        }
        log.info("%s: %s", self.env_id, point)
        self.points.append(point)


def run_ours(args: argparse.Namespace, iterations: int, at_steps: list[int]) -> dict[str, Any]:
    """The PPO core on ``gymnasium.make(id, num_envs=N)``."""
    run = RunConfig(
        env_id=args.env,
        num_envs=args.num_envs,
        iterations=iterations,
        seed=args.seed,
        save_every=iterations,
        progress=False,
        logger="none",
        algo="ppo",
    )
    space = gymnasium.make(args.env).action_space
    runner = Runner(run, ppo_config(SETTINGS))
    try:
        backend = type(runner.env.env.unwrapped).__name__
        curve = Curve(args.env, args.episodes, at_steps)
        policy = ppo_policy(runner.ppo, space)
        curve.maybe_evaluate(0, policy)

        def evaluate(r: Runner) -> dict[str, float]:
            curve.maybe_evaluate(r.global_step, policy)
            return {}

        runner.train(evaluate)
        steps = runner.global_step
        seconds = curve.train_seconds()
    finally:
        runner.close()
    return arm_result("ours", backend, steps, seconds, curve)


def run_sb3(args: argparse.Namespace, at_steps: list[int], budget: int) -> dict[str, Any]:
    """SB3 PPO on ``DummyVecEnv`` of N single envs under ``VecNormalize``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(
        make_vec_env(lambda: gymnasium.make(args.env), n_envs=args.num_envs, seed=args.seed),
        gamma=SETTINGS["gamma"],
    )
    n = args.num_envs * SETTINGS["num_steps"]
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=SETTINGS["num_steps"],
        batch_size=n // SETTINGS["num_minibatches"],
        n_epochs=SETTINGS["epochs"],
        learning_rate=SETTINGS["learning_rate"],
        gamma=SETTINGS["gamma"],
        gae_lambda=SETTINGS["lam"],
        clip_range=SETTINGS["clip"],
        ent_coef=SETTINGS["entropy_coef"],
        vf_coef=SETTINGS["value_coef"],
        max_grad_norm=SETTINGS["max_grad_norm"],
        policy_kwargs={
            "net_arch": {"pi": list(SETTINGS["hidden"]), "vf": list(SETTINGS["hidden"])},
            "activation_fn": torch.nn.ReLU,
            "log_std_init": SETTINGS["init_log_std"],
        },
        seed=args.seed,
        device="cpu",
        verbose=0,
    )

    def policy(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
        return action

    curve = Curve(args.env, args.episodes, at_steps)

    class EvalAtRolloutStart(BaseCallback):
        """Evaluates when a rollout starts, i.e. after the previous update (as ours does)."""

        def _on_rollout_start(self) -> None:
            curve.maybe_evaluate(self.num_timesteps, policy)

        def _on_step(self) -> bool:
            return True

    model.learn(total_timesteps=budget, callback=EvalAtRolloutStart())
    seconds = curve.train_seconds()
    curve.maybe_evaluate(model.num_timesteps, policy)
    venv.close()
    return arm_result("sb3", "DummyVecEnv+VecNormalize", model.num_timesteps, seconds, curve)


def arm_result(
    name: str, env_kind: str, steps: int, seconds: float, curve: Curve
) -> dict[str, Any]:
    final = curve.points[-1]
    return {
        "arm": name,
        "env": env_kind,
        "env_steps": steps,
        "train_seconds": round(seconds, 1),
        "steps_per_s": round(steps / max(seconds, 1e-9), 1),
        "eval_seconds": round(curve.eval_seconds, 1),
        "final_return_mean": final["return_mean"],
        "final_return_std": final["return_std"],
        "curve": curve.points,
    }


def plot(result: dict[str, Any], path: Path) -> Path:
    """Return against env steps and against training seconds, one panel each, mean +- std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.8), dpi=100)
    FigureCanvasAgg(fig)
    labels = {
        "ours": f"ours: batched env (N={result['num_envs']})",
        "sb3": f"SB3: DummyVecEnv (N={result['num_envs']})",
    }
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    for arm in result["arms"]:
        pts = arm["curve"]
        mean = np.array([p["return_mean"] for p in pts])
        std = np.array([p["return_std"] for p in pts])
        for ax, key in zip(axes, ("env_steps", "train_seconds"), strict=True):
            x = np.array([p[key] for p in pts], dtype=float)
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=labels[arm["arm"]])
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes[0].set_xlabel("env steps")
    axes[1].set_xlabel("training wall time [s] (evaluation excluded)")
    for ax in axes:
        ax.set_ylabel(f"return ({result['episodes']} episodes, mean policy)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"PPO on {result['env_id'].split('/')[-1]}, seed {result['seed']}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default=ENV_ID, help="an iMuJoCo (or other batched-twin) id")
    p.add_argument("--timesteps", type=int, default=1_000_000, help="env steps per arm")
    p.add_argument("--num-envs", type=int, default=64, help="N, both arms")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--points", type=int, default=10, help="evaluations after step 0")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes per point")
    p.add_argument("--arms", nargs="+", choices=("ours", "sb3"), default=["ours", "sb3"])
    p.add_argument("--out", type=Path, default=None, help="also write <out>.json and <out>.png")
    p.add_argument("--quick", action="store_true", help="CI: N=4, 2 iterations, 1 episode")
    args = p.parse_args(argv)
    if args.quick:
        args.num_envs, args.points, args.episodes = 4, 2, 1
        args.timesteps = 2 * args.num_envs * SETTINGS["num_steps"]
    torch.set_num_threads(1)
    per_iteration = args.num_envs * SETTINGS["num_steps"]
    iterations = max(1, args.timesteps // per_iteration)
    points = min(args.points, iterations)
    at_steps = [0] + [round(k * iterations / points) * per_iteration for k in range(1, points + 1)]
    budget = iterations * per_iteration
    arms = []
    for name in args.arms:
        load_before = os.getloadavg()
        arm = (
            run_ours(args, iterations, at_steps)
            if name == "ours"
            else run_sb3(args, at_steps, budget)
        )
        arm["load_average_before"] = [round(x, 2) for x in load_before]
        arm["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        arms.append(arm)
    result: dict[str, Any] = {
        "benchmark": "ppo_vs_sb3_imujoco",
        "env_id": args.env,
        "num_envs": args.num_envs,
        "env_steps_budget": budget,
        "seed": args.seed,
        "episodes": args.episodes,
        "settings": {**SETTINGS, "minibatch_size": per_iteration // SETTINGS["num_minibatches"]},
        "torch_threads": torch.get_num_threads(),
        "nice": os.nice(0),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "versions": versions(),
        "arms": arms,
    }
    if len(arms) == 2:
        ours, sb3 = arms
        result["speedup_steps_per_s"] = round(ours["steps_per_s"] / sb3["steps_per_s"], 2)
    if args.out is not None:
        atomic_write_json(args.out.with_suffix(".json"), result)
        plot(result, args.out.with_suffix(".png"))
    print(json.dumps(result))
    return result


def versions() -> dict[str, str]:
    import mujoco
    import stable_baselines3

    return {
        "imitenvs": imitenvs.__version__,
        "torch": torch.__version__,
        "mujoco": mujoco.__version__,
        "gymnasium": gymnasium.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }


if __name__ == "__main__":
    run_main(main)
