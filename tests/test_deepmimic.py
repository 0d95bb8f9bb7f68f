"""DeepMimic tracking: reward terms by hand, pose termination, reference observations, the
adaptive learning rate, policy files, the preset end to end and the ``play`` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.agents import evaluation
from imitenvs.agents.onpolicy.ppo import LR_BOUNDS, PPO, PPOConfig
from imitenvs.core.files import CorruptFileError
from imitenvs.envs.humanoid.imitate import TrackedPose, tracking_errors
from imitenvs.motion import MotionState

REPO = Path(__file__).resolve().parents[1]
IMITATE = "imitenvs/HumanoidImitate-v0"


def _pose(n_joints: int = 3, n_dofs: int = 2, n_keys: int = 2) -> TrackedPose:
    z3 = torch.zeros(1, 3)
    ident = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    state = MotionState(
        root_pos=z3.clone(), root_rot=ident.clone(), root_vel=z3.clone(),
        root_ang_vel=z3.clone(), dof_pos=torch.zeros(1, n_dofs), dof_vel=torch.zeros(1, n_dofs),
        key_pos=torch.zeros(1, n_keys, 3),
    )  # fmt: skip
    local = ident.expand(1, n_joints, 4).clone()
    return TrackedPose(state, local, z3.clone())


def test_tracking_reward_terms_against_hand_computed_values() -> None:
    joint_w = torch.tensor([0.5, 0.3, 0.2])
    dof_w = torch.tensor([0.3, 0.2])
    ref, sim = _pose(), _pose()
    half = math.sqrt(0.5)  # joint 1 turned by 90 degrees about z (xyzw)
    sim.local_rot[0, 1] = torch.tensor([0.0, 0.0, half, half])
    sim.state.dof_vel[0] = torch.tensor([1.0, 2.0])
    sim.state.root_ang_vel[0] = torch.tensor([0.0, 0.0, 2.0])
    sim.state.key_pos[0, 0] = torch.tensor([0.1, 0.0, 0.0])  # a hand 10 cm off
    sim.state.root_pos[0] = torch.tensor([0.0, 0.2, 0.0])
    sim.state.root_vel[0] = torch.tensor([1.0, 0.0, 0.0])
    sim.com_vel[0] = torch.tensor([0.0, 0.0, 3.0])
    errors = {k: float(v) for k, v in tracking_errors(sim, ref, joint_w, dof_w).items()}
    assert errors["pose"] == pytest.approx(0.3 * (math.pi / 2) ** 2, rel=1e-5)
    assert errors["velocity"] == pytest.approx(0.5 * 4.0 + 0.3 * 1.0 + 0.2 * 4.0, rel=1e-6)
    # the root moved 0.2 m sideways: the hand is 0.1 m off in x and 0.2 m off in y, both feet
    # (key 1, which stayed) 0.2 m off in y, relative to the root
    assert errors["end_effector"] == pytest.approx(0.01 + 0.04 + 0.04, rel=1e-5)
    assert errors["root"] == pytest.approx(0.04 + 0.0 + 0.01 * 1.0 + 0.001 * 4.0, rel=1e-5)
    assert errors["com"] == pytest.approx(0.1 * 9.0, rel=1e-6)


def test_pose_termination_ends_episodes_that_stray_from_the_clip() -> None:
    loose = gymnasium.make(IMITATE, num_envs=8, pose_termination_distance=0.0)
    tight = gymnasium.make(IMITATE, num_envs=8, pose_termination_distance=0.05)
    ended = {}
    for name, env in (("loose", loose), ("tight", tight)):
        env.reset(seed=0)
        steps = 0
        for steps in range(1, 16):  # noqa: B007
            _, reward, terminated, _, _ = env.step(np.ones((8, 28), dtype=np.float32))
            if terminated.any():
                assert np.all(reward[terminated] == 0.0)
                break
        ended[name] = steps
        env.close()
    assert ended["tight"] < ended["loose"]
    with pytest.raises(ValueError, match="pose_termination_distance"):
        gymnasium.make(IMITATE, num_envs=2, pose_termination_distance=-1.0)


def test_reference_observation_layout() -> None:
    env = gymnasium.make(IMITATE, num_envs=4, reference_obs_steps=(1, 3))
    obs, _ = env.reset(seed=1)
    assert obs.shape == (4, 106 + 2 * 110) and env.single_observation_space.shape == (326,)
    batch = env.unwrapped
    ref = batch.reference_state(batch._clip, batch.reference_time + batch.dt)
    expected = batch.character_obs(ref).numpy()
    np.testing.assert_allclose(obs[:, 106:211], expected, atol=1e-5)
    offset, heading = obs[:, 211:214], obs[:, 214:216]
    sim = batch.sim_state()
    assert np.allclose(np.linalg.norm(offset, axis=1),
                       (ref.root_pos - sim.root_pos).norm(dim=1).numpy(), atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(np.linalg.norm(heading, axis=1), 1.0, atol=1e-5)
    assert np.all(heading[:, 0] > 0.95)  # RSI: the character starts on the clip
    for bad in ((0,), (1.5,), 2):
        with pytest.raises(ValueError, match="reference_obs_steps"):
            gymnasium.make(IMITATE, num_envs=1, reference_obs_steps=bad)
    env.close()


def test_adaptive_learning_rate_follows_the_kl() -> None:
    cfg = PPOConfig(learning_rate=1e-3, desired_kl=0.01)
    ppo = PPO(3, 2, cfg, torch.device("cpu"), torch.Generator())
    ppo._adapt_learning_rate(0.05)
    assert ppo.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 / 1.5)
    ppo._adapt_learning_rate(0.001)
    ppo._adapt_learning_rate(0.001)
    assert ppo.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 1.5)
    ppo._adapt_learning_rate(0.01)  # within [kl/2, 2 kl]: unchanged
    assert ppo.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 1.5)
    for _ in range(40):
        ppo._adapt_learning_rate(1.0)
    assert ppo.optimizer.param_groups[0]["lr"] == LR_BOUNDS[0]
    with pytest.raises(ValueError, match="desired_kl"):
        PPOConfig(desired_kl=0.0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, load_example: Callable[[str], ModuleType]) -> dict[str, Path]:
    """One iteration of the DeepMimic preset at toy size, with its checkpoint and policy."""
    out = tmp_path_factory.mktemp("deepmimic")
    train = load_example("train_deepmimic")
    summary = train.main(["--num-envs", "4", "--num-steps", "4", "--iterations", "1",
                          "--out", str(out), "--no-video", "--no-progress",
                          "--pose-error-every", "0"])  # fmt: skip
    assert summary["env"] == IMITATE and summary["env_steps"] == 16
    checkpoint = out / "checkpoint_last.pt"
    policy = evaluation.export_policy(checkpoint, out / "policy.pt", {"agent": "deepmimic"})
    return {"checkpoint": checkpoint, "policy": policy, "dir": out}


def test_policy_file_round_trip(tiny_run: dict[str, Path]) -> None:
    a, run_a = evaluation.load_policy(tiny_run["checkpoint"])
    b, run_b, meta = evaluation.load_policy_with_meta(tiny_run["policy"])
    assert run_a.env_id == run_b.env_id == IMITATE and run_b.env_kwargs == run_a.env_kwargs
    assert meta["card"] == {"agent": "deepmimic"} and meta["env_steps"] == 16
    obs = torch.randn(5, a.model.actor[0].in_features)
    assert torch.equal(a.act_deterministic(obs), b.act_deterministic(obs))
    assert tiny_run["policy"].stat().st_size < tiny_run["checkpoint"].stat().st_size
    with pytest.raises(FileNotFoundError, match="no shipped policy 'pretrained:nope'"):
        evaluation.load_policy("pretrained:nope")
    raw = bytearray(tiny_run["policy"].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    broken = tiny_run["dir"] / "broken.pt"
    broken.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"broken\.pt"):
        evaluation.load_policy(broken)


def test_play_cli_writes_a_video_and_prints_figures(tiny_run: dict[str, Path]) -> None:
    video = tiny_run["dir"] / "play.gif"
    argv = [sys.executable, "-m", "imitenvs", "play", IMITATE, "--policy", str(tiny_run["policy"]),
            "--out", str(video), "--episodes", "1", "--max-steps", "3"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["video"] == str(video) and video.stat().st_size > 0
    assert set(result["walk"]["checks"]) == {"full_episodes", "speed", "dtw_pose_rmse"}
    assert result["clip_forward_speed"] > 0.5  # the walk clip moves forward
    wrong = subprocess.run([*argv[:4], "imitenvs/HumanoidAMP-v0", *argv[5:]],
                           capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert wrong.returncode == 2 and "was trained on 'imitenvs/HumanoidImitate-v0'" in wrong.stderr


def test_walk_verdict_applies_the_three_criteria() -> None:
    base = {"lengths": [300] * 9 + [120], "forward_speed": {"mean": 0.8},
            "clip_forward_speed": 1.0, "dtw_pose_rmse": {"mean": 0.09}}  # fmt: skip
    verdict = evaluation.walk_verdict(base, 300)
    assert verdict["walks"] and verdict["full_episode_fraction"] == 0.9
    assert verdict["speed_ratio"] == pytest.approx(0.8)
    for change, failed in (({"lengths": [300] * 8 + [10, 10]}, "full_episodes"),
                           ({"forward_speed": {"mean": 0.7}}, "speed"),
                           ({"dtw_pose_rmse": {"mean": 0.11}}, "dtw_pose_rmse")):  # fmt: skip
        verdict = evaluation.walk_verdict({**base, **change}, 300)
        assert not verdict["walks"] and not verdict["checks"][failed]


def test_ship_policy_writes_the_policy_and_its_card(
    tiny_run: dict[str, Path], load_example: Callable[[str], ModuleType]
) -> None:
    out = tiny_run["dir"] / "shipped"
    argv = [str(tiny_run["checkpoint"]), "--name", "toy", "--agent", "deepmimic", "--command",
            "python examples/train_deepmimic.py --num-envs 4", "--episodes", "1",
            "--out-dir", str(out)]  # fmt: skip
    card = load_example("ship_policy").main(argv)
    stored = json.loads((out / "toy.json").read_text())
    assert stored == json.loads(json.dumps({k: v for k, v in card.items() if k != "frames"}))
    assert stored["env_id"] == IMITATE and stored["env_steps"] == 16
    assert stored["wall_minutes"] is not None and len(stored["git_commit"] or "x" * 40) == 40
    assert set(stored["evaluation"]["walk"]) >= {"walks", "checks", "speed_ratio"}
    _, run, meta = evaluation.load_policy_with_meta(out / "toy.pt")
    assert run.env_kwargs["pose_termination_distance"] == 0.5 and meta["card"]["name"] == "toy"


def test_shipped_walk_policy_walks(load_example: Callable[[str], ModuleType]) -> None:
    """The shipped DeepMimic policy meets the three "walks" criteria (2 episodes here; the card
    holds the 20-episode figures)."""
    result = load_example("evaluate").main(
        ["pretrained:deepmimic_walk", "--episodes", "2", "--no-random", "--no-progress"]
    )
    assert result["env"] == IMITATE and result["walk"]["walks"], result["walk"]
    card = json.loads((REPO / "assets/policies/deepmimic_walk.json").read_text())
    assert card["evaluation"]["walk"]["walks"] and card["evaluation"]["episodes"] == 20
    assert card["env_steps"] == result["env_steps"] and card["agent"] == "deepmimic"
