"""Deep RLSP's experts and baselines: SAC settings, observed states, skill files, demos, GAIL,
evaluation and ``examples/train_sac_expert.py``."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from imitenvs.adapters.imitation import train_gail
from imitenvs.agents.reward_inference.experts import (
    evaluate_return,
    load_demonstrations,
    load_skill_rollouts,
    make_demonstrations,
    make_sac,
    sac_hyperparameters,
    sample_observed_states,
    save_demonstrations,
    skill_demonstration,
)
from imitenvs.motion.formats.safe_unpickle import UnsafePickleError

REPO = Path(__file__).resolve().parents[1]
PENDULUM = "InvertedPendulum-v5"


class ConstantPolicy:
    """``predict`` returns ``value`` (plus uniform noise when not deterministic); records calls."""

    def __init__(self, value: float, act_dim: int = 1, seed: int = 0) -> None:
        self.value, self.act_dim = value, act_dim
        self.rng = np.random.default_rng(seed)
        self.deterministic: list[bool] = []

    def predict(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
        self.deterministic.append(deterministic)
        action = np.full(self.act_dim, self.value, np.float32)
        if not deterministic:
            action += self.rng.uniform(-0.1, 0.1, self.act_dim).astype(np.float32)
        return action, None


class RewardIsAction(gymnasium.Env):
    """obs ``[t]``; reward = the action; terminates after ``end`` steps (``None``: never)."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (1,), np.float64)
    action_space = gymnasium.spaces.Box(-5.0, 5.0, (1,), np.float32)

    def __init__(self, end: int | None) -> None:
        self.end, self.t = end, 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0]), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return np.array([float(self.t)]), float(action[0]), self.t == self.end, False, {}


# ------------------------------------------------------------------------ SAC settings
@pytest.mark.parametrize(
    ("env_id", "expected"),
    [
        ("imitenvs/HalfCheetah-FW-v0", dict(gamma=0.98, tau=0.01, ent_coef="auto",
                                            learning_starts=10_000, batch_size=256,
                                            buffer_size=1_000_000, net=[256, 256])),
        ("imitenvs/HalfCheetah-BW-v0", dict(gamma=0.98, tau=0.01, learning_starts=10_000)),
        ("Ant-v5", dict(gamma=0.98, learning_starts=10_000)),
        ("imitenvs/Hopper-FW-v0", dict(gamma=0.99, tau=0.005, ent_coef=0.01,
                                       learning_starts=1000, batch_size=256,
                                       buffer_size=1_000_000, net=[256, 256])),
        ("imitenvs/Hopper-FW-Penalty-v0", dict(ent_coef=0.01, learning_starts=1000)),
        (PENDULUM, dict(gamma=0.99, tau=0.005, ent_coef="auto", learning_starts=1000,
                        batch_size=64, buffer_size=50_000, net=[64, 64])),
    ],
)  # fmt: skip
def test_sac_hyperparameters_per_env(env_id: str, expected: dict[str, Any]) -> None:
    settings = sac_hyperparameters(env_id)
    assert settings["learning_rate"] == 3e-4
    assert settings["train_freq"] == 1 and settings["gradient_steps"] == 1
    for key, value in expected.items():
        if key == "net":
            assert settings["policy_kwargs"] == {"net_arch": value}
        else:
            assert settings[key] == value, key


def test_sac_hyperparameters_buffer_override_and_fresh_copies() -> None:
    first = sac_hyperparameters("imitenvs/Hopper-FW-v0", buffer_size=5000)
    assert first["buffer_size"] == 5000
    first["policy_kwargs"]["net_arch"].append(7)
    assert sac_hyperparameters("imitenvs/Hopper-FW-v0")["policy_kwargs"]["net_arch"] == [256, 256]
    with pytest.raises(ValueError, match="buffer_size"):
        sac_hyperparameters(PENDULUM, buffer_size=0)


