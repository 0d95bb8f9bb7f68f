"""Deep RLSP (Lindner, Shah, Abbeel, Dragan; ICLR 2021): RLSP with learned models, on MuJoCo.

The reward is linear in learned features, ``r(s) = theta . phi(s)`` (``phi`` = a state VAE's
mean). The gradient of ``log p(observed states | theta)`` is estimated by simulation:

- *backward*: from each observed state, ``horizon`` steps into the past with the inverse
  policy ``a_{t-1} ~ p(a | s_t)`` and the inverse dynamics ``s_{t-1} = s_t + delta(s_t, a)``;
- *forward*: from where each backward trajectory ended, ``horizon`` steps of the current
  policy in the real simulator (reset to that observation);
- ``grad = (sum_bwd phi - sum_fwd phi) / (n * horizon)`` (trajectories weighted by the cosine
  similarity of their start to the env's initial observation when ``reweight_gradient``),
  clipped to norm 10, ``theta += lr * grad``;
- then the policy (SB3 SAC) is trained further on ``r_theta`` with starts mixed from the
  simulated past, and the inverse policy is refit to it. A curriculum grows the horizon from 1
  when the norm of the mean of the last 10 gradients falls below a threshold (or after
  ``max_epochs_per_horizon`` epochs).

:class:`LatentRewardWrapper` is the env the policy learns in (the original's
``LatentSpaceRewardWrapper``): reward from the features of the next observation, the env's
termination ignored (no information about the true reward leaks through it), episodes cut at
``time_horizon``. The two ablations use the same features: ``AverageFeatures``
(``theta = sum phi(observed) / |.|``) and ``Waypoints`` (``r(s) = max_i <phi_i/|phi_i|, phi(s)>``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch

from imitenvs.agents.reward_inference.experts import Predictor, evaluate_return, make_sac
from imitenvs.agents.reward_inference.latent_models import (
    InverseDynamics,
    InversePolicy,
    Standardizer,
    StateVAE,
    fit,
)
from imitenvs.wrappers.reset_to_state import ResetToState

log = logging.getLogger(__name__)
RewardFn = Callable[[np.ndarray], float]
"""``r(phi)``: features ``(k,)`` -> reward."""


@dataclass(frozen=True)
class ModelConfig:
    """The learned models (the original's ``base`` config; CPU presets shrink epochs / sizes).

    Attributes:
        replay_rollouts: Rollouts of data for the models (the original's ``n_rollouts_init``).
        expert_replay: Mix the data like the original's ``pendulum`` config: a quarter random
            actions, three quarters the expert with epsilon 0, 0.12 and 0.3 (else all random).
        latent_dim, vae_layers, vae_hidden, vae_lr, vae_beta, vae_epochs: The state VAE.
        inverse_layers, inverse_hidden, inverse_lr, inverse_epochs: Inverse dynamics MLP.
        policy_layers, policy_hidden, policy_lr, policy_components, policy_std, policy_epochs:
            The inverse policy MDN (refit from scratch each round).
        policy_samples: ``(s', a)`` pairs made per inverse-policy fit (states drawn from the data).
        batch_size: Minibatch of every fit.
    """

    replay_rollouts: int = 100
    expert_replay: bool = False
    latent_dim: int = 30
    vae_layers: int = 3
    vae_hidden: int = 512
    vae_lr: float = 1e-5
    vae_beta: float = 1e-3
    vae_epochs: int = 100
    inverse_layers: int = 5
    inverse_hidden: int = 1024
    inverse_lr: float = 1e-5
    inverse_epochs: int = 100
    policy_layers: int = 3
    policy_hidden: int = 512
    policy_lr: float = 1e-4
    policy_components: int = 5
    policy_std: float | None = 0.05
    policy_epochs: int = 1
    policy_samples: int = 100_000
    batch_size: int = 500


@dataclass(frozen=True)
class DeepRLSPConfig:
    """The algorithm (defaults: the original's ``base`` config).

    Attributes:
        horizon: Largest number of steps simulated into the past (30).
        curriculum: Grow the horizon from 1 to ``horizon`` (True).
        threshold: Curriculum step once ``|mean of the last 10 gradients|`` is below it (2.0).
        max_epochs_per_horizon: ... or after this many epochs at one horizon (10).
        epochs: Gradient steps in all (1000).
        learning_rate: Step size on ``theta`` (0.01).
        n_trajectories: Backward (and forward) trajectories per gradient (200).
        solver_steps: SAC steps on ``r_theta`` per epoch (10 000; pendulum 50 000).
        reset_solver: A new SAC each epoch instead of continuing one (pendulum: True).
        init_prob: Probability that a policy episode starts from a simulated past state (0.2).
        policy_horizon_factor: Policy episodes last ``horizon * factor`` steps (at most the
            env's time limit; pendulum 100).
        reweight_gradient: Weight trajectories by their start's similarity to the env's
            initial observation (True).
        grad_clip: Largest gradient norm (10).
        clip_observations: Compute the reward's features of observations clipped to the model
            data's range (ours, off by default: the original encodes any observation, so the
            policy can seek states the VAE never saw).
        models: The learned models.
    """

    horizon: int = 30
    curriculum: bool = True
    threshold: float = 2.0
    max_epochs_per_horizon: int = 10
    epochs: int = 1000
    learning_rate: float = 0.01
    n_trajectories: int = 200
    solver_steps: int = 10_000
    reset_solver: bool = False
    init_prob: float = 0.2
    policy_horizon_factor: int = 1
    reweight_gradient: bool = True
    grad_clip: float = 10.0
    clip_observations: bool = False
    models: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        for name in ("horizon", "max_epochs_per_horizon", "epochs", "n_trajectories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an integer >= 1")
        if not 0.0 <= self.init_prob <= 1.0:
            raise ValueError(f"init_prob={self.init_prob!r} must be in [0, 1]")


@dataclass
class LatentModels:
    """The trained models, the data's observations ``(n, obs_dim)`` (the inverse policy is fit
    on them) and their range (backward states are clipped to it)."""

    vae: StateVAE
    inverse_dynamics: InverseDynamics
    inverse_policy: InversePolicy
    data_states: np.ndarray
    obs_low: np.ndarray
    obs_high: np.ndarray

    @torch.no_grad()
    def features(self, obs: np.ndarray) -> np.ndarray:
        """``phi`` of observations ``(..., obs_dim)`` -> ``(..., latent_dim)`` float64."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        return (
            self.vae.features(x.reshape(-1, x.shape[-1]))
            .double()
            .numpy()
            .reshape(*x.shape[:-1], -1)
        )

    def clipped_features(self, obs: np.ndarray) -> np.ndarray:
        """:meth:`features` of ``obs`` clipped to the data's observation range."""
        return self.features(np.clip(obs, self.obs_low, self.obs_high))


class LatentRewardWrapper(gymnasium.Wrapper):
    """``reward = reward_fn(phi(s'))``; termination ignored; ``time_horizon`` steps per episode.

    With ``start_states`` (observations ``(n, obs_dim)``) and ``init_prob`` > 0, a reset starts
    from a random one of them with that probability (drawn from ``rng``). ``info["true_reward"]``
    keeps the env's own reward.
    """

    def __init__(
        self,
        env: ResetToState,
        features: Callable[[np.ndarray], np.ndarray],
        reward_fn: RewardFn,
        time_horizon: int,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(env)
        self.features, self.reward_fn, self.time_horizon = features, reward_fn, time_horizon
        self.rng, self.start_states, self.init_prob, self._t = rng, None, 0.0, 0

    def set_starts(self, states: np.ndarray | None, init_prob: float) -> None:
        """Observations to start from with probability ``init_prob``."""
        self.start_states, self.init_prob = states, init_prob

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._t = 0
        if options is None and self.start_states is not None and self.rng.random() < self.init_prob:
            obs = self.start_states[self.rng.integers(len(self.start_states))]
            options = {"observation": obs}
        return self.env.reset(seed=seed, options=options)

    def step(self, action: np.ndarray):
        obs, true_reward, _, truncated, info = self.env.step(action)
        self._t += 1
        info = {**info, "true_reward": float(true_reward)}
        reward = float(self.reward_fn(self.features(obs)))
        return obs, reward, False, bool(truncated or self._t >= self.time_horizon), info


def linear_reward(theta: np.ndarray) -> RewardFn:
    """``r(phi) = theta . phi``."""
    theta = np.array(theta, dtype=np.float64)
    return lambda phi: float(phi @ theta)


def average_features_theta(models: LatentModels, observed: np.ndarray) -> np.ndarray:
    """The AverageFeatures ablation (and Deep RLSP's start): ``sum phi(observed)``, normalised."""
    theta = models.features(observed).sum(axis=0)
    return theta / max(np.linalg.norm(theta), 1e-12)


def waypoints_reward(models: LatentModels, observed: np.ndarray) -> RewardFn:
    """The Waypoints ablation: ``r(phi) = max_i <phi(observed_i) / |.|, phi>``."""
    targets = models.features(observed)
    targets = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    return lambda phi: float(np.max(targets @ phi))


def collect_transitions(
    env: gymnasium.Env,
    n_rollouts: int,
    rng: np.random.Generator,
    expert: Predictor | None = None,
    epsilons: tuple[float, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(obs, actions, next_obs)`` arrays from rollouts to the episode's end.

    The first ``n_rollouts // (len(epsilons) + 1)`` rollouts act at random (all of them without
    an expert), the rest split evenly over ``expert`` with each epsilon (random with that
    probability per step, else the expert's deterministic action).
    """
    groups = [(None, 1.0)] + [(expert, eps) for eps in epsilons] if expert else [(None, 1.0)]
    per = max(n_rollouts // len(groups), 1)
    obs_l, act_l, nxt_l = [], [], []
    for policy, eps in groups:
        for _ in range(per):
            obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
            done = False
            while not done:
                if policy is None or rng.random() < eps:
                    action = rng.uniform(env.action_space.low, env.action_space.high)
                else:
                    action = np.asarray(policy.predict(obs, deterministic=True)[0])
                nxt, _, term, trunc, _ = env.step(action)
                obs_l.append(obs), act_l.append(action), nxt_l.append(nxt)
                obs, done = nxt, term or trunc
    return tuple(np.asarray(x, dtype=np.float32) for x in (obs_l, act_l, nxt_l))  # type: ignore[return-value]


def train_models(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], cfg: ModelConfig, generator: torch.Generator
) -> LatentModels:
    """Fit the VAE and the inverse dynamics on ``(obs, actions, next_obs)``; a fresh (unfit)
    inverse policy (:func:`fit_inverse_policy` trains it against a forward policy)."""
    obs, actions, next_obs = (torch.as_tensor(x) for x in data)
    obs_scaler, act_scaler = Standardizer.fit(data[0]), Standardizer.fit(data[1])
    delta = data[0] - data[2]
    vae = StateVAE(obs_scaler, cfg.latent_dim, cfg.vae_layers, cfg.vae_hidden, 1.0, cfg.vae_beta)
    first, last = fit(
        vae.loss, list(vae.parameters()), (obs,), epochs=cfg.vae_epochs,
        batch_size=cfg.batch_size, lr=cfg.vae_lr, generator=generator,
    )  # fmt: skip
    log.info("state VAE loss %.4f -> %.4f", first, last)
    inv = InverseDynamics(
        obs_scaler, act_scaler, Standardizer.fit(delta), (delta.min(0), delta.max(0)),
        cfg.inverse_layers, cfg.inverse_hidden,
    )  # fmt: skip
    first, last = fit(
        inv.loss, list(inv.parameters()), (obs, actions, next_obs), epochs=cfg.inverse_epochs,
        batch_size=cfg.batch_size, lr=cfg.inverse_lr, generator=generator,
    )  # fmt: skip
    log.info("inverse dynamics loss %.4f -> %.4f", first, last)
    policy = InversePolicy(
        obs_scaler, data[1].shape[1], cfg.policy_components, cfg.policy_layers,
        cfg.policy_hidden, cfg.policy_std,
    )  # fmt: skip
    return LatentModels(vae.eval(), inv.eval(), policy, data[0], data[0].min(0), data[0].max(0))


def exact_step(env: ResetToState, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
    """The simulator's next observation from observation ``obs`` under ``action``."""
    env.reset(options={"observation": obs})
    return np.asarray(env.step(action)[0], dtype=np.float32)


def fit_inverse_policy(
    models: LatentModels,
    env: ResetToState,
    policy: Predictor,
    states: np.ndarray,
    cfg: ModelConfig,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> tuple[float, float]:
    """Refit the inverse policy from scratch on ``(s', a)``: ``a`` the policy's (stochastic)
    action in a data state ``s``, ``s'`` the simulator's next state."""
    pick = states[rng.choice(len(states), min(cfg.policy_samples, len(states)), replace=False)]
    actions = np.asarray(policy.predict(pick, deterministic=False)[0], dtype=np.float32)
    nxt = np.stack([exact_step(env, s, a) for s, a in zip(pick, actions, strict=True)])
    fresh = InversePolicy(
        models.inverse_policy.obs_scaler, actions.shape[1], cfg.policy_components,
        cfg.policy_layers, cfg.policy_hidden, cfg.policy_std,
    )  # fmt: skip
    result = fit(
        fresh.loss, list(fresh.parameters()), (torch.as_tensor(nxt), torch.as_tensor(actions)),
        epochs=cfg.policy_epochs, batch_size=min(cfg.batch_size, len(pick)), lr=cfg.policy_lr,
        generator=generator,
    )  # fmt: skip
    models.inverse_policy = fresh.eval()
    return result


@torch.no_grad()
def simulate_backward(
    models: LatentModels, starts: np.ndarray, horizon: int, generator: torch.Generator
) -> np.ndarray:
    """``horizon`` steps into the past from each start, batched over starts.

    Returns:
        float32 ``(horizon + 1, n, obs_dim)``; row 0 is ``starts``, row ``t`` is ``t`` steps back.
    """
    obs = torch.as_tensor(starts, dtype=torch.float32)
    low, high = (torch.as_tensor(b, dtype=torch.float32) for b in (models.obs_low, models.obs_high))
    out = [obs]
    for _ in range(horizon):
        action = models.inverse_policy.sample(obs, generator)
        obs = torch.clamp(models.inverse_dynamics.previous(obs, action), low, high)
        out.append(obs)
    return torch.stack(out).numpy()


def simulate_forward(
    env: ResetToState, policy: Predictor, starts: np.ndarray, horizon: int
) -> np.ndarray:
    """``horizon`` policy steps in the simulator from each start (stochastic actions).

    Returns:
        float32 ``(horizon + 1, n, obs_dim)``; row 0 is the observation after the reset.
    """
    out = np.empty((horizon + 1, *starts.shape), dtype=np.float32)
    for i, start in enumerate(starts):
        obs, _ = env.reset(options={"observation": start})
        out[0, i] = obs
        for t in range(horizon):
            obs = env.step(np.asarray(policy.predict(obs, deterministic=False)[0]))[0]
            out[t + 1, i] = obs
    return out


def weighted_feature_counts(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_i w_i sum_t phi_{t,i} / (sum_i w_i * H)`` for features ``(H + 1, n, k)``."""
    horizon = features.shape[0] - 1
    return np.einsum("tnk,n->k", features, weights) / (weights.sum() * horizon)


def similarity_weights(ends: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``ends (n, d)`` to ``reference (d,)``, floored at 0
    (all zero -> uniform)."""
    norms = np.linalg.norm(ends, axis=1) * max(np.linalg.norm(reference), 1e-12)
    weights = np.maximum(ends @ reference / np.maximum(norms, 1e-12), 0.0)
    return weights if weights.sum() > 0 else np.ones(len(ends))


@dataclass
class DeepRLSPResult:
    """What a run inferred: ``theta (k,)``, the models, the last policy and one log row per
    epoch (``epoch``, ``horizon``, ``grad_norm``, ``theta_norm``, ``seconds``, and
    ``true_return`` when evaluated)."""

    theta: np.ndarray
    models: LatentModels
    policy: Any
    history: list[dict[str, float]]


def _reward_env(
    env_id: str,
    models: LatentModels,
    reward_fn: RewardFn,
    horizon: int,
    seed: int,
    clip: bool = False,
) -> LatentRewardWrapper:
    base = ResetToState(gymnasium.make(env_id))
    limit = base.spec.max_episode_steps if base.spec and base.spec.max_episode_steps else horizon
    features = models.clipped_features if clip else models.features
    wrapped = LatentRewardWrapper(
        base, features, reward_fn, min(horizon, limit), np.random.default_rng(seed)
    )
    wrapped.reset(seed=seed)
    return wrapped


def deep_rlsp(
    env_id: str,
    observed: np.ndarray,
    models: LatentModels,
    cfg: DeepRLSPConfig,
    seed: int = 0,
    evaluate_every: int = 0,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> DeepRLSPResult:
    """Infer ``theta`` from ``observed`` states ``(n, obs_dim)`` with trained ``models``.

    Args:
        evaluate_every: Every this many epochs, log the current policy's true return over
            3 rollouts (0: never).
        progress: Called with each epoch's log row.
    """
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    sim = ResetToState(gymnasium.make(env_id))
    initial_obs, _ = sim.reset(seed=seed)
    theta = average_features_theta(models, observed)
    policy_horizon = cfg.horizon * cfg.policy_horizon_factor
    env = _reward_env(
        env_id, models, linear_reward(theta), policy_horizon, seed, cfg.clip_observations
    )

    def refit(solver: Any, starts: np.ndarray) -> Any:
        env.set_starts(starts, cfg.init_prob)
        if solver is None or cfg.reset_solver:
            seed_i = int(rng.integers(2**31 - 1))
            solver = make_sac(env, seed=seed_i, env_id=env_id, learning_starts=0)
        solver.learn(cfg.solver_steps, reset_num_timesteps=False)
        fit_inverse_policy(models, sim, solver, models.data_states, cfg.models, rng, gen)
        return solver

    solver = refit(None, observed)
    history: list[dict[str, float]] = []
    grads: list[np.ndarray] = []
    horizon = 1 if cfg.curriculum else cfg.horizon
    at_horizon, start = 0, time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        starts = observed[rng.permutation(np.resize(np.arange(len(observed)), cfg.n_trajectories))]
        backward = simulate_backward(models, starts, horizon, gen)
        forward = simulate_forward(sim, solver, backward[-1], horizon)
        weights = (
            similarity_weights(backward[-1], initial_obs)
            if cfg.reweight_gradient
            else np.ones(len(starts))
        )
        grad = weighted_feature_counts(models.features(backward), weights)
        grad -= weighted_feature_counts(models.features(forward), weights)
        grads.append(grad)
        norm = float(np.linalg.norm(grad))
        theta = theta + cfg.learning_rate * (grad * min(1.0, cfg.grad_clip / max(norm, 1e-12)))
        env.reward_fn = linear_reward(theta)
        solver = refit(
            solver, np.concatenate([backward[1:].reshape(-1, starts.shape[1]), observed])
        )
        row = {"epoch": epoch, "horizon": horizon, "grad_norm": norm,
               "theta_norm": float(np.linalg.norm(theta)),
               "seconds": time.perf_counter() - start}  # fmt: skip
        if evaluate_every and epoch % evaluate_every == 0:
            row["true_return"] = evaluate_return(sim.env, solver, 3, seed=epoch).mean
        history.append(row)
        if progress:
            progress(row)
        at_horizon += 1
        recent = float(np.linalg.norm(np.mean(grads[-10:], axis=0)))
        advance = recent < cfg.threshold or at_horizon >= cfg.max_epochs_per_horizon
        if cfg.curriculum and horizon < cfg.horizon and advance:
            horizon, at_horizon, grads = horizon + 1, 0, []
    return DeepRLSPResult(theta, models, solver, history)


def train_on_reward(
    env_id: str,
    models: LatentModels,
    reward_fn: RewardFn,
    steps: int,
    seed: int = 0,
    rollouts: int = 10,
    clip_observations: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """The paper's evaluation: a new SAC trained ``steps`` on ``reward_fn`` (episodes of the
    env's time limit, termination ignored), then its true return over ``rollouts`` rollouts."""
    env = _reward_env(env_id, models, reward_fn, 10**9, seed, clip_observations)
    solver = make_sac(env, seed=seed, env_id=env_id)
    solver.learn(steps)
    stats = evaluate_return(gymnasium.make(env_id), solver, rollouts, seed=seed + 1000)
    return solver, stats.as_dict()
