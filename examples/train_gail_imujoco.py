"""BC and GAIL (``imitation`` library) on one iMuJoCo variant, from demonstrations we collect.

1. Train a SAC expert on the variant (or load one with ``--expert``).
2. Collect demonstrations with it in the iMuJoCo format (``.npz``) and read them back through
   the ``imitation`` bridge (:mod:`imitenvs.adapters.imitation`).
3. Train BC on the transitions, and GAIL (PPO generator) on fixed-horizon episodes.
4. Print the returns of the expert, the BC policy and the GAIL policy.

Needs the ``imitation`` extra (``pip install -e ".[imitation]"`` and
``pip install --no-deps imitation==1.0.1``). A real run (defaults) takes hours; for a smoke
test::

    python examples/train_gail_imujoco.py --expert-steps 300 --gail-steps 256 \\
        --demos 2 --horizon 50 --bc-epochs 1 --eval-episodes 1
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import gymnasium
import numpy as np
import torch
from imitation.algorithms import bc
from imitation.util import logger as imit_logger
from stable_baselines3 import PPO

from imitenvs.adapters.imitation import imujoco_trajectories, imujoco_transitions, train_gail
from imitenvs.core.scripts import run_main
from imitenvs.envs.imujoco.collect import collect, train_expert
from imitenvs.envs.imujoco.dataset import save_npz
from imitenvs.envs.imujoco.grid import parse_variant
from imitenvs.envs.imujoco.policies import as_policy, evaluate, load_policy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="hopper-massdec_25_leggeom")
    p.add_argument("--expert", type=Path, help="an SB3 SAC zip; skips expert training")
    p.add_argument("--expert-steps", type=int, default=1_000_000, help="SAC training steps")
    p.add_argument("--demos", type=int, default=25, help="demonstration blocks to collect")
    p.add_argument("--horizon", type=int, default=1000, help="episode length (fixed for GAIL)")
    p.add_argument("--bc-epochs", type=int, default=20)
    p.add_argument("--gail-steps", type=int, default=1_000_000, help="generator env steps")
    p.add_argument("--n-envs", type=int, default=4, help="parallel envs of the generator")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="folder for the expert and demos (default: temp)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    return p.parse_args(argv)


def train_variant_gail(args: argparse.Namespace, demos: Path, logs: Path) -> PPO:
    """GAIL with a PPO generator on fixed-horizon episodes of the variant."""
    env_id = parse_variant(args.variant).env_id
    trajectories = imujoco_trajectories(demos, args.variant, horizon=args.horizon)
    if not trajectories:
        raise SystemExit("no demonstration reaches the horizon; collect more or shorten it")
    return train_gail(
        env_id, trajectories, args.gail_steps, args.seed, n_envs=args.n_envs,
        horizon=args.horizon, log_dir=logs / "gail",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(args.seed)
    out = args.out or Path(tempfile.mkdtemp(prefix="gail-imujoco-"))
    env_id = parse_variant(args.variant).env_id
    expert_path = args.expert or train_expert(
        args.variant, args.expert_steps, out / "expert.zip", seed=args.seed, progress=False
    )
    eval_env = gymnasium.make(env_id)
    expert = load_policy(expert_path, env=eval_env)
    data = collect(args.variant, as_policy(expert), args.demos, steps=args.horizon, seed=args.seed)
    demos = save_npz(out / f"demos-{args.variant}.npz", data)

    transitions = imujoco_transitions(demos, args.variant)
    bc_trainer = bc.BC(
        observation_space=eval_env.observation_space,
        action_space=eval_env.action_space,
        demonstrations=transitions,
        rng=rng,
        batch_size=min(32, len(transitions)),
        device="cpu",
        custom_logger=imit_logger.configure(out / "logs" / "bc", ["csv"]),
    )
    bc_trainer.train(n_epochs=args.bc_epochs, progress_bar=False)
    gail_learner = train_variant_gail(args, demos, out / "logs")

    def bc_policy(obs: np.ndarray) -> np.ndarray:
        return bc_trainer.policy.predict(obs, deterministic=True)[0]

    returns = {}
    for name, policy in (
        ("expert", as_policy(expert)),
        ("BC", bc_policy),
        ("GAIL", as_policy(gail_learner)),
    ):
        r = evaluate(policy, eval_env, args.eval_episodes, seed=args.seed + 1)
        returns[name] = float(r.mean())
        print(f"{name:>6} return on {args.variant}: {r.mean():8.2f} ± {r.std():.2f}")
    eval_env.close()
    return returns


if __name__ == "__main__":
    run_main(main)
