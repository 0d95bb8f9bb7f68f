"""ASE test-mode figures: a frame strip per latent, and the discriminator's style reward per clip.

After pre-training, a skill library should give visibly different motions for different latents,
and its discriminator should find the dataset's clips in style. Two figures check that on a
checkpoint of :class:`~imitenvs.agents.adversarial.ase.ASERunner`:

- :func:`latent_episodes`: one episode per latent ``z`` on a single env, each reset with the
  same seed (so every latent starts from the same state; by default the ``Default`` standing
  pose), the mean action of ``pi(a | s, z)`` at every step. With ``frames`` the episode is
  played a second time (same seed, same mean actions: the same episode) with
  ``render_mode="rgb_array"`` (the humanoid's ``track`` camera, which follows the pelvis), and
  ``frames`` evenly spaced steps are rendered. :func:`save_latent_strip` tiles them, one row
  per latent (:func:`imitenvs.viz.save_frame_grid`).
- :func:`style_per_clip`: the trained discriminator's style reward
  (:func:`imitenvs.agents.evaluation.transition_style_reward`, the reward ASE trains with:
  ``-log(max(1 - D, 1e-4)) * reward_scale``) of every demo transition ``[s_t, s_{t-dt}]`` of
  each clip (:func:`clip_transitions`) and of the policy's own transitions in the episodes
  above, as mean and std.

:func:`ase_figures` does both for a checkpoint; ``presets.ase_test_mode`` (the trainer's
``--mode test`` and ``examples/train_ase.py``) calls it for ``--latent-strip`` /
``--style-json``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

from imitenvs.agents.adversarial.amp import AMPConfig, Discriminator
from imitenvs.agents.adversarial.ase import ASEConfig, sample_latents
from imitenvs.agents.episode import run_episode
from imitenvs.agents.evaluation import (
    PolicyFn,
    evaluation_kwargs,
    load_policy,
    mean_std,
    ppo_policy,
    transition_style_reward,
)
from imitenvs.agents.onpolicy.ppo import PPO
from imitenvs.agents.onpolicy.runner import read_checkpoint
from imitenvs.core.files import atomic_write_json
from imitenvs.core.render import default_headless_gl

logger = logging.getLogger(__name__)

DEMO_STRIDE_FRACTION = 0.25
"""demo transitions of a clip are taken every ``0.25 dt`` of clip time"""


def load_ase_discriminator(
    checkpoint: str | Path, device: str = "cpu"
) -> tuple[Discriminator, AMPConfig]:
    """The trained discriminator of an ASE checkpoint and its settings as an
    :class:`AMPConfig` (:meth:`ASEConfig.amp_config`); read with ``weights_only`` and checked
    against its digest. ``ValueError`` for a checkpoint that is not ASE's."""
    state = read_checkpoint(checkpoint, device)
    saved = state.get("amp_cfg") or {}
    amp = state.get("amp") or {}
    if saved.get("latent_dim") is None or "prior" not in amp:
        raise ValueError(f"{checkpoint} is not an ASE checkpoint (no latent_dim / encoder)")
    known = {f.name for f in fields(ASEConfig)}
    cfg = ASEConfig(**{k: v for k, v in saved.items() if k in known}).amp_config()
    weights = amp["prior"]["disc"]
    in_dim = int(weights["trunk.0.weight"].shape[1])
    amp_dim = in_dim * 2 // 3 if cfg.delta_features else in_dim
    disc = Discriminator(amp_dim, cfg).to(device)
    disc.load_state_dict(weights)
    disc.eval()
    return disc, cfg


def latent_policy(ppo: PPO, z: np.ndarray, action_space: gymnasium.spaces.Box) -> PolicyFn:
    """The mean action of ``ppo`` for ``[obs, z / |z|]`` (:func:`ppo_policy` with the latent
    appended to every observation)."""
    base = ppo_policy(ppo, action_space)
    z = np.asarray(z, dtype=np.float32).reshape(-1)
    z = z / max(float(np.linalg.norm(z)), 1e-12)

    def act(obs: np.ndarray) -> np.ndarray:
        return base(np.concatenate([np.asarray(obs, dtype=np.float32).reshape(-1), z]))

    return act


