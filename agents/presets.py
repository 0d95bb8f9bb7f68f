"""Training presets of the trainer's algorithms (:mod:`imitenvs.agents.train`), by env family.

A *family* is ``humanoid`` (every humanoid id), ``maze`` (``imitenvs/Maze-v0``),
``locomotion`` (our MuJoCo locomotion ids with a batched twin: iMuJoCo and Deep RLSP's) or
``gym`` (any other id, e.g. ``Pendulum-v1``). Each preset is small enough for a 2-core
laptop; the command line scales it (``--num-envs``, ``--iterations``, ``--num-steps``).

- :data:`PRESETS`: PPO and its extensions (``ppo``, ``deepmimic``, ``amp``, ``near``), keyed by
  ``(algo, family)``, built into a :class:`~imitenvs.agents.onpolicy.runner.Runner` by
  :func:`build_ppo_runner`;
- :data:`AWR_PRESETS`: AWR, built into an
  :class:`~imitenvs.agents.offpolicy.awr_runner.AWRRunner` by :func:`build_awr_runner`;
- :data:`ENERGY_PRESETS`: NEAR's energy model (stage 1), trained when ``--energy`` is missing.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import gymnasium

import imitenvs
from imitenvs.agents import distributed
from imitenvs.agents.adversarial.amp import AMPConfig
from imitenvs.agents.adversarial.near import (
    NEARConfig,
    demo_pairs,
    load_energy,
    save_energy,
    train_energy,
)
from imitenvs.agents.offpolicy.awr import AWRConfig
from imitenvs.agents.offpolicy.awr_runner import AWRRunner
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner

log = logging.getLogger(__name__)

IMITATE = "imitenvs/HumanoidImitate-v0"


@dataclass(frozen=True)
class Preset:
    """Defaults of one PPO-family algorithm on one env family."""

    num_envs: int
    iterations: int
    ppo: PPOConfig
    amp: AMPConfig | None = None
    """the discriminator's config (AMP); ``None``: no discriminator"""
    env_kwargs: dict | None = None
    large_epochs: tuple[int, int] | None = None
    """``(PPO epochs, discriminator epochs)`` once a rollout holds at least
    :data:`LARGE_ROLLOUT` samples (``num_envs x num_steps``): on a CPU the learner's cost per
    sample must stay below the simulator's, so big rollouts take fewer passes (``None``: keep
    the preset's epochs at every size)"""
    near: NEARConfig | None = None
    """NEAR's reward settings; ``None``: not NEAR"""


@dataclass(frozen=True)
class AWRPreset:
    """Defaults of AWR on one env family."""

    num_envs: int
    iterations: int
    awr: AWRConfig
    env_kwargs: dict | None = None


@dataclass(frozen=True)
class EnergyPreset:
    """Energy-model defaults of one env family (NEAR stage 1)."""

    cfg: NEARConfig
    num_pairs: int
    env_kwargs: dict


LARGE_ROLLOUT = 8192
"""rollout size (samples per iteration) from which a preset's ``large_epochs`` apply"""
DISC_MINIBATCHES = 4
"""at most this many discriminator minibatches per epoch: the AMP batch grows with N x T"""

MAZE_PPO = PPOConfig(num_steps=32, num_minibatches=4, epochs=4, learning_rate=1e-3,
                     init_log_std=-1.0, value_coef=1.0, gamma=0.99, lam=0.95)  # fmt: skip
GYM_PPO = PPOConfig(num_steps=256, num_minibatches=32, epochs=10, learning_rate=1e-3, gamma=0.9,
                    lam=0.95, value_coef=0.5, bounds_coef=1.0, init_log_std=0.0, learn_std=True,
                    hidden=(64, 64))  # fmt: skip
"""the settings of ``benchmarks/ppo_pendulum.py`` (solves Pendulum-v1 in 200k steps)"""

