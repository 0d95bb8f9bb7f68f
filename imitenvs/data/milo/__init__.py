"""MILO's offline-data tooling on our humanoid tasks (``python -m imitenvs data milo ...``):
checkpoint statistics, score-bucketed collection, expert datasets from the clips, and the
dataset format with converters (see ``docs/milo.md``)."""

from imitenvs.data.milo.dataset import MiloDataset as MiloDataset
