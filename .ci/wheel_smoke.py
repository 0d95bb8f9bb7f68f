"""Run from outside the checkout with an installed (non-editable) wheel: every registered id
must make, reset and step, and the shipped assets/agents must import from site-packages."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium

import imitenvs
import imitenvs.agents
import imitenvs.assets

site = Path(imitenvs.__file__).resolve().parent
assert "site-packages" in str(site), f"imitenvs imported from {site}, not from the wheel"
for module in (imitenvs.agents, imitenvs.assets):
    path = Path(module.__file__).resolve()
    assert path.is_relative_to(site), f"{module.__name__} imported from {path}, outside {site}"

failures = []
for env_id in imitenvs.list_envs():
    if imitenvs.get_entry(env_id).multiagent:
        continue  # PettingZoo ids (imitenvs.make_parallel) need the pettingzoo extra
    try:
        env = gymnasium.make(env_id)
        env.reset(seed=0)
        env.step(env.action_space.sample())
        env.close()
    except Exception as exc:  # report every failing id, not just the first
        failures.append(f"{env_id}: {type(exc).__name__}: {exc}")
try:  # the shipped policies come with the wheel and load from it
    from imitenvs.agents.evaluation import load_policy

    _, run = load_policy("pretrained:deepmimic_walk")
    assert run.env_id == "imitenvs/HumanoidImitate-v0", run.env_id
except Exception as exc:
    failures.append(f"pretrained:deepmimic_walk: {type(exc).__name__}: {exc}")
if failures:
    sys.exit("wheel smoke test failed:\n" + "\n".join(failures))
print(f"wheel smoke test: {len(imitenvs.list_envs())} ids made from {site}")
