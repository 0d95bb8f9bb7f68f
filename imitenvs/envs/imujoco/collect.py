"""Collect iMuJoCo demonstrations with a policy, and train SAC experts for variants.

Collection follows the original protocol: each trajectory is a block of ``steps`` rows (1000)
that starts with a reset; when an episode terminates inside a block, the env is reset and the
block goes on, so a Hopper or Walker2d block can hold several episodes (exactly as the
original README's loop). The env's time limit is the block length, so the block's last step
truncates its running episode. Rows are written in the original layout plus the episode-end
arrays described in :mod:`imitenvs.envs.imujoco.dataset`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from tqdm.auto import tqdm

from imitenvs.core.checks import check_positive_int
from imitenvs.envs.imujoco.dataset import ImujocoData
from imitenvs.envs.imujoco.grid import TRAJECTORY_STEPS, parse_variant
from imitenvs.envs.imujoco.policies import Policy

logger = logging.getLogger(__name__)


def collect(
    variant: str,
    policy: Policy,
    trajectories: int,
    steps: int = TRAJECTORY_STEPS,
    seed: int = 0,
    progress: bool = True,
) -> ImujocoData:
    """Roll ``policy`` out on a variant: ``trajectories`` blocks of ``steps`` rows.

    Args:
        variant: Variant name, e.g. ``"hopper-massdec_25_leggeom"``.
        policy: ``obs -> action``; actions are clipped to the action space and the clipped
            action is both stepped and stored.
        trajectories: Number of blocks.
        steps: Rows per block (1000 in the original data).
        seed: Seed of the first reset (later resets continue the env's generator).
        progress: Show a progress bar.

    Returns:
        The collected rows with rewards and episode ends.
    """
    v = parse_variant(variant)
    check_positive_int("trajectories", trajectories)
    check_positive_int("steps", steps)
    env = gymnasium.make(v.env_id, max_episode_steps=steps)
    space = env.action_space
    n, robot = trajectories * steps, v.robot
    obs_rows, act_rows = np.zeros((n, robot.obs_dim)), np.zeros((n, robot.act_dim))
    rewards, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
    finals: list[np.ndarray] = []
    bar = tqdm(total=n, desc=f"collect {variant}", unit="step", disable=not progress)
    try:
        row = 0
        for k in range(trajectories):
            obs, _ = env.reset(seed=seed if k == 0 else None)
            for t in range(steps):
                action = np.clip(policy(obs), space.low, space.high).astype(space.dtype)
                obs_rows[row], act_rows[row] = obs, action
                obs, reward, term, trunc, _ = env.step(action)
                rewards[row], terminated[row] = reward, term
                truncated[row] = not term and (trunc or t == steps - 1)
                if term or truncated[row]:
                    finals.append(np.asarray(obs, dtype=float))
                    if t < steps - 1:
                        obs, _ = env.reset()
                row += 1
            bar.update(steps)
    finally:
        bar.close()
        env.close()
    ends = int(np.count_nonzero(terminated | truncated))
    logger.info("collected %d rows, %d episodes", n, ends)
    return ImujocoData(
        robot=robot,
        observations=obs_rows,
        actions=act_rows,
        rewards=rewards,
        terminated=terminated,
        truncated=truncated,
        final_observations=np.stack(finals),
    )


def _progress_callback(total: int, desc: str) -> Any:
    """An SB3 callback driving a tqdm bar (SB3's own needs ``rich``)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class TqdmCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, desc=desc, unit="step")
            self.bar.update(self.num_timesteps)

        def _on_step(self) -> bool:
            self.bar.update(1)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return TqdmCallback()


def train_expert(
    variant: str,
    total_steps: int,
    out: str | Path,
    seed: int = 0,
    checkpoint_every: int = 50_000,
    resume: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Train an SB3 SAC expert on a variant and save it to ``out`` (a ``.zip``).

    Hyperparameters: SB3's SAC defaults (the original ones are not published) with
    ``learning_starts = min(10_000, max(100, total_steps // 10))`` and a replay buffer of
    ``min(1_000_000, total_steps)``. Checkpoints go to ``<out without .zip>_checkpoints/``
    every ``checkpoint_every`` steps; ``resume`` continues from such a checkpoint (the step
    counter and optimizer states continue, the replay buffer starts empty). Checkpoints are
    read without unpickling (:func:`imitenvs.adapters.sb3_zip.load_sb3_zip`: a crafted zip is
    a ``ValueError``) and every zip is written atomically.

    Returns:
        The saved model's path.
    """
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import CallbackList

    from imitenvs.adapters.sb3_zip import AtomicCheckpointCallback, load_sb3_zip, save_sb3_zip

    v = parse_variant(variant)
    check_positive_int("total_steps", total_steps)
    check_positive_int("checkpoint_every", checkpoint_every)
    out = Path(out).with_suffix(".zip")
    env = gymnasium.make(v.env_id)
    if resume is not None:
        model = load_sb3_zip(resume, algo="sac", env=env, device="cpu", training=True)
        logger.info("resuming from %s at step %d", resume, model.num_timesteps)
    else:
        model = SAC(
            "MlpPolicy",
            env,
            seed=seed,
            device="cpu",
            learning_starts=min(10_000, max(100, total_steps // 10)),
            buffer_size=min(1_000_000, total_steps),
            verbose=0,
        )
    checkpoints = AtomicCheckpointCallback(
        save_freq=checkpoint_every,
        save_path=str(out.with_name(f"{out.stem}_checkpoints")),
        name_prefix="sac",
    )
    callbacks = [checkpoints]
    if progress:
        callbacks.append(_progress_callback(total_steps, f"SAC {variant}"))
    model.learn(
        total_timesteps=total_steps,
        callback=CallbackList(callbacks),
        reset_num_timesteps=resume is None,
    )
    save_sb3_zip(model, out)
    env.close()
    return out
