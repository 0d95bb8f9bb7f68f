"""MILO's offline-data tooling: the bucket rule, the dataset format and its converters, safe
reading of the original layout, reset onto the reference, and the whole chain at toy size
(a short AMP run -> milo stats -> milo collect -> milo expert -> both datasets)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.agents.adversarial.amp import AMPConfig
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.cli import main as cli_main
from imitenvs.core.files import CorruptFileError
from imitenvs.data.milo.dataset import (
    MiloDataset,
    from_original,
    read_original,
    save_original,
    to_imitation,
)
from imitenvs.data.milo.pipeline import bucket_index, trajectories_per_checkpoint

AMP_ID = "imitenvs/HumanoidAMP-v0"
TOY_KWARGS = {"motion_file": "walk.yaml", "max_episode_steps": 12}


class Touch:
    """Unpickling this creates ``marker`` (the stand-in for any code a pickle could run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


# ------------------------------------------------------------------------ the bucket rule
def test_bucket_rule_intended_and_the_forks_quirk() -> None:
    limits = [0.0, 100.0, 200.0]
    assert [bucket_index(s, limits) for s in (0.0, 50, 100, 150, 250)] == [0, 0, 1, 1, 2]
    assert bucket_index(-1.0, limits) is None  # below every lower limit: none
    # the fork: bisect_left - 1, the largest limit strictly below; <= limits[0] wraps to last
    assert [bucket_index(s, limits, True) for s in (0.0, 50, 100, 150, 250)] == [2, 0, 0, 1, 2]
    assert bucket_index(-1.0, limits, True) == 2
    stats = {
        "score_name": "dtw_cost",
        "checkpoints": {
            "1": {"average_dtw": 50.0, "average_len": 300.0},
            "2": {"average_dtw": 100.0, "average_len": 10.0},
            "3": {"average_dtw": 250.0, "average_len": 150.0},
        },
    }
    assert trajectories_per_checkpoint(stats, limits, [5, 6, 7]) == {1: 5, 2: 6, 3: 7}
    assert trajectories_per_checkpoint(stats, limits, [5, 6, 7], original_rule=True) == {
        1: 5,
        2: 5,
        3: 7,
    }
    by_length = trajectories_per_checkpoint(stats, limits, [5, 6, 7], use_length=True)
    assert by_length == {1: 7, 2: 5, 3: 6}
    with pytest.raises(ValueError, match="same length"):
        trajectories_per_checkpoint(stats, limits, [5, 6])
    with pytest.raises(ValueError, match="increase strictly"):
        trajectories_per_checkpoint(stats, [0, 0], [1, 1])


# -------------------------------------------------------------------------------- format
def _toy_dataset(score_name: str = "dtw_cost") -> MiloDataset:
    rng = np.random.default_rng(0)
    counts = np.array([4, 3])
    per = counts if score_name == "dtw_cost" else counts - 1
    return MiloDataset(
        states=rng.normal(size=(7, 5)),
        episode_states=counts,
        actions=rng.normal(size=(5, 2)),
        scores=rng.random(per.sum()),
        episode_score=np.array([1.5, 2.5]),
        checkpoint=np.array([10, 20]),
        clip=np.array([0, 0]),
        start_time=np.array([0.1, 0.2]),
        metadata={"kind": "offline", "score_name": score_name, "env_id": AMP_ID},
    )


@pytest.mark.parametrize("score_name", ["dtw_cost", "ep_rew"])
def test_npz_and_original_round_trips(tmp_path: Path, score_name: str) -> None:
    ds = _toy_dataset(score_name)
    back = MiloDataset.load(ds.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(back.states, ds.states)
    np.testing.assert_array_equal(back.scores, ds.scores)
    assert back.metadata["env_id"] == AMP_ID
    original = save_original(ds, tmp_path / "d.pt")
    items = read_original(original)
    states, actions, scores = items[1]["episode"]
    assert states.shape == (3, 5) and actions.shape == (2, 2)
    assert len(scores) == (3 if score_name == "dtw_cost" else 2)
    assert items[0][score_name] == 1.5
    again = from_original(original)
    np.testing.assert_allclose(again.states, ds.states, rtol=1e-6)
    np.testing.assert_allclose(again.scores, ds.scores)
    trajs = to_imitation(again)
    assert len(trajs) == 2 and trajs[0].obs.shape == (4, 5) and trajs[0].acts.shape == (3, 2)
    assert hasattr(trajs[0], "rews") == (score_name == "ep_rew")


def test_original_expert_layout_converts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    expert = [{"episode": [rng.normal(size=4) for _ in range(n)]} for n in (5, 3)]
    torch.save(expert, tmp_path / "expert.pt")
    ds = from_original(tmp_path / "expert.pt")
    assert ds.metadata["kind"] == "expert" and ds.actions is None
    assert ds.episode_states.tolist() == [5, 3]
    with pytest.raises(ValueError, match="no actions"):
        to_imitation(ds)
    save_original(ds, tmp_path / "back.pt")
    assert len(read_original(tmp_path / "back.pt")[0]["episode"]) == 5


def test_malicious_original_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "offline.pt"
    torch.save([{"episode": (np.zeros((2, 3)), Touch(marker), np.zeros(2)), "dtw_cost": 1.0}], bad)
    with pytest.raises(CorruptFileError, match="refused") as err:
        from_original(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()
    # the CLI: one error line, exit code 2, nothing written
    out = tmp_path / "converted.npz"
    assert cli_main(["data", "milo", "convert", str(bad), str(out)]) == 2
    assert not marker.exists() and not out.exists()
    evil_npz = tmp_path / "evil.npz"
    obj = np.empty(1, dtype=object)
    obj[0] = Touch(marker)
    np.savez(evil_npz, states=obj, episode_states=np.array([1]), metadata=np.array("{}"))
    with pytest.raises(ValueError, match="never objects"):
        MiloDataset.load(evil_npz)
    assert not marker.exists()


def test_inconsistent_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="per-step scores"):
        MiloDataset(
            states=np.zeros((4, 2)),
            episode_states=[4],
            actions=np.zeros((3, 1)),
            scores=np.zeros(3),
            metadata={"score_name": "dtw_cost"},
        )


# ------------------------------------------------------------------ reset onto the clip
def test_reset_to_reference_matches_the_clip_and_resolves() -> None:
    env = gymnasium.make(AMP_ID, num_envs=2, motion_file="walk.yaml")
    batch = env.unwrapped
    obs = batch.reset_to_reference([0, 0], [0.0, 0.4], seed=0)
    ref = batch.reference_state(torch.zeros(2, dtype=torch.int64), torch.tensor([0.0, 0.4]))
    np.testing.assert_allclose(obs, batch.character_obs(ref).numpy(), atol=1e-5)
    batch.motion._frames["root_pos"][:, 2] -= 0.3  # a clip sunk into the floor
    batch.reset_to_reference([0, 0], [0.0, 0.4], resolve=False)
    assert float(batch._lowest_geom_point().min()) < -0.2
    batch.reset_to_reference([0, 0], [0.0, 0.4])
    assert np.allclose(batch._lowest_geom_point().numpy(), 0.0, atol=1e-9)
    env.close()


# ---------------------------------------------------------------- the chain at toy size
def _short_amp_run(folder: Path, env_id: str = AMP_ID, kwargs: dict | None = None) -> None:
    run = RunConfig(
        env_id=env_id,
        num_envs=4,
        iterations=2,
        seed=0,
        log_dir=folder,
        save_every=1,
        keep_checkpoints=10,
        progress=False,
        env_kwargs=TOY_KWARGS if kwargs is None else kwargs,
    )
    ppo = PPOConfig(num_steps=8, num_minibatches=2, epochs=1, hidden=(16,))
    runner = Runner(run, ppo, AMPConfig(hidden=(16,), batch_size=16, epochs=1, replay_size=64))
    runner.train()
    runner.close()


def test_the_whole_chain_at_toy_size(
    tmp_path: Path, single_thread: None, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "amp"
    _short_amp_run(run)
    stats_path = tmp_path / "stats.json"
    milo = ["data", "milo"]
    assert cli_main([*milo, "stats", "--run", str(run), "--env", AMP_ID, "--repetitions", "5",
                     "--out", str(stats_path), "--no-progress"]) == 0  # fmt: skip
    stats = json.loads(stats_path.read_text())
    assert sorted(stats["checkpoints"]) == ["1", "2"]
    scores = {int(k): v["average_dtw"] for k, v in stats["checkpoints"].items()}
    assert all(v > 1.0 for v in scores.values())  # at least the remainder of 1 sample
    split = float(np.mean(list(scores.values())))  # two buckets: one checkpoint in each
    offline = tmp_path / "offline.npz"
    assert cli_main([*milo, "collect", "--stats", str(stats_path), "--env", AMP_ID,
                     "--lower-limits", "0", str(split), "--repetitions", "2", "3",
                     "--out", str(offline), "--no-progress"]) == 0  # fmt: skip
    expert = tmp_path / "expert.npz"
    assert cli_main([*milo, "expert", "--env", AMP_ID, "--stats", str(stats_path),
                     "--num-traj", "3", "--out", str(expert), "--no-progress"]) == 0  # fmt: skip
    off, exp = MiloDataset.load(offline), MiloDataset.load(expert)
    assert off.states.shape[1] == exp.states.shape[1] == 105  # the same state vector
    assert off.metadata["env_kwargs"] == exp.metadata["env_kwargs"]
    want = {it: (2 if s < split else 3) for it, s in scores.items()}
    got = {it: int((off.checkpoint == it).sum()) for it in scores}
    assert got == want
    for ep in off.episodes():
        assert len(ep["scores"]) == len(ep["states"]) == len(ep["actions"]) + 1
        assert ep["scores"].sum() == pytest.approx(ep["score"])
    h = TOY_KWARGS["max_episode_steps"]
    assert exp.episode_states.tolist() == [h + 1, h + 1, h, h, h]
    # the expert's index trajectory 0 starts on the clip's first frame, as the env observes it
    env = gymnasium.make(AMP_ID, num_envs=1, **TOY_KWARGS)
    first = env.unwrapped.reset_to_reference([0], [0.0])
    np.testing.assert_allclose(exp.states[0], first[0], atol=1e-6)
    env.close()
    # bad input: one error line, exit code 2, nothing written
    capsys.readouterr()
    bad_out = tmp_path / "bad.npz"
    near = "imitenvs/HumanoidNEAR-v0"
    one = ["--lower-limits", "0", "--repetitions", "1", "--out", str(bad_out)]
    assert cli_main([*milo, "collect", "--stats", str(stats_path), "--env", near, *one]) == 2
    assert cli_main([*milo, "collect", "--stats", str(stats_path), "--lower-limits", "0", "1",
                     "--repetitions", "1", "--out", str(bad_out)]) == 2  # fmt: skip
    assert cli_main([*milo, "stats", "--run", str(run), "--env", near, "--repetitions", "2",
                     "--out", str(tmp_path / "bad.json")]) == 2  # fmt: skip
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("error: ") for e in errors)
    assert "HumanoidNEAR" in errors[0] and "same length" in errors[1] and "trained on" in errors[2]
    assert not bad_out.exists() and not (tmp_path / "bad.json").exists()


def test_a_checkpoint_of_another_env_in_the_stats_is_refused(
    tmp_path: Path, single_thread: None, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "amp"
    _short_amp_run(run)
    stats_path = tmp_path / "stats.json"
    milo = ["data", "milo"]
    assert cli_main([*milo, "stats", "--run", str(run), "--env", AMP_ID, "--repetitions", "2",
                     "--upper", "1", "--out", str(stats_path), "--no-progress"]) == 0  # fmt: skip
    other = tmp_path / "near"
    _short_amp_run(other, "imitenvs/HumanoidNEAR-v0", {"max_episode_steps": 12})
    stats = json.loads(stats_path.read_text())
    stats["checkpoints"]["1"]["file"] = str(other / "checkpoint_000001.pt")
    stats_path.write_text(json.dumps(stats))
    out = tmp_path / "offline.npz"
    capsys.readouterr()
    assert cli_main([*milo, "collect", "--stats", str(stats_path), "--lower-limits", "0",
                     "--repetitions", "1", "--out", str(out), "--no-progress"]) == 2  # fmt: skip
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "trained on 'imitenvs/HumanoidNEAR-v0'" in line and not out.exists()
