"""Bridge to the ``imitation`` library (1.0.1): demonstrations and fixed-horizon envs.

Demonstrations: :func:`to_trajectories` turns episodes of any of our datasets -- anything with
``obs (T+1, ...)``, ``acts (T, ...)`` and optionally ``rews (T,)`` and ``complete`` -- into
``imitation`` ``Trajectory`` (or ``TrajectoryWithRew``) objects; :func:`imujoco_trajectories`
does it for an iMuJoCo ``.npz`` (original or ours, see
:func:`imitenvs.envs.imujoco.dataset.split_segments` for how episodes are recovered),
:func:`demo_dataset_trajectories` for our ``DemoDataset`` files (maze, PushT), and
:func:`imujoco_transitions` flattens iMuJoCo trajectories into ``Transitions`` for BC
(``imitation.data.rollout.flatten_trajectories`` does it for any list).

Fixed horizons, and why: in an env whose episodes end when the agent fails (Hopper and
Walker2d fall), the episode length itself carries reward information. An adversarial learned
reward (GAIL, AIRL) that happens to be positive everywhere teaches the agent to survive, one
that is negative everywhere teaches it to fall early -- whatever the expert did (Kostrikov et
al. 2019, "Discriminator-Actor-Critic"). ``imitation`` therefore refuses variable-horizon
episodes unless told otherwise. :class:`AbsorbAfterDone` (as seals does) keeps every episode
exactly ``horizon`` steps long: after the wrapped env ends, the episode continues in an
absorbing state -- the last observation, frozen, with reward ``absorb_reward`` (0) and the
action ignored -- so the discriminator, not the episode length, judges the failure state.
:func:`pad_to_horizon` gives demonstrations the same shape: terminated episodes are extended
with the frozen last observation (actions: zeros, so a discriminator that sees actions can
tell a learner's arbitrary actions in the absorbing state from the expert's zeros; the
actions there have no effect), longer ones are cut into ``horizon``-step pieces, and shorter
ones that were cut by a time limit (their continuation is unknown) are dropped.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, SupportsFloat

import gymnasium
import numpy as np
from imitation.data import rollout, types
from imitation.data.wrappers import RolloutInfoWrapper

from imitenvs.core.checks import check_positive_int, check_seed

logger = logging.getLogger(__name__)


class EpisodeLike(Protocol):
    """What :func:`to_trajectories` reads: ``obs (T+1, ...)``, ``acts (T, ...)``."""

    obs: np.ndarray
    acts: np.ndarray


def to_trajectories(
    episodes: Sequence[EpisodeLike], with_rewards: bool | None = None
) -> list[types.Trajectory]:
    """``imitation`` trajectories of ``episodes``.

    Args:
        episodes: Objects with ``obs (T+1, obs_dim)`` and ``acts (T, act_dim)``; optional
            ``rews (T,)`` (or ``None``) and ``complete`` (the last observation ends the
            episode; default ``True``), e.g. iMuJoCo ``Segment`` objects.
        with_rewards: ``True``: ``TrajectoryWithRew`` (every episode needs ``rews``);
            ``False``: plain ``Trajectory``; ``None``: rewards whenever all episodes have them.

    Raises:
        ValueError: rewards requested but missing, or inconsistent lengths.
    """
    has_rews = all(getattr(e, "rews", None) is not None for e in episodes)
    if with_rewards is None:
        with_rewards = has_rews and len(episodes) > 0
    if with_rewards and not has_rews:
        raise ValueError("with_rewards=True but some episodes have no rewards")
    out: list[types.Trajectory] = []
    for k, e in enumerate(episodes):
        if len(e.obs) != len(e.acts) + 1:
            raise ValueError(f"episode {k}: {len(e.obs)} observations for {len(e.acts)} actions")
        common = {
            "obs": np.asarray(e.obs, dtype=np.float32),
            "acts": np.asarray(e.acts, dtype=np.float32),
            "infos": None,
            "terminal": bool(getattr(e, "complete", True)),
        }
        if with_rewards:
            out.append(types.TrajectoryWithRew(**common, rews=np.asarray(e.rews, np.float32)))
        else:
            out.append(types.Trajectory(**common))
    return out


def imujoco_trajectories(
    path: str | Path,
    env_name: str,
    *,
    detect_resets: bool = True,
    steps_per_trajectory: int = 1000,
    with_rewards: bool | None = None,
    horizon: int | None = None,
) -> list[types.Trajectory]:
    """Trajectories of an iMuJoCo ``.npz`` (original or ours); ``env_name`` picks the robot.

    Files we write give exact episodes (with rewards); original files give episode pieces
    that lack the final observation (``terminal=False``), cut at detected resets. With
    ``horizon``, episodes go through :func:`pad_to_horizon` (for GAIL/AIRL).
    """
    from imitenvs.envs.imujoco.dataset import load_npz, split_segments

    data = load_npz(path, env_name)
    segments: Sequence[EpisodeLike] = split_segments(data, steps_per_trajectory, detect_resets)
    if horizon is not None:
        segments = pad_to_horizon(segments, horizon)
    return to_trajectories(segments, with_rewards)


def imujoco_transitions(path: str | Path, env_name: str, **kwargs: Any) -> types.Transitions:
    """``Transitions`` (for BC) of an iMuJoCo ``.npz``; kwargs as :func:`imujoco_trajectories`."""
    return rollout.flatten_trajectories(imujoco_trajectories(path, env_name, **kwargs))


@dataclass(frozen=True)
class Episode:
    """An episode (or a piece of one) in the form :func:`to_trajectories` reads.

    Attributes:
        obs: ``(T + 1, obs_dim)`` observations.
        acts: ``(T, act_dim)`` actions.
        rews: ``(T,)`` rewards or ``None``.
        terminated: It ended by termination (a failure), not by a time limit.
        complete: ``obs[-1]`` is the episode's final observation.
    """

    obs: np.ndarray
    acts: np.ndarray
    rews: np.ndarray | None = None
    terminated: bool = False
    complete: bool = True


def demo_dataset_trajectories(
    dataset: Any,
    horizon: int | None = None,
    terminated: bool | Sequence[bool] | np.ndarray | None = None,
) -> list[types.Trajectory]:
    """Trajectories of a :class:`imitenvs.data.demos.DemoDataset` (maze, PushT demos, ...).

    Each episode's rows are its observations, the last one included; the action stored at
    that last row has no successor and is dropped. Episodes of one row are skipped.

    Args:
        dataset: The demonstrations.
        horizon: ``None``: the episodes as they are (variable length). An int ``H``: every
            trajectory is exactly ``H`` steps, as GAIL/AIRL on a
            :func:`fixed_horizon_vec_env` need (:func:`pad_to_horizon`: terminated episodes
            are padded with their last observation and zero actions, longer ones are cut into
            ``H``-step pieces, shorter ones that did not terminate are dropped).
        terminated: Whether each episode ended by termination (goal or failure), not by a
            time limit: one bool for all or ``(E,)`` bools. ``None``: ``True`` when the
            dataset keeps only successful episodes (``metadata["only_success"]``; a success
            ends the maze and PushT episodes), else ``False``.

    Raises:
        ValueError: the dataset has no actions (``imitation`` needs them; NEAR's maze demos
            are state-only), ``terminated`` has the wrong length, or ``horizon`` is not a
            positive integer.
    """
    if dataset.actions is None:
        raise ValueError("this dataset has no actions; imitation's trajectories need them")
    if terminated is None:
        terminated = bool(dataset.metadata.get("only_success", False))
    if np.shape(terminated) not in ((), (dataset.num_episodes,)):
        raise ValueError(
            f"terminated must be one bool or {dataset.num_episodes} bools (one per episode), "
            f"got shape {np.shape(terminated)}"
        )
    ended = np.broadcast_to(np.asarray(terminated, dtype=bool), (dataset.num_episodes,))
    episodes = [
        Episode(obs=states, acts=actions[:-1], terminated=bool(ended[i]))
        for i, (states, actions) in enumerate(dataset.episodes())
        if len(states) >= 2
    ]
    if horizon is not None:
        episodes = pad_to_horizon(episodes, horizon)
    return to_trajectories(episodes, with_rewards=False)


def pad_to_horizon(episodes: Sequence[EpisodeLike], horizon: int) -> list[Episode]:
    """Episodes of exactly ``horizon`` steps, matching :class:`AbsorbAfterDone`.

    ``episodes`` need ``obs``, ``acts``, ``terminated`` and optionally ``rews`` and
    ``complete`` (iMuJoCo ``Segment`` objects have them). A terminated episode shorter than
    ``horizon`` is extended with its last observation repeated, zero actions and zero rewards
    (the absorbing state); longer ones are cut into consecutive ``horizon``-step pieces (a
    shorter remainder is dropped); a shorter episode that did not terminate (cut by a time
    limit, or a piece of an original file) cannot be extended honestly and is dropped.
    """
    check_positive_int("horizon", horizon)
    out: list[Episode] = []
    dropped = 0
    for e in episodes:
        rews = getattr(e, "rews", None)
        n, complete = len(e.acts), bool(getattr(e, "complete", True))
        if n >= horizon:
            for start in range(0, n - horizon + 1, horizon):
                stop = start + horizon
                end = stop == n
                out.append(
                    Episode(
                        obs=e.obs[start : stop + 1],
                        acts=e.acts[start:stop],
                        rews=None if rews is None else rews[start:stop],
                        terminated=end and bool(e.terminated),
                        complete=end and complete,
                    )
                )
        elif e.terminated:
            extra = horizon - n
            out.append(
                Episode(
                    obs=np.concatenate([e.obs, np.repeat(e.obs[-1:], extra, axis=0)]),
                    acts=np.concatenate([e.acts, np.zeros((extra, *e.acts.shape[1:]))]),
                    rews=None if rews is None else np.concatenate([rews, np.zeros(extra)]),
                    terminated=True,
                    complete=True,
                )
            )
        else:
            dropped += 1
    if dropped:
        logger.info("pad_to_horizon: dropped %d short episodes that did not terminate", dropped)
    return out


class AbsorbAfterDone(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Fixed-horizon episodes: after the wrapped env ends, stay in an absorbing state.

    Every episode lasts exactly ``horizon`` steps and ends ``truncated`` (never
    ``terminated``). Once the wrapped env terminates or truncates, each further step returns
    its last observation again, reward ``absorb_reward``, ``info["absorbing"] = True``, and
    ignores the action. ``info["inner_terminated"]`` marks the step on which the wrapped env
    ended by termination. See the module docstring for why.
    """

    def __init__(self, env: gymnasium.Env, horizon: int, absorb_reward: float = 0.0) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(
            self, horizon=horizon, absorb_reward=absorb_reward
        )
        gymnasium.Wrapper.__init__(self, env)
        self.horizon = check_positive_int("horizon", horizon)
        self.absorb_reward = float(absorb_reward)
        self._steps = 0
        self._absorbing_obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._steps = 0
        self._absorbing_obs = None
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._steps += 1
        if self._absorbing_obs is None:
            obs, reward, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                self._absorbing_obs = np.copy(obs)
                info = {**info, "inner_terminated": bool(terminated)}
        else:
            obs, reward, info = np.copy(self._absorbing_obs), self.absorb_reward, {}
            info["absorbing"] = True
        return obs, reward, False, self._steps >= self.horizon, info


