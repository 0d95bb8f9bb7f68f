"""MILO's data pipeline on the batched humanoid tasks: checkpoint statistics, score-bucketed
offline datasets and expert datasets from the clips (``dhruvsreenivas/amp_extensions``
``milo/milo/collect_data.py`` / ``collect_expert.py``; see ``docs/milo.md``).

Every rollout batch is one batched env: the ``R`` repetitions of one checkpoint run as ``R``
parallel worlds, each reset onto the reference at its own clip time
(:meth:`~imitenvs.envs.humanoid.base.HumanoidEnv.reset_to_reference`) and stepped with the
policy's mean action until its episode ends. The env runs with ``autoreset_mode="next_step"``,
so a finished world keeps its final state through the step that ends it and the DTW features
of the final state can be read (its later steps are masked out). Episodes whose world
diverged or produced NaN are discarded and drawn again.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import imitenvs
from imitenvs.data.dtw import deepmimic_dtw, joint_features

log = logging.getLogger(__name__)

STATS_FORMAT = "imitenvs.milo.stats"
CHECKPOINT_NAME = re.compile(r"checkpoint_(\d+)\.pt$")
MAX_ROUNDS = 20
"""rollout batches per checkpoint before too many invalid episodes is an error"""
DTW_CHUNK = 16
"""episodes per batched DTW computation (bounds the memory of the distance tables)"""


@dataclass(frozen=True)
class ResetOptions:
    """How episodes start (the original's ``reset_time`` parameters)."""

    time_range: tuple[float, float] | None = None
    """clip times ``U(lo, hi)`` (``--custom_time_range``); ``None``: ``U(0, clip length)``"""
    pose_noise: float = 0.0
    """``U(-x, x)`` rad added to each hinge angle (``--radian``)"""
    vel_noise: float = 0.0
    """``U(-x, x)`` rad/s added to each hinge velocity (``--vel_noise``)"""
    velocity_scale: float = 1.0
    """reference velocities times this (``--interpolation``: 1 the clip's, 0 at rest)"""
    resolve: bool = True
    """lift a character that penetrates the floor (``--no_resolve`` turns it off)"""

    def __post_init__(self) -> None:
        if self.time_range is not None:
            lo, hi = (float(x) for x in self.time_range)
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
                raise ValueError(f"time_range must be 0 <= lo <= hi, got {self.time_range}")
        for name in ("pose_noise", "vel_noise", "velocity_scale"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


# ------------------------------------------------------------------------- checkpoints
def find_checkpoints(
    run: str | Path, lower: int = 0, upper: int | None = None, every: int = 1
) -> dict[int, Path]:
    """The runner's numbered checkpoints ``checkpoint_NNNNNN.pt`` of ``run`` with
    ``lower <= iteration <= upper`` and ``(iteration - lower) % every == 0``, by iteration.

    Raises:
        FileNotFoundError: ``run`` is not a folder, or no checkpoint lies in the range.
    """
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"run folder {run} does not exist")
    if every < 1 or lower < 0 or (upper is not None and upper < lower):
        raise ValueError(f"need 0 <= lower <= upper and every >= 1, got {lower}, {upper}, {every}")
    found = {}
    for path in run.glob("checkpoint_*.pt"):
        match = CHECKPOINT_NAME.search(path.name)
        if match is None:
            continue
        it = int(match.group(1))
        if it >= lower and (upper is None or it <= upper) and (it - lower) % every == 0:
            found[it] = path
    if not found:
        raise FileNotFoundError(
            f"no checkpoint_NNNNNN.pt in {run} with {lower} <= iteration <= {upper} every {every}"
        )
    return dict(sorted(found.items()))


def score_name_of(env_id: str) -> str:
    """``"ep_rew"`` for the tracking task (DeepMimic ``imitate`` scene: the reward), else
    ``"dtw_cost"`` (AMP scenes: DeepMimic's DTW cost)."""
    entry = imitenvs.registry.get_entry(env_id)
    if entry.family != "humanoid":
        raise ValueError(f"MILO collection runs on the humanoid ids, not {env_id!r}")
    return (
        "ep_rew"
        if entry.entry_point.endswith("HumanoidImitateEnv") or "Imitate" in env_id
        else "dtw_cost"
    )


def load_checkpoint_policy(
    path: Path, env_id: str, env_kwargs: dict | None = None
) -> tuple[Any, dict]:
    """The mean policy of a runner checkpoint and the env kwargs it was evaluated with.

    Raises:
        ValueError: the checkpoint was trained on another env id, or with other env kwargs
            than ``env_kwargs`` (when given).
    """
    from imitenvs.agents.evaluation import evaluation_kwargs, load_policy

    ppo, run = load_policy(path)
    if run.env_id != env_id:
        raise ValueError(f"{path} was trained on {run.env_id!r}, not {env_id!r}")
    kwargs = evaluation_kwargs(run.env_kwargs)
    if env_kwargs is not None and kwargs != env_kwargs:
        raise ValueError(
            f"{path} was trained with env kwargs {kwargs}, the others with {env_kwargs}"
        )
    return ppo, kwargs


# --------------------------------------------------------------------------- rollouts
class Roller:
    """A batched humanoid env of ``num_envs`` worlds that rolls out one episode per world."""

    def __init__(self, env_id: str, env_kwargs: dict, num_envs: int, reset: ResetOptions) -> None:
        kwargs = {**env_kwargs, "autoreset_mode": "next_step"}
        self.env = gymnasium.make(env_id, num_envs=num_envs, **kwargs)
        self.batch = self.env.unwrapped
        self.reset, self.score_name = reset, score_name_of(env_id)
        self.horizon = int(self.batch.max_episode_steps)

    def close(self) -> None:
        self.env.close()

    def start_times(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Clip ids (by weight) and clip times of every world's reset."""
        motion, n = self.batch.motion, self.batch.num_envs
        weights = np.asarray(motion.weights.cpu(), dtype=np.float64)
        clips = rng.choice(motion.num_clips, size=n, p=weights / weights.sum())
        if self.reset.time_range is None:
            lengths = np.asarray(motion.clip_lengths.cpu(), dtype=np.float64)[clips]
            return clips, rng.uniform(0.0, 1.0, n) * lengths
        return clips, rng.uniform(*self.reset.time_range, n)

    def _bodies(self) -> np.ndarray:
        return self.batch.physics.xpos[:, 1:].detach().cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def run(self, ppo: Any, seed: int) -> dict[str, np.ndarray]:
        """One episode per world. Returns ``states (B, H+1, O)``, ``actions (B, H, A)``,
        ``rewards (B, H)``, ``lengths (B,)`` (steps T), ``valid (B,)``, ``clips``, ``times``
        and, for DTW scenes, ``bodies (B, H+1, J, 3)`` body positions of the character."""
        b, h, rng = self.batch, self.horizon, np.random.default_rng(seed)
        clips, times = self.start_times(rng)
        r = self.reset
        obs = b.reset_to_reference(
            clips,
            times,
            seed=seed,
            pose_noise=r.pose_noise,
            vel_noise=r.vel_noise,
            velocity_scale=r.velocity_scale,
            resolve=r.resolve,
        )
        n, o, a = b.num_envs, obs.shape[1], b.single_action_space.shape[0]
        states = np.zeros((n, h + 1, o), np.float32)
        actions, rewards = np.zeros((n, h, a), np.float32), np.zeros((n, h))
        bodies = np.zeros((n, h + 1, b.physics.xpos.shape[1] - 1, 3))
        states[:, 0], bodies[:, 0] = obs, self._bodies()
        alive, valid = np.ones(n, bool), np.isfinite(obs).all(1)
        lengths = np.zeros(n, np.int64)
        for k in range(h):
            act = ppo.act_deterministic(torch.as_tensor(obs, dtype=torch.float32)).cpu().numpy()
            obs, rew, term, trunc, info = self.env.step(act)
            live = alive[:, None]
            states[:, k + 1] = np.where(live, obs, states[:, k + 1])
            actions[:, k] = np.where(live, act, 0.0)
            rewards[:, k] = np.where(alive, rew, 0.0)
            bodies[:, k + 1] = np.where(live[..., None], self._bodies(), 0.0)
            bad = np.asarray(info["diverged"]) | ~np.isfinite(obs).all(1) | ~np.isfinite(act).all(1)
            valid &= ~(alive & bad)
            lengths += alive
            alive &= ~(np.asarray(term) | np.asarray(trunc))
            if not alive.any():
                break
        out = dict(
            states=states,
            actions=actions,
            rewards=rewards,
            lengths=lengths,
            valid=valid,
            clips=clips,
            times=times,
        )
        if self.score_name == "dtw_cost":
            out["bodies"] = bodies
        return out

    def reference_bodies(self, clips: np.ndarray, times: np.ndarray) -> np.ndarray:
        """``(B, H+1, J, 3)`` body positions of the reference at ``times + k dt``."""
        b, h = self.batch, self.horizon
        t = torch.as_tensor(times, dtype=torch.float32)[:, None] + torch.arange(h + 1) * float(b.dt)
        ids = torch.as_tensor(clips, dtype=torch.int64)[:, None].expand_as(t)
        ref = b.motion.get_state(ids.reshape(-1).to(b.device), t.reshape(-1).to(b.device))
        pos, _ = b.kinematics.forward(ref.root_pos, ref.root_rot, ref.dof_pos)
        return pos.reshape(len(clips), h + 1, -1, 3).detach().cpu().numpy().astype(np.float64)

    def scores(self, out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Episode scores ``(B,)`` and per-step scores ``(B, H+1)`` (DTW paths, one per state)
        or ``(B, H)`` (rewards)."""
        if self.score_name == "ep_rew":
            return out["rewards"].sum(1), out["rewards"]
        n = len(out["lengths"])
        totals, paths = np.zeros(n), np.zeros((n, self.horizon + 1))
        for start in range(0, n, DTW_CHUNK):  # chunks of worlds, each chunk vectorised
            rows = slice(start, start + DTW_CHUNK)
            sim = joint_features(out["bodies"][rows])
            ref = joint_features(self.reference_bodies(out["clips"][rows], out["times"][rows]))
            totals[rows], paths[rows] = deepmimic_dtw(
                sim, ref, out["lengths"][rows] + 1, self.horizon + 2
            )
        return totals, paths

    def episodes(self, ppo: Any, count: int, seed: int) -> dict[str, Any]:
        """``count`` valid episodes (invalid ones drawn again, at most :data:`MAX_ROUNDS`
        batches). Returns per-episode lists ``states``, ``actions``, ``scores`` and arrays
        ``score``, ``length``, ``clip``, ``time``, plus ``discarded``."""
        keep: dict[str, list] = {
            k: [] for k in ("states", "actions", "scores", "score", "length", "clip", "time")
        }
        discarded = 0
        for round_ in range(MAX_ROUNDS):
            if len(keep["score"]) >= count:
                break
            out = self.run(ppo, int(np.random.SeedSequence([seed, round_]).generate_state(1)[0]))
            totals, steps = self.scores(out) if out["valid"].any() else (None, None)
            discarded += int((~out["valid"]).sum())
            for i in np.flatnonzero(out["valid"])[: count - len(keep["score"])]:
                t = int(out["lengths"][i])
                keep["states"].append(out["states"][i, : t + 1])
                keep["actions"].append(out["actions"][i, :t])
                keep["scores"].append(steps[i, : t + (1 if self.score_name == "dtw_cost" else 0)])
                keep["score"].append(totals[i])
                keep["length"].append(t)
                keep["clip"].append(int(out["clips"][i]))
                keep["time"].append(float(out["times"][i]))
        if len(keep["score"]) < count:
            raise RuntimeError(
                f"only {len(keep['score'])} of {count} episodes were valid after "
                f"{MAX_ROUNDS} batches"
            )
        return {**keep, "discarded": discarded}
