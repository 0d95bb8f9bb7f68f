"""Shared fixtures. Real data from the original projects lives in ``../shared/data`` beside the
checkout; tests that read it fail (never skip) when it is missing, so CI cannot pass silently."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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
