"""The agents end to end: env adapter, exact checkpoint resume, train_amp.py, CEM on the maze."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from imitenvs.agents.adversarial.amp import AMPConfig
from imitenvs.agents.cem import CEMConfig, CEMPlanner, run_episode
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.agents.vec import VecAdapter, make_env

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def test_adapter_gives_final_observation_and_final_amp_pair() -> None:
    env = make_env("imitenvs/Maze-v0", 2, paired=True, env_kwargs={"max_episode_steps": 3})
    obs = env.reset(seed=0)
    previous = obs
    for _ in range(3):
        step = env.step(torch.full((2, 2), 0.5))
        assert step.amp_obs.shape == (2, 4)
        assert torch.equal(step.amp_obs[:, :2], previous.float())
        assert torch.equal(step.amp_obs[:, 2:], step.final_obs)
        previous = step.obs
    assert step.truncated.all() and not step.terminated.any()
    assert not torch.equal(step.final_obs, step.obs)  # the reset rows differ from the final ones
    assert set(step.reward_terms) == {"goal", "stuck"}
    env.close()


def test_adapter_rejects_next_step_autoreset() -> None:
    vec = SyncVectorEnv(
        [lambda: gymnasium.make("imitenvs/Maze-v0")], autoreset_mode=AutoresetMode.NEXT_STEP
    )
    with pytest.raises(ValueError, match="SAME_STEP"):
        VecAdapter(vec)
    vec.close()


def _tiny_runner(iterations: int, log_dir: Path | None) -> Runner:
    run = RunConfig(
        env_id="imitenvs/Maze-v0",
        num_envs=2,
        iterations=iterations,
        seed=3,
        log_dir=log_dir,
        save_every=2,
        progress=False,
    )
    ppo = PPOConfig(num_steps=8, num_minibatches=2, epochs=2, hidden=(16,), learn_std=True)
    amp = AMPConfig(hidden=(16,), batch_size=8, epochs=1, replay_size=20, replay_keep_prob=0.5)
    return Runner(run, ppo, amp)


def _parameters(runner: Runner) -> list[torch.Tensor]:
    tensors = list(runner.ppo.model.state_dict().values())
    return tensors + list(runner.amp.disc.state_dict().values()) + [runner.amp.replay.data]


def test_checkpoint_resume_is_exact(tmp_path: Path) -> None:
    straight = _tiny_runner(3, tmp_path / "straight")
    straight.train()
    first = _tiny_runner(2, tmp_path / "first")
    first.run.keep_checkpoints = 1
    first.train()
    first.close()
    checkpoint = tmp_path / "first" / "checkpoint_000002.pt"
    assert checkpoint.is_file()
    resumed = _tiny_runner(3, tmp_path / "resumed")
    resumed.load(checkpoint)
    assert resumed.iteration == 2
    resumed.train()
    for a, b in zip(_parameters(straight), _parameters(resumed), strict=True):
        assert torch.equal(a, b)
    assert resumed.global_step == straight.global_step == 3 * 8 * 2
    numbered = sorted(p.name for p in (tmp_path / "straight").glob("checkpoint_0*.pt"))
    assert numbered == ["checkpoint_000002.pt"]  # the segment boundaries at 2 (3 is the end)
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "first").iterdir())
    for runner in (straight, resumed):
        runner.close()


@pytest.mark.parametrize(("key", "value"), [("seed", 4), ("num_envs", 3), ("env_kwargs", {"a": 1})])
def test_resume_with_other_run_settings_is_refused(tmp_path: Path, key: str, value) -> None:
    first = _tiny_runner(2, tmp_path / "first")
    first.train()
    first.close()
    other = _tiny_runner(3, None)
    setattr(other.run, key, value)
    with pytest.raises(ValueError, match=rf"trained with {key}=.*this run has {key}="):
        other.load(tmp_path / "first" / "checkpoint_000002.pt")
    other.close()


def test_only_the_newest_checkpoints_are_kept(tmp_path: Path) -> None:
    runner = _tiny_runner(3, tmp_path)
    runner.run.save_every = 1
    runner.train()
    runner.close()
    numbered = sorted(p.name for p in tmp_path.glob("checkpoint_0*.pt"))
    assert numbered == ["checkpoint_000002.pt", "checkpoint_000003.pt"]
    assert (tmp_path / "checkpoint_last.pt").is_file()


def test_train_amp_example_on_the_maze(
    tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    train_amp = load_example("train_amp")
    summary = train_amp.main(
        [
            "--env",
            "imitenvs/Maze-v0",
            "--iterations",
            "2",
            "--num-envs",
            "2",
            "--num-steps",
            "8",
            "--out",
            str(tmp_path),
            "--eval-episodes",
            "1",
            "--no-progress",
        ]
    )
    assert summary["env_steps"] == 2 * 2 * 8
    assert (tmp_path / "checkpoint_last.pt").is_file()
    assert (tmp_path / "maze_policy.png").stat().st_size > 0
    assert 0.0 <= summary["eval"]["success_rate"] <= 1.0
    assert np.isfinite(summary["last"]["reward/style"])


def test_train_amp_example_on_the_humanoid(
    tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    train_amp = load_example("train_amp")
    summary = train_amp.main(
        [
            "--iterations",
            "2",
            "--num-envs",
            "4",
            "--num-steps",
            "8",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert summary["env_steps"] == 2 * 4 * 8
    assert (tmp_path / "checkpoint_last.pt").is_file()
    assert (tmp_path / "policy.gif").stat().st_size > 0
    # the pose error is due at the first iteration, then every --pose-error-every minutes
    assert "eval/dtw_pose_rmse" not in summary["last"]
    logged = EventAccumulator(str(tmp_path))
    logged.Reload()
    (point,) = logged.Scalars("eval/dtw_pose_rmse")
    assert point.step == 4 * 8 and 0.0 < point.value < 2.0
    resumed = train_amp.main(
        [
            "--iterations",
            "3",
            "--num-envs",
            "4",
            "--num-steps",
            "8",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-video",
            "--resume",
            str(tmp_path / "checkpoint_last.pt"),
        ]
    )
    assert resumed["iterations"] == 3 and resumed["env_steps"] == 3 * 4 * 8


def test_cem_reaches_the_maze_goal() -> None:
    env = gymnasium.make("imitenvs/Maze-v0")
    cfg = CEMConfig(horizon=4, num_samples=8, iterations=1)

    def objective(reward: float, info: dict) -> float:
        return reward - info["distance_to_goal"]

    result = run_episode(env, CEMPlanner(env, cfg, objective, seed=0), seed=0)
    assert result["success"] and result["return"] >= 1000.0
    assert result["steps"] < 400
    env.close()


def test_cem_needs_state_access() -> None:
    env = gymnasium.make("CartPole-v1")
    with pytest.raises(ValueError, match="get_state"):
        CEMPlanner(env, CEMConfig())


def test_amp_runs_on_pusht_with_its_shipped_demos() -> None:
    run = RunConfig(env_id="imitenvs/PushT-v0", num_envs=2, iterations=1, progress=False)
    ppo = PPOConfig(num_steps=4, num_minibatches=2, epochs=1, hidden=(16,))
    amp = AMPConfig(hidden=(16,), batch_size=4, epochs=1, replay_size=20)
    runner = Runner(run, ppo, amp)
    demos = runner.amp.sample_demos(5)
    assert demos.shape == (5, runner.storage.amp_obs.shape[-1])
    stats = runner.train()
    runner.close()
    assert stats["reward/style"] > 0.0 and 0.0 <= stats["disc/accuracy_demo"] <= 1.0