LOCOMOTION_PPO = PPOConfig(num_steps=32, num_minibatches=8, epochs=10, learning_rate=3e-4,
                           gamma=0.99, lam=0.95, clip=0.2, value_coef=0.5, entropy_coef=0.0,
                           max_grad_norm=0.5, init_log_std=0.0, learn_std=True, bounds_coef=0.0,
                           hidden=(64, 64))  # fmt: skip
"""SB3/rl-zoo's MuJoCo PPO settings on 64 batched worlds (``benchmarks/ppo_vs_sb3_imujoco.py``:
an iMuJoCo hopper reaches ~3500 in 1M steps, about 5 minutes on 2 cores)"""

PRESETS: dict[tuple[str, str], Preset] = {
    ("amp", "humanoid"): Preset(
        num_envs=64,
        iterations=300,
        ppo=PPOConfig(num_steps=16, num_minibatches=2, epochs=4, learning_rate=5e-5),
        amp=AMPConfig(
            batch_size=256, epochs=2, replay_size=20_000, task_weight=0.0, style_weight=1.0
        ),
        env_kwargs={"motion_file": "walk.yaml"},
        large_epochs=(2, 1),
    ),
    ("amp", "maze"): Preset(
        num_envs=16,
        iterations=100,
        ppo=MAZE_PPO,
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
    ),
    ("deepmimic", "humanoid"): Preset(
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
        env_kwargs={
            "motion_file": "walk.yaml",
            "pose_termination_distance": 0.5,
            "reference_obs_steps": (1,),
        },
    ),
    # The AMP maze PPO with a lower learning rate (1e-3 clipped ~40 % of the samples and lost
    # the goal again on some seeds). Weights 0.5 / 0.5 as in NEAR's experiments. The level is
    # fixed at the last (sharpest) one, NEAR's `sigma_level` option: on the maze NEAR's
    # annealing stalls at levels 1-3, where the energy reward is nearly flat, and the policy
    # lost the goal on 3 of 5 seeds (docs/agents.md).
    ("near", "maze"): Preset(
        num_envs=16,
        iterations=200,
        ppo=replace(MAZE_PPO, learning_rate=3e-4),
        near=NEARConfig(task_weight=0.5, energy_weight=0.5, sigma_level=49),
    ),
    ("near", "humanoid"): Preset(
        num_envs=64,
        iterations=300,
        ppo=PPOConfig(num_steps=16, num_minibatches=2, epochs=4, learning_rate=5e-5),
        env_kwargs={"motion_file": "walk.yaml"},
        near=NEARConfig(),
    ),
    ("ppo", "gym"): Preset(num_envs=8, iterations=100, ppo=GYM_PPO),
    ("ppo", "locomotion"): Preset(num_envs=64, iterations=488, ppo=LOCOMOTION_PPO),
    ("ppo", "maze"): Preset(num_envs=16, iterations=100, ppo=MAZE_PPO),
}

AWR_PRESETS: dict[str, AWRPreset] = {
    # MimicKit deepmimic_humanoid_awr (4096 worlds there; 1024-unit nets) on the walk clip with
    # the DeepMimic preset's env settings.
    "humanoid": AWRPreset(
        num_envs=512,
        iterations=200,
        awr=AWRConfig(),
        env_kwargs=PRESETS[("deepmimic", "humanoid")].env_kwargs,
    ),
    # Pendulum-sized: small nets, Adam, wider fixed exploration noise, value normalisation
    # (benchmarks/awr_pendulum.py: 100 iterations = 160k steps solve it on seeds 0, 1, 2).
    "gym": AWRPreset(
        num_envs=8,
        iterations=100,
        awr=AWRConfig(
            num_steps=200,
            buffer_steps=200,
            hidden=(64, 64),
            optimizer="adam",
            actor_learning_rate=1e-3,
            critic_learning_rate=1e-3,
            init_log_std=-0.7,
            normalize_value=True,
            gamma=0.95,
        ),
    ),
}

