"""MILO: imitate a few expert samples with a pessimistic model learned from offline data.

    python examples/train_milo.py --env imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0 \\
        --offline offline.npz --expert expert.npz --out runs/milo_hopper
    python examples/train_milo.py ... --preset paper      # the original Hopper example's sizes
    python examples/train_milo.py ... --baselines         # also BC(expert), BC(expert+offline)

Datasets: iMuJoCo ``.npz`` (``python -m imitenvs data collect imujoco``; rows with actions)
or MILO ``.npz`` (``python -m imitenvs data milo collect|expert``; expert states only, which
needs ``--cost-input ss``). Presets: ``paper`` is the original's Hopper example
(``example_run.sh``: λ_b 0.0025, 40 000 samples per step, 300 steps, bandwidth quantile 0.1,
500 expert samples, CG 25, 1 BC epoch, BC regulariser 0.1, an ensemble of 4 × (1024, 1024)
trained 5 epochs by SGD); ``cpu`` keeps every rule but trains a smaller ensemble with Adam
and takes 10 000 samples per step (the numbers in ``docs/milo.md`` use it); ``tiny`` only
checks the pipeline. Any flag below overrides its preset.

Writes into ``--out`` (refused if another run's files are there, unless ``--force``):
``history.json`` (every evaluation; rewritten atomically as the run goes), ``policy.pt``
(the policy's weights, the config and the env id; ``torch.load(weights_only=True)``-safe)
and ``result.json`` (also printed): final and best true return, BC baselines when asked.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.agents.offline.data import Transitions, load_transitions
from imitenvs.agents.offline.milo import (
    Milo,
    MiloConfig,
    PolicyEval,
    make_evaluator,
    train_bc,
)
from imitenvs.agents.offline.model_env import HORIZONS
from imitenvs.core.checks import check_seed
from imitenvs.core.files import RunLock, atomic_write_json, claim_outputs, save_torch
from imitenvs.core.scripts import run_main

log = logging.getLogger("train_milo")
OUTPUTS = ("history.json", "policy.pt", "result.json")
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "dynamics": {}, "model_env": {},
        "cost": {"lambda_b": 0.0025, "bw_quantile": 0.1},
        "npg": {"cg_iters": 25, "bc_reg_coeff": 0.1},
        "iterations": 300, "samples_per_iter": 40_000, "num_worlds": 400, "bc_epochs": 1,
        "expert_samples": 500, "eval_every": 10,
    },
    "cpu": {
        "dynamics": {"hidden": (256, 256), "optimizer": "adam", "lr": 1e-3, "epochs": 20},
        "model_env": {},
        "cost": {"lambda_b": 0.0025, "bw_quantile": 0.1},
        "npg": {"cg_iters": 25, "bc_reg_coeff": 0.1},
        "iterations": 300, "samples_per_iter": 10_000, "num_worlds": 100, "bc_epochs": 1,
        "expert_samples": 500, "eval_every": 10,
    },
    "tiny": {
        "dynamics": {"hidden": (32, 32), "optimizer": "adam", "lr": 1e-3, "epochs": 2},
        "model_env": {"horizon": 50},
        "cost": {"feature_dim": 64, "bw_samples": 1000},
        "npg": {"policy_hidden": (16,), "value_hidden": (16,), "cg_iters": 5},
        "iterations": 4, "samples_per_iter": 128, "num_worlds": 16, "bc_epochs": 1,
        "eval_every": 2, "eval_episodes": 1, "reset_pool": 16,
    },
}  # fmt: skip
OVERRIDES = {  # flag -> (section or None, field)
    "iterations": (None, "iterations"), "samples_per_iter": (None, "samples_per_iter"),
    "num_worlds": (None, "num_worlds"), "bc_epochs": (None, "bc_epochs"),
    "expert_samples": (None, "expert_samples"), "eval_every": (None, "eval_every"),
    "eval_episodes": (None, "eval_episodes"), "lambda_b": ("cost", "lambda_b"),
    "bw_quantile": ("cost", "bw_quantile"), "cost_input": ("cost", "input_type"),
    "feature_dim": ("cost", "feature_dim"), "dynamics_epochs": ("dynamics", "epochs"),
    "dynamics_hidden": ("dynamics", "hidden"), "dense": ("dynamics", "dense"),
    "bc_reg": ("npg", "bc_reg_coeff"), "cg_iters": ("npg", "cg_iters"),
    "kl_step": ("npg", "kl_step"), "horizon": ("model_env", "horizon"),
    "init_log_std": ("npg", "init_log_std"), "min_log_std": ("npg", "min_log_std"),
}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", required=True, help="gymnasium id of the task")
    p.add_argument("--offline", type=Path, required=True, help="offline dataset (.npz)")
    p.add_argument("--expert", type=Path, required=True, help="expert dataset (.npz)")
    p.add_argument("--expert-episodes", type=int, help="use only the first N expert episodes")
    p.add_argument(
        "--env-kwargs", type=json.loads, help="JSON env kwargs (default: a MILO file's own)"
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines", action="store_true", help="also train and score BC baselines")
    p.add_argument(
        "--bc-baseline-epochs",
        type=int,
        default=20,
        help="epochs of a BC baseline: at least this many, and enough for "
        "--bc-baseline-steps minibatches of 64",
    )
    p.add_argument("--bc-baseline-steps", type=int, default=5000)
    p.add_argument("--force", action="store_true", help="overwrite a finished run in --out")
    p.add_argument("--no-progress", action="store_true")
    ints = ("iterations", "samples_per_iter", "num_worlds", "bc_epochs", "expert_samples",
            "eval_every", "eval_episodes", "feature_dim", "dynamics_epochs", "cg_iters",
            "horizon")  # fmt: skip
    for name in ints:
        p.add_argument(f"--{name.replace('_', '-')}", type=int)
    for name in ("lambda_b", "bw_quantile", "bc_reg", "kl_step", "init_log_std", "min_log_std"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float)
    p.add_argument("--cost-input", choices=("sa", "ss"))
    p.add_argument("--dynamics-hidden", type=int, nargs="+")
    p.add_argument("--dense", action="store_true", default=None, help="DenseNet dynamics")
    args = p.parse_args(argv)
    check_seed(args.seed)
    return args


def build_config(args: argparse.Namespace) -> MiloConfig:
    """The preset, the robot's model horizon, then the flags given."""
    preset = copy.deepcopy(PRESETS[args.preset])
    robot = next((r for r in HORIZONS if r in args.env.lower()), None)
    if robot is not None and args.preset != "tiny":
        preset["model_env"].setdefault("horizon", HORIZONS[robot])
    for flag, (section, key) in OVERRIDES.items():
        value = getattr(args, flag)
        if value is not None:
            target = preset if section is None else preset[section]
            target[key] = tuple(value) if isinstance(value, list) else value
    from imitenvs.agents.offline import dynamics, mmd_cost, model_env, npg

    for name, cls in (("dynamics", dynamics.DynamicsConfig), ("cost", mmd_cost.CostConfig),
                      ("npg", npg.NPGConfig), ("model_env", model_env.ModelEnvConfig)):  # fmt: skip
        section = preset[name]
        for key in ("hidden", "policy_hidden", "value_hidden"):
            if key in section:
                section[key] = tuple(section[key])
        preset[name] = cls(**section)
    return MiloConfig(**preset)


