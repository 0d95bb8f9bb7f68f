"""Deep RLSP end to end: expert, observed states, learned models, inference, evaluation.

    python examples/deep_rlsp.py --env InvertedPendulum-v5 --states 10 --seed 0
    python examples/deep_rlsp.py --env InvertedPendulum-v5 --states 50 --expert expert.zip
    python examples/deep_rlsp.py --env imitenvs/HalfCheetah-FW-v0 --states 50 --epochs 10

The steps of the paper's pipeline, at a CPU preset (``--preset paper`` keeps the original
sizes; ``--preset tiny`` runs every step in about a minute, to check the pipeline, not to learn):
(1) an SB3 SAC expert with the original settings (``--expert`` loads one safely, else one is
trained for ``--expert-steps``); (2) ``--states`` observed states, each a uniformly random state
of one stochastic expert rollout; (3) rollouts for the learned models (state VAE, inverse
dynamics); (4) Deep RLSP; (5) the paper's evaluation: a new SAC trained on each inferred reward
(Deep RLSP, and the AverageFeatures and Waypoints ablations on the same models and states), and
GAIL (``imitation``) on a demonstration of ``--states`` steps, each scored by its true return.

Writes ``result.json`` (also printed), ``deep_rlsp_curve.png`` (inferred reward's gradient norm
and the policy's true return per epoch) and the expert to ``--out``; a second run with the same
``--out`` refuses unless ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.adapters.imitation import train_gail
from imitenvs.adapters.sb3_zip import load_sb3_zip, save_sb3_zip
from imitenvs.agents.reward_inference import deep_rlsp as drl
from imitenvs.agents.reward_inference.experts import (
    evaluate_return,
    make_demonstrations,
    make_sac,
    sample_observed_states,
)
from imitenvs.core.files import RunLock, atomic_write_json
from imitenvs.core.scripts import run_main
from imitenvs.viz import line_plots

log = logging.getLogger("deep_rlsp")
METHODS = ("deep_rlsp", "average_features", "waypoints", "gail")
#: CPU presets per environment: what each run shrinks from the original ``base`` config.
CPU_MODELS = drl.ModelConfig(
    replay_rollouts=50, vae_hidden=256, vae_lr=1e-3, vae_epochs=20, inverse_layers=3,
    inverse_hidden=256, inverse_lr=1e-3, inverse_epochs=20, policy_hidden=256,
    policy_samples=4000, batch_size=256,
)  # fmt: skip
PRESETS: dict[str, dict[str, Any]] = {
    "InvertedPendulum-v5": {
        "models": dataclasses.replace(CPU_MODELS, expert_replay=True),
        "rlsp": {"horizon": 10, "epochs": 20, "n_trajectories": 50, "solver_steps": 2000,
                 "policy_horizon_factor": 100, "max_epochs_per_horizon": 2},
        "expert_steps": 20_000, "eval_steps": 20_000, "gail_steps": 100_000,
    },
    "default": {
        "models": CPU_MODELS,
        "rlsp": {"horizon": 10, "epochs": 20, "n_trajectories": 50, "solver_steps": 5000,
                 "max_epochs_per_horizon": 2},
        "expert_steps": 200_000, "eval_steps": 100_000, "gail_steps": 200_000,
    },
}  # fmt: skip

TINY: dict[str, Any] = {
    "models": drl.ModelConfig(
        replay_rollouts=12, latent_dim=4, vae_hidden=32, vae_lr=1e-3, vae_epochs=2,
        inverse_layers=2, inverse_hidden=32, inverse_lr=1e-3, inverse_epochs=2, policy_layers=2,
        policy_hidden=32, policy_samples=128, batch_size=32,
    ),
    "rlsp": {"horizon": 2, "epochs": 2, "n_trajectories": 4, "solver_steps": 100,
             "max_epochs_per_horizon": 1},
    "expert_steps": 300, "eval_steps": 200, "gail_steps": 2048,
}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="InvertedPendulum-v5", help="gymnasium MuJoCo id")
    p.add_argument("--states", type=int, default=10, help="observed states (paper: 1, 10, 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", choices=("cpu", "paper", "tiny"), default="cpu")
    p.add_argument("--expert", type=Path, help="SB3 SAC zip of the expert (else trained)")
    p.add_argument("--expert-steps", type=int, help="SAC steps of a trained expert")
    p.add_argument("--epochs", type=int, help="Deep RLSP gradient steps")
    p.add_argument("--lr", type=float, help="Deep RLSP learning rate on theta (paper: 0.01)")
    p.add_argument("--solver-steps", type=int, help="SAC steps on r_theta per epoch")
    p.add_argument(
        "--reset-solver", action="store_true", help="a fresh SAC every epoch (original pendulum)"
    )
    p.add_argument(
        "--clip-observations", action="store_true",
        help="reward features of observations clipped to the model data's range (ours)",
    )  # fmt: skip
    p.add_argument("--eval-steps", type=int, help="SAC steps on each inferred reward")
    p.add_argument("--gail-steps", type=int, help="GAIL generator steps")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--rollouts", type=int, default=10, help="evaluation rollouts per policy")
    p.add_argument(
        "--out", type=Path, help="run folder (default runs/deep_rlsp/<env>_n<k>_s<seed>)"
    )
    p.add_argument("--force", action="store_true", help="reuse an existing --out")
    p.add_argument("--torch-threads", type=int, default=1, help="1 is fastest for small nets")
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> tuple[drl.DeepRLSPConfig, dict[str, int]]:
    """The algorithm's config and the step budgets for this env and preset."""
    preset = PRESETS.get(args.env, PRESETS["default"])
    if args.preset == "paper":
        cfg = drl.DeepRLSPConfig()
        budgets = {"expert_steps": 2_000_000, "eval_steps": 2_000_000, "gail_steps": 2_000_000}
    elif args.preset == "tiny":
        cfg = drl.DeepRLSPConfig(**TINY["rlsp"], models=TINY["models"])
        budgets = {k: TINY[k] for k in ("expert_steps", "eval_steps", "gail_steps")}
    else:
        cfg = drl.DeepRLSPConfig(models=preset["models"], **preset["rlsp"])
        budgets = {k: preset[k] for k in ("expert_steps", "eval_steps", "gail_steps")}
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    if args.lr is not None:
        cfg = dataclasses.replace(cfg, learning_rate=args.lr)
    if args.solver_steps is not None:
        cfg = dataclasses.replace(cfg, solver_steps=args.solver_steps)
    if args.reset_solver:
        cfg = dataclasses.replace(cfg, reset_solver=True)
    if args.clip_observations:
        cfg = dataclasses.replace(cfg, clip_observations=True)
    for key in budgets:
        if getattr(args, key) is not None:
            budgets[key] = getattr(args, key)
    return cfg, budgets


