"""Command line: ``python -m imitenvs <command>`` (also installed as ``imitenvs``).

Commands:
    list [--family F]        every registered id, one per line, with its summary
    info ID                  spaces, episode length, default kwargs and summary of one id
    catalogue [--write]      the Markdown catalogue generated from the registry

Families add their own command groups (``motions``, ``data``, ...) through ``COMMAND_MODULES``:
each module exposes ``add_parser(subparsers)`` and sets ``func`` on its parsers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

import gymnasium

import imitenvs
from imitenvs.catalogue import checkout_root, describe_space, render_catalogue, write_catalogue
from imitenvs.core.scripts import USER_ERRORS
from imitenvs.registry import EnvEntry, families, get_entry, list_envs

# Modules that contribute command groups; each has `add_parser(subparsers) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "imitenvs.motion.cli",
    "imitenvs.data.cli",
    "imitenvs.agents.play",
    "imitenvs.bench.cli",
)


def _cmd_list(args: argparse.Namespace) -> int:
    ids = list_envs(args.family)
    width = max(len(i) for i in ids)
    for env_id in ids:
        entry = get_entry(env_id)
        print(f"{env_id:<{width}}  {entry.family:<10} {entry.summary}")
    return 0


def _info_multiagent(entry: EnvEntry) -> int:
    """``info`` of a PettingZoo id: its agents and per-agent spaces."""
    env = imitenvs.make_parallel(entry.id)
    agent = env.possible_agents[0]
    print(f"id:                {entry.id}")
    print(f"family:            {entry.family}")
    print(f"summary:           {entry.summary}")
    print(f"entry point:       {entry.entry_point}")
    print(f"agents:            {', '.join(env.possible_agents)} (PettingZoo ParallelEnv)")
    print(f"observation space: per agent {describe_space(env.observation_space(agent))}")
    print(f"action space:      per agent {describe_space(env.action_space(agent))}")
    print(f"render modes:      {', '.join(env.metadata.get('render_modes', []))}")
    print("default kwargs:")
    for key, value in entry.kwargs.items():
        print(f"  {key} = {value!r}")
    print(f"use:               imitenvs.make_parallel({entry.id!r}) or imitenvs.make_aec(...)")
    env.close()
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    entry = get_entry(args.id)
    if entry.multiagent:
        return _info_multiagent(entry)
    env = gymnasium.make(entry.id)
    try:
        print(f"id:                {entry.id}")
        print(f"family:            {entry.family}")
        print(f"summary:           {entry.summary}")
        print(f"entry point:       {entry.entry_point}")
        print(f"batched:           {'yes' if entry.vectorised else 'no'}")
        steps = entry.max_episode_steps if entry.max_episode_steps is not None else "set by env"
        print(f"max episode steps: {steps}")
        print(f"observation space: {describe_space(env.observation_space)}")
        print(f"action space:      {describe_space(env.action_space)}")
        print(f"render modes:      {', '.join(env.metadata.get('render_modes', [])) or '-'}")
        print("default kwargs:")
        for key, value in entry.kwargs.items():
            print(f"  {key} = {value!r}")
        task = env.unwrapped
        task = getattr(task, "batch", task)  # SingleWorldEnv: describe the batched task class
        doc = [ln.strip() for ln in (type(task).__doc__ or "").splitlines()]
        doc = [ln for ln in doc if ln and not ln.startswith(("#", "=", "-"))]
        if doc:
            print(f"class:             {type(task).__name__}: {doc[0]}")
        if entry.vectorised:
            print(f"batched use:       gymnasium.make({entry.id!r}, num_envs=N)")
    finally:
        env.close()
    return 0


def _cmd_catalogue(args: argparse.Namespace) -> int:
    if not args.write:
        sys.stdout.write(render_catalogue())
        return 0
    root = checkout_root() if args.root is None else args.root
    if not (root / "README.md").is_file():
        raise FileNotFoundError(f"no README.md under {root}; pass --root CHECKOUT")
    for path in write_catalogue(root):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, including command groups from ``COMMAND_MODULES``."""
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m imitenvs", description=f"imitenvs {imitenvs.__version__}"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered environment ids")
    p.add_argument("--family", choices=families(), help="only this family")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="describe one environment id")
    p.add_argument("id", help="env id, with or without the 'imitenvs/' prefix")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("catalogue", help="print the Markdown env catalogue (or --write it)")
    p.add_argument(
        "--write", action="store_true", help="write docs/envs.md and the README's family table"
    )
    p.add_argument(
        "--root", type=Path, default=None, help="checkout to write into (default: this one)"
    )
    p.set_defaults(func=_cmd_catalogue)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input, with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (KeyError, *USER_ERRORS) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
