"""The batched iMuJoCo and Deep RLSP MuJoCo tasks (imitenvs.envs.imujoco.batched): the same
task as the single gymnasium v5 env, world by world; dispatch of ``gymnasium.make(id,
num_envs=N)`` and ``make_vec``; reset to given states; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import imitenvs
from imitenvs.core.scripts import load_script
from imitenvs.envs.deep_rlsp.batched import DeepRLSPBatchedHopperEnv
from imitenvs.envs.imujoco.batched import BatchedLocomotionEnv, IMuJoCoBatchedEnv
from imitenvs.registry import ENTRIES

HOPPER = "imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0"
CHEETAH = "imitenvs/iMuJoCo-halfcheetah-jointdec_25_bfoot-v0"
WALKER = "imitenvs/iMuJoCo-walker2d-frictiondec_50_footleftgeom-v0"
EQUIVALENCE_IDS = [
    HOPPER,
    CHEETAH,
    WALKER,
    "imitenvs/Hopper-FW-Penalty-v0",
    "imitenvs/HalfCheetah-BW-v0",
]
VECTORISED_IDS = [e.id for e in ENTRIES if e.vectorised and not e.batched]
TOL = 1e-6


def _state(env: gymnasium.Env, n: int) -> dict[str, np.ndarray]:
    """The single env's current state, repeated for ``n`` worlds."""
    data = env.unwrapped.data
    return {"qpos": np.tile(data.qpos, (n, 1)), "qvel": np.tile(data.qvel, (n, 1))}


# v5 keywords pass through to both: a variant of the task must match as well.
KEYWORDS = {"exclude_current_positions_from_observation": False, "ctrl_cost_weight": 0.5}


@pytest.mark.parametrize(
    ("env_id", "kwargs"), [(i, {}) for i in EQUIVALENCE_IDS] + [(WALKER, KEYWORDS)]
)
def test_batched_world_matches_single_env(env_id: str, kwargs: dict) -> None:
    """From the same state under the same actions, world 0 of the batch and the single v5 env
    give the same observations, rewards, reward terms and flags for 100 steps (after a fall,
    both restart from the same new state)."""
    single = gymnasium.make(env_id, **kwargs)
    batch = gymnasium.make(env_id, num_envs=2, **kwargs)
    assert batch.single_observation_space == single.observation_space
    assert batch.single_action_space == single.action_space
    obs1, _ = single.reset(seed=1)
    obs, _ = batch.reset(seed=0, options=_state(single, 2))
    np.testing.assert_allclose(obs[0], obs1, rtol=0, atol=TOL)
    rng = np.random.default_rng(0)
    falls = 0
    for t in range(100):
        action = rng.uniform(-1, 1, (2, *batch.single_action_space.shape)).astype(np.float32)
        obs1, r1, term1, trunc1, info1 = single.step(action[0])
        obs, reward, term, trunc, info = batch.step(action)
        last = info.get("final_obs", obs)
        np.testing.assert_allclose(last[0], obs1, rtol=0, atol=TOL, err_msg=f"step {t}")
        assert abs(reward[0] - r1) <= TOL
        assert bool(term[0]) == term1 and not trunc[0] and not trunc1
        for name, value in info["reward_terms"].items():
            assert abs(value[0] - info1[name]) <= TOL, name
        for name in ("x_position", "x_velocity", "z_distance_from_origin", "is_healthy"):
            if name in info1:
                assert abs(float(info[name][0]) - float(info1[name])) <= TOL, name
        if term1:  # the batch reset world 0 itself; put both at the same new state
            falls += 1
            obs1, _ = single.reset(seed=100 + t)
            mask = np.array([True, False])
            obs, _ = batch.reset(options={**_state(single, 2), "reset_mask": mask})
            np.testing.assert_allclose(obs[0], obs1, rtol=0, atol=TOL)
    if env_id in (HOPPER, WALKER):
        assert falls > 0  # the test covered termination too
    single.close()
    batch.close()


def test_make_dispatch() -> None:
    single = gymnasium.make(HOPPER)
    assert isinstance(single, gymnasium.wrappers.TimeLimit)
    assert single.spec is not None and single.spec.max_episode_steps == 1000
    batch = gymnasium.make(HOPPER, num_envs=3, max_episode_steps=5)
    assert type(batch) is IMuJoCoBatchedEnv  # no single-env wrappers left on the batch
    assert batch.num_envs == 3 and batch.max_episode_steps == 5
    vec = gymnasium.make_vec(HOPPER, num_envs=2)
    assert type(vec) is IMuJoCoBatchedEnv and vec.max_episode_steps == 1000
    sync = gymnasium.make_vec(HOPPER, num_envs=2, vectorization_mode="sync")
    assert isinstance(sync, gymnasium.vector.SyncVectorEnv)
    for env in (single, batch, vec, sync):
        env.close()


