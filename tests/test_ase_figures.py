"""ASE test-mode figures (``agents/adversarial/ase_eval.py``) at tiny scale: the frame strip per
latent and the discriminator's style reward per clip, through the trainer's ``--mode test``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.agents.adversarial.ase import ASEConfig, ASERunner
from imitenvs.agents.adversarial.ase_eval import (
    DEMO_STRIDE_FRACTION,
    clip_transitions,
    latent_episodes,
    load_ase_discriminator,
)
from imitenvs.agents.evaluation import load_policy
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig

ENV_ID = "imitenvs/HumanoidAMP-v0"
KWARGS = {"motion_file": "default.yaml", "max_episode_steps": 12}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ASE trained for one iteration (4-d latents, 12-step episodes)."""
    log_dir = tmp_path_factory.mktemp("ase")
    run = RunConfig(
        env_id=ENV_ID, num_envs=2, iterations=1, progress=False, log_dir=log_dir,
        env_kwargs=KWARGS, logger="none", algo="ase",
    )  # fmt: skip
    ppo = PPOConfig(num_steps=4, num_minibatches=1, epochs=1)
    cfg = ASEConfig(latent_dim=4, disc_hidden=(16,), enc_hidden=(16,), batch_size=8)
    runner = ASERunner(run, ppo, cfg)
    try:
        runner.train()
    finally:
        runner.close()
    return log_dir / "checkpoint_last.pt"


def test_trainer_test_mode_writes_the_strip_and_the_style_per_clip(
    checkpoint: Path, tmp_path: Path
) -> None:
    from imitenvs.agents import train

    strip, style = tmp_path / "strip.png", tmp_path / "style.json"
    args = ["--algo", "ase", "--mode", "test", "--model-file", str(checkpoint), "--episodes", "2"]
    result = train.main([*args, "--latent-strip", str(strip), "--style-json", str(style)])
    assert len(result["per_latent"]) == 2
    assert strip.stat().st_size > 0 and strip.read_bytes()[:4] == b"\x89PNG"
    doc = json.loads(style.read_text())
    assert set(doc["clips"]) == {"walk", "run", "turn_walk", "jump", "wave"}
    assert all(math.isfinite(c["mean"]) and c["transitions"] > 0 for c in doc["clips"].values())
    assert len(doc["policy_per_latent"]) == 2 and len(doc["episodes"]) == 2
    steps = [e["steps"] for e in doc["episodes"]]
    assert all(1 <= s <= 12 for s in steps)
    assert doc["policy"]["transitions"] == sum(steps)
    assert doc["env_kwargs"]["state_init"] == "Default"
    assert result["figures"]["strip"] == str(strip)


def test_latent_episodes_share_the_start_replay_exactly_and_render_evenly(
    checkpoint: Path,
) -> None:
    ppo, run = load_policy(checkpoint)
    kwargs = {**run.env_kwargs, "state_init": "Default"}
    z = torch.eye(4)[:2]
    plain = latent_episodes(ppo, ENV_ID, z, seed=3, env_kwargs=kwargs)
    shown = latent_episodes(ppo, ENV_ID, z, seed=3, env_kwargs=kwargs, frames=3)
    for a, b in zip(plain, shown, strict=True):
        np.testing.assert_array_equal(a["observations"], b["observations"])
        picks = np.unique(np.linspace(0, a["steps"] - 1, 3).round().astype(int)).tolist()
        assert [t for t, _ in b["frames"]] == picks
        assert all(f.ndim == 3 and f.shape[2] == 3 and f.dtype == np.uint8 for _, f in b["frames"])
    np.testing.assert_array_equal(plain[0]["observations"][0], plain[1]["observations"][0])


def test_transitions_are_the_discriminators_pairs(checkpoint: Path) -> None:
    disc, cfg = load_ase_discriminator(checkpoint)
    assert disc.trunk[0].in_features in (210, 315) and cfg.reward_scale == 2.0
    env = gymnasium.make(ENV_ID, **KWARGS)
    try:
        obs, _ = env.reset(seed=0)
        nxt, *_, info = env.step(np.zeros(28, np.float32))  # policy side: [s_{t+1}, s_t]
        np.testing.assert_allclose(info["amp_obs"], np.concatenate([nxt, obs]), atol=1e-6)
        batch = env.unwrapped.batch
        prev, now = clip_transitions(batch, 0)  # demo side: s_{t-dt}, s_t every dt / 4
        shift = round(1 / DEMO_STRIDE_FRACTION)
        pose = np.r_[0:7, 13:65, 93:105]  # velocities are per clip frame: skip them at joins
        np.testing.assert_allclose(now[:-shift, pose], prev[shift:, pose], atol=1e-4)
        length = float(batch.motion.clip_lengths[0])
        assert len(now) == math.floor((length - batch.dt) / (batch.dt / shift) + 1e-6) + 1
    finally:
        env.close()