ENERGY_PRESETS: dict[str, EnergyPreset] = {
    # NEAR mazeNEARPPO.yaml sizes; 10k DSM steps are enough for the maze (NEAR: 50k). Delta
    # features (not in NEAR) let the energy see the direction of the 3-unit demo steps.
    "maze": EnergyPreset(
        NEARConfig(iterations=10_000, delta_features=True), num_pairs=10_000, env_kwargs={}
    ),
    # NEAR HumanoidNEARPPO.yaml: (512, 1024) -> 2048 -> (1024, 512, 128), lr 1e-5, 100k steps.
    "humanoid": EnergyPreset(
        NEARConfig(
            encoder_hidden=(512, 1024),
            latent_dim=2048,
            decoder_hidden=(1024, 512, 128),
            learning_rate=1e-5,
            iterations=100_000,
        ),
        num_pairs=100_000,
        env_kwargs={"motion_file": "walk.yaml"},
    ),
}


def family_of(env_id: str) -> str:
    """``humanoid``, ``maze``, ``locomotion`` or ``gym`` (see the module doc); ``ValueError``
    for an id that is not registered."""
    if env_id.startswith("imitenvs/"):
        try:
            entry = imitenvs.registry.get_entry(env_id)
        except KeyError as exc:
            raise ValueError(str(exc).strip("\"'")) from None
        if entry.family == "humanoid":
            return "humanoid"
        if entry.vectorised:
            return "locomotion"
    if env_id == "imitenvs/Maze-v0":
        return "maze"
    if env_id not in gymnasium.registry:
        raise ValueError(f"unknown env id {env_id!r} (python -m imitenvs list shows ours)")
    return "gym"


def ppo_preset(algo: str, env_id: str) -> Preset:
    """The :data:`PRESETS` entry of ``algo`` on ``env_id``'s family.

    Raises:
        ValueError: no preset (naming the envs the algorithm has presets for)."""
    family = family_of(env_id)
    if algo == "deepmimic" and family == "humanoid":
        entry = imitenvs.registry.get_entry(env_id).entry_point
        if entry != imitenvs.registry.get_entry(IMITATE).entry_point:
            raise ValueError(
                f"--algo deepmimic tracks a reference clip: use {IMITATE}, not {env_id!r}"
            )
    key = (algo, family if (algo, family) in PRESETS or algo != "ppo" else "gym")
    if key not in PRESETS:
        known = [f for a, f in PRESETS if a == algo]
        raise ValueError(
            f"--algo {algo} has presets for the {' and '.join(known)} ids, not {env_id!r}"
        )
    return PRESETS[key]


def out_dir(args: argparse.Namespace) -> Path:
    """``--out`` or ``runs/<algo>_<family>`` (``runs/deepmimic`` for DeepMimic; the id's
    name for the gym and locomotion families)."""
    if args.out is not None:
        return Path(args.out)
    family = family_of(args.env)
    name = args.env.split("/")[-1] if family in ("gym", "locomotion") else family
    return Path("runs") / ("deepmimic" if args.algo == "deepmimic" else f"{args.algo}_{name}")


def run_config(
    args: argparse.Namespace, num_envs: int, iterations: int, env_kwargs: dict
) -> RunConfig:
    """The :class:`RunConfig` of the command line over a preset's sizes and env kwargs."""
    env_kwargs = dict(env_kwargs or {})
    if getattr(args, "motion_file", None):
        env_kwargs["motion_file"] = args.motion_file
    return RunConfig(
        env_id=args.env,
        num_envs=args.num_envs or num_envs,
        iterations=args.iterations or iterations,
        seed=args.seed,
        device=args.device,
        log_dir=out_dir(args),
        save_every=args.save_every,
        keep_checkpoints=args.keep_checkpoints,
        env_kwargs=env_kwargs,
        progress=not args.no_progress,
        max_minutes=args.minutes,
        force=args.force,
        logger=args.logger,
        algo=args.algo,
    )