def save_policy(path: Path, policy: torch.nn.Module, env_id: str, config: MiloConfig) -> None:
    save_torch(path, {"algo": "milo", "env_id": env_id, "policy": policy.state_dict(),
                      "config": json.loads(json.dumps(config.to_dict()))})  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(1)  # small networks: one thread is much faster on few cores
    config = build_config(args)
    offline = load_transitions(args.offline, args.env)
    expert = load_transitions(args.expert, args.env, args.expert_episodes)
    env_kwargs = args.env_kwargs if args.env_kwargs is not None else offline.env_kwargs or {}
    env = gymnasium.make(args.env, **env_kwargs)
    evaluator = make_evaluator(env, config.eval_episodes, seed=10_000 + args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    milo = Milo(env, offline, expert, config, args.seed, evaluator, not args.no_progress)

    def checkpoint(_: int, __: dict) -> None:
        atomic_write_json(args.out / "history.json", milo.history)
        save_policy(args.out / "policy.pt", milo.policy, args.env, config)

    history = milo.train(checkpoint)
    best = max(history, key=lambda r: r["return_mean"])
    result: dict[str, Any] = {
        "env": args.env, "seed": args.seed, "preset": args.preset,
        "offline": {"path": str(args.offline), "transitions": len(offline.states),
                    "episodes": offline.episodes},
        "expert": {"path": str(args.expert), "transitions": len(milo.expert.states),
                   "episodes": expert.episodes},
        "env_kwargs": env_kwargs, "final": history[-1],
        "milo": {"final_return": history[-1]["return_mean"], "final_std": history[-1]["return_std"],
                 "best_return": best["return_mean"], "best_iteration": best["iteration"],
                 "dynamics_minutes": milo.dynamics_seconds / 60,
                 "threshold": milo.ensemble.threshold, "bandwidth": milo.cost.bandwidth},
        "minutes": (time.perf_counter() - t0) / 60,
        "config": config.to_dict(),
    }  # fmt: skip
    if args.baselines:
        result["bc"] = bc_baselines(args, config, offline, milo.expert, evaluator)
    atomic_write_json(args.out / "result.json", result)
    return result


def bc_baselines(
    args: argparse.Namespace,
    config: MiloConfig,
    offline: Transitions,
    expert: Transitions,
    evaluator: PolicyEval,
) -> dict[str, Any]:
    """BC on the expert pairs, and on expert + offline pairs (on the offline pairs alone when
    the expert data has no actions): the evaluation of each."""
    if expert.actions is None:
        sets = {"bc_offline": (offline.states, offline.actions)}
    else:
        sets = {"bc_expert": (expert.states, expert.actions),
                "bc_expert_offline": (torch.cat([expert.states, offline.states]),
                                      torch.cat([expert.actions, offline.actions]))}  # fmt: skip
    out = {}
    for name, (obs, acts) in sets.items():
        epochs = max(args.bc_baseline_epochs, math.ceil(args.bc_baseline_steps * 64 / len(obs)))
        policy = train_bc(obs, acts, config.npg, epochs, seed=args.seed)
        out[name] = {**evaluator(policy), "pairs": len(obs), "epochs": epochs}
    return out


def train(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, claim ``--out`` and run; returns the result (printed by :func:`main`)."""
    args = parse_args(argv)
    with RunLock(args.out, force=args.force):
        claim_outputs(args.out, OUTPUTS, args.force)
        return run(args)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = train(argv)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return result


if __name__ == "__main__":
    run_main(main)
