"""What the humanoid tasks compute: the shared observation, reference-state init, PD control,
state-init modes, falls, AMP pairs and demos, task and tracking rewards."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from imitenvs.envs.humanoid import HumanoidAMPEnv, HumanoidImitateEnv, HumanoidNEAREnv
from imitenvs.envs.humanoid.imitate import TrackedPose, tracking_errors
from imitenvs.envs.humanoid.kinematics import quat_mul_fast, quat_rotate_fast
from imitenvs.envs.humanoid.obs import (
    AMP_OBS_SLICES,
    OBS_DIM,
    CharacterObservation,
    hinge3_tan_norm,
    rotation_tan_norm,
)
from imitenvs.motion import MotionState, load_humanoid
from imitenvs.motion.quat import (
    quat_from_axis_angle,
    quat_from_hinge3,
    quat_mul,
    quat_normalize,
    quat_rotate,
)

TIGHT = 2e-5  # float32 round-off of the same state observed twice


@pytest.fixture(params=["generated", "amp_walk", "amp_run"])
def motion_file(request: pytest.FixtureRequest, shared_data: Path) -> str:
    amp = shared_data / "motions" / "amp"
    return {
        "generated": "default.yaml",
        "amp_walk": str(amp / "amp_humanoid_walk.npy"),
        "amp_run": str(amp / "amp_humanoid_run.npy"),
    }[request.param]


def test_layout_covers_the_observation() -> None:
    widths = [s.stop - s.start for s in AMP_OBS_SLICES.values()]
    assert sum(widths) == OBS_DIM == 105
    assert [s.start for s in AMP_OBS_SLICES.values()][1:] == [
        s.stop for s in AMP_OBS_SLICES.values()
    ][:-1]


def test_closed_forms_match_the_quaternion_library() -> None:
    gen = torch.Generator().manual_seed(0)
    angles = (torch.rand(64, 3, generator=gen) - 0.5) * 2 * math.pi
    q = quat_from_hinge3(angles)
    torch.testing.assert_close(hinge3_tan_norm(angles), rotation_tan_norm(q), atol=1e-6, rtol=0)
    axis_x, axis_z = torch.tensor([1.0, 0, 0]), torch.tensor([0, 0, 1.0])
    expected = torch.cat([quat_rotate(q, axis_x), quat_rotate(q, axis_z)], dim=-1)
    torch.testing.assert_close(rotation_tan_norm(q), expected, atol=1e-6, rtol=0)
    p = quat_normalize(torch.randn(64, 4, generator=gen))
    v = torch.randn(64, 3, generator=gen)
    torch.testing.assert_close(quat_mul_fast(p, q), quat_mul(p, q), atol=1e-6, rtol=0)
    torch.testing.assert_close(quat_rotate_fast(p, v), quat_rotate(p, v), atol=1e-5, rtol=0)


def test_heading_frame_observations() -> None:
    yaw, pitch = 0.7, 0.2
    root_rot = quat_mul(
        quat_from_axis_angle(torch.tensor([0.0, 0, 1]), torch.tensor(yaw)),
        quat_from_axis_angle(torch.tensor([0.0, 1, 0]), torch.tensor(pitch)),
    )[None]
    forward = torch.tensor([[math.cos(yaw), math.sin(yaw), 0.0]])
    hand = torch.tensor([[math.cos(yaw + math.pi / 2), math.sin(yaw + math.pi / 2), 0.5]])
    state = MotionState(
        root_pos=torch.tensor([[1.0, 2.0, 0.9]]),
        root_rot=root_rot,
        root_vel=2.0 * forward,
        root_ang_vel=torch.tensor([[0.0, 0.0, 1.5]]),
        dof_pos=torch.linspace(-0.5, 0.5, 28)[None],
        dof_vel=torch.arange(28.0)[None],
        key_pos=torch.tensor([[1.0, 2.0, 0.9]]) + hand.repeat(4, 1)[None],
    )
    spec = load_humanoid()
    obs = CharacterObservation(spec)(state)[0]
    lay = AMP_OBS_SLICES
    assert float(obs[0]) == pytest.approx(0.9)
    torch.testing.assert_close(obs[lay["root_vel"]], torch.tensor([2.0, 0, 0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        obs[lay["root_ang_vel"]], torch.tensor([0, 0, 1.5]), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(obs[lay["dof_vel"]], torch.arange(28.0))
    key = obs[lay["key_pos"]].reshape(4, 3)
    torch.testing.assert_close(key, torch.tensor([[0.0, 1.0, 0.5]] * 4), atol=1e-6, rtol=0)
    angles = state.dof_pos[0]
    expected = torch.cat(  # joint by joint in DoF order: tan-norm (6) or the angle (1)
        [
            hinge3_tan_norm(angles[j.start : j.start + 3])
            if j.num_dofs == 3
            else angles[j.start, None]
            for j in spec.joints
        ]
    )
    torch.testing.assert_close(obs[lay["dof_pos"]], expected)
    assert float(obs[lay["dof_pos"]][18]) == pytest.approx(float(angles[9]))  # right elbow


def test_reference_init_puts_the_character_exactly_on_the_clip(motion_file: str) -> None:
    env = HumanoidAMPEnv(16, motion_file=motion_file, state_init="Random")
    obs, _ = env.reset(seed=7)
    env.generator.manual_seed(7)  # draw the same clips and times again
    clips, times, from_ref = env._sample_starts(16)
    assert from_ref.all()
    reference = env.character_obs(env.reference_state(clips, times)).numpy()
    np.testing.assert_allclose(obs, reference, atol=TIGHT, rtol=0)
    # the demo sampler draws (clip, time) the same way: its s_t is what the env observes
    env.generator.manual_seed(7)
    demos = env.sample_amp_demos(16)
    np.testing.assert_allclose(demos[:, :105], obs, atol=TIGHT, rtol=0)
    # forward kinematics of the task code places every body where MuJoCo does
    ref = env.motion.get_state(clips, times)
    pos, rot = env.kinematics.forward(ref.root_pos, ref.root_rot, ref.dof_pos)
    torch.testing.assert_close(pos, env.physics.xpos[:, 1:].float(), atol=TIGHT, rtol=0)
    com = env.kinematics.com(pos, rot)
    torch.testing.assert_close(com, env.physics.subtree_com[:, 1].float(), atol=TIGHT, rtol=0)


def test_first_amp_pair_of_an_episode() -> None:
    env = HumanoidAMPEnv(4, state_init="Start", motion_file="walk.yaml")
    obs0, _ = env.reset(seed=0)
    obs1, _, _, _, info = env.step(np.zeros((4, 28), np.float32))
    np.testing.assert_array_equal(info["amp_obs"], np.concatenate([obs1, obs0], axis=1))


def test_amp_pairs_are_current_then_previous() -> None:
    env = HumanoidNEAREnv(6)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        prev = obs
        obs, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, (6, 28)).astype("f4"))
        done = terminated | truncated
        current = np.where(done[:, None], info.get("final_obs", obs), obs)
        np.testing.assert_array_equal(info["amp_obs"][:, :105], current)
        np.testing.assert_array_equal(info["amp_obs"][:, 105:], prev)


def test_demo_pairs_are_seeded_and_one_step_apart() -> None:
    env = HumanoidAMPEnv(1, motion_file="walk.yaml")
    env.reset(seed=3)
    demos = env.sample_amp_demos(64)
    env.reset(seed=3)
    np.testing.assert_array_equal(env.sample_amp_demos(64), demos)
    assert demos.shape == (64, 210) and np.isfinite(demos).all()
    # s_t and s_{t-dt} of walking differ by about one control step of motion
    root_vel = demos[:, 7:10]
    step = np.linalg.norm(root_vel, axis=1) * env.dt
    assert 0.005 < np.median(step) < 0.2


def test_zero_action_pd_hold_of_the_default_pose_stands_for_a_second() -> None:
    env = HumanoidAMPEnv(2, state_init="Default")
    env.reset(seed=0)
    default = torch.as_tensor(env.physics.qpos[0, 7:].numpy(), dtype=torch.float32)
    torch.testing.assert_close(env.pd.targets(torch.zeros(28)), default)
    for _ in range(2 * 30):  # 2 s at 30 Hz
        _, _, terminated, truncated, _ = env.step(np.zeros((2, 28), np.float32))
        assert not (terminated | truncated).any()
        assert env.physics.qpos[:, 2].min() > 0.7


def test_isaacgym_action_offset_crouches_and_falls() -> None:
    env = HumanoidAMPEnv(1, state_init="Default", action_offset="joint_range")
    env.reset(seed=0)
    fell = [env.step(np.zeros((1, 28), np.float32))[2][0] for _ in range(2 * 30)]
    assert any(fell)


def test_pd_targets_follow_isaacgymenvs() -> None:
    env = HumanoidAMPEnv(1, action_offset="joint_range")
    names = env.humanoid.dof_names
    offset, scale = env.pd.offset.numpy(), env.pd.scale.numpy()
    for i, name in enumerate(names):
        if name.endswith(("elbow", "knee")):
            sign = -1 if "elbow" in name else 1
            assert offset[i] == pytest.approx(sign * math.radians(80), abs=1e-6)
            assert scale[i] == pytest.approx(math.radians(112), abs=1e-6)
        else:
            assert offset[i] == 0.0 and scale[i] == pytest.approx(math.pi)
    assert env.substeps == 4 and env.dt == pytest.approx(1 / 30, abs=1e-6)


def test_state_init_modes() -> None:
    default = HumanoidAMPEnv(8, state_init="Default")
    first = [default.reset(seed=s)[0] for s in range(3)]
    assert default.stochastic_reset is False
    np.testing.assert_array_equal(first[0], first[1])
    assert np.allclose(first[0][:, 7:13], 0.0) and np.allclose(first[0][:, 65:93], 0.0)
    for prob, expected in ((0.0, 0), (1.0, 8)):
        env = HumanoidAMPEnv(8, state_init="Hybrid", hybrid_init_prob=prob)
        obs, _ = env.reset(seed=0)
        assert (~np.isclose(obs, first[0]).all(axis=1)).sum() == expected
    start = HumanoidImitateEnv(4, state_init="Start")
    assert np.allclose(start.reset(seed=0)[0][:, 105], 0.0)
    weighted = HumanoidImitateEnv(512, state_init="WeightedRandom", motion_file="walk.yaml")
    phase = weighted.reset(seed=0)[0][:, 105]
    assert abs(phase.mean() - 0.25) < 0.05  # Beta(1, 3) has mean 1/4
    uniform = HumanoidImitateEnv(512, state_init="Random", motion_file="walk.yaml")
    assert abs(uniform.reset(seed=0)[0][:, 105].mean() - 0.5) < 0.05


@pytest.mark.parametrize("cls", [HumanoidAMPEnv, HumanoidImitateEnv])
def test_fall_terminates_from_the_second_step(cls: type, backend: str) -> None:
    env = cls(2, state_init="Default", backend=backend)
    env.reset(seed=0)
    qpos = env.physics.qpos.clone()
    qpos[1, 2] = 0.1  # lying on its back: pelvis low, torso and head on the floor
    qpos[1, 3:7] = torch.tensor([math.cos(math.pi / 4), 0.0, -math.sin(math.pi / 4), 0.0])
    env.physics.set_state(torch.tensor([1]), qpos[1:], torch.zeros(1, env.model.nv))
    env.episode_steps[1] = 0
    hold = env.pd.actions(torch.zeros(28)).numpy()
    _, _, terminated, _, _ = env.step(np.stack([hold, hold]))
    assert not terminated.any()  # never on an episode's first step (IsaacGymEnvs)
    env.physics.set_state(torch.tensor([1]), qpos[1:], torch.zeros(1, env.model.nv))
    _, reward, terminated, truncated, info = env.step(np.stack([hold, hold]))
    assert terminated.tolist() == [False, True] and not truncated.any()
    if cls is HumanoidImitateEnv:  # DeepMimic: no reward on the step of a fall
        assert reward[1] == 0.0 and all(v[1] == 0.0 for v in info["reward_terms"].values())
    never = cls(1, state_init="Default", enable_early_termination=False, backend=backend)
    never.reset(seed=0)
    never.physics.set_state(torch.tensor([0]), qpos[1:], torch.zeros(1, env.model.nv))
    for _ in range(3):
        assert not never.step(hold[None])[2].any()


@pytest.mark.parametrize("cls", [HumanoidAMPEnv, HumanoidNEAREnv, HumanoidImitateEnv])
def test_reward_terms_sum_to_the_reward(cls: type, backend: str) -> None:
    env = cls(8, backend=backend)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(15):
        _, reward, _, _, info = env.step(rng.uniform(-1, 1, (8, 28)).astype(np.float32))
        total = np.sum(list(info["reward_terms"].values()), axis=0)
        np.testing.assert_allclose(total, reward, rtol=1e-6, atol=1e-7)


def test_task_reward_terms_and_defaults() -> None:
    assert HumanoidAMPEnv(1).config.task_reward == ("time",)
    near = HumanoidNEAREnv(1)
    assert near.config.task_reward == ("time", "dist") and near.config.termination_height == 0.3
    assert near.config.motion_file == "walk.yaml" and near.config.state_init == "Random"
    env = HumanoidAMPEnv(4, task_reward=["time", "dist", "height"], task_reward_weight=3.0)
    env.reset(seed=0)
    x0 = env.physics.qpos[:, 0].clone()
    _, _, _, _, info = env.step(np.zeros((4, 28), np.float32))
    terms = info["reward_terms"]
    np.testing.assert_allclose(terms["time"], 1.0)
    dx = (env.physics.qpos[:, 0] - x0).numpy()
    np.testing.assert_allclose(terms["dist"], np.clip(dx, 0, 0.5) / 0.5, atol=1e-5)
    z = env.physics.qpos[:, 2].numpy()
    np.testing.assert_allclose(terms["height"], np.clip(z, 0, 2.5) / 2.5, atol=1e-6)


def _pose(env: HumanoidImitateEnv, clips: torch.Tensor, times: torch.Tensor) -> TrackedPose:
    state, local, com = env._reference(clips, times)
    return TrackedPose(state, local, com)


def test_tracking_errors_vanish_on_the_reference_and_grow_away_from_it() -> None:
    env = HumanoidImitateEnv(1, motion_file="walk.yaml")
    clips = torch.zeros(5, dtype=torch.int64)
    times = torch.linspace(0.1, 0.5, 5)
    ref = _pose(env, clips, times)
    errors = tracking_errors(ref, ref, env._joint_w, env._dof_w)
    for name, err in errors.items():
        torch.testing.assert_close(err, torch.zeros(5), atol=1e-5, rtol=0, msg=name)
    later = _pose(env, clips, times + 0.2)
    moved = tracking_errors(later, ref, env._joint_w, env._dof_w)
    assert all(bool((moved[k] > 1e-4).all()) for k in ("pose", "end_effector", "root"))
    weights = env.config.normalised_weights()
    assert weights == pytest.approx(
        {"pose": 0.5, "velocity": 0.05, "end_effector": 0.15, "root": 0.2, "com": 0.1}
    )
    assert float(env._joint_w.sum()) == pytest.approx(1.0)
    assert float(env._joint_w[0]) == pytest.approx(1.0 / 4.8)


def test_imitation_starts_near_the_maximum_reward(shared_data: Path) -> None:
    clip = shared_data / "motions" / "amp" / "amp_humanoid_walk.npy"
    env = HumanoidImitateEnv(8, motion_file=str(clip))
    env.reset(seed=4)
    state = env.motion.get_state(env._clip, env._time + env.dt)
    hold = env.pd.actions(state.dof_pos).clamp(-1, 1).numpy()
    _, reward, terminated, _, info = env.step(hold)
    assert not terminated.any()
    assert reward.min() > 0.6 and reward.max() <= 1.0 + 1e-6
    assert info["reward_terms"]["pose"].min() > 0.3


def test_imitation_phase_and_end_of_a_clamped_clip(shared_data: Path) -> None:
    clip = shared_data / "motions" / "amp" / "amp_humanoid_run.npy"  # a "clamp" clip
    env = HumanoidImitateEnv(3, motion_file=str(clip), enable_early_termination=False)
    obs, _ = env.reset(seed=0)
    length = float(env.motion.clip_lengths[0])
    np.testing.assert_allclose(obs[:, 105], env.reference_time.numpy() / length, atol=1e-6)
    env._time[:] = torch.tensor([0.2, length - 0.5 * env.dt, 0.4])
    _, _, terminated, truncated, info = env.step(np.zeros((3, 28), np.float32))
    assert truncated.tolist() == [False, True, False] and not terminated.any()
    assert info["final_obs"][1, 105] == pytest.approx(1.0)