def get_expert(args: argparse.Namespace, out: Path, steps: int) -> Any:
    """Load ``--expert`` (without unpickling) or train one with the original SAC settings."""
    env = gymnasium.make(args.env)
    if args.expert is not None:
        return load_sb3_zip(args.expert, "sac", env=env)
    log.info("training the SAC expert for %d steps", steps)
    expert = make_sac(env, seed=args.seed)
    expert.learn(steps, progress_bar=sys.stderr.isatty())
    save_sb3_zip(expert, out / "expert.zip")
    return expert


def evaluate_methods(
    args: argparse.Namespace,
    result: drl.DeepRLSPResult,
    observed: np.ndarray,
    expert: Any,
    budgets: dict[str, int],
) -> dict[str, Any]:
    """True return of a new SAC on each inferred reward, and of GAIL."""
    rewards = {
        "deep_rlsp": drl.linear_reward(result.theta),
        "average_features": drl.linear_reward(drl.average_features_theta(result.models, observed)),
        "waypoints": drl.waypoints_reward(result.models, observed),
    }
    scores: dict[str, Any] = {}
    for name in args.methods:
        start = time.perf_counter()
        if name == "gail":
            demos = make_demonstrations(
                gymnasium.make(args.env), expert, args.states, args.seed, on_end="stop"
            )
            policy = train_gail(args.env, demos, budgets["gail_steps"], args.seed)
            stats = evaluate_return(gymnasium.make(args.env), policy, args.rollouts, args.seed)
            scores[name] = stats.as_dict()
        else:
            _, scores[name] = drl.train_on_reward(
                args.env, result.models, rewards[name], budgets["eval_steps"], args.seed,
                args.rollouts, args.clip_observations,
            )  # fmt: skip
        scores[name]["minutes"] = round((time.perf_counter() - start) / 60, 2)
        log.info("%s: true return %.1f", name, scores[name]["mean_return"])
    return scores


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.states <= 0:
        raise ValueError(f"--states={args.states} must be > 0 (the paper uses 1, 10 or 50)")
    try:
        gymnasium.spec(args.env)  # an unknown id fails here, before any work
    except gymnasium.error.Error as exc:
        raise ValueError(f"unknown env id {args.env!r}: {exc}") from None
    torch.set_num_threads(args.torch_threads)
    name = f"{args.env.replace('/', '_')}_n{args.states}_s{args.seed}"
    out = args.out or Path("runs") / "deep_rlsp" / name
    cfg, budgets = settings(args)
    if (out / "result.json").exists() and not args.force:
        raise FileExistsError(f"{out} already holds a finished run; pass --force or another --out")
    with RunLock(out, force=args.force):
        return run(args, out, cfg, budgets)


