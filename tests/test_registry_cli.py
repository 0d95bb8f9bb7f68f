"""The registry, the CLI and the generated catalogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

import imitenvs
from imitenvs.catalogue import (
    render_catalogue,
    render_family_table,
    replace_readme_block,
    write_catalogue,
)
from imitenvs.cli import main
from imitenvs.registry import ENTRIES, EnvEntry, get_entry, list_envs


def test_every_entry_is_registered_with_gymnasium() -> None:
    for entry in ENTRIES:
        if entry.multiagent:  # PettingZoo envs: imitenvs.make_parallel, not gymnasium
            assert entry.id not in gymnasium.registry
            continue
        spec = gymnasium.spec(entry.id)
        assert spec.entry_point == entry.entry_point
        assert spec.kwargs == dict(entry.kwargs)


def test_list_envs_by_family_partitions_the_registry() -> None:
    all_ids = list_envs()
    by_family = [i for f in imitenvs.families() for i in list_envs(f)]
    assert sorted(all_ids) == sorted(by_family)
    assert len(set(all_ids)) == len(all_ids)
    assert all(i.startswith("imitenvs/") for i in all_ids)


def test_unknown_family_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown family 'nope'.*gridworld"):
        list_envs("nope")


def test_unknown_id_suggests_close_matches() -> None:
    with pytest.raises(KeyError, match="RoomDefault-v0"):
        get_entry("imitenvs/RoomDefualt-v0")
    assert get_entry("RoomDefault-v0").id == "imitenvs/RoomDefault-v0"


def test_entry_validation() -> None:
    with pytest.raises(ValueError, match="Name-vN"):
        EnvEntry(name="imitenvs/X-v0", entry_point="a:b", family="f", summary="s")
    with pytest.raises(ValueError, match="vector_entry_point"):
        EnvEntry(name="X-v0", entry_point="a:b", family="f", summary="s", batched=True)


def test_cli_list_and_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(list_envs())
    assert main(["list", "--family", "gridworld"]) == 0
    out = capsys.readouterr().out
    assert "imitenvs/RoomDefault-v0" in out


def test_cli_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "RoomDefault-v0"]) == 0
    out = capsys.readouterr().out
    for needle in ("observation space:", "action space:", "max episode steps: 20", "problem"):
        assert needle in out


def test_cli_bad_id_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "imitenvs/NoSuchEnv-v0"]) == 2
    assert "unknown env id" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imitenvs", "list", "--family", "gridworld"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "imitenvs/RoomBig-v0" in result.stdout


def test_docs_catalogue_is_fresh(repo_root: Path) -> None:
    expected = render_catalogue()
    actual = (repo_root / "docs" / "envs.md").read_text()
    assert actual == expected, "docs/envs.md is stale: run `python -m imitenvs catalogue --write`"
    readme = (repo_root / "README.md").read_text()
    assert replace_readme_block(readme, render_family_table()) == readme, (
        "README catalogue block is stale: run `python -m imitenvs catalogue --write`"
    )


def test_write_catalogue_into_other_root(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "intro\n<!-- catalogue -->\nold\n<!-- /catalogue -->\nend\n"
    )
    write_catalogue(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "old" not in readme and "| gridworld |" in readme and readme.endswith("end\n")
    assert (tmp_path / "docs" / "envs.md").read_text() == render_catalogue()
    (tmp_path / "README.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="catalogue"):
        write_catalogue(tmp_path)
