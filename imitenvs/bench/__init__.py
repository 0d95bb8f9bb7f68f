"""Benchmark harness: reference scores, normalised scores, suites, runs and reports.

- :func:`get_normalized_score` (also ``imitenvs.get_normalized_score``): 0 = random, 100 = expert.
- :data:`SUITES` / :func:`suite_ids`: named lists of ids with both reference returns.
- ``python -m imitenvs bench run`` / ``bench report``: see :mod:`imitenvs.bench.run`,
  :mod:`imitenvs.bench.report` and ``docs/benchmarking.md``.
"""

from imitenvs.bench.scores import (
    SUITES,
    ReferenceScore,
    get_normalized_score,
    get_reference,
    reference_scores,
    suite_ids,
)

__all__ = [
    "SUITES",
    "ReferenceScore",
    "get_normalized_score",
    "get_reference",
    "reference_scores",
    "suite_ids",
]