def run(
    args: argparse.Namespace, out: Path, cfg: drl.DeepRLSPConfig, budgets: dict[str, int]
) -> dict[str, Any]:
    """Steps (1)-(5) of the pipeline; writes and returns the result."""
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    expert = get_expert(args, out, budgets["expert_steps"])
    env = gymnasium.make(args.env)
    expert_stats = evaluate_return(env, expert, args.rollouts, args.seed)
    observed, _ = sample_observed_states(env, expert, args.states, rng)
    eps = (0.0, 0.12, 0.3) if cfg.models.expert_replay else ()
    data = drl.collect_transitions(env, cfg.models.replay_rollouts, rng, expert, eps)
    gen = torch.Generator().manual_seed(args.seed)
    models = drl.train_models(data, cfg.models, gen)
    result = drl.deep_rlsp(
        args.env, observed, models, cfg, args.seed, evaluate_every=1,
        progress=lambda row: log.info("epoch %(epoch)d horizon %(horizon)d |grad| %(grad_norm).3f "
                                      "true return %(true_return).1f", row),
    )  # fmt: skip
    scores = evaluate_methods(args, result, observed, expert, budgets)
    summary = {
        "env_id": args.env, "states": args.states, "seed": args.seed, "preset": args.preset,
        "expert": expert_stats.as_dict(), "methods": scores,
        "fraction_of_expert": {k: v["mean_return"] / expert_stats.mean for k, v in scores.items()},
        "theta": result.theta.tolist(), "history": result.history, "budgets": budgets,
        "config": dataclasses.asdict(cfg), "replay_transitions": len(data[0]),
        "minutes": round((time.perf_counter() - start) / 60, 2),
    }  # fmt: skip
    atomic_write_json(out / "result.json", summary)
    epochs = [r["epoch"] for r in result.history]
    line_plots(
        {"true return of the current policy": (epochs, [r["true_return"] for r in result.history]),
         "|gradient|": (epochs, [r["grad_norm"] for r in result.history])},
        out / "deep_rlsp_curve.png", xlabel="Deep RLSP epoch",
        title=f"Deep RLSP on {args.env}, {args.states} observed states, seed {args.seed}",
    )  # fmt: skip
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