def make_fixed_horizon_env(
    env_id: str, horizon: int | None = None, absorb_reward: float = 0.0, **kwargs: Any
) -> gymnasium.Env:
    """``gymnasium.make(env_id)`` with exactly ``horizon`` steps per episode.

    ``horizon`` defaults to the id's registered ``max_episode_steps``; the wrapped env's own
    time limit is set to it, so a time-out and the horizon coincide.

    Raises:
        ValueError: no ``horizon`` given and the id registers none.
    """
    import imitenvs  # noqa: F401  (registers the ids)

    if horizon is None:
        horizon = gymnasium.spec(env_id).max_episode_steps
        if horizon is None:
            raise ValueError(f"{env_id} registers no max_episode_steps; pass horizon=")
    env = gymnasium.make(env_id, max_episode_steps=horizon, **kwargs)
    return AbsorbAfterDone(env, horizon, absorb_reward)


def fixed_horizon_vec_env(
    env_id: str,
    n_envs: int = 1,
    seed: int = 0,
    horizon: int | None = None,
    absorb_reward: float = 0.0,
    **kwargs: Any,
) -> Any:
    """An SB3 ``DummyVecEnv`` of fixed-horizon envs with ``imitation``'s ``RolloutInfoWrapper``.

    This is the ``venv`` for ``imitation``'s GAIL/AIRL trainers and ``rollout`` functions.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    check_positive_int("n_envs", n_envs)

    def factory(rank: int) -> Callable[[], gymnasium.Env]:
        def make() -> gymnasium.Env:
            env = make_fixed_horizon_env(env_id, horizon, absorb_reward, **kwargs)
            env.action_space.seed(seed + rank)
            return RolloutInfoWrapper(env)

        return make

    venv = DummyVecEnv([factory(rank) for rank in range(n_envs)])
    venv.seed(seed)
    return venv


def train_gail(
    env_id: str,
    demonstrations: Sequence[types.Trajectory],
    total_timesteps: int,
    seed: int = 0,
    *,
    n_envs: int = 4,
    horizon: int | None = None,
    n_disc_updates_per_round: int = 4,
    log_dir: str | Path | None = None,
    device: str = "cpu",
    **ppo_kwargs: Any,
) -> Any:
    """GAIL (``imitation``, PPO generator) from ``demonstrations`` on ``env_id``.

    The generator acts in fixed-horizon episodes (:func:`fixed_horizon_vec_env`: after the env
    ends it stays in an absorbing state until ``horizon``, default the id's time limit, so the
    episode length carries no reward), with a ``BasicRewardNet`` over normalised inputs. Used by
    ``examples/train_gail_imujoco.py``, ``examples/train_gail_maze.py`` and Deep RLSP's GAIL
    baseline (whose demonstrations are pieces of 1-50 steps: only their transitions are used).

    ``total_timesteps`` generator env steps in ``n_envs`` envs; ``seed`` seeds the envs and
    SB3/torch; ``log_dir`` receives imitation's CSV log (default: a temporary folder, deleted);
    ``ppo_kwargs`` replace the generator's PPO settings. Returns the trained SB3 ``PPO``.
    """
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util import logger as imit_logger
    from imitation.util.networks import RunningNorm
    from stable_baselines3 import PPO

    check_positive_int("total_timesteps", total_timesteps)
    n_transitions = sum(len(t) for t in demonstrations)
    if n_transitions == 0:
        raise ValueError("demonstrations hold no transitions")
    venv = fixed_horizon_vec_env(env_id, n_envs=n_envs, seed=check_seed(seed), horizon=horizon)
    n_steps = max(8, min(2048, total_timesteps // n_envs))
    settings = {"n_steps": n_steps, "batch_size": min(64, n_steps * n_envs), "verbose": 0}
    learner = PPO("MlpPolicy", venv, seed=seed, device=device, **{**settings, **ppo_kwargs})
    reward_net = BasicRewardNet(
        venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm
    )
    with tempfile.TemporaryDirectory(prefix="gail-") as scratch:
        trainer = GAIL(
            demonstrations=list(demonstrations),
            demo_batch_size=min(1024, n_transitions, learner.n_steps * n_envs),
            gen_replay_buffer_capacity=learner.n_steps * n_envs,
            n_disc_updates_per_round=n_disc_updates_per_round,
            venv=venv,
            gen_algo=learner,
            reward_net=reward_net,
            custom_logger=imit_logger.configure(log_dir or scratch, ["csv"]),
        )
        trainer.train(max(total_timesteps, learner.n_steps * n_envs))
        trainer.logger.close()
    venv.close()
    return learner
