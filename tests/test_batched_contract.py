"""The batched-env contract (imitenvs.core.batched), the CPU backend and the SB3 adapter,
exercised on a small batched pendulum task written against the backend protocol (the contract
tests also run it on MuJoCo Warp's CPU device)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import mujoco
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from imitenvs.adapters.sb3 import Sb3VecEnv
from imitenvs.core.batched import BatchedEnv, SingleWorldEnv, WorldStep
from imitenvs.sim import make_backend

PENDULUM = """
<mujoco>
  <option timestep="0.01" integrator="Euler"/>
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" range="-3 3" limited="false"/>
      <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.03" mass="1"/>
    </body>
  </worldbody>
  <actuator><position joint="hinge" kp="20" kv="1" ctrlrange="-1 1"/></actuator>
</mujoco>
"""


class BatchedPendulum(BatchedEnv):
    """Test task: hold a pole upright. Terminates when |angle| > 1 rad; 20-step limit."""

    metadata = {**BatchedEnv.metadata, "render_modes": ["rgb_array"]}

    def __init__(
        self,
        num_envs: int = 4,
        render_mode: str | None = None,
        backend: str = "cpu",
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
    ) -> None:
        box = gymnasium.spaces.Box
        super().__init__(
            num_envs,
            box(-np.inf, np.inf, (2,), np.float32),
            box(-1.0, 1.0, (1,), np.float32),
            max_episode_steps=20,
            autoreset_mode=autoreset_mode,
        )
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_string(PENDULUM)
        options = {"nthread": 1} if backend == "cpu" else {"device": "cpu"}
        self.physics = make_backend(backend, self.model, num_envs, **options)

    def _reset_worlds(self, ids: torch.Tensor) -> None:
        qpos = 0.2 * (torch.rand(len(ids), 1, generator=self.generator, dtype=torch.float64) - 0.5)
        self.physics.set_state(ids, qpos, torch.zeros(len(ids), 1, dtype=torch.float64))

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        diverged = self.physics.step(action.double(), nsubsteps=4)
        angle = self.physics.qpos[:, 0]
        return WorldStep(
            reward_terms={"upright": torch.cos(angle), "effort": -0.1 * action[:, 0].double() ** 2},
            terminated=angle.abs() > 1.0,
            info={"angle": angle.clone()},
            diverged=diverged,
        )

    def _observe(self) -> torch.Tensor:
        return torch.cat([self.physics.qpos, self.physics.qvel], dim=1).float()

    def _render_world(self, world: int) -> np.ndarray:
        frame = np.zeros((64, 64, 3), np.uint8)
        frame[:, : 32 + int(30 * np.sin(float(self.physics.qpos[world, 0])))] = 200
        return frame


def test_reset_and_step_shapes(backend: str) -> None:
    env = BatchedPendulum(4, backend=backend)
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 2) and obs.dtype == np.float32
    obs, reward, terminated, _truncated, info = env.step(np.zeros((4, 1), np.float32))
    assert obs.shape == (4, 2) and reward.shape == (4,) and terminated.dtype == bool
    np.testing.assert_allclose(
        reward, info["reward_terms"]["upright"] + info["reward_terms"]["effort"], rtol=1e-6
    )
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP


def test_same_step_autoreset_and_time_limit(backend: str) -> None:
    env = BatchedPendulum(3, backend=backend)
    env.reset(seed=1)
    for t in range(20):
        obs, _, terminated, truncated, info = env.step(np.zeros((3, 1), np.float32))
        if t < 19:
            assert not truncated.any()
    assert truncated.all() and not terminated.any()
    assert info["_final_obs"].all()
    # final_obs holds the pre-reset observation; obs is already the new episode's first one.
    assert not np.allclose(info["final_obs"], obs)
    assert np.abs(obs[:, 0]).max() <= 0.1 + 1e-6
    assert (env.episode_steps == 0).all()


def test_termination_resets_only_that_world(backend: str) -> None:
    env = BatchedPendulum(2, backend=backend)
    env.reset(seed=2)
    env.physics.set_state(
        torch.tensor([1]), torch.tensor([[2.0]], dtype=torch.float64), torch.zeros(1, 1)
    )
    _, _, terminated, truncated, info = env.step(np.zeros((2, 1), np.float32))
    assert terminated.tolist() == [False, True] and not truncated.any()
    assert info["_final_obs"].tolist() == [False, True]
    assert abs(info["final_obs"][1, 0]) > 1.0
    assert env.episode_steps.tolist() == [1, 0]


def test_diverged_world_is_reset_and_flagged_others_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the warning to ./MUJOCO_LOG.TXT
    env = BatchedPendulum(3, backend=backend)
    env.reset(seed=3)
    before = env.physics.qpos.clone()
    env.physics.qvel[2, 0] = float("nan")
    _, reward, terminated, truncated, info = env.step(np.zeros((3, 1), np.float32))
    assert info["diverged"].tolist() == [False, False, True]
    assert truncated[2] and not terminated[2] and reward[2] == 0.0
    assert np.isfinite(env.physics.qpos.numpy()).all()
    # the healthy worlds stepped normally from where they were
    assert not torch.equal(env.physics.qpos[:2], before[:2])


def _tip_world_1(env: BatchedPendulum) -> None:
    """Put world 1 past the 1 rad failure angle, so the next step terminates it."""
    env.physics.set_state(
        torch.tensor([1]), torch.tensor([[2.0]], dtype=torch.float64), torch.zeros(1, 1)
    )


def test_autoreset_mode_names_and_metadata() -> None:
    for name, mode in [
        ("next_step", AutoresetMode.NEXT_STEP),
        ("NextStep", AutoresetMode.NEXT_STEP),
        (AutoresetMode.DISABLED, AutoresetMode.DISABLED),
        ("same_step", AutoresetMode.SAME_STEP),
    ]:
        env = BatchedPendulum(2, autoreset_mode=name)
        assert env.metadata["autoreset_mode"] is mode and env.autoreset_mode is mode
    # the class's metadata is untouched: one instance's mode is not another's
    assert BatchedPendulum.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    with pytest.raises(ValueError, match="unknown autoreset_mode='next-step'") as err:
        BatchedPendulum(2, autoreset_mode="next-step")
    assert "same_step" in str(err.value) and "\n" not in str(err.value)


def test_next_step_autoreset_matches_same_step(backend: str) -> None:
    same = BatchedPendulum(2, backend=backend)
    nxt = BatchedPendulum(2, backend=backend, autoreset_mode="next_step")
    zeros = np.zeros((2, 1), np.float32)
    np.testing.assert_array_equal(same.reset(seed=4)[0], nxt.reset(seed=4)[0])
    _tip_world_1(same)
    _tip_world_1(nxt)
    _, r_same, term_same, _, info_same = same.step(zeros)
    obs, reward, terminated, truncated, info = nxt.step(zeros)
    # the finishing step: same flags and reward, and obs is the last observation itself
    assert terminated.tolist() == term_same.tolist() == [False, True]
    np.testing.assert_array_equal(reward, r_same)
    np.testing.assert_array_equal(obs[1], info_same["final_obs"][1])
    assert "final_obs" not in info
    # the next step resets world 1 (action ignored, reward 0, no flags); world 0 goes on
    obs, reward, terminated, truncated, info = nxt.step(np.ones((2, 1), np.float32))
    assert reward[1] == 0.0 and not terminated.any() and not truncated.any()
    assert info["reward_terms"]["upright"][1] == 0.0 and reward[0] != 0.0
    assert abs(obs[1, 0]) <= 0.1 + 1e-6 and nxt.episode_steps.tolist() == [2, 0]
    nxt.step(zeros)
    assert nxt.episode_steps.tolist() == [3, 1]


def test_disabled_autoreset_waits_for_reset_mask() -> None:
    env = BatchedPendulum(2, autoreset_mode="disabled")
    env.reset(seed=0)
    _tip_world_1(env)
    obs, _, terminated, _, info = env.step(np.zeros((2, 1), np.float32))
    assert terminated.tolist() == [False, True] and abs(obs[1, 0]) > 1.0
    assert "final_obs" not in info
    with pytest.raises(ResetNeeded, match=r"worlds \[1\] finished"):
        env.step(np.zeros((2, 1), np.float32))
    env.reset(options={"reset_mask": np.array([False, True])})
    env.step(np.zeros((2, 1), np.float32))
    assert env.episode_steps.tolist() == [2, 1]


def test_single_world_env_in_next_step_mode_ends_with_final_obs() -> None:
    env = SingleWorldEnv(BatchedPendulum(1, autoreset_mode="next_step"))
    env.reset(seed=0)
    env.batch.physics.set_state(
        torch.tensor([0]), torch.tensor([[2.0]], dtype=torch.float64), torch.zeros(1, 1)
    )
    obs, _, terminated, _, _ = env.step(np.zeros(1, np.float32))
    assert terminated and abs(obs[0]) > 1.0


def test_bad_actions_are_rejected() -> None:
    env = BatchedPendulum(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf for worlds \\[1\\]"):
        env.step(np.array([[0.0], [np.nan]], np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        BatchedPendulum(0)


def test_seeded_runs_reproduce() -> None:
    def run(seed: int) -> np.ndarray:
        env = BatchedPendulum(4)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = [obs]
        for _ in range(25):
            out.append(env.step(rng.uniform(-1, 1, (4, 1)).astype(np.float32))[0])
        return np.stack(out)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_partial_reset_mask(backend: str) -> None:
    env = BatchedPendulum(3, backend=backend)
    env.reset(seed=0)
    env.step(np.ones((3, 1), np.float32))
    env.reset(options={"reset_mask": np.array([True, False, False])})
    assert env.episode_steps.tolist() == [0, 1, 1]


def test_single_world_env_passes_gymnasium_checker() -> None:
    env = SingleWorldEnv(BatchedPendulum(1, render_mode="rgb_array"))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, _reward, terminated, truncated, info = env.step(np.zeros(1, np.float32))
        if terminated or truncated:
            break
    assert truncated and obs.shape == (2,) and "upright" in info["reward_terms"]
    assert env.render().shape == (64, 64, 3)
    env.close()
    env.close()


def test_sb3_adapter_terminal_observation_and_truncation_flag() -> None:
    venv = Sb3VecEnv(BatchedPendulum(2))
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (2, 2)
    for _ in range(20):
        venv.step_async(np.zeros((2, 1), np.float32))
        obs, _rewards, dones, infos = venv.step_wait()
    assert dones.all()
    for info in infos:
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == (2,)
        assert set(info["reward_terms"]) == {"upright", "effort"}


def test_sb3_adapter_rejects_single_envs() -> None:
    with pytest.raises(TypeError, match="natively batched"):
        Sb3VecEnv(gymnasium.make("CartPole-v1"))


def test_sb3_ppo_learns_on_adapter() -> None:
    from stable_baselines3 import PPO

    venv = Sb3VecEnv(BatchedPendulum(4))
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (4, 1)