def test_make_sac_uses_the_settings() -> None:
    env = gymnasium.make(PENDULUM)
    model = make_sac(env, seed=3, buffer_size=100, learning_starts=10)
    assert (model.gamma, model.tau, model.batch_size) == (0.99, 0.005, 64)
    assert model.learning_starts == 10 and model.buffer_size == 100 and model.seed == 3
    assert [m.out_features for m in model.actor.latent_pi if hasattr(m, "out_features")] == [64, 64]
    hopper_like = make_sac(env, env_id="imitenvs/Hopper-FW-v0", buffer_size=100)
    assert hopper_like.ent_coef == 0.01 and hopper_like.batch_size == 256
    with pytest.raises(ValueError, match="env_id"):
        make_sac(RewardIsAction(3))


# ---------------------------------------------------------------------- observed states
def test_sample_observed_states_shapes_and_determinism() -> None:
    env = gymnasium.make(PENDULUM)
    policy = make_sac(env, seed=0, buffer_size=10)  # untrained: falls within a few dozen steps
    states, returns = sample_observed_states(env, policy, 4, np.random.default_rng(1))
    assert states.shape == (4, 4) and states.dtype == np.float64
    assert returns.shape == (4,) and np.all(returns >= 1)  # reward 1 per step
    again, returns_again = sample_observed_states(env, policy, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(states, again)
    np.testing.assert_array_equal(returns, returns_again)
    other, _ = sample_observed_states(env, policy, 4, np.random.default_rng(2))
    assert not np.array_equal(states, other)


def test_sample_observed_states_stochastic_actions_and_rollout_states() -> None:
    env = gymnasium.wrappers.TimeLimit(RewardIsAction(end=None), 6)
    policy = ConstantPolicy(1.0)
    states, returns = sample_observed_states(env, policy, 20, np.random.default_rng(0))
    assert set(policy.deterministic) == {False}
    assert set(states[:, 0]) <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}  # never the reset state 0
    np.testing.assert_allclose(returns, 6.0, atol=0.6)
    assert len(set(states[:, 0])) > 1


@pytest.mark.parametrize("n", [0, -3, 2.0, True])
def test_sample_observed_states_bad_n(n: Any) -> None:
    env = gymnasium.make(PENDULUM)
    with pytest.raises(ValueError, match=rf"n \(the number of observed states\).*{n!r}"):
        sample_observed_states(env, ConstantPolicy(0.0), n, np.random.default_rng(0))


def test_sample_observed_states_needs_a_time_limit() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        sample_observed_states(
            RewardIsAction(None), ConstantPolicy(0.0), 1, np.random.default_rng()
        )
    states, _ = sample_observed_states(
        RewardIsAction(None), ConstantPolicy(0.0), 3, np.random.default_rng(0), max_steps=2
    )
    assert set(states[:, 0]) <= {1.0, 2.0}


# -------------------------------------------------------------------------- skill files
def _skill_data(steps: int = 12) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    data = {
        "observations": [[rng.normal(size=17).astype(np.float32) for _ in range(steps)]],
        "actions": [[rng.normal(size=6).astype(np.float32) for _ in range(steps)]],
        "env_id": "HalfCheetah-v1",
    }
    return data


def _skill_file(path: Path) -> Path:
    path.write_bytes(pickle.dumps(_skill_data(), protocol=3))  # the original files: protocol 3
    return path


def test_load_skill_rollouts(tmp_path: Path) -> None:
    path = _skill_file(tmp_path / "balancing_rollouts.pkl")
    observations, actions = load_skill_rollouts(path)
    assert observations.shape == (12, 17) and observations.dtype == np.float64
    assert actions.shape == (12, 6) and actions.dtype == np.float32
    raw = _skill_data()
    np.testing.assert_array_equal(observations, np.stack(raw["observations"][0]))
    np.testing.assert_array_equal(actions, np.stack(raw["actions"][0]))
    with pytest.raises(ValueError, match="no rollout 1"):
        load_skill_rollouts(path, rollout=1)
    demo = skill_demonstration(path, 10)
    assert demo.obs.shape == (11, 17) and demo.acts.shape == (10, 6)
    assert not demo.rews.any() and not demo.terminal
    with pytest.raises(ValueError, match="traj_len=12"):
        skill_demonstration(path, 12)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return os.system, (f"touch {self.marker}",)


