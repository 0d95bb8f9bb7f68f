"""Training logs: TensorBoard or Weights & Biases scalars, and always a plain ``log.txt``.

:class:`RunLogger` is what the runners call once per iteration. ``log.txt`` follows MimicKit's
text log: one header line of column names, then one line of whitespace-separated numbers per
iteration, the first columns ``Iteration``, ``Samples`` and ``Wall_Time`` (hours) and then every
scalar under its logged name (``reward/total``, ``episode/return``, ...). A scalar that first
appears after the first row (an episode that finishes later) adds a column: the file is then
rewritten once, atomically, with ``nan`` in the earlier rows. :func:`read_log` reads it back and
``python -m imitenvs.agents.plot_log`` draws it.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from imitenvs.core.files import atomic_write_text

log = logging.getLogger(__name__)

LOGGERS = ("tb", "wandb", "none")
"""the scalar sinks beside ``log.txt``: TensorBoard, Weights & Biases, nothing"""
TEXT_LOG = "log.txt"
"""name of the plain text log in the run folder"""
FIRST_COLUMNS = ("Iteration", "Samples", "Wall_Time")


def check_logger(kind: str) -> None:
    """Raise ``ValueError`` for an unknown logger or ``wandb`` when it is not installed."""
    if kind not in LOGGERS:
        raise ValueError(f"logger={kind!r} is invalid; choose one of {', '.join(LOGGERS)}")
    if kind == "wandb" and importlib.util.find_spec("wandb") is None:
        raise ValueError("--logger wandb needs the wandb package (pip install wandb)")


def _format(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class TextLog:
    """MimicKit-style column log (see the module doc).

    Args:
        path: the file; an existing one is continued when its header is ours (a resumed run),
            else replaced.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.columns: list[str] = []
        self.rows: list[list[str]] = []
        if self.path.is_file():
            try:
                columns, rows = _parse(self.path.read_text(encoding="utf-8"))
            except ValueError:
                columns, rows = [], []
            if columns[: len(FIRST_COLUMNS)] == list(FIRST_COLUMNS):
                self.columns, self.rows = columns, rows

    def write(self, values: dict[str, float]) -> None:
        """Append one row (``values`` by column name; missing ones are ``nan``)."""
        new = [k for k in values if k not in self.columns and not any(c.isspace() for c in k)]
        row_values = {k: _format(v) for k, v in values.items()}
        if new or not self.path.is_file():
            self.columns += new
            self.rows = [r + ["nan"] * (len(self.columns) - len(r)) for r in self.rows]
            self.rows.append([row_values.get(c, "nan") for c in self.columns])
            atomic_write_text(self.path, self._text(self.rows))
            return
        row = [row_values.get(c, "nan") for c in self.columns]
        self.rows.append(row)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(" ".join(row) + "\n")

    def _text(self, rows: list[list[str]]) -> str:
        return "\n".join(" ".join(r) for r in [self.columns, *rows]) + "\n"


def _parse(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line.split() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty log")
    header, rows = lines[0], lines[1:]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i + 1} has {len(row)} values for {len(header)} columns")
    return header, rows


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a ``log.txt`` (ours or MimicKit's) as ``{name: (rows,) float array}``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: empty, or a row whose length differs from the header's.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no log file at {path}")
    try:
        header, rows = _parse(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path} is not a column log: {exc}") from None
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
    return {name: data[:, i] for i, name in enumerate(header)}


class RunLogger:
    """Scalars of each iteration to TensorBoard / wandb and to ``log.txt`` in ``log_dir``.

    Args:
        log_dir: the run folder.
        kind: one of :data:`LOGGERS`.
        config: plain-data run description (wandb's run config).
    """

    def __init__(self, log_dir: str | Path, kind: str = "tb", config: dict | None = None) -> None:
        check_logger(kind)
        self.log_dir, self.kind = Path(log_dir), kind
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.text = TextLog(self.log_dir / TEXT_LOG)
        self.start = time.perf_counter()
        self._hours0 = 0.0
        if self.text.rows and "Wall_Time" in self.text.columns:  # a resumed run
            last = float(self.text.rows[-1][self.text.columns.index("Wall_Time")])
            self._hours0 = last if math.isfinite(last) else 0.0
        self._writer: Any = None
        self._wandb: Any = None
        if kind == "tb":
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.log_dir))
        elif kind == "wandb":
            import wandb

            self._wandb = wandb.init(dir=str(self.log_dir), config=config or {})

    def log(self, stats: dict[str, float], step: int, iteration: int) -> None:
        """One iteration's scalars at ``step`` env steps."""
        if self._writer is not None:
            for name, value in stats.items():
                self._writer.add_scalar(name, value, step)
        if self._wandb is not None:
            self._wandb.log(dict(stats), step=step)
        hours = self._hours0 + (time.perf_counter() - self.start) / 3600.0
        first = {"Iteration": iteration, "Samples": step, "Wall_Time": hours}
        self.text.write({**first, **{k: float(v) for k, v in stats.items()}})

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
