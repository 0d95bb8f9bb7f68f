"""``bench run``: evaluate an algorithm, given as an importable callable, on a suite of ids.

The algorithm contract (see ``docs/benchmarking.md``)::

    fn(env_id: str, seed: int) -> policy | Sequence[float]

For a task whose reference row carries env kwargs (e.g. ``imitenvs/HumanoidImitate-v0@walk``,
see :mod:`imitenvs.bench.scores`) the call is ``fn(make_id, seed, env_kwargs=kwargs)``: the id
given to ``gymnasium.make`` and its kwargs, so ``fn`` must take an ``env_kwargs`` keyword (a
callable without one is refused for such tasks, with one error line); the harness evaluates in
``gymnasium.make(make_id, **kwargs)``. Plain ids keep the two-argument call.

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
import inspect
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
from imitenvs.bench.scores import ReferenceScore, get_reference, suite_ids
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
    for env_id in ids:  # ValueError naming an id without reference scores or expert return
        get_reference(env_id, need_expert=True)
    return tuple(dict.fromkeys(ids))


def run_path(out: Path, label: str, env_id: str, seed: int) -> Path:
    """File of one run."""
    return Path(out) / label / env_id.split("/")[-1] / f"seed_{seed}.json"


def _takes_env_kwargs(fn: Algorithm) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "env_kwargs" or p.kind is p.VAR_KEYWORD for p in params)


def call_algorithm(fn: Algorithm, ref: ReferenceScore, seed: int, algo: str = "") -> Any:
    """``fn(env_id, seed)``, or ``fn(make_id, seed, env_kwargs=...)`` for a task with kwargs.

    Raises:
        ValueError: the task has env kwargs and ``fn`` takes no ``env_kwargs`` keyword.
    """
    if not ref.env_kwargs:
        return fn(ref.make_id, seed)
    if not _takes_env_kwargs(fn):
        raise ValueError(
            f"{ref.env_id} is {ref.make_id} with env kwargs {ref.env_kwargs}; the algorithm "
            f"{algo or fn!r} must take an env_kwargs keyword: fn(env_id, seed, env_kwargs=None)"
        )
    return fn(ref.make_id, seed, env_kwargs=dict(ref.env_kwargs))


def _returns(result: Any, ref: ReferenceScore, seed: int, episodes: int) -> list[float]:
    env_id = ref.env_id
    if callable(result):
        seeds = evaluation_seeds(seed, episodes)
        return evaluate_policy(ref.make_id, result, seeds, ref.env_kwargs)
    if isinstance(result, Sequence) and result and all(isinstance(r, Real) for r in result):
        return [float(r) for r in result]
    raise ValueError(
        f"the algorithm returned {type(result).__name__} for {env_id} seed {seed}; expected a "
        "policy (callable obs -> action) or a non-empty list of episode returns"
    )


def run_one(fn: Algorithm, config: BenchConfig, label: str, env_id: str, seed: int) -> dict:
    """Train/evaluate one (id, seed) and return its record (not yet written)."""
    start = time.perf_counter()
    ref = get_reference(env_id)
    returns = _returns(call_algorithm(fn, ref, seed, config.algo), ref, seed, config.episodes)
    stats = summarise(returns)
    return {
        "format": RUN_FORMAT,
        "format_version": 1,
        "label": label,
        "algo": config.algo,
        "env_id": env_id,
        "make_id": ref.make_id,
        "env_kwargs": ref.env_kwargs,
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
    for env_id in ids:  # refuse a callable without env_kwargs before running anything
        ref = get_reference(env_id)
        if ref.env_kwargs and not _takes_env_kwargs(fn):
            call_algorithm(fn, ref, 0, config.algo)  # raises the error line
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
