"""Aggregate statistics of normalised scores: interquartile mean and stratified bootstrap.

This is rliable's method (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
2021) in a few lines of NumPy, without the ``rliable`` package (which pulls ``arch``,
``statsmodels`` and ``seaborn``):

- :func:`iqm`: the interquartile mean of all runs of all tasks pooled, i.e. the mean of the
  middle 50 % (``scipy.stats.trim_mean(x, 0.25)``, as ``rliable.metrics.aggregate_iqm``).
- :func:`stratified_bootstrap_ci`: a percentile confidence interval of any aggregate. Each
  bootstrap replicate resamples, *within each task separately*, that task's runs with
  replacement (so every replicate keeps every task and its number of runs), then recomputes
  the aggregate over the resampled runs.

Scores are given per task as ``{task: 1-D array of per-run scores}``; tasks may have different
numbers of runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

Scores = Mapping[str, Sequence[float] | np.ndarray]
Aggregate = Callable[[np.ndarray], float]


def _pooled(scores: Scores) -> np.ndarray:
    if not scores:
        raise ValueError("no scores to aggregate")
    arrays = [np.asarray(v, dtype=np.float64).reshape(-1) for v in scores.values()]
    if any(len(a) == 0 for a in arrays):
        raise ValueError("every task needs at least one run")
    return np.concatenate(arrays)


def iqm(values: np.ndarray) -> float:
    """Interquartile mean of a 1-D array: drop the lowest and highest ``floor(n/4)`` values and
    average the rest (``scipy.stats.trim_mean(values, 0.25)``)."""
    return float(stats.trim_mean(np.asarray(values, dtype=np.float64).reshape(-1), 0.25))


def mean(values: np.ndarray) -> float:
    """Plain mean of a 1-D array."""
    return float(np.mean(values))


def median(values: np.ndarray) -> float:
    """Median of a 1-D array."""
    return float(np.median(values))


AGGREGATES: dict[str, Aggregate] = {"iqm": iqm, "mean": mean, "median": median}
"""the aggregates ``bench report`` prints, by name"""


def bootstrap_replicates(
    scores: Scores, aggregate: Aggregate = iqm, reps: int = 2000, seed: int = 0
) -> np.ndarray:
    """``reps`` stratified-bootstrap replicates of ``aggregate``: each resamples every task's
    runs with replacement (same count), pools them and applies ``aggregate``."""
    _pooled(scores)  # checks
    if reps < 1:
        raise ValueError(f"need reps >= 1, got {reps}")
    arrays = [np.asarray(v, dtype=np.float64).reshape(-1) for v in scores.values()]
    rng = np.random.default_rng(seed)
    replicates = np.empty(reps)
    for r in range(reps):
        resampled = [a[rng.integers(0, len(a), size=len(a))] for a in arrays]
        replicates[r] = aggregate(np.concatenate(resampled))
    return replicates


def stratified_bootstrap_ci(
    scores: Scores,
    aggregate: Aggregate = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point estimate and percentile stratified-bootstrap confidence interval of ``aggregate``.

    Args:
        scores: ``{task: per-run scores}``.
        aggregate: Function of the pooled 1-D array of all runs (default :func:`iqm`).
        reps: Number of bootstrap replicates.
        confidence: Coverage of the interval, e.g. 0.95.
        seed: Seed of the resampling.

    Returns:
        ``(estimate, low, high)``: the aggregate of the data and the ``(1 - confidence) / 2``
        and ``(1 + confidence) / 2`` percentiles of the replicates.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"need 0 < confidence < 1, got {confidence}")
    point = aggregate(_pooled(scores))
    replicates = bootstrap_replicates(scores, aggregate, reps, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return point, float(low), float(high)