def test_every_vectorised_id_makes_its_batch() -> None:
    """All 154 iMuJoCo ids and the 4 Deep RLSP ids: a batch of 2, reset and one step."""
    assert len(VECTORISED_IDS) == 158
    for env_id in VECTORISED_IDS:
        env = gymnasium.make(env_id, num_envs=2)
        assert isinstance(env, BatchedLocomotionEnv), env_id
        obs, _ = env.reset(seed=0)
        assert obs.shape == (2, *env.single_observation_space.shape), env_id
        obs, reward, *_ = env.step(np.zeros((2, *env.single_action_space.shape), np.float32))
        assert np.isfinite(obs).all() and np.isfinite(reward).all(), env_id
        env.close()


def test_per_world_time_limit_and_time_feature() -> None:
    env = gymnasium.make("imitenvs/HalfCheetah-FW-v0", num_envs=2, max_episode_steps=3)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[:, -1], 1.0)
    zero = np.zeros((2, 6), np.float32)
    for t in (1, 2):
        obs, _, _, trunc, _ = env.step(zero)
        np.testing.assert_allclose(obs[:, -1], 1.0 - t / 1000)
        assert not trunc.any()
    obs, _, term, trunc, info = env.step(zero)
    assert trunc.all() and not term.any()
    np.testing.assert_allclose(info["final_obs"][:, -1], 1.0 - 3 / 1000)
    np.testing.assert_array_equal(obs[:, -1], 1.0)  # reset in the same step


def test_reset_noise_follows_v5() -> None:
    hopper = gymnasium.make(HOPPER, num_envs=512)
    hopper.reset(seed=0)
    qpos0 = torch.as_tensor(np.array(hopper.model.qpos0))
    noise = hopper.physics.qpos - qpos0
    assert noise.abs().max() <= 5e-3 and noise.abs().max() > 4.9e-3
    assert hopper.physics.qvel.abs().max() <= 5e-3
    cheetah = gymnasium.make(CHEETAH, num_envs=512)
    cheetah.reset(seed=0)
    assert abs(float(cheetah.physics.qvel.std()) - 0.1) < 0.01  # 0.1 * N(0, 1)
    a = cheetah.reset(seed=3)[0]
    b = cheetah.reset(seed=3)[0]
    np.testing.assert_array_equal(a, b)


def test_reset_to_state_uses_only_masked_rows() -> None:
    env = gymnasium.make(WALKER, num_envs=3)
    before, _ = env.reset(seed=0)
    nq, nv = env.model.nq, env.model.nv
    qpos = np.full((3, nq), np.nan)
    qvel = np.full((3, nv), np.nan)
    qpos[1] = np.array(env.model.qpos0) + 0.01
    qvel[1] = 0.5
    mask = np.array([False, True, False])
    obs, _ = env.reset(options={"qpos": qpos, "qvel": qvel, "reset_mask": mask})
    np.testing.assert_array_equal(obs[[0, 2]], before[[0, 2]])
    np.testing.assert_allclose(env.physics.qpos[1].numpy(), qpos[1])
    np.testing.assert_allclose(obs[1, nq - 1 :], 0.5)
    # a full reset to states, from torch tensors
    obs, _ = env.reset(options={"qpos": torch.zeros(3, nq), "qvel": torch.zeros(3, nv)})
    np.testing.assert_array_equal(obs, 0.0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"qpos": np.zeros((2, 6)), "qvel": np.zeros((3, 6))},
            r"options\['qpos'\] must have shape \(3, 6\)",
        ),
        ({"qpos": np.zeros((3, 6)), "qvel": np.zeros(6)}, r"options\['qvel'\] must have shape"),
        ({"qpos": np.full((3, 6), np.nan), "qvel": np.zeros((3, 6))}, r"options\['qpos'\] has NaN"),
        ({"qpos": np.zeros((3, 6))}, r"options\['qpos'\] needs options\['qvel'\]"),
        ({"qpos": [["a"] * 6] * 3, "qvel": np.zeros((3, 6))}, r"options\['qpos'\] is not an array"),
        (
            {"qpos": np.zeros((3, 6)), "qvel": np.zeros((3, 6)), "reset_mask": np.ones(2, bool)},
            "reset_mask",
        ),
    ],
)
def test_reset_to_state_rejects_bad_states(options: dict, match: str) -> None:
    env = gymnasium.make(HOPPER, num_envs=3)
    env.reset(seed=0)
    before = env.physics.qpos.clone()
    with pytest.raises(ValueError, match=match) as err:
        env.reset(options=options)
    assert "\n" not in str(err.value)
    assert torch.equal(env.physics.qpos, before)  # nothing was reset