def latent_episodes(
    ppo: PPO,
    env_id: str,
    latents: np.ndarray | torch.Tensor,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    frames: int = 0,
) -> list[dict[str, Any]]:
    """One episode of the mean policy per latent (``latents`` ``(K, d)``), each on a single
    ``env_id`` env reset with ``seed``: the same start state for every latent.

    Args:
        frames: render this many evenly spaced steps of each episode (0: none; the episode is
            replayed with ``render_mode="rgb_array"``, see the module docstring).

    Returns:
        per latent ``{"latent" (d,), "observations" (T + 1, O), "steps" T, "fell" (ended
        before the time limit), "frames" [(step, (H, W, 3) uint8), ...]}``.
    """
    z = np.asarray(latents.cpu() if isinstance(latents, torch.Tensor) else latents, np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"latents must be (K, d) with K >= 1, got shape {z.shape}")
    if frames < 0:
        raise ValueError(f"frames must be >= 0, got {frames}")
    if frames:
        default_headless_gl("rgb_array")
    env = gymnasium.make(
        env_id, render_mode="rgb_array" if frames else None, **dict(env_kwargs or {})
    )
    try:
        limit = int(env.unwrapped.max_episode_steps)
        episodes = []
        for latent in z:
            act = latent_policy(ppo, latent, env.action_space)
            ep = run_episode(env, act, seed=seed)
            steps = int(ep["steps"])
            shots = _replay_frames(env, act, seed, steps, frames) if frames else []
            episodes.append(
                {
                    "latent": latent / max(float(np.linalg.norm(latent)), 1e-12),
                    "observations": ep["observations"],
                    "steps": steps,
                    "fell": steps < limit,
                    "frames": shots,
                }
            )
    finally:
        env.close()
    return episodes


def _replay_frames(
    env: gymnasium.Env, act: PolicyFn, seed: int, steps: int, count: int
) -> list[tuple[int, np.ndarray]]:
    """Replay an episode of ``steps`` steps and render ``count`` evenly spaced steps of it (the
    state before each step: after the last step a batched env has already reset)."""
    picks = set(np.unique(np.linspace(0, max(steps - 1, 0), count).round().astype(int)).tolist())
    obs, _ = env.reset(seed=seed)
    shots = []
    for t in range(steps):
        if t in picks:
            shots.append((t, np.asarray(env.render())))
        obs, _, terminated, truncated, _ = env.step(act(obs))
        if (terminated or truncated) and t < steps - 1:
            logger.warning("the replayed episode ended at step %d, not %d", t + 1, steps)
            break
    return shots


def save_latent_strip(
    episodes: list[dict[str, Any]], path: str | Path, labels: list[str] | None = None
) -> Path:
    """Tile the frames of :func:`latent_episodes` into one image, one row per latent (labelled
    by its index, episode length and whether it fell)."""
    from imitenvs.viz import save_frame_grid

    if labels is None:
        labels = [
            f"z{k}: {ep['steps']} steps\n{'fell' if ep['fell'] else 'time limit'}"
            for k, ep in enumerate(episodes)
        ]
    rows = [(lab, ep["frames"]) for lab, ep in zip(labels, episodes, strict=True)]
    return save_frame_grid(rows, path)


def clip_transitions(batch: Any, clip: int) -> tuple[np.ndarray, np.ndarray]:
    """The demo transitions of clip ``clip`` of a humanoid env's motion library, as the
    discriminator's demos are built (``sample_amp_demos``: ``s_t`` and ``s_{t-dt}``): ``t``
    from ``dt`` to the clip's end every :data:`DEMO_STRIDE_FRACTION` ``* dt``.

    Returns:
        ``(s_prev (M, O), s (M, O))`` float32 character observations.
    """
    dt = float(batch.dt)
    length = float(batch.motion.clip_lengths[clip])
    stride = DEMO_STRIDE_FRACTION * dt
    count = max(1, math.floor((length - dt) / stride + 1e-6) + 1)
    times = dt + torch.arange(count, device=batch.device, dtype=torch.float32) * stride
    ids = torch.full((count,), clip, device=batch.device, dtype=torch.int64)
    now = batch.character_obs(batch.reference_state(ids, times))
    prev = batch.character_obs(batch.reference_state(ids, times - dt))
    return (
        prev.detach().cpu().numpy().astype(np.float32),
        now.detach().cpu().numpy().astype(np.float32),
    )


