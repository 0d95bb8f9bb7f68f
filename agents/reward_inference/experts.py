"""Experts, observed states, demonstrations and the GAIL baseline of Deep RLSP's MuJoCo runs.

Deep RLSP (Lindner et al., ICLR 2021) infers a reward from a few states that an expert left
the world in. Its MuJoCo experiments need, besides the algorithm itself:

- **SAC experts** trained on the true reward with the original per-env settings
  (:func:`sac_hyperparameters`, :func:`make_sac`; ``examples/train_sac_expert.py`` trains one);
- **observed states** ("optimal" current states): one stochastic rollout of the expert per
  sample and a uniformly random observation of it (:func:`sample_observed_states`), or the
  states of a DADS skill rollout (:func:`load_skill_rollouts`);
- **demonstrations** for the GAIL baseline (:func:`make_demonstrations`,
  :func:`skill_demonstration`, :func:`save_demonstrations` / :func:`load_demonstrations`);
- **GAIL** through ``imitation`` (:func:`imitenvs.adapters.imitation.train_gail`) and the
  **true return** of any policy (:func:`evaluate_return`).

A *policy* here is anything with SB3's ``predict(obs, deterministic=...) -> (action, state)``.
Files: skill pickles are read through the restricted unpickler of the motion readers (only
numpy arrays, dtypes and plain containers resolve); demonstrations are our ``.npz`` demo
format (:class:`imitenvs.data.demos.DemoDataset`), never pickles.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import gymnasium
import numpy as np
import torch
from imitation.data import types

from imitenvs.core.checks import check_choice, check_positive_int, check_seed

logger = logging.getLogger(__name__)

HALF_CHEETAH_SAC: dict[str, Any] = dict(
    learning_rate=3e-4, gamma=0.98, tau=0.01, ent_coef="auto", buffer_size=1_000_000,
    batch_size=256, learning_starts=10_000, train_freq=1, gradient_steps=1,
    policy_kwargs={"net_arch": [256, 256]},
)  # fmt: skip
"""the original ``get_sac`` settings for ids starting with Ant, HalfCheetah, Swimmer, Fetch"""
HOPPER_SAC = {**HALF_CHEETAH_SAC, "gamma": 0.99, "tau": 0.005, "ent_coef": 0.01,
              "learning_starts": 1000}  # fmt: skip
"""the original settings for ids starting with Hopper (gamma, tau: stable-baselines' defaults)"""
DEFAULT_SAC = {**HOPPER_SAC, "ent_coef": "auto", "buffer_size": 50_000, "batch_size": 64,
               "policy_kwargs": {"net_arch": [64, 64]}}  # fmt: skip
"""every other id (InvertedPendulum): stable-baselines 2's SAC defaults + learning_starts 1000"""


class Predictor(Protocol):
    """What a policy must offer: SB3's ``predict``."""

    def predict(self, observation: np.ndarray, deterministic: bool = ...) -> tuple[Any, Any]: ...


def sac_hyperparameters(env_id: str, buffer_size: int | None = None) -> dict[str, Any]:
    """The original Deep RLSP SAC settings for ``env_id``, as SB3 2.x ``SAC`` kwargs.

    The original (``deep_rlsp/solvers/__init__.py``, stable-baselines 2) picks one of three
    tables by the id's name (the part after any ``namespace/``): :data:`HALF_CHEETAH_SAC`
    (``Ant``, ``HalfCheetah``, ``Swimmer``, ``Fetch``), :data:`HOPPER_SAC` (``Hopper``) or
    :data:`DEFAULT_SAC`. The last is stable-baselines 2's own defaults (buffer 50 000, batch
    64, net [64, 64]; its shipped ``sac_pendulum_6e4.zip`` holds exactly these, but was
    trained with ``learning_starts`` 100), not SB3's. SB2's SAC also learned a separate state
    value network; SB3's has twin Q targets instead, so the settings match, not the
    algorithm's every detail.

    Args:
        env_id: A gymnasium id, e.g. ``"imitenvs/HalfCheetah-FW-v0"`` or ``"Hopper-v5"``; an
            iMuJoCo id picks its robot's table (``iMuJoCo-hopper-…`` → Hopper).
        buffer_size: Replay buffer size instead of the table's (smaller CPU runs).

    Returns:
        A new dict (``policy_kwargs`` included) safe to modify.
    """
    name = env_id.rsplit("/", 1)[-1]
    if name.startswith("iMuJoCo-"):  # iMuJoCo-<robot>-<variant>: the robot's table
        name = name.split("-")[1].capitalize().replace("cheetah", "Cheetah")
    if name.startswith(("Ant", "HalfCheetah", "Swimmer", "Fetch")):
        table = HALF_CHEETAH_SAC
    elif name.startswith("Hopper"):
        table = HOPPER_SAC
    else:
        table = DEFAULT_SAC
    kwargs = {**table, "policy_kwargs": {"net_arch": list(table["policy_kwargs"]["net_arch"])}}
    if buffer_size is not None:
        kwargs["buffer_size"] = check_positive_int("buffer_size", buffer_size)
    return kwargs


def make_sac(
    env: gymnasium.Env,
    seed: int = 0,
    *,
    env_id: str | None = None,
    buffer_size: int | None = None,
    device: str = "cpu",
    **overrides: Any,
) -> Any:
    """An SB3 ``SAC`` on ``env`` with :func:`sac_hyperparameters` of its id.

    ``env_id`` (default ``env.spec.id``) picks the settings; ``seed`` seeds SB3 (torch, numpy,
    the action space); ``overrides`` (any ``SAC`` kwargs) replace the table's.

    Raises:
        ValueError: no ``env_id`` and the env has no spec; a bad seed or buffer size.
    """
    from stable_baselines3 import SAC

    if env_id is None:
        spec = getattr(env, "spec", None)
        if spec is None:
            raise ValueError("the env has no spec (not made by gymnasium.make); pass env_id=")
        env_id = spec.id
    kwargs = {**sac_hyperparameters(env_id, buffer_size), "verbose": 0, **overrides}
    kwargs["policy_kwargs"] = dict(kwargs.get("policy_kwargs") or {})  # SB3 adds keys to it
    return SAC("MlpPolicy", env, seed=check_seed(seed), device=device, **kwargs)


def time_limit(env: gymnasium.Env) -> int | None:
    """The ``max_episode_steps`` of the first ``TimeLimit`` wrapping ``env``, else ``None``."""
    while isinstance(env, gymnasium.Wrapper):
        if isinstance(env, gymnasium.wrappers.TimeLimit):
            return int(env._max_episode_steps)
        env = env.env
    return None


def _step_limit(env: gymnasium.Env, max_steps: int | None) -> int:
    if max_steps is not None:
        return check_positive_int("max_steps", max_steps)
    limit = time_limit(env)
    if limit is None:
        raise ValueError(
            "the env has no TimeLimit wrapper (episodes may never end); pass max_steps"
        )
    return limit


def _act(policy: Predictor, obs: np.ndarray, deterministic: bool) -> np.ndarray:
    return np.asarray(policy.predict(obs, deterministic=deterministic)[0])


def sample_observed_states(
    env: gymnasium.Env,
    policy: Predictor,
    n: int,
    rng: np.random.Generator,
    max_steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Deep RLSP's "optimal" observed states: per sample, one rollout and one random state.

    For each of the ``n`` samples, as the original (``util/helper.py``: ``get_trajectory``,
    ``sample_obs_from_trajectory``): reset, roll the policy out with stochastic actions
    (``deterministic=False``) until the episode terminates or is truncated, and pick one of
    the observations that followed a step uniformly at random (the reset observation is not a
    candidate, as in the original).

    Seeding: each rollout's reset seed and torch seed (SB3 samples actions with torch's global
    generator, forked here so the caller's stream is untouched) and the picked index are
    drawn from ``rng``; the same ``rng`` state gives the same states.

    The env needs a ``TimeLimit`` unless ``max_steps`` (steps per rollout at most) is given.

    Returns:
        ``states (n, obs_dim)`` float64 and ``returns (n,)`` float64 (each rollout's return).

    Raises:
        ValueError: ``n`` is not a positive integer; no time limit and no ``max_steps``.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"n (the number of observed states) must be an integer > 0, got {n!r}")
    limit = _step_limit(env, max_steps)
    states, returns = [], np.zeros(int(n))
    for k in range(int(n)):
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        seen: list[np.ndarray] = []
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.integers(2**31 - 1)))
            for _ in range(limit):
                obs, reward, terminated, truncated, _ = env.step(_act(policy, obs, False))
                seen.append(np.asarray(obs, dtype=np.float64).reshape(-1))
                returns[k] += float(reward)
                if terminated or truncated:
                    break
        states.append(seen[int(rng.integers(len(seen)))])
        logger.debug("observed-state rollout %d: %d steps, return %.2f", k, len(seen), returns[k])
    return np.stack(states), returns


