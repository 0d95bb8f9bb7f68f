"""One run of the RLSP paper's protocol, and the grid behind its Table 1.

A run: (1) infer a reward from the observed state (``rlsp``, ``sampling``) or not (``spec``,
``deviation``, ``reachability``); (2) combine it with the task reward: ``additive``
``r = theta_spec + w * theta_inferred`` (prior centred on 0), or ``bayesian`` ``r =
theta_inferred`` (prior centred on ``theta_spec``); the two penalty baselines subtract ``w`` times
their penalty from the task reward; (3) plan with hard value iteration for the evaluation
horizon from the observed state; (4) score the plan's exact expected true reward against the
plan on the true reward, each plus a living reward of ``c`` per state:

    fraction = (R_obtained + c * H) / (R_best + c * H).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from itertools import product
from typing import Any

import gymnasium
import numpy as np

from imitenvs.agents.reward_inference.rlsp import (
    Prior,
    RLSPConfig,
    SamplingConfig,
    check_theta,
    infer_reward,
    sample_posterior,
)
from imitenvs.agents.reward_inference.side_effects import (
    deviation_penalty,
    relative_reachability_penalty,
)
from imitenvs.agents.reward_inference.tabular import (
    check_horizon,
    policy_value,
    reward_schedule,
    value_iteration,
)
from imitenvs.envs.gridworld.mdp import TabularMDP

METHODS: tuple[str, ...] = ("spec", "deviation", "reachability", "rlsp", "sampling")
COMBINATIONS: tuple[str, ...] = ("additive", "bayesian")
#: Penalty / inferred-reward weight ``w`` when none is given (rlsp ``experiments.sh``).
DEFAULT_WEIGHTS: dict[str, float] = {"deviation": 0.5}
#: Table 1's problems in the paper's column order, with the horizons ``T`` it used.
TABLE1_PROBLEMS: tuple[tuple[str, int], ...] = (
    ("imitenvs/RoomDefault-v0", 7),
    ("imitenvs/TrainDefault-v0", 8),
    ("imitenvs/ApplesDefault-v0", 11),
    ("imitenvs/BatteriesEasy-v0", 11),
    ("imitenvs/BatteriesDefault-v0", 11),
    ("imitenvs/RoomBad-v0", 5),
)


@dataclass(frozen=True)
class ExperimentConfig:
    """One cell of the comparison.

    Attributes:
        env_id: A gridworld id (``imitenvs/RoomDefault-v0``, ...).
        method: ``spec``, ``deviation``, ``reachability``, ``rlsp`` or ``sampling``.
        combination: ``additive`` or ``bayesian`` (bayesian needs an inferring method).
        horizon: ``T`` the human acted for (default: the problem's).
        evaluation_horizon: States the agent acts for after inference (the paper's 20).
        temperature: The human's Boltzmann temperature.
        epochs: RLSP gradient-ascent steps at most.
        learning_rate: RLSP step size.
        prior: ``gaussian``, ``laplace`` or ``none``.
        prior_std: Prior scale (0.5).
        weight: ``w``: inferred-reward weight (additive) or penalty weight; default 0.5 for
            deviation, 1 otherwise.
        uniform_prior: Unknown initial state (uniform ``d_0``) instead of the spec's.
        seed: Seeds ``theta_0`` and the sampler.
        sampling: The sampler's settings (method ``sampling``).
        living_reward: ``c``, added per evaluation state to both returns (1).
    """

    env_id: str
    method: str = "rlsp"
    combination: str = "additive"
    horizon: int | None = None
    evaluation_horizon: int = 20
    temperature: float = 1.0
    epochs: int = 50
    learning_rate: float = 0.1
    prior: str = "gaussian"
    prior_std: float = 0.5
    weight: float | None = None
    uniform_prior: bool = False
    seed: int = 0
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    living_reward: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not one of {METHODS}")
        if self.combination not in COMBINATIONS:
            raise ValueError(f"combination={self.combination!r} is not one of {COMBINATIONS}")
        if self.combination == "bayesian" and self.method not in ("rlsp", "sampling"):
            raise ValueError(
                f"combination='bayesian' needs an inferred reward; method={self.method!r} has none"
            )
        if self.horizon is not None:
            check_horizon(self.horizon)
        check_horizon(self.evaluation_horizon, "evaluation_horizon")
        for name in ("weight", "living_reward"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name}={value!r} must be finite")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be an integer >= 0")

    @property
    def resolved_weight(self) -> float:
        """``w`` after the per-method default."""
        return DEFAULT_WEIGHTS.get(self.method, 1.0) if self.weight is None else self.weight


@lru_cache(maxsize=16)
def load_problem(env_id: str) -> TabularMDP:
    """The tabular MDP of a registered gridworld id (cached).

    Raises:
        ValueError: the id is unknown or is not a gridworld with tabular access.
    """
    import imitenvs  # noqa: F401  (registers the ids)

    try:
        env = gymnasium.make(env_id)
    except gymnasium.error.Error as exc:
        known = ", ".join(env for env, _ in TABLE1_PROBLEMS)
        raise ValueError(f"unknown env id {env_id!r} ({exc}); RLSP problems: {known}") from None
    mdp = getattr(env.unwrapped, "mdp", None)
    env.close()
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"{env_id!r} is not a gridworld with a tabular MDP (env.unwrapped.mdp)")
    return mdp


def planned_true_return(
    mdp: TabularMDP,
    planning_rewards: np.ndarray,
    true_theta: np.ndarray,
    horizon: int,
    start: int,
) -> float:
    """Exact expected true reward over ``horizon`` states of the hard plan on ``planning_rewards``.

    Args:
        planning_rewards: State rewards to plan on, ``(nS,)`` or ``(horizon, nS)``.
        true_theta: True reward weights, ``(k,)``.
        start: Start state index.
    """
    policies = value_iteration(mdp, planning_rewards, horizon, temperature=0.0)
    return float(policy_value(mdp, policies, mdp.features @ true_theta)[start])


def _infer(
    mdp: TabularMDP, cfg: ExperimentConfig, horizon: int, rng: np.random.RandomState
) -> np.ndarray | None:
    if cfg.method not in ("rlsp", "sampling"):
        return None
    centre = mdp.r_task if cfg.combination == "bayesian" else np.zeros(mdp.n_features)
    prior = Prior(cfg.prior, np.asarray(centre, dtype=np.float64), cfg.prior_std)  # type: ignore[arg-type]
    rlsp_cfg = RLSPConfig(
        horizon=horizon,
        temperature=cfg.temperature,
        epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        uniform_prior=cfg.uniform_prior,
    )
    if cfg.method == "rlsp":
        return infer_reward(mdp, rlsp_cfg, prior, rng).theta
    return sample_posterior(mdp, rlsp_cfg, cfg.sampling, prior, rng).mean


def planning_rewards(
    mdp: TabularMDP, cfg: ExperimentConfig, inferred: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The final reward vector and the state rewards the agent plans on.

    Returns:
        ``(final_theta (k,), rewards (nS,) or (H, nS))``.
    """
    w = cfg.resolved_weight
    r_task = np.asarray(mdp.r_task, dtype=np.float64)
    if cfg.combination == "bayesian":
        final = check_theta(mdp, inferred, "inferred reward")
    elif inferred is not None:
        final = r_task + w * check_theta(mdp, inferred, "inferred reward")
    else:
        final = r_task
    rewards = mdp.features @ final
    if cfg.method == "deviation":
        rewards = rewards - w * deviation_penalty(mdp)
    elif cfg.method == "reachability":
        penalty = relative_reachability_penalty(mdp, cfg.evaluation_horizon)
        rewards = rewards[None, :] - w * penalty
    return final, rewards


def run_experiment(cfg: ExperimentConfig) -> dict[str, Any]:
    """Infer, combine, plan and score one configuration.

    Returns:
        A JSON-ready row: the config's fields, ``inferred_reward`` (list or None),
        ``final_reward``, ``true_reward`` / ``best_true_reward`` (with the living reward),
        ``true_reward_fraction``, ``feature_names`` and ``seconds``.
    """
    start_time = time.perf_counter()
    mdp = load_problem(cfg.env_id)
    horizon = mdp.horizon if cfg.horizon is None else cfg.horizon
    rng = np.random.RandomState(cfg.seed)
    inferred = _infer(mdp, cfg, horizon, rng)
    final, rewards = planning_rewards(mdp, cfg, inferred)
    h = cfg.evaluation_horizon
    s_obs = mdp.observed_index
    r_true = np.asarray(mdp.r_true, dtype=np.float64)
    reward_schedule(mdp, rewards, h)  # shape / finiteness check before planning
    obtained = planned_true_return(mdp, rewards, r_true, h, s_obs) + cfg.living_reward * h
    best = planned_true_return(mdp, mdp.features @ r_true, r_true, h, s_obs)
    best += cfg.living_reward * h
    row = asdict(replace(cfg, horizon=horizon))
    row["sampling"] = asdict(cfg.sampling) if cfg.method == "sampling" else None
    row.update(
        weight=cfg.resolved_weight if cfg.method != "spec" else None,
        inferred_reward=None if inferred is None else inferred.tolist(),
        final_reward=final.tolist(),
        true_reward=obtained,
        best_true_reward=best,
        true_reward_fraction=obtained / best,
        feature_names=list(mdp.feature_names),
        seconds=time.perf_counter() - start_time,
    )
    return row


def comparison_grid(
    env_ids: tuple[str, ...] | None = None,
    methods: tuple[str, ...] = METHODS,
    seeds: tuple[int, ...] = (0,),
    initial: tuple[bool, ...] = (False, True),
    combinations: tuple[str, ...] = COMBINATIONS,
    horizon: int | None = None,
    **overrides: Any,
) -> list[ExperimentConfig]:
    """The paper's comparison (Table 1 and its known/uniform study) as a list of cells.

    Per problem: the baselines (spec, deviation, reachability) once, additive, known initial
    state; the inferring methods (rlsp, sampling) for every seed x initial-state choice
    (``False`` known, ``True`` uniform) x combination.

    Args:
        env_ids: Problems (default: Table 1's six, in its column order).
        horizon: ``T`` for every problem (default: the paper's per problem, else the env's).
        overrides: Further :class:`ExperimentConfig` fields for every cell.

    Raises:
        ValueError: the selection is empty.
    """
    paper = dict(TABLE1_PROBLEMS)
    cells: list[ExperimentConfig] = []
    for env_id in env_ids or tuple(paper):
        base = {"env_id": env_id, "horizon": horizon or paper.get(env_id), **overrides}
        for method in methods:
            if method not in ("rlsp", "sampling"):
                if "additive" in combinations:
                    cells.append(ExperimentConfig(method=method, **base))
                continue
            for seed, uniform, combination in product(seeds, initial, combinations):
                cells.append(
                    ExperimentConfig(
                        method=method,
                        seed=seed,
                        uniform_prior=uniform,
                        combination=combination,
                        **base,
                    )
                )
    if not cells:
        raise ValueError(
            f"nothing to run: methods {methods} with combinations {combinations} select no cell "
            "(the baselines only combine additively)"
        )
    return cells