def build_ppo_runner(args: argparse.Namespace, dist: distributed.DistInfo | None = None) -> Runner:
    """A :class:`Runner` for ``args.algo`` in ``ppo``, ``deepmimic``, ``amp``, ``near``."""
    preset = ppo_preset(args.algo, args.env)
    ppo = preset.ppo if args.num_steps is None else replace(preset.ppo, num_steps=args.num_steps)
    samples = ppo.num_steps * (args.num_envs or preset.num_envs)
    minibatches = max(d for d in range(1, ppo.num_minibatches + 1) if samples % d == 0)
    if minibatches != ppo.num_minibatches:  # a small rollout (a test): fewer minibatches
        log.warning("%d samples per rollout: %d minibatches, not %d", samples, minibatches,
                    ppo.num_minibatches)  # fmt: skip
        ppo = replace(ppo, num_minibatches=minibatches)
    large = preset.large_epochs is not None and samples >= LARGE_ROLLOUT
    if large:
        ppo = replace(ppo, epochs=preset.large_epochs[0])
    amp = preset.amp
    if amp is not None:
        weights = {"task_weight": args.task_weight, "style_weight": args.style_weight}
        amp = replace(amp, **{k: v for k, v in weights.items() if v is not None})
        amp = replace(amp, batch_size=max(amp.batch_size, samples // DISC_MINIBATCHES))
        if large:
            amp = replace(amp, epochs=preset.large_epochs[1])
    run = run_config(args, preset.num_envs, preset.iterations, preset.env_kwargs)
    if preset.near is None:
        return Runner(run, ppo, amp, dist=dist)
    near = preset.near
    for name in ("task_weight", "energy_weight", "sigma_level"):
        value = getattr(args, name, None)
        near = near if value is None else replace(near, **{name: value})
    energy = load_energy(ensure_energy(args, run), args.device)
    return Runner(run, ppo, near_cfg=near, energy=energy, dist=dist)


def ensure_energy(args: argparse.Namespace, run: RunConfig) -> Path:
    """``--energy`` (default ``<out>/energy.pt``); trained first with :data:`ENERGY_PRESETS`
    (``--energy-iterations`` DSM steps) when the file is missing."""
    path = Path(args.energy) if args.energy is not None else run.log_dir / "energy.pt"
    if path.is_file():
        return path
    preset = ENERGY_PRESETS[family_of(args.env)]
    cfg = preset.cfg
    if args.energy_iterations is not None:
        cfg = replace(cfg, iterations=args.energy_iterations)
    log.info("%s is missing: training the energy model first (%d DSM steps)", path, cfg.iterations)
    kwargs = {**preset.env_kwargs, **run.env_kwargs}
    pairs = demo_pairs(args.env, preset.num_pairs, args.seed, kwargs).to(args.device)
    model, stats = train_energy(pairs, cfg, seed=args.seed, progress=not args.no_progress)
    return save_energy(path, model, stats)


def build_awr_runner(
    args: argparse.Namespace, dist: distributed.DistInfo | None = None
) -> AWRRunner:
    """An :class:`AWRRunner` from :data:`AWR_PRESETS` (one process: no ``torchrun``)."""
    if dist is not None and dist.world_size > 1:
        raise ValueError("--algo awr runs in one process; start it without torchrun")
    family = family_of(args.env)
    preset = AWR_PRESETS["gym" if family == "maze" else family]
    cfg = preset.awr
    if args.num_steps is not None:
        ratio = cfg.buffer_steps // cfg.num_steps  # iterations the buffer keeps
        cfg = replace(cfg, num_steps=args.num_steps, buffer_steps=ratio * args.num_steps)
    run = run_config(args, preset.num_envs, preset.iterations, preset.env_kwargs)
    return AWRRunner(run, cfg)
