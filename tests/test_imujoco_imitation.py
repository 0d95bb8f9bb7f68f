"""The ``imitation`` bridge: trajectories, transitions, fixed horizons, and the GAIL/BC example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from imitation.data import rollout, types

from imitenvs.adapters.imitation import (
    AbsorbAfterDone,
    Episode,
    demo_dataset_trajectories,
    fixed_horizon_vec_env,
    imujoco_trajectories,
    imujoco_transitions,
    make_fixed_horizon_env,
    pad_to_horizon,
    to_trajectories,
)
from imitenvs.envs.imujoco.collect import collect
from imitenvs.envs.imujoco.dataset import save_npz

VARIANT = "hopper-massdec_25_leggeom"
ENV_ID = f"imitenvs/iMuJoCo-{VARIANT}-v0"


@pytest.fixture(autouse=True)
def tmp_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMITENVS_CACHE", str(tmp_path / "cache"))


def _topple(obs: np.ndarray) -> np.ndarray:
    return np.array([1.0, -1.0, 1.0])


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    """Our npz: 2 blocks of 120 rows, full torque topples the hopper inside each."""
    data = collect(VARIANT, _topple, trajectories=2, steps=120, seed=0, progress=False)
    return save_npz(tmp_path / "ours.npz", data)


def test_our_files_give_exact_episodes_with_rewards(ours: Path) -> None:
    trajectories = imujoco_trajectories(ours, VARIANT)
    assert all(isinstance(t, types.TrajectoryWithRew) for t in trajectories)
    assert sum(len(t) for t in trajectories) == 240
    assert all(t.terminal for t in trajectories)
    # replaying an episode's actions from its first state reproduces it
    env = gymnasium.make(ENV_ID)
    obs, _ = env.reset(seed=0)
    first = trajectories[0]
    np.testing.assert_allclose(first.obs[0], obs, rtol=1e-6)
    for t in range(len(first)):
        obs, reward, *_ = env.step(first.acts[t])
        np.testing.assert_allclose(first.obs[t + 1], obs, rtol=1e-5, atol=1e-6)
        assert first.rews[t] == pytest.approx(reward, rel=1e-5)
    transitions = imujoco_transitions(ours, "Hopper-v3")
    assert isinstance(transitions, types.Transitions) and len(transitions) == 240
    assert transitions.obs.shape == (240, 11) and transitions.acts.shape == (240, 3)


def test_original_files_give_pieces_without_rewards(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "sac-original.npz"
    np.savez(path, data=rng.normal(size=(2000, 14)).astype(np.float32))
    trajectories = imujoco_trajectories(path, "Hopper-v3")
    assert [type(t) for t in trajectories] == [types.Trajectory, types.Trajectory]
    assert [len(t) for t in trajectories] == [999, 999]
    assert not any(t.terminal for t in trajectories)
    with pytest.raises(ValueError, match="some episodes have no rewards"):
        imujoco_trajectories(path, "Hopper-v3", with_rewards=True)


def test_demo_datasets_convert_too() -> None:
    from imitenvs.data.demos import DemoDataset

    states = np.arange(14, dtype=float).reshape(7, 2)
    ds = DemoDataset(states=states, episode_ends=np.array([4, 5, 7]), actions=states[:, :1] * 10)
    trajectories = demo_dataset_trajectories(ds)
    assert [len(t) for t in trajectories] == [3, 1]  # the one-row episode is skipped
    np.testing.assert_array_equal(trajectories[1].obs, states[5:7])
    np.testing.assert_array_equal(trajectories[1].acts, [[100.0]])
    with pytest.raises(ValueError, match="no actions"):
        demo_dataset_trajectories(DemoDataset(states=states, episode_ends=np.array([7])))


def test_pad_to_horizon() -> None:
    def episode(n: int, terminated: bool) -> Episode:
        obs = np.arange((n + 1) * 2, dtype=float).reshape(n + 1, 2)
        return Episode(obs, np.ones((n, 1)), np.ones(n), terminated=terminated)

    padded = pad_to_horizon([episode(3, True), episode(3, False), episode(11, False)], 5)
    assert [len(e.acts) for e in padded] == [5, 5, 5]
    np.testing.assert_array_equal(padded[0].obs[3:], np.repeat(padded[0].obs[3:4], 3, axis=0))
    np.testing.assert_array_equal(padded[0].acts[3:], 0.0)
    np.testing.assert_array_equal(padded[0].rews[3:], 0.0)
    assert padded[0].terminated and not padded[1].complete
    np.testing.assert_array_equal(padded[2].obs, episode(11, False).obs[5:11])
    trajectories = to_trajectories(padded)
    assert all(len(t) == 5 for t in trajectories)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        pad_to_horizon([], 0)


def test_absorb_after_done_keeps_a_fixed_horizon() -> None:
    env = make_fixed_horizon_env(ENV_ID, horizon=80)
    assert isinstance(env, AbsorbAfterDone)
    env.reset(seed=0)
    absorbing, frozen = 0, None
    for t in range(1, 81):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, -1.0, 1.0]))
        assert not terminated and truncated == (t == 80)
        if info.get("inner_terminated"):
            frozen = obs.copy()
        if info.get("absorbing"):
            absorbing += 1
            assert reward == 0.0
            np.testing.assert_array_equal(obs, frozen)
    assert frozen is not None and absorbing > 0, "the hopper falls and then absorbs"
    check_env(make_fixed_horizon_env(ENV_ID, horizon=20), skip_render_check=True)
    assert make_fixed_horizon_env(ENV_ID).horizon == 1000


def test_fixed_horizon_vec_env_gives_equal_length_rollouts() -> None:
    venv = fixed_horizon_vec_env(ENV_ID, n_envs=2, seed=0, horizon=40)
    rng = np.random.default_rng(0)
    trajectories = rollout.generate_trajectories(
        None, venv, rollout.make_sample_until(min_episodes=3), rng=rng
    )
    assert len(trajectories) >= 3 and {len(t) for t in trajectories} == {40}
    venv.close()


def test_gail_example_runs_at_tiny_scale(tmp_path: Path, single_thread, capsys) -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "train_gail_imujoco.py"
    spec = importlib.util.spec_from_file_location("train_gail_imujoco", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    returns = example.main(
        ["--expert-steps", "300", "--gail-steps", "128", "--demos", "2", "--horizon", "50",
         "--bc-epochs", "1", "--eval-episodes", "1", "--n-envs", "2", "--out", str(tmp_path)]
    )  # fmt: skip
    assert set(returns) == {"expert", "BC", "GAIL"}
    assert all(np.isfinite(v) for v in returns.values())
    out = capsys.readouterr().out
    for name in ("expert", "BC", "GAIL"):
        assert f"{name} return on {VARIANT}" in out
    assert (tmp_path / f"demos-{VARIANT}.npz").is_file() and (tmp_path / "expert.zip").is_file()


def test_demo_dataset_horizon_pads_the_maze_demos() -> None:
    from imitenvs.data.demos import DemoDataset, load_default_demos

    demos = load_default_demos("maze")  # 50 successful episodes of 171-175 steps
    trajectories = demo_dataset_trajectories(demos, horizon=200)
    assert len(trajectories) == demos.num_episodes
    assert {len(t) for t in trajectories} == {200} and all(t.terminal for t in trajectories)
    states, actions = demos.episode(0)
    t = trajectories[0]
    n = len(states) - 1
    np.testing.assert_allclose(t.obs[: n + 1], states, rtol=1e-6)
    np.testing.assert_array_equal(t.obs[n:], np.repeat(t.obs[n : n + 1], 201 - n, axis=0))
    np.testing.assert_allclose(t.acts[:n], actions[:-1], rtol=1e-6)
    assert not t.acts[n:].any()
    # without horizon= the episodes keep their own lengths
    assert [len(t) for t in demo_dataset_trajectories(demos)][:3] == (
        demos.episode_lengths[:3] - 1
    ).tolist()
    # episodes that did not terminate cannot be padded: they are dropped (longer ones are cut)
    states = np.arange(14, dtype=float).reshape(7, 2)
    ds = DemoDataset(states=states, episode_ends=np.array([3, 7]), actions=states[:, :1])
    assert [len(t) for t in demo_dataset_trajectories(ds, horizon=3, terminated=False)] == [3]
    assert [len(t) for t in demo_dataset_trajectories(ds, horizon=3, terminated=[True, False])] == [
        3,
        3,
    ]
    with pytest.raises(ValueError, match="terminated must be one bool or 2 bools"):
        demo_dataset_trajectories(ds, horizon=3, terminated=[True])
    with pytest.raises(ValueError, match="horizon must be a positive integer, got 0"):
        demo_dataset_trajectories(ds, horizon=0)


def test_gail_maze_example_runs_at_tiny_scale(
    tmp_path: Path, single_thread, capsys, load_example
) -> None:
    example = load_example("train_gail_maze")
    result = example.main(
        ["--gail-steps", "64", "--n-envs", "1", "--horizon", "200", "--eval-episodes", "1",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert set(result) == {"success_rate", "mean_return"}
    assert all(np.isfinite(v) for v in result.values())
    assert "GAIL: success" in capsys.readouterr().out
    assert (tmp_path / "gail_maze_policy.zip").is_file()
    assert (tmp_path / "logs" / "progress.csv").is_file()
    with pytest.raises(ValueError, match="--horizon must be a positive integer"):
        example.main(["--horizon", "0"])
