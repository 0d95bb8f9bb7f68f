"""Deep RLSP's MuJoCo envs (rewards, time feature, penalty) and the ResetToState wrapper."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import imitenvs
from imitenvs.wrappers import ResetToState

CHEETAH_FW, CHEETAH_BW = "imitenvs/HalfCheetah-FW-v0", "imitenvs/HalfCheetah-BW-v0"
HOPPER, HOPPER_PENALTY = "imitenvs/Hopper-FW-v0", "imitenvs/Hopper-FW-Penalty-v0"
PENDULUM = "InvertedPendulum-v5"


def _make(env_id: str, **kwargs) -> gymnasium.Env:
    return gymnasium.make(env_id, disable_env_checker=True, **kwargs)


def _step_from(env: gymnasium.Env, action: np.ndarray) -> tuple[float, float, tuple]:
    """``x`` before and after one step, and the step's result."""
    data = env.unwrapped.data
    before = float(data.qpos[0])
    out = env.step(action)
    return before, float(data.qpos[0]), out


def test_family_and_dims() -> None:
    ids = imitenvs.list_envs("deep_rlsp")
    assert ids == [CHEETAH_FW, CHEETAH_BW, HOPPER, HOPPER_PENALTY]
    dims = [(CHEETAH_FW, 18, 6), (CHEETAH_BW, 18, 6), (HOPPER, 12, 3), (HOPPER_PENALTY, 12, 3)]
    for env_id, obs_dim, act_dim in dims:
        env = _make(env_id)
        space = env.observation_space
        assert space.shape == (obs_dim,) and env.action_space.shape == (act_dim,)
        assert (space.low[-1], space.high[-1]) == (0.0, 1.0)
        assert np.all(np.isinf(space.low[:-1])) and np.all(np.isinf(space.high[:-1]))
        assert env.spec.max_episode_steps == 1000
        env.close()


@pytest.mark.parametrize(("env_id", "sign"), [(CHEETAH_FW, 1.0), (CHEETAH_BW, -1.0)])
def test_cheetah_reward_by_hand(env_id: str, sign: float) -> None:
    env = _make(env_id)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        action = rng.uniform(-1, 1, 6).astype(np.float32)
        before, after, (_, reward, terminated, _, info) = _step_from(env, action)
        ctrl = -0.1 * float(np.sum(np.square(action.astype(np.float64))))
        run = sign * (after - before) / 0.05  # dt = 5 frames of 0.01 s
        assert reward == pytest.approx(run + ctrl, rel=1e-6, abs=1e-6)
        assert info["reward_forward"] == pytest.approx(run, rel=1e-9)
        assert info["reward_ctrl"] == pytest.approx(ctrl, rel=1e-6)
        assert info["x_position"] == after
        assert info["x_velocity"] == pytest.approx((after - before) / 0.05, rel=1e-9)
        assert not terminated
    env.close()


def test_cheetah_reset_noise_as_the_original() -> None:
    env = _make(CHEETAH_FW)
    base = env.unwrapped
    qpos, qvel = [], []
    for seed in range(200):
        env.reset(seed=seed)
        qpos.append(base.data.qpos - base.init_qpos)
        qvel.append(base.data.qvel - base.init_qvel)
    qpos, qvel = np.array(qpos), np.array(qvel)
    assert np.abs(qpos).max() <= 0.1 and np.abs(qpos).max() > 0.09  # U(-0.1, 0.1)
    assert 0.07 < qvel.std() < 0.13 and np.abs(qvel).max() > 0.2  # 0.1 * N(0, 1)
    env.close()


def _fallen_hopper(env: gymnasium.Env) -> None:
    """Reset, then tilt the torso past the healthy angle (0.6 > 0.2)."""
    env.reset(seed=0)
    base = env.unwrapped
    qpos = base.data.qpos.copy()
    qpos[2] = 0.6
    base.set_state(qpos, base.data.qvel.copy())


