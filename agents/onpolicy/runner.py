"""The on-policy runner: rollouts, PPO (+ AMP or NEAR) updates, TensorBoard, checkpoints, tqdm.

AMP and NEAR plug in as a *style module* (:class:`StyleModule`): both read the paired
observations ``amp_obs`` of the rollout, fill ``storage.rewards`` and keep their own state.

Exact resume: every ``save_every`` iterations the runner starts a new *segment*: it resets the
envs with a seed derived from ``(seed, iteration)`` and rebuilds the demo sampler with it.
Checkpoints are written at those boundaries and hold everything else that drives training
(networks, optimisers, normalisers, replay buffer, the torch generator, the iteration), so a
run resumed from one continues bit for bit like the uninterrupted run.

Distributed (``torchrun``, :mod:`imitenvs.agents.distributed`): pass the rank's
:class:`~imitenvs.agents.distributed.DistInfo`. Every rank builds its own envs, seeded by rank,
and its own generator; the networks start from rank 0's weights and their gradients are averaged
before every optimiser step, so they stay equal. Logged scalars are averaged over ranks and
``global_step`` counts every rank's steps. Rank 0 logs, shows the progress bar and writes
checkpoints, which keep each rank's generator and style-module state (AMP's replay buffer).

On a CUDA device the rollout keeps its bookkeeping (reward terms, finished episodes) on the
device; it reads the sums back once per iteration, not once per step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from imitenvs.agents import distributed, episode
from imitenvs.agents.adversarial.amp import AMP, AMPConfig
from imitenvs.agents.adversarial.near import NEAR, EnergyModel, NEARConfig
from imitenvs.agents.logs import LOGGERS, RunLogger
from imitenvs.agents.onpolicy.ppo import PPO, PPOConfig, require
from imitenvs.agents.onpolicy.storage import RolloutStorage
from imitenvs.agents.vec import VecAdapter, demo_source, make_env
from imitenvs.core.files import RunLock, load_torch, save_torch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "imitenvs.runner.checkpoint"
CHECKPOINT_VERSION = 2
"""version 2: plain data only (``weights_only``), with a content digest; version 1 files
(no digest, read with ``weights_only=False``) are refused, see docs/security.md"""
RESUME_KEYS = ("env_id", "num_envs", "seed", "env_kwargs")
"""run settings a checkpoint must share with the runner that resumes it"""


@dataclass
class RunConfig:
    """What to train on and how to run it."""

    env_id: str = "imitenvs/HumanoidAMP-v0"
    """a registered id: batched (made with ``num_envs``) or single (vectorised)"""
    num_envs: int = 16
    """parallel worlds N"""
    iterations: int = 100
    """PPO iterations to run (each is ``num_steps * num_envs`` env steps)"""
    seed: int = 0
    """seed of the envs, the networks, the action noise and the demo sampler"""
    device: str = "cpu"
    """torch device of the agent (and of batched envs)"""
    log_dir: Path | None = None
    """TensorBoard events and checkpoints go here (``None``: no logging, no checkpoints)"""
    save_every: int = 50
    """segment length in iterations: envs are re-seeded and a checkpoint is written"""
    keep_checkpoints: int = 2
    """numbered checkpoints kept on disk (older ones are deleted; ``checkpoint_last.pt`` too
    is always written at the end)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """extra constructor kwargs of the env"""
    progress: bool = True
    """show a tqdm progress bar"""
    max_minutes: float | None = None
    """stop after this much wall-clock time (checked after each iteration; the final
    checkpoint is written as usual); ``None``: run all ``iterations``"""
    force: bool = False
    """take ``log_dir`` over even when another live run holds its lock, or when it already
    holds checkpoints of an earlier run (which are then overwritten)"""
    logger: str = "tb"
    """scalar sink beside the always-written ``log.txt``: ``tb`` (TensorBoard), ``wandb``
    (needs the wandb package) or ``none`` (:mod:`imitenvs.agents.logs`)"""
    algo: str | None = None
    """the trainer's algorithm name (:mod:`imitenvs.agents.train`), recorded in checkpoints so
    that ``--mode test`` refuses a checkpoint of another algorithm (``None``: not recorded)"""

    def __post_init__(self) -> None:
        for name in ("num_envs", "iterations", "save_every", "keep_checkpoints"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        minutes = self.max_minutes
        ok = minutes is None or (isinstance(minutes, int | float) and 0 < minutes < math.inf)
        require(ok, "max_minutes", minutes, "must be a positive number or None")
        require(self.logger in LOGGERS, "logger", self.logger, f"choose one of {LOGGERS}")
        self.log_dir = None if self.log_dir is None else Path(self.log_dir)


class StyleModule(Protocol):
    """What the runner needs from AMP or NEAR (the rollout's ``amp_obs`` -> rewards)."""

    def rewards(self, storage: RolloutStorage) -> dict[str, torch.Tensor]:
        """Fill ``storage.rewards``; return the named ``(T, N)`` reward terms."""

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """Learn from the finished rollout (after PPO); return scalars to log."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def segment_seed(seed: int, iteration: int, rank: int = 0) -> int:
    """The env / demo seed of the segment starting at ``iteration`` (on ``rank``)."""
    key = [seed, iteration] if rank == 0 else [seed, iteration, rank]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's torch generator (``seed`` itself on rank 0)."""
    return seed if rank == 0 else int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


class EpisodeTally:
    """Sums of the episodes that finish during a rollout, kept on the device.

    Args:
        num_envs: worlds N.
        device: torch device of the sums.
    """

    def __init__(self, num_envs: int, device: torch.device) -> None:
        self.ret = torch.zeros(num_envs, device=device)  # running return of each world
        self.length = torch.zeros(num_envs, device=device)
        self.sums = torch.zeros(5, device=device)  # return, length, count, success, reported

    def add(self, reward: torch.Tensor, done: torch.Tensor, success: torch.Tensor | None) -> None:
        """Fold one step: ``reward (N,)``, ``done (N,)`` bool, ``success (N,)`` bool or None."""
        self.ret += reward
        self.length += 1
        d = done.float()
        won = torch.zeros_like(d) if success is None else success.float() * d
        seen = torch.zeros_like(d) if success is None else d
        self.sums += torch.stack(
            [(self.ret * d).sum(), (self.length * d).sum(), d.sum(), won.sum(), seen.sum()]
        )
        self.ret *= 1.0 - d
        self.length *= 1.0 - d

    def stats(self) -> dict[str, float]:
        """Means of the finished episodes since the last call (then clears the sums)."""
        ret, length, count, won, seen = self.sums.tolist()
        self.sums.zero_()
        out = {"episode/count": count}
        if count > 0:
            out["episode/return"], out["episode/length"] = ret / count, length / count
        if seen > 0:
            out["episode/success"] = won / seen
        return out


class Runner:
    """Trains PPO on ``run.env_id``: plain, with AMP (``amp_cfg``) or with NEAR (``near_cfg``
    and the trained ``energy`` model)."""

    def __init__(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        amp_cfg: AMPConfig | None = None,
        near_cfg: NEARConfig | None = None,
        energy: EnergyModel | None = None,
        dist: distributed.DistInfo | None = None,
    ):
        if amp_cfg is not None and near_cfg is not None:
            raise ValueError("pass amp_cfg or near_cfg, not both")
        if (near_cfg is None) != (energy is None):
            raise ValueError("NEAR needs both near_cfg and energy (a trained EnergyModel)")
        self.run, self.ppo_cfg, self.amp_cfg, self.near_cfg = run, ppo_cfg, amp_cfg, near_cfg
        self.dist = dist or distributed.DistInfo()
        self._lock: RunLock | None = None
        if run.log_dir is not None and self.dist.is_main:
            self._lock = RunLock(run.log_dir, force=run.force).acquire()
        try:
            self._build(run, ppo_cfg, amp_cfg, near_cfg, energy)
        except BaseException:
            self.close()
            raise

    def _build(
        self,
        run: RunConfig,
        ppo_cfg: PPOConfig,
        amp_cfg: AMPConfig | None,
        near_cfg: NEARConfig | None,
        energy: EnergyModel | None,
    ) -> None:
        self.env: VecAdapter | None = None
        self._writer = None
        self.device = torch.device(run.device)
        torch.manual_seed(run.seed)  # network initialisation (rank 0's weights are broadcast)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(rank_seed(run.seed, self.dist.rank))
        self.env = make_env(
            run.env_id,
            run.num_envs,
            run.device,
            paired=amp_cfg is not None or near_cfg is not None,
            env_kwargs=run.env_kwargs,
        )
        n, o, a = self.env.num_envs, self.env.obs_dim, self.env.act_dim
        self.ppo = PPO(o, a, ppo_cfg, self.device, self.generator)
        self.amp: AMP | None = None
        self.near: NEAR | None = None
        amp_dim = None
        if amp_cfg is not None:
            amp_dim = self._amp_dim()
            self.amp = AMP(amp_dim, amp_cfg, self.device, self.generator, self._sample_demos)
        if near_cfg is not None:
            amp_dim = self._amp_dim()
            if energy.in_dim != amp_dim:
                raise ValueError(
                    f"the energy model takes {energy.in_dim}-dim pairs but {run.env_id} gives "
                    f"{amp_dim}-dim amp_obs"
                )
            self.near = NEAR(near_cfg, energy, self.device)
        self.style: StyleModule | None = self.amp if self.amp is not None else self.near
        distributed.broadcast_parameters(self.ppo.model)
        if self.amp is not None:
            distributed.broadcast_parameters(self.amp.disc)
        self.storage = RolloutStorage(ppo_cfg.num_steps, n, o, a, self.device, amp_dim)
        self.iteration, self.global_step = 0, 0
        self._folder_checked = False  # a resumed run or a checked folder skips the check
        self._demos = None
        self._begin_segment()

    # ------------------------------------------------------------------------------ set-up
    def _amp_dim(self) -> int:
        unwrapped = self.env.env.unwrapped
        space = getattr(unwrapped, "amp_observation_space", None)
        if space is not None:
            return int(np.prod(space.shape))
        return 2 * self.env.obs_dim  # PairedObservation with two steps

    def _sample_demos(self, n: int) -> torch.Tensor:
        return self._demos(n)

    def _begin_segment(self) -> None:
        seed = segment_seed(self.run.seed, self.iteration, self.dist.rank)
        self.obs = self.env.reset(seed=seed)
        if self.amp is not None:
            self._demos = demo_source(self.env, self.run.env_id, seed)
        self.episodes = EpisodeTally(self.env.num_envs, self.device)

    # ----------------------------------------------------------------------------- rollout
    @torch.no_grad()
    def rollout(self) -> dict[str, float]:
        """Fill the storage with ``num_steps`` steps; returns reward-term and episode stats."""
        self.storage.clear()
        sums: dict[str, torch.Tensor] = {}
        for _ in range(self.ppo_cfg.num_steps):
            actions, log_probs, values = self.ppo.act(self.obs)
            step = self.env.step(actions)
            done = step.terminated | step.truncated
            fields = dict(
                obs=self.obs,
                actions=actions,
                log_probs=log_probs,
                values=values,
                next_values=self.ppo.value(step.final_obs),
                task_rewards=step.reward,
                terminated=step.terminated,
                done=done,
            )
            if self.style is not None:
                fields["amp_obs"] = step.amp_obs
            self.storage.add(**fields)
            for name, term in step.reward_terms.items():
                key = f"env_terms/{name}"
                sums[key] = sums[key] + term.mean() if key in sums else term.mean()
            self.episodes.add(step.reward, done, step.success)
            self.obs = step.obs
        stats = {k: float(v) / self.ppo_cfg.num_steps for k, v in sums.items()}
        stats.update(self.episodes.stats())
        return stats

    # ---------------------------------------------------------------------------- training
    def train_iteration(self) -> dict[str, float]:
        """One rollout and update; returns every logged scalar."""
        start = time.perf_counter()
        stats = self.rollout()
        rollout_time = time.perf_counter() - start
        if self.style is not None:
            terms = self.style.rewards(self.storage)
            stats.update({f"reward/{k}": float(v.mean()) for k, v in terms.items()})
        else:
            self.storage.rewards.copy_(self.storage.task_rewards)
            stats["reward/task"] = float(self.storage.task_rewards.mean())
        stats["reward/total"] = float(self.storage.rewards.mean())
        self.storage.compute_returns(self.ppo_cfg.gamma, self.ppo_cfg.lam)
        stats.update(self.ppo.update(self.storage))
        if self.style is not None:
            stats.update(self.style.update(self.storage))
        steps = self.ppo_cfg.num_steps * self.env.num_envs * self.dist.world_size
        self.global_step += steps
        self.iteration += 1
        total_time = time.perf_counter() - start
        stats["perf/env_steps_per_s"] = steps / max(rollout_time, 1e-9)
        stats["perf/total_steps_per_s"] = steps / max(total_time, 1e-9)
        return distributed.mean_scalars(stats)

    def train(
        self, evaluate: Callable[[Runner], dict[str, float]] | None = None
    ) -> dict[str, float]:
        """Run until ``run.iterations``; logs, checkpoints and re-seeds at segment boundaries.

        Args:
            evaluate: called after every iteration (on every rank); the scalars it returns
                (e.g. ``eval/dtw_pose_rmse``, often empty) are logged with that iteration's.

        Returns the last iteration's scalars."""
        self._check_fresh_folder()
        self._open_log()  # log.txt's wall time counts from here
        stats = training_loop(self, evaluate, self.dist.is_main)
        if self._writer is not None:
            self._writer.flush()
        return stats

    def _check_fresh_folder(self) -> None:
        """A new run (not resumed) refuses a ``log_dir`` that holds another run's checkpoints,
        unless ``run.force`` is set."""
        if self._folder_checked or self.run.force or self.run.log_dir is None:
            return
        self._folder_checked = True  # once: later calls would see this run's own checkpoints
        if not self.dist.is_main:
            return
        old = sorted(self.run.log_dir.glob("checkpoint_*.pt"))
        if old:
            raise FileExistsError(
                f"{self.run.log_dir} already holds checkpoints of another run ({old[-1].name}"
                f"{f' and {len(old) - 1} more' if len(old) > 1 else ''}); resume from one, "
                "choose another output folder, or pass --force to overwrite them"
            )

    def _prune_checkpoints(self) -> None:
        if self.dist.is_main:
            prune_checkpoints(self.run.log_dir, self.run.keep_checkpoints)

    def _open_log(self) -> None:
        if self.run.log_dir is not None and self.dist.is_main and self._writer is None:
            self._writer = RunLogger(self.run.log_dir, self.run.logger, plain_config(self.run))

    def _log(self, stats: dict[str, float]) -> None:
        self._open_log()
        if self._writer is not None:
            self._writer.log(stats, self.global_step, self.iteration)

    # ------------------------------------------------------------------------- checkpoints
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (networks, optimisers, normalisers, replay, NEAR's energy model
        and annealing state, RNG, iteration). Under torch.distributed every rank must call it
        (it gathers each rank's generator and style state); rank 0 writes the file."""
        path = Path(path)
        for name, module in (
            ("policy", self.ppo.model),
            ("style", getattr(self.amp, "disc", None)),
        ):
            if module is not None:
                distributed.check_synchronised(module, name)
        ranks = distributed.gather_objects(
            {
                "generator": self.generator.get_state(),
                "style": None if self.style is None else self.style.state_dict(),
            }
        )
        if not self.dist.is_main:
            return path
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "iteration": self.iteration,
            "global_step": self.global_step,
            "run": plain_config(self.run),
            "ppo_cfg": plain_config(self.ppo_cfg),
            "amp_cfg": None if self.amp_cfg is None else plain_config(self.amp_cfg),
            "ppo": self.ppo.state_dict(),
            "amp": None if self.amp is None else self.amp.state_dict(),
            "near_cfg": None if self.near_cfg is None else plain_config(self.near_cfg),
            "near": None if self.near is None else self.near.state_dict(),
            "generator": self.generator.get_state(),
            "ranks": ranks if len(ranks) > 1 else None,
        }
        save_torch(path, state)
        log.info("saved checkpoint %s (iteration %d)", path, self.iteration)
        return path

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint of a runner with the same configs and start its segment.

        Raises:
            CorruptFileError: the file fails its checksum or holds more than plain data.
            ValueError: not a runner checkpoint, or it was trained with another env id,
                ``num_envs``, seed, env kwargs or style module than this runner.
        """
        state = read_checkpoint(path, self.device)
        saved = state["run"]
        current = plain_config(self.run)
        for key in RESUME_KEYS:
            mine = current[key]
            if saved.get(key) != mine:
                raise ValueError(
                    f"{path} was trained with {key}={saved.get(key)!r}, this run has "
                    f"{key}={mine!r}; resume with the same value (or start a new run)"
                )
        for name, module in (("amp", self.amp), ("near", self.near)):
            if (state.get(name) is None) != (module is None):
                raise ValueError(f"{path}: checkpoint and runner disagree on using {name}")
        own = state.get("ranks")
        own = own[self.dist.rank] if own and len(own) == self.dist.world_size else None
        self.ppo.load_state_dict(state["ppo"])
        if self.style is not None:
            style = state["amp" if self.amp is not None else "near"]
            self.style.load_state_dict(style if own is None else own["style"])
        self.generator.set_state((state["generator"] if own is None else own["generator"]).cpu())
        self.iteration, self.global_step = int(state["iteration"]), int(state["global_step"])
        self._folder_checked = True
        self._begin_segment()

    def close(self) -> None:
        """Close the env and the log writer and release the run folder's lock."""
        if getattr(self, "_writer", None) is not None:
            self._writer.close()
            self._writer = None
        if getattr(self, "env", None) is not None:
            self.env.close()
        if self._lock is not None:
            self._lock.release()


class Trainable(Protocol):
    """What :func:`training_loop` drives (:class:`Runner`, the AWR runner)."""

    run: RunConfig
    iteration: int

    def train_iteration(self) -> dict[str, float]: ...
    def save(self, path: str | Path) -> Path: ...
    def _log(self, stats: dict[str, float]) -> None: ...
    def _prune_checkpoints(self) -> None: ...
    def _begin_segment(self) -> None: ...


def training_loop(
    trainer: Trainable,
    evaluate: Callable[[Any], dict[str, float]] | None,
    show_progress: bool = True,
) -> dict[str, float]:
    """Iterate until ``run.iterations`` (or ``run.max_minutes``): train, evaluate, log, refuse
    non-finite scalars, and every ``save_every`` iterations write a numbered checkpoint, prune
    old ones and start a new seed segment; ``checkpoint_last.pt`` at the end. Returns the last
    iteration's scalars."""
    run = trainer.run
    start = time.perf_counter()
    limit = math.inf if run.max_minutes is None else 60.0 * run.max_minutes
    stats: dict[str, float] = {}
    bar = tqdm(total=run.iterations, initial=trainer.iteration, unit="it", dynamic_ncols=True,
               disable=not (run.progress and show_progress))  # fmt: skip
    while trainer.iteration < run.iterations and time.perf_counter() - start < limit:
        stats = trainer.train_iteration()
        if evaluate is not None:
            stats.update(evaluate(trainer))
        if not all(math.isfinite(v) for v in stats.values()):
            raise FloatingPointError(f"non-finite training scalars: {stats}")
        trainer._log(stats)
        bar.update(1)
        bar.set_postfix({name: f"{stats[k]:.4g}" for k, name in POSTFIX.items() if k in stats})
        if trainer.iteration % run.save_every == 0:
            if run.log_dir is not None:
                trainer.save(run.log_dir / f"checkpoint_{trainer.iteration:06d}.pt")
                trainer._prune_checkpoints()
            trainer._begin_segment()
    bar.close()
    if run.log_dir is not None:
        trainer.save(run.log_dir / "checkpoint_last.pt")
    return stats


POSTFIX = {"perf/total_steps_per_s": "steps_s", "reward/total": "reward"}
"""scalars shown on the progress bar when a trainer reports them"""


def prune_checkpoints(log_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` numbered checkpoints ``checkpoint_NNNNNN.pt``."""
    numbered = sorted(log_dir.glob("checkpoint_[0-9]*.pt"))
    for old in numbered[:-keep]:
        old.unlink()


def plain_config(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain data (``Path`` -> ``str``, numpy scalars -> numbers), the
    form checkpoints store so that ``torch.load(weights_only=True)`` reads them back."""

    def plain(x: Any) -> Any:
        if isinstance(x, Path):
            return str(x)
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return type(x)(plain(v) for v in x)
        if isinstance(x, np.generic):
            return x.item()
        if x is None or isinstance(x, bool | int | float | str):
            return x
        raise TypeError(f"config value {x!r} ({type(x).__name__}) is not plain data")

    return plain(asdict(cfg))


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The dict :meth:`Runner.save` wrote, tensors on ``device`` (``weights_only``, checksum).

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: the checksum fails, or the file holds objects other than plain data
            (such as a checkpoint of an older version: see docs/security.md).
        ValueError: a readable file that is not a runner checkpoint.
    """
    path = Path(path)
    state = load_torch(path, map_location=device)
    if state.get("format") != CHECKPOINT_FORMAT or "run" not in state:
        raise ValueError(f"{path} is not an imitenvs runner checkpoint ({CHECKPOINT_FORMAT!r})")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} is a version {state.get('version')} checkpoint; this imitenvs reads "
            f"version {CHECKPOINT_VERSION}"
        )
    return state


def play_episode(
    ppo: PPO, env: Any, seed: int, render: bool = False, max_steps: int | None = None
) -> dict[str, Any]:
    """Run the mean policy on a single gymnasium env for one episode
    (see :func:`imitenvs.agents.episode.run_episode` for the result)."""

    def act(obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=ppo.device)[None]
        return ppo.act_deterministic(x)[0].cpu().numpy()

    return episode.run_episode(env, act, seed, render=render, max_steps=max_steps)
