"""Load iMuJoCo's SB3 SAC policy zips (the original ones and ours) and evaluate policies.

The original zips (``policies/sac-<variant>.zip``) were saved by Stable-Baselines3 1.x with
gym, so their pickled observation and action spaces reference the old ``gym`` package, which
current SB3 cannot unpickle. :func:`load_policy` never unpickles anything: it reads the zip
with :func:`imitenvs.adapters.sb3_zip.load_sb3_zip`, which takes the spaces from the env the
policy is for, refuses pickled fields SB3 does not write, and reads the network weights (plain
``torch`` state dicts) with ``weights_only=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from imitenvs.core.checks import check_choice, check_positive_int
from imitenvs.core.files import AtomicFile
from imitenvs.envs.imujoco.grid import parse_variant

logger = logging.getLogger(__name__)

ALGORITHMS = ("sac", "td3", "ddpg", "ppo", "a2c", "imitenvs")
"""Those :mod:`imitenvs.adapters.sb3_zip` rebuilds (kept here: the CLI need not import SB3),
and ``imitenvs``: a checkpoint or policy file of our trainer
(``python -m imitenvs.agents.train``)."""
Policy = Callable[[np.ndarray], np.ndarray]


def resolve_env_id(name: str) -> str:
    """A gymnasium id for ``name``: variant names map to their ``imitenvs/iMuJoCo-...`` id."""
    import imitenvs  # noqa: F401  (registers the ids)

    if name.startswith(("hopper-", "halfcheetah-", "walker2d-")):
        return parse_variant(name).env_id
    return name


def load_policy(
    path: str | Path,
    env: gymnasium.Env | None = None,
    algo: str = "sac",
    device: str = "cpu",
    seed: int = 0,
) -> Any:
    """Load an SB3 model zip (e.g. an original iMuJoCo ``sac-<variant>.zip``).

    Args:
        path: The zip.
        env: The env the policy acts in; its spaces are used (the pickled ones are never
            read). ``None`` rebuilds ``Box`` spaces from the plain values stored beside them.
        algo: SB3 algorithm class (``sac`` for every iMuJoCo policy), or ``imitenvs`` for a
            checkpoint of our trainer (:class:`TrainerPolicy`).
        device: Torch device.
        seed: Seeds a trainer policy's sampled actions (SB3 models sample from torch's
            global generator).

    Returns:
        The SB3 model, its policy switched to evaluation mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown ``algo``, the zip cannot be loaded as that algorithm, it holds a
            pickled field or ``.pth`` that is refused (nothing is executed), or the policy's
            observation shape differs from the env's.
    """
    check_choice("algo", algo, ALGORITHMS)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy file {path} does not exist")
    if algo == "imitenvs":
        return TrainerPolicy(path, env, device, seed)
    from imitenvs.adapters.sb3_zip import load_sb3_zip

    model = load_sb3_zip(path, algo=algo, env=env, device=device)
    if env is not None and model.observation_space.shape != env.observation_space.shape:
        raise ValueError(
            f"{path} expects observations of shape {model.observation_space.shape}, the env "
            f"gives {env.observation_space.shape}"
        )
    model.policy.set_training_mode(False)
    return model


class TrainerPolicy:
    """A checkpoint of our trainer with SB3's ``predict``: the mean action, or a sample of the
    policy's Gaussian (from a generator seeded with ``seed``). The policy's ``[-1, 1]`` is
    mapped onto a bounded action space that is not ``[-1, 1]``, as in training.

    Raises:
        ValueError: the checkpoint was trained on another env id than ``env``'s.
    """

    def __init__(
        self, path: Path, env: gymnasium.Env | None, device: str = "cpu", seed: int = 0
    ) -> None:
        import torch

        from imitenvs.agents.evaluation import load_policy as load_trainer_policy

        self.ppo, run = load_trainer_policy(path, device)
        if env is not None and env.spec is not None and run.env_id != env.spec.id:
            raise ValueError(f"{path} was trained on {run.env_id!r}, not {env.spec.id!r}")
        self._torch, self._gen = torch, torch.Generator(device=device).manual_seed(seed)
        self._low = self._high = None
        if env is not None:
            lo, hi = env.action_space.low, env.action_space.high
            if np.all(np.isfinite(lo) & np.isfinite(hi)) and not (
                np.all(lo == -1) and np.all(hi == 1)
            ):
                self._low, self._high = lo, hi

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        torch = self._torch
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.ppo.device)[None]
        with torch.no_grad():
            dist = self.ppo.model.distribution(x)
            a = dist.mean
            if not deterministic:
                noise = torch.randn(a.shape, generator=self._gen, device=a.device)
                a = a + dist.stddev * noise
        a = a[0].cpu().numpy()
        return (
            a if self._low is None else self._low + (a + 1) * 0.5 * (self._high - self._low)
        ), None


def as_policy(model: Any, deterministic: bool = True) -> Policy:
    """``obs (obs_dim,) -> action (act_dim,)`` from an SB3 model."""

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=deterministic)
        return np.asarray(action)

    return act


class VideoWriter:
    """Stream ``(H, W, 3)`` uint8 frames to an mp4 (imageio-ffmpeg), atomically: the frames go
    to a temporary sibling that :meth:`close` renames over ``path``; :meth:`discard` (or an
    exception inside ``with``) deletes it and leaves ``path`` untouched."""

    def __init__(self, path: str | Path, fps: float) -> None:
        try:
            import imageio_ffmpeg
        except ImportError as exc:
            raise ImportError(
                'writing videos needs imageio-ffmpeg: pip install -e ".[viewer]" '
                "(or pip install imageio-ffmpeg)"
            ) from exc
        self.path = Path(path)
        self._module = imageio_ffmpeg
        self._fps = fps
        self._writer: Any = None
        self._file = AtomicFile(self.path)

    def add(self, frame: np.ndarray) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            self._writer = self._module.write_frames(
                str(self._file.tmp), (width, height), fps=self._fps, macro_block_size=1
            )
            self._writer.send(None)
        self._writer.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        """Finish the video and move it into place (nothing is written without frames)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._file.commit()
        else:
            self.discard()

    def discard(self) -> None:
        """Drop what was written; ``path`` keeps its previous content."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._file.discard()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def evaluate(
    policy: Policy,
    env: gymnasium.Env,
    episodes: int,
    seed: int | None = 0,
    window: int | None = None,
    video: VideoWriter | None = None,
) -> np.ndarray:
    """Returns of ``episodes`` runs of ``policy`` in ``env``; the policy's action is stepped.

    Args:
        policy: ``obs -> action``.
        env: The env (with its time limit); reset with ``seed`` once, then unseeded.
        episodes: Number of returns to compute.
        seed: Seed of the first reset.
        window: ``None``: one return per episode (until terminated or truncated). An int
            ``W``: the original README's protocol -- each return sums ``W`` steps, resetting
            whenever an episode ends inside them.
        video: Receives ``env.render()`` after every reset and step (env must render
            ``rgb_array``).

    Returns:
        ``(episodes,)`` float64 returns.
    """
    check_positive_int("episodes", episodes)
    if window is not None:
        check_positive_int("window", window)
    returns = np.zeros(episodes)
    obs, _ = env.reset(seed=seed)
    for k in range(episodes):
        if video is not None:
            video.add(env.render())
        step = 0
        while True:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[k] += float(reward)
            step += 1
            if video is not None:
                video.add(env.render())
            ended = terminated or truncated
            if ended or (window is not None and step >= window):
                obs, _ = env.reset()
            if (window is None and ended) or (window is not None and step >= window):
                break
    return returns
