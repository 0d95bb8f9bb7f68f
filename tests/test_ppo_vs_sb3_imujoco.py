"""``benchmarks/ppo_vs_sb3_imujoco.py --quick``: both arms train, evaluate and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imitenvs.agents.vec import make_env
from imitenvs.core.batched import BatchedEnv
from imitenvs.core.scripts import load_script

pytest.importorskip("stable_baselines3")

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0"


def test_make_env_uses_the_batched_twin() -> None:
    """The runner's env for an iMuJoCo id is the batched env, not N single envs."""
    adapter = make_env(ENV_ID, 3)
    try:
        assert isinstance(adapter.env.unwrapped, BatchedEnv) and adapter.num_envs == 3
    finally:
        adapter.close()


def test_quick_mode_json(
    tmp_path: Path, single_thread: None, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script(ROOT / "benchmarks" / "ppo_vs_sb3_imujoco.py")
    out = tmp_path / "cmp"
    result = script.main(["--quick", "--out", str(out)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert json.loads(out.with_suffix(".json").read_text()) == result
    assert out.with_suffix(".png").stat().st_size > 0
    assert result["benchmark"] == "ppo_vs_sb3_imujoco" and result["env_id"] == ENV_ID
    assert result["torch_threads"] == 1 and result["num_envs"] == 4
    budget = result["env_steps_budget"]
    assert budget == 2 * 4 * result["settings"]["num_steps"]
    assert [a["arm"] for a in result["arms"]] == ["ours", "sb3", "sb3_batched"]
    kinds = [a["env"] for a in result["arms"]]
    assert kinds == ["IMuJoCoBatchedEnv", "DummyVecEnv+VecNormalize", "Sb3VecEnv+VecNormalize"]
    assert len(result["load_average_before"]) == 3 == len(result["load_average_after"])
    for arm in result["arms"]:
        assert arm["env_steps"] == budget
        assert arm["train_seconds"] > 0 and arm["steps_per_s"] > 0
        steps = [p["env_steps"] for p in arm["curve"]]
        assert steps == [0, budget // 2, budget]
        seconds = [p["train_seconds"] for p in arm["curve"]]
        assert seconds == sorted(seconds)
        assert all(p["load_1min"] >= 0 for p in arm["curve"])
        assert arm["final_return_mean"] == arm["curve"][-1]["return_mean"]
    assert result["steps_per_s_vs_sb3"]["sb3"] == 1.0
    assert set(result["steps_per_s_vs_sb3"]) == {"ours", "sb3", "sb3_batched"}
