"""Apples commons (PettingZoo): the API tests, the rules, the expert, SB3 with one shared policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("supersuit")

from pettingzoo.test import (
    api_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

import imitenvs
from imitenvs.cli import main
from imitenvs.data.demos import DemoDataset
from imitenvs.envs.gridworld.apples import INTERACT
from imitenvs.envs.multiagent.commons import AgentState, ApplesCommonsEnv
from imitenvs.envs.multiagent.expert import collect_demos, run_episode

ID = "imitenvs/ApplesCommons-v0"


@pytest.mark.parametrize("num_agents", [2, 3, 4])
def test_pettingzoo_api_tests(num_agents: int) -> None:
    parallel_api_test(imitenvs.make_parallel(ID, num_agents=num_agents), num_cycles=120)
    api_test(imitenvs.make_aec(ID, num_agents=num_agents), num_cycles=120)


def test_pettingzoo_seed_tests() -> None:
    seed_test(lambda **kw: imitenvs.make_aec(ID, num_agents=3, **kw), num_cycles=120)
    parallel_seed_test(lambda **kw: imitenvs.make_parallel(ID, num_agents=3, **kw))


def test_pettingzoo_render_test(capsys: pytest.CaptureFixture[str]) -> None:
    render_test(lambda render_mode=None: imitenvs.make_aec(ID, render_mode=render_mode))
    assert "agent i facing" in capsys.readouterr().out  # the "human" mode writes the text grid


def test_make_parallel_errors_and_registry() -> None:
    assert imitenvs.list_envs("multiagent") == [ID]
    assert imitenvs.make_parallel("ApplesCommons-v0").possible_agents == ["agent_0", "agent_1"]
    with pytest.raises(ValueError, match="not a multiagent id"):
        imitenvs.make_parallel("imitenvs/ApplesDefault-v0")
    with pytest.raises(KeyError, match="ApplesCommons-v0"):
        imitenvs.make_parallel("imitenvs/ApplesCommon-v0")
    with pytest.raises(ValueError, match=r"num_agents must be in 2\.\.4, got 5"):
        imitenvs.make_parallel(ID, num_agents=5)
    with pytest.raises(ValueError, match="layout='nope'"):
        imitenvs.make_parallel(ID, layout="nope")


def test_cli_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "ApplesCommons-v0"]) == 0
    out = capsys.readouterr().out
    assert "agent_0, agent_1" in out and "per agent Discrete(6)" in out


def _put(env: ApplesCommonsEnv, **states: AgentState) -> None:
    env.reset(seed=0)
    env.states.update(states)


def test_apples_rules_per_agent() -> None:
    """Pick from a faced tree, drop into a faced bucket; blocked by another agent."""
    env = ApplesCommonsEnv(num_agents=2, side_effect_features=True)
    # agent_0 beside tree (0, 2) facing west; agent_1 beside bucket (3, 0) facing north, carrying
    _put(env, agent_0=AgentState((1, 2), 3, False), agent_1=AgentState((3, 1), 0, True))
    _, rewards, _, _, infos = env.step({"agent_0": INTERACT, "agent_1": INTERACT})
    assert env.states["agent_0"].carrying and not env.states["agent_1"].carrying
    assert rewards == {"agent_0": 0.0, "agent_1": 1.0}
    assert env.buckets == (1, 0) and env.trees[2] is False  # picked: no regrowth this step
    names = env.feature_names
    f0 = dict(zip(names, infos["agent_0"]["features"], strict=True))
    f1 = dict(zip(names, infos["agent_1"]["features"], strict=True))
    assert f0["picked"] == 1.0 and f0["carrying"] == 1.0 and f1["delivered"] == 1.0
    # a move into the other agent's cell turns but does not move, and counts as a bump
    _put(env, agent_0=AgentState((1, 2), 0, False), agent_1=AgentState((2, 2), 0, False))
    _, _, _, _, infos = env.step({"agent_0": 2, "agent_1": 4})
    assert env.states["agent_0"] == AgentState((1, 2), 2, False)
    assert infos["agent_0"]["features"][names.index("bumped")] == 1.0
    # dropping an apple away from a bucket loses it
    _put(env, agent_0=AgentState((1, 2), 1, True))
    _, rewards, _, _, infos = env.step({"agent_0": INTERACT, "agent_1": 4})
    assert rewards["agent_0"] == 0.0 and not env.states["agent_0"].carrying
    assert infos["agent_0"]["features"][names.index("dropped_on_floor")] == 1.0


def test_regrowth_matches_rlsp_probability() -> None:
    """Empty trees regrow with probability 0.1 per step (RLSP Apples), drawn from np_random."""
    env = ApplesCommonsEnv(num_agents=2)
    env.reset(seed=1)
    grown = 0
    for _ in range(2000):
        env.trees = (False,) * 6
        env.cycles = 0
        env.step({"agent_0": 4, "agent_1": 4})
        grown += sum(env.trees)
    assert abs(grown / 12000 - 0.1) < 0.015


def test_episode_truncates_after_max_cycles() -> None:
    env = ApplesCommonsEnv(num_agents=2, max_cycles=3)
    env.reset(seed=0)
    for step in range(3):
        _, _, term, trunc, _ = env.step(dict.fromkeys(env.agents, 4))
        assert not any(term.values()) and all(trunc.values()) == (step == 2)
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_expert_beats_random_and_demos_roundtrip(tmp_path: Path) -> None:
    env = ApplesCommonsEnv(num_agents=3)
    expert = [sum(run_episode(env, s)[2].values()) for s in range(3)]

    def random_policy(e: ApplesCommonsEnv) -> dict[str, int]:
        return {a: int(e.action_space(a).sample()) for a in e.agents}

    env.action_space("agent_0").seed(0)
    rand = [sum(run_episode(env, s, random_policy)[2].values()) for s in range(3)]
    assert min(expert) >= 10 and max(rand) <= 3
    ds = collect_demos(env, episodes=2, seed=5)
    assert ds.num_episodes == 6 and ds.states.shape == (6 * 51, 280)
    assert ds.actions.shape == (6 * 51, 1) and set(np.unique(ds.extras["agent"])) == {0, 1, 2}
    back = DemoDataset.load(ds.save(tmp_path / "commons.npz"))
    np.testing.assert_array_equal(back.states, ds.states)
    assert back.metadata["env_id"] == ID


def test_sb3_shared_policy_harvest_rises(single_thread: None) -> None:
    """PPO, one policy for both agents through SuperSuit; harvest (picks + deliveries) rises."""
    from stable_baselines3 import PPO

    from imitenvs.adapters.pettingzoo import shared_policy_vec_env

    def make() -> ApplesCommonsEnv:
        return imitenvs.make_parallel(ID, num_agents=2, pick_reward=1.0)

    vec = shared_policy_vec_env(make, copies=2)
    assert vec.num_envs == 4
    model = PPO(
        "MlpPolicy", vec, n_steps=200, batch_size=200, n_epochs=4, learning_rate=1e-3, seed=0
    )
    env = make()

    def harvest() -> float:
        def policy(e: ApplesCommonsEnv) -> dict[str, int]:
            return {a: int(model.predict(e.grid(a).ravel())[0]) for a in e.agents}

        return float(
            np.mean([sum(run_episode(env, 100 + s, policy)[2].values()) for s in range(8)])
        )

    before = harvest()
    model.learn(12_000)
    after = harvest()
    assert after > before + 2.0, (before, after)


def test_cli_collect_commons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "commons.npz"
    args = ["data", "collect", "commons", "--agents", "3", "--episodes", "1", "--out", str(out)]
    assert main(args) == 0
    ds = DemoDataset.load(out)
    assert ds.num_episodes == 3 and ds.metadata["num_agents"] == 3
    capsys.readouterr()
    assert main([*args[:4], "5", *args[5:]]) == 2
    assert capsys.readouterr().err.strip() == "error: num_agents must be in 2..4, got 5"
