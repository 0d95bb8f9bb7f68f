"""Multi-clip motion datasets: the AMP/NEAR YAML convention.

A dataset file lists clips with sampling weights; paths are relative to the YAML file::

    motions:
      - file: walk.npz
        weight: 1.0
      - file: ../other/run.npy   # any format read_motion understands
        weight: 0.5

``weight`` defaults to 1.0. Weights are normalised by the motion library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from imitenvs.core.files import atomic_write_text

DATASET_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


@dataclass(frozen=True)
class DatasetEntry:
    """One clip of a dataset: its file (resolved) and sampling weight (> 0)."""

    file: Path
    weight: float = 1.0


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` names a YAML dataset (by suffix)."""
    return Path(path).suffix.lower() in DATASET_SUFFIXES


def read_dataset(path: str | Path) -> list[DatasetEntry]:
    """Entries of a YAML dataset, paths resolved against the YAML's folder.

    Raises:
        ValueError: not a mapping with a non-empty ``motions`` list of ``{file, weight}``, or a
            weight that is not a positive finite number.
        FileNotFoundError: the YAML or a listed clip does not exist.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    motions = data.get("motions") if isinstance(data, dict) else None
    if not isinstance(motions, list) or not motions:
        raise ValueError(f"{path}: a dataset needs a non-empty 'motions' list of {{file, weight}}")
    entries = []
    for i, item in enumerate(motions):
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise ValueError(f"{path}: motions[{i}] must be a mapping with a 'file' string")
        weight = item.get("weight", 1.0)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not (math.isfinite(weight) and weight > 0)
        ):
            raise ValueError(
                f"{path}: motions[{i}].weight must be a positive number, got {weight!r}"
            )
        file = (path.parent / item["file"]).resolve()
        if not file.is_file():
            raise FileNotFoundError(
                f"{path}: motions[{i}].file {item['file']!r} not found (looked for {file})"
            )
        entries.append(DatasetEntry(file, float(weight)))
    return entries


def write_dataset(path: str | Path, entries: list[tuple[str, float]]) -> Path:
    """Write a YAML dataset listing ``(relative file, weight)`` pairs; returns the path."""
    path = Path(path)
    body = {"motions": [{"file": file, "weight": float(weight)} for file, weight in entries]}
    return atomic_write_text(path, yaml.safe_dump(body, sort_keys=False))
