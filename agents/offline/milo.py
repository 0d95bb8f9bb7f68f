"""MILO (Chang et al. 2021): imitation from a few expert samples and mixed offline data.

1. Fit a dynamics ensemble to the offline transitions (:mod:`.dynamics`); its threshold is
   the largest discrepancy on that data.
2. Build the pessimistic model env (:mod:`.model_env`): rollouts in the learned model,
   resets mixing the real env's reset distribution and expert states.
3. BC warm start on all offline ``(s, a)``, then repeat: sample ``samples_per_iter``
   transitions in the model, fit the MMD cost ``w = φ̄_π − φ̄_E`` on them, reward
   ``−[(1 − λ_b) clamp(φ·w, −1, 0) + λ_b min(disc/threshold, 1)]``, one NPG step
   (:mod:`.npg`), fit the value function.
4. Every ``eval_every`` iterations the mean policy runs in the real env.

The original runs ``n_iter`` outer iterations of ``pg_iter`` such steps; here
``iterations`` counts the steps. Its sampler collects complete paths; ours keeps
``num_worlds`` worlds running and cuts ``samples_per_iter / num_worlds`` steps per
iteration (time-outs bootstrap from the value), as batched on-policy learners do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from tqdm.auto import tqdm

from imitenvs.agents.offline.data import Transitions
from imitenvs.agents.offline.dynamics import DynamicsConfig, DynamicsEnsemble, fit_dynamics
from imitenvs.agents.offline.mmd_cost import CostConfig, RFFCost, pessimistic_cost
from imitenvs.agents.offline.model_env import ModelEnv, ModelEnvConfig, task_termination
from imitenvs.agents.offline.npg import (
    GaussianPolicy,
    NPGConfig,
    ValueFunction,
    behaviour_cloning,
    npg_step,
)
from imitenvs.agents.onpolicy.storage import compute_gae
from imitenvs.core.checks import check_positive_int

logger = logging.getLogger(__name__)


@dataclass
class MiloConfig:
    """Everything a MILO run needs besides the data (defaults: the original's arguments)."""

    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    npg: NPGConfig = field(default_factory=NPGConfig)
    model_env: ModelEnvConfig = field(default_factory=ModelEnvConfig)
    iterations: int = 1500
    """NPG steps (the original's ``n_iter × pg_iter`` = 300 × 5)"""
    samples_per_iter: int = 512
    """model transitions per NPG step (the original's Hopper example: 40 000)"""
    num_worlds: int = 64
    """model worlds stepped together"""
    bc_epochs: int = 3
    """BC warm start on all offline pairs (0: none)"""
    expert_samples: int | None = None
    """draw this many expert transitions (``--subsample_expert --num_samples``); None: all"""
    eval_every: int = 10
    eval_episodes: int = 10
    reset_pool: int = 2048
    """draws of the real env's reset distribution kept for model resets"""

    def __post_init__(self) -> None:
        for name in ("iterations", "samples_per_iter", "num_worlds", "eval_every",
                     "eval_episodes", "reset_pool"):  # fmt: skip
            check_positive_int(name, getattr(self, name))
        if self.samples_per_iter < self.num_worlds:
            raise ValueError(
                f"samples_per_iter ({self.samples_per_iter}) must be >= num_worlds "
                f"({self.num_worlds})"
            )
        if self.bc_epochs < 0:
            raise ValueError(f"bc_epochs must be >= 0, got {self.bc_epochs}")
        if self.expert_samples is not None:
            check_positive_int("expert_samples", self.expert_samples)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost_inputs(
    input_type: str, states: torch.Tensor, actions: torch.Tensor | None, nxt: torch.Tensor
) -> torch.Tensor:
    """``(s, a)`` or ``(s, s')`` rows of the cost: ``(N, S + A)`` or ``(N, 2S)``."""
    if input_type == "ss":
        return torch.cat([states, nxt], dim=1)
    if actions is None:
        raise ValueError(
            "the 'sa' cost needs expert actions; use input_type 'ss' for state-only data"
        )
    return torch.cat([states, actions], dim=1)


def reset_pool(env: gymnasium.Env, n: int, seed: int) -> torch.Tensor:
    """``(n, S)`` first observations of ``n`` seeded resets of the real env."""
    return torch.as_tensor(
        np.stack([env.reset(seed=seed + i)[0] for i in range(n)]), dtype=torch.float32
    )


PolicyEval = Callable[[GaussianPolicy], dict[str, float]]
"""``policy ↦ {"return_mean", "return_std", ...}`` measured in the real env"""


def mean_action(
    policy: GaussianPolicy, space: gymnasium.spaces.Box
) -> Callable[[np.ndarray], np.ndarray]:
    """``obs (S,) -> action (A,)``: the policy's mean, clipped to ``space``."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            a = policy.mean(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()
        return np.clip(a, space.low, space.high)

    return act


def real_env_evaluator(env_id: str, episodes: int, seed: int, **env_kwargs: Any) -> PolicyEval:
    """True return (mean, std) of the mean action over ``episodes`` in ``env_id``."""
    from imitenvs.envs.imujoco.policies import evaluate

    env = gymnasium.make(env_id, **env_kwargs)

    def run(policy: GaussianPolicy) -> dict[str, float]:
        returns = evaluate(mean_action(policy, env.action_space), env, episodes, seed)
        return {"return_mean": float(returns.mean()), "return_std": float(returns.std())}

    return run


def humanoid_evaluator(env_id: str, episodes: int, seed: int, **env_kwargs: Any) -> PolicyEval:
    """Return, episode length and DTW pose RMSE (m) against the clips, of the mean action over
    ``episodes`` single-world episodes (:func:`~imitenvs.agents.evaluation.humanoid_pose_error`).
    """
    from imitenvs.agents.evaluation import humanoid_pose_error

    space = gymnasium.make(env_id, **env_kwargs).action_space

    def run(policy: GaussianPolicy) -> dict[str, float]:
        res = humanoid_pose_error(mean_action(policy, space), env_id, episodes, seed, env_kwargs)
        return {"return_mean": res["return"]["mean"], "return_std": res["return"]["std"],
                "episode_length": res["episode_length"]["mean"],
                "dtw_pose_rmse": res["dtw_pose_rmse"]["mean"],
                "dtw_pose_rmse_std": res["dtw_pose_rmse"]["std"]}  # fmt: skip

    return run


def make_evaluator(env: gymnasium.Env, episodes: int, seed: int) -> PolicyEval:
    """:func:`humanoid_evaluator` for our humanoid ids, else :func:`real_env_evaluator`."""
    kwargs = dict(env.spec.kwargs) if env.spec is not None else {}
    kwargs.pop("num_envs", None)
    batch = getattr(env.unwrapped, "batch", None)
    if batch is not None and hasattr(batch, "reference_state"):
        return humanoid_evaluator(env.spec.id, episodes, seed, **kwargs)
    return real_env_evaluator(env.spec.id, episodes, seed, **kwargs)


@dataclass
class Rollout:
    """``T`` steps of ``N`` model worlds (all ``(T, N, ...)``)."""

    obs: torch.Tensor
    actions: torch.Tensor  # sampled (unclipped): what log π is evaluated at
    next_obs: torch.Tensor
    disc: torch.Tensor
    time: torch.Tensor  # t / H before the step
    terminated: torch.Tensor
    done: torch.Tensor


def collect(env: ModelEnv, policy: GaussianPolicy, steps: int, gen: torch.Generator) -> Rollout:
    """Step every world ``steps`` times with sampled actions (clipped to the action box)."""
    low = torch.as_tensor(env.single_action_space.low)
    high = torch.as_tensor(env.single_action_space.high)
    n, s = env.obs.shape
    buf = {k: torch.zeros(steps, n, s) for k in ("obs", "next_obs")}
    buf["actions"] = torch.zeros(steps, n, len(low))
    for k in ("disc", "time"):
        buf[k] = torch.zeros(steps, n)
    for k in ("terminated", "done"):
        buf[k] = torch.zeros(steps, n, dtype=torch.bool)
    for t in range(steps):
        buf["obs"][t] = env.obs
        buf["time"][t] = env.steps / env.config.horizon
        a = policy.sample(env.obs, gen)
        buf["actions"][t] = a
        r = env.step_torch(torch.clamp(a, low, high))
        buf["next_obs"][t], buf["disc"][t] = r.final_obs, r.disc
        buf["terminated"][t], buf["done"][t] = r.terminated, r.terminated | r.truncated
    return Rollout(**buf)


class Milo:
    """A MILO learner over one dataset pair; :meth:`train` runs the loop.

    Args:
        env: The real env (spaces, reset distribution, task termination).
        offline: Offline transitions with actions.
        expert: Expert transitions (actions needed for the ``"sa"`` cost and BC regulariser).
        config: Settings.
        seed: Seeds the dynamics, cost features, policy, value, sampling and resets.
        evaluator: Real-env evaluation of a policy; ``None``: no evaluation.
    """

    def __init__(
        self,
        env: gymnasium.Env,
        offline: Transitions,
        expert: Transitions,
        config: MiloConfig,
        seed: int = 0,
        evaluator: PolicyEval | None = None,
        progress: bool = True,
    ):
        if offline.actions is None:
            raise ValueError(f"{offline.source}: the offline data must have actions")
        obs_dim = env.observation_space.shape[0]
        for data in (offline, expert):
            if data.env_id is not None and env.spec is not None and data.env_id != env.spec.id:
                raise ValueError(f"{data.source} was recorded on {data.env_id}, not {env.spec.id}")
            if data.state_dim != obs_dim:
                raise ValueError(
                    f"{data.source}: states have {data.state_dim} values but the env's "
                    f"observations have {obs_dim}: a dataset of another env?"
                )
        if config.npg.bc_reg_coeff > 0 and expert.actions is None:
            raise ValueError(
                f"{expert.source} has no actions: the BC regulariser needs them (bc_reg_coeff 0)"
            )
        if config.cost.input_type == "sa" and expert.actions is None:
            raise ValueError(f"{expert.source} has no actions: use the 'ss' cost (states only)")
        self.config, self.seed, self.evaluator, self.progress = config, seed, evaluator, progress
        self.gen = torch.Generator().manual_seed(seed)
        if config.expert_samples is not None:
            expert = expert.subsample(config.expert_samples, self.gen)
        self.offline, self.expert = offline, expert
        t0 = time.perf_counter()
        self.ensemble: DynamicsEnsemble = fit_dynamics(
            offline.states, offline.actions, offline.next_states, config.dynamics, seed, progress
        )
        self.dynamics_seconds = time.perf_counter() - t0
        e_in = cost_inputs(
            config.cost.input_type, expert.states, expert.actions, expert.next_states
        )
        self.cost = RFFCost(e_in, config.cost, seed)
        self.model = ModelEnv(
            self.ensemble, config.num_worlds, reset_pool(env, config.reset_pool, seed),
            expert.states, env.action_space, task_termination(env), config.model_env, seed,
        )  # fmt: skip
        act_dim = env.action_space.shape[0]
        self.policy = GaussianPolicy(obs_dim, act_dim, config.npg, seed)
        self.policy.set_normalization(offline.states, offline.actions)
        self.value = ValueFunction(obs_dim, config.npg, seed + 1)
        self.history: list[dict[str, float]] = []
        self.bc_losses: list[float] = []

    def warm_start(self) -> None:
        """BC on every offline pair, then the policy's ``log σ`` back to its initial value."""
        if self.config.bc_epochs == 0:
            return
        self.bc_losses = behaviour_cloning(
            self.policy, self.offline.states, self.offline.actions, self.config.bc_epochs, self.gen
        )
        with torch.no_grad():
            self.policy.log_std.fill_(self.config.npg.init_log_std)

    def _features(self, obs: torch.Tensor, time_frac: torch.Tensor) -> torch.Tensor:
        normed = (obs - self.policy.in_shift) / self.policy.in_scale
        return torch.cat([normed.clamp(-10, 10), time_frac.unsqueeze(-1)], dim=-1)

    def iteration(self) -> dict[str, float]:
        """Sample, fit the cost, one NPG step, fit the value; returns the step's logs."""
        cfg = self.config
        steps = cfg.samples_per_iter // cfg.num_worlds
        ro = collect(self.model, self.policy, steps, self.gen)
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
        low = torch.as_tensor(self.model.single_action_space.low)
        high = torch.as_tensor(self.model.single_action_space.high)
        x = cost_inputs(
            cfg.cost.input_type, flat(ro.obs), flat(ro.actions).clamp(low, high), flat(ro.next_obs)
        )
        mmd = self.cost.fit(x)
        cost, penalty = pessimistic_cost(
            self.cost(x), flat(ro.disc), self.ensemble.threshold, cfg.cost.lambda_b
        )
        rewards = -cost.view(steps, -1)
        with torch.no_grad():
            values = self.value(self._features(ro.obs, ro.time))
            next_time = torch.where(
                ro.done, torch.ones_like(ro.time), ro.time + 1 / cfg.model_env.horizon
            )
            next_values = self.value(self._features(ro.next_obs, next_time))
        adv, returns = compute_gae(
            rewards, values, next_values, ro.terminated, ro.done, cfg.npg.gamma, cfg.npg.gae_lambda
        )
        expert = None
        if cfg.npg.bc_reg_coeff > 0:
            expert = (self.expert.states, self.expert.actions)
        logs = npg_step(self.policy, flat(ro.obs), flat(ro.actions), flat(adv), cfg.npg, expert)
        logs["value_mse"] = self.value.fit(
            self._features(flat(ro.obs), flat(ro.time)), flat(returns), self.gen
        )
        ends = ro.done.sum().item()
        logs.update(
            mmd=mmd, model_reward=float(rewards.mean()), penalty=float(penalty.mean()),
            episodes_ended=float(ends), terminated=float(ro.terminated.sum()),
        )  # fmt: skip
        return logs

    def train(self, callback: Callable[[int, dict[str, float]], None] | None = None) -> list[dict]:
        """Warm start, then ``iterations`` steps with evaluations; returns the history.

        ``callback(iteration, record)`` runs after every evaluation (checkpoints, logs).
        """
        cfg = self.config
        self.warm_start()
        self.model.reset(seed=self.seed)
        t0 = time.perf_counter()
        bar = tqdm(range(cfg.iterations + 1), desc="MILO", disable=not self.progress)
        for it in bar:
            logs = self.iteration() if it > 0 else {}
            if it % cfg.eval_every == 0 or it == cfg.iterations:
                record = {"iteration": it, "model_samples": it * cfg.samples_per_iter,
                          "seconds": time.perf_counter() - t0, **logs}  # fmt: skip
                if self.evaluator is not None:
                    record.update(self.evaluator(self.policy))
                    bar.set_postfix(ret=f"{record['return_mean']:.0f}")
                self.history.append(record)
                logger.info("MILO %s", record)
                if callback is not None:
                    callback(it, record)
        return self.history


def train_bc(
    obs: torch.Tensor,
    actions: torch.Tensor,
    npg: NPGConfig,
    epochs: int,
    seed: int = 0,
) -> GaussianPolicy:
    """A BC baseline: the same policy class, normalised on ``obs (N, S)``/``actions (N, A)``."""
    policy = GaussianPolicy(obs.shape[1], actions.shape[1], npg, seed)
    policy.set_normalization(obs, actions)
    behaviour_cloning(policy, obs, actions, epochs, torch.Generator().manual_seed(seed))
    return policy
