"""Train a SAC expert with Deep RLSP's original settings, save it safely and evaluate it.

    python examples/train_sac_expert.py --env InvertedPendulum-v5 --steps 20000 --seed 0 \\
        --out runs/sac_pendulum
    python examples/train_sac_expert.py --env imitenvs/HalfCheetah-FW-v0 --steps 2000000 \\
        --out runs/sac_cheetah_fw

The settings are :func:`imitenvs.agents.reward_inference.experts.sac_hyperparameters` of the
id (the original ``train_sac.py`` also forced ``learning_starts`` 1000; pass
``--learning-starts 1000`` for that). The replay buffer never holds more than ``--steps``
transitions, so it is allocated at ``min(original size, steps)``: the same run, less memory.
Writes into ``--out``: ``checkpoints/sac_<N>_steps.zip`` every ``--checkpoint-every`` steps,
``policy.zip`` (both atomically, SB3's format, read back without unpickling by
:func:`imitenvs.adapters.sb3_zip.load_sb3_zip`) and ``summary.json``, which is also printed:
env, steps, seed, mean/std return of ``--eval-rollouts`` deterministic rollouts (reset seeds
from ``--eval-seed``), training minutes and the settings used. A folder that holds another
run's outputs, or that a live run holds (its ``.lock``), is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import gymnasium
import torch
from stable_baselines3.common.callbacks import CallbackList

from imitenvs.adapters.sb3_zip import AtomicCheckpointCallback, save_sb3_zip
from imitenvs.agents.reward_inference.experts import (
    evaluate_return,
    make_sac,
    sac_hyperparameters,
)
from imitenvs.core.checks import check_positive_int, check_seed
from imitenvs.core.files import RunLock, atomic_write_json, claim_outputs
from imitenvs.core.scripts import run_main
from imitenvs.envs.imujoco.collect import _progress_callback

OUTPUTS = ("policy.zip", "summary.json")
CHECKPOINTS = "checkpoints"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", required=True, help="gymnasium id, e.g. InvertedPendulum-v5")
    p.add_argument("--steps", type=int, required=True, help="SAC env steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    p.add_argument("--buffer-size", type=int, help="replay buffer (default: original, ≤ steps)")
    p.add_argument("--learning-starts", type=int, help="instead of the original value")
    p.add_argument("--checkpoint-every", type=int, default=50_000, help="steps between zips")
    p.add_argument("--eval-rollouts", type=int, default=10)
    p.add_argument("--eval-seed", type=int, default=10_000)
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    for name in ("steps", "checkpoint_every", "eval_rollouts", "torch_threads"):
        check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    if args.buffer_size is not None:
        check_positive_int("--buffer-size", args.buffer_size)
    if args.learning_starts is not None and args.learning_starts < 0:
        raise ValueError(f"--learning-starts must be >= 0, got {args.learning_starts}")
    check_seed(args.seed)
    check_seed(args.eval_seed)
    return args


def make_env(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make(env_id, **kwargs)`` after registering our ids; an unknown id is a
    ValueError."""
    import imitenvs  # noqa: F401  (registers the imitenvs/ ids)

    try:
        return gymnasium.make(env_id, **kwargs)
    except gymnasium.error.Error as exc:
        raise ValueError(f"cannot make env {env_id!r}: {exc}") from None


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    env = make_env(args.env)
    with RunLock(args.out, force=args.force):
        claim_outputs(args.out, [*OUTPUTS, f"{CHECKPOINTS}/sac_*_steps.zip"], args.force)
        original = sac_hyperparameters(args.env)["buffer_size"]
        settings = sac_hyperparameters(args.env, args.buffer_size or min(original, args.steps))
        if args.learning_starts is not None:
            settings["learning_starts"] = args.learning_starts
        model = make_sac(env, seed=args.seed, env_id=args.env, **settings)
        callbacks = [
            AtomicCheckpointCallback(
                save_freq=args.checkpoint_every,
                save_path=str(args.out / CHECKPOINTS),
                name_prefix="sac",
            )
        ]
        if not args.no_progress:
            callbacks.append(_progress_callback(args.steps, f"SAC {args.env}"))
        start = time.perf_counter()
        model.learn(total_timesteps=args.steps, callback=CallbackList(callbacks))
        minutes = (time.perf_counter() - start) / 60.0
        policy = save_sb3_zip(model, args.out / "policy.zip")
        eval_env = make_env(args.env)
        stats = evaluate_return(eval_env, model, args.eval_rollouts, seed=args.eval_seed)
        eval_env.close()
        env.close()
        summary = {
            "env": args.env,
            "steps": args.steps,
            "seed": args.seed,
            **stats.as_dict(),
            "eval_seed": args.eval_seed,
            "minutes": round(minutes, 3),
            "policy": str(policy),
            "settings": settings,
        }
        atomic_write_json(args.out / "summary.json", summary)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
