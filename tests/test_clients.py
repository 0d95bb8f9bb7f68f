"""Third-party clients run unchanged on our envs (issue 23, "Clients, unchanged"): gymnasium's
vector wrappers with ``autoreset_mode="next_step"``, SB3's episode logging through
``Sb3VecEnv``, rsl_rl's ``OnPolicyRunner`` and gymnasium's ``RecordVideo``."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.registry import ENTRIES

BATCHED_IDS = [entry.id for entry in ENTRIES if entry.batched]
# single-env ids with a batched twin (gymnasium.make(id, num_envs=N)): one iMuJoCo, one Deep RLSP
BATCHED_IDS += ["imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0", "imitenvs/Hopper-FW-Penalty-v0"]


def test_unknown_autoreset_mode_is_one_value_error() -> None:
    with pytest.raises(ValueError, match="unknown autoreset_mode='next'") as err:
        gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=2, autoreset_mode="next")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("env_id", BATCHED_IDS)
def test_gymnasium_vector_wrappers_run_in_next_step_mode(env_id: str) -> None:
    env = gymnasium.make(env_id, num_envs=3, autoreset_mode="next_step", max_episode_steps=3)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    # the same through make_vec's vector entry point
    vec = gymnasium.make_vec(env_id, num_envs=2, autoreset_mode=AutoresetMode.NEXT_STEP)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    vec.close()

    wrapped = vw.NormalizeObservation(env)
    wrapped = vw.TransformObservation(wrapped, lambda o: np.clip(o, -5.0, 5.0))
    wrapped = vw.DtypeObservation(wrapped, np.float64)
    stats = wrapped = vw.RecordEpisodeStatistics(wrapped)
    wrapped = vw.NormalizeReward(wrapped)
    obs, _ = wrapped.reset(seed=0)
    assert obs.shape == (3, *env.single_observation_space.shape) and obs.dtype == np.float64
    episodes = []
    for _ in range(8):
        obs, reward, _, _, info = wrapped.step(wrapped.action_space.sample())
        assert np.isfinite(obs).all() and np.abs(obs).max() <= 5.0 and reward.shape == (3,)
        if "episode" in info:
            episodes.extend(info["episode"]["l"][info["_episode"]].tolist())
    # with NEXT_STEP, RecordEpisodeStatistics counts the episodes' own steps (<= 3 each)
    assert episodes and max(episodes) <= 3
    assert stats.episode_count == len(episodes)
    wrapped.close()


def test_sb3_logs_episode_reward_mean(tmp_path: Path, single_thread: None) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    from imitenvs.adapters.sb3 import Sb3VecEnv

    venv = Sb3VecEnv(gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=4, max_episode_steps=8))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(total_timesteps=2 * 16 * 4)  # two iterations
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert len(rows) == 2
    assert all(row["rollout/ep_rew_mean"] != "" for row in rows)
    assert float(rows[-1]["rollout/ep_len_mean"]) <= 8
    venv.close()


def test_sb3_adapter_refuses_other_autoreset_modes() -> None:
    from imitenvs.adapters.sb3 import Sb3VecEnv

    env = gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=2, autoreset_mode="next_step")
    with pytest.raises(ValueError, match="autoreset_mode='same_step'"):
        Sb3VecEnv(env)


def test_our_agents_adapter_keeps_same_step() -> None:
    from imitenvs.agents.vec import VecAdapter, make_env

    adapter = make_env("imitenvs/HumanoidAMP-v0", 2)
    assert adapter.env.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    with pytest.raises(ValueError, match="same_step"):
        VecAdapter(
            gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=2, autoreset_mode="next_step")
        )


def test_record_video_records_one_short_episode(tmp_path: Path) -> None:
    if importlib.util.find_spec("moviepy") is None:
        pytest.fail('moviepy is not installed: pip install -e ".[viewer]" (part of dev)')
    import imageio_ffmpeg
    from gymnasium.wrappers import RecordVideo

    env = gymnasium.make("imitenvs/Maze-v0", render_mode="rgb_array", max_episode_steps=10)
    folder = tmp_path / "videos"
    env = RecordVideo(env, str(folder), episode_trigger=lambda e: e == 0, name_prefix="maze")
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    env.close()
    video = folder / "maze-episode-0.mp4"
    assert video.is_file()
    frames = list(imageio_ffmpeg.read_frames(str(video)))
    meta, frames = frames[0], frames[1:]
    assert len(frames) == 11  # the reset frame and ten steps
    assert tuple(meta["size"]) == (256, 256)


def test_rsl_rl_on_policy_runner_trains_two_iterations(tmp_path: Path, single_thread: None) -> None:
    if importlib.util.find_spec("rsl_rl") is None:
        pytest.fail('rsl-rl-lib is not installed: pip install -e ".[rsl]" (part of dev)')
    import torch
    from rsl_rl.runners import OnPolicyRunner

    from imitenvs.adapters.rsl_rl import RslRlVecEnv, default_ppo_config

    env = RslRlVecEnv(gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=8, max_episode_steps=6))
    cfg = default_ppo_config(num_steps_per_env=8, save_interval=1)
    cfg["actor"]["hidden_dims"] = cfg["critic"]["hidden_dims"] = [32]
    runner = OnPolicyRunner(env, cfg, log_dir=str(tmp_path), device="cpu")
    before = [p.detach().clone() for p in runner.alg.actor.parameters()]
    runner.learn(num_learning_iterations=2)
    assert runner.current_learning_iteration == 1
    assert any(
        not torch.equal(a, b) for a, b in zip(before, runner.alg.actor.parameters(), strict=True)
    )
    assert len(runner.logger.rewbuffer) > 0  # episodes ended (time-outs at 6 steps) and counted
    assert max(runner.logger.lenbuffer) <= 6
    assert (tmp_path / "model_1.pt").is_file()
    # the env stays usable after the runner's inference-mode rollouts
    obs = env.reset(seed=1)
    assert obs["policy"].shape == (8, env.env.single_observation_space.shape[0])
    with pytest.raises(ValueError, match="autoreset_mode='same_step'"):
        RslRlVecEnv(
            gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=2, autoreset_mode="next_step")
        )
