"""Small CPU presets of ADD and ASE and their builders, shared by ``examples/train_add.py``,
``examples/train_ase.py`` and the trainer (``python -m imitenvs.agents.train --algo add``).

A builder takes the command line as an ``argparse.Namespace`` with the trainer's names
(``env``, ``num_envs``, ``iterations``, ``num_steps``, ``seed``, ``device``, ``out``,
``motion_file``, ``minutes``, ...; missing ones take their defaults) and returns the runner.
:func:`ase_test_mode` is ASE's test mode: it plays random latents of a checkpoint
(:func:`ase_test_command` for the trainer's ``--mode test``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import imitenvs
from imitenvs.agents import distributed
from imitenvs.agents.adversarial.add import ADDConfig, ADDRunner
from imitenvs.agents.adversarial.ase import ASEConfig, ASERunner, play_latents, sample_latents
from imitenvs.agents.evaluation import load_policy
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, read_checkpoint

DISC_MINIBATCHES = 4
"""at most this many discriminator minibatches per epoch (the batch grows with N x T)"""


@dataclass(frozen=True)
class AdversarialPreset:
    """Defaults of ADD or ASE (small enough for a 2-core laptop)."""

    env_id: str
    num_envs: int
    iterations: int
    ppo: PPOConfig
    cfg: ADDConfig | ASEConfig
    env_kwargs: dict


ADD_PRESET = AdversarialPreset(
    env_id="imitenvs/HumanoidImitate-v0",
    num_envs=512,
    iterations=200,
    # the DeepMimic preset's PPO and env (examples/train_deepmimic.py): ADD replaces only the
    # reward, so the two compare on equal terms
    ppo=PPOConfig(
        num_steps=32,
        num_minibatches=8,
        epochs=5,
        learning_rate=1e-4,
        value_coef=1.0,
        init_log_std=-3.0,
    ),
    cfg=ADDConfig(),
    env_kwargs={
        "motion_file": "walk.yaml",
        "pose_termination_distance": 0.5,
        "reference_obs_steps": (1,),
    },
)
ASE_PRESET = AdversarialPreset(
    env_id="imitenvs/HumanoidAMP-v0",
    num_envs=64,
    iterations=300,
    ppo=PPOConfig(num_steps=16, num_minibatches=2, epochs=4, learning_rate=5e-5),
    cfg=ASEConfig(),
    env_kwargs={
        "motion_file": "default.yaml",  # the generated walk, run, turn, jump and wave clips
        "state_init": "Hybrid",  # MimicKit ASE: default pose with probability 0.5
        "hybrid_init_prob": 0.5,
    },
)


def run_config(args: argparse.Namespace, preset: AdversarialPreset, algo: str) -> RunConfig:
    """The :class:`RunConfig` of the command line over ``preset``'s sizes and env kwargs."""

    def arg(name: str, default: Any = None) -> Any:
        value = getattr(args, name, None)
        return default if value is None else value

    env_kwargs = dict(preset.env_kwargs)
    if arg("motion_file"):
        env_kwargs["motion_file"] = args.motion_file
    extra = {name: getattr(args, name) for name in ("logger",) if getattr(args, name, None)}
    return RunConfig(
        env_id=arg("env", preset.env_id),
        num_envs=arg("num_envs", preset.num_envs),
        iterations=arg("iterations", preset.iterations),
        seed=arg("seed", 0),
        device=arg("device", "cpu"),
        log_dir=Path(arg("out", Path("runs") / f"{algo}_humanoid")),
        save_every=arg("save_every", 50),
        keep_checkpoints=arg("keep_checkpoints", 2),
        env_kwargs=env_kwargs,
        progress=not arg("no_progress", False),
        max_minutes=arg("minutes"),
        force=arg("force", False),
        algo=algo,
        **extra,
    )


def _ppo(args: argparse.Namespace, preset: AdversarialPreset) -> PPOConfig:
    steps = getattr(args, "num_steps", None)
    return preset.ppo if steps is None else replace(preset.ppo, num_steps=steps)


