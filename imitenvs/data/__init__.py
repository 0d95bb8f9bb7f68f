"""Datasets and data tooling: demonstration formats, collection pipelines and downloads."""

from imitenvs.data.demos import AmpDemoSampler as AmpDemoSampler
from imitenvs.data.demos import DemoDataset as DemoDataset
from imitenvs.data.demos import load_default_demos as load_default_demos