def test_hopper_reward_and_termination() -> None:
    env = _make(HOPPER)
    env.reset(seed=2)
    action = np.array([0.3, -0.5, 0.8], dtype=np.float32)
    before, after, (_, reward, terminated, _, info) = _step_from(env, action)
    ctrl = -1e-3 * float(np.sum(np.square(action.astype(np.float64))))
    expected = (after - before) / 0.008 + 1.0 + ctrl
    assert reward == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert not terminated and info["is_healthy"] and info["reward_penalty"] == 0.0
    _fallen_hopper(env)
    before, after, (_, reward, terminated, _, info) = _step_from(env, action)
    assert terminated and not info["is_healthy"]
    assert info["reward_survive"] == 0.0
    assert reward == pytest.approx((after - before) / 0.008 + ctrl, rel=1e-6, abs=1e-7)
    env.close()


def test_hopper_penalty_replaces_termination() -> None:
    env = _make(HOPPER_PENALTY)
    _fallen_hopper(env)
    action = np.array([0.3, -0.5, 0.8], dtype=np.float32)
    ctrl = -1e-3 * float(np.sum(np.square(action.astype(np.float64))))
    for _ in range(3):  # the episode goes on after a fall, every unhealthy step pays -1
        before, after, (_, reward, terminated, truncated, info) = _step_from(env, action)
        assert not terminated and not truncated and not info["is_healthy"]
        assert info["reward_penalty"] == -1.0 and info["reward_survive"] == 0.0
        assert reward == pytest.approx((after - before) / 0.008 + ctrl - 1.0, rel=1e-6, abs=1e-7)
    env.close()
    healthy = _make(HOPPER_PENALTY)
    healthy.reset(seed=2)
    reward_healthy = healthy.step(action)[1]
    plain = _make(HOPPER)
    plain.reset(seed=2)
    assert reward_healthy == plain.step(action)[1]  # healthy steps are Hopper-FW's


def test_time_feature_over_steps_and_resets() -> None:
    env = _make(CHEETAH_FW)
    obs, _ = env.reset(seed=0)
    assert obs[-1] == 1.0
    action = np.zeros(6, dtype=np.float32)
    for t in range(1, 1001):
        obs, _, terminated, truncated, _ = env.step(action)
        assert obs[-1] == pytest.approx(1.0 - t / 1000, abs=1e-12)
        assert not terminated and truncated == (t == 1000)
    assert obs[-1] == 0.0
    obs, _ = env.reset()
    assert obs[-1] == 1.0
    env.step(action)
    env.step(action)
    assert env.reset(seed=5)[0][-1] == 1.0  # reset mid-episode restarts t
    assert env.step(action)[0][-1] == pytest.approx(0.999)
    env.close()


def test_time_feature_horizon_and_time_limit() -> None:
    env = _make(HOPPER, max_episode_steps=4, time_horizon=8)
    env.reset(seed=0)
    zero = np.zeros(3)
    feats = [env.step(zero)[0][-1] for _ in range(3)]
    *_, truncated, _ = env.step(zero)
    assert feats == [0.875, 0.75, 0.625] and truncated
    base = _make(CHEETAH_FW).unwrapped  # no TimeLimit: the feature stays at 0
    base.time_horizon = 2
    base.reset(seed=0)
    assert [base.step(np.zeros(6))[0][-1] for _ in range(3)] == [0.5, 0.0, 0.0]


def test_action_and_call_order_contract() -> None:
    env = _make(HOPPER).unwrapped
    with pytest.raises(ResetNeeded):
        env.step(np.zeros(3))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.array([0.0, np.nan, 0.0]))
    assert env.step([0.0, 0.0, 0.0])[0][-1] == 0.999  # the refused step did not count
    with pytest.raises(ValueError, match="direction"):
        _make(CHEETAH_FW, direction="sideways")
    with pytest.raises(ValueError, match="penalty"):
        _make(HOPPER, penalty=float("nan"))


