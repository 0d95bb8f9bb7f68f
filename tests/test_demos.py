"""Demonstrations: our npz format, the zarr readers on NEAR's real stores, the AMP/NEAR sampler,
the shipped expert datasets (deterministic, successful, small) and the ``data`` CLI."""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest

from imitenvs.cli import main
from imitenvs.data.collect import run_episode
from imitenvs.data.demos import AmpDemoSampler, DemoDataset, default_demo_path, load_default_demos
from imitenvs.data.zarr_demos import read_near_maze, read_pusht_zarr, read_zarr_demos
from imitenvs.envs.planar.experts import MazeExpert, PushTExpert
from imitenvs.envs.planar.geometry import MAZE_GOAL


def small_dataset() -> DemoDataset:
    states = np.arange(20, dtype=np.float64).reshape(10, 2)
    return DemoDataset(
        states,
        np.array([4, 10]),
        np.ones((10, 2), np.float32),
        extras={"tag": np.arange(10)},
        metadata={"env_id": "x"},
    )


def test_npz_round_trip_and_validation(tmp_path) -> None:
    ds = small_dataset()
    path = ds.save(tmp_path / "d")
    assert path.suffix == ".npz"
    back = DemoDataset.load(path)
    np.testing.assert_array_equal(back.states, ds.states)
    np.testing.assert_array_equal(back.actions, ds.actions)
    np.testing.assert_array_equal(back.extras["tag"], np.arange(10))
    assert back.metadata["env_id"] == "x" and back.metadata["format"] == "imitenvs-demos"
    np.testing.assert_array_equal(back.episode_lengths, [4, 6])
    np.testing.assert_array_equal(back.episode(1)[0], ds.states[4:])
    with pytest.raises(ValueError, match="episode_ends"):
        DemoDataset(ds.states, np.array([4, 9]))
    with pytest.raises(ValueError, match="rows"):
        DemoDataset(ds.states, np.array([10]), actions=np.zeros((9, 2)))
    with pytest.raises(IndexError):
        ds.episode(2)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz: missing array"):
        DemoDataset.load(tmp_path / "other.npz")
    meta = np.array(json.dumps({"format": "something-else"}))
    np.savez(tmp_path / "alien.npz", states=ds.states, episode_ends=ds.episode_ends, metadata=meta)
    with pytest.raises(ValueError, match="not an imitenvs demo file"):
        DemoDataset.load(tmp_path / "alien.npz")
    with pytest.raises(FileNotFoundError):
        DemoDataset.load(tmp_path / "missing.npz")


def test_near_maze_zarr(shared_data) -> None:
    ds = read_near_maze(shared_data / "near" / "maze_motions.zarr")
    assert ds.states.shape == (70753, 2) and ds.states.dtype == np.float64
    assert ds.num_episodes == 573 and ds.actions is None
    assert ds.metadata["env_id"] == "imitenvs/Maze-v0"
    assert np.all(ds.states >= 0) and np.all(ds.states <= 512)
    # Recorded with NEAR's older teleoperation dynamics: ~9.1 units per stored step, more than
    # Maze-v0's law can move in one step from anywhere in the arena (< 7 units).
    steps = np.concatenate([np.linalg.norm(np.diff(s, axis=0), axis=1) for s, _ in ds.episodes()])
    moving = steps[steps > 0.5]
    assert 8.5 < np.median(moving) < 9.5
    assert (1 - (1 - 10 * 0.003**2) ** 100) * 512 * np.sqrt(2) < 7.0


def test_pusht_zarr(shared_data) -> None:
    path = shared_data / "near" / "pusht_cchi_v7_replay.zarr"
    ds = read_pusht_zarr(path)
    assert ds.states.shape == (25650, 5) and ds.num_episodes == 206
    assert ds.actions.shape == (25650, 2) and np.abs(ds.actions).max() <= 1.0
    assert ds.extras["keypoint"].shape == (25650, 9, 2) and ds.extras["n_contacts"].shape[1] == 1
    raw = read_pusht_zarr(path, normalise_actions=False)
    np.testing.assert_allclose((ds.actions + 1) * 256, raw.actions, atol=1e-9)
    generic = read_zarr_demos(path)
    assert set(generic.extras) == {"keypoint", "n_contacts"}
    with pytest.raises(FileNotFoundError):
        read_zarr_demos(path.parent / "nope.zarr")


def test_amp_sampler_windows_stay_inside_episodes() -> None:
    ds = small_dataset()
    sampler = AmpDemoSampler(ds, num_obs_steps=2, seed=0)
    batch = sampler.sample_amp_demos(500)
    assert batch.shape == (500, 4) and batch.dtype == np.float32
    rows = (batch[:, 0] / 2).astype(int)  # states[t] = (2t, 2t + 1)
    np.testing.assert_array_equal(batch[:, 2:], ds.states[rows + 1])
    assert not np.any(rows == 3) and not np.any(rows == 9)  # 3 -> 4 crosses the episode end
    assert set(rows) == set(ds.window_starts(2))
    again = AmpDemoSampler(ds, seed=0).sample_amp_demos(500)
    np.testing.assert_array_equal(again, batch)
    block = sampler.sample_episode_block(3)
    np.testing.assert_array_equal(np.diff(block[:, 0]), [2, 2])  # consecutive, one episode
    assert AmpDemoSampler(ds, num_obs_steps=3).sample_amp_demos(4).shape == (4, 6)
    with pytest.raises(ValueError, match="windows"):
        sampler.sample_episode_block(6)


def test_shipped_demos_are_small_successful_and_reproducible() -> None:
    maze, pusht = load_default_demos("maze"), load_default_demos("pusht")
    for task in ("maze", "pusht"):
        assert default_demo_path(task).stat().st_size < 1_000_000
    assert maze.num_episodes >= 20 and pusht.num_episodes >= 20
    finals = maze.states[maze.episode_ends - 1]
    assert np.all(np.linalg.norm(finals - np.array(MAZE_GOAL), axis=1) < 30.8)
    assert pusht.metadata["only_success"] and pusht.metadata["expert"] == "PushTExpert"
    # Regenerate the first episode of each with the recorded seed.
    seed = maze.metadata["seed"]
    states, actions, *_ = run_episode(gymnasium.make("imitenvs/Maze-v0"), MazeExpert(), seed)
    np.testing.assert_array_equal(states, maze.episode(0)[0])
    np.testing.assert_array_equal(actions.astype(np.float32), maze.episode(0)[1])
    seed = pusht.metadata["seed"]
    states, *_ = run_episode(gymnasium.make("imitenvs/PushT-v0"), PushTExpert(), seed)
    np.testing.assert_allclose(states, pusht.episode(0)[0], atol=1e-6)
    with pytest.raises(ValueError, match="no default demos"):
        load_default_demos("humanoid")


def test_data_cli(tmp_path, shared_data, capsys) -> None:
    out = tmp_path / "maze.npz"
    assert main(["data", "collect", "maze", "--episodes", "2", "--out", str(out)]) == 0
    ds = DemoDataset.load(out)
    assert ds.num_episodes == 2 and ds.metadata["success_rate"] == 1.0
    assert main(["data", "info", str(out)]) == 0
    assert "episodes:    2" in capsys.readouterr().out
    assert main(["data", "info", str(shared_data / "near" / "maze_motions.zarr")]) == 0
    assert "rows:        70753" in capsys.readouterr().out
    assert main(["data", "info", str(tmp_path / "x.csv")]) == 2