def style_per_clip(
    disc: Discriminator,
    cfg: AMPConfig,
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    episodes: list[dict[str, Any]] = (),  # type: ignore[assignment]
    head: int = 30,
    tail: int = 10,
) -> dict[str, Any]:
    """The discriminator's style reward (mean, std, count) of each clip's demo transitions
    (:func:`clip_transitions`) and of the policy's transitions in ``episodes``
    (:func:`latent_episodes`): per latent (with the mean of its first ``head`` and last
    ``tail`` transitions), all together (``policy``) and the first ``head`` transitions of each
    episode only (``policy_first_steps``: before a fall, if any)."""
    score = transition_style_reward(disc, cfg, newest_first=True)  # humanoid: [s_t, s_{t-1}]
    probe = gymnasium.make(env_id, **dict(env_kwargs or {}))
    try:
        batch = probe.unwrapped.batch
        clips = {}
        for c, name in enumerate(batch.motion.clip_names):
            prev, now = clip_transitions(batch, c)
            clips[name] = _stats(score(prev, now))
    finally:
        probe.close()
    rewards = [score(ep["observations"][:-1], ep["observations"][1:]) for ep in episodes]
    per_latent = [
        {**_stats(r), "first_steps_mean": round(float(r[:head].mean()), 4),
         "last_steps_mean": round(float(r[-tail:].mean()), 4)}
        for r in rewards
    ]  # fmt: skip
    result: dict[str, Any] = {"clips": clips, "policy_per_latent": per_latent}
    if episodes:
        result["policy"] = _stats(np.concatenate(rewards))
        result["policy_first_steps"] = {
            "steps": head,
            **_stats(np.concatenate([r[:head] for r in rewards])),
        }
    return result


def _stats(values: np.ndarray) -> dict[str, Any]:
    return {**{k: round(v, 4) for k, v in mean_std(values).items()}, "transitions": len(values)}


def ase_figures(
    checkpoint: str | Path,
    latents: np.ndarray | torch.Tensor | None = None,
    count: int = 4,
    seed: int = 0,
    strip: str | Path | None = None,
    style_json: str | Path | None = None,
    frames: int = 6,
    state_init: str | None = "Default",
    device: str = "cpu",
) -> dict[str, Any]:
    """Both figures for an ASE checkpoint: ``latents`` (or ``count`` random ones seeded by
    ``seed``) each play one episode from the same start (reset seed ``seed``; ``state_init``
    overrides the run's, ``None`` keeps it) under the run's env kwargs (training-only
    terminations off); the frame strip goes to ``strip`` and the style reward per clip
    (:func:`style_per_clip`) to ``style_json`` (both optional, written atomically).

    Returns:
        the JSON document (also written to ``style_json``).
    """
    ppo, run = load_policy(checkpoint, device)
    disc, cfg = load_ase_discriminator(checkpoint, device)
    dim = int(read_checkpoint(checkpoint, device)["amp_cfg"]["latent_dim"])
    if latents is None:
        latents = sample_latents(count, dim, torch.Generator().manual_seed(seed))
    z = np.asarray(latents.cpu() if isinstance(latents, torch.Tensor) else latents, np.float32)
    if z.ndim != 2 or z.shape[1] != dim:
        raise ValueError(f"latents must be (K, {dim}) for this checkpoint, got {z.shape}")
    kwargs = evaluation_kwargs(run.env_kwargs)
    if state_init is not None:
        kwargs["state_init"] = state_init
    episodes = latent_episodes(ppo, run.env_id, z, seed, kwargs, frames if strip else 0)
    style = style_per_clip(disc, cfg, run.env_id, kwargs, episodes)
    result: dict[str, Any] = {
        "what": "ASE discriminator style reward -log(max(1 - D, 1e-4)) * reward_scale of each "
        "clip's demo transitions and of the policy's own transitions (one episode per latent, "
        "mean action, same start state)",
        "checkpoint": str(checkpoint),
        "env": run.env_id,
        "env_kwargs": kwargs,
        "seed": seed,
        "reward_scale": cfg.reward_scale,
        "latents": len(z),
        "episodes": [{"steps": ep["steps"], "fell": ep["fell"]} for ep in episodes],
        **style,
    }
    if strip is not None:
        result["strip"] = str(save_latent_strip(episodes, strip))
    if style_json is not None:
        atomic_write_json(style_json, result)
    return result
