"""Shared fixtures. Real data from the original projects lives in ``../shared/data`` beside the
checkout; tests that read it fail (never skip) when it is missing, so CI cannot pass silently."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from imitenvs.core.scripts import load_script

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$IMITENVS_SHARED_DATA`` or ``<repo>/../shared/data``."""
    override = os.environ.get("IMITENVS_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory with the original projects' data files; fails the test when absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(
            f"shared data directory {path} is missing (expected ../shared/data beside the "
            "checkout, or set IMITENVS_SHARED_DATA)"
        )
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated files (iMuJoCo XMLs, ...) go to a per-run temporary cache, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("IMITENVS_CACHE", str(tmp_path_factory.mktemp("imitenvs-cache")))
    yield
    mp.undo()


@pytest.fixture(params=["cpu", "warp"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each physics backend in turn (MuJoCo Warp on its CPU device; ``tests/
    test_warp_backend.py`` covers it in depth). Part of ``dev``, so its absence fails."""
    if request.param == "warp" and importlib.util.find_spec("mujoco_warp") is None:
        pytest.fail('mujoco_warp is not installed: pip install -e ".[dev]"')
    return request.param


@pytest.fixture(scope="session")
def load_example() -> Callable[[str], ModuleType]:
    """``name -> module``: import ``examples/<name>.py`` (registered in ``sys.modules``, where
    its dataclasses look their module up)."""

    def load(name: str) -> ModuleType:
        return load_script(REPO_ROOT / "examples" / f"{name}.py")

    return load


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """One torch thread for the module: SB3 on a shared 2-core machine is ~20x slower with two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