# ---- ResetToState ------------------------------------------------------------------------------
def _visited_observation(env: gymnasium.Env, steps: int = 7) -> np.ndarray:
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(steps):
        obs = env.step(env.action_space.sample())[0]
    return obs


@pytest.mark.parametrize(
    ("env_id", "skipped", "time_dims"),
    [(CHEETAH_FW, 1, 1), (HOPPER, 1, 1), (HOPPER_PENALTY, 1, 1), (PENDULUM, 0, 0)],
)
def test_reset_to_observation_round_trip(env_id: str, skipped: int, time_dims: int) -> None:
    env = ResetToState(_make(env_id))
    assert (env.layout.skipped_qpos, env.layout.time_dims) == (skipped, time_dims)
    target = _visited_observation(env, steps=3 if env_id == PENDULUM else 7)
    physics = target[: len(target) - time_dims]
    obs, info = env.reset(options={"observation": target})
    np.testing.assert_allclose(obs[: len(physics)], physics, rtol=0, atol=1e-12)
    if time_dims:
        assert obs[-1] == 1.0
    assert info["reset_to"] == "observation"
    assert np.all(env.unwrapped.data.qpos[:skipped] == 0.0)  # root x set to 0
    np.testing.assert_array_equal(env.unwrapped._get_obs(), obs)  # the env's own observation
    again, _ = env.reset(options={"observation": physics})  # without the time feature
    np.testing.assert_array_equal(again, obs)
    env.step(env.action_space.sample())  # the episode continues from there
    env.close()


@pytest.mark.parametrize("env_id", [CHEETAH_BW, HOPPER, PENDULUM])
def test_reset_to_qpos_qvel(env_id: str) -> None:
    env = ResetToState(_make(env_id))
    _visited_observation(env, steps=3)
    data = env.unwrapped.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    expected = env.unwrapped._get_obs()
    env.reset(seed=11)
    obs, info = env.reset(options={"qpos": qpos, "qvel": qvel})
    np.testing.assert_array_equal(data.qpos, qpos)
    np.testing.assert_array_equal(data.qvel, qvel)
    np.testing.assert_array_equal(
        obs[: len(obs) - env.layout.time_dims], expected[: len(obs) - env.layout.time_dims]
    )
    assert info["reset_to"] == "qpos"
    if env.layout.time_dims:
        assert obs[-1] == 1.0
        assert env.step(env.action_space.sample())[0][-1] == pytest.approx(0.999)
    env.close()


def _dataset(env_id: str, n: int = 5) -> np.ndarray:
    env = _make(env_id)
    rows = [_visited_observation(env, steps=k + 1) for k in range(n)]
    env.close()
    return np.array(rows)


def test_mixing_probability_zero_changes_nothing() -> None:
    states = _dataset(HOPPER)
    plain, mixed = _make(HOPPER), ResetToState(_make(HOPPER), states, init_prob=0.0)
    for seed in (0, 1, None, None):
        a, b = plain.reset(seed=seed)[0], mixed.reset(seed=seed)
        np.testing.assert_array_equal(a, b[0])
        assert b[1]["reset_to"] == "default"


def test_mixing_probability_one_starts_from_states() -> None:
    states = _dataset(CHEETAH_FW)
    env = ResetToState(_make(CHEETAH_FW), states, init_prob=1.0)
    twin = ResetToState(_make(CHEETAH_FW), states, init_prob=1.0)
    seen = set()
    for seed in (0, None, None, None, None, None, None, None):
        obs, info = env.reset(seed=seed)
        assert info["reset_to"] == "states"
        i = info["reset_state_index"]
        seen.add(i)
        np.testing.assert_allclose(obs[:-1], states[i, :-1], rtol=0, atol=1e-12)
        assert obs[-1] == 1.0
        assert twin.reset(seed=seed)[1]["reset_state_index"] == i  # seeded: deterministic
    assert len(seen) > 1


