"""``bench report``: per-id normalised scores and aggregates with stratified-bootstrap CIs.

Reads every ``seed_*.json`` run file under a results folder (written by ``bench run``), groups
them by algorithm label, and writes ``report.md``, ``report.json`` and ``report.png`` there:

- per (algorithm, id): mean return, mean ± std of the normalised score over seeds;
- per algorithm: IQM, mean and median of the normalised scores of all runs, each with a 95 %
  stratified-bootstrap confidence interval (tasks = ids, runs = seeds; :mod:`imitenvs.bench.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.bench.run import read_run
from imitenvs.bench.stats import AGGREGATES, stratified_bootstrap_ci
from imitenvs.core.files import atomic_path, atomic_write_json, atomic_write_text

REPORT_FORMAT = "imitenvs-bench-report"


@dataclass(frozen=True)
class ReportConfig:
    """How ``bench report`` aggregates."""

    reps: int = 2000
    confidence: float = 0.95
    seed: int = 0
    plot: bool = True


def collect_runs(results: Path) -> dict[str, dict[str, list[dict]]]:
    """``{label: {env_id: [run records sorted by seed]}}`` of every run file under ``results``.

    Raises:
        FileNotFoundError: ``results`` is not a folder.
        ValueError: it holds no run files, or a bad one.
    """
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"no results folder {results}")
    grouped: dict[str, dict[str, list[dict]]] = {}
    for path in sorted(results.rglob("seed_*.json")):
        record = read_run(path)
        grouped.setdefault(record["label"], {}).setdefault(record["env_id"], []).append(record)
    if not grouped:
        raise ValueError(f"no run files (seed_*.json) under {results}; run `bench run` first")
    for per_id in grouped.values():
        for runs in per_id.values():
            runs.sort(key=lambda r: r["seed"])
    return grouped


def summarise_runs(grouped: dict[str, dict[str, list[dict]]], config: ReportConfig) -> dict:
    """The report document (JSON-ready) of :func:`collect_runs`' output."""
    algorithms: dict[str, Any] = {}
    for label, per_id in sorted(grouped.items()):
        scores = {i: [r["normalized_score"] for r in runs] for i, runs in per_id.items()}
        per_env = {
            env_id: {
                "seeds": [r["seed"] for r in runs],
                "mean_return": float(np.mean([r["mean_return"] for r in runs])),
                "normalized_scores": scores[env_id],
                "normalized_mean": float(np.mean(scores[env_id])),
                "normalized_std": float(np.std(scores[env_id], ddof=1)) if len(runs) > 1 else 0.0,
            }
            for env_id, runs in sorted(per_id.items())
        }
        aggregate = {}
        for name, fn in AGGREGATES.items():
            point, low, high = stratified_bootstrap_ci(
                scores, fn, config.reps, config.confidence, config.seed
            )
            aggregate[name] = {"estimate": point, "ci_low": low, "ci_high": high}
        algorithms[label] = {"per_env": per_env, "aggregate": aggregate}
    return {
        "format": REPORT_FORMAT,
        "format_version": 1,
        "bootstrap": {
            "method": "stratified (runs resampled within each id), percentile interval",
            "reps": config.reps,
            "confidence": config.confidence,
            "seed": config.seed,
        },
        "algorithms": algorithms,
    }


def render_markdown(report: dict) -> str:
    """Two Markdown tables: normalised scores per id, and the aggregates with their CIs."""
    algos = report["algorithms"]
    ids = sorted({i for a in algos.values() for i in a["per_env"]})
    labels = list(algos)
    lines = ["| id | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for env_id in ids:
        cells = []
        for label in labels:
            row = algos[label]["per_env"].get(env_id)
            cells.append(
                "-"
                if row is None
                else f"{row['normalized_mean']:.1f} ± {row['normalized_std']:.1f} "
                f"(n={len(row['seeds'])})"
            )
        lines.append(f"| `{env_id}` | " + " | ".join(cells) + " |")
    pct = round(100 * report["bootstrap"]["confidence"])
    lines += ["", f"| algorithm | IQM [{pct} % CI] | mean [{pct} % CI] | median [{pct} % CI] |"]
    lines.append("|---|---|---|---|")
    for label in labels:
        agg = algos[label]["aggregate"]
        cells = [
            f"{agg[n]['estimate']:.1f} [{agg[n]['ci_low']:.1f}, {agg[n]['ci_high']:.1f}]"
            for n in ("iqm", "mean", "median")
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_report(report: dict, path: Path) -> Path:
    """Per-id normalised scores (bars, ± std) and each algorithm's IQM with its CI."""
    from imitenvs.envs.planar._deps import require

    require("matplotlib", "bench report plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    algos = report["algorithms"]
    labels = list(algos)
    ids = sorted({i for a in algos.values() for i in a["per_env"]})
    fig = Figure(figsize=(4.0 + 0.9 * len(ids), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(len(ids), 1), 1.5]})
    width = 0.8 / len(labels)
    for k, label in enumerate(labels):
        per_env = algos[label]["per_env"]
        x = [j + k * width for j, i in enumerate(ids) if i in per_env]
        means = [per_env[i]["normalized_mean"] for i in ids if i in per_env]
        stds = [per_env[i]["normalized_std"] for i in ids if i in per_env]
        left.bar(x, means, width, yerr=stds, label=label, capsize=2)
        iqm = algos[label]["aggregate"]["iqm"]
        err = [[iqm["estimate"] - iqm["ci_low"]], [iqm["ci_high"] - iqm["estimate"]]]
        right.errorbar([iqm["estimate"]], [k], xerr=err, fmt="o", capsize=4)
    left.set_xticks([j + 0.4 - width / 2 for j in range(len(ids))])
    left.set_xticklabels([i.split("/")[-1] for i in ids], rotation=30, ha="right", fontsize=8)
    left.set_ylabel("normalised score (0 random, 100 expert)")
    left.axhline(100.0, color="0.6", lw=0.8, ls="--")
    left.legend(fontsize=8)
    right.set_yticks(range(len(labels)))
    right.set_yticklabels(labels)
    right.set_xlabel("IQM, 95 % CI")
    right.set_ylim(-0.5, len(labels) - 0.5)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_report(
    results: Path, out: Path | None = None, config: ReportConfig = ReportConfig()
) -> tuple[dict, str, list[Path]]:
    """Collect, summarise and write ``report.md``/``.json``/``.png`` into ``out`` (default
    ``results``); returns the report, its Markdown and the files written."""
    report = summarise_runs(collect_runs(results), config)
    markdown = render_markdown(report)
    out = Path(results) if out is None else Path(out)
    written = [
        atomic_write_text(out / "report.md", markdown),
        atomic_write_json(out / "report.json", report),
    ]
    if config.plot:
        written.append(plot_report(report, out / "report.png"))
    return report, markdown, written
