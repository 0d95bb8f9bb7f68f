"""Minari export (``data export-minari``) and import (``imitenvs.data.minari.load``), offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

minari = pytest.importorskip("minari")

from imitenvs.cli import main  # noqa: E402
from imitenvs.data import minari as im  # noqa: E402
from imitenvs.data.demos import DemoDataset  # noqa: E402
from imitenvs.envs.imujoco.dataset import ImujocoData, save_npz  # noqa: E402
from imitenvs.envs.imujoco.grid import robot_for_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MAZE = REPO / "assets" / "demos" / "maze_expert.npz"
PUSHT = REPO / "assets" / "demos" / "pusht_expert.npz"
VARIANT = "hopper-massdec_50_torsogeom"
HOPPER_ID = f"imitenvs/iMuJoCo-{VARIANT}-v0"


@pytest.fixture(autouse=True)
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every dataset in a temp dir; no network (a download attempt would fail the test)."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    monkeypatch.setattr(minari, "download_dataset", _no_network, raising=False)
    return root


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("tests must not download")


def test_planar_demos_roundtrip_and_recover_environment(minari_root: Path) -> None:
    assert main(["data", "export-minari", str(MAZE), "--dataset-id", "imitenvs/maze-v0"]) == 0
    assert (minari_root / "imitenvs" / "maze-v0").is_dir()
    source = DemoDataset.load(MAZE)
    episodes = im.load("imitenvs/maze-v0", env_id="imitenvs/Maze-v0")
    assert len(episodes) == source.num_episodes
    for e, (states, actions) in zip(episodes, source.episodes(), strict=True):
        np.testing.assert_allclose(e.obs, states, rtol=1e-6)
        np.testing.assert_allclose(e.acts, actions[:-1], rtol=1e-6)
        assert e.rews is None and e.terminated and e.complete  # successes only
    dataset = minari.load_dataset("imitenvs/maze-v0")
    assert dataset.spec.env_spec.id == "imitenvs/Maze-v0"
    env = dataset.recover_environment()
    assert env.unwrapped.spec.id == "imitenvs/Maze-v0"
    obs, _ = env.reset(seed=0)
    assert obs.shape == episodes[0].obs.shape[1:]
    env.close()
    trajectories = im.load_trajectories("imitenvs/maze-v0")
    assert len(trajectories) == len(episodes) and trajectories[0].terminal
    assert not hasattr(trajectories[0], "rews")


def _hopper_data(rng: np.random.Generator) -> ImujocoData:
    return ImujocoData(
        robot=robot_for_env("hopper"),
        observations=rng.normal(size=(6, 11)),
        actions=rng.uniform(-1, 1, size=(6, 3)),
        rewards=rng.normal(size=6),
        terminated=np.array([0, 1, 0, 0, 0, 0], bool),
        truncated=np.array([0, 0, 0, 0, 0, 1], bool),
        final_observations=rng.normal(size=(2, 11)),
    )


def test_imujoco_npz_with_rewards_roundtrip(tmp_path: Path) -> None:
    data = _hopper_data(np.random.default_rng(0))
    src = save_npz(tmp_path / f"sac-{VARIANT}.npz", data)  # the file name gives the env
    im.export_minari(src, "imitenvs/hopper-v0")
    episodes = im.load("imitenvs/hopper-v0", env_id=HOPPER_ID)
    assert [len(e.acts) for e in episodes] == [2, 4]
    assert [e.terminated for e in episodes] == [True, False]
    np.testing.assert_allclose(episodes[0].obs[-1], data.final_observations[0], rtol=1e-6)
    np.testing.assert_allclose(episodes[1].rews, data.rewards[2:], rtol=1e-6)
    trajectories = im.load_trajectories("imitenvs/hopper-v0")
    np.testing.assert_allclose(trajectories[1].rews, data.rewards[2:], rtol=1e-6)
    env = minari.load_dataset("imitenvs/hopper-v0").recover_environment()
    assert env.unwrapped.spec.id == HOPPER_ID
    env.close()


def test_original_imujoco_pieces_are_incomplete(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    src = tmp_path / "original.npz"
    np.savez(src, data=np.concatenate([rng.normal(size=(30, 11)), np.zeros((30, 3))], axis=1))
    im.export_minari(src, "imitenvs/hopper-original-v0", env_id=HOPPER_ID)
    (episode,) = im.load("imitenvs/hopper-original-v0")
    assert len(episode.obs) == 30 and not episode.complete and not episode.terminated
    assert episode.rews is None


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> str:
        assert main(["data", "export-minari", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err
        return err

    assert "not of imitenvs/Maze-v0" in run(
        str(PUSHT), "--dataset-id", "tmp/b-v0", "--env", "Maze-v0"
    )
    assert "must look like" in run(str(PUSHT), "--dataset-id", "pusht")
    assert "must look like" in run(str(PUSHT), "--dataset-id", "a/pusht-v0")
    assert "does not exist" in run(str(tmp_path / "nope.npz"), "--dataset-id", "tmp/b-v0")
    src = save_npz(tmp_path / "x.npz", _hopper_data(np.random.default_rng(2)))
    assert "pass --env" in run(str(src), "--dataset-id", "tmp/b-v0")
    assert "unknown env id" in run(str(src), "--dataset-id", "tmp/b-v0", "--env", "Nope-v0")
    cheetah = next(i for i in im.list_envs("imujoco") if "halfcheetah" in i)
    assert "x.npz" in run(str(src), "--dataset-id", "tmp/b-v0", "--env", cheetah)
    assert "multiagent id" in run(
        str(MAZE), "--dataset-id", "tmp/b-v0", "--env", "ApplesCommons-v0"
    )
    assert main(["data", "export-minari", str(MAZE), "--dataset-id", "tmp/maze-v0"]) == 0
    capsys.readouterr()
    assert "exists; pass --overwrite" in run(str(MAZE), "--dataset-id", "tmp/maze-v0")
    assert (
        main(["data", "export-minari", str(MAZE), "--dataset-id", "tmp/maze-v0", "--overwrite"])
        == 0
    )


def test_load_errors() -> None:
    with pytest.raises(ValueError, match="no local Minari dataset 'imitenvs/none-v0'"):
        im.load("imitenvs/none-v0")
    im.export_minari(PUSHT, "imitenvs/pusht-v0")
    with pytest.raises(ValueError, match="is of env imitenvs/PushT-v0, not imitenvs/Maze-v0"):
        im.load("imitenvs/pusht-v0", env_id="Maze-v0")


def _milo(tmp_path: Path, score_name: str | None, actions: bool = True) -> Path:
    from imitenvs.data.milo.dataset import MiloDataset

    rng = np.random.default_rng(3)
    lengths = np.array([4, 3])
    states = rng.normal(size=(7, 105)).astype(np.float32)
    n_scores = 5 if score_name == "ep_rew" else 7
    dataset = MiloDataset(
        states=states,
        episode_states=lengths,
        actions=rng.uniform(-1, 1, size=(5, 28)) if actions else None,
        scores=None if score_name is None else rng.normal(size=n_scores),
        metadata={
            "kind": "offline" if score_name else "expert",
            "score_name": score_name,
            "env_id": "imitenvs/HumanoidAMP-v0",
            "env_kwargs": {"max_episode_steps": 120},
        },
    )
    return dataset.save(tmp_path / f"milo_{score_name}.npz")


def test_milo_offline_dataset_roundtrip(tmp_path: Path) -> None:
    from imitenvs.data.milo.dataset import MiloDataset

    src = _milo(tmp_path, "ep_rew")
    im.export_minari(src, "imitenvs/milo-amp-v0")
    episodes = im.load("imitenvs/milo-amp-v0", env_id="imitenvs/HumanoidAMP-v0")
    source = list(MiloDataset.load(src).episodes())
    assert [len(e.obs) for e in episodes] == [4, 3]
    np.testing.assert_allclose(episodes[1].acts, source[1]["actions"], rtol=1e-6)
    np.testing.assert_allclose(episodes[0].rews, source[0]["scores"], rtol=1e-6)
    assert not any(e.terminated for e in episodes)
    env = minari.load_dataset("imitenvs/milo-amp-v0").recover_environment()
    assert env.unwrapped.spec.id == "imitenvs/HumanoidAMP-v0"
    assert env.unwrapped.spec.kwargs["max_episode_steps"] == 120
    env.close()
    im.export_minari(_milo(tmp_path, "dtw_cost"), "imitenvs/milo-dtw-v0")
    assert all(e.rews is None for e in im.load("imitenvs/milo-dtw-v0"))
    with pytest.raises(ValueError, match="has no actions"):
        im.export_minari(_milo(tmp_path, None, actions=False), "imitenvs/milo-expert-v0")


def test_diffusion_policy_pusht_zarr(shared_data: Path) -> None:
    """The real Diffusion Policy PushT store (NEAR's demos): 206 episodes with actions."""
    src = shared_data / "near" / "pusht_cchi_v7_replay.zarr"
    args = ["data", "export-minari", str(src), "--dataset-id", "imitenvs/pusht-dp-v0"]
    assert main([*args, "--env", "imitenvs/PushT-v0"]) == 0
    episodes = im.load("imitenvs/pusht-dp-v0", env_id="imitenvs/PushT-v0")
    assert len(episodes) == 206 and episodes[0].obs.shape[1] == 5
    assert sum(len(e.acts) for e in episodes) == 25650 - 206
    with pytest.raises(ValueError, match="no actions"):
        im.export_minari(
            shared_data / "near" / "maze_motions.zarr", "imitenvs/maze-near-v0", "Maze-v0"
        )
