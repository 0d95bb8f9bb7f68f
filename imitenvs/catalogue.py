"""The environment catalogue, generated from the registry.

Two views: the full table ``docs/envs.md`` (every id with its spaces) and a family summary
between the ``<!-- catalogue -->`` markers of ``README.md``. ``python -m imitenvs catalogue
--write`` refreshes both; a test fails when either is stale.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium

from imitenvs.core.files import atomic_write_text
from imitenvs.registry import ENTRIES, EnvEntry, families

HEADER = """# Environment catalogue

Generated from `imitenvs/registry.py` by `python -m imitenvs catalogue --write`; do not edit by
hand (a test fails when this file is stale). `python -m imitenvs info ID` shows one entry.
"""

#: Each family's own page, linked under its heading in ``docs/envs.md``.
FAMILY_DOCS = {
    "gridworld": "gridworlds.md",
    "planar": "planar.md",
    "imujoco": "imujoco.md",
    "deep_rlsp": "deep_rlsp_envs.md",
    "humanoid": "humanoid.md",
    "multiagent": "multiagent.md",
}


def describe_space(space: gymnasium.Space) -> str:
    """Short, stable text for a space: ``Discrete(5)``, ``Box(float32, (75,))``, ..."""
    if isinstance(space, gymnasium.spaces.Box):
        return f"Box({space.dtype}, {tuple(space.shape)})"
    if isinstance(space, gymnasium.spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, gymnasium.spaces.Dict):
        inner = ", ".join(f"{k}: {describe_space(v)}" for k, v in space.spaces.items())
        return f"Dict({inner})"
    return str(space)


def entry_spaces(entry: EnvEntry) -> tuple[str, str]:
    """(observation, action) space descriptions of the single env behind ``entry`` (of one
    agent, for multiagent ids)."""
    if entry.multiagent:
        from imitenvs.registry import make_parallel

        par = make_parallel(entry.id)
        agent = par.possible_agents[0]
        obs, act = par.observation_space(agent), par.action_space(agent)
        par.close()
        return f"per agent: {describe_space(obs)}", f"per agent: {describe_space(act)}"
    env = gymnasium.make(entry.id)
    try:
        return describe_space(env.observation_space), describe_space(env.action_space)
    finally:
        env.close()


def render_catalogue() -> str:
    """The whole catalogue as Markdown."""
    lines = [HEADER]
    for family in families():
        entries = [e for e in ENTRIES if e.family == family]
        lines.append(f"\n## {family} ({len(entries)} ids)\n")
        if family in FAMILY_DOCS:
            lines.append(f"Documented in [{FAMILY_DOCS[family]}]({FAMILY_DOCS[family]}).\n")
        lines.append("| id | summary | observation | action | episode steps | batched |")
        lines.append("|---|---|---|---|---|---|")
        for e in entries:
            obs, act = entry_spaces(e)
            steps = e.max_episode_steps if e.max_episode_steps is not None else "-"
            lines.append(
                f"| `{e.id}` | {e.summary} | `{obs}` | `{act}` | {steps} | "
                f"{'yes' if e.vectorised else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def render_family_table() -> str:
    """The README's family summary: family, number of ids, the first few ids."""
    lines = ["| family | ids | examples |", "|---|---|---|"]
    for family in families():
        ids = [e.id for e in ENTRIES if e.family == family]
        shown = ", ".join(f"`{i}`" for i in ids[:3]) + (", ..." if len(ids) > 3 else "")
        lines.append(f"| {family} | {len(ids)} | {shown} |")
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- catalogue -->\n", "<!-- /catalogue -->"


def replace_readme_block(readme: str, table: str) -> str:
    """``readme`` with the text between the catalogue markers replaced by ``table``.

    Raises:
        ValueError: the markers are missing.
    """
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {README_START.strip()} ... {README_END} block")
    return readme[: start + len(README_START)] + table + readme[end:]


def checkout_root() -> Path:
    """Root of the source checkout this module belongs to (holds ``docs/`` and ``README.md``)."""
    return Path(__file__).resolve().parent.parent


def write_catalogue(root: Path) -> list[Path]:
    """Write ``docs/envs.md`` and the README block under ``root``; returns the paths written."""
    envs_md = root / "docs" / "envs.md"
    envs_md.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(envs_md, render_catalogue())
    readme = root / "README.md"
    atomic_write_text(readme, replace_readme_block(readme.read_text(), render_family_table()))
    return [envs_md, readme]