# ------------------------------------------------------------------------------ skill files
_BAD_PICKLE = (ValueError, KeyError, OverflowError, MemoryError, RecursionError, struct.error)
"""what a corrupt pickle raises besides those :func:`safe_load` turns into ValueError"""


def load_skill_rollouts(path: str | Path, rollout: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One rollout of a DADS skill pickle (``skills/{balancing,jumping}_rollouts.pkl``).

    The file is a pickled ``dict``: ``"observations"`` and ``"actions"`` are lists of
    rollouts, each a list of 1-D float32 arrays; ``"env_id"`` a string (``"HalfCheetah-v1"``:
    17-dim observations, no time feature). It is read with the motion readers'
    :class:`~imitenvs.motion.formats.safe_unpickle.RestrictedUnpickler`, which resolves only
    numpy arrays, dtypes, scalars and plain containers, so a file naming anything else
    (``os.system``...) is refused before anything is called. The original used rollout 0.

    Returns:
        ``observations (T, obs_dim)`` float64 and ``actions (T, act_dim)`` float32.

    Raises:
        FileNotFoundError: no such file.
        ValueError: refused, corrupt or truncated, or not of this layout; one line naming
            ``path`` (:class:`~imitenvs.motion.formats.safe_unpickle.UnsafePickleError` when
            the pickle names a forbidden callable).
    """
    from imitenvs.motion.formats.safe_unpickle import UnsafePickleError, safe_load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"skill rollout file {path} does not exist")
    with path.open("rb") as stream:
        try:
            data = safe_load(stream)
        except UnsafePickleError as exc:
            raise UnsafePickleError(f"{path}: {exc}") from None
        except _BAD_PICKLE as exc:  # a corrupt file (UnicodeDecodeError among them)
            reason = " ".join(str(exc).split())
            raise ValueError(
                f"{path}: not a valid pickle ({type(exc).__name__}: {reason})"
            ) from None
    if not isinstance(data, dict) or not {"observations", "actions"} <= set(data):
        raise ValueError(f"{path}: expected a dict with 'observations' and 'actions' (DADS skills)")
    if not isinstance(data.get("env_id", ""), str):
        raise ValueError(f"{path}: its 'env_id' is a {type(data['env_id']).__name__}, not a str")
    arrays = []
    for key, dtype in (("observations", np.float64), ("actions", np.float32)):
        rollouts = data[key]
        if not isinstance(rollouts, list | tuple) or not -len(rollouts) <= rollout < len(rollouts):
            raise ValueError(f"{path}: {key!r} has no rollout {rollout}")
        rows = rollouts[rollout]
        if (
            not isinstance(rows, list | tuple | np.ndarray)
            or len(rows) == 0
            or not all(isinstance(r, np.ndarray) and r.dtype.kind in "fiu" for r in rows)
            or len({r.shape for r in rows}) != 1
            or rows[0].ndim != 1
        ):
            raise ValueError(f"{path}: {key!r}[{rollout}] is not a list of equal 1-D arrays")
        arrays.append(np.stack(rows).astype(dtype))
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(f"{path}: {len(arrays[0])} observations but {len(arrays[1])} actions")
    logger.info("%s: %s, %d steps", path, data.get("env_id", "?"), len(arrays[0]))
    return arrays[0], arrays[1]


# --------------------------------------------------------------------------- demonstrations
def make_demonstrations(
    env: gymnasium.Env,
    policy: Predictor,
    traj_len: int,
    seed: int,
    n_trajs: int = 1,
    on_end: Literal["raise", "stop"] = "raise",
) -> list[types.TrajectoryWithRew]:
    """Expert demonstrations as the original ``create_demonstrations.py`` makes them.

    The env is reset with ``seed`` before the first trajectory (later ones continue its
    generator); each trajectory takes ``traj_len`` deterministic actions of ``policy``. The
    original did not look at ``done``: it would have stepped on past a terminal state (gym
    then warns and the states are meaningless). Here an episode that ends (terminates, or is
    truncated by a time limit shorter than ``traj_len``) before ``traj_len`` steps is an error
    (``on_end="raise"``), or (``"stop"``) the trajectory stops there, shorter, with
    ``terminal=True``, and a warning says so.

    Returns:
        ``n_trajs`` ``TrajectoryWithRew``: ``obs (T+1, obs_dim)`` float64, ``acts (T,
        act_dim)`` float32, ``rews (T,)`` float64, ``infos=None``, ``terminal`` (False when
        the trajectory simply reached ``traj_len``).

    Raises:
        ValueError: bad ``traj_len`` / ``n_trajs`` / ``seed`` / ``on_end``; with ``"raise"``,
            an episode ended early (naming the trajectory and the step).
    """
    check_positive_int("traj_len", traj_len)
    check_positive_int("n_trajs", n_trajs)
    check_choice("on_end", on_end, ("raise", "stop"))
    trajectories = []
    for k in range(n_trajs):
        obs, _ = env.reset(seed=check_seed(seed) if k == 0 else None)
        observations, actions, rewards, ended = [np.asarray(obs, np.float64)], [], [], False
        for t in range(traj_len):
            action = _act(policy, obs, True)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(np.asarray(obs, np.float64))
            actions.append(np.asarray(action, np.float32))
            rewards.append(float(reward))
            ended = bool(terminated or truncated)
            if ended and t + 1 < traj_len:
                what = "terminated" if terminated else "was truncated"
                message = f"demonstration {k}: the episode {what} after {t + 1} of {traj_len} steps"
                if on_end == "raise":
                    raise ValueError(f"{message}; use a shorter traj_len or on_end='stop'")
                logger.warning("%s; the trajectory stops there", message)
                break
        trajectories.append(
            types.TrajectoryWithRew(
                obs=np.stack(observations),
                acts=np.stack(actions),
                infos=None,
                terminal=ended and len(actions) < traj_len,
                rews=np.asarray(rewards, np.float64),
            )
        )
    return trajectories


def skill_demonstration(path: str | Path, traj_len: int) -> types.TrajectoryWithRew:
    """The original ``convert_trajs``: the first ``traj_len`` steps of a skill rollout file
    (:func:`load_skill_rollouts`) as a demonstration with zero rewards.

    Raises:
        ValueError: ``traj_len`` is not below the rollout's length (as the original asserted).
    """
    check_positive_int("traj_len", traj_len)
    observations, actions = load_skill_rollouts(path)
    if traj_len >= len(observations):
        raise ValueError(
            f"traj_len={traj_len} must be below the {len(observations)} steps of {path}"
        )
    return types.TrajectoryWithRew(
        obs=observations[: traj_len + 1],
        acts=actions[:traj_len],
        infos=None,
        terminal=False,
        rews=np.zeros(traj_len),
    )


def save_demonstrations(
    path: str | Path, trajectories: Sequence[types.TrajectoryWithRew], **metadata: Any
) -> Path:
    """Write demonstrations as our demo ``.npz`` (:class:`~imitenvs.data.demos.DemoDataset`).

    Each trajectory's ``T + 1`` observations are rows; its actions and rewards are aligned
    with them, the last row of each holding NaN (no action follows the last observation).
    The ``terminal`` flags and ``metadata`` (JSON values: env id, seed, policy...) go to the
    file's metadata. Written atomically; no pickle.
    """
    from imitenvs.data.demos import DemoDataset

    if not trajectories:
        raise ValueError("no trajectories to save")

    def with_nan_row(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.full((1, *x.shape[1:]), np.nan, x.dtype)])

    dataset = DemoDataset(
        states=np.concatenate([t.obs for t in trajectories]),
        episode_ends=np.cumsum([len(t.obs) for t in trajectories]),
        actions=np.concatenate([with_nan_row(np.asarray(t.acts)) for t in trajectories]),
        extras={"rews": np.concatenate([with_nan_row(np.asarray(t.rews)) for t in trajectories])},
        metadata={
            **metadata,
            "kind": "deep_rlsp_demonstrations",
            "terminal": [bool(t.terminal) for t in trajectories],
        },
    )
    return dataset.save(path)


def load_demonstrations(path: str | Path) -> list[types.TrajectoryWithRew]:
    """Read a :func:`save_demonstrations` file back (through the checked ``.npz`` reader).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not such a file (one line naming it).
    """
    from imitenvs.data.demos import DemoDataset

    data = DemoDataset.load(path)
    terminal, rews = data.metadata.get("terminal"), data.extras.get("rews")
    if (
        data.metadata.get("kind") != "deep_rlsp_demonstrations"
        or data.actions is None
        or rews is None
        or not isinstance(terminal, list)
        or len(terminal) != data.num_episodes
        or np.any(data.episode_lengths < 2)
    ):
        raise ValueError(f"{path} is not a demonstrations file of save_demonstrations")
    rows = zip(data.episode_starts, data.episode_ends, terminal, strict=True)
    return [
        types.TrajectoryWithRew(obs=data.states[a:b], acts=data.actions[a : b - 1], infos=None,
                                terminal=bool(end), rews=rews[a : b - 1])
        for a, b, end in rows
    ]  # fmt: skip


# ------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class ReturnStats:
    """True returns of evaluation rollouts: ``returns (n,)``, their ``mean`` and ``std``."""

    returns: np.ndarray
    mean: float
    std: float

    def as_dict(self) -> dict[str, Any]:
        return {"mean_return": self.mean, "std_return": self.std, "rollouts": len(self.returns)}


def evaluate_return(
    env: gymnasium.Env,
    policy: Predictor,
    n_rollouts: int,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int | None = None,
    video: Any = None,
) -> ReturnStats:
    """Mean and std of the true return of ``policy`` over ``n_rollouts`` rollouts.

    Each rollout runs until the episode terminates or reaches the env's time limit (or
    ``max_steps``); its return is the reward summed until then, i.e. until the first
    termination, as the original ``scripts/evaluate_policy.py`` meant to compute. That script
    replaced the policy's action by ``env.action_space.sample()`` (it evaluated a random
    policy); here the policy's action is stepped. The first reset uses ``seed``, later ones
    continue the env's generator (:func:`imitenvs.envs.imujoco.policies.evaluate`), and
    stochastic actions draw from a torch generator seeded with ``seed``.

    Args:
        video: An :class:`imitenvs.envs.imujoco.policies.VideoWriter` receiving every frame
            (the env must render ``rgb_array``).

    Raises:
        ValueError: bad ``n_rollouts``; no time limit and no ``max_steps``.
    """
    from imitenvs.envs.imujoco.policies import evaluate

    check_positive_int("n_rollouts", n_rollouts)
    limit = _step_limit(env, max_steps)
    if max_steps is not None or time_limit(env) is None:
        env = gymnasium.wrappers.TimeLimit(env, limit)
    with torch.random.fork_rng():
        torch.manual_seed(check_seed(seed) or 0)
        returns = evaluate(
            lambda obs: _act(policy, obs, deterministic), env, n_rollouts, seed, video=video
        )
    return ReturnStats(returns, float(np.mean(returns)), float(np.std(returns)))
