"""The MuJoCo Warp backend (imitenvs.sim.mujoco_warp) on warp's CPU device: agreement with the
CPU backend, partial resets, divergence and overflow, clear errors, and every humanoid task on
it through the batched contract.

Every warp simulation here uses the humanoid model with the default buffer sizes, so that warp
compiles its kernels once (about a minute cold, cached in warp's kernel cache afterwards).
"""

from __future__ import annotations

import sys

import gymnasium
import mujoco
import numpy as np
import pytest
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.agents.adversarial.amp import AMPConfig
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner
from imitenvs.envs.humanoid import HumanoidAMPEnv
from imitenvs.motion import load_humanoid
from imitenvs.sim import make_backend
from imitenvs.sim.mujoco_warp import MujocoWarpBackend, constraint_capacity

warp = pytest.importorskip("warp")
pytest.importorskip("mujoco_warp")

HUMANOID_IDS = {
    "imitenvs/HumanoidAMP-v0": 105,
    "imitenvs/HumanoidNEAR-v0": 105,
    "imitenvs/HumanoidImitate-v0": 106,
}
# Agreement of the float32 warp backend with the float64 CPU backend after 10 control steps of
# 4 substeps (documented in imitenvs.sim.mujoco_warp); observed: qpos 6e-6, qvel 2e-4.
QPOS_TOL, QVEL_TOL = 1e-4, 2e-3
BOX_ON_PLANE = """
<mujoco>
  <option cone="{cone}"/>
  <worldbody>
    <geom type="plane" size="5 5 .1" condim="{condim}"/>
    <body pos="0 0 1"><freejoint/><geom type="box" size=".1 .1 .1" condim="{condim}"/></body>
    <body pos="1 0 1">
      <joint type="hinge" range="-1 1"/><geom size=".1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
</mujoco>
"""
PENDULUM = """
<mujoco>
  <option {option}/>
  <worldbody>
    <body pos="0 0 1"><joint type="hinge" axis="0 1 0"/><geom type="capsule" size=".03"
      fromto="0 0 0 0 0 .5" mass="1"/></body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(load_humanoid().xml_path))


def _stance(model: mujoco.MjModel) -> torch.Tensor:
    """``(35,)`` the ``stand`` keyframe with the legs apart (hip_x +-0.2 rad), 2 cm above the
    floor: feet land and stand, and the legs never touch each other (where MuJoCo's and MuJoCo
    Warp's box-box colliders differ)."""
    pose = torch.tensor(model.key_qpos[0], dtype=torch.float32)
    names = load_humanoid().dof_names
    pose[7 + names.index("right_hip_x")] = -0.2
    pose[7 + names.index("left_hip_x")] = 0.2
    return pose


def _random_states(
    model: mujoco.MjModel, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``qpos (n, 35)``, ``qvel (n, 34)``: the stance with joint and velocity noise."""
    qpos = _stance(model).repeat(n, 1)
    qpos[:, 7:] += 0.05 * (2 * torch.rand(n, model.nu, generator=gen) - 1)
    qvel = 0.2 * (2 * torch.rand(n, model.nv, generator=gen) - 1)
    return qpos, qvel


def test_matches_the_cpu_backend(model: mujoco.MjModel) -> None:
    n, gen = 4, torch.Generator().manual_seed(6)
    outputs = ("geom_xpos", "geom_xmat")
    gpu = make_backend("warp", model, n, device="cpu", outputs=outputs)
    cpu = make_backend("cpu", model, n, nthread=1, outputs=outputs)
    assert gpu.qpos.dtype == torch.float32 and cpu.qpos.dtype == torch.float64
    assert gpu.geom_xmat.shape == cpu.geom_xmat.shape == (n, model.ngeom, 9)
    qpos, qvel = _random_states(model, n, gen)
    for backend in (gpu, cpu):
        backend.set_state(torch.arange(n), qpos, qvel)
    stance = _stance(model)[7:]
    for _ in range(10):
        targets = stance + 0.2 * (2 * torch.rand(n, model.nu, generator=gen) - 1)
        assert not gpu.step(targets, 4).any() and not cpu.step(targets, 4).any()
    torch.testing.assert_close(gpu.qpos.double(), cpu.qpos, atol=QPOS_TOL, rtol=0)
    torch.testing.assert_close(gpu.qvel.double(), cpu.qvel, atol=QVEL_TOL, rtol=0)
    # derived quantities describe the new state on both (not the one before the last substep)
    for name in ("xpos", "xquat", "subtree_com", "geom_xpos", "geom_xmat"):
        torch.testing.assert_close(
            getattr(gpu, name).double(), getattr(cpu, name), atol=QPOS_TOL, rtol=0, msg=name
        )
    # every character stands on a foot: the touch sensors (acceleration stage) agree too
    assert (cpu.sensordata.amax(1) > 10.0).all()
    torch.testing.assert_close(gpu.sensordata.double(), cpu.sensordata, atol=1.0, rtol=1e-2)


def test_partial_reset_touches_only_the_named_worlds(model: mujoco.MjModel) -> None:
    n, gen = 3, torch.Generator().manual_seed(1)
    reset, untouched = (
        make_backend("warp", model, n, device="cpu"),
        MujocoWarpBackend(model, n, device="cpu"),
    )
    qpos, qvel = _random_states(model, n, gen)
    targets = [_stance(model)[7:] + 0.2 * torch.rand(n, model.nu, generator=gen) for _ in range(5)]
    for backend in (reset, untouched):
        backend.set_state(torch.arange(n), qpos, qvel)
        backend.step(targets[0], 4)
        backend.step(targets[1], 4)
    new_qpos, new_qvel = _random_states(model, 1, gen)
    reset.set_state(torch.tensor([1]), new_qpos, new_qvel)
    others = [0, 2]
    for name in ("qpos", "qvel", "xpos", "xquat", "subtree_com", "ctrl", "qacc_warmstart"):
        torch.testing.assert_close(
            getattr(reset, name)[others], getattr(untouched, name)[others], atol=0, rtol=0
        )
    torch.testing.assert_close(reset.qpos[1], new_qpos[0], atol=0, rtol=0)
    torch.testing.assert_close(reset.qvel[1], new_qvel[0], atol=0, rtol=0)
    assert not reset.ctrl[1].any() and not reset.qacc_warmstart[1].any()
    assert not torch.equal(reset.xpos[1], untouched.xpos[1])  # derived quantities recomputed
    for target in targets[2:]:  # and the other worlds' futures are unchanged
        reset.step(target, 4)
        untouched.step(target, 4)
    torch.testing.assert_close(reset.qpos[others], untouched.qpos[others], atol=1e-6, rtol=0)
    torch.testing.assert_close(reset.qvel[others], untouched.qvel[others], atol=1e-5, rtol=0)


def test_graph_replay_matches_the_python_loop(model: mujoco.MjModel) -> None:
    """The captured path (CUDA's, replayed here by warp's CPU graphs) computes what the plain
    loop computes: substeps, acceleration sensors kept across step1, resets' forward pass."""
    n, gen = 3, torch.Generator().manual_seed(3)
    loop = MujocoWarpBackend(model, n, device="cpu", graphs=False)
    graph = MujocoWarpBackend(model, n, device="cpu", graphs=True)
    qpos, qvel = _random_states(model, n, gen)
    for backend in (loop, graph):
        backend.set_state(torch.arange(n), qpos, qvel)
    for t in range(6):
        targets = _stance(model)[7:] + 0.2 * (2 * torch.rand(n, model.nu, generator=gen) - 1)
        assert torch.equal(loop.step(targets, 4), graph.step(targets, 4))
        if t == 2:
            for backend in (loop, graph):
                backend.set_state(torch.tensor([2]), qpos[:1], qvel[:1])
    assert set(graph._graphs) == {("forward",), ("step", 4)}
    assert (loop.sensordata > 0).any()  # feet on the floor: touch sensors survive step1
    for name in ("qpos", "qvel", "xpos", "subtree_com", "sensordata"):
        assert torch.equal(getattr(loop, name), getattr(graph, name)), name


def test_divergence_and_overflow_are_flagged(model: mujoco.MjModel) -> None:
    backend = MujocoWarpBackend(model, 3, device="cpu")
    qpos, qvel = _random_states(model, 3, torch.Generator().manual_seed(2))
    backend.set_state(torch.arange(3), qpos, qvel)
    backend.qvel[1, 0] = float("nan")
    diverged = backend.step(backend.qpos[:, 7:].clone(), 4)
    assert diverged.tolist() == [False, True, False] and diverged.device == backend.device
    assert torch.isfinite(backend.qpos[[0, 2]]).all()
    backend.set_state(torch.tensor([1]), qpos[1:2], qvel[1:2])
    assert not backend.step(backend.qpos[:, 7:].clone(), 4).any()
    # too few constraint rows: warp drops some, the worlds are flagged and the report says why
    small = MujocoWarpBackend(model, 3, device="cpu", njmax=4)
    sunk = qpos.clone()
    sunk[:, 2] = 0.3  # legs through the floor: many contacts
    small.set_state(torch.arange(3), sunk, qvel)
    assert small.step(small.qpos[:, 7:].clone(), 4).all()
    assert small.overflow_report() == {"NEFC": 3}
    assert backend.overflow_report() == {}


def test_constraint_capacity_rule(model: mujoco.MjModel) -> None:
    assert constraint_capacity(model) == (66, 320)
    # a free box on a plane: 8 contacts of 4 (pyramidal), 1 or 3 (elliptic) rows; a limited
    # hinge: 2 rows
    cases = {("pyramidal", 3): 8 * 4, ("pyramidal", 1): 8, ("elliptic", 3): 8 * 3}
    for (cone, condim), rows in cases.items():
        box = mujoco.MjModel.from_xml_string(BOX_ON_PLANE.format(cone=cone, condim=condim))
        assert constraint_capacity(box) == (8, rows + 2)


def test_clear_errors(model: mujoco.MjModel, monkeypatch: pytest.MonkeyPatch) -> None:
    pgs = mujoco.MjModel.from_xml_string(PENDULUM.format(option='solver="PGS"'))
    with pytest.raises(ValueError, match=r"mjSOL_PGS is unsupported.*Newton and CG") as info:
        MujocoWarpBackend(pgs, 2, device="cpu")
    assert isinstance(info.value.__cause__, NotImplementedError)
    noslip = PENDULUM.format(option='integrator="discrete" noslip_iterations="3"')
    with pytest.raises(ValueError, match=r"noslip solver not implemented.*backend='cpu'"):
        MujocoWarpBackend(mujoco.MjModel.from_xml_string(noslip), 2, device="cpu")
    with pytest.raises(ValueError, match=r"unknown MuJoCo Warp output fields \['geom_xcolour'\]"):
        MujocoWarpBackend(model, 2, device="cpu", outputs=("geom_xcolour",))
    with pytest.raises(ValueError, match="nthread=2 sets the cpu backend's threads"):
        make_backend("warp", model, 2, nthread=2, device="cpu")
    with pytest.raises(ValueError, match=r"the cpu backend runs on device='cpu'.*backend='warp'"):
        make_backend("cpu", model, 2, device="cuda")
    with pytest.raises(ValueError, match=r"backend='gpu' is not allowed.*'auto', 'cpu', 'warp'"):
        HumanoidAMPEnv(1, backend="gpu")
    assert type(HumanoidAMPEnv(1).physics).__name__ == "MujocoCpuBackend"  # auto on a CPU
    monkeypatch.setattr(warp, "is_cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"no CUDA device.*backend='cpu'.*device='cpu'"):
        MujocoWarpBackend(model, 2, device="cuda")
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "imitenvs\[gpu\]"'):
        make_backend("warp", model, 2, device="cpu")


@pytest.mark.parametrize("env_id", HUMANOID_IDS)
def test_humanoid_task_on_warp(env_id: str) -> None:
    """The batched contract of every humanoid id on the warp backend (float32 physics)."""
    n, obs_dim = 3, HUMANOID_IDS[env_id]
    single = gymnasium.make(env_id, backend="warp", device="cpu")  # one world, nthread=1
    obs, _ = single.reset(seed=0)
    assert obs.shape == (obs_dim,) and single.observation_space.contains(obs)
    assert isinstance(single.step(single.action_space.sample())[1], float)
    env = gymnasium.make(env_id, num_envs=n, backend="warp", device="cpu")
    assert isinstance(env.physics, MujocoWarpBackend) and env.physics.qpos.dtype == torch.float32
    obs, _ = env.reset(seed=0)
    assert obs.shape == (n, obs_dim) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    env.step(rng.uniform(-1, 1, (n, 28)).astype(np.float32))
    env.reset(options={"reset_mask": np.array([True, False, False])})
    assert env.episode_steps.tolist() == [0, 1, 1]
    for t in range(2):
        if t == 1:  # worlds 1 and 2 reach the time limit on this step
            env.episode_steps[1:] = env.max_episode_steps - 1
        obs, reward, terminated, truncated, info = env.step(
            rng.uniform(-1, 1, (n, 28)).astype(np.float32)
        )
        assert env.observation_space.contains(obs) and not info["diverged"].any()
        total = np.sum(list(info["reward_terms"].values()), axis=0)
        np.testing.assert_allclose(total, reward, rtol=1e-6, atol=1e-7)
        assert terminated.dtype == truncated.dtype == bool and reward.shape == (n,)
    # worlds 1 and 2 ended (time limit, or a fall): reset in the same step
    done = terminated | truncated
    assert done[1:].all() and info["_final_obs"].tolist() == done.tolist()
    assert not np.allclose(info["final_obs"][1:], obs[1:])
    if "amp_obs" in info:
        np.testing.assert_array_equal(info["amp_obs"][1:, :105], info["final_obs"][1:, :105])
    env.close()


def test_fall_and_rendering_on_warp() -> None:
    env = HumanoidAMPEnv(2, state_init="Default", backend="warp", render_mode="rgb_array")
    env.reset(seed=0)
    qpos = env.physics.qpos.clone()
    qpos[1, 2] = 0.1  # lying on its back, as in test_humanoid_tasks
    qpos[1, 3:7] = torch.tensor([np.cos(np.pi / 4), 0.0, -np.sin(np.pi / 4), 0.0])
    env.physics.set_state(torch.tensor([1]), qpos[1:], torch.zeros(1, env.model.nv))
    hold = env.pd.actions(torch.zeros(28)).numpy()
    env.step(np.stack([hold, hold]))
    env.physics.set_state(torch.tensor([1]), qpos[1:], torch.zeros(1, env.model.nv))
    _, _, terminated, _, _ = env.step(np.stack([hold, hold]))
    assert terminated.tolist() == [False, True]
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    env.close()


def test_runner_trains_amp_on_the_warp_backend() -> None:
    """The agents' path on MuJoCo Warp (float32 physics): rollouts, AMP rewards, PPO update."""
    run = RunConfig(
        env_id="imitenvs/HumanoidAMP-v0",
        num_envs=4,
        iterations=2,
        progress=False,
        env_kwargs={"backend": "warp", "motion_file": "walk.yaml"},
    )
    ppo = PPOConfig(num_steps=4, num_minibatches=2, epochs=1, hidden=(16,))
    runner = Runner(run, ppo, AMPConfig(hidden=(16,), batch_size=8, epochs=1))
    assert isinstance(runner.env.env.unwrapped.physics, MujocoWarpBackend)
    before = [p.detach().clone() for p in runner.ppo.model.parameters()]
    stats = runner.train()
    runner.close()
    assert runner.global_step == 2 * 4 * 4
    assert stats["reward/style"] > 0.0 and stats["reward/task"] == 1.0
    after = list(runner.ppo.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