def _weights(args: argparse.Namespace, cfg: Any) -> Any:
    """``--task-weight`` / ``--style-weight`` over the preset's (when given)."""
    names = ("task_weight", "style_weight")
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return replace(cfg, **given)


def build_add_runner(
    args: argparse.Namespace, dist: distributed.DistInfo | None = None
) -> ADDRunner:
    """An :class:`ADDRunner` from :data:`ADD_PRESET` and the command line; ``ValueError``
    for an env that is not ``HumanoidImitate-v0`` (ADD needs the reference of each step)."""
    run = run_config(args, ADD_PRESET, "add")
    tracking = imitenvs.registry.get_entry(ADD_PRESET.env_id).entry_point
    ours = run.env_id.startswith("imitenvs/") and run.env_id in imitenvs.registry.list_envs()
    if not ours or imitenvs.registry.get_entry(run.env_id).entry_point != tracking:
        raise ValueError(
            f"--algo add tracks a reference clip: use {ADD_PRESET.env_id}, not {run.env_id!r}"
        )
    ppo = _ppo(args, ADD_PRESET)
    cfg = _weights(args, ADD_PRESET.cfg)
    samples = ppo.num_steps * run.num_envs
    cfg = replace(cfg, batch_size=max(cfg.batch_size, samples // DISC_MINIBATCHES))
    return ADDRunner(run, ppo, cfg, dist=dist)


def build_ase_runner(
    args: argparse.Namespace, dist: distributed.DistInfo | None = None
) -> ASERunner:
    """An :class:`ASERunner` from :data:`ASE_PRESET` and the command line
    (``--latent-dim`` too)."""
    run = run_config(args, ASE_PRESET, "ase")
    ppo = _ppo(args, ASE_PRESET)
    cfg = _weights(args, ASE_PRESET.cfg)
    if getattr(args, "latent_dim", None) is not None:
        cfg = replace(cfg, latent_dim=args.latent_dim)
    samples = ppo.num_steps * run.num_envs
    cfg = replace(cfg, batch_size=max(cfg.batch_size, samples // DISC_MINIBATCHES))
    return ASERunner(run, ppo, cfg, dist=dist)


def latent_summary(result: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Per latent of :func:`~imitenvs.agents.adversarial.ase.play_latents` on a humanoid id:
    mean root height (m), forward and sideways speed (heading frame, m/s), yaw rate (rad/s),
    hand height above the root (m) and the number of episodes that ended."""
    obs = result["observations"][1:]  # (T, K, 105); layout: HumanoidAMP-v0's table
    hands_z = 0.5 * (obs[..., 95] + obs[..., 98])
    rows = []
    for k in range(obs.shape[1]):
        rows.append(
            {
                "root_height": round(float(obs[:, k, 0].mean()), 3),
                "forward_speed": round(float(obs[:, k, 7].mean()), 3),
                "side_speed": round(float(obs[:, k, 8].mean()), 3),
                "yaw_rate": round(float(obs[:, k, 12].mean()), 3),
                "hand_height": round(float(hands_z[:, k].mean()), 3),
                "episodes_ended": int(result["done"][:, k].sum()),
            }
        )
    return rows


def read_latents(path: str | Path, dim: int) -> torch.Tensor:
    """``(K, dim)`` latents from a ``.npy`` file or a JSON list of lists (normalised by their
    users); ``ValueError`` for another shape."""
    path = Path(path)
    if path.suffix == ".npy":
        values = np.load(path, allow_pickle=False)
    else:
        values = np.asarray(json.loads(path.read_text()), dtype=np.float32)
    z = torch.as_tensor(np.asarray(values, dtype=np.float32))
    if z.ndim != 2 or z.shape[1] != dim or len(z) == 0:
        raise ValueError(f"{path}: latents must be (K, {dim}), got shape {tuple(z.shape)}")
    return z


def ase_test_mode(args: argparse.Namespace) -> dict[str, Any]:
    """ASE's test mode: ``--episodes`` random latents (seeded by ``--seed``; or the rows of
    ``--latent-file``) of the checkpoint ``--model-file``, each held for 300 control steps in
    its own world; per latent the :func:`latent_summary`. With ``--latent-strip PNG`` and / or
    ``--style-json JSON`` also the figures of
    :func:`~imitenvs.agents.adversarial.ase_eval.ase_figures` (one episode per latent from the
    same start, ``--start-state``, standing by default: a frame strip per latent, the
    discriminator's style reward per clip)."""
    path = Path(args.model_file)
    state = read_checkpoint(path)
    if (state.get("amp_cfg") or {}).get("latent_dim") is None:
        raise ValueError(f"{path} is not an ASE checkpoint (no latent_dim in its config)")
    dim = int(state["amp_cfg"]["latent_dim"])
    device = getattr(args, "device", "cpu")
    ppo, run = load_policy(path, device)
    count = int(getattr(args, "episodes", 5) or 5)
    seed = int(getattr(args, "seed", 0) or 0)
    latent_file = getattr(args, "latent_file", None)
    if latent_file is not None:
        z = read_latents(latent_file, dim)
    else:
        z = sample_latents(count, dim, torch.Generator().manual_seed(seed))
    result = play_latents(ppo, run.env_id, z, 300, seed=seed, env_kwargs=run.env_kwargs)
    out: dict[str, Any] = {
        "algo": "ase",
        "env": run.env_id,
        "checkpoint": str(path),
        "seed": seed,
        "per_latent": latent_summary(result),
    }
    strip, style_json = getattr(args, "latent_strip", None), getattr(args, "style_json", None)
    if strip is not None or style_json is not None:
        from imitenvs.agents.adversarial.ase_eval import ase_figures

        start = getattr(args, "start_state", None) or "Default"
        figures = ase_figures(
            path, z, seed=seed, strip=strip, style_json=style_json, state_init=start, device=device
        )
        out["figures"] = {k: v for k, v in figures.items() if k not in ("what", "checkpoint")}
        if style_json is not None:
            out["figures"]["style_json"] = str(style_json)
    return out


def add_ase_test_arguments(p: argparse.ArgumentParser) -> None:
    """ASE test mode's figure options (``examples/train_ase.py`` and the trainer)."""
    p.add_argument("--latent-file", type=Path, help="ase test: latents (.npy or JSON, (K, d))")
    p.add_argument("--latent-strip", type=Path, help="ase test: frame strip per latent (.png)")
    p.add_argument("--style-json", type=Path, help="ase test: style reward per clip (.json)")
    p.add_argument(
        "--start-state",
        default="Default",
        help="ase test: state_init of the strip / style episodes (Default: standing; Random: "
        "one clip frame, the same for every latent)",
    )


def example_parser(description: str) -> argparse.ArgumentParser:
    """The command line of ``examples/train_add.py`` and ``examples/train_ase.py`` (the
    trainer's names, so :func:`build_add_runner` / :func:`build_ase_runner` read either)."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", help="env id (the preset's by default)")
    p.add_argument("--num-envs", type=int, help="parallel worlds (preset default)")
    p.add_argument("--iterations", type=int, help="PPO iterations (preset default)")
    p.add_argument("--num-steps", type=int, help="rollout length per iteration")
    p.add_argument("--minutes", type=float, help="stop after this much wall-clock time")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="log/checkpoint dir (runs/<algo>_humanoid)")
    p.add_argument("--save-every", type=int, default=50, help="checkpoint period, iterations")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from")
    p.add_argument("--force", action="store_true", help="reuse --out (overwrites checkpoints)")
    p.add_argument("--motion-file", help="humanoid clip or YAML list (preset default)")
    p.add_argument("--task-weight", type=float, help="weight of the env reward (preset: 0)")
    p.add_argument("--style-weight", type=float, help="weight of the adversarial reward")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--episodes", type=int, default=5, help="evaluation episodes / latents")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def ase_test_command(args: argparse.Namespace) -> dict[str, Any]:
    """The trainer's ``--mode test`` for ASE: the checkpoint's algorithm and env checked as
    for every algorithm, then :func:`ase_test_mode`, printed as JSON."""
    from imitenvs.agents.train import check_checkpoint  # the trainer imports this module

    check_checkpoint(args)
    result = ase_test_mode(args)
    sys.stdout.write(json.dumps(result, indent=1) + "\n")
    return result