def test_mixing_half_and_qpos_dataset() -> None:
    env = _make(HOPPER)
    _visited_observation(env)
    qpos, qvel = env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()
    wrapped = ResetToState(env, {"qpos": qpos[None], "qvel": qvel[None]}, init_prob=0.5)
    kinds = [wrapped.reset(seed=s)[1]["reset_to"] for s in range(40)]
    assert 5 < kinds.count("states") < 35 and set(kinds) == {"states", "default"}
    wrapped.init_prob = 1.0
    wrapped.reset(seed=0)
    np.testing.assert_array_equal(env.unwrapped.data.qpos, qpos)  # x position kept, too


def test_bad_inputs_raise_clear_errors() -> None:
    env = ResetToState(_make(CHEETAH_FW))
    env.reset(seed=0)
    nq, nv = 9, 9
    with pytest.raises(ValueError, match=r"options\['qpos'\] has shape \(5,\), expected \(9,\)"):
        env.reset(options={"qpos": np.zeros(5), "qvel": np.zeros(nv)})
    with pytest.raises(
        ValueError, match=r"options\['qvel'\] contains NaN or inf at indices \[\[2\]\]"
    ):
        env.reset(options={"qpos": np.zeros(nq), "qvel": np.array([0, 0, np.inf] + [0] * 6)})
    with pytest.raises(ValueError, match=r"options\['observation'\] has shape \(16,\)"):
        env.reset(options={"observation": np.zeros(16)})
    with pytest.raises(ValueError, match="NaN"):
        env.reset(options={"observation": np.full(18, np.nan)})
    with pytest.raises(ValueError, match="not an array of numbers"):
        env.reset(options={"observation": "abc"})
    with pytest.raises(ValueError, match="both"):
        env.reset(options={"qpos": np.zeros(nq)})
    with pytest.raises(ValueError, match="either"):
        env.reset(options={"observation": np.zeros(18), "qpos": np.zeros(nq)})
    with pytest.raises(ValueError, match=r"init_prob must be a number in \[0, 1\], got 1.5"):
        ResetToState(_make(CHEETAH_FW), _dataset(CHEETAH_FW, 1), init_prob=1.5)
    with pytest.raises(ValueError, match="needs states"):
        ResetToState(_make(CHEETAH_FW), init_prob=0.5)
    with pytest.raises(
        ValueError, match=r"states has shape \(2, 7\), expected \(n, 18\) or \(n, 17\)"
    ):
        ResetToState(_make(CHEETAH_FW), np.zeros((2, 7)))
    with pytest.raises(ValueError, match="at least one"):
        ResetToState(_make(CHEETAH_FW), np.zeros((0, 18)))
    with pytest.raises(ValueError, match=r"states\['qvel'\] has shape \(3, 9\), expected \(2, 9\)"):
        ResetToState(_make(CHEETAH_FW), {"qpos": np.zeros((2, nq)), "qvel": np.zeros((3, nv))})


def test_bad_envs_and_unreproducible_observations() -> None:
    with pytest.raises(ValueError, match="needs a gymnasium MuJoCo env"):
        ResetToState(_make("imitenvs/RoomDefault-v0"))
    vec = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make(PENDULUM)])
    with pytest.raises(ValueError, match="single"):
        ResetToState(vec)
    vec.close()
    with pytest.raises(ValueError, match="changes it"):
        ResetToState(gymnasium.wrappers.TransformObservation(_make(PENDULUM), lambda o: o, None))
    with pytest.raises(ValueError, match=r"not qpos\[k:\] \+\+ qvel"):
        ResetToState(gymnasium.make("Ant-v5"))  # contact forces in the observation
    env = ResetToState(_make(HOPPER))
    obs = _visited_observation(env)
    obs[-2] = 20.0  # Hopper clips qvel to +-10: this observation cannot be reproduced
    with pytest.raises(ValueError, match=r"options\['observation'\] cannot be reproduced"):
        env.reset(options={"observation": obs})