def test_load_skill_rollouts_refuses_a_payload(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil_rollouts.pkl"
    path.write_bytes(
        pickle.dumps({"observations": [[_Payload(marker)]], "actions": [[]], "env_id": "x"})
    )
    with pytest.raises(UnsafePickleError) as info:
        load_skill_rollouts(path)
    assert str(path) in str(info.value) and "system" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_load_skill_rollouts_truncated_and_wrong_files(tmp_path: Path) -> None:
    whole = _skill_file(tmp_path / "whole.pkl").read_bytes()
    cut = tmp_path / "cut.pkl"
    for size in (0, 1, 2, 40, len(whole) // 3, len(whole) // 2, len(whole) - 1):
        cut.write_bytes(whole[:size])
        with pytest.raises(ValueError, match=str(cut)):
            load_skill_rollouts(cut)
    other = tmp_path / "list.pkl"
    other.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="'observations' and 'actions'"):
        load_skill_rollouts(other)
    ragged = tmp_path / "ragged.pkl"
    ragged.write_bytes(
        pickle.dumps({"observations": [[np.zeros(3), np.zeros(4)]], "actions": [[]]})
    )
    with pytest.raises(ValueError, match="equal 1-D arrays"):
        load_skill_rollouts(ragged)
    with pytest.raises(FileNotFoundError):
        load_skill_rollouts(tmp_path / "missing.pkl")


# ----------------------------------------------------------------------- demonstrations
def test_make_demonstrations_lengths_and_seed(tmp_path: Path) -> None:
    env = gymnasium.make(PENDULUM)
    policy = ConstantPolicy(0.0)
    trajectories = make_demonstrations(env, policy, traj_len=5, seed=7, n_trajs=2)
    assert len(trajectories) == 2 and set(policy.deterministic) == {True}
    for traj in trajectories:
        assert traj.obs.shape == (6, 4) and traj.acts.shape == (5, 1) and traj.rews.shape == (5,)
        assert traj.obs.dtype == np.float64 and traj.acts.dtype == np.float32
        assert not traj.terminal and traj.infos is None
    first, _ = env.reset(seed=7)
    np.testing.assert_array_equal(trajectories[0].obs[0], first)
    assert not np.array_equal(trajectories[1].obs[0], first)  # later resets are not re-seeded
    again = make_demonstrations(env, policy, traj_len=5, seed=7, n_trajs=2)
    np.testing.assert_array_equal(trajectories[1].obs, again[1].obs)

    path = save_demonstrations(tmp_path / "demos", trajectories, env_id=PENDULUM, seed=7)
    assert path.suffix == ".npz"
    loaded = load_demonstrations(path)
    for a, b in zip(trajectories, loaded, strict=True):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.acts, b.acts)
        np.testing.assert_array_equal(a.rews, b.rews)
        assert a.terminal == b.terminal


def test_make_demonstrations_stops_at_a_terminal_state() -> None:
    env = gymnasium.make(PENDULUM)
    push = ConstantPolicy(3.0)  # full force: the pole falls within a few dozen steps
    with pytest.raises(ValueError, match=r"demonstration 0: the episode terminated after \d+"):
        make_demonstrations(env, push, traj_len=500, seed=0)
    (short,) = make_demonstrations(env, push, traj_len=500, seed=0, on_end="stop")
    assert short.terminal and len(short.acts) < 500 and len(short.obs) == len(short.acts) + 1
    with pytest.raises(ValueError, match="traj_len"):
        make_demonstrations(env, push, traj_len=0, seed=0)