def test_bad_input_is_one_value_error() -> None:
    with pytest.raises(ValueError, match="unknown autoreset_mode='later'"):
        gymnasium.make(HOPPER, num_envs=2, autoreset_mode="later")
    with pytest.raises(ValueError, match=r"does not take \['healthy_z_rnge'\]"):
        gymnasium.make(HOPPER, num_envs=2, healthy_z_rnge=(0.5, 2.0))
    with pytest.raises(ValueError, match="do not render"):
        gymnasium.make(HOPPER, num_envs=2, render_mode="rgb_array")
    with pytest.raises(ValueError, match="backend"):
        gymnasium.make(HOPPER, num_envs=2, backend="gpu")
    env = gymnasium.make(HOPPER, num_envs=2)
    env.reset(seed=0)
    bad = np.zeros((2, 3), np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf for worlds \[1\]"):
        env.step(bad)
    with pytest.raises(ValueError, match=r"shape \(3, 3\), expected \(2, 3\)"):
        env.step(np.zeros((3, 3), np.float32))


def test_penalty_task_never_terminates_and_pays_the_penalty() -> None:
    env = gymnasium.make("imitenvs/Hopper-FW-Penalty-v0", num_envs=2)
    assert isinstance(env, DeepRLSPBatchedHopperEnv) and env.penalty == 1.0
    env.reset(seed=0)
    qpos = np.tile(np.array(env.model.qpos0), (2, 1))
    qpos[0, 1] = 0.3  # torso far below the healthy height
    env.reset(options={"qpos": qpos, "qvel": np.zeros((2, env.model.nv))})
    _, reward, term, _, info = env.step(np.zeros((2, 3), np.float32))
    assert not term.any()
    terms = info["reward_terms"]
    assert terms["reward_penalty"][0] == -1.0 and terms["reward_survive"][0] == 0.0
    assert terms["reward_penalty"][1] == 0.0 and terms["reward_survive"][1] == 1.0
    assert info["is_healthy"].tolist() == [False, True]
    np.testing.assert_allclose(reward, sum(terms.values()))


def test_next_step_autoreset_mode() -> None:
    env = gymnasium.make(HOPPER, num_envs=2, autoreset_mode="next_step", max_episode_steps=2)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    env.reset(seed=0)
    zero = np.zeros((2, 3), np.float32)
    env.step(zero)
    *_, trunc, _ = env.step(zero)
    assert trunc.all()
    _, reward, term, trunc, _ = env.step(zero)  # the reset step
    np.testing.assert_array_equal(reward, 0.0)
    assert not (term | trunc).any()


def test_warp_backend_matches_cpu_backend() -> None:
    pytest.importorskip("warp")
    pytest.importorskip("mujoco_warp")
    cpu = gymnasium.make(CHEETAH, num_envs=2)
    gpu = gymnasium.make(CHEETAH, num_envs=2, backend="warp", device="cpu")
    assert gpu.single_observation_space.dtype == np.float32
    state = {"qpos": np.zeros((2, 9)), "qvel": np.zeros((2, 9))}
    cpu.reset(options=state)
    gpu.reset(options=state)
    rng = np.random.default_rng(0)
    for _ in range(5):
        action = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
        obs_c, rew_c, *_ = cpu.step(action)
        obs_g, rew_g, *_ = gpu.step(action)
    np.testing.assert_allclose(obs_g, obs_c, atol=1e-3)
    np.testing.assert_allclose(rew_g, rew_c, atol=1e-3)


def test_imitenvs_exports_still_make_single_envs() -> None:
    """The single env stays gymnasium's v5 env (datasets, policies, ResetToState use it)."""
    env = gymnasium.make(HOPPER)
    assert type(env.unwrapped).__name__ == "IMuJoCoHopperEnv"
    assert imitenvs.registry.get_entry(HOPPER).vectorised
    env.close()


def test_throughput_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script(Path(__file__).resolve().parents[1] / "benchmarks" / "mujoco_throughput.py")
    bench.main(["--quick", "--robots", "hopper"])
    out = json.loads(capsys.readouterr().out)
    rows = out["results"]
    assert [r["num_envs"] for r in rows] == [1, 8]
    for row in rows:
        assert row["raw_steps_per_s"] > 0 and row["batched_steps_per_s"] > 0
        assert row["sync_steps_per_s"] > 0 and row["batched_over_raw"] > 0


@pytest.mark.parametrize("env_id", [HOPPER, WALKER])
def test_health_test_matches_v5_near_its_bounds(env_id: str) -> None:
    """200 states with z, angle and (Hopper) velocities around the health bounds."""
    single = gymnasium.make(env_id).unwrapped
    single.reset(seed=0)
    n = 200
    batch = gymnasium.make(env_id, num_envs=n)
    rng = np.random.default_rng(0)
    qpos = np.tile(single.init_qpos, (n, 1)) + rng.normal(0, 0.01, (n, batch.model.nq))
    qpos[:, 1] = rng.choice([0.7, 0.8, 2.0, 1.2, 0.5, 2.5], n) + rng.choice([0, 1e-9, -1e-9], n)
    qpos[:, 2] = rng.uniform(-1.3, 1.3, n)
    qvel = rng.choice([0.0, 99.0, 101.0, -100.0], (n, batch.model.nv), p=[0.9, 0.04, 0.03, 0.03])
    batch.reset(options={"qpos": qpos, "qvel": qvel})
    got = batch._healthy(batch.physics.qpos, batch.physics.qvel).numpy()
    expected = []
    for i in range(n):
        single.set_state(qpos[i], qvel[i])
        expected.append(bool(single.is_healthy))
    np.testing.assert_array_equal(got, expected)
    assert 0 < got.sum() < n
