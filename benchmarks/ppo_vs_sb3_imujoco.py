"""Our PPO on a natively batched iMuJoCo hopper against SB3's PPO on N single envs.

    nice -n 5 python benchmarks/ppo_vs_sb3_imujoco.py          # 1M env steps per arm
    python benchmarks/ppo_vs_sb3_imujoco.py --timesteps 300000 --arms ours sb3 --seed 1
    python benchmarks/ppo_vs_sb3_imujoco.py --quick            # CI: 2 iterations, 1 episode

Arms on one iMuJoCo variant (default ``imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0``), with
the same N, the same env-step budget and the same PPO settings (:data:`SETTINGS`):

* ``ours``: :class:`imitenvs.agents.onpolicy.runner.Runner` with the trainer's locomotion
  preset (what
  ``python -m imitenvs.agents.train --algo ppo --env <id>`` builds) on ``gymnasium.make(id,
  num_envs=N)``, the batched env (:func:`imitenvs.agents.vec.make_env` picks it for every id
  with a batched twin);
* ``sb3``: Stable-Baselines3 PPO on SB3's ``DummyVecEnv`` of N single ``gymnasium.make(id)``
  envs (``make_vec_env``, each in SB3's ``Monitor``) under ``VecNormalize``: what an SB3 user
  writes (rl-zoo's MuJoCo setting). ``DummyVecEnv`` steps the N v5 envs one after the other
  in Python, as ``gymnasium.make_vec(id, N, vectorization_mode="sync")`` does (SB3 has no
  adapter for gymnasium vector envs);
* ``sb3_batched``: the same SB3 PPO on the batched env through
  :class:`imitenvs.adapters.sb3.Sb3VecEnv`, which separates the env's share from the learner's.

Everything runs in this process on one torch thread (``torch.set_num_threads(1)``); the
batched env steps its worlds on its default ``nthread=0`` (every CPU). Training runs in
interleaved blocks (``--points`` of them, the arms' order rotating), so that a change of the
machine's load hits every arm alike. After each block (and before training) the deterministic
policy plays ``--episodes`` episodes of the single env ``gymnasium.make(id)`` (v5, 1000-step
limit; reset seeds 1000, 1001, ...); only the blocks count as training time. Prints one JSON
object: per arm the training wall time, env steps/s over the whole training (rollouts and
updates), the learning curve (return against env steps and against training seconds, with the
1-minute load average) and the load average before and after. ``--out`` also writes the JSON
and a two-panel plot (``<out>.json``, ``<out>.png``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import imitenvs
from imitenvs.agents.evaluation import ppo_policy, run_episodes
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.agents.presets import LOCOMOTION_PPO
from imitenvs.core.files import atomic_path, atomic_write_json
from imitenvs.core.scripts import run_main

log = logging.getLogger(__name__)

ENV_ID = "imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0"
EVAL_SEED = 1000
ARMS = ("ours", "sb3", "sb3_batched")

SHARED = ("num_steps", "epochs", "num_minibatches", "learning_rate", "gamma", "lam", "clip")
SHARED += ("value_coef", "entropy_coef", "max_grad_norm", "init_log_std")
SETTINGS: dict[str, Any] = {
    **{k: getattr(LOCOMOTION_PPO, k) for k in SHARED},
    "hidden": list(LOCOMOTION_PPO.hidden),
    "activation": "relu",
}
"""The PPO settings of every arm, read from the trainer's locomotion preset
(:data:`imitenvs.agents.presets.LOCOMOTION_PPO`, ``python -m imitenvs.agents.train --algo ppo
--env <iMuJoCo id>``): SB3's (and rl-zoo's MuJoCo) defaults (lr 3e-4, 10 epochs, gamma 0.99,
lambda 0.95, clip 0.2, value coefficient 0.5, no entropy bonus, gradient clip 0.5, log-std 0
learned, two hidden layers of 64) with ReLU for both and minibatches of N*T/8 (SB3's default 64
would make the CPU update, not the env, the cost being compared). Ours also has no bounds loss
(SB3 has none) and normalises observations and values with running statistics; SB3's arms
normalise observations and rewards with ``VecNormalize``."""


class Arm:
    """One learner on one env: trains in blocks, evaluates between them, times the blocks.

    Only the blocks count as training time: building the learner and evaluating do not.
    """

    name = ""
    env_kind = ""

    def __init__(self, args: argparse.Namespace) -> None:
        self.env_id, self.episodes = args.env, args.episodes
        self.points: list[dict[str, Any]] = []
        self.seconds = 0.0
        self.eval_seconds = 0.0

    @property
    def steps(self) -> int:
        raise NotImplementedError

    def train_until(self, steps: int) -> None:
        """Train until ``steps`` env steps in all (a multiple of N x T)."""
        raise NotImplementedError

    def policy(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic action for one single-env observation."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def keep_rng(self) -> None:
        """Take the global RNG state as this arm's own (SB3 draws its action noise and
        minibatches from the global torch and numpy RNGs); each block restores it and keeps what
        is left, so the interleaved arms do not shift each other's random streams."""
        self.rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002

    def block(self, steps: int) -> None:
        """Train until ``steps`` (timed, on the arm's own RNG state), then evaluate (not timed)."""
        random.setstate(self.rng[0])
        np.random.set_state(self.rng[1])  # noqa: NPY002 (SB3 draws from the legacy global RNG)
        torch.set_rng_state(self.rng[2])
        start = time.perf_counter()
        self.train_until(steps)
        self.seconds += time.perf_counter() - start
        self.keep_rng()
        self.evaluate()

    def evaluate(self) -> None:
        start = time.perf_counter()
        results = run_episodes(self.policy, self.env_id, self.episodes, EVAL_SEED)
        self.eval_seconds += time.perf_counter() - start
        returns = np.array([r["return"] for r in results])
        lengths = np.array([r["steps"] for r in results])
        point = {
            "env_steps": self.steps,
            "train_seconds": round(self.seconds, 2),
            "return_mean": round(float(returns.mean()), 1),
            "return_std": round(float(returns.std()), 1),
            "length_mean": round(float(lengths.mean()), 1),
            "load_1min": round(os.getloadavg()[0], 2),
        }
        log.info("%s: %s", self.name, point)
        self.points.append(point)

    def result(self) -> dict[str, Any]:
        final = self.points[-1]
        return {
            "arm": self.name,
            "env": self.env_kind,
            "env_steps": self.steps,
            "train_seconds": round(self.seconds, 1),
            "steps_per_s": round(self.steps / max(self.seconds, 1e-9), 1),
            "eval_seconds": round(self.eval_seconds, 1),
            "final_return_mean": final["return_mean"],
            "final_return_std": final["return_std"],
            "best_return_mean": max(p["return_mean"] for p in self.points),
            "curve": self.points,
        }


