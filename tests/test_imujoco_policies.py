"""iMuJoCo policies: SAC expert training, zip loading (ours and old-gym ones), evaluation."""

from __future__ import annotations

import argparse
import base64
import json
import pickle
import sys
import types
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from imitenvs.envs.imujoco.cli import add_data_commands
from imitenvs.envs.imujoco.dataset import Sampler, load_npz
from imitenvs.envs.imujoco.policies import as_policy, evaluate, load_policy

VARIANT = "hopper-massdec_25_leggeom"
ENV_ID = f"imitenvs/iMuJoCo-{VARIANT}-v0"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, single_thread) -> dict[str, Path]:
    """Train a tiny expert and collect with it through the CLI (module-wide, ~5 s)."""
    out = tmp_path_factory.mktemp("expert")
    mp = pytest.MonkeyPatch()
    mp.setenv("IMITENVS_CACHE", str(out / "cache"))
    argv = ["collect", "imujoco", VARIANT, "--policy", str(out / "sac.zip"),
            "--train-expert", "300", "--checkpoint-every", "150", "--trajectories", "2",
            "--steps", "100", "--out", str(out / "demos.npz"), "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    yield {"policy": out / "sac.zip", "demos": out / "demos.npz", "dir": out}
    mp.undo()


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_train_expert_writes_policy_checkpoints_and_demos(trained) -> None:
    assert trained["policy"].is_file()
    checkpoints = sorted((trained["dir"] / "sac_checkpoints").glob("*.zip"))
    assert [c.name for c in checkpoints] == ["sac_150_steps.zip", "sac_300_steps.zip"]
    data = load_npz(trained["demos"], "Hopper-v3")
    assert data.observations.shape == (200, 11) and data.has_episode_ends
    x, y = Sampler("Hopper-v3", [trained["demos"]], tot_steps=100).sample(2, idx=0)
    assert x.shape == (2, 100, 11) and y.shape == (2, 100, 3)
    env = gymnasium.make(ENV_ID)
    model = load_policy(trained["policy"], env=env)
    first, _ = env.reset(seed=0)
    np.testing.assert_allclose(data.observations[0], first)
    np.testing.assert_allclose(data.actions[0], as_policy(model)(first), rtol=1e-6)


def _old_gym_pickle() -> bytes:
    """A pickle of ``gym.spaces.box.Box``, as SB3 1.x zips hold; ``gym`` is not installed."""
    names = ("gym", "gym.spaces", "gym.spaces.box")
    modules = {name: types.ModuleType(name) for name in names}
    box = type("Box", (), {"__module__": "gym.spaces.box"})
    modules["gym.spaces.box"].Box = box
    sys.modules.update(modules)
    try:
        return pickle.dumps(box())
    finally:
        for name in names:
            del sys.modules[name]


def test_zips_with_old_gym_spaces_load_with_the_env_spaces(trained, tmp_path) -> None:
    from stable_baselines3 import SAC

    old = tmp_path / "sac-old.zip"
    blob = base64.b64encode(_old_gym_pickle()).decode()
    with zipfile.ZipFile(trained["policy"]) as src, zipfile.ZipFile(old, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "data":
                data = json.loads(content)
                for key in ("observation_space", "action_space"):
                    data[key][":serialized:"] = blob
                content = json.dumps(data).encode()
            dst.writestr(name, content)
    with pytest.raises(ImportError):
        SAC.load(old, device="cpu")
    env = gymnasium.make(ENV_ID)
    ours, original = load_policy(old, env=env), load_policy(trained["policy"], env=env)
    obs = env.reset(seed=1)[0]
    np.testing.assert_array_equal(as_policy(ours)(obs), as_policy(original)(obs))
    assert not ours.policy.training


def test_load_policy_errors(trained, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_policy(tmp_path / "none.zip")
    with pytest.raises(ValueError, match="algo='dqn' is not allowed"):
        load_policy(trained["policy"], algo="dqn")
    cheetah = gymnasium.make("imitenvs/iMuJoCo-halfcheetah-jointdec_25_bfoot-v0")
    with pytest.raises(ValueError, match=r"cannot load|expects observations"):
        load_policy(trained["policy"], env=cheetah)


class _RecordActions(gymnasium.Wrapper):
    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.actions: list[np.ndarray] = []

    def step(self, action):
        self.actions.append(np.array(action))
        return self.env.step(action)


def test_evaluate_steps_the_policy_action() -> None:
    env = _RecordActions(gymnasium.make(ENV_ID, max_episode_steps=30))
    chosen: list[np.ndarray] = []

    def policy(obs: np.ndarray) -> np.ndarray:
        chosen.append(np.tanh(obs[:3]))
        return chosen[-1]

    returns = evaluate(policy, env, episodes=2, seed=0)
    assert returns.shape == (2,) and len(chosen) == len(env.actions)
    np.testing.assert_array_equal(np.array(chosen), np.array(env.actions))
    windows = evaluate(lambda obs: np.zeros(3), gymnasium.make(ENV_ID), 1, window=50)
    assert np.isfinite(windows).all()


def test_evaluate_command_prints_mean_and_std_and_writes_video(trained, tmp_path, capsys):
    video = tmp_path / "run.mp4"
    # software GL renders ~0.15 s a frame: keep the video short
    argv = ["evaluate", str(trained["policy"]), VARIANT, "--episodes", "2", "--video", str(video),
            "--max-episode-steps", "8"]  # fmt: skip
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert f"{ENV_ID}: return " in out and "±" in out and "over 2 episodes" in out
    assert video.stat().st_size > 1000
    assert _run(["evaluate", str(trained["policy"]), ENV_ID, "--episodes", "1",
                 "--window", "300", "--max-episode-steps", "100"]) == 0  # fmt: skip
    assert "300-step windows" in capsys.readouterr().out


def test_a_trainer_checkpoint_evaluates_and_collects(tmp_path, capsys) -> None:
    """``--algo imitenvs``: our trainer's checkpoint on an iMuJoCo id (its batched twin) is
    read safely, evaluated and rolled out; another env's checkpoint is refused."""
    from imitenvs.agents.train import main as train_main
    from imitenvs.envs.imujoco.policies import TrainerPolicy

    variant = "hopper-massdec_25_footgeom"
    env_id = f"imitenvs/iMuJoCo-{variant}-v0"
    out = tmp_path / "run"
    train_main(["--algo", "ppo", "--env", env_id, "--num-envs", "2", "--iterations", "1",
                "--num-steps", "8", "--out", str(out), "--logger", "none", "--no-video",
                "--no-progress", "--eval-episodes", "1"])  # fmt: skip
    ckpt = out / "checkpoint_last.pt"
    env = gymnasium.make(env_id)
    policy = load_policy(ckpt, env=env, algo="imitenvs", seed=3)
    assert isinstance(policy, TrainerPolicy)
    obs, _ = env.reset(seed=0)
    mean = as_policy(policy)(obs)
    assert mean.shape == (3,) and np.array_equal(mean, as_policy(policy)(obs))
    sampled = [as_policy(policy, deterministic=False)(obs) for _ in range(2)]
    assert not np.array_equal(sampled[0], sampled[1])
    with pytest.raises(ValueError, match="was trained on 'imitenvs/iMuJoCo-hopper"):
        load_policy(ckpt, env=gymnasium.make("imitenvs/iMuJoCo-hopper-massinc_50_torsogeom-v0"),
                    algo="imitenvs")  # fmt: skip
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="cmd"))
    npz = tmp_path / "demo.npz"
    args = parser.parse_args(["collect", "imujoco", variant, "--policy", str(ckpt), "--algo",
                              "imitenvs", "--trajectories", "1", "--steps", "50", "--out",
                              str(npz), "--quiet"])  # fmt: skip
    assert args.func(args) == 0
    data = load_npz(npz, env_id)
    assert data.observations.shape == (50, 11) and data.rewards is not None
