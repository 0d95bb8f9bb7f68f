"""Evaluation: DTW, humanoid pose features and pose error, checkpoint loading, the discriminator
as a maze transition score, and the scripts evaluate.py / train_amp_maze.py end to end."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.agents import evaluation
from imitenvs.agents.adversarial.amp import AMPConfig, style_reward
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.motion.quat import quat_mul
from imitenvs.viz import transition_grid

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
HUMANOID = "imitenvs/HumanoidAMP-v0"
WALK = {"motion_file": "walk.yaml"}


def _brute_force_dtw(a: np.ndarray, b: np.ndarray) -> float:
    """tslearn's definition written the plain way: sqrt of the min summed squared distance."""
    acc = np.full((len(a) + 1, len(b) + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d = float(np.sum((a[i - 1] - b[j - 1]) ** 2))
            acc[i, j] = d + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return math.sqrt(acc[-1, -1])


# ----------------------------------------------------------------------------------- DTW
def test_dtw_of_a_sequence_with_itself_is_zero() -> None:
    a = np.random.default_rng(0).normal(size=(25, 3))
    for squared in (True, False):
        for normalize in (True, False):
            assert dtw_value(a, a, squared, normalize) == pytest.approx(0.0, abs=1e-12)


def dtw_value(a: np.ndarray, b: np.ndarray, squared: bool, normalize: bool) -> float:
    return evaluation.dtw_distance(a, b, squared=squared, normalize=normalize)


def test_dtw_small_example_by_hand() -> None:
    # a = (0, 2, 4), b = (1, 3). Squared costs [[1, 9], [1, 1], [9, 1]]: the optimal path
    # (0,0) (1,0) (2,1) [or (1,1)] sums to 1 + 1 + 1 = 3 over 3 cells.
    a, b = np.array([0.0, 2.0, 4.0]), np.array([1.0, 3.0])
    assert evaluation.dtw_distance(a, b) == pytest.approx(math.sqrt(3.0))
    assert evaluation.dtw_distance(a, b, squared=False) == pytest.approx(3.0)
    assert evaluation.dtw_distance(a, b, normalize=True) == pytest.approx(1.0)
    assert evaluation.dtw_distance(a, b, squared=False, normalize=True) == pytest.approx(1.0)
    assert evaluation.dtw_cost(np.array([[1.0, 9.0], [1.0, 1.0], [9.0, 1.0]])) == (3.0, 3)


def test_dtw_matches_a_plain_double_loop() -> None:
    rng = np.random.default_rng(1)
    for t, u in ((7, 11), (13, 5), (1, 9)):
        a, b = rng.normal(size=(t, 4)), rng.normal(size=(u, 4))
        assert evaluation.dtw_distance(a, b) == pytest.approx(_brute_force_dtw(a, b))


def test_time_warped_copy_costs_nothing_but_a_shift_does() -> None:
    t = np.linspace(0.0, 2 * np.pi, 60)
    a = np.stack([np.sin(t), np.cos(2 * t)], axis=1)
    counts = np.random.default_rng(2).integers(1, 4, size=len(a))  # each frame held 1-3 times
    warped = np.repeat(a, counts, axis=0)
    assert len(warped) > len(a)
    assert evaluation.dtw_distance(a, warped) == pytest.approx(0.0, abs=1e-12)
    assert evaluation.dtw_distance(a, warped, squared=False, normalize=True) == pytest.approx(0.0)
    offset = evaluation.dtw_distance(a, a + 0.1, normalize=True)
    assert 0.05 < offset <= 0.1 * math.sqrt(2) + 1e-12  # the diagonal path gives 0.1 sqrt(2)
    rolled = np.roll(a, 15, axis=0)  # a quarter period later: not a monotone re-timing
    assert evaluation.dtw_distance(a, rolled) > 0.5


def test_dtw_is_symmetric() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(17, 2)), rng.normal(size=(23, 2))
    for squared in (True, False):
        for normalize in (True, False):
            assert dtw_value(a, b, squared, normalize) == pytest.approx(
                dtw_value(b, a, squared, normalize)
            )


def test_dtw_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="feature size"):
        evaluation.dtw_distance(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        evaluation.dtw_distance(np.zeros((0, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        evaluation.dtw_distance(np.array([0.0, np.nan]), np.zeros(3))


# ------------------------------------------------------------------------ pose features
def test_pose_features_are_the_observation_key_bodies_in_the_heading_frame() -> None:
    env = gymnasium.make(HUMANOID, state_init="Start", **WALK)
    obs, _ = env.reset(seed=0)
    batch = env.unwrapped.batch
    sim = evaluation.pose_features(batch.sim_state())
    ref = evaluation.reference_features(batch, 0, 1)
    assert sim.shape == ref.shape == (1, 12)
    np.testing.assert_allclose(sim[0], obs[evaluation.KEY_POS], atol=1e-5)
    np.testing.assert_allclose(ref[0], obs[evaluation.KEY_POS], atol=1e-4)  # starts on the clip
    for _ in range(3):
        obs, *_ = env.step(np.zeros(28, dtype=np.float32))
    np.testing.assert_allclose(
        evaluation.pose_features(batch.sim_state())[0], obs[evaluation.KEY_POS], atol=1e-5
    )
    # Turning the whole character about z (and moving it) leaves the features unchanged.
    state = batch.sim_state()
    yaw = 0.7
    half = torch.tensor([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])  # xyzw
    c, s = math.cos(yaw), math.sin(yaw)
    rot = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    turned_rot = quat_mul(half.expand_as(state.root_rot), state.root_rot)
    shift = torch.tensor([3.0, -2.0, 0.0])
    turned = dataclasses.replace(
        state,
        root_pos=state.root_pos @ rot.T + shift,
        root_rot=turned_rot,
        key_pos=state.key_pos @ rot.T + shift,
    )
    np.testing.assert_allclose(
        evaluation.pose_features(turned), evaluation.pose_features(state), atol=1e-5
    )
    env.close()


def test_reference_clip_against_itself_has_zero_pose_error() -> None:
    env = gymnasium.make(HUMANOID, **WALK)
    batch = env.unwrapped.batch
    ref = evaluation.reference_features(batch, 0, 45)
    assert ref.shape == (45, 12)  # the walk clip loops: played for the episode's frames
    assert evaluation.dtw_distance(ref, ref) == pytest.approx(0.0, abs=1e-9)
    shifted = evaluation.reference_features(batch, 0, 60)[15:]  # half a gait cycle later
    assert evaluation.dtw_distance(ref, shifted, normalize=True) > 0.0
    env.close()


def test_humanoid_pose_error_of_random_actions() -> None:
    space = gymnasium.make(HUMANOID, **WALK).action_space
    first = evaluation.humanoid_pose_error(
        evaluation.random_policy(space, 0), HUMANOID, 2, seed=0, env_kwargs=WALK
    )
    again = evaluation.humanoid_pose_error(
        evaluation.random_policy(space, 0), HUMANOID, 2, seed=0, env_kwargs=WALK
    )
    assert first == again  # seeded env and seeded random policy
    assert first["episodes"] == 2 and len(first["lengths"]) == 2
    assert first["best_clips"] == ["walk", "walk"]
    assert first["success_rate"] is None  # the humanoid reports no success
    assert 0.1 < first["dtw_pose_rmse"]["mean"] < 2.0  # metres per key body
    assert first["dtw_pose_error"]["mean"] > first["dtw_pose_rmse"]["mean"] / 2
    with pytest.raises(ValueError, match="motion library"):
        evaluation.humanoid_pose_error(lambda o: np.zeros(2), "imitenvs/Maze-v0", 1, seed=0)


# ------------------------------------------------------------------ checkpoints, scripts
def _maze_runner(log_dir: Path, iterations: int = 3) -> Runner:
    run = RunConfig(
        env_id="imitenvs/Maze-v0",
        num_envs=2,
        iterations=iterations,
        seed=5,
        log_dir=log_dir,
        progress=False,
    )
    ppo = PPOConfig(num_steps=16, num_minibatches=2, epochs=2, hidden=(16,))
    amp = AMPConfig(hidden=(32,), batch_size=16, epochs=2, learning_rate=1e-3, delta_features=True)
    return Runner(run, ppo, amp)


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = _maze_runner(tmp_path_factory.mktemp("maze"))
    runner.train()
    yield runner
    runner.close()


def test_load_policy_round_trip(maze_run: Runner) -> None:
    checkpoint = maze_run.run.log_dir / "checkpoint_last.pt"
    ppo, run = evaluation.load_policy(checkpoint)
    assert run.env_id == "imitenvs/Maze-v0" and run.log_dir == maze_run.run.log_dir
    assert ppo.cfg == maze_run.ppo_cfg
    obs = torch.rand(5, 2) * 512
    assert torch.equal(ppo.act_deterministic(obs), maze_run.ppo.act_deterministic(obs))
    disc, cfg = evaluation.load_discriminator(checkpoint)
    assert cfg == maze_run.amp_cfg
    pairs = torch.rand(7, 4) * 512
    assert torch.equal(disc(pairs), maze_run.amp.disc(pairs))
    with pytest.raises(FileNotFoundError):
        evaluation.load_policy(checkpoint.with_name("missing.pt"))


def test_discriminator_transition_score_matches_training_and_varies(maze_run: Runner) -> None:
    score = evaluation.transition_style_reward(maze_run.amp.disc, maze_run.amp_cfg)
    amp_obs = maze_run.storage.amp_obs.flatten(0, 1)  # [s_{t-1}, s_t] of the last rollout
    values = score(amp_obs[:, :2].numpy(), amp_obs[:, 2:].numpy())
    assert values.shape == (len(amp_obs),)
    with torch.no_grad():
        expected = style_reward(maze_run.amp.disc(amp_obs), maze_run.amp_cfg.reward_scale)
    np.testing.assert_allclose(values, expected.numpy(), rtol=1e-6)
    _, grid = transition_grid(score, resolution=16, step=2.7)
    assert grid.shape == (16, 16)
    free = grid[np.isfinite(grid)]
    assert free.size > 100 and np.std(free) > 1e-3


def test_evaluate_script_on_a_maze_checkpoint(
    maze_run: Runner, tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    evaluate = load_example("evaluate")
    out = tmp_path / "eval.json"
    checkpoint = maze_run.run.log_dir / "checkpoint_last.pt"
    result = evaluate.main([str(checkpoint), "--episodes", "1", "--out", str(out), "--no-progress"])
    assert json.loads(out.read_text()) == result
    assert result["env"] == "imitenvs/Maze-v0" and result["iteration"] == 3
    assert result["success_rate"] in (0.0, 1.0)
    assert result["episode_length"]["mean"] > 0 and "pose_error" not in result


def test_evaluate_script_on_a_humanoid_checkpoint(
    tmp_path: Path, load_example: Callable[[str], ModuleType]
) -> None:
    run = RunConfig(
        env_id=HUMANOID, num_envs=2, iterations=1, log_dir=tmp_path, env_kwargs=WALK, progress=False
    )
    ppo = PPOConfig(num_steps=4, num_minibatches=1, epochs=1, hidden=(16,))
    amp = AMPConfig(hidden=(16,), batch_size=8, epochs=1, replay_size=20)
    runner = Runner(run, ppo, amp)
    runner.train()
    runner.close()
    evaluate = load_example("evaluate")
    checkpoint = str(tmp_path / "checkpoint_last.pt")
    result = evaluate.main([checkpoint, "--episodes", "2", "--no-progress"])
    assert result["env_kwargs"] == WALK and result["success_rate"] is None
    for name in ("policy", "random"):
        scores = result["pose_error"][name]
        assert len(scores["lengths"]) == 2
        assert np.isfinite(scores["dtw_pose_error"]["mean"])
        assert scores["dtw_pose_rmse"]["mean"] > 0


def test_train_amp_maze_script(tmp_path: Path, load_example: Callable[[str], ModuleType]) -> None:
    script = load_example("train_amp_maze")
    argv = ["--iterations", "2", "--num-envs", "2", "--num-steps", "8", "--out", str(tmp_path)]
    summary = script.main([*argv, "--eval-episodes", "1", "--no-progress"])
    assert summary["env"] == "imitenvs/Maze-v0" and summary["env_steps"] == 32
    assert 0.0 <= summary["success_rate"] <= 1.0
    for key in ("policy", "heatmap"):
        assert Path(summary["pictures"][key]).stat().st_size > 0
    assert (tmp_path / "disc_heatmap.png").is_file() and (tmp_path / "maze_policy.png").is_file()
    with pytest.raises(SystemExit):
        script.main(["--env", "imitenvs/PushT-v0"])