class OursArm(Arm):
    """The PPO core (:class:`Runner`) on ``gymnasium.make(id, num_envs=N)``."""

    name = "ours"

    def __init__(self, args: argparse.Namespace, iterations: int) -> None:
        super().__init__(args)
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
        self.runner = Runner(run, LOCOMOTION_PPO)
        self.env_kind = type(self.runner.env.env.unwrapped).__name__
        self._policy = ppo_policy(self.runner.ppo, gymnasium.make(args.env).action_space)
        self._per_iteration = args.num_envs * SETTINGS["num_steps"]

    @property
    def steps(self) -> int:
        return self.runner.global_step

    def train_until(self, steps: int) -> None:
        self.runner.run.iterations = steps // self._per_iteration
        self.runner.train()

    def policy(self, obs: np.ndarray) -> np.ndarray:
        return self._policy(obs)

    def close(self) -> None:
        self.runner.close()


class Sb3Arm(Arm):
    """SB3 PPO under ``VecNormalize``: on SB3's ``DummyVecEnv`` of N single envs (``sb3``) or
    on the batched env through :class:`imitenvs.adapters.sb3.Sb3VecEnv` (``sb3_batched``)."""

    def __init__(self, args: argparse.Namespace, batched: bool) -> None:
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize

        from imitenvs.adapters.sb3 import Sb3VecEnv

        super().__init__(args)
        self.name = "sb3_batched" if batched else "sb3"
        if batched:
            inner = Sb3VecEnv(gymnasium.make(args.env, num_envs=args.num_envs))
        else:
            inner = make_vec_env(
                lambda: gymnasium.make(args.env), n_envs=args.num_envs, seed=args.seed
            )
        self.env_kind = f"{type(inner).__name__}+VecNormalize"
        self.venv = VecNormalize(inner, gamma=SETTINGS["gamma"])
        self.model = PPO(
            "MlpPolicy",
            self.venv,
            n_steps=SETTINGS["num_steps"],
            batch_size=args.num_envs * SETTINGS["num_steps"] // SETTINGS["num_minibatches"],
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

    @property
    def steps(self) -> int:
        return int(self.model.num_timesteps)

    def train_until(self, steps: int) -> None:
        # reset_num_timesteps=False: continue the same run (no env reset, same counters)
        self.model.learn(total_timesteps=steps - self.steps, reset_num_timesteps=False)

    def policy(self, obs: np.ndarray) -> np.ndarray:
        action, _ = self.model.predict(self.venv.normalize_obs(obs), deterministic=True)
        return action

    def close(self) -> None:
        self.venv.close()


def plot(result: dict[str, Any], path: Path) -> Path:
    """Return against env steps and against training seconds, one panel each, mean +- std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.8), dpi=100)
    FigureCanvasAgg(fig)
    labels = {
        "ours": f"ours: batched env (N={result['num_envs']})",
        "sb3": f"SB3: DummyVecEnv of single envs (N={result['num_envs']})",
        "sb3_batched": f"SB3: Sb3VecEnv over the batched env (N={result['num_envs']})",
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
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
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
    at_steps = [round(k * iterations / points) * per_iteration for k in range(1, points + 1)]
    budget = iterations * per_iteration
    load_before = os.getloadavg()
    arms: list[Arm] = []
    try:
        for name in args.arms:
            arm = OursArm(args, iterations) if name == "ours" else Sb3Arm(args, name != "sb3")
            arms.append(arm)
            arm.keep_rng()
            arm.evaluate()  # the untrained policy, at step 0
        for k, steps in enumerate(at_steps):  # interleaved blocks, the order rotating
            for arm in arms[k % len(arms) :] + arms[: k % len(arms)]:
                arm.block(steps)
    finally:
        for arm in arms:
            arm.close()
    results = [arm.result() for arm in arms]
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
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "arms": results,
    }
    rates = {a["arm"]: a["steps_per_s"] for a in results}
    if "sb3" in rates:  # steps/s of each arm over SB3 on DummyVecEnv
        result["steps_per_s_vs_sb3"] = {k: round(v / rates["sb3"], 2) for k, v in rates.items()}
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