def test_load_demonstrations_refuses_other_files(tmp_path: Path) -> None:
    from imitenvs.data.demos import DemoDataset

    path = DemoDataset(states=np.zeros((3, 2)), episode_ends=[3]).save(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not a demonstrations file"):
        load_demonstrations(path)


# ---------------------------------------------------------------------- GAIL, evaluation
def test_train_gail_smoke() -> None:
    env = gymnasium.make(PENDULUM)
    demos = make_demonstrations(env, ConstantPolicy(0.0), traj_len=5, seed=0, n_trajs=2)
    learner = train_gail(PENDULUM, demos, total_timesteps=64, seed=0, n_envs=1, horizon=16)
    action, _ = learner.predict(np.zeros(4, np.float32), deterministic=True)
    assert action.shape == (1,)


def test_evaluate_return_known_returns() -> None:
    policy = ConstantPolicy(2.0)
    stats = evaluate_return(gymnasium.wrappers.TimeLimit(RewardIsAction(5), 10), policy, 3)
    np.testing.assert_array_equal(stats.returns, [10.0, 10.0, 10.0])  # 5 steps, then terminated
    assert (stats.mean, stats.std) == (10.0, 0.0) and set(policy.deterministic) == {True}
    stats = evaluate_return(gymnasium.wrappers.TimeLimit(RewardIsAction(None), 7), policy, 2)
    assert stats.mean == 14.0  # to the time limit
    assert evaluate_return(RewardIsAction(None), policy, 1, max_steps=3).mean == 6.0
    with pytest.raises(ValueError, match="max_steps"):
        evaluate_return(RewardIsAction(None), policy, 1)
    noisy = ConstantPolicy(2.0, seed=1)
    stats = evaluate_return(RewardIsAction(None), noisy, 4, deterministic=False, max_steps=3)
    assert set(noisy.deterministic) == {False} and stats.std > 0
    with pytest.raises(ValueError, match="n_rollouts"):
        evaluate_return(RewardIsAction(None), policy, 0, max_steps=3)


# --------------------------------------------------------------------------------- CLI
def _cli(*args: str, script: str = "train_sac_expert.py") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_train_sac_expert_cli(tmp_path: Path) -> None:
    from imitenvs.adapters.sb3_zip import load_sb3_zip

    out = tmp_path / "sac_pendulum"
    common = ["--env", PENDULUM, "--steps", "300", "--learning-starts", "100", "--out", str(out)]
    done = _cli(*common, "--checkpoint-every", "100", "--eval-rollouts", "2", "--no-progress")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["env"] == PENDULUM and summary["steps"] == 300 and summary["seed"] == 0
    assert summary["rollouts"] == 2 and summary["mean_return"] >= 1 and summary["minutes"] >= 0
    assert summary["settings"]["batch_size"] == 64 and summary["settings"]["buffer_size"] == 300
    assert json.loads((out / "summary.json").read_text()) == summary
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "sac_100_steps.zip", "sac_200_steps.zip", "sac_300_steps.zip"
    ]  # fmt: skip
    assert not (out / ".lock").exists()
    model = load_sb3_zip(out / "policy.zip", env=gymnasium.make(PENDULUM))
    assert model.num_timesteps == 300
    evaluated = _cli(str(out / "policy.zip"), "--env", PENDULUM, "--rollouts", "2",
                     "--seed", "10000", script="evaluate_sac_policy.py")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["mean_return"] == summary["mean_return"]
    missing = _cli(str(out / "nope.zip"), "--env", PENDULUM, script="evaluate_sac_policy.py")
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")

    refused = _cli(*common)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and "already holds a run" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    before = (out / "policy.zip").read_bytes()
    forced = _cli(*common, "--force", "--eval-rollouts", "1", "--no-progress", "--seed", "1")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["seed"] == 1 and (out / "policy.zip").read_bytes() != before
    assert not (out / "checkpoints").exists() or not list((out / "checkpoints").iterdir())

    unknown = _cli("--env", "NoSuchEnv-v0", "--steps", "10", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "NoSuchEnv-v0" in unknown.stderr
    assert not (tmp_path / "x").exists()
