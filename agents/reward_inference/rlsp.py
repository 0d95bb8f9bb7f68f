"""RLSP: Reward Learning by Simulating the Past (Shah et al., ICLR 2019), exact and tabular.

A Boltzmann-rational human with reward ``r(s) = f(s) . theta`` acted for ``T`` states from an
initial distribution ``d_0``; we observe only the state ``s_obs`` they left the world in. The
likelihood is the last-step occupancy of the human's soft-optimal policy,

    P(s_obs | theta) = d_{T-1}(s_obs),  d_{t+1}(s') = sum_{s,a} d_t(s) pi_t(a|s) P(s'|s,a),

and its gradient is exact: with ``F_t = dV_t/dtheta`` (:func:`.tabular.feature_expectations`),
``d log pi_t(a|s) / dtheta = (f(s) + sum_s' P(s'|s,a) F_{t+1}(s') - F_t(s)) / tau``, and the
forward recursion ``G_{t+1}(s') = sum_{s,a} P(s'|s,a) pi_t(a|s) [d_t(s) g_t(s,a) + G_t(s)]``
gives ``d d_{T-1}(s_obs) / dtheta = G_{T-1}(s_obs)``.

:func:`infer_reward` does MAP gradient ascent on ``log P(s_obs|theta) + log p(theta)``;
:func:`sample_posterior` is the paper's Metropolis sampler (Appendix C). Random draws use a
``numpy.random.RandomState`` so a seed gives the original code's numbers (it seeds NumPy's
legacy global generator and draws ``theta_0`` first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from imitenvs.agents.reward_inference.tabular import (
    check_horizon,
    check_temperature,
    feature_expectations,
    state_occupancies,
    value_iteration,
)
from imitenvs.envs.gridworld.mdp import TabularMDP

PriorKind = Literal["gaussian", "laplace", "none"]
PRIOR_KINDS: tuple[str, ...] = ("gaussian", "laplace", "none")


@dataclass(frozen=True)
class Prior:
    """Independent prior on each reward weight.

    Attributes:
        kind: ``"gaussian"`` (std ``scale``), ``"laplace"`` (scale ``b``) or ``"none"`` (flat).
        mean: Centre, float64 ``(k,)``: zeros for the additive combination, the task reward for
            the bayesian one.
        scale: Gaussian standard deviation or Laplace scale (> 0).
    """

    kind: PriorKind
    mean: np.ndarray
    scale: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in PRIOR_KINDS:
            raise ValueError(f"prior={self.kind!r} is not one of {PRIOR_KINDS}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"prior scale={self.scale!r} must be finite and > 0")

    def log_density(self, theta: np.ndarray) -> float:
        """``log p(theta)`` (0 for the flat prior)."""
        z = theta - self.mean
        if self.kind == "gaussian":
            return float(
                np.sum(-0.5 * (z / self.scale) ** 2 - np.log(self.scale * math.sqrt(2 * math.pi)))
            )
        if self.kind == "laplace":
            return float(np.sum(-np.abs(z) / self.scale - np.log(2 * self.scale)))
        return 0.0

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """``d log p(theta) / dtheta``, float64 ``(k,)`` (Laplace: ``-sign(theta - mean) / b``)."""
        z = theta - self.mean
        if self.kind == "gaussian":
            return -z / self.scale**2
        if self.kind == "laplace":
            return -np.sign(z) / self.scale
        return np.zeros_like(theta)

    def sample(self, rng: np.random.RandomState) -> np.ndarray:
        """One draw, float64 ``(k,)`` (the flat prior has none: ``ValueError``)."""
        k = self.mean.shape[0]
        if self.kind == "gaussian":
            return self.mean + self.scale * rng.standard_normal(k)
        if self.kind == "laplace":
            return self.mean + rng.laplace(0.0, self.scale, k)
        raise ValueError("the flat prior ('none') cannot be sampled")


@dataclass(frozen=True)
class RLSPConfig:
    """What the human is assumed to have done, and how RLSP optimises.

    Attributes:
        horizon: ``T``, states in the human's trajectory ending in ``s_obs`` (>= 2).
        temperature: Boltzmann temperature of the human (> 0; 1 in the paper).
        epochs: Maximum gradient-ascent steps (the paper's 50).
        learning_rate: Gradient-ascent step size (0.1).
        threshold: Stop once the gradient's norm is below this, after taking that step (1e-3).
        uniform_prior: Initial state unknown: ``d_0`` uniform over every state (the paper's
            ``-u True``), instead of the spec's known initial state.
    """

    horizon: int
    temperature: float = 1.0
    epochs: int = 50
    learning_rate: float = 0.1
    threshold: float = 1e-3
    uniform_prior: bool = False

    def __post_init__(self) -> None:
        if check_horizon(self.horizon) < 2:
            raise ValueError(f"horizon={self.horizon} must be >= 2: the human takes T-1 actions")
        check_temperature(self.temperature, allow_zero=False)
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs={self.epochs!r} must be an integer >= 1")
        for name in ("learning_rate", "threshold"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be finite and > 0")


@dataclass(frozen=True)
class SamplingConfig:
    """The Metropolis sampler of the paper's Appendix C.

    Attributes:
        n_samples: Chain length, burn-in included (10000).
        burn_in: Leading samples dropped before averaging (1000).
        step_size: Standard deviation of the Gaussian random-walk proposal (0.01).
    """

    n_samples: int = 10_000
    burn_in: int = 1_000
    step_size: float = 0.01

    def __post_init__(self) -> None:
        if not 0 <= self.burn_in < self.n_samples:
            raise ValueError(
                f"burn_in={self.burn_in} must be >= 0 and below n_samples={self.n_samples}"
            )
        if not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ValueError(f"step_size={self.step_size!r} must be finite and > 0")


@dataclass(frozen=True)
class RLSPResult:
    """The MAP reward and how ascent went.

    Attributes:
        theta: Inferred reward weights, float64 ``(k,)``.
        theta_init: The random start, float64 ``(k,)``.
        grad_norms: ``|grad|`` at each epoch taken, float64 ``(epochs_run,)``.
        log_posteriors: ``log P(s_obs|theta) + log p(theta)`` before each step, ``(epochs_run,)``.
    """

    theta: np.ndarray
    theta_init: np.ndarray
    grad_norms: np.ndarray
    log_posteriors: np.ndarray


@dataclass(frozen=True)
class SamplingResult:
    """Posterior samples, float64 ``(n_samples, k)``; ``mean`` averages them after burn-in."""

    samples: np.ndarray
    mean: np.ndarray
    acceptance_rate: float


def initial_distribution(mdp: TabularMDP, uniform: bool) -> np.ndarray:
    """``d_0``: the spec's known initial state, or uniform over all ``nS`` states. ``(nS,)``."""
    if uniform:
        return np.full(mdp.n_states, 1.0 / mdp.n_states)
    return np.array(mdp.initial_distribution, dtype=np.float64)


def check_theta(mdp: TabularMDP, theta: np.ndarray, name: str = "theta") -> np.ndarray:
    """``theta`` as float64 ``(k,)``, or a ``ValueError`` naming the shape or the bad value."""
    arr = np.asarray(theta, dtype=np.float64)
    if arr.shape != (mdp.n_features,):
        raise ValueError(
            f"{name} has shape {arr.shape}; this problem has {mdp.n_features} features "
            f"({', '.join(mdp.feature_names)})"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf: {arr}")
    return arr


def _observed_probability(mdp: TabularMDP, occupancy: np.ndarray, observed: int) -> float:
    p = float(occupancy[observed])
    if p <= 0:
        raise ValueError(
            f"the observed state (index {observed}) cannot be reached in {occupancy.shape[0] - 1} "
            "steps from the initial distribution: raise the horizon or use uniform_prior"
        )
    return p


def log_likelihood(
    mdp: TabularMDP,
    theta: np.ndarray,
    initial: np.ndarray,
    horizon: int,
    temperature: float = 1.0,
    observed: int | None = None,
) -> float:
    """``log P(s_obs | theta) = log d_{T-1}(s_obs)`` (``observed`` defaults to the MDP's)."""
    _, d, s_obs = _human(mdp, theta, initial, horizon, temperature, observed)
    return math.log(_observed_probability(mdp, d[-1], s_obs))


def _human(
    mdp: TabularMDP,
    theta: np.ndarray,
    initial: np.ndarray,
    horizon: int,
    temperature: float,
    observed: int | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The human's soft policies ``(T-1, nS, nA)``, occupancies ``(T, nS)`` and ``s_obs``."""
    theta = check_theta(mdp, theta)
    tau = check_temperature(temperature, allow_zero=False)
    policies = value_iteration(mdp, mdp.features @ theta, horizon, tau)
    s_obs = mdp.observed_index if observed is None else observed
    return policies, state_occupancies(mdp, policies, initial), s_obs


def log_likelihood_gradient(
    mdp: TabularMDP,
    theta: np.ndarray,
    initial: np.ndarray,
    horizon: int,
    temperature: float = 1.0,
    observed: int | None = None,
) -> tuple[float, np.ndarray]:
    """``log P(s_obs | theta)`` and its exact gradient, float64 ``(k,)``.

    Args:
        theta: Reward weights, ``(k,)``.
        initial: ``d_0``, ``(nS,)``.
        horizon: ``T`` states.
        temperature: The human's Boltzmann temperature (> 0).
        observed: Index of ``s_obs`` (default: the MDP's observed state).
    """
    policies, d, s_obs = _human(mdp, theta, initial, horizon, temperature, observed)
    tau = float(temperature)
    n_s, n_a, k = mdp.n_states, mdp.n_actions, mdp.n_features
    big_f = feature_expectations(mdp, policies)
    p_obs = _observed_probability(mdp, d[-1], s_obs)
    g_acc = np.zeros((n_s, k))
    for t in range(horizon - 1):
        future = (mdp.transition_matrix @ big_f[t + 1]).reshape(n_s, n_a, k)
        dlogpi = (future + (mdp.features - big_f[t])[:, None, :]) / tau
        mass = policies[t][:, :, None] * (d[t][:, None, None] * dlogpi + g_acc[:, None, :])
        g_acc = mdp.transition_matrix_transpose @ mass.reshape(n_s * n_a, k)
    return math.log(p_obs), g_acc[s_obs] / p_obs


def infer_reward(
    mdp: TabularMDP, config: RLSPConfig, prior: Prior, rng: np.random.RandomState
) -> RLSPResult:
    """RLSP's MAP estimate by gradient ascent from ``theta_0 = 0.01 * N(0, I)``.

    Stops after ``config.epochs`` steps or once ``|grad| < threshold`` (that step is taken).
    """
    initial = initial_distribution(mdp, config.uniform_prior)
    theta0 = 0.01 * rng.standard_normal(mdp.n_features)
    theta = theta0.copy()
    norms: list[float] = []
    posts: list[float] = []
    for _ in range(config.epochs):
        log_p, grad = log_likelihood_gradient(
            mdp, theta, initial, config.horizon, config.temperature
        )
        grad = grad + prior.gradient(theta)
        posts.append(log_p + prior.log_density(theta))
        norms.append(float(np.linalg.norm(grad)))
        theta = theta + config.learning_rate * grad
        if norms[-1] < config.threshold:
            break
    return RLSPResult(theta, theta0, np.array(norms), np.array(posts))


def sample_posterior(
    mdp: TabularMDP,
    config: RLSPConfig,
    sampling: SamplingConfig,
    prior: Prior,
    rng: np.random.RandomState,
    progress: bool = False,
) -> SamplingResult:
    """Metropolis random walk on ``log P(s_obs|theta) + log p(theta)``.

    Starts at ``0.1 * (a prior draw)`` (flat prior: ``0.01 * N(0, I)``), proposes
    ``theta' ~ N(theta, step_size^2 I)`` and keeps the current sample on rejection; the estimate
    is the mean after burn-in.
    """
    from tqdm.auto import tqdm

    initial = initial_distribution(mdp, config.uniform_prior)

    def log_post(theta: np.ndarray) -> float:
        return log_likelihood(mdp, theta, initial, config.horizon, config.temperature) + (
            prior.log_density(theta)
        )

    if prior.kind == "none":
        theta = 0.01 * rng.standard_normal(mdp.n_features)
    else:
        theta = 0.1 * prior.sample(rng)
    current = log_post(theta)
    samples = np.empty((sampling.n_samples, mdp.n_features))
    accepted = 0
    for i in tqdm(range(sampling.n_samples), desc="MCMC", disable=not progress, leave=False):
        proposal = rng.normal(theta, sampling.step_size)
        candidate = log_post(proposal)
        if rng.uniform() < math.exp(min(candidate - current, 0.0)):
            theta, current = proposal, candidate
            accepted += 1
        samples[i] = theta
    mean = samples[sampling.burn_in :].mean(axis=0)
    return SamplingResult(samples, mean, accepted / sampling.n_samples)
