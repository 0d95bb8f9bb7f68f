"""The AWR loop: rollouts into the replay buffer, updates, logs, checkpoints.

:class:`AWRRunner` takes the same :class:`~imitenvs.agents.onpolicy.runner.RunConfig` as the PPO
runner and works on the same envs (a batched humanoid id, or any gymnasium id as a SAME_STEP
vector env, e.g. one ``Pendulum-v1``). Like the PPO runner it re-seeds the envs every
``save_every`` iterations and writes checkpoints there (networks, optimisers, normalisers, the
replay buffer, the generator), so a resumed run continues like the uninterrupted one; the
buffer's last step before such a re-seed is marked as a time-out. Its checkpoints carry the
actor-critic as ``ppo.model`` with the policy fields as ``ppo_cfg``, so
:func:`imitenvs.agents.evaluation.load_policy` (and ``python -m imitenvs play``) read them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch

from imitenvs.agents.logs import RunLogger
from imitenvs.agents.offpolicy.awr import AWR, AWRConfig, ReplayBuffer
from imitenvs.agents.onpolicy.runner import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    RESUME_KEYS,
    EpisodeTally,
    RunConfig,
    plain_config,
    prune_checkpoints,
    read_checkpoint,
    segment_seed,
    training_loop,
)
from imitenvs.agents.vec import make_env
from imitenvs.core.files import RunLock, save_torch

log = logging.getLogger(__name__)

POLICY_FIELDS = ("hidden", "init_log_std", "learn_std", "normalize_obs", "normalize_value")
"""the :class:`AWRConfig` fields that shape the actor-critic (saved as ``ppo_cfg``)"""


class AWRRunner:
    """Trains :class:`AWR` on ``run.env_id`` (see the module doc)."""

    def __init__(self, run: RunConfig, cfg: AWRConfig) -> None:
        self.run, self.cfg = run, cfg
        self._lock = None if run.log_dir is None else RunLock(run.log_dir, force=run.force)
        self.env = None
        self._logger: RunLogger | None = None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        run, cfg = self.run, self.cfg
        self.device = torch.device(run.device)
        torch.manual_seed(run.seed)  # network initialisation
        self.generator = torch.Generator(device=self.device).manual_seed(run.seed)
        self.env = make_env(run.env_id, run.num_envs, run.device, env_kwargs=run.env_kwargs)
        n, o, a = self.env.num_envs, self.env.obs_dim, self.env.act_dim
        self.agent = AWR(o, a, cfg, self.device, self.generator)
        self.buffer = ReplayBuffer(cfg.buffer_steps, n, o, a, self.device)
        self.iteration, self.global_step = 0, 0
        self._begin_segment()

    def _begin_segment(self) -> None:
        if self.buffer.size:  # the episodes in flight are cut here: a time-out
            self.buffer.data["done"][(self.buffer.pos - 1) % self.buffer.capacity] = True
        self.obs = self.env.reset(seed=segment_seed(self.run.seed, self.iteration))
        self.episodes = EpisodeTally(self.env.num_envs, self.device)

    @torch.no_grad()
    def rollout(self) -> dict[str, float]:
        """``num_steps`` steps of every world into the buffer; episode statistics."""
        for _ in range(self.cfg.num_steps):
            actions = self.agent.act(self.obs)
            step = self.env.step(actions)
            done = step.terminated | step.truncated
            self.buffer.add(
                obs=self.obs,
                actions=actions,
                rewards=step.reward,
                next_obs=step.final_obs,
                terminated=step.terminated,
                done=done,
            )
            self.episodes.add(step.reward, done, step.success)
            self.obs = step.obs
        return self.episodes.stats()

    def train_iteration(self) -> dict[str, float]:
        """One rollout and update; returns every logged scalar."""
        start = time.perf_counter()
        stats = self.rollout()
        rollout_time = time.perf_counter() - start
        stats["reward/total"] = float(self.buffer.ordered("rewards")[-self.cfg.num_steps :].mean())
        stats.update(self.agent.update(self.buffer))
        steps = self.cfg.num_steps * self.env.num_envs
        self.global_step += steps
        self.iteration += 1
        stats["perf/env_steps_per_s"] = steps / max(rollout_time, 1e-9)
        stats["perf/total_steps_per_s"] = steps / max(time.perf_counter() - start, 1e-9)
        return stats

    def train(
        self, evaluate: Callable[[AWRRunner], dict[str, float]] | None = None
    ) -> dict[str, float]:
        """Run until ``run.iterations`` (or ``run.max_minutes``); returns the last scalars.

        Args:
            evaluate: called after every iteration; its scalars are logged with the
                iteration's (as :meth:`imitenvs.agents.onpolicy.runner.Runner.train`)."""
        self._check_fresh_folder()
        self._open_log()  # log.txt's wall time counts from here
        stats = training_loop(self, evaluate)
        if self._logger is not None:
            self._logger.flush()
        return stats

    def _check_fresh_folder(self) -> None:
        if self.run.force or self.run.log_dir is None or self.iteration > 0:
            return
        old = sorted(self.run.log_dir.glob("checkpoint_*.pt"))
        if old:
            raise FileExistsError(
                f"{self.run.log_dir} already holds checkpoints of another run ({old[-1].name}); "
                "resume from one, choose another output folder, or pass --force"
            )

    def _prune_checkpoints(self) -> None:
        prune_checkpoints(self.run.log_dir, self.run.keep_checkpoints)

    def _open_log(self) -> None:
        if self.run.log_dir is not None and self._logger is None:
            self._logger = RunLogger(self.run.log_dir, self.run.logger, plain_config(self.run))

    def _log(self, stats: dict[str, float]) -> None:
        self._open_log()
        if self._logger is not None:
            self._logger.log(stats, self.global_step, self.iteration)

    # ------------------------------------------------------------------------- checkpoints
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (see the module doc); returns ``path``."""
        awr_cfg = plain_config(self.cfg)
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "algo": "awr",
            "iteration": self.iteration,
            "global_step": self.global_step,
            "run": plain_config(self.run),
            "awr_cfg": awr_cfg,
            "ppo_cfg": {k: awr_cfg[k] for k in POLICY_FIELDS},
            "ppo": {"model": self.agent.model.state_dict()},
            "awr": self.agent.state_dict(),
            "buffer": self.buffer.state_dict(),
            "generator": self.generator.get_state(),
        }
        save_torch(path, state)
        log.info("saved checkpoint %s (iteration %d)", path, self.iteration)
        return Path(path)

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint of an AWR run with the same settings and start its segment.

        Raises:
            ValueError: not an AWR checkpoint, or another env id, ``num_envs``, seed or env
                kwargs than this run.
        """
        state = read_checkpoint(path, self.device)
        if state.get("algo") != "awr" or "awr" not in state:
            raise ValueError(f"{path} is not an AWR checkpoint")
        current = plain_config(self.run)
        for key in RESUME_KEYS:
            if state["run"].get(key) != current[key]:
                raise ValueError(
                    f"{path} was trained with {key}={state['run'].get(key)!r}, this run has "
                    f"{key}={current[key]!r}; resume with the same value (or start a new run)"
                )
        self.agent.load_state_dict(state["awr"])
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"].cpu())
        self.iteration, self.global_step = int(state["iteration"]), int(state["global_step"])
        self._begin_segment()

    def close(self) -> None:
        """Close the env and the logs and release the run folder."""
        if self._logger is not None:
            self._logger.close()
            self._logger = None
        if self.env is not None:
            self.env.close()
            self.env = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
