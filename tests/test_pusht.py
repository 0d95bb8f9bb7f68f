"""imitenvs/PushT-v0: the PD law, coverage, NEAR's reward and threshold, resets, keypoints against
Diffusion Policy's dataset, state restore, contact counting and the push-planning expert."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import shapely

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.data.collect import run_episode
from imitenvs.data.zarr_demos import read_pusht_zarr
from imitenvs.envs.planar._deps import require
from imitenvs.envs.planar.experts import PushTExpert, pose_error
from imitenvs.envs.planar.geometry import (
    PUSHT_GOAL_POSE,
    TEE_BAR,
    TEE_STEM,
    local_to_world,
    normalise_target,
    tee_keypoints_world,
)
from imitenvs.envs.planar.pusht import PushTEnv

GOAL = np.array(PUSHT_GOAL_POSE)
FAR_AGENT = (480.0, 40.0)


def state(agent: tuple[float, float], pose: np.ndarray) -> np.ndarray:
    return np.array([*agent, *pose])


def test_agent_follows_pd_law_in_free_space() -> None:
    env = PushTEnv()
    env.reset(options={"state": state((100.0, 100.0), np.array([380.0, 200.0, 0.3]))})
    actions = np.array([[-0.2, -0.5]] * 3 + [[-0.6, -0.4]] * 3)
    p, v, dt = np.array([100.0, 100.0]), np.zeros(2), 0.01
    for a in actions:
        obs = env.step(a)[0]
        u = (a + 1) * 256
        for _ in range(10):  # kinematic body: v += (kp (u - p) + kv (0 - v)) dt; p += v dt
            v = v + (100 * (u - p) + 20 * (0 - v)) * dt
            p = p + v * dt
        np.testing.assert_allclose(obs[:2], p, rtol=0, atol=1e-9)
    np.testing.assert_allclose(obs[2:], [380.0, 200.0, 0.3], atol=1e-12)  # block untouched


def test_reset_draws_like_near() -> None:
    env = PushTEnv()
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed)  # NEAR: np.random.default_rng(seed), same order
        expected = [
            rng.integers(50, 450),
            rng.integers(50, 450),
            rng.integers(100, 400),
            rng.integers(100, 400),
            rng.normal() * 2 * np.pi - np.pi,
        ]
        np.testing.assert_array_equal(obs[:2], expected[:2])  # kinematic agent never moves
        if pose_error(info["block_pose"], np.array(expected[2:])) < 1e-9:  # not overlapping
            np.testing.assert_allclose(obs[4], expected[4] % (2 * np.pi), atol=1e-12)
    with pytest.raises(ValueError, match="obs_type"):
        PushTEnv(obs_type="pixels")
    with pytest.raises(ValueError, match="reward"):
        PushTEnv(reward="dense")
    with pytest.raises(ValueError, match="inside"):
        env.reset(options={"state": [-1, 0, 0, 0, 0]})


def test_coverage_matches_diffusion_policy_formula() -> None:
    env = PushTEnv()
    rng = np.random.default_rng(0)

    def dp_coverage(pose: np.ndarray) -> float:  # DP/NEAR: MultiPolygon of the two parts
        def geom(p: np.ndarray) -> shapely.MultiPolygon:
            return shapely.MultiPolygon(
                [shapely.Polygon(local_to_world(np.array(part), p)) for part in (TEE_BAR, TEE_STEM)]
            )

        return geom(GOAL).intersection(geom(pose)).area / geom(GOAL).area

    for _ in range(20):
        pose = GOAL + rng.normal(0, [20, 20, 0.4])
        env.reset(options={"state": state(FAR_AGENT, pose)})
        assert env.coverage == pytest.approx(dp_coverage(pose), abs=1e-9)


def test_success_reward_terms_and_rising_threshold() -> None:
    env = gymnasium.make("imitenvs/PushT-v0")
    env.reset(options={"state": state(FAR_AGENT, GOAL)})
    hold = normalise_target(np.array(FAR_AGENT))
    _, reward, terminated, _, info = env.step(hold)
    assert terminated and info["is_success"] and info["coverage"] == pytest.approx(1.0)
    assert reward == pytest.approx(sum(info["reward_terms"].values()))
    assert info["reward_terms"]["coverage"] == 1.0 and info["reward_terms"]["goal_distance"] == 0
    # Half covered: clip(c / tau) stays > 0.9 while tau = 0.1 .. 0.5, so tau climbs to 0.6.
    half = np.array([GOAL[0] + 18.0, GOAL[1] + 18.0, GOAL[2]])
    env.reset(options={"state": state(FAR_AGENT, half)})
    thresholds = [env.step(hold)[4]["reward_threshold"] for _ in range(8)]
    coverage = env.unwrapped.coverage
    assert 0.5 < coverage < 0.54
    np.testing.assert_allclose(thresholds, [0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6])
    _, reward, terminated, _, info = env.step(hold)
    terms = info["reward_terms"]
    assert not terminated and terms["coverage"] == pytest.approx(coverage / 0.6)
    assert terms["agent_distance"] == pytest.approx(-np.hypot(480 - half[0], 40 - half[1]) / 363)
    assert reward == pytest.approx(sum(terms.values()))
    env = gymnasium.make("imitenvs/PushT-v0", reward="coverage")
    env.reset(options={"state": state(FAR_AGENT, half)})
    _, reward, _, _, info = env.step(hold)
    assert reward == pytest.approx(info["coverage"] / 0.95) and set(info["reward_terms"]) == {
        "coverage"
    }


def test_keypoints_match_diffusion_policy_dataset(shared_data) -> None:
    demos = read_pusht_zarr(shared_data / "near" / "pusht_cchi_v7_replay.zarr")
    ours = np.stack([tee_keypoints_world(s[2:]) for s in demos.states])
    err = np.abs(ours - demos.extras["keypoint"]).max(axis=(1, 2))
    assert np.median(err) < 1e-3 and np.percentile(err, 99) < 0.1
    env = PushTEnv(obs_type="keypoints")
    obs, _ = env.reset(options={"state": demos.states[0]})
    assert obs.shape == (20,) and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs[:18].reshape(9, 2), demos.extras["keypoint"][0], atol=0.01)
    np.testing.assert_allclose(obs[18:], demos.states[0][:2])


def test_state_restore_and_contact_count() -> None:
    env = PushTEnv()
    env.reset(seed=3)
    sim = env._sim
    handler_count = [0]

    def post_solve(arbiter, space, data) -> None:  # NEAR's collision handler
        handler_count[0] += len(arbiter.contact_point_set.points)

    sim.space.add_collision_handler(0, 0).post_solve = post_solve
    towards_block = normalise_target(sim.block_pose()[:2])
    total = 0
    for _ in range(12):
        before = handler_count[0]
        info = env.step(towards_block)[4]
        assert info["n_contacts"] == -(-(handler_count[0] - before) // 10)
        total += info["n_contacts"]
    assert total > 0
    saved = env.get_state()
    actions = np.random.default_rng(0).uniform(-1, 1, size=(15, 2))
    continued = np.array([env.step(a)[0] for a in actions])
    replays = []
    for _ in range(2):
        env.set_state(saved)
        replays.append(np.array([env.step(a)[0] for a in actions]))
    np.testing.assert_array_equal(replays[0], replays[1])  # restoring is repeatable
    assert np.abs(replays[0] - continued).max() < 1.0  # only the warm-start cache differs


def test_expert_pushes_t_home() -> None:
    env = gymnasium.make("imitenvs/PushT-v0")
    expert = PushTExpert()
    successes = sum(run_episode(env, expert, seed)[2] for seed in range(4))
    assert successes >= 2, f"PushT expert succeeded in {successes}/4 episodes"


def test_render_frame() -> None:
    env = PushTEnv(render_mode="rgb_array")
    env.reset(options={"state": state((256.0, 460.0), GOAL)})
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
    agent_px = (np.array([256.0, 460.0]) * 96 / 512).astype(int)
    np.testing.assert_array_equal(frame[agent_px[1], agent_px[0]], [65, 105, 225])
    block_px = (local_to_world(np.array([[0.0, 15.0]]), GOAL)[0] * 96 / 512).astype(int)
    np.testing.assert_array_equal(frame[block_px[1], block_px[0]], [119, 136, 153])


def test_missing_dependency_names_the_extra() -> None:
    with pytest.raises(ModuleNotFoundError, match=r'pip install "imitenvs\[planar\]"'):
        require("imitenvs_no_such_module", "the PushT environment")
