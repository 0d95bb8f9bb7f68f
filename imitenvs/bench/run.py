"""``bench run``: evaluate an algorithm, given as an importable callable, on a suite of ids.

The algorithm contract (see ``docs/benchmarking.md``)::

    fn(env_id: str, seed: int) -> policy | Sequence[float]

``fn`` trains (or loads) whatever it needs for ``env_id`` with training seed ``seed`` and
returns either a policy ``policy(obs) -> action`` (optionally with ``reset(env)``), which the
harness evaluates for ``episodes`` episodes on env seeds :func:`evaluation_seeds`, or the list
of episode returns it measured itself. One run = one (id, seed); its score is the normalised
mean return of its episodes. Each run is written as one JSON file::

    OUT/<label>/<env name>/seed_<k>.json

and a run whose file exists is skipped (so an interrupted ``bench run`` resumes), unless
``force``.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import imitenvs
from imitenvs.bench.evaluation import evaluate_policy, evaluation_seeds, summarise
from imitenvs.bench.scores import get_reference, suite_ids
from imitenvs.core.files import atomic_write_json

log = logging.getLogger(__name__)

RUN_FORMAT = "imitenvs-bench-run"

Algorithm = Callable[[str, int], Any]


@dataclass(frozen=True)
class BenchConfig:
    """What ``bench run`` runs.

    Attributes:
        algo: ``"module:callable"``, importable.
        out: Results folder.
        suite: Suite name, or ``None`` when ``env_ids`` are given.
        env_ids: Explicit ids (instead of, or beside, the suite).
        seeds: Training seeds ``0 .. seeds - 1``.
        episodes: Evaluation episodes per run.
        label: Name of the algorithm in reports (default: the callable's name).
        force: Rerun runs whose file exists.
    """

    algo: str
    out: Path
    suite: str | None = None
    env_ids: tuple[str, ...] = ()
    seeds: int = 5
    episodes: int = 10
    label: str | None = None
    force: bool = False


def load_algorithm(spec: str) -> Algorithm:
    """Import ``"module:callable"``.

    Raises:
        ValueError: the spec is malformed, the module cannot be imported, or the attribute is
            missing or not callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--algo must be 'module:callable', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"cannot import module {module_name!r} of --algo {spec!r}: {exc}"
        ) from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r} (--algo {spec!r})")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"--algo {spec!r} is not callable")
    return target


def resolve_ids(config: BenchConfig) -> tuple[str, ...]:
    """The ids of a config: its suite's then its explicit ids, each checked for scores."""
    ids = list(suite_ids(config.suite)) if config.suite is not None else []
    ids += [i if i.startswith("imitenvs/") else f"imitenvs/{i}" for i in config.env_ids]
    if not ids:
        raise ValueError("nothing to run: give --suite or --env")
    for env_id in ids:
        get_reference(env_id)  # ValueError naming an id without reference scores
    return tuple(dict.fromkeys(ids))


def run_path(out: Path, label: str, env_id: str, seed: int) -> Path:
    """File of one run."""
    return Path(out) / label / env_id.split("/")[-1] / f"seed_{seed}.json"


def _returns(result: Any, env_id: str, seed: int, episodes: int) -> list[float]:
    if callable(result):
        return evaluate_policy(env_id, result, evaluation_seeds(seed, episodes))
    if isinstance(result, Sequence) and result and all(isinstance(r, Real) for r in result):
        return [float(r) for r in result]
    raise ValueError(
        f"the algorithm returned {type(result).__name__} for {env_id} seed {seed}; expected a "
        "policy (callable obs -> action) or a non-empty list of episode returns"
    )


def run_one(fn: Algorithm, config: BenchConfig, label: str, env_id: str, seed: int) -> dict:
    """Train/evaluate one (id, seed) and return its record (not yet written)."""
    start = time.perf_counter()
    returns = _returns(fn(env_id, seed), env_id, seed, config.episodes)
    ref = get_reference(env_id)
    stats = summarise(returns)
    return {
        "format": RUN_FORMAT,
        "format_version": 1,
        "label": label,
        "algo": config.algo,
        "env_id": env_id,
        "seed": seed,
        "eval_seeds": evaluation_seeds(seed, config.episodes),
        "returns": returns,
        "mean_return": stats["mean"],
        "normalized_score": ref.normalize(stats["mean"]),
        "reference": {"random": ref.random, "expert": ref.expert},
        "seconds": time.perf_counter() - start,
        "imitenvs_version": imitenvs.__version__,
    }


def run_benchmark(config: BenchConfig) -> list[Path]:
    """Run every (id, seed) of ``config`` not yet in ``config.out``; returns the run files.

    Raises:
        ValueError: unknown suite, an id without reference scores, a callable that is not
            importable, or ``seeds``/``episodes`` below 1.
    """
    if config.seeds < 1 or config.episodes < 1:
        raise ValueError(
            f"need --seeds >= 1 and --episodes >= 1, got {config.seeds}, {config.episodes}"
        )
    ids = resolve_ids(config)
    fn = load_algorithm(config.algo)
    label = config.label or config.algo.partition(":")[2]
    paths = []
    for env_id in ids:
        for seed in range(config.seeds):
            path = run_path(config.out, label, env_id, seed)
            paths.append(path)
            if path.exists() and not config.force:
                log.info("skip %s (exists)", path)
                continue
            record = run_one(fn, config, label, env_id, seed)
            atomic_write_json(path, record)
            log.info(
                "%s %s seed %d: normalised %.1f", label, env_id, seed, record["normalized_score"]
            )
    return paths


def read_run(path: Path) -> dict:
    """One run file, checked.

    Raises:
        ValueError: not a run file of ours.
    """
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read run file {path}: {exc}") from None
    keys = ("label", "env_id", "seed", "mean_return", "normalized_score")
    if (
        not isinstance(record, dict)
        or record.get("format") != RUN_FORMAT
        or any(k not in record for k in keys)
    ):
        raise ValueError(f"{path} is not an imitenvs bench run file")
    return record
