"""Draw the curves of a training log: ``python -m imitenvs.agents.plot_log log.txt [...]``.

    python -m imitenvs.agents.plot_log runs/awr_Pendulum-v1/log.txt --out awr.png
    python -m imitenvs.agents.plot_log runs/a/log.txt runs/b/log.txt --y episode/return
    python -m imitenvs.agents.plot_log log.txt --y reward/total,loss/critic_total --x Iteration

Reads ``log.txt`` files (the trainer's, :mod:`imitenvs.agents.logs`, or MimicKit's column
logs) and draws each ``--y`` column against ``--x`` (default ``Samples``), one panel per
column and one line per file, optionally smoothed by a moving average (``--window``). The
default columns are the episode return (``episode/return`` or MimicKit's ``Train_Return`` /
``Test_Return``) and ``reward/total``, those the log has. Writes ``--out`` (default: beside
the first log, ``log.png``) atomically and prints its path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from imitenvs.agents.logs import read_log
from imitenvs.core.files import atomic_path
from imitenvs.core.scripts import run_main

DEFAULT_Y = ("episode/return", "Test_Return", "Train_Return", "reward/total")


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Moving average of ``y`` ``(n,)`` over ``window`` rows (shorter at the start), ignoring
    ``nan`` rows; ``window <= 1`` returns ``y``."""
    if window <= 1:
        return y
    out = np.full_like(y, np.nan)
    for i in range(len(y)):
        chunk = y[max(0, i - window + 1) : i + 1]
        chunk = chunk[np.isfinite(chunk)]
        if len(chunk):
            out[i] = chunk.mean()
    return out


def plot_logs(
    paths: list[Path], out: Path, x: str = "Samples", ys: list[str] | None = None, window: int = 1
) -> Path:
    """Draw the logs (see the module doc); returns ``out``.

    Raises:
        ValueError: a column is in none of the logs, or a log lacks ``x``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {p: read_log(p) for p in paths}
    for path, data in logs.items():
        if x not in data:
            raise ValueError(f"{path} has no column {x!r}; it has {', '.join(data)}")
    if not ys:
        ys = [y for y in DEFAULT_Y if any(y in d for d in logs.values())]
    missing = [y for y in ys if not any(y in d for d in logs.values())]
    if missing or not ys:
        names = sorted({k for d in logs.values() for k in d})
        raise ValueError(f"no column {missing or list(DEFAULT_Y)} in the logs; they have {names}")
    fig, axes = plt.subplots(len(ys), 1, figsize=(6.4, 2.6 * len(ys)), squeeze=False)
    for ax, y in zip(axes[:, 0], ys, strict=True):
        for path, data in logs.items():
            if y in data:
                values = smooth(data[y], window)
                keep = np.isfinite(values)
                marker = "." if keep.sum() < 30 else None
                ax.plot(data[x][keep], values[keep], marker=marker, label=path.parent.name)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize="small")
    axes[-1, 0].set_xlabel(x)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(
        prog="python -m imitenvs.agents.plot_log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("logs", nargs="+", type=Path, help="log.txt files")
    p.add_argument("--out", type=Path, help="picture (.png, .pdf, .svg); default log.png beside")
    p.add_argument("--x", default="Samples", help="x column (Samples, Iteration, Wall_Time)")
    p.add_argument("--y", help="comma-separated y columns (default: return and reward)")
    p.add_argument("--window", type=int, default=1, help="moving-average window, rows")
    args = p.parse_args(argv)
    ys = [y for y in (args.y or "").split(",") if y]
    out = args.out or args.logs[0].with_name("log.png")
    path = plot_logs(args.logs, out, args.x, ys, args.window)
    sys.stdout.write(f"{path}\n")
    return path


if __name__ == "__main__":
    run_main(main)
