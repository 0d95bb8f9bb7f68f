"""Evaluating trained policies: episode statistics, the DTW pose error of humanoid policies, and
an AMP discriminator read as a transition score (for :func:`imitenvs.viz.maze_heatmap`).

**DTW pose error.** NEAR (``near_continuous.py`` ``compute_performance_metrics``) rolls out the
mean policy, takes the body positions relative to the root in every frame, and compares that
sequence with each demonstration clip using tslearn's ``dtw`` divided by the number of bodies.
tslearn's DTW is ``sqrt(sum over the optimal path of ||x_i - y_j||^2)``: the path minimises the
sum of *squared* Euclidean distances and the square root is taken at the end.
:func:`dtw_distance` computes this (``squared=True``, the default), or classic DTW with the
Euclidean local cost (``squared=False``), either one optionally divided by the path length.

:func:`humanoid_pose_error` reports two numbers per episode, each the minimum over the clips of
the env's motion library:

- ``dtw_pose_error``: NEAR's definition, ``dtw_distance(x, y) / K`` (not normalised by the path
  length, so that it can be compared with NEAR's logged ``mean_dtw_pose_error``). It grows with
  the episode length, about as ``sqrt(T)``, so a policy that falls early can score lower
  than one that keeps going.
- ``dtw_pose_rmse``: ``dtw_distance(x, y, normalize=True) / sqrt(K)``. This is the root mean
  square distance per body, in metres, between frames matched by the optimal alignment. It does
  not depend on the episode length, so it is the number to compare policies with.

Where this follows NEAR and where it differs:

- *Features* (:func:`pose_features`): the K key bodies of the AMP observation (right hand,
  left hand, right foot, left foot), relative to the root and rotated into the root's heading
  frame (yaw only). These are exactly ``obs[93:105]`` of the humanoid observation, so the
  frame an episode ends on, which is reset inside ``step``, is still measured from
  ``final_obs``. NEAR uses all 15 bodies in world axes. The heading frame makes the error
  independent of the direction the character walks in.
- *Reference*: each clip is sampled at the control rate (``env.dt``). Clamped clips are
  played once from time 0, as in NEAR. Looping clips (``loop_mode="wrap"``) are played for as
  many frames as the episode has (the shipped walk cycle lasts 1 s, so played once it could
  not be aligned with a 10 s walk), starting at the phase of the cycle closest to the
  episode's first frame (:func:`loop_start`). A cycle has no natural first frame, and DTW pins
  both sequences' first frames together: started at phase 0, a perfect copy of the clip that
  starts half a cycle later (reference state initialisation starts episodes at random clip
  times) scores a DTW pose RMSE of about 0.05 m on the walk clip instead of 0.
- *Over clips*: the minimum over clips, not NEAR's mean. AMP does not tie an episode to a clip,
  so the clip the policy resembles most is the one it imitates. Averaging would penalise a
  policy for not performing every clip of a multi-clip dataset at once. With one clip, as in
  ``walk.yaml``, the two are the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from tqdm import tqdm

from imitenvs.agents.adversarial.amp import AMPConfig, Discriminator, style_reward
from imitenvs.agents.episode import run_episode
from imitenvs.agents.onpolicy.ppo import PPO, PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, read_checkpoint
from imitenvs.assets import asset_path
from imitenvs.core.files import load_torch, save_torch
from imitenvs.data.dtw import dtw_cost as dtw_cost  # the one DP (imitenvs.data.dtw)
from imitenvs.envs.humanoid.obs import AMP_OBS_SLICES, heading_cos_sin, to_heading_frame
from imitenvs.motion import MotionState

PolicyFn = Callable[[np.ndarray], np.ndarray]
"""One observation ``(O,)`` -> one action ``(A,)`` (numpy)."""
KEY_POS = AMP_OBS_SLICES["key_pos"]
ROOT_VEL_X = AMP_OBS_SLICES["root_vel"].start  # forward component of the root velocity
"""Where the key-body features sit in a humanoid observation (``obs[93:105]``)."""
_DTW_MAX_BLOCK = 4_000_000  # floats per block of the pairwise-distance computation


# ----------------------------------------------------------------------------------- DTW
def _as_sequence(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty (T, D) sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(T, U)`` squared Euclidean distances, computed in blocks of rows of ``a``."""
    out = np.empty((len(a), len(b)))
    rows = max(1, _DTW_MAX_BLOCK // (len(b) * a.shape[1]))
    for start in range(0, len(a), rows):
        diff = a[start : start + rows, None, :] - b[None, :, :]
        out[start : start + rows] = np.einsum("tud,tud->tu", diff, diff)
    return out


def dtw_distance(a: Any, b: Any, *, squared: bool = True, normalize: bool = False) -> float:
    """Dynamic time warping distance between sequences ``a (T, D)`` and ``b (U, D)``.

    ``(T,)`` inputs are read as ``(T, 1)``. The result is symmetric in ``a`` and ``b``.

    Args:
        squared: tslearn's (and NEAR's) definition: the path minimises the summed *squared*
            Euclidean distances and the result is the square root of that sum. ``False`` gives
            classic DTW with the Euclidean local cost: the path's summed distances.
        normalize: divide the summed cost by the optimal path's length (before the square
            root when ``squared``). The result is then the root mean square (or mean) distance
            between matched frames, which does not grow with the sequence lengths.

    Raises:
        ValueError: empty, non-finite or mismatched inputs.
    """
    a, b = _as_sequence(a, "a"), _as_sequence(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b need the same feature size, got {a.shape[1]} and {b.shape[1]}")
    local = _squared_distances(a, b)
    if not squared:
        local = np.sqrt(local)
    total, length = dtw_cost(local)
    if normalize:
        total /= length
    return math.sqrt(total) if squared else total


# ------------------------------------------------------------------------- pose features
def pose_features(state: MotionState) -> np.ndarray:
    """``(T, K*3)`` float64 key-body positions relative to the root, in the root's heading frame.

    ``state`` is a batch of ``T`` simulated or reference states (numpy or torch; quaternions
    xyzw) with key bodies ``key_pos (T, K, 3)`` in the world. The result equals the humanoid
    observation's ``obs[93:105]`` (:data:`KEY_POS`) of the same states.
    """
    root_pos = torch.as_tensor(np.asarray(_numpy(state.root_pos)), dtype=torch.float64)
    root_rot = torch.as_tensor(np.asarray(_numpy(state.root_rot)), dtype=torch.float64)
    key_pos = torch.as_tensor(np.asarray(_numpy(state.key_pos)), dtype=torch.float64)
    cos_h, sin_h = heading_cos_sin(root_rot)
    local = to_heading_frame(key_pos - root_pos[:, None, :], cos_h, sin_h)
    return local.flatten(1).numpy()


def _numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def loop_start(cycle: np.ndarray, first: np.ndarray, dt: float) -> float:
    """The time in a looping clip (a multiple of ``dt`` within one cycle) whose pose features
    are closest to ``first`` ``(K*3,)``, an episode's first frame; ``cycle`` ``(C, K*3)`` holds
    the features of one cycle at ``0, dt, 2 dt, ...`` (:func:`reference_features`)."""
    return float(np.argmin(((cycle - first) ** 2).sum(-1))) * dt


def reference_features(batch: Any, clip: int, num_frames: int, start: float = 0.0) -> np.ndarray:
    """Pose features of clip ``clip`` of a humanoid env's motion library, at the control rate.

    Args:
        batch: the batched humanoid env (``gymnasium.make(id).unwrapped.batch``).
        clip: clip index in ``batch.motion``.
        num_frames: frames of the episode it is compared with. Looping clips are played for
            this many frames; clamped clips are played once (``floor(length / dt) + 1``
            frames).
        start: clip time of the first frame (seconds; looping clips).

    Returns:
        ``(U, K*3)`` features of ``batch.reference_state`` at ``start, start + dt, ...``.
    """
    if bool(batch.clip_loops[clip]):
        count = num_frames
    else:
        count = math.floor(float(batch.motion.clip_lengths[clip]) / batch.dt + 1e-6) + 1
    times = start + torch.arange(count, device=batch.device, dtype=torch.float32) * batch.dt
    ids = torch.full((count,), clip, device=batch.device, dtype=torch.int64)
    return pose_features(batch.reference_state(ids, times))


# -------------------------------------------------------------------------- rollouts
def random_policy(action_space: gymnasium.spaces.Box, seed: int) -> PolicyFn:
    """A baseline: actions drawn uniformly from the (bounded) ``action_space``, seeded."""
    low = np.asarray(action_space.low, dtype=np.float64)
    high = np.asarray(action_space.high, dtype=np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"random_policy needs a bounded action space, got {action_space}")
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        return rng.uniform(low, high).astype(action_space.dtype)

    return act


def ppo_policy(ppo: PPO, action_space: gymnasium.spaces.Box | None = None) -> PolicyFn:
    """The deterministic (mean) policy of ``ppo``. When ``action_space`` is bounded and not
    ``[-1, 1]``, the policy's ``[-1, 1]`` is mapped onto it linearly, as the runner's
    :class:`~imitenvs.agents.vec.VecAdapter` does in training."""
    low = high = None
    if action_space is not None:
        lo = np.asarray(action_space.low, dtype=np.float64)
        hi = np.asarray(action_space.high, dtype=np.float64)
        if np.all(np.isfinite(lo) & np.isfinite(hi)) and not (np.all(lo == -1) and np.all(hi == 1)):
            low, high = lo, hi

    def act(obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=ppo.device)[None]
        a = ppo.act_deterministic(x)[0].cpu().numpy()
        return a if low is None else low + (a + 1.0) * 0.5 * (high - low)

    return act


def run_episodes(
    policy_fn: PolicyFn,
    env_id: str,
    episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """``episodes`` episodes of ``policy_fn`` on a single ``env_id`` env, reset with seeds
    ``seed, seed + 1, ...``; each result as :func:`imitenvs.agents.episode.run_episode`."""
    if not isinstance(episodes, int) or episodes <= 0:
        raise ValueError(f"episodes must be an integer > 0, got {episodes!r}")
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    try:
        bar = tqdm(range(episodes), disable=not progress, unit="ep", desc=env_id, leave=False)
        return [run_episode(env, policy_fn, seed=seed + i) for i in bar]
    finally:
        env.close()


def mean_std(values: Any) -> dict[str, float]:
    """``{"mean", "std"}`` (population std) of a non-empty sequence of numbers."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}


def episode_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return and length (mean/std) of episodes, and the success rate when the env reports
    ``info["is_success"]`` (else ``None``)."""
    reported = all(r.get("success_reported", False) for r in results)
    return {
        "episodes": len(results),
        "return": mean_std([r["return"] for r in results]),
        "episode_length": mean_std([r["steps"] for r in results]),
        "success_rate": float(np.mean([r["success"] for r in results])) if reported else None,
    }


def reference_forward_speed(batch: Any, clip: int) -> float:
    """Mean forward speed of clip ``clip`` (m/s): the root velocity along the root's heading,
    averaged over the clip's frames at the control rate (one loop of a looping clip)."""
    length = float(batch.motion.clip_lengths[clip])
    count = max(2, math.floor(length / batch.dt + 1e-6) + 1)
    times = torch.arange(count, device=batch.device, dtype=torch.float32) * batch.dt
    ids = torch.full((count,), clip, device=batch.device, dtype=torch.int64)
    state = batch.reference_state(ids, times)
    cos_h, sin_h = heading_cos_sin(state.root_rot)
    return float(to_heading_frame(state.root_vel[:, None], cos_h, sin_h)[:, 0, 0].mean())


def forward_speed(observations: np.ndarray) -> float:
    """Mean forward speed (m/s) of a humanoid episode from its observations ``(T + 1, O)``: the
    root velocity along the heading, ``obs[7]`` of the character observation."""
    return float(np.asarray(observations)[:, ROOT_VEL_X].mean())


WALK_CRITERIA = {"full_episodes": 0.9, "speed_tolerance": 0.25, "dtw_pose_rmse": 0.10}
""""walks" (``examples/evaluate.py``): at least 90 % of episodes run their full length without
a termination; the mean forward speed is within 25 % of the clip's; DTW pose RMSE <= 0.10 m"""


def evaluation_kwargs(env_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The env kwargs of a run as evaluated: a ``pose_termination_distance`` (a training aid of
    the tracking task) is switched off, so episodes end on falls and time-outs only."""
    kwargs = dict(env_kwargs or {})
    if "pose_termination_distance" in kwargs:
        kwargs["pose_termination_distance"] = 0.0
    return kwargs


def walk_verdict(result: dict[str, Any], max_steps: int | None = None) -> dict[str, Any]:
    """The three :data:`WALK_CRITERIA` checks of a :func:`humanoid_pose_error` result; a full
    episode lasts ``max_steps`` (default: the result's ``max_episode_steps``)."""
    max_steps = result["max_episode_steps"] if max_steps is None else max_steps
    full = float(np.mean([n >= max_steps for n in result["lengths"]]))
    speed, target = result["forward_speed"]["mean"], result["clip_forward_speed"]
    ratio = speed / target if abs(target) > 1e-9 else float("nan")
    rmse = result["dtw_pose_rmse"]["mean"]
    checks = {
        "full_episodes": full >= WALK_CRITERIA["full_episodes"],
        "speed": abs(ratio - 1.0) <= WALK_CRITERIA["speed_tolerance"],
        "dtw_pose_rmse": rmse <= WALK_CRITERIA["dtw_pose_rmse"],
    }
    return {
        "full_episode_fraction": full,
        "speed_ratio": ratio,
        "dtw_pose_rmse": rmse,
        "checks": checks,
        "walks": all(checks.values()),
    }


def humanoid_pose_error(
    policy_fn: PolicyFn,
    env_id: str,
    episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """DTW pose error of ``policy_fn`` against the clips of a humanoid env's motion library.

    The policy runs on a single-world env (one episode per seed ``seed + i``). The features of
    each episode are ``obs[93:105]`` of its ``T + 1`` observations (reset and after every step).
    See the module docstring for the two error definitions, the reference sampling and the
    minimum over clips.

    Returns:
        :func:`episode_summary` plus ``dtw_pose_error``, ``dtw_pose_rmse`` and
        ``forward_speed`` (``{"mean", "std"}`` over episodes), ``clip_forward_speed`` (the
        mean over episodes of :func:`reference_forward_speed` of the clip each matched best),
        per-episode ``lengths``, ``best_clips`` (the clip name each episode matched best,
        by the RMSE) and ``max_episode_steps`` (the env's per-episode limit).
    """
    probe = gymnasium.make(env_id, **(env_kwargs or {}))  # its motion library: the references
    batch = getattr(probe.unwrapped, "batch", None)
    if batch is None or not hasattr(batch, "reference_state"):
        probe.close()
        raise ValueError(f"{env_id!r} is not a humanoid env with a motion library")
    num_bodies = len(batch.motion.key_body_names)
    errors, rmses, best = [], [], []
    try:
        cycles = {  # one cycle of each looping clip, to pick the reference's start phase
            clip: reference_features(batch, clip, _cycle_frames(batch, clip))
            for clip in range(batch.motion.num_clips)
            if bool(batch.clip_loops[clip])
        }
        results = run_episodes(policy_fn, env_id, episodes, seed, env_kwargs, progress)
        for result in results:
            feats = result["observations"][:, KEY_POS].astype(np.float64)
            per_clip = []
            for clip in range(batch.motion.num_clips):
                start = loop_start(cycles[clip], feats[0], batch.dt) if clip in cycles else 0.0
                ref = reference_features(batch, clip, len(feats), start)
                per_clip.append(
                    (
                        dtw_distance(feats, ref) / num_bodies,
                        dtw_distance(feats, ref, normalize=True) / math.sqrt(num_bodies),
                    )
                )
            errors.append(min(e for e, _ in per_clip))
            rmse = [r for _, r in per_clip]
            rmses.append(min(rmse))
            best.append(int(np.argmin(rmse)))
        clip_speed = float(np.mean([reference_forward_speed(batch, c) for c in best]))
    finally:
        probe.close()
    return {
        **episode_summary(results),
        "dtw_pose_error": mean_std(errors),
        "dtw_pose_rmse": mean_std(rmses),
        "forward_speed": mean_std([forward_speed(r["observations"]) for r in results]),
        "clip_forward_speed": clip_speed,
        "lengths": [r["steps"] for r in results],
        "best_clips": [batch.motion.clip_names[c] for c in best],
        "max_episode_steps": batch.max_episode_steps,
    }


def _cycle_frames(batch: Any, clip: int) -> int:
    """Control steps in one pass of clip ``clip`` (at least 1)."""
    return max(1, math.ceil(float(batch.motion.clip_lengths[clip]) / batch.dt))


# ------------------------------------------------------------------------- checkpoints
def load_checkpoint(checkpoint: str | Path, device: str = "cpu") -> dict[str, Any]:
    """The dict :meth:`imitenvs.agents.onpolicy.runner.Runner.save` wrote (tensors on
    ``device``), read with ``weights_only`` and checked against its digest
    (:func:`imitenvs.agents.onpolicy.runner.read_checkpoint`)."""
    return read_checkpoint(checkpoint, device)


def _config(cls: type, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in known})


POLICY_FORMAT = "imitenvs.policy"
"""a policy file (:func:`export_policy`): the actor-critic and its run, no optimiser state"""
PRETRAINED = "pretrained:"
"""prefix of the shipped policies in ``assets/policies/`` (``pretrained:deepmimic_walk``)"""


def resolve_policy(spec: str | Path) -> Path:
    """The file of ``pretrained:NAME`` (``assets/policies/NAME.pt``) or of a path.

    Raises:
        FileNotFoundError: no such file, or no shipped policy of that name (listing them).
    """
    text = str(spec)
    if not text.startswith(PRETRAINED):
        return Path(text)
    name = text.removeprefix(PRETRAINED)
    try:
        folder = asset_path("policies")
    except FileNotFoundError:
        folder = None
    path = None if folder is None or "/" in name else folder / f"{name}.pt"
    if path is None or not path.is_file():
        shipped = [] if folder is None else sorted(p.stem for p in folder.glob("*.pt"))
        raise FileNotFoundError(f"no shipped policy {text!r}; choose one of {shipped}")
    return path


def export_policy(
    checkpoint: str | Path, out: str | Path, card: dict[str, Any] | None = None
) -> Path:
    """Write the policy of a runner checkpoint as a small policy file (the actor-critic's
    weights and normalisers, the run's env id and kwargs, the PPO config, and ``card``: plain
    data describing it), read back by :func:`load_policy`."""
    state = load_checkpoint(checkpoint)
    run = state["run"]
    body = {
        "format": POLICY_FORMAT,
        "version": 1,
        "run": {k: run[k] for k in ("env_id", "env_kwargs", "seed", "num_envs")},
        "ppo_cfg": state["ppo_cfg"],
        "model": state["ppo"]["model"],
        "iteration": state["iteration"],
        "global_step": state["global_step"],
        "card": dict(card or {}),
    }
    return save_torch(out, body)


def load_policy(checkpoint: str | Path, device: str = "cpu") -> tuple[PPO, RunConfig]:
    """Rebuild the PPO actor-critic of a runner checkpoint or a policy file
    (:func:`export_policy`; ``pretrained:NAME`` for a shipped one) without building the env.

    Both are read with ``weights_only`` and checked against their digest. The observation and
    action sizes are read from the saved weights. The returned ``RunConfig`` has
    ``progress=False``; its ``log_dir`` is ``None`` when the run had none.
    """
    ppo, run, _ = load_policy_with_meta(checkpoint, device)
    return ppo, run


def load_policy_with_meta(
    checkpoint: str | Path, device: str = "cpu"
) -> tuple[PPO, RunConfig, dict[str, Any]]:
    """:func:`load_policy` plus ``{"iteration", "env_steps", "card"}`` of the file."""
    path = resolve_policy(checkpoint)
    state = load_torch(path, map_location=device)
    if state.get("format") == POLICY_FORMAT:
        model, run = state["model"], dict(state["run"])
    else:
        state = read_checkpoint(path, device)
        model, run = state["ppo"]["model"], dict(state["run"])
    obs_dim, act_dim = int(model["actor.0.weight"].shape[1]), int(model["log_std"].shape[0])
    cfg = _config(PPOConfig, state["ppo_cfg"])
    ppo = PPO(obs_dim, act_dim, cfg, torch.device(device), torch.Generator(device=device))
    ppo.model.load_state_dict(model)
    if run.get("log_dir") in (None, "None"):
        run["log_dir"] = None
    run["progress"], run["device"] = False, device
    meta = {
        "iteration": int(state["iteration"]),
        "env_steps": int(state["global_step"]),
        "card": state.get("card"),
    }
    return ppo, _config(RunConfig, run), meta


def load_discriminator(
    checkpoint: str | Path, device: str = "cpu"
) -> tuple[Discriminator, AMPConfig]:
    """The trained AMP discriminator of a runner checkpoint and its config."""
    state = load_checkpoint(checkpoint, device)
    if state.get("amp") is None:
        raise ValueError(f"{checkpoint} was trained without AMP; it holds no discriminator")
    cfg = _config(AMPConfig, state["amp_cfg"])
    weights = state["amp"]["disc"]
    in_dim = int(weights["trunk.0.weight"].shape[1])
    amp_dim = in_dim * 2 // 3 if cfg.delta_features else in_dim
    disc = Discriminator(amp_dim, cfg).to(device)
    disc.load_state_dict(weights)
    disc.eval()
    return disc, cfg


# ---------------------------------------------------------------- discriminator as a map
def transition_style_reward(
    disc: Discriminator, cfg: AMPConfig, *, newest_first: bool = False
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The AMP style reward of transitions ``(s, s')`` as ``f(s (M, O), s' (M, O)) -> (M,)``.

    The discriminator's input is built as the runner builds it: the two observations side by
    side, ``[s, s']`` for :class:`~imitenvs.wrappers.paired_obs.PairedObservation` (maze, PushT:
    ``[s_{t-1}, s_t]``) or ``[s', s]`` with ``newest_first`` (the humanoid's
    ``[s_t, s_{t-1}]``). The discriminator adds its own delta features and normalisation. The
    reward is :func:`imitenvs.agents.adversarial.amp.style_reward` with ``cfg.reward_scale`` and
    ``cfg.loss``. For the maze, whose observation is the agent position ``(x, y)`` and
    nothing else, this is a :data:`imitenvs.viz.TransitionScore` for
    :func:`imitenvs.viz.maze_heatmap`.
    """
    device = next(disc.parameters()).device

    def score(s: np.ndarray, s_next: np.ndarray) -> np.ndarray:
        s, s_next = np.asarray(s, dtype=np.float32), np.asarray(s_next, dtype=np.float32)
        if s.shape != s_next.shape or s.ndim != 2:
            raise ValueError(f"s and s' must both be (M, O), got {s.shape} and {s_next.shape}")
        pair = np.concatenate([s_next, s] if newest_first else [s, s_next], axis=1)
        with torch.no_grad():
            logits = disc(torch.as_tensor(pair, device=device))
            reward = style_reward(logits, cfg.reward_scale, cfg.loss)
        return reward.cpu().numpy().astype(np.float64)

    return score
