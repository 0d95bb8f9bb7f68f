"""``python -m imitenvs bench run|report|suites``: the benchmark harness on the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imitenvs.bench.scores import SUITES, get_reference


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _cmd_run(args: argparse.Namespace) -> int:
    from imitenvs.bench.run import BenchConfig, run_benchmark

    if args.suite is None and not args.env:
        raise ValueError("give --suite NAME or --env ID")
    config = BenchConfig(
        algo=args.algo,
        out=args.out,
        suite=args.suite,
        env_ids=tuple(args.env or ()),
        seeds=args.seeds,
        episodes=args.episodes,
        label=args.label,
        force=args.force,
    )
    paths = run_benchmark(config)
    _say(f"{len(paths)} runs under {args.out}; next: python -m imitenvs bench report {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from imitenvs.bench.report import ReportConfig, write_report

    config = ReportConfig(reps=args.reps, seed=args.seed, plot=not args.no_plot)
    _, markdown, written = write_report(args.results, args.out, config)
    sys.stdout.write(markdown)
    for path in written:
        _say(f"wrote {path}")
    return 0


def _cmd_suites(args: argparse.Namespace) -> int:
    suites = sorted(SUITES.items())
    width = max([34, *(len(env_id) for _, ids in suites for env_id in ids)])
    for name, ids in suites:
        _say(f"{name}:")
        if not ids:
            _say("  (empty: no id of this suite has an expert reference return yet)")
        for env_id in ids:
            ref = get_reference(env_id)
            expert = ref.require_expert()
            _say(f"  {env_id:<{width}} random {ref.random:10.3f}  expert {expert:10.3f}")
    return 0


def add_parser(sub: Any) -> None:
    """Add the ``bench`` command group to the top-level subparsers."""
    group = sub.add_parser("bench", help="benchmark an algorithm: normalised scores over a suite")
    bench = group.add_subparsers(dest="bench_command", required=True)

    p = bench.add_parser("run", help="run an algorithm (module:callable) on a suite")
    p.add_argument("--suite", help=f"suite name: {', '.join(sorted(SUITES))}")
    p.add_argument("--env", action="append", help="an id with reference scores (repeatable)")
    p.add_argument(
        "--algo", required=True, help="module:callable, fn(env_id, seed) -> policy or returns"
    )
    p.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1 (default 5)")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes per run")
    p.add_argument("--out", type=Path, required=True, help="results folder")
    p.add_argument("--label", help="algorithm name in reports (default: the callable's name)")
    p.add_argument("--force", action="store_true", help="rerun runs whose file exists")
    p.set_defaults(func=_cmd_run)

    p = bench.add_parser("report", help="normalised scores, IQM and bootstrap CIs of results")
    p.add_argument("results", type=Path, help="results folder of bench run")
    p.add_argument("--out", type=Path, help="write report.* here (default: the results folder)")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap replicates")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--no-plot", action="store_true", help="skip report.png")
    p.set_defaults(func=_cmd_report)

    p = bench.add_parser("suites", help="list suites with their reference scores")
    p.set_defaults(func=_cmd_suites)
