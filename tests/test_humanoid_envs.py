"""The batched humanoid ids through every interface: make, make(num_envs), make_vec, SB3;
seeding, autoreset, per-world time limits, divergence and bad input."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.adapters.sb3 import Sb3VecEnv
from imitenvs.core.batched import SingleWorldEnv
from imitenvs.envs.humanoid import HumanoidAMPEnv, HumanoidImitateEnv, HumanoidNEAREnv
from imitenvs.motion import load_clip, save_clip

IDS = {
    "imitenvs/HumanoidAMP-v0": (HumanoidAMPEnv, 105),
    "imitenvs/HumanoidNEAR-v0": (HumanoidNEAREnv, 105),
    "imitenvs/HumanoidImitate-v0": (HumanoidImitateEnv, 106),
}


def _actions(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-1, 1, (n, 28)).astype(np.float32)


@pytest.fixture(params=["generated", "amp"])
def motion_file(request: pytest.FixtureRequest, shared_data: Path) -> str:
    """Our generated default clips, or a real AMP clip from the original project."""
    if request.param == "generated":
        return "default.yaml"
    return str(shared_data / "motions" / "amp" / "amp_humanoid_walk.npy")


@pytest.mark.parametrize("env_id", IDS)
def test_every_interface(env_id: str, motion_file: str) -> None:
    cls, obs_dim = IDS[env_id]
    single = gymnasium.make(env_id, motion_file=motion_file)
    assert isinstance(single, SingleWorldEnv) and isinstance(single.batch, cls)
    obs, _ = single.reset(seed=0)
    assert obs.shape == (obs_dim,) and obs.dtype == np.float32
    obs, reward, terminated, truncated, info = single.step(single.action_space.sample())
    assert isinstance(reward, float) and set(info["reward_terms"])
    single.close()

    rng = np.random.default_rng(0)
    for batch in (
        gymnasium.make(env_id, num_envs=3, motion_file=motion_file),
        gymnasium.make_vec(env_id, num_envs=3, motion_file=motion_file),
    ):
        assert type(batch) is cls and batch.num_envs == 3
        assert batch.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
        obs, _ = batch.reset(seed=1)
        assert obs.shape == (3, obs_dim)
        obs, reward, terminated, truncated, info = batch.step(_actions(rng, 3))
        assert reward.shape == terminated.shape == truncated.shape == (3,)
        assert batch.observation_space.contains(obs)
        if cls is not HumanoidImitateEnv:
            assert info["amp_obs"].shape == (3, 210)
        batch.close()

    venv = Sb3VecEnv(gymnasium.make(env_id, num_envs=2, motion_file=motion_file))
    venv.seed(0)
    assert venv.reset().shape == (2, obs_dim)
    venv.step_async(_actions(rng, 2))
    obs, rewards, _, infos = venv.step_wait()
    assert obs.shape == (2, obs_dim) and rewards.dtype == np.float32
    assert set(infos[0]["reward_terms"]) == set(infos[1]["reward_terms"])


def test_sb3_ppo_runs_on_the_adapter() -> None:
    from stable_baselines3 import PPO

    venv = Sb3VecEnv(gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=4))
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (4, 28)


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_runs_reproduce(env_id: str) -> None:
    def run(seed: int) -> np.ndarray:
        env = gymnasium.make(env_id, num_envs=4)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = [obs]
        for _ in range(12):
            obs, reward, *_ = env.step(_actions(rng, 4))
            out += [obs, reward[:, None]]
        return np.concatenate(out, axis=1)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_autoreset_and_per_world_time_limits() -> None:
    env = HumanoidAMPEnv(3, max_episode_steps=4, enable_early_termination=False)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    env.step(_actions(rng, 3))
    env.reset(options={"reset_mask": np.array([True, False, False])})
    assert env.episode_steps.tolist() == [0, 1, 1]
    for _ in range(2):
        _, _, terminated, truncated, info = env.step(_actions(rng, 3))
    assert not truncated.any()
    obs, _, terminated, truncated, info = env.step(_actions(rng, 3))
    assert truncated.tolist() == [False, True, True] and not terminated.any()
    assert info["_final_obs"].tolist() == [False, True, True]
    # final_obs is the finished transition's observation, obs the new episode's first one
    np.testing.assert_array_equal(info["final_obs"][1:], info["amp_obs"][1:, :105])
    assert not np.allclose(info["final_obs"][1:], obs[1:])
    assert env.episode_steps.tolist() == [3, 0, 0]


def test_diverged_world_is_reset_and_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the warning to ./MUJOCO_LOG.TXT
    env = HumanoidImitateEnv(3)
    env.reset(seed=0)
    env.physics.qvel[1, 0] = float("nan")
    obs, reward, terminated, truncated, info = env.step(np.zeros((3, 28), np.float32))
    assert info["diverged"].tolist() == [False, True, False]
    assert truncated[1] and not terminated[1] and reward[1] == 0.0
    assert np.isfinite(obs).all() and np.isfinite(env.physics.qpos.numpy()).all()
    assert env.episode_steps.tolist() == [1, 0, 1]


def test_bad_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        gymnasium.make("imitenvs/HumanoidAMP-v0", num_envs=0)
    with pytest.raises(FileNotFoundError, match=r"looked for .*nowhere\.yaml.*Shipped motions"):
        HumanoidAMPEnv(1, motion_file="nowhere.yaml")
    with pytest.raises(ValueError, match="state_init='Sometimes' is not allowed"):
        HumanoidAMPEnv(1, state_init="Sometimes")
    with pytest.raises(ValueError, match="action_offset='zero' is not allowed"):
        HumanoidAMPEnv(1, action_offset="zero")
    with pytest.raises(ValueError, match="hybrid_init_prob must be in"):
        HumanoidNEAREnv(1, hybrid_init_prob=1.5)
    with pytest.raises(ValueError, match="task_reward term='speed'"):
        HumanoidAMPEnv(1, task_reward=("time", "speed"))
    with pytest.raises(TypeError, match=r"unknown option.*'pose_weight'.*options: motion_file"):
        HumanoidAMPEnv(1, pose_weight=1.0)
    with pytest.raises(ValueError, match="com_scale must be a finite number"):
        HumanoidImitateEnv(1, com_scale=float("nan"))
    env = HumanoidAMPEnv(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf for worlds \\[0\\]"):
        bad = np.zeros((2, 28), np.float32)
        bad[0, 5] = np.nan
        env.step(bad)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 28), np.float32))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        env.sample_amp_demos(0)


def test_clip_of_another_skeleton_is_refused(tmp_path: Path) -> None:
    from imitenvs.envs.humanoid.motions import shipped_motions_dir

    clip = load_clip(shipped_motions_dir() / "walk.npz")
    offsets = np.array(clip.skeleton.offsets)
    offsets[4] *= 1.5  # a longer upper arm
    other = clip.replace(
        skeleton=type(clip.skeleton)(clip.skeleton.names, clip.skeleton.parents, offsets)
    )
    path = save_clip(other, tmp_path / "long_arms.npz")
    with pytest.raises(ValueError, match=r"long_arms\.npz.*differ from the humanoid"):
        HumanoidImitateEnv(1, motion_file=str(path))


def test_torch_threads_are_restored() -> None:
    before = torch.get_num_threads()
    env = HumanoidAMPEnv(2, torch_threads=1)
    env.reset(seed=0)
    env.step(np.zeros((2, 28), np.float32))
    assert torch.get_num_threads() == before
