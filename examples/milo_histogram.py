"""Histogram of the checkpoint scores of a ``milo stats`` file, with the collect buckets.

    python examples/milo_histogram.py stats.json --lower-limits 0 4 6 --out scores.png

Draws one bar per bin of the checkpoints' mean score (DTW cost or return), a vertical line at
each lower limit, and the checkpoints each bucket selects (the default rule of ``milo
collect``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imitenvs.core.files import atomic_path
from imitenvs.core.scripts import run_main
from imitenvs.data.milo.pipeline import STAT_KEYS, bucket_index, read_stats


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("stats", type=Path, help="stats .json of `milo stats`")
    p.add_argument("--lower-limits", type=float, nargs="+", required=True)
    p.add_argument("--bins", type=int, default=20)
    p.add_argument("--out", type=Path, required=True, help="picture (.png, .svg)")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = read_stats(args.stats)
    key = f"average_{STAT_KEYS[stats['score_name']]}"
    scores = [float(row[key]) for row in stats["checkpoints"].values()]
    limits = sorted(args.lower_limits)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(scores, bins=args.bins, color="tab:blue", alpha=0.8)
    pad = 0.1 * (max(scores) - min(scores)) + 1e-6
    lo, hi = min(scores) - pad, max(scores) + pad
    ax.set_xlim(lo, hi)
    for k, limit in enumerate(limits):  # a limit off the axis is drawn at its left edge
        count = sum(bucket_index(s, limits) == k for s in scores)
        at = min(max(limit, lo), hi)
        ax.axvline(at, color="tab:red", linestyle="--" if at == limit else ":")
        ax.annotate(f"bucket {k} (>= {limit:g}): {count} ckpt", (at, 1.0),
                    xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                    fontsize=8)  # fmt: skip
    ax.set_xlabel(f"checkpoint {key} ({stats['repetitions']} episodes each)")
    ax.set_ylabel("checkpoints")
    ax.set_title(f"{stats['env_id']}: {len(scores)} checkpoints", fontsize=9)
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, bbox_inches="tight", dpi=120, format=args.out.suffix.lstrip("."))
    plt.close(fig)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    run_main(main)
